//! Use cases and the service that runs them.
//!
//! - [`books`]: every operation on the books, the settlement pass under the faults in force, the
//!   outbox events that describe them.
//! - [`service`]: the single writer — runs requests in order, stores each batch before answering,
//!   runs settlement passes on the simulated clock, reports metrics once stored.
//! - [`pnl`]: collects each client entity's trades from its exchanges and settles their net change.
//! - [`views`]: what the APIs answer with.

pub mod books;
pub mod pnl;
pub mod service;
pub mod views;
