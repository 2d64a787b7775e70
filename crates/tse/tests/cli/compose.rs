//! The generated Compose project, run as Compose would run it but without a container engine: one
//! `tse serve` process per instance with the command and environment of its generated service, its
//! data and logs in the project's `data/{instance}` and `logs/{instance}`, against the real PostgreSQL
//! and Redis. Only what a container network provides is mapped (host names and ports to loopback,
//! `${...}` to the project's `.env` and the test servers). The instances must join one clock and find
//! each other through Redis, trade, settle the fill at the custodian, ship their events to the
//! correlator, and be found by a real Prometheus running the generated configuration. Skipped, saying so, without the test servers or Prometheus.

use std::{collections::BTreeMap, path::Path, time::Duration};

use serde_json::Value;
use tse_runtime::config::topology::{EcosystemConfig, Topology, UpOverrides};
use tse_testing::{
    app::sample,
    servers::{PgGuard, RedisGuard, database_url, redis_url},
};

use crate::{
    process::{Tse, addr_in, command, run},
    prometheus::{buy_at_market, get_text, have, mapped_config, start_prometheus, targets_up},
};

/// The example topology under names of this run (its instances, entities and environment), so the
/// test never meets another's registrations in the shared Redis.
fn topology(suffix: &str) -> String {
    let mut text = include_str!("../../../../examples/ecosystem.toml")
        .replace(
            "environment = \"development\"",
            &format!("environment = \"compose-{suffix}\""),
        )
        // A simulated minute a second: the custodian's P&L point comes quickly.
        .replace("clock_speed = 1\n", "clock_speed = 60\n");
    for singleton in &crate::up::DEFAULT_INSTANCES[..2] {
        text = text.replace(
            &format!("service = \"{singleton}\"\n"),
            &format!("service = \"{singleton}\"\nname = \"{singleton}-{suffix}\"\n"),
        );
    }
    for name in &crate::up::DEFAULT_INSTANCES[2..] {
        text = text.replace(&format!("\"{name}\""), &format!("\"{name}-{suffix}\""));
    }
    text
}

/// `KEY=VALUE` lines of a `.env` file.
fn dot_env(path: &Path) -> BTreeMap<String, String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

