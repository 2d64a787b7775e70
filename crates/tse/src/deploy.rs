//! `tse deploy compose` and `tse deploy k8s`: deployments generated from a topology (BRIEF §10).
//!
//! Compose: one container per instance, named after it, running `tse serve` with its identity, its
//! settings (the topology file, mounted) and its own `./data/{instance}` and `./logs/{instance}`;
//! PostgreSQL and Redis with health checks the instances wait for; Prometheus scraping every instance
//! with its labels and the generated rules; Grafana with the Prometheus data source and the generated
//! dashboards ([`grafana`]). Published ports listen on loopback only. Files written to the output
//! directory: `compose.yaml`, `topology.toml` (a copy of the input), `.env` (generated secrets; kept
//! when it exists, so regenerating never changes a password), `prometheus/prometheus.yml`,
//! `prometheus/rules.yml`, `grafana/provisioning/{datasources,dashboards}/…` and one JSON file per
//! dashboard.
//!
//! Kubernetes: `tse.yaml`, the manifests of [`kubernetes`] in apply order.

use std::{collections::BTreeMap, fmt::Write as _, path::Path};

use serde_json::{Map, Value, json};
use tse_runtime::config::{
    InstanceConfig, format_duration,
    topology::{EcosystemConfig, Topology, UpOverrides},
};

use crate::cli::{Failure, input, runtime};

pub mod grafana;

use grafana::{dashboards, grafana_datasource};

/// The image the containers run (built from the repository's `Dockerfile`).
pub const DEFAULT_IMAGE: &str = "tse:latest";

/// A Compose service name for an instance: lower case (Compose wants it), the instance name otherwise.
pub fn service_key(instance: &str) -> String {
    instance.to_ascii_lowercase()
}

/// What every container of an instance is told, wherever it runs: its identity (explicit, so it is
/// the topology's), the ecosystem's settings, and where Redis is.
fn identity_env(i: &InstanceConfig) -> Vec<(&'static str, String)> {
    vec![
        ("SERVICE_NAME", i.identity.service().name().to_owned()),
        ("SERVICE_INSTANCE_NAME", i.identity.instance().to_string()),
        ("SCHEMA_NAME", i.identity.schema().to_string()),
        ("REDIS_NAMESPACE", i.identity.redis_namespace().to_string()),
        ("ENVIRONMENT", i.common.environment.clone()),
        ("LOG_LEVEL", i.common.log_level.clone()),
        ("TSE_CLOCK_SPEED", i.common.clock_speed.to_string()),
        ("TSE_SEED", i.common.seed.to_string()),
        (
            "HEALTH_CHECK_INTERVAL",
            format_duration(i.common.health_check_interval),
        ),
        ("REDIS_URL", "redis://redis:6379".to_owned()),
    ]
}

fn instance_service(i: &InstanceConfig, image: &str) -> Value {
    let name = i.identity.instance().as_str();
    let key = service_key(name);
    let mut env = Map::new();
    for (k, v) in identity_env(i).into_iter().chain([
        ("BIND_ADDRESS", "0.0.0.0".to_owned()),
        ("ADVERTISE_HOST", key.clone()),
        ("HTTP_PORT", "8080".to_owned()),
        ("GRPC_PORT", "50051".to_owned()),
        ("DATA_DIR", "/app/data".to_owned()),
        ("LOG_DIR", "/app/logs".to_owned()),
        ("TSE_TOPOLOGY", "/app/topology.toml".to_owned()),
        (
            "DATABASE_URL",
            "postgres://postgres:${POSTGRES_PASSWORD}@postgres:5432/tse".to_owned(),
        ),
        ("TSE_ADMIN_TOKEN", "${TSE_ADMIN_TOKEN}".to_owned()),
        ("TSE_INGEST_TOKEN", "${TSE_INGEST_TOKEN}".to_owned()),
    ]) {
        env.insert(k.to_owned(), Value::String(v));
    }
    let mut service = json!({
        "image": image,
        "container_name": name,
        // The owner of the generated data and logs directories (`.env`), so the bind mounts are
        // writable whoever generated them.
        "user": "${TSE_UID:-10001}:${TSE_GID:-10001}",
        "command": ["serve", i.identity.service().name(), "--instance", name],
        "environment": env,
        "volumes": [
            format!("./data/{name}:/app/data"),
            format!("./logs/{name}:/app/logs"),
            "./topology.toml:/app/topology.toml:ro",
        ],
        "depends_on": {
            "postgres": {"condition": "service_healthy"},
            "redis": {"condition": "service_healthy"},
        },
        "restart": "unless-stopped",
    });
    let mut ports = Vec::new();
    if i.http_port != 0 {
        ports.push(Value::String(format!("127.0.0.1:{}:8080", i.http_port)));
    }
    if i.grpc_port != 0 {
        ports.push(Value::String(format!("127.0.0.1:{}:50051", i.grpc_port)));
    }
    if !ports.is_empty() {
        service["ports"] = Value::Array(ports);
    }
    service
}

