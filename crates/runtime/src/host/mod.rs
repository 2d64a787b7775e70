//! The instance host: everything an instance needs that is not its business (ARCHITECTURE.md).
//!
//! A service describes itself to the host as a [`Service`]: its kind, its settings and their parser,
//! its migrations, an async `build` that receives a [`ServiceContext`] (configuration, metrics
//! registry, health, storage, cache, discovery, lifecycle, task tracker) and the parsed settings and
//! returns its [`ServiceParts`] (HTTP routes, gRPC services), and its panels and rules. The settings
//! are parsed once, before any port is bound ([`PreparedService`]). The host does the rest, in the
//! order of the brief: validated configuration → open storage (never fatal when the database is
//! down) → register in discovery → start the heartbeat → start the service → serve gRPC and HTTP,
//! logging each step inside the instance's span. On shutdown it stops accepting, drains in-flight
//! requests, stops the service's tasks, deregisters, stops its own supervisors and closes storage
//! (spooled writes stay on disk for the next start); a start that fails part way takes down what it
//! started through the same teardown.
//!
//! Listeners are bound separately ([`Listeners::bind`]) so that `tse up` can claim every port of an
//! ecosystem before starting any instance, and so that port 0 resolves to a real port first.
//!
//! # Layout
//! - `service`: the [`Service`] contract, its type-erased [`AnyService`] and [`PreparedService`],
//!   [`ServiceDef`] (a service written as functions), [`ServiceParts`].
//! - `monitoring`: the host's own panels and rules ([`monitoring::panels`], [`monitoring::rules`]).
//! - `error`: [`HostError`].
//! - `failure`: a panicking task takes the instance down.
//! - `supervisor`: the running instance's watch, and the one teardown.
//! - `http`, `grpc`, `conn`: the two servers and their connection limits.

mod conn;
mod error;
mod failure;
mod grpc;
mod http;
pub mod monitoring;
mod service;
mod supervisor;

use std::{net::SocketAddr, sync::Arc};

use tokio::{net::TcpListener, task::JoinHandle};
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tracing::{Instrument, info, warn};

pub use error::HostError;
pub(crate) use failure::panic_message;
pub use service::{
    AnyService, BoxError, BuildFuture, PreparedService, Service, ServiceDef, ServiceParts, SettingsTable,
    no_settings,
};

use self::{
    failure::Failure,
    supervisor::{Supervisor, Teardown},
};
use crate::{
    cache::{self, Cache},
    clock::Clock,
    config::{CommonConfig, InstanceConfig},
    discovery::{self, Discovery, DiscoveryError, Registration, Registry},
    events::{self, Events},
    faults,
    health::{Check, Dependency, Health, Phase},
    identity::Identity,
    metrics::InstanceMetrics,
    peers::Peers,
    shipper::{Shipper, ShipperMetrics},
    storage::{MigrationSet, RUNTIME_COMPONENT, Storage},
    telemetry::instance_span,
};

/// A running HTTP or gRPC server; it ends with why it stopped, when it stopped on its own.
type Server = JoinHandle<Result<(), String>>;

/// Version of the binary, reported in health, metrics and discovery.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The tables of the runtime's features above storage, in every instance's schema: the event
/// outbox and the faults of the back door (storage's own write marker is version 1 of the same
/// component).
pub const RUNTIME_MIGRATIONS: MigrationSet = MigrationSet {
    component: RUNTIME_COMPONENT,
    migrations: &[events::OUTBOX_MIGRATION, faults::FAULTS_MIGRATION],
};

/// What every instance of an ecosystem shares: the discovery registry and the simulated clock.
#[derive(Clone)]
pub struct Shared {
    /// Where instances register and find each other.
    pub registry: Registry,
    /// The ecosystem clock.
    pub clock: Clock,
}

