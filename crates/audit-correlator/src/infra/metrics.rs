//! Prometheus metrics of the audit correlator: `audit_events_ingested_total{source_service,type}`,
//! `audit_duplicates_dropped_total`, `audit_ingest_lag_seconds` (wall time from an event being
//! recorded in its instance's outbox to its being stored here).
//!
//! Ingestion admits only the event types each service emits ([`emitted_by`]), so the labels of
//! `audit_events_ingested_total` are a bounded set: every combination is exported from the start, at
//! 0, so rates and alerts work before the first event of a kind.

use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, Opts, Registry};
use tse_runtime::{events::emitted_by, identity::ServiceKind};

/// The correlator's metrics.
pub struct Metrics {
    /// Events stored, by emitting service and type.
    pub ingested: IntCounterVec,
    /// Events received again and dropped.
    pub duplicates: IntCounter,
    /// Outbox-to-store lag.
    pub lag: Histogram,
}

impl Metrics {
    /// Registers the metrics.
    ///
    /// # Errors
    /// A Prometheus error if a name is taken.
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let ingested = IntCounterVec::new(
            Opts::new(
                "audit_events_ingested_total",
                "Events stored in the audit store (each once), by emitting service and event type.",
            ),
            &["source_service", "type"],
        )?;
        let duplicates = IntCounter::new(
            "audit_duplicates_dropped_total",
            "Events received again (at-least-once delivery) and dropped.",
        )?;
        let lag = Histogram::with_opts(
            HistogramOpts::new(
                "audit_ingest_lag_seconds",
                "Wall time from an event being recorded at its instance to its being stored here.",
            )
            .buckets(vec![
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
            ]),
        )?;
        for service in ServiceKind::ALL {
            for event_type in emitted_by(service) {
                ingested.with_label_values(&[service.name(), event_type]);
            }
        }
        registry.register(Box::new(ingested.clone()))?;
        registry.register(Box::new(duplicates.clone()))?;
        registry.register(Box::new(lag.clone()))?;
        Ok(Self {
            ingested,
            duplicates,
            lag,
        })
    }
}
