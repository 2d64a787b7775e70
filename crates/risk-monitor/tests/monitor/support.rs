//! A small world to watch: two market data vendors quoting the same market, an exchange, a
//! custodian, and a risk monitor watching one entity, all sharing a registry.

use std::time::Duration;

use serde_json::{Value, json};
use tse_runtime::discovery::Registry;
use tse_testing::app::{TestApp, TestOptions, spawn_with, unique_instance};

pub(crate) use tse_testing::app::{eventually, sample};

/// The admin token of the simulators (the monitor is given it too, and must drop it).
pub(crate) const TOKEN: &str = "test-admin-token";
/// Simulated seconds per wall second.
pub(crate) const CLOCK: &str = "60";
/// How long a test waits for something the monitor should see within simulated minutes.
pub(crate) const PATIENCE: Duration = Duration::from_secs(60);

pub(crate) struct World {
    pub(crate) registry: Registry,
    pub(crate) reference: TestApp,
    pub(crate) second: TestApp,
    pub(crate) exchange: TestApp,
    pub(crate) custodian: TestApp,
    pub(crate) monitor: TestApp,
    pub(crate) entity: String,
}

pub(crate) fn options(registry: &Registry, instance: String, settings: &str) -> TestOptions {
    TestOptions {
        registry: Some(registry.clone()),
        clock_speed: Some(CLOCK),
        admin_token: Some(TOKEN),
        instance: Some(instance),
        settings: Some(settings.parse().expect("settings TOML")),
        ..Default::default()
    }
}

/// Limits for this world: the rules the tests exercise, tight enough to fire within simulated
/// minutes and loose enough to stay quiet without a fault. The world's entity holds one asset, so
/// concentration is off.
pub(crate) const LIMITS: &str = r#"
[limits.concentration]
enabled = false
[limits.drawdown]
warning = 0.05
critical = 0.10
[limits.stablecoin_depeg]
for = "5s"
[limits.price_divergence]
for = "5s"
[limits.venue_health]
for = "5s"
window = "30s"
[limits.order_rate]
window = "10s"
per_second = { warning = 5, critical = 50 }
[limits.unsettled_exposure]
overdue_seconds = { warning = 30, critical = 300 }
"#;

/// The world, its monitor watching `entity` with [`LIMITS`].
pub(crate) async fn world() -> World {
    let registry = Registry::embedded();
    let reference_name = unique_instance("market-data-a");
    let reference = spawn_with(
        tse_market_data::service(),
        options(&registry, reference_name.clone(), ""),
    )
    .await;
    let second = spawn_with(
        tse_market_data::service(),
        options(
            &registry,
            unique_instance("market-data-b"),
            &format!("seed_from = \"{reference_name}\""),
        ),
    )
    .await;
    let exchange = spawn_with(
        tse_exchange::service(),
        options(&registry, unique_instance("exchange"), ""),
    )
    .await;
    let custodian = spawn_with(
        tse_custodian::service(),
        options(&registry, unique_instance("custodian"), ""),
    )
    .await;
    let entity = unique_instance("trading-system-fund");
    let monitor = spawn_with(
        tse_risk_monitor::service(),
        options(
            &registry,
            unique_instance("risk-monitor"),
            &format!("entities = [\"{entity}\"]\npoll_every = \"1s\"\n{LIMITS}"),
        ),
    )
    .await;
    World {
        registry,
        reference,
        second,
        exchange,
        custodian,
        monitor,
        entity,
    }
}

impl World {
    /// Opens the entity's account at the exchange and deposits `funds` (`[("BTC", "10")]`).
    pub(crate) async fn fund_at_exchange(&self, funds: &[(&str, &str)]) -> String {
        let (status, account) = self
            .exchange
            .post_json("/api/v1/accounts", json!({"entity": self.entity}))
            .await;
        assert_eq!(status, 201, "{account}");
        let id = account["id"].as_str().unwrap().to_owned();
        for (asset, amount) in funds {
            let (status, body) = self
                .exchange
                .post_json(
                    &format!("/api/v1/accounts/{id}/deposits"),
                    json!({"asset": asset, "amount": amount}),
                )
                .await;
            assert!(status < 300, "{body}");
        }
        id
    }

    /// Opens the entity's account at the custodian and deposits `funds`.
    pub(crate) async fn fund_at_custodian(&self, funds: &[(&str, &str)]) -> String {
        let (status, account) = self
            .custodian
            .post_json("/api/v1/accounts", json!({"entity": self.entity}))
            .await;
        assert_eq!(status, 201, "{account}");
        let id = account["id"].as_str().unwrap().to_owned();
        for (asset, amount) in funds {
            let (status, body) = self
                .custodian
                .post_json(
                    &format!("/api/v1/accounts/{id}/deposits"),
                    json!({"asset": asset, "amount": amount}),
                )
                .await;
            assert!(status < 300, "{body}");
        }
        id
    }

    /// Every alert the monitor lists (newest first).
    pub(crate) async fn alerts(&self) -> Vec<Value> {
        let (status, page) = self.monitor.get_json("/api/v1/alerts?limit=1000").await;
        assert_eq!(status, 200, "{page}");
        page["alerts"].as_array().unwrap().clone()
    }

    /// Waits until an open alert of `kind` whose subject has `field` = `value` is listed.
    pub(crate) async fn alert(&self, kind: &str, field: &str, value: &str) -> Value {
        eventually(
            PATIENCE,
            &format!("a {kind} alert on {field}={value}"),
            || async {
                self.alerts()
                    .await
                    .into_iter()
                    .find(|a| a["kind"] == kind && a["subject"][field] == value && a["status"] != "RESOLVED")
            },
        )
        .await
    }

    /// Waits until alert `id` reaches `status` (and returns it).
    pub(crate) async fn alert_status(&self, id: &str, status: &str) -> Value {
        eventually(PATIENCE, &format!("{id} {status}"), || async {
            let (code, alert) = self.monitor.get_json(&format!("/api/v1/alerts/{id}")).await;
            (code == 200 && alert["status"] == status).then_some(alert)
        })
        .await
    }

    /// Waits until the monitor's summary shows prices from both vendors and, if `holdings`, the
    /// entity's equity.
    pub(crate) async fn watching(&self, holdings: bool) -> Value {
        eventually(PATIENCE, "the monitor watching", || async {
            let (code, summary) = self.monitor.get_json("/api/v1/risk/summary").await;
            let sources: std::collections::BTreeSet<&str> = summary["data"]
                .as_array()?
                .iter()
                .filter_map(|d| d["source"].as_str())
                .collect();
            let equity = summary["entities"][0]["equity_usd"].as_f64().unwrap_or(0.0);
            (code == 200 && sources.len() == 2 && (!holdings || equity > 0.0)).then_some(summary.clone())
        })
        .await
    }
}
