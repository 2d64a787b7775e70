//! Storage (README, *Storage, cache and discovery*): one relational store per instance, written once for both backends.
//!
//! - With `DATABASE_URL`: PostgreSQL, one schema per instance, created and migrated by the instance.
//!   Its connections log in as a role of their own (`tse_{schema}`, created by the `DATABASE_URL` user
//!   with a password generated into `data/{instance}/postgres-password`) whose only schema is the
//!   instance's, with `search_path` set to it, so the instance can neither see nor touch another's
//!   tables, and the server enforces it (`RESET ROLE` changes nothing). If the login user may not
//!   create roles, isolation falls back to `search_path` alone, and says so in the log and in health
//!   (`backends.postgres_isolation`).
//! - Without: SQLite, one file per instance (`data/{instance}/tse.sqlite`).
//!
//! Writes are [`WriteBatch`]es applied atomically and one at a time, so they reach the database in
//! the order they were acknowledged. When PostgreSQL is down (at start or later) the instance keeps
//! working: a batch that cannot be written goes to a durable local spool (`data/{instance}/spool.sqlite`) and
//! [`Storage::write`] still succeeds ([`Written::Spooled`]); health turns `degraded`, ready answers
//! 503, `tse_dependency_up{dependency="postgres"}` is 0. A supervisor reconnects, re-applies schema
//! and migrations, and replays the spool in order. Every batch carries a sequence number that the
//! same transaction records in `_tse_applied`, so a batch whose outcome was unknown (the connection
//! died during commit) is applied exactly once.
//!
//! # Layout
//! - [`sql`]: values, statements, rows, and the dialect differences (placeholders, type tokens).
//! - `backend`: the two sqlx drivers behind one transaction type; error classification.
//! - `migrate`: per-component migrations recorded in `_tse_migrations`; the caller passes every
//!   component's, storage adds only its own write marker.
//! - `batch`: write batches and where an acknowledged one is.
//! - `postgres`: the instance's schema, login role and kept password.
//! - `spool`: the durable local spool.
//! - `error`: [`StorageError`], with the driver's or file system's error as its source.

mod backend;
mod batch;
mod error;
mod migrate;
mod postgres;
mod spool;
pub mod sql;

use std::{path::Path, str::FromStr, sync::Arc, time::Duration};

use prometheus::{IntCounterVec, IntGauge, Opts, Registry};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

pub use batch::{PreparedWrite, WriteBatch, Written};
pub use error::{ErrorSource, StorageError};
pub use migrate::{Migration, MigrationSet, RUNTIME_COMPONENT};
pub(crate) use postgres::kept_secret;
pub use postgres::{Isolation, PASSWORD_FILE};
pub use sql::{Column, Dialect, JsonText, Kind, Row, Statement, Value};

use self::{
    backend::{Pool, is_unavailable},
    batch::Prepared,
    postgres::{Postgres, ident},
};
use crate::{
    config::InstanceConfig,
    health::{Dependency, RetryPace},
};

/// How long one write transaction may take before its outcome counts as unknown (and it is spooled).
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a read may take before the database counts as unreachable.
const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long acquiring (or opening) a PostgreSQL connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Spooled batches replayed per turn of the writer lock.
const REPLAY_CHUNK: i64 = 200;

/// The storage of one instance; cheap to clone.
#[derive(Clone)]
pub struct Storage {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    description: String,
    writer: tokio::sync::Mutex<i64>,
    /// Batches committed to SQLite; the WAL checkpointer skips rounds in which none was.
    committed: Arc<std::sync::atomic::AtomicU64>,
    metrics: StorageMetrics,
    postgres: Option<Postgres>,
}

#[derive(Clone)]
struct StorageMetrics {
    writes: IntCounterVec,
    spool_pending: IntGauge,
}

