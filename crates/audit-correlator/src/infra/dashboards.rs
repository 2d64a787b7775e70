//! The audit correlator in the generated monitoring: its panels on *Audit* over the metrics of
//! [`super::metrics`] (the outbox's own panels there are the host's).

use tse_runtime::metrics::dashboards::{Dashboard, Panel, quantile, rate};

/// The audit correlator's panels: what it stores, drops as duplicate, and how late.
pub fn panels() -> Vec<Panel> {
    let audit = Dashboard::Audit;
    let lag = "audit_ingest_lag_seconds";
    vec![
        Panel::new(
            audit,
            "Events stored/s by source service",
            "ops",
            "Domain events stored by the audit correlator, by the service that emitted them.",
            rate("audit_events_ingested_total", ", source_service", "1m"),
        ),
        Panel::new(
            audit,
            "Events stored/s by type",
            "ops",
            "Domain events stored by the audit correlator, by event type.",
            rate("audit_events_ingested_total", ", type", "1m"),
        ),
        Panel::new(
            audit,
            "Ingest lag p50 / p99",
            "s",
            "Wall time from an event being recorded in its instance's outbox to its being stored by the correlator.",
            quantile("0.5", lag, "", "5m"),
        )
        .and(quantile("0.99", lag, "", "5m")),
        Panel::new(
            audit,
            "Duplicates dropped/s",
            "ops",
            "Events delivered again (at-least-once delivery) and dropped by event id.",
            rate("audit_duplicates_dropped_total", "", "5m"),
        ),
    ]
}
