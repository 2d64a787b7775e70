//! Degradation without loss, for real: a fault-injecting proxy between the instance and the real
//! PostgreSQL or Redis cuts every connection; the instance keeps serving, reports the truth in health,
//! readiness and metrics, spools what it must write, and delivers it in order, exactly once, when the
//! server is reachable again.

use std::time::Duration;

use redis::AsyncCommands;

use crate::probe;
use tse_testing::app::{TestApp, TestOptions, sample, spawn_with, unique_instance};
use tse_testing::{
    proxy::{FaultProxy, target_of, through},
    servers::{PgGuard, RedisGuard, database_url, pg_strings, redis_connection, redis_url},
};

const LIMIT: Duration = Duration::from_secs(20);

async fn write(app: &TestApp, n: i64) -> String {
    let response = app
        .client
        .post(format!("{}/probe/{n}", app.http))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "write {n}");
    response.text().await.unwrap()
}

async fn rows(app: &TestApp) -> (u16, serde_json::Value) {
    app.get_json("/probe").await
}

async fn assert_degraded(app: &TestApp, dependency: &str) {
    let health = app
        .wait_health(LIMIT, |h| h["checks"][dependency]["status"] == "down")
        .await;
    assert_eq!(health["status"], "degraded", "{health}");
    let ready = app.get("/api/v1/ready").await;
    assert_eq!(ready.status(), 503);
    let body: serde_json::Value = ready.json().await.unwrap();
    let reasons = body["reasons"].to_string();
    assert!(reasons.contains(dependency), "{reasons}");
    let metrics = app.metrics().await;
    assert_eq!(
        sample(&metrics, "tse_dependency_up", &[("dependency", dependency)]),
        Some(0.0)
    );
}

async fn assert_recovered(app: &TestApp, dependency: &str) {
    let health = app
        .wait_health(LIMIT, |h| h["status"] == "healthy" && h["ready"] == true)
        .await;
    assert_eq!(health["checks"][dependency]["status"], "up");
    let metrics = app.metrics().await;
    assert_eq!(
        sample(&metrics, "tse_dependency_up", &[("dependency", dependency)]),
        Some(1.0)
    );
}

#[tokio::test]
async fn a_postgres_outage_spools_writes_and_delivers_them_in_order_exactly_once() {
    let Some(url) = database_url("a_postgres_outage_spools_writes_and_delivers_them_in_order_exactly_once")
    else {
        return;
    };
    let proxy = FaultProxy::start(target_of(&url)).await;
    let app = spawn_with(
        probe::service(),
        TestOptions {
            database_url: Some(through(&url, &proxy)),
            interval: Some("200ms"),
            ..Default::default()
        },
    )
    .await;
    let _guard = PgGuard::new(&url, &app.schema());
    for n in 0..10 {
        assert_eq!(write(&app, n).await, "committed");
    }
    // Health says how the instance is kept to its schema: its own login role.
    let (_, health) = app.get_json("/api/v1/health").await;
    let isolation = health["backends"]["postgres_isolation"]
        .as_str()
        .unwrap_or_default();
    assert!(
        isolation.starts_with(&format!("login role tse_{} ", app.schema())),
        "{health}"
    );

    proxy.cut();
    let mut outcomes = Vec::new();
    for n in 10..30 {
        outcomes.push(write(&app, n).await);
    }
    assert!(outcomes.iter().all(|o| o == "spooled"), "{outcomes:?}");
    assert_degraded(&app, "postgres").await;
    let (status, _) = rows(&app).await;
    assert_eq!(status, 503, "reads say the database is unavailable");
    let metrics = app.metrics().await;
    assert_eq!(sample(&metrics, "tse_storage_spool_pending", &[]), Some(20.0));

    proxy.restore();
    assert_recovered(&app, "postgres").await;
    for n in 30..35 {
        assert_eq!(write(&app, n).await, "committed");
    }
    let (status, body) = rows(&app).await;
    assert_eq!(status, 200);
    let seen: Vec<i64> = serde_json::from_value(body).unwrap();
    assert_eq!(seen, (0..35).collect::<Vec<_>>(), "every write once, in order");
    let in_database = pg_strings(
        &url,
        &format!(
            "SELECT string_agg(n::text, ',' ORDER BY id) FROM {}.probe",
            app.schema()
        ),
    )
    .await;
    assert_eq!(
        in_database[0],
        (0..35).map(|n| n.to_string()).collect::<Vec<_>>().join(",")
    );
    let metrics = app.metrics().await;
    assert_eq!(
        sample(&metrics, "tse_storage_writes_total", &[("outcome", "replayed")]),
        Some(20.0)
    );
    assert_eq!(sample(&metrics, "tse_storage_spool_pending", &[]), Some(0.0));
}

