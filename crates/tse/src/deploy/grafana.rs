//! The generated Grafana dashboards and data source (BRIEF §10): the first seed's two views —
//! *Infrastructure* and *Simulation entities* — plus *Risk* and *Audit*, each with variables for
//! entity type and instance, every panel with a description of what it shows.
//!
//! A panel over metrics that no service publishes yet (the trading system's strategies and the risk
//! monitor are still to come) is generated all the same, so the dashboards need no change when they
//! arrive; its description starts with [`AWAITING`] and names what will publish the data. The
//! Prometheus integration test evaluates every panel: each must parse, each panel must show data, and
//! each awaiting panel must still show none (so the marker never outlives its reason).

use serde_json::{Value, json};

/// The start of the description of a panel whose metrics no running service publishes yet.
pub const AWAITING: &str = "Awaiting metrics";

/// Where the trading system's panels will get their data from.
const FROM_TRADING: &str = "Awaiting metrics: the trading system publishes these once it runs strategies.";
/// Where the risk monitor's panels will get their data from.
const FROM_RISK: &str = "Awaiting metrics: the risk monitor publishes these once it monitors the ecosystem.";

/// The label selector of the dashboards' instance variable.
const SEL: &str = "instance_name=~\"$instance\"";

/// One panel before layout: title, unit, description and expressions.
struct Panel {
    title: &'static str,
    unit: &'static str,
    description: &'static str,
    exprs: Vec<String>,
}

/// A panel of one expression.
fn one(title: &'static str, unit: &'static str, description: &'static str, expr: String) -> Panel {
    Panel {
        title,
        unit,
        description,
        exprs: vec![expr],
    }
}

/// `rate` of a counter summed `by` labels (instance first), over the dashboards' instance selection.
fn rate(counter: &str, by: &str, window: &str) -> String {
    format!("sum by (instance_name{by}) (rate({counter}{{{SEL}}}[{window}]))")
}

/// The `q` quantile of a histogram over `window`, by instance.
fn quantile(q: &str, histogram: &str, by: &str, window: &str) -> String {
    format!(
        "histogram_quantile({q}, sum by (instance_name{by}, le) (rate({histogram}_bucket{{{SEL}}}[{window}])))"
    )
}

/// A gauge over the dashboards' instance selection.
fn gauge(name: &str) -> String {
    format!("{name}{{{SEL}}}")
}

/// Grafana JSON of the `id`th panel (two panels a row).
fn panel_json(id: usize, p: &Panel) -> Value {
    let targets: Vec<Value> = p
        .exprs
        .iter()
        .enumerate()
        .map(|(i, e)| {
            json!({"refId": char::from(b'A' + u8::try_from(i).unwrap_or(0)).to_string(), "expr": e,
                   "datasource": {"type": "prometheus", "uid": "prometheus"}})
        })
        .collect();
    json!({
        "id": id, "type": "timeseries", "title": p.title, "description": p.description,
        "datasource": {"type": "prometheus", "uid": "prometheus"},
        "fieldConfig": {"defaults": {"unit": p.unit}, "overrides": []},
        "gridPos": {"h": 8, "w": 12, "x": (id % 2) * 12, "y": (id / 2) * 8},
        "targets": targets,
    })
}

fn dashboard(uid: &str, title: &str, panels: &[Panel]) -> Value {
    let variable = |name: &str, query: &str| {
        json!({"name": name, "type": "query", "datasource": {"type": "prometheus", "uid": "prometheus"},
               "query": {"query": query, "refId": name}, "definition": query,
               "includeAll": true, "multi": true, "allValue": ".*", "refresh": 2,
               "current": {"text": "All", "value": "$__all"}})
    };
    let panels: Vec<Value> = panels.iter().enumerate().map(|(i, p)| panel_json(i, p)).collect();
    json!({
        "uid": uid, "title": title, "tags": ["tse"], "schemaVersion": 39, "version": 1,
        "time": {"from": "now-30m", "to": "now"}, "refresh": "10s",
        "templating": {"list": [
            variable("entity_type", "label_values(up{job=\"tse\"}, entity_type)"),
            variable("instance", "label_values(up{job=\"tse\", entity_type=~\"$entity_type\"}, instance_name)"),
        ]},
        "panels": panels,
    })
}

