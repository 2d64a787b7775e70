//! The production HTTP API:
//!
//! | route | does |
//! |---|---|
//! | `POST /api/v1/accounts` `{entity?}` | opens an account (201) |
//! | `GET /api/v1/accounts?entity&limit&cursor` | accounts in id order: `{accounts, next_cursor}` |
//! | `GET /api/v1/accounts/{id}` | the account |
//! | `GET /api/v1/accounts/{id}/balances` | available, locked and total per asset: `{account_id, balances}` |
//! | `GET /api/v1/accounts/{id}/positions` | quantity, average cost, realised P&L per symbol: `{account_id, positions}` |
//! | `POST /api/v1/accounts/{id}/deposits` `{asset, amount}` | credits a deposit; answers the balance |
//! | `POST /api/v1/accounts/{id}/withdrawals` `{asset, amount}` | pays out of the available balance |
//! | `POST /api/v1/accounts/{id}/reconciliation` `{balances: {ASSET: amount}}` | compares with a report: `{account_id, reconciled, breaks}` |
//! | `POST /api/v1/transfers` `{from_account_id, to_account_id, asset, amount}` | moves an available amount: `{from, to}` balances |
//! | `POST /api/v1/settlements` `{external_id, account_id, type, cycle, ...}` | accepts an instruction (201; 200 when the same one was accepted before) |
//! | `GET /api/v1/settlements?account_id&status&type&exchange&trade_id&limit&cursor` | settlements, newest first: `{settlements, next_cursor}` |
//! | `GET /api/v1/settlements/{id}` | one settlement |
//! | `POST /api/v1/settlements/{id}/cancel` `{reason?}` | cancels a pending settlement |
//!
//! A `TRADE` instruction gives `symbol`, `side`, `quantity`, `price` and `fee` (default 0; cycle
//! default `T+2`); a `NET` one gives `legs: [{asset, amount}]`, signed for the account (cycle
//! default `T+0`).

use std::collections::BTreeMap;

