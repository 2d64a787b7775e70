//! The OpenAPI description of the production HTTP API ([`super::http`]); the host publishes it with
//! its own endpoints and the back door's at `GET /api/v1/openapi.json`.

use serde_json::{Value, json};
use tse_runtime::openapi::{
    OpenApi, any_case, decimal, json_answer, names_any_case, operation, param_with, path_param, plain_text,
    positive_decimal_input, query_param, schema_ref, signed_decimal_input, timestamp,
};

/// What every production call may answer while restoring or offline.
const UNAVAILABLE: (u16, &str) = (
    503,
    "`custodian_unavailable` (the offline fault), `custodian_restoring`, `storage_failed`",
);

fn object(required: &[&str], properties: Value) -> Value {
    json!({"type": "object", "required": required, "additionalProperties": false, "properties": properties})
}

/// Text without control characters (Unicode category Cc), which names and reasons refuse.
const NO_CONTROL: &str = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$";

/// Integer digits of an amount: every amount is at most 10^20 (`MAX_AMOUNT`; for a trade,
/// quantity × price + fee too, which the schema cannot say).
const AMOUNT_DIGITS: u32 = 20;

/// The custodian paths and schemas of an instance holding `assets`: assets and symbols in
/// requests are those (any case).
pub fn description(assets: &[String]) -> OpenApi {
    let account = || path_param("id", "account id, e.g. cust-1");
    let settlement = || path_param("id", "settlement id, e.g. stl-1");
    let page = || {
        vec![
            param_with(
                "limit",
                "query",
                "page size (default 100)",
                json!({"type": "integer", "minimum": 1, "maximum": super::MAX_LIMIT}),
            ),
            param_with(
                "cursor",
                "query",
                "`next_cursor` of the previous page (blank: the first page)",
                json!({"type": "string", "pattern": "^[0-9]{0,19}$"}),
            ),
        ]
    };
    let asset = names_any_case(assets);
    // BASE-QUOTE of two different assets held here.
    let pairs: Vec<String> = assets
        .iter()
        .flat_map(|base| {
            assets
                .iter()
                .filter(move |quote| *quote != base)
                .map(move |quote| format!("{base}-{quote}"))
        })
        .collect();
    let symbol = names_any_case(&pairs);
    let funds = object(
        &["asset", "amount"],
        json!({"asset": asset, "amount": positive_decimal_input(AMOUNT_DIGITS)}),
    );
    let mut accounts_page = vec![query_param(
        "entity",
        "string",
        "only this trading entity's accounts",
    )];
    accounts_page.extend(page());
    let mut settlements_page = vec![
        query_param("account_id", "string", "only this account's"),
        param_with(
            "status",
            "query",
            "only this status",
            any_case(&["PENDING", "COMPLETED", "FAILED", "CANCELLED"]),
        ),
        param_with(
            "type",
            "query",
            "only this type",
            any_case(&["TRADE", "NET", "EXCHANGE_PNL"]),
        ),
        query_param(
            "exchange",
            "string",
            "only exchange P&L of this exchange instance",
        ),
        param_with(
            "trade_id",
            "query",
            "only the exchange P&L settlement covering this trade id (needs `exchange`)",
            json!({"type": "string", "pattern": "^[0-9]{1,19}$"}),
        ),
    ];
    settlements_page.extend(page());
    let mut open_account = operation(
        "Opens a custody account (the body is optional)",
        vec![],
        Some(object(
            &[],
            json!({"entity": {"type": ["string", "null"], "maxLength": 128, "pattern": NO_CONTROL,
            "description": "the trading entity it belongs to (blank: none)"}}),
        )),
        (201, json_answer("the account", schema_ref("Account"))),
        &[(400, "invalid JSON or entity"), UNAVAILABLE],
    );
    open_account["requestBody"]["required"] = false.into();
    // What both kinds share; TRADE and NET each add theirs (`oneOf`).
    let common = json!({
        "external_id": plain_text(128),
        "account_id": plain_text(128),
        "cycle": {"enum": ["T+0", "T+1", "T+2", "t+0", "t+1", "t+2", null], "description": "default T+2 for TRADE, T+0 for NET"},
        "fee": {"oneOf": [
            {"type": "string", "pattern": "^[0-9]{1,20}(\\.[0-9]{1,8})?$"},
            {"type": "number", "minimum": 0, "maximum": 1e20},
            {"type": "null"},
        ], "description": "TRADE: default 0"},
    });
    let with_common = |extra: Value| {
        let mut properties = common.clone();
        if let (Some(all), Value::Object(extra)) = (properties.as_object_mut(), extra) {
            all.extend(extra);
        }
        properties
    };
    let trade = object(
        &[
            "external_id",
            "account_id",
            "type",
            "symbol",
            "side",
            "quantity",
            "price",
        ],
        with_common(json!({
            "type": any_case(&["TRADE"]),
            "symbol": symbol,
            "side": any_case(&["BUY", "SELL"]),
            "quantity": positive_decimal_input(AMOUNT_DIGITS),
            "price": positive_decimal_input(AMOUNT_DIGITS),
            "legs": {"type": ["array", "null"], "maxItems": 0},
        })),
    );
    let net = object(
        &["external_id", "account_id", "type", "legs"],
        with_common(json!({
            "type": any_case(&["NET"]),
            "symbol": {"type": "null"}, "side": {"type": "null"},
            "quantity": {"type": "null"}, "price": {"type": "null"},
            "legs": {"type": "array", "minItems": 1, "description": "signed amounts for the account, one per asset",
                "items": object(&["asset", "amount"], json!({"asset": asset,
                    "amount": {"allOf": [signed_decimal_input(AMOUNT_DIGITS), {"not": {"anyOf": [{"const": 0}, {"type": "string", "pattern": "^-?0+(\\.0+)?$"}]}}]}}))},
        })),
    );
    let new_settlement = json!({"oneOf": [trade, net]});
    let balances = json!({"type": "object", "properties": {
        "account_id": {"type": "string"}, "balances": {"type": "array", "items": schema_ref("Balance")}}});
    OpenApi::new()
        .paths(json!({
            "/api/v1/accounts": {
                "post": open_account,
                "get": operation(
                    "Custody accounts in id order (cust-1, cust-2, ...)", accounts_page, None,
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
                "Available, locked and total per asset held here", vec![account()], None,
                (200, json_answer("the balances", balances)),
                &[(404, "`unknown_account`"), UNAVAILABLE],
            )},
            "/api/v1/accounts/{id}/positions": {"get": operation(
                "Positions per symbol built by settled trades", vec![account()], None,
                (200, json_answer("the positions", json!({"type": "object", "properties": {
                    "account_id": {"type": "string"},
                    "positions": {"type": "array", "items": schema_ref("Position")}}}))),
                &[(404, "`unknown_account`"), UNAVAILABLE],
            )},
            "/api/v1/accounts/{id}/deposits": {"post": operation(
                "Credits a deposit from outside", vec![account()], Some(funds.clone()),
                (200, json_answer("the balance after", schema_ref("Balance"))),
                &[(400, "`invalid_amount`, `unknown_asset`, `invalid_json`"), (404, "`unknown_account`"), UNAVAILABLE],
            )},
            "/api/v1/accounts/{id}/withdrawals": {"post": operation(
                "Pays a withdrawal out of the available balance", vec![account()], Some(funds),
                (200, json_answer("the balance after", schema_ref("Balance"))),
                &[(400, "`insufficient_balance`, `invalid_amount`, `unknown_asset`"), (404, "`unknown_account`"),
                  (422, "`transfer_rejected` (the reject_transfers fault)"), UNAVAILABLE],
            )},
            "/api/v1/accounts/{id}/reconciliation": {"post": operation(
                "Compares the account's totals with another party's report: one break per differing asset",
                vec![account()],
                Some(object(&["balances"], json!({"balances": {"type": "object",
                    "propertyNames": asset, "additionalProperties": signed_decimal_input(AMOUNT_DIGITS),
                    "examples": [{"BTC": "1.5", "USD": 1000}]}}))),
                (200, json_answer("the breaks", json!({"type": "object", "properties": {
                    "account_id": {"type": "string"}, "reconciled": {"type": "boolean"},
                    "breaks": {"type": "array", "items": schema_ref("Break")}}}))),
                &[(400, "`unknown_asset`, `invalid_amount`"), (404, "`unknown_account`"), UNAVAILABLE],
            )},
            "/api/v1/transfers": {"post": operation(
                "Moves an available amount between two custody accounts", vec![],
                Some(object(&["from_account_id", "to_account_id", "asset", "amount"], json!({
                    "from_account_id": plain_text(128), "to_account_id": plain_text(128),
                    "asset": asset, "amount": positive_decimal_input(AMOUNT_DIGITS)}))),
                (200, json_answer("both balances after", json!({"type": "object", "properties": {
                    "from": schema_ref("Balance"), "to": schema_ref("Balance")}}))),
                &[(400, "`insufficient_balance`, `invalid_amount`, `unknown_asset`, the same account twice"),
                  (404, "`unknown_account`"), (422, "`transfer_rejected` (the reject_transfers fault)"), UNAVAILABLE],
            )},
            "/api/v1/settlements": {
                "post": operation(
                    "Accepts a settlement instruction: PENDING, due on its cycle, outgoing amounts locked",
                    vec![], Some(new_settlement),
                    (201, json_answer("the new settlement (200: the same instruction was accepted before)", schema_ref("Settlement"))),
                    &[(400, "`insufficient_balance`, `invalid_type`, `invalid_cycle`, `invalid_side`, `invalid_request`, `unknown_asset`"),
                      (404, "`unknown_account`"), (409, "`duplicate_external_id` (other content)"), UNAVAILABLE],
                ),
                "get": operation(
                    "Settlements, newest first", settlements_page, None,
                    (200, json_answer("a page", json!({"type": "object", "properties": {
                        "settlements": {"type": "array", "items": schema_ref("Settlement")},
                        "next_cursor": {"type": ["string", "null"]}}}))),
                    &[(400, "bad filter, limit or cursor"), (404, "`unknown_account`"), UNAVAILABLE],
                ),
            },
            "/api/v1/settlements/{id}": {"get": operation(
                "One settlement", vec![settlement()], None,
                (200, json_answer("the settlement", schema_ref("Settlement"))),
                &[(404, "`unknown_settlement`"), UNAVAILABLE],
            )},
            "/api/v1/settlements/{id}/cancel": {"post": operation(
                "Cancels a pending settlement: nothing moves, its locks are released", vec![settlement()],
                Some(object(&[], json!({"reason": {"type": ["string", "null"], "maxLength": 128, "pattern": NO_CONTROL,
                    "description": "default `cancelled by request`"}}))),
                (200, json_answer("the settlement", schema_ref("Settlement"))),
                &[(404, "`unknown_settlement`"), (409, "`settlement_not_pending`, `settlement_not_cancellable`"), UNAVAILABLE],
            )},
        }))
        .schemas(json!({
            "Account": {"type": "object", "properties": {
                "id": {"type": "string"}, "entity": {"type": ["string", "null"]}, "created_at": timestamp(),
            }},
            "Balance": {"type": "object", "properties": {
                "asset": {"type": "string"}, "available": decimal(), "locked": decimal(), "total": decimal(),
            }},
            "Position": {"type": "object", "properties": {
                "symbol": {"type": "string"}, "quantity": decimal(), "average_cost": decimal(), "realized_pnl": decimal(),
            }},
            "Break": {"type": "object", "properties": {
                "asset": {"type": "string"}, "held": decimal(), "reported": decimal(), "difference": decimal(),
            }},
            "Settlement": {"type": "object", "properties": {
                "id": {"type": "string"}, "external_id": {"type": "string"}, "account_id": {"type": "string"},
                "type": {"enum": ["TRADE", "NET", "EXCHANGE_PNL"]},
                "cycle": {"enum": ["T+0", "T+1", "T+2"]},
                "status": {"enum": ["PENDING", "COMPLETED", "FAILED", "CANCELLED"]},
                "reason": {"type": ["string", "null"]},
                "symbol": {"type": "string"}, "side": {"enum": ["BUY", "SELL"]},
                "quantity": decimal(), "price": decimal(), "fee": decimal(),
                "exchange": {"type": "string"}, "entity": {"type": "string"},
                "first_trade_id": {"type": "string"}, "last_trade_id": {"type": "string"},
                "trade_count": {"type": "integer"},
                "legs": {"type": "array", "items": {"type": "object", "properties": {
                    "asset": {"type": "string"}, "amount": decimal(), "settled": decimal()}}},
                "created_at": timestamp(), "due_at": timestamp(),
                "finished_at": {"type": ["string", "null"], "format": "date-time"},
            }},
        }))
}
