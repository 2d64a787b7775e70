//! The risk monitor in the generated monitoring: the whole *Risk* dashboard and the alerts headline
//! on *Simulation entities*, awaiting the metrics it will publish, and the rule that turns its
//! active alerts into Prometheus alerts with their own severity.

use tse_runtime::metrics::dashboards::{Dashboard, Panel, Rule, SEL, gauge, rate};

/// Where the risk monitor's panels will get their data from.
const AWAITING_MONITORING: &str =
    "Awaiting metrics: the risk monitor publishes these once it monitors the ecosystem.";

/// The risk monitor's panels: alerts, exposure, P&L, drawdown, concentration, pegs, venues, data age.
pub fn panels() -> Vec<Panel> {
    let (risk, from) = (Dashboard::Risk, AWAITING_MONITORING);
    vec![
        Panel::new(
            Dashboard::Entities,
            "Risk alerts active",
            "none",
            from,
            format!("sum by (instance_name, severity) (risk_alerts_active{{{SEL}}})"),
        ),
        Panel::new(
            risk,
            "Alerts active by severity and kind",
            "none",
            from,
            format!("sum by (instance_name, severity, kind) (risk_alerts_active{{{SEL}}})"),
        ),
        Panel::new(
            risk,
            "Alerts raised/s",
            "ops",
            from,
            rate("risk_alerts_raised_total", ", severity, kind", "5m"),
        ),
        Panel::new(
            risk,
            "Exposure by asset (USD)",
            "currencyUSD",
            from,
            gauge("risk_exposure_usd"),
        ),
        Panel::new(risk, "P&L (USD)", "currencyUSD", from, gauge("risk_pnl_usd")),
        Panel::new(
            risk,
            "Drawdown",
            "percentunit",
            from,
            gauge("risk_drawdown_ratio"),
        ),
        Panel::new(
            risk,
            "Concentration by asset",
            "percentunit",
            from,
            gauge("risk_concentration_ratio"),
        ),
        Panel::new(
            risk,
            "Stablecoin deviation from peg",
            "percentunit",
            from,
            gauge("risk_stablecoin_deviation_ratio"),
        ),
        Panel::new(risk, "Venues up", "none", from, gauge("risk_venue_up")),
        Panel::new(
            risk,
            "Data age by source",
            "s",
            from,
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
