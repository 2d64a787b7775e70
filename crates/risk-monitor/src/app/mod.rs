//! Use cases: the monitor task that owns the core ([`monitor`]), the collectors that feed it from
//! production APIs ([`collect`]), the API's handle ([`handle`]).

pub mod collect;
pub mod handle;
pub mod monitor;
