//! The exchange simulator: order books with price-time matching, accounts, fees, trades and a built-in liquidity provider (BRIEF §8).
//!
//! # Layout
//! So far the service is the instance host alone: every instance of it serves health, readiness,
//! metrics, the standard gRPC health and reflection services and `tse.runtime.v1.InstanceService`.
//! Its domain (`domain/`, pure), use cases (`app/`), APIs (`api/`) and adapters (`infra/`) come
//! with the issue that builds its behaviour.

pub mod domain;

use tse_runtime::{host::ServiceDef, identity::ServiceKind};

/// Returns the definition the instance host runs.
pub fn service() -> ServiceDef {
    ServiceDef::host_only(ServiceKind::ExchangeSimulator)
}
