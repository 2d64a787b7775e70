//! Black-box tests of the runtime: instances started on port 0, driven through HTTP and gRPC.

#![allow(unreachable_pub)]

mod cache;
mod degradation;
mod discovery;
mod hardening;
mod host;
mod probe;
mod shipper;
mod storage;
