//! Adapters: storage of the exchange's state and the Prometheus metrics.

pub mod metrics;
pub mod repo;
