//! The command line: `tse up`, `tse serve`, `tse names`.

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
    time::{Duration, Instant},
};

use clap::{Args, Parser, Subcommand};
use tokio_util::sync::CancellationToken;
use tse_runtime::{
    config::{
        CommonOverrides, InstanceConfig, ProcessEnv, Secret, ServeOverrides,
        topology::{EcosystemConfig, Topology, UpOverrides},
    },
    host::{self, Listeners, Shared},
    identity::{Identity, ServiceKind},
    telemetry::{self, LogTarget, Terminal},
};

use crate::{catalog, ecosystem::Ecosystem};

/// How long `tse up` waits for every instance to be ready before printing the table anyway, with the
/// reasons of those that are not.
const READY_WAIT: Duration = Duration::from_secs(30);

const SERVE_ENV: &str = "\
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

const UP_ENV: &str = "\
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
  market-data-Coinmetrics, trading-system-LH, risk-monitor-LH";

const NAMES_HELP: &str = "\
Prints one JSON object: service, instance, service_type, entity_type, schema, redis_namespace.
It reads only its arguments, never the environment. An invalid name exits 2 naming the rule broken.

Examples:
  tse names exchange-simulator exchange-OKX      schema exchange_okx, namespace exchange:OKX
  tse names audit-correlator                     singleton: schema audit, namespace audit";

const STATUS_HELP: &str = "\
Where the registry is read:
  --url URL        from any instance's GET /api/v1/discovery/services
  REDIS_URL        directly from Redis, when set and --url is not given
  otherwise        from http://127.0.0.1:8080 (the first instance of a default `tse up`)
Then each instance's GET /api/v1/health is asked, with a 2 s timeout.
Exits 1 when the registry cannot be read.";

/// The Trading Simulation Ecosystem: simulated exchanges, custodians, market data, trading desks, a
/// production-like risk monitor, chaos scenarios and an audit correlator, as named instances.
#[derive(Debug, Parser)]
#[command(name = "tse", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a whole ecosystem in one process: by default the eight instances of the default
    /// ecosystem, on embedded storage.
    #[command(after_help = UP_ENV)]
    Up(UpArgs),
    /// Run one instance of a service (what a container runs), until SIGINT or SIGTERM.
    #[command(after_help = SERVE_ENV)]
    Serve(ServeArgs),
    /// Print the identity an instance would have: its PostgreSQL schema, Redis namespace, service
    /// type and entity type.
    #[command(after_help = NAMES_HELP)]
    Names(NamesArgs),
    /// List the instances the discovery registry holds, with each one's health.
    #[command(after_help = STATUS_HELP)]
    Status(StatusArgs),
    /// Generate a deployment of an ecosystem from its topology.
    #[command(subcommand)]
    Deploy(DeployCommand),
}

#[derive(Debug, Subcommand)]
enum DeployCommand {
    /// A Docker Compose project: one container per instance (named after it, its own data and log
    /// volumes, its settings from the topology), PostgreSQL, Redis, Prometheus and Grafana; ports
    /// published on 127.0.0.1 only. Then: `docker build -t tse:latest .` in the repository and
    /// `docker compose up -d` in DIR.
    Compose(ComposeArgs),
    /// Kubernetes manifests (`DIR/tse.yaml`): namespace `tse`, a Secret and the topology ConfigMap,
    /// PostgreSQL and Redis, one StatefulSet (own data and log volumes, readiness and liveness
    /// probes) and one Service per instance. Then: `kubectl apply -f DIR/tse.yaml`.
    K8s(ComposeArgs),
}

#[derive(Debug, Args)]
struct ComposeArgs {
    /// Topology file; default: the default ecosystem
    #[arg(long, value_name = "FILE")]
    topology: Option<PathBuf>,
    /// Directory to write the project to (created)
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Image the containers run
    #[arg(long, value_name = "IMAGE", default_value = crate::deploy::DEFAULT_IMAGE)]
    image: String,
}

/// Settings shared by `up` and `serve`.
#[derive(Debug, Args)]
struct CommonArgs {
    /// Environment label [env: ENVIRONMENT]
    #[arg(long, value_name = "NAME")]
    environment: Option<String>,
    /// PostgreSQL URL; unset means embedded storage [env: DATABASE_URL]
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
    /// Redis URL; unset means the embedded key-value store [env: REDIS_URL]
    #[arg(long, value_name = "URL")]
    redis_url: Option<String>,
    /// Log filter, e.g. info or tse_runtime=debug [env: LOG_LEVEL]
    #[arg(long, value_name = "FILTER")]
    log_level: Option<String>,
    /// Health and heartbeat interval, e.g. 10s [env: HEALTH_CHECK_INTERVAL]
    #[arg(long, value_name = "DURATION")]
    health_check_interval: Option<String>,
    /// Listen address [env: BIND_ADDRESS]
    #[arg(long, value_name = "IP")]
    bind: Option<String>,
    /// Host name published in discovery [env: ADVERTISE_HOST]
    #[arg(long, value_name = "HOST")]
    advertise_host: Option<String>,
    /// Simulated seconds per wall second, e.g. 2160 [env: TSE_CLOCK_SPEED]
    #[arg(long, value_name = "FACTOR")]
    clock_speed: Option<String>,
    /// Seed of every random process [env: TSE_SEED]
    #[arg(long, value_name = "N")]
    seed: Option<String>,
}

