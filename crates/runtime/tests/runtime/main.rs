//! Black-box tests of the runtime: instances started on port 0, driven through HTTP and gRPC.

#![allow(unreachable_pub)]

mod helpers;
mod host;
