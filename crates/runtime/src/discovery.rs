//! Discovery (README, *Storage, cache and discovery*): every instance registers under `services:{SERVICE_NAME}:{SERVICE_INSTANCE_NAME}`
//! with a JSON [`Registration`], kept alive by a heartbeat (TTL = 3 × `HEALTH_CHECK_INTERVAL`) and
//! removed on stop. Instances find each other through it, never by hard-coded addresses.
//!
//! - [`Registry::embedded`]: in-process, shared by the instances of one `tse up`.
//! - [`Registry::redis`]: shared by separate processes through Redis ([`RedisRegistry`], in
//!   `discovery/redis.rs`); claims run as Lua scripts, so checking for a collision and registering is
//!   one atomic step.
//!
//! Registrations are read into typed fields (service kind, instance name, health status; their JSON
//! spelling is in `discovery/wire.rs`). One that no longer reads — written by another version — is
//! left out of [`Registry::list`] with a warning, never an error for the whole list. Looking a peer
//! up (environment, health, choice, channels) is [`crate::peers`]' business.
//!
//! An instance refuses to start when another live instance holds its instance name, schema or
//! namespace, and names the holder. A registration whose owner no longer listens (killed with -9, its
//! TTL not yet run out) is not "live": the newcomer removes it and takes over.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use serde::{Deserialize, Serialize};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::{
    clock::ClockSpec,
    config::SecretUrl,
    health::{Check, Health, Status, rfc3339},
    identity::{InstanceName, ServiceKind},
    redis_conn::connect_lazy,
};

/// Prefix of every registration key.
pub const KEY_PREFIX: &str = "services";

/// Name of the health check discovery reports.
pub const CHECK: &str = "discovery";

/// The key under which the clock of the ecosystem of `environment` is shared: one clock per
/// ecosystem, so two ecosystems on one Redis (say `staging` and a test run) keep their own time.
pub fn clock_key(environment: &str) -> String {
    format!("tse:clock:{environment}")
}

/// The explanation a refusal adds when the holder belongs to another ecosystem: registry keys
/// (`services:{service}:{instance}`, the seed's format) are not scoped by `ENVIRONMENT`, so one
/// Redis database holds one ecosystem's registrations while clocks (`tse:clock:{environment}`) are
/// kept apart. Empty when both are of the same ecosystem.
fn other_ecosystem(environment: &str, holder: &Registration) -> String {
    if holder.environment == environment {
        return String::new();
    }
    format!(
        "; it belongs to ecosystem '{}', not '{}': one Redis database holds one ecosystem's \
         registrations, so run this ecosystem on a database of its own (REDIS_URL=redis://host:6379/1) \
         or with other instance names",
        holder.environment, environment
    )
}

/// What an instance publishes about itself.
///
/// Its JSON spells the service, instance name and status as plain strings (`exchange-simulator`,
/// `exchange-OKX`, `healthy`), as the seed's format does, so every process and version reads the same
/// thing; they are parsed into their types when a registration is read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Registration {
    /// `SERVICE_NAME`.
    #[serde(with = "wire::service")]
    pub service: ServiceKind,
    /// `SERVICE_INSTANCE_NAME`.
    #[serde(with = "wire::instance")]
    pub instance: InstanceName,
    /// Host other instances reach it at.
    pub host: String,
    /// HTTP port.
    pub http_port: u16,
    /// gRPC port.
    pub grpc_port: u16,
    /// Binary version.
    pub version: String,
    /// `ENVIRONMENT`.
    pub environment: String,
    /// `healthy`, `degraded` or `unhealthy`.
    #[serde(with = "wire::status")]
    pub status: Status,
    /// When this registration was last written (RFC 3339 UTC).
    pub timestamp: String,
    /// PostgreSQL schema.
    pub schema: String,
    /// Redis namespace.
    pub redis_namespace: String,
    /// `singleton` or `multi-instance`.
    pub service_type: String,
    /// The instance's role.
    pub entity_type: String,
    /// When the instance started (RFC 3339 UTC).
    pub started_at: String,
    /// Whether the instance is ready.
    #[serde(default)]
    pub ready: bool,
    /// Identifies one run of the instance, so a restart can tell its own old registration from
    /// another process's.
    #[serde(default)]
    pub run_id: String,
}

