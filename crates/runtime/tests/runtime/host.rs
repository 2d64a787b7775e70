//! The instance host seen from outside: health, readiness, metrics, gRPC health and reflection,
//! JSON errors, and graceful shutdown.

use std::time::Duration;

use axum::{Router, routing::get};
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};
use tse_proto::runtime::v1::{GetInfoRequest, instance_service_client::InstanceServiceClient};
use tse_runtime::{
    host::{ServiceDef, ServiceParts},
    identity::ServiceKind,
};

use tse_testing::app::{label_values, sample, spawn_app, spawn_service};

#[tokio::test]
async fn health_reports_the_seed_fields_and_the_instance_identity() {
    let app = spawn_app().await;
    let (status, body) = app.get_json("/api/v1/health").await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "healthy");
    assert_eq!(body["service"], "exchange-simulator");
    assert_eq!(body["instance"], app.instance_name.as_str());
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(body["environment"], "test");
    assert_eq!(body["service_type"], "multi-instance");
    assert_eq!(body["entity_type"], "exchange");
    let expected_schema = app.instance_name.to_lowercase().replace('-', "_");
    assert_eq!(body["schema"], expected_schema.as_str());
    assert_eq!(
        body["redis_namespace"],
        app.instance_name.replace('-', ":").as_str()
    );
    let timestamp = body["timestamp"].as_str().unwrap();
    assert!(
        time::OffsetDateTime::parse(timestamp, &time::format_description::well_known::Rfc3339).is_ok(),
        "timestamp {timestamp} is RFC 3339"
    );
    assert!(body["uptime_seconds"].as_f64().unwrap() >= 0.0);
    assert_eq!(body["ready"], true);
}

#[tokio::test]
async fn every_instance_publishes_an_openapi_document_of_its_routes() {
    let app = spawn_app().await;
    let doc = app.assert_openapi_routed(None).await;
    for path in [
        "/api/v1/health",
        "/api/v1/ready",
        "/metrics",
        "/api/v1/openapi.json",
        "/api/v1/discovery/services",
    ] {
        assert!(doc["paths"][path]["get"].is_object(), "{path} is described");
    }
    assert!(
        doc["info"]["title"]
            .as_str()
            .unwrap()
            .contains(app.instance_name.as_str())
    );
}

#[tokio::test]
async fn ready_answers_200_when_running() {
    let app = spawn_app().await;
    let (status, body) = app.get_json("/api/v1/ready").await;
    assert_eq!(status, 200);
    assert_eq!(body["ready"], true);
    assert_eq!(body["instance"], app.instance_name.as_str());
}

#[tokio::test]
async fn unknown_routes_answer_json_errors() {
    let app = spawn_app().await;
    let (status, body) = app.get_json("/api/v1/nothing-here").await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "not_found");
    assert_eq!(body["error"]["message"], "no route for GET /api/v1/nothing-here");
    let response = app
        .client
        .post(format!("{}/api/v1/health", app.http))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "method_not_allowed");
}

#[tokio::test]
async fn metrics_count_http_requests_by_route_pattern() {
    let service = ServiceDef {
        kind: ServiceKind::ExchangeSimulator,
        migrations: &[],
        check: tse_runtime::host::no_settings,
        build: |_| {
            Box::pin(async {
                let router = Router::new().route("/api/v1/orders/{id}", get(|| async { "order" }));
                Ok(ServiceParts::new().with_http(router))
            })
        },
    };
    let app = spawn_service(service).await;
    for id in ["a1", "b2", "c3"] {
        assert_eq!(app.get(&format!("/api/v1/orders/{id}")).await.status(), 200);
    }
    app.get("/api/v1/health").await;
    let metrics = app.metrics().await;
    let orders = [
        ("method", "GET"),
        ("endpoint", "/api/v1/orders/{id}"),
        ("status_code", "200"),
    ];
    assert_eq!(sample(&metrics, "http_requests_total", &orders), Some(3.0));
    assert_eq!(
        sample(
            &metrics,
            "http_request_duration_seconds_count",
            &[("method", "GET"), ("endpoint", "/api/v1/orders/{id}")]
        ),
        Some(3.0)
    );
    // The scrape itself is in flight while it renders.
    assert_eq!(
        sample(&metrics, "http_requests_in_flight", &[("method", "GET")]),
        Some(1.0)
    );
    let endpoints = label_values(&metrics, "http_requests_total", "endpoint");
    assert!(
        !endpoints.iter().any(|e| e.contains("a1")),
        "raw paths leaked: {endpoints:?}"
    );
}

