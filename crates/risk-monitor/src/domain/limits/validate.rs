//! Reading a limits document, validating it, and the accessors the monitor uses.

use super::*;

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
