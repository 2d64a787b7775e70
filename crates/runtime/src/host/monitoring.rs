//! The host's own panels and rules, over what every instance publishes whatever its service: HTTP
//! requests, errors and latency, the process, dependencies, and the outbox's shipping.

use crate::metrics::dashboards::{Dashboard, Panel, Rule, SEL, gauge, quantile, rate};

/// The host's panels: the whole *Infrastructure* dashboard, and the outbox on *Audit*.
pub fn panels() -> Vec<Panel> {
    let infra = Dashboard::Infrastructure;
    let latency = "http_request_duration_seconds";
    vec![
        Panel::new(
            infra,
            "Up",
            "none",
            "1 while Prometheus scrapes the instance, 0 when it cannot.",
            format!("up{{job=\"tse\", {SEL}}}"),
        ),
        Panel::new(
            infra,
            "HTTP requests/s",
            "reqps",
            "Requests answered per second (production API, back doors, health and metrics).",
            rate("http_requests_total", "", "1m"),
        ),
        Panel::new(
            infra,
            "HTTP 5xx ratio",
            "percentunit",
            "Share of requests answered with a server error (the recording rule tse:http_errors:ratio1m).",
            gauge("tse:http_errors:ratio1m"),
        ),
        Panel::new(
            infra,
            "HTTP latency p50 / p99",
            "s",
            "Median and 99th percentile of the time to answer a request.",
            quantile("0.5", latency, "", "1m"),
        )
        .and(quantile("0.99", latency, "", "1m")),
        Panel::new(
            infra,
            "CPU (cores)",
            "none",
            "CPU time the instance's process uses per second (under `tse up` all instances share one process).",
            format!("rate(process_cpu_seconds_total{{{SEL}}}[1m])"),
        ),
        Panel::new(
            infra,
            "Memory (resident)",
            "bytes",
            "Resident memory of the instance's process.",
            gauge("process_resident_memory_bytes"),
        ),
        Panel::new(
            infra,
            "Restarts (1h)",
            "none",
            "How often the process started in the last hour.",
            format!("changes(process_start_time_seconds{{{SEL}}}[1h])"),
        ),
        Panel::new(
            infra,
            "Dependencies up",
            "none",
            "1 per dependency (database, cache, discovery) the instance reaches, 0 per one it does not.",
            gauge("tse_dependency_up"),
        ),
        Panel::new(
            Dashboard::Audit,
            "Outbox pending",
            "none",
            "Events each instance has recorded and not yet shipped to the correlator.",
            gauge("audit_outbox_pending"),
        ),
        Panel::new(
            Dashboard::Audit,
            "Events shipped/s",
            "ops",
            "Events each instance shipped to the correlator per second.",
            rate("audit_outbox_shipped_total", "", "1m"),
        ),
    ]
}

/// The host's rules: request rate, error ratio and latency recorded; an instance or a dependency
/// down, errors and latency too high alerted.
pub fn rules() -> Vec<Rule> {
    vec![
        Rule::Record {
            record: "tse:http_requests:rate1m",
            expr: "sum by (service, instance_name) (rate(http_requests_total[1m]))",
        },
        Rule::Record {
            record: "tse:http_errors:ratio1m",
            expr: "(sum by (service, instance_name) (rate(http_requests_total{status_code=~\"5..\"}[1m])) or sum by (service, instance_name) (rate(http_requests_total[1m])) * 0) / clamp_min(sum by (service, instance_name) (rate(http_requests_total[1m])), 1e-9)",
        },
        Rule::Record {
            record: "tse:http_latency_p99:1m",
            expr: "histogram_quantile(0.99, sum by (service, instance_name, le) (rate(http_request_duration_seconds_bucket[1m])))",
        },
        Rule::Alert {
            alert: "TseInstanceDown",
            expr: "up{job=\"tse\"} == 0",
            hold: Some("1m"),
            severity: "critical",
            summary: "{{ $labels.instance_name }} is down",
        },
        Rule::Alert {
            alert: "TseDependencyDown",
            expr: "tse_dependency_up == 0",
            hold: Some("1m"),
            severity: "warning",
            summary: "{{ $labels.instance_name }}: {{ $labels.dependency }} is unreachable",
        },
        Rule::Alert {
            alert: "TseHighErrorRate",
            expr: "tse:http_errors:ratio1m > 0.05",
            hold: Some("5m"),
            severity: "warning",
            summary: "{{ $labels.instance_name }} answers more than 5% of requests with 5xx",
        },
        Rule::Alert {
            alert: "TseHighLatency",
            expr: "tse:http_latency_p99:1m > 1",
            hold: Some("5m"),
            severity: "warning",
            summary: "{{ $labels.instance_name }}: p99 HTTP latency above 1 s",
        },
    ]
}