impl StorageMetrics {
    fn register(registry: &Registry) -> Result<Self, StorageError> {
        let open = |e: prometheus::Error| StorageError::open(Some("metrics".to_owned()), e);
        let writes = IntCounterVec::new(
            Opts::new(
                "tse_storage_writes_total",
                "Write batches by outcome: committed, spooled (database down), replayed (from the spool), dead (refused on replay).",
            ),
            &["outcome"],
        )
        .map_err(open)?;
        let spool_pending = IntGauge::with_opts(Opts::new(
            "tse_storage_spool_pending",
            "Write batches waiting in the local spool for the database.",
        ))
        .map_err(open)?;
        // Every outcome's series exists from the start, at 0, so rates and alerts work before the
        // first write.
        for outcome in ["committed", "spooled", "replayed", "dead"] {
            writes.with_label_values(&[outcome]);
        }
        registry.register(Box::new(writes.clone())).map_err(open)?;
        registry.register(Box::new(spool_pending.clone())).map_err(open)?;
        Ok(Self {
            writes,
            spool_pending,
        })
    }
}

impl Storage {
    /// Opens the instance's storage: PostgreSQL when `DATABASE_URL` is set, else SQLite under the
    /// data directory. For PostgreSQL this only prepares connections; [`Storage::connect`] makes the
    /// first attempt and [`Storage::supervise`] keeps trying. `migrations` are every component's
    /// (the runtime's features', the service's); storage adds only its own write marker before them.
    ///
    /// # Errors
    /// Returns [`StorageError::Open`] when the URL or the data directory cannot be used, and a
    /// migration error when SQLite cannot be migrated.
    pub async fn open(
        config: &InstanceConfig,
        migrations: Vec<MigrationSet>,
        metrics: &Registry,
        dependency: Dependency,
    ) -> Result<Self, StorageError> {
        let mut sets = vec![migrate::OWN];
        sets.extend(migrations);
        let metrics = StorageMetrics::register(metrics)?;
        match &config.common.database_url {
            None => Self::open_sqlite(&config.data_dir, sets, metrics).await,
            Some(url) => Self::open_postgres(config, url, sets, metrics, dependency).await,
        }
    }

    async fn open_sqlite(
        data_dir: &Path,
        sets: Vec<MigrationSet>,
        metrics: StorageMetrics,
    ) -> Result<Self, StorageError> {
        let path = data_dir.join("tse.sqlite");
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
            .map_err(|e| StorageError::open(None, e))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // Acknowledged writes survive a crash.
            .synchronous(SqliteSynchronous::Full)
            // A 64 MiB page cache per connection (the default is 2 MiB): indexes of busy tables
            // stay in memory instead of being read back from the OS on every batch.
            .pragma("cache_size", "-65536")
            // A commit that leaves the write-ahead log above 8 MiB checkpoints it (which lets the
            // log start over); `checkpoint_wal` does most of that copying beside the writes first.
            .pragma("wal_autocheckpoint", "2048")
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            // A local file needs no liveness probe: it would cost a round trip per transaction.
            .test_before_acquire(false)
            .connect_with(options)
            .await
            .map_err(|e| StorageError::open(Some(path.display().to_string()), e))?;
        let committed = Arc::new(std::sync::atomic::AtomicU64::new(0));
        tokio::spawn(checkpoint_wal(pool.clone(), committed.clone()));
        let pool = Pool::Sqlite(pool);
        migrate::migrate(&pool, "", &sets).await?;
        Ok(Self {
            inner: Arc::new(Inner {
                pool,
                description: format!("sqlite {}", path.display()),
                writer: tokio::sync::Mutex::new(0),
                committed,
                metrics,
                postgres: None,
            }),
        })
    }

    /// Returns the backend in use.
    pub fn dialect(&self) -> Dialect {
        self.inner.pool.dialect()
    }

    /// Describes the store for logs and health (`postgres postgres://u:***@h/db schema x`).
    pub fn description(&self) -> &str {
        &self.inner.description
    }

