//! The built-in liquidity provider: it finds market data through discovery, quotes a ladder around
//! the reference price on every symbol, re-quotes as prices move, and follows the faults.

use std::time::Duration;

use rust_decimal::Decimal;
use serde_json::{Value, json};
use tse_testing::app::TestApp;

use crate::support::{
    account, balances, clear, d, dec, eventually, exchange_with_market, fund, inject, place,
};

async fn book(app: &TestApp, symbol: &str) -> Value {
    let (status, book) = app
        .get_json(&format!("/api/v1/orderbook/{symbol}?depth=10"))
        .await;
    assert_eq!(status, 200, "{book}");
    book
}

async fn quoted(app: &TestApp, symbol: &str) -> Value {
    eventually(
        Duration::from_secs(15),
        &format!("quotes on {symbol}"),
        || async {
            let b = book(app, symbol).await;
            (!b["bids"].as_array().unwrap().is_empty() && !b["asks"].as_array().unwrap().is_empty())
                .then_some(b)
        },
    )
    .await
}

fn level(book: &Value, side: &str, i: usize) -> (Decimal, Decimal) {
    (dec(&book[side][i][0]), dec(&book[side][i][1]))
}

#[tokio::test]
async fn the_provider_quotes_every_symbol_and_a_market_order_fills_against_it() {
    let settings =
        "[liquidity]\nlevels = 3\nspread_bps = \"10\"\nstep_bps = \"10\"\nsizes = { BTC = \"0.25\" }";
    let (market, app) = exchange_with_market(settings).await;
    for symbol in [
        "BTC-USD", "ETH-USD", "USDT-USD", "BTC-ETH", "ETH-USDT", "BTC-USDT",
    ] {
        quoted(&app, symbol).await;
    }
    let health = app
        .wait_health(Duration::from_secs(10), |h| {
            h["checks"]["liquidity"]["status"] == "up"
        })
        .await;
    assert_eq!(health["status"], "healthy", "{health}");

    // Three levels a side, 10 bps apart, 0.25 BTC each, straddling the reference price.
    let btc = quoted(&app, "BTC-USD").await;
    assert_eq!(btc["bids"].as_array().unwrap().len(), 3, "{btc}");
    let (bid, size) = level(&btc, "bids", 0);
    let (ask, _) = level(&btc, "asks", 0);
    assert_eq!(size, d("0.25"));
    let (_, reference) = market.get_json("/api/v1/prices/BTC-USD").await;
    let reference = dec(&reference["price"]);
    let spread_bps = (ask - bid) / reference * Decimal::from(10_000);
    assert!(
        spread_bps > d("15") && spread_bps < d("25"),
        "about 20 bps: {spread_bps} ({btc})"
    );
    let (next_ask, _) = level(&btc, "asks", 1);
    assert!(next_ask > ask);

    let trader = account(&app).await;
    fund(&app, &trader, "USD", "1000000").await;
    let bought = place(
        &app,
        json!({ "account_id": trader, "symbol": "BTC-USD", "side": "BUY", "type": "MARKET", "quantity": "0.4" }),
    )
    .await;
    assert_eq!(bought["order"]["status"], "FILLED", "{bought}");
    assert!(
        bought["trades"].as_array().unwrap().len() >= 2,
        "the order walked two levels: {bought}"
    );
    assert_eq!(balances(&app, &trader).await["BTC"].0, d("0.4"));
    let sold = place(
        &app,
        json!({ "account_id": trader, "symbol": "BTC-USD", "side": "sell", "quantity": "0.1" }),
    )
    .await;
    assert_eq!(
        sold["order"]["status"], "FILLED",
        "a market sell hits the bids: {sold}"
    );

    // Prices move and so do the quotes.
    let first_bid = bid;
    eventually(Duration::from_secs(20), "a re-quote", || async {
        let (bid, _) = level(&quoted(&app, "BTC-USD").await, "bids", 0);
        (bid != first_bid).then_some(())
    })
    .await;
}

#[tokio::test]
async fn faults_widen_thin_and_halt_the_quotes() {
    let (_market, app) = exchange_with_market("[liquidity]\nlevels = 2\nsizes = { ETH = \"4\" }").await;
    let normal = quoted(&app, "ETH-USD").await;
    let width = |b: &Value| level(b, "asks", 0).0 - level(b, "bids", 0).0;
    let normal_width = width(&normal);
    assert_eq!(level(&normal, "asks", 0).1, d("4"));

    let wide = inject(
        &app,
        json!({ "kind": "spread_widening", "params": { "factor": 5, "symbols": ["ETH-USD"] } }),
    )
    .await;
    eventually(
        Duration::from_secs(10),
        "a spread about 5 times wider",
        || async {
            let b = quoted(&app, "ETH-USD").await;
            (width(&b) > normal_width * d("3.5")).then_some(())
        },
    )
    .await;
    clear(&app, wide["id"].as_str().unwrap()).await;

    let thin = inject(
        &app,
        json!({ "kind": "liquidity_reduction", "params": { "factor": 0.25 } }),
    )
    .await;
    eventually(Duration::from_secs(10), "quarter-size quotes", || async {
        let b = quoted(&app, "ETH-USD").await;
        (level(&b, "bids", 0).1 == d("1")).then_some(())
    })
    .await;
    clear(&app, thin["id"].as_str().unwrap()).await;

    let halt = inject(
        &app,
        json!({ "kind": "symbol_halt", "params": { "symbols": ["ETH-USD"] } }),
    )
    .await;
    eventually(
        Duration::from_secs(10),
        "quotes withdrawn from the halted symbol",
        || async {
            let b = book(&app, "ETH-USD").await;
            (b["bids"].as_array().unwrap().is_empty() && b["asks"].as_array().unwrap().is_empty())
                .then_some(())
        },
    )
    .await;
    assert!(
        !book(&app, "BTC-USD").await["bids"].as_array().unwrap().is_empty(),
        "other symbols stay quoted"
    );
    clear(&app, halt["id"].as_str().unwrap()).await;
    quoted(&app, "ETH-USD").await;
}

#[tokio::test]
async fn without_market_data_the_provider_reports_itself_down() {
    let app = crate::support::exchange("").await;
    let health = app
        .wait_health(Duration::from_secs(10), |h| {
            h["checks"]["liquidity"]["status"] == "down"
        })
        .await;
    assert_eq!(health["status"], "degraded", "{health}");
    assert!(
        health["checks"]["liquidity"]["reason"]
            .as_str()
            .unwrap()
            .contains("market data"),
        "{health}"
    );
    let (status, ready) = app.get_json("/api/v1/ready").await;
    assert_eq!(status, 503, "not ready without liquidity: {ready}");
    let trader = account(&app).await;
    fund(&app, &trader, "USD", "100").await;
    let placed = place(
        &app,
        json!({ "account_id": trader, "symbol": "BTC-USD", "side": "BUY", "price": "50", "quantity": "1" }),
    )
    .await;
    assert_eq!(
        placed["order"]["status"], "NEW",
        "trading works without the provider"
    );
}
