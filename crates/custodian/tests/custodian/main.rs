//! Black-box tests of the custodian simulator: instances on OS-chosen ports, driven through their
//! production HTTP API and their back door; with exchanges for P&L settlement; on SQLite and on the
//! real PostgreSQL and Redis.

#![allow(unreachable_pub)]

mod api;
mod chaos;
mod persistence;
mod pnl;
mod support;
