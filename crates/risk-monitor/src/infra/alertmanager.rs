//! Pushes the risk monitor's alerts to a real Prometheus Alertmanager (`POST /api/v2/alerts`), as
//! Prometheus itself does: every change at once, every open alert again each `resend` with
//! `endsAt` four resends ahead (so Alertmanager resolves it by itself if the monitor goes away),
//! and a resolved alert once more with `endsAt` now.
//!
//! Labels name the alert (`alertname` = `Risk` + the kind in PascalCase, `severity`, `kind`, the
//! parts of its subject that are set, `instance`, `alert_id`); annotations carry its evidence. A
//! failed push is retried at the next resend (resolutions included), logged at WARN once per
//! outage and counted in `risk_alertmanager_posts_total{outcome}`. Nothing here panics on a bad
//! URL or an unreachable Alertmanager: it logs and keeps trying until stopped.

use std::{collections::BTreeMap, time::Duration};

use serde_json::{Map, Value, json};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;
use tse_runtime::clock::wall_now;

use super::metrics::PrometheusMetrics;
use crate::domain::alert::{Alert, AlertChange, RuleKind, Severity};

/// Default wall interval between two pushes of the open alerts.
pub const DEFAULT_RESEND: Duration = Duration::from_secs(30);

/// How long one push may take before it counts as failed.
const POST_TIMEOUT: Duration = Duration::from_secs(10);

/// What [`run`] needs.
pub struct AlertmanagerParts {
    /// Alertmanager's base URL, e.g. `http://127.0.0.1:9093` (`ALERTMANAGER_URL`).
    pub url: String,
    /// The risk monitor's instance name, label `instance`.
    pub instance: String,
    /// Base of this instance's HTTP API, for `generatorURL`.
    pub api_url: String,
    /// The open alerts, replaced after every change.
    pub open: watch::Receiver<Vec<Alert>>,
    /// Every change as it happens.
    pub changes: broadcast::Receiver<AlertChange>,
    /// Wall interval to re-send open alerts ([`DEFAULT_RESEND`]).
    pub resend: Duration,
    /// Ends [`run`].
    pub stop: CancellationToken,
    /// Counts the pushes (`risk_alertmanager_posts_total{outcome}`), when given.
    pub metrics: Option<PrometheusMetrics>,
}

/// `Risk` + the kind in PascalCase: `RiskStablecoinDepeg`.
pub fn alertname(kind: RuleKind) -> String {
    let mut name = String::from("Risk");
    for word in kind.as_str().split('_') {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            name.extend(first.to_uppercase());
            name.push_str(chars.as_str());
        }
    }
    name
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_else(|_| at.to_string())
}

