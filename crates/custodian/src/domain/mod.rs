//! The custodian's pure core: no I/O, no clock of its own, deterministic.
//!
//! - [`custody`]: accounts, balances (available / locked), positions, deposits, withdrawals,
//!   transfers, settlement instructions and their lifecycle, reconciliation.
//! - [`settlement`]: cycles (T+0, T+1, T+2), statuses, what an instruction moves.
//! - [`faults`]: the back door's kinds (delay, reject transfers, offline, partial settlement).
//! - [`metrics`]: the metrics port the use cases report through.
//! - [`position`]: quantity and average cost per account and symbol, with realised profit.

pub mod custody;
pub mod faults;
pub mod metrics;
pub mod position;
pub mod settlement;

#[cfg(test)]
mod properties;
