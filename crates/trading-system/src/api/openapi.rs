//! The OpenAPI description of the production HTTP API ([`super::http`]); the host publishes it with
//! its own endpoints and the back door's at `GET /api/v1/openapi.json`.

use serde_json::{Value, json};
use tse_runtime::openapi::{OpenApi, decimal, json_answer, operation, param_with, schema_ref};

use super::MAX_NAME;
use crate::domain::strategy::StrategyKind;

/// What every call may answer when the desk cannot.
const UNAVAILABLE: (u16, &str) = (
    503,
    "`desk_unavailable`: the desk is not running, or the instance is stopping",
);

/// What a malformed name in the path is answered.
const BAD_NAME: (u16, &str) = (
    400,
    "`invalid_strategy_name`: not 1 to 32 of a-z 0-9 _ -, starting with a letter",
);

/// What a name the desk does not have is answered.
const UNKNOWN: (u16, &str) = (404, "`unknown_strategy`: the desk has no strategy of that name");

/// The JSON Schema pattern of a strategy name ([`super::StrategyName`]).
fn name_pattern() -> String {
    format!("^[a-z][a-z0-9_-]{{0,{}}}$", MAX_NAME - 1)
}

/// An answer's object: every property listed is always there.
fn object(properties: Value) -> Value {
    let required: Vec<String> = properties
        .as_object()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    json!({"type": "object", "required": required, "additionalProperties": false, "properties": properties})
}

fn count() -> Value {
    json!({"type": "integer", "minimum": 0})
}

fn text() -> Value {
    json!({"type": "string"})
}

fn list(items: Value) -> Value {
    json!({"type": "array", "items": items})
}

/// Amounts by asset code.
fn per_asset(description: &str) -> Value {
    json!({"type": "object", "additionalProperties": decimal(), "description": description})
}