impl Shared {
    /// Opens the registry a configuration asks for and adopts the ecosystem clock through it: the
    /// one already published by another process, or a new one at the configured speed. When the
    /// registry cannot be reached, the clock is this process's own (and said so in the log).
    ///
    /// # Errors
    /// [`DiscoveryError`] when the registry URL cannot be used.
    pub async fn connect(common: &CommonConfig) -> Result<Self, DiscoveryError> {
        let registry = Registry::for_config(common)?;
        let proposed = Clock::new(common.clock_speed);
        let clock = match registry
            .adopt_clock(
                &common.environment,
                proposed.spec(),
                common.health_check_interval * 3,
            )
            .await
        {
            Ok(spec) if spec == proposed.spec() => proposed,
            Ok(spec) => {
                if spec.speed != common.clock_speed {
                    warn!(
                        ecosystem = spec.speed,
                        configured = common.clock_speed,
                        "joining the ecosystem clock; the configured clock speed is not used"
                    );
                }
                Clock::from_spec(spec)
            }
            Err(error) => {
                warn!(%error, "registry unavailable: running on a clock of this process's own");
                proposed
            }
        };
        Ok(Self { registry, clock })
    }
}

/// What the host lends a service while it builds and runs.
#[derive(Clone)]
pub struct ServiceContext {
    config: Arc<InstanceConfig>,
    metrics: prometheus::Registry,
    health: Health,
    storage: Storage,
    cache: Cache,
    discovery: Discovery,
    peers: Peers,
    clock: Clock,
    events: Events,
    span: tracing::Span,
    draining: CancellationToken,
    stopping: CancellationToken,
    tasks: TaskTracker,
    failure: Failure,
}

impl ServiceContext {
    /// Returns the instance's configuration.
    pub fn config(&self) -> &InstanceConfig {
        &self.config
    }

    /// Returns the instance's identity.
    pub fn identity(&self) -> &Identity {
        &self.config.identity
    }

    /// Returns the instance's metrics registry, for business metrics.
    pub fn metrics(&self) -> &prometheus::Registry {
        &self.metrics
    }

    /// Returns the instance's health, for the service's own checks.
    pub fn health(&self) -> &Health {
        &self.health
    }

    /// Returns the instance's storage (its own schema or SQLite file).
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// Returns the instance's cache (its own namespace).
    pub fn cache(&self) -> &Cache {
        &self.cache
    }

    /// Returns the instance's presence in discovery, and the registry to find others in.
    pub fn discovery(&self) -> &Discovery {
        &self.discovery
    }

    /// Returns the lookup of other instances of the ecosystem, shared by the instance's tasks.
    pub fn peers(&self) -> &Peers {
        &self.peers
    }

    /// Returns the ecosystem's simulated clock.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// Returns the factory of this instance's domain events.
    pub fn events(&self) -> &Events {
        &self.events
    }

    /// Returns the instance's span; work done outside the host's tasks should run inside it.
    pub fn span(&self) -> &tracing::Span {
        &self.span
    }

    /// Cancelled when the instance starts draining: long-lived responses (streams) should end.
    pub fn draining(&self) -> CancellationToken {
        self.draining.clone()
    }

    /// Cancelled once in-flight requests are drained: background tasks should flush and return.
    pub fn stopping(&self) -> CancellationToken {
        self.stopping.clone()
    }

    /// Spawns a background task inside the instance's span; the host waits for it on shutdown. A task
    /// that panics takes the instance down: health turns unhealthy with the reason, the panic is
    /// logged as an error in the instance's log, and the instance stops with a failure (`tse serve`
    /// exits 1) rather than serving on without the task.
    pub fn spawn<F>(&self, task: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.tasks
            .spawn(self.failure.watch(task).instrument(self.span.clone()))
    }
}

impl faults::BoardContext for ServiceContext {
    fn metrics(&self) -> &prometheus::Registry {
        &self.metrics
    }

    fn clock(&self) -> Clock {
        self.clock
    }

    fn storage(&self) -> &Storage {
        &self.storage
    }

    fn events(&self) -> &Events {
        &self.events
    }

    fn admin_token(&self) -> Option<crate::config::Secret> {
        self.config.common.admin_token.clone()
    }

    fn stopping(&self) -> CancellationToken {
        self.stopping.clone()
    }

