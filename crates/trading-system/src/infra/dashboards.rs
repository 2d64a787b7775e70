//! The trading system in the generated monitoring: its panels on *Simulation entities* over the
//! metrics of [`super::metrics`], and its faults gauge on the shared *Faults active* panel.

use tse_runtime::metrics::dashboards::{Dashboard, Panel, SEL, gauge, quantile, rate};

/// The trading system's panels.
pub fn panels() -> Vec<Panel> {
    let entities = Dashboard::Entities;
    vec![
        Panel::new(
            entities,
            "Trading strategies running",
            "none",
            "Whether each strategy runs (1) or is stopped or halted (0).",
            format!("sum by (instance_name, strategy) (trading_strategies_running{{{SEL}}})"),
        ),
        Panel::new(
            entities,
            "Trading orders/s by strategy",
            "ops",
            "Orders sent per second, by strategy and exchange.",
            rate("trading_orders_submitted_total", ", strategy, exchange", "1m"),
        ),
        Panel::new(
            entities,
            "Trading orders rejected/s",
            "ops",
            "Orders refused per second by the desk's limits, an unreachable venue or the exchange, by reason.",
            rate("trading_orders_rejected_total", ", strategy, reason", "1m"),
        ),
        Panel::new(
            entities,
            "Trading fills/s by strategy",
            "ops",
            "Fills of the desk's orders per second, by strategy.",
            rate("trading_fills_total", ", strategy", "1m"),
        ),
        Panel::new(
            entities,
            "Trading P&L by strategy (USD)",
            "currencyUSD",
            "Realised plus unrealised profit and loss of each strategy, in USD.",
            format!("sum by (instance_name, strategy) (trading_pnl_usd{{{SEL}}})"),
        ),
        Panel::new(
            entities,
            "Trading order ack latency p50/p99",
            "s",
            "Time from the market event a strategy reacted to until the exchange acknowledged its order: median and 99th percentile, by exchange.",
            quantile("0.5", "trading_order_ack_seconds", ", exchange", "5m"),
        )
        .and(quantile("0.99", "trading_order_ack_seconds", ", exchange", "5m")),
        Panel::new(
            entities,
            "Faults active",
            "none",
            "Faults injected through the back doors and still active, by kind.",
            gauge("trading_faults_active"),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use prometheus::Registry;
    use rust_decimal::Decimal;
    use tse_market::Symbol;
    use tse_runtime::metrics::dashboards::AWAITING;

    use super::*;
    use crate::{
        domain::strategy::{Params, StrategyConfig, StrategyKind},
        infra::metrics::PrometheusMetrics,
    };

    #[test]
    fn every_panel_reads_a_metric_the_desk_publishes_and_none_awaits() {
        let registry = Registry::new();
        let config = StrategyConfig {
            name: "mm".into(),
            kind: StrategyKind::MarketMaking,
            exchanges: vec!["exchange-OKX".into()],
            symbols: vec![Symbol::parse("BTC-USD").unwrap()],
            params: Params::default(),
            max_position: Decimal::ONE,
            max_order_size: Decimal::ONE,
            enabled: true,
        };
        PrometheusMetrics::register(&registry, &[config]).unwrap();
        // The fault board keeps the faults gauge; histograms are read through their buckets.
        let mut published = vec!["trading_faults_active".to_owned()];
        for family in registry.gather() {
            let name = family.name();
            published.push(
                if family.get_field_type() == prometheus::proto::MetricType::HISTOGRAM {
                    format!("{name}_bucket")
                } else {
                    name.to_owned()
                },
            );
        }
        for panel in panels() {
            assert!(!panel.description.starts_with(AWAITING), "{}", panel.title);
            for expr in &panel.exprs {
                assert!(expr.contains(SEL), "{expr}");
                assert!(
                    published.iter().any(|m| expr.contains(&format!("{m}{{"))),
                    "{}: {expr} reads none of {published:?}",
                    panel.title
                );
            }
        }
    }
}
