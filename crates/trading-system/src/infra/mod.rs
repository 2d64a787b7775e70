//! Adapters: the Prometheus side of the desk's metrics ([`metrics`]) and the desk's panels in the
//! generated monitoring ([`dashboards`]); storage of the desk ([`repo`]).

pub mod dashboards;
pub mod metrics;

pub mod repo;
