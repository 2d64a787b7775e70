//! `tse deploy compose` and `tse deploy k8s`: the generated files are complete, valid YAML (read back by
//! a real YAML parser when the machine has one), accepted by `docker-compose config` and by Kubernetes'
//! own schemas (`kubernetes-validate --strict`) when those are installed; secrets are kept across
//! regenerations; a bad topology is refused.

use crate::process::run;

/// Reads a YAML file into JSON with Python's PyYAML, or `None` when the machine has no such parser.
fn read_yaml(path: &std::path::Path) -> Option<serde_json::Value> {
    let output = std::process::Command::new("python3")
        .args([
            "-c",
            "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))",
        ])
        .arg(path)
        .output()
        .ok()?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("No module named"),
            "{} is not valid YAML: {stderr}",
            path.display()
        );
        return None;
    }
    serde_json::from_slice(&output.stdout).ok()
}

#[test]
fn compose_project_from_the_default_ecosystem() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("deploy");
    let (code, stdout, stderr) = run(dir.path(), &["deploy", "compose", "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("9 instances"), "{stdout}");
    for file in [
        "compose.yaml",
        "topology.toml",
        ".env",
        "prometheus/prometheus.yml",
        "grafana/provisioning/datasources/prometheus.yaml",
        "grafana/provisioning/dashboards/tse.yaml",
        "grafana/provisioning/dashboards/json/tse-infrastructure.json",
        "grafana/provisioning/dashboards/json/tse-entities.json",
        "grafana/provisioning/dashboards/json/tse-risk.json",
        "grafana/provisioning/dashboards/json/tse-audit.json",
        "prometheus/rules.yml",
    ] {
        assert!(out.join(file).is_file(), "{file} written");
    }
    let env = std::fs::read_to_string(out.join(".env")).unwrap();
    for var in [
        "POSTGRES_PASSWORD=",
        "TSE_ADMIN_TOKEN=",
        "TSE_INGEST_TOKEN=",
        "GRAFANA_ADMIN_PASSWORD=",
        "TSE_UID=",
        "TSE_GID=",
    ] {
        assert!(env.contains(var), "{var} in .env");
    }
    // The containers' bind mounts exist before Docker would create them owned by root, and belong
    // to the user the containers run as.
    for dir in ["data/exchange-OKX", "logs/exchange-OKX", "data/risk-monitor-LH"] {
        let path = out.join(dir);
        assert!(path.is_dir(), "{dir}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let uid = std::fs::metadata(&path).unwrap().uid();
            assert!(
                env.contains(&format!("TSE_UID={uid}\n")),
                "{dir} owned by {uid}: {env}"
            );
        }
    }
    // Regenerating keeps the secrets.
    let (code, _, _) = run(dir.path(), &["deploy", "compose", "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert_eq!(std::fs::read_to_string(out.join(".env")).unwrap(), env);

    let text = std::fs::read_to_string(out.join("compose.yaml")).unwrap();
    assert!(text.contains("container_name: \"custodian-Komainu\""), "{text}");
    match read_yaml(&out.join("compose.yaml")) {
        Some(compose) => {
            let services = compose["services"].as_object().unwrap();
            assert_eq!(services.len(), 13);
            assert_eq!(
                services["market-data-coinmetrics"]["container_name"],
                "market-data-Coinmetrics"
            );
            assert_eq!(
                services["exchange-binance"]["volumes"][0],
                "./data/exchange-Binance:/app/data"
            );
            let prometheus = read_yaml(&out.join("prometheus/prometheus.yml")).unwrap();
            assert_eq!(
                prometheus["scrape_configs"][0]["static_configs"]
                    .as_array()
                    .unwrap()
                    .len(),
                9
            );
        }
        None => eprintln!("skipped reading the YAML back: no python3 with PyYAML here"),
    }
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("grafana/provisioning/dashboards/json/tse-entities.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(dashboard["templating"]["list"][1]["name"], "instance");
    assert!(dashboard["panels"].as_array().unwrap().len() >= 10);
    // Compose itself accepts the project (Debian's docker-compose validates without an engine).
    match std::process::Command::new("docker-compose")
        .args(["-f", "compose.yaml", "config", "-q"])
        .current_dir(&out)
        .output()
    {
        Ok(checked) => assert!(
            checked.status.success(),
            "docker-compose config: {}",
            String::from_utf8_lossy(&checked.stderr)
        ),
        Err(_) => eprintln!("skipped `docker-compose config`: not installed here"),
    }
    // The containers take their settings from the mounted topology.
    let topology = std::fs::read_to_string(out.join("topology.toml")).unwrap();
    assert!(topology.contains("trading-system-LH"));
}

#[test]
fn a_bad_topology_is_refused_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let topology = dir.path().join("bad.toml");
    std::fs::write(
        &topology,
        "[[instance]]\nservice = \"custodian-simulator\"\nname = \"custodian-X\"\n[instance.settings]\nsettlement_day = \"0s\"\n",
    )
    .unwrap();
    let (code, _, stderr) = run(
        dir.path(),
        &[
            "deploy",
            "compose",
            "--topology",
            topology.to_str().unwrap(),
            "--out",
            "out",
        ],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("custodian-X: settings: settlement_day"),
        "{stderr}"
    );
    assert!(!dir.path().join("out").exists(), "nothing written");
}

#[test]
fn kubernetes_manifests_from_the_default_ecosystem() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("k8s");
    let (code, stdout, stderr) = run(dir.path(), &["deploy", "k8s", "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("9 instances"), "{stdout}");
    let path = out.join("tse.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    // Regenerating keeps the secrets (PostgreSQL keeps the password its volume was made with).
    let secrets = std::fs::read_to_string(out.join("secrets.env")).unwrap();
    assert!(secrets.contains("POSTGRES_PASSWORD="), "{secrets}");
    let (code, _, stderr) = run(dir.path(), &["deploy", "k8s", "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    assert_eq!(std::fs::read_to_string(out.join("secrets.env")).unwrap(), secrets);
    // Monitoring for the cluster's Prometheus and Grafana: the instances by their Service names.
    let prometheus = std::fs::read_to_string(out.join("prometheus/prometheus.yml")).unwrap();
    assert!(
        prometheus.contains("\"custodian-komainu.tse.svc:8080\""),
        "{prometheus}"
    );
    assert!(out.join("prometheus/rules.yml").is_file());
    assert!(
        out.join("grafana/provisioning/dashboards/json/tse-risk.json")
            .is_file()
    );
    assert_eq!(
        text.matches("\n---\n").count(),
        25,
        "one separator before each document"
    );
    let output = std::process::Command::new("python3")
        .args([
            "-c",
            "import json, sys, yaml; print(json.dumps([d for d in yaml.safe_load_all(open(sys.argv[1])) if d]))",
        ])
        .arg(&path)
        .output();
    match output {
        Ok(out) if out.status.success() => {
            let docs: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(docs.len(), 25);
            let topology = docs.iter().find(|d| d["kind"] == "ConfigMap").unwrap();
            assert!(
                topology["data"]["topology.toml"]
                    .as_str()
                    .unwrap()
                    .contains("custodian-Komainu")
            );
        }
        Ok(out) => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(stderr.contains("No module named"), "not valid YAML: {stderr}");
            eprintln!("skipped reading the YAML back: no PyYAML here");
        }
        Err(_) => eprintln!("skipped reading the YAML back: no python3 here"),
    }
    // Every document against Kubernetes' own schemas, rejecting unknown fields
    // (`pip install kubernetes-validate`, which `.ci/run` does).
    match std::process::Command::new("kubernetes-validate")
        .args(["--strict", "--quiet"])
        .arg(&path)
        .output()
    {
        Ok(checked) => assert!(
            checked.status.success(),
            "kubernetes-validate: {}{}",
            String::from_utf8_lossy(&checked.stdout),
            String::from_utf8_lossy(&checked.stderr)
        ),
        Err(_) => eprintln!("skipped validating against Kubernetes' schemas: no kubernetes-validate here"),
    }
}
