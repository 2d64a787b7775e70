//! The OpenAPI 3.1 document every instance publishes at `GET /api/v1/openapi.json` (README, *APIs every instance serves*).
//!
//! A document is assembled from parts: the host's own endpoints (health, readiness, metrics,
//! discovery, this document), the `/chaos/v1/faults` back door when the service has one (with its
//! fault kinds), and the service's production API, which the service describes with the helpers
//! here. Services write paths and schemas as JSON values, next to the routes they describe; their
//! tests check that every documented operation is routed.

use serde_json::{Map, Value, json};

use crate::identity::Identity;

/// The parts of an API description a service contributes: paths and component schemas.
#[derive(Clone, Debug, Default)]
pub struct OpenApi {
    paths: Map<String, Value>,
    schemas: Map<String, Value>,
}

impl OpenApi {
    /// An empty description.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds operations: `{"/path": {"get": operation, ...}, ...}`. Methods of a path already
    /// described are added to it.
    ///
    /// # Panics
    /// When `paths` is not a JSON object of objects: descriptions are written in code, so this is a
    /// bug caught by the first test that starts the service.
    #[must_use]
    pub fn paths(mut self, paths: Value) -> Self {
        let Value::Object(paths) = paths else {
            panic!("OpenAPI paths must be an object");
        };
        for (path, operations) in paths {
            let Value::Object(operations) = operations else {
                panic!("OpenAPI operations of {path} must be an object");
            };
            let entry = self
                .paths
                .entry(path)
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(existing) = entry {
                existing.extend(operations);
            }
        }
        self
    }

    /// Adds component schemas: `{"Name": schema, ...}`, referred to as `#/components/schemas/Name`.
    ///
    /// # Panics
    /// When `schemas` is not a JSON object (a bug in the description, as for [`OpenApi::paths`]).
    #[must_use]
    pub fn schemas(mut self, schemas: Value) -> Self {
        let Value::Object(schemas) = schemas else {
            panic!("OpenAPI schemas must be an object");
        };
        self.schemas.extend(schemas);
        self
    }

    /// Adds another description's paths and schemas.
    #[must_use]
    pub fn merge(self, other: OpenApi) -> Self {
        self.paths(Value::Object(other.paths))
            .schemas(Value::Object(other.schemas))
    }

    /// The whole document of an instance: the host's endpoints, then these parts.
    pub(crate) fn document(&self, identity: &Identity) -> Value {
        let all = host_endpoints().merge(self.clone());
        let mut schemas = all.schemas;
        schemas.insert("Error".into(), error_schema());
        let mut paths: Vec<(String, Value)> = all.paths.into_iter().collect();
        paths.sort_by(|a, b| a.0.cmp(&b.0));
        json!({
            "openapi": "3.1.0",
            "info": {
                "title": format!("{} ({})", identity.service().name(), identity.instance()),
                "version": env!("CARGO_PKG_VERSION"),
                "description": "Production API of one instance of the Trading Simulation Ecosystem. \
                    Decimal amounts and prices are strings in answers and strings or numbers in \
                    requests; enum values are upper case in answers and any case in requests; \
                    timestamps are RFC 3339 UTC; errors are {\"error\": {\"code\", \"message\"}}. \
                    The /chaos/v1 back door needs the admin bearer token.",
            },
            "paths": Value::Object(paths.into_iter().collect()),
            "components": {
                "schemas": Value::Object(schemas),
                "securitySchemes": {
                    "admin": {"type": "http", "scheme": "bearer", "description": "TSE_ADMIN_TOKEN"},
                    "ingest": {"type": "http", "scheme": "bearer",
                               "description": "TSE_INGEST_TOKEN (default: derived from TSE_ADMIN_TOKEN)"},
                },
            },
        })
    }
}

/// A reference to component schema `name`.
pub fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// A JSON answer with `description` and `schema`.
pub fn json_answer(description: &str, schema: Value) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": schema}},
    })
}

/// A JSON request body with `schema`.
pub fn json_body(schema: Value) -> Value {
    json!({ "required": true, "content": {"application/json": {"schema": schema}} })
}

/// A required path parameter.
pub fn path_param(name: &str, description: &str) -> Value {
    json!({ "name": name, "in": "path", "required": true, "description": description, "schema": {"type": "string"} })
}

