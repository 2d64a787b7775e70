//! The durable local spool: write batches the database could not take, kept on local disk (a SQLite
//! file under the instance's data directory, fsynced on every append) until they can be replayed, in
//! order. A batch the database refuses outright on replay moves to `dead_batches` rather than
//! blocking everything behind it.

use std::{
    path::Path,
    str::FromStr,
    sync::atomic::{AtomicU64, Ordering},
};

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::{StorageError, sql::Statement};

pub(super) struct Spool {
    pool: SqlitePool,
    pending: AtomicU64,
}

impl Spool {
    pub(super) async fn open(path: &Path) -> Result<Self, StorageError> {
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
            .map_err(|e| StorageError::spool(None, e))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // An acknowledged write must survive a crash: fsync on every commit.
            .synchronous(SqliteSynchronous::Full);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .map_err(|e| StorageError::spool(Some(format!("cannot open {}", path.display())), e))?;
        for ddl in [
            "CREATE TABLE IF NOT EXISTS batches (seq INTEGER PRIMARY KEY, body TEXT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS dead_batches (seq INTEGER PRIMARY KEY, body TEXT NOT NULL, error TEXT NOT NULL)",
        ] {
            sqlx::query(ddl).execute(&pool).await.map_err(spool_error)?;
        }
        let pending: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM batches")
            .fetch_one(&pool)
            .await
            .map_err(spool_error)?;
        Ok(Self {
            pool,
            pending: AtomicU64::new(u64::try_from(pending).unwrap_or(0)),
        })
    }

    /// Batches waiting to be replayed.
    pub(super) fn pending(&self) -> u64 {
        self.pending.load(Ordering::SeqCst)
    }

    /// The highest sequence number spooled (live or dead), so new writes number after it.
    pub(super) async fn max_seq(&self) -> Result<i64, StorageError> {
        let max: Option<i64> = sqlx::query_scalar(
            "SELECT MAX(seq) FROM (SELECT seq FROM batches UNION ALL SELECT seq FROM dead_batches)",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(spool_error)?;
        Ok(max.unwrap_or(0))
    }

    /// Appends a batch durably; returns once it is on disk.
    pub(super) async fn append(&self, seq: i64, statements: &[Statement]) -> Result<(), StorageError> {
        let body = serde_json::to_string(statements).map_err(|e| StorageError::spool(None, e))?;
        sqlx::query("INSERT INTO batches (seq, body) VALUES (?1, ?2)")
            .bind(seq)
            .bind(body)
            .execute(&self.pool)
            .await
            .map_err(spool_error)?;
        self.pending.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    /// The oldest `limit` batches, in order.
    pub(super) async fn oldest(&self, limit: i64) -> Result<Vec<(i64, Vec<Statement>)>, StorageError> {
        let rows: Vec<(i64, String)> = sqlx::query_as("SELECT seq, body FROM batches ORDER BY seq LIMIT ?1")
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .map_err(spool_error)?;
        rows.into_iter()
            .map(|(seq, body)| {
                serde_json::from_str(&body)
                    .map(|statements| (seq, statements))
                    .map_err(|e| StorageError::spool(Some(format!("batch {seq} is corrupt")), e))
            })
            .collect()
    }

    /// Forgets a batch the database now holds.
    pub(super) async fn remove(&self, seq: i64) -> Result<(), StorageError> {
        sqlx::query("DELETE FROM batches WHERE seq = ?1")
            .bind(seq)
            .execute(&self.pool)
            .await
            .map_err(spool_error)?;
        self.pending.fetch_sub(1, Ordering::SeqCst);
        Ok(())
    }

    /// Moves a batch the database refuses into `dead_batches`, with the reason.
    pub(super) async fn bury(&self, seq: i64, error: &str) -> Result<(), StorageError> {
        let mut tx = self.pool.begin().await.map_err(spool_error)?;
        sqlx::query(
            "INSERT INTO dead_batches (seq, body, error) SELECT seq, body, ?2 FROM batches WHERE seq = ?1",
        )
        .bind(seq)
        .bind(error)
        .execute(&mut *tx)
        .await
        .map_err(spool_error)?;
        sqlx::query("DELETE FROM batches WHERE seq = ?1")
            .bind(seq)
            .execute(&mut *tx)
            .await
            .map_err(spool_error)?;
        tx.commit().await.map_err(spool_error)?;
        self.pending.fetch_sub(1, Ordering::SeqCst);
        Ok(())
    }

    pub(super) async fn close(&self) {
        self.pool.close().await;
    }
}

fn spool_error(error: sqlx::Error) -> StorageError {
    StorageError::spool(None, error)
}
