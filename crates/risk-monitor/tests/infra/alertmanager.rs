//! The push to a real Prometheus Alertmanager (Debian's `prometheus-alertmanager`, installed by
//! `.ci/run`): an alert raised shows in Alertmanager with its labels and evidence, an escalation
//! replaces it without leaving the lower severity behind, and a resolution ends it.

use std::{
    net::TcpListener,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

use serde_json::Value;
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;
use tse_risk_monitor::{
    domain::alert::{Alert, AlertChange, RuleKind, Severity, Subject},
    infra::{
        alertmanager::{self, AlertmanagerParts},
        metrics::PrometheusMetrics,
    },
};
use tse_runtime::clock::wall_now;
use tse_testing::app::eventually;

use crate::support::alert;

const BINARY: &str = "prometheus-alertmanager";

const RESEND: Duration = Duration::from_secs(10);

/// The Alertmanager binary on PATH; the test fails without it (CI installs it).
fn binary() -> PathBuf {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(BINARY))
        .find(|path| path.is_file())
        .unwrap_or_else(|| {
            panic!(
                "{BINARY} is not installed: .ci/run installs it (apt-get install -y prometheus-alertmanager)"
            )
        })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running Alertmanager, killed when dropped (also when the test panics).
struct Running {
    child: Child,
    url: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Running {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

fn start(dir: tempfile::TempDir) -> Running {
    let config = dir.path().join("am.yml");
    std::fs::write(
        &config,
        "route:\n  receiver: blackhole\n  group_by: ['alertname']\nreceivers:\n  - name: blackhole\n",
    )
    .unwrap();
    let storage = dir.path().join("data");
    std::fs::create_dir_all(&storage).unwrap();
    let log = dir.path().join("alertmanager.log");
    let port = free_port();
    let out = std::fs::File::create(&log).unwrap();
    let child = Command::new(binary())
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--cluster.listen-address=")
        .arg(format!("--storage.path={}", storage.display()))
        .arg(format!("--config.file={}", config.display()))
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .expect("alertmanager starts");
    Running {
        child,
        url: format!("http://127.0.0.1:{port}"),
        log,
        _dir: dir,
    }
}

async fn ready(am: &mut Running, client: &reqwest::Client) {
    let url = format!("{}/-/ready", am.url);
    for _ in 0..600 {
        if let Some(status) = am.child.try_wait().unwrap() {
            panic!("alertmanager exited ({status}):\n{}", am.log());
        }
        if client
            .get(&url)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("alertmanager is not ready after a minute:\n{}", am.log());
}

/// The alerts Alertmanager holds (active, not resolved) with `alert_id` = `id`.
async fn held(client: &reqwest::Client, url: &str, id: &str) -> Vec<Value> {
    let alerts: Value = client
        .get(format!("{url}/api/v2/alerts?active=true"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    alerts
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["labels"]["alert_id"] == id)
        .cloned()
        .collect()
}

/// Pushes Alertmanager took.
fn posts(registry: &prometheus::Registry) -> f64 {
    let mut out = Vec::new();
    prometheus::Encoder::encode(&prometheus::TextEncoder::new(), &registry.gather(), &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    tse_testing::app::sample(&text, "risk_alertmanager_posts_total", &[("outcome", "ok")]).unwrap_or(0.0)
}

fn depeg() -> Alert {
    let mut a = alert(1, RuleKind::StablecoinDepeg, Severity::Warning, "x", "x");
    a.subject = Subject {
        venue: Some("market-data-Coinmetrics".into()),
        symbol: Some("USDT-USD".into()),
        ..Subject::default()
    };
    a.evidence.observed = 120.0;
    a.evidence.threshold = 50.0;
    a.evidence.unit = "bps".into();
    a.evidence.source = "market-data-Coinmetrics".into();
    a.evidence.message = "USDT-USD is 120 bps below its peg of 1".into();
    a.detected_at_wall = wall_now();
    a
}

#[tokio::test]
async fn raised_alerts_show_in_a_real_alertmanager_and_resolved_ones_end() {
    let dir = tempfile::tempdir().unwrap();
    let mut am = start(dir);
    let client = reqwest::Client::new();
    ready(&mut am, &client).await;
    let log = am.log.clone();
    let dump = move || std::fs::read_to_string(&log).unwrap_or_default();

    let registry = prometheus::Registry::new();
    let metrics = PrometheusMetrics::register(&registry).unwrap();
    let (open_tx, open) = watch::channel(Vec::new());
    let (changes_tx, changes) = broadcast::channel(16);
    let stop = CancellationToken::new();
    let pusher = tokio::spawn(alertmanager::run(AlertmanagerParts {
        url: am.url.clone(),
        instance: "risk-monitor-LH".into(),
        api_url: "http://127.0.0.1:8080".into(),
        open,
        changes,
        // Open alerts end 40 s ahead unless pushed again: well after the 20 s the escalation and
        // the resolution below are given, so only the pushes can make those pass.
        resend: RESEND,
        stop: stop.clone(),
        metrics: Some(metrics),
    }));

    // Raised: it shows with its labels and evidence.
    let raised = depeg();
    open_tx.send_replace(vec![raised.clone()]);
    changes_tx.send(AlertChange::Raised(raised.clone())).unwrap();
    let shown = eventually(
        Duration::from_secs(30),
        "the raised alert in Alertmanager",
        || {
            let (client, url) = (client.clone(), am.url.clone());
            async move { held(&client, &url, "alert-1").await.into_iter().next() }
        },
    )
    .await;
    let labels = &shown["labels"];
    assert_eq!(labels["alertname"], "RiskStablecoinDepeg", "{shown}\n{}", dump());
    assert_eq!(labels["severity"], "warning");
    assert_eq!(labels["kind"], "stablecoin_depeg");
    assert_eq!(labels["venue"], "market-data-Coinmetrics");
    assert_eq!(labels["symbol"], "USDT-USD");
    assert_eq!(labels["instance"], "risk-monitor-LH");
    assert!(
        labels.get("entity").is_none() && labels.get("asset").is_none(),
        "{labels}"
    );
    let notes = &shown["annotations"];
    assert_eq!(notes["summary"], "USDT-USD is 120 bps below its peg of 1");
    assert_eq!(notes["observed"], "120");
    assert_eq!(notes["threshold"], "50");
    assert_eq!(notes["unit"], "bps");
    assert_eq!(notes["window"], "30s");
    assert_eq!(notes["source"], "market-data-Coinmetrics");
    assert!(
        notes["description"].as_str().unwrap().contains("120 bps"),
        "{notes}"
    );
    assert_eq!(
        shown["generatorURL"],
        "http://127.0.0.1:8080/api/v1/alerts/alert-1"
    );
    assert_eq!(shown["status"]["state"], "active", "{shown}");

    // Escalated: the critical label set replaces the warning one.
    let mut escalated = raised.clone();
    escalated.severity = Severity::Critical;
    escalated.evidence.observed = 250.0;
    open_tx.send_replace(vec![escalated.clone()]);
    changes_tx
        .send(AlertChange::Escalated(escalated.clone()))
        .unwrap();
    eventually(Duration::from_secs(20), "the critical alert alone", || {
        let (client, url) = (client.clone(), am.url.clone());
        async move {
            let now = held(&client, &url, "alert-1").await;
            (now.len() == 1
                && now[0]["labels"]["severity"] == "critical"
                && now[0]["annotations"]["observed"] == "250")
                .then_some(())
        }
    })
    .await;

    // Re-sent while open: two more pushes with no change, and it is still there.
    let pushed = posts(&registry);
    eventually(Duration::from_secs(60), "two resends", || {
        let registry = registry.clone();
        async move { (posts(&registry) >= pushed + 2.0).then_some(()) }
    })
    .await;
    assert_eq!(held(&client, &am.url, "alert-1").await.len(), 1, "{}", dump());

    // Resolved: it ends.
    let mut resolved = escalated.clone();
    resolved.status = tse_risk_monitor::domain::alert::Status::Resolved;
    open_tx.send_replace(Vec::new());
    changes_tx.send(AlertChange::Resolved(resolved)).unwrap();
    eventually(Duration::from_secs(20), "the resolved alert to end", || {
        let (client, url) = (client.clone(), am.url.clone());
        async move { held(&client, &url, "alert-1").await.is_empty().then_some(()) }
    })
    .await;

    stop.cancel();
    pusher.await.unwrap();
    assert!(posts(&registry) >= 5.0);
    drop(am);
}
