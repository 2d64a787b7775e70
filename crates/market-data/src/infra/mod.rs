//! Adapters: storage of ticks, candles and state; the Prometheus metrics adapter.

pub mod metrics;
pub mod repo;
