//! `tse up`: the default ecosystem in one process.

use std::{collections::BTreeSet, time::Duration};

use tse_testing::servers::{PgGuard, RedisGuard, database_url, pg_strings, redis_url};

use crate::process::{Tse, command, run};

/// The default ecosystem's instances, in start order (the two singletons first).
pub(crate) const DEFAULT_INSTANCES: [&str; 9] = [
    "audit-correlator",
    "test-coordinator",
    "exchange-OKX",
    "exchange-Binance",
    "custodian-Komainu",
    "market-data-Coinmetrics",
    "trading-system-LH",
    "risk-monitor-LH",
    "market-data-Kaiko",
];

/// The default ecosystem's services, in the order of [`DEFAULT_INSTANCES`].
pub(crate) const DEFAULT_SERVICES: [&str; 9] = [
    "audit-correlator",
    "test-coordinator",
    "exchange-simulator",
    "exchange-simulator",
    "custodian-simulator",
    "market-data-simulator",
    "trading-system-engine",
    "risk-monitor",
    "market-data-simulator",
];

#[tokio::test]
async fn brings_up_nine_healthy_instances_on_distinct_ports_and_schemas() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = command(dir.path());
    cmd.args(["up", "--http-port-base", "0", "--grpc-port-base", "0"]);
    let mut tse = Tse::spawn(cmd);
    tse.wait_for(Duration::from_secs(30), |l| l.starts_with("INSTANCE"));
    let rows: Vec<Vec<String>> = (0..9)
        .map(|_| {
            tse.wait_for(Duration::from_secs(5), |_| true)
                .split_whitespace()
                .map(str::to_owned)
                .collect()
        })
        .collect();
    let summary = tse.wait_for(Duration::from_secs(5), |l| l.starts_with("tse:"));
    assert!(summary.contains("9 instances ready in"), "{summary}");

    let names: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(names, DEFAULT_INSTANCES);
    let distinct = |column: usize| {
        rows.iter()
            .map(|r| r[column].clone())
            .collect::<BTreeSet<_>>()
            .len()
    };
    assert_eq!(distinct(2), 9, "distinct HTTP URLs");
    assert_eq!(distinct(3), 9, "distinct gRPC addresses");
    assert_eq!(distinct(4), 9, "distinct schemas");
    assert_eq!(distinct(5), 9, "distinct namespaces");

    let client = reqwest::Client::new();
    for row in &rows {
        // Instances that follow others (the exchanges' liquidity providers find market data) are
        // healthy once they have found them: moments after start.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let health = loop {
            let health: serde_json::Value = client
                .get(format!("{}/api/v1/health", row[2]))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if health["status"] == "healthy" || std::time::Instant::now() > deadline {
                break health;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(health["status"], "healthy", "{row:?}: {health}");
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

    // `tse status` reads the registry through any instance and asks each for its health.
    let (code, stdout, stderr) = run(dir.path(), &["status", "--url", &rows[2][2]]);
    assert_eq!(code, 0, "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 10, "{stdout}");
    assert!(lines[0].starts_with("INSTANCE") && lines[0].contains("STATUS"));
    assert!(
        lines[1..]
            .iter()
            .all(|l| l.contains(" healthy ") && l.contains(" yes ")),
        "{stdout}"
    );

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
        &[
            "up",
            "--verbose",
            "--http-port-base",
            &base,
            "--grpc-port-base",
            "0",
        ],
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

#[tokio::test]
async fn with_postgres_and_redis_every_instance_creates_its_schema_and_registers() {
    let test = "with_postgres_and_redis_every_instance_creates_its_schema_and_registers";
    let (Some(db), Some(redis)) = (database_url(test), redis_url(test)) else {
        return;
    };
    // The default ecosystem's services under names of this run, so the test never touches a user's.
    let suffix = format!("u{}", std::process::id());
    let services = DEFAULT_SERVICES;
    let names: Vec<String> = DEFAULT_INSTANCES
        .iter()
        .map(|n| format!("{n}-{suffix}"))
        .collect();
    // An ecosystem of its own (environment): its own clock and lookups in the shared Redis.
    let environment = format!("up-{suffix}");
    let mut topology =
        format!("[ecosystem]\nenvironment = \"{environment}\"\nhttp_port_base = 0\ngrpc_port_base = 0\n");
    for (service, name) in services.iter().zip(&names) {
        topology.push_str(&format!(
            "\n[[instance]]\nservice = \"{service}\"\nname = \"{name}\"\n"
        ));
    }
    let schemas: Vec<String> = names.iter().map(|n| n.to_lowercase().replace('-', "_")).collect();
    let _pg: Vec<PgGuard> = schemas.iter().map(|s| PgGuard::new(&db, s)).collect();
    let _redis = RedisGuard {
        url: redis.clone(),
        patterns: vec![
            format!("services:*:*-{suffix}"),
            tse_runtime::discovery::clock_key(&environment),
        ],
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("eco.toml"), topology).unwrap();

    let mut cmd = command(dir.path());
    cmd.args(["up", "--topology", "eco.toml", "--clock-speed", "60"])
        .env("DATABASE_URL", &db)
        .env("REDIS_URL", &redis);
    let mut tse = Tse::spawn(cmd);
    let summary = tse.wait_for(Duration::from_secs(60), |l| l.starts_with("tse:"));
    assert!(summary.contains("9 instances ready"), "{summary}");

    let found = pg_strings(
        &db,
        &format!(
            "SELECT nspname || ':' || pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname LIKE '%\\_{suffix}' ORDER BY 1"
        ),
    )
    .await;
    let mut expected: Vec<String> = schemas.iter().map(|s| format!("{s}:tse_{s}")).collect();
    expected.sort();
    assert_eq!(
        found, expected,
        "each instance created its schema, owned by its role"
    );

    // The market data instance publishes and stores prices in its own schema.
    let market_schema = format!("market_data_coinmetrics_{suffix}");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let count = pg_strings(&db, &format!("SELECT COUNT(*)::text FROM {market_schema}.ticks")).await;
        if count[0].parse::<i64>().unwrap() >= 12 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no ticks stored in {market_schema}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let mut status = command(dir.path());
    status.args(["status", "--json"]).env("REDIS_URL", &redis);
    let output = status.output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let listed: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).unwrap();
    let ours: Vec<&serde_json::Value> = listed
        .iter()
        .filter(|s| s["instance"].as_str().is_some_and(|n| n.ends_with(&suffix)))
        .collect();
    assert_eq!(ours.len(), 9, "all 9 registered in Redis");
    for entry in ours {
        assert_eq!(entry["reachable"], true);
        assert_eq!(entry["health"]["status"], "healthy", "{entry}");
        assert_eq!(entry["health"]["backends"]["storage"], "postgres");
        assert_eq!(entry["health"]["backends"]["registry"], "redis");
    }

    tse.signal("TERM");
    assert_eq!(tse.wait_exit(Duration::from_secs(20)).code(), Some(0));
    let output = status.output().unwrap();
    let listed: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).unwrap();
    assert!(
        !listed
            .iter()
            .any(|s| s["instance"].as_str().is_some_and(|n| n.ends_with(&suffix))),
        "deregistered on stop"
    );
}

#[test]
fn status_exits_1_when_no_registry_answers() {
    let dir = tempfile::tempdir().unwrap();
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (code, _, stderr) = run(
        dir.path(),
        &["status", "--url", &format!("http://127.0.0.1:{free}")],
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("cannot reach"), "{stderr}");
    assert!(
        !stderr.contains("REDIS_URL"),
        "an explicit --url needs no hint: {stderr}"
    );
    let (code, _, stderr) = run(dir.path(), &["status", "--url", "ftp://x"]);
    assert_eq!(code, 2, "{stderr}");
}

#[test]
fn status_without_url_or_redis_says_how_to_point_it_when_the_default_does_not_answer() {
    // Held but never answered: the default address cannot give a listing, whatever else runs here.
    let Ok(_silent) = std::net::TcpListener::bind("127.0.0.1:8080") else {
        eprintln!("skipped: 127.0.0.1:8080 is in use by another process");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = run(dir.path(), &["status"]);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("cannot reach http://127.0.0.1:8080"), "{stderr}");
    assert!(stderr.contains("--url"), "{stderr}");
    assert!(stderr.contains("REDIS_URL"), "{stderr}");
}

/// Runs `tse up` of one audit correlator with `args` and `env` until it is ready, stops it with
/// SIGTERM, and returns what it printed on stdout and stderr, and its log file.
fn up_one_instance(args: &[&str], env: &[(&str, &str)]) -> (String, String, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("eco.toml"),
        "[ecosystem]\nhttp_port_base = 0\ngrpc_port_base = 0\n\n[[instance]]\nservice = \"audit-correlator\"\n",
    )
    .unwrap();
    let (stdout_path, stderr_path) = (dir.path().join("stdout"), dir.path().join("stderr"));
    let mut cmd = command(dir.path());
    cmd.args(["up", "--topology", "eco.toml"])
        .args(args)
        .envs(env.iter().copied())
        .stdout(std::fs::File::create(&stdout_path).unwrap())
        .stderr(std::fs::File::create(&stderr_path).unwrap());
    let mut child = cmd.spawn().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !std::fs::read_to_string(&stdout_path)
        .unwrap()
        .contains("instances ready")
    {
        let exited = child.try_wait().unwrap();
        assert!(
            exited.is_none() && std::time::Instant::now() < deadline,
            "not ready ({exited:?}): {}{}",
            std::fs::read_to_string(&stdout_path).unwrap(),
            std::fs::read_to_string(&stderr_path).unwrap()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    assert_eq!(child.wait().unwrap().code(), Some(0));
    let log_dir = dir.path().join("logs/audit-correlator");
    let log_file = std::fs::read_dir(&log_dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    (
        std::fs::read_to_string(&stdout_path).unwrap(),
        std::fs::read_to_string(&stderr_path).unwrap(),
        std::fs::read_to_string(log_file).unwrap(),
    )
}

#[test]
fn up_shows_the_ready_table_without_info_lines_and_keeps_them_in_the_log() {
    let (stdout, stderr, log) = up_one_instance(&[], &[]);
    assert!(stdout.lines().any(|l| l.starts_with("INSTANCE")), "{stdout}");
    assert!(stdout.contains("1 instances ready in"), "{stdout}");
    for (name, text) in [("stdout", &stdout), ("stderr", &stderr)] {
        assert!(!text.contains(" INFO "), "{name} has INFO lines:\n{text}");
    }
    assert!(log.contains("instance ready"), "{log}");
    assert!(log.contains("\"level\":\"INFO\""), "{log}");
}

#[test]
fn up_verbose_or_tse_verbose_shows_every_log_line_on_the_terminal() {
    for (args, env) in [
        (&["--verbose"][..], &[][..]),
        (&[][..], &[("TSE_VERBOSE", "1")][..]),
    ] {
        let (stdout, _, _) = up_one_instance(args, env);
        assert!(
            stdout
                .lines()
                .any(|l| l.contains(" INFO ") && l.contains("instance ready")),
            "{args:?} {env:?}: {stdout}"
        );
        assert!(stdout.lines().any(|l| l.starts_with("INSTANCE")), "{stdout}");
    }
    let (stdout, _, _) = up_one_instance(&[], &[("TSE_VERBOSE", "0")]);
    assert!(!stdout.contains(" INFO "), "TSE_VERBOSE=0: {stdout}");
}
