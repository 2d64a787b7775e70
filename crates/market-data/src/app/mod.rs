//! Use cases: the running feed, and the port its business metrics go through.

pub mod feed;

use rust_decimal::Decimal;

use crate::domain::symbol::Symbol;

/// Business metrics of the feed, implemented by a Prometheus adapter in `infra` (the seed's
/// `MetricsPort`).
pub trait MarketMetrics: Send + Sync + 'static {
    /// A price of `symbol` was published.
    fn published(&self, symbol: &Symbol, price: Decimal);
    /// A tick was published `seconds` (wall time) after its instant on the simulated clock.
    fn publish_latency(&self, seconds: f64);
}
