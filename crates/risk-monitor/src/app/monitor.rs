//! The monitor task: owns the [`Monitor`], folds in what the collectors observe, evaluates the
//! rules as data arrives and on a simulated-time tick, stores every alert change with its outbox
//! event in one batch, announces it (API stream, Alertmanager), answers the API, and keeps the
//! `risk_*` gauges current.

use std::{sync::Arc, time::Duration};

use tokio::sync::{broadcast, mpsc, watch};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use tse_runtime::{
    clock::{Clock, wall_now},
    events::{Event, Events},
    storage::{Storage, WriteBatch},
};

use super::handle::{AppError, Query};
use crate::{
    domain::{
        alert::{Alert, AlertChange, Status},
        monitor::{AckError, EquityMark, Monitor},
        observation::Observation,
        summary::Summary,
    },
    infra::repo,
};

/// Where the monitor's figures go (the Prometheus adapter in production).
pub trait Metrics: Send + Sync {
    /// An alert was raised.
    fn raised(&self, alert: &Alert);
    /// The open alerts and the risk picture now.
    fn publish(&self, open: &[Alert], summary: &Summary);
}

/// Most observations folded in before the rules are evaluated again.
const BATCH: usize = 1024;
/// How often the gauges and the equity marks are refreshed (wall time).
const REFRESH: Duration = Duration::from_secs(1);

/// What the monitor task needs.
pub struct MonitorParts {
    /// The core, restored from storage.
    pub monitor: Monitor,
    /// What the collectors observe.
    pub observations: mpsc::Receiver<Observation>,
    /// What the API asks.
    pub queries: mpsc::Receiver<Query>,
    /// Simulated time between two evaluations when no data arrives.
    pub evaluate_every: Duration,
    /// Wall floor between two timed evaluations.
    pub min_wall: Duration,
    /// Storage of alerts, marks and limits.
    pub storage: Storage,
    /// The outbox event factory.
    pub events: Events,
    /// Every alert change, for the API's stream and Alertmanager.
    pub changes: broadcast::Sender<AlertChange>,
    /// The open alerts, replaced after every change.
    pub open: watch::Sender<Vec<Alert>>,
    /// The ecosystem clock.
    pub clock: Clock,
    /// Gauges and counters.
    pub metrics: Arc<dyn Metrics>,
    /// Cancelled when the instance stops.
    pub stop: CancellationToken,
}

/// Runs the monitor until `stop` is cancelled.
pub async fn run(parts: MonitorParts) {
    let MonitorParts {
        monitor,
        mut observations,
        mut queries,
        evaluate_every,
        min_wall,
        storage,
        events,
        changes,
        open,
        clock,
        metrics,
        stop,
    } = parts;
    let mut task = Task {
        stored_marks: monitor.marks(),
        poll_every: evaluate_every,
        min_wall,
        monitor,
        storage,
        events,
        changes,
        open,
        clock,
        metrics,
    };
    task.announce_open();
    let mut refresh = tokio::time::interval(REFRESH);
    refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let tick = |clock: &Clock| clock.wall_duration(evaluate_every).max(min_wall);
    let mut next = tokio::time::Instant::now() + tick(&task.clock);
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            received = observations.recv() => {
                let Some(first) = received else { break };
                task.monitor.observe(first);
                for _ in 1..BATCH {
                    match observations.try_recv() {
                        Ok(more) => task.monitor.observe(more),
                        Err(_) => break,
                    }
                }
                task.evaluate().await;
            }
            Some(query) = queries.recv() => task.answer(query).await,
            () = tokio::time::sleep_until(next) => {
                task.evaluate().await;
                next = tokio::time::Instant::now() + tick(&task.clock);
            }
            _ = refresh.tick() => task.refresh().await,
        }
    }
    task.refresh().await;
}

struct Task {
    /// The equity marks as last stored.
    stored_marks: Vec<EquityMark>,
    poll_every: Duration,
    min_wall: Duration,
    monitor: Monitor,
    storage: Storage,
    events: Events,
    changes: broadcast::Sender<AlertChange>,
    open: watch::Sender<Vec<Alert>>,
    clock: Clock,
    metrics: Arc<dyn Metrics>,
}

impl Task {
    /// Evaluates the rules now and stores and announces what changed.
    async fn evaluate(&mut self) {
        // The collectors' cadence at the clock's current speed, in simulated time.
        let look = self.clock.wall_duration(self.poll_every).max(self.min_wall);
        let interval =
            time::Duration::try_from(self.clock.sim_duration(look)).unwrap_or(time::Duration::ZERO);
        self.monitor.set_poll_interval(interval);
        let changes = self.monitor.evaluate(self.clock.now(), wall_now());
        if !changes.is_empty() {
            self.apply(changes).await;
        }
    }