#[tokio::test]
async fn the_generated_compose_project_runs_as_processes_against_postgres_and_redis() {
    let test = "the_generated_compose_project_runs_as_processes_against_postgres_and_redis";
    let (Some(db), Some(redis)) = (database_url(test), redis_url(test)) else {
        return;
    };
    if !have("prometheus") {
        eprintln!("skipped {test}: no prometheus on this machine (`apt-get install prometheus`)");
        return;
    }
    let suffix = format!("c{}", std::process::id());
    let dir = tempfile::tempdir().unwrap();
    let topology_path = dir.path().join("eco.toml");
    std::fs::write(&topology_path, topology(&suffix)).unwrap();
    let deploy = dir.path().join("deploy");
    let (code, _, stderr) = run(
        dir.path(),
        &[
            "deploy",
            "compose",
            "--topology",
            topology_path.to_str().unwrap(),
            "--out",
            deploy.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let secrets = dot_env(&deploy.join(".env"));

    // The project as written (compose.yaml is this document in YAML).
    let no_env: BTreeMap<&str, &str> = BTreeMap::new();
    let ecosystem = EcosystemConfig::load(
        &Topology::read(&topology_path).unwrap(),
        &topology_path,
        &UpOverrides::default(),
        &no_env,
    )
    .unwrap();
    let project = tse::deploy::compose(&ecosystem, tse::deploy::DEFAULT_IMAGE);
    let mut guards = (Vec::new(), Vec::new());
    let mut processes = Vec::new();
    let mut instances: Vec<(String, String)> = Vec::new();
    for i in &ecosystem.instances {
        let name = i.identity.instance().to_string();
        let service = &project["services"][tse::deploy::service_key(&name)];
        let mut env: BTreeMap<String, String> = service["environment"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
            .collect();
        // What the container network and Compose's interpolation would provide.
        let data = deploy.join("data").join(&name);
        let logs = deploy.join("logs").join(&name);
        for (key, value) in [
            ("DATABASE_URL", db.clone()),
            ("REDIS_URL", redis.clone()),
            ("BIND_ADDRESS", "127.0.0.1".to_owned()),
            ("ADVERTISE_HOST", "127.0.0.1".to_owned()),
            // The OS chooses (no port race with parallel tests); read back from the log below.
            ("HTTP_PORT", "0".to_owned()),
            ("GRPC_PORT", "0".to_owned()),
            ("DATA_DIR", data.display().to_string()),
            ("LOG_DIR", logs.display().to_string()),
            ("TSE_TOPOLOGY", deploy.join("topology.toml").display().to_string()),
            ("TSE_ADMIN_TOKEN", secrets["TSE_ADMIN_TOKEN"].clone()),
            ("TSE_INGEST_TOKEN", secrets["TSE_INGEST_TOKEN"].clone()),
        ] {
            if key == "TSE_ADMIN_TOKEN" && name.starts_with("risk-monitor") {
                // A production system is never given the admin token.
                assert!(!env.contains_key(key), "{name}'s service sets {key}");
                continue;
            }
            assert!(env.contains_key(key), "{name}'s service sets {key}");
            env.insert(key.to_owned(), value);
        }
        assert!(
            env.values().all(|v| !v.contains("${")),
            "every interpolation mapped: {env:?}"
        );
        guards.0.push(PgGuard::new(&db, &env["SCHEMA_NAME"]));
        guards.1.push(RedisGuard {
            url: redis.clone(),
            patterns: vec![
                format!("{}:*", env["REDIS_NAMESPACE"]),
                format!("services:*:{name}"),
                tse_runtime::discovery::clock_key(&env["ENVIRONMENT"]),
            ],
        });
        let mut cmd = command(dir.path());
        cmd.args(
            service["command"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap()),
        )
        .envs(&env);
        let mut process = Tse::spawn(cmd);
        let http =
            addr_in(&process.wait_for(Duration::from_secs(60), |l| l.contains("HTTP server listening")));
        processes.push(process);
        instances.push((name, format!("http://{http}")));
    }
    let url = |prefix: &str| {
        instances
            .iter()
            .find(|(n, _)| n.starts_with(prefix))
            .map(|(_, u)| u.clone())
            .unwrap()
    };

    // Every instance becomes ready: its database, Redis and the peers it needs, found in Redis.
    let client = reqwest::Client::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    for (name, base) in &instances {
        loop {
            let ready = client.get(format!("{base}/api/v1/ready")).send().await;
            if ready.as_ref().is_ok_and(|r| r.status() == 200) {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{name} never ready: {:?}",
                match ready {
                    Ok(r) => r.text().await.unwrap_or_default(),
                    Err(e) => e.to_string(),
                }
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    let health: Value = client
        .get(format!("{}/api/v1/health", url("exchange-OKX")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["backends"]["storage"], "postgres", "{health}");
    assert_eq!(health["backends"]["registry"], "redis", "{health}");

    // The exchange quotes from the market data process, fills an order, and the event travels to
    // the correlator process through the exchange's outbox.
    let entity = format!("trading-system-LH-{suffix}");
    buy_at_market(&client, &url("exchange-OKX"), &entity).await;
    let correlator = url("audit-correlator");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let metrics = get_text(&client, format!("{correlator}/metrics")).await;
        let trades = sample(
            &metrics,
            "audit_events_ingested_total",
            &[
                ("source_service", "exchange-simulator"),
                ("type", "trade.executed"),
            ],
        );
        if trades.is_some_and(|n| n >= 1.0) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the trade never reached the correlator"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    // The custodian process collects the fill from the exchange process at its next settlement
    // point (a simulated minute: a second on this ecosystem's own clock) and settles it.
    let custodian = url("custodian-Komainu");
    let okx = format!("exchange-OKX-{suffix}");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let settlements: Value = client
            .get(format!("{custodian}/api/v1/settlements?exchange={okx}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let settled = settlements["settlements"]
            .as_array()
            .is_some_and(|all| all.iter().any(|s| s["status"] == "COMPLETED"));
        if settled {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the fill was never settled: {settlements}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    // Each instance wrote its own log file into the project's logs/{instance}.
    for (name, _) in &instances {
        let logs = std::fs::read_dir(deploy.join("logs").join(name)).unwrap().count();
        assert!(logs >= 1, "{name} logs into its own directory");
    }

    // A real Prometheus with the generated configuration finds all nine through Redis, once each.
    let config = mapped_config(&deploy, &instances, &deploy.join("prometheus/rules.yml"));
    let (_prometheus, api) = start_prometheus(dir.path(), &config);
    let targets = targets_up(&client, &api, 9).await;
    for t in &targets {
        assert!(
            t["labels"]["instance_name"]
                .as_str()
                .is_some_and(|n| n.ends_with(&suffix)),
            "{t}"
        );
    }
    eprintln!(
        "9 instances as separate processes on PostgreSQL and Redis, from the generated Compose project; \
         Prometheus scrapes all 9"
    );

    for p in &processes {
        p.signal("TERM");
    }
    for mut p in processes {
        assert_eq!(p.wait_exit(Duration::from_secs(20)).code(), Some(0));
    }
    drop(guards);
}
