//! The risk monitor: production-like risk surveillance that reads only production APIs and raises alerts with evidence (BRIEF §8).
//!
//! # Layout
//! So far the service is the instance host alone: every instance of it serves health, readiness,
//! metrics, the standard gRPC health and reflection services and `tse.runtime.v1.InstanceService`.
//! Its domain (`domain/`, pure), use cases (`app/`), APIs (`api/`) and adapters (`infra/`) come
//! with the issue that builds its behaviour.
//!
//! # Metrics the dashboards and rules expect
//! The generated Grafana dashboards and alert rules (`tse::deploy`) already read what this service is
//! to publish — `risk_alerts_active{severity,kind}` (the `TseRiskAlert` rule fires on it),
//! `risk_alerts_raised_total{severity,kind}`, `risk_exposure_usd{asset}`, `risk_pnl_usd`,
//! `risk_drawdown_ratio`, `risk_concentration_ratio{asset}`, `risk_stablecoin_deviation_ratio{symbol}`,
//! `risk_venue_up{venue}`, `risk_data_age_seconds{source}` — and mark those panels as awaiting them
//! until it does.

use tse_runtime::{host::ServiceDef, identity::ServiceKind};

/// Returns the definition the instance host runs.
pub fn service() -> ServiceDef {
    ServiceDef::host_only(ServiceKind::RiskMonitor)
}
