//! Starting market data instances and reading what they publish and store.

use serde_json::Value;
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

pub use tse_testing::app::eventually;

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
    app.sqlite_rows(sql).await
}
