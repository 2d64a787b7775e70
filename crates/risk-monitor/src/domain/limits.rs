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

use super::alert::RuleKind;

/// A `warning` and a `critical` threshold in one unit; higher is worse; `warning ≤ critical`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bands {
    /// Raises a warning.
    pub warning: f64,
    /// Raises (or escalates to) critical.
    pub critical: f64,
}

/// Every rule's limits. Deserialising takes every missing kind, and every missing field of a
/// kind, from [`Limits::default`]; unknown kinds and fields are refused.
#[derive(Clone, Debug, PartialEq, Serialize)]
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

/// `position_limit`: utilisation = |notional of one asset at one venue| / its limit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
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
    #[serde(with = "usd_text")]
    pub max_notional_usd: f64,
    /// Limits per asset, USD.
    #[serde(with = "usd_map")]
    pub per_asset: BTreeMap<String, f64>,
}

/// `exposure`: utilisation of the gross and the net limit per entity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
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
    #[serde(with = "usd_text")]
    pub max_gross_usd: f64,
    /// |Net| limit, USD.
    #[serde(with = "usd_text")]
    pub max_net_usd: f64,
}

/// A kind measured as a ratio (`concentration`, `drawdown`). Its missing fields are filled in by
/// [`Limits`]' deserialiser, from the default of the kind it stands for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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
#[serde(default, deny_unknown_fields)]
pub struct LossLimits {
    /// On.
    pub enabled: bool,
    /// Breach lasts this long before it raises.
    #[serde(rename = "for", with = "duration_text")]
    pub r#for: time::Duration,
    /// Resolution band, a fraction of `warning`.
    pub hysteresis: f64,
    /// Warning loss, USD.
    #[serde(with = "usd_text")]
    pub warning_usd: f64,
    /// Critical loss, USD.
    #[serde(with = "usd_text")]
    pub critical_usd: f64,
}

/// `stablecoin_depeg`: |price − peg| / peg in bps, per pegged symbol.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
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
    #[serde(with = "usd_map")]
    pub pegs: BTreeMap<String, f64>,
}

/// `price_divergence`: |price − reference| / reference in bps.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
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
    /// How far back a price may trail the reference and still not diverge: a venue or a second
    /// source is compared with the range of reference prices over this simulated window, so one
    /// that follows the market a little late (a liquidity provider requoting after a move, more
    /// visible the faster the clock) is not reported; one away from every recent reference price is.
    #[serde(with = "duration_text")]
    pub lag: time::Duration,
}

/// `stale_data`: seconds since a source's last new price of a symbol, and seconds a volatile
/// price has stayed exactly the same.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
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
#[serde(default, deny_unknown_fields)]
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
#[serde(default, deny_unknown_fields)]
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
#[serde(default, deny_unknown_fields)]
pub struct UnsettledLimits {
    /// On.
    pub enabled: bool,
    /// Breach lasts this long before it raises.
    #[serde(rename = "for", with = "duration_text")]
    pub r#for: time::Duration,
    /// Resolution band, a fraction of `warning`.
    pub hysteresis: f64,
    /// USD value of pending legs (warning, critical).
    #[serde(with = "usd_bands")]
    pub pending_usd: Bands,
    /// Seconds the oldest pending instruction is past its due time (warning, critical).
    pub overdue_seconds: Bands,
}

fn secs(s: i64) -> time::Duration {
    time::Duration::seconds(s)
}

fn bands(warning: f64, critical: f64) -> Bands {
    Bands { warning, critical }
}

impl Default for PositionLimits {
    fn default() -> Self {
        Self {
            enabled: true,
            r#for: secs(5),
            hysteresis: 0.05,
            utilisation: bands(0.8, 1.0),
            max_notional_usd: 20_000_000.0,
            per_asset: BTreeMap::new(),
        }
    }
}

impl Default for ExposureLimits {
    fn default() -> Self {
        Self {
            enabled: true,
            r#for: secs(5),
            hysteresis: 0.05,
            utilisation: bands(0.8, 1.0),
            max_gross_usd: 100_000_000.0,
            max_net_usd: 100_000_000.0,
        }
    }
}

impl RatioLimits {
    /// The default of `concentration`.
    pub fn concentration() -> Self {
        Self {
            enabled: true,
            r#for: secs(60),
            hysteresis: 0.05,
            warning: 0.7,
            critical: 0.85,
        }
    }

    /// The default of `drawdown`.
    pub fn drawdown() -> Self {
        Self {
            enabled: true,
            r#for: secs(0),
            hysteresis: 0.1,
            warning: 0.03,
            critical: 0.05,
        }
    }
}

impl Default for LossLimits {
    fn default() -> Self {
        Self {
            enabled: true,
            r#for: secs(0),
            hysteresis: 0.1,
            warning_usd: 3_000_000.0,
            critical_usd: 5_000_000.0,
        }
    }
}

impl Default for DepegLimits {
    fn default() -> Self {
        Self {
            enabled: true,
            r#for: secs(10),
            hysteresis: 0.2,
            warning_bps: 50.0,
            critical_bps: 200.0,
            pegs: BTreeMap::from([("USDT-USD".to_owned(), 1.0)]),
        }
    }
}

