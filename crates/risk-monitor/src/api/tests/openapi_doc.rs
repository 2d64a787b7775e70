//! The OpenAPI document against what the API answers.

use super::*;

/// Checks `value` against `schema` for what these schemas use (`$ref`, `type`, `enum`, `anyOf`,
/// `required`, `properties`, `additionalProperties`, `items`); returns the first disagreement.
fn check(doc: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.trim_start_matches("#/components/schemas/");
        let target = &doc["components"]["schemas"][name];
        if target.is_null() {
            return Err(format!("{at}: {reference} is not a schema of the document"));
        }
        return check(doc, target, value, at);
    }
    if let Some(any) = schema["anyOf"].as_array() {
        return any
            .iter()
            .find(|s| check(doc, s, value, at).is_ok())
            .map(|_| ())
            .ok_or_else(|| format!("{at}: {value} matches none of {any:?}"));
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
    let number_ok = kind == "integer" && types.contains(&"number");
    if !types.is_empty() && !types.contains(&kind) && !number_ok {
        return Err(format!("{at}: {value} is not of type {types:?}"));
    }
    if let Some(values) = schema["enum"].as_array()
        && !values.contains(value)
    {
        return Err(format!("{at}: {value} is not one of {values:?}"));
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

/// The document as an instance publishes it: the host's endpoints and schemas with ours.
async fn document() -> Value {
    const DESCRIBED: ServiceDef = ServiceDef {
        kind: ServiceKind::RiskMonitor,
        migrations: &[],
        check: no_settings,
        build: |_| Box::pin(async { Ok(ServiceParts::new().with_openapi(openapi::description())) }),
    };
    let app = spawn_with(
        DESCRIBED,
        TestOptions {
            instance: Some(unique_instance("risk-monitor")),
            ..TestOptions::default()
        },
    )
    .await;
    let (status, doc) = app.get_json("/api/v1/openapi.json").await;
    assert_eq!(status, 200, "{doc}");
    doc
}

/// The service's operations in `doc` (the rest is the host's), as (method, path).
fn described(doc: &Value) -> BTreeSet<(String, String)> {
    let host = [
        "/api/v1/health",
        "/api/v1/ready",
        "/metrics",
        "/api/v1/openapi.json",
        "/api/v1/discovery/",
    ];
    doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(path, _)| !host.iter().any(|h| path.starts_with(h)))
        .flat_map(|(path, ops)| ops.as_object().unwrap().keys().map(|m| (m.clone(), path.clone())))
        .collect()
}

// Needs the rule core's limits (USD amounts answered as strings) and the summary's pegs.
#[tokio::test]
async fn the_openapi_document_describes_every_route_and_every_answer() {
    let doc = document().await;
    let m = monitor().await;
    let url = serve_http(m.api.clone()).await;
    let limits = limits_json().to_string();
    let inverted = unknown_reference();
    // (method, documented path, request, body, status)
    let routes: Vec<(&str, &str, &str, Option<&str>, u16)> = vec![
        ("get", "/api/v1/alerts", "/api/v1/alerts?status=bogus", None, 400),
        ("get", "/api/v1/alerts/{id}", "/api/v1/alerts/nope", None, 400),
        (
            "post",
            "/api/v1/alerts/{id}/acknowledge",
            "/api/v1/alerts/alert-1/acknowledge",
            None,
            200,
        ),
        (
            "post",
            "/api/v1/alerts/{id}/acknowledge",
            "/api/v1/alerts/alert-2/acknowledge",
            None,
            409,
        ),
        (
            "post",
            "/api/v1/alerts/{id}/acknowledge",
            "/api/v1/alerts/alert-9/acknowledge",
            None,
            404,
        ),
        (
            "post",
            "/api/v1/alerts/{id}/acknowledge",
            "/api/v1/alerts/x/acknowledge",
            None,
            400,
        ),
        ("get", "/api/v1/risk/summary", "/api/v1/risk/summary", None, 200),
        ("get", "/api/v1/limits", "/api/v1/limits", None, 200),
        (
            "put",
            "/api/v1/limits",
            "/api/v1/limits",
            Some(limits.as_str()),
            200,
        ),
        (
            "put",
            "/api/v1/limits",
            "/api/v1/limits",
            Some(inverted.as_str()),
            400,
        ),
        ("put", "/api/v1/limits", "/api/v1/limits", Some("[1]"), 400),
    ];
    for (method, path, concrete, body, status) in routes {
        let operation = &doc["paths"][path][method];
        let response = &operation["responses"][status.to_string()];
        assert!(
            response.is_object(),
            "{method} {path} documents {status}: {operation}"
        );
        let (got, answer) = call(&url, &method.to_ascii_uppercase(), concrete, body).await;
        assert_eq!(got, status, "{method} {concrete}: {answer}");
        let schema = &response["content"]["application/json"]["schema"];
        check(&doc, schema, &answer, &format!("{method} {concrete}"))
            .unwrap_or_else(|e| panic!("{e}: {answer}"));
    }
    // The request schema takes the document the monitor answers, and the one it was given.
    let request = json!({"$ref": "#/components/schemas/LimitsRequest"});
    check(&doc, &request, &limits_json(), "limits request").unwrap();
    let (_, answered) = get(&url, "/api/v1/limits").await;
    check(&doc, &request, &answered, "limits answered, sent back").unwrap();
    check(&doc, &request, &json!({}), "empty limits request").unwrap();
    // An alert and the alert page as stored ones are answered (no store needed to check the shape).
    let page =
        json!({"alerts": [serde_json::to_value(alert(2, Status::Resolved)).unwrap()], "next_cursor": "2"});
    let listed =
        &doc["paths"]["/api/v1/alerts"]["get"]["responses"]["200"]["content"]["application/json"]["schema"];
    check(&doc, listed, &page, "alert page").unwrap();
    // Each stream event's data is described inline.
    let stream = &doc["paths"]["/api/v1/alerts/stream"]["get"]["responses"]["200"]["content"]["text/event-stream"]
        ["schema"]["oneOf"];
    let events: Vec<&str> = stream
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["properties"]["event"]["const"].as_str().unwrap())
        .collect();
    assert_eq!(
        events,
        [
            "alert.raised",
            "alert.escalated",
            "alert.acknowledged",
            "alert.resolved",
            "lagged"
        ]
    );
    let raised = &stream[0]["properties"]["data"]["contentSchema"];
    check(
        &doc,
        raised,
        &serde_json::to_value(alert(1, Status::Active)).unwrap(),
        "alert.raised",
    )
    .unwrap();
    check(
        &doc,
        &stream[4]["properties"]["data"]["contentSchema"],
        &json!({"skipped": 6}),
        "lagged",
    )
    .unwrap();

    let expected: BTreeSet<(String, String)> = [
        ("get", "/api/v1/alerts"),
        ("get", "/api/v1/alerts/stream"),
        ("get", "/api/v1/alerts/{id}"),
        ("post", "/api/v1/alerts/{id}/acknowledge"),
        ("get", "/api/v1/risk/summary"),
        ("get", "/api/v1/limits"),
        ("put", "/api/v1/limits"),
    ]
    .iter()
    .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
    .collect();
    assert_eq!(described(&doc), expected);
}

#[test]
fn the_documented_patterns_are_the_rules_the_api_reads_by() {
    assert_eq!(openapi::id_pattern(), "^alert-[1-9][0-9]{0,17}$");
    assert_eq!(
        openapi::any_case_or_empty(&["info", "due_at"]),
        "^(|[Ii][Nn][Ff][Oo]|[Dd][Uu][Ee]_[Aa][Tt])$"
    );
    assert!(crate::api::alert_id(&format!("alert-{}", "9".repeat(18))).is_ok());
    assert!(crate::api::alert_id(&format!("alert-{}", "1".repeat(19))).is_err());
}
