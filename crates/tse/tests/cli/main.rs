//! The `tse` binary driven as a user would: real processes, real signals, real ports.

#![allow(unreachable_pub)]

mod compose;
mod deploy;
mod exchange;
mod names;
mod process;
mod prometheus;
mod scale;
mod schemathesis;
mod serve;
mod up;
