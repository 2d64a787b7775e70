//! The truth about an instance: its lifecycle phase and the state of every dependency it checks.
//!
//! Components (storage, cache, discovery, the service itself) report checks; [`Health`] derives from
//! them what `GET /api/v1/health`, `GET /api/v1/ready`, the gRPC health service and
//! `InstanceService/GetInfo` answer, so all of them always agree:
//! - `unhealthy` when a required check is down: the instance cannot work;
//! - `degraded` when an optional check is down: it keeps serving, with reduced guarantees;
//! - `healthy` otherwise.
//!
//! Ready means: running (not starting, not draining) and every check up.

use std::{
    collections::BTreeMap,
    sync::{Arc, RwLock},
    time::Instant,
};

use serde::Serialize;
use time::{OffsetDateTime, format_description::well_known::Rfc3339};
use tokio::sync::watch;

use crate::identity::Identity;

/// Where an instance is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Opening storage, registering, building the service.
    Starting,
    /// Serving.
    Running,
    /// Stopping: no longer accepting, finishing what is in flight.
    Draining,
}

/// Overall status, as the seed's health JSON spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Everything works.
    Healthy,
    /// An optional dependency is down; the instance keeps serving.
    Degraded,
    /// A required part is down; the instance cannot do its job.
    Unhealthy,
}

impl Status {
    /// Returns `healthy`, `degraded` or `unhealthy`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Status::Healthy => "healthy",
            Status::Degraded => "degraded",
            Status::Unhealthy => "unhealthy",
        }
    }
}

/// The state one component reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    /// Whether the instance can work at all while this is down.
    pub required: bool,
    /// `None` when up, the reason when down.
    pub down_reason: Option<String>,
}

impl Check {
    /// A component that is up.
    pub fn up(required: bool) -> Self {
        Self {
            required,
            down_reason: None,
        }
    }

    /// A component that is down, and why.
    pub fn down(required: bool, reason: impl Into<String>) -> Self {
        Self {
            required,
            down_reason: Some(reason.into()),
        }
    }
}

/// An external dependency (PostgreSQL, Redis) as the instance sees it: a health check that degrades
/// (never fails) the instance while down, mirrored in `tse_dependency_up{dependency}`.
#[derive(Clone)]
pub struct Dependency {
    name: &'static str,
    health: Health,
    gauge: prometheus::IntGauge,
}

impl Dependency {
    /// Creates the dependency `name`, reporting into `health` and `gauge`.
    pub fn new(name: &'static str, health: Health, gauge: prometheus::IntGauge) -> Self {
        Self { name, health, gauge }
    }

    /// Returns the dependency's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Records that the dependency works.
    pub fn up(&self) {
        self.gauge.set(1);
        self.health.set_check(self.name, Check::up(false));
    }

    /// Records that the dependency is down, and why.
    pub fn down(&self, reason: &str) {
        self.gauge.set(0);
        self.health.set_check(self.name, Check::down(false, reason));
    }

    /// Records how the dependency is used (`postgres_isolation` → `login role ...`), shown with the
    /// backends in the health answer.
    pub fn set_backend(&self, role: &'static str, backend: impl Into<String>) {
        self.health.set_backend(role, backend);
    }

    /// Returns why the dependency is down, or `None` when it is up.
    pub fn reason(&self) -> Option<String> {
        let state = self.health.inner.state.read().unwrap_or_else(|e| e.into_inner());
        state.checks.get(self.name).and_then(|c| c.down_reason.clone())
    }
}

/// How often a dependency supervisor looks again: every `interval` while the dependency is up; while
/// it is down, after 250 ms, doubling up to the smaller of `interval` and 5 s, so an outage is noticed
/// to end quickly without hammering a server that is still starting.
pub(crate) struct RetryPace {
    interval: std::time::Duration,
    backoff: crate::backoff::Backoff,
}

impl RetryPace {
    const FIRST_RETRY: std::time::Duration = std::time::Duration::from_millis(250);

    pub(crate) fn new(interval: std::time::Duration) -> Self {
        Self {
            interval,
            backoff: crate::backoff::Backoff::new(
                Self::FIRST_RETRY,
                interval.min(std::time::Duration::from_secs(5)),
            ),
        }
    }

    /// Returns how long to wait after a check that found the dependency `up` or not.
    pub(crate) fn next(&mut self, up: bool) -> std::time::Duration {
        if up {
            self.backoff.reset();
            return self.interval;
        }
        self.backoff.next_wait()
    }
}

/// Shared, cheap-to-clone health state of one instance.
#[derive(Clone)]
pub struct Health {
    inner: Arc<Inner>,
}

struct Inner {
    identity: Identity,
    version: &'static str,
    environment: String,
    started_at: OffsetDateTime,
    started: Instant,
    state: RwLock<State>,
    changes: watch::Sender<u64>,
}

struct State {
    phase: Phase,
    checks: BTreeMap<String, Check>,
    backends: BTreeMap<&'static str, String>,
}

