//! `tse up` of a large topology: 200 instances in one process, within a memory budget.

use std::{fmt::Write as _, path::Path, time::Duration};

use crate::{
    process::{Tse, command},
    up::{DEFAULT_INSTANCES, DEFAULT_SERVICES},
};

/// How many instances the large topology has.
const INSTANCES: usize = 200;

/// The most memory 200 idle instances may take (resident set of the whole process).
const RSS_BUDGET_KIB: u64 = 1024 * 1024;

/// The default ecosystem, then exchanges up to [`INSTANCES`], on ports chosen by the OS.
fn large_topology() -> (String, Vec<String>) {
    let mut topology = String::from("[ecosystem]\nhttp_port_base = 0\ngrpc_port_base = 0\n");
    let mut names: Vec<String> = DEFAULT_INSTANCES.iter().map(|n| (*n).to_owned()).collect();
    let mut services: Vec<&str> = DEFAULT_SERVICES.to_vec();
    for i in names.len()..INSTANCES {
        names.push(format!("exchange-X{i:03}"));
        services.push("exchange-simulator");
    }
    for (service, name) in services.iter().zip(&names) {
        write!(
            topology,
            "\n[[instance]]\nservice = \"{service}\"\nname = \"{name}\"\n"
        )
        .unwrap();
    }
    (topology, names)
}

/// A `kB` field of `/proc/<pid>/status`, or a count such as `Threads`.
fn proc_status(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc/<pid>/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// The text of the one log file of `instance`.
fn log_of(dir: &Path, instance: &str) -> String {
    let log_dir = dir.join("logs").join(instance);
    let files: Vec<_> = std::fs::read_dir(&log_dir).unwrap().collect();
    assert_eq!(files.len(), 1, "one log file in {}", log_dir.display());
    std::fs::read_to_string(files[0].as_ref().unwrap().path()).unwrap()
}

#[tokio::test]
async fn two_hundred_instances_start_answer_health_and_stay_under_one_gib() {
    let dir = tempfile::tempdir().unwrap();
    let (topology, names) = large_topology();
    std::fs::write(dir.path().join("eco.toml"), topology).unwrap();
    let mut cmd = command(dir.path());
    cmd.args(["up", "--topology", "eco.toml"]);
    let mut tse = Tse::spawn(cmd);
    tse.wait_for(Duration::from_secs(240), |l| l.starts_with("INSTANCE"));
    let rows: Vec<(String, String)> = (0..INSTANCES)
        .map(|_| {
            let line = tse.wait_for(Duration::from_secs(5), |_| true);
            let fields: Vec<&str> = line.split_whitespace().collect();
            (fields[0].to_owned(), fields[2].to_owned())
        })
        .collect();
    let summary = tse.wait_for(Duration::from_secs(5), |l| l.starts_with("tse:"));
    assert!(
        summary.contains(&format!("{INSTANCES} instances ready in")),
        "{summary}"
    );
    assert_eq!(
        rows.iter().map(|(name, _)| name.clone()).collect::<Vec<_>>(),
        names
    );

    let client = reqwest::Client::new();
    for (name, url) in &rows {
        let health: serde_json::Value = client
            .get(format!("{url}/api/v1/health"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{name} answers health: {e}"))
            .json()
            .await
            .unwrap();
        assert_eq!(health["instance"], name.as_str(), "{health}");
        assert_ne!(health["status"], "unhealthy", "{name}: {health}");
    }

    // Idle a moment, so that what start-up allocated and released is settled.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let pid = tse.pid();
    let rss_kib = proc_status(pid, "VmRSS");
    let threads = proc_status(pid, "Threads");
    println!(
        "{INSTANCES} idle instances: RSS {} MiB, {threads} threads",
        rss_kib / 1024
    );
    assert!(
        rss_kib < RSS_BUDGET_KIB,
        "{INSTANCES} idle instances take {} MiB (budget {} MiB), {threads} threads",
        rss_kib / 1024,
        RSS_BUDGET_KIB / 1024
    );

    tse.signal("TERM");
    let status = tse.wait_exit(Duration::from_secs(60));
    assert_eq!(status.code(), Some(0), "output:\n{}", tse.seen.join("\n"));
    // Every instance's file holds its own lines only, also past the 64 files a filtered layer each
    // allowed.
    for (i, name) in names.iter().enumerate() {
        let text = log_of(dir.path(), name);
        assert!(text.contains("instance ready"), "{name} log");
        assert!(text.contains("instance stopped"), "{name} log");
        let neighbours = [i.wrapping_sub(1), i + 1, (i + 100) % INSTANCES];
        for other in neighbours.iter().filter_map(|&j| names.get(j)) {
            assert!(
                !text.contains(&format!("\"instance\":\"{other}\"")),
                "{name}'s log holds lines of {other}"
            );
        }
    }
}
