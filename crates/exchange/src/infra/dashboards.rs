//! The exchange in the generated monitoring: its panels on *Simulation entities* over the metrics of
//! [`super::metrics`], and its faults gauge on the shared *Faults active* panel.

use tse_runtime::metrics::dashboards::{Dashboard, Panel, SEL, gauge, quantile, rate};

/// The exchange's panels.
pub fn panels() -> Vec<Panel> {
    let entities = Dashboard::Entities;
    vec![
        Panel::new(
            entities,
            "Exchange orders/s by status",
            "ops",
            "Orders accepted per second by their status after matching.",
            rate("exchange_orders_total", ", status", "1m"),
        ),
        Panel::new(
            entities,
            "Exchange trades/s",
            "ops",
            "Trades executed per second, by symbol.",
            rate("exchange_trades_total", ", symbol", "1m"),
        ),
        Panel::new(
            entities,
            "Exchange book depth",
            "none",
            "Resting quantity in each order book, by symbol and side.",
            format!("sum by (instance_name, symbol, side) (exchange_book_depth{{{SEL}}})"),
        ),
        Panel::new(
            entities,
            "Exchange fill latency p99",
            "s",
            "99th percentile of the time from receiving an order to its matching result.",
            quantile("0.99", "exchange_order_latency_seconds", "", "5m"),
        ),
        Panel::new(
            entities,
            "Faults active",
            "none",
            "Faults injected through the back doors and still active, by kind.",
            gauge("exchange_faults_active"),
        ),
    ]
}
