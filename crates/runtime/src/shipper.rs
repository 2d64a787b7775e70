//! Ships an instance's outbox to the audit correlator (README, *Audit correlator*): every domain event the instance
//! wrote to `_tse_outbox` is delivered, batched, at least once and in the order it was written, to
//! the audit correlator found through discovery, then deleted, so the outbox holds only what is not
//! delivered yet.
//!
//! The correlator is looked up with [`Peers`] like every other peer (the first healthy-enough one of
//! the environment, by name), but reached over HTTP: the runtime cannot use `tse-client`'s typed
//! clients, which are built on the runtime, and ingestion is an HTTP route.
//!
//! One shipper runs in every instance, the correlator's own included. A round reads the oldest
//! [`BATCH`] events, posts them to `{correlator}/api/v1/audit/events` and deletes exactly those rows
//! once the correlator answered 2xx; ingestion is idempotent by event id, so a batch sent again after
//! a lost answer or a failed delete costs nothing. While there is no correlator in the environment,
//! it fails, or the database is away, events stay where they are and the shipper backs off
//! ([`Backoff`], 100 ms doubling to 5 s). `audit_outbox_pending` and `audit_outbox_shipped_total` show how it goes.
//!
//! Each batch carries the ecosystem's ingest token as `Authorization: Bearer <token>`
//! ([`crate::config::CommonConfig::ingest_secret`]); a correlator that refuses it (401: another
//! ecosystem's token, or none) is retried like one that fails, so the events wait.

use std::{
    mem::{Discriminant, discriminant},
    time::Duration,
};

use prometheus::{IntCounter, IntGauge};
use serde::Serialize;
use serde_json::value::RawValue;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};
use uuid::Uuid;

use crate::{
    backoff::Backoff,
    config::Secret,
    discovery::Registration,
    events::Event,
    identity::{InstanceName, ServiceKind},
    peers::{PeerError, Peers},
    storage::{Row, Statement, Storage, StorageError},
};

/// Events shipped per request, at most.
pub const BATCH: usize = 500;
/// The audit correlator's ingestion route.
pub const INGEST_PATH: &str = "/api/v1/audit/events";
/// How often an empty outbox is looked at again.
const IDLE: Duration = Duration::from_millis(100);
/// First wait after a failed round; it doubles up to [`MAX_RETRY`].
const FIRST_RETRY: Duration = Duration::from_millis(100);
const MAX_RETRY: Duration = Duration::from_secs(5);
/// How long one delivery may take before it counts as failed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

const SELECT: &str = "SELECT seq, id, sim_time, wall_time, service, instance, event_type, trace_id, \
     causation_id, scenario_run_id, CAST(payload AS TEXT) AS payload \
     FROM _tse_outbox ORDER BY seq LIMIT $1";
const COUNT: &str = "SELECT COUNT(*) AS n FROM _tse_outbox";

/// The shipper's metrics, registered in the instance's registry.
#[derive(Clone)]
pub struct ShipperMetrics {
    pending: IntGauge,
    shipped: IntCounter,
}

impl ShipperMetrics {
    /// Registers `audit_outbox_pending` and `audit_outbox_shipped_total` in `registry`.
    ///
    /// # Errors
    /// Returns a Prometheus error when a metric of the same name is already registered.
    pub fn register(registry: &prometheus::Registry) -> Result<Self, prometheus::Error> {
        let pending = IntGauge::new(
            "audit_outbox_pending",
            "Events in this instance's outbox not yet delivered to the audit correlator.",
        )?;
        let shipped = IntCounter::new(
            "audit_outbox_shipped_total",
            "Events this instance delivered to the audit correlator (a batch sent again counts again).",
        )?;
        registry.register(Box::new(pending.clone()))?;
        registry.register(Box::new(shipped.clone()))?;
        Ok(Self { pending, shipped })
    }
}