/// An optional query parameter of JSON `kind` (`string`, `integer`, `boolean`).
pub fn query_param(name: &str, kind: &str, description: &str) -> Value {
    json!({ "name": name, "in": "query", "required": false, "description": description, "schema": {"type": kind} })
}

/// Error answers by status code, each with the error body and a description of when it happens.
pub fn errors(cases: &[(u16, &str)]) -> Map<String, Value> {
    cases
        .iter()
        .map(|(status, when)| (status.to_string(), json_answer(when, schema_ref("Error"))))
        .collect()
}

/// An operation: `summary`, parameters, an optional JSON request body, the success answer under
/// `status`, and error answers.
pub fn operation(
    summary: &str,
    parameters: Vec<Value>,
    body: Option<Value>,
    (status, answer): (u16, Value),
    error_cases: &[(u16, &str)],
) -> Value {
    let mut responses = errors(error_cases);
    responses.insert(status.to_string(), answer);
    if body.is_some() {
        // Every body is read the same way by the host and `Json`: a body sent without a JSON
        // content type is 415, one that is not JSON of the described shape is 400.
        responses.entry("400").or_insert_with(|| {
            json_answer(
                "`invalid_json`: the body is not JSON of this shape",
                schema_ref("Error"),
            )
        });
        responses.insert(
            "415".into(),
            json_answer(
                "`unsupported_media_type`: the body was not sent with `Content-Type: application/json`",
                schema_ref("Error"),
            ),
        );
    }
    let mut op = json!({ "summary": summary, "responses": Value::Object(responses) });
    if !parameters.is_empty() {
        op["parameters"] = Value::Array(parameters);
    }
    if let Some(schema) = body {
        op["requestBody"] = json_body(schema);
    }
    op
}

/// A server-sent event stream: `summary`, its query `parameters`, the events it sends as (event
/// name, schema of the event's JSON `data`), and the error answers. Each event is described as
/// the object `{event, data, id?, retry?}` with `data` JSON text of its schema (`contentSchema`,
/// inlined: write the schemas without `$ref`).
pub fn event_stream(
    summary: &str,
    parameters: Vec<Value>,
    events: &[(&str, Value)],
    error_cases: &[(u16, &str)],
) -> Value {
    let described: Vec<Value> = events
        .iter()
        .map(|(name, schema)| {
            json!({
                "type": "object",
                "required": ["event", "data"],
                "properties": {
                    "event": {"const": name},
                    "data": {"type": "string", "contentMediaType": "application/json", "contentSchema": schema},
                    "id": {"type": "string"},
                    "retry": {"type": "integer", "minimum": 0},
                },
            })
        })
        .collect();
    let names: Vec<String> = events.iter().map(|(name, _)| format!("`{name}`")).collect();
    let mut responses = errors(error_cases);
    responses.insert(
        "200".into(),
        json!({
            "description": format!("an event stream of {}, each event's `data` one JSON object", names.join(", ")),
            "content": {"text/event-stream": {"schema": {"oneOf": described}}},
        }),
    );
    let mut op = json!({ "summary": summary, "responses": Value::Object(responses) });
    if !parameters.is_empty() {
        op["parameters"] = Value::Array(parameters);
    }
    op
}

/// A non-blank text without control characters (what services accept for names and ids): at least
/// one character that is not white space, none in Unicode category Cc.
pub fn plain_text(max_length: usize) -> Value {
    json!({
        "type": "string",
        "minLength": 1,
        "maxLength": max_length,
        "pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$",
    })
}

/// A positive decimal in requests of at most `10^integer_digits`: plain decimal text (at most
/// `integer_digits` integer and 8 fractional digits, not zero) or a number above 0.
pub fn positive_decimal_input(integer_digits: u32) -> Value {
    json!({ "oneOf": [
        {"type": "string", "pattern": format!("^[0-9]{{1,{integer_digits}}}(\\.[0-9]{{1,8}})?$"),
            "not": {"pattern": "^0+(\\.0+)?$"}},
        {"type": "number", "exclusiveMinimum": 0, "maximum": power_of_ten(integer_digits)},
    ]})
}

/// A decimal of any sign in requests of magnitude at most `10^integer_digits`: plain decimal text
/// (at most `integer_digits` integer and 8 fractional digits) or a number.
pub fn signed_decimal_input(integer_digits: u32) -> Value {
    let bound = power_of_ten(integer_digits);
    json!({ "oneOf": [
        {"type": "string", "pattern": format!("^-?[0-9]{{1,{integer_digits}}}(\\.[0-9]{{1,8}})?$")},
        {"type": "number", "minimum": -bound, "maximum": bound},
    ]})
}

