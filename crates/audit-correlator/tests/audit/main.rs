//! Black-box tests of the audit correlator: ingestion (idempotent by event id) and queries over
//! HTTP, on SQLite and on the real PostgreSQL; the whole pipeline from an exchange fill and a fault
//! injection, shipped by the instances, to the correlated story.

#![allow(unreachable_pub)]

mod admission;
mod grpc;
mod ingest;
mod pipeline;
mod support;