    fn spawn_task(&self, task: std::pin::Pin<Box<dyn Future<Output = ()> + Send>>) {
        self.spawn(task);
    }
}

/// The two listening sockets of an instance, bound before it starts.
pub struct Listeners {
    http: TcpListener,
    grpc: TcpListener,
}

impl Listeners {
    /// Binds the HTTP and gRPC ports of `config` (port 0: chosen by the OS).
    ///
    /// # Errors
    /// Returns [`HostError::Bind`] naming the instance, protocol and address.
    pub async fn bind(config: &InstanceConfig) -> Result<Self, HostError> {
        let bind = |protocol, port| async move {
            let addr = SocketAddr::new(config.common.bind, port);
            TcpListener::bind(addr).await.map_err(|source| HostError::Bind {
                instance: config.identity.instance().to_string(),
                protocol,
                addr,
                source,
            })
        };
        Ok(Self {
            http: bind("HTTP", config.http_port).await?,
            grpc: bind("gRPC", config.grpc_port).await?,
        })
    }

    /// Returns the bound HTTP address.
    pub fn http_addr(&self) -> SocketAddr {
        local_addr(&self.http)
    }

    /// Returns the bound gRPC address.
    pub fn grpc_addr(&self) -> SocketAddr {
        local_addr(&self.grpc)
    }
}

fn local_addr(listener: &TcpListener) -> SocketAddr {
    // A bound TCP listener always has a local address.
    listener
        .local_addr()
        .expect("a bound listener has a local address")
}

/// A started instance.
pub struct RunningInstance {
    config: Arc<InstanceConfig>,
    http_addr: SocketAddr,
    grpc_addr: SocketAddr,
    health: Health,
    supervisor: JoinHandle<Result<(), HostError>>,
}

impl RunningInstance {
    /// Returns the instance's configuration.
    pub fn config(&self) -> &InstanceConfig {
        &self.config
    }

    /// Returns the address HTTP is served on.
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// Returns the address gRPC is served on.
    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_addr
    }

    /// Returns the instance's health.
    pub fn health(&self) -> &Health {
        &self.health
    }

    /// Waits until the instance has stopped (after its shutdown token was cancelled, or a server
    /// failed) and everything is flushed.
    ///
    /// # Errors
    /// Returns the [`HostError`] that stopped it abnormally.
    pub async fn stopped(self) -> Result<(), HostError> {
        match self.supervisor.await {
            Ok(result) => result,
            Err(join) => Err(HostError::Serve {
                instance: self.config.identity.instance().to_string(),
                protocol: "host",
                reason: join.to_string(),
            }),
        }
    }
}

/// Starts an instance on already-bound listeners, registering it in the shared registry and running
/// it on the shared clock. It runs until `shutdown` is cancelled, then drains.
///
/// # Errors
/// Returns a [`HostError`] when a directory, the metrics registry, storage, the cache or the service
/// cannot be set up, or when another live instance holds its name, schema or namespace; nothing is
/// left running in that case.
pub async fn start(
    config: InstanceConfig,
    service: PreparedService,
    listeners: Listeners,
    shared: Shared,
    shutdown: CancellationToken,
) -> Result<RunningInstance, HostError> {
    let span = instance_span(&config.identity);
    start_in_span(config, service, listeners, shared, shutdown, span.clone())
        .instrument(span)
        .await
}

