//! Why a storage operation failed, with the driver's or the file system's error kept as the source.

use super::backend::is_unavailable;

/// An error underneath a [`StorageError`]: the driver's, the file system's, or a reason in words.
pub type ErrorSource = Box<dyn std::error::Error + Send + Sync>;

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The database cannot be reached now (reads only: writes are spooled instead).
    #[error("database unavailable: {0}")]
    Unavailable(#[source] ErrorSource),
    /// The database refused a statement: a bug or invalid data; nothing of the batch was applied.
    #[error("database refused the statement: {0}")]
    Rejected(#[source] sqlx::Error),
    /// A column could not be read as the asked type.
    #[error("cannot decode {0}")]
    Decode(String),
    /// The request itself is malformed.
    #[error("{0}")]
    Invalid(String),
    /// A migration failed.
    #[error("migration failed: {migration}: {source}")]
    Migration {
        /// Which one: component, version and name.
        migration: String,
        /// The database's refusal.
        #[source]
        source: sqlx::Error,
    },
    /// The local spool failed: the write is not durable and was not acknowledged.
    #[error("local spool failed: {}", in_context(.context.as_deref(), .source))]
    Spool {
        /// What was being done, when the source does not say.
        context: Option<String>,
        /// Why.
        #[source]
        source: ErrorSource,
    },
    /// Storage cannot be opened at all (bad URL, unwritable data directory).
    #[error("cannot open storage: {}", in_context(.context.as_deref(), .source))]
    Open {
        /// What was being opened, when the source does not say.
        context: Option<String>,
        /// Why.
        #[source]
        source: ErrorSource,
    },
}

impl StorageError {
    /// A spool failure, `context` naming what was being done.
    pub(super) fn spool(context: Option<String>, source: impl Into<ErrorSource>) -> Self {
        Self::Spool {
            context,
            source: source.into(),
        }
    }

    /// A failure to open storage, `context` naming what was being opened.
    pub(super) fn open(context: Option<String>, source: impl Into<ErrorSource>) -> Self {
        Self::Open {
            context,
            source: source.into(),
        }
    }
}

/// `context: source`, or the source alone: the text these errors had when they held a string.
fn in_context(context: Option<&str>, source: &ErrorSource) -> String {
    match context {
        Some(context) => format!("{context}: {source}"),
        None => source.to_string(),
    }
}

impl From<sqlx::Error> for StorageError {
    fn from(error: sqlx::Error) -> Self {
        if is_unavailable(&error) {
            StorageError::Unavailable(Box::new(error))
        } else {
            StorageError::Rejected(error)
        }
    }
}