fn power_of_ten(digits: u32) -> f64 {
    10f64.powi(i32::try_from(digits).unwrap_or(i32::MAX))
}

/// A duration in simulated or wall time as the back doors read it, within `(0, 3650d]`: one
/// number and a unit (`500ms`, `30s`, `10m`, `36h`, `7d`).
pub fn duration() -> Value {
    json!({
        "type": "string",
        "pattern": "^([1-9][0-9]{0,10}ms|[1-9][0-9]{0,7}s|[1-9][0-9]{0,5}m|[1-9][0-9]{0,3}h|[1-9][0-9]{0,2}d)$",
        "examples": ["500ms", "30s", "10m", "36h"],
    })
}

/// An enumeration of names accepted in any case (as given, upper and lower case), e.g. symbols.
pub fn names_any_case<S: AsRef<str>>(names: &[S]) -> Value {
    let mut all: Vec<String> = Vec::new();
    for name in names {
        for form in [
            name.as_ref().to_owned(),
            name.as_ref().to_ascii_uppercase(),
            name.as_ref().to_ascii_lowercase(),
        ] {
            if !all.contains(&form) {
                all.push(form);
            }
        }
    }
    json!({ "type": "string", "enum": all })
}

/// The `?symbols=A,B` parameter of a stream over `names` (a [`names_any_case`] schema): those
/// names, comma-separated; empty parts are skipped, none means all.
pub fn symbols_query(names: &Value, description: &str) -> Value {
    let alternatives = names["enum"]
        .as_array()
        .map(|values| {
            values
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join("|")
        })
        .unwrap_or_default();
    param_with(
        "symbols",
        "query",
        description,
        json!({"type": "string", "pattern": format!("^(({alternatives})?)(,(({alternatives})?))*$")}),
    )
}

/// A server-sent event stream of the chosen symbols (`?symbols=A,B`, default all): `summary`, what
/// each event's `data` is, and the error answers (an unknown symbol is always one of them).
pub fn symbol_stream(summary: &str, data: &str, error_cases: &[(u16, &str)]) -> Value {
    let mut responses = errors(&[(400, "an unknown symbol")]);
    responses.extend(errors(error_cases));
    responses.insert(
        "200".into(),
        json!({
            "description": format!("an event stream; `data` is {data}"),
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        }),
    );
    json!({
        "summary": summary,
        "parameters": [query_param("symbols", "string", "comma-separated; default all")],
        "responses": Value::Object(responses),
    })
}

/// A decimal in answers: exact, as a string.
pub fn decimal() -> Value {
    json!({ "type": "string", "pattern": "^-?[0-9]+(\\.[0-9]+)?$" })
}

/// A decimal in requests: plain decimal text or a JSON number (read from its digits, exactly), at
/// most [`MAX_AMOUNT`](crate::money::MAX_AMOUNT) in size.
pub fn decimal_input() -> Value {
    json!({
        "oneOf": [decimal(), {"type": "number", "minimum": -1e20, "maximum": 1e20}],
        "description": "an exact decimal, as plain text (\"0.015\") or a JSON number; at most 10^20 in size",
    })
}

/// A query or path parameter with its own schema.
pub fn param_with(name: &str, location: &str, description: &str, schema: Value) -> Value {
    json!({ "name": name, "in": location, "required": location == "path", "description": description, "schema": schema })
}

/// An enumeration accepted in any case: the upper-case values and their lower-case forms.
pub fn any_case(values: &[&str]) -> Value {
    let all: Vec<String> = values
        .iter()
        .map(|v| v.to_ascii_uppercase())
        .chain(values.iter().map(|v| v.to_ascii_lowercase()))
        .collect();
    json!({ "type": "string", "enum": all })
}

/// An RFC 3339 timestamp.
pub fn timestamp() -> Value {
    json!({ "type": "string", "format": "date-time" })
}

fn error_schema() -> Value {
    json!({
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string", "description": "machine-readable, e.g. insufficient_balance"},
                    "message": {"type": "string", "description": "what is wrong, for a person"},
                },
            },
        },
    })
}

