//! The production API, over HTTP JSON ([`http`]) and gRPC ([`grpc`]), with the same rules for both:
//! how inputs are read (decimals as strings or numbers, enums in any case), which errors a request
//! can meet and with which status, and what the answers hold.
//!
//! Decimals are read exactly (`tse_runtime::money`): plain decimal text (`"0.015"`; a JSON number
//! is taken from its token, so `0.015` and `1.5e-2` are the same), never through binary floating
//! point, never rounded. Every price, quantity and amount is at most 10^20, and so is a limit
//! order's notional (price × quantity); a price takes at most the decimals of its instrument's tick
//! size, a quantity those of its lot size, and an amount those of its asset on this exchange.
//!
//! | error code | HTTP | gRPC | when |
//! |---|---|---|---|
//! | `invalid_order`, `invalid_amount`, `invalid_side`, `invalid_type`, ... | 400 | `INVALID_ARGUMENT` | a value is missing or malformed, off the tick or lot, or breaks an order rule |
//! | `unknown_symbol`, `unknown_asset` | 400 (404 in a path) | `INVALID_ARGUMENT` / `NOT_FOUND` | not listed here |
//! | `insufficient_balance` | 400 | `FAILED_PRECONDITION` | the account cannot cover the order or withdrawal |
//! | `unknown_account`, `unknown_order` | 404 | `NOT_FOUND` | no such id |
//! | `duplicate_client_order_id` | 409 | `ALREADY_EXISTS` | the account already used that `client_order_id` |
//! | `order_not_open` | 409 | `FAILED_PRECONDITION` | the order is filled, cancelled or rejected (also one finished before a restart: storage is asked) |
//! | `exchange_unavailable` | 503 | `UNAVAILABLE` | the `downtime` fault is active, or the instance is stopping |
//! | `exchange_restoring` | 503 | `UNAVAILABLE` | the state is still being read from storage (the database was away at start) |
//! | `storage_unavailable` | 503 | `UNAVAILABLE` | a history read while the database is away |
//!
//! A request refused by a book rule (post-only that would take, fill-or-kill that cannot fill) or by
//! a fault (`reject_orders`, `symbol_halt`) is not an error: the order exists as `REJECTED` with its
//! reason.

pub mod grpc;
pub mod http;
pub mod openapi;

use std::{collections::BTreeSet, sync::Arc, time::Duration};

use axum::http::StatusCode;
use futures::{Stream, stream};
use rust_decimal::Decimal;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;
use tse_matching::SelfTradePrevention;
use tse_runtime::{
    api::{ApiError, numeric_cursor, page_limit},
    money::MAX_AMOUNT,
    storage::{Storage, StorageError},
};

use crate::{
    app::{
        engine::{EngineError, EngineHandle, MarketUpdate},
        faults::FaultState,
        views::{AccountView, OrderView, TradeView},
    },
    domain::{
        faults::Operation,
        order::{OrderStatus, OrderType, parse_side, parse_stp, parse_tif},
        venue::{PlaceRequest, VenueError},
    },
    infra::repo::{self, OrderFilter, TradeFilter},
};

/// How often a live stream checks that the exchange is still up.
const STREAM_CHECK: Duration = Duration::from_secs(1);

/// Longest `client_order_id`: ids are kept for every order, so their size is bounded.
const MAX_CLIENT_ORDER_ID: usize = 64;

/// Page size when none is asked.
const DEFAULT_LIMIT: u32 = 100;
/// Largest page.
const MAX_LIMIT: u32 = 1_000;
/// Book levels when none are asked.
const DEFAULT_DEPTH: usize = 20;
/// Most book levels one answer holds.
const MAX_DEPTH: usize = 1_000;

/// What both API faces work with.
#[derive(Clone)]
pub struct Api {
    /// The engine.
    pub engine: EngineHandle,
    /// Storage, for history (orders and trades beyond what memory keeps).
    pub storage: Storage,
    /// Faults in force.
    pub faults: FaultState,
    /// Cancelled when the instance starts draining.
    pub draining: CancellationToken,
}

/// What a request still waiting when the instance stops is answered.
pub(crate) fn stopping() -> ApiError {
    ApiError::unavailable(
        "exchange_stopping",
        "the exchange is stopping; try again on its restart",
    )
}

