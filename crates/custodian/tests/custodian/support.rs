//! Starting custodian instances and talking to them.

use rust_decimal::Decimal;
use serde_json::{Value, json};
use tse_testing::app::{TestApp, TestOptions, spawn_with, unique_instance};

pub use tse_testing::app::{eventually, sample};

pub const TOKEN: &str = "test-admin-token";

/// Settlement days of one simulated hour on a clock 3600 times real time: T+1 is a wall second.
pub const FAST: &str = "settlement_day = \"1h\"";
pub const FAST_CLOCK: &str = "3600";

pub fn options(settings: &str) -> TestOptions {
    TestOptions {
        admin_token: Some(TOKEN),
        settings: Some(settings.parse().expect("settings TOML")),
        instance: Some(unique_instance("custodian")),
        clock_speed: Some(FAST_CLOCK),
        ..Default::default()
    }
}

/// A custodian with `settings` on the fast clock, its back door open to [`TOKEN`].
pub async fn custodian(settings: &str) -> TestApp {
    spawn_with(tse_custodian::service(), options(settings)).await
}

pub async fn post(app: &TestApp, path: &str, body: Value) -> (u16, Value) {
    app.post_json(path, body).await
}

/// Posts `body` as written: JSON numbers keep every digit (a `Value` would hold them as `f64`).
pub async fn post_text(app: &TestApp, path: &str, body: String) -> (u16, Value) {
    let response = app
        .client
        .post(format!("{}{path}", app.http))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
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

/// A TRADE instruction body.
pub fn trade(
    external_id: &str,
    account: &str,
    side: &str,
    quantity: &str,
    price: &str,
    cycle: &str,
) -> Value {
    json!({
        "external_id": external_id,
        "account_id": account,
        "type": "TRADE",
        "symbol": "BTC-USD",
        "side": side,
        "quantity": quantity,
        "price": price,
        "fee": "1",
        "cycle": cycle,
    })
}

/// Submits an instruction; asserts it was accepted as new and returns the settlement.
pub async fn submit(app: &TestApp, instruction: Value) -> Value {
    let (status, body) = post(app, "/api/v1/settlements", instruction).await;
    assert_eq!(status, 201, "{body}");
    body
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

/// Waits until settlement `id` has `status`; returns it.
pub async fn settled(app: &TestApp, id: &str, status: &str) -> Value {
    eventually(
        std::time::Duration::from_secs(20),
        &format!("{id} {status}"),
        || async {
            let (_, s) = app.get_json(&format!("/api/v1/settlements/{id}")).await;
            (s["status"] == status).then_some(s)
        },
    )
    .await
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
