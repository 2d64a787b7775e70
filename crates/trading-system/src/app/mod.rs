//! The desk's use cases: the task that owns the [`crate::domain::desk::Desk`], the feeds that
//! bring it events, the gateways that send its orders, and what the API asks of it.

pub mod handle;
pub mod views;
