//! The API over a real [`MonitorHandle`] (embedded SQLite storage) and a small monitor task that
//! answers from fixed values: every HTTP route and its refusals, the SSE and gRPC alert streams,
//! the gRPC refusals, and the OpenAPI description against the answers.
//!
//! Listing and reading alerts go through `infra::repo`; the tests that need it are ignored until
//! the store is merged (`cargo test -- --ignored` then).

use std::{
    collections::{BTreeMap, BTreeSet},
    time::Duration,
};

use futures::StreamExt;
use serde_json::{Value, json};
use time::{OffsetDateTime, macros::datetime};
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;
use tonic::{Code, transport::server::TcpIncoming};
use tse_client::{ClientError, Risk};
use tse_proto::risk::v1 as pb;
use tse_runtime::{
    config::{InstanceConfig, ServeOverrides},
    health::{Dependency, Health},
    host::{RUNTIME_MIGRATIONS, ServiceDef, ServiceParts, no_settings},
    identity::ServiceKind,
    storage::{MigrationSet, Storage},
};
use tse_testing::app::{TestOptions, spawn_with, unique_instance};

use super::{Api, grpc, http, openapi};
use crate::{
    app::handle::{AppError, MonitorHandle, Query},
    domain::{
        alert::{Alert, AlertChange, Evidence, RuleKind, Severity, Status, Subject},
        limits::Limits,
        summary::{AssetExposure, DataAge, EntitySummary, PegDeviation, Summary, VenueSummary},
    },
    infra::repo,
};

/// The limits document of `COMMON.md`, amounts as numbers (requests accept strings or numbers).
fn limits_json() -> Value {
    json!({
        "position_limit": {"enabled": true, "for": "5s", "hysteresis": 0.05,
            "utilisation": {"warning": 0.8, "critical": 1.0}, "max_notional_usd": 20_000_000, "per_asset": {}},
        "exposure": {"enabled": true, "for": "5s", "hysteresis": 0.05,
            "utilisation": {"warning": 0.8, "critical": 1.0}, "max_gross_usd": 100_000_000, "max_net_usd": 100_000_000},
        "concentration": {"enabled": true, "for": "1m", "hysteresis": 0.05, "warning": 0.7, "critical": 0.85},
        "drawdown": {"enabled": true, "for": "0s", "hysteresis": 0.1, "warning": 0.03, "critical": 0.05},
        "daily_loss": {"enabled": true, "for": "0s", "hysteresis": 0.1, "warning_usd": 3_000_000, "critical_usd": 5_000_000},
        "stablecoin_depeg": {"enabled": true, "for": "10s", "hysteresis": 0.2, "warning_bps": 50, "critical_bps": 200,
            "pegs": {"USDT-USD": 1}},
        "price_divergence": {"enabled": true, "for": "10s", "hysteresis": 0.2, "warning_bps": 100, "critical_bps": 300,
            "reference": null},
        "stale_data": {"enabled": true, "for": "0s", "hysteresis": 0.1, "max_age_seconds": {"warning": 30, "critical": 120},
            "frozen_seconds": {"warning": 300, "critical": 900}, "frozen_exempt": ["USDT-USD"]},
        "venue_health": {"enabled": true, "for": "5s", "hysteresis": 0.2, "window": "30s",
            "error_ratio": {"warning": 0.2, "critical": 0.5}, "latency_ms": {"warning": 1000, "critical": 5000},
            "reject_ratio": {"warning": 0.5, "critical": 0.9}, "min_orders": 20},
        "order_rate": {"enabled": true, "for": "0s", "hysteresis": 0.2, "window": "10s",
            "per_second": {"warning": 50, "critical": 200}},
        "unsettled_exposure": {"enabled": true, "for": "0s", "hysteresis": 0.1,
            "pending_usd": {"warning": 20_000_000, "critical": 50_000_000},
            "overdue_seconds": {"warning": 60, "critical": 600}},
    })
}

/// What the test monitor refuses: a reference source it does not know.
fn unknown_reference() -> String {
    let mut document = limits_json();
    document["price_divergence"]["reference"] = json!("market-data-Nowhere");
    document.to_string()
}

const UNKNOWN_REFERENCE: &str =
    "price_divergence.reference: no market data instance is named market-data-Nowhere";

fn limits() -> Limits {
    Limits::from_json(&limits_json()).expect("the test limits are valid")
}

const AT: OffsetDateTime = datetime!(2025-01-02 03:04:05 UTC);

