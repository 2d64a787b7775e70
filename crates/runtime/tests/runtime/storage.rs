//! The storage layer against SQLite (always) and the real PostgreSQL (when `TSE_TEST_DATABASE_URL`
//! is set): initialization and migration into a fresh schema, a create/read/update/delete round trip
//! with exact decimals, atomic batches, and isolation between instances.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use time::OffsetDateTime;
use tse_runtime::{
    config::{InstanceConfig, ServeOverrides},
    health::{Dependency, Health},
    host::RUNTIME_MIGRATIONS,
    identity::ServiceKind,
    storage::{
        Dialect, Isolation, Migration, MigrationSet, Statement, Storage, StorageError, WriteBatch, Written,
    },
};

use tse_testing::app::unique_instance;
use tse_testing::servers::{PgGuard, database_url, pg_strings};

const TEST_MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "positions",
        sql: "CREATE TABLE positions (
                id TEXT PRIMARY KEY,
                account TEXT NOT NULL,
                symbol TEXT NOT NULL,
                quantity {decimal} NOT NULL,
                average_cost {decimal},
                updated_at {timestamp} NOT NULL,
                details {json} NOT NULL)",
    },
    Migration {
        version: 2,
        name: "settlements",
        sql: "CREATE TABLE settlements (
                id {id},
                external_id TEXT NOT NULL UNIQUE,
                amount {decimal} NOT NULL);
              CREATE INDEX settlements_amount ON settlements (amount);",
    },
];

pub struct Opened {
    pub storage: Storage,
    pub health: Health,
    pub schema: String,
    _dir: tempfile::TempDir,
    _guard: Option<PgGuard>,
}

/// Opens the storage of a fresh instance on `database_url` (None: SQLite).
pub async fn open(database_url: Option<&str>, migrations: &'static [Migration]) -> Opened {
    let dir = tempfile::tempdir().unwrap();
    let instance = unique_instance("custodian");
    let overrides = ServeOverrides {
        service: Some("custodian-simulator".into()),
        instance: Some(instance),
        data_dir: Some(dir.path().to_owned()),
        ..Default::default()
    };
    let mut env: BTreeMap<&str, &str> = BTreeMap::new();
    if let Some(url) = database_url {
        env.insert("DATABASE_URL", url);
    }
    let config = InstanceConfig::load(&overrides, &env).unwrap();
    let schema = config.identity.schema().to_string();
    let guard = database_url.map(|url| PgGuard::new(url, &schema));
    let health = Health::new(config.identity.clone(), "test", "test".into());
    let registry = prometheus::Registry::new();
    let gauge = prometheus::IntGauge::new("up", "up").unwrap();
    let storage = Storage::open(
        &config,
        vec![
            RUNTIME_MIGRATIONS,
            MigrationSet {
                component: ServiceKind::CustodianSimulator.name(),
                migrations,
            },
        ],
        &registry,
        Dependency::new("postgres", health.clone(), gauge),
    )
    .await
    .expect("storage opens");
    assert!(storage.connect().await, "database reachable");
    Opened {
        storage,
        health,
        schema,
        _dir: dir,
        _guard: guard,
    }
}

/// Every backend this run can test: SQLite, and PostgreSQL when configured.
fn backends(test: &str) -> Vec<Option<String>> {
    let mut all = vec![None];
    if let Some(url) = database_url(test) {
        all.push(Some(url));
    }
    all
}

fn dec(text: &str) -> Decimal {
    text.parse().unwrap()
}