impl Api {
    /// Refuses production calls while the `downtime` fault is active.
    pub(crate) fn available(&self) -> Result<(), ApiError> {
        if !self.engine.is_ready() {
            return Err(ApiError::unavailable(
                "exchange_restoring",
                "the exchange is restoring its books and balances from storage; try again shortly",
            ));
        }
        if self.faults.now().downtime.is_some() {
            return Err(ApiError::unavailable(
                "exchange_unavailable",
                "the exchange is unavailable; try again later",
            ));
        }
        Ok(())
    }

    /// Waits what a `latency` fault adds to `op`, after checking availability.
    pub(crate) async fn enter(&self, op: Operation) -> Result<(), ApiError> {
        self.available()?;
        let delay = self.faults.now().delay(op);
        if let Some(delay) = delay.filter(|d| *d > Duration::ZERO) {
            // A stop does not wait out the delay (up to 60 s): the request is answered at once.
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = self.draining.cancelled() => return Err(stopping()),
            }
        }
        Ok(())
    }

    /// One order, from memory when it is there, else from storage.
    pub(crate) async fn order(&self, id: u64) -> Result<OrderView, ApiError> {
        if let Some(order) = self
            .engine
            .order(id)
            .await
            .map_err(|e| engine_error(e, "invalid_order"))?
        {
            return Ok(order);
        }
        repo::get_order(&self.storage, self.engine.instruments(), id)
            .await
            .map_err(storage_error)?
            .ok_or_else(|| unknown_order(id))
    }

    /// The API error for a cancel or amend of order `id` the engine refused; `invalid` as in
    /// [`engine_error`]. An order the engine no longer holds — finished before a restart, or long
    /// enough ago to be forgotten — is looked up in storage: a stored order can no longer change
    /// (409, as for a finished order in memory), and only an order stored nowhere is unknown (404).
    pub(crate) async fn change_error(&self, id: u64, error: EngineError, invalid: &'static str) -> ApiError {
        if let EngineError::Venue(VenueError::UnknownOrder(_)) = error {
            match repo::get_order(&self.storage, self.engine.instruments(), id).await {
                Ok(Some(order)) => {
                    return venue_error(
                        VenueError::NotOpen {
                            id,
                            status: order.status,
                        },
                        invalid,
                    );
                }
                Ok(None) => {}
                Err(e) => return storage_error(e),
            }
        }
        engine_error(error, invalid)
    }

    /// A page of orders, newest first, and the cursor of the next page.
    pub(crate) async fn orders(
        &self,
        query: ListQuery,
    ) -> Result<(Vec<OrderView>, Option<String>), ApiError> {
        let statuses = match query.status.as_deref().map(str::trim) {
            None | Some("") => Vec::new(),
            Some(s) if s.eq_ignore_ascii_case("open") => vec![OrderStatus::New, OrderStatus::PartiallyFilled],
            Some(s) => vec![OrderStatus::parse(s).ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_status",
                    format!("status '{s}' is not OPEN, NEW, PARTIALLY_FILLED, FILLED, CANCELLED or REJECTED"),
                )
            })?],
        };
        for (given, name) in [(&query.entity, "entity"), (&query.after, "after")] {
            if present(given.as_ref()).is_some() {
                return Err(ApiError::bad_request(
                    "invalid_query",
                    format!("orders have no {name} filter"),
                ));
            }
        }
        let filter = OrderFilter {
            account_id: self.known_account(query.account_id).await?,
            symbol: self.listed_symbol(query.symbol)?,
            statuses,
            before: cursor(query.cursor.as_deref())?,
            limit: limit(query.limit)?,
        };
        let orders = repo::list_orders(&self.storage, self.engine.instruments(), &filter)
            .await
            .map_err(storage_error)?;
        let next = next_cursor(&orders, filter.limit, |o| &o.id);
        Ok((orders, next))
    }

    /// A page of trades and the cursor of the next page: newest first from `cursor`, or oldest
    /// first after the trade `after` (no cursor then: the caller goes on after the last id it got).
    pub(crate) async fn trades(
        &self,
        query: ListQuery,
    ) -> Result<(Vec<TradeView>, Option<String>), ApiError> {
        if query.status.is_some() {
            return Err(ApiError::bad_request(
                "invalid_query",
                "trades have no status filter",
            ));
        }
        let before = cursor(query.cursor.as_deref())?;
        let after = trade_after(query.after.as_deref())?;
        if before.is_some() && after.is_some() {
            return Err(ApiError::bad_request(
                "invalid_query",
                "give cursor (newest first) or after (oldest first), not both",
            ));
        }
        let filter = TradeFilter {
            account_id: self.known_account(query.account_id).await?,
            entity: present(query.entity.as_ref()).map(str::to_owned),
            symbol: self.listed_symbol(query.symbol)?,
            before,
            after,
            limit: limit(query.limit)?,
        };
        let trades = repo::list_trades(&self.storage, &filter)
            .await
            .map_err(storage_error)?;
        let next = match filter.after {
            Some(_) => None,
            None => next_cursor(&trades, filter.limit, |t| &t.id),
        };
        Ok((trades, next))
    }

    /// A page of accounts in id order, only those of the entity when one is given, and the cursor
    /// of the next page. Accounts live in the engine, so this reads no storage.
    pub(crate) async fn accounts(
        &self,
        query: AccountQuery,
    ) -> Result<(Vec<AccountView>, Option<String>), ApiError> {
        let limit = limit(query.limit)?;
        // The cursor is the last account id of a page (`acct-N`): the next page starts at index N.
        let from = account_cursor(query.cursor.as_deref())?.unwrap_or(0);
        let entity = present(query.entity.as_ref()).map(str::to_owned);
        let accounts = self
            .engine
            .accounts(
                entity,
                usize::try_from(from).unwrap_or(usize::MAX),
                limit as usize,
            )
            .await
            .map_err(|e| engine_error(e, "invalid_query"))?;
        let next = next_cursor(&accounts, limit, |a| &a.id);
        Ok((accounts, next))
    }

    async fn known_account(&self, account: Option<String>) -> Result<Option<String>, ApiError> {
        match account.filter(|a| !a.trim().is_empty()) {
            None => Ok(None),
            Some(id) => {
                self.engine
                    .account(id.trim().to_owned())
                    .await
                    .map_err(|e| engine_error(e, "invalid_query"))?;
                Ok(Some(id.trim().to_owned()))
            }
        }
    }

    fn listed_symbol(&self, symbol: Option<String>) -> Result<Option<String>, ApiError> {
        match symbol.filter(|s| !s.trim().is_empty()) {
            None => Ok(None),
            Some(s) => Ok(Some(self.instrument(&s)?.symbol.clone())),
        }
    }

    /// The listed instrument `symbol`, or 400 naming what is listed.
    pub(crate) fn instrument(
        &self,
        symbol: &str,
    ) -> Result<&crate::domain::instrument::Instrument, ApiError> {
        let upper = symbol.trim().to_ascii_uppercase();
        self.engine
            .instruments()
            .iter()
            .find(|i| i.symbol == upper)
            .ok_or_else(|| {
                let listed: Vec<&str> = self
                    .engine
                    .instruments()
                    .iter()
                    .map(|i| i.symbol.as_str())
                    .collect();
                ApiError::bad_request(
                    "unknown_symbol",
                    format!(
                        "unknown symbol '{symbol}'; this exchange lists {}",
                        listed.join(", ")
                    ),
                )
            })
    }
}

