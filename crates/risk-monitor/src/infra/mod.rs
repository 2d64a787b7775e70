//! Adapters: storage ([`repo`]), the Prometheus adapter ([`metrics`]), the push to a real
//! Alertmanager ([`alertmanager`]), the panels and rules in the generated monitoring
//! ([`dashboards`]).

pub mod alertmanager;
pub mod dashboards;
pub mod metrics;
pub mod repo;
