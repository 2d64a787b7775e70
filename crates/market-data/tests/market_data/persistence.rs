//! Ticks, candles and state are stored; a restarted instance continues its series.

use std::time::Duration;

use sqlx::Row;
use tse_testing::{
    app::{TestOptions, sample, spawn_with},
    servers::{PgGuard, database_url, pg_strings},
};

use crate::support::{TOKEN, eventually, options, price, sqlite_rows};

#[tokio::test]
async fn ticks_and_candles_are_stored_and_a_restart_continues_the_series() {
    let data = tempfile::tempdir().unwrap();
    let options = TestOptions {
        data_dir: Some(data.path().to_owned()),
        ..options("600", "seed = 11")
    };
    let mut first = spawn_with(tse_market_data::service(), options.clone()).await;
    let stored = eventually(Duration::from_secs(10), "stored ticks", || async {
        let rows = sqlite_rows(&first, "SELECT COUNT(*) AS n FROM ticks WHERE symbol = 'BTC-USD'").await;
        let n: i64 = rows[0].get("n");
        (n >= 20).then_some(n)
    })
    .await;
    assert!(stored >= 20);
    let candles = sqlite_rows(&first, "SELECT COUNT(*) AS n FROM candles").await;
    assert!(candles[0].get::<i64, _>("n") > 0);
    let last = price(&first, "BTC-USD").await;
    first.stop().await.unwrap();

    let second = spawn_with(tse_market_data::service(), options).await;
    let resumed = price(&second, "BTC-USD").await;
    assert!(
        resumed["sequence"].as_u64() >= last["sequence"].as_u64(),
        "the sequence continues: {last} then {resumed}"
    );
    let (_, candles) = second
        .get_json("/api/v1/candles/BTC-USD?interval=1s&limit=1000")
        .await;
    let restored = candles["candles"].as_array().unwrap().len();
    assert!(
        restored >= 20,
        "candles restored: {restored}, stored ticks {stored}: {last} then {resumed}"
    );
}

#[tokio::test]
async fn on_postgres_ticks_reach_the_instance_schema() {
    let Some(url) = database_url("on_postgres_ticks_reach_the_instance_schema") else {
        return;
    };
    let app = spawn_with(
        tse_market_data::service(),
        TestOptions {
            database_url: Some(url.clone()),
            ..options("600", "")
        },
    )
    .await;
    let _guard = PgGuard::new(&url, &app.schema());
    let counted = eventually(Duration::from_secs(10), "ticks in PostgreSQL", || {
        let url = url.clone();
        let schema = app.schema();
        async move {
            let n = pg_strings(&url, &format!("SELECT COUNT(*)::text FROM {schema}.ticks")).await;
            let n: i64 = n[0].parse().unwrap();
            (n >= 60).then_some(n)
        }
    })
    .await;
    assert!(counted >= 60);
    let state = pg_strings(
        &url,
        &format!(
            "SELECT (snapshot->>'tick')::text FROM {}.feed_state",
            app.schema()
        ),
    )
    .await;
    assert!(state[0].parse::<u64>().unwrap() >= 10);
}

#[tokio::test]
async fn a_feed_without_prices_is_not_ready_says_why_and_counts_from_zero() {
    // A real-time clock, so the fault injected in the first run is in the past for the second.
    let data = tempfile::tempdir().unwrap();
    let opts = TestOptions {
        data_dir: Some(data.path().to_owned()),
        ..options("1", "seed = 5")
    };
    let mut first = spawn_with(tse_market_data::service(), opts.clone()).await;
    let outage = first
        .inject_fault(TOKEN, serde_json::json!({"kind": "outage"}))
        .await;
    first.stop().await.unwrap();

    // Another tick interval: the saved state does not fit, so the feed starts afresh, and the
    // outage still in force keeps it from publishing anything.
    let second = spawn_with(
        tse_market_data::service(),
        TestOptions {
            settings: Some("seed = 5\ntick_interval = \"2s\"".parse().unwrap()),
            ..opts
        },
    )
    .await;
    let ready = second.get("/api/v1/ready").await;
    assert_eq!(ready.status(), 503);
    let body: serde_json::Value = ready.json().await.unwrap();
    let reasons = body["reasons"].to_string();
    assert!(
        reasons.contains("prices: no price published yet for BTC-USD, ETH-USD, USDT-USD"),
        "{body}"
    );
    let metrics = second.metrics().await;
    for symbol in [
        "BTC-USD", "ETH-USD", "USDT-USD", "BTC-ETH", "ETH-USDT", "BTC-USDT",
    ] {
        assert_eq!(
            sample(&metrics, "market_data_ticks_total", &[("symbol", symbol)]),
            Some(0.0),
            "market_data_ticks_total{{symbol={symbol}}}"
        );
    }

    second.clear_fault(TOKEN, outage["id"].as_str().unwrap()).await;
    eventually(Duration::from_secs(10), "ready once prices exist", || async {
        (second.get("/api/v1/ready").await.status() == 200).then_some(())
    })
    .await;
    let (status, all) = second.get_json("/api/v1/prices").await;
    assert_eq!(status, 200);
    assert_eq!(all["prices"].as_array().unwrap().len(), 6, "{all}");
}