/// Why a round shipped nothing.
#[derive(Debug, thiserror::Error)]
enum ShipError {
    #[error("outbox: {0}")]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Peer(#[from] PeerError),
    #[error("audit correlator {instance} did not take the batch: {reason}")]
    Delivery { instance: InstanceName, reason: String },
}

impl ShipError {
    /// The kind of trouble, so a retry of the same trouble logs one line, not one per attempt.
    fn kind(&self) -> (Discriminant<ShipError>, Option<Discriminant<PeerError>>) {
        let peer = match self {
            ShipError::Peer(error) => Some(discriminant(error)),
            _ => None,
        };
        (discriminant(self), peer)
    }
}

/// What a round did.
enum Round {
    /// The outbox was empty.
    Idle,
    /// This many events were delivered and deleted.
    Shipped(usize),
    /// The instance is stopping.
    Stopped,
}

/// The request body of the correlator's ingestion route.
#[derive(Serialize)]
struct Batch<'a> {
    events: &'a [Event],
}

/// Delivers one instance's outbox to the audit correlator.
pub struct Shipper {
    storage: Storage,
    peers: Peers,
    metrics: ShipperMetrics,
    client: reqwest::Client,
    /// The ingest token the correlator requires; `None`: sent without one (and refused).
    token: Option<Secret>,
    /// The correlator the last batch went to; looked up again after a failure.
    target: Option<Registration>,
    /// When the outbox was last counted: while a backlog drains it is counted at most every
    /// [`COUNT_EVERY`] (a count reads the whole backlog), when it is caught up after every round.
    counted: Option<std::time::Instant>,
}

/// How often a draining backlog is counted into `audit_outbox_pending`.
const COUNT_EVERY: Duration = Duration::from_millis(500);

impl Shipper {
    /// Creates the shipper of the instance whose outbox is in `storage`, finding the correlator of
    /// `environment` in `registry` and presenting `token` to it.
    pub fn new(storage: Storage, peers: Peers, token: Option<Secret>, metrics: ShipperMetrics) -> Self {
        // Instances reach each other directly: no proxy from the environment.
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .expect("a plain HTTP client always builds");
        Self {
            storage,
            peers,
            metrics,
            client,
            token,
            target: None,
            counted: None,
        }
    }

