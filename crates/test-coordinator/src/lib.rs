//! The test coordinator: runs chaos scenarios written in YAML, validates detection SLAs and reports PASS/FAIL with timings.
//!
//! Where it sits (the one service that may enable `tse-client`'s `chaos` feature) and the
//! invariants it keeps: `ARCHITECTURE.md` at the repository root.
//!
//! # Layout
//! So far the service is the instance host alone: every instance of it serves health, readiness,
//! metrics, the standard gRPC health and reflection services and `tse.runtime.v1.InstanceService`.
//! Its domain (`domain/`, pure), use cases (`app/`), APIs (`api/`) and adapters (`infra/`) come
//! with the issue that builds its behaviour.

use tse_runtime::{
    host::{BuildFuture, Service, ServiceContext, ServiceParts, SettingsTable, no_settings},
    identity::ServiceKind,
};

/// The test coordinator, as the instance host runs it.
#[derive(Clone, Copy, Debug, Default)]
pub struct TestCoordinator;

/// Returns the test coordinator, as the instance host runs it.
pub fn service() -> TestCoordinator {
    TestCoordinator
}

impl Service for TestCoordinator {
    type Settings = ();

    fn kind(&self) -> ServiceKind {
        ServiceKind::TestCoordinator
    }

    fn settings(&self, settings: &SettingsTable) -> Result<(), String> {
        no_settings(settings)
    }

    fn build(&self, _ctx: ServiceContext, (): ()) -> BuildFuture {
        Box::pin(async { Ok(ServiceParts::new()) })
    }
}
