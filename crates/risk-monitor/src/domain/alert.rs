//! Alerts: one active alert per rule kind and subject, with its severity, lifecycle and the
//! evidence that raised it.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// How bad it is. Ordered: `Info < Warning < Critical`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing.
    Info,
    /// Near a limit.
    Warning,
    /// At or beyond a limit.
    Critical,
}

impl Severity {
    /// Every severity, lowest first.
    pub const ALL: [Severity; 3] = [Severity::Info, Severity::Warning, Severity::Critical];

    /// `info`, `warning`, `critical`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }

    /// Parses any case of [`Severity::as_str`].
    pub fn parse(text: &str) -> Option<Severity> {
        Severity::ALL
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(text))
    }
}

/// Where an alert is in its life: `ACTIVE → ACKNOWLEDGED → RESOLVED` (or `ACTIVE → RESOLVED`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    /// Raised, nobody has acknowledged it.
    Active,
    /// Still breaching, and someone said they are on it.
    Acknowledged,
    /// The breach is over.
    Resolved,
}

impl Status {
    /// Every status.
    pub const ALL: [Status; 3] = [Status::Active, Status::Acknowledged, Status::Resolved];

    /// `ACTIVE`, `ACKNOWLEDGED`, `RESOLVED`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "ACTIVE",
            Status::Acknowledged => "ACKNOWLEDGED",
            Status::Resolved => "RESOLVED",
        }
    }

    /// Parses any case of [`Status::as_str`].
    pub fn parse(text: &str) -> Option<Status> {
        Status::ALL
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(text))
    }

    /// Active or acknowledged: the breach goes on.
    pub fn is_open(self) -> bool {
        self != Status::Resolved
    }
}

/// The kind of rule that raised an alert.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    /// Notional of one asset at one venue against its limit.
    PositionLimit,
    /// Gross or net notional of one entity against its limit.
    Exposure,
    /// Share of one asset in an entity's gross exposure.
    Concentration,
    /// Equity below its peak, marked to market.
    Drawdown,
    /// Loss since the start of the simulated day.
    DailyLoss,
    /// A stablecoin away from its peg.
    StablecoinDepeg,
    /// A venue's mid or a second source away from the reference.
    PriceDivergence,
    /// No new price, or a frozen one, for too long.
    StaleData,
    /// A venue failing, slow, or rejecting the desk's orders.
    VenueHealth,
    /// Orders per second of one entity.
    OrderRate,
    /// Settlement amount pending, or pending past its due time, at a custodian.
    UnsettledExposure,
}

impl RuleKind {
    /// Every kind, in the order of the README.
    pub const ALL: [RuleKind; 11] = [
        RuleKind::PositionLimit,
        RuleKind::Exposure,
        RuleKind::Concentration,
        RuleKind::Drawdown,
        RuleKind::DailyLoss,
        RuleKind::StablecoinDepeg,
        RuleKind::PriceDivergence,
        RuleKind::StaleData,
        RuleKind::VenueHealth,
        RuleKind::OrderRate,
        RuleKind::UnsettledExposure,
    ];

    /// `position_limit`, `exposure`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            RuleKind::PositionLimit => "position_limit",
            RuleKind::Exposure => "exposure",
            RuleKind::Concentration => "concentration",
            RuleKind::Drawdown => "drawdown",
            RuleKind::DailyLoss => "daily_loss",
            RuleKind::StablecoinDepeg => "stablecoin_depeg",
            RuleKind::PriceDivergence => "price_divergence",
            RuleKind::StaleData => "stale_data",
            RuleKind::VenueHealth => "venue_health",
            RuleKind::OrderRate => "order_rate",
            RuleKind::UnsettledExposure => "unsettled_exposure",
        }
    }

    /// Parses any case of [`RuleKind::as_str`].
    pub fn parse(text: &str) -> Option<RuleKind> {
        RuleKind::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(text))
    }
}

/// What an alert is about. Unused parts are `None`; together with the kind it names the one
/// alert that may be open.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Subject {
    /// The monitored entity (`trading-system-LH`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity: Option<String>,
    /// The exchange, custodian or data source instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub venue: Option<String>,
    /// The asset (`BTC`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asset: Option<String>,
    /// The symbol (`BTC-USD`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub symbol: Option<String>,
    /// Which measure of the kind, where a kind has several (`gross`, `net`, `errors`, `latency`,
    /// `rejects`, `no_update`, `frozen`, `amount`, `overdue`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measure: Option<String>,
}