/// Alert `alert-{n}` in `status`.
fn alert(n: u64, status: Status) -> Alert {
    Alert {
        id: format!("alert-{n}"),
        kind: RuleKind::StablecoinDepeg,
        subject: Subject {
            venue: Some("market-data-Coinmetrics".into()),
            symbol: Some("USDT-USD".into()),
            ..Subject::default()
        },
        severity: Severity::Warning,
        status,
        evidence: Evidence {
            observed: 120.5,
            threshold: 50.0,
            unit: "bps".into(),
            window_ms: None,
            for_ms: 10_000,
            source: "market-data-Coinmetrics".into(),
            data_at: AT,
            breach_since: Some(AT),
            message: "USDT-USD is 120.5 bps from its peg 1".into(),
        },
        detected_at: AT,
        detected_at_wall: AT,
        acknowledged_at: None,
        resolved_at: (status == Status::Resolved).then_some(AT),
        updated_at: AT,
    }
}

fn summary() -> Summary {
    Summary {
        at: AT,
        entities: vec![EntitySummary {
            entity: "trading-system-LH".into(),
            exposure: vec![AssetExposure {
                asset: "BTC".into(),
                quantity: 2.0,
                usd: 100_000.0,
                concentration: 1.0,
            }],
            gross_usd: 100_000.0,
            net_usd: 100_000.0,
            equity_usd: 1_100_000.0,
            peak_equity_usd: 1_200_000.0,
            pnl_usd: -100_000.0,
            daily_pnl_usd: -50_000.0,
            drawdown: 0.083,
            order_rate: 1.5,
            pending_settlement_usd: 0.0,
            overdue_seconds: 0.0,
        }],
        data: vec![DataAge {
            source: "market-data-Coinmetrics".into(),
            symbol: "BTC-USD".into(),
            price: 50_000.0,
            last_at: AT,
            age_seconds: 1.0,
            unchanged_seconds: 0.0,
        }],
        venues: vec![VenueSummary {
            venue: "exchange-OKX".into(),
            up: true,
            error_ratio: 0.0,
            latency_ms: 3.5,
            reject_ratio: 0.0,
        }],
        pegs: vec![PegDeviation {
            symbol: "USDT-USD".into(),
            price: 0.9995,
            peg: 1.0,
            deviation: -0.0005,
        }],
    }
}

/// The monitor task of the tests: the fixed summary, the limits (refusing a reference source it does
/// not know, as the monitor does), and two alerts to acknowledge: `alert-1` (ACTIVE) and
/// `alert-2` (RESOLVED). An acknowledgement is announced on `events`.
async fn answer(mut queries: mpsc::Receiver<Query>, events: broadcast::Sender<AlertChange>) {
    let mut limits = limits();
    let mut alerts: BTreeMap<String, Alert> = [alert(1, Status::Active), alert(2, Status::Resolved)]
        .into_iter()
        .map(|a| (a.id.clone(), a))
        .collect();
    while let Some(query) = queries.recv().await {
        // A send fails only when the asker gave up; nothing to do then.
        match query {
            Query::Summary(tx) => drop(tx.send(summary())),
            Query::Limits(tx) => drop(tx.send(limits.clone())),
            Query::SetLimits(new, tx) => {
                let answer = if let Some(unknown) = new
                    .price_divergence
                    .reference
                    .as_ref()
                    .filter(|r| *r != "market-data-Coinmetrics")
                {
                    Err(AppError::BadRequest(format!(
                        "price_divergence.reference: no market data instance is named {unknown}"
                    )))
                } else {
                    limits = *new;
                    Ok(limits.clone())
                };
                drop(tx.send(answer));
            }
            Query::Acknowledge(id, tx) => {
                let answer = match alerts.get_mut(&id) {
                    None => Err(AppError::NotFound(format!("no alert {id}"))),
                    Some(a) if a.status == Status::Resolved => Err(AppError::Conflict(format!(
                        "{id} is resolved; only an open alert can be acknowledged"
                    ))),
                    Some(a) => {
                        a.status = Status::Acknowledged;
                        a.acknowledged_at = Some(AT);
                        drop(events.send(AlertChange::Acknowledged(a.clone())));
                        Ok(a.clone())
                    }
                };
                drop(tx.send(answer));
            }
        }
    }
}

