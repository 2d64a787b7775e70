//! Starting exchange instances (alone, or with a market data instance to follow) and talking to them.

use rust_decimal::Decimal;
use serde_json::{Value, json};
use tse_runtime::discovery::Registry;
use tse_testing::app::{TestApp, TestOptions, spawn_with, unique_instance};

pub const TOKEN: &str = "test-admin-token";

/// Settings of an exchange without its liquidity provider: books hold only what tests put there.
pub const QUIET: &str = "[liquidity]\nenabled = false";

pub fn options(settings: &str) -> TestOptions {
    TestOptions {
        admin_token: Some(TOKEN),
        settings: Some(settings.parse().expect("settings TOML")),
        instance: Some(unique_instance("exchange")),
        ..Default::default()
    }
}

/// An exchange with `settings`, its back door open to [`TOKEN`].
pub async fn exchange(settings: &str) -> TestApp {
    spawn_with(tse_exchange::service(), options(settings)).await
}

/// A market data instance and an exchange following it through one registry.
pub async fn exchange_with_market(settings: &str) -> (TestApp, TestApp) {
    let registry = Registry::embedded();
    let market = spawn_with(
        tse_market_data::service(),
        TestOptions {
            registry: Some(registry.clone()),
            clock_speed: Some("60"),
            instance: Some(unique_instance("market-data")),
            settings: Some("tick_interval = \"1s\"".parse().unwrap()),
            ..Default::default()
        },
    )
    .await;
    let exchange = spawn_with(
        tse_exchange::service(),
        TestOptions {
            registry: Some(registry),
            clock_speed: Some("60"),
            ..options(settings)
        },
    )
    .await;
    (market, exchange)
}

pub use tse_testing::app::eventually;

async fn answer(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

pub async fn post(app: &TestApp, path: &str, body: Value) -> (u16, Value) {
    app.post_json(path, body).await
}

/// Posts `body` as written: JSON numbers keep every digit (a `Value` would hold them as `f64`).
pub async fn post_text(app: &TestApp, path: &str, body: String) -> (u16, Value) {
    answer(
        app.client
            .post(format!("{}{path}", app.http))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

pub async fn patch(app: &TestApp, path: &str, body: Value) -> (u16, Value) {
    answer(
        app.client
            .patch(format!("{}{path}", app.http))
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

pub async fn delete(app: &TestApp, path: &str) -> (u16, Value) {
    answer(
        app.client
            .delete(format!("{}{path}", app.http))
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// Opens an account; returns its id.
pub async fn account(app: &TestApp) -> String {
    let (status, body) = post(app, "/api/v1/accounts", json!({ "entity": "tests" })).await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

/// Deposits `amount` of `asset`.
pub async fn fund(app: &TestApp, account: &str, asset: &str, amount: &str) {
    let (status, body) = post(
        app,
        &format!("/api/v1/accounts/{account}/deposits"),
        json!({ "asset": asset, "amount": amount }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

/// Places an order; asserts it was accepted (201) and returns `{order, trades}`.
pub async fn place(app: &TestApp, order: Value) -> Value {
    let (status, body) = post(app, "/api/v1/orders", order).await;
    assert_eq!(status, 201, "{body}");
    body
}

/// A limit order body.
pub fn limit(account: &str, symbol: &str, side: &str, price: &str, quantity: &str) -> Value {
    json!({
        "account_id": account,
        "symbol": symbol,
        "side": side,
        "type": "LIMIT",
        "price": price,
        "quantity": quantity,
    })
}

/// Balances of an account by asset: (available, locked).
pub async fn balances(
    app: &TestApp,
    account: &str,
) -> std::collections::BTreeMap<String, (Decimal, Decimal)> {
    let (status, body) = app
        .get_json(&format!("/api/v1/accounts/{account}/balances"))
        .await;
    assert_eq!(status, 200, "{body}");
    body["balances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["asset"].as_str().unwrap().to_owned(),
                (dec(&b["available"]), dec(&b["locked"])),
            )
        })
        .collect()
}

pub use tse_testing::app::{d, dec};

/// Injects a fault through the back door.
pub async fn inject(app: &TestApp, fault: Value) -> Value {
    app.inject_fault(TOKEN, fault).await
}

/// Clears a fault.
pub async fn clear(app: &TestApp, id: &str) {
    app.clear_fault(TOKEN, id).await;
}
