//! Every instance's OpenAPI document agrees with what the instance does: schemathesis (PyPI, which
//! `.ci/run` installs) runs over each of the 9 documents of a `tse up` ecosystem with all its checks
//! (its default; `--checks all` would override the per-operation exceptions in `schemathesis.toml`) —
//! no 5xx, every answer's status and body as documented, schema-valid requests accepted, invalid ones
//! refused. Two passes per instance: without a token over the whole document (the back doors must
//! answer their documented 401), then with the admin token over the back doors only, after every
//! instance's first pass, so the faults it injects (downtime, ...) cannot disturb the production
//! APIs being checked. Skipped, saying so, on a machine without `schemathesis`.

use std::{process::Command, time::Duration};

use crate::{
    process::{Tse, command},
    prometheus::have,
};

/// Examples per operation: enough for every operation's boundaries (the coverage phase adds its
/// own), small enough that the 9 instances take minutes, not an hour.
const EXAMPLES: &str = "15";

fn schemathesis(dir: &std::path::Path, url: &str, token: Option<&str>, only: Option<&str>) -> (bool, String) {
    let mut cmd = Command::new("schemathesis");
    // Its caches (stored failures it would replay first) go to the test's own directory, not the
    // source tree: every run starts clean.
    cmd.current_dir(dir);
    cmd.args([
        "--no-color",
        "--config-file",
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cli/schemathesis.toml"),
        "run",
        &format!("{url}/api/v1/openapi.json"),
        "--max-examples",
        EXAMPLES,
        "--seed",
        "1",
        "--workers",
        "1",
        "--request-timeout",
        "10",
        "--warnings",
        "off",
    ]);
    if let Some(token) = token {
        cmd.args(["-H", &format!("Authorization: Bearer {token}")]);
    }
    if let Some(regex) = only {
        cmd.args(["--include-path-regex", regex]);
    }
    let out = cmd.output().expect("schemathesis runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The summary lines of a schemathesis run (its counts), for the test's output.
fn summary(text: &str) -> String {
    text.lines()
        .filter(|l| {
            let l = l.trim_start();
            l.starts_with("API Operations:")
                || l.starts_with("Test Phases:")
                || l.contains(" passed")
                || l.contains(" failed")
        })
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" | ")
}

/// Whether the instance's document describes a back door (`/chaos/v1/...`).
async fn has_back_door(url: &str) -> bool {
    let doc: serde_json::Value = reqwest::get(format!("{url}/api/v1/openapi.json"))
        .await
        .expect("the OpenAPI document")
        .json()
        .await
        .expect("the OpenAPI document is JSON");
    doc["paths"]
        .as_object()
        .is_some_and(|paths| paths.keys().any(|p| p.starts_with("/chaos/")))
}

#[tokio::test]
async fn every_instances_openapi_document_agrees_with_what_it_does_under_schemathesis() {
    if !have("schemathesis") {
        eprintln!("skipped: no schemathesis on this machine (`pip install schemathesis`)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let token = "schemathesis-admin-token";
    let mut cmd = command(dir.path());
    cmd.env("TSE_ADMIN_TOKEN", token).args([
        "up",
        "--http-port-base",
        "0",
        "--grpc-port-base",
        "0",
        "--clock-speed",
        "60",
    ]);
    let mut tse = Tse::spawn(cmd);
    // (instance, URL) of each instance, from the table `tse up` prints.
    let instances = tse.ready_table(9, Duration::from_secs(60));

    let mut failures = Vec::new();
    let passes: [(Option<&str>, Option<&str>, &str); 2] = [
        (None, None, "without a token"),
        (Some(token), Some("^/chaos/"), "back doors with the admin token"),
    ];
    for (token, only, pass) in passes {
        for (instance, url) in &instances {
            if only.is_some() && !has_back_door(url).await {
                continue;
            }
            let (ok, text) = schemathesis(dir.path(), url, token, only);
            eprintln!("{instance} ({pass}): {}", summary(&text));
            if !ok {
                failures.push(format!("== {instance} ({pass}) ==\n{text}"));
            }
        }
    }
    tse.signal("TERM");
    let _ = tse.wait_exit(Duration::from_secs(20));
    assert!(
        failures.is_empty(),
        "schemathesis found disagreements:\n{}",
        failures.join("\n")
    );
}
