//! The back door: authentication, validation, and what each fault does to the feed, in simulated time.

use std::time::Duration;

use serde_json::{Value, json};
use sqlx::Row;
use tse_proto::marketdata::v1::GetPriceRequest;
use tse_testing::app::{TestOptions, sample, spawn_with};

use crate::support::{TOKEN, decimal, eventually, market, price, sqlite_rows};

async fn inject(app: &tse_testing::app::TestApp, fault: Value) -> Value {
    app.inject_fault(TOKEN, fault).await
}

/// Waits until the feed has stored a tick after fault `id` ended. The fault's expiry is recorded on
/// the clock, while a feed behind the clock (a loaded machine) publishes and stores the ticks under
/// the fault later; ticks, their events and the feed's state are stored together and in order, so
/// once a tick past the end is stored, so is everything produced under the fault.
async fn stored_past(app: &tse_testing::app::TestApp, id: &str) {
    eventually(
        Duration::from_secs(60),
        "ticks stored past the fault's end",
        || async {
            let rows = sqlite_rows(
                app,
                &format!(
                    "SELECT COUNT(*) AS n FROM ticks \
                 WHERE sim_time > (SELECT ends_at FROM _tse_faults WHERE id = '{id}')"
                ),
            )
            .await;
            (rows[0].get::<i64, _>("n") > 0).then_some(())
        },
    )
    .await;
}

async fn fault(app: &tse_testing::app::TestApp, id: &str) -> Value {
    let (status, body) = app
        .admin(
            app.client.get(format!("{}/chaos/v1/faults/{id}", app.http)),
            TOKEN,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test]
async fn the_back_door_needs_the_admin_token() {
    let app = market("1", "").await;
    let url = format!("{}/chaos/v1/faults", app.http);
    let missing = app.client.get(&url).send().await.unwrap();
    assert_eq!(missing.status(), 401);
    assert_eq!(missing.headers()["www-authenticate"], "Bearer");
    let (status, body) = app.admin(app.client.get(&url), "wrong-token-value").await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "unauthorized");
    let (status, body) = app.admin(app.client.get(&url), TOKEN).await;
    assert_eq!(status, 200);
    assert_eq!(body["faults"], json!([]));

    let closed = spawn_with(tse_market_data::service(), TestOptions::default()).await;
    let (status, body) = closed
        .admin(
            closed.client.get(format!("{}/chaos/v1/faults", closed.http)),
            TOKEN,
        )
        .await;
    assert_eq!(status, 403);
    assert_eq!(body["error"]["code"], "back_doors_closed");
}

#[tokio::test]
async fn invalid_fault_requests_are_refused_with_a_reason() {
    let app = market("1", "").await;
    let url = format!("{}/chaos/v1/faults", app.http);
    for (body, code) in [
        (json!({"kind": "meteor"}), "unknown_fault_kind"),
        (
            json!({"kind": "depeg", "params": {"symbol": "BTC-USD", "deviation": -5}}),
            "invalid_fault",
        ),
        (
            json!({"kind": "price_shock", "params": {"symbol": "BTC-USD", "percent": -200}}),
            "invalid_fault",
        ),
        (
            json!({"kind": "outage", "duration": "forever"}),
            "invalid_duration",
        ),
        (json!({"kind": "outage", "duration": "0s"}), "invalid_duration"),
        (json!({"kind": "outage", "colour": "red"}), "invalid_json"),
    ] {
        let (status, answer) = app.admin(app.client.post(&url).json(&body), TOKEN).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!(answer["error"]["code"], code, "{body}: {answer}");
    }
    let (status, _) = app
        .admin(
            app.client
                .post(&url)
                .body("{not json")
                .header("content-type", "application/json"),
            TOKEN,
        )
        .await;
    assert_eq!(status, 400);
    let (status, answer) = app
        .admin(app.client.delete(format!("{url}/fault-nope")), TOKEN)
        .await;
    assert_eq!(status, 404);
    assert_eq!(answer["error"]["code"], "unknown_fault");
    let (_, listed) = app.admin(app.client.get(&url), TOKEN).await;
    assert_eq!(listed["faults"], json!([]), "nothing was injected");
}

