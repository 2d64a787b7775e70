//! The OpenAPI description of the production HTTP API ([`super::http`]); the host publishes it with
//! its own endpoints and the back door's at `GET /api/v1/openapi.json`.

use serde_json::{Value, json};
use tse_runtime::openapi::{
    OpenApi, any_case, decimal, event_stream, json_answer, names_any_case, operation, param_with, path_param,
    plain_text, positive_decimal_input, query_param, schema_ref, symbols_query, timestamp,
};

use crate::domain::instrument::Instrument;

/// Errors every production call may meet while the exchange is down or restoring.
const UNAVAILABLE: (u16, &str) = (
    503,
    "`exchange_unavailable` (the downtime fault), `exchange_restoring` (state still loading) or \
     `exchange_stopping` (a request still waiting when the instance stops)",
);

/// `schema`, or an empty text (a filter given empty is no filter).
fn or_empty(schema: Value) -> Value {
    json!({"anyOf": [schema, {"type": "string", "maxLength": 0}]})
}

/// An entity name as the exchange reads it: at most 128 characters, no control characters; blank
/// (or absent) is none.
fn entity() -> Value {
    json!({"anyOf": [plain_text(128), {"type": "string", "pattern": "^\\s*$"}]})
}

/// A numeric id (order, trade) or cursor.
fn number_text() -> Value {
    json!({"type": "string", "pattern": "^[0-9]{1,19}$"})
}

/// The exchange's paths and schemas for an instance listing `instruments`: symbols and assets in
/// requests are the listed ones.
pub fn description(instruments: &[Instrument]) -> OpenApi {
    let symbols: Vec<&str> = instruments.iter().map(|i| i.symbol.as_str()).collect();
    let mut assets: Vec<&str> = Vec::new();
    for i in instruments {
        for asset in [i.base.as_str(), i.quote.as_str()] {
            if !assets.contains(&asset) {
                assets.push(asset);
            }
        }
    }
    let symbol_name = names_any_case(&symbols);
    let account = || path_param("id", "account id, e.g. acct-1");
    let order = || param_with("id", "path", "order id", number_text());
    let limit = || {
        param_with(
            "limit",
            "query",
            "page size, 1–1000 (default 100)",
            json!({"type": "integer", "minimum": 1, "maximum": 1000}),
        )
    };
    let page = || {
        vec![
            query_param(
                "account_id",
                "string",
                "only this account's (an unknown one: 404)",
            ),
            param_with(
                "symbol",
                "query",
                "only this listed symbol's (any case)",
                or_empty(symbol_name.clone()),
            ),
            limit(),
            param_with(
                "cursor",
                "query",
                "`next_cursor` of the previous page",
                or_empty(number_text()),
            ),
        ]
    };
    let mut orders_page = page();
    orders_page.insert(
        2,
        param_with(
            "status",
            "query",
            "NEW, PARTIALLY_FILLED, FILLED, CANCELLED, REJECTED, or open (any case)",
            or_empty(names_any_case(&[
                "NEW",
                "PARTIALLY_FILLED",
                "FILLED",
                "CANCELLED",
                "REJECTED",
                "open",
            ])),
        ),
    );
    let mut trades_page = page();
    trades_page.insert(
        1,
        param_with(
            "entity",
            "query",
            "only trades where the buyer's or the seller's account belongs to this entity (none for an unknown one)",
            json!({"type": "string"}),
        ),
    );
    trades_page.push(param_with(
        "after",
        "query",
        "a trade id: only later trades, oldest first, at most `limit`, `next_cursor` null \
         (go on with `after` = the last id returned; 0 starts at the first trade); not with `cursor`",
        or_empty(number_text()),
    ));
    let accounts_page = vec![
        query_param("entity", "string", "only this trading entity's accounts"),
        limit(),
        param_with(
            "cursor",
            "query",
            "`next_cursor` of the previous page",
            or_empty(json!({"type": "string", "pattern": "^acct-[0-9]{1,19}$"})),
        ),
    ];
    let funds = json!({
        "type": "object",
        "required": ["asset", "amount"],
        "additionalProperties": false,
        "properties": {
            "asset": {"enum": assets, "examples": ["USD"]},
            "amount": positive_decimal_input(20),
        },
    });
    let moved = json!({
        "type": "object",
        "properties": {"account_id": {"type": "string"}, "balance": schema_ref("Balance")},
    });
    let mut open_account = operation(
        "Opens an account (the body is optional)",
        vec![],
        Some(json!({"type": "object", "additionalProperties": false,
            "properties": {"entity": {"anyOf": [entity(), {"type": "null"}], "description": "the trading entity it belongs to"}}})),
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
                    &[(400, "bad filter, limit or cursor"), (404, "`unknown_account`"), UNAVAILABLE],
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
                        "properties": {"price": positive_decimal_input(20), "quantity": positive_decimal_input(20)}})),
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
                vec![param_with("symbol", "path", "a listed symbol, e.g. BTC-USD (any case)", symbol_name.clone()),
                    param_with("depth", "query", "levels per side, 1–1000 (0 or absent: 20)",
                    json!({"type": "integer", "minimum": 0, "maximum": 1000}))],
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
            "/api/v1/stream": {"get": event_stream(
                "Server-sent events `trade` and `book` as they are stored",
                vec![symbols_query(&symbol_name, "listed symbols, comma-separated (any case); default all")],
                &[("trade", trade()), ("book", book())],
                &[(400, "an unknown symbol"), UNAVAILABLE],
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
                    "symbol": symbol_name,
                    "side": any_case(&["BUY", "SELL"]),
                    "type": any_case(&["LIMIT", "MARKET"]),
                    "price": positive_decimal_input(20),
                    "quantity": positive_decimal_input(20),
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
            "Trade": trade(),
            "OrderResult": {"type": "object", "properties": {
                "order": schema_ref("Order"),
                "trades": {"type": "array", "items": schema_ref("Trade")},
            }},
            "OrderBook": book(),
            "Symbol": {"type": "object", "properties": {
                "symbol": {"type": "string"}, "base": {"type": "string"}, "quote": {"type": "string"},
                "tick_size": decimal(), "lot_size": decimal(), "maker_fee": decimal(), "taker_fee": decimal(),
            }},
        }))
}

/// A trade (in answers and `trade` events).
fn trade() -> Value {
    json!({"type": "object", "properties": {
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
    }})
}

/// A book's best levels (in answers and `book` events).
fn book() -> Value {
    json!({"type": "object", "properties": {
        "symbol": {"type": "string"},
        "bids": {"type": "array", "items": {"type": "array", "items": decimal(), "minItems": 2, "maxItems": 2,
                 "description": "[price, quantity]"}},
        "asks": {"type": "array", "items": {"type": "array", "items": decimal(), "minItems": 2, "maxItems": 2}},
        "timestamp": timestamp(),
    }})
}