impl Registration {
    /// Returns the registry key: `services:{service}:{instance}`.
    pub fn key(&self) -> String {
        format!("{KEY_PREFIX}:{}:{}", self.service, self.instance)
    }

    /// Returns the HTTP base URL (`http://host:port`).
    pub fn http_url(&self) -> String {
        format!("http://{}:{}", self.host, self.http_port)
    }

    /// Returns `host:grpc_port`.
    pub fn grpc_addr(&self) -> String {
        format!("{}:{}", self.host, self.grpc_port)
    }
}

mod redis;
mod wire;

pub use redis::RedisRegistry;

/// Why the registry could not be used.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DiscoveryError {
    /// Another live instance holds the instance name, schema or namespace this one needs.
    #[error(
        "{what} '{value}' is held by live instance {} ({} at {}){}",
        .holder.instance, .holder.service, .holder.http_url(), other_ecosystem(.environment, .holder)
    )]
    Held {
        /// What is held: `instance name`, `schema` or `Redis namespace`.
        what: String,
        /// This instance's value of it.
        value: String,
        /// The live instance that holds it.
        holder: Box<Registration>,
        /// This instance's environment (the holder's may differ).
        environment: String,
    },
    /// Another run of this instance registered under its name while it was running.
    #[error(
        "instance name '{instance}' was taken by another run at {}{}",
        .holder.http_url(), other_ecosystem(.environment, .holder)
    )]
    Taken {
        /// This instance's name.
        instance: InstanceName,
        /// The run that holds it now.
        holder: Box<Registration>,
        /// This instance's environment.
        environment: String,
    },
    /// Registrations that no longer listen kept taking the names again.
    #[error("registration keeps colliding")]
    Colliding,
    /// The registry cannot be reached.
    #[error("registry unavailable: {0}")]
    Unavailable(String),
}

impl DiscoveryError {
    /// Whether another instance holds what this one needs (it cannot run safely), as opposed to
    /// the registry being away for now.
    pub fn is_conflict(&self) -> bool {
        !matches!(self, DiscoveryError::Unavailable(_))
    }
}

/// Where registrations live.
#[derive(Clone)]
pub enum Registry {
    /// In this process.
    Embedded(Arc<EmbeddedRegistry>),
    /// In Redis.
    Redis(RedisRegistry),
}

impl Registry {
    /// An in-process registry.
    pub fn embedded() -> Self {
        Registry::Embedded(Arc::new(EmbeddedRegistry::default()))
    }

    /// A Redis registry (connects lazily).
    ///
    /// # Errors
    /// Returns [`DiscoveryError::Unavailable`] when the URL cannot be used.
    pub fn redis(url: &SecretUrl) -> Result<Self, DiscoveryError> {
        let connection = connect_lazy(url).map_err(|e| DiscoveryError::Unavailable(format!("{url}: {e}")))?;
        Ok(Registry::Redis(RedisRegistry::new(connection)))
    }

    /// The registry a configuration asks for: Redis when `REDIS_URL` is set, else a fresh embedded one.
    ///
    /// # Errors
    /// As [`Registry::redis`].
    pub fn for_config(config: &crate::config::CommonConfig) -> Result<Self, DiscoveryError> {
        match &config.redis_url {
            Some(url) => Self::redis(url),
            None => Ok(Self::embedded()),
        }
    }

