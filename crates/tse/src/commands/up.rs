//! `tse up`: a whole ecosystem in one process (the default one, or a topology file),
//! until SIGINT or SIGTERM.

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use clap::Args;
use tokio_util::sync::CancellationToken;
use tse_runtime::{
    config::{
        ProcessEnv,
        topology::{EcosystemConfig, UpOverrides},
    },
    telemetry::{self, LogTarget, Terminal},
};

use super::{CommonArgs, topology_or_default};
use crate::{
    catalog,
    ecosystem::Ecosystem,
    failure::{Failure, input, runtime},
    secrets::ensure_admin_token,
    signal::Signals,
};

/// How long `tse up` waits for every instance to be ready before printing the table anyway, with the
/// reasons of those that are not.
const READY_WAIT: Duration = Duration::from_secs(30);

/// What `tse up --help` adds after the options.
pub(crate) const UP_ENV: &str = "\
Environment variables (flags win over them, they win over the topology file):
  BIND_ADDRESS            listen address (default 127.0.0.1)
  ADVERTISE_HOST          host name published in discovery (default: the listen address)
  ENVIRONMENT             environment label (default development)
  DATABASE_URL            PostgreSQL URL; each instance gets its own schema (unset: embedded storage)
  REDIS_URL               Redis URL; each instance gets its own namespace, all register there
                          (unset: embedded store and an in-process registry)
  LOG_LEVEL               log filter (default info)
  TSE_VERBOSE             1: show every log line on the terminal, as --verbose does
  HEALTH_CHECK_INTERVAL   health and heartbeat interval (default 10s)
  DATA_DIR                root of the per-instance data directories (default data)
  LOG_DIR                 root of the per-instance log directories (default logs)
  TSE_ADMIN_TOKEN         bearer token opening the chaos and audit back doors (generated into
                          DATA_DIR/admin-token when unset)
  TSE_INGEST_TOKEN        bearer token the shippers present to the audit correlator (default:
                          derived from TSE_ADMIN_TOKEN)
  TSE_CLOCK_SPEED         simulated seconds per wall second (default 1)
  TSE_SEED                seed of every random process (default 1)

Default ecosystem (instance i listens on the base ports + i):
  audit-correlator, test-coordinator, exchange-OKX, exchange-Binance, custodian-Komainu,
  market-data-Coinmetrics, trading-system-LH, risk-monitor-LH, market-data-Kaiko";

#[derive(Debug, Args)]
pub(crate) struct UpArgs {
    /// Topology file describing the ecosystem (default: the built-in default ecosystem)
    #[arg(long, value_name = "FILE")]
    topology: Option<PathBuf>,
    /// First HTTP port; instance i listens on BASE + i; 0 lets the OS choose (default 8080)
    #[arg(long, value_name = "N")]
    http_port_base: Option<u16>,
    /// First gRPC port; instance i listens on BASE + i; 0 lets the OS choose (default 50051)
    #[arg(long, value_name = "N")]
    grpc_port_base: Option<u16>,
    /// Root of the per-instance data directories [env: DATA_DIR]
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Root of the per-instance log directories [env: LOG_DIR]
    #[arg(long, value_name = "DIR")]
    log_dir: Option<PathBuf>,
    /// Show every log line on the terminal; by default only warnings, errors and the ready table
    /// (each instance's full log is in its log directory either way) [env: TSE_VERBOSE]
    #[arg(long, short, env = "TSE_VERBOSE", hide_env = true, value_parser = clap::builder::BoolishValueParser::new())]
    verbose: bool,
    #[command(flatten)]
    common: CommonArgs,
}

/// Runs the ecosystem until a signal stops it.
pub(crate) async fn run(args: UpArgs) -> Result<(), Failure> {
    let started = Instant::now();
    let (topology, source) = topology_or_default(args.topology.as_ref())?;
    let overrides = UpOverrides {
        http_port_base: args.http_port_base,
        grpc_port_base: args.grpc_port_base,
        data_dir: args.data_dir,
        log_dir: args.log_dir,
        common: args.common.overrides(),
    };
    let mut config = EcosystemConfig::load(&topology, &source, &overrides, &ProcessEnv).map_err(input)?;
    let token_file = ensure_admin_token(&mut config).map_err(runtime)?;
    let services = config
        .instances
        .iter()
        .map(|instance| catalog::prepare(instance, Some(&source)))
        .collect::<Result<Vec<_>, _>>()?;
    let targets: Vec<LogTarget> = config
        .instances
        .iter()
        .map(|i| LogTarget {
            instance: i.identity.instance().to_string(),
            dir: i.log_dir.clone(),
        })
        .collect();
    let terminal = if args.verbose {
        Terminal::Everything
    } else {
        Terminal::WarningsAndErrors
    };
    let _telemetry = telemetry::init(&config.common.log_level, terminal, &targets).map_err(runtime)?;
    tracing::info!(
        topology = %source.display(),
        instances = config.instances.len(),
        storage = if config.common.database_url.is_some() { "postgres" } else { "embedded" },
        "starting ecosystem"
    );

    let signals = Signals::listen().map_err(runtime)?;
    let shutdown = CancellationToken::new();
    let ecosystem = Ecosystem::start(&config, services, shutdown.clone())
        .await
        .map_err(runtime)?;
    tokio::spawn(signals.cancel(shutdown.clone()));
    let readiness = ecosystem.ready(READY_WAIT).await;
    print!("{}", ecosystem.table());
    match readiness {
        Ok(()) => println!(
            "tse: {} instances ready in {} ms; data in {}, logs in {}; Ctrl-C stops them.",
            ecosystem.instances().len(),
            started.elapsed().as_millis(),
            show(&config.data_root),
            show(&config.log_root),
        ),
        Err(waiting) => println!(
            "tse: {} instances running; not ready after {} s: {waiting}",
            ecosystem.instances().len(),
            READY_WAIT.as_secs()
        ),
    }
    match &token_file {
        Some(path) => println!(
            "tse: back doors (/chaos/v1/...) need `Authorization: Bearer $(cat {})`",
            path.display()
        ),
        None => println!("tse: back doors (/chaos/v1/...) need `Authorization: Bearer $TSE_ADMIN_TOKEN`"),
    }
    ecosystem.stopped().await.map_err(|errors| {
        runtime(
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        )
    })
}

fn show(path: &Path) -> String {
    format!("{}/", path.display())
}