use axum::{
    Json, Router,
    body::Bytes,
    extract::{Path, Request, State},
    http::StatusCode,
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde::Deserialize;
use serde_json::{json, value::RawValue};
use tse_runtime::api::{ApiError, Query, decimal_text, optional_json_body};

use super::{Api, InstructionInput, SettlementQuery, required};

/// The production routes.
pub fn router(api: Api) -> Router {
    Router::new()
        .route("/api/v1/accounts", post(create_account).get(list_accounts))
        .route("/api/v1/accounts/{id}", get(account))
        .route("/api/v1/accounts/{id}/balances", get(balances))
        .route("/api/v1/accounts/{id}/positions", get(positions))
        .route("/api/v1/accounts/{id}/deposits", post(deposit))
        .route("/api/v1/accounts/{id}/withdrawals", post(withdraw))
        .route("/api/v1/accounts/{id}/reconciliation", post(reconcile))
        .route("/api/v1/transfers", post(transfer))
        .route("/api/v1/settlements", post(submit).get(list_settlements))
        .route("/api/v1/settlements/{id}", get(settlement))
        .route("/api/v1/settlements/{id}/cancel", post(cancel))
        .layer(middleware::from_fn_with_state(api.clone(), availability))
        .with_state(api)
}

async fn availability(State(api): State<Api>, request: Request, next: Next) -> Response {
    match api.available() {
        Ok(()) => next.run(request).await,
        Err(e) => e.into_response(),
    }
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewAccount {
    entity: Option<String>,
}

async fn create_account(State(api): State<Api>, bytes: Bytes) -> Result<impl IntoResponse, ApiError> {
    let NewAccount { entity } = optional_json_body(&bytes)?;
    let account = api.open_account(entity).await?;
    Ok((StatusCode::CREATED, Json(account)))
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountQuery {
    entity: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

async fn list_accounts(
    State(api): State<Api>,
    Query(q): Query<AccountQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let (accounts, next_cursor) = api.accounts(q.entity, q.limit, q.cursor).await?;
    Ok(Json(json!({ "accounts": accounts, "next_cursor": next_cursor })))
}

async fn account(State(api): State<Api>, Path(id): Path<String>) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(api.account(id).await?))
}

async fn balances(State(api): State<Api>, Path(id): Path<String>) -> Result<impl IntoResponse, ApiError> {
    let balances = api.balances(id.clone()).await?;
    Ok(Json(json!({ "account_id": id.trim(), "balances": balances })))
}

async fn positions(State(api): State<Api>, Path(id): Path<String>) -> Result<impl IntoResponse, ApiError> {
    let positions = api.positions(id.clone()).await?;
    Ok(Json(json!({ "account_id": id.trim(), "positions": positions })))
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Funds {
    asset: Option<String>,
    amount: Option<Box<RawValue>>,
}

async fn move_funds(api: &Api, id: String, bytes: &Bytes, withdraw: bool) -> Result<Response, ApiError> {
    let Funds { asset, amount } = optional_json_body(bytes)?;
    let asset = required("asset", asset)?;
    let amount = required("amount", decimal_text("amount", amount)?)?;
    let balance = api.move_funds(id, asset, &amount, withdraw).await?;
    Ok(Json(balance).into_response())
}

async fn deposit(State(api): State<Api>, Path(id): Path<String>, bytes: Bytes) -> Result<Response, ApiError> {
    move_funds(&api, id, &bytes, false).await
}

async fn withdraw(
    State(api): State<Api>,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    move_funds(&api, id, &bytes, true).await
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Report {
    balances: Option<BTreeMap<String, Box<RawValue>>>,
}

async fn reconcile(
    State(api): State<Api>,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    let Report { balances } = optional_json_body(&bytes)?;
    let reported = balances
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_request",
                "balances is required: {\"ASSET\": amount, ...}",
            )
        })?
        .into_iter()
        .map(|(asset, amount)| Ok((asset, required("amount", decimal_text("amount", Some(amount))?)?)))
        .collect::<Result<Vec<_>, ApiError>>()?;
    let breaks = api.reconcile(id.clone(), reported).await?;
    Ok(Json(
        json!({ "account_id": id.trim(), "reconciled": breaks.is_empty(), "breaks": breaks }),
    ))
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Transfer {
    from_account_id: Option<String>,
    to_account_id: Option<String>,
    asset: Option<String>,
    amount: Option<Box<RawValue>>,
}

async fn transfer(State(api): State<Api>, bytes: Bytes) -> Result<impl IntoResponse, ApiError> {
    let t: Transfer = optional_json_body(&bytes)?;
    let amount = required("amount", decimal_text("amount", t.amount)?)?;
    let (from, to) = api
        .transfer(
            required("from_account_id", t.from_account_id)?,
            required("to_account_id", t.to_account_id)?,
            required("asset", t.asset)?,
            &amount,
        )
        .await?;
    Ok(Json(json!({ "from": from, "to": to })))
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Leg {
    asset: String,
    amount: Option<Box<RawValue>>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewSettlement {
    external_id: Option<String>,
    account_id: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    cycle: Option<String>,
    symbol: Option<String>,
    side: Option<String>,
    quantity: Option<Box<RawValue>>,
    price: Option<Box<RawValue>>,
    fee: Option<Box<RawValue>>,
    legs: Option<Vec<Leg>>,
}

async fn submit(State(api): State<Api>, bytes: Bytes) -> Result<impl IntoResponse, ApiError> {
    let n: NewSettlement = optional_json_body(&bytes)?;
    let legs = n
        .legs
        .unwrap_or_default()
        .into_iter()
        .map(|l| Ok((l.asset, required("amount", decimal_text("amount", l.amount)?)?)))
        .collect::<Result<Vec<_>, ApiError>>()?;
    let input = InstructionInput {
        external_id: required("external_id", n.external_id)?,
        account_id: required("account_id", n.account_id)?,
        kind: required("type", n.kind)?,
        cycle: n.cycle,
        symbol: n.symbol,
        side: n.side,
        quantity: decimal_text("quantity", n.quantity)?,
        price: decimal_text("price", n.price)?,
        fee: decimal_text("fee", n.fee)?,
        legs,
    };
    let (settlement, new) = api.submit(input).await?;
    let status = if new { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(settlement)))
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    account_id: Option<String>,
    status: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    exchange: Option<String>,
    trade_id: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

async fn list_settlements(
    State(api): State<Api>,
    Query(q): Query<ListQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let (settlements, next_cursor) = api
        .settlements(SettlementQuery {
            account_id: q.account_id,
            status: q.status,
            kind: q.kind,
            exchange: q.exchange,
            trade_id: q.trade_id,
            limit: q.limit,
            cursor: q.cursor,
        })
        .await?;
    Ok(Json(
        json!({ "settlements": settlements, "next_cursor": next_cursor }),
    ))
}

async fn settlement(State(api): State<Api>, Path(id): Path<String>) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(api.settlement(id).await?))
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Cancel {
    reason: Option<String>,
}

async fn cancel(
    State(api): State<Api>,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    let Cancel { reason } = optional_json_body(&bytes)?;
    Ok(Json(api.cancel(id, reason).await?))
}
