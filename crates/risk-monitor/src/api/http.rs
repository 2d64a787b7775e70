//! The production HTTP API:
//!
//! | route | does |
//! |---|---|
//! | `GET /api/v1/alerts?status&severity&kind&limit&cursor` | alerts, newest first: `{alerts, next_cursor}` |
//! | `GET /api/v1/alerts/stream` | server-sent events, one per alert change: `event:` its type (`alert.raised`, `alert.escalated`, `alert.acknowledged`, `alert.resolved`), `data:` the alert; `lagged` with `{skipped}` when the reader fell behind |
//! | `GET /api/v1/alerts/{id}` | one alert |
//! | `POST /api/v1/alerts/{id}/acknowledge` | acknowledges it (ACKNOWLEDGED); answers the alert |
//! | `GET /api/v1/risk/summary` | the risk picture: per entity, the data behind it, the venues |
//! | `GET /api/v1/limits` | the limits in force |
//! | `PUT /api/v1/limits` | replaces them (missing fields take their defaults); answers the limits now in force |
//!
//! The acknowledge route takes no body (one sent is ignored).

use std::{convert::Infallible, time::Duration};

use axum::{
    Json, Router,
    extract::{Path, State},
    response::{
        IntoResponse,
        sse::{Event, KeepAlive, Sse},
    },
    routing::{get, post},
};
use futures::{Stream, StreamExt};
use serde_json::json;
use tse_runtime::api::{ApiError, Query};

use super::{AlertQuery, Api, StreamItem};

/// How often an idle stream sends a keep-alive comment.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The production routes.
pub fn router(api: Api) -> Router {
    Router::new()
        .route("/api/v1/alerts", get(alerts))
        // A literal segment wins over `{id}` whatever the order; ids are `alert-N` anyway.
        .route("/api/v1/alerts/stream", get(stream))
        .route("/api/v1/alerts/{id}", get(alert))
        .route("/api/v1/alerts/{id}/acknowledge", post(acknowledge))
        .route("/api/v1/risk/summary", get(summary))
        .route("/api/v1/limits", get(limits).put(set_limits))
        .with_state(api)
}

async fn alerts(
    State(api): State<Api>,
    Query(query): Query<AlertQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let page = api.alerts(&query).await?;
    Ok(Json(
        json!({ "alerts": page.alerts, "next_cursor": page.next_cursor }),
    ))
}

async fn alert(State(api): State<Api>, Path(id): Path<String>) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(api.alert(&id).await?))
}

async fn acknowledge(State(api): State<Api>, Path(id): Path<String>) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(api.acknowledge(&id).await?))
}

async fn summary(State(api): State<Api>) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(api.summary().await?))
}

async fn limits(State(api): State<Api>) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(api.limits().await?))
}

async fn set_limits(
    State(api): State<Api>,
    tse_runtime::api::Json(document): tse_runtime::api::Json<serde_json::Value>,
) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(api.set_limits(&document).await?))
}

/// The SSE event of one stream item.
fn event(item: &StreamItem) -> Event {
    match item {
        StreamItem::Change(change) => Event::default()
            .event(change.event_type())
            .data(serde_json::to_string(change.alert()).unwrap_or_default()),
        StreamItem::Lagged(skipped) => Event::default()
            .event("lagged")
            .data(json!({ "skipped": skipped }).to_string()),
    }
}

async fn stream(State(api): State<Api>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let events = api.changes().map(|item| Ok(event(&item)));
    Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
}