impl CommonArgs {
    fn overrides(&self) -> CommonOverrides {
        CommonOverrides {
            environment: self.environment.clone(),
            database_url: self.database_url.clone(),
            redis_url: self.redis_url.clone(),
            log_level: self.log_level.clone(),
            health_check_interval: self.health_check_interval.clone(),
            bind: self.bind.clone(),
            advertise_host: self.advertise_host.clone(),
            clock_speed: self.clock_speed.clone(),
            seed: self.seed.clone(),
        }
    }
}

#[derive(Debug, Args)]
struct UpArgs {
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

#[derive(Debug, Args)]
struct ServeArgs {
    /// Service to run [env: SERVICE_NAME]: audit-correlator, test-coordinator, exchange-simulator,
    /// custodian-simulator, market-data-simulator, trading-system-engine, risk-monitor
    #[arg(value_name = "SERVICE")]
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

#[derive(Debug, Args)]
struct NamesArgs {
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

#[derive(Debug, Args)]
struct StatusArgs {
    /// Base URL of any instance whose registry to list, e.g. http://127.0.0.1:8080
    #[arg(long, value_name = "URL")]
    url: Option<String>,
    /// Print a JSON array instead of a table
    #[arg(long)]
    json: bool,
}

/// How a command failed, which decides the exit code.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Bad input: exit 2.
    Input(String),
    /// The command could not do its job: exit 1.
    Runtime(String),
}

pub(crate) fn input(error: impl std::fmt::Display) -> Failure {
    Failure::Input(error.to_string())
}

pub(crate) fn runtime(error: impl std::fmt::Display) -> Failure {
    Failure::Runtime(error.to_string())
}

/// Parses the command line and runs the command; returns the process exit code. A panic is logged
/// as an error and exits 1 (see [`crate::panics`]).
pub fn main() -> ExitCode {
    crate::panics::install_hook();
    crate::panics::exit_1_on_panic(run)
}

fn run() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return clap_exit(&error),
    };
    let result = match cli.command {
        Command::Names(args) => names(&args),
        Command::Serve(args) => block_on(serve(args)),
        Command::Up(args) => block_on(up(args)),
        Command::Status(args) => block_on(crate::status::run(args.url, args.json)),
        Command::Deploy(DeployCommand::Compose(args)) => deploy_compose(&args),
        Command::Deploy(DeployCommand::K8s(args)) => deploy_k8s(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Input(reason)) => {
            eprintln!("tse: {}", one_line(&reason));
            ExitCode::from(2)
        }
        Err(Failure::Runtime(reason)) => {
            eprintln!("tse: {}", one_line(&reason));
            ExitCode::FAILURE
        }
    }
}

/// Help and version go to stdout with exit 0; usage errors become one line and exit 2.
fn clap_exit(error: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match error.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = error.print();
            if error.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            }
        }
        _ => {
            eprintln!("tse: {}", usage_error(&error.to_string()));
            ExitCode::from(2)
        }
    }
}

/// Clap's usage error on one line: its first paragraph (which lists the missing arguments, when
/// some are missing), then the usage of the command it concerns.
fn usage_error(rendered: &str) -> String {
    let mut paragraphs = rendered.split("\n\n").map(one_line);
    let reason = paragraphs.next().unwrap_or_default();
    let reason = reason.trim_start_matches("error: ");
    let reason = if reason.is_empty() {
        "invalid arguments"
    } else {
        reason
    };
    match paragraphs.find_map(|p| p.strip_prefix("Usage: ").map(str::to_owned)) {
        Some(usage) => {
            let command: Vec<&str> = usage
                .split_whitespace()
                .take_while(|word| !word.starts_with(['<', '[', '-']))
                .collect();
            format!("{reason} (usage: {usage}; see {} --help)", command.join(" "))
        }
        None => format!("{reason} (see tse --help)"),
    }
}

fn one_line(text: &str) -> String {
    text.lines().map(str::trim).collect::<Vec<_>>().join(" ")
}

fn block_on(future: impl Future<Output = Result<(), Failure>>) -> Result<(), Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| runtime(format!("cannot start the async runtime: {e}")))?
        .block_on(future)
}