async fn start_in_span(
    config: InstanceConfig,
    service: PreparedService,
    listeners: Listeners,
    shared: Shared,
    shutdown: CancellationToken,
    span: tracing::Span,
) -> Result<RunningInstance, HostError> {
    let Shared { registry, clock } = shared;
    let config = Arc::new(config.without_admin_token_unless_held());
    info!(config = %config.redacted(), "configuration loaded and validated");
    create_directories(&config)?;
    let base = Base::new(&config, span.clone())?;
    let storage = open_storage(&config, &service, &base).await?;
    let mut teardown = Teardown::new(storage.clone());
    let started = async {
        let cache = open_cache(&config, &base).await?;
        let discovery = register(&config, &base, registry, clock, &listeners).await?;
        teardown.discovery = Some(discovery.clone());
        let peers = start_host_tasks(&config, &base, clock, &storage, &cache, &discovery, &mut teardown);
        info!(service = %service.kind(), "starting service");
        let context = ServiceContext {
            config: config.clone(),
            metrics: base.metrics.registry().clone(),
            health: base.health.clone(),
            storage: storage.clone(),
            cache,
            discovery: discovery.clone(),
            peers,
            clock,
            events: Events::new(&config.identity, clock),
            span: span.clone(),
            draining: shutdown.clone(),
            stopping: teardown.stopping.clone(),
            tasks: teardown.tasks.clone(),
            failure: base.failure.clone(),
        };
        let parts = service
            .build(context)
            .await
            .map_err(|source| HostError::Service {
                instance: config.identity.instance().to_string(),
                source,
            })?;
        info!("service started");
        Ok::<_, HostError>((parts, discovery))
    }
    .await;
    let (parts, discovery) = match started {
        Ok(started) => started,
        Err(error) => {
            teardown.run().await;
            return Err(error);
        }
    };
    let (http_addr, grpc_addr) = (listeners.http_addr(), listeners.grpc_addr());
    let (http_server, grpc_server) =
        serve(&config, &base, parts, listeners, &discovery, &shutdown, &teardown);
    base.health.set_phase(Phase::Running);
    info!(http = %http_addr, grpc = %grpc_addr, status = base.health.status().as_str(), "instance ready");

    let supervisor = Supervisor {
        instance: config.identity.instance().to_string(),
        health: base.health.clone(),
        failure: base.failure,
        shutdown,
        http_server,
        grpc_server,
        teardown,
    };
    let supervisor = tokio::spawn(supervisor.run().instrument(span));
    Ok(RunningInstance {
        config,
        http_addr,
        grpc_addr,
        health: base.health,
        supervisor,
    })
}

/// Creates the instance's data and log directories.
fn create_directories(config: &InstanceConfig) -> Result<(), HostError> {
    for dir in [&config.data_dir, &config.log_dir] {
        std::fs::create_dir_all(dir).map_err(|source| HostError::Directory {
            instance: config.identity.instance().to_string(),
            dir: dir.display().to_string(),
            source,
        })?;
    }
    info!(data_dir = %config.data_dir.display(), log_dir = %config.log_dir.display(), "directories ready");
    Ok(())
}

/// What every step of a start uses: metrics, health, the failure signal, the connection gate, the
/// instance's span.
struct Base {
    metrics: InstanceMetrics,
    shipper_metrics: ShipperMetrics,
    health: Health,
    failure: Failure,
    gate: Arc<conn::Gate>,
    span: tracing::Span,
}

impl Base {
    fn new(config: &InstanceConfig, span: tracing::Span) -> Result<Self, HostError> {
        let identity = &config.identity;
        let metrics_error = |source| HostError::Metrics {
            instance: identity.instance().to_string(),
            source,
        };
        let metrics = InstanceMetrics::new(identity, VERSION).map_err(metrics_error)?;
        let shipper_metrics = ShipperMetrics::register(metrics.registry()).map_err(metrics_error)?;
        let health = Health::new(identity.clone(), VERSION, config.common.environment.clone());
        let gate = conn::Gate::new(config.common.limits.max_connections, metrics.registry())
            .map_err(metrics_error)?;
        Ok(Self {
            failure: Failure::new(health.clone()),
            metrics,
            shipper_metrics,
            health,
            gate,
            span,
        })
    }

    /// The health dependency `name`, exported in `tse_dependency_up` only when the instance uses
    /// it: embedded storage must not show PostgreSQL as down (and fire the generated
    /// TseDependencyDown alert).
    fn dependency(&self, name: &'static str, in_use: bool) -> Dependency {
        let gauge = if in_use {
            self.metrics.dependency_up(name)
        } else {
            prometheus::IntGauge::new("tse_dependency_up", "unused dependency, never exported")
                .expect("a valid metric name")
        };
        Dependency::new(name, self.health.clone(), gauge)
    }
}

