//! Adapters: the audit store ([`repo`]) and the Prometheus metrics ([`metrics`]).

pub mod metrics;
pub mod repo;