/// The filters of an order or trade listing, as given.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Owner (orders) or either side (trades).
    pub account_id: Option<String>,
    /// Either side's account belongs to this entity (trades only).
    pub entity: Option<String>,
    /// Symbol.
    pub symbol: Option<String>,
    /// `OPEN` or a status (orders only).
    pub status: Option<String>,
    /// Page size, 1 to 1000 (default 100).
    pub limit: Option<u32>,
    /// From a previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// A trade id: only later trades, oldest first (trades only; not with `cursor`).
    pub after: Option<String>,
}

/// The filters of an account listing, as given.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountQuery {
    /// Only the accounts of this trading entity.
    pub entity: Option<String>,
    /// Page size, 1 to 1000 (default 100).
    pub limit: Option<u32>,
    /// From a previous page's `next_cursor`.
    pub cursor: Option<String>,
}

/// Reads an account's trading entity: trimmed, blank is none, at most 128 characters, no control
/// characters (PostgreSQL refuses NUL in text, and an entity is stored with every commit of its
/// account).
///
/// # Errors
/// `invalid_entity`.
pub(crate) fn entity(entity: Option<String>) -> Result<Option<String>, ApiError> {
    let entity = entity.map(|e| e.trim().to_owned()).filter(|e| !e.is_empty());
    if let Some(e) = &entity {
        if e.chars().count() > 128 {
            return Err(ApiError::bad_request(
                "invalid_entity",
                "entity must have at most 128 characters",
            ));
        }
        if e.chars().any(char::is_control) {
            return Err(ApiError::bad_request(
                "invalid_entity",
                "entity must not contain control characters",
            ));
        }
    }
    Ok(entity)
}

