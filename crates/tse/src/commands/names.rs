//! `tse names SERVICE [INSTANCE]`: the identity an instance would have, from its arguments alone.

use clap::Args;
use tse_runtime::identity::{Identity, ServiceKind};

use crate::failure::{Failure, input, runtime};

/// What `tse names --help` adds after the options.
pub(crate) const NAMES_HELP: &str = "\
Prints one JSON object: service, instance, service_type, entity_type, schema, redis_namespace.
It reads only its arguments, never the environment. An invalid name exits 2 naming the rule broken.

Examples:
  tse names exchange-simulator exchange-OKX      schema exchange_okx, namespace exchange:OKX
  tse names audit-correlator                     singleton: schema audit, namespace audit";

#[derive(Debug, Args)]
pub(crate) struct NamesArgs {
    /// Service name, e.g. exchange-simulator
    service: String,
    /// Instance name, e.g. exchange-OKX; omitted: the singleton named after the service
    #[arg(allow_hyphen_values = true)]
    instance: Option<String>,
    /// Explicit schema, as SCHEMA_NAME would set it
    #[arg(long, value_name = "NAME")]
    schema_name: Option<String>,
    /// Explicit namespace, as REDIS_NAMESPACE would set it
    #[arg(long, value_name = "NAMESPACE")]
    redis_namespace: Option<String>,
}

/// Prints the identity `args` describe.
pub(crate) fn run(args: &NamesArgs) -> Result<(), Failure> {
    let kind = ServiceKind::parse(&args.service).map_err(input)?;
    let identity = Identity::new(
        kind,
        args.instance.as_deref(),
        args.schema_name.as_deref(),
        args.redis_namespace.as_deref(),
    )
    .map_err(input)?;
    let json = serde_json::to_string(&identity.summary()).map_err(runtime)?;
    println!("{json}");
    Ok(())
}
