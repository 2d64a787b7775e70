//! The risk monitor: production-like risk surveillance that reads only production APIs and raises alerts with evidence.
//!
//! Where it sits (a production service: it calls other instances only through `tse-client` without
//! the `chaos` feature, so it cannot reach a back door) and the invariants it keeps:
//! `ARCHITECTURE.md` at the repository root.
//!
//! # Layout
//! So far the service is the instance host alone: every instance of it serves health, readiness,
//! metrics, the standard gRPC health and reflection services and `tse.runtime.v1.InstanceService`.
//! Its domain (`domain/`, pure), use cases (`app/`), APIs (`api/`) and adapters (`infra/`) come
//! with the issue that builds its behaviour.
//! - [`dashboards`]: its panels and alert rules in the generated monitoring.
//!
//! # Metrics the dashboards and rules expect
//! Its panels and alert rules ([`dashboards`]) already read what this service is to publish —
//! `risk_alerts_active{severity,kind}` (the `TseRiskAlert` rule fires on it),
//! `risk_alerts_raised_total{severity,kind}`, `risk_exposure_usd{asset}`, `risk_pnl_usd`,
//! `risk_drawdown_ratio`, `risk_concentration_ratio{asset}`, `risk_stablecoin_deviation_ratio{symbol}`,
//! `risk_venue_up{venue}`, `risk_data_age_seconds{source}` — and mark those panels as awaiting them
//! until it does.

pub mod api;
pub mod app;
pub mod domain;
pub mod infra;

use tse_runtime::{
    host::{BuildFuture, Service, ServiceContext, ServiceParts, SettingsTable, no_settings},
    identity::ServiceKind,
    metrics::dashboards::{Panel, Rule},
};

/// The risk monitor, as the instance host runs it.
#[derive(Clone, Copy, Debug, Default)]
pub struct RiskMonitor;

/// Returns the risk monitor, as the instance host runs it.
pub fn service() -> RiskMonitor {
    RiskMonitor
}

impl Service for RiskMonitor {
    type Settings = ();

    fn kind(&self) -> ServiceKind {
        ServiceKind::RiskMonitor
    }

    fn settings(&self, settings: &SettingsTable) -> Result<(), String> {
        no_settings(settings)
    }

    fn build(&self, _ctx: ServiceContext, (): ()) -> BuildFuture {
        Box::pin(async { Ok(ServiceParts::new()) })
    }

    fn panels(&self) -> Vec<Panel> {
        infra::dashboards::panels()
    }

    fn rules(&self) -> Vec<Rule> {
        infra::dashboards::rules()
    }
}
