//! The trading system engine: strategies trading on the exchanges through their production APIs, well-behaved and misbehaving (BRIEF §8).
//!
//! # Layout
//! So far the service is the instance host alone: every instance of it serves health, readiness,
//! metrics, the standard gRPC health and reflection services and `tse.runtime.v1.InstanceService`.
//! Its domain (`domain/`, pure), use cases (`app/`), APIs (`api/`) and adapters (`infra/`) come
//! with the issue that builds its behaviour.
//!
//! # Metrics the dashboards expect
//! The generated Grafana dashboards (`tse::deploy::grafana`) already read what this service is to
//! publish — `trading_strategies_running{strategy}`, `trading_orders_submitted_total{strategy,exchange}`,
//! `trading_orders_rejected_total{strategy,reason}`, `trading_pnl_usd{strategy}` — and mark those
//! panels as awaiting them until it does.

use tse_runtime::{host::ServiceDef, identity::ServiceKind};

/// Returns the definition the instance host runs.
pub fn service() -> ServiceDef {
    ServiceDef::host_only(ServiceKind::TradingSystemEngine)
}