fn names(args: &NamesArgs) -> Result<(), Failure> {
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

async fn serve(args: ServeArgs) -> Result<(), Failure> {
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
    if let Some(path) = args.topology.filter(|p| !p.as_os_str().is_empty()) {
        config.settings = topology_settings(&path, &config)?;
    }
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
    let service = catalog::service(config.identity.service());
    let shared = Shared::connect(&config.common).await.map_err(runtime)?;
    let instance = host::start(config, service, listeners, shared, shutdown.clone())
        .await
        .map_err(runtime)?;
    tokio::spawn(signals.cancel(shutdown));
    instance.stopped().await.map_err(runtime)
}

/// The topology at `path`, or the default ecosystem; with the name errors give its source.
fn topology_or_default(path: Option<&PathBuf>) -> Result<(Topology, PathBuf), Failure> {
    Ok(match path {
        Some(path) => (Topology::read(path).map_err(input)?, path.clone()),
        None => (
            Topology::default_ecosystem(),
            PathBuf::from("(default ecosystem)"),
        ),
    })
}

fn deploy_compose(args: &ComposeArgs) -> Result<(), Failure> {
    let (topology, source) = topology_or_default(args.topology.as_ref())?;
    let instances = crate::deploy::compose_project(&topology, &source, &args.out, &args.image)?;
    println!(
        "wrote a Compose project of {} instances to {}: `docker build -t {} .` in the repository, then \
         `docker compose up -d` there (secrets in {}/.env)",
        instances.len(),
        args.out.display(),
        args.image,
        args.out.display()
    );
    Ok(())
}

fn deploy_k8s(args: &ComposeArgs) -> Result<(), Failure> {
    let (topology, source) = topology_or_default(args.topology.as_ref())?;
    let count = crate::deploy::kubernetes_manifests(&topology, &source, &args.out, &args.image)?;
    println!(
        "wrote Kubernetes manifests of {count} instances to {}: push the image `{}` where the cluster \
         pulls from, then `kubectl apply -f {}` (secrets in {}; scrape configuration, rules and \
         dashboards for the cluster's Prometheus and Grafana under {})",
        args.out.join("tse.yaml").display(),
        args.image,
        args.out.join("tse.yaml").display(),
        args.out.join("secrets.env").display(),
        args.out.display()
    );
    Ok(())
}

/// The settings of `config`'s instance in the topology at `path`, validated by its service.
fn topology_settings(path: &std::path::Path, config: &InstanceConfig) -> Result<toml::Table, Failure> {
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
    (catalog::service(config.identity.service()).check)(&spec.settings).map_err(|e| {
        input(format!(
            "topology {}: instance {instance}: settings: {e}",
            path.display()
        ))
    })?;
    Ok(spec.settings.clone())
}

async fn up(args: UpArgs) -> Result<(), Failure> {
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
    for instance in &config.instances {
        (catalog::service(instance.identity.service()).check)(&instance.settings).map_err(|e| {
            input(format!(
                "topology {}: instance {}: settings: {e}",
                source.display(),
                instance.identity.instance()
            ))
        })?;
    }
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
    let ecosystem = Ecosystem::start(&config, shutdown.clone())
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

/// Makes sure the ecosystem has an admin token: `TSE_ADMIN_TOKEN` when set; else the one in
/// `{data_root}/admin-token` from an earlier run; else a new random one written there (mode 0600).
/// Returns the file holding it, when the token comes from a file.
fn ensure_admin_token(config: &mut EcosystemConfig) -> Result<Option<PathBuf>, String> {
    if config.common.admin_token.is_some() {
        return Ok(None);
    }
    let path = config.data_root.join("admin-token");
    let existing = std::fs::read_to_string(&path)
        .ok()
        .and_then(|t| Secret::parse_token("admin-token", t.trim()).ok());
    let token = match existing {
        Some(token) => token,
        None => {
            let text = format!("{:032x}", rand::random::<u128>());
            std::fs::create_dir_all(&config.data_root)
                .map_err(|e| format!("cannot create {}: {e}", config.data_root.display()))?;
            write_private(&path, &text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            Secret::parse_token("admin-token", &text).map_err(|e| e.to_string())?
        }
    };
    config.common.admin_token = Some(token.clone());
    for instance in &mut config.instances {
        instance.common.admin_token = Some(token.clone());
    }
    Ok(Some(path))
}

/// Writes a file only its owner can read (secrets).
///
/// # Errors
/// The I/O error.
pub(crate) fn write_private_file(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    write_private(path, text)
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::{io::Write, os::unix::fs::OpenOptionsExt};
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    file.write_all(b"\n")
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, format!("{text}\n"))
}

fn show(path: &Path) -> String {
    format!("{}/", path.display())
}

/// SIGINT (Ctrl-C) and SIGTERM, listened for from the moment of [`Signals::listen`]: one that arrives
/// while the instances start is kept and acted on once they have started, never lost nor left to
/// the default action (which would kill the process without its orderly stop).
struct Signals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
    #[cfg(not(unix))]
    ctrl_c: tokio::signal::windows::CtrlC,
}

impl Signals {
    #[cfg(unix)]
    fn listen() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    #[cfg(not(unix))]
    fn listen() -> std::io::Result<Self> {
        Ok(Self {
            ctrl_c: tokio::signal::windows::ctrl_c()?,
        })
    }

    /// Cancels `shutdown` on the first signal.
    async fn cancel(mut self, shutdown: CancellationToken) {
        #[cfg(unix)]
        let signal = tokio::select! {
            _ = self.interrupt.recv() => "SIGINT",
            _ = self.terminate.recv() => "SIGTERM",
        };
        #[cfg(not(unix))]
        let signal = {
            self.ctrl_c.recv().await;
            "Ctrl-C"
        };
        tracing::info!(signal, "signal received; stopping");
        shutdown.cancel();
    }
}
