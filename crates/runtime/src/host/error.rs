//! Why an instance could not start or stopped abnormally.

use std::{io, net::SocketAddr};

use super::BoxError;
use crate::{cache::CacheError, storage::StorageError};

/// Why an instance could not start or stopped abnormally.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// A port cannot be bound.
    #[error("{instance} cannot listen for {protocol} on {addr}: {source}")]
    Bind {
        /// Instance name.
        instance: String,
        /// `HTTP` or `gRPC`.
        protocol: &'static str,
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: io::Error,
    },
    /// The instance's directories cannot be created.
    #[error("{instance} cannot create {dir}: {source}")]
    Directory {
        /// Instance name.
        instance: String,
        /// The directory.
        dir: String,
        /// Why.
        source: io::Error,
    },
    /// The metrics registry refused a metric.
    #[error("{instance} metrics: {source}")]
    Metrics {
        /// Instance name.
        instance: String,
        /// Why.
        source: prometheus::Error,
    },
    /// Storage cannot be opened (bad URL, unwritable data directory, failed SQLite migration).
    #[error("{instance} storage: {source}")]
    Storage {
        /// Instance name.
        instance: String,
        /// Why.
        source: StorageError,
    },
    /// Another live instance holds this instance's name, schema or namespace.
    #[error("{instance} refused to start: {reason}")]
    Conflict {
        /// Instance name.
        instance: String,
        /// What is held, and by whom.
        reason: String,
    },
    /// The cache cannot be set up.
    #[error("{instance} cache: {source}")]
    Cache {
        /// Instance name.
        instance: String,
        /// Why.
        source: CacheError,
    },
    /// The service failed to build.
    #[error("{instance} service failed to start: {source}")]
    Service {
        /// Instance name.
        instance: String,
        /// Why.
        source: BoxError,
    },
    /// A task the instance needs failed (panicked), so the instance stopped.
    #[error("{instance} stopped: {reason}")]
    Task {
        /// Instance name.
        instance: String,
        /// What failed.
        reason: String,
    },
    /// A server stopped with an error.
    #[error("{instance} {protocol} server failed: {reason}")]
    Serve {
        /// Instance name.
        instance: String,
        /// `HTTP` or `gRPC`.
        protocol: &'static str,
        /// Why.
        reason: String,
    },
}
