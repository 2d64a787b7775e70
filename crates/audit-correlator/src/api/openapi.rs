//! The OpenAPI description of the audit HTTP API ([`super::http`]).

use serde_json::{Value, json};
use tse_runtime::openapi::{
    OpenApi, json_answer, operation, param_with, path_param, query_param, schema_ref, timestamp,
};

const UNAVAILABLE: (u16, &str) = (503, "`storage_unavailable`");

fn filters() -> Vec<Value> {
    vec![
        query_param("service", "string", "emitting SERVICE_NAME"),
        query_param("instance", "string", "emitting instance"),
        query_param("type", "string", "event type, e.g. trade.executed"),
        query_param("trace_id", "string", "one flow"),
        query_param("scenario_run_id", "string", "one scenario run"),
        param_with(
            "caused_by",
            "query",
            "events caused by this event id (empty: any)",
            or_empty(event_id()),
        ),
        param_with(
            "from",
            "query",
            "simulated time from (RFC 3339, inclusive; empty: no bound)",
            or_empty(timestamp()),
        ),
        param_with(
            "to",
            "query",
            "simulated time to (RFC 3339, exclusive, after `from`; empty: no bound)",
            or_empty(timestamp()),
        ),
        param_with(
            "limit",
            "query",
            "1–1000 (default 100)",
            json!({"type": "integer", "minimum": 1, "maximum": 1000}),
        ),
    ]
}

/// An event id: a UUID in its hyphenated form.
fn event_id() -> Value {
    json!({"type": "string", "format": "uuid"})
}

/// `schema`, or an empty string (a filter given empty is no filter).
fn or_empty(schema: Value) -> Value {
    json!({"anyOf": [schema, {"type": "string", "maxLength": 0}]})
}

/// The audit paths and schemas.
pub fn description() -> OpenApi {
    let mut paged = filters();
    paged.push(query_param(
        "cursor",
        "string",
        "`next_cursor` of the previous page",
    ));
    let events = |description: &str| {
        json_answer(
            description,
            json!({"type": "object", "properties": {"events": {"type": "array", "items": schema_ref("AuditEvent")}}}),
        )
    };
    let mut ingest = operation(
        "Ingests a batch of events (idempotent by event id); needs the ingest token. An event must have a \
         UUIDv7 id, a service of the ecosystem and an event type it emits, a valid instance name, no \
         control characters, and a payload of at most 16384 bytes nesting at most 32 levels",
        vec![],
        Some(json!({"type": "object", "required": ["events"], "properties": {
            "events": {"type": "array", "maxItems": 5000, "items": schema_ref("AuditEvent")}}})),
        (
            200,
            json_answer(
                "what was stored",
                json!({"type": "object", "properties": {
            "accepted": {"type": "integer"}, "duplicates": {"type": "integer"}}}),
            ),
        ),
        &[
            (
                400,
                "`invalid_batch`: naming the event, the field and what is wrong",
            ),
            (
                401,
                "`unauthorized` (no or wrong ingest token), `ingestion_closed` (the correlator has none)",
            ),
            UNAVAILABLE,
        ],
    );
    ingest["security"] = json!([{ "ingest": [] }]);
    OpenApi::new()
        .paths(json!({
            "/api/v1/audit/events": {
                "post": ingest,
                "get": operation(
                    "Events in storage order", paged, None,
                    (200, json_answer("a page", json!({"type": "object", "properties": {
                        "events": {"type": "array", "items": schema_ref("AuditEvent")},
                        "next_cursor": {"type": ["string", "null"]}}}))),
                    &[(400, "a malformed filter"), UNAVAILABLE],
                ),
            },
            "/api/v1/audit/events/{id}": {"get": operation(
                "One event", vec![param_with("id", "path", "event id (UUID)", event_id())], None,
                (200, json_answer("the event", schema_ref("AuditEvent"))),
                &[(400, "`invalid_id`"), (404, "`unknown_event`"), UNAVAILABLE],
            )},
            "/api/v1/audit/events/{id}/chain": {"get": operation(
                "An event with its causes (outermost first) and its effects (with their depth)",
                vec![param_with("id", "path", "event id (UUID)", event_id())], None,
                (200, json_answer("the chain", json!({"type": "object", "properties": {
                    "event": schema_ref("AuditEvent"),
                    "causes": {"type": "array", "items": schema_ref("AuditEvent")},
                    "missing_cause": {"type": ["string", "null"], "description": "a cause not (yet) stored"},
                    "effects": {"type": "array", "items": schema_ref("AuditEvent")}}}))),
                &[(400, "`invalid_id`"), (404, "`unknown_event`"), UNAVAILABLE],
            )},
            "/api/v1/audit/events/trace/{trace_id}": {"get": operation(
                "A trace's events in simulated-time order", vec![path_param("trace_id", "e.g. exchange-OKX:order:17")], None,
                (200, events("the trace")), &[UNAVAILABLE],
            )},
            "/api/v1/audit/timeline": {"get": operation(
                "Events in simulated-time order", filters(), None,
                (200, events("the timeline")), &[(400, "a malformed filter"), UNAVAILABLE],
            )},
            "/api/v1/topology": {"get": operation(
                "The ecosystem as observed: live instances and instances seen in events; interactions seen in events",
                vec![], None,
                (200, json_answer("the topology", json!({"type": "object", "properties": {
                    "environment": {"type": "string"},
                    "nodes": {"type": "array", "items": {"type": "object", "properties": {
                        "instance": {"type": "string"}, "service": {"type": "string"}, "live": {"type": "boolean"},
                        "status": {"type": "string"}, "ready": {"type": "boolean"}, "events": {"type": "integer"}}}},
                    "edges": {"type": "array", "items": {"type": "object", "properties": {
                        "from": {"type": "string"}, "to": {"type": "string"}, "kind": {"type": "string"},
                        "relation": {"type": "string"}, "count": {"type": "integer"}, "last_seen": timestamp()}}},
                    "discovery_error": {"type": ["string", "null"]}}}))),
                &[UNAVAILABLE],
            )},
            "/api/v1/audit/counts": {"get": operation(
                "Stored events per type and instance", vec![], None,
                (200, json_answer("the counts", json!({"type": "object", "properties": {"counts": {"type": "array",
                    "items": {"type": "object", "properties": {"event_type": {"type": "string"},
                        "service": {"type": "string"}, "instance": {"type": "string"}, "count": {"type": "integer"}}}}}}))),
                &[UNAVAILABLE],
            )},
        }))
        .schemas(json!({
            "AuditEvent": {"type": "object", "required": ["id", "sim_time", "wall_time", "service", "instance", "event_type", "payload"],
                "properties": {
                    "seq": {"type": "integer", "description": "storage order (answers only)"},
                    "id": {"type": "string", "format": "uuid", "description": "UUIDv7, time-ordered"},
                    "sim_time": timestamp(), "wall_time": timestamp(),
                    "service": {"type": "string"}, "instance": {"type": "string"},
                    "event_type": {"type": "string"},
                    "trace_id": {"type": ["string", "null"]},
                    "causation_id": {"type": ["string", "null"]},
                    "scenario_run_id": {"type": ["string", "null"]},
                    "payload": {"type": ["object", "null"],
                        "description": "null in answers when the stored payload cannot be shown (see payload_error)"},
                    "payload_error": {"type": "string",
                        "description": "answers only: why the stored payload is not shown (stored before ingestion was bounded)"},
                }},
        }))
}