/// A monitor under test: its API, the sender of its alert changes, and what keeps its storage.
struct Monitor {
    api: Api,
    events: broadcast::Sender<AlertChange>,
    storage: Storage,
    _dir: tempfile::TempDir,
}

/// How the monitor task behaves.
#[derive(Clone, Copy, PartialEq)]
enum Task {
    /// Answers ([`answer`]).
    Answers,
    /// Gone: every question is refused as unavailable.
    Gone,
    /// Never answers (the returned receiver is kept).
    Silent,
}

/// Opens a fresh instance's embedded (SQLite) storage with the monitor's migrations.
async fn storage(dir: &std::path::Path) -> Storage {
    let overrides = ServeOverrides {
        service: Some(ServiceKind::RiskMonitor.name().to_owned()),
        instance: Some(unique_instance("risk-monitor")),
        data_dir: Some(dir.to_owned()),
        ..Default::default()
    };
    let config = InstanceConfig::load(&overrides, &BTreeMap::new()).expect("a test config");
    let health = Health::new(config.identity.clone(), "test", "test".into());
    let gauge = prometheus::IntGauge::new("up", "up").expect("a gauge");
    Storage::open(
        &config,
        vec![
            RUNTIME_MIGRATIONS,
            MigrationSet {
                component: ServiceKind::RiskMonitor.name(),
                migrations: repo::MIGRATIONS,
            },
        ],
        &prometheus::Registry::new(),
        Dependency::new("postgres", health, gauge),
    )
    .await
    .expect("storage opens")
}

/// A monitor whose task behaves as `task`; its alert changes are kept for `backlog` readers' worth.
async fn monitor_with(task: Task, backlog: usize) -> (Monitor, Option<mpsc::Receiver<Query>>) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let storage = storage(dir.path()).await;
    let (events, _) = broadcast::channel(backlog);
    let (handle, queries) = MonitorHandle::new(16, storage.clone(), events.clone());
    let kept = match task {
        Task::Answers => {
            tokio::spawn(answer(queries, events.clone()));
            None
        }
        Task::Gone => None,
        Task::Silent => Some(queries),
    };
    let monitor = Monitor {
        api: Api::new(handle, CancellationToken::new()),
        events,
        storage,
        _dir: dir,
    };
    (monitor, kept)
}

async fn monitor() -> Monitor {
    monitor_with(Task::Answers, 64).await.0
}

/// Serves `http::router(api)` on a free port; returns its base URL.
async fn serve_http(api: Api) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, http::router(api)).await });
    url
}

/// Serves `grpc::server(api)` on a free port; returns a client connected to it.
async fn serve_grpc(api: Api) -> Risk {
    let incoming = TcpIncoming::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let url = format!("http://{}", incoming.local_addr().unwrap());
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(grpc::server(api))
            .serve_with_incoming(incoming),
    );
    Risk::connect(&url).await.expect("connected")
}

async fn call(url: &str, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
    let client = reqwest::Client::new();
    let mut request = match method {
        "GET" => client.get(format!("{url}{path}")),
        "POST" => client.post(format!("{url}{path}")),
        "PUT" => client.put(format!("{url}{path}")),
        other => panic!("unexpected method {other}"),
    };
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_owned());
    }
    let response = request.send().await.expect("answered");
    let status = response.status().as_u16();
    let body = response.json().await.expect("a JSON body");
    (status, body)
}

async fn get(url: &str, path: &str) -> (u16, Value) {
    call(url, "GET", path, None).await
}

fn error(body: &Value) -> (&str, &str) {
    (
        body["error"]["code"].as_str().unwrap_or_default(),
        body["error"]["message"].as_str().unwrap_or_default(),
    )
}

/// What a bad alert id is answered.
fn bad_id(id: &str) -> String {
    format!("alert id '{id}' is not valid: alert- and a positive number of at most 18 digits, e.g. alert-17")
}

