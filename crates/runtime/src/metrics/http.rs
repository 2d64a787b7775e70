//! HTTP RED metrics: `http_requests_total{method,endpoint,status_code}`,
//! `http_request_duration_seconds{method,endpoint}`, `http_requests_in_flight{method}`.
//!
//! `endpoint` is the route pattern axum matched (`/api/v1/orders/{id}`), or `unmatched` for a path no
//! route knows, so label cardinality stays bounded whatever clients send.

use std::time::Instant;

use axum::{
    extract::{MatchedPath, Request, State},
    middleware::Next,
    response::Response,
};
use http::Method;
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry};
use tracing::Instrument;

use super::{InFlight, LATENCY_BUCKETS, registered};

/// The `endpoint` label of a request no route matched.
pub const UNMATCHED_ENDPOINT: &str = "unmatched";

/// HTTP RED metrics of one instance.
#[derive(Clone)]
pub struct HttpMetrics {
    requests: IntCounterVec,
    duration: HistogramVec,
    in_flight: IntGaugeVec,
}

impl HttpMetrics {
    pub(super) fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let requests = registered(
            registry,
            IntCounterVec::new(
                Opts::new(
                    "http_requests_total",
                    "HTTP requests answered, by route pattern and status code.",
                ),
                &["method", "endpoint", "status_code"],
            )?,
        )?;
        let duration = registered(
            registry,
            HistogramVec::new(
                HistogramOpts::new("http_request_duration_seconds", "Time to answer an HTTP request.")
                    .buckets(LATENCY_BUCKETS.to_vec()),
                &["method", "endpoint"],
            )?,
        )?;
        let in_flight = registered(
            registry,
            IntGaugeVec::new(
                Opts::new("http_requests_in_flight", "HTTP requests being answered now."),
                &["method"],
            )?,
        )?;
        Ok(Self {
            requests,
            duration,
            in_flight,
        })
    }
}

/// Bounded `method` label: the standard methods by name, anything else as `OTHER`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "OTHER",
    }
}

/// State of [`track_http`]: the metrics and the instance's tracing span, so handler logs land in the
/// instance's log file even though hyper runs connections on tasks of their own.
#[derive(Clone)]
pub struct HttpTracking {
    /// Where to count.
    pub metrics: HttpMetrics,
    /// The instance span to run handlers in.
    pub span: tracing::Span,
}

/// Axum middleware counting every request, applied with `Router::layer` so it sees the matched route.
pub async fn track_http(State(tracking): State<HttpTracking>, request: Request, next: Next) -> Response {
    let method = method_label(request.method());
    let endpoint = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| UNMATCHED_ENDPOINT.to_owned(), |p| p.as_str().to_owned());
    let metrics = &tracking.metrics;
    let in_flight = InFlight::enter(metrics.in_flight.with_label_values(&[method]));
    let started = Instant::now();
    let response = next.run(request).instrument(tracking.span.clone()).await;
    drop(in_flight);
    let status = response.status();
    metrics
        .requests
        .with_label_values(&[method, endpoint.as_str(), status.as_str()])
        .inc();
    metrics
        .duration
        .with_label_values(&[method, endpoint.as_str()])
        .observe(started.elapsed().as_secs_f64());
    response
}
