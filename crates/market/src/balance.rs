//! One account's holding of one asset.

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
    /// Returns available plus locked. It saturates rather than overflow: the ledgers keep every
    /// balance far below the limit, so it only could for state stored before they did.
    pub fn total(&self) -> Decimal {
        self.available.saturating_add(self.locked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_total_saturates_rather_than_overflow() {
        assert_eq!(
            Balance {
                available: Decimal::MAX,
                locked: Decimal::ONE
            }
            .total(),
            Decimal::MAX
        );
    }
}