    /// Returns `embedded` or `redis`.
    pub fn kind(&self) -> &'static str {
        match self {
            Registry::Embedded(_) => "embedded",
            Registry::Redis(_) => "redis",
        }
    }

    /// Lists every live registration, sorted by key.
    ///
    /// # Errors
    /// [`DiscoveryError::Unavailable`] when Redis cannot be reached.
    pub async fn list(&self) -> Result<Vec<Registration>, DiscoveryError> {
        match self {
            Registry::Embedded(registry) => Ok(registry.list()),
            Registry::Redis(registry) => registry.list().await,
        }
    }

    /// Lists the live instances of one service.
    ///
    /// # Errors
    /// As [`Registry::list`].
    pub async fn by_service(&self, service: ServiceKind) -> Result<Vec<Registration>, DiscoveryError> {
        let mut all = self.list().await?;
        all.retain(|r| r.service == service);
        Ok(all)
    }

    /// Lists the live instances whose status is `healthy`.
    ///
    /// # Errors
    /// As [`Registry::list`].
    pub async fn healthy(&self) -> Result<Vec<Registration>, DiscoveryError> {
        let mut all = self.list().await?;
        all.retain(|r| r.status == Status::Healthy);
        Ok(all)
    }

    /// Adopts the clock of the ecosystem of `environment`: returns the spec already published (and
    /// keeps it alive for `ttl`), or publishes `proposed` if there is none.
    ///
    /// # Errors
    /// [`DiscoveryError::Unavailable`] when Redis cannot be reached.
    pub async fn adopt_clock(
        &self,
        environment: &str,
        proposed: ClockSpec,
        ttl: Duration,
    ) -> Result<ClockSpec, DiscoveryError> {
        match self {
            Registry::Embedded(registry) => Ok(registry.adopt_clock(environment, proposed, ttl)),
            Registry::Redis(registry) => registry.adopt_clock(environment, proposed, ttl).await,
        }
    }

    async fn claim(&self, registration: &Registration, ttl: Duration) -> Result<Claim, DiscoveryError> {
        match self {
            Registry::Embedded(registry) => Ok(registry.claim(registration, ttl)),
            Registry::Redis(registry) => registry.claim(registration, ttl).await,
        }
    }

    async fn refresh(&self, registration: &Registration, ttl: Duration) -> Result<Refresh, DiscoveryError> {
        match self {
            Registry::Embedded(registry) => Ok(registry.refresh(registration, ttl)),
            Registry::Redis(registry) => registry.refresh(registration, ttl).await,
        }
    }

    async fn remove(&self, key: &str, run_id: &str) -> Result<(), DiscoveryError> {
        match self {
            Registry::Embedded(registry) => {
                registry.remove(key, run_id);
                Ok(())
            }
            Registry::Redis(registry) => registry.remove(key, run_id).await,
        }
    }
}

/// Outcome of a claim.
enum Claim {
    /// Registered.
    Done,
    /// Another registration holds `what`.
    Held { what: String, holder: Box<Registration> },
}

/// Outcome of a heartbeat.
enum Refresh {
    /// Refreshed.
    Kept,
    /// The key had vanished (expired, Redis restarted or flushed).
    Missing,
    /// Another run of the same instance name holds the key now.
    Taken(Box<Registration>),
}

fn held_by(mine: &Registration, other: &Registration) -> Option<&'static str> {
    if other.key() == mine.key() {
        return (other.run_id != mine.run_id).then_some("instance name");
    }
    if other.instance == mine.instance {
        Some("instance name")
    } else if other.schema == mine.schema {
        Some("schema")
    } else if other.redis_namespace == mine.redis_namespace {
        Some("Redis namespace")
    } else {
        None
    }
}

/// The in-process registry of `tse up`.
#[derive(Default)]
pub struct EmbeddedRegistry {
    entries: Mutex<BTreeMap<String, (Registration, Instant)>>,
    clocks: Mutex<BTreeMap<String, (ClockSpec, Instant)>>,
}

impl EmbeddedRegistry {
    fn adopt_clock(&self, environment: &str, proposed: ClockSpec, ttl: Duration) -> ClockSpec {
        let mut clocks = self.clocks.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let spec = match clocks.get(environment) {
            Some(&(spec, expires)) if expires > now => spec,
            _ => proposed,
        };
        clocks.insert(environment.to_owned(), (spec, now + ttl));
        spec
    }

    fn live(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, (Registration, Instant)>> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        entries.retain(|_, (_, expires)| *expires > now);
        entries
    }

    fn list(&self) -> Vec<Registration> {
        self.live().values().map(|(r, _)| r.clone()).collect()
    }

    fn claim(&self, registration: &Registration, ttl: Duration) -> Claim {
        let mut entries = self.live();
        for (other, _) in entries.values() {
            if let Some(what) = held_by(registration, other) {
                return Claim::Held {
                    what: what.to_owned(),
                    holder: Box::new(other.clone()),
                };
            }
        }
        entries.insert(registration.key(), (registration.clone(), Instant::now() + ttl));
        Claim::Done
    }

