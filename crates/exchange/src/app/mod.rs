//! Use cases: the engine that owns the venue and commits in groups, the liquidity provider, the
//! views the APIs answer with, the fault snapshot, and the port business metrics go through.

pub mod engine;
pub mod faults;
pub mod liquidity;
pub mod views;

use rust_decimal::Decimal;

/// Business metrics of the exchange, implemented by a Prometheus adapter in `infra`.
pub trait ExchangeMetrics: Send + Sync + 'static {
    /// An order was acknowledged with `status` (`NEW`, `FILLED`, `REJECTED`, ...).
    fn order(&self, symbol: &str, side: &str, order_type: &str, status: &str);
    /// A trade executed on `symbol`.
    fn trade(&self, symbol: &str);
    /// A write request (place, amend, cancel) was acknowledged `seconds` after it arrived.
    fn ack_latency(&self, seconds: f64);
    /// The resting quantity on one side (`bid` or `ask`) of `symbol`'s book is now `quantity`.
    fn depth(&self, symbol: &str, side: &str, quantity: Decimal);
}
