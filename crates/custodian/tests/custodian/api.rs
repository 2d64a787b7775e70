//! The production API: accounts, deposits, withdrawals, transfers, settlements on their cycles,
//! positions, reconciliation; every refusal a clear 4xx that changes nothing; the metrics of the
//! second seed.

use serde_json::json;

use crate::support::{
    FAST, TOKEN, account, balances, custodian, d, dec, fund, post, post_text, sample, settled, submit, trade,
};

#[tokio::test]
async fn refusals_are_clear_and_change_nothing() {
    let app = custodian(FAST).await;
    let (a, b) = (account(&app).await, account(&app).await);
    fund(&app, &a, "USD", "1000").await;
    fund(&app, &a, "btc", "2").await;
    let before = (balances(&app, &a).await, balances(&app, &b).await);

    let cases = [
        (
            format!("/api/v1/accounts/{a}/withdrawals"),
            json!({"asset": "USD", "amount": "1000.01"}),
            400,
            "insufficient_balance",
            "insufficient USD in",
        ),
        (
            format!("/api/v1/accounts/{a}/withdrawals"),
            json!({"asset": "USD", "amount": -5}),
            400,
            "invalid_amount",
            "amount must be positive",
        ),
        (
            format!("/api/v1/accounts/{a}/deposits"),
            json!({"asset": "DOGE", "amount": 5}),
            400,
            "unknown_asset",
            "unknown asset 'DOGE'",
        ),
        (
            format!("/api/v1/accounts/{a}/deposits"),
            json!({"asset": "USD", "amount": "lots"}),
            400,
            "invalid_amount",
            "amount: 'lots' is not a plain decimal",
        ),
        (
            format!("/api/v1/accounts/{a}/deposits"),
            json!({"asset": "USD"}),
            400,
            "invalid_amount",
            "amount is required",
        ),
        (
            "/api/v1/accounts/cust-999/deposits".to_owned(),
            json!({"asset": "USD", "amount": 5}),
            404,
            "unknown_account",
            "unknown account cust-999",
        ),
        (
            "/api/v1/transfers".to_owned(),
            json!({"from_account_id": a, "to_account_id": a, "asset": "USD", "amount": 1}),
            400,
            "invalid_request",
            "needs two accounts",
        ),
        (
            "/api/v1/transfers".to_owned(),
            json!({"from_account_id": a, "to_account_id": "cust-999", "asset": "USD", "amount": 1}),
            404,
            "unknown_account",
            "cust-999",
        ),
        (
            "/api/v1/transfers".to_owned(),
            json!({"from_account_id": b, "to_account_id": a, "asset": "USD", "amount": 1}),
            400,
            "insufficient_balance",
            "0 available",
        ),
        (
            "/api/v1/settlements".to_owned(),
            trade("big", &a, "BUY", "100", "100", "T+1"),
            400,
            "insufficient_balance",
            "insufficient USD",
        ),
        (
            "/api/v1/settlements".to_owned(),
            json!({"external_id": "x", "account_id": a, "type": "SWAP"}),
            400,
            "invalid_type",
            "TRADE or NET",
        ),
        (
            "/api/v1/settlements".to_owned(),
            json!({"external_id": "x", "account_id": a, "type": "NET", "legs": [{"asset": "USD", "amount": "-1"}], "cycle": "T+7"}),
            400,
            "invalid_cycle",
            "T+0, T+1 or T+2",
        ),
        (
            "/api/v1/settlements".to_owned(),
            json!({"external_id": "x", "account_id": a, "type": "NET", "legs": [{"asset": "BTC", "amount": "3"}, {"asset": "BTC", "amount": "-1"}]}),
            400,
            "invalid_request",
            "two legs",
        ),
        (
            "/api/v1/settlements".to_owned(),
            json!({"external_id": "x", "account_id": a, "type": "TRADE", "symbol": "BTC-USD", "side": "HOLD", "quantity": 1, "price": 1}),
            400,
            "invalid_side",
            "BUY or SELL",
        ),
        (
            "/api/v1/settlements".to_owned(),
            json!({"external_id": "pnl:exchange-OKX:e:1-2", "account_id": a, "type": "NET", "legs": [{"asset": "USD", "amount": 1}]}),
            400,
            "invalid_request",
            "the custodian's own",
        ),
        (
            "/api/v1/accounts".to_owned(),
            json!({"entity": "a\u{0}b"}),
            400,
            "invalid_request",
            "control characters",
        ),
        (
            "/api/v1/accounts".to_owned(),
            json!({"entity": "a\u{85}b"}),
            400,
            "invalid_request",
            "control characters",
        ),
        (
            "/api/v1/accounts".to_owned(),
            json!(["entity"]),
            400,
            "invalid_json",
            "the body must be a JSON object",
        ),
        (
            format!("/api/v1/settlements/{a}/cancel"),
            json!([null]),
            400,
            "invalid_json",
            "the body must be a JSON object",
        ),
        (
            format!("/api/v1/accounts/{a}/reconciliation"),
            json!({"balances": {"BTC": "-79228162514264337593543950335"}}),
            400,
            "invalid_amount",
            "beyond the largest amount handled (100000000000000000000)",
        ),
    ];
    for (path, body, status, code, message) in cases {
        let (got, answer) = post(&app, &path, body.clone()).await;
        assert_eq!(got, status, "{path} {body}: {answer}");
        assert_eq!(answer["error"]["code"], code, "{path} {body}: {answer}");
        let text = answer["error"]["message"].as_str().unwrap();
        assert!(text.contains(message), "{path}: '{text}' should say '{message}'");
    }
    let (status, answer) = app
        .client
        .post(format!("{}/api/v1/accounts/{a}/deposits", app.http))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .map(|r| r.status().as_u16())
        .map(|s| (s, ()))
        .unwrap();
    assert_eq!((status, answer), (400, ()));
    let (status, body) = app.get_json("/api/v1/settlements?status=DONE").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_status"))
    );
    let (status, body) = app.get_json("/api/v1/settlements?trade_id=5").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_request")),
        "{body}"
    );
    assert_eq!(
        (balances(&app, &a).await, balances(&app, &b).await),
        before,
        "nothing changed"
    );
    let (_, none) = app.get_json("/api/v1/settlements").await;
    assert_eq!(none["settlements"], json!([]));
}

