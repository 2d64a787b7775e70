//! The store on embedded SQLite (always) and on the test PostgreSQL (with `TSE_TEST_DATABASE_URL`),
//! each test in a fresh instance's schema: an empty start, the lifecycle of alerts upserted by id,
//! equity marks and the next number across a restart, limits, and listing newest first with
//! filters and a cursor.

use std::collections::BTreeMap;

use time::macros::date;
use tse_risk_monitor::{
    domain::{
        alert::{Alert, AlertFilter, RuleKind, Severity, Status},
        limits::Limits,
        monitor::EquityMark,
    },
    infra::repo,
};
use tse_runtime::{
    config::{InstanceConfig, ServeOverrides},
    health::{Dependency, Health},
    host::RUNTIME_MIGRATIONS,
    identity::ServiceKind,
    storage::{MigrationSet, Storage},
};
use tse_testing::{
    app::unique_instance,
    servers::{PgGuard, database_url},
};

use crate::support::{alert, at};

struct Opened {
    storage: Storage,
    _dir: tempfile::TempDir,
    _guard: Option<PgGuard>,
}

/// The storage of a fresh risk monitor instance on `database_url` (None: SQLite).
async fn open(database_url: Option<&str>) -> Opened {
    let dir = tempfile::tempdir().unwrap();
    let overrides = ServeOverrides {
        service: Some(ServiceKind::RiskMonitor.name().to_owned()),
        instance: Some(unique_instance("risk-monitor")),
        data_dir: Some(dir.path().to_owned()),
        ..Default::default()
    };
    let mut env: BTreeMap<&str, &str> = BTreeMap::new();
    if let Some(url) = database_url {
        env.insert("DATABASE_URL", url);
    }
    let config = InstanceConfig::load(&overrides, &env).unwrap();
    let guard = database_url.map(|url| PgGuard::new(url, &config.identity.schema().to_string()));
    let health = Health::new(config.identity.clone(), "test", "test".into());
    let registry = prometheus::Registry::new();
    let gauge = prometheus::IntGauge::new("up", "up").unwrap();
    let storage = Storage::open(
        &config,
        vec![
            RUNTIME_MIGRATIONS,
            MigrationSet {
                component: ServiceKind::RiskMonitor.name(),
                migrations: repo::MIGRATIONS,
            },
        ],
        &registry,
        Dependency::new("postgres", health, gauge),
    )
    .await
    .expect("storage opens");
    assert!(storage.connect().await, "database reachable");
    Opened {
        storage,
        _dir: dir,
        _guard: guard,
    }
}

/// Every backend this run can test: SQLite, and PostgreSQL when configured.
fn backends(test: &str) -> Vec<Option<String>> {
    let mut all = vec![None];
    if let Some(url) = database_url(test) {
        all.push(Some(url));
    }
    all
}

async fn write(storage: &Storage, alerts: &[Alert], marks: &[EquityMark], next_id: u64) {
    storage
        .write(repo::statements(alerts, marks, next_id).unwrap())
        .await
        .expect("written");
}

fn mark(entity: &str, peak: f64) -> EquityMark {
    EquityMark {
        entity: entity.to_owned(),
        first_usd: 1_000_000.0,
        peak_usd: peak,
        day_start_usd: 990_000.0,
        day: date!(2024 - 03 - 01),
        venues: Default::default(),
        learning_since: None,
    }
}

fn filter(
    status: Option<Status>,
    severity: Option<Severity>,
    kind: Option<RuleKind>,
    cursor: Option<u64>,
) -> AlertFilter {
    AlertFilter {
        status,
        severity,
        kind,
        limit: 100,
        cursor,
    }
}

fn ids(alerts: &[Alert]) -> Vec<&str> {
    alerts.iter().map(|a| a.id.as_str()).collect()
}

#[tokio::test]
async fn a_fresh_store_holds_nothing_and_numbers_from_one() {
    for url in backends("a_fresh_store_holds_nothing_and_numbers_from_one") {
        let opened = open(url.as_deref()).await;
        let stored = repo::load(&opened.storage).await.unwrap();
        assert!(stored.open.is_empty());
        assert_eq!(stored.next_id, 1);
        assert!(stored.marks.is_empty());
        assert!(stored.limits.is_none());
        assert!(
            repo::get_alert(&opened.storage, "alert-1")
                .await
                .unwrap()
                .is_none()
        );
        let listed = repo::list_alerts(&opened.storage, &filter(None, None, None, None), 10)
            .await
            .unwrap();
        assert!(listed.is_empty());
        // Nothing to store makes only the next number's statement, and writes.
        write(&opened.storage, &[], &[], 1).await;
        assert_eq!(repo::load(&opened.storage).await.unwrap().next_id, 1);
    }
}