/// The Compose project of an ecosystem, as a document.
pub fn compose(ecosystem: &EcosystemConfig, image: &str) -> Value {
    let mut services = Map::new();
    services.insert(
        "postgres".into(),
        json!({
            "image": "postgres:17",
            "environment": {"POSTGRES_PASSWORD": "${POSTGRES_PASSWORD}", "POSTGRES_DB": "tse"},
            "volumes": ["pgdata:/var/lib/postgresql/data"],
            "healthcheck": {"test": ["CMD-SHELL", "pg_isready -U postgres -d tse"], "interval": "5s", "timeout": "3s", "retries": 20},
            "restart": "unless-stopped",
        }),
    );
    services.insert(
        "redis".into(),
        json!({
            "image": "redis:7",
            "command": ["redis-server", "--save", "", "--appendonly", "no"],
            "healthcheck": {"test": ["CMD", "redis-cli", "ping"], "interval": "5s", "timeout": "3s", "retries": 20},
            "restart": "unless-stopped",
        }),
    );
    for i in &ecosystem.instances {
        services.insert(
            service_key(i.identity.instance().as_str()),
            instance_service(i, image),
        );
    }
    let instances: Vec<String> = ecosystem
        .instances
        .iter()
        .map(|i| service_key(i.identity.instance().as_str()))
        .collect();
    services.insert(
        "prometheus".into(),
        json!({
            "image": "prom/prometheus:latest",
            "volumes": [
                "./prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro",
                "./prometheus/rules.yml:/etc/prometheus/rules.yml:ro",
            ],
            "ports": ["127.0.0.1:9090:9090"],
            "depends_on": instances,
            "restart": "unless-stopped",
        }),
    );
    services.insert(
        "grafana".into(),
        json!({
            "image": "grafana/grafana:latest",
            "environment": {"GF_SECURITY_ADMIN_PASSWORD": "${GRAFANA_ADMIN_PASSWORD}"},
            "volumes": ["./grafana/provisioning:/etc/grafana/provisioning:ro"],
            "ports": ["127.0.0.1:3000:3000"],
            "depends_on": ["prometheus"],
            "restart": "unless-stopped",
        }),
    );
    // No top-level `name`: the project is named after its directory, and Compose v1 (Debian's, which
    // the tests use to validate) refuses the key.
    json!({
        "services": services,
        "volumes": {"pgdata": {}},
    })
}

/// Recording and alert rules over the instances' metrics (`prometheus/rules.yml`): instance or
/// dependency down, HTTP error rate and latency, market data out (no ticks) or stale (ticks whose
/// prices do not move: a frozen feed; pegged symbols, which may rest for minutes, aside), settlement
/// backlog, active risk alerts (raised by the risk monitor, with their own severity).
pub fn rules() -> Value {
    json!({
        "groups": [
            {
                "name": "tse-recording",
                "rules": [
                    {"record": "tse:http_requests:rate1m",
                     "expr": "sum by (service, instance_name) (rate(http_requests_total[1m]))"},
                    {"record": "tse:http_errors:ratio1m",
                     "expr": "(sum by (service, instance_name) (rate(http_requests_total{status_code=~\"5..\"}[1m])) or sum by (service, instance_name) (rate(http_requests_total[1m])) * 0) / clamp_min(sum by (service, instance_name) (rate(http_requests_total[1m])), 1e-9)"},
                    {"record": "tse:http_latency_p99:1m",
                     "expr": "histogram_quantile(0.99, sum by (service, instance_name, le) (rate(http_request_duration_seconds_bucket[1m])))"},
                    {"record": "tse:market_data_ticks:rate1m",
                     "expr": "sum by (instance_name) (rate(market_data_ticks_total[1m]))"},
                ],
            },
            {
                "name": "tse-alerts",
                "rules": [
                    {"alert": "TseInstanceDown", "expr": "up{job=\"tse\"} == 0", "for": "1m",
                     "labels": {"severity": "critical"},
                     "annotations": {"summary": "{{ $labels.instance_name }} is down"}},
                    {"alert": "TseDependencyDown", "expr": "tse_dependency_up == 0", "for": "1m",
                     "labels": {"severity": "warning"},
                     "annotations": {"summary": "{{ $labels.instance_name }}: {{ $labels.dependency }} is unreachable"}},
                    {"alert": "TseHighErrorRate", "expr": "tse:http_errors:ratio1m > 0.05", "for": "5m",
                     "labels": {"severity": "warning"},
                     "annotations": {"summary": "{{ $labels.instance_name }} answers more than 5% of requests with 5xx"}},
                    {"alert": "TseHighLatency", "expr": "tse:http_latency_p99:1m > 1", "for": "5m",
                     "labels": {"severity": "warning"},
                     "annotations": {"summary": "{{ $labels.instance_name }}: p99 HTTP latency above 1 s"}},
                    {"alert": "TseMarketDataOutage", "expr": "tse:market_data_ticks:rate1m == 0", "for": "2m",
                     "labels": {"severity": "critical"},
                     "annotations": {"summary": "{{ $labels.instance_name }} publishes no ticks"}},
                    {"alert": "TseStaleMarketData",
                     "expr": "changes(market_data_price[2m]) == 0 unless on (instance_name, symbol) market_data_symbol_pegged == 1 unless on (instance_name) tse:market_data_ticks:rate1m == 0",
                     "for": "1m",
                     "labels": {"severity": "critical"},
                     "annotations": {"summary": "{{ $labels.instance_name }}: {{ $labels.symbol }} has not moved for 3 minutes while the feed publishes"}},
                    {"alert": "TseSettlementBacklog", "expr": "custodian_settlements_pending > 1000", "for": "10m",
                     "labels": {"severity": "warning"},
                     "annotations": {"summary": "{{ $labels.instance_name }} has {{ $value }} settlements pending"}},
                    {"alert": "TseRiskAlert", "expr": "sum by (instance_name, severity, kind) (risk_alerts_active) > 0",
                     "labels": {"severity": "{{ $labels.severity }}"},
                     "annotations": {"summary": "{{ $labels.instance_name }} holds {{ $value }} active {{ $labels.severity }} {{ $labels.kind }} risk alerts"}},
                ],
            },
        ],
    })
}

