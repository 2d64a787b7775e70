//! The production HTTP API:
//!
//! | route | does |
//! |---|---|
//! | `POST /api/v1/accounts` `{entity?}` | opens an account (201) |
//! | `GET /api/v1/accounts?entity&limit&cursor` | accounts in id order: `{accounts, next_cursor}` |
//! | `GET /api/v1/accounts/{id}` | the account |
//! | `GET /api/v1/accounts/{id}/balances` | available, locked and total per asset |
//! | `POST /api/v1/accounts/{id}/deposits` `{asset, amount}` | simulated deposit; answers the balance |
//! | `POST /api/v1/accounts/{id}/withdrawals` `{asset, amount}` | withdrawal from the available balance |
//! | `POST /api/v1/orders` `{account_id, symbol, side, type, price, quantity, time_in_force, client_order_id, post_only, self_trade_prevention}` | places an order (201): `{order, trades}` |
//! | `GET /api/v1/orders/{id}` | one order |
//! | `PATCH /api/v1/orders/{id}` `{price?, quantity?}` | amends: `{order, trades}` |
//! | `DELETE /api/v1/orders/{id}` | cancels: the order |
//! | `GET /api/v1/orders?account_id&symbol&status&limit&cursor` | orders, newest first: `{orders, next_cursor}` |
//! | `GET /api/v1/trades?account_id&entity&symbol&limit&cursor` | trades, newest first: `{trades, next_cursor}` |
//! | `GET /api/v1/trades?...&after=ID&limit` | trades after trade `ID`, oldest first: `{trades, next_cursor: null}` |
//! | `GET /api/v1/orderbook/{symbol}?depth=N` | the book's best `N` levels a side (default 20) |
//! | `GET /api/v1/symbols` | listed instruments with tick, lot and fees |
//! | `GET /api/v1/stream?symbols=BTC-USD,ETH-USD` | server-sent events `trade` and `book` as they happen |

use std::{convert::Infallible, time::Duration};

use axum::{
    Json, Router,
    body::Bytes,
    extract::{Path, Request, State},
    http::StatusCode,
    middleware::{self, Next},
    response::{
        IntoResponse, Response,
        sse::{Event, KeepAlive, Sse},
    },
    routing::{get, post},
};
use futures::{Stream, StreamExt, stream};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json, value::RawValue};
use tokio_util::sync::CancellationToken;
use tse_runtime::api::{ApiError, Query, decimal_text, optional_json_body};

use super::{
    AccountQuery, Api, ListQuery, OrderInput, account_id, decimal, depth, engine_error, optional_decimal,
    order_id,
};
use crate::{
    app::{
        engine::MarketUpdate,
        views::{AccountView, BalanceView, OrderView, TradeView},
    },
    domain::faults::Operation,
};

#[derive(Clone)]
struct Http {
    api: Api,
    draining: CancellationToken,
}

/// The production HTTP routes; `draining` ends live streams when the instance stops.
pub fn router(api: Api, draining: CancellationToken) -> Router {
    Router::new()
        .route("/api/v1/accounts", post(create_account).get(list_accounts))
        .route("/api/v1/accounts/{id}", get(account))
        .route("/api/v1/accounts/{id}/balances", get(balances))
        .route("/api/v1/accounts/{id}/deposits", post(deposit))
        .route("/api/v1/accounts/{id}/withdrawals", post(withdraw))
        .route("/api/v1/orders", post(place).get(list_orders))
        .route("/api/v1/orders/{id}", get(get_order).patch(amend).delete(cancel))
        .route("/api/v1/trades", get(list_trades))
        .route("/api/v1/orderbook/{symbol}", get(book))
        .route("/api/v1/symbols", get(symbols))
        .route("/api/v1/stream", get(stream_market))
        .layer(middleware::from_fn_with_state(api.clone(), downtime_guard))
        .with_state(Http { api, draining })
}