    /// Returns how PostgreSQL connections are isolated, once known; `None` for SQLite.
    pub fn isolation(&self) -> Option<Isolation> {
        let pg = self.inner.postgres.as_ref()?;
        pg.isolation.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Returns whether the database is reachable, migrated and caught up with the spool.
    pub fn is_available(&self) -> bool {
        self.inner
            .postgres
            .as_ref()
            .is_none_or(|pg| *pg.available.borrow())
    }

    /// Waits until the database is available.
    pub async fn available(&self) {
        if let Some(pg) = &self.inner.postgres {
            let mut rx = pg.available.subscribe();
            let _ = rx.wait_for(|up| *up).await;
        }
    }

    /// Returns how many write batches wait in the spool.
    pub fn spooled(&self) -> u64 {
        self.inner.postgres.as_ref().map_or(0, |pg| pg.spool.pending())
    }

    /// Writes a batch atomically. `Ok` means acknowledged: committed, or durably spooled while the
    /// database is away.
    ///
    /// # Errors
    /// [`StorageError::Rejected`] when the database refuses a statement (nothing of the batch is
    /// applied); [`StorageError::Spool`] when the database is down and the local spool fails too.
    pub async fn write(&self, batch: impl Into<WriteBatch>) -> Result<Written, StorageError> {
        self.write_prepared(self.prepare(batch)).await
    }

    /// Makes a batch ready for the database ahead of its turn: on SQLite its values are bound now,
    /// so that [`Storage::write_prepared`] spends its time in the database alone and a writer can
    /// prepare its next batch while the previous one is written. (On PostgreSQL the statements stay
    /// as they are: the spool may need them.)
    pub fn prepare(&self, batch: impl Into<WriteBatch>) -> PreparedWrite {
        let batch = batch.into();
        PreparedWrite(match &self.inner.postgres {
            None if !batch.is_empty() => Prepared::Sqlite(backend::BoundSqlite::new(batch.statements)),
            _ => Prepared::Statements(batch),
        })
    }

    /// Writes a prepared batch atomically, as [`Storage::write`] does.
    ///
    /// # Errors
    /// As [`Storage::write`].
    pub async fn write_prepared(&self, prepared: PreparedWrite) -> Result<Written, StorageError> {
        let batch = match prepared.0 {
            Prepared::Sqlite(bound) => return self.write_sqlite(bound).await,
            Prepared::Statements(batch) if batch.is_empty() => return Ok(Written::Committed),
            Prepared::Statements(batch) => batch,
        };
        let inner = &self.inner;
        let Some(pg) = &inner.postgres else {
            return self
                .write_sqlite(backend::BoundSqlite::new(batch.statements))
                .await;
        };
        let mut last_seq = inner.writer.lock().await;
        let seq = next_seq(&mut last_seq);
        if *pg.available.borrow() && pg.spool.pending() == 0 {
            match tokio::time::timeout(WRITE_TIMEOUT, apply(&inner.pool, Some(seq), &batch.statements)).await
            {
                Ok(Ok(_)) => {
                    inner.metrics.writes.with_label_values(&["committed"]).inc();
                    return Ok(Written::Committed);
                }
                Ok(Err(error)) if !is_unavailable(&error) => {
                    return Err(StorageError::Rejected(error));
                }
                Ok(Err(error)) => self.mark_down(&error.to_string()),
                Err(_) => self.mark_down("a write timed out"),
            }
        }
        pg.spool.append(seq, &batch.statements).await?;
        inner.metrics.writes.with_label_values(&["spooled"]).inc();
        inner
            .metrics
            .spool_pending
            .set(i64::try_from(pg.spool.pending()).unwrap_or(i64::MAX));
        Ok(Written::Spooled)
    }

    async fn write_sqlite(&self, bound: backend::BoundSqlite) -> Result<Written, StorageError> {
        let _turn = self.inner.writer.lock().await;
        self.inner.pool.apply_bound(bound).await?;
        self.inner
            .committed
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.inner.metrics.writes.with_label_values(&["committed"]).inc();
        Ok(Written::Committed)
    }

    /// Runs a query and returns every row.
    ///
    /// # Errors
    /// [`StorageError::Unavailable`] while the database is away; [`StorageError::Rejected`] when it
    /// refuses the query.
    pub async fn query(&self, statement: Statement) -> Result<Vec<Row>, StorageError> {
        if let Some(pg) = &self.inner.postgres
            && !*pg.available.borrow()
        {
            let reason = pg.dependency.reason().unwrap_or_else(|| "not connected".into());
            return Err(StorageError::Unavailable(reason.into()));
        }
        match tokio::time::timeout(READ_TIMEOUT, self.inner.pool.fetch_all(&statement)).await {
            Ok(Ok(rows)) => Ok(rows),
            Ok(Err(error)) => {
                if is_unavailable(&error) {
                    self.mark_down(&error.to_string());
                }
                Err(error.into())
            }
            Err(_) => {
                self.mark_down("a read timed out");
                Err(StorageError::Unavailable("a read timed out".into()))
            }
        }
    }

    /// Runs a query expected to return at most one row.
    ///
    /// # Errors
    /// As [`Storage::query`].
    pub async fn query_one(&self, statement: Statement) -> Result<Option<Row>, StorageError> {
        Ok(self.query(statement).await?.into_iter().next())
    }

    fn mark_down(&self, reason: &str) {
        if let Some(pg) = &self.inner.postgres {
            if *pg.available.borrow() {
                warn!(reason, "PostgreSQL unavailable; writes go to the local spool");
            }
            pg.available.send_replace(false);
            pg.dependency.down(reason);
            pg.wake.notify_one();
        }
    }

    /// Makes one attempt to reach PostgreSQL, set up the schema, migrate and replay the spool.
    /// Returns whether the database is now available. Does nothing for SQLite.
    pub async fn connect(&self) -> bool {
        let Some(pg) = &self.inner.postgres else {
            return true;
        };
        match self.catch_up(pg).await {
            Ok(()) => {
                if !*pg.available.borrow() {
                    info!(storage = %self.inner.description, isolation = ?self.isolation(), "PostgreSQL available");
                }
                pg.available.send_replace(true);
                pg.dependency.up();
                true
            }
            Err(reason) => {
                pg.available.send_replace(false);
                pg.dependency.down(&reason);
                false
            }
        }
    }

    async fn catch_up(&self, pg: &Postgres) -> Result<(), String> {
        let setup = async {
            let prelude = self.setup_schema(pg).await?;
            migrate::migrate(&Pool::Postgres(pg.admin.clone()), &prelude, &pg.migrations).await?;
            let marker = Pool::Postgres(pg.admin.clone())
                .fetch_all(&Statement::new(format!(
                    "SELECT seq FROM {}._tse_applied WHERE stream = 'writes'",
                    ident(pg.schema.as_str())
                )))
                .await?;
            let applied: i64 = marker.first().map(|r| r.get("seq")).transpose()?.unwrap_or(0);
            let mut last = self.inner.writer.lock().await;
            *last = (*last).max(applied);
            Ok::<_, StorageError>(())
        };
        tokio::time::timeout(CONNECT_TIMEOUT * 4, setup)
            .await
            .map_err(|_| "setup timed out".to_owned())?
            .map_err(|e| e.to_string())?;
        self.replay(pg).await
    }

    /// Replays the spool in order, a chunk per turn of the writer lock so new writes keep queueing
    /// behind it (in the spool) rather than overtaking it.
    async fn replay(&self, pg: &Postgres) -> Result<(), String> {
        loop {
            let _writer = self.inner.writer.lock().await;
            let chunk = pg.spool.oldest(REPLAY_CHUNK).await.map_err(|e| e.to_string())?;
            if chunk.is_empty() {
                return Ok(());
            }
            pg.dependency.down(&format!(
                "catching up: {} spooled write batches not yet in the database",
                pg.spool.pending()
            ));
            for (seq, statements) in chunk {
                let outcome =
                    tokio::time::timeout(WRITE_TIMEOUT, apply(&self.inner.pool, Some(seq), &statements))
                        .await
                        .unwrap_or_else(|_| Err(sqlx::Error::PoolTimedOut));
                match outcome {
                    Ok(_) => {
                        pg.spool.remove(seq).await.map_err(|e| e.to_string())?;
                        self.inner.metrics.writes.with_label_values(&["replayed"]).inc();
                    }
                    Err(e) if is_unavailable(&e) => return Err(e.to_string()),
                    Err(e) => {
                        tracing::error!(seq, error = %e, "the database refuses a spooled batch; moved to dead_batches");
                        pg.spool
                            .bury(seq, &e.to_string())
                            .await
                            .map_err(|e| e.to_string())?;
                        self.inner.metrics.writes.with_label_values(&["dead"]).inc();
                    }
                }
                self.inner
                    .metrics
                    .spool_pending
                    .set(i64::try_from(pg.spool.pending()).unwrap_or(i64::MAX));
            }
        }
    }

    /// Keeps PostgreSQL under watch until `stop`: pings it every `interval` while up, retries with
    /// backoff while down, and catches up when it returns. Returns at once for SQLite.
    ///
    /// A ping, a connection attempt or a replay in progress is abandoned as soon as `stop` comes (a
    /// database that hangs must not hold the instance's stop): an interrupted replay leaves its
    /// batches in the spool, and the sequence numbers skip whichever of them did commit next time.
    pub async fn supervise(self, interval: Duration, stop: CancellationToken) {
        let Some(pg) = &self.inner.postgres else {
            return;
        };
        let mut pace = RetryPace::new(interval);
        loop {
            let attempt = async {
                if *pg.available.borrow() {
                    match tokio::time::timeout(CONNECT_TIMEOUT, self.inner.pool.ping()).await {
                        Ok(Ok(())) => true,
                        Ok(Err(e)) => {
                            self.mark_down(&e.to_string());
                            false
                        }
                        Err(_) => {
                            self.mark_down("ping timed out");
                            false
                        }
                    }
                } else {
                    self.connect().await
                }
            };
            let up = tokio::select! {
                () = stop.cancelled() => break,
                up = attempt => up,
            };
            let wait = pace.next(up);
            tokio::select! {
                () = stop.cancelled() => break,
                () = tokio::time::sleep(wait) => {}
                () = pg.wake.notified(), if up => {}
            }
        }
    }

    /// Closes every connection. Spooled batches stay on disk for the next start.
    pub async fn close(&self) {
        // Wait for an in-flight write so it is either committed or spooled before closing.
        let _writer = self.inner.writer.lock().await;
        self.inner.pool.close().await;
        if let Some(pg) = &self.inner.postgres {
            pg.admin.close().await;
            pg.spool.close().await;
        }
    }
}

/// How often committed pages move from the SQLite write-ahead log into the database file.
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(200);

/// Moves committed pages from the write-ahead log into the database file until the pool closes.
/// Passive checkpoints never block writers or readers; the log is reused from its start once a
/// checkpoint has caught up. (SQLite also checkpoints when the last connection closes.)
async fn checkpoint_wal(pool: sqlx::SqlitePool, committed: Arc<std::sync::atomic::AtomicU64>) {
    let mut seen = 0;
    loop {
        tokio::time::sleep(CHECKPOINT_INTERVAL).await;
        if pool.is_closed() {
            return;
        }
        let now = committed.load(std::sync::atomic::Ordering::Relaxed);
        if now == seen {
            continue;
        }
        seen = now;
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&pool).await {
            tracing::debug!(error = %e, "WAL checkpoint skipped");
        }
    }
}

