//! The audit HTTP API:
//!
//! | route | does |
//! |---|---|
//! | `POST /api/v1/audit/events` `{events: [...]}` | ingests a batch (what every instance's shipper sends): `{accepted, duplicates}` |
//! | `GET /api/v1/audit/events?service&instance&type&trace_id&scenario_run_id&caused_by&from&to&limit&cursor` | events in storage order: `{events, next_cursor}` |
//! | `GET /api/v1/audit/events/{id}` | one event |
//! | `GET /api/v1/audit/events/{id}/chain` | the event, its causes and its effects |
//! | `GET /api/v1/audit/events/trace/{trace_id}` | a trace's events in simulated-time order |
//! | `GET /api/v1/audit/timeline?from&to&scenario_run_id&instance&type&limit` | events in simulated-time order |
//! | `GET /api/v1/audit/counts` | events per type and instance |

use axum::{
    Json, Router,
    body::Bytes,
    extract::{Path, State},
    routing::get,
};
use serde::Deserialize;
use serde_json::{Value, json};
use tse_runtime::{
    api::{ApiError, Query},
    events::Event,
};

use super::{Api, limit, time};
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
        .with_state(api)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Batch {
    events: Vec<Event>,
}

async fn ingest(State(api): State<Api>, bytes: Bytes) -> Result<Json<Value>, ApiError> {
    let batch: Batch = serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::bad_request(
            "invalid_batch",
            format!("the body must be {{\"events\": [...]}} of events: {e}"),
        )
    })?;
    let ingested = api.ingest(batch.events).await?;
    Ok(Json(json!(ingested)))
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventQuery {
    service: Option<String>,
    instance: Option<String>,
    #[serde(rename = "type")]
    event_type: Option<String>,
    trace_id: Option<String>,
    scenario_run_id: Option<String>,
    caused_by: Option<String>,
    from: Option<String>,
    to: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

fn filter(q: EventQuery) -> Result<(EventFilter, usize), ApiError> {
    let given = |v: Option<String>| v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    let after = given(q.cursor)
        .map(|c| {
            c.parse::<i64>().map_err(|_| {
                ApiError::bad_request("invalid_cursor", format!("cursor '{c}' is not one this API gave"))
            })
        })
        .transpose()?;
    let filter = EventFilter {
        service: given(q.service),
        instance: given(q.instance),
        event_type: given(q.event_type),
        trace_id: given(q.trace_id),
        scenario_run_id: given(q.scenario_run_id),
        causation_id: given(q.caused_by).map(|c| super::event_id(&c)).transpose()?,
        from: time("from", q.from.as_deref())?,
        to: time("to", q.to.as_deref())?,
        after,
    };
    if let (Some(from), Some(to)) = (filter.from, filter.to)
        && to <= from
    {
        return Err(ApiError::bad_request("invalid_time", "to must be after from"));
    }
    Ok((filter, limit(q.limit)?))
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

async fn counts(State(api): State<Api>) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!({ "counts": api.counts().await? })))
}
