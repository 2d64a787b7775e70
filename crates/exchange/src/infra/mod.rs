//! Adapters: storage of the exchange's state, the Prometheus metrics, and the exchange's panels
//! and rules in the generated monitoring.

pub mod dashboards;
pub mod metrics;
pub mod repo;
