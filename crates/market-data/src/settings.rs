//! `[instance.settings]` of a market data instance, validated before anything starts.
//!
//! ```toml
//! [instance.settings]
//! seed = 7                  # default: derived from the ecosystem seed and the instance name
//! seed_from = "market-data-Coinmetrics"   # or: the seed that instance derives, so this one publishes
//!                                         # the same market (a second vendor); not with `seed`
//! tick_interval = "1s"      # simulated time between ticks, 10ms to 1h
//!
//! [[instance.settings.symbols]]   # replaces the default six when given
//! symbol = "SOL-USD"
//! process = "gbm"                 # gbm, mean_reverting or cross
//! initial = 180.0
//! volatility = 0.9                # annual
//! drift = 0.0                     # annual, optional
//! jumps = { intensity = 12, mean = -0.01, stdev = 0.05 }   # optional
//! tick_size = "0.01"
//!
//! [[instance.settings.symbols]]
//! symbol = "USDC-USD"
//! process = "mean_reverting"
//! peg = 1.0
//! reversion = 2000.0              # per year
//! volatility = 0.01
//! tick_size = "0.0001"
//!
//! [[instance.settings.symbols]]
//! symbol = "SOL-USDC"
//! process = "cross"
//! numerator = "SOL-USD"
//! denominator = "USDC-USD"
//! tick_size = "0.001"
//! ```

use std::{collections::BTreeSet, time::Duration};

use rust_decimal::Decimal;
use serde::Deserialize;
use tse_runtime::config::parse_duration;

use crate::domain::symbol::{Jumps, Process, Symbol, SymbolSpec, default_symbols};

