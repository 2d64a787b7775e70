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

/// The longest `for` and `window`.
const DAY: time::Duration = time::Duration::DAY;

impl Limits {
    /// Reads a limits document (JSON, or TOML converted to JSON), missing parts taking their
    /// default, and validates it.
    ///
    /// # Errors
    /// One line naming the field and the rule it breaks (unknown field, wrong type, bad value).
    pub fn from_json(value: &serde_json::Value) -> Result<Limits, String> {
        let limits = from_overlaid(value.clone())?;
        limits.validate()?;
        Ok(limits)
    }

    /// Checks every value: finite numbers, `0 < warning ≤ critical`, ratios at most 1
    /// (utilisation at most 10), hysteresis in `[0, 1)`, `for` at most 24h, windows from 1s to
    /// 24h, positive amounts and pegs, well-formed symbols and assets, `min_orders ≥ 1`.
    ///
    /// # Errors
    /// The first rule broken, e.g. `drawdown.warning must be between 0 and 1, got 1.5`.
    pub fn validate(&self) -> Result<(), String> {
        let p = &self.position_limit;
        common("position_limit", p.r#for, p.hysteresis)?;
        band_pair("position_limit.utilisation", &p.utilisation, Some(10.0))?;
        amount("position_limit.max_notional_usd", p.max_notional_usd)?;
        for (asset, limit) in &p.per_asset {
            if !is_asset(asset) {
                return Err(format!(
                    "position_limit.per_asset: `{asset}` is not an asset (upper case letters and digits)"
                ));
            }
            amount(&format!("position_limit.per_asset.{asset}"), *limit)?;
        }

        let e = &self.exposure;
        common("exposure", e.r#for, e.hysteresis)?;
        band_pair("exposure.utilisation", &e.utilisation, Some(10.0))?;
        amount("exposure.max_gross_usd", e.max_gross_usd)?;
        amount("exposure.max_net_usd", e.max_net_usd)?;

        for (name, r) in [
            ("concentration", &self.concentration),
            ("drawdown", &self.drawdown),
        ] {
            common(name, r.r#for, r.hysteresis)?;
            band_pair(name, &bands(r.warning, r.critical), Some(1.0))?;
        }

        let l = &self.daily_loss;
        common("daily_loss", l.r#for, l.hysteresis)?;
        amount("daily_loss.warning_usd", l.warning_usd)?;
        amount("daily_loss.critical_usd", l.critical_usd)?;
        ordered(
            "daily_loss",
            "warning_usd",
            l.warning_usd,
            "critical_usd",
            l.critical_usd,
        )?;

        let d = &self.stablecoin_depeg;
        common("stablecoin_depeg", d.r#for, d.hysteresis)?;
        band_named(
            "stablecoin_depeg",
            "warning_bps",
            "critical_bps",
            d.warning_bps,
            d.critical_bps,
        )?;
        for (symbol, peg) in &d.pegs {
            if !is_symbol(symbol) {
                return Err(format!(
                    "stablecoin_depeg.pegs: `{symbol}` is not a symbol like USDT-USD"
                ));
            }
            if !(peg.is_finite() && *peg > 0.0) {
                return Err(format!(
                    "stablecoin_depeg.pegs.{symbol} must be a positive price, got {peg}"
                ));
            }
        }

        let v = &self.price_divergence;
        common("price_divergence", v.r#for, v.hysteresis)?;
        band_named(
            "price_divergence",
            "warning_bps",
            "critical_bps",
            v.warning_bps,
            v.critical_bps,
        )?;
        if let Some(reference) = &v.reference
            && reference.trim().is_empty()
        {
            return Err("price_divergence.reference must name a market data instance, or be null".into());
        }
        if v.lag.is_negative() || v.lag > time::Duration::HOUR {
            return Err(format!(
                "price_divergence.lag must be between 0s and 1h, got {}",
                show_duration(v.lag)
            ));
        }

        let s = &self.stale_data;
        common("stale_data", s.r#for, s.hysteresis)?;
        band_pair("stale_data.max_age_seconds", &s.max_age_seconds, None)?;
        band_pair("stale_data.frozen_seconds", &s.frozen_seconds, None)?;
        for symbol in &s.frozen_exempt {
            if !is_symbol(symbol) {
                return Err(format!(
                    "stale_data.frozen_exempt: `{symbol}` is not a symbol like USDT-USD"
                ));
            }
        }

        let h = &self.venue_health;
        common("venue_health", h.r#for, h.hysteresis)?;
        window("venue_health.window", h.window)?;
        band_pair("venue_health.error_ratio", &h.error_ratio, Some(1.0))?;
        band_pair("venue_health.latency_ms", &h.latency_ms, None)?;
        band_pair("venue_health.reject_ratio", &h.reject_ratio, Some(1.0))?;
        if h.min_orders < 1 {
            return Err("venue_health.min_orders must be at least 1, got 0".into());
        }

        let o = &self.order_rate;
        common("order_rate", o.r#for, o.hysteresis)?;
        window("order_rate.window", o.window)?;
        band_pair("order_rate.per_second", &o.per_second, None)?;

        let u = &self.unsettled_exposure;
        common("unsettled_exposure", u.r#for, u.hysteresis)?;
        amount("unsettled_exposure.pending_usd.warning", u.pending_usd.warning)?;
        amount("unsettled_exposure.pending_usd.critical", u.pending_usd.critical)?;
        band_pair("unsettled_exposure.pending_usd", &u.pending_usd, None)?;
        band_pair("unsettled_exposure.overdue_seconds", &u.overdue_seconds, None)?;
        Ok(())
    }

    /// Whether `kind` is on, its `for` and its hysteresis.
    pub fn rule(&self, kind: RuleKind) -> (bool, time::Duration, f64) {
        macro_rules! parts {
            ($l:expr) => {{
                let l = $l;
                (l.enabled, l.r#for, l.hysteresis)
            }};
        }
        match kind {
            RuleKind::PositionLimit => parts!(&self.position_limit),
            RuleKind::Exposure => parts!(&self.exposure),
            RuleKind::Concentration => parts!(&self.concentration),
            RuleKind::Drawdown => parts!(&self.drawdown),
            RuleKind::DailyLoss => parts!(&self.daily_loss),
            RuleKind::StablecoinDepeg => parts!(&self.stablecoin_depeg),
            RuleKind::PriceDivergence => parts!(&self.price_divergence),
            RuleKind::StaleData => parts!(&self.stale_data),
            RuleKind::VenueHealth => parts!(&self.venue_health),
            RuleKind::OrderRate => parts!(&self.order_rate),
            RuleKind::UnsettledExposure => parts!(&self.unsettled_exposure),
        }
    }

    /// Turns `kind` on or off.
    pub fn set_enabled(&mut self, kind: RuleKind, enabled: bool) {
        *self.rule_mut(kind).0 = enabled;
    }

    /// `enabled`, `for` and `hysteresis` of `kind`, to change.
    pub fn rule_mut(&mut self, kind: RuleKind) -> (&mut bool, &mut time::Duration, &mut f64) {
        macro_rules! parts {
            ($l:expr) => {{
                let l = $l;
                (&mut l.enabled, &mut l.r#for, &mut l.hysteresis)
            }};
        }
        match kind {
            RuleKind::PositionLimit => parts!(&mut self.position_limit),
            RuleKind::Exposure => parts!(&mut self.exposure),
            RuleKind::Concentration => parts!(&mut self.concentration),
            RuleKind::Drawdown => parts!(&mut self.drawdown),
            RuleKind::DailyLoss => parts!(&mut self.daily_loss),
            RuleKind::StablecoinDepeg => parts!(&mut self.stablecoin_depeg),
            RuleKind::PriceDivergence => parts!(&mut self.price_divergence),
            RuleKind::StaleData => parts!(&mut self.stale_data),
            RuleKind::VenueHealth => parts!(&mut self.venue_health),
            RuleKind::OrderRate => parts!(&mut self.order_rate),
            RuleKind::UnsettledExposure => parts!(&mut self.unsettled_exposure),
        }
    }

    /// The longest window any rule looks back over (orders and requests are kept that long).
    pub fn longest_window(&self) -> time::Duration {
        self.venue_health.window.max(self.order_rate.window)
    }
}

fn common(kind: &str, r#for: time::Duration, hysteresis: f64) -> Result<(), String> {
    if r#for.is_negative() || r#for > DAY {
        return Err(format!(
            "{kind}.for must be between 0s and 24h, got {}",
            show_duration(r#for)
        ));
    }
    if !(hysteresis.is_finite() && (0.0..1.0).contains(&hysteresis)) {
        return Err(format!(
            "{kind}.hysteresis must be at least 0 and below 1, got {hysteresis}"
        ));
    }
    Ok(())
}

fn window(path: &str, window: time::Duration) -> Result<(), String> {
    if window < time::Duration::SECOND || window > DAY {
        return Err(format!(
            "{path} must be between 1s and 24h, got {}",
            show_duration(window)
        ));
    }
    Ok(())
}

fn show_duration(d: time::Duration) -> String {
    if d.is_negative() {
        return format!("-{}", show_duration(-d));
    }
    std::time::Duration::try_from(d)
        .map(tse_runtime::config::format_duration)
        .unwrap_or_else(|_| d.to_string())
}

fn amount(path: &str, value: f64) -> Result<(), String> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(format!("{path} must be a positive USD amount, got {value}"))
    }
}

/// `0 < warning ≤ critical`, at most `max` when given.
fn band_pair(path: &str, b: &Bands, max: Option<f64>) -> Result<(), String> {
    for (name, value) in [("warning", b.warning), ("critical", b.critical)] {
        let field = format!("{path}.{name}");
        match max {
            Some(max) if !(value.is_finite() && value > 0.0 && value <= max) => {
                return Err(format!("{field} must be between 0 and {max}, got {value}"));
            }
            None if !(value.is_finite() && value > 0.0) => {
                return Err(format!("{field} must be a positive number, got {value}"));
            }
            _ => {}
        }
    }
    ordered(path, "warning", b.warning, "critical", b.critical)
}

fn band_named(kind: &str, w_name: &str, c_name: &str, w: f64, c: f64) -> Result<(), String> {
    for (name, value) in [(w_name, w), (c_name, c)] {
        if !(value.is_finite() && value > 0.0) {
            return Err(format!("{kind}.{name} must be a positive number, got {value}"));
        }
    }
    ordered(kind, w_name, w, c_name, c)
}

fn ordered(path: &str, w_name: &str, w: f64, c_name: &str, c: f64) -> Result<(), String> {
    if w > c {
        return Err(format!("{path}: {w_name} ({w}) must not exceed {c_name} ({c})"));
    }
    Ok(())
}

/// `BTC`: upper case letters and digits.
fn is_asset(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// `USDT-USD`: two assets joined by one dash.
fn is_symbol(text: &str) -> bool {
    text.split_once('-')
        .is_some_and(|(base, quote)| is_asset(base) && is_asset(quote))
}

/// A USD amount written as a JSON string (`"20000000"`, shortest exact form); reads a string or a
/// number.
pub mod usd_text {
    use serde::{Deserializer, Serializer, de};

    /// Writes `"20000000"`.
    pub fn serialize<S: Serializer>(value: &f64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&value.to_string())
    }

    /// Reads `"20000000"` or `20000000`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        d.deserialize_any(Amount)
    }

    struct Amount;

    impl de::Visitor<'_> for Amount {
        type Value = f64;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a USD amount (a number or a string such as \"20000000\")")
        }

        fn visit_str<E: de::Error>(self, text: &str) -> Result<f64, E> {
            text.trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| E::custom(format!("`{text}` is not a USD amount")))
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
            Ok(v)
        }

        #[allow(clippy::cast_precision_loss)]
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
            Ok(v as f64)
        }

        #[allow(clippy::cast_precision_loss)]
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
            Ok(v as f64)
        }
    }
}

/// A map of USD amounts (or prices) written as JSON strings; reads strings or numbers.
pub mod usd_map {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    struct Amount(#[serde(with = "super::usd_text")] f64);

    /// Writes `{"BTC": "5000000"}`.
    pub fn serialize<S: Serializer>(map: &BTreeMap<String, f64>, s: S) -> Result<S::Ok, S::Error> {
        let text: BTreeMap<&String, Amount> = map.iter().map(|(k, v)| (k, Amount(*v))).collect();
        text.serialize(s)
    }

    /// Reads `{"BTC": "5000000"}` or `{"BTC": 5000000}`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, f64>, D::Error> {
        let text = BTreeMap::<String, Amount>::deserialize(d)?;
        Ok(text.into_iter().map(|(k, v)| (k, v.0)).collect())
    }
}

/// [`Bands`] of USD amounts, each written as a JSON string; reads strings or numbers.
pub mod usd_bands {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::Bands;

    #[derive(Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Text {
        #[serde(with = "super::usd_text")]
        warning: f64,
        #[serde(with = "super::usd_text")]
        critical: f64,
    }

    /// Writes `{"warning": "20000000", "critical": "50000000"}`.
    pub fn serialize<S: Serializer>(b: &Bands, s: S) -> Result<S::Ok, S::Error> {
        Text {
            warning: b.warning,
            critical: b.critical,
        }
        .serialize(s)
    }

    /// Reads strings or numbers.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Bands, D::Error> {
        let t = Text::deserialize(d)?;
        Ok(Bands {
            warning: t.warning,
            critical: t.critical,
        })
    }
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn with(patch: serde_json::Value) -> Result<Limits, String> {
        Limits::from_json(&patch)
    }

    #[test]
    fn the_default_validates_and_has_the_documented_shape() {
        let limits = Limits::default();
        limits.validate().unwrap();
        let value = serde_json::to_value(&limits).unwrap();
        assert_eq!(value["position_limit"]["max_notional_usd"], json!("20000000"));
        assert_eq!(value["position_limit"]["for"], json!("5s"));
        assert_eq!(value["concentration"]["for"], json!("1m"));
        assert_eq!(value["drawdown"]["for"], json!("0s"));
        assert_eq!(value["daily_loss"]["warning_usd"], json!("3000000"));
        assert_eq!(value["stablecoin_depeg"]["pegs"], json!({"USDT-USD": "1"}));
        assert_eq!(value["price_divergence"]["reference"], json!(null));
        assert_eq!(
            value["unsettled_exposure"]["pending_usd"],
            json!({"warning": "20000000", "critical": "50000000"})
        );
        assert_eq!(value["venue_health"]["min_orders"], json!(20));
        assert_eq!(
            value["order_rate"]["per_second"],
            json!({"warning": 50.0, "critical": 200.0})
        );
        assert_eq!(value.as_object().unwrap().len(), KINDS.len());
    }

    #[test]
    fn json_round_trips() {
        let mut limits = Limits::default();
        limits.position_limit.per_asset.insert("BTC".into(), 5_000_000.5);
        limits.price_divergence.reference = Some("market-data-Coinmetrics".into());
        limits.venue_health.window = time::Duration::milliseconds(1500);
        let value = serde_json::to_value(&limits).unwrap();
        assert_eq!(value["position_limit"]["per_asset"]["BTC"], json!("5000000.5"));
        assert_eq!(Limits::from_json(&value).unwrap(), limits);
        let text = serde_json::to_string(&limits).unwrap();
        assert_eq!(serde_json::from_str::<Limits>(&text).unwrap(), limits);
    }

    #[test]
    fn missing_kinds_and_fields_take_their_own_default() {
        assert_eq!(with(json!({})).unwrap(), Limits::default());
        let limits =
            with(json!({"drawdown": {"warning": 0.02}, "concentration": {"enabled": false}})).unwrap();
        assert_eq!(limits.drawdown.warning, 0.02);
        assert_eq!(limits.drawdown.critical, 0.05);
        assert_eq!(limits.drawdown.r#for, time::Duration::ZERO);
        assert!(!limits.concentration.enabled);
        assert_eq!(limits.concentration.warning, 0.7);
        assert_eq!(limits.concentration.r#for, time::Duration::minutes(1));
        let limits = with(json!({"order_rate": {"per_second": {"critical": 400}}})).unwrap();
        assert_eq!(
            limits.order_rate.per_second,
            Bands {
                warning: 50.0,
                critical: 400.0
            }
        );
        // A map replaces the default's.
        let limits = with(json!({"stablecoin_depeg": {"pegs": {"USDC-USD": 1}}})).unwrap();
        assert_eq!(limits.stablecoin_depeg.pegs.len(), 1);
    }

    #[test]
    fn amounts_accept_numbers_and_strings() {
        let limits = with(json!({
            "position_limit": {"max_notional_usd": 1000, "per_asset": {"BTC": "2500.5", "ETH": 7.25}},
            "exposure": {"max_gross_usd": "3e6", "max_net_usd": 4000000},
            "daily_loss": {"warning_usd": 1.5, "critical_usd": "2"},
            "unsettled_exposure": {"pending_usd": {"warning": 10, "critical": "20"}},
        }))
        .unwrap();
        assert_eq!(limits.position_limit.max_notional_usd, 1000.0);
        assert_eq!(limits.position_limit.per_asset["BTC"], 2500.5);
        assert_eq!(limits.position_limit.per_asset["ETH"], 7.25);
        assert_eq!(limits.exposure.max_gross_usd, 3_000_000.0);
        assert_eq!(limits.daily_loss.critical_usd, 2.0);
        assert_eq!(
            limits.unsettled_exposure.pending_usd,
            Bands {
                warning: 10.0,
                critical: 20.0
            }
        );
        let err = with(json!({"exposure": {"max_gross_usd": "lots"}})).unwrap_err();
        assert!(err.starts_with("exposure: "), "{err}");
        assert!(err.contains("`lots` is not a USD amount"), "{err}");
    }

    #[test]
    fn unknown_fields_and_kinds_are_refused() {
        let err = with(json!({"drawdown": {"warnin": 0.1}})).unwrap_err();
        assert!(err.starts_with("drawdown: unknown field `warnin`"), "{err}");
        let err = with(json!({"order_rate": {"per_second": {"warning": 1, "major": 2}}})).unwrap_err();
        assert!(err.contains("unknown field `major`"), "{err}");
        let err = with(json!({"unsettled_exposure": {"pending_usd": {"low": 2}}})).unwrap_err();
        assert!(err.contains("unknown field `low`"), "{err}");
        let err = with(json!({"liquidity": {}})).unwrap_err();
        assert!(err.starts_with("unknown rule kind `liquidity`"), "{err}");
        assert_eq!(
            with(json!([1])).unwrap_err(),
            "limits must be a table of rule kinds"
        );
        assert_eq!(
            with(json!({"drawdown": 3})).unwrap_err(),
            "drawdown must be a table"
        );
        let err = with(json!({"drawdown": {"for": "soon"}})).unwrap_err();
        assert!(err.starts_with("drawdown: "), "{err}");
    }

    #[test]
    fn each_bad_value_is_named_with_its_rule() {
        let cases = [
            (
                json!({"order_rate": {"per_second": {"warning": 300, "critical": 200}}}),
                "order_rate.per_second: warning (300) must not exceed critical (200)",
            ),
            (
                json!({"drawdown": {"warning": 1.5}}),
                "drawdown.warning must be between 0 and 1, got 1.5",
            ),
            (
                json!({"concentration": {"critical": 0}}),
                "concentration.critical must be between 0 and 1, got 0",
            ),
            (
                json!({"venue_health": {"reject_ratio": {"warning": 0.5, "critical": 1.2}}}),
                "venue_health.reject_ratio.critical must be between 0 and 1, got 1.2",
            ),
            (
                json!({"venue_health": {"error_ratio": {"warning": -0.1, "critical": 0.5}}}),
                "venue_health.error_ratio.warning must be between 0 and 1, got -0.1",
            ),
            (
                json!({"position_limit": {"utilisation": {"warning": 0.8, "critical": 11}}}),
                "position_limit.utilisation.critical must be between 0 and 10, got 11",
            ),
            (
                json!({"position_limit": {"per_asset": {"BTC": -5}}}),
                "position_limit.per_asset.BTC must be a positive USD amount, got -5",
            ),
            (
                json!({"position_limit": {"per_asset": {"btc": 5}}}),
                "position_limit.per_asset: `btc` is not an asset (upper case letters and digits)",
            ),
            (
                json!({"exposure": {"max_net_usd": "0"}}),
                "exposure.max_net_usd must be a positive USD amount, got 0",
            ),
            (
                json!({"daily_loss": {"warning_usd": 6000000}}),
                "daily_loss: warning_usd (6000000) must not exceed critical_usd (5000000)",
            ),
            (
                json!({"stablecoin_depeg": {"pegs": {"USDT-USD": 0}}}),
                "stablecoin_depeg.pegs.USDT-USD must be a positive price, got 0",
            ),
            (
                json!({"stablecoin_depeg": {"pegs": {"USDTUSD": 1}}}),
                "stablecoin_depeg.pegs: `USDTUSD` is not a symbol like USDT-USD",
            ),
            (
                json!({"stablecoin_depeg": {"warning_bps": 0}}),
                "stablecoin_depeg.warning_bps must be a positive number, got 0",
            ),
            (
                json!({"price_divergence": {"warning_bps": 400}}),
                "price_divergence: warning_bps (400) must not exceed critical_bps (300)",
            ),
            (
                json!({"price_divergence": {"reference": " "}}),
                "price_divergence.reference must name a market data instance, or be null",
            ),
            (
                json!({"stale_data": {"frozen_exempt": ["usdt-usd"]}}),
                "stale_data.frozen_exempt: `usdt-usd` is not a symbol like USDT-USD",
            ),
            (
                json!({"stale_data": {"max_age_seconds": {"warning": 0, "critical": 1}}}),
                "stale_data.max_age_seconds.warning must be a positive number, got 0",
            ),
            (
                json!({"exposure": {"hysteresis": 1}}),
                "exposure.hysteresis must be at least 0 and below 1, got 1",
            ),
            (
                json!({"drawdown": {"hysteresis": -0.1}}),
                "drawdown.hysteresis must be at least 0 and below 1, got -0.1",
            ),
            (
                json!({"exposure": {"for": "25h"}}),
                "exposure.for must be between 0s and 24h, got 1d1h",
            ),
            (
                json!({"venue_health": {"window": "500ms"}}),
                "venue_health.window must be between 1s and 24h, got 500ms",
            ),
            (
                json!({"order_rate": {"window": "2d"}}),
                "order_rate.window must be between 1s and 24h, got 2d",
            ),
            (
                json!({"venue_health": {"min_orders": 0}}),
                "venue_health.min_orders must be at least 1, got 0",
            ),
            (
                json!({"unsettled_exposure": {"pending_usd": {"warning": "-1", "critical": "5"}}}),
                "unsettled_exposure.pending_usd.warning must be a positive USD amount, got -1",
            ),
            (
                json!({"unsettled_exposure": {"overdue_seconds": {"warning": 700, "critical": 600}}}),
                "unsettled_exposure.overdue_seconds: warning (700) must not exceed critical (600)",
            ),
        ];
        for (patch, message) in cases {
            assert_eq!(with(patch.clone()).unwrap_err(), message, "{patch}");
        }
    }

    #[test]
    fn non_finite_numbers_are_refused() {
        let mut limits = Limits::default();
        limits.order_rate.per_second.critical = f64::INFINITY;
        assert_eq!(
            limits.validate().unwrap_err(),
            "order_rate.per_second.critical must be a positive number, got inf"
        );
        let mut limits = Limits::default();
        limits.exposure.hysteresis = f64::NAN;
        assert!(limits.validate().unwrap_err().starts_with("exposure.hysteresis"));
    }

    #[test]
    fn limits_read_from_toml_converted_to_json() {
        let text = r#"
            [drawdown]
            warning = 0.04
            [position_limit.per_asset]
            BTC = 1000000
            [price_divergence]
            reference = "market-data-Kaiko"
        "#;
        let table: toml::Table = toml::from_str(text).unwrap();
        let value = serde_json::to_value(table).unwrap();
        let limits = Limits::from_json(&value).unwrap();
        assert_eq!(limits.drawdown.warning, 0.04);
        assert_eq!(limits.position_limit.per_asset["BTC"], 1_000_000.0);
        assert_eq!(
            limits.price_divergence.reference.as_deref(),
            Some("market-data-Kaiko")
        );
    }
}
