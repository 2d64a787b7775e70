//! `tse serve`: one instance per process, configured by the environment, stopped by a signal.

use std::time::Duration;

use crate::process::{Tse, addr_in, command, run};

#[tokio::test]
async fn serves_health_logs_to_its_directory_and_exits_0_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = command(dir.path());
    cmd.arg("serve")
        .env("SERVICE_NAME", "custodian-simulator")
        .env("SERVICE_INSTANCE_NAME", "custodian-sim-001")
        .env("HTTP_PORT", "0")
        .env("GRPC_PORT", "0")
        .env("BIND_ADDRESS", "127.0.0.1")
        .env("DATABASE_URL", "postgres://tse:hunter2@127.0.0.1:1/none");
    let mut tse = Tse::spawn(cmd);
    let http = addr_in(&tse.wait_for(Duration::from_secs(20), |l| l.contains("HTTP server listening")));
    tse.wait_for(Duration::from_secs(5), |l| l.contains("instance ready"));

    let body: serde_json::Value = reqwest::get(format!("http://{http}/api/v1/health"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["instance"], "custodian-sim-001");
    assert_eq!(body["schema"], "custodian_sim_001");
    assert_eq!(body["redis_namespace"], "custodian:sim:001");

    tse.signal("TERM");
    let status = tse.wait_exit(Duration::from_secs(15));
    assert_eq!(status.code(), Some(0), "output:\n{}", tse.seen.join("\n"));
    let output = tse.seen.join("\n");
    assert!(output.contains("signal received"), "{output}");
    assert!(output.contains("instance stopped"), "{output}");
    assert!(!output.contains("hunter2"), "the password leaked into the logs");
    assert!(output.contains("postgres://tse:***@127.0.0.1:1/none"), "{output}");

    assert!(dir.path().join("data/custodian-sim-001").is_dir());
    let logs: Vec<_> = std::fs::read_dir(dir.path().join("logs/custodian-sim-001"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(logs.len(), 1, "{logs:?}");
    let text = std::fs::read_to_string(&logs[0]).unwrap();
    let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let messages: Vec<&str> = lines
        .iter()
        .filter_map(|l| l["fields"]["message"].as_str())
        .collect();
    for step in [
        "configuration loaded and validated",
        "starting service",
        "gRPC server listening",
        "HTTP server listening",
        "instance ready",
        "instance stopped",
    ] {
        assert!(messages.contains(&step), "log file lacks {step:?}: {messages:?}");
    }
    assert!(!text.contains("hunter2"));
}

#[tokio::test]
async fn sigint_also_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = command(dir.path());
    cmd.args([
        "serve",
        "audit-correlator",
        "--http-port",
        "0",
        "--grpc-port",
        "0",
        "--bind",
        "127.0.0.1",
    ]);
    let mut tse = Tse::spawn(cmd);
    tse.wait_for(Duration::from_secs(20), |l| l.contains("instance ready"));
    tse.signal("INT");
    assert_eq!(tse.wait_exit(Duration::from_secs(15)).code(), Some(0));
}

#[test]
fn invalid_configuration_exits_2_before_binding_anything() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&[(&str, &str)], &str); 5] = [
        (&[("SERVICE_INSTANCE_NAME", "x")], "no service given"),
        (
            &[("SERVICE_NAME", "exchange-simulator"), ("HTTP_PORT", "99999")],
            "HTTP_PORT",
        ),
        (
            &[
                ("SERVICE_NAME", "exchange-simulator"),
                ("SERVICE_INSTANCE_NAME", "ex_1"),
            ],
            "invalid instance name",
        ),
        (
            &[("SERVICE_NAME", "exchange-simulator"), ("REDIS_URL", "http://x")],
            "REDIS_URL",
        ),
        (
            &[("SERVICE_NAME", "exchange-simulator"), ("SCHEMA_NAME", "Bad")],
            "invalid schema name",
        ),
    ];
    for (env, expected) in cases {
        let mut cmd = command(dir.path());
        cmd.arg("serve").envs(env.iter().copied());
        let output = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{env:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(expected), "{env:?}: {stderr}");
    }
    assert!(!dir.path().join("data").exists(), "nothing was created");
}

#[test]
fn a_port_in_use_exits_1_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let (code, _, stderr) = run(
        dir.path(),
        &[
            "serve",
            "exchange-simulator",
            "--http-port",
            &port,
            "--bind",
            "127.0.0.1",
        ],
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(&format!("cannot listen for HTTP on 127.0.0.1:{port}")),
        "{stderr}"
    );
}

/// A container of a generated deployment runs `tse serve --topology FILE`: the instance takes the
/// settings of its `[[instance]]`; a topology without it, or with bad settings, is refused (exit 2).
#[tokio::test]
async fn serve_takes_its_settings_from_a_topology_file() {
    let dir = tempfile::tempdir().unwrap();
    let topology = dir.path().join("ecosystem.toml");
    std::fs::write(
        &topology,
        "[[instance]]\nservice = \"exchange-simulator\"\nname = \"exchange-T\"\n\
         [instance.settings]\nmaker_fee = \"0.001\"\n[instance.settings.liquidity]\nenabled = false\n\
         [[instance]]\nservice = \"exchange-simulator\"\nname = \"exchange-Bad\"\n\
         [instance.settings]\nmaker_fee = \"lots\"\n",
    )
    .unwrap();
    let path = topology.to_str().unwrap();
    let (code, _, stderr) = run(
        dir.path(),
        &[
            "serve",
            "exchange-simulator",
            "--instance",
            "exchange-Nope",
            "--topology",
            path,
        ],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("no [[instance]] named exchange-Nope"), "{stderr}");
    let (code, _, stderr) = run(
        dir.path(),
        &[
            "serve",
            "exchange-simulator",
            "--instance",
            "exchange-Bad",
            "--topology",
            path,
        ],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("instance exchange-Bad: settings: maker_fee"),
        "{stderr}"
    );

    let mut cmd = command(dir.path());
    cmd.args(["serve", "exchange-simulator", "--instance", "exchange-T"])
        .env("TSE_TOPOLOGY", path)
        .env("HTTP_PORT", "0")
        .env("GRPC_PORT", "0")
        .env("BIND_ADDRESS", "127.0.0.1");
    let mut tse = Tse::spawn(cmd);
    let http = addr_in(&tse.wait_for(Duration::from_secs(20), |l| l.contains("HTTP server listening")));
    tse.wait_for(Duration::from_secs(10), |l| l.contains("instance ready"));
    let symbols: serde_json::Value = reqwest::get(format!("http://{http}/api/v1/symbols"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(symbols["symbols"][0]["maker_fee"], "0.001", "{symbols}");
    tse.signal("TERM");
    assert_eq!(tse.wait_exit(Duration::from_secs(15)).code(), Some(0));
}