#[tokio::test]
async fn random_unknown_paths_do_not_create_label_values() {
    let app = spawn_app().await;
    for i in 0..50 {
        app.get(&format!("/random/{i}/{}", i * 7919)).await;
    }
    let metrics = app.metrics().await;
    let endpoints = label_values(&metrics, "http_requests_total", "endpoint");
    assert_eq!(
        endpoints.into_iter().collect::<Vec<_>>(),
        ["unmatched"],
        "only one label value for unknown paths"
    );
    assert_eq!(
        sample(
            &metrics,
            "http_requests_total",
            &[("endpoint", "unmatched"), ("status_code", "404")]
        ),
        Some(50.0)
    );
}

#[tokio::test]
async fn metrics_identify_the_instance_and_the_process() {
    let app = spawn_app().await;
    app.get("/api/v1/health").await;
    let metrics = app.metrics().await;
    let info = sample(
        &metrics,
        "tse_instance_info",
        &[
            ("service", "exchange-simulator"),
            ("instance_name", app.instance_name.as_str()),
            ("service_type", "multi-instance"),
            ("entity_type", "exchange"),
            ("version", env!("CARGO_PKG_VERSION")),
        ],
    );
    assert_eq!(info, Some(1.0));
    assert!(sample(&metrics, "process_resident_memory_bytes", &[]).unwrap() > 0.0);
    assert!(sample(&metrics, "process_cpu_seconds_total", &[]).is_some());
    assert!(metrics.contains("# TYPE http_requests_total counter"));
}

#[tokio::test]
async fn grpc_health_check_answers_serving_to_a_standard_client() {
    let app = spawn_app().await;
    let mut client = HealthClient::new(app.grpc_channel().await);
    for service in ["", "tse.runtime.v1.InstanceService"] {
        let response = client
            .check(HealthCheckRequest {
                service: service.to_owned(),
            })
            .await
            .expect("health check");
        assert_eq!(
            response.into_inner().status(),
            ServingStatus::Serving,
            "service {service:?}"
        );
    }
    let unknown = client
        .check(HealthCheckRequest {
            service: "no.such.Service".to_owned(),
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::NotFound);
}

#[tokio::test]
async fn grpc_calls_are_counted_by_method_and_status() {
    let app = spawn_app().await;
    let channel = app.grpc_channel().await;
    let info = InstanceServiceClient::new(channel.clone())
        .get_info(GetInfoRequest {})
        .await
        .expect("GetInfo")
        .into_inner();
    assert_eq!(info.instance, app.instance_name);
    assert_eq!(info.status, "healthy");
    assert!(info.ready);

    let mut health = HealthClient::new(channel);
    let _ = health
        .check(HealthCheckRequest {
            service: "no.such.Service".into(),
        })
        .await;

    let metrics = app.metrics().await;
    assert_eq!(
        sample(
            &metrics,
            "grpc_server_requests_total",
            &[
                ("method", "/tse.runtime.v1.InstanceService/GetInfo"),
                ("status", "OK")
            ]
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &metrics,
            "grpc_server_requests_total",
            &[
                ("method", "/grpc.health.v1.Health/Check"),
                ("status", "NOT_FOUND")
            ]
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &metrics,
            "grpc_server_request_duration_seconds_count",
            &[("method", "/tse.runtime.v1.InstanceService/GetInfo")]
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &metrics,
            "grpc_server_requests_in_flight",
            &[("method", "/tse.runtime.v1.InstanceService/GetInfo")]
        ),
        Some(0.0)
    );
}

#[tokio::test]
async fn unknown_grpc_methods_share_one_label() {
    let app = spawn_app().await;
    let channel = app.grpc_channel().await;
    for i in 0..20 {
        let mut grpc = tonic::client::Grpc::new(channel.clone());
        grpc.ready().await.unwrap();
        let path = format!("/random.Service{i}/Method{i}").parse().unwrap();
        let result: Result<tonic::Response<()>, tonic::Status> =
            grpc.unary(tonic::Request::new(()), path, EmptyCodec).await;
        assert_eq!(result.unwrap_err().code(), tonic::Code::Unimplemented);
    }
    let metrics = app.metrics().await;
    assert_eq!(
        label_values(&metrics, "grpc_server_requests_total", "method")
            .into_iter()
            .collect::<Vec<_>>(),
        ["unknown"]
    );
    assert_eq!(
        sample(
            &metrics,
            "grpc_server_requests_total",
            &[("method", "unknown"), ("status", "UNIMPLEMENTED")]
        ),
        Some(20.0)
    );
}

#[tokio::test]
async fn reflection_lists_exactly_the_served_services() {
    use tonic_reflection::pb::v1::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    };
    let app = spawn_app().await;
    let mut client = ServerReflectionClient::new(app.grpc_channel().await);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut stream = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .expect("reflection")
        .into_inner();
    let response = stream.message().await.unwrap().expect("one answer");
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
        panic!("unexpected answer {response:?}");
    };
    let mut names: Vec<_> = list.service.into_iter().map(|s| s.name).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection",
            "tse.runtime.v1.InstanceService"
        ]
    );
}

