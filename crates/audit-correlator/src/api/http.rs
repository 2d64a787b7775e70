//! The audit HTTP API:
//!
//! | route | does |
//! |---|---|
//! | `POST /api/v1/audit/events` `{events: [...]}` | ingests a batch (what every instance's shipper sends, with `Authorization: Bearer <ingest token>`): `{accepted, duplicates}` |
//! | `GET /api/v1/audit/events?service&instance&type&trace_id&scenario_run_id&caused_by&from&to&limit&cursor` | events in storage order: `{events, next_cursor}` |
//! | `GET /api/v1/audit/events/{id}` | one event |
//! | `GET /api/v1/audit/events/{id}/chain` | the event, its causes and its effects |
//! | `GET /api/v1/audit/events/trace/{trace_id}` | a trace's events in simulated-time order |
//! | `GET /api/v1/audit/timeline?from&to&scenario_run_id&instance&type&limit` | events in simulated-time order |
//! | `GET /api/v1/audit/counts` | events per type and instance |
//! | `GET /api/v1/topology` | live instances (discovery) and instances seen in events as nodes; observed interactions as edges |

use axum::{
    Json, Router,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use serde::Deserialize;
use serde_json::{Value, json};
use tse_runtime::{
    api::{ApiError, Query},
    events::Event,
};

use super::{Api, EventQuery, filter};
use crate::infra::repo::EventFilter;

/// The audit routes.
pub fn router(api: Api) -> Router {
    Router::new()
        .route("/api/v1/audit/events", get(list).post(ingest))
        .route("/api/v1/audit/events/trace/{trace_id}", get(trace))
        .route("/api/v1/audit/events/{id}", get(event))
        .route("/api/v1/audit/events/{id}/chain", get(chain))
        .route("/api/v1/audit/timeline", get(timeline))
        .route("/api/v1/audit/counts", get(counts))
        .route("/api/v1/topology", get(topology))
        .with_state(api)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Batch {
    events: Vec<Event>,
}

async fn ingest(State(api): State<Api>, headers: HeaderMap, bytes: Bytes) -> Response {
    match ingest_batch(&api, &headers, &bytes).await {
        Ok(ingested) => Json(ingested).into_response(),
        Err(error) if error.status() == StatusCode::UNAUTHORIZED => {
            let mut response = error.into_response();
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            response
        }
        Err(error) => error.into_response(),
    }
}

/// Authenticates, reads and stores a batch.
async fn ingest_batch(api: &Api, headers: &HeaderMap, bytes: &[u8]) -> Result<Value, ApiError> {
    api.authenticate(
        headers
            .get(header::AUTHORIZATION)
            .map(|v| v.to_str().unwrap_or_default()),
    )?;
    let batch: Batch = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::bad_request(
            "invalid_batch",
            format!("the body must be {{\"events\": [...]}} of events: {e}"),
        )
    })?;
    let ingested = api.ingest(batch.events).await?;
    Ok(json!(ingested))
}

async fn list(State(api): State<Api>, Query(q): Query<EventQuery>) -> Result<Json<Value>, ApiError> {
    let (filter, limit) = filter(q)?;
    let (events, next_cursor) = api.events(&filter, limit).await?;
    Ok(Json(json!({ "events": events, "next_cursor": next_cursor })))
}

async fn timeline(State(api): State<Api>, Query(q): Query<EventQuery>) -> Result<Json<Value>, ApiError> {
    if q.cursor.is_some() {
        return Err(ApiError::bad_request(
            "invalid_query",
            "a timeline has no cursor: narrow it with from and to",
        ));
    }
    let (filter, limit) = filter(q)?;
    let events = api.timeline(&filter, limit).await?;
    Ok(Json(json!({ "events": events })))
}

async fn trace(State(api): State<Api>, Path(trace_id): Path<String>) -> Result<Json<Value>, ApiError> {
    let filter = EventFilter {
        trace_id: Some(trace_id.clone()),
        ..EventFilter::default()
    };
    let events = api.timeline(&filter, super::MAX_LIMIT).await?;
    Ok(Json(json!({ "trace_id": trace_id, "events": events })))
}

async fn event(State(api): State<Api>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    Ok(Json(api.event(&id).await?))
}

async fn chain(State(api): State<Api>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    Ok(Json(api.chain(&id).await?))
}

async fn topology(State(api): State<Api>) -> Result<Json<Value>, ApiError> {
    Ok(Json(api.topology().await?))
}

async fn counts(State(api): State<Api>) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!({ "counts": api.counts().await? })))
}
