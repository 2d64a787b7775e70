//! One Prometheus registry per instance (ARCHITECTURE.md), also when many instances share a process.
//!
//! The registry holds the RED metrics of both servers ([`HttpMetrics`], [`GrpcMetrics`]), the
//! `tse_instance_info` identity gauge, process metrics, and whatever business metrics the service
//! registers through its own metrics port. [`InstanceMetrics::render`] answers `GET /metrics`.
//! [`dashboards`] holds the types of the generated monitoring: the panels and rules the host and each
//! service contribute over their metrics.

pub mod dashboards;
mod grpc;
mod http;
mod process;

use prometheus::{Encoder, IntGaugeVec, Opts, Registry, TextEncoder};

pub use grpc::{GrpcMetrics, GrpcMetricsLayer, UNKNOWN_METHOD};
pub use http::{HttpMetrics, HttpTracking, UNMATCHED_ENDPOINT, track_http};

use crate::identity::Identity;

/// Latency buckets, in seconds, for request durations: fine below a millisecond (loopback calls),
/// coarse up to ten seconds.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Content type of [`InstanceMetrics::render`]: the Prometheus text format 0.0.4.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Registers `collector` in `registry` and returns it, ready to record.
fn registered<C: prometheus::core::Collector + Clone + 'static>(
    registry: &Registry,
    collector: C,
) -> Result<C, prometheus::Error> {
    registry.register(Box::new(collector.clone()))?;
    Ok(collector)
}

/// Counts one request in flight for as long as it lives, so a dropped request (client gone) is
/// still counted out.
struct InFlight(prometheus::IntGauge);

impl InFlight {
    fn enter(gauge: prometheus::IntGauge) -> Self {
        gauge.inc();
        Self(gauge)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Everything `GET /metrics` shows for one instance.
#[derive(Clone)]
pub struct InstanceMetrics {
    registry: Registry,
    http: HttpMetrics,
    grpc: GrpcMetrics,
    dependency_up: IntGaugeVec,
}

impl InstanceMetrics {
    /// Creates the instance's registry with the host's metrics in it.
    ///
    /// # Errors
    /// Returns a Prometheus error if two metrics of the same name are registered.
    pub fn new(identity: &Identity, version: &str) -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let info = IntGaugeVec::new(
            Opts::new(
                "tse_instance_info",
                "Identity of this instance; always 1. Join on instance_name to label other series.",
            ),
            &[
                "service",
                "instance_name",
                "service_type",
                "entity_type",
                "version",
                "schema",
                "redis_namespace",
            ],
        )?;
        info.with_label_values(&[
            identity.service().name(),
            identity.instance().as_str(),
            identity.service_type().as_str(),
            identity.entity_type(),
            version,
            identity.schema().as_str(),
            identity.redis_namespace().as_str(),
        ])
        .set(1);
        registry.register(Box::new(info))?;
        registry.register(Box::new(process::ProcessCollector::new()?))?;
        let http = HttpMetrics::register(&registry)?;
        let grpc = GrpcMetrics::register(&registry)?;
        let dependency_up = registered(
            &registry,
            IntGaugeVec::new(
                Opts::new(
                    "tse_dependency_up",
                    "Whether an external dependency (postgres, redis) is reachable and usable: 1 or 0.",
                ),
                &["dependency"],
            )?,
        )?;
        Ok(Self {
            registry,
            http,
            grpc,
            dependency_up,
        })
    }

    /// Returns the registry, for services to register their business metrics in.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Returns the HTTP RED metrics.
    pub fn http(&self) -> &HttpMetrics {
        &self.http
    }

    /// Returns the gRPC RED metrics.
    pub fn grpc(&self) -> &GrpcMetrics {
        &self.grpc
    }

    /// Returns the `tse_dependency_up` gauge of `dependency`.
    pub fn dependency_up(&self, dependency: &str) -> prometheus::IntGauge {
        self.dependency_up.with_label_values(&[dependency])
    }

    /// Renders every metric in the Prometheus text format.
    ///
    /// # Errors
    /// Returns a Prometheus error if a collector produced an invalid family.
    pub fn render(&self) -> Result<Vec<u8>, prometheus::Error> {
        let families = self.registry.gather();
        let mut out = Vec::with_capacity(16 * 1024);
        TextEncoder::new().encode(&families, &mut out)?;
        Ok(out)
    }
}