    fn refresh(&self, registration: &Registration, ttl: Duration) -> Refresh {
        let mut entries = self.live();
        match entries.get(&registration.key()) {
            None => Refresh::Missing,
            Some((other, _)) if other.run_id != registration.run_id => {
                Refresh::Taken(Box::new(other.clone()))
            }
            Some(_) => {
                entries.insert(registration.key(), (registration.clone(), Instant::now() + ttl));
                Refresh::Kept
            }
        }
    }

    fn remove(&self, key: &str, run_id: &str) {
        let mut entries = self.live();
        if entries.get(key).is_some_and(|(r, _)| r.run_id == run_id) {
            entries.remove(key);
        }
    }
}

/// One instance's presence in the registry: its registration, kept fresh by [`Discovery::heartbeat`].
#[derive(Clone)]
pub struct Discovery {
    registry: Registry,
    registration: Arc<Mutex<Registration>>,
    clock: ClockSpec,
    ttl: Duration,
}

impl Discovery {
    /// Prepares the registration of an instance running on `clock`; it lives `ttl` unless refreshed.
    pub fn new(registry: Registry, registration: Registration, clock: ClockSpec, ttl: Duration) -> Self {
        Self {
            registry,
            registration: Arc::new(Mutex::new(registration)),
            clock,
            ttl,
        }
    }

