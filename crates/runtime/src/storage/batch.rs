//! Write batches: statements applied atomically, in order, and where an acknowledged one is.

use super::{backend, sql::Statement};

/// Where an acknowledged write is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Written {
    /// Committed in the database.
    Committed,
    /// Durably in the local spool; it reaches the database, in order, when the database is back.
    Spooled,
}

/// A write batch made ready for the database by [`Storage::prepare`].
pub struct PreparedWrite(pub(super) Prepared);

pub(super) enum Prepared {
    Statements(WriteBatch),
    Sqlite(backend::BoundSqlite),
}

/// Statements applied atomically, in order.
#[derive(Clone, Debug, Default)]
pub struct WriteBatch {
    pub(super) statements: Vec<Statement>,
}

impl WriteBatch {
    /// Creates an empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a statement.
    pub fn push(&mut self, statement: Statement) {
        self.statements.push(statement);
    }

    /// Appends a statement, builder style.
    #[must_use]
    pub fn with(mut self, statement: Statement) -> Self {
        self.push(statement);
        self
    }

    /// Returns the number of statements.
    pub fn len(&self) -> usize {
        self.statements.len()
    }

    /// Returns whether the batch has no statement.
    pub fn is_empty(&self) -> bool {
        self.statements.is_empty()
    }
}

impl From<Vec<Statement>> for WriteBatch {
    fn from(statements: Vec<Statement>) -> Self {
        Self { statements }
    }
}

impl Extend<Statement> for WriteBatch {
    fn extend<I: IntoIterator<Item = Statement>>(&mut self, statements: I) {
        self.statements.extend(statements);
    }
}

impl From<Statement> for WriteBatch {
    fn from(statement: Statement) -> Self {
        Self {
            statements: vec![statement],
        }
    }
}
