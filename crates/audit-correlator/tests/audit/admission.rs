//! What ingestion refuses and who may ingest: deep or large payloads, ids that are not UUIDv7,
//! control characters, event types the source service does not emit, and batches without the
//! ingest token — each refused with a message saying what is wrong, over HTTP and gRPC alike; and
//! payloads stored before ingestion was bounded never break a listing.

use serde_json::{Value, json, value::RawValue};
use tonic::Code;
use tse_client::ClientError;
use tse_proto::audit::v1::{AuditEvent, IngestRequest};
use tse_runtime::{
    events::{Event, emitted_by},
    identity::ServiceKind,
};
use tse_testing::{
    app::{TestApp, TestOptions, sample, spawn_with, unique_instance},
    servers::{PgGuard, database_url, pg_strings},
};
use uuid::Uuid;

use crate::support::{INGEST_TOKEN, factory, ingest_env, story};

async fn correlator(env: Vec<(&'static str, &'static str)>) -> TestApp {
    spawn_with(
        tse_audit_correlator::service(),
        TestOptions {
            env,
            ..Default::default()
        },
    )
    .await
}

/// POSTs `events` (serialized as they are: a raw payload is sent as written) with `token`.
async fn post(app: &TestApp, events: &[Event], token: Option<&str>) -> (u16, Value) {
    let body = format!("{{\"events\": {}}}", serde_json::to_string(events).unwrap());
    let mut request = app
        .client
        .post(format!("{}/api/v1/audit/events", app.http))
        .header("content-type", "application/json")
        .body(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    (
        response.status().as_u16(),
        response.json().await.unwrap_or(Value::Null),
    )
}

/// The gRPC `Ingest` of `events` with `token` in the metadata.
async fn grpc_ingest(app: &TestApp, events: &[Event], token: Option<&str>) -> Result<(), ClientError> {
    let message = |e: &Event| AuditEvent {
        seq: 0,
        id: e.id.to_string(),
        sim_time: e
            .sim_time
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap(),
        wall_time: e
            .wall_time
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap(),
        service: e.service.clone(),
        instance: e.instance.clone(),
        event_type: e.event_type.clone(),
        trace_id: e.trace_id.clone().unwrap_or_default(),
        causation_id: e.causation_id.map(|c| c.to_string()).unwrap_or_default(),
        scenario_run_id: e.scenario_run_id.clone().unwrap_or_default(),
        payload_json: e.payload.get().to_owned(),
    };
    let events = IngestRequest {
        events: events.iter().map(message).collect(),
    };
    app.audit_client().await.ingest(events, token).await.map(|_| ())
}

/// Asserts that HTTP and gRPC both refuse `events` as `invalid_batch` with the same message, and
/// that the message starts with `starts`.
async fn refused(app: &TestApp, events: &[Event], starts: &str) {
    let (status, body) = post(app, events, Some(INGEST_TOKEN)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_batch")),
        "{body}"
    );
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.starts_with(starts), "{message}");
    let status = grpc_ingest(app, events, Some(INGEST_TOKEN))
        .await
        .expect_err("refused over gRPC too");
    assert_eq!(
        (status.code(), status.message()),
        (Code::InvalidArgument, message)
    );
}

/// A JSON document nesting `levels` arrays.
fn nested(levels: usize) -> Box<RawValue> {
    RawValue::from_string(format!("{}{}", "[".repeat(levels), "]".repeat(levels))).unwrap()
}

fn okx_order(payload: Box<RawValue>) -> Event {
    let mut e = factory(ServiceKind::ExchangeSimulator, "exchange-OKX").event("order.placed", json!({}));
    e.payload = payload;
    e
}

async fn listings_answer(app: &TestApp, trace: &str) -> Vec<Value> {
    let mut answers = Vec::new();
    for path in [
        "/api/v1/audit/events".to_owned(),
        "/api/v1/audit/timeline".to_owned(),
        format!("/api/v1/audit/events/trace/{trace}"),
    ] {
        let (status, body) = app.get_json(&path).await;
        assert_eq!(status, 200, "{path}: {body}");
        answers.push(body);
    }
    answers
}

