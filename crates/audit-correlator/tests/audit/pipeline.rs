//! The pipeline end to end: an exchange and a custodian ship their outboxes to the audit correlator
//! found through discovery; one order is followed from placement through its trade to the settlement
//! that carried it, and a fault injection to its effects — through the audit API only.

use std::time::Duration;

use serde_json::{Value, json};
use tse_runtime::discovery::Registry;
use tse_testing::app::{TestApp, TestOptions, eventually, sample, spawn_with, unique_instance};

use crate::support::ingest_env;

const TOKEN: &str = "test-admin-token";
const ENTITY: &str = "trading-system-A";

async fn post(app: &TestApp, path: &str, body: Value) -> Value {
    let response = app
        .client
        .post(format!("{}{path}", app.http))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{path}: {}", response.status());
    response.json().await.unwrap()
}

async fn audit(app: &TestApp, path: &str) -> Value {
    let (status, body) = app.get_json(path).await;
    assert_eq!(status, 200, "{path}: {body}");
    body
}

#[tokio::test]
async fn an_order_is_followed_to_its_settlement_and_a_fault_to_its_effects() {
    let registry = Registry::embedded();
    let shared = |instance: String, settings: &str| TestOptions {
        registry: Some(registry.clone()),
        instance: Some(instance),
        clock_speed: Some("3600"),
        admin_token: Some(TOKEN),
        settings: Some(settings.parse().unwrap()),
        ..Default::default()
    };
    let correlator = spawn_with(
        tse_audit_correlator::service(),
        shared(unique_instance("audit"), ""),
    )
    .await;
    let exchange_name = unique_instance("exchange");
    let exchange = spawn_with(
        tse_exchange::service(),
        shared(exchange_name.clone(), "[liquidity]\nenabled = false"),
    )
    .await;
    let custodian = spawn_with(
        tse_custodian::service(),
        shared(
            unique_instance("custodian"),
            &format!(
                "settlement_day = \"1h\"\n[[clients]]\nentity = \"{ENTITY}\"\nexchanges = [\"{exchange_name}\"]\n\
                 every = \"10s\"\nfunding = {{ USD = \"1000000\" }}"
            ),
        ),
    )
    .await;

    // A fill of the entity, and an order refused by an injected halt.
    let maker = post(&exchange, "/api/v1/accounts", json!({"entity": "maker"})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let ours = post(&exchange, "/api/v1/accounts", json!({"entity": ENTITY})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    post(
        &exchange,
        &format!("/api/v1/accounts/{maker}/deposits"),
        json!({"asset": "BTC", "amount": "1"}),
    )
    .await;
    post(
        &exchange,
        &format!("/api/v1/accounts/{ours}/deposits"),
        json!({"asset": "USD", "amount": "100000"}),
    )
    .await;
    let order = |account: &str, side: &str| json!({"account_id": account, "symbol": "BTC-USD", "side": side, "type": "LIMIT", "price": "50000", "quantity": "0.2"});
    let resting = post(&exchange, "/api/v1/orders", order(&maker, "SELL")).await;
    let resting_id = resting["order"]["id"].as_str().unwrap().to_owned();
    post(&exchange, "/api/v1/orders", order(&ours, "BUY")).await;
    exchange
        .inject_fault(
            TOKEN,
            json!({"kind": "symbol_halt", "params": {"symbols": ["BTC-USD"]}}),
        )
        .await;
    let refused = post(&exchange, "/api/v1/orders", order(&ours, "BUY")).await;
    assert_eq!(refused["order"]["status"], "REJECTED");

    // The settlement completes at the custodian, and everything reaches the audit store.
    let completed = eventually(
        Duration::from_secs(30),
        "the settlement in the audit store",
        || async {
            let page = audit(&correlator, "/api/v1/audit/events?type=settlement.completed").await;
            page["events"].as_array().and_then(|e| e.first().cloned())
        },
    )
    .await;
    assert_eq!(completed["payload"]["type"], "EXCHANGE_PNL");

    // Follow the maker's resting order: placed → trade → the settlement that carried the trade.
    let placed = eventually(Duration::from_secs(10), "the resting order's trace", || async {
        let trace = audit(
            &correlator,
            &format!("/api/v1/audit/events/trace/{exchange_name}:order:{resting_id}"),
        )
        .await;
        (trace["events"][0]["event_type"] == "order.placed").then_some(trace)
    })
    .await;
    let placed_id = placed["events"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(placed["events"][0]["event_type"], "order.placed");
    // The trade may reach the store after the settlement: the instances ship independently.
    eventually(
        Duration::from_secs(10),
        "the order's trade and settlement, related",
        || async {
            let chain = audit(&correlator, &format!("/api/v1/audit/events/{placed_id}/chain")).await;
            let related: Vec<String> = chain["related"]
                .as_array()?
                .iter()
                .filter_map(|e| e["event_type"].as_str().map(str::to_owned))
                .collect();
            ["trade.executed", "settlement.created", "settlement.completed"]
                .iter()
                .all(|step| related.iter().any(|r| r == step))
                .then_some(())
        },
    )
    .await;

    // The fault to its effect.
    let fault_id = eventually(
        Duration::from_secs(10),
        "the injection in the audit store",
        || async {
            let page = audit(
                &correlator,
                &format!("/api/v1/audit/events?type=fault.injected&instance={exchange_name}"),
            )
            .await;
            page["events"][0]["id"].as_str().map(str::to_owned)
        },
    )
    .await;
    let effects = eventually(
        Duration::from_secs(10),
        "the fault's effect in the audit store",
        || async {
            let chain = audit(&correlator, &format!("/api/v1/audit/events/{fault_id}/chain")).await;
            (chain["effects"][0]["event_type"] == "order.rejected").then_some(chain)
        },
    )
    .await;
    assert_eq!(
        effects["effects"][0]["payload"]["reason"],
        "trading is halted on BTC-USD"
    );

    // The topology: the three live instances, and the custodian settling the exchange's trades.
    let topology = audit(&correlator, "/api/v1/topology").await;
    let live: Vec<&str> = topology["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["live"] == true)
        .map(|n| n["instance"].as_str().unwrap())
        .collect();
    assert_eq!(live.len(), 3, "{topology}");
    let edge = topology["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["to"] == exchange_name.as_str() && e["kind"] == "trade")
        .unwrap_or_else(|| panic!("a settlement edge in {topology}"));
    assert_eq!(edge["from"], custodian.instance_name.as_str());
    assert_eq!(edge["relation"], "settles trades of");

    // Each instance's outbox drained; each event stored once.
    for app in [&exchange, &custodian] {
        let metrics = eventually(Duration::from_secs(10), "an empty outbox", || async {
            let m = app.metrics().await;
            (sample(&m, "audit_outbox_pending", &[]) == Some(0.0)).then_some(m)
        })
        .await;
        assert!(sample(&metrics, "audit_outbox_shipped_total", &[]).unwrap_or(0.0) > 0.0);
    }
    let m = correlator.metrics().await;
    let trades = sample(
        &m,
        "audit_events_ingested_total",
        &[
            ("source_service", "exchange-simulator"),
            ("type", "trade.executed"),
        ],
    );
    assert_eq!(trades, Some(1.0));
}

/// An exchange without its liquidity provider (only the tests' orders trade), on `registry`.
async fn quiet_exchange(registry: &Registry) -> TestApp {
    spawn_with(
        tse_exchange::service(),
        TestOptions {
            registry: Some(registry.clone()),
            instance: Some(unique_instance("exchange")),
            settings: Some("[liquidity]\nenabled = false".parse().unwrap()),
            env: ingest_env(),
            ..Default::default()
        },
    )
    .await
}

/// A seller with BTC and a buyer with USD.
async fn funded_pair(exchange: &TestApp) -> (String, String) {
    let mut ids = Vec::new();
    for (asset, amount) in [("BTC", "100"), ("USD", "10000000")] {
        let id = post(exchange, "/api/v1/accounts", json!({})).await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        post(
            exchange,
            &format!("/api/v1/accounts/{id}/deposits"),
            json!({"asset": asset, "amount": amount}),
        )
        .await;
        ids.push(id);
    }
    (ids[0].clone(), ids[1].clone())
}

/// `n` crossing pairs of orders (2n orders, n trades).
async fn cross(exchange: &TestApp, (seller, buyer): &(String, String), n: usize) {
    for i in 0..n {
        let price = format!("{}", 50_000 + i);
        for (account, side) in [(seller, "SELL"), (buyer, "BUY")] {
            post(
                exchange,
                "/api/v1/orders",
                json!({"account_id": account, "symbol": "BTC-USD", "side": side, "type": "LIMIT",
                       "price": price, "quantity": "0.01"}),
            )
            .await;
        }
    }
}

/// (orders placed, trades) in the audit store, or `None` while it does not answer.
async fn stored(correlator: &TestApp) -> Option<(f64, f64)> {
    let (status, counts) = correlator.get_json("/api/v1/audit/counts").await;
    if status != 200 {
        return None;
    }
    let count = |t: &str| {
        counts["counts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["event_type"] == t)
            .map(|c| c["count"].as_f64().unwrap())
            .sum::<f64>()
    };
    Some((count("order.placed"), count("trade.executed")))
}

/// Waits until the store holds exactly `expected` (orders, trades), and still does a moment later.
async fn exactly(correlator: &TestApp, expected: (f64, f64)) {
    eventually(
        Duration::from_secs(40),
        "every order and trade in the audit store",
        || async { (stored(correlator).await == Some(expected)).then_some(()) },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(stored(correlator).await, Some(expected), "exactly once");
}

/// The correlator away (stopped, then back on its data — PostgreSQL when the tests have it) while an
/// exchange trades: afterwards every order and trade the exchange stored is in the audit store
/// exactly once.
#[tokio::test]
async fn nothing_is_lost_while_the_correlator_is_away() {
    // On the real PostgreSQL when the tests have one (the no-loss test), else on SQLite.
    let url =
        tse_testing::servers::database_url("nothing_is_lost_while_the_correlator_is_away (PostgreSQL part)");
    let registry = Registry::embedded();
    let correlator_options = TestOptions {
        registry: Some(registry.clone()),
        instance: Some(unique_instance("audit")),
        database_url: url.clone(),
        env: ingest_env(),
        ..Default::default()
    };
    let mut correlator = spawn_with(tse_audit_correlator::service(), correlator_options.clone()).await;
    let _guard = url.map(|url| tse_testing::servers::PgGuard::new(&url, &correlator.schema()));
    let exchange = quiet_exchange(&registry).await;
    let pair = funded_pair(&exchange).await;
    cross(&exchange, &pair, 20).await;
    correlator.stop().await.unwrap();
    cross(&exchange, &pair, 30).await;
    let pending = sample(&exchange.metrics().await, "audit_outbox_pending", &[]).unwrap_or(0.0);
    assert!(pending > 0.0, "events wait while the correlator is away");
    let correlator = spawn_with(
        tse_audit_correlator::service(),
        TestOptions {
            data_dir: Some(correlator.data_dir.clone()),
            ..correlator_options
        },
    )
    .await;
    cross(&exchange, &pair, 10).await;
    exactly(&correlator, (120.0, 60.0)).await;
    let (_, listed) = exchange.get_json("/api/v1/trades?limit=1000").await;
    assert_eq!(listed["trades"].as_array().unwrap().len(), 60);
}

/// On PostgreSQL, the correlator's database connection cut while an exchange trades: ingestion
/// answers 503, the instances keep their events, and once the connection is back every order and
/// trade is stored exactly once.
#[tokio::test]
async fn nothing_is_lost_while_the_audit_database_is_cut() {
    use tse_testing::{
        proxy::{FaultProxy, target_of, through},
        servers::{PgGuard, database_url},
    };
    let Some(url) = database_url("nothing_is_lost_while_the_audit_database_is_cut") else {
        return;
    };
    let proxy = FaultProxy::start(target_of(&url)).await;
    let registry = Registry::embedded();
    let correlator = spawn_with(
        tse_audit_correlator::service(),
        TestOptions {
            registry: Some(registry.clone()),
            instance: Some(unique_instance("audit")),
            database_url: Some(through(&url, &proxy)),
            interval: Some("1s"),
            env: ingest_env(),
            ..Default::default()
        },
    )
    .await;
    let _guard = PgGuard::new(&url, &correlator.schema());
    let exchange = quiet_exchange(&registry).await;
    let pair = funded_pair(&exchange).await;
    cross(&exchange, &pair, 20).await;
    proxy.cut();
    cross(&exchange, &pair, 20).await;
    proxy.restore();
    cross(&exchange, &pair, 20).await;
    exactly(&correlator, (120.0, 60.0)).await;
}

/// An exchange's liquidity provider following a market data instance shows as an edge.
#[tokio::test]
async fn the_topology_shows_which_exchange_prices_from_which_market_data() {
    let registry = Registry::embedded();
    let shared = |instance: String, settings: &str| TestOptions {
        registry: Some(registry.clone()),
        instance: Some(instance),
        clock_speed: Some("60"),
        settings: Some(settings.parse().unwrap()),
        env: ingest_env(),
        ..Default::default()
    };
    let correlator = spawn_with(
        tse_audit_correlator::service(),
        shared(unique_instance("audit"), ""),
    )
    .await;
    let market = unique_instance("market-data");
    let _md = spawn_with(
        tse_market_data::service(),
        shared(market.clone(), "tick_interval = \"1s\""),
    )
    .await;
    let exchange = spawn_with(tse_exchange::service(), shared(unique_instance("exchange"), "")).await;
    let edge = eventually(Duration::from_secs(20), "the prices edge", || async {
        let topology = audit(&correlator, "/api/v1/topology").await;
        topology["edges"]
            .as_array()?
            .iter()
            .find(|e| e["kind"] == "prices")
            .cloned()
    })
    .await;
    assert_eq!(edge["from"], exchange.instance_name.as_str());
    assert_eq!(edge["to"], market.as_str());
    assert_eq!(edge["relation"], "prices from");
}