/// Prometheus scraping every instance of the ecosystem with its labels: discovered through the
/// registry's HTTP service discovery (any instance serves it), with the topology's instances as a
/// static fallback (identical targets are scraped once). `host` is the name an instance is reached
/// at — the one it advertises in discovery.
pub fn prometheus(ecosystem: &EcosystemConfig, host: &dyn Fn(&str) -> String) -> Value {
    let targets: Vec<Value> = ecosystem
        .instances
        .iter()
        .map(|i| {
            json!({
                "targets": [format!("{}:8080", host(i.identity.instance().as_str()))],
                "labels": {
                    "service": i.identity.service().name(),
                    "instance_name": i.identity.instance().as_str(),
                    "service_type": i.identity.service_type().to_string(),
                    "entity_type": i.identity.entity_type(),
                },
            })
        })
        .collect();
    let mut job = json!({"job_name": "tse", "metrics_path": "/metrics", "static_configs": targets});
    if let Some(first) = ecosystem.instances.first() {
        job["http_sd_configs"] = json!([{
            "url": format!("http://{}:8080/api/v1/discovery/prometheus", host(first.identity.instance().as_str())),
            "refresh_interval": "15s",
        }]);
    }
    json!({
        "global": {"scrape_interval": "5s", "evaluation_interval": "5s"},
        "rule_files": ["rules.yml"],
        "scrape_configs": [job],
    })
}

/// A Kubernetes name for an instance (DNS-1123: lower case).
fn k8s_name(instance: &str) -> String {
    instance.to_ascii_lowercase()
}

/// The namespace of the Kubernetes deployment.
const K8S_NAMESPACE: &str = "tse";

/// Where an instance is reached in the cluster (and what it advertises in discovery): its Service,
/// from any namespace.
fn k8s_host(instance: &str) -> String {
    format!("{}.{K8S_NAMESPACE}.svc", k8s_name(instance))
}