    /// Returns the registry, for lookups.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Returns the current registration.
    pub fn registration(&self) -> Registration {
        self.registration
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Registers, unless another live instance holds the instance name, schema or namespace. A
    /// holder that no longer listens is removed first.
    ///
    /// # Errors
    /// [`DiscoveryError::Conflict`] naming the holder; [`DiscoveryError::Unavailable`] when the
    /// registry cannot be reached (the heartbeat keeps trying).
    pub async fn register(&self) -> Result<(), DiscoveryError> {
        let registration = self.registration();
        // Each stale holder removed allows one more attempt; a live one ends the loop.
        for _ in 0..8 {
            match self.registry.claim(&registration, self.ttl).await? {
                Claim::Done => return Ok(()),
                Claim::Held { what, holder } => {
                    if self.is_alive(&holder).await {
                        let value = match what.as_str() {
                            "schema" => registration.schema.clone(),
                            "Redis namespace" => registration.redis_namespace.clone(),
                            _ => registration.instance.to_string(),
                        };
                        return Err(DiscoveryError::Held {
                            what,
                            value,
                            holder,
                            environment: registration.environment.clone(),
                        });
                    }
                    warn!(holder = %holder.instance, "removing the registration of an instance that no longer listens");
                    self.registry.remove(&holder.key(), &holder.run_id).await?;
                }
            }
        }
        Err(DiscoveryError::Colliding)
    }

    /// A registration is live when something listens at its HTTP address. One at this instance's own
    /// address is a previous run's: that port is bound by this process now.
    async fn is_alive(&self, holder: &Registration) -> bool {
        let mine = self.registration();
        if holder.host == mine.host && holder.http_port == mine.http_port {
            return false;
        }
        let Ok(addrs) = tokio::net::lookup_host((holder.host.as_str(), holder.http_port)).await else {
            return false;
        };
        for addr in addrs {
            let connect = tokio::net::TcpStream::connect(addr);
            if let Ok(Ok(_)) = tokio::time::timeout(Duration::from_millis(500), connect).await {
                return true;
            }
        }
        false
    }

    /// Refreshes the registration every `interval` and whenever health changes, until `stop`;
    /// re-registers when the key vanished; reports problems in the `discovery` health check.
    pub async fn heartbeat(self, health: Health, interval: Duration, stop: CancellationToken) {
        let mut changes = health.subscribe();
        loop {
            {
                let report = health.report();
                let mut registration = self.registration.lock().unwrap_or_else(|e| e.into_inner());
                registration.status = report.status;
                registration.ready = report.ready;
                registration.timestamp = rfc3339(crate::clock::wall_now());
            }
            self.beat(&health).await;
            tokio::select! {
                () = stop.cancelled() => break,
                () = tokio::time::sleep(interval) => {}
                changed = changes.changed() => if changed.is_err() { break },
            }
        }
    }

    async fn beat(&self, health: &Health) {
        // Keep the shared clock alive (and publish it again if the registry lost it).
        let registration = self.registration();
        if let Ok(adopted) = self
            .registry
            .adopt_clock(&registration.environment, self.clock, self.ttl)
            .await
            && adopted != self.clock
        {
            warn!(
                ?adopted,
                "the registry holds another ecosystem clock; this instance keeps its own"
            );
        }
        let outcome = match self.registry.refresh(&registration, self.ttl).await {
            Ok(Refresh::Kept) => Ok(()),
            Ok(Refresh::Missing) => {
                let result = self.register().await;
                if result.is_ok() {
                    info!(key = %registration.key(), "registration had vanished; registered again");
                }
                result
            }
            Ok(Refresh::Taken(holder)) => Err(DiscoveryError::Taken {
                instance: registration.instance.clone(),
                holder,
                environment: registration.environment.clone(),
            }),
            Err(e) => Err(e),
        };
        match outcome {
            Ok(()) => health.set_check(CHECK, Check::up(false)),
            // Someone else holds our identity: we cannot do our job safely.
            Err(DiscoveryError::Unavailable(reason)) => health.set_check(CHECK, Check::down(false, reason)),
            Err(conflict) => health.set_check(CHECK, Check::down(true, conflict.to_string())),
        }
    }

    /// Removes the registration (only if it is still this run's).
    pub async fn deregister(&self) {
        let registration = self.registration();
        match self
            .registry
            .remove(&registration.key(), &registration.run_id)
            .await
        {
            Ok(()) => info!(key = %registration.key(), "deregistered"),
            Err(e) => warn!(error = %e, "could not deregister; the registration expires on its own"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registration(instance: &str, schema: &str, namespace: &str, run: &str) -> Registration {
        Registration {
            service: ServiceKind::ExchangeSimulator,
            instance: InstanceName::parse(instance).unwrap(),
            host: "127.0.0.1".into(),
            http_port: 1,
            grpc_port: 2,
            version: "0".into(),
            environment: "test".into(),
            status: Status::Healthy,
            timestamp: String::new(),
            schema: schema.into(),
            redis_namespace: namespace.into(),
            service_type: "multi-instance".into(),
            entity_type: "exchange".into(),
            started_at: String::new(),
            ready: true,
            run_id: run.into(),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn embedded_claims_refuse_collisions_and_expire() {
        let registry = EmbeddedRegistry::default();
        let ttl = Duration::from_secs(3);
        let a = registration("exchange-OKX", "exchange_okx", "exchange:OKX", "r1");
        assert!(matches!(registry.claim(&a, ttl), Claim::Done));
        let b = registration("exchange-okx", "exchange_okx", "exchange:okx", "r2");
        let Claim::Held { what, holder } = registry.claim(&b, ttl) else {
            panic!("collision expected")
        };
        assert_eq!(what, "schema");
        assert_eq!(holder.instance, "exchange-OKX");
        let again = registration("exchange-OKX", "x", "y", "r3");
        assert!(matches!(registry.claim(&again, ttl), Claim::Held { .. }));
        // Our own run re-claiming is fine.
        assert!(matches!(registry.claim(&a, ttl), Claim::Done));
        tokio::time::advance(Duration::from_secs(4)).await;
        assert!(registry.list().is_empty(), "expired after its TTL");
        assert!(matches!(registry.claim(&b, ttl), Claim::Done));
    }

    #[tokio::test(start_paused = true)]
    async fn embedded_refresh_distinguishes_missing_and_taken() {
        let registry = EmbeddedRegistry::default();
        let ttl = Duration::from_secs(3);
        let a = registration("exchange-OKX", "s", "n", "r1");
        assert!(matches!(registry.refresh(&a, ttl), Refresh::Missing));
        registry.claim(&a, ttl);
        assert!(matches!(registry.refresh(&a, ttl), Refresh::Kept));
        let other_run = registration("exchange-OKX", "s", "n", "r2");
        assert!(matches!(registry.refresh(&other_run, ttl), Refresh::Taken(_)));
        registry.remove(&a.key(), "r2");
        assert_eq!(registry.list().len(), 1, "only the owning run may remove");
        registry.remove(&a.key(), "r1");
        assert!(registry.list().is_empty());
    }
}