/// Each malformed listing query, with the error code and message it is answered.
fn bad_queries() -> Vec<(&'static str, &'static str, String)> {
    let kinds = "position_limit, exposure, concentration, drawdown, daily_loss, stablecoin_depeg, \
                 price_divergence, stale_data, venue_health, order_rate, unsettled_exposure";
    let limit = |got: &str| format!("limit must be an integer from 1 to 1000, got '{got}'");
    let cursor = |got: &str| {
        format!(
            "cursor must be a positive integer of at most 18 digits (the next_cursor of a previous page), got '{got}'"
        )
    };
    vec![
        (
            "status=open",
            "invalid_status",
            "status 'open' is not one of ACTIVE, ACKNOWLEDGED, RESOLVED (any case)".into(),
        ),
        (
            "severity=fatal",
            "invalid_severity",
            "severity 'fatal' is not one of info, warning, critical (any case)".into(),
        ),
        (
            "kind=depeg",
            "invalid_kind",
            format!("kind 'depeg' is not one of {kinds} (any case)"),
        ),
        ("limit=0", "invalid_limit", limit("0")),
        ("limit=1001", "invalid_limit", limit("1001")),
        ("limit=ten", "invalid_limit", limit("ten")),
        ("limit=", "invalid_limit", limit("")),
        ("cursor=0", "invalid_cursor", cursor("0")),
        ("cursor=-3", "invalid_cursor", cursor("-3")),
        ("cursor=07", "invalid_cursor", cursor("07")),
        ("cursor=abc", "invalid_cursor", cursor("abc")),
        (
            "cursor=1234567890123456789",
            "invalid_cursor",
            cursor("1234567890123456789"),
        ),
    ]
}

#[tokio::test]
async fn the_summary_and_the_limits_are_answered_as_their_json() {
    let m = monitor().await;
    let url = serve_http(m.api.clone()).await;
    let (status, body) = get(&url, "/api/v1/risk/summary").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, serde_json::to_value(summary()).unwrap());
    assert_eq!(body["entities"][0]["entity"], "trading-system-LH");
    assert_eq!(body["at"], "2025-01-02T03:04:05Z");

    let (status, body) = get(&url, "/api/v1/limits").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, serde_json::to_value(limits()).unwrap());
    assert_eq!(body["drawdown"]["for"], "0s");
    assert_eq!(body["concentration"]["for"], "1m");
}

#[tokio::test]
async fn put_limits_replaces_them_and_a_refused_document_changes_nothing() {
    let m = monitor().await;
    let url = serve_http(m.api.clone()).await;
    let mut changed = limits_json();
    changed["drawdown"]["warning"] = json!(0.04);
    changed["stablecoin_depeg"]["for"] = json!("30s");
    let (status, body) = call(&url, "PUT", "/api/v1/limits", Some(&changed.to_string())).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["drawdown"]["warning"], 0.04);
    assert_eq!(body["stablecoin_depeg"]["for"], "30s");
    let (_, now) = get(&url, "/api/v1/limits").await;
    assert_eq!(now, body, "the limits answered are those in force");

    // Refused by the monitor: the reason, and nothing changes.
    let (status, refused) = call(&url, "PUT", "/api/v1/limits", Some(&unknown_reference())).await;
    assert_eq!(
        (status, error(&refused)),
        (400, ("invalid_limits", UNKNOWN_REFERENCE))
    );
    // Refused when read: an unknown field, a mistyped value.
    let mut unknown = limits_json();
    unknown["panic"] = json!(true);
    let mut unknown_inside = limits_json();
    unknown_inside["drawdown"]["panic"] = json!(true);
    let mut mistyped = limits_json();
    mistyped["drawdown"]["for"] = json!("soon");
    for document in [unknown, unknown_inside, mistyped, json!({"nonsense": 1})] {
        let (status, refused) = call(&url, "PUT", "/api/v1/limits", Some(&document.to_string())).await;
        assert_eq!((status, error(&refused).0), (400, "invalid_limits"), "{refused}");
        assert!(!error(&refused).1.is_empty(), "the reason is given: {refused}");
    }
    // Not JSON, or not an object.
    for (text, message) in [
        ("{not json", None),
        ("[]", Some("a limits document must be a JSON object")),
        ("42", Some("a limits document must be a JSON object")),
    ] {
        let (status, refused) = call(&url, "PUT", "/api/v1/limits", Some(text)).await;
        assert_eq!(
            (status, error(&refused).0),
            (400, "invalid_json"),
            "{text}: {refused}"
        );
        if let Some(message) = message {
            assert_eq!(error(&refused).1, message);
        }
    }
    // No JSON content type.
    let response = reqwest::Client::new()
        .put(format!("{url}/api/v1/limits"))
        .body(limits_json().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 415);
    let (_, after) = get(&url, "/api/v1/limits").await;
    assert_eq!(after, now, "no refused document changed the limits");
}

