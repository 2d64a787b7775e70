//! The trading system against real instances: market data and two exchanges found through
//! discovery, trading through their production APIs.

#![allow(unreachable_pub)]

mod chaos;
mod desk;
mod persistence;
mod support;
