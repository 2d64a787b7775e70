//! `tse deploy compose` and `tse deploy k8s`: deployments generated from a topology (README, *Deployment*).
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
//! Kubernetes: `tse.yaml`, the manifests of [`kubernetes()`] in apply order.
//!
//! # Layout
//! - `compose`: the Compose project, and the instances' directories its containers write.
//! - `kubernetes`: the Kubernetes manifests.
//! - `prometheus`: the scrape configuration, and the rules the host and every service contribute.
//! - [`grafana`]: the dashboards, from the panels the host and every service contribute.
//! - `env`: the deployment's environment file of kept secrets.
//! - `yaml`: the YAML writer.

use std::{collections::BTreeMap, path::Path};

use serde_json::json;
use tse_runtime::config::{
    InstanceConfig, format_duration,
    topology::{EcosystemConfig, Topology, UpOverrides},
};

use crate::failure::{Failure, input, runtime};

mod compose;
mod env;
pub mod grafana;
mod kubernetes;
mod prometheus;
mod yaml;

pub use compose::compose;
pub(crate) use compose::compose_project;
pub use kubernetes::kubernetes;
pub(crate) use kubernetes::kubernetes_manifests;
pub use prometheus::{prometheus, rules};
pub use yaml::yaml;

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

/// The user id the containers run as unless told otherwise (the image's `tse` user).
const IMAGE_UID: u32 = 10_001;

fn validated(topology: &Topology, source: &Path) -> Result<EcosystemConfig, Failure> {
    let no_env: BTreeMap<&str, &str> = BTreeMap::new();
    let ecosystem =
        EcosystemConfig::load(topology, source, &UpOverrides::default(), &no_env).map_err(input)?;
    for i in &ecosystem.instances {
        crate::catalog::prepare(i, Some(source))?;
    }
    Ok(ecosystem)
}

fn topology_text(source: &Path) -> Result<String, Failure> {
    if source.is_file() {
        std::fs::read_to_string(source).map_err(|e| runtime(format!("cannot read {}: {e}", source.display())))
    } else {
        // The default ecosystem, written out (a test keeps the two equal).
        Ok(include_str!("../../../../examples/ecosystem.toml").to_owned())
    }
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

fn write(path: &Path, text: &str) -> Result<(), Failure> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| runtime(format!("cannot create {}: {e}", parent.display())))?;
    }
    std::fs::write(path, text).map_err(|e| runtime(format!("cannot write {}: {e}", path.display())))
}

#[cfg(test)]
/// The default ecosystem, as the tests of the generated files read it.
fn default_ecosystem() -> EcosystemConfig {
    let no_env: BTreeMap<&str, &str> = BTreeMap::new();
    EcosystemConfig::load(
        &Topology::default_ecosystem(),
        Path::new("(default)"),
        &UpOverrides::default(),
        &no_env,
    )
    .unwrap()
}