impl Default for DivergenceLimits {
    fn default() -> Self {
        Self {
            enabled: true,
            r#for: secs(10),
            hysteresis: 0.2,
            warning_bps: 100.0,
            critical_bps: 300.0,
            reference: None,
            lag: secs(30),
        }
    }
}

impl Default for StaleLimits {
    fn default() -> Self {
        Self {
            enabled: true,
            r#for: secs(0),
            hysteresis: 0.1,
            max_age_seconds: bands(30.0, 120.0),
            frozen_seconds: bands(300.0, 900.0),
            frozen_exempt: vec!["USDT-USD".to_owned()],
        }
    }
}

impl Default for VenueLimits {
    fn default() -> Self {
        Self {
            enabled: true,
            r#for: secs(5),
            hysteresis: 0.2,
            window: secs(30),
            error_ratio: bands(0.2, 0.5),
            latency_ms: bands(1000.0, 5000.0),
            reject_ratio: bands(0.5, 0.9),
            min_orders: 20,
        }
    }
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            enabled: true,
            r#for: secs(0),
            hysteresis: 0.2,
            window: secs(10),
            per_second: bands(50.0, 200.0),
        }
    }
}

impl Default for UnsettledLimits {
    fn default() -> Self {
        Self {
            enabled: true,
            r#for: secs(0),
            hysteresis: 0.1,
            pending_usd: bands(20_000_000.0, 50_000_000.0),
            overdue_seconds: bands(60.0, 600.0),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            position_limit: PositionLimits::default(),
            exposure: ExposureLimits::default(),
            concentration: RatioLimits::concentration(),
            drawdown: RatioLimits::drawdown(),
            daily_loss: LossLimits::default(),
            stablecoin_depeg: DepegLimits::default(),
            price_divergence: DivergenceLimits::default(),
            stale_data: StaleLimits::default(),
            venue_health: VenueLimits::default(),
            order_rate: RateLimits::default(),
            unsettled_exposure: UnsettledLimits::default(),
        }
    }
}

/// The rule kinds' names in a limits document, in order.
const KINDS: [&str; 11] = [
    "position_limit",
    "exposure",
    "concentration",
    "drawdown",
    "daily_loss",
    "stablecoin_depeg",
    "price_divergence",
    "stale_data",
    "venue_health",
    "order_rate",
    "unsettled_exposure",
];

/// Fields whose value is a whole map that replaces the default's, never merged into it.
const WHOLE_MAPS: [&str; 2] = ["per_asset", "pegs"];

/// Overlays `given` (a limits document, possibly partial) on the defaults: missing kinds, fields of
/// a kind and bands' halves keep the default.
fn overlay(given: serde_json::Value) -> Result<serde_json::Value, String> {
    use serde_json::Value;
    let Value::Object(given) = given else {
        return Err("limits must be a table of rule kinds".into());
    };
    let mut merged = serde_json::to_value(Limits::default()).map_err(|e| e.to_string())?;
    let Value::Object(kinds) = &mut merged else {
        return Err("default limits are not a table".into());
    };
    for (kind, fields) in given {
        let Some(defaults) = kinds.get_mut(&kind) else {
            return Err(format!(
                "unknown rule kind `{kind}`; expected one of {}",
                KINDS.join(", ")
            ));
        };
        let Value::Object(fields) = fields else {
            return Err(format!("{kind} must be a table"));
        };
        let Value::Object(defaults) = defaults else {
            return Err(format!("{kind} has no default table"));
        };
        for (name, value) in fields {
            match (defaults.get_mut(&name), value) {
                (Some(Value::Object(default)), Value::Object(value))
                    if !WHOLE_MAPS.contains(&name.as_str()) =>
                {
                    default.extend(value);
                }
                (_, value) => {
                    defaults.insert(name, value);
                }
            }
        }
    }
    Ok(merged)
}

fn kind<T: serde::de::DeserializeOwned>(
    merged: &mut serde_json::Map<String, serde_json::Value>,
    name: &str,
) -> Result<T, String> {
    let value = merged.remove(name).unwrap_or(serde_json::Value::Null);
    serde_json::from_value(value).map_err(|e| format!("{name}: {e}"))
}

fn from_overlaid(given: serde_json::Value) -> Result<Limits, String> {
    let serde_json::Value::Object(mut m) = overlay(given)? else {
        return Err("limits must be a table of rule kinds".into());
    };
    Ok(Limits {
        position_limit: kind(&mut m, "position_limit")?,
        exposure: kind(&mut m, "exposure")?,
        concentration: kind(&mut m, "concentration")?,
        drawdown: kind(&mut m, "drawdown")?,
        daily_loss: kind(&mut m, "daily_loss")?,
        stablecoin_depeg: kind(&mut m, "stablecoin_depeg")?,
        price_divergence: kind(&mut m, "price_divergence")?,
        stale_data: kind(&mut m, "stale_data")?,
        venue_health: kind(&mut m, "venue_health")?,
        order_rate: kind(&mut m, "order_rate")?,
        unsettled_exposure: kind(&mut m, "unsettled_exposure")?,
    })
}

impl<'de> Deserialize<'de> for Limits {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let given = serde_json::Value::deserialize(d)?;
        from_overlaid(given).map_err(serde::de::Error::custom)
    }
}

mod text;
mod validate;

pub use text::{duration_text, usd_bands, usd_map, usd_text};

#[cfg(test)]
mod tests;
