//! The instance host: everything an instance needs that is not its business (BRIEF §4).
//!
//! A service hands the host a [`ServiceDef`]: its kind, its migrations, and an async `build` function
//! that receives a [`ServiceContext`] (configuration, metrics registry, health, storage, cache,
//! discovery, lifecycle, task tracker) and returns its [`ServiceParts`] (HTTP routes, gRPC services).
//! The host does the rest, in the order of the brief: validated configuration → open storage (never
//! fatal when the database is down) → register in discovery → start the heartbeat → start the service
//! → serve gRPC and HTTP, logging each step inside the instance's span. On shutdown it stops
//! accepting, drains in-flight requests, stops the service's tasks, deregisters, stops its own
//! supervisors and closes storage (spooled writes stay on disk for the next start).
//!
//! Listeners are bound separately ([`Listeners::bind`]) so that `tse up` can claim every port of an
//! ecosystem before starting any instance, and so that port 0 resolves to a real port first.

mod conn;
mod grpc;
mod http;

use std::{
    any::Any,
    future::Future,
    io,
    net::SocketAddr,
    panic::AssertUnwindSafe,
    pin::Pin,
    sync::{Arc, Mutex},
};

use futures::FutureExt;

use tokio::{net::TcpListener, task::JoinHandle};
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tracing::{Instrument, error, info, warn};

use crate::{
    cache::{self, Cache, CacheError},
    clock::Clock,
    config::{CommonConfig, DRAIN_TIMEOUT, InstanceConfig},
    discovery::{self, Discovery, DiscoveryError, Registration, Registry},
    events::Events,
    health::{Check, Dependency, Health, Phase},
    identity::{Identity, ServiceKind},
    metrics::InstanceMetrics,
    peers::Peers,
    shipper::{Shipper, ShipperMetrics},
    storage::{Migration, MigrationSet, Storage, StorageError},
    telemetry::instance_span,
};

/// Version of the binary, reported in health, metrics and discovery.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Errors a service's `build` may return.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The future a service's `build` returns.
pub type BuildFuture = Pin<Box<dyn Future<Output = Result<ServiceParts, BoxError>> + Send>>;

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

/// What a service crate gives the host: its kind, its schema, and how to build it for one instance.
#[derive(Clone, Copy)]
pub struct ServiceDef {
    /// The service kind this builds.
    pub kind: ServiceKind,
    /// The service's migrations, applied to the instance's schema before it is built.
    pub migrations: &'static [Migration],
    /// Validates the instance's `[instance.settings]` from the topology file, before any port is
    /// bound; the error says what is wrong.
    pub check: fn(&toml::Table) -> Result<(), String>,
    /// Builds the service for one instance.
    pub build: fn(ServiceContext) -> BuildFuture,
}

impl ServiceDef {
    /// A service that so far serves only the host's own endpoints (health, readiness, metrics,
    /// discovery, the standard gRPC services).
    pub const fn host_only(kind: ServiceKind) -> Self {
        Self {
            kind,
            migrations: &[],
            check: no_settings,
            build: |_| Box::pin(async { Ok(ServiceParts::new()) }),
        }
    }
}

