//! `GET /api/v1/symbols`, `/prices`, `/prices/{symbol}`, `/candles/{symbol}?interval=1m&limit=N` and
//! the live stream `/api/v1/stream?symbols=BTC-USD,ETH-USD` (server-sent events named `price`).

use std::{collections::BTreeSet, convert::Infallible, sync::Arc, time::Duration};

use axum::{
    Json, Router,
    extract::{Path, Request, State},
    middleware::{self, Next},
    response::{
        IntoResponse, Response,
        sse::{Event, KeepAlive, Sse},
    },
    routing::get,
};
use futures::{Stream, StreamExt, stream};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;
use tse_runtime::api::{ApiError, Query};

use super::{
    candle_json, candle_query, latest, process_name, refuse_during_outage, stream_symbols, tick_json,
};
use crate::{
    app::feed::{Feed, Tick},
    domain::symbol::Symbol,
};

#[derive(Clone)]
struct Api {
    feed: Feed,
    draining: CancellationToken,
}

/// The production HTTP routes; `draining` ends live streams when the instance stops.
pub fn router(feed: Feed, draining: CancellationToken) -> Router {
    Router::new()
        .route("/api/v1/symbols", get(symbols))
        .route("/api/v1/prices", get(prices))
        .route("/api/v1/prices/{symbol}", get(price))
        .route("/api/v1/candles/{symbol}", get(candles))
        .route("/api/v1/stream", get(stream_prices))
        .layer(middleware::from_fn_with_state(feed.clone(), outage_guard))
        .with_state(Api { feed, draining })
}

async fn outage_guard(State(feed): State<Feed>, request: Request, next: Next) -> Response {
    match refuse_during_outage(&feed) {
        Ok(()) => next.run(request).await,
        Err(e) => e.into_response(),
    }
}

async fn symbols(State(api): State<Api>) -> Json<serde_json::Value> {
    let symbols: Vec<_> = api
        .feed
        .symbols()
        .iter()
        .map(|s| {
            json!({
                "symbol": s.symbol,
                "base": s.symbol.base(),
                "quote": s.symbol.quote(),
                "process": process_name(s),
                "tick_size": s.tick_size,
            })
        })
        .collect();
    Json(json!({ "symbols": symbols }))
}

async fn prices(State(api): State<Api>) -> Json<serde_json::Value> {
    let prices: Vec<_> = api.feed.all_latest().iter().map(tick_json).collect();
    Json(json!({ "prices": prices }))
}

async fn price(
    State(api): State<Api>,
    Path(symbol): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(tick_json(&latest(&api.feed, &symbol)?)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CandleQuery {
    interval: Option<String>,
    limit: Option<u64>,
}

async fn candles(
    State(api): State<Api>,
    Path(symbol): Path<String>,
    Query(query): Query<CandleQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let spec = super::find_symbol(&api.feed, &symbol)?;
    let (interval, limit) = candle_query(query.interval.as_deref(), query.limit)?;
    let candles: Vec<_> = api
        .feed
        .candles(&spec.symbol, interval, limit)
        .iter()
        .map(|c| candle_json(interval, c))
        .collect();
    Ok(Json(json!({
        "symbol": spec.symbol,
        "interval": interval.as_str(),
        "candles": candles,
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StreamQuery {
    symbols: Option<String>,
}

async fn stream_prices(
    State(api): State<Api>,
    Query(query): Query<StreamQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let chosen = stream_symbols(&api.feed, query.symbols.as_deref().unwrap_or("").split(','))?;
    let events = prices_for(api.feed, chosen, api.draining).map(|batch| {
        let events: Vec<Result<Event, Infallible>> = match batch {
            Batch::Ticks(ticks) => ticks
                .iter()
                .map(|t| Ok(Event::default().event("price").data(tick_json(t).to_string())))
                .collect(),
            Batch::Lagged(missed) => vec![Ok(
                Event::default().comment(format!("lagged: {missed} rounds skipped"))
            )],
        };
        stream::iter(events)
    });
    Ok(Sse::new(events.flatten()).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// What a subscriber receives: the chosen symbols' ticks of one round, or how many rounds it missed
/// by reading too slowly.
pub(crate) enum Batch {
    Ticks(Vec<Tick>),
    Lagged(u64),
}

/// The live prices of `chosen`, round by round, until the instance drains, the feed goes into an
/// outage, or the feed stops. Shared by SSE and gRPC streaming.
pub(crate) fn prices_for(
    feed: Feed,
    chosen: BTreeSet<Symbol>,
    draining: CancellationToken,
) -> impl Stream<Item = Batch> + Send + 'static {
    let receiver = feed.subscribe();
    let faults = feed.faults().subscribe();
    let chosen = Arc::new(chosen);
    stream::unfold(
        (feed, receiver, faults, draining),
        move |(feed, mut receiver, mut faults, draining)| {
            let chosen = chosen.clone();
            async move {
                loop {
                    tokio::select! {
                        () = draining.cancelled() => return None,
                        changed = faults.changed() => {
                            if changed.is_err() || feed.in_outage() {
                                return None;
                            }
                        }
                        round = receiver.recv() => match round {
                            Ok(ticks) => {
                                let mine: Vec<Tick> = ticks.iter().filter(|t| chosen.contains(&t.symbol)).cloned().collect();
                                if !mine.is_empty() {
                                    return Some((Batch::Ticks(mine), (feed, receiver, faults, draining)));
                                }
                            }
                            Err(RecvError::Lagged(missed)) => {
                                return Some((Batch::Lagged(missed), (feed, receiver, faults, draining)));
                            }
                            Err(RecvError::Closed) => return None,
                        },
                    }
                }
            }
        },
    )
}
