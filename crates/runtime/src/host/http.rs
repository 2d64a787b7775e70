//! The HTTP face every instance has: health, readiness, metrics, JSON errors for unknown routes, and
//! RED metrics around every route including the service's own; every error answer in the JSON shape,
//! JSON-only request bodies, a handler's panic answered 500; and the server loop with the instance's
//! connection limits.

use std::{panic::AssertUnwindSafe, sync::Arc, time::Duration};

use axum::{
    Json, Router,
    extract::{Request, State},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::get,
};
use futures::FutureExt;
use http::{StatusCode, header};
use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::{conn::auto, graceful::GracefulShutdown},
    service::TowerToHyperService,
};
use serde::Deserialize;
use serde_json::json;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;
use tracing::{error, warn};

use super::{
    conn::{Gate, Throttle, Tracked},
    panic_message,
};
use crate::{
    api::{ApiError, Query},
    config::ConnectionLimits,
    discovery::{Discovery, DiscoveryError},
    health::{Health, Status},
    identity::ServiceKind,
    metrics::{self, HttpTracking, InstanceMetrics, track_http},
};

#[derive(Clone)]
struct HostState {
    health: Health,
    metrics: InstanceMetrics,
    discovery: Discovery,
}

/// Builds the instance's router: the host's endpoints, the service's routes, fallbacks, metrics.
pub(super) fn assemble(
    service: Router,
    openapi: serde_json::Value,
    health: &Health,
    metrics: &InstanceMetrics,
    discovery: &Discovery,
    span: &tracing::Span,
) -> Router {
    let state = HostState {
        health: health.clone(),
        metrics: metrics.clone(),
        discovery: discovery.clone(),
    };
    // The document never changes while the instance runs: rendered once, served as bytes.
    let openapi = axum::body::Bytes::from(openapi.to_string());
    let host = Router::new()
        .route(
            "/api/v1/openapi.json",
            get(move || {
                let openapi = openapi.clone();
                async move { ([(header::CONTENT_TYPE, "application/json")], openapi) }
            }),
        )
        .route("/api/v1/health", get(health_handler))
        .route("/api/v1/ready", get(ready_handler))
        .route("/metrics", get(metrics_handler))
        .route("/api/v1/discovery/services", get(services_handler))
        .route("/api/v1/discovery/prometheus", get(prometheus_sd_handler))
        .with_state(state);
    let tracking = HttpTracking {
        metrics: metrics.http().clone(),
        span: span.clone(),
    };
    // Production routes take JSON bodies only; the back doors' extractors already insist on it.
    let service = service.layer(middleware::from_fn(require_json_body));
    host.merge(service)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(json_errors))
        .layer(middleware::from_fn(catch_panic))
        .layer(middleware::from_fn_with_state(tracking, track_http))
}

/// Refuses a POST that carries a body in anything but JSON with `415`, whatever the handler would
/// make of it: a form or text body never reaches a handler that reads JSON leniently.
async fn require_json_body(request: Request, next: Next) -> Response {
    let headers = request.headers();
    let has_body = request.method() == http::Method::POST
        && (headers.contains_key(header::TRANSFER_ENCODING)
            || headers
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.trim() != "0"));
    if has_body && !is_json(headers.get(header::CONTENT_TYPE)) {
        return ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as JSON with `Content-Type: application/json`",
        )
        .into_response();
    }
    next.run(request).await
}

/// Whether a `Content-Type` is JSON (`application/json`, with parameters, or `application/*+json`).
fn is_json(content_type: Option<&http::HeaderValue>) -> bool {
    let Some(essence) = content_type
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
    else {
        return false;
    };
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Gives every error answer the API's JSON shape (`{"error": {"code", "message"}}`), also those that
/// axum or hyper produce as plain text: a body over the size limit (413), a path that is not valid
/// UTF-8 (400), a body cut short (400). The plain text becomes the message; headers such as `Allow`
/// or `WWW-Authenticate` stay.
async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error())
        || is_json(response.headers().get(header::CONTENT_TYPE))
    {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 16 * 1024).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let message = match text.trim() {
        "" => status.canonical_reason().unwrap_or("error").to_owned(),
        text => text.to_owned(),
    };
    let error = ApiError::new(status, error_code(status), message).into_response();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.remove(header::CONTENT_TYPE);
    let (error_parts, body) = error.into_parts();
    parts.headers.extend(error_parts.headers);
    Response::from_parts(parts, body)
}

/// The `code` of an error answer made from a bare status.
fn error_code(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::REQUEST_TIMEOUT => "request_timeout",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::URI_TOO_LONG => "uri_too_long",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "unprocessable_entity",
        StatusCode::TOO_MANY_REQUESTS => "too_many_requests",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        _ if status.is_server_error() => "internal",
        _ => "invalid_request",
    }
}

/// Answers `500` instead of dropping the connection when a handler panics, and says so in the
/// instance's log: one bad request must not look like a network failure, nor go unnoticed.
async fn catch_panic(request: Request, next: Next) -> Response {
    let route = format!("{} {}", request.method(), request.uri().path());
    match AssertUnwindSafe(next.run(request)).catch_unwind().await {
        Ok(response) => response,
        Err(panic) => {
            error!(route, panic = %panic_message(panic.as_ref()), "a request handler panicked");
            ApiError::internal("the request failed inside the instance; its log says why").into_response()
        }
    }
}

