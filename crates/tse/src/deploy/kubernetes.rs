//! The Kubernetes manifests: namespace `tse`, a Secret and the topology ConfigMap, PostgreSQL and
//! Redis, and one StatefulSet and Service per instance, in apply order.

use std::path::Path;

use serde_json::{Value, json};
use tse_runtime::config::topology::{EcosystemConfig, Topology};

use super::{IMAGE_UID, env::kept_env, identity_env, topology_text, validated, write_observability, yaml};
use crate::{
    failure::{Failure, runtime},
    secrets::random_secret,
};

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
            // A production system (the risk monitor) is never given the admin token.
            if key == "TSE_ADMIN_TOKEN" && !i.identity.service().holds_admin_token() {
                continue;
            }
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
            ("POSTGRES_PASSWORD", random_secret()),
            ("TSE_ADMIN_TOKEN", random_secret()),
            ("TSE_INGEST_TOKEN", random_secret()),
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
    crate::secrets::write_private_file(&path, &format!("{header}---\n{}", body.join("---\n")))
        .map_err(|e| runtime(format!("cannot write {}: {e}", path.display())))?;
    let header =
        "# Generated by `tse deploy k8s` from the topology: for the cluster's Prometheus and Grafana.\n";
    write_observability(out, &ecosystem, &k8s_host, header)?;
    Ok(ecosystem.instances.len())
}

#[cfg(test)]
mod tests {
    use tse_runtime::config::format_duration;

    use super::*;
    use crate::deploy::DEFAULT_IMAGE;

    #[test]
    fn kubernetes_has_a_statefulset_and_a_service_per_instance() {
        let docs = kubernetes(
            &crate::deploy::default_ecosystem(),
            DEFAULT_IMAGE,
            "[[instance]]",
            ("pw", "token", "ingest"),
        );
        let kinds = |kind: &str| docs.iter().filter(|d| d["kind"] == kind).count();
        assert_eq!(kinds("Namespace"), 1);
        assert_eq!(kinds("StatefulSet"), 9 + 1, "9 instances and PostgreSQL");
        assert_eq!(kinds("Service"), 9 + 2);
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
        assert!(env.iter().any(|e| e["name"] == "TSE_ADMIN_TOKEN"));
        // The risk monitor ships its events with the ingest token and never gets the admin token.
        let monitor = docs
            .iter()
            .find(|d| d["kind"] == "StatefulSet" && d["metadata"]["name"] == "risk-monitor-lh")
            .unwrap();
        let names: Vec<&str> = monitor["spec"]["template"]["spec"]["containers"][0]["env"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["name"].as_str())
            .collect();
        assert!(names.contains(&"TSE_INGEST_TOKEN"), "{names:?}");
        assert!(!names.contains(&"TSE_ADMIN_TOKEN"), "{names:?}");
        // Reached, and advertised in discovery, by a name that resolves from any namespace; the
        // topology's seed and heartbeat travel with it.
        let value = |name: &str| env.iter().find(|e| e["name"] == name).unwrap()["value"].clone();
        assert_eq!(value("ADVERTISE_HOST"), "exchange-okx.tse.svc");
        let common = &crate::deploy::default_ecosystem().instances[0].common;
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
}
