//! Ticks, candles and state are stored; a restarted instance continues its series.

use std::time::Duration;

use sqlx::Row;
use tse_testing::{
    app::{TestOptions, spawn_with},
    servers::{PgGuard, database_url, pg_strings},
};

use crate::support::{eventually, options, price, sqlite_rows};

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