/// A number as people read it: no trailing `.0` on whole numbers, at most 6 decimals otherwise.
fn number(value: f64) -> String {
    if value.is_finite() && value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else {
        let text = format!("{value:.6}");
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

/// Milliseconds as a Prometheus-style duration: `30s`, `1m30s`, `250ms`.
fn duration(ms: i64) -> String {
    if ms % 1000 != 0 {
        return format!("{ms}ms");
    }
    let s = ms / 1000;
    match (s / 3600, s % 3600 / 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, 0) => format!("{m}m"),
        (0, m, s) => format!("{m}m{s}s"),
        (h, 0, 0) => format!("{h}h"),
        (h, m, s) => format!("{h}h{m}m{s}s"),
    }
}

/// The labels of `alert` as pushed with `severity` (its own, or a lower one being cleared).
fn labels(alert: &Alert, severity: Severity, instance: &str) -> Map<String, Value> {
    let mut labels = Map::new();
    labels.insert("alertname".into(), alertname(alert.kind).into());
    labels.insert("severity".into(), severity.as_str().into());
    labels.insert("kind".into(), alert.kind.as_str().into());
    let subject = &alert.subject;
    for (name, value) in [
        ("entity", &subject.entity),
        ("venue", &subject.venue),
        ("asset", &subject.asset),
        ("symbol", &subject.symbol),
        ("measure", &subject.measure),
    ] {
        if let Some(value) = value.as_deref().filter(|v| !v.is_empty()) {
            labels.insert(name.into(), value.into());
        }
    }
    if !instance.is_empty() {
        labels.insert("instance".into(), instance.into());
    }
    labels.insert("alert_id".into(), alert.id.as_str().into());
    labels
}

fn annotations(alert: &Alert) -> Map<String, Value> {
    let e = &alert.evidence;
    let mut out = Map::new();
    out.insert("summary".into(), e.message.as_str().into());
    out.insert("observed".into(), number(e.observed).into());
    out.insert("threshold".into(), number(e.threshold).into());
    out.insert("unit".into(), e.unit.as_str().into());
    if let Some(window) = e.window_ms {
        out.insert("window".into(), duration(window).into());
    }
    out.insert("for".into(), duration(e.for_ms).into());
    out.insert("source".into(), e.source.as_str().into());
    out.insert("data_at".into(), rfc3339(e.data_at).into());
    if let Some(since) = e.breach_since {
        out.insert("breach_since".into(), rfc3339(since).into());
    }
    out.insert("detected_at".into(), rfc3339(alert.detected_at).into());
    out.insert("status".into(), alert.status.as_str().into());
    let subject = alert.subject.key();
    let about = if subject.is_empty() {
        String::new()
    } else {
        format!(" ({subject})")
    };
    out.insert(
        "description".into(),
        format!(
            "{} {}{about}: observed {} {} against a threshold of {} {}, from {} at {} (simulated); {}",
            alert.severity.as_str(),
            alert.kind.as_str(),
            number(e.observed),
            e.unit,
            number(e.threshold),
            e.unit,
            e.source,
            rfc3339(e.data_at),
            e.message
        )
        .into(),
    );
    out
}

/// One alert as Alertmanager's API takes it, with `severity` as its label and ending at `ends_at`.
fn posted(alert: &Alert, severity: Severity, ends_at: OffsetDateTime, parts: &Settings) -> Value {
    json!({
        "labels": labels(alert, severity, &parts.instance),
        "annotations": annotations(alert),
        "startsAt": rfc3339(alert.detected_at_wall),
        // Alertmanager refuses an end before the start.
        "endsAt": rfc3339(ends_at.max(alert.detected_at_wall)),
        "generatorURL": format!("{}/api/v1/alerts/{}", parts.api_url.trim_end_matches('/'), alert.id),
    })
}

/// What [`run`] keeps of its parts besides the channels.
struct Settings {
    endpoint: String,
    instance: String,
    api_url: String,
    resend: Duration,
    metrics: Option<PrometheusMetrics>,
}

impl Settings {
    /// An open alert, ending four resends from now unless pushed again.
    fn open(&self, alert: &Alert, now: OffsetDateTime) -> Value {
        posted(alert, alert.severity, now + self.resend * 4, self)
    }

    /// `alert` ended now; with it the lower severities it escalated from, if any, so that no
    /// label set of the same alert lingers.
    fn ended(&self, alert: &Alert, severities: &[Severity], now: OffsetDateTime) -> Vec<Value> {
        severities.iter().map(|s| posted(alert, *s, now, self)).collect()
    }
}

/// The push loop's memory: resolutions not yet delivered, and whether Alertmanager is failing.
struct Pusher {
    client: reqwest::Client,
    settings: Settings,
    /// Ended label sets (alert id and severity → the payload) not yet delivered.
    ended: BTreeMap<(String, Severity), Value>,
    failing: bool,
}

impl Pusher {
    /// Posts `alerts` (nothing when empty); true when Alertmanager took them.
    async fn post(&mut self, alerts: Vec<Value>, stop: &CancellationToken) -> bool {
        if alerts.is_empty() {
            return true;
        }
        let count = alerts.len();
        let request = self
            .client
            .post(&self.settings.endpoint)
            .json(&Value::Array(alerts))
            .send();
        let outcome = tokio::select! {
            () = stop.cancelled() => return false,
            r = request => r,
        };
        let failure = match outcome {
            Ok(response) if response.status().is_success() => None,
            Ok(response) => {
                let status = response.status();
                let body = response.text().await.unwrap_or_default();
                Some(format!("answered {status}: {}", body.trim()))
            }
            Err(e) => Some(e.to_string()),
        };
        if let Some(metrics) = &self.settings.metrics {
            metrics.alertmanager_post(failure.is_none());
        }
        match failure {
            None => {
                if self.failing {
                    tracing::info!(url = %self.settings.endpoint, "Alertmanager takes alerts again");
                    self.failing = false;
                }
                tracing::debug!(url = %self.settings.endpoint, count, "alerts pushed to Alertmanager");
                true
            }
            Some(reason) => {
                if self.failing {
                    tracing::debug!(url = %self.settings.endpoint, %reason, "Alertmanager still failing");
                } else {
                    tracing::warn!(
                        url = %self.settings.endpoint,
                        %reason,
                        "cannot push alerts to Alertmanager; retrying every {:?}",
                        self.settings.resend
                    );
                    self.failing = true;
                }
                false
            }
        }
    }

    /// Pushes one change at once; a resolution that fails waits for the next resend.
    async fn change(&mut self, change: &AlertChange, stop: &CancellationToken) {
        let now = wall_now();
        let alert = change.alert();
        let mut payload = Vec::new();
        let mut ended = Vec::new();
        match change {
            AlertChange::Resolved(_) => ended.push(alert.severity),
            AlertChange::Escalated(_) => {
                // The severity is a label: the label sets it escalated from end now.
                ended.extend(Severity::ALL.into_iter().filter(|s| *s < alert.severity));
                payload.push(self.settings.open(alert, now));
            }
            AlertChange::Raised(_) | AlertChange::Acknowledged(_) => {
                payload.push(self.settings.open(alert, now));
            }
        }
        let ends = self.settings.ended(alert, &ended, now);
        for (severity, value) in ended.iter().zip(&ends) {
            self.ended.insert((alert.id.clone(), *severity), value.clone());
        }
        payload.extend(ends);
        if self.post(payload, stop).await {
            for severity in ended {
                self.ended.remove(&(alert.id.clone(), severity));
            }
        }
    }

    /// Pushes every open alert again, and the resolutions not yet delivered.
    async fn resend(&mut self, open: &[Alert], stop: &CancellationToken) {
        let now = wall_now();
        let mut payload: Vec<Value> = open
            .iter()
            .filter(|a| a.status.is_open())
            .map(|a| self.settings.open(a, now))
            .collect();
        payload.extend(self.ended.values().cloned());
        if self.post(payload, stop).await {
            self.ended.clear();
        }
    }
}

/// Pushes alerts to Alertmanager until `parts.stop`: each change as it comes, the open alerts
/// every `parts.resend` (the first time at once).
pub async fn run(parts: AlertmanagerParts) {
    let AlertmanagerParts {
        url,
        instance,
        api_url,
        open,
        mut changes,
        resend,
        stop,
        metrics,
    } = parts;
    let resend = if resend.is_zero() { DEFAULT_RESEND } else { resend };
    let client = match reqwest::Client::builder().timeout(POST_TIMEOUT).build() {
        Ok(client) => client,
        Err(e) => {
            tracing::error!(error = %e, "cannot build the HTTP client for Alertmanager; alerts are not pushed");
            stop.cancelled().await;
            return;
        }
    };
    let endpoint = format!("{}/api/v2/alerts", url.trim_end_matches('/'));
    tracing::info!(url = %endpoint, ?resend, "pushing risk alerts to Alertmanager");
    let mut pusher = Pusher {
        client,
        settings: Settings {
            endpoint,
            instance,
            api_url,
            resend,
            metrics,
        },
        ended: BTreeMap::new(),
        failing: false,
    };
    let mut ticks = tokio::time::interval(resend);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut listening = true;
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = ticks.tick() => {
                let current = open.borrow().clone();
                pusher.resend(&current, &stop).await;
            }
            change = changes.recv(), if listening => match change {
                Ok(change) => pusher.change(&change, &stop).await,
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    // What was missed is in the open alerts; a missed resolution ends by itself
                    // within four resends.
                    tracing::warn!(missed, "alert changes missed; pushing the open alerts again");
                    let current = open.borrow().clone();
                    pusher.resend(&current, &stop).await;
                }
                Err(broadcast::error::RecvError::Closed) => listening = false,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;
    use crate::domain::alert::{Evidence, Status, Subject};

    fn alert() -> Alert {
        Alert {
            id: "alert-7".into(),
            kind: RuleKind::StablecoinDepeg,
            subject: Subject {
                symbol: Some("USDT-USD".into()),
                venue: Some("market-data-Coinmetrics".into()),
                ..Subject::default()
            },
            severity: Severity::Critical,
            status: Status::Active,
            evidence: Evidence {
                observed: 250.0,
                threshold: 200.0,
                unit: "bps".into(),
                window_ms: Some(90_000),
                for_ms: 10_000,
                source: "market-data-Coinmetrics".into(),
                data_at: datetime!(2024-01-01 0:00:05 UTC),
                breach_since: None,
                message: "USDT-USD is 250 bps from its peg".into(),
            },
            detected_at: datetime!(2024-01-01 0:00:15 UTC),
            detected_at_wall: datetime!(2025-06-01 12:00 UTC),
            acknowledged_at: None,
            resolved_at: None,
            updated_at: datetime!(2024-01-01 0:00:15 UTC),
        }
    }

    fn settings() -> Settings {
        Settings {
            endpoint: "http://127.0.0.1:9/api/v2/alerts".into(),
            instance: "risk-monitor-LH".into(),
            api_url: "http://127.0.0.1:8080/".into(),
            resend: Duration::from_secs(30),
            metrics: None,
        }
    }

    #[test]
    fn alertnames_are_the_kind_in_pascal_case() {
        assert_eq!(alertname(RuleKind::StablecoinDepeg), "RiskStablecoinDepeg");
        assert_eq!(alertname(RuleKind::Exposure), "RiskExposure");
        assert_eq!(alertname(RuleKind::UnsettledExposure), "RiskUnsettledExposure");
    }

    #[test]
    fn an_open_alert_carries_its_subject_and_evidence_and_ends_four_resends_ahead() {
        let now = datetime!(2025-06-01 12:00:10 UTC);
        let value = settings().open(&alert(), now);
        assert_eq!(
            value["labels"],
            json!({"alertname": "RiskStablecoinDepeg", "severity": "critical", "kind": "stablecoin_depeg",
                   "venue": "market-data-Coinmetrics", "symbol": "USDT-USD",
                   "instance": "risk-monitor-LH", "alert_id": "alert-7"})
        );
        let notes = &value["annotations"];
        assert_eq!(notes["summary"], "USDT-USD is 250 bps from its peg");
        assert_eq!(notes["observed"], "250");
        assert_eq!(notes["threshold"], "200");
        assert_eq!(notes["unit"], "bps");
        assert_eq!(notes["window"], "1m30s");
        assert_eq!(notes["for"], "10s");
        assert_eq!(notes["source"], "market-data-Coinmetrics");
        assert_eq!(notes["data_at"], "2024-01-01T00:00:05Z");
        assert_eq!(notes["detected_at"], "2024-01-01T00:00:15Z");
        assert!(
            notes["description"].as_str().unwrap().starts_with(
                "critical stablecoin_depeg (venue=market-data-Coinmetrics symbol=USDT-USD): observed 250 bps"
            ),
            "{notes}"
        );
        assert_eq!(value["startsAt"], "2025-06-01T12:00:00Z");
        assert_eq!(value["endsAt"], "2025-06-01T12:02:10Z");
        assert_eq!(
            value["generatorURL"],
            "http://127.0.0.1:8080/api/v1/alerts/alert-7"
        );
    }

    #[test]
    fn an_end_is_never_before_the_start() {
        let early = datetime!(2025-06-01 11:00 UTC);
        let ended = settings().ended(&alert(), &[Severity::Critical], early);
        assert_eq!(ended[0]["endsAt"], ended[0]["startsAt"]);
    }

    #[test]
    fn numbers_and_durations_read_well() {
        assert_eq!(number(0.0512), "0.0512");
        assert_eq!(number(-3.0), "-3");
        assert_eq!(number(1.0 / 3.0), "0.333333");
        assert_eq!(number(f64::NAN), "NaN");
        assert_eq!(duration(250), "250ms");
        assert_eq!(duration(60_000), "1m");
        assert_eq!(duration(3_600_000), "1h");
        assert_eq!(duration(0), "0s");
    }

    #[tokio::test]
    async fn a_bad_url_is_logged_and_retried_without_panicking() {
        let registry = prometheus::Registry::new();
        let metrics = PrometheusMetrics::register(&registry).unwrap();
        let (open_tx, open) = watch::channel(vec![alert()]);
        let (changes_tx, changes) = broadcast::channel(8);
        let stop = CancellationToken::new();
        let task = tokio::spawn(run(AlertmanagerParts {
            url: "not a url at all".into(),
            instance: "risk-monitor-LH".into(),
            api_url: "http://127.0.0.1:1".into(),
            open,
            changes,
            resend: Duration::from_millis(20),
            stop: stop.clone(),
            metrics: Some(metrics),
        }));
        changes_tx.send(AlertChange::Raised(alert())).unwrap();
        // Keep it running until it has failed a few times.
        let errors = || {
            registry
                .gather()
                .iter()
                .find(|f| f.name() == "risk_alertmanager_posts_total")
                .and_then(|f| {
                    f.get_metric()
                        .iter()
                        .find(|m| m.get_label().iter().any(|l| l.value() == "error"))
                        .map(|m| m.get_counter().get_value())
                })
                .unwrap_or(0.0)
        };
        tokio::time::timeout(Duration::from_secs(60), async {
            while errors() < 3.0 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .expect("failed pushes are counted");
        drop(open_tx);
        stop.cancel();
        task.await.expect("run returns without panicking");
    }
}