/// The endpoints every instance serves.
fn host_endpoints() -> OpenApi {
    let object = json!({ "type": "object" });
    OpenApi::new()
        .paths(json!({
            "/api/v1/health": {"get": operation(
                "Health: status (healthy, degraded, unhealthy), identity, backends, dependency checks",
                vec![], None, (200, json_answer("healthy or degraded", schema_ref("Health"))),
                &[(503, "unhealthy (the body is the same health report)")],
            )},
            "/api/v1/ready": {"get": operation(
                "Readiness: whether the instance can do its job now",
                vec![], None, (200, json_answer("ready", object.clone())),
                &[(503, "starting, draining, or a dependency is down; `reasons` says which")],
            )},
            "/metrics": {"get": {
                "summary": "Prometheus metrics of this instance",
                "responses": {"200": {
                    "description": "Prometheus text format",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                }},
            }},
            "/api/v1/openapi.json": {"get": operation(
                "This document", vec![], None, (200, json_answer("OpenAPI 3.1", object.clone())), &[],
            )},
            "/api/v1/discovery/services": {"get": operation(
                "The instances in the discovery registry",
                vec![
                    param_with("service", "query", "only instances of this service kind",
                        json!({"enum": crate::identity::ServiceKind::ALL.iter().map(|k| k.name()).collect::<Vec<_>>()})),
                    query_param("healthy", "boolean", "only healthy instances"),
                ],
                None,
                (200, json_answer("`{registry, count, services}`", object.clone())),
                &[(400, "unknown service or query parameter"), (503, "the registry cannot be reached")],
            )},
            "/api/v1/discovery/prometheus": {"get": operation(
                "Prometheus HTTP service discovery: a target group per live instance of this ecosystem (environment)",
                vec![], None,
                (200, json_answer("target groups with labels service, instance_name, service_type, entity_type",
                    json!({"type": "array", "items": object}))),
                &[(503, "the registry cannot be reached")],
            )},
        }))
        .schemas(json!({
            "Health": {
                "type": "object",
                "required": ["status", "service", "instance", "version", "environment", "timestamp"],
                "properties": {
                    "status": {"enum": ["healthy", "degraded", "unhealthy"]},
                    "service": {"type": "string"},
                    "instance": {"type": "string"},
                    "version": {"type": "string"},
                    "environment": {"type": "string"},
                    "timestamp": timestamp(),
                    "schema": {"type": "string"},
                    "redis_namespace": {"type": "string"},
                    "ready": {"type": "boolean"},
                    "checks": {"type": "object"},
                    "backends": {"type": "object"},
                },
            },
        }))
}

/// The params of a fault kind that takes none.
pub fn no_params() -> Value {
    json!({ "type": "object", "additionalProperties": false, "maxProperties": 0 })
}

