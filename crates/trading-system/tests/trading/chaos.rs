//! The back door: a fault named after a chaos strategy runs it for the fault's duration; its
//! orders' events name the injection as their cause.

use std::time::Duration;

use serde_json::json;

use crate::support::{TOKEN, desk, eventually, sample, strategy, world};

#[tokio::test]
async fn runaway_multiplies_the_desk_order_rate_while_its_fault_lasts_and_stops_with_it() {
    let world = world().await;
    let okx = world.okx().to_owned();
    let settings = format!(
        "[funding]\n\"{okx}\" = {{ USD = \"1000000\", BTC = \"10\" }}\n\
         [[strategies]]\nname = \"mm\"\nkind = \"market_making\"\nexchanges = [\"{okx}\"]\nsymbols = [\"BTC-USD\"]\n\
         max_position = \"1\"\nmax_order_size = \"0.1\"\n"
    );
    let desk = desk(&world, &settings).await;
    let health = desk
        .wait_health(Duration::from_secs(20), |h| {
            h["checks"][okx.as_str()]["status"] == "up"
        })
        .await;
    assert_eq!(health["status"], "healthy", "{health}");

    // Bad faults are refused with the reason.
    let (status, body) = desk
        .admin(
            desk.client
                .post(format!("{}/chaos/v1/faults", desk.http))
                .json(&json!({"kind": "runaway", "params": {"exchange": "exchange-Nowhere"}})),
            TOKEN,
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("not one the desk trades on"), "{body}");
    let (status, body) = desk
        .admin(
            desk.client
                .post(format!("{}/chaos/v1/faults", desk.http))
                .json(&json!({"kind": "runaway", "params": {"rate": -5}})),
            TOKEN,
        )
        .await;
    assert_eq!(status, 400, "{body}");

    // 100 orders per simulated second for ten simulated minutes (ten wall seconds at 60x).
    let fault = desk
        .inject_fault(
            TOKEN,
            json!({"kind": "runaway", "params": {"exchange": okx, "symbol": "BTC-USD", "rate": 100}, "duration": "10m"}),
        )
        .await;
    let id = fault["id"].as_str().unwrap().to_owned();
    let running = eventually(Duration::from_secs(10), "runaway running", || async {
        let (status, s) = desk.get_json("/api/v1/strategies/runaway").await;
        (status == 200 && s["orders_submitted"].as_u64() > Some(200)).then_some(s)
    })
    .await;
    assert_eq!(
        (running["status"].as_str(), running["origin"].as_str()),
        (Some("RUNNING"), Some("fault")),
        "{running}"
    );
    assert_eq!(running["fault_id"], id.as_str());
    let mm = strategy(&desk, "mm").await["orders_submitted"].as_u64().unwrap();
    assert!(
        running["orders_submitted"].as_u64().unwrap() > 10 * mm.max(1),
        "runaway {running} vs mm {mm}"
    );

    // Its orders' events name the injection as their cause.
    let injected = desk
        .sqlite_rows("SELECT id FROM _tse_outbox WHERE event_type = 'fault.injected'")
        .await;
    use sqlx::Row as _;
    let injection: String = injected[0].get("id");
    let sql = format!(
        "SELECT COUNT(*) AS n FROM _tse_outbox WHERE event_type = 'trading.order_submitted' AND causation_id = '{injection}'"
    );
    eventually(
        Duration::from_secs(10),
        "orders caused by the injection in the outbox",
        || async { (desk.sqlite_rows(&sql).await[0].get::<i64, _>("n") > 100).then_some(()) },
    )
    .await;

    // Cleared: it stops, its orders are cancelled, and it sends no more.
    desk.clear_fault(TOKEN, &id).await;
    let stopped = eventually(Duration::from_secs(40), "runaway stopped", || async {
        let s = strategy(&desk, "runaway").await;
        (s["status"] == "STOPPED" && s["open_orders"] == 0).then_some(s)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = strategy(&desk, "runaway").await;
    assert_eq!(after["orders_submitted"], stopped["orders_submitted"], "{after}");
    let metrics = desk.metrics().await;
    assert_eq!(
        sample(&metrics, "trading_strategies_running", &[("strategy", "runaway")]),
        Some(0.0)
    );
}