impl Health {
    /// Creates the health state of a starting instance.
    pub fn new(identity: Identity, version: &'static str, environment: String) -> Self {
        let (changes, _) = watch::channel(0);
        Self {
            inner: Arc::new(Inner {
                identity,
                version,
                environment,
                started_at: crate::clock::wall_now(),
                started: Instant::now(),
                state: RwLock::new(State {
                    phase: Phase::Starting,
                    checks: BTreeMap::new(),
                    backends: BTreeMap::new(),
                }),
                changes,
            }),
        }
    }

    /// Moves the instance to `phase`.
    pub fn set_phase(&self, phase: Phase) {
        self.update(|state| {
            let changed = state.phase != phase;
            state.phase = phase;
            changed
        });
    }

    /// Records the state of component `name`.
    pub fn set_check(&self, name: &str, check: Check) {
        self.update(|state| state.checks.insert(name.to_owned(), check.clone()).as_ref() != Some(&check));
    }

    /// Records which backend serves a role (`storage` → `postgres`), shown in the health answer.
    pub fn set_backend(&self, role: &'static str, backend: impl Into<String>) {
        let backend = backend.into();
        self.update(|state| state.backends.insert(role, backend.clone()).as_ref() != Some(&backend));
    }

    /// Returns a receiver that sees a new value whenever status or readiness may have changed.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.changes.subscribe()
    }

    fn update(&self, change: impl FnOnce(&mut State) -> bool) {
        // A poisoned lock only means a panic elsewhere mid-update; the map is still usable.
        let changed = change(&mut self.inner.state.write().unwrap_or_else(|e| e.into_inner()));
        if changed {
            self.inner.changes.send_modify(|version| *version += 1);
        }
    }

    /// Returns the current phase.
    pub fn phase(&self) -> Phase {
        self.inner.state.read().unwrap_or_else(|e| e.into_inner()).phase
    }

    /// Returns the overall status.
    pub fn status(&self) -> Status {
        let state = self.inner.state.read().unwrap_or_else(|e| e.into_inner());
        status_of(&state)
    }

    /// Returns `Ok` when the instance can do its job, or every reason it cannot.
    ///
    /// # Errors
    /// Returns the reasons, in a stable order, when not ready.
    pub fn readiness(&self) -> Result<(), Vec<String>> {
        let state = self.inner.state.read().unwrap_or_else(|e| e.into_inner());
        readiness_of(&state)
    }

    /// Returns the identity this health describes.
    pub fn identity(&self) -> &Identity {
        &self.inner.identity
    }

    /// Returns the full health answer: the seed's fields plus ours.
    pub fn report(&self) -> HealthReport {
        let state = self.inner.state.read().unwrap_or_else(|e| e.into_inner());
        let id = &self.inner.identity;
        let readiness = readiness_of(&state);
        HealthReport {
            status: status_of(&state),
            service: id.service().name(),
            instance: id.instance().to_string(),
            version: self.inner.version,
            environment: self.inner.environment.clone(),
            timestamp: rfc3339(crate::clock::wall_now()),
            schema: id.schema().to_string(),
            redis_namespace: id.redis_namespace().to_string(),
            service_type: id.service_type().as_str(),
            entity_type: id.entity_type(),
            started_at: rfc3339(self.inner.started_at),
            uptime_seconds: self.inner.started.elapsed().as_secs_f64(),
            ready: readiness.is_ok(),
            not_ready_reasons: readiness.err().unwrap_or_default(),
            backends: state
                .backends
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
            checks: state
                .checks
                .iter()
                .map(|(name, check)| {
                    (
                        name.clone(),
                        CheckReport {
                            status: if check.down_reason.is_none() { "up" } else { "down" },
                            required: check.required,
                            reason: check.down_reason.clone(),
                        },
                    )
                })
                .collect(),
        }
    }
}

fn status_of(state: &State) -> Status {
    let down = state.checks.values().filter(|c| c.down_reason.is_some());
    let mut status = Status::Healthy;
    for check in down {
        if check.required {
            return Status::Unhealthy;
        }
        status = Status::Degraded;
    }
    status
}

fn readiness_of(state: &State) -> Result<(), Vec<String>> {
    let mut reasons = Vec::new();
    match state.phase {
        Phase::Starting => reasons.push("starting".to_owned()),
        Phase::Draining => reasons.push("shutting down".to_owned()),
        Phase::Running => {}
    }
    for (name, check) in &state.checks {
        if let Some(reason) = &check.down_reason {
            reasons.push(format!("{name}: {reason}"));
        }
    }
    if reasons.is_empty() { Ok(()) } else { Err(reasons) }
}

/// Formats a time as RFC 3339 UTC, to the second (`2026-11-22T10:00:00Z`).
pub fn rfc3339(time: OffsetDateTime) -> String {
    time.replace_nanosecond(0)
        .unwrap_or(time)
        .format(&Rfc3339)
        .unwrap_or_else(|_| time.unix_timestamp().to_string())
}

/// Formats a time as RFC 3339 UTC with all its digits (`2026-11-22T10:00:00.123456789Z`): for
/// records whose order within a second matters (settlements, audit events).
pub fn rfc3339_exact(time: OffsetDateTime) -> String {
    time.format(&Rfc3339)
        .unwrap_or_else(|_| time.unix_timestamp().to_string())
}