async fn downtime_guard(State(api): State<Api>, request: Request, next: Next) -> Response {
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

async fn create_account(State(http): State<Http>, bytes: Bytes) -> Result<impl IntoResponse, ApiError> {
    let NewAccount { entity } = optional_json_body(&bytes)?;
    let entity = super::entity(entity)?;
    let account = http
        .api
        .engine
        .open_account(entity)
        .await
        .map_err(|e| engine_error(e, "invalid_account"))?;
    Ok((StatusCode::CREATED, Json(account)))
}

async fn account(State(http): State<Http>, Path(id): Path<String>) -> Result<impl IntoResponse, ApiError> {
    http.api.enter(Operation::Query).await?;
    let account = http
        .api
        .engine
        .account(account_id(&id)?)
        .await
        .map_err(|e| engine_error(e, "invalid_account"))?;
    Ok(Json(account))
}

#[derive(Serialize)]
struct AccountPage {
    accounts: Vec<AccountView>,
    next_cursor: Option<String>,
}

async fn list_accounts(
    State(http): State<Http>,
    Query(query): Query<AccountQuery>,
) -> Result<impl IntoResponse, ApiError> {
    http.api.enter(Operation::Query).await?;
    let (accounts, next_cursor) = http.api.accounts(query).await?;
    Ok(Json(AccountPage {
        accounts,
        next_cursor,
    }))
}

#[derive(Serialize)]
struct Balances {
    account_id: String,
    balances: Vec<BalanceView>,
}

#[derive(Serialize)]
struct Moved {
    account_id: String,
    balance: BalanceView,
}

async fn balances(State(http): State<Http>, Path(id): Path<String>) -> Result<impl IntoResponse, ApiError> {
    http.api.enter(Operation::Query).await?;
    let balances = http
        .api
        .engine
        .balances(account_id(&id)?)
        .await
        .map_err(|e| engine_error(e, "invalid_account"))?;
    Ok(Json(Balances {
        account_id: id,
        balances,
    }))
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Funds {
    #[serde(default)]
    asset: String,
    amount: Option<Box<RawValue>>,
}

async fn move_funds(http: &Http, id: String, bytes: &Bytes, withdraw: bool) -> Result<Response, ApiError> {
    let Funds { asset, amount } = optional_json_body(bytes)?;
    if asset.trim().is_empty() {
        return Err(ApiError::bad_request("missing_asset", "asset is required"));
    }
    let amount = decimal_text("amount", amount)?
        .ok_or_else(|| ApiError::bad_request("missing_amount", "amount is required"))?;
    let amount = decimal("amount", &amount)?;
    let balance = http
        .api
        .engine
        .move_funds(account_id(&id)?, asset, amount, withdraw)
        .await
        .map_err(|e| engine_error(e, "invalid_amount"))?;
    Ok(Json(Moved {
        account_id: id,
        balance,
    })
    .into_response())
}

async fn deposit(
    State(http): State<Http>,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    move_funds(&http, id, &bytes, false).await
}

async fn withdraw(
    State(http): State<Http>,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    move_funds(&http, id, &bytes, true).await
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlaceBody {
    #[serde(default)]
    account_id: String,
    #[serde(default)]
    symbol: String,
    #[serde(default)]
    side: String,
    #[serde(rename = "type")]
    order_type: Option<String>,
    price: Option<Box<RawValue>>,
    quantity: Option<Box<RawValue>>,
    time_in_force: Option<String>,
    client_order_id: Option<String>,
    #[serde(default)]
    post_only: bool,
    self_trade_prevention: Option<String>,
}

async fn place(State(http): State<Http>, bytes: Bytes) -> Result<impl IntoResponse, ApiError> {
    let b: PlaceBody = optional_json_body(&bytes)?;
    let request = OrderInput {
        account_id: b.account_id,
        symbol: b.symbol,
        side: b.side,
        order_type: b.order_type,
        price: decimal_text("price", b.price)?,
        quantity: decimal_text("quantity", b.quantity)?,
        time_in_force: b.time_in_force,
        client_order_id: b.client_order_id,
        post_only: b.post_only,
        self_trade_prevention: b.self_trade_prevention,
    }
    .parse()?;
    http.api.enter(Operation::Place).await?;
    let outcome = http
        .api
        .engine
        .place(request)
        .await
        .map_err(|e| engine_error(e, "invalid_order"))?;
    Ok((StatusCode::CREATED, Json(outcome)))
}

async fn get_order(State(http): State<Http>, Path(id): Path<String>) -> Result<impl IntoResponse, ApiError> {
    let id = order_id(&id)?;
    http.api.enter(Operation::Query).await?;
    Ok(Json(http.api.order(id).await?))
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AmendBody {
    price: Option<Box<RawValue>>,
    quantity: Option<Box<RawValue>>,
}

async fn amend(
    State(http): State<Http>,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    let id = order_id(&id)?;
    let AmendBody { price, quantity } = optional_json_body(&bytes)?;
    let price = optional_decimal("price", decimal_text("price", price)?.as_deref())?;
    let quantity = optional_decimal("quantity", decimal_text("quantity", quantity)?.as_deref())?;
    if price.is_none() && quantity.is_none() {
        return Err(ApiError::bad_request(
            "invalid_amend",
            "give a new price, a new quantity, or both",
        ));
    }
    http.api.enter(Operation::Place).await?;
    match http.api.engine.amend(id, price, quantity).await {
        Ok(outcome) => Ok(Json(outcome)),
        Err(e) => Err(http.api.change_error(id, e, "invalid_amend").await),
    }
}

async fn cancel(State(http): State<Http>, Path(id): Path<String>) -> Result<impl IntoResponse, ApiError> {
    let id = order_id(&id)?;
    http.api.enter(Operation::Cancel).await?;
    match http.api.engine.cancel(id).await {
        Ok(order) => Ok(Json(order)),
        Err(e) => Err(http.api.change_error(id, e, "invalid_order").await),
    }
}

#[derive(Serialize)]
struct OrderPage {
    orders: Vec<OrderView>,
    next_cursor: Option<String>,
}

#[derive(Serialize)]
struct TradePage {
    trades: Vec<TradeView>,
    next_cursor: Option<String>,
}

async fn list_orders(
    State(http): State<Http>,
    Query(query): Query<ListQuery>,
) -> Result<impl IntoResponse, ApiError> {
    http.api.enter(Operation::Query).await?;
    let (orders, next_cursor) = http.api.orders(query).await?;
    Ok(Json(OrderPage { orders, next_cursor }))
}

async fn list_trades(
    State(http): State<Http>,
    Query(query): Query<ListQuery>,
) -> Result<impl IntoResponse, ApiError> {
    http.api.enter(Operation::Query).await?;
    let (trades, next_cursor) = http.api.trades(query).await?;
    Ok(Json(TradePage { trades, next_cursor }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BookQuery {
    depth: Option<u32>,
}

async fn book(
    State(http): State<Http>,
    Path(symbol): Path<String>,
    Query(query): Query<BookQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let depth = depth(query.depth)?;
    let symbol = http
        .api
        .listed(&symbol)
        .map_err(|e| ApiError::not_found("unknown_symbol", e.message()))?;
    http.api.enter(Operation::Query).await?;
    let book = http
        .api
        .engine
        .book(symbol, depth)
        .await
        .map_err(|e| engine_error(e, "invalid_symbol"))?;
    Ok(Json(book))
}

async fn symbols(State(http): State<Http>) -> Json<Value> {
    let fees = http.api.engine.fees();
    let symbols: Vec<Value> = http
        .api
        .engine
        .instruments()
        .iter()
        .map(|i| {
            json!({
                "symbol": i.symbol,
                "base": i.base,
                "quote": i.quote,
                "tick_size": i.tick_size,
                "lot_size": i.lot_size,
                "maker_fee": fees.maker,
                "taker_fee": fees.taker,
            })
        })
        .collect();
    Json(json!({ "symbols": symbols }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StreamQuery {
    symbols: Option<String>,
}

async fn stream_market(
    State(http): State<Http>,
    Query(query): Query<StreamQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let chosen = super::stream_symbols(&http.api, query.symbols.as_deref().unwrap_or("").split(','))?;
    let events = super::market_for(http.api.clone(), chosen, http.draining).map(|batch| {
        let events: Vec<Result<Event, Infallible>> = match batch {
            super::Batch::Updates(updates) => updates
                .iter()
                .map(|u| {
                    Ok(match u {
                        MarketUpdate::Trade(t) => Event::default().event("trade").data(json!(t).to_string()),
                        MarketUpdate::Book(b) => Event::default().event("book").data(json!(b).to_string()),
                    })
                })
                .collect(),
            super::Batch::Lagged(missed) => vec![Ok(
                Event::default().comment(format!("lagged: {missed} updates skipped"))
            )],
        };
        stream::iter(events)
    });
    Ok(Sse::new(events.flatten()).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