#[tokio::test]
async fn a_36_hour_depeg_moves_the_peg_5_percent_and_is_recorded() {
    // One tick per simulated minute at 100,000x: 36 hours take about 1.3 s of wall time.
    let app = market("100000", "tick_interval = \"1m\"").await;
    eventually(Duration::from_secs(5), "a first price", || async {
        (app.get_json("/api/v1/prices/USDT-USD").await.0 == 200).then_some(())
    })
    .await;
    let injected = inject(
        &app,
        json!({"kind": "depeg", "params": {"deviation": -5}, "duration": "36h"}),
    )
    .await;
    assert_eq!(injected["kind"], "depeg");
    assert_eq!(injected["status"], "active");
    assert_eq!(injected["duration"], "1d12h");
    let id = injected["id"].as_str().unwrap().to_owned();
    let metrics = app.metrics().await;
    assert_eq!(
        sample(&metrics, "market_data_faults_active", &[("kind", "depeg")]),
        Some(1.0)
    );

    let ended = eventually(Duration::from_secs(30), "the depeg to run its course", || async {
        let f = fault(&app, &id).await;
        (f["status"] == "expired").then_some(f)
    })
    .await;
    assert_eq!(ended["ended_at"], ended["ends_at"]);
    stored_past(&app, &id).await;
    // One snapshot of every price: the legs and crosses of the same tick.
    let (_, all) = app.get_json("/api/v1/prices").await;
    let of = |symbol: &str| {
        decimal(
            &all["prices"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["symbol"] == symbol)
                .unwrap()["price"],
        )
    };
    let usdt = of("USDT-USD");
    assert!((usdt - 0.95).abs() < 0.002, "USDT-USD at {usdt}");
    let (eth, eth_usdt) = (of("ETH-USD"), of("ETH-USDT"));
    assert!(
        (eth_usdt - eth / usdt).abs() <= 0.005,
        "the cross follows its depegged leg: {eth_usdt} vs {eth} / {usdt}"
    );
    let metrics = app.metrics().await;
    assert_eq!(
        sample(&metrics, "market_data_faults_active", &[("kind", "depeg")]),
        Some(0.0)
    );

    // The injection, the expiry, and every tick produced under the fault are in the outbox.
    let injection_event = eventually(Duration::from_secs(5), "the events to be stored", || async {
        let rows = sqlite_rows(&app, "SELECT id, event_type FROM _tse_outbox ORDER BY seq").await;
        let types: Vec<String> = rows.iter().map(|r| r.get::<String, _>("event_type")).collect();
        (types.iter().any(|t| t == "fault.expired")).then(|| {
            assert_eq!(types[0], "fault.injected");
            rows[0].get::<String, _>("id")
        })
    })
    .await;
    let under = sqlite_rows(
        &app,
        "SELECT causation_id, payload FROM _tse_outbox WHERE event_type = 'market.tick_under_fault'",
    )
    .await;
    // 36 hours of one-minute ticks, for USDT-USD and its two crosses.
    assert!(under.len() >= 3 * 2_000, "{} ticks under the fault", under.len());
    assert!(
        under
            .iter()
            .all(|r| r.get::<String, _>("causation_id") == injection_event)
    );
    let payload: Value = serde_json::from_str(&under.last().unwrap().get::<String, _>("payload")).unwrap();
    assert_eq!(payload["faults"], json!([id]));
    assert!(payload.get("undisturbed_price").is_some());
    // The production feed itself says nothing about faults.
    let public = price(&app, "USDT-USD").await;
    assert_eq!(public.as_object().unwrap().len(), 4, "{public}");
}

