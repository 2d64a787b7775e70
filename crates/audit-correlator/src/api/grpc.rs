//! `tse.audit.v1.AuditService`: the audit API over gRPC, same semantics and messages as
//! [`super::http`]. Events travel as `AuditEvent` messages: times as RFC 3339 strings, the payload as
//! a JSON document in a string, an empty string for an absent trace, cause or scenario run. In
//! requests an empty string is an absent value and a limit of 0 the default page; errors are the
//! [`ApiError`]s of the HTTP API with their gRPC codes (see [`super`]). A malformed event in a batch
//! is refused as HTTP refuses it (`invalid_batch`), naming its index in the batch and the field;
//! `Ingest` needs the ingest token as `authorization: Bearer <token>` metadata (`UNAUTHENTICATED`
//! without it).

use serde_json::{Value as Json, value::RawValue};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};
use tonic::{Request, Response, Status};
use tse_proto::audit::v1::{
    self as pb,
    audit_service_server::{AuditService, AuditServiceServer},
};
use tse_runtime::{
    api::{ApiError, non_empty},
    events::Event,
};
use uuid::Uuid;

use super::{Api, EventQuery, MAX_LIMIT, filter};
use crate::infra::repo::EventFilter;

/// The gRPC service of one instance.
pub struct Service {
    api: Api,
}

/// Returns the tonic server for `api`.
pub fn server(api: Api) -> AuditServiceServer<Service> {
    AuditServiceServer::new(Service { api })
}

/// A page size: 0 is the default.
fn page(limit: u32) -> Option<usize> {
    (limit != 0).then(|| usize::try_from(limit).unwrap_or(usize::MAX))
}

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// A string field of a stored event as the store shows it; empty when null.
fn text(value: &Json) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

/// The items of a JSON array (none when it is not one).
fn items(value: &Json) -> impl Iterator<Item = &Json> {
    value.as_array().into_iter().flatten()
}

/// A stored event (as the store shows it in JSON) as a message.
fn audit_event(e: &Json) -> pb::AuditEvent {
    pb::AuditEvent {
        seq: e["seq"].as_i64().unwrap_or_default(),
        id: text(&e["id"]),
        sim_time: text(&e["sim_time"]),
        wall_time: text(&e["wall_time"]),
        service: text(&e["service"]),
        instance: text(&e["instance"]),
        event_type: text(&e["event_type"]),
        trace_id: text(&e["trace_id"]),
        causation_id: text(&e["causation_id"]),
        scenario_run_id: text(&e["scenario_run_id"]),
        payload_json: e["payload"].to_string(),
    }
}

fn audit_events(events: &[Json]) -> Vec<pb::AuditEvent> {
    events.iter().map(audit_event).collect()
}

/// A chain (as [`Api::chain`] answers it) as a message.
fn chain(c: &Json) -> pb::Chain {
    pb::Chain {
        event: Some(audit_event(&c["event"])),
        causes: items(&c["causes"]).map(audit_event).collect(),
        missing_cause: text(&c["missing_cause"]),
        effects: items(&c["effects"])
            .map(|e| pb::Effect {
                event: Some(audit_event(e)),
                depth: e["depth"]
                    .as_u64()
                    .map_or(0, |d| u32::try_from(d).unwrap_or(u32::MAX)),
            })
            .collect(),
        related: items(&c["related"])
            .map(|e| pb::Related {
                event: Some(audit_event(e)),
                via: text(&e["via"]),
            })
            .collect(),
    }
}

/// The `index`-th event of a batch, checked field by field.
fn event(index: usize, e: pb::AuditEvent) -> Result<Event, ApiError> {
    let bad = |field: &str, what: String| {
        ApiError::bad_request("invalid_batch", format!("event {index}: {field} {what}"))
    };
    let required =
        |field: &str, value: String| non_empty(value).ok_or_else(|| bad(field, "is required".into()));
    let id = |field: &str, value: &str| {
        Uuid::parse_str(value.trim())
            .map_err(|_| bad(field, format!("must be an event id (a UUID), got '{value}'")))
    };
    let when = |field: &str, value: String| {
        let value = required(field, value)?;
        OffsetDateTime::parse(value.trim(), &Rfc3339).map_err(|_| {
            bad(
                field,
                format!("must be an RFC 3339 time like 2026-12-01T10:00:00Z, got '{value}'"),
            )
        })
    };
    let event_id = id("id", &required("id", e.id)?)?;
    let sim_time = when("sim_time", e.sim_time)?;
    let wall_time = when("wall_time", e.wall_time)?;
    let service = required("service", e.service)?;
    let instance = required("instance", e.instance)?;
    let event_type = required("event_type", e.event_type)?;
    let causation_id = non_empty(e.causation_id)
        .map(|c| id("causation_id", &c))
        .transpose()?;
    let payload = required("payload_json", e.payload_json)?;
    let payload = RawValue::from_string(payload.trim().to_owned())
        .map_err(|err| bad("payload_json", format!("must be a JSON document: {err}")))?;
    Ok(Event {
        id: event_id,
        sim_time,
        wall_time,
        service,
        instance,
        event_type,
        trace_id: non_empty(e.trace_id),
        causation_id,
        scenario_run_id: non_empty(e.scenario_run_id),
        payload,
    })
}

