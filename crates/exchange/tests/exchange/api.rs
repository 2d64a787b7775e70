//! The production HTTP API: accounts, orders, fills with fees, books, history, errors, the stream and
//! the business metrics.

use std::time::Duration;

use futures::StreamExt;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use tse_testing::app::sample;

use crate::support::{
    QUIET, TOKEN, account, balances, d, dec, delete, exchange, fund, limit, patch, place, post, post_text,
};

#[tokio::test]
async fn limit_and_market_orders_fill_with_exact_fees_and_balances() {
    let app = exchange(QUIET).await;
    let (seller, buyer) = (account(&app).await, account(&app).await);
    fund(&app, &seller, "BTC", "1").await;
    fund(&app, &buyer, "usd", "100000").await;

    let resting = place(&app, limit(&seller, "BTC-USD", "SELL", "100000", "1")).await;
    assert_eq!(resting["order"]["status"], "NEW");
    assert_eq!(resting["trades"], json!([]));
    let sell_id = resting["order"]["id"].as_str().unwrap().to_owned();
    assert_eq!(balances(&app, &seller).await["BTC"], (d("0"), d("1")));

    // The buyer takes 0.4 at the resting price: 40 000 USD, taker fee 0.05 % = 20, maker fee 0.02 % = 8.
    let taken = place(&app, limit(&buyer, "btc-usd", "buy", "100000", "0.4")).await;
    let order = &taken["order"];
    assert_eq!(order["status"], "FILLED");
    assert_eq!(order["filled_quantity"], "0.4");
    assert_eq!(order["average_price"], "100000");
    assert_eq!(order["fees"], "20");
    let trade = &taken["trades"][0];
    assert_eq!(
        (&trade["price"], &trade["quantity"], &trade["taker_side"]),
        (&json!("100000"), &json!("0.4"), &json!("BUY"))
    );
    assert_eq!(
        (&trade["buyer_fee"], &trade["seller_fee"]),
        (&json!("20"), &json!("8"))
    );
    assert_eq!(trade["sell_order_id"], sell_id.as_str());
    assert_eq!(trade["buyer_account_id"], buyer.as_str());

    let b = balances(&app, &buyer).await;
    assert_eq!(b["BTC"], (d("0.4"), Decimal::ZERO));
    assert_eq!(b["USD"], (d("59980"), Decimal::ZERO));
    let s = balances(&app, &seller).await;
    assert_eq!(s["BTC"], (Decimal::ZERO, d("0.6")));
    assert_eq!(s["USD"], (d("39992"), Decimal::ZERO));

    let (status, resting) = app.get_json(&format!("/api/v1/orders/{sell_id}")).await;
    assert_eq!(status, 200);
    assert_eq!(resting["status"], "PARTIALLY_FILLED");
    assert_eq!(resting["filled_quantity"], "0.4");

    let (status, book) = app.get_json("/api/v1/orderbook/BTC-USD?depth=5").await;
    assert_eq!(status, 200, "{book}");
    assert_eq!(book["asks"], json!([["100000", "0.6"]]));
    assert_eq!(book["bids"], json!([]));

    // A market buy must afford the sweep plus the taker fee: 0.6 costs 60 030, the buyer has 59 980.
    let market = |qty: &str| json!({ "account_id": buyer, "symbol": "BTC-USD", "side": "BUY", "type": "MARKET", "quantity": qty });
    let (status, body) = post(&app, "/api/v1/orders", market("0.6")).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "insufficient_balance");
    assert_eq!(balances(&app, &buyer).await["USD"], (d("59980"), Decimal::ZERO));

    let bought = place(&app, market("0.5")).await;
    assert_eq!(bought["order"]["status"], "FILLED");
    assert_eq!(bought["order"]["time_in_force"], "IOC");
    assert_eq!(bought["order"]["fees"], "25");

    // Every USD is with one of the two accounts or collected as a fee.
    let usd = |b: &std::collections::BTreeMap<String, (Decimal, Decimal)>| b["USD"].0 + b["USD"].1;
    let (b, s) = (balances(&app, &buyer).await, balances(&app, &seller).await);
    assert_eq!(usd(&b), d("9955"));
    assert_eq!(usd(&s), d("89982"));
    assert_eq!(usd(&b) + usd(&s) + d("63"), d("100000"));

    let (status, trades) = app.get_json(&format!("/api/v1/trades?account_id={seller}")).await;
    assert_eq!(status, 200);
    let trades = trades["trades"].as_array().unwrap();
    assert_eq!(trades.len(), 2, "newest first: {trades:?}");
    assert_eq!(trades[0]["quantity"], "0.5");
    let (_, orders) = app
        .get_json(&format!("/api/v1/orders?account_id={buyer}&status=filled"))
        .await;
    assert_eq!(orders["orders"].as_array().unwrap().len(), 2);
    let (_, open) = app.get_json("/api/v1/orders?status=OPEN&symbol=btc-usd").await;
    assert_eq!(open["orders"][0]["id"], sell_id.as_str());
    assert_eq!(open["orders"][0]["filled_quantity"], "0.9");

    let metrics = app.metrics().await;
    let filled = [
        ("symbol", "BTC-USD"),
        ("side", "BUY"),
        ("type", "LIMIT"),
        ("status", "FILLED"),
    ];
    assert_eq!(sample(&metrics, "exchange_orders_total", &filled), Some(1.0));
    let market_filled = [("symbol", "BTC-USD"), ("type", "MARKET"), ("status", "FILLED")];
    assert_eq!(
        sample(&metrics, "exchange_orders_total", &market_filled),
        Some(1.0)
    );
    assert_eq!(
        sample(&metrics, "exchange_trades_total", &[("symbol", "BTC-USD")]),
        Some(2.0)
    );
    assert_eq!(
        sample(
            &metrics,
            "exchange_book_depth",
            &[("symbol", "BTC-USD"), ("side", "ask")]
        ),
        Some(0.1)
    );
    assert!(sample(&metrics, "exchange_order_latency_seconds_count", &[]).unwrap() >= 3.0);
}

