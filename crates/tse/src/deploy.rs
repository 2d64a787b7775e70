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

use std::{fmt::Write as _, path::Path};

use serde_json::{Map, Value, json};
use tse_runtime::config::{
    InstanceConfig,
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
        (
            "HEALTH_CHECK_INTERVAL",
            format!("{}s", i.common.health_check_interval.as_secs().max(1)),
        ),
        ("TSE_TOPOLOGY", "/app/topology.toml".to_owned()),
        (
            "DATABASE_URL",
            "postgres://postgres:${POSTGRES_PASSWORD}@postgres:5432/tse".to_owned(),
        ),
        ("TSE_ADMIN_TOKEN", "${TSE_ADMIN_TOKEN}".to_owned()),
    ]) {
        env.insert(k.to_owned(), Value::String(v));
    }
    let mut service = json!({
        "image": image,
        "container_name": name,
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

/// Recording and alert rules over the instances' metrics (`prometheus/rules.yml`): instance down,
/// HTTP error rate and latency, stale market data, settlement backlog, active risk alerts (raised
/// by the risk monitor, with their own severity).
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
                    {"alert": "TseStaleMarketData", "expr": "tse:market_data_ticks:rate1m == 0", "for": "2m",
                     "labels": {"severity": "critical"},
                     "annotations": {"summary": "{{ $labels.instance_name }} publishes no ticks"}},
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
/// static fallback (identical targets are scraped once).
pub fn prometheus(ecosystem: &EcosystemConfig) -> Value {
    let targets: Vec<Value> = ecosystem
        .instances
        .iter()
        .map(|i| {
            json!({
                "targets": [format!("{}:8080", service_key(i.identity.instance().as_str()))],
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
            "url": format!("http://{}:8080/api/v1/discovery/prometheus", service_key(first.identity.instance().as_str())),
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

/// The Kubernetes manifests of an ecosystem, in apply order: namespace `tse`; a Secret (database
/// password, admin token) and a ConfigMap (the topology) — both to be filled by the user or
/// `secrets`; PostgreSQL (StatefulSet with a volume) and Redis with Services and readiness probes;
/// one StatefulSet per instance (its data and logs on its own volume claims, readiness on
/// `/api/v1/ready`, liveness on `/api/v1/health`) with a Service named after it.
pub fn kubernetes(
    ecosystem: &EcosystemConfig,
    image: &str,
    topology_text: &str,
    secrets: (&str, &str),
) -> Vec<Value> {
    let ns = "tse";
    let meta = |name: &str, component: &str| json!({"name": name, "namespace": ns, "labels": {"app.kubernetes.io/part-of": "tse", "app.kubernetes.io/name": component}});
    let mut docs = vec![
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": meta("tse-secrets", "secrets"), "type": "Opaque",
               "stringData": {"POSTGRES_PASSWORD": secrets.0, "TSE_ADMIN_TOKEN": secrets.1}}),
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
                ("ADVERTISE_HOST", format!("{name}.{ns}.svc")),
                ("TSE_TOPOLOGY", "/etc/tse/topology.toml".to_owned()),
                (
                    "DATABASE_URL",
                    "postgres://postgres:$(POSTGRES_PASSWORD)@postgres:5432/tse".to_owned(),
                ),
            ])
            .map(|(k, v)| json!({"name": k, "value": v}))
            .collect();
        env.insert(0, json!({"name": "POSTGRES_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "tse-secrets", "key": "POSTGRES_PASSWORD"}}}));
        env.push(json!({"name": "TSE_ADMIN_TOKEN", "valueFrom": {"secretKeyRef": {"name": "tse-secrets", "key": "TSE_ADMIN_TOKEN"}}}));
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
                        "securityContext": {"runAsNonRoot": true, "runAsUser": 10001, "fsGroup": 10001},
                        "containers": [{
                            "name": "tse", "image": image,
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
            "spec": {"selector": {"app.kubernetes.io/name": name},
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

/// Generates the Kubernetes manifests of `topology` into `out/tse.yaml` (secrets generated into the
/// Secret; regenerate to rotate them).
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
    let docs = kubernetes(&ecosystem, image, &text, (&secret(), &secret()));
    let header = "# Generated by `tse deploy k8s` from the topology; apply with `kubectl apply -f`.\n";
    let body: Vec<String> = docs.iter().map(yaml).collect();
    let path = out.join("tse.yaml");
    crate::cli::write_private_file(&path, &format!("{header}---\n{}", body.join("---\n")))
        .map_err(|e| runtime(format!("cannot write {}: {e}", path.display())))?;
    Ok(ecosystem.instances.len())
}

fn validated(topology: &Topology, source: &Path) -> Result<EcosystemConfig, Failure> {
    let no_env: std::collections::BTreeMap<&str, &str> = std::collections::BTreeMap::new();
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
    write(
        &out.join("prometheus/prometheus.yml"),
        &format!("{header}{}", yaml(&prometheus(&ecosystem))),
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
    let env_path = out.join(".env");
    if !env_path.exists() {
        crate::cli::write_private_file(
            &env_path,
            &format!(
                "# Secrets of this deployment (generated once; keep this file private).\n\
                 POSTGRES_PASSWORD={}\nTSE_ADMIN_TOKEN={}\nGRAFANA_ADMIN_PASSWORD={}\nTSE_IMAGE={image}\n",
                secret(),
                secret(),
                secret()
            ),
        )
        .map_err(|e| runtime(format!("cannot write {}: {e}", env_path.display())))?;
    }
    Ok(ecosystem
        .instances
        .iter()
        .map(|i| i.identity.instance().to_string())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ecosystem() -> EcosystemConfig {
        let no_env: std::collections::BTreeMap<&str, &str> = std::collections::BTreeMap::new();
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
        let doc = prometheus(&ecosystem());
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
        let docs = kubernetes(&ecosystem(), DEFAULT_IMAGE, "[[instance]]", ("pw", "token"));
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
