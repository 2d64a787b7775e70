//! Migrations: each component (the runtime, each service) ships an ordered list; the instance applies
//! what its schema lacks at start, each migration in its own transaction, recorded in
//! `_tse_migrations`.

use super::{StorageError, backend::Pool, sql::Statement};

/// One schema change. `sql` may hold several statements and the type tokens of
/// [`sql`](super::sql) (`{decimal}`, `{timestamp}`, `{json}`, `{bytes}`, `{id}`).
#[derive(Clone, Copy, Debug)]
pub struct Migration {
    /// Position in the component's history; strictly increasing.
    pub version: u32,
    /// What it does, for people.
    pub name: &'static str,
    /// The DDL.
    pub sql: &'static str,
}

/// The migrations of one component.
#[derive(Clone, Copy, Debug)]
pub struct MigrationSet {
    /// Who owns them (`tse-runtime`, `exchange-simulator`, ...).
    pub component: &'static str,
    /// In version order.
    pub migrations: &'static [Migration],
}

/// The component of the runtime's own tables, storage's and its features' alike.
pub const RUNTIME_COMPONENT: &str = "tse-runtime";

/// Storage's own table, version 1 of the runtime's component: the write marker that makes spooled
/// replays exactly-once. The runtime's features above storage (the event outbox, the faults of the
/// back door) bring their tables as later versions of the same component, through the caller.
pub(super) const OWN: MigrationSet = MigrationSet {
    component: RUNTIME_COMPONENT,
    migrations: &[Migration {
        version: 1,
        name: "write sequence marker",
        sql: "CREATE TABLE _tse_applied (stream TEXT PRIMARY KEY, seq BIGINT NOT NULL);
              INSERT INTO _tse_applied (stream, seq) VALUES ('writes', 0);",
    }],
};

/// Applies every missing migration of `sets`, in order. `prelude` runs first in each transaction
/// (PostgreSQL: the role and search path the objects must belong to).
pub(super) async fn migrate(pool: &Pool, prelude: &str, sets: &[MigrationSet]) -> Result<u32, StorageError> {
    let dialect = pool.dialect();
    let mut tx = pool.begin().await?;
    if !prelude.is_empty() {
        tx.raw(prelude).await?;
    }
    tx.raw(&dialect.expand(
        "CREATE TABLE IF NOT EXISTS _tse_migrations (
            component TEXT NOT NULL,
            version BIGINT NOT NULL,
            name TEXT NOT NULL,
            applied_at {timestamp} NOT NULL,
            PRIMARY KEY (component, version))",
    ))
    .await?;
    tx.commit().await?;

    let mut applied_now = 0;
    for set in sets {
        let mut previous = 0;
        for m in set.migrations {
            if m.version <= previous {
                return Err(StorageError::Invalid(format!(
                    "{} migration {} ({}) is not after version {previous}",
                    set.component, m.version, m.name
                )));
            }
            previous = m.version;
        }
        let mut tx = pool.begin().await?;
        if !prelude.is_empty() {
            tx.raw(prelude).await?;
        }
        let rows = tx
            .fetch_all(
                &Statement::new("SELECT version FROM _tse_migrations WHERE component = $1")
                    .bind(set.component),
            )
            .await?;
        tx.commit().await?;
        let done: Vec<i64> = rows.iter().map(|r| r.get("version")).collect::<Result<_, _>>()?;
        for m in set
            .migrations
            .iter()
            .filter(|m| !done.contains(&i64::from(m.version)))
        {
            let mut tx = pool.begin().await?;
            if !prelude.is_empty() {
                tx.raw(prelude).await?;
            }
            tx.raw(&dialect.expand(m.sql))
                .await
                .map_err(|source| StorageError::Migration {
                    migration: format!("{} migration {} ({})", set.component, m.version, m.name),
                    source,
                })?;
            tx.execute(
                &Statement::new(
                    "INSERT INTO _tse_migrations (component, version, name, applied_at) VALUES ($1, $2, $3, $4)",
                )
                .bind(set.component)
                .bind(m.version)
                .bind(m.name)
                .bind(crate::clock::wall_now()),
            )
            .await?;
            tx.commit().await?;
            applied_now += 1;
            tracing::info!(
                component = set.component,
                version = m.version,
                name = m.name,
                "migration applied"
            );
        }
    }
    Ok(applied_now)
}
