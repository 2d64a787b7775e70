//! Black-box tests of the audit correlator: ingestion (idempotent by event id) and queries over
//! HTTP, on SQLite and on the real PostgreSQL.

#![allow(unreachable_pub)]

mod ingest;
