//! What only the PostgreSQL backend needs: the instance's schema and login role, its password kept
//! in the data directory, and opening the pool that works inside them.

use std::{
    path::Path,
    str::FromStr,
    sync::{Arc, Mutex},
    time::Duration,
};

use sqlx::{
    Executor,
    postgres::{PgConnectOptions, PgPoolOptions},
};
use tokio::sync::{Notify, watch};
use tracing::warn;

use super::{
    CONNECT_TIMEOUT, Inner, MigrationSet, Storage, StorageError, StorageMetrics,
    backend::{Pool, is_unavailable},
    spool::Spool,
};
use crate::{
    config::{InstanceConfig, SecretUrl},
    health::Dependency,
    identity::SchemaName,
};

/// How the instance's PostgreSQL connections are kept to its own schema.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Isolation {
    /// Connections log in as a role of the instance's own (`tse_{schema}`, its password generated
    /// and kept in the instance's data directory), which owns the instance's schema and nothing
    /// else: the server enforces the boundary, `RESET ROLE` included.
    Login(String),
    /// The login user may not create roles: only `search_path` points at the schema.
    SearchPath,
}

impl Isolation {
    /// How health shows it (`backends.postgres_isolation`).
    pub fn describe(&self) -> String {
        match self {
            Isolation::Login(role) => format!("login role {role} (enforced by the server)"),
            Isolation::SearchPath => {
                "search_path only (the login user may not create roles; not enforced)".to_owned()
            }
        }
    }
}

/// The file in the instance's data directory that keeps its PostgreSQL login role's password.
pub const PASSWORD_FILE: &str = "postgres-password";

/// Reads a secret of the instance's (its PostgreSQL role's or Redis user's password) from file `name`
/// in `dir`, generating and keeping one (owner read/write only) the first time.
pub(crate) fn kept_secret(dir: &Path, name: &str) -> Result<String, StorageError> {
    let path = dir.join(name);
    let failed = |e: std::io::Error| StorageError::open(Some(path.display().to_string()), e);
    match std::fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => return Ok(text.trim().to_owned()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(failed(e)),
    }
    let password = format!("{:032x}{:032x}", rand::random::<u128>(), rand::random::<u128>());
    std::fs::create_dir_all(dir).map_err(failed)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&path).map_err(failed)?;
    std::io::Write::write_all(&mut file, password.as_bytes()).map_err(failed)?;
    file.sync_all().map_err(failed)?;
    Ok(password)
}

/// What only the PostgreSQL backend needs: setup, availability, spool.
pub(super) struct Postgres {
    pub(super) admin: sqlx::PgPool,
    /// The main pool's connect options as given (`DATABASE_URL`); with [`Isolation::Login`] the
    /// pool logs in as the instance's role instead.
    pub(super) options: PgConnectOptions,
    pub(super) password: String,
    pub(super) schema: SchemaName,
    pub(super) role: String,
    pub(super) isolation: Arc<Mutex<Option<Isolation>>>,
    pub(super) migrations: Vec<MigrationSet>,
    pub(super) spool: Spool,
    pub(super) available: watch::Sender<bool>,
    pub(super) dependency: Dependency,
    pub(super) wake: Notify,
}

/// The role an instance's connections run as: `tse_{schema}`, shortened with a hash when longer than
/// PostgreSQL's 63 bytes.
fn role_name(schema: &SchemaName) -> String {
    let name = format!("tse_{schema}");
    if name.len() <= 63 {
        return name;
    }
    let hash = schema.as_str().bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    format!("tse_{}_{:08x}", &schema.as_str()[..50], hash as u32)
}

/// Quotes an identifier (names are validated, so this never needs escaping beyond the quotes).
pub(super) fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

