//! A small world for a desk to trade in: one market data instance and two exchanges sharing a
//! registry, the second exchange's quotes going stale (so the two cross), and a desk found by name.

use std::{collections::BTreeMap, time::Duration};

use rust_decimal::Decimal;
use serde_json::Value;
use tse_proto::exchange::v1::{ListAccountsRequest, ListOrdersRequest, ListTradesRequest};
use tse_runtime::discovery::Registry;
use tse_testing::app::{TestApp, TestOptions, spawn_with, unique_instance};

pub use tse_testing::app::{d, dec, eventually, sample};

pub const TOKEN: &str = "test-admin-token";
/// Simulated seconds per wall second: market data ticks every simulated second.
pub const CLOCK: &str = "60";

pub struct World {
    pub registry: Registry,
    pub _market: TestApp,
    pub okx: TestApp,
    pub binance: TestApp,
}

impl World {
    pub fn okx(&self) -> &str {
        &self.okx.instance_name
    }

    pub fn binance(&self) -> &str {
        &self.binance.instance_name
    }
}

fn options(registry: &Registry, prefix: &str, settings: &str) -> TestOptions {
    TestOptions {
        registry: Some(registry.clone()),
        clock_speed: Some(CLOCK),
        admin_token: Some(TOKEN),
        instance: Some(unique_instance(prefix)),
        settings: Some(settings.parse().expect("settings TOML")),
        ..Default::default()
    }
}

/// Market data and two exchanges: the first quotes tightly around every tick, the second's quotes
/// go stale until the reference moved 30 bps.
pub async fn world() -> World {
    let registry = Registry::embedded();
    let market = spawn_with(
        tse_market_data::service(),
        options(&registry, "market-data", "tick_interval = \"1s\""),
    )
    .await;
    let okx = spawn_with(tse_exchange::service(), options(&registry, "exchange", "")).await;
    let binance = spawn_with(
        tse_exchange::service(),
        options(
            &registry,
            "exchange",
            "taker_fee = \"0.0002\"\n[liquidity]\nspread_bps = 2\nrequote_bps = 30",
        ),
    )
    .await;
    World {
        registry,
        _market: market,
        okx,
        binance,
    }
}

/// Funding and the three well-behaved default strategies, on this world's exchanges; momentum's
/// windows are short so it trades within seconds.
pub fn settings(world: &World) -> String {
    let (okx, binance) = (world.okx(), world.binance());
    format!(
        r#"
[funding]
"{okx}" = {{ USD = "1000000", BTC = "10", ETH = "100" }}
"{binance}" = {{ USD = "1000000", BTC = "10", ETH = "100" }}

[[strategies]]
name = "mm-okx"
kind = "market_making"
exchanges = ["{okx}"]
symbols = ["BTC-USD"]
max_position = "1"
max_order_size = "0.2"
params = {{ spread_bps = 8, size = "0.05" }}

[[strategies]]
name = "arb"
kind = "arbitrage"
exchanges = ["{okx}", "{binance}"]
symbols = ["BTC-USD", "ETH-USD"]
max_position = "2"
max_order_size = "0.5"
params = {{ threshold_bps = 1, size = "0.1" }}

[[strategies]]
name = "momentum-btc"
kind = "momentum"
exchanges = ["{binance}"]
symbols = ["BTC-USD"]
max_position = "1"
max_order_size = "0.25"
params = {{ fast = 3, slow = 6, size = "0.1" }}
"#
    )
}

/// Options of a desk named `name` in `world`.
pub fn desk_options(world: &World, name: &str, settings: &str) -> TestOptions {
    TestOptions {
        instance: Some(name.to_owned()),
        ..options(&world.registry, "trading-system", settings)
    }
}

/// A desk in `world` with `settings`.
pub async fn desk(world: &World, settings: &str) -> TestApp {
    let name = unique_instance("trading-system");
    spawn_with(
        tse_trading_system::service(),
        desk_options(world, &name, settings),
    )
    .await
}

