//! The market data back doors (README, *Simulated time, seeds and back doors*): what each fault does to prices, as pure functions of
//! simulated time.
//!
//! | kind | params | effect |
//! |---|---|---|
//! | `price_shock` | `symbol` or `symbols` (legs), `percent`, optional `recovery` | prices move by `percent`, linearly over the fault's duration; then recover over `recovery`, or stay moved |
//! | `depeg` | optional `symbol` (a pegged leg, default the first), `deviation` (percent), optional `recovery` | the peg moves by `deviation`, linearly over the duration; then recovers over `recovery`, or stays |
//! | `stale_feed` | optional `symbols` (default all) | published prices freeze while the feed keeps publishing |
//! | `divergence` | `percent`, optional `symbols` (legs; default every unpegged leg) | this instance's prices sit `percent` away from the true ones |
//! | `outage` | none | the feed and the production API are unavailable |
//!
//! Crosses follow their legs: a shock on `BTC-USD` moves `BTC-ETH` and `BTC-USDT` too.

use std::{sync::Arc, time::Duration};

use serde::Deserialize;
use time::OffsetDateTime;
use tse_runtime::{config::parse_duration, faults::FaultKind};

use super::symbol::{Symbol, SymbolSpec};

/// A fault the market data simulator knows.
#[derive(Clone, Debug, PartialEq)]
pub enum MarketFault {
    /// Prices of `symbols` move by `percent`.
    PriceShock {
        /// Legs moved.
        symbols: Vec<Symbol>,
        /// Size of the move, in percent.
        percent: f64,
        /// Time to return to the undisturbed price after the move; `None`: the move stays.
        recovery: Option<Duration>,
    },
    /// A pegged leg moves away from its peg by `deviation` percent.
    Depeg {
        /// The pegged leg.
        symbol: Symbol,
        /// Deviation in percent.
        deviation: f64,
        /// Time to return to the peg after the move; `None`: the deviation stays.
        recovery: Option<Duration>,
    },
    /// Published prices of `symbols` freeze.
    StaleFeed {
        /// Frozen symbols.
        symbols: Vec<Symbol>,
    },
    /// Prices of `symbols` sit `percent` away from the true ones.
    Divergence {
        /// Legs moved.
        symbols: Vec<Symbol>,
        /// Distance, in percent.
        percent: f64,
    },
    /// The feed and the production API are unavailable.
    Outage,
}

