//! Adapters: storage and recovery ([`repo`]), the Prometheus side of the metrics port ([`metrics`]);
//! the custodian's panels and rules in the generated monitoring ([`dashboards`]).

pub mod dashboards;
pub mod metrics;
pub mod repo;
