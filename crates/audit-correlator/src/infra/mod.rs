//! Adapters: the audit store ([`repo`]), the Prometheus metrics ([`metrics`]), and the correlator's
//! panels in the generated monitoring ([`dashboards`]).

pub mod dashboards;
pub mod metrics;
pub mod repo;