#[tokio::test]
async fn alerts_are_upserted_through_their_life_and_read_back_after_a_restart() {
    for url in backends("alerts_are_upserted_through_their_life_and_read_back_after_a_restart") {
        let opened = open(url.as_deref()).await;
        let storage = &opened.storage;
        let one = alert(
            1,
            RuleKind::Drawdown,
            Severity::Warning,
            "trading-system-LH",
            "BTC",
        );
        let two = alert(
            2,
            RuleKind::Concentration,
            Severity::Warning,
            "trading-system-LH",
            "ETH",
        );
        write(
            storage,
            &[one.clone(), two.clone()],
            &[mark("trading-system-LH", 1_050_000.0)],
            3,
        )
        .await;

        let stored = repo::load(storage).await.unwrap();
        assert_eq!(stored.open, vec![one.clone(), two.clone()]);
        assert_eq!(stored.next_id, 3);
        assert_eq!(stored.marks, vec![mark("trading-system-LH", 1_050_000.0)]);
        assert_eq!(
            repo::get_alert(storage, "alert-2").await.unwrap(),
            Some(two.clone())
        );

        // Acknowledged, escalated: the same rows, updated.
        let mut acked = one.clone();
        acked.status = Status::Acknowledged;
        acked.acknowledged_at = Some(at(10));
        acked.updated_at = at(10);
        let mut escalated = two.clone();
        escalated.severity = Severity::Critical;
        escalated.evidence.observed = 0.95;
        escalated.updated_at = at(11);
        write(
            storage,
            &[acked.clone(), escalated.clone()],
            &[mark("trading-system-LH", 1_060_000.0), mark("other-desk", 5.0)],
            3,
        )
        .await;
        assert_eq!(
            repo::get_alert(storage, "alert-1").await.unwrap(),
            Some(acked.clone())
        );
        assert_eq!(
            repo::get_alert(storage, "alert-2").await.unwrap(),
            Some(escalated.clone())
        );
        let stored = repo::load(storage).await.unwrap();
        assert_eq!(stored.open, vec![acked.clone(), escalated.clone()]);
        assert_eq!(
            stored.marks,
            vec![mark("other-desk", 5.0), mark("trading-system-LH", 1_060_000.0)]
        );
        let critical = repo::list_alerts(storage, &filter(None, Some(Severity::Critical), None, None), 10)
            .await
            .unwrap();
        assert_eq!(critical, vec![escalated.clone()]);

        // Resolved: no longer open, still listed and readable. A third raised and resolved in
        // the same batch is stored once, as it ended.
        let mut resolved = acked.clone();
        resolved.status = Status::Resolved;
        resolved.resolved_at = Some(at(12));
        resolved.updated_at = at(12);
        let three = alert(3, RuleKind::StaleData, Severity::Info, "trading-system-LH", "SOL");
        let mut three_resolved = three.clone();
        three_resolved.status = Status::Resolved;
        three_resolved.resolved_at = Some(at(13));
        write(
            storage,
            &[resolved.clone(), three, three_resolved.clone()],
            &[],
            4,
        )
        .await;
        let stored = repo::load(storage).await.unwrap();
        assert_eq!(stored.open, vec![escalated.clone()]);
        assert_eq!(stored.next_id, 4);
        assert_eq!(stored.marks.len(), 2, "marks not written again are kept");
        assert_eq!(
            repo::get_alert(storage, "alert-3").await.unwrap(),
            Some(three_resolved.clone())
        );
        let done = repo::list_alerts(storage, &filter(Some(Status::Resolved), None, None, None), 10)
            .await
            .unwrap();
        assert_eq!(done, vec![three_resolved, resolved]);
    }
}

#[tokio::test]
async fn a_bad_alert_id_is_refused_before_anything_is_written() {
    let mut bad = alert(1, RuleKind::Exposure, Severity::Info, "e", "BTC");
    bad.id = "not-an-alert".into();
    assert!(repo::statements(&[bad], &[], 2).is_err());
    assert!(repo::alert_number("alert-0").is_err());
    assert_eq!(repo::alert_number("alert-42").unwrap(), 42);
}

fn limits() -> Limits {
    // Amounts as numbers: every version of the limits reads those.
    serde_json::from_value(serde_json::json!({
        "position_limit": {"enabled":true,"for":"5s","hysteresis":0.05,"utilisation":{"warning":0.8,"critical":1.0},
                           "max_notional_usd":20000000,"per_asset":{}},
        "exposure": {"enabled":true,"for":"5s","hysteresis":0.05,"utilisation":{"warning":0.8,"critical":1.0},
                     "max_gross_usd":100000000,"max_net_usd":100000000},
        "concentration": {"enabled":true,"for":"1m","hysteresis":0.05,"warning":0.7,"critical":0.85},
        "drawdown": {"enabled":true,"for":"0s","hysteresis":0.1,"warning":0.03,"critical":0.05},
        "daily_loss": {"enabled":true,"for":"0s","hysteresis":0.1,"warning_usd":3000000,"critical_usd":5000000},
        "stablecoin_depeg": {"enabled":true,"for":"10s","hysteresis":0.2,"warning_bps":50,"critical_bps":200,"pegs":{"USDT-USD":1}},
        "price_divergence": {"enabled":true,"for":"10s","hysteresis":0.2,"warning_bps":100,"critical_bps":300,"reference":null},
        "stale_data": {"enabled":true,"for":"0s","hysteresis":0.1,"max_age_seconds":{"warning":30,"critical":120},
                       "frozen_seconds":{"warning":300,"critical":900},"frozen_exempt":["USDT-USD"]},
        "venue_health": {"enabled":true,"for":"5s","hysteresis":0.2,"window":"30s","error_ratio":{"warning":0.2,"critical":0.5},
                         "latency_ms":{"warning":1000,"critical":5000},"reject_ratio":{"warning":0.5,"critical":0.9},"min_orders":20},
        "order_rate": {"enabled":true,"for":"0s","hysteresis":0.2,"window":"10s","per_second":{"warning":50,"critical":200}},
        "unsettled_exposure": {"enabled":true,"for":"0s","hysteresis":0.1,"pending_usd":{"warning":20000000,"critical":50000000},
                               "overdue_seconds":{"warning":60,"critical":600}}
    }))
    .expect("limits document")
}