/// Every instance: up, requests, errors, latency, CPU, memory, restarts, dependencies.
fn infrastructure() -> Vec<Panel> {
    let latency = "http_request_duration_seconds";
    vec![
        one(
            "Up",
            "none",
            "1 while Prometheus scrapes the instance, 0 when it cannot.",
            format!("up{{job=\"tse\", {SEL}}}"),
        ),
        one(
            "HTTP requests/s",
            "reqps",
            "Requests answered per second (production API, back doors, health and metrics).",
            rate("http_requests_total", "", "1m"),
        ),
        one(
            "HTTP 5xx ratio",
            "percentunit",
            "Share of requests answered with a server error (the recording rule tse:http_errors:ratio1m).",
            gauge("tse:http_errors:ratio1m"),
        ),
        Panel {
            title: "HTTP latency p50 / p99",
            unit: "s",
            description: "Median and 99th percentile of the time to answer a request.",
            exprs: vec![
                quantile("0.5", latency, "", "1m"),
                quantile("0.99", latency, "", "1m"),
            ],
        },
        one(
            "CPU (cores)",
            "none",
            "CPU time the instance's process uses per second (under `tse up` all instances share one process).",
            format!("rate(process_cpu_seconds_total{{{SEL}}}[1m])"),
        ),
        one(
            "Memory (resident)",
            "bytes",
            "Resident memory of the instance's process.",
            gauge("process_resident_memory_bytes"),
        ),
        one(
            "Restarts (1h)",
            "none",
            "How often the process started in the last hour.",
            format!("changes(process_start_time_seconds{{{SEL}}}[1h])"),
        ),
        one(
            "Dependencies up",
            "none",
            "1 per dependency (database, cache, discovery) the instance reaches, 0 per one it does not.",
            gauge("tse_dependency_up"),
        ),
    ]
}

/// Exchanges, custodians, market data, trading systems and the risk monitor's headline.
fn entities() -> Vec<Panel> {
    vec![
        one(
            "Exchange orders/s by status",
            "ops",
            "Orders accepted per second by their status after matching.",
            rate("exchange_orders_total", ", status", "1m"),
        ),
        one(
            "Exchange trades/s",
            "ops",
            "Trades executed per second, by symbol.",
            rate("exchange_trades_total", ", symbol", "1m"),
        ),
        one(
            "Exchange book depth",
            "none",
            "Resting quantity in each order book, by symbol and side.",
            format!("sum by (instance_name, symbol, side) (exchange_book_depth{{{SEL}}})"),
        ),
        one(
            "Exchange fill latency p99",
            "s",
            "99th percentile of the time from receiving an order to its matching result.",
            quantile("0.99", "exchange_order_latency_seconds", "", "5m"),
        ),
        one(
            "Custodian balances",
            "none",
            "Balance held per account and currency (available plus locked).",
            gauge("custodian_balance"),
        ),
        one(
            "Custodian settlements by status and type",
            "ops",
            "Settlement steps per second: accepted (pending), partial, completed, failed, cancelled.",
            rate("custodian_settlements_total", ", status, type", "5m"),
        ),
        one(
            "Custodian settlements pending",
            "none",
            "Settlement instructions accepted and not yet ended.",
            gauge("custodian_settlements_pending"),
        ),
        one(
            "Custodian balance changes/s",
            "ops",
            "Deposits, withdrawals, transfers and settled legs per second, by currency.",
            rate("custodian_balance_changes_total", ", currency", "5m"),
        ),
        one(
            "Market data prices",
            "none",
            "Latest published price per symbol.",
            gauge("market_data_price"),
        ),
        one(
            "Market data ticks/s",
            "ops",
            "Prices published per second (0 while a feed is out; a stale feed keeps publishing frozen prices).",
            rate("market_data_ticks_total", "", "1m"),
        ),
        Panel {
            title: "Faults active",
            unit: "none",
            description: "Faults injected through the back doors and still active, by kind.",
            exprs: vec![
                gauge("exchange_faults_active"),
                gauge("market_data_faults_active"),
                gauge("custodian_faults_active"),
            ],
        },
        one(
            "Trading strategies running",
            "none",
            FROM_TRADING,
            format!("sum by (instance_name, strategy) (trading_strategies_running{{{SEL}}})"),
        ),
        one(
            "Trading orders/s by strategy",
            "ops",
            FROM_TRADING,
            rate("trading_orders_submitted_total", ", strategy, exchange", "1m"),
        ),
        one(
            "Trading orders rejected/s",
            "ops",
            FROM_TRADING,
            rate("trading_orders_rejected_total", ", strategy, reason", "1m"),
        ),
        one(
            "Trading P&L by strategy (USD)",
            "currencyUSD",
            FROM_TRADING,
            format!("sum by (instance_name, strategy) (trading_pnl_usd{{{SEL}}})"),
        ),
        one(
            "Risk alerts active",
            "none",
            FROM_RISK,
            format!("sum by (instance_name, severity) (risk_alerts_active{{{SEL}}})"),
        ),
    ]
}