#[tokio::test]
async fn a_payload_nested_200_deep_is_refused_and_the_listings_stay_readable() {
    let app = correlator(ingest_env()).await;
    let story = story();
    assert_eq!(post(&app, &story, Some(INGEST_TOKEN)).await.0, 200);

    let mut deep = okx_order(nested(200));
    deep.trace_id = Some("exchange-OKX:order:2".into());
    refused(
        &app,
        &[story[0].clone(), deep],
        "event 1: payload nests deeper than 32 levels",
    )
    .await;
    // 32 levels are fine (the shipped payloads nest 3 deep); 33 are not.
    assert_eq!(
        post(&app, &[okx_order(nested(32))], Some(INGEST_TOKEN)).await.0,
        200
    );
    refused(
        &app,
        &[okx_order(nested(33))],
        "event 0: payload nests deeper than 32 levels",
    )
    .await;
    let big = RawValue::from_string(json!({"id": "x".repeat(20_000)}).to_string()).unwrap();
    refused(
        &app,
        &[okx_order(big)],
        "event 0: payload has 20009 bytes; at most 16384",
    )
    .await;

    let answers = listings_answer(&app, "exchange-OKX:order:2").await;
    assert_eq!(
        answers[0]["events"].as_array().unwrap().len(),
        6,
        "{}",
        answers[0]
    );
    assert_eq!(
        answers[2]["events"].as_array().unwrap().len(),
        2,
        "{}",
        answers[2]
    );
}

/// Stores a copy of the stored event `like` with a payload nesting 200 deep, directly in the
/// store (as ingestion stored it before it was bounded), and checks every read still answers.
async fn a_deep_row_stored_earlier_is_listed(app: &TestApp, insert: impl AsyncFnOnce(String, String)) {
    let events = story();
    assert_eq!(post(app, &events, Some(INGEST_TOKEN)).await.0, 200);
    let deep_id = Uuid::now_v7().to_string();
    let deep = nested(200).get().to_owned();
    insert(
        format!(
            "INSERT INTO {{table}} (id, sim_time, wall_time, service, instance, event_type, trace_id, \
             causation_id, scenario_run_id, payload) SELECT '{deep_id}', sim_time, wall_time, service, \
             instance, event_type, 'deep-trace', '{cause}', NULL, {{payload}} FROM {{table}} WHERE id = '{like}'",
            cause = events[0].id,
            like = events[1].id,
        ),
        deep,
    )
    .await;

    let answers = listings_answer(app, "deep-trace").await;
    for answer in &answers {
        let deep = answer["events"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["id"] == deep_id.as_str())
            .unwrap_or_else(|| panic!("the deep row is listed: {answer}"));
        assert_eq!(deep["payload"], Value::Null, "{deep}");
        assert!(
            deep["payload_error"]
                .as_str()
                .unwrap()
                .contains("recursion limit"),
            "{deep}"
        );
    }
    assert_eq!(answers[0]["events"].as_array().unwrap().len(), 6);
    assert_eq!(
        answers[0]["events"][1]["payload"]["reason"],
        "trading is halted on BTC-USD"
    );
    for path in [
        format!("/api/v1/audit/events/{deep_id}"),
        format!("/api/v1/audit/events/{deep_id}/chain"),
        format!("/api/v1/audit/events/{}/chain", events[0].id),
    ] {
        let (status, body) = app.get_json(&path).await;
        assert_eq!(status, 200, "{path}: {body}");
    }
    let client = app.audit_client().await;
    let listed = client
        .list_events(tse_proto::audit::v1::ListEventsRequest::default())
        .await
        .expect("gRPC lists too");
    assert_eq!(listed.events.len(), 6);
}

