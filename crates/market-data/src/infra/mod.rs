//! Adapters: storage of ticks, candles and state; the Prometheus metrics adapter; the feed's panels
//! and rules in the generated monitoring ([`dashboards`]).

pub mod dashboards;
pub mod metrics;
pub mod repo;
