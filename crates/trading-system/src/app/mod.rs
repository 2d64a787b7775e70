//! The desk's use cases: the task that owns the [`crate::domain::desk::Desk`] ([`desk`]), the
//! reference price feed ([`feed`]), one task per exchange sending the desk's orders and bringing
//! its book tops and fills ([`venue`]), and what the API asks of the desk ([`handle`], [`views`]).

use std::time::Duration;

pub mod convert;
pub mod desk;
pub mod feed;
pub mod handle;
pub mod venue;
pub mod views;

/// Where the desk counts what it does (the Prometheus adapter implements it).
pub trait Metrics: Send + Sync {
    /// An order was sent.
    fn submitted(&self, strategy: &str, exchange: &str);
    /// An order was refused, by the desk's limits or an exchange.
    fn rejected(&self, strategy: &str, reason: &str);
    /// An order traded.
    fn filled(&self, strategy: &str, exchange: &str);
    /// A strategy started or stopped.
    fn set_running(&self, strategy: &str, running: bool);
    /// A strategy's P&L, USD.
    fn set_pnl(&self, strategy: &str, usd: f64);
    /// An order was acknowledged `latency` after the event it answers reached the desk.
    fn ack_latency(&self, exchange: &str, latency: Duration);
}
