//! The OpenAPI description of the production HTTP API ([`super::http`]); the host publishes it with
//! its own endpoints at `GET /api/v1/openapi.json`.
//!
//! The schemas are what the API accepts, exactly where a schema can say it: enumerations any case
//! (as patterns), page sizes, cursors and ids. A limits document's rules across fields (`warning`
//! at most `critical`, ...) are the rule core's, which a schema cannot state: a document of the
//! right shape may still be refused (400 `invalid_limits`, with the reason).

use serde_json::{Value, json};
use tse_runtime::openapi::{
    OpenApi, decimal, event_stream, json_answer, operation, param_with, schema_ref, timestamp,
};

use super::MAX_DIGITS;
use crate::domain::alert::{MAX_LIMIT, RuleKind, Severity, Status};

/// What every call may answer when the monitor cannot.
const UNAVAILABLE: (u16, &str) = (
    503,
    "`monitor_unavailable`: the monitor or its storage is not running, or the instance is stopping",
);

/// What a malformed id in the path is answered.
const BAD_ID: (u16, &str) = (400, "`invalid_alert_id`: not alert- and a positive number");

/// What an id the monitor never gave is answered.
const UNKNOWN: (u16, &str) = (
    404,
    "`unknown_alert`: the monitor never raised an alert of that id",
);

/// A positive number as the API writes it: no sign, no leading zero, at most [`MAX_DIGITS`] digits.
fn positive_pattern() -> String {
    format!("[1-9][0-9]{{0,{}}}", MAX_DIGITS - 1)
}

/// The JSON Schema pattern of an alert id ([`super::alert_id`]).
pub(super) fn id_pattern() -> String {
    format!("^alert-{}$", positive_pattern())
}

/// A pattern matching `names` in any case, or the empty text (no filter).
pub(super) fn any_case_or_empty(names: &[&str]) -> String {
    let alternatives: Vec<String> = names
        .iter()
        .map(|name| {
            name.chars()
                .map(|c| {
                    if c.is_ascii_alphabetic() {
                        format!("[{}{}]", c.to_ascii_uppercase(), c.to_ascii_lowercase())
                    } else {
                        c.to_string()
                    }
                })
                .collect()
        })
        .collect();
    format!("^(|{})$", alternatives.join("|"))
}

/// An enumerated filter of the listing.
fn filter_param(name: &str, names: &[&str]) -> Value {
    param_with(
        name,
        "query",
        &format!("only alerts of this {name}: {} (any case)", names.join(", ")),
        json!({"type": "string", "pattern": any_case_or_empty(names), "examples": names}),
    )
}

/// An answer's object: every property listed is always there.
fn object(properties: Value) -> Value {
    let required: Vec<String> = properties
        .as_object()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    json!({"type": "object", "required": required, "additionalProperties": false, "properties": properties})
}

/// A request's object: every property may be left out (it takes its default), no other is
/// accepted.
fn optional(properties: Value) -> Value {
    json!({"type": "object", "additionalProperties": false, "properties": properties})
}

fn text() -> Value {
    json!({"type": "string"})
}

fn number() -> Value {
    json!({"type": "number"})
}

fn list(items: Value) -> Value {
    json!({"type": "array", "items": items})
}