/// The trading system's paths and schemas.
pub fn description() -> OpenApi {
    let name = || {
        vec![param_with(
            "name",
            "path",
            "strategy name, e.g. market_making",
            json!({"type": "string", "pattern": name_pattern(), "maxLength": MAX_NAME}),
        )]
    };
    let kinds: Vec<&str> = StrategyKind::ALL.iter().map(|k| k.name()).collect();
    OpenApi::new()
        .paths(json!({
            "/api/v1/strategies": {"get": operation(
                "Every strategy of the desk", vec![], None,
                (200, json_answer("the strategies", object(json!({"strategies": list(schema_ref("Strategy"))})))),
                &[UNAVAILABLE],
            )},
            "/api/v1/strategies/{name}": {"get": operation(
                "One strategy", name(), None,
                (200, json_answer("the strategy", schema_ref("Strategy"))),
                &[BAD_NAME, UNKNOWN, UNAVAILABLE],
            )},
            "/api/v1/strategies/{name}/start": {"post": operation(
                "Starts a strategy (RUNNING); a running one is answered as it is. Chaos strategies \
                 run only while their fault is injected through /chaos/v1/faults",
                name(), None,
                (200, json_answer("the strategy", schema_ref("Strategy"))),
                &[BAD_NAME, UNKNOWN,
                  (409, "`strategy_conflict`: its state refuses it (a chaos strategy started by hand)"),
                  UNAVAILABLE],
            )},
            "/api/v1/strategies/{name}/stop": {"post": operation(
                "Stops a strategy (STOPPED) and cancels its open orders", name(), None,
                (200, json_answer("the strategy", schema_ref("Strategy"))),
                &[BAD_NAME, UNKNOWN, UNAVAILABLE],
            )},
            "/api/v1/positions": {"get": operation(
                "What the desk's fills changed per asset, and every strategy's position per symbol",
                vec![], None,
                (200, json_answer("the positions", schema_ref("Positions"))),
                &[UNAVAILABLE],
            )},
            "/api/v1/pnl": {"get": operation(
                "The desk's P&L in USD, and each strategy's", vec![], None,
                (200, json_answer("the P&L", schema_ref("Pnl"))),
                &[UNAVAILABLE],
            )},
            "/api/v1/halt": {"post": operation(
                "The kill switch: cancels every open order and halts every strategy (HALTED)",
                vec![], None,
                (200, json_answer("what it did", schema_ref("Halt"))),
                &[UNAVAILABLE],
            )},
        }))
        .schemas(json!({
            "Strategy": object(json!({
                "name": text(),
                "kind": {"enum": kinds},
                "status": {"enum": ["RUNNING", "STOPPED", "HALTED"]},
                "origin": {"enum": ["settings", "fault"], "description": "`fault`: a chaos strategy a fault started"},
                "fault_id": {"type": ["string", "null"], "description": "the fault that started it"},
                "exchanges": list(text()),
                "symbols": list(text()),
                "positions": per_asset("what its fills changed per asset: base assets bought minus sold, \
                    quote assets received minus paid (fees included)"),
                "realized_pnl_usd": decimal(),
                "unrealized_pnl_usd": decimal(),
                "pnl_usd": decimal(),
                "orders_submitted": count(),
                "orders_rejected": count(),
                "rejected_by_reason": {"type": "object", "additionalProperties": count()},
                "open_orders": count(),
                "max_position": decimal(),
                "max_order_size": decimal(),
                "params": {"type": "object", "description": "its kind's parameters"},
            })),
            "Position": object(json!({
                "strategy": text(),
                "symbol": text(),
                "quantity": decimal(),
                "average_cost": decimal(),
                "mark": {"type": ["string", "null"], "pattern": decimal()["pattern"],
                    "description": "the reference price it is marked at; null while unknown"},
                "realized_pnl": decimal(),
                "unrealized_pnl": decimal(),
                "fees": decimal(),
                "quote": text(),
                "realized_pnl_usd": decimal(),
                "unrealized_pnl_usd": decimal(),
                "fills": count(),
            })),
            "Positions": object(json!({
                "assets": per_asset("what every fill changed per asset, summed over strategies"),
                "positions": list(schema_ref("Position")),
            })),
            "StrategyPnl": object(json!({
                "strategy": text(),
                "realized_usd": decimal(),
                "unrealized_usd": decimal(),
                "total_usd": decimal(),
                "fees_usd": decimal(),
            })),
            "Pnl": object(json!({
                "realized_usd": decimal(),
                "unrealized_usd": decimal(),
                "total_usd": decimal(),
                "fees_usd": decimal(),
                "strategies": list(schema_ref("StrategyPnl")),
            })),
            "Halt": object(json!({
                "halted": {"type": "array", "items": text(), "description": "strategies that were running"},
                "cancels_sent": count(),
            })),
        }))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::Value;
    use tse_runtime::{
        host::{ServiceDef, ServiceParts, no_settings},
        identity::ServiceKind,
    };
    use tse_testing::app::{TestApp, TestOptions, spawn_with, unique_instance};

    use super::*;
    use crate::api::{Api, StrategyName, grpc::server, http::router, test_desk};

    /// The API over the test desk, served by a real instance host as the service's build serves it.
    const DESK: ServiceDef = ServiceDef {
        kind: ServiceKind::TradingSystemEngine,
        migrations: &[],
        check: no_settings,
        build: |ctx| {
            Box::pin(async move {
                let api = Api {
                    draining: ctx.draining(),
                    ..test_desk::api()
                };
                Ok(ServiceParts::new()
                    .with_http(router(api.clone()))
                    .with_openapi(description())
                    .with_grpc(server(api)))
            })
        },
    };

    async fn desk() -> TestApp {
        spawn_with(
            DESK,
            TestOptions {
                instance: Some(unique_instance("trading-system")),
                ..TestOptions::default()
            },
        )
        .await
    }

    /// Checks `value` against `schema` for what these schemas use (`$ref`, `type`, `enum`,
    /// `required`, `properties`, `additionalProperties`, `items`; decimal patterns by parsing);
    /// returns the first disagreement, with its place.
    fn check(doc: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
        if let Some(reference) = schema["$ref"].as_str() {
            let name = reference.trim_start_matches("#/components/schemas/");
            let target = &doc["components"]["schemas"][name];
            if target.is_null() {
                return Err(format!("{at}: {reference} is not a schema of the document"));
            }
            return check(doc, target, value, at);
        }
        let kind = match value {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(n) if n.is_u64() || n.is_i64() => "integer",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        };
        let types: Vec<&str> = match &schema["type"] {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        if !types.is_empty() && !types.contains(&kind) {
            return Err(format!("{at}: {value} is not of type {types:?}"));
        }
        if let Some(values) = schema["enum"].as_array()
            && !values.contains(value)
        {
            return Err(format!("{at}: {value} is not one of {values:?}"));
        }
        if let (Some(pattern), Value::String(text)) = (schema["pattern"].as_str(), value) {
            assert_eq!(
                pattern,
                decimal()["pattern"],
                "{at}: only decimal patterns are checked here"
            );
            text.parse::<rust_decimal::Decimal>()
                .map_err(|e| format!("{at}: '{text}' is not a decimal: {e}"))?;
        }
        if let Value::Object(fields) = value {
            let properties = schema["properties"].as_object();
            for required in schema["required"].as_array().into_iter().flatten() {
                let required = required.as_str().unwrap_or_default();
                if !fields.contains_key(required) {
                    return Err(format!("{at}: {required} is missing"));
                }
            }
            for (key, field) in fields {
                let place = format!("{at}.{key}");
                match (
                    properties.and_then(|p| p.get(key)),
                    &schema["additionalProperties"],
                ) {
                    (Some(described), _) => check(doc, described, field, &place)?,
                    (None, Value::Bool(false)) => return Err(format!("{place} is not described")),
                    (None, Value::Object(_)) => check(doc, &schema["additionalProperties"], field, &place)?,
                    (None, _) => {}
                }
            }
        }
        if let (Value::Array(items), Some(_)) = (value, schema.get("items")) {
            for (i, item) in items.iter().enumerate() {
                check(doc, &schema["items"], item, &format!("{at}[{i}]"))?;
            }
        }
        Ok(())
    }

    #[tokio::test]
    async fn the_openapi_document_describes_every_route_and_every_answer() {
        let app = desk().await;
        let doc = app.assert_openapi_routed(None).await;
        let routes = [
            ("get", "/api/v1/strategies", "/api/v1/strategies", 200),
            (
                "get",
                "/api/v1/strategies/{name}",
                "/api/v1/strategies/runaway",
                200,
            ),
            (
                "get",
                "/api/v1/strategies/{name}",
                "/api/v1/strategies/Bad%20Name!",
                400,
            ),
            ("get", "/api/v1/strategies/{name}", "/api/v1/strategies/nope", 404),
            (
                "post",
                "/api/v1/strategies/{name}/stop",
                "/api/v1/strategies/market_making/stop",
                200,
            ),
            (
                "post",
                "/api/v1/strategies/{name}/start",
                "/api/v1/strategies/market_making/start",
                200,
            ),
            (
                "post",
                "/api/v1/strategies/{name}/start",
                "/api/v1/strategies/runaway/start",
                409,
            ),
            (
                "post",
                "/api/v1/strategies/{name}/stop",
                "/api/v1/strategies/nope/stop",
                404,
            ),
            ("get", "/api/v1/positions", "/api/v1/positions", 200),
            ("get", "/api/v1/pnl", "/api/v1/pnl", 200),
            ("post", "/api/v1/halt", "/api/v1/halt", 200),
        ];
        for (method, path, concrete, status) in routes {
            let operation = &doc["paths"][path][method];
            let response = &operation["responses"][status.to_string()];
            assert!(
                response.is_object(),
                "{method} {path} documents {status}: {operation}"
            );
            let url = format!("{}{concrete}", app.http);
            let request = match method {
                "get" => app.client.get(&url),
                _ => app.client.post(&url),
            };
            let answer = request.send().await.unwrap();
            assert_eq!(answer.status().as_u16(), status, "{method} {concrete}");
            let body: Value = answer.json().await.unwrap();
            let schema = &response["content"]["application/json"]["schema"];
            check(&doc, schema, &body, &format!("{method} {concrete}"))
                .unwrap_or_else(|e| panic!("{e}: {body}"));
        }
        // The service describes exactly the routes exercised above (the rest is the host's).
        let host = [
            "/api/v1/health",
            "/api/v1/ready",
            "/metrics",
            "/api/v1/openapi.json",
            "/api/v1/discovery/",
        ];
        let described: BTreeSet<(String, String)> = doc["paths"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(path, _)| !host.iter().any(|h| path.starts_with(h)))
            .flat_map(|(path, ops)| ops.as_object().unwrap().keys().map(|m| (m.clone(), path.clone())))
            .collect();
        let exercised: BTreeSet<(String, String)> = routes
            .iter()
            .map(|(m, p, _, _)| ((*m).to_owned(), (*p).to_owned()))
            .collect();
        assert_eq!(described, exercised);
        assert_eq!(described.len(), 7);
        let strategy = &doc["components"]["schemas"]["Strategy"];
        assert_eq!(
            strategy["properties"]["kind"]["enum"].as_array().map(Vec::len),
            Some(StrategyKind::ALL.len())
        );
    }

    #[test]
    fn the_name_pattern_is_the_rule_the_api_reads_names_by() {
        assert_eq!(name_pattern(), "^[a-z][a-z0-9_-]{0,31}$");
        assert!(StrategyName::parse(&"a".repeat(MAX_NAME)).is_ok());
    }
}