/// The desk's strategy `name`.
pub async fn strategy(desk: &TestApp, name: &str) -> Value {
    let (status, body) = desk.get_json(&format!("/api/v1/strategies/{name}")).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// Waits until strategy `name` has sent at least `n` orders; returns it.
pub async fn submitted(desk: &TestApp, name: &str, n: u64) -> Value {
    eventually(
        Duration::from_secs(30),
        &format!("{name} sends {n} orders"),
        || async {
            let s = strategy(desk, name).await;
            (s["orders_submitted"].as_u64().unwrap_or(0) >= n).then_some(s)
        },
    )
    .await
}

/// Every trade of `entity` at `exchange`, oldest first.
pub async fn trades_of(exchange: &TestApp, entity: &str) -> Vec<tse_proto::exchange::v1::Trade> {
    let client = exchange.exchange_client().await;
    let mut out = Vec::new();
    let mut after = "0".to_owned();
    loop {
        let page = client
            .list_trades(ListTradesRequest {
                entity: entity.to_owned(),
                after: after.clone(),
                limit: 1000,
                ..Default::default()
            })
            .await
            .unwrap();
        let Some(last) = page.trades.last() else {
            return out;
        };
        after = last.id.clone();
        let full = page.trades.len() == 1000;
        out.extend(page.trades);
        if !full {
            return out;
        }
    }
}

/// The entity's account at `exchange`.
pub async fn account_of(exchange: &TestApp, entity: &str) -> Option<String> {
    let client = exchange.exchange_client().await;
    let listed = client
        .list_accounts(ListAccountsRequest {
            entity: entity.to_owned(),
            limit: 10,
            cursor: String::new(),
        })
        .await
        .unwrap();
    listed.accounts.first().map(|a| a.id.clone())
}

/// Open orders of `account` at `exchange`.
pub async fn open_orders(exchange: &TestApp, account: &str) -> Vec<tse_proto::exchange::v1::Order> {
    let client = exchange.exchange_client().await;
    client
        .list_orders(ListOrdersRequest {
            account_id: account.to_owned(),
            status: "OPEN".to_owned(),
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .orders
}

/// Net base asset bought per symbol by `account` in `trades`.
pub fn net_by_symbol(trades: &[tse_proto::exchange::v1::Trade], account: &str) -> BTreeMap<String, Decimal> {
    let mut out: BTreeMap<String, Decimal> = BTreeMap::new();
    for t in trades {
        let q: Decimal = t.quantity.parse().unwrap();
        let entry = out.entry(t.symbol.clone()).or_default();
        if t.buyer_account_id == account {
            *entry += q;
        }
        if t.seller_account_id == account {
            *entry -= q;
        }
    }
    out.retain(|_, v| !v.is_zero());
    out
}

/// The desk's positions summed over strategies, per symbol.
pub async fn desk_positions(desk: &TestApp) -> BTreeMap<String, Decimal> {
    let (status, body) = desk.get_json("/api/v1/positions").await;
    assert_eq!(status, 200, "{body}");
    let mut out: BTreeMap<String, Decimal> = BTreeMap::new();
    for p in body["positions"].as_array().unwrap() {
        *out.entry(p["symbol"].as_str().unwrap().to_owned()).or_default() += dec(&p["quantity"]);
    }
    out.retain(|_, v| !v.is_zero());
    out
}

/// Waits until the desk's positions are exactly what its trades at both exchanges add up to.
pub async fn positions_match_trades(world: &World, desk: &TestApp) -> BTreeMap<String, Decimal> {
    let entity = desk.instance_name.clone();
    eventually(Duration::from_secs(30), "positions = Σ fills", || async {
        let mut expected: BTreeMap<String, Decimal> = BTreeMap::new();
        for exchange in [&world.okx, &world.binance] {
            let Some(account) = account_of(exchange, &entity).await else {
                continue;
            };
            for (symbol, q) in net_by_symbol(&trades_of(exchange, &entity).await, &account) {
                *expected.entry(symbol).or_default() += q;
            }
        }
        expected.retain(|_, v| !v.is_zero());
        let got = desk_positions(desk).await;
        (got == expected).then_some(got)
    })
    .await
}