    /// Ships until `stop` is cancelled. What is not delivered by then stays in the outbox for the
    /// next start.
    pub async fn run(mut self, stop: CancellationToken) {
        let mut retry = Backoff::new(FIRST_RETRY, MAX_RETRY);
        let mut failing = None;
        loop {
            let wait = match self.round(&stop).await {
                Ok(Round::Stopped) => return,
                Ok(round) => {
                    if failing.take().is_some() {
                        info!("shipping audit events again");
                    }
                    retry.reset();
                    // A full batch: more are likely waiting.
                    match round {
                        Round::Shipped(n) if n == BATCH => Duration::ZERO,
                        _ => IDLE,
                    }
                }
                Err(error) => {
                    self.target = None;
                    self.update_pending().await;
                    // One line per kind of trouble, not one per retry.
                    let kind = error.kind();
                    let pending = self.metrics.pending.get();
                    if failing.replace(kind) == Some(kind) {
                        debug!(%error, pending, "audit events still not shipped");
                    } else if matches!(error, ShipError::Peer(PeerError::NoInstance { .. })) {
                        info!(%error, pending, "audit events wait in the outbox");
                    } else {
                        warn!(%error, pending, "audit events not shipped; retrying with backoff");
                    }
                    retry.next_wait()
                }
            };
            if stop.is_cancelled() {
                return;
            }
            if !wait.is_zero() {
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(wait) => {}
                }
            }
        }
    }

    /// Ships the oldest batch of the outbox, if any.
    async fn round(&mut self, stop: &CancellationToken) -> Result<Round, ShipError> {
        let rows = self
            .storage
            .query(Statement::new(SELECT).bind(BATCH as i64))
            .await?;
        if rows.is_empty() {
            self.metrics.pending.set(0);
            return Ok(Round::Idle);
        }
        let mut seqs = Vec::with_capacity(rows.len());
        let mut events = Vec::with_capacity(rows.len());
        for row in &rows {
            seqs.push(row.get::<i64>("seq")?);
            events.push(decode(row)?);
        }
        let target = match self.target.take() {
            Some(target) => target,
            None => self.correlator().await?,
        };
        let mut delivery = self
            .client
            .post(format!("{}{INGEST_PATH}", target.http_url()))
            .json(&Batch { events: &events });
        if let Some(token) = &self.token {
            delivery = delivery.bearer_auth(token.expose());
        }
        let delivery = delivery.send();
        let response = tokio::select! {
            () = stop.cancelled() => return Ok(Round::Stopped),
            response = delivery => response,
        };
        let failed = |reason: String| ShipError::Delivery {
            instance: target.instance.clone(),
            reason,
        };
        let response = response.map_err(|e| failed(e.to_string()))?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            return Err(failed(format!(
                "{status}: {}",
                body.chars().take(200).collect::<String>()
            )));
        }
        debug!(correlator = %target.instance, events = events.len(), "audit events shipped");
        self.metrics.shipped.inc_by(events.len() as u64);
        self.target = Some(target);
        self.storage.write(delete(&seqs)).await?;
        let backlog = events.len() == BATCH;
        if backlog {
            // Between counts, what was just shipped is taken off (never below zero).
            let left = self.metrics.pending.get() - events.len() as i64;
            self.metrics.pending.set(left.max(0));
        }
        if !backlog || self.counted.is_none_or(|at| at.elapsed() >= COUNT_EVERY) {
            self.update_pending().await;
        }
        Ok(Round::Shipped(events.len()))
    }

    /// Finds a live audit correlator of the environment (the first by name).
    async fn correlator(&self) -> Result<Registration, ShipError> {
        Ok(self.peers.find(ServiceKind::AuditCorrelator, None).await?)
    }

    /// Counts the outbox into `audit_outbox_pending`; keeps the last count while it cannot be read.
    async fn update_pending(&mut self) {
        if let Ok(Some(row)) = self.storage.query_one(Statement::new(COUNT)).await
            && let Ok(n) = row.get::<i64>("n")
        {
            self.metrics.pending.set(n);
            self.counted = Some(std::time::Instant::now());
        }
    }
}

/// Reads one outbox row back into its event.
fn decode(row: &Row) -> Result<Event, StorageError> {
    let uuid = |column: &str, text: &str| {
        Uuid::parse_str(text).map_err(|e| StorageError::Decode(format!("column {column}: {e}")))
    };
    let payload = RawValue::from_string(row.get::<String>("payload")?)
        .map_err(|e| StorageError::Decode(format!("column payload: {e}")))?;
    Ok(Event {
        id: uuid("id", &row.get::<String>("id")?)?,
        sim_time: row.get("sim_time")?,
        wall_time: row.get("wall_time")?,
        service: row.get("service")?,
        instance: row.get("instance")?,
        event_type: row.get("event_type")?,
        trace_id: row.get("trace_id")?,
        causation_id: row
            .get::<Option<String>>("causation_id")?
            .map(|c| uuid("causation_id", &c))
            .transpose()?,
        scenario_run_id: row.get("scenario_run_id")?,
        payload,
    })
}

/// Deletes exactly the shipped rows: an event committed meanwhile with a lower `seq` than the
/// batch's last stays.
fn delete(seqs: &[i64]) -> Statement {
    let placeholders: Vec<String> = (1..=seqs.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "DELETE FROM _tse_outbox WHERE seq IN ({})",
        placeholders.join(", ")
    );
    seqs.iter()
        .fold(Statement::new(sql), |statement, &seq| statement.bind(seq))
}
