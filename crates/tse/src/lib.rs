//! The `tse` command: one binary for every service of the Trading Simulation Ecosystem.
//!
//! - `tse up`: a whole ecosystem in one process (the default one of BRIEF §2, or a topology file).
//! - `tse serve SERVICE`: one instance per process, configured by environment variables and flags:
//!   what a container runs.
//! - `tse names SERVICE [INSTANCE]`: the identity an instance would have.
//! - `tse status`: the registry's instances and their health.
//! - `tse deploy compose`: a Docker Compose project generated from a topology.
//!
//! Exit codes: 0 success, 2 invalid input (flags, environment, topology, names) with a one-line reason
//! on stderr, 1 a runtime failure (a port in use, a service that cannot start, a panic).
//!
//! # Layout
//! - [`cli`]: the command line, its help texts, and what each command does.
//! - [`catalog`]: which crate implements which service kind.
//! - [`ecosystem`]: many instances in one process, started and stopped together.
//! - [`status`]: `tse status`.
//! - `panics`: a panic logged as an error, and exit 1.
//! - [`deploy`]: generated deployments (Compose, Prometheus, Grafana provisioning).

pub mod catalog;
pub mod cli;
pub mod deploy;
pub mod ecosystem;
mod panics;
pub mod status;
mod table;

pub use cli::main;