/// The Kubernetes manifests of an ecosystem, in apply order: namespace `tse`; a Secret (database
/// password, admin token, ingest token: `secrets`) and a ConfigMap (the topology); PostgreSQL (StatefulSet with a
/// volume) and Redis with Services and readiness probes; one StatefulSet per instance (an init
/// container waiting for Redis and PostgreSQL, its data and logs on its own volume claims, readiness
/// on `/api/v1/ready`, liveness on `/api/v1/health`) with a Service named after it that also routes
/// to a degraded, not-ready instance.
pub fn kubernetes(
    ecosystem: &EcosystemConfig,
    image: &str,
    topology_text: &str,
    secrets: (&str, &str, &str),
) -> Vec<Value> {
    let ns = K8S_NAMESPACE;
    let meta = |name: &str, component: &str| json!({"name": name, "namespace": ns, "labels": {"app.kubernetes.io/part-of": "tse", "app.kubernetes.io/name": component}});
    let mut docs = vec![
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": meta("tse-secrets", "secrets"), "type": "Opaque",
               "stringData": {"POSTGRES_PASSWORD": secrets.0, "TSE_ADMIN_TOKEN": secrets.1, "TSE_INGEST_TOKEN": secrets.2}}),
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("tse-topology", "topology"),
               "data": {"topology.toml": topology_text}}),
        json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": meta("postgres", "postgres"),
               "spec": {"serviceName": "postgres", "replicas": 1,
                        "selector": {"matchLabels": {"app.kubernetes.io/name": "postgres"}},
                        "template": {"metadata": {"labels": {"app.kubernetes.io/name": "postgres", "app.kubernetes.io/part-of": "tse"}},
                                     "spec": {"containers": [{"name": "postgres", "image": "postgres:17",
                                         "env": [{"name": "POSTGRES_DB", "value": "tse"},
                                                 {"name": "POSTGRES_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "tse-secrets", "key": "POSTGRES_PASSWORD"}}},
                                                 {"name": "PGDATA", "value": "/var/lib/postgresql/data/pgdata"}],
                                         "ports": [{"containerPort": 5432, "name": "postgres"}],
                                         "readinessProbe": {"exec": {"command": ["pg_isready", "-U", "postgres", "-d", "tse"]}, "periodSeconds": 5},
                                         "volumeMounts": [{"name": "data", "mountPath": "/var/lib/postgresql/data"}]}]}},
                        "volumeClaimTemplates": [{"metadata": {"name": "data"},
                            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Gi"}}}}]}}),
        json!({"apiVersion": "v1", "kind": "Service", "metadata": meta("postgres", "postgres"),
               "spec": {"selector": {"app.kubernetes.io/name": "postgres"}, "ports": [{"name": "postgres", "port": 5432}]}}),
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta("redis", "redis"),
               "spec": {"replicas": 1, "selector": {"matchLabels": {"app.kubernetes.io/name": "redis"}},
                        "template": {"metadata": {"labels": {"app.kubernetes.io/name": "redis", "app.kubernetes.io/part-of": "tse"}},
                                     "spec": {"containers": [{"name": "redis", "image": "redis:7",
                                         "args": ["--save", "", "--appendonly", "no"],
                                         "ports": [{"containerPort": 6379, "name": "redis"}],
                                         "readinessProbe": {"exec": {"command": ["redis-cli", "ping"]}, "periodSeconds": 5}}]}}}}),
        json!({"apiVersion": "v1", "kind": "Service", "metadata": meta("redis", "redis"),
               "spec": {"selector": {"app.kubernetes.io/name": "redis"}, "ports": [{"name": "redis", "port": 6379}]}}),
    ];
    for i in &ecosystem.instances {
        let instance = i.identity.instance().as_str();
        let name = k8s_name(instance);
        let labels = json!({
            "app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "tse",
            "tse/service": i.identity.service().name(), "tse/entity-type": i.identity.entity_type(),
        });
        let mut env: Vec<Value> = identity_env(i)
            .into_iter()
            .chain([
                ("ADVERTISE_HOST", k8s_host(instance)),
                ("TSE_TOPOLOGY", "/etc/tse/topology.toml".to_owned()),
                (
                    "DATABASE_URL",
                    "postgres://postgres:$(POSTGRES_PASSWORD)@postgres:5432/tse".to_owned(),
                ),
            ])
            .map(|(k, v)| json!({"name": k, "value": v}))
            .collect();
        env.insert(0, json!({"name": "POSTGRES_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "tse-secrets", "key": "POSTGRES_PASSWORD"}}}));
        for key in ["TSE_ADMIN_TOKEN", "TSE_INGEST_TOKEN"] {
            env.push(
                json!({"name": key, "valueFrom": {"secretKeyRef": {"name": "tse-secrets", "key": key}}}),
            );
        }
        let claim = |n: &str, size: &str| json!({"metadata": {"name": n}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}});
        docs.push(json!({
            "apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": name, "namespace": ns, "labels": labels},
            "spec": {
                "serviceName": name, "replicas": 1,
                "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
                "template": {
                    "metadata": {"labels": labels, "annotations": {
                        "prometheus.io/scrape": "true", "prometheus.io/port": "8080", "prometheus.io/path": "/metrics"}},
                    "spec": {
                        "securityContext": {"runAsNonRoot": true, "runAsUser": IMAGE_UID, "fsGroup": IMAGE_UID},
                        // Redis holds the ecosystem's clock and registry: wait for it (and for
                        // PostgreSQL) rather than start alone; the image's bash does the probing.
                        "initContainers": [{
                            "name": "wait-for-dependencies", "image": image, "imagePullPolicy": "IfNotPresent",
                            "command": ["bash", "-c", "until (exec 3<>/dev/tcp/redis/6379) 2>/dev/null && (exec 3<>/dev/tcp/postgres/5432) 2>/dev/null; do echo waiting for redis and postgres; sleep 2; done"],
                        }],
                        "containers": [{
                            "name": "tse", "image": image, "imagePullPolicy": "IfNotPresent",
                            "args": ["serve", i.identity.service().name(), "--instance", instance],
                            "env": env,
                            "ports": [{"containerPort": 8080, "name": "http"}, {"containerPort": 50051, "name": "grpc"}],
                            "readinessProbe": {"httpGet": {"path": "/api/v1/ready", "port": "http"}, "periodSeconds": 5},
                            "livenessProbe": {"httpGet": {"path": "/api/v1/health", "port": "http"}, "periodSeconds": 10, "failureThreshold": 6},
                            "volumeMounts": [
                                {"name": "data", "mountPath": "/app/data"},
                                {"name": "logs", "mountPath": "/app/logs"},
                                {"name": "topology", "mountPath": "/etc/tse", "readOnly": true},
                            ],
                        }],
                        "volumes": [{"name": "topology", "configMap": {"name": "tse-topology"}}],
                    },
                },
                "volumeClaimTemplates": [claim("data", "1Gi"), claim("logs", "1Gi")],
            },
        }));
        docs.push(json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": ns, "labels": labels},
            // A degraded instance is not ready (its database or cache is away) but still serves:
            // its peers keep reaching it.
            "spec": {"selector": {"app.kubernetes.io/name": name}, "publishNotReadyAddresses": true,
                     "ports": [{"name": "http", "port": 8080}, {"name": "grpc", "port": 50051}]},
        }));
    }
    docs
}

/// Writes `value` as YAML (block style; every string double-quoted, which YAML reads as JSON does).
pub fn yaml(value: &Value) -> String {
    let mut out = String::new();
    write_yaml(&mut out, value, 0);
    out
}

fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => serde_json::to_string(s).unwrap_or_default(),
        Value::Array(a) if a.is_empty() => "[]".into(),
        Value::Object(o) if o.is_empty() => "{}".into(),
        other => other.to_string(),
    }
}

/// A key as YAML reads it: plain when it is a simple name that YAML cannot take for anything else,
/// quoted otherwise.
fn key(k: &str) -> String {
    let plain = k
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && !matches!(
            k.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "y" | "n"
        );
    if plain {
        k.to_owned()
    } else {
        serde_json::to_string(k).unwrap_or_default()
    }
}

fn is_block(value: &Value) -> bool {
    matches!(value, Value::Array(a) if !a.is_empty()) || matches!(value, Value::Object(o) if !o.is_empty())
}

fn write_yaml(out: &mut String, value: &Value, indent: usize) {
    let pad = " ".repeat(indent);
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                let key = key(k);
                if is_block(v) {
                    let _ = writeln!(out, "{pad}{key}:");
                    write_yaml(out, v, indent + 2);
                } else {
                    let _ = writeln!(out, "{pad}{key}: {}", scalar(v));
                }
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for item in items {
                if is_block(item) {
                    let _ = writeln!(out, "{pad}-");
                    write_yaml(out, item, indent + 2);
                } else {
                    let _ = writeln!(out, "{pad}- {}", scalar(item));
                }
            }
        }
        other => {
            let _ = writeln!(out, "{pad}{}", scalar(other));
        }
    }
}

fn secret() -> String {
    format!("{:032x}", rand::random::<u128>())
}

fn write(path: &Path, text: &str) -> Result<(), Failure> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| runtime(format!("cannot create {}: {e}", parent.display())))?;
    }
    std::fs::write(path, text).map_err(|e| runtime(format!("cannot write {}: {e}", path.display())))
}

/// Generates the Kubernetes manifests of `topology` into `out/tse.yaml` — the Secret from
/// `out/secrets.env`, generated once and kept on regeneration (edit it to rotate a secret) — and the
/// monitoring files for the cluster's Prometheus and Grafana.
///
/// # Errors
/// As [`compose_project`].
pub(crate) fn kubernetes_manifests(
    topology: &Topology,
    source: &Path,
    out: &Path,
    image: &str,
) -> Result<usize, Failure> {
    let ecosystem = validated(topology, source)?;
    let text = topology_text(source)?;
    let secrets = kept_env(
        &out.join("secrets.env"),
        &[
            ("POSTGRES_PASSWORD", secret()),
            ("TSE_ADMIN_TOKEN", secret()),
            ("TSE_INGEST_TOKEN", secret()),
        ],
        &[],
    )?;
    let docs = kubernetes(
        &ecosystem,
        image,
        &text,
        (
            &secrets["POSTGRES_PASSWORD"],
            &secrets["TSE_ADMIN_TOKEN"],
            &secrets["TSE_INGEST_TOKEN"],
        ),
    );
    let header = "# Generated by `tse deploy k8s` from the topology; apply with `kubectl apply -f`.\n";
    let body: Vec<String> = docs.iter().map(yaml).collect();
    let path = out.join("tse.yaml");
    crate::cli::write_private_file(&path, &format!("{header}---\n{}", body.join("---\n")))
        .map_err(|e| runtime(format!("cannot write {}: {e}", path.display())))?;
    let header =
        "# Generated by `tse deploy k8s` from the topology: for the cluster's Prometheus and Grafana.\n";
    write_observability(out, &ecosystem, &k8s_host, header)?;
    Ok(ecosystem.instances.len())
}

fn validated(topology: &Topology, source: &Path) -> Result<EcosystemConfig, Failure> {
    let no_env: BTreeMap<&str, &str> = BTreeMap::new();
    let ecosystem =
        EcosystemConfig::load(topology, source, &UpOverrides::default(), &no_env).map_err(input)?;
    for i in &ecosystem.instances {
        (crate::catalog::service(i.identity.service()).check)(&i.settings).map_err(|e| {
            input(format!(
                "topology {}: instance {}: settings: {e}",
                source.display(),
                i.identity.instance()
            ))
        })?;
    }
    Ok(ecosystem)
}

fn topology_text(source: &Path) -> Result<String, Failure> {
    if source.is_file() {
        std::fs::read_to_string(source).map_err(|e| runtime(format!("cannot read {}: {e}", source.display())))
    } else {
        // The default ecosystem, written out (a test keeps the two equal).
        Ok(include_str!("../../../examples/ecosystem.toml").to_owned())
    }
}

