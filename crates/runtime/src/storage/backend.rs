//! The two drivers behind one face: binding [`Value`]s, running [`Statement`]s inside a transaction,
//! reading [`Row`]s, and telling "the database is unreachable" from "the database refused this".

use rust_decimal::Decimal;
use sqlx::{
    Arguments as _, AssertSqlSafe, Postgres, Sqlite,
    postgres::{PgArguments, PgPool},
    query::Query,
    sqlite::{SqliteArguments, SqlitePool},
    types::Json,
};
use time::OffsetDateTime;

use super::sql::{Dialect, Kind, Row, RowInner, Statement, Value, sqlite_time};

/// A connection pool of either backend.
#[derive(Clone, Debug)]
pub(super) enum Pool {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

/// An open transaction of either backend.
pub(super) enum Tx {
    Postgres(sqlx::Transaction<'static, Postgres>),
    Sqlite(sqlx::Transaction<'static, Sqlite>),
}

fn pg_query(stmt: &Statement) -> Query<'static, Postgres, PgArguments> {
    let mut query = sqlx::query(AssertSqlSafe(stmt.text_for(Dialect::Postgres)));
    for value in stmt.params() {
        query = match value {
            Value::Null(kind) => match kind {
                Kind::Int => query.bind(None::<i64>),
                Kind::Text => query.bind(None::<String>),
                Kind::Decimal => query.bind(None::<Decimal>),
                Kind::Bool => query.bind(None::<bool>),
                Kind::Json => query.bind(None::<Json<serde_json::Value>>),
                Kind::Time => query.bind(None::<OffsetDateTime>),
                Kind::Bytes => query.bind(None::<Vec<u8>>),
            },
            Value::Int(v) => query.bind(*v),
            Value::Text(v) => query.bind(v.clone()),
            Value::Decimal(v) => query.bind(*v),
            Value::Bool(v) => query.bind(*v),
            Value::Json(v) => query.bind(v.0.clone()),
            Value::Time(v) => query.bind(*v),
            Value::Bytes(v) => query.bind(v.clone()),
        };
    }
    query
}

/// The SQLite query of `stmt`, taking its values over: a write batch is bound once and then
/// dropped, so text and JSON move into the arguments instead of being copied.
fn sqlite_query(stmt: Statement) -> Query<'static, Sqlite, SqliteArguments> {
    let sql = stmt.text_for(Dialect::Sqlite);
    let params = stmt.into_params();
    let mut args = SqliteArguments::default();
    args.reserve(params.len(), 0);
    for value in params {
        // Encoding these types into SQLite arguments cannot fail.
        let _ = match value {
            Value::Null(Kind::Int | Kind::Bool) => args.add(None::<i64>),
            Value::Null(Kind::Bytes) => args.add(None::<Vec<u8>>),
            Value::Null(_) => args.add(None::<String>),
            Value::Int(v) => args.add(v),
            Value::Text(v) => args.add(v),
            Value::Decimal(v) => args.add(v.to_string()),
            Value::Bool(v) => args.add(v),
            Value::Json(v) => args.add(String::from(Box::<str>::from(v.0))),
            Value::Time(v) => args.add(sqlite_time(v)),
            Value::Bytes(v) => args.add(v),
        };
    }
    sqlx::query_with(AssertSqlSafe(sql), args)
}

/// Statements bound for SQLite ahead of their transaction (see [`super::Storage::prepare`]).
pub(super) struct BoundSqlite(Vec<Query<'static, Sqlite, SqliteArguments>>);

impl BoundSqlite {
    pub(super) fn new(statements: Vec<Statement>) -> Self {
        Self(statements.into_iter().map(sqlite_query).collect())
    }
}

impl Pool {
    /// Runs bound statements in one transaction.
    pub(super) async fn apply_bound(&self, bound: BoundSqlite) -> Result<(), sqlx::Error> {
        let mut tx = self.begin().await?;
        for query in bound.0 {
            match &mut tx {
                Tx::Sqlite(tx) => query.execute(&mut **tx).await.map(drop)?,
                Tx::Postgres(_) => {
                    return Err(sqlx::Error::Protocol("SQLite statements on PostgreSQL".into()));
                }
            }
        }
        tx.commit().await
    }

    pub(super) fn dialect(&self) -> Dialect {
        match self {
            Pool::Postgres(_) => Dialect::Postgres,
            Pool::Sqlite(_) => Dialect::Sqlite,
        }
    }

    pub(super) async fn begin(&self) -> Result<Tx, sqlx::Error> {
        Ok(match self {
            Pool::Postgres(pool) => Tx::Postgres(pool.begin().await?),
            Pool::Sqlite(pool) => Tx::Sqlite(pool.begin().await?),
        })
    }

    pub(super) async fn fetch_all(&self, stmt: &Statement) -> Result<Vec<Row>, sqlx::Error> {
        Ok(match self {
            Pool::Postgres(pool) => pg_query(stmt)
                .fetch_all(pool)
                .await?
                .into_iter()
                .map(|r| Row(RowInner::Postgres(r)))
                .collect(),
            Pool::Sqlite(pool) => sqlite_query(stmt.clone())
                .fetch_all(pool)
                .await?
                .into_iter()
                .map(|r| Row(RowInner::Sqlite(r)))
                .collect(),
        })
    }

    pub(super) async fn ping(&self) -> Result<(), sqlx::Error> {
        let select_one = Statement::new("SELECT 1");
        self.fetch_all(&select_one).await.map(drop)
    }

    pub(super) async fn close(&self) {
        match self {
            Pool::Postgres(pool) => pool.close().await,
            Pool::Sqlite(pool) => pool.close().await,
        }
    }
}

impl Tx {
    pub(super) async fn execute(&mut self, stmt: &Statement) -> Result<u64, sqlx::Error> {
        Ok(match self {
            Tx::Postgres(tx) => pg_query(stmt).execute(&mut **tx).await?.rows_affected(),
            Tx::Sqlite(tx) => sqlite_query(stmt.clone())
                .execute(&mut **tx)
                .await?
                .rows_affected(),
        })
    }

    pub(super) async fn fetch_all(&mut self, stmt: &Statement) -> Result<Vec<Row>, sqlx::Error> {
        Ok(match self {
            Tx::Postgres(tx) => pg_query(stmt)
                .fetch_all(&mut **tx)
                .await?
                .into_iter()
                .map(|r| Row(RowInner::Postgres(r)))
                .collect(),
            Tx::Sqlite(tx) => sqlite_query(stmt.clone())
                .fetch_all(&mut **tx)
                .await?
                .into_iter()
                .map(|r| Row(RowInner::Sqlite(r)))
                .collect(),
        })
    }

    /// Runs text without parameters, possibly several statements (migrations).
    pub(super) async fn raw(&mut self, sql: &str) -> Result<(), sqlx::Error> {
        let sql = AssertSqlSafe(sql.to_owned());
        match self {
            Tx::Postgres(tx) => sqlx::raw_sql(sql).execute(&mut **tx).await.map(drop),
            Tx::Sqlite(tx) => sqlx::raw_sql(sql).execute(&mut **tx).await.map(drop),
        }
    }

    pub(super) async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Postgres(tx) => tx.commit().await,
            Tx::Sqlite(tx) => tx.commit().await,
        }
    }
}

/// Whether an error means the database cannot be reached now (retry later; spool writes), as opposed
/// to the database refusing a statement (a bug or invalid data; retrying cannot help).
pub(super) fn is_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            // 08: connection exception; 53: insufficient resources; 57P01-03: shutdown, crash,
            // cannot connect now; 40001/40P01: serialization failure, deadlock (retry).
            code.starts_with("08")
                || code.starts_with("53")
                || matches!(code.as_ref(), "57P01" | "57P02" | "57P03" | "40001" | "40P01")
        }),
        _ => false,
    }
}
