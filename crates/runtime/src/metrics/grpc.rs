//! gRPC RED metrics: `grpc_server_requests_total{method,status}`,
//! `grpc_server_request_duration_seconds{method}`, `grpc_server_requests_in_flight{method}`.
//!
//! A tower layer on the tonic server. `method` is the full path (`/tse.runtime.v1.InstanceService/GetInfo`)
//! when the server serves it and `unknown` otherwise. `status` is the gRPC code name (`OK`,
//! `NOT_FOUND`, ...), read from the response headers (trailers-only answers) or from the trailers at the
//! end of the body; a call whose body is dropped before its trailers (client gone) counts as
//! `CANCELLED`. Duration runs until the last frame, so streams are measured whole.

use std::{
    collections::HashSet,
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll, ready},
    time::Instant,
};

use http::{HeaderMap, Request, Response};
use http_body::{Body, Frame};
use pin_project_lite::pin_project;
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry};
use tower::{Layer, Service};
use tracing::Instrument;

use super::{InFlight, LATENCY_BUCKETS, registered};

/// The `method` label of a path the server does not serve.
pub const UNKNOWN_METHOD: &str = "unknown";

/// gRPC RED metrics of one instance.
#[derive(Clone)]
pub struct GrpcMetrics {
    requests: IntCounterVec,
    duration: HistogramVec,
    in_flight: IntGaugeVec,
}

impl GrpcMetrics {
    pub(super) fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let requests = registered(
            registry,
            IntCounterVec::new(
                Opts::new(
                    "grpc_server_requests_total",
                    "gRPC calls completed, by method and status code.",
                ),
                &["method", "status"],
            )?,
        )?;
        let duration = registered(
            registry,
            HistogramVec::new(
                HistogramOpts::new(
                    "grpc_server_request_duration_seconds",
                    "Time from call to last response frame.",
                )
                .buckets(LATENCY_BUCKETS.to_vec()),
                &["method"],
            )?,
        )?;
        let in_flight = registered(
            registry,
            IntGaugeVec::new(
                Opts::new("grpc_server_requests_in_flight", "gRPC calls being answered now."),
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

/// Tower layer that meters every call of a tonic server and runs it in the instance's span.
#[derive(Clone)]
pub struct GrpcMetricsLayer {
    metrics: GrpcMetrics,
    methods: Arc<HashSet<String>>,
    span: tracing::Span,
}

impl GrpcMetricsLayer {
    /// Meters calls into `metrics`, running them inside `span`. `methods` are the full paths the server
    /// serves; any other path is labelled `unknown`, so random paths cannot create label values.
    pub fn new(metrics: GrpcMetrics, methods: HashSet<String>, span: tracing::Span) -> Self {
        Self {
            metrics,
            methods: Arc::new(methods),
            span,
        }
    }
}

fn method_label(methods: &HashSet<String>, path: &str) -> String {
    if methods.contains(path) {
        path.to_owned()
    } else {
        UNKNOWN_METHOD.to_owned()
    }
}

impl<S> Layer<S> for GrpcMetricsLayer {
    type Service = GrpcMetricsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcMetricsService {
            inner,
            metrics: self.metrics.clone(),
            methods: self.methods.clone(),
            span: self.span.clone(),
        }
    }
}

/// The service [`GrpcMetricsLayer`] wraps around the tonic router.
#[derive(Clone)]
pub struct GrpcMetricsService<S> {
    inner: S,
    metrics: GrpcMetrics,
    methods: Arc<HashSet<String>>,
    span: tracing::Span,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for GrpcMetricsService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ResBody: Body,
{
    type Response = Response<MeteredBody<ResBody>>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let method = method_label(&self.methods, request.uri().path());
        let call = Call {
            in_flight: InFlight::enter(self.metrics.in_flight.with_label_values(&[method.as_str()])),
            metrics: self.metrics.clone(),
            method,
            started: Instant::now(),
        };
        let future = self.inner.call(request).instrument(self.span.clone());
        Box::pin(async move {
            let response = future.await?;
            // Trailers-only answers (errors, unknown methods) carry the status in the headers.
            let call = match status_of(response.headers()) {
                Some(status) => {
                    call.finish(status);
                    None
                }
                None => Some(call),
            };
            Ok(response.map(|inner| MeteredBody { inner, call }))
        })
    }
}

/// One call being measured; records itself once, when finished or dropped.
struct Call {
    metrics: GrpcMetrics,
    method: String,
    started: Instant,
    in_flight: InFlight,
}

impl Call {
    fn finish(self, status: &'static str) {
        let Call {
            metrics,
            method,
            started,
            in_flight,
        } = self;
        drop(in_flight);
        metrics
            .requests
            .with_label_values(&[method.as_str(), status])
            .inc();
        metrics
            .duration
            .with_label_values(&[method.as_str()])
            .observe(started.elapsed().as_secs_f64());
    }
}

pin_project! {
    /// Response body that records the call when its trailers pass, or when it is dropped early.
    pub struct MeteredBody<B> {
        #[pin]
        inner: B,
        call: Option<Call>,
    }

    impl<B> PinnedDrop for MeteredBody<B> {
        fn drop(this: Pin<&mut Self>) {
            if let Some(call) = this.project().call.take() {
                call.finish("CANCELLED");
            }
        }
    }
}

impl<B: Body> Body for MeteredBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let frame = ready!(this.inner.poll_frame(cx));
        let status = match &frame {
            Some(Ok(frame)) => frame.trailers_ref().map(|t| status_of(t).unwrap_or("UNKNOWN")),
            Some(Err(_)) => Some("INTERNAL"),
            // A gRPC body always ends with trailers; one that does not is a broken answer.
            None => Some("UNKNOWN"),
        };
        if let Some(status) = status
            && let Some(call) = this.call.take()
        {
            call.finish(status);
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

fn status_of(headers: &HeaderMap) -> Option<&'static str> {
    let code: i32 = headers.get("grpc-status")?.to_str().ok()?.trim().parse().ok()?;
    Some(code_name(code))
}

/// The canonical name of a gRPC status code (the `status` label).
fn code_name(code: i32) -> &'static str {
    match code {
        0 => "OK",
        1 => "CANCELLED",
        2 => "UNKNOWN",
        3 => "INVALID_ARGUMENT",
        4 => "DEADLINE_EXCEEDED",
        5 => "NOT_FOUND",
        6 => "ALREADY_EXISTS",
        7 => "PERMISSION_DENIED",
        8 => "RESOURCE_EXHAUSTED",
        9 => "FAILED_PRECONDITION",
        10 => "ABORTED",
        11 => "OUT_OF_RANGE",
        12 => "UNIMPLEMENTED",
        13 => "INTERNAL",
        14 => "UNAVAILABLE",
        15 => "DATA_LOSS",
        16 => "UNAUTHENTICATED",
        _ => "UNKNOWN",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_read_from_headers_by_name() {
        let mut headers = HeaderMap::new();
        assert_eq!(status_of(&headers), None);
        headers.insert("grpc-status", "5".parse().unwrap());
        assert_eq!(status_of(&headers), Some("NOT_FOUND"));
        headers.insert("grpc-status", "99".parse().unwrap());
        assert_eq!(status_of(&headers), Some("UNKNOWN"));
    }

    #[test]
    fn unserved_paths_share_one_label() {
        let methods = HashSet::from(["/a.B/C".to_owned()]);
        assert_eq!(method_label(&methods, "/a.B/C"), "/a.B/C");
        assert_eq!(method_label(&methods, "/x.Y/random-123"), UNKNOWN_METHOD);
    }
}
