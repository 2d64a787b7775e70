//! The HTTP face every instance has: health, readiness, metrics, JSON errors for unknown routes, and
//! RED metrics around every route including the service's own.

use axum::{
    Json, Router,
    extract::{Request, State},
    middleware,
    response::{IntoResponse, Response},
    routing::get,
    serve::ListenerExt,
};
use http::{StatusCode, header};
use serde_json::json;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use serde::Deserialize;

use crate::{
    api::{ApiError, Query},
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
    host.merge(service)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(tracking, track_http))
}

/// Serves `router` until `shutdown`, then lets in-flight requests finish.
pub(super) async fn serve(
    router: Router,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), String> {
    let listener = listener.tap_io(|tcp| {
        // Small JSON answers should leave at once rather than wait for Nagle.
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
        .map_err(|e| e.to_string())
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
        service.is_none_or(|s| r.service == s.name())
            && (!query.healthy || r.status == Status::Healthy.as_str())
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
                    "service": r.service,
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