impl Subject {
    /// `entity=trading-system-LH venue=exchange-OKX asset=BTC`: the parts that are set.
    pub fn key(&self) -> String {
        let parts = [
            ("entity", &self.entity),
            ("venue", &self.venue),
            ("asset", &self.asset),
            ("symbol", &self.symbol),
            ("measure", &self.measure),
        ];
        parts
            .iter()
            .filter_map(|(name, value)| value.as_ref().map(|v| format!("{name}={v}")))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Why an alert was raised (or last escalated): the data point that breached.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// The observed value, in the rule's unit.
    pub observed: f64,
    /// The threshold it crossed, same unit.
    pub threshold: f64,
    /// The unit: `usd`, `ratio`, `bps`, `seconds`, `ms`, `per_second`.
    pub unit: String,
    /// The window the value was measured over (simulated milliseconds), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_ms: Option<i64>,
    /// The breach lasted at least this long before the alert was raised (the rule's `for`), in
    /// simulated milliseconds.
    pub for_ms: i64,
    /// Where the data came from (`market-data-Coinmetrics`, `exchange-OKX`).
    pub source: String,
    /// Simulated time of the data point that breached.
    #[serde(with = "time::serde::rfc3339")]
    pub data_at: OffsetDateTime,
    /// Simulated time the monitor first saw the breach (of this severity); `detected_at` minus this
    /// is the detection latency, `for` included.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub breach_since: Option<OffsetDateTime>,
    /// One sentence a person can act on.
    pub message: String,
}

/// One alert.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// `alert-1`, `alert-2`, ... in the order they were raised.
    pub id: String,
    /// The rule kind.
    pub kind: RuleKind,
    /// What it is about.
    pub subject: Subject,
    /// Highest severity reached while open.
    pub severity: Severity,
    /// Lifecycle.
    pub status: Status,
    /// The data point that raised it (or raised its severity).
    pub evidence: Evidence,
    /// Simulated time it was raised.
    #[serde(with = "time::serde::rfc3339")]
    pub detected_at: OffsetDateTime,
    /// Wall time it was raised.
    #[serde(with = "time::serde::rfc3339")]
    pub detected_at_wall: OffsetDateTime,
    /// Simulated time it was acknowledged.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub acknowledged_at: Option<OffsetDateTime>,
    /// Simulated time it resolved.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub resolved_at: Option<OffsetDateTime>,
    /// Simulated time of its last change.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// What happened to an alert in one step of the monitor.
#[derive(Clone, Debug, PartialEq)]
pub enum AlertChange {
    /// A new alert (`alert.raised`).
    Raised(Alert),
    /// An open alert's severity went up, with new evidence (`alert.escalated`).
    Escalated(Alert),
    /// Someone acknowledged it (`alert.acknowledged`).
    Acknowledged(Alert),
    /// Its breach is over (`alert.resolved`).
    Resolved(Alert),
}

impl AlertChange {
    /// The alert as it is after the change.
    pub fn alert(&self) -> &Alert {
        match self {
            AlertChange::Raised(a)
            | AlertChange::Escalated(a)
            | AlertChange::Acknowledged(a)
            | AlertChange::Resolved(a) => a,
        }
    }

    /// The event type it is written to the outbox as.
    pub fn event_type(&self) -> &'static str {
        match self {
            AlertChange::Raised(_) => "alert.raised",
            AlertChange::Escalated(_) => "alert.escalated",
            AlertChange::Acknowledged(_) => "alert.acknowledged",
            AlertChange::Resolved(_) => "alert.resolved",
        }
    }
}

/// Largest page of alerts.
pub const MAX_LIMIT: u32 = 1000;
/// Page size when none is asked for.
pub const DEFAULT_LIMIT: u32 = 100;

/// Which alerts to list: newest first, `limit` of them, older than `cursor`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertFilter {
    /// Only this status.
    pub status: Option<Status>,
    /// Only this severity.
    pub severity: Option<Severity>,
    /// Only this kind.
    pub kind: Option<RuleKind>,
    /// 1..=[`MAX_LIMIT`].
    pub limit: u32,
    /// Only alerts numbered below this (the previous page's `next_cursor`).
    pub cursor: Option<u64>,
}
