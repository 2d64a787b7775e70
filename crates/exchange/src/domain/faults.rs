//! The exchange's back doors (README, *Simulated time, seeds and back doors*).
//!
//! | kind | params | effect |
//! |---|---|---|
//! | `latency` | `delay` (e.g. `"200ms"`, wall time), optional `operations` (`place`, `cancel`, `query`; default all) | answers of those operations wait `delay` |
//! | `reject_orders` | `fraction` (0–1), optional `symbols` | that fraction of new orders is `REJECTED` ("rejected by the venue") |
//! | `downtime` | none | the production API answers 503 / UNAVAILABLE |
//! | `spread_widening` | `factor` (> 1), optional `symbols` | the liquidity provider quotes `factor` times wider |
//! | `liquidity_reduction` | `factor` (0–1), optional `symbols` | the liquidity provider quotes `factor` of its usual size |
//! | `symbol_halt` | `symbols` | new orders on those symbols are `REJECTED` ("trading halted"); cancels still work; the liquidity provider withdraws |

use std::{sync::Arc, time::Duration};

use serde::Deserialize;
use tse_runtime::{config::parse_duration, faults::FaultKind};

use super::instrument::Instrument;

/// The operations `latency` can slow down.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operation {
    /// Placing and amending orders.
    Place,
    /// Cancelling orders.
    Cancel,
    /// Reading accounts, orders, trades and books.
    Query,
}

/// A fault the exchange knows.
#[derive(Clone, Debug, PartialEq)]
pub enum ExchangeFault {
    /// Slow answers.
    Latency {
        /// Added wall-clock delay.
        delay: Duration,
        /// The operations slowed.
        operations: Vec<Operation>,
    },
    /// Random rejections.
    RejectOrders {
        /// Share of new orders rejected.
        fraction: f64,
        /// Symbols affected; empty: all.
        symbols: Vec<String>,
    },
    /// The production API is down.
    Downtime,
    /// Wider quotes from the liquidity provider.
    SpreadWidening {
        /// Spread multiplier.
        factor: f64,
        /// Symbols affected; empty: all.
        symbols: Vec<String>,
    },
    /// Thinner quotes from the liquidity provider.
    LiquidityReduction {
        /// Size multiplier.
        factor: f64,
        /// Symbols affected; empty: all.
        symbols: Vec<String>,
    },
    /// Trading stopped on symbols.
    SymbolHalt {
        /// The halted symbols.
        symbols: Vec<String>,
    },
}

/// The instruments an exchange lists, for validating faults.
pub type Listed = Arc<[Instrument]>;