#[tokio::test]
async fn a_trade_settles_on_its_cycle_and_the_metrics_show_it() {
    let app = custodian(FAST).await;
    let a = account(&app).await;
    fund(&app, &a, "USD", "1000").await;
    let buy = submit(&app, trade("fill-1", &a, "buy", "0.5", "100", "T+2")).await;
    assert_eq!(buy["status"], "PENDING");
    assert_eq!(buy["type"], "TRADE");
    assert_eq!(buy["cycle"], "T+2");
    let id = buy["id"].as_str().unwrap().to_owned();
    // Outgoing USD (0.5 × 100 + fee 1) is locked at once.
    assert_eq!(balances(&app, &a).await["USD"], (d("949"), d("51")));
    let created = time::OffsetDateTime::parse(
        buy["created_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let due = time::OffsetDateTime::parse(
        buy["due_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert_eq!(
        due - created,
        time::Duration::hours(2),
        "T+2 is two settlement days"
    );

    let done = settled(&app, &id, "COMPLETED").await;
    let finished = time::OffsetDateTime::parse(
        done["finished_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert!(finished >= due, "settled on its due time, not before: {done}");
    assert_eq!(done["legs"][0]["settled"], "0.5");
    let b = balances(&app, &a).await;
    assert_eq!(b["USD"], (d("949"), d("0")));
    assert_eq!(b["BTC"], (d("0.5"), d("0")));
    let (_, positions) = app.get_json(&format!("/api/v1/accounts/{a}/positions")).await;
    assert_eq!(positions["positions"][0]["symbol"], "BTC-USD");
    assert_eq!(dec(&positions["positions"][0]["quantity"]), d("0.5"));
    assert_eq!(dec(&positions["positions"][0]["average_cost"]), d("100"));

    // Selling half realises profit at the new price.
    fund(&app, &a, "USD", "1").await;
    let sell = submit(&app, trade("fill-2", &a, "SELL", "0.25", "120", "T+0")).await;
    settled(&app, sell["id"].as_str().unwrap(), "COMPLETED").await;
    let (_, positions) = app.get_json(&format!("/api/v1/accounts/{a}/positions")).await;
    assert_eq!(dec(&positions["positions"][0]["quantity"]), d("0.25"));
    assert_eq!(dec(&positions["positions"][0]["realized_pnl"]), d("5"));

    let metrics = app.metrics().await;
    let m = |name: &str, labels: &[(&str, &str)]| sample(&metrics, name, labels).unwrap_or(0.0);
    assert_eq!(
        m(
            "custodian_settlements_total",
            &[("status", "pending"), ("type", "trade")]
        ),
        2.0
    );
    assert_eq!(
        m(
            "custodian_settlements_total",
            &[("status", "completed"), ("type", "trade")]
        ),
        2.0
    );
    assert_eq!(m("custodian_settlements_pending", &[]), 0.0);
    assert_eq!(
        m(
            "custodian_positions_total",
            &[("account", &a), ("symbol", "BTC-USD")]
        ),
        2.0
    );
    // Deposits 2, buy legs 2, sell legs 2.
    assert_eq!(
        m(
            "custodian_balance_changes_total",
            &[("account", &a), ("currency", "USD")]
        ),
        4.0
    );
    assert_eq!(
        m(
            "custodian_balance_changes_total",
            &[("account", &a), ("currency", "BTC")]
        ),
        2.0
    );
    assert_eq!(
        m(
            "custodian_settlement_duration_seconds_count",
            &[("type", "trade")]
        ),
        2.0
    );
    // The balance gauge holds what the API reports (available plus locked).
    for (asset, (available, locked)) in balances(&app, &a).await {
        let total = (available + locked).normalize().to_string();
        match sample(
            &metrics,
            "custodian_balance",
            &[("account", &a), ("currency", &asset)],
        ) {
            Some(gauge) => assert_eq!(gauge.to_string(), total, "{asset}"),
            None => assert_eq!(total, "0", "{asset}: a balance never touched has no gauge"),
        }
    }
    let seconds = m("custodian_settlement_duration_seconds_sum", &[("type", "trade")]);
    assert!(
        (7_200.0..9_000.0).contains(&seconds),
        "T+2 (2 h) plus T+0, in simulated seconds: {seconds}"
    );
}

#[tokio::test]
async fn instructions_are_idempotent_cancellable_and_listed() {
    let app = custodian(FAST).await;
    let (a, b) = (account(&app).await, account(&app).await);
    fund(&app, &a, "USD", "10000").await;
    fund(&app, &b, "ETH", "10").await;
    let first = submit(&app, trade("t-1", &a, "BUY", "1", "1000", "T+2")).await;
    let (status, again) = post(
        &app,
        "/api/v1/settlements",
        trade("t-1", &a, "BUY", "1", "1000.0", "T+2"),
    )
    .await;
    assert_eq!(
        (status, &again["id"]),
        (200, &first["id"]),
        "the same instruction: {again}"
    );
    let (status, other) = post(
        &app,
        "/api/v1/settlements",
        trade("t-1", &a, "BUY", "2", "1000", "T+2"),
    )
    .await;
    assert_eq!(
        (status, other["error"]["code"].as_str()),
        (409, Some("duplicate_external_id")),
        "{other}"
    );
    assert_eq!(
        balances(&app, &a).await["USD"],
        (d("8999"), d("1001")),
        "locked once"
    );

    let net = submit(
        &app,
        json!({"external_id": "n-1", "account_id": b, "type": "net", "cycle": "t+2",
               "legs": [{"asset": "ETH", "amount": "-4"}, {"asset": "USD", "amount": 12000}]}),
    )
    .await;
    assert_eq!(net["type"], "NET");
    assert_eq!(balances(&app, &b).await["ETH"], (d("6"), d("4")));

    let id = first["id"].as_str().unwrap();
    let (status, cancelled) = post(
        &app,
        &format!("/api/v1/settlements/{id}/cancel"),
        json!({"reason": "trade busted"}),
    )
    .await;
    assert_eq!(
        (status, cancelled["status"].as_str(), cancelled["reason"].as_str()),
        (200, Some("CANCELLED"), Some("trade busted"))
    );
    assert_eq!(
        balances(&app, &a).await["USD"],
        (d("10000"), d("0")),
        "locks released"
    );
    let (status, again) = post(&app, &format!("/api/v1/settlements/{id}/cancel"), json!({})).await;
    assert_eq!(
        (status, again["error"]["code"].as_str()),
        (409, Some("settlement_not_pending"))
    );
    let (status, missing) = app.get_json("/api/v1/settlements/stl-999").await;
    assert_eq!(
        (status, missing["error"]["code"].as_str()),
        (404, Some("unknown_settlement"))
    );

    let (_, mine) = app.get_json(&format!("/api/v1/settlements?account_id={a}")).await;
    assert_eq!(mine["settlements"].as_array().unwrap().len(), 1);
    let (_, pending) = app.get_json("/api/v1/settlements?status=pending").await;
    assert_eq!(pending["settlements"][0]["external_id"], "n-1");
    let (_, page) = app.get_json("/api/v1/settlements?limit=1").await;
    assert_eq!(page["settlements"][0]["external_id"], "n-1", "newest first");
    let cursor = page["next_cursor"].as_str().unwrap();
    let (_, next) = app
        .get_json(&format!("/api/v1/settlements?limit=1&cursor={cursor}"))
        .await;
    assert_eq!(next["settlements"][0]["external_id"], "t-1");
    let (_, accounts) = app.get_json("/api/v1/accounts?entity=tests&limit=1").await;
    assert_eq!(accounts["accounts"][0]["id"], a.as_str());
    let cursor = accounts["next_cursor"].as_str().unwrap();
    let (_, rest) = app
        .get_json(&format!("/api/v1/accounts?entity=tests&cursor={cursor}"))
        .await;
    assert_eq!(rest["accounts"][0]["id"], b.as_str());
    assert_eq!(rest["next_cursor"], serde_json::Value::Null);

    // Reconciliation: the report's totals against the books.
    let (status, rec) = post(
        &app,
        &format!("/api/v1/accounts/{b}/reconciliation"),
        json!({"balances": {"ETH": "10"}}),
    )
    .await;
    assert_eq!((status, rec["reconciled"].as_bool()), (200, Some(true)), "{rec}");
    let (_, rec) = post(
        &app,
        &format!("/api/v1/accounts/{b}/reconciliation"),
        json!({"balances": {"ETH": 9.5, "USD": 3}}),
    )
    .await;
    assert_eq!(rec["reconciled"], false);
    assert_eq!(rec["breaks"][0]["asset"], "ETH");
    assert_eq!(dec(&rec["breaks"][0]["difference"]), d("-0.5"));
    assert_eq!(rec["breaks"][1]["asset"], "USD");
}

#[tokio::test]
async fn transfers_move_available_amounts() {
    let app = custodian(FAST).await;
    let (a, b) = (account(&app).await, account(&app).await);
    fund(&app, &a, "USDT", "500").await;
    let (status, moved) = post(
        &app,
        "/api/v1/transfers",
        json!({"from_account_id": a, "to_account_id": b, "asset": "usdt", "amount": "120.5"}),
    )
    .await;
    assert_eq!(status, 200, "{moved}");
    assert_eq!(moved["from"]["available"], "379.5");
    assert_eq!(moved["to"]["available"], "120.5");
    let (status, out) = post(
        &app,
        &format!("/api/v1/accounts/{b}/withdrawals"),
        json!({"asset": "USDT", "amount": 20.5}),
    )
    .await;
    assert_eq!((status, out["total"].as_str()), (200, Some("100")));
}

#[tokio::test]
async fn the_openapi_document_describes_every_route() {
    let app = custodian(FAST).await;
    let doc = app.assert_openapi_routed(Some(TOKEN)).await;
    for path in [
        "/api/v1/settlements",
        "/api/v1/accounts/{id}/positions",
        "/api/v1/transfers",
        "/chaos/v1/faults",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} is described");
    }
    // Assets are the instance's; a fault's params have their own schema.
    let deposit = &doc["paths"]["/api/v1/accounts/{id}/deposits"]["post"];
    let asset =
        &deposit["requestBody"]["content"]["application/json"]["schema"]["properties"]["asset"]["enum"];
    for held in ["BTC", "ETH", "USDT", "USD"] {
        assert!(asset.as_array().unwrap().contains(&json!(held)), "{asset}");
    }
    assert!(deposit["responses"]["415"].is_object(), "{deposit}");
    let kinds = doc["components"]["schemas"]["FaultRequest"]["oneOf"]
        .as_array()
        .unwrap();
    let delay = kinds
        .iter()
        .find(|k| k["properties"]["kind"]["const"] == "settlement_delay")
        .unwrap();
    assert_eq!(delay["properties"]["params"]["required"], json!(["delay"]));
}

#[tokio::test]
async fn names_are_counted_in_characters_not_bytes() {
    let app = custodian(FAST).await;
    let name = "é".repeat(128);
    let (status, body) = app.post_json("/api/v1/accounts", json!({"entity": name})).await;
    assert_eq!(status, 201, "128 characters (256 bytes) are allowed: {body}");
    let (status, body) = app
        .post_json("/api/v1/accounts", json!({"entity": "é".repeat(129)}))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("at most 128 characters"),
        "{body}"
    );
}

#[tokio::test]
async fn amounts_are_read_exactly_as_plain_decimals_of_at_most_18_places() {
    let app = custodian(FAST).await;
    let a = account(&app).await;
    let deposits = format!("/api/v1/accounts/{a}/deposits");
    // A JSON number keeps every digit: no f64 on the way; an exponent is spelled out exactly.
    for body in [
        r#"{"asset": "USD", "amount": 1234567890.123456789}"#,
        r#"{"asset": "BTC", "amount": 1.5e-3}"#,
        r#"{"asset": "ETH", "amount": "0.000000000000000001"}"#,
    ] {
        let (status, answer) = post_text(&app, &deposits, body.to_owned()).await;
        assert_eq!(status, 200, "{body}: {answer}");
    }
    let b = balances(&app, &a).await;
    assert_eq!(b["USD"].0, d("1234567890.123456789"));
    assert_eq!(b["BTC"].0, d("0.0015"));
    assert_eq!(b["ETH"].0, d("0.000000000000000001"));
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
        (
            r#""0.0000000000000000001""#,
            "has 19 decimals; amounts take at most 18",
        ),
    ];
    for (amount, needle) in cases {
        for path in [deposits.clone(), format!("/api/v1/accounts/{a}/withdrawals")] {
            let body = format!(r#"{{"asset": "USD", "amount": {amount}}}"#);
            let (status, answer) = post_text(&app, &path, body).await;
            assert_eq!(
                (status, answer["error"]["code"].as_str()),
                (400, Some("invalid_amount")),
                "{amount}: {answer}"
            );
            let message = answer["error"]["message"].as_str().unwrap();
            assert!(message.contains(needle), "{amount}: {message}");
        }
    }
    // Instructions and reconciliation read their amounts the same way.
    let (status, answer) = post_text(
        &app,
        "/api/v1/settlements",
        format!(r#"{{"external_id": "x-1", "account_id": "{a}", "type": "NET", "legs": [{{"asset": "USD", "amount": "+1"}}]}}"#),
    )
    .await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (400, Some("invalid_amount")),
        "{answer}"
    );
    let (status, answer) = post_text(
        &app,
        &format!("/api/v1/accounts/{a}/reconciliation"),
        r#"{"balances": {"USD": 1234567890.123456789, "BTC": 15e-4, "ETH": 0.000000000000000001}}"#
            .to_owned(),
    )
    .await;
    assert_eq!(
        (status, answer["reconciled"].as_bool()),
        (200, Some(true)),
        "{answer}"
    );
    assert_eq!(
        balances(&app, &a).await["USD"].0,
        d("1234567890.123456789"),
        "nothing else moved"
    );
}

#[tokio::test]
async fn a_fresh_instance_exports_every_settlement_series_at_zero() {
    let app = custodian(FAST).await;
    let metrics = app.metrics().await;
    for kind in ["trade", "net", "exchange_pnl"] {
        for status in ["pending", "partial", "completed", "failed", "cancelled"] {
            assert_eq!(
                sample(
                    &metrics,
                    "custodian_settlements_total",
                    &[("status", status), ("type", kind)]
                ),
                Some(0.0),
                "custodian_settlements_total{{status={status},type={kind}}}"
            );
        }
        assert_eq!(
            sample(
                &metrics,
                "custodian_settlement_duration_seconds_count",
                &[("type", kind)]
            ),
            Some(0.0),
            "custodian_settlement_duration_seconds{{type={kind}}}"
        );
    }
}
