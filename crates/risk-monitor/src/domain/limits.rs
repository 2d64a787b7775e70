//! The limits every rule is evaluated against: `GET`/`PUT /api/v1/limits`, `[instance.settings.limits]`.
//!
//! Every kind has `enabled`, `for` (how long a breach lasts before it raises; a duration such as
//! `"30s"`, simulated time) and `hysteresis` (a fraction: an alert resolves once its value is below
//! `warning × (1 − hysteresis)` for `for`, and a warning becomes critical at `critical`), and
//! `warning`/`critical` bands in the kind's unit (higher is worse). USD amounts are JSON strings
//! in responses and accept strings or numbers in requests.
//!
//! The defaults are right for the default ecosystem: a desk trading normally raises nothing over
//! 24 simulated hours, and each fault of the scenario library raises the alert that names it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A `warning` and a `critical` threshold in one unit; higher is worse; `warning ≤ critical`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bands {
    /// Raises a warning.
    pub warning: f64,
    /// Raises (or escalates to) critical.
    pub critical: f64,
}

/// Every rule's limits.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Notional per asset and venue.
    pub position_limit: PositionLimits,
    /// Gross and net notional per entity.
    pub exposure: ExposureLimits,
    /// Share of one asset in gross exposure (ratio).
    pub concentration: RatioLimits,
    /// Equity below its peak (ratio).
    pub drawdown: RatioLimits,
    /// Loss since the start of the simulated day (USD).
    pub daily_loss: LossLimits,
    /// Stablecoins away from their peg (bps).
    pub stablecoin_depeg: DepegLimits,
    /// Venue mids and other sources against the reference (bps).
    pub price_divergence: DivergenceLimits,
    /// No new price, or a frozen one (seconds).
    pub stale_data: StaleLimits,
    /// Venue errors, latency and the desk's reject ratio.
    pub venue_health: VenueLimits,
    /// Orders per second per entity.
    pub order_rate: RateLimits,
    /// Pending settlement amount and overdue age at custodians.
    pub unsettled_exposure: UnsettledLimits,
}

// The kinds' structs are completed by the rule core: each has `enabled: bool`, `r#for` (serde
// name `for`, a `time::Duration` written as a duration string), `hysteresis: f64`, and the fields
// the README's limits table gives.

/// `position_limit`: utilisation = |notional of one asset at one venue| / its limit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PositionLimits {
    /// On.
    pub enabled: bool,
    /// Breach lasts this long before it raises.
    #[serde(rename = "for", with = "duration_text")]
    pub r#for: time::Duration,
    /// Resolution band, a fraction of `warning`.
    pub hysteresis: f64,
    /// Utilisation bands (ratios of the limit).
    pub utilisation: Bands,
    /// Limit of any asset not in `per_asset`, USD.
    pub max_notional_usd: f64,
    /// Limits per asset, USD.
    pub per_asset: BTreeMap<String, f64>,
}

/// `exposure`: utilisation of the gross and the net limit per entity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExposureLimits {
    /// On.
    pub enabled: bool,
    /// Breach lasts this long before it raises.
    #[serde(rename = "for", with = "duration_text")]
    pub r#for: time::Duration,
    /// Resolution band, a fraction of `warning`.
    pub hysteresis: f64,
    /// Utilisation bands (ratios of the limit).
    pub utilisation: Bands,
    /// Gross limit, USD.
    pub max_gross_usd: f64,
    /// |Net| limit, USD.
    pub max_net_usd: f64,
}

/// A kind measured as a ratio (`concentration`, `drawdown`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RatioLimits {
    /// On.
    pub enabled: bool,
    /// Breach lasts this long before it raises.
    #[serde(rename = "for", with = "duration_text")]
    pub r#for: time::Duration,
    /// Resolution band, a fraction of `warning`.
    pub hysteresis: f64,
    /// Bands (ratios).
    pub warning: f64,
    /// Critical (ratio).
    pub critical: f64,
}

/// `daily_loss`: loss since the simulated day started, USD.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LossLimits {
    /// On.
    pub enabled: bool,
    /// Breach lasts this long before it raises.
    #[serde(rename = "for", with = "duration_text")]
    pub r#for: time::Duration,
    /// Resolution band, a fraction of `warning`.
    pub hysteresis: f64,
    /// Warning loss, USD.
    pub warning_usd: f64,
    /// Critical loss, USD.
    pub critical_usd: f64,
}

