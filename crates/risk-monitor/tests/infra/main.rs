//! The risk monitor's adapters against the real things: its store on embedded SQLite and on the
//! test PostgreSQL, and the push of its alerts to a real Prometheus Alertmanager.

mod alertmanager;
mod repo;
mod support;
