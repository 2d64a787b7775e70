//! Adapters: storage and recovery ([`repo`]), the Prometheus side of the metrics port ([`metrics`]).

pub mod metrics;
pub mod repo;