/// What the risk monitor sees: alerts, exposure, P&L, drawdown, concentration, pegs, venues, data age.
fn risk() -> Vec<Panel> {
    vec![
        one(
            "Alerts active by severity and kind",
            "none",
            FROM_RISK,
            format!("sum by (instance_name, severity, kind) (risk_alerts_active{{{SEL}}})"),
        ),
        one(
            "Alerts raised/s",
            "ops",
            FROM_RISK,
            rate("risk_alerts_raised_total", ", severity, kind", "5m"),
        ),
        one(
            "Exposure by asset (USD)",
            "currencyUSD",
            FROM_RISK,
            gauge("risk_exposure_usd"),
        ),
        one("P&L (USD)", "currencyUSD", FROM_RISK, gauge("risk_pnl_usd")),
        one("Drawdown", "percentunit", FROM_RISK, gauge("risk_drawdown_ratio")),
        one(
            "Concentration by asset",
            "percentunit",
            FROM_RISK,
            gauge("risk_concentration_ratio"),
        ),
        one(
            "Stablecoin deviation from peg",
            "percentunit",
            FROM_RISK,
            gauge("risk_stablecoin_deviation_ratio"),
        ),
        one("Venues up", "none", FROM_RISK, gauge("risk_venue_up")),
        one(
            "Data age by source",
            "s",
            FROM_RISK,
            gauge("risk_data_age_seconds"),
        ),
    ]
}

/// The audit pipeline: what is shipped, stored, dropped as duplicate, and how late.
fn audit() -> Vec<Panel> {
    let lag = "audit_ingest_lag_seconds";
    vec![
        one(
            "Events stored/s by source service",
            "ops",
            "Domain events stored by the audit correlator, by the service that emitted them.",
            rate("audit_events_ingested_total", ", source_service", "1m"),
        ),
        one(
            "Events stored/s by type",
            "ops",
            "Domain events stored by the audit correlator, by event type.",
            rate("audit_events_ingested_total", ", type", "1m"),
        ),
        Panel {
            title: "Ingest lag p50 / p99",
            unit: "s",
            description: "Wall time from an event being recorded in its instance's outbox to its being stored by the correlator.",
            exprs: vec![quantile("0.5", lag, "", "5m"), quantile("0.99", lag, "", "5m")],
        },
        one(
            "Duplicates dropped/s",
            "ops",
            "Events delivered again (at-least-once delivery) and dropped by event id.",
            rate("audit_duplicates_dropped_total", "", "5m"),
        ),
        one(
            "Outbox pending",
            "none",
            "Events each instance has recorded and not yet shipped to the correlator.",
            gauge("audit_outbox_pending"),
        ),
        one(
            "Events shipped/s",
            "ops",
            "Events each instance shipped to the correlator per second.",
            rate("audit_outbox_shipped_total", "", "1m"),
        ),
    ]
}

/// The generated Grafana dashboards: *Infrastructure*, *Simulation entities*, *Risk* and *Audit*.
/// Every panel's expressions are evaluated against a real Prometheus by the tests.
pub fn dashboards() -> Vec<Value> {
    vec![
        dashboard("tse-infrastructure", "tse — Infrastructure", &infrastructure()),
        dashboard("tse-entities", "tse — Simulation entities", &entities()),
        dashboard("tse-risk", "tse — Risk", &risk()),
        dashboard("tse-audit", "tse — Audit", &audit()),
    ]
}

/// Grafana's Prometheus data source.
pub fn grafana_datasource() -> Value {
    json!({
        "apiVersion": 1,
        "datasources": [{"name": "Prometheus", "uid": "prometheus", "type": "prometheus", "access": "proxy",
                         "url": "http://prometheus:9090", "isDefault": true}],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_panel_reads_the_instance_variable_and_says_what_it_shows() {
        let all = dashboards();
        assert_eq!(all.len(), 4);
        for d in &all {
            for p in d["panels"].as_array().unwrap() {
                assert!(!p["description"].as_str().unwrap().is_empty(), "{p}");
                for t in p["targets"].as_array().unwrap() {
                    assert!(t["expr"].as_str().unwrap().contains("$instance"), "{t}");
                }
            }
        }
    }
}