fn names(all: impl IntoIterator<Item = &'static str>) -> Vec<&'static str> {
    all.into_iter().collect()
}

/// An alert, written out (no `$ref`: the stream's event schemas are inlined).
fn alert() -> Value {
    let subject = json!({"type": "object", "additionalProperties": false, "properties": {
        "entity": text(), "venue": text(), "asset": text(), "symbol": text(),
        "measure": {"type": "string", "description": "which measure of the kind, where it has several"},
    }, "description": "what it is about; parts the kind does not use are left out"});
    let evidence = json!({
        "type": "object",
        "required": ["observed", "threshold", "unit", "for_ms", "source", "data_at", "message"],
        "additionalProperties": false,
        "properties": {
            "observed": number(),
            "threshold": number(),
            "unit": {"type": "string", "examples": ["usd", "ratio", "bps", "seconds", "per_second"]},
            "window_ms": {"type": "integer", "description": "the window the value was measured over, simulated ms"},
            "for_ms": {"type": "integer", "description": "how long the breach lasted before it raised, simulated ms"},
            "source": text(),
            "data_at": timestamp(),
            "breach_since": {"allOf": [timestamp()], "description": "simulated time the breach was first seen; detected_at minus this is the detection latency"},
            "message": text(),
        },
    });
    object(json!({
        "id": {"type": "string", "pattern": id_pattern()},
        "kind": {"enum": names(RuleKind::ALL.map(RuleKind::as_str))},
        "subject": subject,
        "severity": {"enum": names(Severity::ALL.map(Severity::as_str))},
        "status": {"enum": names(Status::ALL.map(Status::as_str))},
        "evidence": evidence,
        "detected_at": timestamp(),
        "detected_at_wall": timestamp(),
        "acknowledged_at": {"anyOf": [timestamp(), {"type": "null"}]},
        "resolved_at": {"anyOf": [timestamp(), {"type": "null"}]},
        "updated_at": timestamp(),
    }))
}

/// `warning` and `critical` of one unit (each `value`), in answers or in requests (where either
/// may be left out: it takes its default).
fn bands(request: bool, value: &Value) -> Value {
    let properties = json!({"warning": value, "critical": value});
    if request {
        optional(properties)
    } else {
        object(properties)
    }
}

/// A number above 0, at most `max` when given (what a band's half is).
fn positive_number(max: Option<f64>) -> Value {
    match max {
        Some(max) => json!({"type": "number", "exclusiveMinimum": 0, "maximum": max}),
        None => json!({"type": "number", "exclusiveMinimum": 0}),
    }
}

/// A positive USD amount in a request: a number above 0, or text a number is read from (the
/// value must then be above 0 too).
fn usd_input() -> Value {
    json!({"oneOf": [
        {"type": "string", "pattern": "^\\s*\\+?([0-9]+\\.?[0-9]*|\\.[0-9]+)([eE][+-]?[0-9]+)?\\s*$"},
        {"type": "number", "exclusiveMinimum": 0},
    ], "description": "USD, above 0: a number or its text (\"20000000\")"})
}

/// The limits document; `request`: what `PUT` accepts (every kind, field and band half may be
/// left out: it takes its default; amounts strings or numbers), else what is answered (every
/// field, amounts as strings). The bounds are the rule core's (`Limits::validate`); its rules
/// across fields (`warning ≤ critical`) are not in the schema.
fn limits(request: bool) -> Value {
    let usd = if request { usd_input() } else { decimal() };
    let duration = json!({"type": "string", "pattern": "^\\s*([0-9]+(ms|s|m|h|d))+\\s*$",
        "description": "simulated time, e.g. 500ms, 30s, 10m"});
    let make = if request { optional } else { object };
    let kind = |for_description: &str, fields: Value| {
        let mut properties = json!({
            "enabled": {"type": "boolean"},
            "for": {"allOf": [duration.clone()], "description": for_description},
            "hysteresis": {"type": "number", "minimum": 0, "exclusiveMaximum": 1,
                "description": "an alert resolves below warning × (1 − hysteresis)"},
        });
        if let (Some(all), Value::Object(more)) = (properties.as_object_mut(), fields) {
            all.extend(more);
        }
        make(properties)
    };
    let breach = "how long a breach lasts before it raises, 0s to 24h";
    let window = json!({"allOf": [duration.clone()], "description": "1s to 24h"});
    let ratio = positive_number(Some(1.0));
    let positive = positive_number(None);
    let ratio_bands = bands(request, &ratio);
    let positive_bands = bands(request, &positive);
    let symbol = json!({"type": "string", "pattern": "^[A-Z0-9]+-[A-Z0-9]+$"});
    make(json!({
        "position_limit": kind(breach, json!({
            "utilisation": bands(request, &positive_number(Some(10.0))),
            "max_notional_usd": usd,
            "per_asset": {"type": "object", "propertyNames": {"pattern": "^[A-Z0-9]+$"},
                "additionalProperties": usd, "description": "limits per asset, replacing the default's"},
        })),
        "exposure": kind(breach, json!({
            "utilisation": bands(request, &positive_number(Some(10.0))),
            "max_gross_usd": usd,
            "max_net_usd": usd,
        })),
        "concentration": kind(breach, json!({"warning": ratio, "critical": ratio})),
        "drawdown": kind(breach, json!({"warning": ratio, "critical": ratio})),
        "daily_loss": kind(breach, json!({"warning_usd": usd, "critical_usd": usd})),
        "stablecoin_depeg": kind(breach, json!({
            "warning_bps": positive,
            "critical_bps": positive,
            "pegs": {"type": "object", "propertyNames": symbol, "additionalProperties": usd,
                "description": "pegged symbols and their pegs, replacing the default's"},
        })),
        "price_divergence": kind(breach, json!({
            "warning_bps": positive,
            "critical_bps": positive,
            "reference": {"type": ["string", "null"], "minLength": 1,
                "description": "the reference market data instance; null: the first by name"},
            "lag": {"allOf": [duration.clone()],
                "description": "0s to 1h: a price within the range of the reference's prices over this window does not diverge"},
        })),
        "stale_data": kind(breach, json!({
            "max_age_seconds": positive_bands,
            "frozen_seconds": positive_bands,
            "frozen_exempt": list(symbol),
        })),
        "venue_health": kind(breach, json!({
            "window": window,
            "error_ratio": ratio_bands,
            "latency_ms": positive_bands,
            "reject_ratio": ratio_bands,
            "min_orders": {"type": "integer", "minimum": 1, "maximum": u32::MAX},
        })),
        "order_rate": kind(breach, json!({"window": window, "per_second": positive_bands})),
        "unsettled_exposure": kind(breach, json!({
            "pending_usd": bands(request, &usd),
            "overdue_seconds": positive_bands,
        })),
    }))
}

/// The risk summary's schemas.
fn summary_schemas() -> Value {
    json!({
        "AssetExposure": object(json!({
            "asset": text(), "quantity": number(), "usd": number(), "concentration": number(),
        })),
        "EntitySummary": object(json!({
            "entity": text(),
            "exposure": list(schema_ref("AssetExposure")),
            "gross_usd": number(),
            "net_usd": number(),
            "equity_usd": number(),
            "peak_equity_usd": number(),
            "pnl_usd": number(),
            "daily_pnl_usd": number(),
            "drawdown": number(),
            "order_rate": number(),
            "pending_settlement_usd": number(),
            "overdue_seconds": number(),
        })),
        "DataAge": object(json!({
            "source": text(), "symbol": text(), "price": number(), "last_at": timestamp(),
            "age_seconds": number(), "unchanged_seconds": number(),
        })),
        "VenueSummary": object(json!({
            "venue": text(), "up": {"type": "boolean"}, "error_ratio": number(),
            "latency_ms": number(), "reject_ratio": number(),
        })),
        "PegDeviation": object(json!({
            "symbol": text(), "price": number(), "peg": number(), "deviation": number(),
        })),
        "Summary": object(json!({
            "at": timestamp(),
            "entities": list(schema_ref("EntitySummary")),
            "data": list(schema_ref("DataAge")),
            "venues": list(schema_ref("VenueSummary")),
            "pegs": list(schema_ref("PegDeviation")),
        })),
    })
}

/// The risk monitor's paths and schemas.
pub fn description() -> OpenApi {
    let id = || {
        vec![param_with(
            "id",
            "path",
            "alert id, e.g. alert-17",
            json!({"type": "string", "pattern": id_pattern()}),
        )]
    };
    let page = vec![
        filter_param("status", &names(Status::ALL.map(Status::as_str))),
        filter_param("severity", &names(Severity::ALL.map(Severity::as_str))),
        filter_param("kind", &names(RuleKind::ALL.map(RuleKind::as_str))),
        param_with(
            "limit",
            "query",
            &format!("page size, 1–{MAX_LIMIT} (default 100)"),
            json!({"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}),
        ),
        param_with(
            "cursor",
            "query",
            "`next_cursor` of the previous page (empty: the first page)",
            json!({"type": "string", "pattern": format!("^({})?$", positive_pattern())}),
        ),
    ];
    let changes = [
        "alert.raised",
        "alert.escalated",
        "alert.acknowledged",
        "alert.resolved",
    ];
    let mut events: Vec<(&str, Value)> = changes.iter().map(|c| (*c, alert())).collect();
    events.push((
        "lagged",
        object(json!({"skipped": {"type": "integer", "minimum": 1,
            "description": "changes this reader missed by reading too slowly; the stream goes on"}})),
    ));
    OpenApi::new()
        .paths(json!({
            "/api/v1/alerts": {"get": operation(
                "Alerts, newest first", page, None,
                (200, json_answer("a page", object(json!({
                    "alerts": list(schema_ref("Alert")),
                    "next_cursor": {"type": ["string", "null"], "description": "pass as `cursor` for the next page; null on the last"},
                })))),
                &[(400, "`invalid_status`, `invalid_severity`, `invalid_kind`, `invalid_limit`, `invalid_cursor`"),
                  UNAVAILABLE],
            )},
            "/api/v1/alerts/stream": {"get": event_stream(
                "Server-sent events, one per alert change as it happens, `data` the alert as it is after it",
                vec![], &events, &[],
            )},
            "/api/v1/alerts/{id}": {"get": operation(
                "One alert", id(), None,
                (200, json_answer("the alert", schema_ref("Alert"))),
                &[BAD_ID, UNKNOWN, UNAVAILABLE],
            )},
            "/api/v1/alerts/{id}/acknowledge": {"post": operation(
                "Acknowledges an open alert (ACKNOWLEDGED); an acknowledged one is answered as it is",
                id(), None,
                (200, json_answer("the alert", schema_ref("Alert"))),
                &[BAD_ID, UNKNOWN, (409, "`alert_conflict`: the alert is resolved"), UNAVAILABLE],
            )},
            "/api/v1/risk/summary": {"get": operation(
                "The risk picture now: per monitored entity its exposure per asset, equity, P&L, \
                 drawdown and concentration; the age of the data per source; the venues' health; \
                 stablecoins against their pegs",
                vec![], None,
                (200, json_answer("the summary", schema_ref("Summary"))),
                &[UNAVAILABLE],
            )},
            "/api/v1/limits": {
                "get": operation(
                    "The limits every rule is evaluated against", vec![], None,
                    (200, json_answer("the limits in force", schema_ref("Limits"))),
                    &[UNAVAILABLE],
                ),
                "put": operation(
                    "Replaces the limits: a field left out takes its default. Invalid limits are \
                     refused with the reason and nothing changes",
                    vec![], Some(schema_ref("LimitsRequest")),
                    (200, json_answer("the limits now in force", schema_ref("Limits"))),
                    &[(400, "`invalid_json` (not a JSON object of this shape) or `invalid_limits` \
                        (a limit the monitor refuses, e.g. a warning above its critical; the message says which)"),
                      UNAVAILABLE],
                ),
            },
        }))
        .schemas(json!({
            "Alert": alert(),
            "Limits": limits(false),
            "LimitsRequest": limits(true),
        }))
        .schemas(summary_schemas())
}
