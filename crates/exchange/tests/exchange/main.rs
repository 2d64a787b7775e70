//! Black-box tests of the exchange simulator: instances on OS-chosen ports, driven through their
//! production API (HTTP, SSE, gRPC) and their back door.

#![allow(unreachable_pub)]

mod api;
mod chaos;
mod grpc;
mod liquidity;
mod persistence;
mod support;
