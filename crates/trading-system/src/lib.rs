//! The trading system engine: strategies trading on the exchanges through their production APIs, well-behaved and misbehaving.
//!
//! Where it sits (a service crate; it trades only through the exchanges' production APIs (`tse-
//! client`)) and the invariants it keeps: `ARCHITECTURE.md` at the repository root.
//!
//! # Layout
//! So far the service is the instance host alone: every instance of it serves health, readiness,
//! metrics, the standard gRPC health and reflection services and `tse.runtime.v1.InstanceService`.
//! Its domain (`domain/`, pure), use cases (`app/`), APIs (`api/`) and adapters (`infra/`) come
//! with the issue that builds its behaviour.
//! - [`dashboards`]: its panels in the generated monitoring.
//!
//! # Metrics the dashboards expect
//! Its panels on the generated Grafana dashboards ([`dashboards`]) already read what this service
//! is to publish — `trading_strategies_running{strategy}`,
//! `trading_orders_submitted_total{strategy,exchange}`, `trading_orders_rejected_total{strategy,reason}`,
//! `trading_pnl_usd{strategy}` — and mark those panels as awaiting them until it does.

pub mod api;
pub mod app;
pub mod dashboards;
pub mod domain;

use tse_runtime::{
    host::{BuildFuture, Service, ServiceContext, ServiceParts, SettingsTable, no_settings},
    identity::ServiceKind,
    metrics::dashboards::Panel,
};

/// The trading system engine, as the instance host runs it.
#[derive(Clone, Copy, Debug, Default)]
pub struct TradingSystem;

/// Returns the trading system engine, as the instance host runs it.
pub fn service() -> TradingSystem {
    TradingSystem
}

impl Service for TradingSystem {
    type Settings = ();

    fn kind(&self) -> ServiceKind {
        ServiceKind::TradingSystemEngine
    }

    fn settings(&self, settings: &SettingsTable) -> Result<(), String> {
        no_settings(settings)
    }

    fn build(&self, _ctx: ServiceContext, (): ()) -> BuildFuture {
        Box::pin(async { Ok(ServiceParts::new()) })
    }

    fn panels(&self) -> Vec<Panel> {
        dashboards::panels()
    }
}