/// The symbols a market data instance publishes, for validating faults.
pub type Symbols = Arc<[SymbolSpec]>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ShockParams {
    symbol: Option<String>,
    symbols: Option<Vec<String>>,
    percent: f64,
    recovery: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DepegParams {
    symbol: Option<String>,
    deviation: f64,
    recovery: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StaleParams {
    symbols: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DivergenceParams {
    symbols: Option<Vec<String>>,
    percent: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoParams {}

fn params<T: serde::de::DeserializeOwned>(kind: &str, params: &serde_json::Value) -> Result<T, String> {
    serde_json::from_value(params.clone()).map_err(|e| format!("{kind} params: {e}"))
}

fn known<'a>(specs: &'a [SymbolSpec], text: &str) -> Result<&'a SymbolSpec, String> {
    let symbol = Symbol::parse(text)?;
    specs.iter().find(|s| s.symbol == symbol).ok_or_else(|| {
        let names: Vec<&str> = specs.iter().map(|s| s.symbol.as_str()).collect();
        format!(
            "unknown symbol {symbol}; this instance publishes {}",
            names.join(", ")
        )
    })
}

fn legs(kind: &str, specs: &[SymbolSpec], texts: &[String]) -> Result<Vec<Symbol>, String> {
    if texts.is_empty() {
        return Err(format!("{kind}: name at least one symbol"));
    }
    texts
        .iter()
        .map(|t| {
            let spec = known(specs, t)?;
            if spec.is_cross() {
                return Err(format!(
                    "{kind}: {} is a cross and follows its legs; apply the fault to the legs",
                    spec.symbol
                ));
            }
            Ok(spec.symbol.clone())
        })
        .collect()
}

fn percent(kind: &str, name: &str, value: f64, low: f64, high: f64) -> Result<f64, String> {
    if !(value.is_finite() && value != 0.0 && (low..=high).contains(&value)) {
        return Err(format!(
            "{kind}: {name} must be between {low} and {high} and not 0, got {value}"
        ));
    }
    Ok(value)
}

fn recovery(kind: &str, text: Option<String>) -> Result<Option<Duration>, String> {
    text.map(|t| parse_duration(&t).map_err(|e| format!("{kind}: recovery: {e}")))
        .transpose()
}

impl FaultKind for MarketFault {
    type Context = Symbols;

    const KINDS: &'static [&'static str] = &["price_shock", "depeg", "stale_feed", "divergence", "outage"];

    fn parse(kind: &str, raw: &serde_json::Value, specs: &Symbols) -> Result<Self, String> {
        match kind {
            "price_shock" => {
                let p: ShockParams = params(kind, raw)?;
                let names = match (p.symbol, p.symbols) {
                    (Some(one), None) => vec![one],
                    (None, Some(many)) => many,
                    _ => return Err("price_shock: give either `symbol` or `symbols`".into()),
                };
                Ok(MarketFault::PriceShock {
                    symbols: legs(kind, specs, &names)?,
                    percent: percent(kind, "percent", p.percent, -95.0, 500.0)?,
                    recovery: recovery(kind, p.recovery)?,
                })
            }
            "depeg" => {
                let p: DepegParams = params(kind, raw)?;
                let spec = match &p.symbol {
                    Some(text) => known(specs, text)?,
                    None => specs
                        .iter()
                        .find(|s| s.is_pegged())
                        .ok_or("depeg: this instance publishes no pegged symbol")?,
                };
                if !spec.is_pegged() {
                    return Err(format!(
                        "depeg: {} is not pegged; depeg applies to stablecoins",
                        spec.symbol
                    ));
                }
                Ok(MarketFault::Depeg {
                    symbol: spec.symbol.clone(),
                    deviation: percent(kind, "deviation", p.deviation, -90.0, 90.0)?,
                    recovery: recovery(kind, p.recovery)?,
                })
            }
            "stale_feed" => {
                let p: StaleParams = params(kind, raw)?;
                let symbols = match p.symbols {
                    None => specs.iter().map(|s| s.symbol.clone()).collect(),
                    Some(names) if names.is_empty() => {
                        return Err("stale_feed: name at least one symbol".into());
                    }
                    Some(names) => names
                        .iter()
                        .map(|n| known(specs, n).map(|s| s.symbol.clone()))
                        .collect::<Result<_, _>>()?,
                };
                Ok(MarketFault::StaleFeed { symbols })
            }
            "divergence" => {
                let p: DivergenceParams = params(kind, raw)?;
                let symbols = match p.symbols {
                    None => specs
                        .iter()
                        .filter(|s| !s.is_cross() && !s.is_pegged())
                        .map(|s| s.symbol.clone())
                        .collect(),
                    Some(names) => legs(kind, specs, &names)?,
                };
                Ok(MarketFault::Divergence {
                    symbols,
                    percent: percent(kind, "percent", p.percent, -50.0, 50.0)?,
                })
            }
            "outage" => {
                let _: NoParams = params(kind, raw)?;
                Ok(MarketFault::Outage)
            }
            other => Err(format!("unknown fault kind '{other}'")),
        }
    }

    fn params_schema(kind: &str, specs: &Symbols) -> serde_json::Value {
        use serde_json::json;
        use tse_runtime::openapi::{duration, names_any_case, no_params};
        let names = |keep: &dyn Fn(&SymbolSpec) -> bool| -> Vec<&str> {
            specs
                .iter()
                .filter(|s| keep(s))
                .map(|s| s.symbol.as_str())
                .collect()
        };
        let legs = names(&|s| !s.is_cross());
        let all = names(&|_| true);
        let pegged = names(&|s| s.is_pegged());
        // `percent` within its range and not 0 (the parser refuses both).
        let percent = |low: f64, high: f64| json!({"type": "number", "minimum": low, "maximum": high, "not": {"const": 0}});
        let list = |names: &[&str]| json!({"type": ["array", "null"], "minItems": 1, "items": names_any_case(names)});
        let recovery = json!({"type": ["string", "null"], "pattern": duration()["pattern"],
            "description": "simulated time to return afterwards; omitted: the move stays"});
        let object = |required: &[&str], properties: serde_json::Value| json!({"type": "object", "required": required, "additionalProperties": false, "properties": properties});
        match kind {
            "price_shock" => json!({"oneOf": [
                object(&["symbol", "percent"], json!({
                    "symbol": names_any_case(&legs), "symbols": {"type": "null"},
                    "percent": percent(-95.0, 500.0), "recovery": recovery,
                })),
                object(&["symbols", "percent"], json!({
                    "symbols": {"type": "array", "minItems": 1, "items": names_any_case(&legs)},
                    "symbol": {"type": "null"},
                    "percent": percent(-95.0, 500.0), "recovery": recovery,
                })),
            ]}),
            "depeg" => {
                let mut symbol = names_any_case(&pegged);
                symbol["type"] = json!(["string", "null"]);
                if let Some(values) = symbol["enum"].as_array_mut() {
                    values.push(serde_json::Value::Null);
                }
                object(
                    &["deviation"],
                    json!({
                        "symbol": symbol, "deviation": percent(-90.0, 90.0), "recovery": recovery,
                    }),
                )
            }
            "stale_feed" => object(&[], json!({"symbols": list(&all)})),
            "divergence" => object(
                &["percent"],
                json!({"symbols": list(&legs), "percent": percent(-50.0, 50.0)}),
            ),
            _ => no_params(),
        }
    }

    fn lifetime(&self, duration: Option<Duration>) -> Option<Duration> {
        match self {
            MarketFault::PriceShock {
                recovery: Some(recovery),
                ..
            }
            | MarketFault::Depeg {
                recovery: Some(recovery),
                ..
            } => duration.map(|d| d + *recovery),
            _ => duration,
        }
    }
}

/// Linear progress from 0 at `from` to 1 at `from + span` (1 at once for no span).
fn progress(from: OffsetDateTime, span: Option<Duration>, at: OffsetDateTime) -> f64 {
    let elapsed = (at - from).as_seconds_f64().max(0.0);
    match span {
        Some(span) if !span.is_zero() => (elapsed / span.as_secs_f64()).min(1.0),
        _ => 1.0,
    }
}

impl MarketFault {
    /// Returns the factor this fault applies to `leg` at `at`, for a fault started at `started` with
    /// requested `duration` (the ramp), or `None` if it does not touch the leg.
    pub fn leg_factor(
        &self,
        leg: &Symbol,
        started: OffsetDateTime,
        duration: Option<Duration>,
        at: OffsetDateTime,
    ) -> Option<f64> {
        let ramped = |size: f64, recovery: Option<Duration>| {
            let moved = progress(started, duration, at);
            let recovered = match (duration, recovery) {
                (Some(ramp), Some(recovery)) => progress(started + ramp, Some(recovery), at),
                _ => 0.0,
            };
            1.0 + size / 100.0 * moved * (1.0 - recovered)
        };
        match self {
            MarketFault::PriceShock {
                symbols,
                percent,
                recovery,
            } if symbols.contains(leg) => Some(ramped(*percent, *recovery)),
            MarketFault::Depeg {
                symbol,
                deviation,
                recovery,
            } if symbol == leg => Some(ramped(*deviation, *recovery)),
            MarketFault::Divergence { symbols, percent } if symbols.contains(leg) => {
                Some(1.0 + percent / 100.0)
            }
            _ => None,
        }
    }

    /// Returns the lasting factor a shock or depeg leaves on `leg` once it has run its full duration
    /// without a recovery phase.
    pub fn lasting_factor(&self, leg: &Symbol) -> Option<f64> {
        match self {
            MarketFault::PriceShock {
                symbols,
                percent,
                recovery: None,
            } if symbols.contains(leg) => Some(1.0 + percent / 100.0),
            MarketFault::Depeg {
                symbol,
                deviation,
                recovery: None,
            } if symbol == leg => Some(1.0 + deviation / 100.0),
            _ => None,
        }
    }

    /// Returns whether this fault freezes `symbol`.
    pub fn freezes(&self, symbol: &Symbol) -> bool {
        matches!(self, MarketFault::StaleFeed { symbols } if symbols.contains(symbol))
    }

    /// Returns the symbols this fault targets directly (crosses of those legs move too).
    pub fn targets(&self) -> &[Symbol] {
        match self {
            MarketFault::PriceShock { symbols, .. }
            | MarketFault::StaleFeed { symbols }
            | MarketFault::Divergence { symbols, .. } => symbols,
            MarketFault::Depeg { symbol, .. } => std::slice::from_ref(symbol),
            MarketFault::Outage => &[],
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::domain::symbol::default_symbols;

    fn symbols() -> Symbols {
        default_symbols().into()
    }

    fn parse(kind: &str, params: serde_json::Value) -> Result<MarketFault, String> {
        MarketFault::parse(kind, &params, &symbols())
    }

    fn sym(s: &str) -> Symbol {
        Symbol::parse(s).unwrap()
    }

    #[test]
    fn every_kind_parses_with_defaults() {
        assert_eq!(
            parse("depeg", json!({"deviation": -5})).unwrap(),
            MarketFault::Depeg {
                symbol: sym("USDT-USD"),
                deviation: -5.0,
                recovery: None
            }
        );
        assert_eq!(
            parse("divergence", json!({"percent": 2})).unwrap(),
            MarketFault::Divergence {
                symbols: vec![sym("BTC-USD"), sym("ETH-USD")],
                percent: 2.0
            }
        );
        let MarketFault::StaleFeed { symbols } = parse("stale_feed", json!({})).unwrap() else {
            panic!()
        };
        assert_eq!(symbols.len(), 6);
        assert_eq!(parse("outage", json!({})).unwrap(), MarketFault::Outage);
        let shock = parse(
            "price_shock",
            json!({"symbol": "btc-usd", "percent": -15, "recovery": "30m"}),
        )
        .unwrap();
        assert_eq!(
            shock,
            MarketFault::PriceShock {
                symbols: vec![sym("BTC-USD")],
                percent: -15.0,
                recovery: Some(Duration::from_secs(1800))
            }
        );
    }

    #[test]
    fn invalid_faults_are_refused_with_a_reason() {
        let refused = |kind, params| parse(kind, params).unwrap_err();
        assert!(
            refused("price_shock", json!({"symbol": "DOGE-USD", "percent": 5}))
                .contains("unknown symbol DOGE-USD")
        );
        assert!(refused("price_shock", json!({"symbol": "BTC-ETH", "percent": 5})).contains("is a cross"));
        assert!(
            refused("price_shock", json!({"symbol": "BTC-USD", "percent": -100}))
                .contains("between -95 and 500")
        );
        assert!(refused("price_shock", json!({"percent": 5})).contains("either `symbol` or `symbols`"));
        assert!(refused("depeg", json!({"symbol": "BTC-USD", "deviation": -5})).contains("not pegged"));
        assert!(refused("depeg", json!({"deviation": 0})).contains("not 0"));
        assert!(refused("outage", json!({"x": 1})).contains("unknown field"));
        assert!(refused("stale_feed", json!({"symbols": []})).contains("at least one"));
        assert!(refused("depeg", json!({"deviation": -5, "recovery": "soon"})).contains("recovery"));
        assert!(refused("bogus", json!({})).contains("unknown fault kind"));
    }

    #[test]
    fn a_shock_ramps_over_its_duration_then_recovers() {
        let shock = parse(
            "price_shock",
            json!({"symbol": "BTC-USD", "percent": -20, "recovery": "10m"}),
        )
        .unwrap();
        let t0 = OffsetDateTime::from_unix_timestamp(0).unwrap();
        let ramp = Some(Duration::from_secs(600));
        let at = |secs: i64| {
            shock
                .leg_factor(&sym("BTC-USD"), t0, ramp, t0 + time::Duration::seconds(secs))
                .unwrap()
        };
        assert_eq!(at(0), 1.0);
        assert!((at(300) - 0.9).abs() < 1e-12);
        assert!((at(600) - 0.8).abs() < 1e-12);
        assert!((at(900) - 0.9).abs() < 1e-12, "half recovered");
        assert!((at(1200) - 1.0).abs() < 1e-12);
        assert_eq!(shock.leg_factor(&sym("ETH-USD"), t0, ramp, t0), None);
        assert_eq!(shock.lasting_factor(&sym("BTC-USD")), None, "it recovers");
        assert_eq!(shock.lifetime(ramp), Some(Duration::from_secs(1200)));
    }

    #[test]
    fn a_depeg_without_recovery_leaves_a_lasting_deviation() {
        let depeg = parse("depeg", json!({"deviation": -5})).unwrap();
        let t0 = OffsetDateTime::from_unix_timestamp(0).unwrap();
        let ramp = Some(Duration::from_secs(36 * 3600));
        let half = depeg
            .leg_factor(&sym("USDT-USD"), t0, ramp, t0 + time::Duration::hours(18))
            .unwrap();
        assert!((half - 0.975).abs() < 1e-12);
        assert_eq!(depeg.lasting_factor(&sym("USDT-USD")), Some(0.95));
        assert_eq!(depeg.lifetime(ramp), ramp);
    }
}