/// Validated settings.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// Explicit seed; `None`: derived from the ecosystem seed and the instance name.
    pub seed: Option<u64>,
    /// Derive the seed from this instance name instead of the instance's own: two instances with
    /// the same derivation publish the same prices (a second vendor quoting the same market).
    pub seed_from: Option<String>,
    /// Simulated time between ticks.
    pub tick_interval: Duration,
    /// Published symbols, legs before the crosses that use them.
    pub symbols: Vec<SymbolSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    seed: Option<u64>,
    seed_from: Option<String>,
    tick_interval: Option<String>,
    symbols: Option<Vec<RawSymbol>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSymbol {
    symbol: String,
    process: String,
    tick_size: String,
    initial: Option<f64>,
    drift: Option<f64>,
    volatility: Option<f64>,
    jumps: Option<RawJumps>,
    peg: Option<f64>,
    reversion: Option<f64>,
    numerator: Option<String>,
    denominator: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawJumps {
    intensity: f64,
    mean: f64,
    stdev: f64,
}

fn positive(name: &str, what: &str, value: Option<f64>) -> Result<f64, String> {
    match value {
        Some(v) if v.is_finite() && v > 0.0 => Ok(v),
        Some(v) => Err(format!("{name}: {what} must be positive, got {v}")),
        None => Err(format!("{name}: {what} is required")),
    }
}

impl Settings {
    /// Parses and validates settings.
    ///
    /// # Errors
    /// Returns a message naming the setting and what is wrong with it.
    pub fn parse(table: &toml::Table) -> Result<Self, String> {
        let raw: Raw = toml::Value::Table(table.clone())
            .try_into()
            .map_err(|e: toml::de::Error| e.message().to_owned())?;
        let tick_interval = match raw.tick_interval {
            None => Duration::from_secs(1),
            Some(text) => {
                let interval = parse_duration(&text).map_err(|e| format!("tick_interval: {e}"))?;
                if interval < Duration::from_millis(10) || interval > Duration::from_secs(3600) {
                    return Err(format!("tick_interval must be between 10ms and 1h, got {text}"));
                }
                interval
            }
        };
        let symbols = match raw.symbols {
            None => default_symbols(),
            Some(list) => parse_symbols(list)?,
        };
        let seed_from = match (raw.seed, raw.seed_from) {
            (Some(_), Some(_)) => return Err("give seed or seed_from, not both".into()),
            (_, Some(name)) => Some(
                tse_runtime::identity::InstanceName::parse(&name)
                    .map_err(|e| format!("seed_from: {e}"))?
                    .to_string(),
            ),
            (_, None) => None,
        };
        Ok(Self {
            seed: raw.seed,
            seed_from,
            tick_interval,
            symbols,
        })
    }
}

fn parse_symbols(list: Vec<RawSymbol>) -> Result<Vec<SymbolSpec>, String> {
    if list.is_empty() {
        return Err("symbols: give at least one symbol".into());
    }
    let mut seen = BTreeSet::new();
    let mut legs = Vec::new();
    let mut crosses = Vec::new();
    for raw in list {
        let symbol = Symbol::parse(&raw.symbol).map_err(|e| format!("symbols: {e}"))?;
        let name = symbol.to_string();
        if !seen.insert(symbol.clone()) {
            return Err(format!("symbols: {name} is listed twice"));
        }
        let tick_size: Decimal = raw
            .tick_size
            .parse()
            .map_err(|_| format!("{name}: tick_size '{}' is not a decimal", raw.tick_size))?;
        if tick_size <= Decimal::ZERO {
            return Err(format!("{name}: tick_size must be positive"));
        }
        let process = match raw.process.as_str() {
            "gbm" => Process::Gbm {
                initial: positive(&name, "initial", raw.initial)?,
                drift: raw.drift.unwrap_or(0.0),
                volatility: raw
                    .volatility
                    .filter(|v| v.is_finite() && *v >= 0.0)
                    .ok_or_else(|| format!("{name}: volatility is required and must be 0 or more"))?,
                jumps: raw
                    .jumps
                    .map(|j| {
                        if j.intensity < 0.0 || j.stdev < 0.0 || !j.mean.is_finite() {
                            Err(format!("{name}: jumps need intensity and stdev of 0 or more"))
                        } else {
                            Ok(Jumps {
                                intensity: j.intensity,
                                mean: j.mean,
                                stdev: j.stdev,
                            })
                        }
                    })
                    .transpose()?,
            },
            "mean_reverting" => Process::MeanReverting {
                peg: positive(&name, "peg", raw.peg)?,
                reversion: positive(&name, "reversion", raw.reversion)?,
                volatility: raw
                    .volatility
                    .filter(|v| v.is_finite() && *v >= 0.0)
                    .ok_or_else(|| format!("{name}: volatility is required and must be 0 or more"))?,
            },
            "cross" => {
                let leg = |text: Option<String>, what: &str| {
                    text.ok_or_else(|| format!("{name}: a cross needs `{what}`"))
                        .and_then(|t| Symbol::parse(&t).map_err(|e| format!("{name}: {what}: {e}")))
                };
                Process::Cross {
                    numerator: leg(raw.numerator, "numerator")?,
                    denominator: leg(raw.denominator, "denominator")?,
                }
            }
            other => {
                return Err(format!(
                    "{name}: unknown process '{other}'; use gbm, mean_reverting or cross"
                ));
            }
        };
        let spec = SymbolSpec {
            symbol,
            process,
            tick_size,
        };
        if spec.is_cross() {
            crosses.push(spec);
        } else {
            legs.push(spec);
        }
    }
    for cross in &crosses {
        if let Process::Cross {
            numerator,
            denominator,
        } = &cross.process
        {
            for leg in [numerator, denominator] {
                if !legs.iter().any(|l| &l.symbol == leg) {
                    return Err(format!(
                        "{}: its leg {leg} must be a listed gbm or mean_reverting symbol",
                        cross.symbol
                    ));
                }
            }
        }
    }
    legs.extend(crosses);
    Ok(legs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Settings, String> {
        Settings::parse(&text.parse::<toml::Table>().unwrap())
    }

    #[test]
    fn no_settings_give_the_default_six_symbols_every_second() {
        let settings = parse("").unwrap();
        assert_eq!(settings.tick_interval, Duration::from_secs(1));
        assert_eq!(settings.symbols, default_symbols());
        assert_eq!(settings.seed, None);
    }

    #[test]
    fn custom_symbols_are_validated_and_ordered_legs_first() {
        let settings = parse(
            r#"
            seed = 7
            tick_interval = "250ms"
            [[symbols]]
            symbol = "SOL-USDC"
            process = "cross"
            numerator = "SOL-USD"
            denominator = "USDC-USD"
            tick_size = "0.001"
            [[symbols]]
            symbol = "sol-usd"
            process = "gbm"
            initial = 180.0
            volatility = 0.9
            tick_size = "0.01"
            [[symbols]]
            symbol = "USDC-USD"
            process = "mean_reverting"
            peg = 1.0
            reversion = 1000.0
            volatility = 0.01
            tick_size = "0.0001"
            "#,
        )
        .unwrap();
        let names: Vec<&str> = settings.symbols.iter().map(|s| s.symbol.as_str()).collect();
        assert_eq!(names, ["SOL-USD", "USDC-USD", "SOL-USDC"]);
        assert_eq!(settings.seed, Some(7));
        assert_eq!(settings.seed_from, None);
        assert_eq!(settings.tick_interval, Duration::from_millis(250));
    }

    #[test]
    fn a_second_vendor_derives_its_seed_from_another_instance() {
        let settings = parse("seed_from = \"market-data-Coinmetrics\"").unwrap();
        assert_eq!(settings.seed_from.as_deref(), Some("market-data-Coinmetrics"));
        assert!(
            parse("seed = 1\nseed_from = \"market-data-A\"")
                .unwrap_err()
                .contains("not both")
        );
        assert!(
            parse("seed_from = \"bad name!\"")
                .unwrap_err()
                .starts_with("seed_from:")
        );
    }

    #[test]
    fn invalid_settings_name_the_problem() {
        let err = |text| parse(text).unwrap_err();
        assert!(err("tick_interval = \"1ms\"").contains("between 10ms and 1h"));
        assert!(err("seeds = 1").contains("unknown field `seeds`"));
        assert!(
            err("[[symbols]]\nsymbol = \"X-Y\"\nprocess = \"gbm\"\ntick_size = \"1\"")
                .contains("not a symbol")
        );
        assert!(
            err("[[symbols]]\nsymbol = \"AB-CD\"\nprocess = \"gbm\"\ninitial = 1.0\ntick_size = \"0.1\"")
                .contains("volatility is required")
        );
        assert!(
            err("[[symbols]]\nsymbol = \"AB-CD\"\nprocess = \"cross\"\nnumerator = \"AB-USD\"\ndenominator = \"CD-USD\"\ntick_size = \"0.1\"")
                .contains("must be a listed")
        );
        assert!(
            err("[[symbols]]\nsymbol = \"AB-CD\"\nprocess = \"walk\"\ntick_size = \"0.1\"")
                .contains("unknown process")
        );
    }
}
