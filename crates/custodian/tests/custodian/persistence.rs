//! The books are stored: a restarted instance has every account, balance, position and settlement,
//! pending settlements still settle on their cycle, ids continue. On PostgreSQL and Redis (the second
//! seed's integration suite, with nothing deferred): storage initialised with every repository, the
//! create/read/update round trips of balances, positions and settlements, a cache round trip with
//! TTL, discovery, and two instances `custodian-sim-001` / `custodian-sim-002` side by side with
//! fully separate data.

use std::time::Duration;

use serde_json::json;
use tse_runtime::{
    cache::Cache,
    config::SecretUrl,
    discovery::Registry,
    health::{Dependency, Health},
    identity::{Identity, ServiceKind},
};
use tse_testing::{
    app::{TestApp, TestOptions, eventually, sample, spawn_with},
    servers::{PgGuard, RedisGuard, database_url, pg_strings, redis_connection, redis_url},
};

use crate::support::{FAST, account, balances, d, dec, fund, options, settled, submit, trade};

/// Builds state on `app`: two accounts, a settled trade (a position), a pending T+2 trade (a lock).
async fn some_books(app: &TestApp) -> (String, String, String) {
    let (a, b) = (account(app).await, account(app).await);
    fund(app, &a, "USD", "10000").await;
    fund(app, &b, "BTC", "3").await;
    let done = submit(app, trade("t-1", &a, "BUY", "1", "1000", "T+0")).await;
    settled(app, done["id"].as_str().unwrap(), "COMPLETED").await;
    let pending = submit(app, trade("t-2", &a, "BUY", "2", "1000", "T+2")).await;
    (a, b, pending["id"].as_str().unwrap().to_owned())
}

async fn check_restored(app: &TestApp, a: &str, b: &str, pending: &str) {
    assert_eq!(balances(app, a).await["USD"], (d("6998"), d("2001")));
    assert_eq!(balances(app, b).await["BTC"], (d("3"), d("0")));
    // The balance gauge is set from the restored books, before any new activity.
    let gauge = |metrics: &str, account: &str, currency: &str| {
        sample(
            metrics,
            "custodian_balance",
            &[("account", account), ("currency", currency)],
        )
    };
    let restored = eventually(Duration::from_secs(5), "the balance gauge restored", || async {
        let metrics = app.metrics().await;
        Some((gauge(&metrics, a, "USD")?, gauge(&metrics, b, "BTC")?))
    })
    .await;
    assert_eq!(restored, (8999.0, 3.0));
    let (_, positions) = app.get_json(&format!("/api/v1/accounts/{a}/positions")).await;
    assert_eq!(dec(&positions["positions"][0]["quantity"]), d("1"));
    // The same instruction is still known; a new one gets the next id.
    let (status, again) = crate::support::post(
        app,
        "/api/v1/settlements",
        trade("t-2", a, "BUY", "2", "1000", "T+2"),
    )
    .await;
    assert_eq!((status, again["id"].as_str()), (200, Some(pending)));
    let next = submit(app, trade("t-3", a, "SELL", "0.5", "1000", "T+0")).await;
    assert_eq!(next["id"], "stl-3");
    let account = crate::support::post(app, "/api/v1/accounts", json!({})).await.1;
    assert_eq!(account["id"], "cust-3");
    // The pending one settles on its cycle after the restart; the position updates.
    settled(app, pending, "COMPLETED").await;
    settled(app, "stl-3", "COMPLETED").await;
    let (_, positions) = app.get_json(&format!("/api/v1/accounts/{a}/positions")).await;
    assert_eq!(dec(&positions["positions"][0]["quantity"]), d("2.5"));
}

#[tokio::test]
async fn on_sqlite_the_books_survive_a_restart() {
    // One registry for both runs: the second adopts the first's simulated clock, as instances of one
    // ecosystem do, so due times keep their meaning across the restart.
    let opts = TestOptions {
        registry: Some(Registry::embedded()),
        ..options(FAST)
    };
    let mut first = spawn_with(tse_custodian::service(), opts.clone()).await;
    let (a, b, pending) = some_books(&first).await;
    first.stop().await.unwrap();
    let second = spawn_with(
        tse_custodian::service(),
        TestOptions {
            data_dir: Some(first.data_dir.clone()),
            ..opts
        },
    )
    .await;
    check_restored(&second, &a, &b, &pending).await;
}