fn limit(limit: Option<u32>) -> Result<u32, ApiError> {
    page_limit(limit, DEFAULT_LIMIT, MAX_LIMIT)
}

fn cursor(cursor: Option<&str>) -> Result<Option<u64>, ApiError> {
    numeric_cursor(cursor)
}

/// Parses `after`, a trade id.
fn trade_after(after: Option<&str>) -> Result<Option<u64>, ApiError> {
    match after.map(str::trim).filter(|a| !a.is_empty()) {
        None => Ok(None),
        Some(a) => a
            .parse()
            .map(Some)
            .map_err(|_| ApiError::bad_request("invalid_after", format!("after '{a}' is not a trade id"))),
    }
}

/// Parses an account listing's cursor, the last account id of the page before (`acct-N`): N.
fn account_cursor(cursor: Option<&str>) -> Result<Option<u64>, ApiError> {
    match cursor.map(str::trim).filter(|c| !c.is_empty()) {
        None => Ok(None),
        Some(c) => c
            .strip_prefix("acct-")
            .and_then(|n| n.parse().ok())
            .map(Some)
            .ok_or_else(|| {
                ApiError::bad_request("invalid_cursor", format!("cursor '{c}' is not one this API gave"))
            }),
    }
}

fn next_cursor<T>(page: &[T], limit: u32, id: impl Fn(&T) -> &String) -> Option<String> {
    (page.len() == limit as usize)
        .then(|| page.last().map(|last| id(last).clone()))
        .flatten()
}

/// Book levels asked (default 20, at most 1000).
pub(crate) fn depth(depth: Option<u32>) -> Result<usize, ApiError> {
    match depth {
        None | Some(0) => Ok(DEFAULT_DEPTH),
        Some(n) if n as usize <= MAX_DEPTH => Ok(n as usize),
        Some(n) => Err(ApiError::bad_request(
            "invalid_depth",
            format!("depth must be between 1 and {MAX_DEPTH}, got {n}"),
        )),
    }
}

/// Parses an order id.
pub(crate) fn order_id(text: &str) -> Result<u64, ApiError> {
    text.trim()
        .parse()
        .map_err(|_| ApiError::bad_request("invalid_order_id", format!("'{text}' is not an order id")))
}

fn unknown_order(id: u64) -> ApiError {
    ApiError::not_found("unknown_order", format!("unknown order {id}"))
}

/// Parses a decimal written as text (`"0.015"`), exactly and within
/// [`MAX_AMOUNT`](tse_runtime::money::MAX_AMOUNT).
pub(crate) fn decimal(field: &str, text: &str) -> Result<Decimal, ApiError> {
    tse_runtime::api::decimal(field, text)
}

/// Parses an optional decimal: absent or empty is `None`.
pub(crate) fn optional_decimal(field: &str, text: Option<&str>) -> Result<Option<Decimal>, ApiError> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(t) => decimal(field, t).map(Some),
    }
}

/// A new order as given, before parsing; both faces fill it.
#[derive(Clone, Debug, Default)]
pub struct OrderInput {
    /// Owner account.
    pub account_id: String,
    /// Symbol.
    pub symbol: String,
    /// `BUY` or `SELL`.
    pub side: String,
    /// `LIMIT` or `MARKET`; empty: `LIMIT` with a price, `MARKET` without.
    pub order_type: Option<String>,
    /// Limit price.
    pub price: Option<String>,
    /// Quantity.
    pub quantity: Option<String>,
    /// `GTC`, `IOC` or `FOK`.
    pub time_in_force: Option<String>,
    /// The client's id.
    pub client_order_id: Option<String>,
    /// Rest only.
    pub post_only: bool,
    /// `CANCEL_TAKER`, `CANCEL_MAKER` or `CANCEL_BOTH`.
    pub self_trade_prevention: Option<String>,
}