#[tokio::test]
async fn limits_set_through_the_api_are_read_back_as_set() {
    for url in backends("limits_set_through_the_api_are_read_back_as_set") {
        let opened = open(url.as_deref()).await;
        let mut set = limits();
        opened
            .storage
            .write(repo::limits_statement(&set).unwrap())
            .await
            .unwrap();
        assert_eq!(
            repo::load(&opened.storage).await.unwrap().limits,
            Some(set.clone())
        );
        set.drawdown.enabled = false;
        opened
            .storage
            .write(repo::limits_statement(&set).unwrap())
            .await
            .unwrap();
        let stored = repo::load(&opened.storage).await.unwrap();
        assert_eq!(stored.limits, Some(set));
        assert_eq!(stored.next_id, 1, "limits alone leave the numbering alone");
    }
}

#[tokio::test]
async fn listing_is_newest_first_filtered_and_paged_by_number() {
    for url in backends("listing_is_newest_first_filtered_and_paged_by_number") {
        let opened = open(url.as_deref()).await;
        let storage = &opened.storage;
        // 30 alerts over kinds, severities and statuses.
        let all: Vec<Alert> = (1..=30u64)
            .map(|n| {
                let kind = RuleKind::ALL[usize::try_from(n).unwrap() % 4];
                let severity = Severity::ALL[usize::try_from(n).unwrap() % 3];
                let mut a = alert(n, kind, severity, "trading-system-LH", "BTC");
                a.status = Status::ALL[usize::try_from(n / 2).unwrap() % 3];
                a
            })
            .collect();
        // Written in two batches, out of order.
        write(storage, &all[15..], &[], 31).await;
        write(storage, &all[..15], &[], 31).await;

        let newest_first = |pick: &dyn Fn(&Alert) -> bool| -> Vec<Alert> {
            all.iter().rev().filter(|a| pick(a)).cloned().collect()
        };
        // Pages of 7: 30..24, 23..17, ... with the last number as the cursor.
        let mut pages = Vec::new();
        let mut cursor = None;
        loop {
            let page = repo::list_alerts(storage, &filter(None, None, None, cursor), 7)
                .await
                .unwrap();
            if page.is_empty() {
                break;
            }
            assert!(page.len() <= 7);
            cursor = Some(repo::alert_number(&page.last().unwrap().id).unwrap());
            pages.push(page);
        }
        assert_eq!(pages.len(), 5);
        assert_eq!(
            ids(&pages[0]),
            [
                "alert-30", "alert-29", "alert-28", "alert-27", "alert-26", "alert-25", "alert-24"
            ]
        );
        assert_eq!(pages.concat(), newest_first(&|_| true));

        for status in Status::ALL {
            for severity in Severity::ALL {
                for kind in [None, Some(RuleKind::Exposure), Some(RuleKind::Drawdown)] {
                    let want = newest_first(&|a| {
                        a.status == status && a.severity == severity && kind.is_none_or(|k| a.kind == k)
                    });
                    let got =
                        repo::list_alerts(storage, &filter(Some(status), Some(severity), kind, None), 100)
                            .await
                            .unwrap();
                    assert_eq!(ids(&got), ids(&want), "{status:?} {severity:?} {kind:?}");
                }
            }
        }
        let kind = RuleKind::ALL[1];
        let got = repo::list_alerts(storage, &filter(None, None, Some(kind), Some(20)), 3)
            .await
            .unwrap();
        let want: Vec<Alert> = newest_first(&|a| a.kind == kind && repo::alert_number(&a.id).unwrap() < 20)
            .into_iter()
            .take(3)
            .collect();
        assert_eq!(got, want);
        let open_ones = repo::load(storage).await.unwrap().open;
        let mut want: Vec<Alert> = newest_first(&|a| a.status.is_open());
        want.reverse();
        assert_eq!(open_ones, want, "open alerts come back oldest first");
    }
}
