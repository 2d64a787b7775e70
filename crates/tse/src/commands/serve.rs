//! `tse serve SERVICE`: one instance per process, configured by environment variables and flags —
//! what a container runs — until SIGINT or SIGTERM.

use std::path::{Path, PathBuf};

use clap::Args;
use tokio_util::sync::CancellationToken;
use tse_runtime::{
    config::{InstanceConfig, ProcessEnv, ServeOverrides, topology::Topology},
    host::{self, Listeners, Shared},
    identity::ServiceKind,
    telemetry::{self, LogTarget, Terminal},
};

use super::CommonArgs;
use crate::{
    catalog,
    failure::{Failure, input, runtime},
    signal::Signals,
};

/// What `tse serve --help` adds after the options.
pub(crate) const SERVE_ENV: &str = "\
Environment variables (flags win over them; an empty variable counts as unset):
  SERVICE_NAME            service to run, if SERVICE is not given
  SERVICE_INSTANCE_NAME   instance name (default: SERVICE_NAME, a singleton)
  HTTP_PORT               HTTP port (default 8080; 0: chosen by the OS)
  GRPC_PORT               gRPC port (default 50051; 0: chosen by the OS)
  BIND_ADDRESS            listen address (default 0.0.0.0)
  ADVERTISE_HOST          host name published in discovery (default: the listen address, or the
                          machine's host name when listening on every address)
  ENVIRONMENT             environment label (default development)
  DATABASE_URL            PostgreSQL URL (unset: embedded storage)
  REDIS_URL               Redis URL, also the discovery registry (unset: embedded store and registry)
  LOG_LEVEL               log filter, e.g. info, debug, tse_runtime=debug (default info)
  HEALTH_CHECK_INTERVAL   health and heartbeat interval, e.g. 10s (default 10s)
  SCHEMA_NAME             PostgreSQL schema (default: derived from the names)
  REDIS_NAMESPACE         Redis namespace (default: derived from the names)
  DATA_DIR                this instance's data directory (default data/{instance})
  LOG_DIR                 this instance's log directory (default logs/{instance})
  TSE_ADMIN_TOKEN         bearer token opening the chaos and audit back doors
  TSE_INGEST_TOKEN        bearer token the shippers present to the audit correlator, the same for
                          every instance (default: derived from TSE_ADMIN_TOKEN)
  TSE_CLOCK_SPEED         simulated seconds per wall second (default 1); a clock already published
                          in the registry by another process wins
  TSE_TOPOLOGY            topology file whose [[instance]] of this name gives its settings
  TSE_SEED                seed of every random process (default 1)";

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    // Its help lists every service kind, as `service_help` spells them.
    #[arg(value_name = "SERVICE", help = service_help())]
    service: Option<String>,
    /// Instance name; default: the service name (a singleton) [env: SERVICE_INSTANCE_NAME]
    #[arg(long, value_name = "NAME", allow_hyphen_values = true)]
    instance: Option<String>,
    /// HTTP port; 0 lets the OS choose [env: HTTP_PORT]
    #[arg(long, value_name = "N")]
    http_port: Option<u16>,
    /// gRPC port; 0 lets the OS choose [env: GRPC_PORT]
    #[arg(long, value_name = "N")]
    grpc_port: Option<u16>,
    /// PostgreSQL schema instead of the derived one [env: SCHEMA_NAME]
    #[arg(long, value_name = "NAME")]
    schema_name: Option<String>,
    /// Redis namespace instead of the derived one [env: REDIS_NAMESPACE]
    #[arg(long, value_name = "NAMESPACE")]
    redis_namespace: Option<String>,
    /// This instance's data directory [env: DATA_DIR]
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// This instance's log directory [env: LOG_DIR]
    #[arg(long, value_name = "DIR")]
    log_dir: Option<PathBuf>,
    /// Topology file: the `[instance.settings]` of the `[[instance]]` with this instance's name are
    /// this instance's (what a container of a generated deployment runs) [env: TSE_TOPOLOGY]
    #[arg(long, value_name = "FILE", env = "TSE_TOPOLOGY", hide_env = true)]
    topology: Option<PathBuf>,
    #[command(flatten)]
    common: CommonArgs,
}

/// The help of the SERVICE argument: every service kind there is.
fn service_help() -> String {
    let names: Vec<&str> = ServiceKind::ALL.into_iter().map(ServiceKind::name).collect();
    format!("Service to run [env: SERVICE_NAME]: {}", names.join(", "))
}

/// Runs one instance until a signal stops it.
pub(crate) async fn run(args: ServeArgs) -> Result<(), Failure> {
    let overrides = ServeOverrides {
        service: args.service,
        instance: args.instance,
        http_port: args.http_port,
        grpc_port: args.grpc_port,
        schema_name: args.schema_name,
        redis_namespace: args.redis_namespace,
        data_dir: args.data_dir,
        log_dir: args.log_dir,
        common: args.common.overrides(),
    };
    let mut config = InstanceConfig::load(&overrides, &ProcessEnv).map_err(input)?;
    let topology = args.topology.filter(|p| !p.as_os_str().is_empty());
    if let Some(path) = &topology {
        config.settings = topology_settings(path, &config)?;
    }
    let service = catalog::prepare(&config, topology.as_deref())?;
    let _telemetry = telemetry::init(
        &config.common.log_level,
        Terminal::Everything,
        &[LogTarget {
            instance: config.identity.instance().to_string(),
            dir: config.log_dir.clone(),
        }],
    )
    .map_err(runtime)?;
    let listeners = Listeners::bind(&config).await.map_err(runtime)?;
    let signals = Signals::listen().map_err(runtime)?;
    let shutdown = CancellationToken::new();
    let shared = Shared::connect(&config.common).await.map_err(runtime)?;
    let instance = host::start(config, service, listeners, shared, shutdown.clone())
        .await
        .map_err(runtime)?;
    tokio::spawn(signals.cancel(shutdown));
    instance.stopped().await.map_err(runtime)
}

/// The settings of `config`'s instance in the topology at `path`.
fn topology_settings(path: &Path, config: &InstanceConfig) -> Result<toml::Table, Failure> {
    let topology = Topology::read(path).map_err(input)?;
    let (service, instance) = (
        config.identity.service().name(),
        config.identity.instance().as_str(),
    );
    let spec = topology
        .instances
        .iter()
        .find(|i| i.service == service && i.name.as_deref().unwrap_or(&i.service) == instance)
        .ok_or_else(|| {
            input(format!(
                "topology {}: no [[instance]] named {instance} of service {service}",
                path.display()
            ))
        })?;
    Ok(spec.settings.clone())
}
