//! The gRPC face of the audit correlator (`tse.audit.v1.AuditService`): same semantics and messages
//! as HTTP, errors as status codes.

use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;
use tonic::Code;
use tse_proto::audit::v1::{
    AuditEvent, CountsRequest, GetChainRequest, GetEventRequest, GetTraceRequest, IngestRequest,
    ListEventsRequest, TimelineRequest,
};
use tse_runtime::{events::Event, identity::ServiceKind};

use crate::support::{INGEST_TOKEN, factory, ingest_env, story};
use tse_testing::app::{TestApp, TestOptions, spawn_with};

type Client = tse_client::Audit;

async fn correlator() -> (TestApp, Client) {
    let app = spawn_with(
        tse_audit_correlator::service(),
        TestOptions {
            env: ingest_env(),
            ..Default::default()
        },
    )
    .await;
    let client = app.audit_client().await;
    (app, client)
}

/// An event as the shipper would send it over gRPC.
fn message(e: &Event) -> AuditEvent {
    AuditEvent {
        seq: 0,
        id: e.id.to_string(),
        sim_time: e.sim_time.format(&Rfc3339).unwrap(),
        wall_time: e.wall_time.format(&Rfc3339).unwrap(),
        service: e.service.clone(),
        instance: e.instance.clone(),
        event_type: e.event_type.clone(),
        trace_id: e.trace_id.clone().unwrap_or_default(),
        causation_id: e.causation_id.map(|c| c.to_string()).unwrap_or_default(),
        scenario_run_id: e.scenario_run_id.clone().unwrap_or_default(),
        payload_json: e.payload.get().to_owned(),
    }
}

/// A batch of `events`, sent with the ingest token as a shipper sends it.
fn batch(events: &[Event]) -> IngestRequest {
    IngestRequest {
        events: events.iter().map(message).collect(),
    }
}

