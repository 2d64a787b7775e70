//! Storage of the monitor, written once for PostgreSQL and SQLite through the runtime's storage
//! layer: every alert ever raised (one row per alert, updated through its life), the equity marks,
//! the next alert number, and the limits set through the API.

use tse_runtime::storage::{Migration, Statement, Storage, StorageError};

use crate::domain::{
    alert::{Alert, AlertFilter},
    limits::Limits,
    monitor::EquityMark,
};

/// The risk monitor schema.
pub const MIGRATIONS: &[Migration] = &[];

/// What was stored before a restart.
#[derive(Clone, Debug, Default)]
pub struct Stored {
    /// Alerts not resolved, oldest first.
    pub open: Vec<Alert>,
    /// The number the next alert gets (1 when none was ever raised).
    pub next_id: u64,
    /// Equity marks per entity.
    pub marks: Vec<EquityMark>,
    /// Limits set through the API, if ever.
    pub limits: Option<Limits>,
}

/// The statements that store `alerts` (each inserted or updated by id), `marks` and `next_id`;
/// the caller writes them in one batch with the outbox events that describe the changes.
///
/// # Errors
/// [`StorageError::Invalid`] when a statement cannot be built.
pub fn statements(
    alerts: &[Alert],
    marks: &[EquityMark],
    next_id: u64,
) -> Result<Vec<Statement>, StorageError> {
    let _ = (alerts, marks, next_id);
    todo!("H-infra")
}

/// The statement that stores `limits`.
///
/// # Errors
/// [`StorageError::Invalid`].
pub fn limits_statement(limits: &Limits) -> Result<Statement, StorageError> {
    let _ = limits;
    todo!("H-infra")
}

/// Reads back everything stored.
///
/// # Errors
/// [`StorageError`].
pub async fn load(storage: &Storage) -> Result<Stored, StorageError> {
    let _ = storage;
    todo!("H-infra")
}

/// Alerts matching `filter` (its `limit` ignored), newest first, at most `limit`.
///
/// # Errors
/// [`StorageError`].
pub async fn list_alerts(
    storage: &Storage,
    filter: &AlertFilter,
    limit: u32,
) -> Result<Vec<Alert>, StorageError> {
    let _ = (storage, filter, limit);
    todo!("H-infra")
}

/// One alert by id.
///
/// # Errors
/// [`StorageError`].
pub async fn get_alert(storage: &Storage, id: &str) -> Result<Option<Alert>, StorageError> {
    let _ = (storage, id);
    todo!("H-infra")
}
