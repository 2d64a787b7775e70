//! The audit API over HTTP JSON ([`http`], described in [`openapi`]): ingestion of event batches
//! (idempotent by event id) and queries — by service, instance, type, trace, cause, scenario run and
//! simulated-time range; one event's causal chain; timelines; counts.
//!
//! Ingestion takes only batches carrying the ecosystem's ingest token
//! (`Authorization: Bearer <token>`, HTTP header or gRPC metadata; the token is `TSE_INGEST_TOKEN`,
//! by default derived from `TSE_ADMIN_TOKEN`: see [`tse_runtime::config::CommonConfig::ingest_secret`]),
//! and of those only events that pass [`admit`]. Reads are open.
//!
//! | error code | HTTP | when |
//! |---|---|---|
//! | `unauthorized` | 401 | an ingestion without the ingest token, or with a wrong one |
//! | `ingestion_closed` | 401 | an ingestion while the correlator has no ingest token (neither `TSE_INGEST_TOKEN` nor `TSE_ADMIN_TOKEN` given) |
//! | `invalid_json`, `invalid_batch` | 400 | a body that is not `{"events": [...]}` of events, more than 5,000 of them, or an event [`admit`] refuses |
//! | `invalid_query`, `invalid_limit`, `invalid_cursor`, `invalid_time`, `invalid_id` | 400 | a malformed query |
//! | `unknown_event` | 404 | no event with that id is stored |
//! | `storage_unavailable` | 503 | the database is away |

pub mod admit;
pub mod grpc;
pub mod http;
pub mod openapi;

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Value as Json, json};
use time::OffsetDateTime;
use tokio::sync::Mutex;
use tse_runtime::{
    api::ApiError,
    config::Secret,
    events::Event,
    storage::{Storage, StorageError},
};

use crate::infra::{
    metrics::Metrics,
    repo::{self, EventFilter, Ingested},
};

/// Most events one ingestion takes.
pub const MAX_BATCH: usize = 5_000;
/// Page size when none is asked.
pub const DEFAULT_LIMIT: usize = 100;
/// Largest page.
pub const MAX_LIMIT: usize = 1_000;
/// How far a chain is followed, each way.
const MAX_DEPTH: usize = 32;
/// Most effects one chain shows.
const MAX_EFFECTS: usize = 1_000;
/// Steps from one event to related ones (order → trade → settlement → its other steps).
const RELATED_STEPS: usize = 4;
/// Most related events one chain shows.
const MAX_RELATED: usize = 200;

/// What the API works with.
#[derive(Clone)]
pub struct Api {
    /// The audit store.
    pub storage: Storage,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// One ingestion at a time, so duplicate counts are exact.
    pub ingesting: Arc<Mutex<()>>,
    /// Where the live instances are found (the topology's nodes).
    pub registry: tse_runtime::discovery::Registry,
    /// The environment whose instances are shown.
    pub environment: String,
    /// The token shippers must present; `None`: ingestion is closed.
    pub ingest_token: Option<Secret>,
}

fn storage_error(e: StorageError) -> ApiError {
    match e {
        StorageError::Unavailable(reason) => ApiError::unavailable(
            "storage_unavailable",
            format!("the audit store is unavailable: {reason}"),
        ),
        other => ApiError::internal(other.to_string()),
    }
}

/// Reads a page size.
///
/// # Errors
/// `invalid_limit`.
pub fn limit(limit: Option<usize>) -> Result<usize, ApiError> {
    let asked = limit.map(|n| u32::try_from(n).unwrap_or(u32::MAX));
    tse_runtime::api::page_limit(asked, DEFAULT_LIMIT as u32, MAX_LIMIT as u32).map(|n| n as usize)
}

/// Reads an RFC 3339 time.
///
/// # Errors
/// `invalid_time` naming the field.
pub fn time(field: &str, text: Option<&str>) -> Result<Option<OffsetDateTime>, ApiError> {
    text.map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| {
            OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).map_err(|_| {
                ApiError::bad_request(
                    "invalid_time",
                    format!("{field} must be an RFC 3339 time like 2026-12-01T10:00:00Z, got '{t}'"),
                )
            })
        })
        .transpose()
}

/// Reads an event id (a UUID).
///
/// # Errors
/// `invalid_id`.
pub fn event_id(text: &str) -> Result<String, ApiError> {
    // The hyphenated form only (as documented), not the braced, URN or 32-digit ones.
    Some(text.trim())
        .filter(|t| t.len() == 36)
        .and_then(|t| uuid::Uuid::parse_str(t).ok())
        .ok_or(())
        .map(|u| u.to_string())
        .map_err(|_| ApiError::bad_request("invalid_id", format!("'{text}' is not an event id (a UUID)")))
}

