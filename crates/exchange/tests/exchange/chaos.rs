//! The back door: each fault kind's effect on the production API, its gauge, and its trace in the
//! outbox.

use std::time::{Duration, Instant};

use serde_json::json;
use sqlx::Row;
use tonic::Code;
use tse_proto::exchange::v1::ListSymbolsRequest;
use tse_testing::app::sample;

use crate::support::{QUIET, TOKEN, account, clear, delete, exchange, fund, inject, limit, place, post};

#[tokio::test]
async fn downtime_answers_503_and_unavailable_until_cleared() {
    let app = exchange(QUIET).await;
    let fault = inject(&app, json!({ "kind": "downtime", "duration": "10m" })).await;
    let (status, body) = app.get_json("/api/v1/symbols").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (503, Some("exchange_unavailable"))
    );
    let (status, _) = post(&app, "/api/v1/accounts", json!({})).await;
    assert_eq!(status, 503);
    let client = app.exchange_client().await;
    let refused = client.list_symbols(ListSymbolsRequest {}).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unavailable);
    // The instance itself is up: health and the back door still answer.
    let (status, _) = app.get_json("/api/v1/health").await;
    assert_eq!(status, 200);
    let metrics = app.metrics().await;
    assert_eq!(
        sample(&metrics, "exchange_faults_active", &[("kind", "downtime")]),
        Some(1.0)
    );

    clear(&app, fault["id"].as_str().unwrap()).await;
    let (status, _) = app.get_json("/api/v1/symbols").await;
    assert_eq!(status, 200);
    client.list_symbols(ListSymbolsRequest {}).await.unwrap();
    let metrics = app.metrics().await;
    assert_eq!(
        sample(&metrics, "exchange_faults_active", &[("kind", "downtime")]),
        Some(0.0)
    );
}

#[tokio::test]
async fn rejections_and_halts_make_rejected_orders_traced_to_the_fault() {
    let app = exchange(QUIET).await;
    let trader = account(&app).await;
    fund(&app, &trader, "USD", "100000").await;
    let resting = place(&app, limit(&trader, "BTC-USD", "BUY", "50000", "0.1")).await;
    let resting_id = resting["order"]["id"].as_str().unwrap().to_owned();

    let fault = inject(
        &app,
        json!({ "kind": "reject_orders", "params": { "fraction": 1.0, "symbols": ["btc-usd"] } }),
    )
    .await;
    let rejected = place(&app, limit(&trader, "BTC-USD", "BUY", "50000", "0.1")).await;
    assert_eq!(rejected["order"]["status"], "REJECTED");
    assert_eq!(rejected["order"]["reason"], "rejected by the venue");
    let elsewhere = place(&app, limit(&trader, "ETH-USD", "BUY", "1000", "1")).await;
    assert_eq!(elsewhere["order"]["status"], "NEW", "other symbols trade on");
    clear(&app, fault["id"].as_str().unwrap()).await;

    let halt = inject(
        &app,
        json!({ "kind": "symbol_halt", "params": { "symbols": ["BTC-USD"] } }),
    )
    .await;
    let halted = place(&app, limit(&trader, "BTC-USD", "BUY", "50000", "0.1")).await;
    assert_eq!(halted["order"]["status"], "REJECTED");
    assert_eq!(halted["order"]["reason"], "trading is halted on BTC-USD");
    let (status, cancelled) = delete(&app, &format!("/api/v1/orders/{resting_id}")).await;
    assert_eq!(
        (status, cancelled["status"].as_str()),
        (200, Some("CANCELLED")),
        "cancels still work"
    );
    clear(&app, halt["id"].as_str().unwrap()).await;
    let again = place(&app, limit(&trader, "BTC-USD", "BUY", "50000", "0.1")).await;
    assert_eq!(again["order"]["status"], "NEW");

    // In the outbox, each rejection is caused by its fault's injection.
    let rows = app
        .sqlite_rows(
            "SELECT r.causation_id AS cause, i.id AS injection, json_extract(i.payload, '$.kind') AS kind \
         FROM _tse_outbox r JOIN _tse_outbox i ON i.id = r.causation_id \
         WHERE r.event_type = 'order.rejected' ORDER BY r.seq",
        )
        .await;
    let kinds: Vec<String> = rows.iter().map(|r| r.get::<String, _>("kind")).collect();
    assert_eq!(kinds, ["reject_orders", "symbol_halt"]);
    let placed = app
        .sqlite_rows(
        "SELECT COUNT(*) AS n FROM _tse_outbox WHERE event_type = 'order.placed' AND trace_id LIKE '%:order:%'",
    )
    .await;
    assert_eq!(placed[0].get::<i64, _>("n"), 3);
}

#[tokio::test]
async fn latency_slows_the_chosen_operations() {
    let app = exchange(QUIET).await;
    let trader = account(&app).await;
    fund(&app, &trader, "USD", "1000").await;
    inject(
        &app,
        json!({ "kind": "latency", "params": { "delay": "400ms", "operations": ["place"] } }),
    )
    .await;
    let started = Instant::now();
    place(&app, limit(&trader, "BTC-USD", "BUY", "100", "1")).await;
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "placing waited the injected delay"
    );
}

/// A stop does not wait out a latency fault's delay (up to 60 s): the waiting request is answered
/// 503 at once and the instance stops promptly (before, the drain waited 10 s and gave up).
#[tokio::test]
async fn a_stop_does_not_wait_out_a_latency_fault() {
    let mut app = exchange(QUIET).await;
    let trader = account(&app).await;
    inject(
        &app,
        json!({ "kind": "latency", "params": { "delay": "60s", "operations": ["query"] } }),
    )
    .await;
    let url = format!("{}/api/v1/accounts/{trader}/balances", app.http);
    let waiting = tokio::spawn(async move { reqwest::get(url).await.map(|r| r.status().as_u16()) });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let asked = Instant::now();
    app.stop().await.unwrap();
    let took = asked.elapsed();
    assert!(took < Duration::from_secs(5), "stopping took {took:?}");
    let status = waiting.await.unwrap();
    assert!(matches!(status, Ok(503)), "{status:?}");
}

#[tokio::test]
async fn invalid_faults_are_refused_naming_the_problem() {
    let app = exchange(QUIET).await;
    for (fault, needle) in [
        (
            json!({ "kind": "reject_orders", "params": { "fraction": 2 } }),
            "fraction",
        ),
        (
            json!({ "kind": "symbol_halt", "params": { "symbols": ["DOGE-USD"] } }),
            "DOGE-USD",
        ),
        (
            json!({ "kind": "latency", "params": { "delay": "soon" } }),
            "delay",
        ),
        (json!({ "kind": "meteor", "params": {} }), "meteor"),
    ] {
        let (status, body) = app
            .admin(
                app.client
                    .post(format!("{}/chaos/v1/faults", app.http))
                    .json(&fault),
                TOKEN,
            )
            .await;
        assert_eq!(status, 400, "{fault} → {body}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(needle),
            "{fault} → {body}"
        );
    }
}
