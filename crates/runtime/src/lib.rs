//! The runtime every tse service runs in: the instance host (ARCHITECTURE.md).
//!
//! A service crate adds only its domain, its API and its back doors; everything else an instance
//! needs lives here once: who it is, how it is configured, where it stores and caches, how others find
//! it, how it serves HTTP and gRPC, how it reports health and metrics, where it logs, and how it stops.
//!
//! # Layout
//! - [`backoff`]: exponential backoff for retry loops (10 ms doubling to 1 s by default).
//! - [`identity`]: service kinds, instance names, derived PostgreSQL schema and Redis namespace.
//! - [`config`]: environment variables, flags and the topology file, validated before any port is bound;
//!   secrets masked wherever shown.
//! - [`host`]: starts an instance on bound listeners, in the brief's order, and drains it on shutdown;
//!   the [`host::Service`] / [`host::ServiceContext`] / [`host::ServiceParts`] contract with services.
//! - [`storage`]: PostgreSQL schema or SQLite file per instance, SQL written once for both, migrations,
//!   and the durable spool that keeps writes while the database is away.
//! - [`cache`]: Redis or embedded key-value store, confined to the instance's namespace.
//! - [`discovery`]: registration, heartbeat, lookups; embedded or Redis registry; the shared clock spec.
//! - `redis_conn`: how the cache and the registry connect to Redis, and which errors mean it is away.
//! - [`peers`]: finding another instance by service kind and name (healthy enough, same environment),
//!   with a cached gRPC channel per instance.
//! - [`clock`]: the ecosystem's simulated clock.
//! - [`events`]: domain events written to each instance's outbox for the audit correlator.
//! - [`shipper`]: delivers each instance's outbox to the audit correlator found through discovery.
//! - [`faults`]: the `/chaos/v1/faults` back door, generic over each service's fault kinds.
//! - [`health`]: lifecycle phase and dependency checks; the single source of health, readiness and the
//!   gRPC health service.
//! - [`metrics`]: one Prometheus registry per instance; HTTP and gRPC RED metrics with bounded labels,
//!   `tse_instance_info`, process metrics.
//! - [`api`]: the error type every API answers with, over HTTP and gRPC.
//! - [`money`]: the bound on amounts and their exact decimal text, shared by every API that takes
//!   money (balances are `tse-market`'s).
//! - [`openapi`]: the OpenAPI document each instance publishes, from the host's, the back door's and
//!   the service's parts.
//! - [`telemetry`]: stdout logs, and JSON log files per instance even when many share a process.

pub mod api;
pub mod backoff;
pub mod cache;
pub mod clock;
pub mod config;
pub mod discovery;
pub mod events;
pub mod faults;
pub mod health;
pub mod host;
pub mod identity;
pub mod metrics;
pub mod money;
pub mod openapi;
pub mod peers;
mod redis_conn;
pub mod shipper;
pub mod storage;
pub mod telemetry;
