//! The production API, over HTTP JSON ([`http`]) and gRPC ([`grpc`]), with the same rules for both:
//! what a valid symbol, interval and limit are, and what the answers hold. During an outage fault
//! every production call answers 503 / UNAVAILABLE and live streams end.

pub mod grpc;
pub mod http;
pub mod openapi;

use std::collections::BTreeSet;

use axum::http::StatusCode;
use serde_json::{Value, json};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};
use tse_runtime::api::ApiError;

use crate::{
    app::feed::{Feed, Tick},
    domain::{
        candles::{Candle, Interval, KEPT},
        symbol::{Process, Symbol, SymbolSpec},
    },
};

/// Default number of candles.
const DEFAULT_LIMIT: usize = 100;

/// RFC 3339 UTC with the fraction of a second the simulated clock gives.
pub(crate) fn timestamp(at: OffsetDateTime) -> String {
    at.format(&Rfc3339)
        .unwrap_or_else(|_| at.unix_timestamp().to_string())
}

pub(crate) fn unavailable() -> ApiError {
    ApiError::unavailable(
        "feed_unavailable",
        "the market data feed is unavailable; try again later",
    )
}

pub(crate) fn refuse_during_outage(feed: &Feed) -> Result<(), ApiError> {
    if feed.in_outage() {
        Err(unavailable())
    } else {
        Ok(())
    }
}

/// The symbol named `text`, or 400 (not a symbol) / 404 (not published here).
pub(crate) fn find_symbol<'a>(feed: &'a Feed, text: &str) -> Result<&'a SymbolSpec, ApiError> {
    let symbol = Symbol::parse(text).map_err(|e| ApiError::bad_request("invalid_symbol", e))?;
    feed.symbol(symbol.as_str()).ok_or_else(|| {
        let names: Vec<&str> = feed.symbols().iter().map(|s| s.symbol.as_str()).collect();
        ApiError::not_found(
            "unknown_symbol",
            format!(
                "unknown symbol {symbol}; this instance publishes {}",
                names.join(", ")
            ),
        )
    })
}

/// The latest price of `text`, or why there is none.
pub(crate) fn latest(feed: &Feed, text: &str) -> Result<Tick, ApiError> {
    let spec = find_symbol(feed, text)?;
    feed.latest(&spec.symbol).ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "no_price_yet",
            format!("{} has no price yet; the first tick is coming", spec.symbol),
        )
    })
}

/// Interval (default `1m`) and limit (default 100, at most 1000) of a candle query.
pub(crate) fn candle_query(
    interval: Option<&str>,
    limit: Option<u64>,
) -> Result<(Interval, usize), ApiError> {
    let interval = match interval {
        None | Some("") => Interval::M1,
        Some(text) => Interval::parse(text).map_err(|e| ApiError::bad_request("invalid_interval", e))?,
    };
    let limit = match limit {
        None => DEFAULT_LIMIT,
        Some(n) if (1..=KEPT as u64).contains(&n) => n as usize,
        Some(n) => {
            return Err(ApiError::bad_request(
                "invalid_limit",
                format!("limit must be between 1 and {KEPT}, got {n}"),
            ));
        }
    };
    Ok((interval, limit))
}

/// The symbols a stream follows: those named (all when none are), each one published here.
pub(crate) fn stream_symbols<'a>(
    feed: &Feed,
    names: impl IntoIterator<Item = &'a str>,
) -> Result<BTreeSet<Symbol>, ApiError> {
    let mut chosen = BTreeSet::new();
    for name in names.into_iter().map(str::trim).filter(|n| !n.is_empty()) {
        chosen.insert(find_symbol(feed, name)?.symbol.clone());
    }
    if chosen.is_empty() {
        chosen = feed.symbols().iter().map(|s| s.symbol.clone()).collect();
    }
    Ok(chosen)
}

pub(crate) fn process_name(spec: &SymbolSpec) -> &'static str {
    match spec.process {
        Process::Gbm { .. } => "gbm",
        Process::MeanReverting { .. } => "mean_reverting",
        Process::Cross { .. } => "cross",
    }
}

pub(crate) fn tick_json(tick: &Tick) -> Value {
    json!({
        "symbol": tick.symbol,
        "price": tick.price,
        "sequence": tick.sequence,
        "timestamp": timestamp(tick.timestamp),
    })
}

pub(crate) fn candle_json(interval: Interval, candle: &Candle) -> Value {
    json!({
        "open_time": timestamp(candle.open_time),
        "close_time": timestamp(candle.open_time + interval.duration()),
        "open": candle.open,
        "high": candle.high,
        "low": candle.low,
        "close": candle.close,
        "ticks": candle.ticks,
    })
}