#[tokio::test]
async fn storage_initializes_and_migrates_a_fresh_schema_once() {
    for url in backends("storage_initializes_and_migrates_a_fresh_schema_once") {
        let opened = open(url.as_deref(), TEST_MIGRATIONS).await;
        let storage = &opened.storage;
        let applied = |storage: Storage| async move {
            storage
                .query(Statement::new(
                    "SELECT component, version, applied_at FROM _tse_migrations ORDER BY component, version",
                ))
                .await
                .unwrap()
                .iter()
                .map(|r| {
                    (
                        r.get::<String>("component").unwrap(),
                        r.get::<i64>("version").unwrap(),
                        r.get::<OffsetDateTime>("applied_at").unwrap(),
                    )
                })
                .collect::<Vec<_>>()
        };
        let first = applied(storage.clone()).await;
        let versions: Vec<_> = first.iter().map(|(c, v, _)| (c.as_str(), *v)).collect();
        assert_eq!(
            versions,
            [
                ("custodian-simulator", 1),
                ("custodian-simulator", 2),
                ("tse-runtime", 1),
                ("tse-runtime", 2),
                ("tse-runtime", 3)
            ],
            "{url:?}"
        );
        if let Some(url) = &url {
            assert_eq!(storage.dialect(), Dialect::Postgres);
            let owner = pg_strings(
                url,
                &format!(
                    "SELECT pg_get_userbyid(nspowner)::text FROM pg_namespace WHERE nspname = '{}'",
                    opened.schema
                ),
            )
            .await;
            assert_eq!(
                owner,
                [format!("tse_{}", opened.schema)],
                "the schema belongs to the instance's role"
            );
            let tables = pg_strings(
                url,
                &format!(
                    "SELECT tablename::text FROM pg_tables WHERE schemaname = '{}' ORDER BY tablename",
                    opened.schema
                ),
            )
            .await;
            assert_eq!(
                tables,
                [
                    "_tse_applied",
                    "_tse_faults",
                    "_tse_migrations",
                    "_tse_outbox",
                    "positions",
                    "settlements"
                ]
            );
        }
        // Connecting again (a restart, a reconnection) applies nothing twice.
        assert!(storage.connect().await);
        assert_eq!(applied(storage.clone()).await, first);
        assert!(opened.health.report().checks.values().all(|c| c.status == "up"));
    }
}