#[tokio::test]
async fn a_price_shock_moves_the_leg_and_its_crosses_then_recovers() {
    // One simulated hour (shock and recovery) in about a second of wall time, a tick per second.
    let app = market("3600", "tick_interval = \"1s\"").await;
    eventually(Duration::from_secs(5), "a first price", || async {
        (app.get_json("/api/v1/prices/BTC-USD").await.0 == 200).then_some(())
    })
    .await;
    let shock = inject(
        &app,
        json!({"kind": "price_shock", "params": {"symbol": "BTC-USD", "percent": -15, "recovery": "30m"}, "duration": "30m"}),
    )
    .await;
    let id = shock["id"].as_str().unwrap().to_owned();
    assert!(
        shock["ends_at"].as_str().is_some(),
        "ends after duration + recovery"
    );
    eventually(Duration::from_secs(20), "shock and recovery", || async {
        (fault(&app, &id).await["status"] == "expired").then_some(())
    })
    .await;
    stored_past(&app, &id).await;
    let rows = sqlite_rows(
        &app,
        "SELECT payload FROM _tse_outbox WHERE event_type = 'market.tick_under_fault'",
    )
    .await;
    let ratios: Vec<(String, f64)> = rows
        .iter()
        .map(|r| {
            let p: Value = serde_json::from_str(&r.get::<String, _>("payload")).unwrap();
            (
                p["symbol"].as_str().unwrap().to_owned(),
                decimal(&p["price"]) / decimal(&p["undisturbed_price"]),
            )
        })
        .collect();
    let deepest = ratios
        .iter()
        .filter(|(s, _)| s == "BTC-USD")
        .map(|(_, r)| *r)
        .fold(f64::MAX, f64::min);
    assert!(
        (0.849..0.851).contains(&deepest),
        "the shock reaches 15 % and no deeper: {deepest}"
    );
    assert!(
        ratios.iter().any(|(s, _)| s == "BTC-ETH"),
        "crosses of the leg are shaped too"
    );
    assert!(
        !ratios.iter().any(|(s, _)| s == "ETH-USD"),
        "other legs are untouched"
    );
}

#[tokio::test]
async fn a_stale_feed_freezes_prices_while_sequences_advance() {
    let app = market("600", "").await;
    eventually(Duration::from_secs(5), "a first price", || async {
        (app.get_json("/api/v1/prices/ETH-USD").await.0 == 200).then_some(())
    })
    .await;
    let stale = inject(
        &app,
        json!({"kind": "stale_feed", "params": {"symbols": ["ETH-USD"]}}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let a = price(&app, "ETH-USD").await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let b = price(&app, "ETH-USD").await;
    assert_eq!(a["price"], b["price"], "frozen");
    assert!(
        b["sequence"].as_u64() > a["sequence"].as_u64(),
        "still publishing"
    );
    let url = format!("{}/chaos/v1/faults/{}", app.http, stale["id"].as_str().unwrap());
    let (status, cleared) = app.admin(app.client.delete(&url), TOKEN).await;
    assert_eq!(status, 200);
    assert_eq!(cleared["status"], "cleared");
    let moved = eventually(Duration::from_secs(10), "the price to move again", || async {
        let now = price(&app, "ETH-USD").await;
        (now["price"] != b["price"]).then_some(now)
    })
    .await;
    assert!(moved["sequence"].as_u64() > b["sequence"].as_u64());
}

#[tokio::test]
async fn an_outage_makes_the_feed_unavailable_until_cleared() {
    let app = market("600", "").await;
    eventually(Duration::from_secs(5), "a first price", || async {
        (app.get_json("/api/v1/prices/BTC-USD").await.0 == 200).then_some(())
    })
    .await;
    let before = price(&app, "BTC-USD").await["sequence"].as_u64().unwrap();
    let stream = app
        .client
        .get(format!("{}/api/v1/stream", app.http))
        .send()
        .await
        .unwrap();
    let outage = inject(&app, json!({"kind": "outage"})).await;
    let (status, body) = app.get_json("/api/v1/prices").await;
    assert_eq!(status, 503);
    assert_eq!(body["error"]["code"], "feed_unavailable");
    let grpc = app.market_data_client().await;
    let refused = grpc
        .get_price(GetPriceRequest {
            symbol: "BTC-USD".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unavailable);
    // The open stream ends.
    let rest = tokio::time::timeout(Duration::from_secs(5), stream.text()).await;
    assert!(rest.is_ok(), "the stream ended");
    let health = app
        .wait_health(Duration::from_secs(5), |h| {
            h["checks"]["feed"]["status"] == "down"
        })
        .await;
    assert_eq!(health["status"], "degraded");

    let url = format!("{}/chaos/v1/faults", app.http);
    let (status, cleared) = app.admin(app.client.delete(&url), TOKEN).await;
    assert_eq!(status, 200);
    assert_eq!(cleared["cleared"][0]["id"], outage["id"]);
    let after = eventually(Duration::from_secs(5), "prices again", || async {
        let (status, body) = app.get_json("/api/v1/prices/BTC-USD").await;
        (status == 200 && body["sequence"].as_u64().unwrap() > before + 1).then_some(body)
    })
    .await;
    assert!(after["sequence"].as_u64().unwrap() > before);
    app.wait_health(Duration::from_secs(5), |h| h["status"] == "healthy")
        .await;
}