#[tokio::test]
async fn an_instance_waiting_for_its_database_stops_promptly() {
    // A port nothing listens on: the database is unreachable, so the books wait to be restored.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut app = spawn_with(
        tse_custodian::service(),
        TestOptions {
            database_url: Some(format!("postgres://postgres@{closed}/test")),
            ..options(FAST)
        },
    )
    .await;
    let health = app
        .wait_health(Duration::from_secs(5), |h| {
            h["checks"]["books"]["status"] == "down"
        })
        .await;
    assert!(
        health["checks"]["books"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("waiting for the database")),
        "{health}"
    );
    let asked = std::time::Instant::now();
    app.stop().await.unwrap();
    let took = asked.elapsed();
    // Before, the task waiting for the database ignored the stop until the host gave up on it (10 s).
    assert!(took < Duration::from_secs(5), "stopping took {took:?}");
}

#[tokio::test]
async fn books_changed_behind_the_custodians_back_are_reported_not_served() {
    let opts = options(FAST);
    let mut first = spawn_with(tse_custodian::service(), opts.clone()).await;
    let a = account(&first).await;
    fund(&first, &a, "USD", "100").await;
    first.stop().await.unwrap();
    {
        use sqlx::Connection;
        let path = first.data_dir.join("tse.sqlite");
        let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        sqlx::query("UPDATE balances SET available = '1000000' WHERE asset = 'USD'")
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let second = spawn_with(
        tse_custodian::service(),
        TestOptions {
            data_dir: Some(first.data_dir.clone()),
            ..opts
        },
    )
    .await;
    let health = second
        .wait_health(Duration::from_secs(10), |h| {
            h["checks"]["books"]["status"] == "down"
        })
        .await;
    let reason = health["checks"]["books"]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("USD: balances total 1000000, deposits less withdrawals 100"),
        "{health}"
    );
    let (status, body) = second.get_json(&format!("/api/v1/accounts/{a}/balances")).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (503, Some("custodian_restoring")),
        "{body}"
    );
}