/// Generates the Compose project of `topology` (read from `source`) into `out`.
///
/// # Errors
/// [`Failure`]: an invalid topology (exit 2), a file that cannot be written (exit 1).
pub(crate) fn compose_project(
    topology: &Topology,
    source: &Path,
    out: &Path,
    image: &str,
) -> Result<Vec<String>, Failure> {
    let ecosystem = validated(topology, source)?;
    let header = "# Generated by `tse deploy compose` from the topology; regenerate rather than edit.\n";
    write(
        &out.join("compose.yaml"),
        &format!("{header}{}", yaml(&compose(&ecosystem, image))),
    )?;
    let topology_text = topology_text(source)?;
    write(&out.join("topology.toml"), &topology_text)?;
    write_observability(out, &ecosystem, &service_key, header)?;
    let (uid, gid) = instance_dirs(out, &ecosystem)?;
    kept_env(
        &out.join(".env"),
        &[
            ("POSTGRES_PASSWORD", secret()),
            ("TSE_ADMIN_TOKEN", secret()),
            ("TSE_INGEST_TOKEN", secret()),
            ("GRAFANA_ADMIN_PASSWORD", secret()),
        ],
        &[("TSE_UID", uid.to_string()), ("TSE_GID", gid.to_string())],
    )?;
    Ok(ecosystem
        .instances
        .iter()
        .map(|i| i.identity.instance().to_string())
        .collect())
}

/// Writes what both deployments share for monitoring: `prometheus/prometheus.yml` (reaching each
/// instance at `host`), `prometheus/rules.yml`, Grafana's data source and dashboard provisioning and
/// one JSON file per dashboard under `grafana/provisioning/dashboards/json/`.
fn write_observability(
    out: &Path,
    ecosystem: &EcosystemConfig,
    host: &dyn Fn(&str) -> String,
    header: &str,
) -> Result<(), Failure> {
    write(
        &out.join("prometheus/prometheus.yml"),
        &format!("{header}{}", yaml(&prometheus(ecosystem, host))),
    )?;
    write(
        &out.join("prometheus/rules.yml"),
        &format!("{header}{}", yaml(&rules())),
    )?;
    write(
        &out.join("grafana/provisioning/datasources/prometheus.yaml"),
        &format!("{header}{}", yaml(&grafana_datasource())),
    )?;
    write(
        &out.join("grafana/provisioning/dashboards/tse.yaml"),
        &format!(
            "{header}{}",
            yaml(
                &json!({"apiVersion": 1, "providers": [{"name": "tse", "folder": "tse", "type": "file",
                "options": {"path": "/etc/grafana/provisioning/dashboards/json"}}]})
            )
        ),
    )?;
    for d in dashboards() {
        let uid = d["uid"].as_str().unwrap_or("tse").to_owned();
        write(
            &out.join(format!("grafana/provisioning/dashboards/json/{uid}.json")),
            &serde_json::to_string_pretty(&d).map_err(runtime)?,
        )?;
    }
    Ok(())
}

/// The user id the containers run as unless told otherwise (the image's `tse` user).
const IMAGE_UID: u32 = 10_001;

/// Creates every instance's `data/{instance}` and `logs/{instance}` under `out` (the containers'
/// bind mounts, which Docker would otherwise create owned by root, unwritable for the image's
/// non-root user) and returns the (uid, gid) the containers should run as to write them: the
/// generating user's, or — generated by root — the image's user, given the directories.
fn instance_dirs(out: &Path, ecosystem: &EcosystemConfig) -> Result<(u32, u32), Failure> {
    let dirs: Vec<std::path::PathBuf> = ecosystem
        .instances
        .iter()
        .flat_map(|i| {
            let name = i.identity.instance().as_str();
            [out.join("data").join(name), out.join("logs").join(name)]
        })
        .collect();
    for dir in &dirs {
        std::fs::create_dir_all(dir).map_err(|e| runtime(format!("cannot create {}: {e}", dir.display())))?;
    }
    owner_for_containers(out, &dirs)
}