#[tokio::test]
async fn create_read_update_delete_round_trip_keeps_values_exact() {
    for url in backends("create_read_update_delete_round_trip_keeps_values_exact") {
        let opened = open(url.as_deref(), TEST_MIGRATIONS).await;
        let storage = &opened.storage;
        let at = OffsetDateTime::from_unix_timestamp_nanos(1_790_000_000_123_456_000).unwrap();
        let written = storage
            .write(
                Statement::new(
                    "INSERT INTO positions (id, account, symbol, quantity, average_cost, updated_at, details)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind("p-1")
                .bind("acct-1")
                .bind("BTC-USD")
                .bind(dec("0.1"))
                .bind(dec("12345678901234.123456789012"))
                .bind(at)
                .bind(serde_json::json!({"source": "test", "fills": [1, 2]})),
            )
            .await
            .unwrap();
        assert_eq!(written, Written::Committed);

        let read = |storage: Storage| async move {
            storage
                .query_one(Statement::new("SELECT * FROM positions WHERE id = $1").bind("p-1"))
                .await
                .unwrap()
        };
        let row = read(storage.clone()).await.expect("created");
        assert_eq!(row.get::<String>("symbol").unwrap(), "BTC-USD");
        let quantity: Decimal = row.get("quantity").unwrap();
        assert_eq!(quantity.to_string(), "0.1");
        assert_eq!(
            row.get::<Option<Decimal>>("average_cost")
                .unwrap()
                .unwrap()
                .to_string(),
            "12345678901234.123456789012"
        );
        assert_eq!(row.get::<OffsetDateTime>("updated_at").unwrap(), at);
        assert_eq!(row.get::<serde_json::Value>("details").unwrap()["fills"][1], 2);

        // Money arithmetic happens in Rust, exactly: 0.1 + 0.2 is 0.3.
        storage
            .write(
                Statement::new("UPDATE positions SET quantity = $1, average_cost = $2 WHERE id = $3")
                    .bind(quantity + dec("0.2"))
                    .bind(Option::<Decimal>::None)
                    .bind("p-1"),
            )
            .await
            .unwrap();
        let row = read(storage.clone()).await.unwrap();
        assert_eq!(row.get::<Decimal>("quantity").unwrap(), dec("0.3"));
        assert_eq!(row.get::<Option<Decimal>>("average_cost").unwrap(), None);
        assert!(matches!(
            row.get::<Decimal>("average_cost"),
            Err(StorageError::Decode(_))
        ));

        storage
            .write(Statement::new("DELETE FROM positions WHERE id = $1").bind("p-1"))
            .await
            .unwrap();
        assert!(read(storage.clone()).await.is_none(), "{url:?}");
    }
}

#[tokio::test]
async fn a_refused_batch_leaves_nothing_behind() {
    for url in backends("a_refused_batch_leaves_nothing_behind") {
        let opened = open(url.as_deref(), TEST_MIGRATIONS).await;
        let insert = |external: &str, amount: &str| {
            Statement::new("INSERT INTO settlements (external_id, amount) VALUES ($1, $2)")
                .bind(external)
                .bind(dec(amount))
        };
        opened.storage.write(insert("ext-1", "10")).await.unwrap();
        let batch = WriteBatch::new()
            .with(insert("ext-2", "20"))
            .with(insert("ext-1", "30"));
        let error = opened.storage.write(batch).await.unwrap_err();
        assert!(matches!(error, StorageError::Rejected(_)), "{error}");
        let rows = opened
            .storage
            .query(Statement::new(
                "SELECT external_id, amount FROM settlements ORDER BY id",
            ))
            .await
            .unwrap();
        let seen: Vec<(String, Decimal)> = rows
            .iter()
            .map(|r| (r.get("external_id").unwrap(), r.get("amount").unwrap()))
            .collect();
        assert_eq!(seen, [("ext-1".to_owned(), dec("10"))], "{url:?}");
    }
}

#[tokio::test]
async fn multi_row_inserts_write_many_rows_in_one_statement() {
    for url in backends("multi_row_inserts_write_many_rows_in_one_statement") {
        let opened = open(url.as_deref(), TEST_MIGRATIONS).await;
        let rows = (0..500)
            .map(|i| vec![format!("ext-{i}").into(), Decimal::new(i, 2).into()])
            .collect();
        let statement = Statement::insert_rows("settlements", &["external_id", "amount"], rows, "").unwrap();
        opened.storage.write(statement).await.unwrap();
        let rows = opened
            .storage
            .query(Statement::new("SELECT amount FROM settlements ORDER BY id"))
            .await
            .unwrap();
        let total: Decimal = rows.iter().map(|r| r.get::<Decimal>("amount").unwrap()).sum();
        assert_eq!(rows.len(), 500);
        assert_eq!(total, dec("1247.50"), "{url:?}");
    }
}

#[tokio::test]
async fn an_instance_cannot_read_or_write_another_instances_tables() {
    let Some(url) = database_url("an_instance_cannot_read_or_write_another_instances_tables") else {
        return;
    };
    let a = open(Some(&url), TEST_MIGRATIONS).await;
    let b = open(Some(&url), TEST_MIGRATIONS).await;
    b.storage
        .write(Statement::new(
            "INSERT INTO settlements (external_id, amount) VALUES ('secret', 1)",
        ))
        .await
        .unwrap();
    let from_a = a
        .storage
        .query(Statement::new(format!(
            "SELECT external_id FROM {}.settlements",
            b.schema
        )))
        .await
        .unwrap_err()
        .to_string();
    assert!(from_a.contains("permission denied"), "{from_a}");
    let into_b = a
        .storage
        .write(Statement::new(format!(
            "INSERT INTO {}.settlements (external_id, amount) VALUES ('x', 1)",
            b.schema
        )))
        .await
        .unwrap_err()
        .to_string();
    assert!(into_b.contains("permission denied"), "{into_b}");
    // The boundary is the server's: A's connections logged in as A's role, so stepping out of a
    // role changes nothing (an instance that only `SET ROLE` could `RESET ROLE` and read B).
    let escaped = a
        .storage
        .write(
            WriteBatch::new()
                .with(Statement::new("RESET ROLE"))
                .with(Statement::new(format!(
                    "INSERT INTO {}.settlements (external_id, amount) VALUES ('escaped', 1)",
                    b.schema
                ))),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(escaped.contains("permission denied"), "{escaped}");
    let who = a
        .storage
        .query(Statement::new("SELECT session_user::text AS who"))
        .await
        .unwrap();
    let who: String = who[0].get("who").unwrap();
    assert_eq!(who, format!("tse_{}", a.schema), "the session's login user");
    assert_eq!(
        a.storage.isolation(),
        Some(Isolation::Login(format!("tse_{}", a.schema)))
    );
    // Unqualified names are A's own tables.
    let own = a
        .storage
        .query(Statement::new("SELECT external_id FROM settlements"))
        .await
        .unwrap();
    assert!(own.is_empty());
}

#[tokio::test]
async fn embedded_instances_keep_a_file_each() {
    let a = open(None, TEST_MIGRATIONS).await;
    let b = open(None, TEST_MIGRATIONS).await;
    a.storage
        .write(Statement::new(
            "INSERT INTO settlements (external_id, amount) VALUES ('only-a', 1)",
        ))
        .await
        .unwrap();
    let in_b = b
        .storage
        .query(Statement::new("SELECT external_id FROM settlements"))
        .await
        .unwrap();
    assert!(in_b.is_empty());
    assert_ne!(a.storage.description(), b.storage.description());
    assert!(a.storage.description().ends_with("tse.sqlite"));
}

/// A `DATABASE_URL` user that may not create roles still gets a working store: isolation falls back
/// to `search_path` alone, and says so.
#[tokio::test]
async fn a_login_user_that_may_not_create_roles_falls_back_to_search_path_isolation() {
    use sqlx::Connection;
    let Some(url) =
        database_url("a_login_user_that_may_not_create_roles_falls_back_to_search_path_isolation")
    else {
        return;
    };
    let user = format!("tse_plain_{}", std::process::id());
    let run = |sql: String| {
        let url = url.clone();
        async move {
            let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&mut conn)
                .await
                .unwrap();
        }
    };
    run(format!(
        "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{user}') THEN
           CREATE ROLE \"{user}\" LOGIN NOCREATEROLE; END IF; END $$;
         GRANT CREATE ON DATABASE test TO \"{user}\";"
    ))
    .await;
    let plain = url::Url::parse(&url).map(|mut u| {
        u.set_username(&user).unwrap();
        u.to_string()
    });
    let plain = plain.unwrap();
    let opened = open(Some(&plain), TEST_MIGRATIONS).await;
    assert_eq!(opened.storage.isolation(), Some(Isolation::SearchPath));
    opened
        .storage
        .write(Statement::new(
            "INSERT INTO settlements (external_id, amount) VALUES ('plain', 1)",
        ))
        .await
        .unwrap();
    let rows = opened
        .storage
        .query(Statement::new("SELECT external_id FROM settlements"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    drop(opened);
    run(format!(
        "REVOKE CREATE ON DATABASE test FROM \"{user}\"; DROP OWNED BY \"{user}\"; DROP ROLE \"{user}\";"
    ))
    .await;
}

#[tokio::test]
async fn the_supervisor_stops_at_once_while_the_database_hangs() {
    // A server that accepts connections and never answers: every attempt to reach it hangs until
    // its timeout (3 s to get a connection).
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let overrides = ServeOverrides {
        service: Some("custodian-simulator".into()),
        instance: Some(unique_instance("custodian")),
        data_dir: Some(dir.path().to_owned()),
        ..Default::default()
    };
    let url = format!("postgres://postgres@{addr}/test");
    let env: BTreeMap<&str, &str> = [("DATABASE_URL", url.as_str())].into();
    let config = InstanceConfig::load(&overrides, &env).unwrap();
    let health = Health::new(config.identity.clone(), "test", "test".into());
    let gauge = prometheus::IntGauge::new("up", "up").unwrap();
    let storage = Storage::open(
        &config,
        Vec::new(),
        &prometheus::Registry::new(),
        Dependency::new("postgres", health, gauge),
    )
    .await
    .expect("storage opens without the database");
    let stop = tokio_util::sync::CancellationToken::new();
    let supervisor = tokio::spawn(
        storage
            .clone()
            .supervise(std::time::Duration::from_millis(200), stop.clone()),
    );
    // The supervisor's first attempt is now waiting for the silent server.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(!storage.is_available());
    let asked = std::time::Instant::now();
    stop.cancel();
    tokio::time::timeout(std::time::Duration::from_secs(10), supervisor)
        .await
        .expect("the supervisor returns")
        .unwrap();
    let took = asked.elapsed();
    // Before, the attempt ran to its timeout first: about 2.5 s more.
    assert!(
        took < std::time::Duration::from_secs(1),
        "the supervisor took {took:?} to stop"
    );
    storage.close().await;
    silent.abort();
}

#[tokio::test]
async fn every_write_outcome_is_counted_from_zero() {
    let dir = tempfile::tempdir().unwrap();
    let overrides = ServeOverrides {
        service: Some("custodian-simulator".into()),
        instance: Some(unique_instance("custodian")),
        data_dir: Some(dir.path().to_owned()),
        ..Default::default()
    };
    let config = InstanceConfig::load(&overrides, &BTreeMap::new()).unwrap();
    let health = Health::new(config.identity.clone(), "test", "test".into());
    let registry = prometheus::Registry::new();
    let gauge = prometheus::IntGauge::new("up", "up").unwrap();
    let storage = Storage::open(
        &config,
        Vec::new(),
        &registry,
        Dependency::new("postgres", health, gauge),
    )
    .await
    .unwrap();
    let families = registry.gather();
    let writes = families
        .iter()
        .find(|f| f.name() == "tse_storage_writes_total")
        .expect("tse_storage_writes_total is exported");
    let outcomes: BTreeMap<String, f64> = writes
        .get_metric()
        .iter()
        .map(|m| (m.get_label()[0].value().to_owned(), m.get_counter().get_value()))
        .collect();
    let expected: BTreeMap<String, f64> = ["committed", "spooled", "replayed", "dead"]
        .into_iter()
        .map(|o| (o.to_owned(), 0.0))
        .collect();
    assert_eq!(outcomes, expected);
    storage.close().await;
}
