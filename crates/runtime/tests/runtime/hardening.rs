//! What attacking an instance turned up (issue 14), as the host answers it: a task that panics takes
//! the instance down instead of leaving a live-looking zombie, a handler's panic is a 500, every error
//! answer is JSON, bodies are JSON only, connections are limited and idle ones closed, absurd fault
//! durations are refused, an unused dependency is not exported as down, and reflection describes
//! everything it lists.

use std::time::Duration;

use axum::{
    Router,
    body::Bytes,
    extract::Path,
    routing::{get, post},
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};
use tse_runtime::{
    faults::{FaultBoard, FaultKind},
    health::Check,
    host::{HostError, ServiceContext, ServiceDef, ServiceParts, no_settings},
    identity::ServiceKind,
};
use tse_testing::app::{TestApp, TestOptions, eventually, spawn_app, spawn_service, spawn_with};

/// A service whose routes misbehave on request.
fn misbehaving() -> ServiceDef {
    ServiceDef {
        kind: ServiceKind::ExchangeSimulator,
        migrations: &[],
        check: no_settings,
        build: |ctx: ServiceContext| {
            Box::pin(async move {
                let board = FaultBoard::<Outage>::open(&ctx, "test_faults_active", ()).await?;
                let crash = ctx.clone();
                let router = Router::new()
                    .route(
                        "/api/v1/panic",
                        get(|| async {
                            let handler_bug = std::hint::black_box(None::<&'static str>);
                            handler_bug.expect("a bug in a handler")
                        }),
                    )
                    .route("/api/v1/echo", post(|body: Bytes| async move { body }))
                    .route(
                        "/api/v1/items/{id}",
                        get(|Path(id): Path<String>| async move { id }),
                    )
                    .route(
                        "/api/v1/crash",
                        post(move || {
                            crash.spawn(async {
                                tokio::task::yield_now().await;
                                panic!("the engine met a bug");
                            });
                            async { "crashing" }
                        }),
                    )
                    .merge(board.router());
                ctx.health().set_check("engine", Check::up(true));
                Ok(ServiceParts::new().with_http(router))
            })
        },
    }
}

/// The one fault kind of the test service.
#[derive(Clone)]
struct Outage;

impl FaultKind for Outage {
    type Context = ();
    const KINDS: &'static [&'static str] = &["outage"];

    fn parse(kind: &str, _params: &serde_json::Value, _context: &()) -> Result<Self, String> {
        match kind {
            "outage" => Ok(Outage),
            other => Err(format!("unknown fault kind '{other}'")),
        }
    }
}

const TOKEN: &str = "hardening-test-token";

async fn spawn_misbehaving(env: Vec<(&'static str, &'static str)>) -> TestApp {
    spawn_with(
        misbehaving(),
        TestOptions {
            admin_token: Some(TOKEN),
            env,
            ..Default::default()
        },
    )
    .await
}

#[tokio::test]
async fn a_task_that_panics_turns_the_instance_unhealthy_and_stops_it_with_a_failure() {
    let mut app = spawn_misbehaving(Vec::new()).await;
    let (status, _) = app.post_json("/api/v1/crash", serde_json::json!({})).await;
    assert_eq!(status, 200);
    let instance = app.instance.take().expect("running");
    let health = instance.health().clone();
    let stopped = tokio::time::timeout(Duration::from_secs(30), instance.stopped())
        .await
        .expect("the instance stops on its own");
    let Err(HostError::Task { reason, .. }) = stopped else {
        panic!("a failure naming the task: {stopped:?}");
    };
    assert!(reason.contains("the engine met a bug"), "{reason}");
    let report = serde_json::to_value(health.report()).unwrap();
    assert_eq!(report["status"], "unhealthy", "{report}");
    let readiness = health.readiness().unwrap_err().join("; ");
    assert!(readiness.contains("the engine met a bug"), "{readiness}");
}

#[tokio::test]
async fn a_handler_that_panics_answers_500_in_json_and_the_instance_serves_on() {
    let app = spawn_misbehaving(Vec::new()).await;
    let (status, body) = app.get_json("/api/v1/panic").await;
    assert_eq!(status, 500);
    assert_eq!(body["error"]["code"], "internal");
    let (status, body) = app.get_json("/api/v1/health").await;
    assert_eq!((status, body["status"].as_str()), (200, Some("healthy")));
}

#[tokio::test]
async fn errors_from_the_framework_have_the_json_shape_too() {
    let app = spawn_misbehaving(Vec::new()).await;
    // Over the body size limit (2 MiB).
    let response = app
        .client
        .post(format!("{}/api/v1/echo", app.http))
        .header("content-type", "application/json")
        .body(vec![b' '; 3 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "payload_too_large");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("length limit"),
        "{body}"
    );

    // A path segment that is not UTF-8.
    let (status, body) = app.get_json("/api/v1/items/%FF%FE").await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "bad_request");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("UTF-8"),
        "{body}"
    );

    // A body cut short: the client promises 100 bytes, sends 10 and stops writing.
    let answer = raw_exchange(
        &app,
        b"POST /api/v1/echo HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"a\": 1234",
        true,
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains(r#"{"error":{"code":"bad_request""#), "{answer}");

    // The wrong method keeps its Allow header.
    let response = app
        .client
        .delete(format!("{}/api/v1/echo", app.http))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert!(response.headers().contains_key("allow"));
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "method_not_allowed");
}