#[cfg(unix)]
fn owner_for_containers(out: &Path, dirs: &[std::path::PathBuf]) -> Result<(u32, u32), Failure> {
    use std::os::unix::fs::MetadataExt;
    let meta = |path: &Path| {
        std::fs::metadata(path).map_err(|e| runtime(format!("cannot read {}: {e}", path.display())))
    };
    // Who runs this command: the owner of a file it creates.
    let probe = out.join(format!(".tse-owner-{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(|e| runtime(format!("cannot write {}: {e}", probe.display())))?;
    let me = meta(&probe);
    let _ = std::fs::remove_file(&probe);
    let me = me?;
    if me.uid() != 0 {
        return Ok((me.uid(), me.gid()));
    }
    // Root (`sudo tse deploy compose`): the directories go to whoever owns the project directory,
    // or to the image's user when that is root too.
    let project = meta(out)?;
    let owner = if project.uid() == 0 {
        (IMAGE_UID, IMAGE_UID)
    } else {
        (project.uid(), project.gid())
    };
    for dir in dirs {
        std::os::unix::fs::chown(dir, Some(owner.0), Some(owner.1))
            .map_err(|e| runtime(format!("cannot hand {} to uid {}: {e}", dir.display(), owner.0)))?;
    }
    Ok(owner)
}

#[cfg(not(unix))]
fn owner_for_containers(_out: &Path, _dirs: &[std::path::PathBuf]) -> Result<(u32, u32), Failure> {
    Ok((IMAGE_UID, IMAGE_UID))
}

/// One `KEY=VALUE` line of an env file as Compose and dotenv read it: blank lines and `#` comments
/// skipped, an optional `export `, a value in quotes or followed by a ` #` comment.
fn env_line(line: &str) -> Option<(&str, &str)> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let line = line.strip_prefix("export ").unwrap_or(line);
    let (key, value) = line.split_once('=')?;
    let value = value.trim();
    let value = match value.chars().next() {
        Some(quote @ ('"' | '\'')) => value[1..].split(quote).next().unwrap_or_default(),
        _ => value.split(" #").next().unwrap_or_default().trim_end(),
    };
    Some((key.trim(), value))
}

/// The deployment's environment file at `path` (private to the user), kept across regenerations:
/// a `keep` key the file holds keeps its value — regenerating must never change a database password
/// a volume was initialised with — and gets the given value only when missing; a `set` key always
/// gets the given value. Returns every key's value (the last line of a key wins, as in Compose).
fn kept_env(
    path: &Path,
    keep: &[(&str, String)],
    set: &[(&str, String)],
) -> Result<BTreeMap<String, String>, Failure> {
    let existing = match std::fs::read_to_string(path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(runtime(format!("cannot read {}: {e}", path.display()))),
    };
    let old = existing.as_deref().unwrap_or_default();
    let mut lines: Vec<String> = Vec::new();
    let mut values: BTreeMap<String, String> = BTreeMap::new();
    for line in old.lines() {
        let Some((key, value)) = env_line(line) else {
            lines.push(line.to_owned());
            continue;
        };
        match set.iter().find(|(k, _)| *k == key) {
            Some((k, v)) => lines.push(format!("{k}={v}")),
            None => lines.push(line.to_owned()),
        }
        values.insert(key.to_owned(), value.to_owned());
    }
    for (key, value) in keep.iter().chain(set) {
        let had = values.contains_key(*key);
        if !had {
            lines.push(format!("{key}={value}"));
        }
        if !had || set.iter().any(|(k, _)| k == key) {
            values.insert((*key).to_owned(), value.clone());
        }
    }
    if existing.is_none() {
        lines.insert(
            0,
            "# Secrets and settings of this deployment (generated once, kept on regeneration; keep this file private)."
                .to_owned(),
        );
    }
    let text = lines.join("\n");
    if existing.as_deref().map(str::trim_end) != Some(text.as_str()) {
        // Written beside and renamed: an interrupted run never leaves half a file of secrets.
        let temporary = path.with_extension("tmp");
        crate::cli::write_private_file(&temporary, &text)
            .and_then(|()| std::fs::rename(&temporary, path))
            .map_err(|e| runtime(format!("cannot write {}: {e}", path.display())))?;
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ecosystem() -> EcosystemConfig {
        let no_env: BTreeMap<&str, &str> = BTreeMap::new();
        EcosystemConfig::load(
            &Topology::default_ecosystem(),
            Path::new("(default)"),
            &UpOverrides::default(),
            &no_env,
        )
        .unwrap()
    }

    #[test]
    fn every_instance_is_a_named_container_with_its_own_volumes_and_loopback_ports() {
        let doc = compose(&ecosystem(), DEFAULT_IMAGE);
        let services = doc["services"].as_object().unwrap();
        assert_eq!(
            services.len(),
            8 + 4,
            "8 instances, PostgreSQL, Redis, Prometheus, Grafana"
        );
        let okx = &services["exchange-okx"];
        assert_eq!(okx["container_name"], "exchange-OKX");
        assert_eq!(
            okx["command"],
            json!(["serve", "exchange-simulator", "--instance", "exchange-OKX"])
        );
        assert_eq!(okx["environment"]["SERVICE_INSTANCE_NAME"], "exchange-OKX");
        assert_eq!(okx["environment"]["SCHEMA_NAME"], "exchange_okx");
        assert_eq!(okx["environment"]["REDIS_NAMESPACE"], "exchange:OKX");
        assert_eq!(okx["volumes"][0], "./data/exchange-OKX:/app/data");
        assert_eq!(okx["volumes"][1], "./logs/exchange-OKX:/app/logs");
        assert_eq!(
            okx["ports"],
            json!(["127.0.0.1:8082:8080", "127.0.0.1:50053:50051"])
        );
        assert_eq!(okx["depends_on"]["postgres"]["condition"], "service_healthy");
        assert_eq!(okx["user"], "${TSE_UID:-10001}:${TSE_GID:-10001}");
        assert!(okx["environment"]["TSE_SEED"].is_string());
        for (name, service) in services {
            for port in service["ports"].as_array().into_iter().flatten() {
                assert!(
                    port.as_str().unwrap().starts_with("127.0.0.1:"),
                    "{name} publishes {port}"
                );
            }
        }
        assert!(services["postgres"]["healthcheck"].is_object());
        assert!(services["redis"]["healthcheck"].is_object());
    }

    #[test]
    fn prometheus_scrapes_every_instance_with_its_labels() {
        let doc = prometheus(&ecosystem(), &service_key);
        let targets = doc["scrape_configs"][0]["static_configs"].as_array().unwrap();
        assert_eq!(targets.len(), 8);
        let custodian = targets
            .iter()
            .find(|t| t["labels"]["instance_name"] == "custodian-Komainu")
            .unwrap();
        assert_eq!(custodian["targets"], json!(["custodian-komainu:8080"]));
        assert_eq!(custodian["labels"]["service"], "custodian-simulator");
        assert_eq!(custodian["labels"]["service_type"], "multi-instance");
        assert_eq!(custodian["labels"]["entity_type"], "custodian");
    }

    #[test]
    fn kubernetes_has_a_statefulset_and_a_service_per_instance() {
        let docs = kubernetes(
            &ecosystem(),
            DEFAULT_IMAGE,
            "[[instance]]",
            ("pw", "token", "ingest"),
        );
        let kinds = |kind: &str| docs.iter().filter(|d| d["kind"] == kind).count();
        assert_eq!(kinds("Namespace"), 1);
        assert_eq!(kinds("StatefulSet"), 8 + 1, "8 instances and PostgreSQL");
        assert_eq!(kinds("Service"), 8 + 2);
        let okx = docs
            .iter()
            .find(|d| d["kind"] == "StatefulSet" && d["metadata"]["name"] == "exchange-okx")
            .unwrap();
        let container = &okx["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(
            container["args"],
            json!(["serve", "exchange-simulator", "--instance", "exchange-OKX"])
        );
        assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/api/v1/ready");
        let env = container["env"].as_array().unwrap();
        let password = env.iter().position(|e| e["name"] == "POSTGRES_PASSWORD").unwrap();
        let url = env.iter().position(|e| e["name"] == "DATABASE_URL").unwrap();
        assert!(
            password < url,
            "DATABASE_URL refers to POSTGRES_PASSWORD defined before it"
        );
        assert_eq!(env[password]["valueFrom"]["secretKeyRef"]["name"], "tse-secrets");
        assert_eq!(okx["spec"]["volumeClaimTemplates"].as_array().unwrap().len(), 2);
        let secret = docs.iter().find(|d| d["kind"] == "Secret").unwrap();
        assert_eq!(secret["stringData"]["TSE_ADMIN_TOKEN"], "token");
        assert_eq!(secret["stringData"]["TSE_INGEST_TOKEN"], "ingest");
        let ingest = env.iter().find(|e| e["name"] == "TSE_INGEST_TOKEN").unwrap();
        assert_eq!(ingest["valueFrom"]["secretKeyRef"]["key"], "TSE_INGEST_TOKEN");
        // Reached, and advertised in discovery, by a name that resolves from any namespace; the
        // topology's seed and heartbeat travel with it.
        let value = |name: &str| env.iter().find(|e| e["name"] == name).unwrap()["value"].clone();
        assert_eq!(value("ADVERTISE_HOST"), "exchange-okx.tse.svc");
        let common = &ecosystem().instances[0].common;
        assert_eq!(value("TSE_SEED"), common.seed.to_string());
        assert_eq!(
            value("HEALTH_CHECK_INTERVAL"),
            format_duration(common.health_check_interval)
        );
        assert_eq!(container["imagePullPolicy"], "IfNotPresent");
        let init = &okx["spec"]["template"]["spec"]["initContainers"][0];
        assert!(
            init["command"][2]
                .as_str()
                .unwrap()
                .contains("/dev/tcp/redis/6379")
        );
        let service = docs
            .iter()
            .find(|d| d["kind"] == "Service" && d["metadata"]["name"] == "exchange-okx")
            .unwrap();
        assert_eq!(service["spec"]["publishNotReadyAddresses"], true);
    }

    #[test]
    fn env_files_are_read_as_compose_reads_them() {
        assert_eq!(env_line("A=1"), Some(("A", "1")));
        assert_eq!(env_line("export A=1"), Some(("A", "1")));
        assert_eq!(env_line(" A = x=y "), Some(("A", "x=y")));
        assert_eq!(env_line("A=\"tok=1\" # mine"), Some(("A", "tok=1")));
        assert_eq!(env_line("A='b c'"), Some(("A", "b c")));
        assert_eq!(env_line("A=b # note"), Some(("A", "b")));
        assert_eq!(env_line("# A=1"), None);
        assert_eq!(env_line(""), None);
    }

    #[test]
    fn env_files_keep_secrets_and_refresh_settings() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".env");
        std::fs::write(&path, "# mine\nexport PW=\"old=1\"\nUID=5\nPW=older").unwrap();
        let keep = [("PW", "new".to_owned()), ("TOKEN", "t".to_owned())];
        let set = [("UID", "7".to_owned())];
        let values = kept_env(&path, &keep, &set).unwrap();
        assert_eq!(values["PW"], "older", "the last line of a key wins, and is kept");
        assert_eq!(values["TOKEN"], "t", "a missing key is added");
        assert_eq!(values["UID"], "7", "a setting is refreshed");
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, "# mine\nexport PW=\"old=1\"\nUID=7\nPW=older\nTOKEN=t\n");
        // Regenerating changes nothing more.
        assert_eq!(kept_env(&path, &keep, &set).unwrap(), values);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn yaml_keys_are_plain_when_safe_and_strings_always_quoted() {
        let text = yaml(&json!({"services": {"a": {"ports": ["127.0.0.1:1:2"], "on": true, "x y": {}}}}));
        assert_eq!(
            text,
            "services:\n  a:\n    \"on\": true\n    ports:\n      - \"127.0.0.1:1:2\"\n    \"x y\": {}\n"
        );
    }
}
