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

//!
//! Besides the two faces: `input` reads an order and the other values of a request,
//! `errors` maps the engine's and storage's errors to API errors, and `stream` follows the
//! market for SSE and gRPC streaming.

mod errors;
pub mod grpc;
pub mod http;
mod input;
pub mod openapi;
mod stream;

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tse_market::{AccountId, Symbol};

use tse_runtime::{
    api::{ApiError, numeric_cursor, page_limit},
    storage::Storage,
};

pub use self::input::OrderInput;
pub(crate) use self::{
    errors::{engine_error, stopping, storage_error},
    input::{decimal, entity, optional_decimal},
    stream::{Batch, market_for, stream_symbols},
};
use self::{
    errors::{unknown_account, unknown_order, venue_error},
    input::present,
};
use crate::{
    app::{
        engine::{EngineError, EngineHandle},
        faults::FaultState,
        views::{AccountView, OrderView, TradeView},
    },
    domain::{faults::Operation, order::OrderStatus, venue::VenueError},
    infra::repo::{self, OrderFilter, TradeFilter},
};

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
                    .account(account_id(id.trim())?)
                    .await
                    .map_err(|e| engine_error(e, "invalid_query"))?;
                Ok(Some(id.trim().to_owned()))
            }
        }
    }

    fn listed_symbol(&self, symbol: Option<String>) -> Result<Option<String>, ApiError> {
        match symbol.filter(|s| !s.trim().is_empty()) {
            None => Ok(None),
            Some(s) => Ok(Some(self.listed(&s)?.to_string())),
        }
    }

    /// The listed symbol `symbol` (in any case), or 400 naming what is listed; a text that is not
    /// a symbol at all is unknown just the same.
    pub(crate) fn listed(&self, symbol: &str) -> Result<Symbol, ApiError> {
        let instruments = self.engine.instruments();
        Symbol::parse(symbol)
            .ok()
            .filter(|s| instruments.iter().any(|i| i.symbol == s.as_str()))
            .ok_or_else(|| {
                let unknown = VenueError::UnknownSymbol {
                    symbol: symbol.to_owned(),
                    listed: instruments.iter().map(|i| i.symbol.clone()).collect(),
                };
                venue_error(unknown, "invalid_symbol")
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

/// Parses an account id; one that cannot be an id is unknown (404), as one nobody opened.
pub(crate) fn account_id(text: &str) -> Result<AccountId, ApiError> {
    AccountId::parse(text).map_err(|_| unknown_account(text))
}

/// Parses an order id.
pub(crate) fn order_id(text: &str) -> Result<u64, ApiError> {
    text.trim()
        .parse()
        .map_err(|_| ApiError::bad_request("invalid_order_id", format!("'{text}' is not an order id")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_parameters_are_checked() {
        assert_eq!(limit(Some(0)).unwrap_err().code(), "invalid_limit");
        assert_eq!(cursor(Some("x")).unwrap_err().code(), "invalid_cursor");
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