#[tokio::test]
async fn a_deep_payload_stored_before_ingestion_was_bounded_does_not_break_the_listings() {
    let app = correlator(ingest_env()).await;
    let path = app.data_dir.join("tse.sqlite");
    a_deep_row_stored_earlier_is_listed(&app, async |sql, payload| {
        use sqlx::Connection as _;
        let sql = sql
            .replace("{table}", "audit_events")
            .replace("{payload}", &format!("'{payload}'"));
        let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
            .unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_deep_payload_stored_on_postgres_does_not_break_the_listings_either() {
    let Some(url) = database_url("a_deep_payload_stored_on_postgres_does_not_break_the_listings_either")
    else {
        return;
    };
    let app = spawn_with(
        tse_audit_correlator::service(),
        TestOptions {
            database_url: Some(url.clone()),
            instance: Some(unique_instance("audit-correlator")),
            env: ingest_env(),
            ..Default::default()
        },
    )
    .await;
    let _guard = PgGuard::new(&url, &app.schema());
    let table = format!("{}.audit_events", app.schema());
    a_deep_row_stored_earlier_is_listed(&app, async |sql, payload| {
        let sql = sql
            .replace("{table}", &table)
            .replace("{payload}", &format!("'{payload}'::jsonb"));
        pg_strings(&url, &format!("{sql} RETURNING id")).await;
    })
    .await;
}

#[tokio::test]
async fn ids_that_are_not_uuidv7_are_refused() {
    let app = correlator(ingest_env()).await;
    let mut v4 = okx_order(RawValue::from_string("{}".into()).unwrap());
    v4.id = Uuid::from_u128(0x0190c2a0_0000_4000_8000_000000000001);
    refused(
        &app,
        &[v4],
        "event 0: id must be a UUIDv7 (time-ordered), got 0190c2a0-0000-4000-8000-000000000001 (version 4)",
    )
    .await;
    let caused = okx_order(RawValue::from_string("{}".into()).unwrap()).caused_by(Uuid::nil());
    refused(&app, &[caused], "event 0: causation_id must be a UUIDv7").await;
}

#[tokio::test]
async fn control_characters_in_names_and_ids_are_refused() {
    let app = correlator(ingest_env()).await;
    let base = || okx_order(RawValue::from_string("{}".into()).unwrap());
    let mut instance = base();
    instance.instance = "exchange-\u{7}OKX".into();
    refused(
        &app,
        &[instance],
        "event 0: instance holds the control character U+0007 at position 10",
    )
    .await;
    let mut event_type = base();
    event_type.event_type = "order.placed\n".into();
    refused(
        &app,
        &[event_type],
        "event 0: event_type holds the control character U+000A",
    )
    .await;
    let trace = base().traced("exchange-OKX:order:\u{1b}[31m1");
    refused(
        &app,
        &[trace],
        "event 0: trace_id holds the control character U+001B",
    )
    .await;
    let mut service = base();
    service.service = "exchange-\u{0}simulator".into();
    refused(
        &app,
        &[service],
        "event 0: service holds the control character U+0000",
    )
    .await;
    let long = base().traced("t".repeat(257));
    refused(&app, &[long], "event 0: trace_id has 257 characters; at most 256").await;
}

#[tokio::test]
async fn event_types_a_service_does_not_emit_are_refused() {
    let app = correlator(ingest_env()).await;
    let okx = factory(ServiceKind::ExchangeSimulator, "exchange-OKX");
    let mut created = okx.event("order.placed", json!({"id": "1"}));
    created.event_type = "order.created".into();
    refused(
        &app,
        &[created],
        "event 0: event_type 'order.created' is not an event type of exchange-simulator: \
         exchange-simulator emits fault.injected,",
    )
    .await;
    let mut from_custodian = okx.event("order.placed", json!({"id": "1"}));
    from_custodian.service = "custodian-simulator".into();
    refused(
        &app,
        &[from_custodian],
        "event 0: event_type 'order.placed' is not an event type of custodian-simulator",
    )
    .await;
    let mut from_risk = okx.event("order.placed", json!({"id": "1"}));
    from_risk.service = "risk-monitor".into();
    refused(
        &app,
        &[from_risk],
        "event 0: event_type 'order.placed' is not an event type of risk-monitor: risk-monitor emits \
         alert.raised, alert.escalated, alert.acknowledged, alert.resolved",
    )
    .await;
    let mut from_coordinator = okx.event("order.placed", json!({"id": "1"}));
    from_coordinator.service = "test-coordinator".into();
    refused(
        &app,
        &[from_coordinator],
        "event 0: event_type 'order.placed' is not an event type of test-coordinator: test-coordinator emits no events",
    )
    .await;
    let mut unknown = okx.event("order.placed", json!({"id": "1"}));
    unknown.service = "bank".into();
    refused(
        &app,
        &[unknown],
        "event 0: service 'bank' is not a service of the ecosystem",
    )
    .await;
    let (_, listed) = app.get_json("/api/v1/audit/events").await;
    assert_eq!(
        listed["events"],
        json!([]),
        "nothing of the refused batches is stored"
    );
}

#[tokio::test]
async fn ingestion_needs_the_ingest_token_and_refuses_the_rest_with_401() {
    // Only the admin token given: the ingest token is derived from it, and is not the admin token.
    let app = correlator(vec![("TSE_ADMIN_TOKEN", "test-admin-token")]).await;
    let forged = story();
    for token in [None, Some("wrong-token-123"), Some("test-admin-token")] {
        let response = app
            .client
            .post(format!("{}/api/v1/audit/events", app.http))
            .json(&json!({ "events": forged }));
        let response = match token {
            Some(token) => response.bearer_auth(token),
            None => response,
        }
        .send()
        .await
        .unwrap();
        assert_eq!(response.status().as_u16(), 401, "{token:?}");
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "unauthorized", "{body}");
        let message = body["error"]["message"].as_str().unwrap().to_owned();
        let status = grpc_ingest(&app, &forged, token)
            .await
            .expect_err("refused over gRPC");
        assert_eq!(
            (status.code(), status.message()),
            (Code::Unauthenticated, message.as_str())
        );
    }
    let (_, listed) = app.get_json("/api/v1/audit/events").await;
    assert_eq!(listed["events"], json!([]), "nothing forged is stored");
    // The token every instance holding that admin token derives (its formula is tested with the
    // configuration).
    let token = tse_runtime::config::CommonConfig {
        admin_token: Some(tse_runtime::config::Secret::parse_token("t", "test-admin-token").unwrap()),
        ..tse_runtime::config::CommonConfig::defaults(std::net::Ipv4Addr::LOCALHOST.into())
    }
    .ingest_secret()
    .unwrap();
    assert_eq!(post(&app, &forged, Some(token.expose())).await.0, 200);
    grpc_ingest(&app, &forged, Some(token.expose())).await.unwrap();

    // No token at all: ingestion is closed, and says how to open it.
    let closed = correlator(Vec::new()).await;
    let (status, body) = post(&closed, &forged, Some(INGEST_TOKEN)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("ingestion_closed"))
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("TSE_INGEST_TOKEN"),
        "{body}"
    );
}

#[tokio::test]
async fn a_fresh_correlator_exports_every_ingestion_counter_at_zero() {
    let app = correlator(ingest_env()).await;
    let metrics = app.metrics().await;
    let mut combinations = 0;
    for service in ServiceKind::ALL {
        for event_type in emitted_by(service) {
            assert_eq!(
                sample(
                    &metrics,
                    "audit_events_ingested_total",
                    &[("source_service", service.name()), ("type", event_type)]
                ),
                Some(0.0),
                "{service} {event_type}"
            );
            combinations += 1;
        }
    }
    assert_eq!(combinations, 39);
    assert_eq!(sample(&metrics, "audit_duplicates_dropped_total", &[]), Some(0.0));
}
