//! Money values the services' cores share.

use rust_decimal::Decimal;
use serde::Serialize;

/// One account's holding of one asset: what is free, and what is committed (to open orders on an
/// exchange, to pending settlements at a custodian).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Balance {
    /// Free to use.
    pub available: Decimal,
    /// Committed, not free.
    pub locked: Decimal,
}

impl Balance {
    /// Returns available plus locked.
    pub fn total(&self) -> Decimal {
        self.available + self.locked
    }
}