#[tokio::test]
async fn cancel_releases_funds_and_amend_keeps_or_loses_priority() {
    let app = exchange(QUIET).await;
    let (first, second, seller) = (account(&app).await, account(&app).await, account(&app).await);
    fund(&app, &first, "USD", "1000000").await;
    fund(&app, &second, "USD", "1000000").await;
    fund(&app, &seller, "BTC", "10").await;

    let a = place(&app, limit(&first, "BTC-USD", "BUY", "90000", "2")).await["order"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // 2 × 90 000 × (1 + 0.0005): the reservation covers the worst fee.
    assert_eq!(balances(&app, &first).await["USD"], (d("819910"), d("180090")));
    let b = place(&app, limit(&second, "BTC-USD", "BUY", "90000", "1")).await["order"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Less quantity keeps the place in the queue and releases the difference.
    let (status, amended) = patch(&app, &format!("/api/v1/orders/{a}"), json!({ "quantity": "1.5" })).await;
    assert_eq!(status, 200, "{amended}");
    assert_eq!(amended["order"]["quantity"], "1.5");
    assert_eq!(
        balances(&app, &first).await["USD"],
        (d("864932.5"), d("135067.5"))
    );
    let hit = place(&app, limit(&seller, "BTC-USD", "SELL", "90000", "0.5")).await;
    assert_eq!(
        hit["trades"][0]["buy_order_id"],
        a.as_str(),
        "still first in the queue"
    );

    // A new price loses it: the second buyer is now first at 90 000.
    let (status, moved) = patch(&app, &format!("/api/v1/orders/{a}"), json!({ "price": 89000 })).await;
    assert_eq!(status, 200, "{moved}");
    let (status, _) = patch(&app, &format!("/api/v1/orders/{a}"), json!({ "price": "90000" })).await;
    assert_eq!(status, 200);
    let hit = place(&app, limit(&seller, "BTC-USD", "SELL", "90000", "0.5")).await;
    assert_eq!(
        hit["trades"][0]["buy_order_id"],
        b.as_str(),
        "the amended order went to the back"
    );

    let (status, cancelled) = delete(&app, &format!("/api/v1/orders/{a}")).await;
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(cancelled["status"], "CANCELLED");
    let usd = balances(&app, &first).await["USD"];
    assert_eq!(usd.1, Decimal::ZERO, "nothing stays locked");
    assert_eq!(
        usd.0,
        d("1000000") - d("45000") - d("9"),
        "0.5 bought at 90 000 as maker"
    );

    let (status, again) = delete(&app, &format!("/api/v1/orders/{a}")).await;
    assert_eq!(status, 409, "{again}");
    assert_eq!(again["error"]["code"], "order_not_open");
    assert!(again["error"]["message"].as_str().unwrap().contains("CANCELLED"));
}

#[tokio::test]
async fn book_rules_reject_orders_with_a_reason() {
    let app = exchange(QUIET).await;
    let (maker, taker) = (account(&app).await, account(&app).await);
    fund(&app, &maker, "ETH", "10").await;
    fund(&app, &taker, "USD", "100000").await;
    place(&app, limit(&maker, "ETH-USD", "SELL", "3000", "1")).await;

    let mut post_only = limit(&taker, "ETH-USD", "BUY", "3000", "1");
    post_only["post_only"] = json!(true);
    let rejected = place(&app, post_only).await;
    assert_eq!(rejected["order"]["status"], "REJECTED");
    assert!(
        rejected["order"]["reason"]
            .as_str()
            .unwrap()
            .contains("post-only"),
        "{rejected}"
    );

    let mut fok = limit(&taker, "ETH-USD", "BUY", "3000", "2");
    fok["time_in_force"] = json!("fok");
    let rejected = place(&app, fok).await;
    assert_eq!(rejected["order"]["status"], "REJECTED");
    assert!(
        rejected["order"]["reason"]
            .as_str()
            .unwrap()
            .contains("fill-or-kill"),
        "{rejected}"
    );
    assert_eq!(
        balances(&app, &taker).await["USD"],
        (d("100000"), Decimal::ZERO),
        "nothing held"
    );

    let mut ioc = limit(&taker, "ETH-USD", "BUY", "3000", "2");
    ioc["time_in_force"] = json!("IOC");
    let partial = place(&app, ioc).await;
    assert_eq!(
        partial["order"]["status"], "CANCELLED",
        "the unfilled rest of an IOC is dropped"
    );
    assert_eq!(partial["order"]["filled_quantity"], "1");
}

#[tokio::test]
async fn bad_input_gets_a_clear_error_and_changes_nothing() {
    let app = exchange(QUIET).await;
    let trader = account(&app).await;
    fund(&app, &trader, "USD", "1000").await;
    let mut with_id = limit(&trader, "BTC-USD", "BUY", "100", "1");
    with_id["client_order_id"] = json!("mine-1");
    place(&app, with_id.clone()).await;
    let before = balances(&app, &trader).await;

    let order = |patch: Value| {
        let mut body = limit(&trader, "BTC-USD", "BUY", "100", "1");
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let cases: Vec<(Value, u16, &str, &str)> = vec![
        (
            order(json!({ "symbol": "DOGE-USD" })),
            400,
            "unknown_symbol",
            "BTC-USD",
        ),
        (
            order(json!({ "quantity": "0" })),
            400,
            "invalid_order",
            "positive",
        ),
        (order(json!({ "quantity": -1 })), 400, "invalid_order", "positive"),
        (
            order(json!({ "client_order_id": "x".repeat(65) })),
            400,
            "invalid_client_order_id",
            "1 to 64",
        ),
        (
            order(json!({ "client_order_id": "two words" })),
            400,
            "invalid_client_order_id",
            "letters, digits",
        ),
        (
            order(json!({ "quantity": "0.000001" })),
            400,
            "invalid_order",
            "takes at most 5 (lot size 0.00001)",
        ),
        (
            order(json!({ "price": "100.001" })),
            400,
            "invalid_order",
            "takes at most 2 (tick size 0.01)",
        ),
        (
            order(json!({ "price": "abc" })),
            400,
            "invalid_price",
            "not a plain decimal",
        ),
        (
            order(json!({ "quantity": true })),
            400,
            "invalid_quantity",
            "decimal string or number",
        ),
        (
            order(json!({ "side": "HOLD" })),
            400,
            "invalid_side",
            "BUY or SELL",
        ),
        (
            order(json!({ "type": "STOP" })),
            400,
            "invalid_type",
            "LIMIT or MARKET",
        ),
        (
            order(json!({ "time_in_force": "DAY" })),
            400,
            "invalid_time_in_force",
            "GTC",
        ),
        (
            order(json!({ "type": "MARKET" })),
            400,
            "invalid_order",
            "takes no price",
        ),
        (
            order(json!({ "quantity": "20" })),
            400,
            "insufficient_balance",
            "USD",
        ),
        (
            order(json!({ "account_id": "acct-999" })),
            404,
            "unknown_account",
            "acct-999",
        ),
        (
            order(json!({ "account_id": "" })),
            400,
            "missing_account_id",
            "required",
        ),
        (order(json!({ "leverage": 10 })), 400, "invalid_json", "leverage"),
        (with_id, 409, "duplicate_client_order_id", "mine-1"),
    ];
    for (body, status, code, needle) in cases {
        let (got, answer) = post(&app, "/api/v1/orders", body.clone()).await;
        assert_eq!(got, status, "{body} → {answer}");
        assert_eq!(answer["error"]["code"], code, "{body} → {answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{body} → {message}");
    }
    let raw = app
        .client
        .post(format!("{}/api/v1/orders", app.http))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 400);

    let gets: Vec<(&str, u16, &str)> = vec![
        ("/api/v1/orders/999999", 404, "unknown_order"),
        ("/api/v1/orders/abc", 400, "invalid_order_id"),
        ("/api/v1/orderbook/DOGE-USD", 404, "unknown_symbol"),
        ("/api/v1/orderbook/BTC-USD?depth=5000", 400, "invalid_depth"),
        ("/api/v1/orders?limit=0", 400, "invalid_limit"),
        ("/api/v1/orders?status=sleeping", 400, "invalid_status"),
        ("/api/v1/orders?cursor=x", 400, "invalid_cursor"),
        ("/api/v1/orders?account_id=acct-999", 404, "unknown_account"),
        ("/api/v1/trades?symbol=XRP-USD", 400, "unknown_symbol"),
        ("/api/v1/accounts/acct-999/balances", 404, "unknown_account"),
    ];
    for (path, status, code) in gets {
        let (got, answer) = app.get_json(path).await;
        assert_eq!(
            (got, answer["error"]["code"].as_str()),
            (status, Some(code)),
            "{path} → {answer}"
        );
    }
    let (status, answer) = delete(&app, "/api/v1/orders/424242").await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (404, Some("unknown_order"))
    );

    let funds = |asset: &str, amount: Value| json!({ "asset": asset, "amount": amount });
    let deposits = format!("/api/v1/accounts/{trader}/deposits");
    for (body, code) in [
        (funds("DOGE", json!("1")), "unknown_asset"),
        (funds("USD", json!("-5")), "invalid_amount"),
        (funds("USD", json!("ten")), "invalid_amount"),
        (json!({ "asset": "USD" }), "missing_amount"),
    ] {
        let (status, answer) = post(&app, &deposits, body.clone()).await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (400, Some(code)),
            "{body} → {answer}"
        );
    }
    let (status, answer) = post(
        &app,
        &format!("/api/v1/accounts/{trader}/withdrawals"),
        funds("USD", json!(5000)),
    )
    .await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (400, Some("insufficient_balance"))
    );

    assert_eq!(balances(&app, &trader).await, before, "no error moved any money");
    let (_, orders) = app.get_json(&format!("/api/v1/orders?account_id={trader}")).await;
    assert_eq!(
        orders["orders"].as_array().unwrap().len(),
        1,
        "no error left an order behind"
    );
}