impl Api {
    /// Lets an ingestion through when `authorization` (the `Authorization` header or gRPC metadata)
    /// is `Bearer <the ingest token>`.
    ///
    /// # Errors
    /// `unauthorized`, `ingestion_closed` (both 401).
    pub fn authenticate(&self, authorization: Option<&str>) -> Result<(), ApiError> {
        let unauthorized = |code: &'static str, message: &str| {
            ApiError::new(axum::http::StatusCode::UNAUTHORIZED, code, message)
        };
        let Some(token) = &self.ingest_token else {
            return Err(unauthorized(
                "ingestion_closed",
                "this audit correlator was started without TSE_INGEST_TOKEN or TSE_ADMIN_TOKEN, so it \
                 ingests nothing: give every instance of the ecosystem the same TSE_INGEST_TOKEN (or \
                 TSE_ADMIN_TOKEN)",
            ));
        };
        match authorization.map(|a| a.strip_prefix("Bearer ")) {
            None => Err(unauthorized(
                "unauthorized",
                "ingestion needs `Authorization: Bearer <ingest token>` (TSE_INGEST_TOKEN, by default \
                 derived from TSE_ADMIN_TOKEN); none was given",
            )),
            Some(Some(given)) if token.matches(given) => Ok(()),
            Some(_) => Err(unauthorized(
                "unauthorized",
                "the ingest token is wrong: every instance of the ecosystem must hold the same \
                 TSE_INGEST_TOKEN (or TSE_ADMIN_TOKEN)",
            )),
        }
    }

    /// Stores a batch; answers how many were new.
    ///
    /// # Errors
    /// `invalid_batch` (the first event [`admit`] refuses), `storage_unavailable`.
    pub async fn ingest(&self, events: Vec<Event>) -> Result<Ingested, ApiError> {
        if events.len() > MAX_BATCH {
            return Err(ApiError::bad_request(
                "invalid_batch",
                format!("a batch holds at most {MAX_BATCH} events, got {}", events.len()),
            ));
        }
        for (index, e) in events.iter().enumerate() {
            admit::check(index, e)?;
        }
        let _turn = self.ingesting.lock().await;
        let (ingested, stored) = repo::ingest(&self.storage, events).await.map_err(storage_error)?;
        let now = tse_runtime::clock::wall_now();
        for e in &stored {
            self.metrics
                .ingested
                .with_label_values(&[e.service.as_str(), e.event_type.as_str()])
                .inc();
            self.metrics
                .lag
                .observe((now - e.wall_time).as_seconds_f64().max(0.0));
        }
        self.metrics
            .duplicates
            .inc_by(u64::try_from(ingested.duplicates).unwrap_or(u64::MAX));
        Ok(ingested)
    }

    /// A page of events in storage order, and the next page's cursor.
    ///
    /// # Errors
    /// `storage_unavailable`.
    pub async fn events(
        &self,
        filter: &EventFilter,
        limit: usize,
    ) -> Result<(Vec<Json>, Option<String>), ApiError> {
        let events = repo::events(&self.storage, filter, limit)
            .await
            .map_err(storage_error)?;
        let next = (events.len() == limit)
            .then(|| {
                events
                    .last()
                    .and_then(|e| e["seq"].as_i64())
                    .map(|s| s.to_string())
            })
            .flatten();
        Ok((events, next))
    }

    /// Events in simulated-time order.
    ///
    /// # Errors
    /// `storage_unavailable`.
    pub async fn timeline(&self, filter: &EventFilter, limit: usize) -> Result<Vec<Json>, ApiError> {
        repo::timeline(&self.storage, filter, limit)
            .await
            .map_err(storage_error)
    }

    /// One event.
    ///
    /// # Errors
    /// `invalid_id`, `unknown_event`, `storage_unavailable`.
    pub async fn event(&self, id: &str) -> Result<Json, ApiError> {
        let id = event_id(id)?;
        repo::event(&self.storage, &id)
            .await
            .map_err(storage_error)?
            .ok_or_else(|| ApiError::not_found("unknown_event", format!("no event {id} is stored")))
    }

    /// An event with its causes (the chain of `causation_id`s up to the first, outermost first) and
    /// its effects (every event caused by it, directly or not, with its depth).
    ///
    /// # Errors
    /// As [`Api::event`].
    pub async fn chain(&self, id: &str) -> Result<Json, ApiError> {
        let event = self.event(id).await?;
        let mut causes = Vec::new();
        let mut missing = None;
        let mut cause = event["causation_id"].as_str().map(str::to_owned);
        while let Some(c) = cause.take() {
            if causes.len() >= MAX_DEPTH {
                break;
            }
            match repo::event(&self.storage, &c).await.map_err(storage_error)? {
                Some(e) => {
                    cause = e["causation_id"].as_str().map(str::to_owned);
                    causes.push(e);
                }
                None => missing = Some(c),
            }
        }
        causes.reverse();
        let mut effects = Vec::new();
        let mut frontier = vec![event["id"].as_str().unwrap_or_default().to_owned()];
        for depth in 1..=MAX_DEPTH {
            let mut next = Vec::new();
            for id in frontier {
                let filter = EventFilter {
                    causation_id: Some(id),
                    ..EventFilter::default()
                };
                let found = repo::timeline(&self.storage, &filter, MAX_EFFECTS)
                    .await
                    .map_err(storage_error)?;
                for mut e in found {
                    if effects.len() >= MAX_EFFECTS {
                        break;
                    }
                    next.push(e["id"].as_str().unwrap_or_default().to_owned());
                    e["depth"] = json!(depth);
                    effects.push(e);
                }
            }
            if next.is_empty() || effects.len() >= MAX_EFFECTS {
                break;
            }
            frontier = next;
        }
        let related = self.related(&event).await?;
        Ok(json!({
            "event": event,
            "causes": causes,
            "missing_cause": missing,
            "effects": effects,
            "related": related,
        }))
    }

    /// Events about the same things as `event`, across instances (its order's other events, the
    /// trades of that order, the settlement that carried a trade, ...), followed a few steps, in
    /// simulated-time order, each with the link that found it.
    async fn related(&self, event: &Json) -> Result<Vec<Json>, ApiError> {
        let start = event["id"].as_str().unwrap_or_default().to_owned();
        let mut seen: std::collections::BTreeSet<String> = [start.clone()].into();
        let mut frontier = vec![start];
        let mut found: Vec<Json> = Vec::new();
        for _ in 0..RELATED_STEPS {
            let mut next = Vec::new();
            for id in frontier {
                for link in repo::links_of(&self.storage, &id).await.map_err(storage_error)? {
                    for other in repo::linked(&self.storage, &link, MAX_RELATED)
                        .await
                        .map_err(storage_error)?
                    {
                        if found.len() >= MAX_RELATED || !seen.insert(other.clone()) {
                            continue;
                        }
                        if let Some(mut e) =
                            repo::event(&self.storage, &other).await.map_err(storage_error)?
                        {
                            e["via"] = json!(format!("{} {} {}", link.kind, link.scope, link.low));
                            found.push(e);
                            next.push(other);
                        }
                    }
                }
            }
            if next.is_empty() {
                break;
            }
            frontier = next;
        }
        let at = |e: &Json| {
            let time = e["sim_time"]
                .as_str()
                .and_then(|t| OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok());
            (time, e["seq"].as_i64())
        };
        found.sort_by_key(at);
        Ok(found)
    }

    /// The ecosystem as observed: nodes are the live instances of the environment (from discovery,
    /// with their health) and the instances seen in events; edges are interactions observed in
    /// events — an instance's events about things of another (a custodian's settlements of an
    /// exchange's trades, ...) — with counts and the last time seen.
    ///
    /// # Errors
    /// `storage_unavailable`; discovery being away only empties the live part.
    pub async fn topology(&self) -> Result<Json, ApiError> {
        let mut nodes: std::collections::BTreeMap<String, Json> = std::collections::BTreeMap::new();
        let discovery = match self.registry.list().await {
            Ok(all) => {
                for r in all.into_iter().filter(|r| r.environment == self.environment) {
                    nodes.insert(
                        r.instance.to_string(),
                        json!({
                            "instance": r.instance, "service": r.service.name(), "entity_type": r.entity_type,
                            "live": true, "status": r.status.as_str(), "ready": r.ready,
                            "http": r.http_url(), "grpc": r.grpc_addr(),
                        }),
                    );
                }
                None
            }
            Err(e) => Some(e.to_string()),
        };
        for c in repo::counts(&self.storage).await.map_err(storage_error)? {
            let instance = c["instance"].as_str().unwrap_or_default().to_owned();
            let node = nodes.entry(instance.clone()).or_insert_with(
                || json!({"instance": instance, "service": c["service"], "live": false, "events": 0}),
            );
            let before = node["events"].as_i64().unwrap_or(0);
            node["events"] = json!(before + c["count"].as_i64().unwrap_or(0));
        }
        let edges = repo::edges(&self.storage).await.map_err(storage_error)?;
        Ok(json!({
            "environment": self.environment,
            "nodes": nodes.into_values().collect::<Vec<_>>(),
            "edges": edges,
            "discovery_error": discovery,
        }))
    }

    /// Counts per type and instance.
    ///
    /// # Errors
    /// `storage_unavailable`.
    pub async fn counts(&self) -> Result<Vec<Json>, ApiError> {
        repo::counts(&self.storage).await.map_err(storage_error)
    }
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
/// An event query as text, as both API faces receive it.
pub struct EventQuery {
    /// See the route table.
    pub service: Option<String>,
    /// See the route table.
    pub instance: Option<String>,
    #[serde(rename = "type")]
    /// See the route table.
    pub event_type: Option<String>,
    /// See the route table.
    pub trace_id: Option<String>,
    /// See the route table.
    pub scenario_run_id: Option<String>,
    /// See the route table.
    pub caused_by: Option<String>,
    /// See the route table.
    pub from: Option<String>,
    /// See the route table.
    pub to: Option<String>,
    /// See the route table.
    pub limit: Option<usize>,
    /// See the route table.
    pub cursor: Option<String>,
}

/// Reads a query into a filter and a page size.
///
/// # Errors
/// `invalid_*` naming what is malformed.
pub fn filter(q: EventQuery) -> Result<(EventFilter, usize), ApiError> {
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
        causation_id: given(q.caused_by).map(|c| event_id(&c)).transpose()?,
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
