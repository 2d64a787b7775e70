//! Each fault of the scenario library raises the alert that names it, with evidence; open alerts
//! resolve once the fault is gone; the lifecycle and the limits answer through the production API.

use std::time::Duration;

use serde_json::json;
use sqlx::Row as _;

use crate::support::{PATIENCE, TOKEN, eventually, options, sample, world};

#[tokio::test]
async fn a_depeg_raises_stablecoin_depeg_which_is_acknowledged_then_resolves() {
    let world = world().await;
    world.watching(false).await;
    // The two vendors quote the same market: nothing to report.
    assert!(world.alerts().await.is_empty(), "{:?}", world.alerts().await);

    // A market-wide depeg: every vendor shows it.
    let depeg =
        json!({"kind": "depeg", "params": {"symbol": "USDT-USD", "deviation": -5}, "duration": "10m"});
    let a = world.reference.inject_fault(TOKEN, depeg.clone()).await;
    let b = world.second.inject_fault(TOKEN, depeg).await;
    let alert = world.alert("stablecoin_depeg", "symbol", "USDT-USD").await;
    assert_eq!(alert["subject"]["asset"], "USDT", "{alert}");
    assert_eq!(alert["evidence"]["unit"], "bps", "{alert}");
    assert!(alert["evidence"]["observed"].as_f64().unwrap() >= 50.0, "{alert}");
    assert_eq!(
        alert["evidence"]["source"].as_str(),
        Some(world.reference.instance_name.as_str()),
        "the reference vendor's price breached: {alert}"
    );
    assert!(alert["evidence"]["data_at"].as_str().is_some(), "{alert}");
    assert!(alert["detected_at"].as_str().is_some() && alert["detected_at_wall"].as_str().is_some());
    let id = alert["id"].as_str().unwrap().to_owned();
    // It goes on to critical as the peg slips past 200 bps: the same alert, escalated.
    let critical = eventually(PATIENCE, "critical", || async {
        let (_, a) = world.monitor.get_json(&format!("/api/v1/alerts/{id}")).await;
        (a["severity"] == "critical").then_some(a)
    })
    .await;
    assert!(
        critical["evidence"]["observed"].as_f64().unwrap() >= 200.0,
        "{critical}"
    );

    let (status, acked) = world
        .monitor
        .post_json(&format!("/api/v1/alerts/{id}/acknowledge"), json!({}))
        .await;
    assert_eq!(
        (status, acked["status"].as_str()),
        (200, Some("ACKNOWLEDGED")),
        "{acked}"
    );

    // The fault is cleared: the peg holds again and the alert resolves.
    world
        .reference
        .clear_fault(TOKEN, a["id"].as_str().unwrap())
        .await;
    world.second.clear_fault(TOKEN, b["id"].as_str().unwrap()).await;
    let resolved = world.alert_status(&id, "RESOLVED").await;
    assert!(resolved["resolved_at"].as_str().is_some(), "{resolved}");
    let (status, body) = world
        .monitor
        .post_json(&format!("/api/v1/alerts/{id}/acknowledge"), json!({}))
        .await;
    assert_eq!(status, 409, "{body}");
    let all = world.alerts().await;
    assert_eq!(all.len(), 1, "one alert through its whole life: {all:?}");

    // Stored with its outbox events for the audit correlator, and counted.
    let rows = world
        .monitor
        .sqlite_rows("SELECT event_type FROM _tse_outbox WHERE event_type LIKE 'alert.%' ORDER BY seq")
        .await;
    let types: Vec<String> = rows.iter().map(|r| r.get("event_type")).collect();
    assert_eq!(
        types,
        [
            "alert.raised",
            "alert.escalated",
            "alert.acknowledged",
            "alert.resolved"
        ]
    );
    let metrics = world.monitor.metrics().await;
    assert_eq!(
        sample(
            &metrics,
            "risk_alerts_raised_total",
            &[("severity", "warning"), ("kind", "stablecoin_depeg")]
        ),
        Some(1.0)
    );
}

#[tokio::test]
async fn a_divergent_vendor_raises_price_divergence_naming_it() {
    let world = world().await;
    world.watching(false).await;
    world
        .second
        .inject_fault(
            TOKEN,
            json!({"kind": "divergence", "params": {"percent": 4, "symbols": ["BTC-USD"]}, "duration": "10m"}),
        )
        .await;
    let alert = world
        .alert("price_divergence", "venue", &world.second.instance_name)
        .await;
    // BTC-USD, or a cross that follows it (BTC-USDT, BTC-ETH).
    assert!(
        alert["subject"]["symbol"].as_str().unwrap().starts_with("BTC-"),
        "{alert}"
    );
    assert!(
        alert["evidence"]["observed"].as_f64().unwrap() >= 100.0,
        "{alert}"
    );
    assert!(
        alert["evidence"]["message"].as_str().unwrap().contains("BTC-"),
        "{alert}"
    );
}

