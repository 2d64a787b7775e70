//! Black-box tests of the market data simulator: instances on OS-chosen ports, driven through their
//! production API (HTTP, SSE, gRPC) and their back door.

#![allow(unreachable_pub)]

mod api;
mod chaos;
mod persistence;
mod support;