#[tokio::test]
async fn an_instance_starts_while_postgres_is_down_and_catches_up_when_it_returns() {
    let Some(url) = database_url("an_instance_starts_while_postgres_is_down_and_catches_up_when_it_returns")
    else {
        return;
    };
    let proxy = FaultProxy::start(target_of(&url)).await;
    proxy.cut();
    let app = spawn_with(
        probe::service(),
        TestOptions {
            database_url: Some(through(&url, &proxy)),
            interval: Some("200ms"),
            ..Default::default()
        },
    )
    .await;
    let _guard = PgGuard::new(&url, &app.schema());
    assert_degraded(&app, "postgres").await;
    for n in 0..5 {
        assert_eq!(write(&app, n).await, "spooled");
    }
    proxy.restore();
    assert_recovered(&app, "postgres").await;
    let (_, body) = rows(&app).await;
    assert_eq!(serde_json::from_value::<Vec<i64>>(body).unwrap(), [0, 1, 2, 3, 4]);
}

#[tokio::test]
async fn spooled_writes_survive_a_restart_and_arrive_after_it() {
    let Some(url) = database_url("spooled_writes_survive_a_restart_and_arrive_after_it") else {
        return;
    };
    let proxy = FaultProxy::start(target_of(&url)).await;
    let data = tempfile::tempdir().unwrap();
    let instance = unique_instance("exchange");
    let options = TestOptions {
        database_url: Some(through(&url, &proxy)),
        interval: Some("200ms"),
        instance: Some(instance),
        data_dir: Some(data.path().to_owned()),
        ..Default::default()
    };
    let mut first = spawn_with(probe::service(), options.clone()).await;
    let _guard = PgGuard::new(&url, &first.schema());
    assert_eq!(write(&first, 1).await, "committed");
    proxy.cut();
    assert_eq!(write(&first, 2).await, "spooled");
    assert_eq!(write(&first, 3).await, "spooled");
    first.stop().await.expect("stops cleanly with writes spooled");

    proxy.restore();
    let second = spawn_with(probe::service(), options).await;
    assert_recovered(&second, "postgres").await;
    let (_, body) = rows(&second).await;
    assert_eq!(serde_json::from_value::<Vec<i64>>(body).unwrap(), [1, 2, 3]);
}

#[tokio::test]
async fn a_redis_outage_keeps_the_cache_answering_and_replays_it_afterwards() {
    let Some(url) = redis_url("a_redis_outage_keeps_the_cache_answering_and_replays_it_afterwards") else {
        return;
    };
    let proxy = FaultProxy::start(target_of(&url)).await;
    let instance = unique_instance("exchange");
    let _guard = RedisGuard {
        url: url.clone(),
        patterns: vec![
            format!("services:*:{instance}"),
            format!("{}:*", instance.replace('-', ":")),
        ],
    };
    let app = spawn_with(
        probe::service(),
        TestOptions {
            redis_url: Some(through(&url, &proxy)),
            interval: Some("200ms"),
            instance: Some(instance.clone()),
            ..Default::default()
        },
    )
    .await;
    let put = |key: &'static str, value: &'static str| {
        let request = app.client.put(format!("{}/kv/{key}", app.http)).body(value);
        async move { assert_eq!(request.send().await.unwrap().status(), 200) }
    };
    put("before", "1").await;
    put("doomed", "x").await;

    proxy.cut();
    put("during", "2").await;
    let deleted = app
        .client
        .delete(format!("{}/kv/doomed", app.http))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 200);
    assert_degraded(&app, "redis").await;
    let during = app.get("/kv/during").await;
    assert_eq!(
        during.text().await.unwrap(),
        "2",
        "reads see what was written during the outage"
    );

    proxy.restore();
    assert_recovered(&app, "redis").await;
    let mut raw = redis_connection(&url).await;
    let namespace = instance.replace('-', ":");
    let during: Option<String> = raw.get(format!("{namespace}:during")).await.unwrap();
    assert_eq!(during.as_deref(), Some("2"), "the outage write reached Redis");
    let doomed: Option<String> = raw.get(format!("{namespace}:doomed")).await.unwrap();
    assert_eq!(doomed, None, "the outage delete reached Redis");
    let before: Option<String> = raw.get(format!("{namespace}:before")).await.unwrap();
    assert_eq!(before.as_deref(), Some("1"));
    let key = format!("services:exchange-simulator:{instance}");
    assert!(
        raw.exists::<_, bool>(&key).await.unwrap(),
        "registered again after the outage"
    );
}
