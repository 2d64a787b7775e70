//! The custodian simulator: custody accounts, balances, positions, deposits, withdrawals and settlement cycles (BRIEF §8).
//!
//! # Layout
//! - [`domain`]: the pure core — accounts, balances, positions, settlement instructions on their
//!   cycles, reconciliation — with property tests of its invariants.
//!
//! The service itself is still the instance host alone (health, readiness, metrics, gRPC health and
//! reflection); its use cases (`app/`), APIs (`api/`) and adapters (`infra/`) come next.

pub mod domain;

use tse_runtime::{host::ServiceDef, identity::ServiceKind};

/// Returns the definition the instance host runs.
pub fn service() -> ServiceDef {
    ServiceDef::host_only(ServiceKind::CustodianSimulator)
}
