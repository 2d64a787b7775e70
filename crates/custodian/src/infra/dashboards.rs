//! The custodian in the generated monitoring: its panels on *Simulation entities* over the metrics
//! of [`super::metrics`], its faults gauge on the shared *Faults active* panel, and the settlement
//! backlog alert.

use tse_runtime::metrics::dashboards::{Dashboard, Panel, Rule, gauge, rate};

/// The custodian's panels.
pub fn panels() -> Vec<Panel> {
    let entities = Dashboard::Entities;
    vec![
        Panel::new(
            entities,
            "Custodian balances",
            "none",
            "Balance held per account and currency (available plus locked).",
            gauge("custodian_balance"),
        ),
        Panel::new(
            entities,
            "Custodian settlements by status and type",
            "ops",
            "Settlement steps per second: accepted (pending), partial, completed, failed, cancelled.",
            rate("custodian_settlements_total", ", status, type", "5m"),
        ),
        Panel::new(
            entities,
            "Custodian settlements pending",
            "none",
            "Settlement instructions accepted and not yet ended.",
            gauge("custodian_settlements_pending"),
        ),
        Panel::new(
            entities,
            "Custodian balance changes/s",
            "ops",
            "Deposits, withdrawals, transfers and settled legs per second, by currency.",
            rate("custodian_balance_changes_total", ", currency", "5m"),
        ),
        Panel::new(
            entities,
            "Faults active",
            "none",
            "Faults injected through the back doors and still active, by kind.",
            gauge("custodian_faults_active"),
        ),
    ]
}

/// The custodian's rules: a settlement backlog that does not drain.
pub fn rules() -> Vec<Rule> {
    vec![Rule::Alert {
        alert: "TseSettlementBacklog",
        expr: "custodian_settlements_pending > 1000",
        hold: Some("10m"),
        severity: "warning",
        summary: "{{ $labels.instance_name }} has {{ $value }} settlements pending",
    }]
}
