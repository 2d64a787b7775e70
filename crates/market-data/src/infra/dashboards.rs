//! Market data in the generated monitoring: its panels on *Simulation entities* over the metrics of
//! [`super::metrics`], its faults gauge on the shared *Faults active* panel, and the feed's rules: out
//! (no ticks) or stale (ticks whose prices do not move: a frozen feed; pegged symbols, which may rest
//! for minutes, aside).

use tse_runtime::metrics::dashboards::{Dashboard, Panel, Rule, gauge, rate};

/// The market data simulator's panels.
pub fn panels() -> Vec<Panel> {
    let entities = Dashboard::Entities;
    vec![
        Panel::new(
            entities,
            "Market data prices",
            "none",
            "Latest published price per symbol.",
            gauge("market_data_price"),
        ),
        Panel::new(
            entities,
            "Market data ticks/s",
            "ops",
            "Prices published per second (0 while a feed is out; a stale feed keeps publishing frozen prices).",
            rate("market_data_ticks_total", "", "1m"),
        ),
        Panel::new(
            entities,
            "Faults active",
            "none",
            "Faults injected through the back doors and still active, by kind.",
            gauge("market_data_faults_active"),
        ),
    ]
}

/// The market data simulator's rules: the tick rate recorded; an outage and a stale symbol alerted.
pub fn rules() -> Vec<Rule> {
    vec![
        Rule::Record {
            record: "tse:market_data_ticks:rate1m",
            expr: "sum by (instance_name) (rate(market_data_ticks_total[1m]))",
        },
        Rule::Alert {
            alert: "TseMarketDataOutage",
            expr: "tse:market_data_ticks:rate1m == 0",
            hold: Some("2m"),
            severity: "critical",
            summary: "{{ $labels.instance_name }} publishes no ticks",
        },
        Rule::Alert {
            alert: "TseStaleMarketData",
            expr: "changes(market_data_price[2m]) == 0 unless on (instance_name, symbol) market_data_symbol_pegged == 1 unless on (instance_name) tse:market_data_ticks:rate1m == 0",
            hold: Some("1m"),
            severity: "critical",
            summary: "{{ $labels.instance_name }}: {{ $labels.symbol }} has not moved for 3 minutes while the feed publishes",
        },
    ]
}