#[tokio::test]
async fn listings_page_with_a_cursor_and_symbols_show_the_rules() {
    let app = exchange(QUIET).await;
    let trader = account(&app).await;
    fund(&app, &trader, "USD", "100000").await;
    for i in 0..5 {
        place(
            &app,
            limit(&trader, "BTC-USD", "BUY", &format!("{}", 100 + i), "1"),
        )
        .await;
    }
    let (_, page) = app.get_json("/api/v1/orders?limit=2").await;
    let ids: Vec<&str> = page["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2);
    let cursor = page["next_cursor"].as_str().unwrap();
    let (_, next) = app
        .get_json(&format!("/api/v1/orders?limit=2&cursor={cursor}"))
        .await;
    let more: Vec<&str> = next["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(more.len(), 2);
    assert!(
        more[0].parse::<u64>().unwrap() < ids[1].parse::<u64>().unwrap(),
        "{ids:?} then {more:?}"
    );
    let (_, last) = app
        .get_json(&format!(
            "/api/v1/orders?limit=2&cursor={}",
            next["next_cursor"].as_str().unwrap()
        ))
        .await;
    assert_eq!(last["orders"].as_array().unwrap().len(), 1);
    assert_eq!(last["next_cursor"], Value::Null);

    let (status, symbols) = app.get_json("/api/v1/symbols").await;
    assert_eq!(status, 200);
    let btc = symbols["symbols"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["symbol"] == "BTC-USD")
        .unwrap();
    assert_eq!(btc["tick_size"], "0.01");
    assert_eq!(btc["lot_size"], "0.00001");
    assert_eq!(btc["maker_fee"], "0.0002");
    assert_eq!(btc["taker_fee"], "0.0005");
    let (status, book) = app.get_json("/api/v1/orderbook/btc-usd?depth=2").await;
    assert_eq!(status, 200);
    assert_eq!(book["bids"], json!([["104", "1"], ["103", "1"]]));
}

#[tokio::test]
async fn the_stream_sends_trades_and_books_as_they_happen() {
    let app = exchange(QUIET).await;
    let (maker, taker) = (account(&app).await, account(&app).await);
    fund(&app, &maker, "BTC", "1").await;
    fund(&app, &taker, "USD", "200000").await;
    let response = app
        .client
        .get(format!("{}/api/v1/stream?symbols=BTC-USD", app.http))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut body = response.bytes_stream();
    place(&app, limit(&maker, "BTC-USD", "SELL", "100000", "1")).await;
    place(&app, limit(&taker, "BTC-USD", "BUY", "100000", "0.25")).await;
    let mut text = String::new();
    let seen = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(chunk) = body.next().await {
            text.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
            if text.contains("event: trade") && text.matches("event: book").count() >= 2 {
                return true;
            }
        }
        false
    })
    .await;
    assert!(matches!(seen, Ok(true)), "stream so far:\n{text}");
    let trade_line = text
        .lines()
        .skip_while(|l| *l != "event: trade")
        .nth(1)
        .unwrap()
        .trim_start_matches("data: ");
    let trade: Value = serde_json::from_str(trade_line).unwrap();
    assert_eq!(
        (trade["price"].as_str(), trade["quantity"].as_str()),
        (Some("100000"), Some("0.25"))
    );
    assert_eq!(dec(&trade["buyer_fee"]), d("12.5"));

    let (status, answer) = app.get_json("/api/v1/stream?symbols=NOPE-USD").await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (400, Some("unknown_symbol"))
    );
}