fn required<'a>(field: &str, value: &'a str) -> Result<&'a str, ApiError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(ApiError::bad_request(
            format!("missing_{field}"),
            format!("{field} is required"),
        ));
    }
    Ok(value)
}

fn present(value: Option<&String>) -> Option<&str> {
    value.map(|v| v.trim()).filter(|v| !v.is_empty())
}

impl OrderInput {
    /// Parses the input into a request for the venue.
    ///
    /// # Errors
    /// 400 naming the first field that is missing or malformed.
    pub fn parse(self) -> Result<PlaceRequest, ApiError> {
        let account = required("account_id", &self.account_id)?.to_owned();
        let symbol = required("symbol", &self.symbol)?.to_owned();
        let side_text = required("side", &self.side)?;
        let side = parse_side(side_text).ok_or_else(|| {
            ApiError::bad_request("invalid_side", format!("side '{side_text}' is not BUY or SELL"))
        })?;
        let price = optional_decimal("price", self.price.as_deref())?;
        let order_type = match present(self.order_type.as_ref()) {
            None if price.is_some() => OrderType::Limit,
            None => OrderType::Market,
            Some(t) => OrderType::parse(t).ok_or_else(|| {
                ApiError::bad_request("invalid_type", format!("type '{t}' is not LIMIT or MARKET"))
            })?,
        };
        let quantity = optional_decimal("quantity", self.quantity.as_deref())?
            .ok_or_else(|| ApiError::bad_request("missing_quantity", "quantity is required"))?;
        if let Some(price) = price {
            let notional = price.checked_mul(quantity).unwrap_or(Decimal::MAX);
            if notional.abs() > MAX_AMOUNT {
                return Err(ApiError::bad_request(
                    "invalid_order",
                    format!(
                        "notional {price} × {quantity} is beyond the largest amount handled ({MAX_AMOUNT})"
                    ),
                ));
            }
        }
        let time_in_force = present(self.time_in_force.as_ref())
            .map(|t| {
                parse_tif(t).ok_or_else(|| {
                    ApiError::bad_request(
                        "invalid_time_in_force",
                        format!("time_in_force '{t}' is not GTC, IOC or FOK"),
                    )
                })
            })
            .transpose()?;
        let self_trade = present(self.self_trade_prevention.as_ref())
            .map(|t| {
                parse_stp(t).ok_or_else(|| {
                    ApiError::bad_request(
                        "invalid_self_trade_prevention",
                        format!(
                            "self_trade_prevention '{t}' is not CANCEL_TAKER, CANCEL_MAKER or CANCEL_BOTH"
                        ),
                    )
                })
            })
            .transpose()?
            .unwrap_or(SelfTradePrevention::CancelTaker);
        let client_order_id = self.client_order_id.filter(|c| !c.is_empty());
        if let Some(id) = &client_order_id {
            let allowed = |c: char| c.is_ascii_alphanumeric() || "-_.:/".contains(c);
            if id.len() > MAX_CLIENT_ORDER_ID || !id.chars().all(allowed) {
                return Err(ApiError::bad_request(
                    "invalid_client_order_id",
                    format!(
                        "client_order_id must be 1 to {MAX_CLIENT_ORDER_ID} ASCII letters, digits and - _ . : /"
                    ),
                ));
            }
        }
        Ok(PlaceRequest {
            account,
            symbol,
            side,
            order_type,
            price,
            quantity,
            time_in_force,
            post_only: self.post_only,
            client_order_id,
            self_trade,
        })
    }
}

/// The API error for an engine error; `invalid` is the code of [`VenueError::Invalid`] in this call.
pub(crate) fn engine_error(error: EngineError, invalid: &'static str) -> ApiError {
    match error {
        EngineError::Venue(e) => venue_error(e, invalid),
        EngineError::Storage(message) => ApiError::internal(format!(
            "the exchange could not store the change and did not make it: {message}"
        )),
        EngineError::Stopped => ApiError::unavailable("exchange_unavailable", "the exchange is stopping"),
    }
}

