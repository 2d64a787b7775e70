//! `tse up`: the default ecosystem in one process.

use std::{collections::BTreeSet, time::Duration};

use crate::process::{Tse, command, run};

const DEFAULT_INSTANCES: [&str; 8] = [
    "audit-correlator",
    "test-coordinator",
    "exchange-OKX",
    "exchange-Binance",
    "custodian-Komainu",
    "market-data-Coinmetrics",
    "trading-system-LH",
    "risk-monitor-LH",
];

#[tokio::test]
async fn brings_up_eight_healthy_instances_on_distinct_ports_and_schemas() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = command(dir.path());
    cmd.args(["up", "--http-port-base", "0", "--grpc-port-base", "0"]);
    let mut tse = Tse::spawn(cmd);
    tse.wait_for(Duration::from_secs(30), |l| l.starts_with("INSTANCE"));
    let rows: Vec<Vec<String>> = (0..8)
        .map(|_| {
            tse.wait_for(Duration::from_secs(5), |_| true)
                .split_whitespace()
                .map(str::to_owned)
                .collect()
        })
        .collect();
    let summary = tse.wait_for(Duration::from_secs(5), |l| l.starts_with("tse:"));
    assert!(summary.contains("8 instances ready in"), "{summary}");

    let names: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(names, DEFAULT_INSTANCES);
    let distinct = |column: usize| {
        rows.iter()
            .map(|r| r[column].clone())
            .collect::<BTreeSet<_>>()
            .len()
    };
    assert_eq!(distinct(2), 8, "distinct HTTP URLs");
    assert_eq!(distinct(3), 8, "distinct gRPC addresses");
    assert_eq!(distinct(4), 8, "distinct schemas");
    assert_eq!(distinct(5), 8, "distinct namespaces");

    let client = reqwest::Client::new();
    for row in &rows {
        let health: serde_json::Value = client
            .get(format!("{}/api/v1/health", row[2]))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(health["status"], "healthy", "{row:?}");
        assert_eq!(health["instance"], row[0].as_str());
        assert_eq!(health["service"], row[1].as_str());
        assert_eq!(health["schema"], row[4].as_str());
        let ready = client
            .get(format!("{}/api/v1/ready", row[2]))
            .send()
            .await
            .unwrap();
        assert_eq!(ready.status(), 200);
        let metrics = client
            .get(format!("{}/metrics", row[2]))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            metrics.contains(&format!("instance_name=\"{}\"", row[0])),
            "{} metrics name their own instance",
            row[0]
        );
        for other in DEFAULT_INSTANCES.iter().filter(|n| **n != row[0]) {
            assert!(
                !metrics.contains(&format!("instance_name=\"{other}\"")),
                "{} has its own registry, without {other}",
                row[0]
            );
        }
    }

    tse.signal("TERM");
    let status = tse.wait_exit(Duration::from_secs(20));
    assert_eq!(status.code(), Some(0), "output:\n{}", tse.seen.join("\n"));
    for name in DEFAULT_INSTANCES {
        assert!(dir.path().join("data").join(name).is_dir(), "data/{name}");
        let log_dir = dir.path().join("logs").join(name);
        let files: Vec<_> = std::fs::read_dir(&log_dir).unwrap().collect();
        assert_eq!(files.len(), 1, "one log file in {}", log_dir.display());
        let text = std::fs::read_to_string(files[0].as_ref().unwrap().path()).unwrap();
        assert!(text.contains("instance ready"), "{name} log");
        for other in DEFAULT_INSTANCES.iter().filter(|n| **n != name) {
            assert!(
                !text.contains(&format!("\"instance\":\"{other}\"")),
                "{name}'s log holds lines of {other}"
            );
        }
    }
}

#[test]
fn a_topology_file_with_a_collision_exits_2_naming_both_instances() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("eco.toml"),
        "[[instance]]\nservice = \"exchange-simulator\"\nname = \"exchange-OKX\"\n\n\
         [[instance]]\nservice = \"exchange-simulator\"\nname = \"exchange-okx\"\n",
    )
    .unwrap();
    let (code, _, stderr) = run(dir.path(), &["up", "--topology", "eco.toml"]);
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(
        stderr.trim(),
        "tse: instance 'exchange-okx' would share schema 'exchange_okx' with instance 'exchange-OKX'"
    );
}

#[test]
fn a_malformed_topology_exits_2_with_its_location() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("eco.toml"), "[[instance]]\nservce = \"x\"\n").unwrap();
    let (code, _, stderr) = run(dir.path(), &["up", "--topology", "eco.toml"]);
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("eco.toml: line 2"), "{stderr}");
    let (code, _, stderr) = run(dir.path(), &["up", "--topology", "missing.toml"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("cannot read it"), "{stderr}");
}

#[test]
fn a_taken_port_fails_the_whole_ecosystem_before_any_instance_starts() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    // The third instance (exchange-OKX) would get the taken port.
    let base = (port - 2).to_string();
    let (code, stdout, stderr) = run(
        dir.path(),
        &["up", "--http-port-base", &base, "--grpc-port-base", "0"],
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "exchange-OKX cannot listen for HTTP on 127.0.0.1:{port}"
        )),
        "{stderr}"
    );
    assert!(
        !stdout.contains("instance ready"),
        "no instance started: {stdout}"
    );
}