/// Serves `router` until `shutdown`, then lets in-flight requests finish. Connections are admitted
/// through `gate`; each must send its request headers within the header timeout and is closed after
/// moving no bytes for the idle timeout.
pub(super) async fn serve(
    router: Router,
    listener: TcpListener,
    shutdown: CancellationToken,
    gate: Arc<Gate>,
    limits: ConnectionLimits,
) -> Result<(), String> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(limits.idle_timeout / 2)
        .enable_connect_protocol();
    let graceful = GracefulShutdown::new();
    let accept_failures = Throttle::default();
    loop {
        let (tcp, peer) = tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, or a connection reset before it was accepted: the
                    // listener itself is fine, so wait a little and go on.
                    if accept_failures.allow() {
                        warn!(%error, "cannot accept HTTP connections; retrying");
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Some(admission) = gate.admit() else {
            gate.refuse("HTTP", Some(peer));
            gate.refuse_http(tcp);
            continue;
        };
        // Small JSON answers should leave at once rather than wait for Nagle.
        let _ = tcp.set_nodelay(true);
        let io = TokioIo::new(Tracked::new(tcp, admission, limits.idle_timeout));
        let service = TowerToHyperService::new(
            router
                .clone()
                .map_request(|request: http::Request<Incoming>| request.map(axum::body::Body::new)),
        );
        let connection = graceful.watch(builder.serve_connection_with_upgrades(io, service).into_owned());
        tokio::spawn(async move {
            // A client that goes away or times out ends its connection; nothing to report.
            let _ = connection.await;
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

async fn health_handler(State(state): State<HostState>) -> Response {
    let report = state.health.report();
    // Degraded still serves: only an unhealthy instance asks to be restarted.
    let status = if report.status == Status::Unhealthy {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (status, Json(report)).into_response()
}

async fn ready_handler(State(state): State<HostState>) -> Response {
    let identity = state.health.identity();
    match state.health.readiness() {
        Ok(()) => Json(json!({
            "ready": true,
            "service": identity.service().name(),
            "instance": identity.instance().as_str(),
        }))
        .into_response(),
        Err(reasons) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({
                "ready": false,
                "service": identity.service().name(),
                "instance": identity.instance().as_str(),
                "reasons": reasons,
                "error": {"code": "not_ready", "message": reasons.join("; ")},
            })),
        )
            .into_response(),
    }
}

async fn metrics_handler(State(state): State<HostState>) -> Response {
    match state.metrics.render() {
        Ok(body) => ([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], body).into_response(),
        Err(e) => ApiError::internal(format!("cannot render metrics: {e}")).into_response(),
    }
}

/// Filters of `GET /api/v1/discovery/services`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServicesQuery {
    /// Only instances of this service.
    service: Option<String>,
    /// Only instances whose status is `healthy`.
    #[serde(default)]
    healthy: bool,
}

async fn services_handler(
    State(state): State<HostState>,
    Query(query): Query<ServicesQuery>,
) -> Result<Response, ApiError> {
    let service = query
        .service
        .as_deref()
        .map(ServiceKind::parse)
        .transpose()
        .map_err(|e| ApiError::bad_request("unknown_service", e.to_string()))?;
    let registry = state.discovery.registry();
    let mut services = registry.list().await.map_err(registry_error)?;
    services.retain(|r| {
        service.is_none_or(|s| r.service == s) && (!query.healthy || r.status == Status::Healthy)
    });
    Ok(Json(json!({
        "registry": registry.kind(),
        "count": services.len(),
        "services": services,
    }))
    .into_response())
}

/// Prometheus HTTP service discovery: one target group per live instance of this instance's
/// ecosystem (its `ENVIRONMENT`: another ecosystem sharing the registry is another Prometheus's
/// business), with the labels `service`, `instance_name`, `service_type` and `entity_type`.
async fn prometheus_sd_handler(State(state): State<HostState>) -> Result<Response, ApiError> {
    let environment = state.discovery.registration().environment;
    let services = state.discovery.registry().list().await.map_err(registry_error)?;
    let groups: Vec<_> = services
        .iter()
        .filter(|r| r.environment == environment)
        .map(|r| {
            json!({
                "targets": [format!("{}:{}", r.host, r.http_port)],
                "labels": {
                    "service": r.service.name(),
                    "instance_name": r.instance,
                    "service_type": r.service_type,
                    "entity_type": r.entity_type,
                },
            })
        })
        .collect();
    Ok(Json(groups).into_response())
}

fn registry_error(error: DiscoveryError) -> ApiError {
    ApiError::unavailable("registry_unavailable", error.to_string())
}

async fn not_found(request: Request) -> ApiError {
    ApiError::not_found(
        "not_found",
        format!("no route for {} {}", request.method(), request.uri().path()),
    )
}

async fn method_not_allowed(request: Request) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{} is not allowed on {}", request.method(), request.uri().path()),
    )
}