/// Opens storage with the runtime's tables and the service's, and makes the first connection attempt.
async fn open_storage(
    config: &InstanceConfig,
    service: &PreparedService,
    base: &Base,
) -> Result<Storage, HostError> {
    let migrations = vec![
        RUNTIME_MIGRATIONS,
        MigrationSet {
            component: service.kind().name(),
            migrations: service.migrations(),
        },
    ];
    let storage = Storage::open(
        config,
        migrations,
        base.metrics.registry(),
        base.dependency("postgres", config.common.database_url.is_some()),
    )
    .await
    .map_err(|source| HostError::Storage {
        instance: config.identity.instance().to_string(),
        source,
    })?;
    let storage_up = storage.connect().await;
    base.health.set_backend("storage", storage.dialect().as_str());
    info!(storage = %storage.description(), available = storage_up, "storage opened");
    Ok(storage)
}

/// Opens the cache: Redis as the instance's own ACL user when configured, else embedded.
async fn open_cache(config: &InstanceConfig, base: &Base) -> Result<Cache, HostError> {
    let identity = &config.identity;
    let cache = match &config.common.redis_url {
        None => Cache::memory(identity.redis_namespace().clone()),
        Some(url) => cache::AclUser::for_instance(
            url,
            &config.common.environment,
            identity.instance().as_str(),
            identity.redis_namespace(),
            &config.data_dir,
        )
        .and_then(|user| {
            Cache::redis(
                identity.redis_namespace().clone(),
                url,
                base.dependency("redis", true),
                Some(user),
            )
        })
        .map_err(|source| HostError::Cache {
            instance: identity.instance().to_string(),
            source,
        })?,
    };
    let cache_up = cache.connect().await;
    base.health.set_backend("cache", cache.backend_name());
    info!(cache = cache.backend_name(), namespace = %cache.namespace(), available = cache_up, "cache opened");
    Ok(cache)
}

/// Registers the instance in discovery; a registry that cannot be reached now is retried by the
/// heartbeat, a live instance holding the same name refuses the start.
async fn register(
    config: &InstanceConfig,
    base: &Base,
    registry: Registry,
    clock: Clock,
    listeners: &Listeners,
) -> Result<Discovery, HostError> {
    base.health.set_backend("registry", registry.kind());
    let interval = config.common.health_check_interval;
    let discovery = Discovery::new(
        registry,
        registration(config, &base.health, listeners.http_addr(), listeners.grpc_addr()),
        clock.spec(),
        interval * 3,
    );
    match discovery.register().await {
        Ok(()) => {
            base.health.set_check(discovery::CHECK, Check::up(false));
            info!(key = %discovery.registration().key(), registry = discovery.registry().kind(), "registered in discovery");
        }
        Err(DiscoveryError::Unavailable(reason)) => {
            warn!(%reason, "discovery unavailable; registering when it returns");
            base.health
                .set_check(discovery::CHECK, Check::down(false, reason));
        }
        Err(conflict) => {
            return Err(HostError::Conflict {
                instance: config.identity.instance().to_string(),
                reason: conflict.to_string(),
            });
        }
    }
    Ok(discovery)
}