#[tokio::test]
async fn the_openapi_document_describes_every_route_and_fault_kind() {
    let app = exchange(QUIET).await;
    let doc = app.assert_openapi_routed(Some(TOKEN)).await;
    for (path, method) in [
        ("/api/v1/accounts", "post"),
        ("/api/v1/accounts/{id}/deposits", "post"),
        ("/api/v1/orders", "post"),
        ("/api/v1/orders/{id}", "delete"),
        ("/api/v1/orderbook/{symbol}", "get"),
        ("/chaos/v1/faults", "post"),
    ] {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} is described"
        );
    }
    assert_eq!(
        doc["components"]["schemas"]["FaultRequest"]["properties"]["kind"]["enum"],
        serde_json::json!([
            "latency",
            "reject_orders",
            "downtime",
            "spread_widening",
            "liquidity_reduction",
            "symbol_halt"
        ])
    );
    assert_eq!(
        doc["paths"]["/api/v1/orders"]["post"]["responses"]["409"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/Error"
    );
}

/// Opens an account of `entity`; returns its id.
async fn account_of(app: &tse_testing::app::TestApp, entity: &str) -> String {
    let (status, body) = post(app, "/api/v1/accounts", json!({ "entity": entity })).await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

fn ids<'a>(page: &'a Value, items: &str) -> Vec<&'a str> {
    page[items]
        .as_array()
        .unwrap_or_else(|| panic!("{items} in {page}"))
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn accounts_list_in_id_order_by_entity_and_page_with_a_cursor() {
    let app = exchange(QUIET).await;
    let mut lh = Vec::new();
    let mut all = Vec::new();
    // Eleven accounts, so that acct-10 and acct-11 must come after acct-9 (by number, not by text).
    for i in 0..11 {
        let entity = if i % 3 == 0 { "trading-system-LH" } else { "others" };
        let id = account_of(&app, entity).await;
        if i % 3 == 0 {
            lh.push(id.clone());
        }
        all.push(id);
    }
    let (status, page) = app.get_json("/api/v1/accounts").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(ids(&page, "accounts"), all);
    assert_eq!(page["next_cursor"], Value::Null);
    assert_eq!(page["accounts"][0]["entity"], "trading-system-LH");
    assert!(page["accounts"][0]["created_at"].is_string(), "{page}");

    let (status, first) = app
        .get_json("/api/v1/accounts?entity=trading-system-LH&limit=3")
        .await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(ids(&first, "accounts"), lh[..3]);
    let cursor = first["next_cursor"].as_str().unwrap();
    assert_eq!(cursor, lh[2]);
    let (_, second) = app
        .get_json(&format!(
            "/api/v1/accounts?entity=trading-system-LH&limit=3&cursor={cursor}"
        ))
        .await;
    assert_eq!(ids(&second, "accounts"), lh[3..]);
    assert_eq!(second["next_cursor"], Value::Null);
    let (_, one) = app
        .get_json(&format!("/api/v1/accounts?limit=1&cursor={}", all[9]))
        .await;
    assert_eq!(ids(&one, "accounts"), [all[10].as_str()]);
    assert_eq!(one["next_cursor"], all[10].as_str(), "a full page has a cursor");
    let (_, end) = app
        .get_json(&format!("/api/v1/accounts?cursor={}", all[10]))
        .await;
    assert_eq!(
        (ids(&end, "accounts").len(), &end["next_cursor"]),
        (0, &Value::Null)
    );
    let (status, none) = app.get_json("/api/v1/accounts?entity=nobody").await;
    assert_eq!(status, 200);
    assert_eq!(none, json!({ "accounts": [], "next_cursor": null }));

    for (path, code, needle) in [
        ("/api/v1/accounts?limit=0", "invalid_limit", "between 1 and 1000"),
        ("/api/v1/accounts?limit=1001", "invalid_limit", "got 1001"),
        ("/api/v1/accounts?cursor=x", "invalid_cursor", "'x'"),
        ("/api/v1/accounts?cursor=3", "invalid_cursor", "'3'"),
        ("/api/v1/accounts?owner=me", "invalid_query", "owner"),
    ] {
        let (status, answer) = app.get_json(path).await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (400, Some(code)),
            "{path} → {answer}"
        );
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{path} → {message}");
    }
}