/// The `/chaos/v1/faults` back door of a service whose fault kinds are `kinds`, each with the
/// schema of its params (a request is one of them: `{kind, params, duration}`).
pub(crate) fn fault_endpoints(kinds: &[(&str, Value)]) -> OpenApi {
    let names: Vec<&str> = kinds.iter().map(|(name, _)| *name).collect();
    let requests: Vec<Value> = kinds
        .iter()
        .map(|(name, params)| {
            // A kind whose params have required fields needs `params`; omitted, they are `{}`.
            let mut required = vec!["kind"];
            if params["required"].as_array().is_some_and(|r| !r.is_empty()) || params["oneOf"].is_array() {
                required.push("params");
            }
            json!({
                "type": "object",
                "required": required,
                "additionalProperties": false,
                "properties": {
                    "kind": {"const": name},
                    "params": params,
                    "duration": {
                        "type": ["string", "null"],
                        "pattern": duration()["pattern"],
                        "description": "simulated time; omitted or null: until cleared",
                        "examples": ["30s", "10m", "36h"],
                    },
                },
            })
        })
        .collect();
    let admin = json!([{ "admin": [] }]);
    let refused: &[(u16, &str)] = &[
        (401, "no or wrong bearer token"),
        (403, "the instance has no admin token: its back door is closed"),
    ];
    let with = |extra: &[(u16, &'static str)]| -> Vec<(u16, &'static str)> {
        refused.iter().copied().chain(extra.iter().copied()).collect()
    };
    let mut inject = operation(
        "Injects a fault; `duration` is simulated time (`500ms`, `30s`, `10m`, `36h`), omitted: until cleared",
        vec![],
        Some(schema_ref("FaultRequest")),
        (201, json_answer("the fault, with its id", schema_ref("Fault"))),
        &with(&[
            (400, "unknown kind, or a missing or invalid param"),
            (503, "the injection cannot be recorded"),
        ]),
    );
    inject["security"] = admin.clone();
    let mut list = operation(
        "Active and recently ended faults",
        vec![],
        None,
        (200, json_answer("`{faults: [...]}`", json!({"type": "object"}))),
        &with(&[]),
    );
    list["security"] = admin.clone();
    let mut clear_all = operation(
        "Clears every active fault",
        vec![],
        None,
        (
            200,
            json_answer("`{cleared: [faults]}`", json!({"type": "object"})),
        ),
        &with(&[(503, "the clearances cannot be recorded")]),
    );
    clear_all["security"] = admin.clone();
    let id = || vec![path_param("id", "fault id")];
    let mut get_one = operation(
        "One fault",
        id(),
        None,
        (200, json_answer("the fault", schema_ref("Fault"))),
        &with(&[(404, "no such fault")]),
    );
    get_one["security"] = admin.clone();
    let mut clear_one = operation(
        "Clears one fault",
        id(),
        None,
        (200, json_answer("the fault, cleared", schema_ref("Fault"))),
        &with(&[
            (404, "no fault with that id"),
            (
                409,
                "`fault_not_active`: the fault has already ended (expired or cleared)",
            ),
            (503, "the clearance cannot be recorded"),
        ]),
    );
    clear_one["security"] = admin;
    OpenApi::new()
        .paths(json!({
            "/chaos/v1/faults": {"post": inject, "get": list, "delete": clear_all},
            "/chaos/v1/faults/{id}": {"get": get_one, "delete": clear_one},
        }))
        .schemas(json!({
            "FaultRequest": {
                "type": "object",
                "required": ["kind"],
                "properties": {"kind": {"enum": names}},
                "oneOf": requests,
            },
            "Fault": {
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "kind": {"enum": names},
                    "params": {"type": "object"},
                    "status": {"enum": ["active", "expired", "cleared"]},
                },
            },
        }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::ServiceKind;

    #[test]
    fn an_operation_with_a_body_documents_415_and_400_for_bodies_that_are_not_json_of_its_shape() {
        let with_body = operation(
            "Things",
            vec![],
            Some(json!({"type": "object"})),
            (201, json_answer("made", json!({}))),
            &[(404, "unknown")],
        );
        for status in ["400", "415", "404", "201"] {
            assert!(
                with_body["responses"][status].is_object(),
                "{status}: {with_body}"
            );
        }
        let explained = operation(
            "Things",
            vec![],
            Some(json!({"type": "object"})),
            (201, json_answer("made", json!({}))),
            &[(400, "`invalid_thing`")],
        );
        assert_eq!(explained["responses"]["400"]["description"], "`invalid_thing`");
        let without = operation(
            "Things",
            vec![],
            None,
            (200, json_answer("things", json!({}))),
            &[],
        );
        assert!(without["responses"].get("415").is_none(), "{without}");
        assert!(without["responses"].get("400").is_none(), "{without}");
    }

    #[test]
    fn fault_requests_are_one_of_the_kinds_each_with_its_params() {
        let delay = json!({"type": "object", "required": ["delay"], "additionalProperties": false,
            "properties": {"delay": duration()}});
        let doc = OpenApi::new()
            .merge(fault_endpoints(&[
                ("outage", no_params()),
                ("latency", delay.clone()),
            ]))
            .document(
                &Identity::new(ServiceKind::ExchangeSimulator, Some("exchange-A"), None, None).unwrap(),
            );
        let request = &doc["components"]["schemas"]["FaultRequest"];
        assert_eq!(
            request["properties"]["kind"]["enum"],
            json!(["outage", "latency"])
        );
        let latency = &request["oneOf"][1];
        assert_eq!(latency["properties"]["kind"]["const"], "latency");
        assert_eq!(latency["properties"]["params"], delay);
        assert_eq!(
            latency["required"],
            json!(["kind", "params"]),
            "its params have a required field"
        );
        assert_eq!(
            request["oneOf"][0]["required"],
            json!(["kind"]),
            "outage takes no params"
        );
        assert_eq!(latency["additionalProperties"], false);
        assert_eq!(
            latency["properties"]["duration"]["type"],
            json!(["string", "null"])
        );
        assert!(doc["paths"]["/chaos/v1/faults"]["post"]["responses"]["415"].is_object());
    }

    #[test]
    fn durations_in_the_document_are_positive_and_at_most_3650_days() {
        let pattern = duration()["pattern"].as_str().unwrap().to_owned();
        let alternatives = pattern.trim_start_matches("^(").trim_end_matches(")$");
        let mut units = Vec::new();
        for alternative in alternatives.split('|') {
            // `[1-9][0-9]{0,N}unit`: the longest text is N + 1 nines and the unit.
            let rest = alternative.strip_prefix("[1-9][0-9]{0,").expect(alternative);
            let (more, unit) = rest.split_once('}').expect(alternative);
            let longest = format!("{}{unit}", "9".repeat(more.parse::<usize>().unwrap() + 1));
            let parsed = crate::config::parse_duration(&longest).unwrap();
            assert!(
                parsed <= std::time::Duration::from_secs(3_650 * 86_400),
                "{longest}"
            );
            units.push(unit.to_owned());
        }
        assert_eq!(units, ["ms", "s", "m", "h", "d"]);
    }

    #[test]
    fn an_event_stream_describes_each_event_with_its_json_data() {
        let op = event_stream(
            "Prices",
            vec![query_param("symbols", "string", "which")],
            &[("price", json!({"type": "object", "required": ["price"]}))],
            &[(400, "an unknown symbol")],
        );
        let event = &op["responses"]["200"]["content"]["text/event-stream"]["schema"]["oneOf"][0];
        assert_eq!(event["properties"]["event"]["const"], "price");
        assert_eq!(
            event["properties"]["data"]["contentMediaType"],
            "application/json"
        );
        assert_eq!(
            event["properties"]["data"]["contentSchema"]["required"],
            json!(["price"])
        );
        assert!(op["responses"]["400"].is_object());
        assert_eq!(op["parameters"][0]["name"], "symbols");
    }

    #[test]
    fn plain_text_refuses_blank_and_control_characters_by_its_pattern() {
        let pattern = plain_text(128)["pattern"].as_str().unwrap().to_owned();
        assert!(pattern.contains("\\u0000-\\u001f"), "{pattern}");
        assert!(
            pattern.contains("\\u007f-\\u009f"),
            "Unicode Cc, as char::is_control: {pattern}"
        );
        assert!(
            pattern.contains("[^\\s"),
            "one character that is not white space: {pattern}"
        );
    }

    #[test]
    fn the_document_holds_the_host_endpoints_the_back_door_and_the_service() {
        let identity = Identity::new(ServiceKind::ExchangeSimulator, Some("exchange-A"), None, None).unwrap();
        let service = OpenApi::new()
            .paths(json!({"/api/v1/things": {"get": operation("Things", vec![], None, (200, json_answer("things", schema_ref("Thing"))), &[(400, "bad")])}}))
            .schemas(json!({"Thing": {"type": "object"}}))
            .merge(fault_endpoints(&[("outage", no_params())]));
        let doc = service.document(&identity);
        assert_eq!(doc["openapi"], "3.1.0");
        assert_eq!(doc["info"]["title"], "exchange-simulator (exchange-A)");
        for path in [
            "/api/v1/health",
            "/api/v1/ready",
            "/metrics",
            "/api/v1/openapi.json",
            "/api/v1/things",
            "/chaos/v1/faults/{id}",
        ] {
            assert!(doc["paths"][path].is_object(), "{path} documented");
        }
        assert_eq!(
            doc["paths"]["/api/v1/things"]["get"]["responses"]["400"]["content"]["application/json"]["schema"]
                ["$ref"],
            "#/components/schemas/Error"
        );
        assert_eq!(
            doc["components"]["schemas"]["FaultRequest"]["properties"]["kind"]["enum"],
            json!(["outage"])
        );
        let outage = &doc["components"]["schemas"]["FaultRequest"]["oneOf"][0];
        assert_eq!(outage["properties"]["kind"]["const"], "outage");
        assert_eq!(outage["properties"]["params"], no_params());
        assert_eq!(outage["additionalProperties"], false);
        assert_eq!(
            doc["paths"]["/chaos/v1/faults"]["post"]["security"],
            json!([{"admin": []}])
        );
    }
}