fn venue_error(error: VenueError, invalid: &'static str) -> ApiError {
    let message = error.to_string();
    match error {
        VenueError::UnknownAccount(_) => ApiError::not_found("unknown_account", message),
        VenueError::UnknownSymbol { .. } => ApiError::bad_request("unknown_symbol", message),
        VenueError::UnknownAsset { .. } => ApiError::bad_request("unknown_asset", message),
        VenueError::Invalid(_) => ApiError::bad_request(invalid, message),
        VenueError::Insufficient(_) => ApiError::bad_request("insufficient_balance", message)
            .with_grpc_code(tonic::Code::FailedPrecondition),
        VenueError::DuplicateClientOrderId { .. } => ApiError::conflict("duplicate_client_order_id", message),
        VenueError::UnknownOrder(id) => unknown_order(id),
        VenueError::NotOpen { .. } => {
            ApiError::conflict("order_not_open", message).with_grpc_code(tonic::Code::FailedPrecondition)
        }
    }
}

/// The API error for a failed history read.
pub(crate) fn storage_error(error: StorageError) -> ApiError {
    match error {
        StorageError::Unavailable(reason) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "storage_unavailable",
            format!("order and trade history is unavailable while the database is away: {reason}"),
        ),
        other => ApiError::internal(format!("cannot read history: {other}")),
    }
}

/// The symbols a stream follows: those named (all when none are), each one listed here.
pub(crate) fn stream_symbols<'a>(
    api: &Api,
    names: impl IntoIterator<Item = &'a str>,
) -> Result<BTreeSet<String>, ApiError> {
    let mut chosen = BTreeSet::new();
    for name in names.into_iter().map(str::trim).filter(|n| !n.is_empty()) {
        chosen.insert(api.instrument(name)?.symbol.clone());
    }
    if chosen.is_empty() {
        chosen = api
            .engine
            .instruments()
            .iter()
            .map(|i| i.symbol.clone())
            .collect();
    }
    Ok(chosen)
}

/// What a stream subscriber receives: the chosen symbols' updates of one commit, or how many commits
/// it missed by reading too slowly.
pub(crate) enum Batch {
    Updates(Vec<MarketUpdate>),
    Lagged(u64),
}

fn symbol_of(update: &MarketUpdate) -> &str {
    match update {
        MarketUpdate::Trade(t) => &t.symbol,
        MarketUpdate::Book(b) => &b.symbol,
    }
}