/// The `check` of a service that takes no settings.
///
/// # Errors
/// Names the first setting given.
pub fn no_settings(settings: &toml::Table) -> Result<(), String> {
    match settings.keys().next() {
        None => Ok(()),
        Some(key) => Err(format!("this service takes no settings; found `{key}`")),
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

/// The first failure of a task an instance needs, and the signal that stops the instance for it.
#[derive(Clone)]
struct Failure {
    health: Health,
    reason: Arc<Mutex<Option<String>>>,
    signal: CancellationToken,
}

impl Failure {
    /// The check a failed task turns critical.
    const CHECK: &'static str = "tasks";

    fn new(health: Health) -> Self {
        Self {
            health,
            reason: Arc::default(),
            signal: CancellationToken::new(),
        }
    }

    /// Runs `task`; a panic in it is reported, then carried on to whoever joins the task.
    fn watch<F: Future>(&self, task: F) -> impl Future<Output = F::Output> + use<F> {
        let failure = self.clone();
        async move {
            match AssertUnwindSafe(task).catch_unwind().await {
                Ok(output) => output,
                Err(panic) => {
                    failure.fail(format!(
                        "a task the instance needs panicked: {}",
                        panic_message(panic.as_ref())
                    ));
                    std::panic::resume_unwind(panic)
                }
            }
        }
    }

    /// Records the failure (the first one wins), turns health unhealthy and asks the instance to stop.
    fn fail(&self, reason: String) {
        error!(%reason, "the instance cannot go on and stops");
        self.health
            .set_check(Self::CHECK, Check::down(true, reason.clone()));
        self.reason
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_or_insert(reason);
        self.signal.cancel();
    }

    fn reason(&self) -> Option<String> {
        self.reason.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// The message a panic was raised with.
pub(crate) fn panic_message(panic: &(dyn Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

/// What a service serves: HTTP routes and gRPC services, added to the host's own.
#[derive(Default)]
pub struct ServiceParts {
    http: axum::Router,
    grpc: tonic::service::Routes,
    grpc_services: Vec<&'static str>,
    openapi: crate::openapi::OpenApi,
}

impl ServiceParts {
    /// Creates parts serving nothing beyond the host's own endpoints.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds HTTP routes (with their state already applied).
    #[must_use]
    pub fn with_http(mut self, router: axum::Router) -> Self {
        self.http = self.http.merge(router);
        self
    }

    /// Adds to the OpenAPI description of the HTTP routes (`GET /api/v1/openapi.json`).
    #[must_use]
    pub fn with_openapi(mut self, description: crate::openapi::OpenApi) -> Self {
        self.openapi = self.openapi.merge(description);
        self
    }

    /// Adds a gRPC service; its name goes into health, reflection and the metrics' method list.
    #[must_use]
    pub fn with_grpc<S>(mut self, service: S) -> Self
    where
        S: tower::Service<::http::Request<tonic::body::Body>, Error = std::convert::Infallible>
            + tonic::server::NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Response: axum::response::IntoResponse,
        S::Future: Send + 'static,
    {
        self.grpc = self.grpc.add_service(service);
        self.grpc_services.push(S::NAME);
        self
    }
}

/// Why an instance could not start or stopped abnormally.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// A port cannot be bound.
    #[error("{instance} cannot listen for {protocol} on {addr}: {source}")]
    Bind {
        /// Instance name.
        instance: String,
        /// `HTTP` or `gRPC`.
        protocol: &'static str,
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: io::Error,
    },
    /// The instance's directories cannot be created.
    #[error("{instance} cannot create {dir}: {source}")]
    Directory {
        /// Instance name.
        instance: String,
        /// The directory.
        dir: String,
        /// Why.
        source: io::Error,
    },
    /// The metrics registry refused a metric.
    #[error("{instance} metrics: {source}")]
    Metrics {
        /// Instance name.
        instance: String,
        /// Why.
        source: prometheus::Error,
    },
    /// Storage cannot be opened (bad URL, unwritable data directory, failed SQLite migration).
    #[error("{instance} storage: {source}")]
    Storage {
        /// Instance name.
        instance: String,
        /// Why.
        source: StorageError,
    },
    /// Another live instance holds this instance's name, schema or namespace.
    #[error("{instance} refused to start: {reason}")]
    Conflict {
        /// Instance name.
        instance: String,
        /// What is held, and by whom.
        reason: String,
    },
    /// The cache cannot be set up.
    #[error("{instance} cache: {source}")]
    Cache {
        /// Instance name.
        instance: String,
        /// Why.
        source: CacheError,
    },
    /// The service failed to build.
    #[error("{instance} service failed to start: {source}")]
    Service {
        /// Instance name.
        instance: String,
        /// Why.
        source: BoxError,
    },
    /// A task the instance needs failed (panicked), so the instance stopped.
    #[error("{instance} stopped: {reason}")]
    Task {
        /// Instance name.
        instance: String,
        /// What failed.
        reason: String,
    },
    /// A server stopped with an error.
    #[error("{instance} {protocol} server failed: {reason}")]
    Serve {
        /// Instance name.
        instance: String,
        /// `HTTP` or `gRPC`.
        protocol: &'static str,
        /// Why.
        reason: String,
    },
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
/// Returns a [`HostError`] when a directory, the metrics registry, storage or the service cannot be
/// set up, or when another live instance holds its name, schema or namespace; nothing is left running
/// in that case.
pub async fn start(
    config: InstanceConfig,
    service: ServiceDef,
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
    service: ServiceDef,
    listeners: Listeners,
    shared: Shared,
    shutdown: CancellationToken,
    span: tracing::Span,
) -> Result<RunningInstance, HostError> {
    let Shared { registry, clock } = shared;
    let config = Arc::new(config);
    let identity = &config.identity;
    let instance = identity.instance().to_string();
    let interval = config.common.health_check_interval;
    info!(config = %config.redacted(), "configuration loaded and validated");

    for dir in [&config.data_dir, &config.log_dir] {
        std::fs::create_dir_all(dir).map_err(|source| HostError::Directory {
            instance: instance.clone(),
            dir: dir.display().to_string(),
            source,
        })?;
    }
    info!(data_dir = %config.data_dir.display(), log_dir = %config.log_dir.display(), "directories ready");

    let metrics = InstanceMetrics::new(identity, VERSION).map_err(|source| HostError::Metrics {
        instance: instance.clone(),
        source,
    })?;
    let shipper_metrics =
        ShipperMetrics::register(metrics.registry()).map_err(|source| HostError::Metrics {
            instance: instance.clone(),
            source,
        })?;
    let health = Health::new(identity.clone(), VERSION, config.common.environment.clone());
    // A dependency is exported in `tse_dependency_up` only when the instance uses it: embedded
    // storage must not show PostgreSQL as down (and fire the generated TseDependencyDown alert).
    let dependency = |name: &'static str, in_use: bool| {
        let gauge = if in_use {
            metrics.dependency_up(name)
        } else {
            prometheus::IntGauge::new("tse_dependency_up", "unused dependency, never exported")
                .expect("a valid metric name")
        };
        Dependency::new(name, health.clone(), gauge)
    };
    let failure = Failure::new(health.clone());
    let gate =
        conn::Gate::new(config.common.limits.max_connections, metrics.registry()).map_err(|source| {
            HostError::Metrics {
                instance: instance.clone(),
                source,
            }
        })?;

    let migrations = vec![MigrationSet {
        component: service.kind.name(),
        migrations: service.migrations,
    }];
    let storage = Storage::open(
        &config,
        migrations,
        metrics.registry(),
        dependency("postgres", config.common.database_url.is_some()),
    )
    .await
    .map_err(|source| HostError::Storage {
        instance: instance.clone(),
        source,
    })?;
    let storage_up = storage.connect().await;
    health.set_backend("storage", storage.dialect().as_str());
    info!(storage = %storage.description(), available = storage_up, "storage opened");

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
                dependency("redis", true),
                Some(user),
            )
        })
        .map_err(|source| HostError::Cache {
            instance: instance.clone(),
            source,
        })?,
    };
    let cache_up = cache.connect().await;
    health.set_backend("cache", cache.backend_name());
    info!(cache = cache.backend_name(), namespace = %cache.namespace(), available = cache_up, "cache opened");
    health.set_backend("registry", registry.kind());

    let discovery = Discovery::new(
        registry,
        registration(&config, &health, listeners.http_addr(), listeners.grpc_addr()),
        clock.spec(),
        interval * 3,
    );
    match discovery.register().await {
        Ok(()) => {
            health.set_check(discovery::CHECK, Check::up(false));
            info!(key = %discovery.registration().key(), registry = discovery.registry().kind(), "registered in discovery");
        }
        Err(DiscoveryError::Conflict(reason)) => {
            storage.close().await;
            return Err(HostError::Conflict { instance, reason });
        }
        Err(DiscoveryError::Unavailable(reason)) => {
            warn!(%reason, "discovery unavailable; registering when it returns");
            health.set_check(discovery::CHECK, Check::down(false, reason));
        }
    }

    // The host's own background work outlives the service's tasks, which may still write on stop.
    let host_tasks = TaskTracker::new();
    let host_stop = CancellationToken::new();
    host_tasks.spawn(
        failure
            .watch(storage.clone().supervise(interval, host_stop.clone()))
            .instrument(span.clone()),
    );
    host_tasks.spawn(
        failure
            .watch(cache.clone().supervise(interval, host_stop.clone()))
            .instrument(span.clone()),
    );
    // The outbox ships until the very end: the service's tasks may still write events on stop.
    host_tasks.spawn(
        failure
            .watch(
                Shipper::new(
                    storage.clone(),
                    discovery.registry().clone(),
                    &config.common.environment,
                    config.common.ingest_secret(),
                    shipper_metrics,
                )
                .run(host_stop.clone()),
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
                    .heartbeat(health.clone(), interval, heartbeat_stop.clone()),
            )
            .instrument(span.clone()),
    );
    info!(interval = ?interval, ttl = ?(interval * 3), clock_speed = clock.speed(), "heartbeat started");

    let stopping = CancellationToken::new();
    let tasks = TaskTracker::new();
    let context = ServiceContext {
        config: config.clone(),
        metrics: metrics.registry().clone(),
        health: health.clone(),
        storage: storage.clone(),
        cache: cache.clone(),
        discovery: discovery.clone(),
        peers: Peers::new(discovery.registry().clone(), &config.common.environment),
        clock,
        events: Events::new(identity, clock),
        span: span.clone(),
        draining: shutdown.clone(),
        stopping: stopping.clone(),
        tasks: tasks.clone(),
        failure: failure.clone(),
    };
    info!(service = %service.kind, "starting service");
    let parts = match (service.build)(context).await {
        Ok(parts) => parts,
        Err(source) => {
            stopping.cancel();
            tasks.close();
            tasks.wait().await;
            heartbeat_stop.cancel();
            let _ = heartbeat.await;
            discovery.deregister().await;
            host_stop.cancel();
            host_tasks.close();
            host_tasks.wait().await;
            storage.close().await;
            return Err(HostError::Service { instance, source });
        }
    };
    info!("service started");

    let http_addr = listeners.http_addr();
    let grpc_addr = listeners.grpc_addr();
    let grpc = grpc::assemble(parts.grpc, &parts.grpc_services, &health, &metrics, &span);
    let openapi = parts.openapi.document(identity);
    let http_router = http::assemble(parts.http, openapi, &health, &metrics, &discovery, &span);

    let limits = config.common.limits;
    let grpc_server = tokio::spawn(
        grpc::serve(
            grpc.routes,
            grpc.layer,
            listeners.grpc,
            shutdown.clone(),
            gate.clone(),
            limits,
        )
        .instrument(span.clone()),
    );
    info!(addr = %grpc_addr, "gRPC server listening");
    let http_server = tokio::spawn(
        http::serve(http_router, listeners.http, shutdown.clone(), gate, limits).instrument(span.clone()),
    );
    info!(addr = %http_addr, max_connections = limits.max_connections, "HTTP server listening");
    host_tasks.spawn(failure.watch(grpc::report_health(
        grpc.reporter,
        grpc.services,
        health.clone(),
        host_stop.clone(),
    )));

    health.set_phase(Phase::Running);
    info!(http = %http_addr, grpc = %grpc_addr, status = health.status().as_str(), "instance ready");

    let supervisor = Supervisor {
        instance,
        health: health.clone(),
        failure,
        shutdown,
        stopping,
        tasks,
        http_server,
        grpc_server,
        discovery,
        heartbeat_stop,
        heartbeat,
        storage,
        host_stop,
        host_tasks,
    };
    let supervisor = tokio::spawn(supervisor.run().instrument(span));
    Ok(RunningInstance {
        config,
        http_addr,
        grpc_addr,
        health,
        supervisor,
    })
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
    let nanos = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
    format!("{:x}-{:x}-{:x}", std::process::id(), nanos, rand::random::<u64>())
}

/// Watches a running instance and takes it down in order.
struct Supervisor {
    instance: String,
    health: Health,
    failure: Failure,
    shutdown: CancellationToken,
    stopping: CancellationToken,
    tasks: TaskTracker,
    http_server: JoinHandle<Result<(), String>>,
    grpc_server: JoinHandle<Result<(), String>>,
    discovery: Discovery,
    heartbeat_stop: CancellationToken,
    heartbeat: JoinHandle<()>,
    storage: Storage,
    host_stop: CancellationToken,
    host_tasks: TaskTracker,
}

impl Supervisor {
    async fn run(mut self) -> Result<(), HostError> {
        // A server that stops before shutdown was asked for takes the instance down with it.
        let mut failure = None;
        tokio::select! {
            // Servers end when shutdown is requested too; checking the token first (biased) and again
            // below keeps a requested stop from being mistaken for a failure.
            biased;
            () = self.shutdown.cancelled() => info!("shutdown requested: draining"),
            () = self.failure.signal.cancelled() => {}
            result = &mut self.http_server, if !self.shutdown.is_cancelled() => {
                failure = Some(self.server_failure("HTTP", result));
            }
            result = &mut self.grpc_server, if !self.shutdown.is_cancelled() => {
                failure = Some(self.server_failure("gRPC", result));
            }
        }
        if failure.is_some() && self.shutdown.is_cancelled() {
            failure = None;
        }
        self.shutdown.cancel();
        self.health.set_phase(Phase::Draining);

        let drained = tokio::time::timeout(DRAIN_TIMEOUT, async {
            if !self.http_server.is_finished() {
                let _ = (&mut self.http_server).await;
            }
            if !self.grpc_server.is_finished() {
                let _ = (&mut self.grpc_server).await;
            }
        })
        .await;
        if drained.is_err() {
            warn!(timeout = ?DRAIN_TIMEOUT, "requests still in flight after the drain timeout; closing them");
            self.http_server.abort();
            self.grpc_server.abort();
        }
        info!("servers stopped; stopping service tasks");
        self.stopping.cancel();
        self.tasks.close();
        if tokio::time::timeout(DRAIN_TIMEOUT, self.tasks.wait())
            .await
            .is_err()
        {
            warn!(
                timeout = ?DRAIN_TIMEOUT,
                remaining = self.tasks.len(),
                "service tasks did not finish in time"
            );
        }
        self.heartbeat_stop.cancel();
        let _ = (&mut self.heartbeat).await;
        self.discovery.deregister().await;
        self.host_stop.cancel();
        self.host_tasks.close();
        if tokio::time::timeout(DRAIN_TIMEOUT, self.host_tasks.wait())
            .await
            .is_err()
        {
            warn!("host tasks did not finish in time");
        }
        // A task that failed, also while draining, is the instance's failure.
        if let Some(reason) = self.failure.reason() {
            failure.get_or_insert(HostError::Task {
                instance: self.instance.clone(),
                reason,
            });
        }
        let spooled = self.storage.spooled();
        self.storage.close().await;
        if spooled > 0 {
            warn!(
                spooled,
                "stopped with writes in the local spool; they reach the database after the next start"
            );
        }
        match failure {
            Some(error) => {
                error!(%error, "instance stopped after a failure");
                Err(error)
            }
            None => {
                info!("instance stopped");
                Ok(())
            }
        }
    }

    fn server_failure(
        &self,
        protocol: &'static str,
        result: Result<Result<(), String>, tokio::task::JoinError>,
    ) -> HostError {
        let reason = match result {
            Ok(Ok(())) => "stopped unexpectedly".to_owned(),
            Ok(Err(reason)) => reason,
            Err(join) => join.to_string(),
        };
        HostError::Serve {
            instance: self.instance.clone(),
            protocol,
            reason,
        }
    }
}