#[tokio::test]
async fn trades_filter_by_entity_and_page_oldest_first_after_an_id() {
    let app = exchange(QUIET).await;
    let (lh1, lh2) = (
        account_of(&app, "trading-system-LH").await,
        account_of(&app, "trading-system-LH").await,
    );
    let (other, maker) = (account_of(&app, "others").await, account_of(&app, "mm").await);
    for buyer in [&lh1, &lh2, &other] {
        fund(&app, buyer, "USD", "100000").await;
    }
    fund(&app, &maker, "ETH", "10").await;
    fund(&app, &maker, "BTC", "1").await;
    place(&app, limit(&maker, "ETH-USD", "SELL", "2000", "5")).await;
    let trade = async |body: Value| {
        let placed = place(&app, body).await;
        placed["trades"][0]["id"].as_str().unwrap().to_owned()
    };
    // Trades t[0..7]: LH takes part in 0, 2, 4, 5 (both sides LH) and 6 (BTC); 1 and 3 are not its.
    let t = vec![
        trade(limit(&lh1, "ETH-USD", "BUY", "2000", "0.1")).await,
        trade(limit(&other, "ETH-USD", "BUY", "2000", "0.1")).await,
        trade(limit(&lh2, "ETH-USD", "BUY", "2000", "0.1")).await,
        trade(limit(&other, "ETH-USD", "BUY", "2000", "0.1")).await,
        trade(limit(&lh1, "ETH-USD", "BUY", "2000", "0.1")).await,
        {
            place(&app, limit(&lh1, "ETH-USD", "BUY", "1990", "0.1")).await;
            trade(limit(&lh2, "ETH-USD", "SELL", "1990", "0.1")).await
        },
        {
            place(&app, limit(&maker, "BTC-USD", "SELL", "50000", "0.1")).await;
            trade(limit(&lh1, "BTC-USD", "BUY", "50000", "0.1")).await
        },
    ];
    let lh_trades = [&t[0], &t[2], &t[4], &t[5], &t[6]];
    let trades = async |query: &str| {
        let (status, page) = app.get_json(&format!("/api/v1/trades?{query}")).await;
        assert_eq!(status, 200, "{query} → {page}");
        page
    };

    let newest = trades("entity=trading-system-LH").await;
    let mut expected: Vec<&str> = lh_trades.iter().rev().map(|s| s.as_str()).collect();
    assert_eq!(ids(&newest, "trades"), expected, "newest first, each trade once");
    expected.reverse();
    let (mut after, mut seen) = ("0".to_owned(), Vec::new());
    loop {
        let page = trades(&format!("entity=trading-system-LH&after={after}&limit=2")).await;
        assert_eq!(page["next_cursor"], Value::Null, "no cursor with after");
        let got: Vec<String> = ids(&page, "trades").into_iter().map(str::to_owned).collect();
        let Some(last) = got.last() else { break };
        after = last.clone();
        seen.extend(got);
    }
    assert_eq!(seen, expected, "oldest first, page by page");
    let page = trades(&format!("entity=trading-system-LH&after={}", t[2])).await;
    assert_eq!(ids(&page, "trades"), [&t[4], &t[5], &t[6]]);
    let everything = trades("after=0&limit=1000").await;
    assert_eq!(ids(&everything, "trades"), t, "without an entity, every trade");

    let eth = trades("entity=trading-system-LH&symbol=eth-usd&after=0").await;
    assert_eq!(ids(&eth, "trades"), [&t[0], &t[2], &t[4], &t[5]]);
    let lh2_only = trades(&format!("entity=trading-system-LH&account_id={lh2}")).await;
    assert_eq!(ids(&lh2_only, "trades"), [&t[5], &t[2]]);
    let mm_paged = trades("entity=mm&limit=3").await;
    assert_eq!(ids(&mm_paged, "trades"), [&t[6], &t[4], &t[3]]);
    assert_eq!(
        mm_paged["next_cursor"],
        t[3].as_str(),
        "the usual cursor without after"
    );
    let unknown = trades("entity=nobody").await;
    assert_eq!(unknown, json!({ "trades": [], "next_cursor": null }));
    let past_the_end = trades(&format!("after={}", t[6])).await;
    assert_eq!(past_the_end, json!({ "trades": [], "next_cursor": null }));

    for (path, code, needle) in [
        (
            "/api/v1/trades?after=abc",
            "invalid_after",
            "after 'abc' is not a trade id",
        ),
        ("/api/v1/trades?after=-1", "invalid_after", "'-1'"),
        ("/api/v1/trades?after=1&cursor=5", "invalid_query", "not both"),
        (
            "/api/v1/orders?entity=trading-system-LH",
            "invalid_query",
            "entity",
        ),
        ("/api/v1/orders?after=1", "invalid_query", "after"),
    ] {
        let (status, answer) = app.get_json(path).await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (400, Some(code)),
            "{path} → {answer}"
        );
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{path} → {message}");
    }
}

