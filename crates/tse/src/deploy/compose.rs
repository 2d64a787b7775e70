//! The Compose project: one container per instance, named after it, running `tse serve` with its
//! identity, its settings (the topology file, mounted) and its own `./data/{instance}` and
//! `./logs/{instance}`; PostgreSQL and Redis with health checks the instances wait for; Prometheus and
//! Grafana. Published ports listen on loopback only.

use std::path::Path;

use serde_json::{Map, Value, json};
use tse_runtime::config::{
    InstanceConfig,
    topology::{EcosystemConfig, Topology},
};

use super::{
    IMAGE_UID, env::kept_env, identity_env, service_key, topology_text, validated, write,
    write_observability, yaml,
};
use crate::{
    failure::{Failure, runtime},
    secrets::random_secret,
};

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
        // A production system (the risk monitor) is never given the admin token.
        if k == "TSE_ADMIN_TOKEN" && !i.identity.service().holds_admin_token() {
            continue;
        }
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
            ("POSTGRES_PASSWORD", random_secret()),
            ("TSE_ADMIN_TOKEN", random_secret()),
            ("TSE_INGEST_TOKEN", random_secret()),
            ("GRAFANA_ADMIN_PASSWORD", random_secret()),
        ],
        &[("TSE_UID", uid.to_string()), ("TSE_GID", gid.to_string())],
    )?;
    Ok(ecosystem
        .instances
        .iter()
        .map(|i| i.identity.instance().to_string())
        .collect())
}

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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::deploy::DEFAULT_IMAGE;

    #[test]
    fn every_instance_is_a_named_container_with_its_own_volumes_and_loopback_ports() {
        let doc = compose(&crate::deploy::default_ecosystem(), DEFAULT_IMAGE);
        let services = doc["services"].as_object().unwrap();
        assert_eq!(
            services.len(),
            9 + 4,
            "9 instances, PostgreSQL, Redis, Prometheus, Grafana"
        );
        let okx = &services["exchange-okx"];
        assert_eq!(okx["container_name"], "exchange-OKX");
        assert!(okx["environment"]["TSE_ADMIN_TOKEN"].is_string());
        let monitor = &services["risk-monitor-lh"]["environment"];
        assert!(monitor["TSE_ADMIN_TOKEN"].is_null(), "{monitor}");
        assert!(monitor["TSE_INGEST_TOKEN"].is_string(), "{monitor}");
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
}