#[tokio::test]
async fn a_crash_raises_drawdown_on_the_marked_holdings() {
    let world = world().await;
    world.fund_at_exchange(&[("BTC", "10"), ("USD", "100000")]).await;
    let before = world.watching(true).await;
    let equity = before["entities"][0]["equity_usd"].as_f64().unwrap();
    assert!(equity > 100_000.0, "{before}");
    // The monitor learns a new entity's book for 30 simulated and 2 wall seconds (its funding is
    // capital, not profit); the drawdown is measured from the peak after that.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    // 15 % across every vendor, over one simulated minute.
    let crash = json!({"kind": "price_shock", "params": {"symbols": ["BTC-USD", "ETH-USD"], "percent": -15}, "duration": "1m"});
    world.reference.inject_fault(TOKEN, crash.clone()).await;
    world.second.inject_fault(TOKEN, crash).await;
    let alert = world.alert("drawdown", "entity", &world.entity).await;
    assert_eq!(alert["evidence"]["unit"], "ratio", "{alert}");
    assert!(alert["evidence"]["observed"].as_f64().unwrap() >= 0.05, "{alert}");
    let critical = eventually(PATIENCE, "critical drawdown", || async {
        let (_, a) = world
            .monitor
            .get_json(&format!("/api/v1/alerts/{}", alert["id"].as_str().unwrap()))
            .await;
        (a["severity"] == "critical").then_some(a)
    })
    .await;
    assert!(
        critical["evidence"]["observed"].as_f64().unwrap() >= 0.10,
        "{critical}"
    );
    let (_, summary) = world.monitor.get_json("/api/v1/risk/summary").await;
    assert!(
        summary["entities"][0]["drawdown"].as_f64().unwrap() >= 0.10,
        "{summary}"
    );
}

#[tokio::test]
async fn exchange_downtime_raises_venue_health_and_resolves_when_it_is_back() {
    let world = world().await;
    world.fund_at_exchange(&[("USD", "1000")]).await;
    world.watching(true).await;
    let fault = world
        .exchange
        .inject_fault(TOKEN, json!({"kind": "downtime", "duration": "1h"}))
        .await;
    let alert = world
        .alert("venue_health", "venue", &world.exchange.instance_name)
        .await;
    assert_eq!(alert["subject"]["measure"], "errors", "{alert}");
    world
        .exchange
        .clear_fault(TOKEN, fault["id"].as_str().unwrap())
        .await;
    world
        .alert_status(alert["id"].as_str().unwrap(), "RESOLVED")
        .await;
}

#[tokio::test]
async fn a_settlement_held_past_its_due_time_raises_unsettled_exposure() {
    let world = world().await;
    let account = world
        .fund_at_custodian(&[("USD", "1000000"), ("BTC", "10")])
        .await;
    world.watching(true).await;
    world
        .custodian
        .inject_fault(
            TOKEN,
            json!({"kind": "settlement_delay", "params": {"delay": "6h"}, "duration": "1h"}),
        )
        .await;
    let (status, body) = world
        .custodian
        .post_json(
            "/api/v1/settlements",
            json!({"external_id": "risk-test-1", "account_id": account, "type": "TRADE", "symbol": "BTC-USD",
                   "side": "BUY", "quantity": "1", "price": "50000", "fee": "0", "cycle": "T+0"}),
        )
        .await;
    assert!(status < 300, "{body}");
    let alert = world
        .alert("unsettled_exposure", "venue", &world.custodian.instance_name)
        .await;
    assert_eq!(alert["subject"]["measure"], "overdue", "{alert}");
    assert!(alert["evidence"]["observed"].as_f64().unwrap() >= 30.0, "{alert}");
}

#[tokio::test]
async fn a_runaway_strategy_raises_order_rate() {
    let world = world().await;
    let exchange = world.exchange.instance_name.clone();
    let desk = tse_testing::app::spawn_with(
        tse_trading_system::service(),
        options(
            &world.registry,
            world.entity.clone(),
            &format!("[funding]\n\"{exchange}\" = {{ USD = \"1000000\", BTC = \"10\" }}\n"),
        ),
    )
    .await;
    world.watching(true).await;
    let quiet = world.alerts().await;
    assert!(quiet.is_empty(), "{quiet:?}");
    desk.inject_fault(
        TOKEN,
        json!({"kind": "runaway", "params": {"exchange": exchange, "rate": 100}, "duration": "10m"}),
    )
    .await;
    let alert = world.alert("order_rate", "entity", &world.entity).await;
    assert_eq!(alert["evidence"]["unit"], "per_second", "{alert}");
    assert!(alert["evidence"]["observed"].as_f64().unwrap() >= 5.0, "{alert}");
}

#[tokio::test]
async fn limits_are_validated_and_the_monitor_has_no_back_door() {
    let world = world().await;
    let (status, limits) = world.monitor.get_json("/api/v1/limits").await;
    assert_eq!(status, 200, "{limits}");
    assert_eq!(
        limits["order_rate"]["per_second"]["warning"], 5.0,
        "the settings' limits"
    );
    let put = |body: serde_json::Value| {
        world
            .monitor
            .client
            .put(format!("{}/api/v1/limits", world.monitor.http))
            .json(&body)
            .send()
    };
    let refused = put(json!({"order_rate": {"per_second": {"warning": 300, "critical": 200}}}))
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("order_rate.per_second"),
        "{body}"
    );
    let (_, unchanged) = world.monitor.get_json("/api/v1/limits").await;
    assert_eq!(unchanged, limits, "a bad limit changes nothing");
    let accepted = put(json!({"order_rate": {"per_second": {"warning": 7, "critical": 10}}}))
        .await
        .unwrap();
    assert_eq!(accepted.status(), 200);
    let (_, now) = world.monitor.get_json("/api/v1/limits").await;
    assert_eq!(now["order_rate"]["per_second"]["warning"], 7.0);

    // The monitor was started with the admin token in its environment: the host dropped it, and
    // there is no back door to open with it anyway.
    let chaos = world
        .monitor
        .client
        .get(format!("{}/chaos/v1/faults", world.monitor.http))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(chaos.status(), 404);
}
