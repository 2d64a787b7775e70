//! Proof against the real thing: `tse up`, then a real Prometheus (Debian's `prometheus` package,
//! which `.ci/run` installs) with the generated configuration (static targets and the registry's
//! HTTP service discovery; only the hosts mapped to this test's ports) and the generated rules; every
//! instance must become one `up` target with its labels, every generated rule must be accepted and
//! evaluate, every dashboard panel must parse and show data (or, marked awaiting its service's
//! metrics, none yet), no metric label may clash with a target label, and `promtool` must accept the
//! generated configuration, rules and every `/metrics`. The alert rules are unit-tested with
//! `promtool test rules` on synthetic series. Skipped, saying so, on a machine without `prometheus`
//! and `promtool`.

use std::{path::Path, process::Stdio, time::Duration};

use serde_json::Value;

use crate::process::{Tse, command, run};

pub(crate) fn have(tool: &str) -> bool {
    std::process::Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn promtool(args: &[&str], stdin: Option<&[u8]>) -> (bool, String) {
    use std::io::Write;
    let mut child = std::process::Command::new("promtool")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input).unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Every `expr` of a rules document.
fn expressions(rules: &Value) -> Vec<String> {
    entries(rules)
        .map(|r| r["expr"].as_str().unwrap().to_owned())
        .collect()
}

/// Every rule of a rules document, recording and alerting.
fn entries(rules: &Value) -> impl Iterator<Item = &Value> {
    rules["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_array().unwrap().iter())
}

/// GETs `url` and reads its JSON answer.
pub(crate) async fn get_json(client: &reqwest::Client, url: String) -> Value {
    client.get(url).send().await.unwrap().json().await.unwrap()
}

/// GETs `url` and reads its text.
pub(crate) async fn get_text(client: &reqwest::Client, url: String) -> String {
    client.get(url).send().await.unwrap().text().await.unwrap()
}

/// Percent-encodes a query parameter.
pub(crate) fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A child process killed when dropped (a failed assertion leaves no Prometheus behind).
pub(crate) struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The generated `prometheus/prometheus.yml` of the Compose project in `deploy` — static targets and
/// the registry's HTTP service discovery (any instance serves it) — with only what differs between
/// Compose and a test changed: each instance's host (its Compose service name there, the address of
/// `instances`' URL here), the intervals (a second, for a quick test) and the rules' path.
pub(crate) fn mapped_config(deploy: &Path, instances: &[(String, String)], rules: &Path) -> String {
    let mut config = std::fs::read_to_string(deploy.join("prometheus/prometheus.yml")).unwrap();
    for (instance, url) in instances {
        let address = url.trim_start_matches("http://");
        config = config.replace(&format!("{}:8080", tse::deploy::service_key(instance)), address);
    }
    let config = config
        .replace("\"5s\"", "\"1s\"")
        .replace("\"15s\"", "\"1s\"")
        .replace("\"rules.yml\"", &format!("\"{}\"", rules.display()));
    assert!(!config.contains(":8080"), "every host mapped: {config}");
    config
}

/// Starts Prometheus with `config` (its data under `dir`) on a free port; returns the process (killed
/// when dropped) and its API's base URL.
pub(crate) fn start_prometheus(dir: &Path, config: &str) -> (Killed, String) {
    let port = free_port();
    let path = dir.join("prometheus.yml");
    std::fs::write(&path, config).unwrap();
    let child = std::process::Command::new("prometheus")
        .arg(format!("--config.file={}", path.display()))
        .arg(format!("--storage.tsdb.path={}", dir.join("tsdb").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    (Killed(child), format!("http://127.0.0.1:{port}/api/v1"))
}

/// Waits (a minute at most) until Prometheus has exactly `n` active targets, all up; returns them.
pub(crate) async fn targets_up(client: &reqwest::Client, api: &str, n: usize) -> Vec<Value> {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut last = Value::Null;
    loop {
        let answer = client.get(format!("{api}/targets")).send().await;
        if let Ok(answer) = answer
            && let Ok(body) = answer.json::<Value>().await
        {
            let active = body["data"]["activeTargets"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if active.len() == n && active.iter().all(|t| t["health"] == "up") {
                return active;
            }
            last = body;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never {n} targets all up: {last}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Opens an account of `entity` on the exchange at `exchange`, funds it and buys 0.1 BTC at market,
/// again until it fills (the liquidity provider quotes once it has a price); returns the order.
pub(crate) async fn buy_at_market(client: &reqwest::Client, exchange: &str, entity: &str) -> Value {
    let account: Value = client
        .post(format!("{exchange}/api/v1/accounts"))
        .json(&serde_json::json!({"entity": entity}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = account["id"].as_str().unwrap_or_else(|| panic!("{account}"));
    client
        .post(format!("{exchange}/api/v1/accounts/{id}/deposits"))
        .json(&serde_json::json!({"asset": "USD", "amount": "1000000"}))
        .send()
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let order: Value = client
            .post(format!("{exchange}/api/v1/orders"))
            .json(&serde_json::json!({"account_id": id, "symbol": "BTC-USD", "side": "BUY", "type": "MARKET", "quantity": "0.1"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if order["trades"].as_array().is_some_and(|t| !t.is_empty()) {
            return order;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no liquidity to trade against: {order}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test]
async fn generated_configuration_rules_and_metrics_hold_against_a_real_prometheus() {
    if !have("prometheus") || !have("promtool") {
        eprintln!("skipped: no prometheus/promtool on this machine (`apt-get install prometheus`)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let deploy = dir.path().join("deploy");
    let (code, _, stderr) = run(
        dir.path(),
        &["deploy", "compose", "--out", deploy.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{stderr}");
    let (ok, out) = promtool(
        &[
            "check",
            "config",
            deploy.join("prometheus/prometheus.yml").to_str().unwrap(),
        ],
        None,
    );
    assert!(ok, "promtool check config: {out}");
    let rules_path = deploy.join("prometheus/rules.yml");
    let (ok, out) = promtool(&["check", "rules", rules_path.to_str().unwrap()], None);
    assert!(ok, "promtool check rules: {out}");

    let mut cmd = command(dir.path());
    // A minute of simulated time a second: the custodian's P&L settlement point comes quickly.
    cmd.args([
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
    let instances = tse.ready_table(9, Duration::from_secs(30));
    let urls: Vec<String> = instances.iter().map(|(_, url)| url.clone()).collect();

    // Every instance's exposition passes promtool's parser and lint.
    let client = reqwest::Client::new();
    let mut largest = (0, String::new());
    for url in &urls {
        let text = get_text(&client, format!("{url}/metrics")).await;
        if text.len() > largest.0 {
            largest = (text.len(), url.clone());
        }
        let (ok, out) = promtool(&["check", "metrics"], Some(text.as_bytes()));
        assert!(ok, "promtool check metrics on {url}: {out}");
    }

    // A real Prometheus with the generated configuration and rules.
    let config = mapped_config(&deploy, &instances, &rules_path);
    let (_prometheus, api) = start_prometheus(dir.path(), &config);
    let targets = targets_up(&client, &api, 9).await;
    for t in &targets {
        let labels = &t["labels"];
        for label in ["service", "instance_name", "service_type", "entity_type"] {
            assert!(labels[label].is_string(), "{label} on {t}");
        }
    }
    let scrape = |t: &Value| t["lastScrapeDuration"].as_f64().unwrap_or(0.0);
    let of_largest = targets
        .iter()
        .find(|t| t["scrapeUrl"].as_str() == Some(&format!("{}/metrics", largest.1)))
        .unwrap_or_else(|| panic!("the target of {}", largest.1));
    let slowest = targets.iter().map(scrape).fold(0.0, f64::max);
    eprintln!(
        "largest /metrics: {} bytes ({}), scraped in {:.4} s; slowest scrape of all {:.4} s",
        largest.0,
        of_largest["labels"]["instance_name"],
        scrape(of_largest),
        slowest
    );

    // Some trading, so the entity panels have something to show: trading-system-LH buys on
    // exchange-OKX; the custodian settles it.
    buy_at_market(&client, &urls[2], "trading-system-LH").await;

    // Every dashboard panel's expressions evaluate and show data (variables at "All").
    let query = |expr: String| {
        let client = client.clone();
        let api = api.clone();
        async move {
            let answer: Value = get_json(&client, format!("{api}/query?query={}", encode(&expr))).await;
            answer
        }
    };
    let (mut shown, mut awaiting) = (0, 0);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    for dashboard in tse::deploy::grafana::dashboards() {
        for panel in dashboard["panels"].as_array().unwrap() {
            // A panel over metrics nobody publishes yet must parse and must still be empty: the
            // marker goes when its service arrives.
            let waits = panel["description"]
                .as_str()
                .is_some_and(|d| d.starts_with(tse::deploy::grafana::AWAITING));
            // This ecosystem runs on embedded storage: no instance uses a dependency server, so
            // none exports `tse_dependency_up` (a 0 there would fire TseDependencyDown on healthy
            // instances) and the panel over it must be empty too.
            let serverless = panel["targets"].as_array().unwrap().iter().all(|t| {
                t["expr"]
                    .as_str()
                    .is_some_and(|e| e.contains("tse_dependency_up"))
            });
            let waits = waits || serverless;
            for target in panel["targets"].as_array().unwrap() {
                let expr = target["expr"]
                    .as_str()
                    .unwrap()
                    .replace("$instance", ".*")
                    .replace("$entity_type", ".*");
                loop {
                    let answer = query(expr.clone()).await;
                    assert_eq!(answer["status"], "success", "{expr}: {answer}");
                    let data = answer["data"]["result"].as_array().is_some_and(|r| !r.is_empty());
                    if waits {
                        assert!(
                            !data,
                            "panel '{}' is marked awaiting (or over dependency servers, none in use) but shows data: {expr}",
                            panel["title"]
                        );
                        break;
                    }
                    if data {
                        break;
                    }
                    assert!(
                        std::time::Instant::now() < deadline,
                        "panel '{}' shows no data: {expr}",
                        panel["title"]
                    );
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
            if waits {
                awaiting += 1;
            } else {
                shown += 1;
            }
        }
    }
    eprintln!(
        "evaluated {} dashboard panels against Prometheus: {shown} with data, {awaiting} awaiting their service's metrics",
        shown + awaiting
    );

    // No instance's own label clashes with a target label (Prometheus would rename it
    // `exported_*` and the panels grouping by it would be wrong); the identity metric repeats
    // the target labels on purpose, for scrapes without them.
    let series: Value = get_json(
        &client,
        format!(
            "{api}/series?match[]={}",
            encode("{job=\"tse\", __name__!=\"tse_instance_info\"}")
        ),
    )
    .await;
    let series = series["data"].as_array().unwrap();
    assert!(!series.is_empty());
    for s in series {
        let clash = s.as_object().unwrap().keys().find(|k| k.starts_with("exported_"));
        assert!(clash.is_none(), "a metric label clashes with a target label: {s}");
    }

    // Every rule's expression evaluates; Prometheus loaded every rule without error.
    // The document the rules file was written from.
    let exprs = expressions(&tse::deploy::rules());
    for expr in &exprs {
        let answer: Value = get_json(&client, format!("{api}/query?query={}", encode(expr))).await;
        assert_eq!(answer["status"], "success", "{expr}: {answer}");
    }
    let loaded: Value = get_json(&client, format!("{api}/rules")).await;
    let groups = loaded["data"]["groups"].as_array().unwrap();
    let count: usize = groups.iter().map(|g| g["rules"].as_array().unwrap().len()).sum();
    assert_eq!(count, exprs.len(), "{loaded}");
    for g in groups {
        for r in g["rules"].as_array().unwrap() {
            assert_ne!(r["health"], "err", "{r}");
        }
    }
    // Up is data for every instance.
    let up: Value = get_json(
        &client,
        format!("{api}/query?query={}", encode("up{job=\"tse\"}")),
    )
    .await;
    assert_eq!(up["data"]["result"].as_array().unwrap().len(), 9, "{up}");
    eprintln!("evaluated {} rule expressions against Prometheus", exprs.len());

    tse.signal("TERM");
    let _ = tse.wait_exit(Duration::from_secs(20));
}

/// Every generated alert fires on what it describes, with its labels and summary, and stays quiet on
/// a healthy ecosystem: `promtool test rules` with `rules_test.yml` (synthetic series) next to the
/// generated `rules.yml`. Every alert must have its case there.
#[test]
fn alert_rules_fire_on_what_they_describe() {
    if !have("promtool") {
        eprintln!("skipped: no promtool on this machine (`apt-get install prometheus`)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let rules = tse::deploy::rules();
    std::fs::write(dir.path().join("rules.yml"), tse::deploy::yaml(&rules)).unwrap();
    let cases = include_str!("rules_test.yml");
    std::fs::write(dir.path().join("rules_test.yml"), cases).unwrap();
    let alerts: Vec<&str> = entries(&rules).filter_map(|r| r["alert"].as_str()).collect();
    for alert in &alerts {
        assert!(
            cases.contains(&format!("alertname: {alert}\n"))
                && cases.contains(&format!("alertname: {alert},")),
            "{alert} has a firing and a quiet case in rules_test.yml"
        );
    }
    let (ok, out) = promtool(
        &[
            "test",
            "rules",
            dir.path().join("rules_test.yml").to_str().unwrap(),
        ],
        None,
    );
    assert!(ok, "promtool test rules: {out}");
    eprintln!(
        "{} alert rules fired and stayed quiet as their unit tests expect",
        alerts.len()
    );
}