#[tokio::test]
async fn two_named_instances_on_postgres_and_redis_keep_separate_books() {
    let test = "two_named_instances_on_postgres_and_redis_keep_separate_books";
    let (Some(db), Some(redis)) = (database_url(test), redis_url(test)) else {
        return;
    };
    let _pg = (
        PgGuard::new(&db, "custodian_sim_001"),
        PgGuard::new(&db, "custodian_sim_002"),
    );
    // An ecosystem of this test's own: its own fast clock, not one another test left at real-time
    // speed in the shared Redis.
    let environment = format!("custodian-{}", std::process::id());
    let _redis = RedisGuard {
        url: redis.clone(),
        patterns: vec![
            "services:*:custodian-sim-00*".into(),
            "custodian:sim:001:*".into(),
            "custodian:sim:002:*".into(),
            tse_runtime::discovery::clock_key(&environment),
        ],
    };
    let named = |name: &'static str| TestOptions {
        database_url: Some(db.clone()),
        redis_url: Some(redis.clone()),
        instance: Some(name.to_owned()),
        environment: Some(environment.clone()),
        ..options(FAST)
    };
    let mut one = spawn_with(tse_custodian::service(), named("custodian-sim-001")).await;
    let two = spawn_with(tse_custodian::service(), named("custodian-sim-002")).await;

    // Storage initialised with every repository, in each instance's own schema.
    let tables = |schema: &str| {
        format!(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = '{schema}' \
             AND table_name NOT LIKE '\\_tse%' ORDER BY table_name"
        )
    };
    let expected = [
        "accounts",
        "balances",
        "external_totals",
        "pnl_cursors",
        "positions",
        "settlements",
    ];
    assert_eq!(pg_strings(&db, &tables("custodian_sim_001")).await, expected);
    assert_eq!(pg_strings(&db, &tables("custodian_sim_002")).await, expected);

    // Create, read, update: balances (deposit, lock), settlements (pending → completed), positions.
    let (a, b, pending) = some_books(&one).await;
    assert_eq!(
        pg_strings(&db, "SELECT available::text || '/' || locked::text FROM custodian_sim_001.balances WHERE account_id = 'cust-1' AND asset = 'USD'").await,
        ["6998/2001"]
    );
    assert_eq!(
        pg_strings(
            &db,
            "SELECT status FROM custodian_sim_001.settlements ORDER BY number"
        )
        .await,
        ["COMPLETED", "PENDING"]
    );
    assert_eq!(
        pg_strings(&db, "SELECT quantity::text FROM custodian_sim_001.positions WHERE account_id = 'cust-1' AND symbol = 'BTC-USD'").await,
        ["1"]
    );
    // The other instance sees none of it.
    assert_eq!(
        pg_strings(&db, "SELECT count(*)::text FROM custodian_sim_002.accounts").await,
        ["0"]
    );
    let (status, _) = two.get_json(&format!("/api/v1/accounts/{a}")).await;
    assert_eq!(status, 404, "{a} lives in custodian-sim-001 only");
    let c = account(&two).await;
    assert_eq!(c, "cust-1", "ids are per instance");
    assert_eq!(
        pg_strings(&db, "SELECT count(*)::text FROM custodian_sim_001.accounts").await,
        ["2"]
    );

    // Discovery: both registered in Redis with their own schema and namespace.
    let registry = Registry::redis(&SecretUrl::parse("REDIS_URL", &redis, &["redis"]).unwrap()).unwrap();
    let found = tse_testing::app::eventually(Duration::from_secs(10), "both registered", || async {
        let all = registry.by_service(ServiceKind::CustodianSimulator).await.ok()?;
        let mine: Vec<_> = all
            .into_iter()
            .filter(|r| r.instance.as_str().starts_with("custodian-sim-00"))
            .map(|r| (r.instance.to_string(), r.schema, r.redis_namespace))
            .collect();
        (mine.len() == 2).then_some(mine)
    })
    .await;
    assert!(found.contains(&(
        "custodian-sim-001".into(),
        "custodian_sim_001".into(),
        "custodian:sim:001".into()
    )));
    assert!(found.contains(&(
        "custodian-sim-002".into(),
        "custodian_sim_002".into(),
        "custodian:sim:002".into()
    )));

    // The cache in the instance's namespace: set, get, TTL expiry, delete.
    let identity = Identity::new(
        ServiceKind::CustodianSimulator,
        Some("custodian-sim-001"),
        None,
        None,
    )
    .unwrap();
    let health = Health::new(identity.clone(), "test", "test".into());
    let cache = Cache::redis(
        identity.redis_namespace().clone(),
        &SecretUrl::parse("REDIS_URL", &redis, &["redis"]).unwrap(),
        Dependency::new("redis", health, prometheus::IntGauge::new("up", "up").unwrap()),
        None,
    )
    .unwrap();
    assert!(cache.connect().await);
    cache
        .set("balances:cust-1", "6998", Some(Duration::from_millis(300)))
        .await
        .unwrap();
    cache.set("positions:cust-1", "1", None).await.unwrap();
    assert_eq!(
        cache.get("balances:cust-1").await.unwrap(),
        Some(b"6998".to_vec())
    );
    let mut raw = redis_connection(&redis).await;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("custodian:sim:001:*")
        .query_async(&mut raw)
        .await
        .unwrap();
    assert!(
        keys.contains(&"custodian:sim:001:balances:cust-1".to_owned()),
        "{keys:?}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(cache.get("balances:cust-1").await.unwrap(), None, "expired");
    assert!(cache.delete("positions:cust-1").await.unwrap());
    assert_eq!(cache.get("positions:cust-1").await.unwrap(), None);

    // A restart on PostgreSQL restores the books; the pending settlement still settles.
    one.stop().await.unwrap();
    let again = spawn_with(tse_custodian::service(), named("custodian-sim-001")).await;
    check_restored(&again, &a, &b, &pending).await;
    assert_eq!(
        pg_strings(
            &db,
            "SELECT status FROM custodian_sim_001.settlements ORDER BY number"
        )
        .await,
        ["COMPLETED", "COMPLETED", "COMPLETED"]
    );
    assert_eq!(
        pg_strings(&db, "SELECT count(*)::text FROM custodian_sim_002.settlements").await,
        ["0"]
    );
}