/// The stored trades and book changes of `chosen`, commit by commit, until the instance drains or
/// the exchange goes down. Shared by SSE and gRPC streaming.
pub(crate) fn market_for(
    api: Api,
    chosen: BTreeSet<String>,
    draining: CancellationToken,
) -> impl Stream<Item = Batch> + Send + 'static {
    let receiver = api.engine.subscribe();
    let chosen = Arc::new(chosen);
    let mut check = tokio::time::interval(STREAM_CHECK);
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    stream::unfold(
        (api, receiver, check, draining),
        move |(api, mut receiver, mut check, draining)| {
            let chosen = chosen.clone();
            async move {
                loop {
                    tokio::select! {
                        () = draining.cancelled() => return None,
                        _ = check.tick() => if api.available().is_err() { return None },
                        updates = receiver.recv() => match updates {
                            Ok(updates) => {
                                let mine: Vec<MarketUpdate> = updates
                                    .iter()
                                    .filter(|u| chosen.contains(symbol_of(u)))
                                    .cloned()
                                    .collect();
                                if !mine.is_empty() {
                                    return Some((Batch::Updates(mine), (api, receiver, check, draining)));
                                }
                            }
                            Err(RecvError::Lagged(missed)) => {
                                return Some((Batch::Lagged(missed), (api, receiver, check, draining)));
                            }
                            Err(RecvError::Closed) => return None,
                        },
                    }
                }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> OrderInput {
        OrderInput {
            account_id: "acct-1".into(),
            symbol: "btc-usd".into(),
            side: "buy".into(),
            price: Some("97000.5".into()),
            quantity: Some("0.001".into()),
            ..OrderInput::default()
        }
    }

    #[test]
    fn inputs_parse_in_any_case_with_sensible_defaults() {
        let r = input().parse().unwrap();
        assert_eq!(r.order_type, OrderType::Limit);
        assert_eq!(r.quantity, Decimal::new(1, 3));
        assert_eq!(r.side, tse_matching::Side::Buy);
        assert_eq!(r.self_trade, SelfTradePrevention::CancelTaker);
        let market = OrderInput {
            price: None,
            time_in_force: Some("fok".into()),
            ..input()
        }
        .parse()
        .unwrap();
        assert_eq!(market.order_type, OrderType::Market);
        assert_eq!(market.time_in_force, Some(tse_matching::TimeInForce::Fok));
    }

    #[test]
    fn bad_inputs_name_the_field() {
        let code = |i: OrderInput| i.parse().unwrap_err().code().to_owned();
        assert_eq!(
            code(OrderInput {
                side: "hold".into(),
                ..input()
            }),
            "invalid_side"
        );
        assert_eq!(
            code(OrderInput {
                side: String::new(),
                ..input()
            }),
            "missing_side"
        );
        assert_eq!(
            code(OrderInput {
                quantity: None,
                ..input()
            }),
            "missing_quantity"
        );
        assert_eq!(
            code(OrderInput {
                quantity: Some("lots".into()),
                ..input()
            }),
            "invalid_quantity"
        );
        assert_eq!(
            code(OrderInput {
                order_type: Some("stop".into()),
                ..input()
            }),
            "invalid_type"
        );
        assert_eq!(
            code(OrderInput {
                time_in_force: Some("day".into()),
                ..input()
            }),
            "invalid_time_in_force"
        );
        let e = OrderInput {
            price: Some("abc".into()),
            ..input()
        }
        .parse()
        .unwrap_err();
        assert_eq!(e.code(), "invalid_price");
        assert!(
            e.message().starts_with("price: 'abc' is not a plain decimal"),
            "{e:?}"
        );
        for (price, quantity, code) in [
            ("79228162514264337593543950335", "1", "invalid_price"),
            ("1", "79228162514264337593543950335", "invalid_quantity"),
            ("90000000000000000", "100000000000000", "invalid_order"),
            ("1_000", "1", "invalid_price"),
            ("+5", "1", "invalid_price"),
            ("1e3", "1", "invalid_price"),
            ("1", "1.00000000000000000000000000001", "invalid_quantity"),
        ] {
            let e = OrderInput {
                price: Some(price.into()),
                quantity: Some(quantity.into()),
                ..input()
            }
            .parse()
            .unwrap_err();
            assert_eq!(e.code(), code, "{price} × {quantity}: {e:?}");
        }
        let e = OrderInput {
            price: Some("90000000000000000".into()),
            quantity: Some("100000000000000".into()),
            ..input()
        }
        .parse()
        .unwrap_err();
        assert_eq!(
            e.message(),
            "notional 90000000000000000 × 100000000000000 is beyond the largest amount handled (100000000000000000000)"
        );
    }

    #[test]
    fn errors_carry_the_right_statuses() {
        let e = venue_error(
            VenueError::NotOpen {
                id: 1,
                status: "FILLED",
            },
            "invalid_order",
        );
        assert_eq!(
            (e.status(), e.grpc_code()),
            (StatusCode::CONFLICT, tonic::Code::FailedPrecondition)
        );
        let e = venue_error(
            VenueError::DuplicateClientOrderId {
                client_order_id: "a".into(),
                order: 3,
            },
            "invalid_order",
        );
        assert_eq!(e.grpc_code(), tonic::Code::AlreadyExists);
        assert_eq!(limit(Some(0)).unwrap_err().code(), "invalid_limit");
        assert_eq!(cursor(Some("x")).unwrap_err().code(), "invalid_cursor");
        assert_eq!(entity(Some("  LH ".into())).unwrap(), Some("LH".into()));
        assert_eq!(entity(Some(" ".into())).unwrap(), None);
        assert!(
            entity(Some("a\u{0}b".into()))
                .unwrap_err()
                .message()
                .contains("control characters")
        );
        assert_eq!(
            entity(Some("x".repeat(129))).unwrap_err().code(),
            "invalid_entity"
        );
        assert_eq!(account_cursor(Some("acct-7")).unwrap(), Some(7));
        assert_eq!(account_cursor(Some("7")).unwrap_err().code(), "invalid_cursor");
        assert_eq!(trade_after(Some(" 12 ")).unwrap(), Some(12));
        let e = trade_after(Some("-1")).unwrap_err();
        assert_eq!(
            (e.code(), e.message()),
            ("invalid_after", "after '-1' is not a trade id")
        );
        assert_eq!(depth(Some(5000)).unwrap_err().code(), "invalid_depth");
    }
}