#[tokio::test]
async fn acknowledging_answers_the_alert_and_refuses_unknown_resolved_and_malformed_ids() {
    let m = monitor().await;
    let url = serve_http(m.api.clone()).await;
    let (status, body) = call(&url, "POST", "/api/v1/alerts/alert-1/acknowledge", None).await;
    assert_eq!(status, 200, "{body}");
    let mut expected = alert(1, Status::Acknowledged);
    expected.acknowledged_at = Some(AT);
    assert_eq!(body, serde_json::to_value(&expected).unwrap());
    assert_eq!(body["status"], "ACKNOWLEDGED");
    assert_eq!(
        body["subject"],
        json!({"venue": "market-data-Coinmetrics", "symbol": "USDT-USD"})
    );

    let (status, body) = call(&url, "POST", "/api/v1/alerts/alert-2/acknowledge", None).await;
    assert_eq!(
        (status, error(&body)),
        (
            409,
            (
                "alert_conflict",
                "alert-2 is resolved; only an open alert can be acknowledged"
            )
        )
    );
    let (status, body) = call(&url, "POST", "/api/v1/alerts/alert-9/acknowledge", None).await;
    assert_eq!(
        (status, error(&body)),
        (404, ("unknown_alert", "no alert alert-9"))
    );
    for id in [
        "alert-0",
        "alert-07",
        "alert-+7",
        "17",
        "alert-",
        "ALERT-1",
        "alert-1234567890123456789",
    ] {
        for (method, path) in [
            ("POST", format!("/api/v1/alerts/{id}/acknowledge")),
            ("GET", format!("/api/v1/alerts/{id}")),
        ] {
            let (status, body) = call(&url, method, &path, None).await;
            assert_eq!(
                (status, error(&body)),
                (400, ("invalid_alert_id", bad_id(id).as_str())),
                "{method} {path}"
            );
        }
    }
}

#[tokio::test]
async fn a_malformed_listing_query_is_400_naming_the_parameter_and_what_it_allows() {
    let m = monitor().await;
    let url = serve_http(m.api.clone()).await;
    for (query, code, message) in bad_queries() {
        let (status, body) = get(&url, &format!("/api/v1/alerts?{query}")).await;
        assert_eq!((status, error(&body)), (400, (code, message.as_str())), "{query}");
    }
    let (status, body) = get(&url, "/api/v1/alerts?colour=red").await;
    assert_eq!((status, error(&body).0), (400, "invalid_query"), "{body}");
}

#[tokio::test]
async fn every_route_is_503_when_the_monitor_task_is_gone_and_a_waiting_question_when_it_drains() {
    let (gone, _) = monitor_with(Task::Gone, 8).await;
    let url = serve_http(gone.api.clone()).await;
    let message = "the risk monitor is not running (the instance is stopping)";
    for (method, path, body) in [
        ("GET", "/api/v1/risk/summary", None),
        ("GET", "/api/v1/limits", None),
        ("PUT", "/api/v1/limits", Some(limits_json().to_string())),
        ("POST", "/api/v1/alerts/alert-1/acknowledge", None),
    ] {
        let (status, answer) = call(&url, method, path, body.as_deref()).await;
        assert_eq!(
            (status, error(&answer)),
            (503, ("monitor_unavailable", message)),
            "{method} {path}"
        );
    }

    let (silent, _queries) = monitor_with(Task::Silent, 8).await;
    let waiting = tokio::spawn({
        let api = silent.api.clone();
        async move { api.summary().await }
    });
    tokio::task::yield_now().await;
    silent.api.draining.cancel();
    let e = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("answered without the monitor")
        .expect("the task ran")
        .unwrap_err();
    assert_eq!(
        (e.status().as_u16(), e.code(), e.message()),
        (
            503,
            "monitor_unavailable",
            "the risk monitor is stopping; try again on its restart"
        )
    );
}

/// An SSE response and the text read from it so far.
struct Sse {
    response: reqwest::Response,
    text: String,
}

/// Reads server-sent events until `count` have arrived since the stream began: (event, data) each.
async fn sse_events(sse: &mut Sse, count: usize) -> Vec<(String, Value)> {
    let Sse { response, text } = sse;
    loop {
        let events: Vec<(String, Value)> = text
            .split("\n\n")
            .filter(|block| block.contains("data:"))
            .filter_map(|block| {
                let field = |name: &str| {
                    block
                        .lines()
                        .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_owned()))
                };
                Some((field("event:")?, serde_json::from_str(&field("data:")?).ok()?))
            })
            .collect();
        if events.len() >= count && text.ends_with("\n\n") {
            return events;
        }
        let chunk = tokio::time::timeout(Duration::from_secs(10), response.chunk())
            .await
            .expect("an event within 10 s")
            .expect("the stream reads")
            .expect("the stream goes on");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
}