impl ExchangeFault {
    /// Returns whether the fault touches `symbol` (faults without symbols touch every symbol).
    pub fn covers(&self, symbol: &str) -> bool {
        match self {
            ExchangeFault::RejectOrders { symbols, .. }
            | ExchangeFault::SpreadWidening { symbols, .. }
            | ExchangeFault::LiquidityReduction { symbols, .. } => {
                symbols.is_empty() || symbols.iter().any(|s| s == symbol)
            }
            ExchangeFault::SymbolHalt { symbols } => symbols.iter().any(|s| s == symbol),
            ExchangeFault::Latency { .. } | ExchangeFault::Downtime => true,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LatencyParams {
    delay: String,
    operations: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FractionParams {
    fraction: f64,
    symbols: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FactorParams {
    factor: f64,
    symbols: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HaltParams {
    symbols: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoParams {}

fn params<T: serde::de::DeserializeOwned>(kind: &str, raw: &serde_json::Value) -> Result<T, String> {
    serde_json::from_value(raw.clone()).map_err(|e| format!("{kind} params: {e}"))
}

fn symbols(kind: &str, listed: &[Instrument], names: Option<Vec<String>>) -> Result<Vec<String>, String> {
    names
        .unwrap_or_default()
        .into_iter()
        .map(|n| {
            let upper = n.trim().to_ascii_uppercase();
            if listed.iter().any(|i| i.symbol == upper) {
                Ok(upper)
            } else {
                let all: Vec<&str> = listed.iter().map(|i| i.symbol.as_str()).collect();
                Err(format!(
                    "{kind}: unknown symbol '{n}'; this exchange lists {}",
                    all.join(", ")
                ))
            }
        })
        .collect()
}

impl FaultKind for ExchangeFault {
    type Context = Listed;

    const KINDS: &'static [&'static str] = &[
        "latency",
        "reject_orders",
        "downtime",
        "spread_widening",
        "liquidity_reduction",
        "symbol_halt",
    ];

    fn parse(kind: &str, raw: &serde_json::Value, listed: &Listed) -> Result<Self, String> {
        match kind {
            "latency" => {
                let p: LatencyParams = params(kind, raw)?;
                let delay = parse_duration(&p.delay).map_err(|e| format!("latency: delay: {e}"))?;
                if delay.is_zero() || delay > Duration::from_secs(60) {
                    return Err("latency: delay must be between 1ms and 60s".into());
                }
                let operations = match p.operations {
                    None => vec![Operation::Place, Operation::Cancel, Operation::Query],
                    Some(names) if names.is_empty() => {
                        return Err("latency: name at least one operation".into());
                    }
                    Some(names) => names
                        .iter()
                        .map(|n| match n.as_str() {
                            "place" => Ok(Operation::Place),
                            "cancel" => Ok(Operation::Cancel),
                            "query" => Ok(Operation::Query),
                            other => Err(format!(
                                "latency: unknown operation '{other}'; use place, cancel or query"
                            )),
                        })
                        .collect::<Result<_, _>>()?,
                };
                Ok(ExchangeFault::Latency { delay, operations })
            }
            "reject_orders" => {
                let p: FractionParams = params(kind, raw)?;
                if !(p.fraction > 0.0 && p.fraction <= 1.0) {
                    return Err(format!(
                        "reject_orders: fraction must be in (0, 1], got {}",
                        p.fraction
                    ));
                }
                Ok(ExchangeFault::RejectOrders {
                    fraction: p.fraction,
                    symbols: symbols(kind, listed, p.symbols)?,
                })
            }
            "downtime" => {
                let _: NoParams = params(kind, raw)?;
                Ok(ExchangeFault::Downtime)
            }
            "spread_widening" => {
                let p: FactorParams = params(kind, raw)?;
                if !(p.factor > 1.0 && p.factor <= 1_000.0) {
                    return Err(format!(
                        "spread_widening: factor must be above 1 and at most 1000, got {}",
                        p.factor
                    ));
                }
                Ok(ExchangeFault::SpreadWidening {
                    factor: p.factor,
                    symbols: symbols(kind, listed, p.symbols)?,
                })
            }
            "liquidity_reduction" => {
                let p: FactorParams = params(kind, raw)?;
                if !(p.factor >= 0.0 && p.factor < 1.0) {
                    return Err(format!(
                        "liquidity_reduction: factor must be in [0, 1), got {}",
                        p.factor
                    ));
                }
                Ok(ExchangeFault::LiquidityReduction {
                    factor: p.factor,
                    symbols: symbols(kind, listed, p.symbols)?,
                })
            }
            "symbol_halt" => {
                let p: HaltParams = params(kind, raw)?;
                if p.symbols.is_empty() {
                    return Err("symbol_halt: name at least one symbol".into());
                }
                Ok(ExchangeFault::SymbolHalt {
                    symbols: symbols(kind, listed, Some(p.symbols))?,
                })
            }
            other => Err(format!("unknown fault kind '{other}'")),
        }
    }

    fn params_schema(kind: &str, listed: &Listed) -> serde_json::Value {
        use serde_json::json;
        use tse_runtime::openapi::{names_any_case, no_params};
        let names: Vec<&str> = listed.iter().map(|i| i.symbol.as_str()).collect();
        let symbols = json!({"type": ["array", "null"], "items": names_any_case(&names),
            "description": "omitted or empty: all"});
        let object = |required: &[&str], properties: serde_json::Value| json!({"type": "object", "required": required, "additionalProperties": false, "properties": properties});
        match kind {
            "latency" => object(
                &["delay"],
                json!({
                    "delay": {"type": "string", "pattern": "^([1-9][0-9]{0,3}ms|([1-9]|[1-5][0-9]|60)s|1m)$",
                        "description": "wall time, 1ms to 60s", "examples": ["200ms"]},
                    "operations": {"type": ["array", "null"], "minItems": 1,
                        "items": {"enum": ["place", "cancel", "query"]}},
                }),
            ),
            "reject_orders" => object(
                &["fraction"],
                json!({
                    "fraction": {"type": "number", "exclusiveMinimum": 0, "maximum": 1}, "symbols": symbols,
                }),
            ),
            "spread_widening" => object(
                &["factor"],
                json!({
                    "factor": {"type": "number", "exclusiveMinimum": 1, "maximum": 1000}, "symbols": symbols,
                }),
            ),
            "liquidity_reduction" => object(
                &["factor"],
                json!({
                    "factor": {"type": "number", "minimum": 0, "exclusiveMaximum": 1}, "symbols": symbols,
                }),
            ),
            "symbol_halt" => object(
                &["symbols"],
                json!({
                    "symbols": {"type": "array", "minItems": 1, "items": names_any_case(&names)},
                }),
            ),
            _ => no_params(),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::domain::instrument::default_instruments;

    fn parse(kind: &str, params: serde_json::Value) -> Result<ExchangeFault, String> {
        ExchangeFault::parse(kind, &params, &default_instruments().into())
    }

    #[test]
    fn faults_parse_and_validate() {
        assert_eq!(
            parse("latency", json!({"delay": "250ms", "operations": ["place"]})).unwrap(),
            ExchangeFault::Latency {
                delay: Duration::from_millis(250),
                operations: vec![Operation::Place]
            }
        );
        assert!(
            parse("reject_orders", json!({"fraction": 0.5, "symbols": ["btc-usd"]}))
                .unwrap()
                .covers("BTC-USD")
        );
        assert!(
            !parse("symbol_halt", json!({"symbols": ["ETH-USD"]}))
                .unwrap()
                .covers("BTC-USD")
        );
        assert!(
            parse("reject_orders", json!({"fraction": 1.5}))
                .unwrap_err()
                .contains("(0, 1]")
        );
        assert!(
            parse("spread_widening", json!({"factor": 0.5}))
                .unwrap_err()
                .contains("above 1")
        );
        assert!(
            parse("symbol_halt", json!({"symbols": ["DOGE-USD"]}))
                .unwrap_err()
                .contains("unknown symbol")
        );
        assert!(
            parse("latency", json!({"delay": "2m"}))
                .unwrap_err()
                .contains("60s")
        );
        assert!(
            parse("downtime", json!({"x": 1}))
                .unwrap_err()
                .contains("unknown field")
        );
    }
}