    /// Stores `changes` with their outbox events in one batch, then announces them.
    async fn apply(&mut self, changes: Vec<AlertChange>) {
        let alerts: Vec<Alert> = changes.iter().map(|c| c.alert().clone()).collect();
        let mut batch = WriteBatch::new();
        match repo::statements(&alerts, &self.monitor.marks(), self.monitor.next_id()) {
            Ok(statements) => statements.into_iter().for_each(|s| batch.push(s)),
            Err(e) => warn!(error = %e, "risk monitor: alert changes could not be prepared for storage"),
        }
        let outbox: Vec<Event> = changes
            .iter()
            .map(|c| {
                let alert = c.alert();
                let at = alert.resolved_at.unwrap_or(alert.updated_at);
                self.events.event_at(c.event_type(), at, alert)
            })
            .collect();
        match Event::insert_chunked(outbox) {
            Ok(statements) => statements.into_iter().for_each(|s| batch.push(s)),
            Err(e) => warn!(error = %e, "risk monitor: alert events could not be prepared for the outbox"),
        }
        if let Err(e) = self.storage.write(batch).await {
            warn!(error = %e, "risk monitor: alert changes could not be stored");
        }
        for change in changes {
            let alert = change.alert();
            match &change {
                AlertChange::Raised(_) => {
                    self.metrics.raised(alert);
                    info!(
                        alert = %alert.id, kind = alert.kind.as_str(), severity = alert.severity.as_str(),
                        subject = %alert.subject.key(), "risk alert raised: {}", alert.evidence.message
                    );
                }
                AlertChange::Escalated(_) => info!(
                    alert = %alert.id, severity = alert.severity.as_str(),
                    "risk alert escalated: {}", alert.evidence.message
                ),
                AlertChange::Resolved(_) => info!(alert = %alert.id, "risk alert resolved"),
                AlertChange::Acknowledged(_) => {}
            }
            // Nobody listening is fine: the stream and the pusher subscribe when they start.
            let _ = self.changes.send(change);
        }
        self.announce_open();
    }

    fn announce_open(&self) {
        self.open.send_replace(self.monitor.open_alerts());
    }

    /// Refreshes the gauges and stores the equity marks.
    async fn refresh(&mut self) {
        let summary = self.monitor.summary(self.clock.now());
        self.metrics.publish(&self.monitor.open_alerts(), &summary);
        // The marks are stored when they moved, not every second.
        let marks = self.monitor.marks();
        if marks == self.stored_marks {
            return;
        }
        match repo::statements(&[], &marks, self.monitor.next_id()) {
            Ok(statements) => match self.storage.write(statements).await {
                Ok(_) => self.stored_marks = marks,
                Err(e) => warn!(error = %e, "risk monitor: equity marks could not be stored"),
            },
            Err(e) => warn!(error = %e, "risk monitor: equity marks could not be prepared for storage"),
        }
    }

    async fn answer(&mut self, query: Query) {
        match query {
            Query::Summary(reply) => {
                let _ = reply.send(self.monitor.summary(self.clock.now()));
            }
            Query::Limits(reply) => {
                let _ = reply.send(self.monitor.limits().clone());
            }
            Query::SetLimits(limits, reply) => {
                let _ = reply.send(self.set_limits(*limits).await);
            }
            Query::Acknowledge(id, reply) => {
                let _ = reply.send(self.acknowledge(&id).await);
            }
        }
    }

    async fn set_limits(
        &mut self,
        limits: crate::domain::limits::Limits,
    ) -> Result<crate::domain::limits::Limits, AppError> {
        limits.validate().map_err(AppError::BadRequest)?;
        let statement = repo::limits_statement(&limits)
            .map_err(|e| AppError::Unavailable(format!("the limits could not be stored: {e}")))?;
        self.storage
            .write(statement)
            .await
            .map_err(|e| AppError::Unavailable(format!("the limits could not be stored: {e}")))?;
        info!("risk monitor: limits replaced through the API");
        self.monitor.set_limits(limits);
        self.evaluate().await;
        Ok(self.monitor.limits().clone())
    }

    async fn acknowledge(&mut self, id: &str) -> Result<Alert, AppError> {
        match self.monitor.acknowledge(id, self.clock.now()) {
            Ok(change) => {
                let alert = change.alert().clone();
                let unchanged = self
                    .open
                    .borrow()
                    .iter()
                    .any(|a| a.id == alert.id && a.status == Status::Acknowledged);
                if !unchanged {
                    self.apply(vec![change]).await;
                }
                Ok(alert)
            }
            Err(AckError::NotOpen(_)) => match repo::get_alert(&self.storage, id).await {
                Ok(Some(alert)) => Err(AppError::Conflict(format!(
                    "alert {id} is {} and can no longer be acknowledged",
                    alert.status.as_str()
                ))),
                Ok(None) => Err(AppError::NotFound(format!("no alert {id}"))),
                Err(e) => Err(AppError::Unavailable(format!(
                    "the alert store is unavailable: {e}"
                ))),
            },
        }
    }
}