/// Asserts that the exchange still serves: healthy and ready, and an ordinary order trades.
async fn assert_still_trading(app: &tse_testing::app::TestApp) {
    let (status, health) = app.get_json("/api/v1/health").await;
    assert_eq!(
        (status, health["status"].as_str()),
        (200, Some("healthy")),
        "{health}"
    );
    let (status, _) = app.get_json("/api/v1/ready").await;
    assert_eq!(status, 200);
    let (seller, buyer) = (account(app).await, account(app).await);
    fund(app, &seller, "BTC", "1").await;
    fund(app, &buyer, "USD", "1000").await;
    place(app, limit(&seller, "BTC-USD", "SELL", "200", "1")).await;
    let taken = place(app, limit(&buyer, "BTC-USD", "BUY", "200", "0.5")).await;
    assert_eq!(taken["order"]["status"], "FILLED", "{taken}");
    assert_eq!(balances(app, &buyer).await["BTC"], (d("0.5"), Decimal::ZERO));
}

const DECIMAL_MAX: &str = "79228162514264337593543950335";
const BOUND: &str = "is beyond the largest amount handled (100000000000000000000)";

#[tokio::test]
async fn prices_quantities_and_notionals_that_would_overflow_get_400_and_trading_goes_on() {
    let app = exchange(QUIET).await;
    let trader = account(&app).await;
    fund(&app, &trader, "USD", "1000").await;
    fund(&app, &trader, "BTC", "1").await;
    let big = |side: &str, price: Value, quantity: Value| {
        let mut body = limit(&trader, "BTC-USD", side, "1", "1");
        body["price"] = price;
        body["quantity"] = quantity;
        body
    };
    let huge = || json!(DECIMAL_MAX);
    let cases = [
        (big("BUY", huge(), json!("1")), "invalid_price"),
        (big("BUY", json!("100"), huge()), "invalid_quantity"),
        // Each below the bound, their product (9 × 10^30) beyond what a decimal holds.
        (
            big("BUY", json!("90000000000000000"), json!("100000000000000")),
            "invalid_order",
        ),
        (
            big("SELL", json!("90000000000000000"), json!("100000000000000")),
            "invalid_order",
        ),
    ];
    for (body, code) in cases {
        let (status, answer) = post(&app, "/api/v1/orders", body.clone()).await;
        assert_eq!(status, 400, "{body} → {answer}");
        assert_eq!(answer["error"]["code"], code, "{body} → {answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(BOUND), "{body} → {message}");
    }
    // As JSON numbers too: they are read from their token, not as a float.
    for (price, quantity, code) in [
        (DECIMAL_MAX, "1", "invalid_price"),
        ("100", DECIMAL_MAX, "invalid_quantity"),
    ] {
        let body = format!(
            r#"{{"account_id": "{trader}", "symbol": "BTC-USD", "side": "SELL", "price": {price}, "quantity": {quantity}}}"#
        );
        let (status, answer) = post_text(&app, "/api/v1/orders", body).await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (400, Some(code)),
            "{answer}"
        );
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(&format!("{DECIMAL_MAX} {BOUND}")), "{message}");
    }
    let mut market = limit(&trader, "BTC-USD", "BUY", "1", DECIMAL_MAX);
    market["type"] = json!("MARKET");
    market.as_object_mut().unwrap().remove("price");
    let (status, answer) = post(&app, "/api/v1/orders", market).await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (400, Some("invalid_quantity")),
        "{answer}"
    );

    let resting = place(&app, limit(&trader, "BTC-USD", "BUY", "100", "1")).await;
    let path = format!("/api/v1/orders/{}", resting["order"]["id"].as_str().unwrap());
    for (body, code) in [
        (json!({ "price": DECIMAL_MAX }), "invalid_price"),
        (json!({ "quantity": DECIMAL_MAX }), "invalid_quantity"),
        (
            json!({ "price": "90000000000000000", "quantity": "100000000000000" }),
            "invalid_amend",
        ),
    ] {
        let (status, answer) = patch(&app, &path, body.clone()).await;
        assert_eq!(status, 400, "{body} → {answer}");
        assert_eq!(answer["error"]["code"], code, "{body} → {answer}");
        assert!(
            answer["error"]["message"].as_str().unwrap().contains("beyond"),
            "{answer}"
        );
    }
    let (_, order) = app.get_json(&path).await;
    assert_eq!(
        (order["price"].as_str(), order["status"].as_str()),
        (Some("100"), Some("NEW"))
    );
    assert_still_trading(&app).await;
}

