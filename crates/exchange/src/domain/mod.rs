//! The pure core of the exchange: instruments, the ledger, orders, the venue that drives one
//! matching book per instrument, and the fault kinds. No I/O, no clock.

pub mod faults;
pub mod instrument;
pub mod ledger;
pub mod liquidity;
pub mod order;
pub mod venue;

#[cfg(test)]
mod properties;
