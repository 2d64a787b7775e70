//! The monitor: folds observations into its view of the world, evaluates every rule on it, and
//! keeps one alert per rule kind and subject through `ACTIVE → ACKNOWLEDGED → RESOLVED`.
//!
//! Deterministic: the same observations and evaluation times give the same alerts, ids included.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{
    alert::{Alert, AlertChange},
    limits::Limits,
    observation::Observation,
    summary::Summary,
};

/// The equity marks of one entity the monitor keeps across restarts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EquityMark {
    /// The entity.
    pub entity: String,
    /// The first equity seen (P&L is measured from it), USD.
    pub first_usd: f64,
    /// The highest equity seen, USD.
    pub peak_usd: f64,
    /// Equity at the start of the current simulated day, USD.
    pub day_start_usd: f64,
    /// The simulated day (UTC date) `day_start_usd` belongs to.
    pub day: time::Date,
}

/// Why an alert cannot be acknowledged.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AckError {
    /// The monitor holds no open alert with that id (it is unknown, or resolved).
    #[error("no open alert {0}")]
    NotOpen(String),
}

/// The monitor.
#[derive(Debug)]
pub struct Monitor {
    entities: Vec<String>,
    limits: Limits,
}

impl Monitor {
    /// A monitor of `entities` (exchange and custodian accounts are found by entity) under `limits`
    /// (already validated).
    pub fn new(entities: Vec<String>, limits: Limits) -> Self {
        Self { entities, limits }
    }

    /// Takes back what was stored before a restart: the open alerts, the next alert number, the
    /// equity marks.
    pub fn restore(&mut self, open: Vec<Alert>, next_id: u64, marks: Vec<EquityMark>) {
        let _ = (open, next_id, marks);
        todo!("H-core")
    }

    /// Folds one observation into the view. Nothing is evaluated until [`Monitor::evaluate`].
    pub fn observe(&mut self, observation: Observation) {
        let _ = observation;
        todo!("H-core")
    }

    /// Evaluates every enabled rule at simulated time `now` (`wall` is recorded on raised alerts)
    /// and returns what changed, in a deterministic order.
    pub fn evaluate(&mut self, now: OffsetDateTime, wall: OffsetDateTime) -> Vec<AlertChange> {
        let _ = (now, wall);
        todo!("H-core")
    }

    /// Acknowledges an open alert (acknowledging an acknowledged one changes nothing and returns it
    /// again, as `AlertChange::Acknowledged`).
    ///
    /// # Errors
    /// [`AckError::NotOpen`] if no open alert has that id.
    pub fn acknowledge(&mut self, id: &str, now: OffsetDateTime) -> Result<AlertChange, AckError> {
        let _ = (id, now);
        todo!("H-core")
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Replaces the limits (already validated). Open alerts are re-evaluated against the new ones
    /// at the next [`Monitor::evaluate`].
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// The monitored entities.
    pub fn entities(&self) -> &[String] {
        &self.entities
    }

    /// The open alerts, oldest first.
    pub fn open_alerts(&self) -> Vec<Alert> {
        todo!("H-core")
    }

    /// The number the next alert gets (`alert-{n}`).
    pub fn next_id(&self) -> u64 {
        todo!("H-core")
    }

    /// The equity marks to store.
    pub fn marks(&self) -> Vec<EquityMark> {
        todo!("H-core")
    }

    /// The risk picture at simulated time `now`.
    pub fn summary(&self, now: OffsetDateTime) -> Summary {
        let _ = now;
        todo!("H-core")
    }
}
