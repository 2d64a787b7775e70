//! What a service shows of itself in the generated monitoring: Grafana panels on the ecosystem's
//! dashboards and Prometheus recording and alert rules. The host contributes its own (every
//! instance's requests, process, dependencies and outbox); each service adds those over its business
//! metrics. `tse deploy` assembles them into the dashboards and the rules file.
//!
//! A panel over metrics that no service publishes yet is generated all the same, so the dashboards
//! need no change when the service arrives; its description starts with [`AWAITING`] and names what
//! will publish the data.

use serde_json::{Value, json};

/// The start of the description of a panel whose metrics no running service publishes yet.
pub const AWAITING: &str = "Awaiting metrics";

/// The label selector of the dashboards' instance variable.
pub const SEL: &str = "instance_name=~\"$instance\"";

/// The generated Grafana dashboards, each with variables for entity type and instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dashboard {
    /// Every instance: up, requests, errors, latency, CPU, memory, restarts, dependencies.
    Infrastructure,
    /// Exchanges, custodians, market data, trading systems and the risk monitor's headline.
    Entities,
    /// What the risk monitor sees.
    Risk,
    /// The audit pipeline: what is shipped, stored, dropped as duplicate, and how late.
    Audit,
}

impl Dashboard {
    /// Every dashboard, in the order they are generated.
    pub const ALL: [Dashboard; 4] = [
        Dashboard::Infrastructure,
        Dashboard::Entities,
        Dashboard::Risk,
        Dashboard::Audit,
    ];

    /// Returns the dashboard's Grafana uid (also its file name).
    pub fn uid(self) -> &'static str {
        match self {
            Dashboard::Infrastructure => "tse-infrastructure",
            Dashboard::Entities => "tse-entities",
            Dashboard::Risk => "tse-risk",
            Dashboard::Audit => "tse-audit",
        }
    }

    /// Returns the dashboard's title.
    pub fn title(self) -> &'static str {
        match self {
            Dashboard::Infrastructure => "tse — Infrastructure",
            Dashboard::Entities => "tse — Simulation entities",
            Dashboard::Risk => "tse — Risk",
            Dashboard::Audit => "tse — Audit",
        }
    }
}

/// One panel of a dashboard before layout: title, unit, description and the expressions it draws.
/// Panels of the same title on the same dashboard are one panel drawing every contributor's
/// expressions (each service with a back door adds its gauge to *Faults active*).
#[derive(Clone, Debug)]
pub struct Panel {
    /// The dashboard it is on.
    pub dashboard: Dashboard,
    /// Its title.
    pub title: &'static str,
    /// Grafana's unit of its values (`none`, `s`, `ops`, `percentunit`, ...).
    pub unit: &'static str,
    /// What it shows; [`AWAITING`] first when nothing publishes its metrics yet.
    pub description: &'static str,
    /// Its PromQL expressions, each over the dashboards' instance selection ([`SEL`]).
    pub exprs: Vec<String>,
}

impl Panel {
    /// A panel of one expression.
    pub fn new(
        dashboard: Dashboard,
        title: &'static str,
        unit: &'static str,
        description: &'static str,
        expr: String,
    ) -> Self {
        Self {
            dashboard,
            title,
            unit,
            description,
            exprs: vec![expr],
        }
    }

    /// Adds an expression drawn on the same panel.
    #[must_use]
    pub fn and(mut self, expr: String) -> Self {
        self.exprs.push(expr);
        self
    }
}

/// `rate` of a counter summed `by` labels (instance first), over the dashboards' instance selection.
pub fn rate(counter: &str, by: &str, window: &str) -> String {
    format!("sum by (instance_name{by}) (rate({counter}{{{SEL}}}[{window}]))")
}

/// The `q` quantile of a histogram over `window`, by instance.
pub fn quantile(q: &str, histogram: &str, by: &str, window: &str) -> String {
    format!(
        "histogram_quantile({q}, sum by (instance_name{by}, le) (rate({histogram}_bucket{{{SEL}}}[{window}])))"
    )
}

/// A gauge over the dashboards' instance selection.
pub fn gauge(name: &str) -> String {
    format!("{name}{{{SEL}}}")
}

/// A Prometheus rule over the instances' metrics.
#[derive(Clone, Debug)]
pub enum Rule {
    /// A recording rule: the series `record`, computed by `expr`.
    Record {
        /// The recorded series' name (`tse:...`).
        record: &'static str,
        /// Its PromQL expression.
        expr: &'static str,
    },
    /// An alerting rule.
    Alert {
        /// The alert's name (`Tse...`).
        alert: &'static str,
        /// The PromQL condition.
        expr: &'static str,
        /// How long the condition must hold before the alert fires; `None`: at once.
        hold: Option<&'static str>,
        /// The `severity` label (a template may take it from the series).
        severity: &'static str,
        /// The `summary` annotation.
        summary: &'static str,
    },
}

impl Rule {
    /// Returns the rule as the rules file holds it.
    pub fn to_json(&self) -> Value {
        match self {
            Rule::Record { record, expr } => json!({"record": record, "expr": expr}),
            Rule::Alert {
                alert,
                expr,
                hold,
                severity,
                summary,
            } => {
                let mut rule = json!({"alert": alert, "expr": expr,
                    "labels": {"severity": severity}, "annotations": {"summary": summary}});
                if let Some(hold) = hold {
                    rule["for"] = json!(hold);
                }
                rule
            }
        }
    }
}
