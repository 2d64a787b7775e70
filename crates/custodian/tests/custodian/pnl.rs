//! Exchange P&L settlement: an entity's trades on an exchange become one EXCHANGE_PNL settlement
//! at its custodian per settlement point, settled on its cycle; a trade can be followed from the
//! fill to the settled balance; no trade is settled twice.

use std::time::Duration;

use serde_json::{Value, json};
use tse_runtime::discovery::Registry;
use tse_testing::app::{TestApp, TestOptions, spawn_with, unique_instance};

use crate::support::{d, dec, eventually, options, post, sample, settled};

const ENTITY: &str = "trading-system-T";

async fn exchange(registry: &Registry) -> TestApp {
    named_exchange(registry, unique_instance("exchange")).await
}

async fn named_exchange(registry: &Registry, name: String) -> TestApp {
    spawn_with(
        tse_exchange::service(),
        TestOptions {
            registry: Some(registry.clone()),
            clock_speed: Some(crate::support::FAST_CLOCK),
            instance: Some(name),
            settings: Some("[liquidity]\nenabled = false".parse().unwrap()),
            ..Default::default()
        },
    )
    .await
}

async fn exchange_account(app: &TestApp, entity: &str, asset: &str, amount: &str) -> String {
    let (status, body) = post(app, "/api/v1/accounts", json!({"entity": entity})).await;
    assert_eq!(status, 201, "{body}");
    let id = body["id"].as_str().unwrap().to_owned();
    let (status, body) = post(
        app,
        &format!("/api/v1/accounts/{id}/deposits"),
        json!({"asset": asset, "amount": amount}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    id
}

async fn order(app: &TestApp, account: &str, side: &str, price: &str, quantity: &str) -> Value {
    let (status, body) = post(
        app,
        "/api/v1/orders",
        json!({"account_id": account, "symbol": "BTC-USD", "side": side, "type": "LIMIT", "price": price, "quantity": quantity}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    body
}

#[tokio::test]
async fn an_exchange_fill_settles_at_the_custodian_on_its_cycle() {
    let registry = Registry::embedded();
    let okx = exchange(&registry).await;
    let name = okx.instance_name.clone();
    let custodian = spawn_with(
        tse_custodian::service(),
        TestOptions {
            registry: Some(registry.clone()),
            ..options(&format!(
                "settlement_day = \"1h\"\n[[clients]]\nentity = \"{ENTITY}\"\nexchanges = [\"{name}\"]\n\
                 cycle = \"T+1\"\nevery = \"10s\"\nfunding = {{ USD = \"1000000\" }}"
            ))
        },
    )
    .await;

    // The entity buys 0.3 BTC at 100,000 from a market maker; the maker's side is not the entity's.
    let maker = exchange_account(&okx, "maker", "BTC", "5").await;
    let ours = exchange_account(&okx, ENTITY, "USD", "100000").await;
    order(&okx, &maker, "SELL", "100000", "0.3").await;
    let fill = order(&okx, &ours, "BUY", "100000", "0.3").await;
    let trade = &fill["trades"][0];
    let trade_id = trade["id"].as_str().unwrap().to_owned();
    let fee = dec(&trade["buyer_fee"]);

    // Follow the trade: the settlement covering it at the custodian.
    let path = format!("/api/v1/settlements?exchange={name}&trade_id={trade_id}");
    let s = eventually(Duration::from_secs(20), "the P&L settlement", || async {
        let (_, page) = custodian.get_json(&path).await;
        page["settlements"].as_array().and_then(|a| a.first().cloned())
    })
    .await;
    assert_eq!(s["type"], "EXCHANGE_PNL");
    assert_eq!(s["cycle"], "T+1");
    assert_eq!(s["entity"], ENTITY);
    assert_eq!(s["trade_count"], 1);
    assert_eq!(
        s["external_id"],
        format!("pnl:{name}:{ENTITY}:{trade_id}-{trade_id}")
    );
    let account = s["account_id"].as_str().unwrap().to_owned();
    let id = s["id"].as_str().unwrap().to_owned();
    let done = settled(&custodian, &id, "COMPLETED").await;
    let legs: Vec<(String, rust_decimal::Decimal)> = done["legs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["asset"].as_str().unwrap().to_owned(), dec(&l["amount"])))
        .collect();
    assert_eq!(
        legs,
        vec![("BTC".into(), d("0.3")), ("USD".into(), -(d("30000") + fee))]
    );
    let (_, account_view) = custodian.get_json(&format!("/api/v1/accounts/{account}")).await;
    assert_eq!(account_view["entity"], ENTITY);
    let (_, b) = custodian
        .get_json(&format!("/api/v1/accounts/{account}/balances"))
        .await;
    let total = |asset: &str| {
        b["balances"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["asset"] == asset)
            .map(|x| dec(&x["total"]))
            .unwrap()
    };
    assert_eq!(total("BTC"), d("0.3"));
    let (_, positions) = custodian
        .get_json(&format!("/api/v1/accounts/{account}/positions"))
        .await;
    assert_eq!(positions["positions"][0]["symbol"], "BTC-USD", "{positions}");
    assert_eq!(dec(&positions["positions"][0]["quantity"]), d("0.3"));
    assert_eq!(dec(&positions["positions"][0]["average_cost"]), d("100000"));
    assert_eq!(total("USD"), d("1000000") - d("30000") - fee);

    // A second fill settles alone: the cursor moved past the first.
    order(&okx, &maker, "SELL", "101000", "0.1").await;
    let second = order(&okx, &ours, "BUY", "101000", "0.1").await;
    let second_id = second["trades"][0]["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/settlements?exchange={name}&trade_id={second_id}");
    let s2 = eventually(Duration::from_secs(20), "the second P&L settlement", || async {
        let (_, page) = custodian.get_json(&path).await;
        page["settlements"].as_array().and_then(|a| a.first().cloned())
    })
    .await;
    assert_eq!(s2["first_trade_id"], second_id.as_str());
    assert_ne!(s2["id"], s["id"]);
    settled(&custodian, s2["id"].as_str().unwrap(), "COMPLETED").await;
    let metrics = custodian.metrics().await;
    assert_eq!(
        sample(
            &metrics,
            "custodian_settlements_total",
            &[("status", "completed"), ("type", "exchange_pnl")]
        ),
        Some(2.0)
    );
    let (_, health) = custodian.get_json("/api/v1/health").await;
    assert_eq!(health["checks"]["exchange_pnl"]["status"], "up", "{health}");
}

#[tokio::test]
async fn an_unreachable_exchange_degrades_the_check_and_loses_nothing() {
    let custodian = spawn_with(
        tse_custodian::service(),
        options("[[clients]]\nentity = \"e\"\nexchanges = [\"exchange-Nowhere\"]\nevery = \"1s\""),
    )
    .await;
    let health = custodian
        .wait_health(Duration::from_secs(10), |h| {
            h["checks"]["exchange_pnl"]["status"] == "down"
        })
        .await;
    let reason = health["checks"]["exchange_pnl"]["reason"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(reason.contains("exchange-Nowhere is not registered"), "{health}");
    assert_eq!(health["status"], "degraded", "{health}");
}

#[tokio::test]
async fn a_missing_exchange_is_looked_for_again_soon_after_it_appears() {
    let registry = Registry::embedded();
    let name = unique_instance("exchange");
    let custodian = spawn_with(
        tse_custodian::service(),
        TestOptions {
            registry: Some(registry.clone()),
            ..options(&format!(
                "[[clients]]\nentity = \"{ENTITY}\"\nexchanges = [\"{name}\"]\nevery = \"1h\""
            ))
        },
    )
    .await;
    custodian
        .wait_health(Duration::from_secs(10), |h| {
            h["checks"]["exchange_pnl"]["status"] == "down"
        })
        .await;
    let failed = std::time::Instant::now();
    let _exchange = named_exchange(&registry, name).await;
    let started = std::time::Instant::now();
    custodian
        .wait_health(Duration::from_secs(10), |h| {
            h["checks"]["exchange_pnl"]["status"] == "up"
        })
        .await;
    let (appeared, found) = (started - failed, started.elapsed());
    // Retries that start at 10 ms and double find the exchange within about the time it took to
    // appear; a fixed retry after 1 s found it only a second after the first failure.
    assert!(
        found <= appeared + Duration::from_millis(300),
        "the exchange appeared {appeared:?} after the first failure and was found {found:?} later"
    );
}