#[tokio::test]
async fn shutdown_drains_in_flight_requests_then_stops_cleanly() {
    let service = ServiceDef {
        kind: ServiceKind::ExchangeSimulator,
        migrations: &[],
        check: tse_runtime::host::no_settings,
        build: |_| {
            Box::pin(async {
                let router = Router::new().route(
                    "/api/v1/slow",
                    get(|| async {
                        tokio::time::sleep(Duration::from_millis(400)).await;
                        "done"
                    }),
                );
                Ok(ServiceParts::new().with_http(router))
            })
        },
    };
    let mut app = spawn_service(service).await;
    let slow = tokio::spawn(app.client.get(format!("{}/api/v1/slow", app.http)).send());
    tokio::time::sleep(Duration::from_millis(100)).await;
    let health = app.instance.as_ref().unwrap().health().clone();
    app.stop().await.expect("clean stop");
    let response = slow.await.unwrap().expect("in-flight request completed");
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "done");
    assert_eq!(health.readiness(), Err(vec!["shutting down".to_owned()]));
    // The listener is closed: new connections are refused.
    assert!(
        app.client
            .get(format!("{}/api/v1/health", app.http))
            .send()
            .await
            .is_err()
    );
}

#[tokio::test]
async fn service_tasks_are_stopped_and_awaited_on_shutdown() {
    use std::sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    };
    static FLUSHED: AtomicBool = AtomicBool::new(false);
    let service = ServiceDef {
        kind: ServiceKind::ExchangeSimulator,
        migrations: &[],
        check: tse_runtime::host::no_settings,
        build: |ctx| {
            Box::pin(async move {
                let stopping = ctx.stopping();
                let marker = Arc::new(());
                ctx.spawn(async move {
                    stopping.cancelled().await;
                    // Simulates a final flush that takes a moment.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    drop(marker);
                    FLUSHED.store(true, Ordering::SeqCst);
                });
                Ok(ServiceParts::new())
            })
        },
    };
    let mut app = spawn_service(service).await;
    assert!(!FLUSHED.load(Ordering::SeqCst));
    app.stop().await.expect("clean stop");
    assert!(
        FLUSHED.load(Ordering::SeqCst),
        "the host waited for the task's flush"
    );
}

#[tokio::test]
async fn a_taken_port_is_refused_naming_instance_and_address() {
    let app = spawn_app().await;
    let port = app.grpc.port();
    let overrides = tse_runtime::config::ServeOverrides {
        service: Some("audit-correlator".into()),
        http_port: Some(port),
        grpc_port: Some(0),
        ..Default::default()
    };
    let mut env = std::collections::BTreeMap::new();
    env.insert("BIND_ADDRESS", "127.0.0.1");
    let config = tse_runtime::config::InstanceConfig::load(&overrides, &env).unwrap();
    let error = tse_runtime::host::Listeners::bind(&config)
        .await
        .err()
        .expect("port taken");
    let message = error.to_string();
    assert!(
        message.starts_with(&format!(
            "audit-correlator cannot listen for HTTP on 127.0.0.1:{port}"
        )),
        "{message}"
    );
}

/// A codec for calling arbitrary paths with empty messages.
#[derive(Clone, Copy, Default)]
struct EmptyCodec;

impl tonic::codec::Codec for EmptyCodec {
    type Encode = ();
    type Decode = ();
    type Encoder = EmptyCodec;
    type Decoder = EmptyCodec;

    fn encoder(&mut self) -> Self::Encoder {
        EmptyCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        EmptyCodec
    }
}

impl tonic::codec::Encoder for EmptyCodec {
    type Item = ();
    type Error = tonic::Status;

    fn encode(&mut self, _item: (), _dst: &mut tonic::codec::EncodeBuf<'_>) -> Result<(), tonic::Status> {
        Ok(())
    }
}

impl tonic::codec::Decoder for EmptyCodec {
    type Item = ();
    type Error = tonic::Status;

    fn decode(&mut self, _src: &mut tonic::codec::DecodeBuf<'_>) -> Result<Option<()>, tonic::Status> {
        Ok(Some(()))
    }
}