/// `stablecoin_depeg`: |price − peg| / peg in bps, per pegged symbol.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DepegLimits {
    /// On.
    pub enabled: bool,
    /// Breach lasts this long before it raises.
    #[serde(rename = "for", with = "duration_text")]
    pub r#for: time::Duration,
    /// Resolution band, a fraction of `warning`.
    pub hysteresis: f64,
    /// Warning, bps.
    pub warning_bps: f64,
    /// Critical, bps.
    pub critical_bps: f64,
    /// Pegged symbols and their pegs (`USDT-USD` → 1).
    pub pegs: BTreeMap<String, f64>,
}

/// `price_divergence`: |price − reference| / reference in bps.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DivergenceLimits {
    /// On.
    pub enabled: bool,
    /// Breach lasts this long before it raises.
    #[serde(rename = "for", with = "duration_text")]
    pub r#for: time::Duration,
    /// Resolution band, a fraction of `warning`.
    pub hysteresis: f64,
    /// Warning, bps.
    pub warning_bps: f64,
    /// Critical, bps.
    pub critical_bps: f64,
    /// The reference source (a market data instance); `None`: the first source by name.
    pub reference: Option<String>,
}

/// `stale_data`: seconds since a source's last new price of a symbol, and seconds a volatile
/// price has stayed exactly the same.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StaleLimits {
    /// On.
    pub enabled: bool,
    /// Breach lasts this long before it raises.
    #[serde(rename = "for", with = "duration_text")]
    pub r#for: time::Duration,
    /// Resolution band, a fraction of `warning`.
    pub hysteresis: f64,
    /// Seconds without a new price (warning, critical).
    pub max_age_seconds: Bands,
    /// Seconds a price may stay unchanged (warning, critical).
    pub frozen_seconds: Bands,
    /// Symbols whose price may legitimately not move (pegged ones), exempt from `frozen`.
    pub frozen_exempt: Vec<String>,
}

/// `venue_health`: per venue over `window`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VenueLimits {
    /// On.
    pub enabled: bool,
    /// Breach lasts this long before it raises.
    #[serde(rename = "for", with = "duration_text")]
    pub r#for: time::Duration,
    /// Resolution band, a fraction of `warning`.
    pub hysteresis: f64,
    /// The window ratios and means are measured over.
    #[serde(with = "duration_text")]
    pub window: time::Duration,
    /// Failed / all requests of the monitor.
    pub error_ratio: Bands,
    /// Mean latency of the monitor's requests, ms.
    pub latency_ms: Bands,
    /// Rejected / new orders of the monitored entities.
    pub reject_ratio: Bands,
    /// Fewest orders in the window for the reject ratio to count.
    pub min_orders: u32,
}

/// `order_rate`: orders per second of one entity, every exchange together, over `window`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RateLimits {
    /// On.
    pub enabled: bool,
    /// Breach lasts this long before it raises.
    #[serde(rename = "for", with = "duration_text")]
    pub r#for: time::Duration,
    /// Resolution band, a fraction of `warning`.
    pub hysteresis: f64,
    /// The window.
    #[serde(with = "duration_text")]
    pub window: time::Duration,
    /// Orders per second (warning, critical).
    pub per_second: Bands,
}

/// `unsettled_exposure`: per entity and custodian.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UnsettledLimits {
    /// On.
    pub enabled: bool,
    /// Breach lasts this long before it raises.
    #[serde(rename = "for", with = "duration_text")]
    pub r#for: time::Duration,
    /// Resolution band, a fraction of `warning`.
    pub hysteresis: f64,
    /// USD value of pending legs (warning, critical).
    pub pending_usd: Bands,
    /// Seconds the oldest pending instruction is past its due time (warning, critical).
    pub overdue_seconds: Bands,
}

/// A `time::Duration` written as a duration string (`"30s"`, `"5m"`).
pub mod duration_text {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    /// Writes `"30s"`.
    pub fn serialize<S: Serializer>(d: &time::Duration, s: S) -> Result<S::Ok, S::Error> {
        let std = std::time::Duration::try_from(*d).unwrap_or_default();
        s.serialize_str(&tse_runtime::config::format_duration(std))
    }

    /// Reads `"30s"`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<time::Duration, D::Error> {
        let text = String::deserialize(d)?;
        let std = tse_runtime::config::parse_duration(&text).map_err(D::Error::custom)?;
        time::Duration::try_from(std).map_err(D::Error::custom)
    }
}