#[tokio::test]
async fn production_posts_refuse_bodies_that_are_not_json_with_415() {
    let app = spawn_misbehaving(Vec::new()).await;
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/jsonx",
    ] {
        let response = app
            .client
            .post(format!("{}/api/v1/echo", app.http))
            .header("content-type", content_type)
            .body(r#"{"a": 1}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 415, "{content_type}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "unsupported_media_type");
    }
    let missing = raw_exchange(
        &app,
        b"POST /api/v1/echo HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}",
        false,
    )
    .await;
    assert!(missing.starts_with("HTTP/1.1 415"), "{missing}");
    for content_type in [
        "application/json",
        "application/json; charset=utf-8",
        "application/vnd.tse+json",
    ] {
        let response = app
            .client
            .post(format!("{}/api/v1/echo", app.http))
            .header("content-type", content_type)
            .body(r#"{"a": 1}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{content_type}");
    }
    // No body at all needs no content type.
    let response = app
        .client
        .post(format!("{}/api/v1/echo", app.http))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn connections_beyond_the_limit_are_refused_and_idle_ones_are_closed() {
    let app = spawn_misbehaving(vec![
        ("MAX_CONNECTIONS", "4"),
        ("HTTP_HEADER_TIMEOUT", "1s"),
        ("CONNECTION_IDLE_TIMEOUT", "2s"),
    ])
    .await;
    let addr = app.http.trim_start_matches("http://").to_owned();
    // Four clients hold every place: two send nothing, two send half a request.
    let mut held = Vec::new();
    for i in 0..4 {
        let mut tcp = TcpStream::connect(&addr).await.unwrap();
        if i % 2 == 1 {
            tcp.write_all(b"GET /api/v1/health HTTP/1.1\r\nhost: sl")
                .await
                .unwrap();
        }
        held.push(tcp);
    }
    // Wait until the server has admitted all four, then a fifth is answered 503 and closed.
    let refused = eventually(
        Duration::from_secs(10),
        "the fifth connection refused",
        || async {
            let mut tcp = TcpStream::connect(&addr).await.ok()?;
            tcp.write_all(b"GET /api/v1/health HTTP/1.1\r\nhost: x\r\n\r\n")
                .await
                .ok()?;
            let mut answer = String::new();
            let _ = tcp.read_to_string(&mut answer).await;
            answer.starts_with("HTTP/1.1 503").then_some(answer)
        },
    )
    .await;
    assert!(refused.contains(r#""code":"too_many_connections""#), "{refused}");
    assert!(refused.contains("limit of 4 connections"), "{refused}");
    // The server closes the held connections itself (header timeout), freeing their places.
    for mut tcp in held {
        let mut rest = Vec::new();
        let closed = tokio::time::timeout(Duration::from_secs(30), tcp.read_to_end(&mut rest)).await;
        assert!(
            closed.is_ok(),
            "the server closed a connection that sent no full request"
        );
    }
    let (status, _) = app.get_json("/api/v1/health").await;
    assert_eq!(status, 200);
    let metrics = app.metrics().await;
    let refused =
        tse_testing::app::sample(&metrics, "tse_connections_refused_total", &[("protocol", "http")]);
    assert!(refused.unwrap_or(0.0) >= 1.0, "{metrics}");
}

#[tokio::test]
async fn a_fault_with_an_absurd_duration_is_refused_with_400() {
    let app = spawn_misbehaving(Vec::new()).await;
    for duration in ["3000000d", "18446744073709551615s", "3651d"] {
        let (status, body) = app
            .admin(
                app.client
                    .post(format!("{}/chaos/v1/faults", app.http))
                    .json(&serde_json::json!({"kind": "outage", "duration": duration})),
                TOKEN,
            )
            .await;
        assert_eq!(status, 400, "{duration}: {body}");
        assert_eq!(body["error"]["code"], "invalid_duration");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("at most 3650d"),
            "{body}"
        );
    }
    let (status, body) = app
        .admin(
            app.client
                .post(format!("{}/chaos/v1/faults", app.http))
                .json(&serde_json::json!({"kind": "outage", "duration": "3650d"})),
            TOKEN,
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, _) = app.get_json("/api/v1/health").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_fault_request_or_its_params_that_are_not_json_objects_are_refused_with_400() {
    let app = spawn_misbehaving(Vec::new()).await;
    for (body, says) in [
        (
            serde_json::json!(["outage", {}, null]),
            "the body must be a JSON object",
        ),
        (
            serde_json::json!({"kind": "outage", "params": [null]}),
            "outage params must be a JSON object",
        ),
        (
            serde_json::json!({"kind": "outage", "params": null}),
            "outage params must be a JSON object",
        ),
    ] {
        let (status, answer) = app
            .admin(
                app.client
                    .post(format!("{}/chaos/v1/faults", app.http))
                    .json(&body),
                TOKEN,
            )
            .await;
        assert_eq!(status, 400, "{body}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{body}: {answer}");
    }
    let (status, answer) = app
        .admin(
            app.client
                .post(format!("{}/chaos/v1/faults", app.http))
                .json(&serde_json::json!({"kind": "outage", "duration": null})),
            TOKEN,
        )
        .await;
    assert_eq!(
        status, 201,
        "a null duration is documented: until cleared; {answer}"
    );
}

#[tokio::test]
async fn clearing_a_fault_that_has_already_ended_answers_409_and_an_unknown_one_404() {
    let app = spawn_misbehaving(Vec::new()).await;
    let fault = app
        .inject_fault(TOKEN, serde_json::json!({"kind": "outage"}))
        .await;
    let id = fault["id"].as_str().unwrap().to_owned();
    let clear = |id: String| {
        app.admin(
            app.client.delete(format!("{}/chaos/v1/faults/{id}", app.http)),
            TOKEN,
        )
    };
    let (status, body) = clear(id.clone()).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("cleared")),
        "{body}"
    );
    let (status, body) = clear(id.clone()).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "fault_not_active");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("has already ended (cleared at"),
        "{body}"
    );
    let (status, body) = clear("fault-nope".into()).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("unknown_fault"))
    );
}

