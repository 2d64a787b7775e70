//! The OpenAPI description of the production HTTP API ([`super::http`]); the host publishes it with
//! its own endpoints and the back door's at `GET /api/v1/openapi.json`.

use serde_json::json;
use tse_runtime::openapi::{
    OpenApi, any_case, decimal, decimal_input, json_answer, operation, param_with, path_param, query_param,
    schema_ref, symbol_stream, timestamp,
};

/// Errors every production call may meet while the exchange is down or restoring.
const UNAVAILABLE: (u16, &str) = (
    503,
    "`exchange_unavailable` (the downtime fault) or `exchange_restoring` (state still loading)",
);

/// The exchange's paths and schemas.
pub fn description() -> OpenApi {
    let account = || path_param("id", "account id, e.g. acct-1");
    let order = || path_param("id", "order id");
    let page = || {
        vec![
            query_param("account_id", "string", "only this account's"),
            query_param("symbol", "string", "only this symbol's"),
            query_param("limit", "integer", "page size, 1–1000 (default 100)"),
            query_param("cursor", "string", "`next_cursor` of the previous page"),
        ]
    };
    let mut orders_page = page();
    orders_page.insert(
        2,
        query_param(
            "status",
            "string",
            "NEW, PARTIALLY_FILLED, FILLED, CANCELLED, REJECTED, or open",
        ),
    );
    let mut trades_page = page();
    trades_page.insert(
        1,
        query_param(
            "entity",
            "string",
            "only trades where the buyer's or the seller's account belongs to this entity (none for an unknown one)",
        ),
    );
    trades_page.push(query_param(
        "after",
        "string",
        "a trade id: only later trades, oldest first, at most `limit`, `next_cursor` null \
         (go on with `after` = the last id returned; 0 starts at the first trade); not with `cursor`",
    ));
    let accounts_page = vec![
        query_param("entity", "string", "only this trading entity's accounts"),
        query_param("limit", "integer", "page size, 1–1000 (default 100)"),
        query_param("cursor", "string", "`next_cursor` of the previous page"),
    ];
    let funds = json!({
        "type": "object",
        "required": ["asset", "amount"],
        "additionalProperties": false,
        "properties": {"asset": {"type": "string", "minLength": 1, "examples": ["USD"]}, "amount": decimal_input()},
    });
    let moved = json!({
        "type": "object",
        "properties": {"account_id": {"type": "string"}, "balance": schema_ref("Balance")},
    });
    let mut open_account = operation(
        "Opens an account (the body is optional)",
        vec![],
        Some(json!({"type": "object", "additionalProperties": false,
            "properties": {"entity": {"type": ["string", "null"], "maxLength": 128, "description": "the trading entity it belongs to"}}})),
        (201, json_answer("the account", schema_ref("Account"))),
        &[(400, "invalid JSON or entity"), UNAVAILABLE],
    );
    open_account["requestBody"]["required"] = false.into();
    OpenApi::new()
        .paths(json!({
            "/api/v1/accounts": {
                "post": open_account,
                "get": operation(
                    "Accounts in id order (acct-1, acct-2, ...)", accounts_page, None,
                    (200, json_answer("a page", json!({"type": "object", "properties": {
                        "accounts": {"type": "array", "items": schema_ref("Account")},
                        "next_cursor": {"type": ["string", "null"]}}}))),
                    &[(400, "bad limit or cursor"), UNAVAILABLE],
                ),
            },
            "/api/v1/accounts/{id}": {"get": operation(
                "One account", vec![account()], None,
                (200, json_answer("the account", schema_ref("Account"))),
                &[(404, "`unknown_account`"), UNAVAILABLE],
            )},
            "/api/v1/accounts/{id}/balances": {"get": operation(
                "An account's balances: available, locked by open orders, total", vec![account()], None,
                (200, json_answer("balances per asset", json!({"type": "object", "properties": {
                    "account_id": {"type": "string"},
                    "balances": {"type": "array", "items": schema_ref("Balance")}}}))),
                &[(404, "`unknown_account`"), UNAVAILABLE],
            )},
            "/api/v1/accounts/{id}/deposits": {"post": operation(
                "Credits a simulated deposit", vec![account()], Some(funds.clone()),
                (200, json_answer("the balance after it", moved.clone())),
                &[(400, "missing or non-positive amount, unknown asset"), (404, "`unknown_account`"), UNAVAILABLE],
            )},
            "/api/v1/accounts/{id}/withdrawals": {"post": operation(
                "Debits a withdrawal from the available balance", vec![account()], Some(funds),
                (200, json_answer("the balance after it", moved)),
                &[(400, "invalid amount or asset; `insufficient_balance`"), (404, "`unknown_account`"), UNAVAILABLE],
            )},
            "/api/v1/orders": {
                "post": operation(
                    "Places an order; answered once it and its trades are stored", vec![],
                    Some(schema_ref("OrderRequest")),
                    (201, json_answer("the order (NEW, PARTIALLY_FILLED, FILLED, or REJECTED with its reason) and its trades", schema_ref("OrderResult"))),
                    &[
                        (400, "missing or malformed field, unknown symbol, price off the tick, quantity off the lot or not positive, `insufficient_balance`"),
                        (404, "`unknown_account`"),
                        (409, "`duplicate_client_order_id`"),
                        UNAVAILABLE,
                    ],
                ),
                "get": operation(
                    "Orders, newest first", orders_page, None,
                    (200, json_answer("a page", json!({"type": "object", "properties": {
                        "orders": {"type": "array", "items": schema_ref("Order")},
                        "next_cursor": {"type": ["string", "null"]}}}))),
                    &[(400, "bad filter, limit or cursor"), UNAVAILABLE],
                ),
            },
            "/api/v1/orders/{id}": {
                "get": operation(
                    "One order", vec![order()], None,
                    (200, json_answer("the order", schema_ref("Order"))),
                    &[(400, "not an order id"), (404, "`unknown_order`"), UNAVAILABLE],
                ),
                "patch": operation(
                    "Amends an order: a smaller quantity keeps its place, a new price or a larger quantity sends it to the back",
                    vec![order()],
                    Some(json!({"type": "object", "additionalProperties": false, "minProperties": 1,
                        "properties": {"price": decimal_input(), "quantity": decimal_input()}})),
                    (200, json_answer("the order and any trades the new price made", schema_ref("OrderResult"))),
                    &[(400, "neither price nor quantity, or an invalid one; `insufficient_balance`"), (404, "`unknown_order`"),
                      (409, "`order_not_open`"), UNAVAILABLE],
                ),
                "delete": operation(
                    "Cancels an order, releasing what it locked", vec![order()], None,
                    (200, json_answer("the order, CANCELLED", schema_ref("Order"))),
                    &[(400, "not an order id"), (404, "`unknown_order`"), (409, "`order_not_open`"), UNAVAILABLE],
                ),
            },
            "/api/v1/trades": {"get": operation(
                "Trades, newest first; oldest first with `after`", trades_page, None,
                (200, json_answer("a page", json!({"type": "object", "properties": {
                    "trades": {"type": "array", "items": schema_ref("Trade")},
                    "next_cursor": {"type": ["string", "null"]}}}))),
                &[(400, "bad filter, limit, cursor or `after`; `after` with `cursor`"), (404, "`unknown_account`"), UNAVAILABLE],
            )},
            "/api/v1/orderbook/{symbol}": {"get": operation(
                "The book's best levels on each side",
                vec![path_param("symbol", "e.g. BTC-USD"), param_with("depth", "query", "levels per side (default 20)",
                    json!({"type": "integer", "minimum": 1, "maximum": 1000}))],
                None,
                (200, json_answer("bids and asks, best first", schema_ref("OrderBook"))),
                &[(400, "bad depth"), (404, "`unknown_symbol`"), UNAVAILABLE],
            )},
            "/api/v1/symbols": {"get": operation(
                "Listed symbols with their tick, lot and fees", vec![], None,
                (200, json_answer("the listing", json!({"type": "object", "properties": {
                    "symbols": {"type": "array", "items": schema_ref("Symbol")}}}))),
                &[],
            )},
            "/api/v1/stream": {"get": symbol_stream(
                "Server-sent events `trade` and `book` as they are stored", "a Trade or an OrderBook", &[UNAVAILABLE],
            )},
        }))
        .schemas(json!({
            "Account": {"type": "object", "properties": {
                "id": {"type": "string"}, "entity": {"type": ["string", "null"]}, "created_at": timestamp()}},
            "Balance": {"type": "object", "properties": {
                "asset": {"type": "string"}, "available": decimal(), "locked": decimal(), "total": decimal()}},
            "OrderRequest": {
                "type": "object",
                "required": ["account_id", "symbol", "side", "quantity"],
                "additionalProperties": false,
                "properties": {
                    "account_id": {"type": "string", "minLength": 1},
                    "symbol": {"type": "string", "minLength": 1, "examples": ["BTC-USD"]},
                    "side": any_case(&["BUY", "SELL"]),
                    "type": any_case(&["LIMIT", "MARKET"]),
                    "price": decimal_input(),
                    "quantity": decimal_input(),
                    "time_in_force": any_case(&["GTC", "IOC", "FOK"]),
                    "client_order_id": {"type": "string", "pattern": "^[A-Za-z0-9._:/-]{1,64}$", "description": "unique per account"},
                    "post_only": {"type": "boolean"},
                    "self_trade_prevention": any_case(&["CANCEL_TAKER", "CANCEL_MAKER", "CANCEL_BOTH"]),
                },
                "description": "A limit needs a price, on the tick; a market order has none. The quantity is \
                    positive and on the lot. type defaults to LIMIT when a price is given, else MARKET; \
                    time_in_force to GTC (IOC for market orders); self_trade_prevention to CANCEL_TAKER.",
            },
            "Order": {"type": "object", "properties": {
                "id": {"type": "string"},
                "client_order_id": {"type": ["string", "null"]},
                "account_id": {"type": "string"},
                "symbol": {"type": "string"},
                "side": {"enum": ["BUY", "SELL"]},
                "type": {"enum": ["LIMIT", "MARKET"]},
                "time_in_force": {"enum": ["GTC", "IOC", "FOK"]},
                "post_only": {"type": "boolean"},
                "self_trade_prevention": {"enum": ["CANCEL_TAKER", "CANCEL_MAKER", "CANCEL_BOTH"]},
                "price": {"oneOf": [decimal(), {"type": "null"}]},
                "quantity": decimal(),
                "filled_quantity": decimal(),
                "average_price": {"oneOf": [decimal(), {"type": "null"}]},
                "fees": decimal(),
                "status": {"enum": ["NEW", "PARTIALLY_FILLED", "FILLED", "CANCELLED", "REJECTED"]},
                "reason": {"type": ["string", "null"]},
                "created_at": timestamp(),
                "updated_at": timestamp(),
            }},
            "Trade": {"type": "object", "properties": {
                "id": {"type": "string"},
                "symbol": {"type": "string"},
                "price": decimal(),
                "quantity": decimal(),
                "buy_order_id": {"type": "string"},
                "sell_order_id": {"type": "string"},
                "buyer_account_id": {"type": "string"},
                "seller_account_id": {"type": "string"},
                "taker_side": {"enum": ["BUY", "SELL"]},
                "buyer_fee": decimal(),
                "seller_fee": decimal(),
                "executed_at": timestamp(),
            }},
            "OrderResult": {"type": "object", "properties": {
                "order": schema_ref("Order"),
                "trades": {"type": "array", "items": schema_ref("Trade")},
            }},
            "OrderBook": {"type": "object", "properties": {
                "symbol": {"type": "string"},
                "bids": {"type": "array", "items": {"type": "array", "items": decimal(), "minItems": 2, "maxItems": 2,
                         "description": "[price, quantity]"}},
                "asks": {"type": "array", "items": {"type": "array", "items": decimal(), "minItems": 2, "maxItems": 2}},
                "timestamp": timestamp(),
            }},
            "Symbol": {"type": "object", "properties": {
                "symbol": {"type": "string"}, "base": {"type": "string"}, "quote": {"type": "string"},
                "tick_size": decimal(), "lot_size": decimal(), "maker_fee": decimal(), "taker_fee": decimal(),
            }},
        }))
}
