//! The risk monitor in the generated monitoring: the whole *Risk* dashboard and the alerts headline
//! on *Simulation entities*, over the metrics of [`super::metrics`], and the rule that turns its
//! active alerts into Prometheus alerts with their own severity.

use tse_runtime::metrics::dashboards::{Dashboard, Panel, Rule, SEL, gauge, rate};

/// The risk monitor's panels: alerts, exposure, P&L, drawdown, concentration, pegs, venues, data age.
pub fn panels() -> Vec<Panel> {
    let risk = Dashboard::Risk;
    vec![
        Panel::new(
            Dashboard::Entities,
            "Risk alerts active",
            "none",
            "Open risk alerts (active or acknowledged) of the risk monitor, by severity.",
            format!("sum by (instance_name, severity) (risk_alerts_active{{{SEL}}})"),
        ),
        Panel::new(
            risk,
            "Alerts active by severity and kind",
            "none",
            "Open risk alerts (active or acknowledged), by severity and rule kind.",
            format!("sum by (instance_name, severity, kind) (risk_alerts_active{{{SEL}}})"),
        ),
        Panel::new(
            risk,
            "Alerts raised/s",
            "ops",
            "Risk alerts raised per second, by the severity they were raised with and rule kind.",
            rate("risk_alerts_raised_total", ", severity, kind", "5m"),
        ),
        Panel::new(
            risk,
            "Exposure by asset (USD)",
            "currencyUSD",
            "Exposure to each asset in USD (quantity times reference price), every monitored entity together.",
            gauge("risk_exposure_usd"),
        ),
        Panel::new(
            risk,
            "P&L (USD)",
            "currencyUSD",
            "Profit and loss in USD since the risk monitor first saw the monitored entities, marked to market.",
            gauge("risk_pnl_usd"),
        ),
        Panel::new(
            risk,
            "Drawdown",
            "percentunit",
            "Equity below its peak as a share of the peak, the largest over the monitored entities.",
            gauge("risk_drawdown_ratio"),
        ),
        Panel::new(
            risk,
            "Concentration by asset",
            "percentunit",
            "Share of each asset in an entity's gross exposure, the largest over the monitored entities.",
            gauge("risk_concentration_ratio"),
        ),
        Panel::new(
            risk,
            "Stablecoin deviation from peg",
            "percentunit",
            "Each stablecoin's price away from its peg, (price - peg) / peg, signed.",
            gauge("risk_stablecoin_deviation_ratio"),
        ),
        Panel::new(
            risk,
            "Venues up",
            "none",
            "Whether each venue answered the risk monitor's last request (1) or not (0).",
            gauge("risk_venue_up"),
        ),
        Panel::new(
            risk,
            "Data age by source",
            "s",
            "Simulated seconds since the newest price from each data source, the oldest over its symbols.",
            gauge("risk_data_age_seconds"),
        ),
    ]
}

/// The risk monitor's rules: its active alerts, raised with their own severity.
pub fn rules() -> Vec<Rule> {
    vec![Rule::Alert {
        alert: "TseRiskAlert",
        expr: "sum by (instance_name, severity, kind) (risk_alerts_active) > 0",
        hold: None,
        severity: "{{ $labels.severity }}",
        summary: "{{ $labels.instance_name }} holds {{ $value }} active {{ $labels.severity }} {{ $labels.kind }} risk alerts",
    }]
}

#[cfg(test)]
mod tests {
    use prometheus::Registry;
    use tse_runtime::metrics::dashboards::AWAITING;

    use super::*;
    use crate::{
        domain::summary::{AssetExposure, DataAge, EntitySummary, PegDeviation, Summary, VenueSummary},
        infra::metrics::PrometheusMetrics,
    };

    fn summary() -> Summary {
        let at = time::macros::datetime!(2024-01-01 0:00 UTC);
        Summary {
            at,
            entities: vec![EntitySummary {
                entity: "trading-system-LH".into(),
                exposure: vec![AssetExposure {
                    asset: "BTC".into(),
                    quantity: 1.0,
                    usd: 50_000.0,
                    concentration: 1.0,
                }],
                gross_usd: 50_000.0,
                net_usd: 50_000.0,
                equity_usd: 1_000_000.0,
                peak_equity_usd: 1_000_000.0,
                pnl_usd: 0.0,
                daily_pnl_usd: 0.0,
                drawdown: 0.0,
                order_rate: 0.0,
                pending_settlement_usd: 0.0,
                overdue_seconds: 0.0,
            }],
            data: vec![DataAge {
                source: "market-data-Coinmetrics".into(),
                symbol: "BTC-USD".into(),
                price: 50_000.0,
                last_at: at,
                age_seconds: 1.0,
                unchanged_seconds: 0.0,
            }],
            venues: vec![VenueSummary {
                venue: "exchange-OKX".into(),
                up: true,
                error_ratio: 0.0,
                latency_ms: 10.0,
                reject_ratio: 0.0,
            }],
            pegs: vec![PegDeviation {
                symbol: "USDT-USD".into(),
                price: 1.001,
                peg: 1.0,
                deviation: 0.001,
            }],
        }
    }

    #[test]
    fn every_panel_reads_a_metric_the_monitor_publishes_and_none_awaits() {
        let registry = Registry::new();
        let metrics = PrometheusMetrics::register(&registry).unwrap();
        // The labelled gauges show series once a summary has something for them.
        metrics.publish(&[], &summary());
        let published: Vec<String> = registry
            .gather()
            .iter()
            .map(|family| family.name().to_owned())
            .collect();
        for panel in panels() {
            assert!(!panel.description.starts_with(AWAITING), "{}", panel.title);
            assert!(!panel.description.is_empty(), "{}", panel.title);
            for expr in &panel.exprs {
                assert!(expr.contains(SEL), "{expr}");
                assert!(
                    published.iter().any(|m| expr.contains(&format!("{m}{{"))),
                    "{}: {expr} reads none of {published:?}",
                    panel.title
                );
            }
        }
        for rule in rules() {
            let Rule::Alert { expr, .. } = rule else { continue };
            assert!(expr.contains("risk_alerts_active"), "{expr}");
        }
    }
}
