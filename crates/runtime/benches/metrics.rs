//! How long `GET /metrics` takes to render, with the series a busy instance accumulates: 30 route
//! patterns × 4 methods × 4 status codes of HTTP histograms, 20 gRPC methods × 3 statuses, process
//! metrics and the identity gauge.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use tse_runtime::{
    identity::{Identity, ServiceKind},
    metrics::InstanceMetrics,
};

fn busy_instance() -> InstanceMetrics {
    let identity = Identity::new(ServiceKind::ExchangeSimulator, Some("exchange-OKX"), None, None).unwrap();
    let metrics = InstanceMetrics::new(&identity, "bench").unwrap();
    let http = prometheus::IntCounterVec::new(
        prometheus::Opts::new("bench_http_like_total", "series shaped like the HTTP counters"),
        &["method", "endpoint", "status_code"],
    )
    .unwrap();
    let hist = prometheus::HistogramVec::new(
        prometheus::HistogramOpts::new("bench_http_like_seconds", "series shaped like the HTTP histogram")
            .buckets(tse_runtime::metrics::LATENCY_BUCKETS.to_vec()),
        &["method", "endpoint"],
    )
    .unwrap();
    metrics.registry().register(Box::new(http.clone())).unwrap();
    metrics.registry().register(Box::new(hist.clone())).unwrap();
    for route in 0..30 {
        let endpoint = format!("/api/v1/resource{route}/{{id}}");
        for method in ["GET", "POST", "PUT", "DELETE"] {
            hist.with_label_values(&[method, &endpoint]).observe(0.002);
            for status in ["200", "400", "404", "503"] {
                http.with_label_values(&[method, &endpoint, status]).inc();
            }
        }
    }
    metrics
}

fn render(c: &mut Criterion) {
    let metrics = busy_instance();
    let size = metrics.render().unwrap().len();
    println!("rendered /metrics size: {size} bytes");
    c.bench_function("render /metrics of a busy instance", |b| {
        b.iter(|| black_box(metrics.render().unwrap()))
    });
}

criterion_group!(benches, render);
criterion_main!(benches);