/// A stored event as HTTP shows it, in the message's shape.
fn as_message(e: &Value) -> AuditEvent {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    AuditEvent {
        seq: e["seq"].as_i64().unwrap(),
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

fn types(events: &[AuditEvent]) -> Vec<&str> {
    events.iter().map(|e| e.event_type.as_str()).collect()
}

async fn post(app: &TestApp, body: &Value) -> (u16, Value) {
    let response = app
        .client
        .post(format!("{}/api/v1/audit/events", app.http))
        .bearer_auth(INGEST_TOKEN)
        .json(body)
        .send()
        .await
        .unwrap();
    (
        response.status().as_u16(),
        response.json().await.unwrap_or(Value::Null),
    )
}

/// Asserts that a gRPC call failed with `code` and the message HTTP gives for the same request (its
/// status `http_status`).
fn same_error<T: std::fmt::Debug>(
    grpc: Result<T, tse_client::ClientError>,
    code: Code,
    http_answer: &(u16, Value),
    http_status: u16,
) {
    let status = grpc.expect_err("the gRPC call fails");
    let (got_status, body) = http_answer;
    assert_eq!(status.code(), code, "{status:?}");
    assert_eq!(*got_status, http_status, "{body}");
    assert_eq!(
        Some(status.message()),
        body["error"]["message"].as_str(),
        "{body}"
    );
}

#[tokio::test]
async fn grpc_ingests_and_reads_back_like_http() {
    let (app, client) = correlator().await;
    let events = story();
    let ids: Vec<String> = events.iter().map(|e| e.id.to_string()).collect();

    let first = client.ingest(batch(&events), Some(INGEST_TOKEN)).await.unwrap();
    assert_eq!((first.accepted, first.duplicates), (5, 0));
    // Delivered again (at least once), and repeated within one batch: nothing stored twice.
    let again = client.ingest(batch(&events), Some(INGEST_TOKEN)).await.unwrap();
    assert_eq!((again.accepted, again.duplicates), (0, 5));
    let twice = [events[0].clone(), events[0].clone()];
    let twice = client.ingest(batch(&twice), Some(INGEST_TOKEN)).await.unwrap();
    assert_eq!((twice.accepted, twice.duplicates), (0, 2));

    // Every event once, in order, exactly as HTTP shows it and as it was sent.
    let all = client.list_events(ListEventsRequest::default()).await.unwrap();
    assert_eq!(
        all.events.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
        ids.iter().map(String::as_str).collect::<Vec<_>>(),
        "once each, in order"
    );
    assert_eq!(all.next_cursor, "", "a page that is not full is the last");
    let (_, over_http) = app.get_json("/api/v1/audit/events").await;
    let http_events: Vec<AuditEvent> = over_http["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(as_message)
        .collect();
    assert_eq!(all.events, http_events);
    for (stored, sent) in all.events.iter().zip(&events) {
        let sent = message(sent);
        assert!(stored.seq > 0, "{stored:?}");
        assert_eq!(
            serde_json::from_str::<Value>(&stored.payload_json).unwrap(),
            serde_json::from_str::<Value>(&sent.payload_json).unwrap()
        );
        // Times are shown to the second, as over HTTP.
        let second = |t: &str| {
            time::OffsetDateTime::parse(t, &Rfc3339)
                .unwrap()
                .replace_nanosecond(0)
                .unwrap()
        };
        assert_eq!(second(&stored.sim_time), second(&sent.sim_time));
        assert_eq!(second(&stored.wall_time), second(&sent.wall_time));
        assert_eq!(
            AuditEvent {
                seq: 0,
                sim_time: sent.sim_time.clone(),
                wall_time: sent.wall_time.clone(),
                payload_json: sent.payload_json.clone(),
                ..stored.clone()
            },
            sent
        );
    }

    // Filters.
    let placed = client
        .list_events(ListEventsRequest {
            instance: "exchange-OKX".into(),
            r#type: "order.placed".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(types(&placed.events), ["order.placed"]);
    let custodian = client
        .list_events(ListEventsRequest {
            service: "custodian-simulator".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(types(&custodian.events), ["settlement.completed"]);
    let caused = client
        .list_events(ListEventsRequest {
            caused_by: ids[0].clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(caused.events[0].id, ids[1]);
    let traced = client
        .list_events(ListEventsRequest {
            trace_id: "exchange-OKX:order:2".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(types(&traced.events), ["order.placed", "trade.executed"]);
    // A window of simulated time holding the whole story (shown to the second), and one before it.
    let from = time::OffsetDateTime::parse(&all.events[0].sim_time, &Rfc3339).unwrap();
    let to = (from + time::Duration::minutes(1)).format(&Rfc3339).unwrap();
    let before = (from - time::Duration::seconds(10)).format(&Rfc3339).unwrap();
    let from = from.format(&Rfc3339).unwrap();
    for (from, to, expected) in [(&from, &to, 5), (&before, &from, 0)] {
        let window = client
            .list_events(ListEventsRequest {
                from: from.clone(),
                to: to.clone(),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(window.events.len(), expected, "{from} to {to}");
        let (_, window_http) = app
            .get_json(&format!("/api/v1/audit/events?from={from}&to={to}"))
            .await;
        let window_http: Vec<AuditEvent> = window_http["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(as_message)
            .collect();
        assert_eq!(window.events, window_http);
    }

    // Pages.
    let page = client
        .list_events(ListEventsRequest {
            limit: 2,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.events.len(), 2);
    let (_, page_http) = app.get_json("/api/v1/audit/events?limit=2").await;
    assert_eq!(page_http["next_cursor"].as_str(), Some(page.next_cursor.as_str()));
    let rest = client
        .list_events(ListEventsRequest {
            limit: 10,
            cursor: page.next_cursor.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(rest.events.len(), 3);
    assert_eq!(rest.events[0].id, ids[2]);
    assert_eq!(rest.next_cursor, "");

    // One event.
    let rejected = client
        .get_event(GetEventRequest { id: ids[1].clone() })
        .await
        .unwrap();
    assert_eq!(rejected, all.events[1]);
    assert_eq!(rejected.causation_id, ids[0]);
    let payload: Value = serde_json::from_str(&rejected.payload_json).unwrap();
    assert_eq!(payload["reason"], "trading is halted on BTC-USD");

    // One order from placement through its trade to the settlement that carried it.
    let chain = client
        .get_chain(GetChainRequest { id: ids[2].clone() })
        .await
        .unwrap();
    assert_eq!(chain.event.as_ref().map(|e| e.id.as_str()), Some(ids[2].as_str()));
    assert!(chain.causes.is_empty());
    assert_eq!(chain.missing_cause, "");
    let effects: Vec<(&str, u32)> = chain
        .effects
        .iter()
        .map(|e| (e.event.as_ref().unwrap().event_type.as_str(), e.depth))
        .collect();
    assert_eq!(effects, [("trade.executed", 1), ("settlement.completed", 2)]);
    let (_, chain_http) = app
        .get_json(&format!("/api/v1/audit/events/{}/chain", ids[2]))
        .await;
    let related: Vec<(String, String)> = chain
        .related
        .iter()
        .map(|r| (r.event.as_ref().unwrap().id.clone(), r.via.clone()))
        .collect();
    let related_http: Vec<(String, String)> = chain_http["related"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap().to_owned(),
                r["via"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(related, related_http);
    // A fault to its effects, and an effect back to its causes.
    let fault = client
        .get_chain(GetChainRequest { id: ids[0].clone() })
        .await
        .unwrap();
    assert_eq!(
        fault.effects[0].event.as_ref().unwrap().event_type,
        "order.rejected"
    );
    let back = client
        .get_chain(GetChainRequest { id: ids[4].clone() })
        .await
        .unwrap();
    assert_eq!(types(&back.causes), ["order.placed", "trade.executed"]);
    assert!(back.effects.is_empty());

    // A trace, a timeline, counts.
    let trace = client
        .get_trace(GetTraceRequest {
            trace_id: "exchange-OKX:order:2".into(),
        })
        .await
        .unwrap();
    assert_eq!(trace.trace_id, "exchange-OKX:order:2");
    assert_eq!(types(&trace.events), ["order.placed", "trade.executed"]);
    let timeline = client
        .timeline(TimelineRequest {
            instance: "exchange-OKX".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(timeline.events.len(), 4);
    let (_, timeline_http) = app.get_json("/api/v1/audit/timeline?instance=exchange-OKX").await;
    let timeline_http: Vec<AuditEvent> = timeline_http["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(as_message)
        .collect();
    assert_eq!(timeline.events, timeline_http);
    let counts = client.counts(CountsRequest {}).await.unwrap().counts;
    let (_, counts_http) = app.get_json("/api/v1/audit/counts").await;
    let counts_http: Vec<(String, String, String, i64)> = counts_http["counts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["event_type"].as_str().unwrap().to_owned(),
                c["service"].as_str().unwrap().to_owned(),
                c["instance"].as_str().unwrap().to_owned(),
                c["count"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(counts.len(), 5);
    assert_eq!(
        counts
            .into_iter()
            .map(|c| (c.event_type, c.service, c.instance, c.count))
            .collect::<Vec<_>>(),
        counts_http
    );
}

#[tokio::test]
async fn grpc_refuses_what_http_refuses_with_the_same_message() {
    let (app, client) = correlator().await;
    let events = story();
    client.ingest(batch(&events), Some(INGEST_TOKEN)).await.unwrap();

    let list = |q: ListEventsRequest| {
        let client = client.clone();
        async move { client.list_events(q).await }
    };
    for (query, path) in [
        (
            ListEventsRequest {
                limit: 5000,
                ..Default::default()
            },
            "/api/v1/audit/events?limit=5000",
        ),
        (
            ListEventsRequest {
                from: "yesterday".into(),
                ..Default::default()
            },
            "/api/v1/audit/events?from=yesterday",
        ),
        (
            ListEventsRequest {
                from: "2026-12-02T00:00:00Z".into(),
                to: "2026-12-01T00:00:00Z".into(),
                ..Default::default()
            },
            "/api/v1/audit/events?from=2026-12-02T00:00:00Z&to=2026-12-01T00:00:00Z",
        ),
        (
            ListEventsRequest {
                cursor: "abc".into(),
                ..Default::default()
            },
            "/api/v1/audit/events?cursor=abc",
        ),
        (
            ListEventsRequest {
                caused_by: "abc".into(),
                ..Default::default()
            },
            "/api/v1/audit/events?caused_by=abc",
        ),
    ] {
        let http = app.get_json(path).await;
        same_error(list(query).await, Code::InvalidArgument, &http, 400);
    }
    let http = app.get_json("/api/v1/audit/timeline?to=noon").await;
    let grpc = client
        .timeline(TimelineRequest {
            to: "noon".into(),
            ..Default::default()
        })
        .await;
    same_error(grpc, Code::InvalidArgument, &http, 400);

    // Ids.
    let http = app.get_json("/api/v1/audit/events/abc").await;
    let grpc = client.get_event(GetEventRequest { id: "abc".into() }).await;
    same_error(grpc, Code::InvalidArgument, &http, 400);
    let http = app.get_json("/api/v1/audit/events/abc/chain").await;
    let grpc = client.get_chain(GetChainRequest { id: "abc".into() }).await;
    same_error(grpc, Code::InvalidArgument, &http, 400);
    let unknown = "0190c2a0-0000-7000-8000-000000000000";
    let http = app.get_json(&format!("/api/v1/audit/events/{unknown}")).await;
    let grpc = client.get_event(GetEventRequest { id: unknown.into() }).await;
    same_error(grpc, Code::NotFound, &http, 404);
    let http = app
        .get_json(&format!("/api/v1/audit/events/{unknown}/chain"))
        .await;
    let grpc = client.get_chain(GetChainRequest { id: unknown.into() }).await;
    same_error(grpc, Code::NotFound, &http, 404);
    let status = client
        .get_trace(GetTraceRequest::default())
        .await
        .expect_err("a trace id is required");
    assert_eq!(
        (status.code(), status.message()),
        (Code::InvalidArgument, "trace_id is required")
    );

    // A batch too large: refused whole, as over HTTP.
    let okx = factory(ServiceKind::ExchangeSimulator, "exchange-OKX");
    let many: Vec<Event> = (0..5001)
        .map(|i| okx.event("order.placed", json!({"id": i.to_string()})))
        .collect();
    let http = post(&app, &json!({ "events": many })).await;
    let grpc = client.ingest(batch(&many), Some(INGEST_TOKEN)).await;
    same_error(grpc, Code::InvalidArgument, &http, 400);

    // Malformed events: the batch is refused whole, naming the event and the field.
    let fresh = okx.event("order.placed", json!({"id": "99"}));
    let malformed = [
        (
            "id",
            AuditEvent {
                id: "x".into(),
                ..message(&fresh)
            },
        ),
        (
            "sim_time",
            AuditEvent {
                sim_time: "yesterday".into(),
                ..message(&fresh)
            },
        ),
        (
            "wall_time",
            AuditEvent {
                wall_time: String::new(),
                ..message(&fresh)
            },
        ),
        (
            "event_type",
            AuditEvent {
                event_type: " ".into(),
                ..message(&fresh)
            },
        ),
        (
            "causation_id",
            AuditEvent {
                causation_id: "abc".into(),
                ..message(&fresh)
            },
        ),
        (
            "payload_json",
            AuditEvent {
                payload_json: "{\"id\": ".into(),
                ..message(&fresh)
            },
        ),
        (
            "payload_json",
            AuditEvent {
                payload_json: String::new(),
                ..message(&fresh)
            },
        ),
    ];
    for (field, bad) in malformed {
        let status = client
            .ingest(
                IngestRequest {
                    events: vec![message(&fresh), bad],
                },
                Some(INGEST_TOKEN),
            )
            .await
            .expect_err("a malformed event is refused");
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert!(
            status.message().starts_with(&format!("event 1: {field} ")),
            "{field}: {}",
            status.message()
        );
    }
    // The same event malformed over HTTP is refused with the same status, as invalid_batch.
    let (status, body) = post(&app, &json!({"events": [{"id": "x"}]})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_batch")),
        "{body}"
    );
    // Nothing of the refused batches was stored.
    let all = client.list_events(ListEventsRequest::default()).await.unwrap();
    assert_eq!(all.events.len(), events.len());
}