#[test]
fn json_numbers_are_read_exactly() {
    // 0.9999999999999999 is below 1: a fault's `factor` in [0, 1) must not round up to 1.
    let value: f64 = serde_json::from_str("0.9999999999999999").unwrap();
    assert!(value < 1.0, "{value}");
}

#[tokio::test]
async fn embedded_storage_exports_no_postgres_dependency() {
    let app = spawn_app().await;
    let metrics = app.metrics().await;
    assert!(
        !metrics.contains("tse_dependency_up{"),
        "an instance on SQLite and the embedded cache depends on no server:\n{metrics}"
    );
}

#[tokio::test]
async fn reflection_describes_every_service_it_lists_in_both_versions() {
    use tonic_reflection::pb::{v1, v1alpha};
    let app = spawn_service(ServiceDef::host_only(ServiceKind::ExchangeSimulator)).await;
    let names = [
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
        "tse.runtime.v1.InstanceService",
    ];
    let mut client = v1::server_reflection_client::ServerReflectionClient::new(app.grpc_channel().await);
    let requests: Vec<_> = names
        .iter()
        .map(|name| v1::ServerReflectionRequest {
            host: String::new(),
            message_request: Some(
                v1::server_reflection_request::MessageRequest::FileContainingSymbol((*name).to_owned()),
            ),
        })
        .collect();
    let mut answers = client
        .server_reflection_info(tokio_stream::iter(requests))
        .await
        .unwrap()
        .into_inner();
    for name in names {
        let answer = answers.message().await.unwrap().expect("an answer");
        assert!(
            matches!(
                answer.message_response,
                Some(v1::server_reflection_response::MessageResponse::FileDescriptorResponse(_))
            ),
            "v1 describes {name}: {answer:?}"
        );
    }
    let mut client = v1alpha::server_reflection_client::ServerReflectionClient::new(app.grpc_channel().await);
    let requests: Vec<_> = names
        .iter()
        .map(|name| v1alpha::ServerReflectionRequest {
            host: String::new(),
            message_request: Some(
                v1alpha::server_reflection_request::MessageRequest::FileContainingSymbol((*name).to_owned()),
            ),
        })
        .collect();
    let mut answers = client
        .server_reflection_info(tokio_stream::iter(requests))
        .await
        .unwrap()
        .into_inner();
    for name in names {
        let answer = answers.message().await.unwrap().expect("an answer");
        assert!(
            matches!(
                answer.message_response,
                Some(v1alpha::server_reflection_response::MessageResponse::FileDescriptorResponse(_))
            ),
            "v1alpha describes {name}: {answer:?}"
        );
    }
}

/// Sends raw bytes to the instance's HTTP port and reads the answer until the server closes; with
/// `half_close`, the client stops writing after the bytes.
async fn raw_exchange(app: &TestApp, request: &[u8], half_close: bool) -> String {
    let mut tcp = TcpStream::connect(app.http.trim_start_matches("http://"))
        .await
        .unwrap();
    tcp.write_all(request).await.unwrap();
    if half_close {
        tcp.shutdown().await.unwrap();
    }
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(30), tcp.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}