impl Storage {
    pub(super) async fn open_postgres(
        config: &InstanceConfig,
        url: &SecretUrl,
        sets: Vec<MigrationSet>,
        metrics: StorageMetrics,
        dependency: Dependency,
    ) -> Result<Self, StorageError> {
        let options = PgConnectOptions::from_str(url.expose())
            .map_err(|_| StorageError::open(None, format!("DATABASE_URL {url} is not a PostgreSQL URL")))?
            .application_name(config.identity.instance().as_str());
        let schema = config.identity.schema().clone();
        let isolation: Arc<Mutex<Option<Isolation>>> = Arc::new(Mutex::new(None));
        let hook_isolation = isolation.clone();
        let search_path = format!("SET search_path TO {}", ident(schema.as_str()));
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(CONNECT_TIMEOUT)
            // Every connection works inside the instance's schema, and only once the schema and
            // the instance's login role are set up (until then the pool would log in as the
            // `DATABASE_URL` user: it is refused, and the database counts as not there yet).
            .after_connect(move |conn, _meta| {
                let known = hook_isolation.lock().unwrap_or_else(|e| e.into_inner()).is_some();
                let sql = search_path.clone();
                Box::pin(async move {
                    if !known {
                        return Err(sqlx::Error::Protocol("the schema is not set up yet".into()));
                    }
                    conn.execute(sqlx::AssertSqlSafe(sql)).await?;
                    Ok(())
                })
            })
            .connect_lazy_with(options.clone());
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(CONNECT_TIMEOUT)
            .idle_timeout(Duration::from_secs(30))
            .connect_lazy_with(options.clone());
        let password = kept_secret(&config.data_dir, PASSWORD_FILE)?;
        let spool = Spool::open(&config.data_dir.join("spool.sqlite")).await?;
        let last_seq = spool.max_seq().await?;
        metrics
            .spool_pending
            .set(i64::try_from(spool.pending()).unwrap_or(i64::MAX));
        let (available, _) = watch::channel(false);
        dependency.down("not connected yet");
        Ok(Self {
            inner: Arc::new(Inner {
                pool: Pool::Postgres(pool),
                description: format!("postgres {} schema {schema}", url.masked()),
                writer: tokio::sync::Mutex::new(last_seq),
                committed: Arc::default(),
                metrics,
                postgres: Some(Postgres {
                    admin,
                    options,
                    password,
                    role: role_name(&schema),
                    schema,
                    isolation,
                    migrations: sets,
                    spool,
                    available,
                    dependency,
                    wake: Notify::new(),
                }),
            }),
        })
    }

    /// Creates the schema and the role that owns it; returns the SQL every setup transaction starts
    /// with so objects belong to that role.
    pub(super) async fn setup_schema(&self, pg: &Postgres) -> Result<String, StorageError> {
        let schema = ident(pg.schema.as_str());
        let role = ident(&pg.role);
        let admin = Pool::Postgres(pg.admin.clone());
        // Concurrent first starts may race on CREATE; the second attempt sees the object.
        for attempt in 0..2 {
            let mut tx = admin.begin().await?;
            match tx.raw(&format!("CREATE SCHEMA IF NOT EXISTS {schema}")).await {
                Ok(()) => {
                    tx.commit().await?;
                    break;
                }
                Err(e) if attempt == 0 && !is_unavailable(&e) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        let known = pg.isolation.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let isolation = match known {
            Some(isolation) => isolation,
            None => {
                let mut tx = admin.begin().await?;
                // The password is generated hex: nothing to escape.
                let created = tx
                    .raw(&format!(
                        "DO $$ BEGIN
                           IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{name}') THEN
                             CREATE ROLE {role} LOGIN PASSWORD '{password}';
                           ELSE
                             ALTER ROLE {role} LOGIN PASSWORD '{password}';
                           END IF;
                         END $$;
                         GRANT {role} TO CURRENT_USER;
                         ALTER SCHEMA {schema} OWNER TO {role};
                         SET LOCAL ROLE {role};",
                        name = pg.role,
                        password = pg.password,
                    ))
                    .await;
                match created {
                    Ok(()) => {
                        tx.commit().await?;
                        // From now on the instance's own connections log in as its role.
                        if let Pool::Postgres(pool) = &self.inner.pool {
                            pool.set_connect_options(
                                pg.options.clone().username(&pg.role).password(&pg.password),
                            );
                        }
                        Isolation::Login(pg.role.clone())
                    }
                    Err(e) if is_unavailable(&e) => return Err(e.into()),
                    Err(e) => {
                        warn!(
                            error = %e,
                            "cannot create a role for the schema; isolation relies on search_path only"
                        );
                        Isolation::SearchPath
                    }
                }
            }
        };
        pg.dependency
            .set_backend("postgres_isolation", isolation.describe());
        let prelude = match &isolation {
            Isolation::Login(role) => format!(
                "SET LOCAL ROLE {}; SET LOCAL search_path TO {schema}",
                ident(role)
            ),
            Isolation::SearchPath => format!("SET LOCAL search_path TO {schema}"),
        };
        *pg.isolation.lock().unwrap_or_else(|e| e.into_inner()) = Some(isolation);
        Ok(prelude)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_fit_postgres_limits() {
        let short = SchemaName::parse("exchange_okx").unwrap();
        assert_eq!(role_name(&short), "tse_exchange_okx");
        let long = SchemaName::parse(&"a".repeat(63)).unwrap();
        let role = role_name(&long);
        assert!(role.len() <= 63, "{role}");
        assert!(role.starts_with("tse_aaaa"));
        let other = SchemaName::parse(&format!("{}b", "a".repeat(62))).unwrap();
        assert_ne!(role_name(&other), role);
    }
}