#[tokio::test]
async fn deposits_that_would_overflow_get_400_and_trading_goes_on() {
    let app = exchange(QUIET).await;
    let trader = account(&app).await;
    let deposits = format!("/api/v1/accounts/{trader}/deposits");
    for body in [
        format!(r#"{{"asset": "USD", "amount": "{DECIMAL_MAX}"}}"#),
        format!(r#"{{"asset": "USD", "amount": {DECIMAL_MAX}}}"#),
    ] {
        let (status, answer) = post_text(&app, &deposits, body).await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (400, Some("invalid_amount")),
            "{answer}"
        );
        assert_eq!(
            answer["error"]["message"],
            format!("amount: {DECIMAL_MAX} {BOUND}"),
        );
    }
    // The largest deposit, twice: the sum is exact, not an overflow.
    fund(&app, &trader, "BTC", "100000000000000000000").await;
    fund(&app, &trader, "BTC", "100000000000000000000").await;
    assert_eq!(
        balances(&app, &trader).await["BTC"],
        (d("200000000000000000000"), Decimal::ZERO)
    );
    // USD takes 11 decimals here: holdings stay below 10^17, where every digit is still kept.
    let (status, answer) = post(
        &app,
        &deposits,
        json!({ "asset": "USD", "amount": "100000000000000000000" }),
    )
    .await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (400, Some("invalid_amount")),
        "{answer}"
    );
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .ends_with("would exceed 100000000000000000, the most that stays exact"),
        "{answer}"
    );
    assert_still_trading(&app).await;
}

