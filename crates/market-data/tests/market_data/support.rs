//! Starting market data instances and reading what they publish and store.

use std::time::{Duration, Instant};

use serde_json::Value;
use sqlx::Connection;
use tse_testing::app::{TestApp, TestOptions, spawn_with};

pub const TOKEN: &str = "test-admin-token";

/// A market data instance at `speed`, with the back door open to [`TOKEN`].
pub async fn market(speed: &'static str, settings: &str) -> TestApp {
    spawn_with(tse_market_data::service(), options(speed, settings)).await
}

pub fn options(speed: &'static str, settings: &str) -> TestOptions {
    TestOptions {
        clock_speed: Some(speed),
        admin_token: Some(TOKEN),
        settings: Some(settings.parse().expect("settings TOML")),
        instance: Some(tse_testing::app::unique_instance("market-data")),
        ..Default::default()
    }
}

/// Polls `probe` every 20 ms until it returns `Some`, for at most `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub async fn price(app: &TestApp, symbol: &str) -> Value {
    let (status, body) = app.get_json(&format!("/api/v1/prices/{symbol}")).await;
    assert_eq!(status, 200, "{body}");
    body
}

pub fn decimal(value: &Value) -> f64 {
    value.as_str().expect("decimal string").parse().expect("decimal")
}

/// Rows of a query on the instance's embedded database.
pub async fn sqlite_rows(app: &TestApp, sql: &str) -> Vec<sqlx::sqlite::SqliteRow> {
    let path = app.data_dir.join("tse.sqlite");
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}?mode=ro", path.display()))
        .await
        .expect("embedded database");
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_all(&mut conn)
        .await
        .expect("query")
}
