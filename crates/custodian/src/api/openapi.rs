//! The OpenAPI description of the production HTTP API ([`super::http`]); the host publishes it with
//! its own endpoints and the back door's at `GET /api/v1/openapi.json`.

use serde_json::{Value, json};
use tse_runtime::openapi::{
    OpenApi, any_case, decimal, decimal_input, json_answer, operation, param_with, path_param, query_param,
    schema_ref, timestamp,
};

/// What every production call may answer while restoring or offline.
const UNAVAILABLE: (u16, &str) = (
    503,
    "`custodian_unavailable` (the offline fault), `custodian_restoring`, `storage_failed`",
);

fn object(required: &[&str], properties: Value) -> Value {
    json!({"type": "object", "required": required, "additionalProperties": false, "properties": properties})
}

/// The custodian paths and schemas.
pub fn description() -> OpenApi {
    let account = || path_param("id", "account id, e.g. cust-1");
    let settlement = || path_param("id", "settlement id, e.g. stl-1");
    let page = || {
        vec![
            query_param("limit", "integer", "page size, 1–1000 (default 100)"),
            query_param("cursor", "string", "`next_cursor` of the previous page"),
        ]
    };
    let funds = object(
        &["asset", "amount"],
        json!({"asset": {"type": "string", "examples": ["USD"]}, "amount": decimal_input()}),
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
        query_param(
            "trade_id",
            "string",
            "only the exchange P&L settlement covering this trade id (needs `exchange`)",
        ),
    ];
    settlements_page.extend(page());
    let mut open_account = operation(
        "Opens a custody account (the body is optional)",
        vec![],
        Some(object(
            &[],
            json!({"entity": {"type": ["string", "null"], "maxLength": 128,
            "description": "the trading entity it belongs to"}}),
        )),
        (201, json_answer("the account", schema_ref("Account"))),
        &[(400, "invalid JSON or entity"), UNAVAILABLE],
    );
    open_account["requestBody"]["required"] = false.into();
    let new_settlement = object(
        &["external_id", "account_id", "type"],
        json!({
            "external_id": {"type": "string", "maxLength": 128, "description": "yours; the same id with the same content is the same instruction"},
            "account_id": {"type": "string"},
            "type": any_case(&["TRADE", "NET"]),
            "cycle": {"enum": ["T+0", "T+1", "T+2", "t+0", "t+1", "t+2"], "description": "default T+2 for TRADE, T+0 for NET"},
            "symbol": {"type": "string", "description": "TRADE: BASE-QUOTE"},
            "side": any_case(&["BUY", "SELL"]),
            "quantity": decimal_input(),
            "price": decimal_input(),
            "fee": decimal_input(),
            "legs": {"type": "array", "description": "NET: signed amounts for the account",
                "items": object(&["asset", "amount"], json!({"asset": {"type": "string"}, "amount": decimal_input()}))},
        }),
    );
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
                    "additionalProperties": decimal_input(), "examples": [{"BTC": "1.5", "USD": 1000}]}}))),
                (200, json_answer("the breaks", json!({"type": "object", "properties": {
                    "account_id": {"type": "string"}, "reconciled": {"type": "boolean"},
                    "breaks": {"type": "array", "items": schema_ref("Break")}}}))),
                &[(400, "`unknown_asset`, `invalid_amount`"), (404, "`unknown_account`"), UNAVAILABLE],
            )},
            "/api/v1/transfers": {"post": operation(
                "Moves an available amount between two custody accounts", vec![],
                Some(object(&["from_account_id", "to_account_id", "asset", "amount"], json!({
                    "from_account_id": {"type": "string"}, "to_account_id": {"type": "string"},
                    "asset": {"type": "string"}, "amount": decimal_input()}))),
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
                Some(object(&[], json!({"reason": {"type": "string", "maxLength": 128}}))),
                (200, json_answer("the settlement", schema_ref("Settlement"))),
                &[(404, "`unknown_settlement`"), (409, "`settlement_not_pending`"), UNAVAILABLE],
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
