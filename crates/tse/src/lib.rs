//! The `tse` command: one binary for every service of the Trading Simulation Ecosystem.
//!
//! - `tse up`: a whole ecosystem in one process (the default one, or a topology file).
//! - `tse serve SERVICE`: one instance per process, configured by environment variables and flags:
//!   what a container runs.
//! - `tse names SERVICE [INSTANCE]`: the identity an instance would have.
//! - `tse status`: the registry's instances and their health.
//! - `tse deploy compose`: a Docker Compose project generated from a topology.
//!
//! Exit codes: 0 success, 2 invalid input (flags, environment, topology, names) with a one-line reason
//! on stderr, 1 a runtime failure (a port in use, a service that cannot start, a panic).
//!
//! Where it sits (the top: the only crate that depends on service crates, and only through
//! `catalog`) and the invariants it keeps: `ARCHITECTURE.md` at the repository root.
//!
//! # Layout
//! - [`cli`]: the command line and its help texts; it parses and dispatches.
//! - `commands`: what each command does, one file per command (`up`, `serve`, `names`, `deploy`).
//! - [`catalog`]: which crate implements which service kind, one line each.
//! - [`ecosystem`]: many instances in one process, started and stopped together.
//! - [`status`]: `tse status`.
//! - [`deploy`]: generated deployments (Compose, Kubernetes, Prometheus, Grafana provisioning).
//! - `failure`: how a command fails, and its exit code.
//! - `secrets`: private files, the admin token, random secrets.
//! - `signal`: SIGINT and SIGTERM.
//! - `panics`: a panic logged as an error, and exit 1.

pub mod catalog;
pub mod cli;
mod commands;
pub mod deploy;
pub mod ecosystem;
mod failure;
mod panics;
mod secrets;
mod signal;
pub mod status;
mod table;

pub use cli::main;