/// Starts the host's own background work (storage and cache supervisors, the outbox shipper) and
/// the heartbeat, each watched for panics; returns the lookup of other instances the shipper uses,
/// for the service to share.
fn start_host_tasks(
    config: &InstanceConfig,
    base: &Base,
    clock: Clock,
    storage: &Storage,
    cache: &Cache,
    discovery: &Discovery,
    teardown: &mut Teardown,
) -> Peers {
    // One lookup of other instances per instance: the shipper's and the service's share their
    // cached channels.
    let peers = Peers::new(discovery.registry().clone(), &config.common.environment);
    let span = &base.span;
    let interval = config.common.health_check_interval;
    let (failure, stop, tasks) = (&base.failure, &teardown.host_stop, &teardown.host_tasks);
    tasks.spawn(
        failure
            .watch(storage.clone().supervise(interval, stop.clone()))
            .instrument(span.clone()),
    );
    tasks.spawn(
        failure
            .watch(cache.clone().supervise(interval, stop.clone()))
            .instrument(span.clone()),
    );
    // The outbox ships until the very end: the service's tasks may still write events on stop.
    tasks.spawn(
        failure
            .watch(
                Shipper::new(
                    storage.clone(),
                    peers.clone(),
                    config.common.ingest_secret(),
                    base.shipper_metrics.clone(),
                )
                .run(stop.clone()),
            )
            .instrument(span.clone()),
    );
    // The heartbeat has a token of its own: it must stop before deregistering, or a last beat could
    // register the instance again.
    let heartbeat_stop = CancellationToken::new();
    let heartbeat = tokio::spawn(
        failure
            .watch(
                discovery
                    .clone()
                    .heartbeat(base.health.clone(), interval, heartbeat_stop.clone()),
            )
            .instrument(span.clone()),
    );
    teardown.heartbeat = Some((heartbeat_stop, heartbeat));
    info!(interval = ?interval, ttl = ?(interval * 3), clock_speed = clock.speed(), "heartbeat started");
    peers
}

/// Serves gRPC and HTTP on the bound listeners, with the host's endpoints around the service's.
fn serve(
    config: &InstanceConfig,
    base: &Base,
    parts: ServiceParts,
    listeners: Listeners,
    discovery: &Discovery,
    shutdown: &CancellationToken,
    teardown: &Teardown,
) -> (Server, Server) {
    let span = &base.span;
    let (http_addr, grpc_addr) = (listeners.http_addr(), listeners.grpc_addr());
    let (health, metrics) = (&base.health, &base.metrics);
    let grpc = grpc::assemble(parts.grpc, &parts.grpc_services, health, metrics, span);
    let openapi = parts.openapi.document(&config.identity);
    let http_router = http::assemble(parts.http, openapi, health, metrics, discovery, span);

    let limits = config.common.limits;
    let grpc_server = tokio::spawn(
        grpc::serve(
            grpc.routes,
            grpc.layer,
            listeners.grpc,
            shutdown.clone(),
            base.gate.clone(),
            limits,
        )
        .instrument(span.clone()),
    );
    info!(addr = %grpc_addr, "gRPC server listening");
    let http_server = tokio::spawn(
        http::serve(
            http_router,
            listeners.http,
            shutdown.clone(),
            base.gate.clone(),
            limits,
        )
        .instrument(span.clone()),
    );
    info!(addr = %http_addr, max_connections = limits.max_connections, "HTTP server listening");
    teardown.host_tasks.spawn(base.failure.watch(grpc::report_health(
        grpc.reporter,
        grpc.services,
        health.clone(),
        teardown.host_stop.clone(),
    )));
    (http_server, grpc_server)
}

/// The registration an instance publishes, from its configuration and bound addresses.
fn registration(
    config: &InstanceConfig,
    health: &Health,
    http: SocketAddr,
    grpc: SocketAddr,
) -> Registration {
    let id = &config.identity;
    let report = health.report();
    Registration {
        service: id.service(),
        instance: id.instance().clone(),
        host: config.common.advertised_host(),
        http_port: http.port(),
        grpc_port: grpc.port(),
        version: VERSION.to_owned(),
        environment: config.common.environment.clone(),
        status: report.status,
        timestamp: report.timestamp,
        schema: id.schema().to_string(),
        redis_namespace: id.redis_namespace().to_string(),
        service_type: id.service_type().as_str().to_owned(),
        entity_type: id.entity_type().to_owned(),
        started_at: report.started_at,
        ready: false,
        run_id: run_id(),
    }
}

/// A fresh identifier of this run of an instance.
fn run_id() -> String {
    let nanos = crate::clock::wall_now().unix_timestamp_nanos();
    format!("{:x}-{:x}-{:x}", std::process::id(), nanos, rand::random::<u64>())
}
