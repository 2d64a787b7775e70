//! Batches in, each event stored once, and every way of reading them back.

use crate::support::{INGEST_TOKEN, ingest_env, story};
use serde_json::{Value, json};
use tse_testing::{
    app::{TestApp, TestOptions, sample, spawn_with, unique_instance},
    servers::{PgGuard, database_url},
};

async fn post(app: &TestApp, body: Value) -> (u16, Value) {
    let response = app
        .client
        .post(format!("{}/api/v1/audit/events", app.http))
        .bearer_auth(INGEST_TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    (
        response.status().as_u16(),
        response.json().await.unwrap_or(Value::Null),
    )
}

async fn ingest_and_query(app: &TestApp) {
    let events = story();
    let ids: Vec<String> = events.iter().map(|e| e.id.to_string()).collect();
    let (status, body) = post(app, json!({ "events": events })).await;
    assert_eq!((status, &body), (200, &json!({"accepted": 5, "duplicates": 0})));
    // Delivered again (at least once): nothing stored twice.
    let (status, body) = post(app, json!({ "events": events })).await;
    assert_eq!((status, &body), (200, &json!({"accepted": 0, "duplicates": 5})));
    let (_, all) = app.get_json("/api/v1/audit/events").await;
    let stored: Vec<&str> = all["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        stored,
        ids.iter().map(String::as_str).collect::<Vec<_>>(),
        "once each, in order"
    );

    let (_, exchange) = app
        .get_json("/api/v1/audit/events?instance=exchange-OKX&type=order.placed")
        .await;
    assert_eq!(exchange["events"].as_array().unwrap().len(), 1);
    let (_, service) = app
        .get_json("/api/v1/audit/events?service=custodian-simulator")
        .await;
    assert_eq!(service["events"][0]["event_type"], "settlement.completed");
    let (_, page) = app.get_json("/api/v1/audit/events?limit=2").await;
    assert_eq!(page["events"].as_array().unwrap().len(), 2);
    let cursor = page["next_cursor"].as_str().unwrap();
    let (_, rest) = app
        .get_json(&format!("/api/v1/audit/events?limit=10&cursor={cursor}"))
        .await;
    assert_eq!(rest["events"][0]["id"], ids[2].as_str());
    assert_eq!(rest["next_cursor"], Value::Null);

    // One order from placement through its trade to the settlement that carried it.
    let (_, chain) = app
        .get_json(&format!("/api/v1/audit/events/{}/chain", ids[2]))
        .await;
    let effects: Vec<(&str, i64)> = chain["effects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["event_type"].as_str().unwrap(), e["depth"].as_i64().unwrap()))
        .collect();
    assert_eq!(effects, [("trade.executed", 1), ("settlement.completed", 2)]);
    // A fault to its effects, and an effect back to its fault.
    let (_, fault) = app
        .get_json(&format!("/api/v1/audit/events/{}/chain", ids[0]))
        .await;
    assert_eq!(fault["effects"][0]["event_type"], "order.rejected");
    let (_, back) = app
        .get_json(&format!("/api/v1/audit/events/{}/chain", ids[4]))
        .await;
    let causes: Vec<&str> = back["causes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(causes, ["order.placed", "trade.executed"]);
    let (_, caused) = app
        .get_json(&format!("/api/v1/audit/events?caused_by={}", ids[0]))
        .await;
    assert_eq!(caused["events"][0]["id"], ids[1].as_str());

    let (_, trace) = app
        .get_json("/api/v1/audit/events/trace/exchange-OKX:order:2")
        .await;
    assert_eq!(trace["events"].as_array().unwrap().len(), 2);
    let (_, timeline) = app.get_json("/api/v1/audit/timeline?instance=exchange-OKX").await;
    assert_eq!(timeline["events"].as_array().unwrap().len(), 4);
    let (_, counts) = app.get_json("/api/v1/audit/counts").await;
    assert_eq!(counts["counts"].as_array().unwrap().len(), 5);
    let (_, one) = app.get_json(&format!("/api/v1/audit/events/{}", ids[1])).await;
    assert_eq!(one["payload"]["reason"], "trading is halted on BTC-USD");
    assert_eq!(one["causation_id"], ids[0].as_str());

    // The settlement is about the exchange's trade: an edge, and the trade finds it.
    let (_, topology) = app.get_json("/api/v1/topology").await;
    assert_eq!(
        topology["edges"],
        json!([{"from": "custodian-Komainu", "to": "exchange-OKX", "kind": "trade", "relation": "settles trades of",
                "count": 1, "last_seen": topology["edges"][0]["last_seen"]}]),
        "{topology}"
    );
    assert_eq!(
        topology["nodes"].as_array().unwrap().len(),
        3,
        "the correlator (live) and two seen in events: {topology}"
    );
    let (_, trade_chain) = app
        .get_json(&format!("/api/v1/audit/events/{}/chain", ids[3]))
        .await;
    assert!(
        trade_chain["related"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["event_type"] == "settlement.completed"),
        "{trade_chain}"
    );

    let metrics = app.metrics().await;
    assert_eq!(
        sample(
            &metrics,
            "audit_events_ingested_total",
            &[("source_service", "exchange-simulator"), ("type", "order.placed")]
        ),
        Some(1.0)
    );
    assert_eq!(sample(&metrics, "audit_duplicates_dropped_total", &[]), Some(5.0));
    assert_eq!(sample(&metrics, "audit_ingest_lag_seconds_count", &[]), Some(5.0));
}

#[tokio::test]
async fn events_are_stored_once_and_read_back_every_way() {
    let app = spawn_with(
        tse_audit_correlator::service(),
        TestOptions {
            instance: Some("audit-correlator".into()),
            env: ingest_env(),
            ..Default::default()
        },
    )
    .await;
    ingest_and_query(&app).await;
}

#[tokio::test]
async fn on_postgres_too() {
    let Some(url) = database_url("audit on_postgres_too") else {
        return;
    };
    // A multi-instance name keeps this test's schema its own.
    let instance = unique_instance("audit-correlator");
    let app = spawn_with(
        tse_audit_correlator::service(),
        TestOptions {
            database_url: Some(url.clone()),
            instance: Some(instance),
            env: ingest_env(),
            ..Default::default()
        },
    )
    .await;
    let _guard = PgGuard::new(&url, &app.schema());
    ingest_and_query(&app).await;
}

#[tokio::test]
async fn bad_batches_and_queries_are_refused_clearly() {
    let app = spawn_with(
        tse_audit_correlator::service(),
        TestOptions {
            env: ingest_env(),
            ..Default::default()
        },
    )
    .await;
    let (status, body) = post(&app, json!({"events": [{"id": "x"}]})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_batch")),
        "{body}"
    );
    let (status, body) = post(&app, json!([1, 2])).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_batch")),
        "{body}"
    );
    for (path, code) in [
        ("/api/v1/audit/events?limit=0", "invalid_limit"),
        ("/api/v1/audit/events?from=yesterday", "invalid_time"),
        (
            "/api/v1/audit/events?from=2026-12-02T00:00:00Z&to=2026-12-01T00:00:00Z",
            "invalid_time",
        ),
        ("/api/v1/audit/events?cursor=abc", "invalid_cursor"),
        ("/api/v1/audit/events?caused_by=abc", "invalid_id"),
        ("/api/v1/audit/events?colour=red", "invalid_query"),
        ("/api/v1/audit/events/abc", "invalid_id"),
        ("/api/v1/audit/timeline?cursor=3", "invalid_query"),
    ] {
        let (status, body) = app.get_json(path).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some(code)),
            "{path}: {body}"
        );
    }
    let (status, body) = app
        .get_json("/api/v1/audit/events/0190c2a0-0000-7000-8000-000000000000")
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("unknown_event"))
    );
    app.assert_openapi_routed(None).await;
}
