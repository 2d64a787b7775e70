//! The port through which the custodian reports its business metrics (the second seed's clean
//! architecture): the domain and use cases call it, an adapter (`infra::metrics`, Prometheus) or a
//! test double implements it.

use rust_decimal::Decimal;

/// Business metrics of a custodian.
pub trait MetricsPort: Send + Sync {
    /// A settled trade moved a position (`custodian_positions_total{account,symbol}`).
    fn record_position_change(&self, account: &str, symbol: &str);
    /// A settlement was accepted (`pending`) or ended (`completed`, `failed`, `cancelled`)
    /// (`custodian_settlements_total{status,type}`); `status` is lower case, `kind` a
    /// settlement type (`trade`, `net`, `exchange_pnl`).
    fn record_settlement(&self, status: &str, kind: &str);
    /// A balance changed by `amount` (`custodian_balance_changes_total{account,currency}`).
    fn record_balance_change(&self, account: &str, currency: &str, amount: Decimal);
    /// A settlement completed `seconds` of simulated time after it was accepted
    /// (`custodian_settlement_duration_seconds{type}`).
    fn record_settlement_duration(&self, kind: &str, seconds: f64);
    /// Settlements pending now (`custodian_settlements_pending`).
    fn set_pending(&self, pending: usize);
    /// An account's balance of `currency` (available plus locked) is now `total`
    /// (`custodian_balance{account,currency}`).
    fn set_balance(&self, account: &str, currency: &str, total: Decimal);
}
