//! The back doors: offline, reject transfers, settlement delay, partial settlement; their effects
//! are in the outbox, caused by the injection.

use std::time::Duration;

use serde_json::json;

use crate::support::{
    FAST, account, balances, clear, custodian, d, eventually, fund, inject, post, settled, submit, trade,
};

/// `(event_type, causation_id)` of the outbox rows of `event_type`.
async fn caused(app: &tse_testing::app::TestApp, event_type: &str) -> Vec<Option<String>> {
    use sqlx::Row;
    app.sqlite_rows(&format!(
        "SELECT causation_id FROM _tse_outbox WHERE event_type = '{event_type}'"
    ))
    .await
    .iter()
    .map(|r| r.get::<Option<String>, _>("causation_id"))
    .collect()
}

#[tokio::test]
async fn offline_closes_the_api_and_holds_settlements_until_it_ends() {
    let app = custodian(FAST).await;
    let a = account(&app).await;
    fund(&app, &a, "USD", "1000").await;
    let s = submit(&app, trade("t-1", &a, "BUY", "1", "100", "T+1")).await;
    let fault = inject(&app, json!({"kind": "offline"})).await;
    let (status, body) = app.get_json(&format!("/api/v1/accounts/{a}")).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (503, Some("custodian_unavailable"))
    );
    // Two settlement days pass: it stays pending while offline.
    tokio::time::sleep(Duration::from_millis(2_200)).await;
    clear(&app, fault["id"].as_str().unwrap()).await;
    let (_, now) = app
        .get_json(&format!("/api/v1/settlements/{}", s["id"].as_str().unwrap()))
        .await;
    assert!(
        now["status"] == "PENDING" || now["status"] == "COMPLETED",
        "{now}"
    );
    let done = settled(&app, s["id"].as_str().unwrap(), "COMPLETED").await;
    let due = done["due_at"].as_str().unwrap();
    let finished = done["finished_at"].as_str().unwrap();
    assert!(
        finished > due,
        "settled late, after the outage: due {due}, finished {finished}"
    );
}

#[tokio::test]
async fn rejected_transfers_are_refused_and_recorded_with_their_cause() {
    let app = custodian(FAST).await;
    let (a, b) = (account(&app).await, account(&app).await);
    fund(&app, &a, "USD", "1000").await;
    let fault = inject(&app, json!({"kind": "reject_transfers", "duration": "1h"})).await;
    let (status, body) = post(
        &app,
        "/api/v1/transfers",
        json!({"from_account_id": a, "to_account_id": b, "asset": "USD", "amount": 10}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("transfer_rejected")),
        "{body}"
    );
    let (status, _) = post(
        &app,
        &format!("/api/v1/accounts/{a}/withdrawals"),
        json!({"asset": "USD", "amount": 10}),
    )
    .await;
    assert_eq!(status, 422);
    // A request the books refuse anyway is not the fault's effect.
    let (status, body) = post(
        &app,
        "/api/v1/transfers",
        json!({"from_account_id": a, "to_account_id": b, "asset": "USD", "amount": 5000}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("insufficient_balance")),
        "{body}"
    );
    let (status, body) = post(
        &app,
        &format!("/api/v1/accounts/{b}/withdrawals"),
        json!({"asset": "DOGE", "amount": 10}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("unknown_asset"))
    );
    assert_eq!(balances(&app, &a).await["USD"], (d("1000"), d("0")));
    let causes = caused(&app, "custody.transfer_rejected").await;
    let injected: String = {
        use sqlx::Row;
        let rows = app
            .sqlite_rows("SELECT id FROM _tse_outbox WHERE event_type = 'fault.injected'")
            .await;
        rows[0].get("id")
    };
    assert!(
        causes.iter().all(|c| c.as_deref() == Some(injected.as_str())),
        "{causes:?} caused by {injected}"
    );
    clear(&app, fault["id"].as_str().unwrap()).await;
    let (status, _) = post(
        &app,
        "/api/v1/transfers",
        json!({"from_account_id": a, "to_account_id": b, "asset": "USD", "amount": 10}),
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_delay_holds_settlements_of_its_type_only() {
    let app = custodian(FAST).await;
    let a = account(&app).await;
    fund(&app, &a, "USD", "1000").await;
    fund(&app, &a, "ETH", "10").await;
    let fault = inject(
        &app,
        json!({"kind": "settlement_delay", "params": {"delay": "3h", "types": ["trade"]}}),
    )
    .await;
    let held = submit(&app, trade("t-1", &a, "BUY", "1", "100", "T+0")).await;
    let net = submit(&app, json!({"external_id": "n-1", "account_id": a, "type": "NET", "legs": [{"asset": "ETH", "amount": "-1"}]})).await;
    settled(&app, net["id"].as_str().unwrap(), "COMPLETED").await;
    let (_, s) = app
        .get_json(&format!("/api/v1/settlements/{}", held["id"].as_str().unwrap()))
        .await;
    assert_eq!(s["status"], "PENDING", "held by the delay: {s}");
    eventually(Duration::from_secs(10), "a settlement.delayed event", || async {
        (!caused(&app, "settlement.delayed").await.is_empty()).then_some(())
    })
    .await;
    // Three simulated hours later it settles, fault or not.
    let done = settled(&app, held["id"].as_str().unwrap(), "COMPLETED").await;
    assert!(done["finished_at"].as_str() > done["due_at"].as_str());
    clear(&app, fault["id"].as_str().unwrap()).await;
}

#[tokio::test]
async fn a_partial_settlement_moves_part_and_the_rest_after_the_fault() {
    let app = custodian(FAST).await;
    let a = account(&app).await;
    fund(&app, &a, "USD", "1000").await;
    let fault = inject(
        &app,
        json!({"kind": "partial_settlement", "params": {"fraction": 0.5}}),
    )
    .await;
    let s = submit(&app, trade("t-1", &a, "BUY", "2", "100", "T+0")).await;
    let id = s["id"].as_str().unwrap().to_owned();
    let part = eventually(Duration::from_secs(10), "a partial settlement", || async {
        let (_, s) = app.get_json(&format!("/api/v1/settlements/{id}")).await;
        (s["legs"][0]["settled"] == "1").then_some(s)
    })
    .await;
    assert_eq!(part["status"], "PENDING");
    let b = balances(&app, &a).await;
    assert_eq!(b["BTC"], (d("1"), d("0")), "half the base leg moved");
    assert_eq!(
        b["USD"],
        (d("799"), d("100.5")),
        "half the payment left, half still locked"
    );
    assert_eq!(caused(&app, "settlement.partially_settled").await.len(), 1);
    assert!(caused(&app, "settlement.partially_settled").await[0].is_some());
    clear(&app, fault["id"].as_str().unwrap()).await;
    settled(&app, &id, "COMPLETED").await;
    let b = balances(&app, &a).await;
    assert_eq!(b["BTC"], (d("2"), d("0")));
    assert_eq!(b["USD"], (d("799"), d("0")));
    let (_, positions) = app.get_json(&format!("/api/v1/accounts/{a}/positions")).await;
    assert_eq!(positions["positions"][0]["quantity"], "2");
    let metrics = app.metrics().await;
    assert_eq!(
        tse_testing::app::sample(
            &metrics,
            "custodian_settlements_total",
            &[("status", "partial"), ("type", "trade")]
        ),
        Some(1.0)
    );
    assert_eq!(
        tse_testing::app::sample(
            &metrics,
            "custodian_faults_active",
            &[("kind", "partial_settlement")]
        ),
        Some(0.0)
    );
}