/// The next write sequence number: after the last one, and at least the current time in microseconds,
/// so numbers keep growing across restarts.
fn next_seq(last: &mut i64) -> i64 {
    let now = crate::clock::wall_now().unix_timestamp_nanos() / 1_000;
    let next = (*last + 1).max(i64::try_from(now).unwrap_or(i64::MAX));
    *last = next;
    next
}

/// Applies one batch in one transaction. With a sequence number (PostgreSQL), first moves the marker
/// forward; if it already is at or past `seq`, the batch was applied before and is skipped. Returns
/// whether the batch was applied now.
async fn apply(pool: &Pool, seq: Option<i64>, statements: &[Statement]) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    if let Some(seq) = seq {
        let moved = tx
            .execute(
                &Statement::new("UPDATE _tse_applied SET seq = $1 WHERE stream = 'writes' AND seq < $1")
                    .bind(seq),
            )
            .await?;
        if moved == 0 {
            return Ok(false);
        }
    }
    for statement in statements {
        tx.execute(statement).await?;
    }
    tx.commit().await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_numbers_grow_even_when_the_clock_is_behind() {
        let mut last = i64::MAX - 10;
        let a = next_seq(&mut last);
        let b = next_seq(&mut last);
        assert!(b > a);
        let mut fresh = 0;
        assert!(
            next_seq(&mut fresh) > 1_600_000_000_000_000,
            "seeded from the clock"
        );
    }
}