/// The body of `GET /api/v1/health`.
#[derive(Clone, Debug, Serialize)]
pub struct HealthReport {
    /// Overall status.
    pub status: Status,
    /// `SERVICE_NAME`.
    pub service: &'static str,
    /// Instance name.
    pub instance: String,
    /// Binary version.
    pub version: &'static str,
    /// `ENVIRONMENT`.
    pub environment: String,
    /// Time of this answer (RFC 3339 UTC).
    pub timestamp: String,
    /// PostgreSQL schema.
    pub schema: String,
    /// Redis namespace.
    pub redis_namespace: String,
    /// `singleton` or `multi-instance`.
    pub service_type: &'static str,
    /// The instance's role.
    pub entity_type: &'static str,
    /// When the instance started (RFC 3339 UTC).
    pub started_at: String,
    /// Seconds since start.
    pub uptime_seconds: f64,
    /// What `GET /api/v1/ready` would answer.
    pub ready: bool,
    /// Why not ready; empty when ready.
    pub not_ready_reasons: Vec<String>,
    /// Backend serving each role: `storage` (`postgres`/`sqlite`), `cache` (`redis`/`memory`),
    /// `registry` (`redis`/`embedded`).
    pub backends: BTreeMap<String, String>,
    /// Every component check by name.
    pub checks: BTreeMap<String, CheckReport>,
}

/// One component in a [`HealthReport`].
#[derive(Clone, Debug, Serialize)]
pub struct CheckReport {
    /// `up` or `down`.
    pub status: &'static str,
    /// Whether the instance is unhealthy (rather than degraded) while this is down.
    pub required: bool,
    /// Why it is down.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::ServiceKind;

    fn health() -> Health {
        let id = Identity::new(ServiceKind::ExchangeSimulator, Some("exchange-OKX"), None, None).unwrap();
        Health::new(id, "0.1.0", "test".into())
    }

    #[test]
    fn a_starting_instance_is_healthy_but_not_ready() {
        let h = health();
        assert_eq!(h.status(), Status::Healthy);
        assert_eq!(h.readiness(), Err(vec!["starting".to_owned()]));
        h.set_phase(Phase::Running);
        assert_eq!(h.readiness(), Ok(()));
    }

    #[test]
    fn an_optional_dependency_down_degrades_and_unreadies() {
        let h = health();
        h.set_phase(Phase::Running);
        h.set_check("postgres", Check::down(false, "connection refused"));
        assert_eq!(h.status(), Status::Degraded);
        assert_eq!(
            h.readiness(),
            Err(vec!["postgres: connection refused".to_owned()])
        );
        h.set_check("postgres", Check::up(false));
        assert_eq!(h.status(), Status::Healthy);
        assert_eq!(h.readiness(), Ok(()));
    }

    #[test]
    fn a_required_part_down_is_unhealthy() {
        let h = health();
        h.set_check("postgres", Check::down(false, "x"));
        h.set_check("engine", Check::down(true, "crashed"));
        assert_eq!(h.status(), Status::Unhealthy);
    }

    #[test]
    fn draining_instances_are_not_ready() {
        let h = health();
        h.set_phase(Phase::Draining);
        assert_eq!(h.readiness(), Err(vec!["shutting down".to_owned()]));
    }

    #[test]
    fn subscribers_see_only_real_changes() {
        let h = health();
        let mut rx = h.subscribe();
        h.set_phase(Phase::Starting);
        assert!(!rx.has_changed().unwrap());
        h.set_phase(Phase::Running);
        assert!(rx.has_changed().unwrap());
        rx.mark_unchanged();
        h.set_check("redis", Check::up(false));
        assert!(rx.has_changed().unwrap());
        rx.mark_unchanged();
        h.set_check("redis", Check::up(false));
        assert!(!rx.has_changed().unwrap());
    }

    #[test]
    fn retries_back_off_while_down_and_reset_when_up() {
        use std::time::Duration;
        let mut pace = RetryPace::new(Duration::from_secs(2));
        let waits: Vec<_> = (0..5).map(|_| pace.next(false)).collect();
        assert_eq!(
            waits,
            [250, 500, 1000, 2000, 2000].map(Duration::from_millis),
            "doubling, capped at the interval"
        );
        assert_eq!(pace.next(true), Duration::from_secs(2));
        assert_eq!(pace.next(false), Duration::from_millis(250));
    }

    #[test]
    fn the_report_has_the_seed_fields_and_ours() {
        let h = health();
        let report = serde_json::to_value(h.report()).unwrap();
        for field in [
            "status",
            "service",
            "instance",
            "version",
            "environment",
            "timestamp",
            "schema",
            "redis_namespace",
            "service_type",
            "entity_type",
            "uptime_seconds",
        ] {
            assert!(report.get(field).is_some(), "{field} missing");
        }
        assert_eq!(report["instance"], "exchange-OKX");
        assert_eq!(report["schema"], "exchange_okx");
        assert!(report["timestamp"].as_str().unwrap().ends_with('Z'));
    }
}