#[tokio::test]
async fn the_sse_stream_sends_each_change_with_its_event_type_and_says_how_many_a_slow_reader_missed() {
    let (m, _) = monitor_with(Task::Answers, 4).await;
    let url = serve_http(m.api.clone()).await;
    let response = reqwest::get(format!("{url}/api/v1/alerts/stream")).await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    let mut response = Sse {
        response,
        text: String::new(),
    };
    // The headers came once the stream subscribed.
    let raised = alert(3, Status::Active);
    m.events.send(AlertChange::Raised(raised.clone())).unwrap();
    let events = sse_events(&mut response, 1).await;
    assert_eq!(
        events,
        vec![("alert.raised".to_owned(), serde_json::to_value(&raised).unwrap())]
    );

    // An acknowledgement through the API is announced on the stream.
    let (status, _) = call(&url, "POST", "/api/v1/alerts/alert-1/acknowledge", None).await;
    assert_eq!(status, 200);
    let events = sse_events(&mut response, 2).await;
    assert_eq!(events[1].0, "alert.acknowledged");
    assert_eq!(events[1].1["id"], "alert-1");

    // Ten changes sent at once (this single-threaded test runtime runs no server task meanwhile)
    // into room for four: the reader is told it missed six, then gets the last four.
    for n in 10..20 {
        m.events
            .send(AlertChange::Resolved(alert(n, Status::Resolved)))
            .unwrap();
    }
    let events = sse_events(&mut response, 7).await;
    assert_eq!(events[2], ("lagged".to_owned(), json!({"skipped": 6})));
    let ids: Vec<&Value> = events[3..].iter().map(|(_, a)| &a["id"]).collect();
    assert_eq!(ids, vec!["alert-16", "alert-17", "alert-18", "alert-19"]);
    assert!(events[3..].iter().all(|(e, _)| e == "alert.resolved"));
}

// Needs the rule core's `Limits::from_json` (merged by the lead), which validates.
#[tokio::test]
async fn limits_the_rule_core_refuses_are_400_with_its_reason_over_http_and_grpc() {
    let m = monitor().await;
    let url = serve_http(m.api.clone()).await;
    let client = serve_grpc(m.api.clone()).await;
    let mut inverted = limits_json();
    inverted["drawdown"]["warning"] = json!(0.9);
    let mut nested = limits_json();
    nested["drawdown"]["panic"] = json!(true);
    for document in [inverted, nested] {
        let (status, refused) = call(&url, "PUT", "/api/v1/limits", Some(&document.to_string())).await;
        let (code, message) = error(&refused);
        assert_eq!((status, code), (400, "invalid_limits"), "{refused}");
        assert!(
            message.contains("drawdown"),
            "the reason names the kind: {message}"
        );
        assert_eq!(
            refusal(
                client
                    .set_limits(pb::Limits {
                        limits_json: document.to_string()
                    })
                    .await
            ),
            (Code::InvalidArgument, message.to_owned())
        );
    }
    let (_, now) = get(&url, "/api/v1/limits").await;
    assert_eq!(now, serde_json::to_value(limits()).unwrap(), "nothing changed");
    // An empty document is the defaults; a partial one takes the defaults for the rest.
    let (status, defaults) = call(&url, "PUT", "/api/v1/limits", Some("{}")).await;
    assert_eq!(status, 200, "{defaults}");
    assert_eq!(defaults["drawdown"]["for"], "0s", "{defaults}");
    let (status, set) = call(
        &url,
        "PUT",
        "/api/v1/limits",
        Some(r#"{"drawdown": {"warning": 0.04}}"#),
    )
    .await;
    assert_eq!(status, 200, "{set}");
    let mut expected = defaults;
    expected["drawdown"]["warning"] = json!(0.04);
    assert_eq!(set, expected);
}

/// Stores `alerts` as the monitor task does.
fn refusal<T: std::fmt::Debug>(result: Result<T, ClientError>) -> (Code, String) {
    let e = result.unwrap_err();
    (e.code(), e.message().to_owned())
}

fn id(text: &str) -> pb::AlertRef {
    pb::AlertRef { id: text.to_owned() }
}

mod grpc_api;
mod listing;
mod openapi_doc;
