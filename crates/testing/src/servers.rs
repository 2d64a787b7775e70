//! The real PostgreSQL and Redis the tests use, from `TSE_TEST_DATABASE_URL` and `TSE_TEST_REDIS_URL`;
//! tests print that they are skipped without them. Guards remove what a test created (schema, role,
//! keys) when dropped, also when the test panics.

use sqlx::Connection;

/// The test PostgreSQL URL, or `None` (and a note that `test` is skipped).
pub fn database_url(test: &str) -> Option<String> {
    let url = std::env::var("TSE_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty());
    if url.is_none() {
        eprintln!("skipped {test}: TSE_TEST_DATABASE_URL is not set");
    }
    url
}

/// The test Redis URL, or `None` (and a note that `test` is skipped).
pub fn redis_url(test: &str) -> Option<String> {
    let url = std::env::var("TSE_TEST_REDIS_URL").ok().filter(|u| !u.is_empty());
    if url.is_none() {
        eprintln!("skipped {test}: TSE_TEST_REDIS_URL is not set");
    }
    url
}

/// Runs `f` on a fresh current-thread runtime in another thread: usable from `Drop` and from inside
/// another runtime.
fn block_on_side<F: Future<Output = ()> + Send + 'static>(f: F) {
    let _ = std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(f);
    })
    .join();
}

/// Drops a schema and the role that owns it.
pub struct PgGuard {
    url: String,
    schema: String,
}

impl PgGuard {
    /// Guards `schema` (and its role `tse_{schema}`) in the database at `url`.
    pub fn new(url: &str, schema: &str) -> Self {
        Self {
            url: url.to_owned(),
            schema: schema.to_owned(),
        }
    }
}

impl Drop for PgGuard {
    fn drop(&mut self) {
        let (url, schema) = (self.url.clone(), self.schema.clone());
        block_on_side(async move {
            let Ok(mut conn) = sqlx::PgConnection::connect(&url).await else {
                return;
            };
            let role = format!("tse_{schema}");
            // The instance may still be running on the very thread this guard blocks, holding a
            // transaction it can never finish: end the sessions holding locks in the schema first,
            // and never wait long for a lock.
            let terminate = format!(
                "SELECT pg_terminate_backend(l.pid) FROM pg_locks l
                 JOIN pg_class c ON c.oid = l.relation
                 JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE n.nspname = '{schema}' AND l.pid <> pg_backend_pid()"
            );
            let drop = format!(
                "SET lock_timeout = '2s';
                 DROP SCHEMA IF EXISTS \"{schema}\" CASCADE;
                 DO $$ BEGIN
                   IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
                     EXECUTE 'DROP OWNED BY \"{role}\"';
                     EXECUTE 'DROP ROLE \"{role}\"';
                   END IF;
                 END $$;"
            );
            for _ in 0..5 {
                let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(terminate.clone()))
                    .execute(&mut conn)
                    .await;
                if sqlx::raw_sql(sqlx::AssertSqlSafe(drop.clone()))
                    .execute(&mut conn)
                    .await
                    .is_ok()
                {
                    return;
                }
            }
        });
    }
}

/// Runs one query on the test database as the login user, returning the first column of every row
/// as text.
pub async fn pg_strings(url: &str, sql: &str) -> Vec<String> {
    let mut conn = sqlx::PgConnection::connect(url).await.expect("test database");
    sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_all(&mut conn)
        .await
        .expect("query")
}

/// Deletes every Redis key matching the patterns.
pub struct RedisGuard {
    /// The Redis URL.
    pub url: String,
    /// `KEYS` patterns to delete.
    pub patterns: Vec<String>,
}

impl Drop for RedisGuard {
    fn drop(&mut self) {
        let url = self.url.clone();
        let patterns = self.patterns.clone();
        block_on_side(async move {
            let Ok(client) = redis::Client::open(url) else {
                return;
            };
            let Ok(mut conn) = client.get_multiplexed_async_connection().await else {
                return;
            };
            for pattern in patterns {
                let keys: Vec<String> = redis::cmd("KEYS")
                    .arg(&pattern)
                    .query_async(&mut conn)
                    .await
                    .unwrap_or_default();
                if !keys.is_empty() {
                    let _: Result<i64, _> = redis::cmd("DEL").arg(keys).query_async(&mut conn).await;
                }
            }
        });
    }
}

/// A plain Redis connection for looking at keys from outside.
pub async fn redis_connection(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .expect("redis url")
        .get_multiplexed_async_connection()
        .await
        .expect("test redis")
}
