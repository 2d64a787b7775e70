//! The risk monitor: production-like risk surveillance that reads only production APIs and raises alerts with evidence (BRIEF §8).
//!
//! # Layout
//! So far the service is the instance host alone: every instance of it serves health, readiness,
//! metrics, the standard gRPC health and reflection services and `tse.runtime.v1.InstanceService`.
//! Its domain (`domain/`, pure), use cases (`app/`), APIs (`api/`) and adapters (`infra/`) come
//! with the issue that builds its behaviour.

use tse_runtime::{host::ServiceDef, identity::ServiceKind};

/// Returns the definition the instance host runs.
pub fn service() -> ServiceDef {
    ServiceDef::host_only(ServiceKind::RiskMonitor)
}
