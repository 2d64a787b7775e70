//! The trading system's pure core: no I/O, no clock of its own, deterministic for a given seed.
//!
//! - [`market`]: what the desk knows of the markets — reference prices, book tops per exchange,
//!   instruments (tick, lot, fees) — and the events that update it.
//! - [`order`]: what strategies ask for (intents), the orders the desk tracks, fills.
//! - [`position`]: position, average cost, realised and unrealised P&L in exact decimals.
//! - [`strategy`]: the [`strategy::Strategy`] state machine, its configuration, and every kind
//!   (market making, arbitrage, momentum, mean reversion, and the chaos ones).
//! - [`desk`]: the desk: strategies, their orders, fills and limits, driven by events.
//! - [`faults`]: the back door's kinds, named after the chaos strategies they start.

pub mod desk;
pub mod faults;
pub mod market;
pub mod order;
pub mod position;
pub mod strategy;

#[cfg(test)]
mod properties;
