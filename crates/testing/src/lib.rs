//! Test support shared by the tse crates (a dev-dependency only).
//!
//! Where it sits (test support only, never a dependency of production code) and the invariants it
//! keeps: `ARCHITECTURE.md` at the repository root.
//!
//! # Layout
//! - [`app`]: `spawn_app` and friends — an instance on OS-chosen ports in a fresh directory, with
//!   request helpers, `/metrics` readers, typed `tse-client` clients of its API and its back door
//!   (this crate turns on `tse-client`'s `chaos` feature: it is test support).
//! - [`servers`]: the real PostgreSQL and Redis named by `TSE_TEST_DATABASE_URL` and
//!   `TSE_TEST_REDIS_URL` (tests print that they are skipped without them), and guards that remove
//!   what a test created — schema, role, keys — when dropped, also when the test panics.
//! - [`proxy`]: a fault-injecting TCP proxy that cuts connections to a real server on demand.

pub mod app;
pub mod proxy;
pub mod servers;