#[tonic::async_trait]
impl AuditService for Service {
    async fn ingest(
        &self,
        request: Request<pb::IngestRequest>,
    ) -> Result<Response<pb::IngestResponse>, Status> {
        self.api.authenticate(
            request
                .metadata()
                .get("authorization")
                .map(|v| v.to_str().unwrap_or_default()),
        )?;
        let events = request
            .into_inner()
            .events
            .into_iter()
            .enumerate()
            .map(|(i, e)| event(i, e))
            .collect::<Result<Vec<_>, _>>()?;
        let ingested = self.api.ingest(events).await?;
        Ok(Response::new(pb::IngestResponse {
            accepted: count(ingested.accepted),
            duplicates: count(ingested.duplicates),
        }))
    }

    async fn list_events(
        &self,
        request: Request<pb::ListEventsRequest>,
    ) -> Result<Response<pb::ListEventsResponse>, Status> {
        let r = request.into_inner();
        let (filter, limit) = filter(EventQuery {
            service: non_empty(r.service),
            instance: non_empty(r.instance),
            event_type: non_empty(r.r#type),
            trace_id: non_empty(r.trace_id),
            scenario_run_id: non_empty(r.scenario_run_id),
            caused_by: non_empty(r.caused_by),
            from: non_empty(r.from),
            to: non_empty(r.to),
            limit: page(r.limit),
            cursor: non_empty(r.cursor),
        })?;
        let (events, next) = self.api.events(&filter, limit).await?;
        Ok(Response::new(pb::ListEventsResponse {
            events: audit_events(&events),
            next_cursor: next.unwrap_or_default(),
        }))
    }

    async fn get_event(
        &self,
        request: Request<pb::GetEventRequest>,
    ) -> Result<Response<pb::AuditEvent>, Status> {
        let id = request.into_inner().id;
        Ok(Response::new(audit_event(&self.api.event(&id).await?)))
    }

    async fn get_chain(&self, request: Request<pb::GetChainRequest>) -> Result<Response<pb::Chain>, Status> {
        let id = request.into_inner().id;
        Ok(Response::new(chain(&self.api.chain(&id).await?)))
    }

    async fn get_trace(&self, request: Request<pb::GetTraceRequest>) -> Result<Response<pb::Trace>, Status> {
        let trace_id = request.into_inner().trace_id;
        if trace_id.trim().is_empty() {
            return Err(ApiError::bad_request("invalid_query", "trace_id is required").into());
        }
        let filter = EventFilter {
            trace_id: Some(trace_id.clone()),
            ..EventFilter::default()
        };
        let events = self.api.timeline(&filter, MAX_LIMIT).await?;
        Ok(Response::new(pb::Trace {
            trace_id,
            events: audit_events(&events),
        }))
    }

    async fn timeline(
        &self,
        request: Request<pb::TimelineRequest>,
    ) -> Result<Response<pb::TimelineResponse>, Status> {
        let r = request.into_inner();
        let (filter, limit) = filter(EventQuery {
            service: non_empty(r.service),
            instance: non_empty(r.instance),
            event_type: non_empty(r.r#type),
            trace_id: non_empty(r.trace_id),
            scenario_run_id: non_empty(r.scenario_run_id),
            caused_by: non_empty(r.caused_by),
            from: non_empty(r.from),
            to: non_empty(r.to),
            limit: page(r.limit),
            cursor: None,
        })?;
        let events = self.api.timeline(&filter, limit).await?;
        Ok(Response::new(pb::TimelineResponse {
            events: audit_events(&events),
        }))
    }

    async fn counts(
        &self,
        _request: Request<pb::CountsRequest>,
    ) -> Result<Response<pb::CountsResponse>, Status> {
        let counts = self.api.counts().await?;
        Ok(Response::new(pb::CountsResponse {
            counts: counts
                .iter()
                .map(|c| pb::Count {
                    event_type: text(&c["event_type"]),
                    service: text(&c["service"]),
                    instance: text(&c["instance"]),
                    count: c["count"].as_i64().unwrap_or_default(),
                })
                .collect(),
        }))
    }
}
