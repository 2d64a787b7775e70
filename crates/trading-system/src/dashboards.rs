//! The trading system in the generated monitoring: its panels on *Simulation entities*, awaiting the
//! metrics its strategies will publish.

use tse_runtime::metrics::dashboards::{Dashboard, Panel, SEL, rate};

/// Where the trading system's panels will get their data from.
const AWAITING_STRATEGIES: &str =
    "Awaiting metrics: the trading system publishes these once it runs strategies.";

/// The trading system's panels.
pub fn panels() -> Vec<Panel> {
    let entities = Dashboard::Entities;
    vec![
        Panel::new(
            entities,
            "Trading strategies running",
            "none",
            AWAITING_STRATEGIES,
            format!("sum by (instance_name, strategy) (trading_strategies_running{{{SEL}}})"),
        ),
        Panel::new(
            entities,
            "Trading orders/s by strategy",
            "ops",
            AWAITING_STRATEGIES,
            rate("trading_orders_submitted_total", ", strategy, exchange", "1m"),
        ),
        Panel::new(
            entities,
            "Trading orders rejected/s",
            "ops",
            AWAITING_STRATEGIES,
            rate("trading_orders_rejected_total", ", strategy, reason", "1m"),
        ),
        Panel::new(
            entities,
            "Trading P&L by strategy (USD)",
            "currencyUSD",
            AWAITING_STRATEGIES,
            format!("sum by (instance_name, strategy) (trading_pnl_usd{{{SEL}}})"),
        ),
    ]
}