#[tokio::test]
async fn amounts_are_read_exactly_as_plain_decimals_within_the_assets_decimals() {
    let app = exchange(QUIET).await;
    let trader = account(&app).await;
    let deposits = format!("/api/v1/accounts/{trader}/deposits");
    // A JSON number keeps every digit: no f64 on the way.
    let (status, answer) = post_text(
        &app,
        &deposits,
        r#"{"asset": "USD", "amount": 1234567890.123456789}"#.to_owned(),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["balance"]["available"], "1234567890.123456789");
    // An exponent in a number is spelled out exactly.
    let (status, answer) = post_text(
        &app,
        &deposits,
        r#"{"asset": "BTC", "amount": 1.5e-3}"#.to_owned(),
    )
    .await;
    assert_eq!(
        (status, answer["balance"]["available"].as_str()),
        (200, Some("0.0015")),
        "{answer}"
    );
    let cases = [
        (
            r#""1.00000000000000000000000000001""#,
            "more digits than an exact decimal holds",
        ),
        (
            "1.00000000000000000000000000001",
            "more digits than an exact decimal holds",
        ),
        (r#""1_000""#, "not a plain decimal"),
        (r#""+5""#, "not a plain decimal"),
        (r#""1e3""#, "not a plain decimal"),
        (r#""0x10""#, "not a plain decimal"),
        (r#"".5""#, "not a plain decimal"),
    ];
    for (amount, needle) in cases {
        let body = format!(r#"{{"asset": "USD", "amount": {amount}}}"#);
        let (status, answer) = post_text(&app, &deposits, body).await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (400, Some("invalid_amount")),
            "{amount}: {answer}"
        );
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{amount}: {message}");
    }
    // BTC moves in lots of 0.00001 here; USD as a price, a quantity and a fee rate (2 + 5 + 4).
    for (asset, amount, allowed) in [
        ("BTC", "0.000001", "BTC takes at most 5"),
        ("USD", "0.000000000001", "USD takes at most 11"),
    ] {
        let (status, answer) = post(&app, &deposits, json!({ "asset": asset, "amount": amount })).await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (400, Some("invalid_amount")),
            "{answer}"
        );
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(allowed), "{message}");
    }
    // A price or quantity finer than the instrument's increments: the same kind of answer.
    let (status, answer) = post_text(
        &app,
        "/api/v1/orders",
        format!(r#"{{"account_id": "{trader}", "symbol": "BTC-USD", "side": "BUY", "price": 100.001, "quantity": "0.1"}}"#),
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(
        answer["error"]["message"],
        "price 100.001 has 3 decimals; BTC-USD takes at most 2 (tick size 0.01)"
    );
    let b = balances(&app, &trader).await;
    assert_eq!(b["USD"], (d("1234567890.123456789"), Decimal::ZERO));
    assert_eq!(b["BTC"], (d("0.0015"), Decimal::ZERO));
}

#[tokio::test]
async fn a_fresh_exchange_exports_every_bounded_series_at_zero() {
    let app = exchange(QUIET).await;
    let metrics = app.metrics().await;
    let symbols = [
        "BTC-USD", "ETH-USD", "USDT-USD", "BTC-ETH", "ETH-USDT", "BTC-USDT",
    ];
    for symbol in symbols {
        assert_eq!(
            sample(&metrics, "exchange_trades_total", &[("symbol", symbol)]),
            Some(0.0),
            "{symbol}"
        );
        for (side, book_side) in [("BUY", "bid"), ("SELL", "ask")] {
            assert_eq!(
                sample(
                    &metrics,
                    "exchange_book_depth",
                    &[("symbol", symbol), ("side", book_side)]
                ),
                Some(0.0)
            );
            for order_type in ["LIMIT", "MARKET"] {
                for status in ["NEW", "PARTIALLY_FILLED", "FILLED", "CANCELLED", "REJECTED"] {
                    let labels = [
                        ("symbol", symbol),
                        ("side", side),
                        ("type", order_type),
                        ("status", status),
                    ];
                    assert_eq!(
                        sample(&metrics, "exchange_orders_total", &labels),
                        Some(0.0),
                        "{labels:?}"
                    );
                }
            }
        }
    }
    // Nothing beyond the listed symbols.
    let listed: std::collections::BTreeSet<String> = symbols.iter().map(|s| (*s).to_owned()).collect();
    assert_eq!(
        tse_testing::app::label_values(&metrics, "exchange_orders_total", "symbol"),
        listed
    );
}
