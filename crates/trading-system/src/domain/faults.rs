//! The desk's back door (README, *Trading system*): each fault kind starts the chaos strategy of the
//! same name for the fault's duration, with the fault's params.
//!
//! | kind | params (all optional) |
//! |---|---|
//! | `runaway` | `exchange`, `symbol`, `rate` (orders per simulated second, up to 100000), `burst`, `size`, `spread_bps_min`, `spread_bps_max` |
//! | `risk_ignorant` | `exchange`, `symbol`, `side`, `size`, `every` |
//! | `volatility_amplifier` | `exchange`, `symbol`, `size`, `threshold_bps` |
//! | `correlation_breaker` | `exchange`, `symbols` (two, default `BTC-USD`, `ETH-USD`), `size`, `every` |
//! | `slow_leak` | `exchange`, `symbol`, `size`, `every` |
//!
//! Every kind also takes `max_position` and `max_order_size` (default: no practical limit).
//! `exchange` is one the desk trades on (default: its first); a symbol is one the desk knows, written
//! as listed (`BTC-USD`, default `BTC-USD`). Numbers are JSON numbers within the bounds the fault's
//! schema states ([`TradingFault::params_schema`]); what the strategy does with them is
//! `crate::domain::strategy`'s. The strategy is named after the kind, so at most one of each runs;
//! its orders' events name the fault's injection as their cause.

use rust_decimal::Decimal;
use tse_market::Symbol;
use tse_runtime::faults::FaultKind;

use super::strategy::{self, Params, StrategyConfig, StrategyKind};

/// A fault the desk knows: run this chaos strategy while the fault is active.
#[derive(Clone, Debug, PartialEq)]
pub struct TradingFault {
    /// The strategy it runs.
    pub config: StrategyConfig,
}

/// What faults are checked against: the exchanges the desk trades on and the symbols it knows.
#[derive(Clone, Debug, Default)]
pub struct FaultContext {
    /// The desk's exchanges, in settings order.
    pub exchanges: Vec<String>,
    /// The symbols a fault may name: its strategies' and the default listing's.
    pub symbols: Vec<String>,
}

/// The default listing's symbols, which a fault may always name.
pub const DEFAULT_SYMBOLS: [&str; 6] = [
    "BTC-USD", "ETH-USD", "USDT-USD", "BTC-ETH", "ETH-USDT", "BTC-USDT",
];

/// Largest position and order size a chaos strategy gets unless its params say (it misbehaves).
const CHAOS_LIMIT: Decimal = Decimal::from_parts(1_000_000, 0, 0, false, 0);

/// A numeric param's bounds: `(name, minimum, exclusive minimum, maximum, whole number)`.
type Bound = (&'static str, f64, bool, f64, bool);

const SIZE: Bound = ("size", 1e-8, false, 1e6, false);
const LIMITS: [Bound; 2] = [
    ("max_position", 1e-8, false, 1e9, false),
    ("max_order_size", 1e-8, false, 1e9, false),
];

/// The numeric params of each kind and their bounds.
fn bounds(kind: StrategyKind) -> Vec<Bound> {
    let mut own = match kind {
        StrategyKind::Runaway => vec![
            ("rate", 1e-6, false, 100_000.0, false),
            ("burst", 1.0, false, 100_000.0, true),
            SIZE,
            ("spread_bps_min", 0.0, false, 9_999.0, false),
            ("spread_bps_max", 0.0, false, 9_999.0, false),
        ],
        StrategyKind::VolatilityAmplifier => vec![("threshold_bps", 0.0, false, 10_000.0, false), SIZE],
        _ => vec![SIZE],
    };
    own.extend(LIMITS);
    own
}

/// The words each kind takes besides `exchange` and its symbol(s).
fn words(kind: StrategyKind) -> &'static [&'static str] {
    match kind {
        StrategyKind::RiskIgnorant => &["side", "every"],
        StrategyKind::CorrelationBreaker | StrategyKind::SlowLeak => &["every"],
        _ => &[],
    }
}

/// Whether `text` is a simulated duration of at most a year written as the schema allows.
fn every_fits(text: &str) -> bool {
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    if digits.is_empty() || digits.starts_with('0') {
        return false;
    }
    match unit {
        "ms" => digits.len() <= 10,
        "s" => digits.len() <= 7,
        "m" => digits.len() <= 5,
        "h" => digits.len() <= 3,
        "d" => digits.len() <= 3 && digits.parse::<u32>().is_ok_and(|d| d <= 365),
        _ => false,
    }
}

impl TradingFault {
    fn parse_kind(kind: &str, raw: &serde_json::Value, context: &FaultContext) -> Result<Self, String> {
        let strategy_kind = StrategyKind::parse(kind)
            .filter(|k| k.is_chaos() && k.name() == kind)
            .ok_or_else(|| format!("unknown fault kind '{kind}'"))?;
        let mut params = Params::from_json(raw)?;
        let pair = strategy_kind == StrategyKind::CorrelationBreaker;
        let numbers = bounds(strategy_kind);
        let known: Vec<&str> = ["exchange", if pair { "symbols" } else { "symbol" }]
            .into_iter()
            .chain(numbers.iter().map(|b| b.0))
            .chain(words(strategy_kind).iter().copied())
            .collect();
        params.only(&known)?;
        for (name, min, exclusive, max, whole) in numbers {
            let Some(value) = params.get(name) else { continue };
            let n = value
                .as_f64()
                .filter(|_| value.is_number())
                .ok_or_else(|| format!("param {name}: must be a number, got {value}"))?;
            let above = if exclusive { n > min } else { n >= min };
            if !above || n > max || (whole && n.fract() != 0.0) {
                let low = if exclusive {
                    format!("above {min}")
                } else {
                    format!("at least {min}")
                };
                let kind = if whole { "a whole number " } else { "" };
                return Err(format!(
                    "param {name}: must be {kind}{low} and at most {max}, got {value}"
                ));
            }
        }
        if let Some(value) = params.get("every")
            && !value.as_str().is_some_and(every_fits)
        {
            return Err(format!(
                "param every: must be a duration like \"10s\" of at most 365d, got {value}"
            ));
        }
        let text = |value: Option<serde_json::Value>, name: &str| -> Result<Option<String>, String> {
            match value {
                None => Ok(None),
                Some(serde_json::Value::String(s)) => Ok(Some(s)),
                Some(other) => Err(format!("param {name}: must be text, got {other}")),
            }
        };
        let exchange = match text(params.take("exchange"), "exchange")? {
            Some(name) if context.exchanges.contains(&name) => name,
            Some(name) => {
                return Err(format!(
                    "exchange '{name}' is not one the desk trades on ({})",
                    context.exchanges.join(", ")
                ));
            }
            None => context
                .exchanges
                .first()
                .cloned()
                .ok_or_else(|| "the desk trades on no exchange".to_owned())?,
        };
        let symbol = |text: &str| -> Result<Symbol, String> {
            if !context.symbols.iter().any(|s| s == text) {
                return Err(format!(
                    "symbol '{text}' is not one the desk knows ({})",
                    context.symbols.join(", ")
                ));
            }
            Symbol::parse(text).map_err(|e| e.to_string())
        };
        let symbols = if pair {
            match params.take("symbols") {
                None => vec![symbol("BTC-USD")?, symbol("ETH-USD")?],
                Some(serde_json::Value::Array(list)) => {
                    let list = list
                        .iter()
                        .map(|v| match v {
                            serde_json::Value::String(s) => symbol(s),
                            other => Err(format!("param symbols: must be text, got {other}")),
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    if list.len() != 2 || list[0] == list[1] {
                        return Err("param symbols: two different symbols".to_owned());
                    }
                    list
                }
                Some(other) => return Err(format!("param symbols: must be a list, got {other}")),
            }
        } else {
            vec![symbol(
                &text(params.take("symbol"), "symbol")?.unwrap_or_else(|| "BTC-USD".to_owned()),
            )?]
        };
        let max_position = params.positive("max_position", CHAOS_LIMIT)?;
        let max_order_size = params.positive("max_order_size", CHAOS_LIMIT)?;
        params.take("max_position");
        params.take("max_order_size");
        let config = StrategyConfig {
            name: kind.to_owned(),
            kind: strategy_kind,
            exchanges: vec![exchange],
            symbols,
            params,
            max_position,
            max_order_size,
            enabled: true,
        };
        strategy::build(&config, 0)?;
        Ok(TradingFault { config })
    }
}

impl FaultKind for TradingFault {
    type Context = FaultContext;

    const KINDS: &'static [&'static str] = &[
        "runaway",
        "risk_ignorant",
        "volatility_amplifier",
        "correlation_breaker",
        "slow_leak",
    ];

    fn parse(kind: &str, raw: &serde_json::Value, context: &FaultContext) -> Result<Self, String> {
        Self::parse_kind(kind, raw, context).map_err(|e| format!("{kind}: {e}"))
    }

    fn params_schema(kind: &str, context: &FaultContext) -> serde_json::Value {
        use serde_json::{Map, json};
        let Some(strategy_kind) = StrategyKind::parse(kind) else {
            return tse_runtime::openapi::no_params();
        };
        let mut properties = Map::new();
        properties.insert(
            "exchange".into(),
            json!({"type": "string", "enum": context.exchanges, "description": "default: the desk's first exchange"}),
        );
        let symbol = json!({"type": "string", "enum": context.symbols});
        if strategy_kind == StrategyKind::CorrelationBreaker {
            properties.insert(
                "symbols".into(),
                json!({"type": "array", "items": symbol, "minItems": 2, "maxItems": 2, "uniqueItems": true,
                    "description": "default: BTC-USD and ETH-USD"}),
            );
        } else {
            properties.insert(
                "symbol".into(),
                json!({"type": "string", "enum": context.symbols, "description": "default: BTC-USD"}),
            );
        }
        for (name, min, exclusive, max, whole) in bounds(strategy_kind) {
            let mut schema = json!({"type": if whole { "integer" } else { "number" }, "maximum": max});
            schema[if exclusive { "exclusiveMinimum" } else { "minimum" }] = json!(min);
            properties.insert(name.into(), schema);
        }
        for word in words(strategy_kind) {
            let schema = match *word {
                "side" => tse_runtime::openapi::names_any_case(&["buy", "sell"]),
                _ => json!({"type": "string",
                    "pattern": "^([1-9][0-9]{0,9}ms|[1-9][0-9]{0,6}s|[1-9][0-9]{0,4}m|[1-9][0-9]{0,2}h|([1-9]|[1-9][0-9]|[1-2][0-9]{2}|3[0-5][0-9]|36[0-5])d)$",
                    "description": "simulated time between actions", "examples": ["5s"]}),
            };
            properties.insert((*word).into(), schema);
        }
        json!({"type": "object", "additionalProperties": false, "properties": properties})
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn context() -> FaultContext {
        FaultContext {
            exchanges: vec!["exchange-A".into(), "exchange-B".into()],
            symbols: DEFAULT_SYMBOLS.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    fn parse(kind: &str, params: serde_json::Value) -> Result<TradingFault, String> {
        TradingFault::parse(kind, &params, &context())
    }

    #[test]
    fn a_fault_names_its_strategy_and_fills_in_defaults() {
        let f = parse("runaway", json!({"rate": 100})).unwrap();
        assert_eq!(f.config.name, "runaway");
        assert_eq!(f.config.exchanges, ["exchange-A"]);
        assert_eq!(f.config.symbols, [Symbol::parse("BTC-USD").unwrap()]);
        let pair = parse("correlation_breaker", json!({"exchange": "exchange-B"})).unwrap();
        assert_eq!(pair.config.symbols.len(), 2);
        assert_eq!(pair.config.exchanges, ["exchange-B"]);
        assert!(
            parse(
                "risk_ignorant",
                json!({"side": "SELL", "every": "365d", "max_position": 5})
            )
            .is_ok()
        );
    }

    #[test]
    fn bad_params_are_refused_in_one_line() {
        let bad = |kind: &str, params| parse(kind, params).unwrap_err();
        assert!(bad("runaway", json!({"exchange": "exchange-Z"})).contains("not one the desk trades on"));
        assert!(bad("runaway", json!({"symbol": "DOGE-USD"})).contains("not one the desk knows"));
        assert!(bad("runaway", json!({"symbol": "btc-usd"})).contains("not one the desk knows"));
        assert!(bad("runaway", json!({"rate": 0})).contains("at least 0.000001"));
        assert!(bad("runaway", json!({"rate": "5"})).contains("must be a number"));
        assert!(bad("runaway", json!({"burst": 1.5})).contains("whole number"));
        assert!(bad("runaway", json!({"symbols": ["BTC-USD"]})).contains("unknown param 'symbols'"));
        assert!(bad("slow_leak", json!({"every": "366d"})).contains("at most 365d"));
        assert!(bad("slow_leak", json!({"every": "0s"})).contains("every"));
        assert!(
            bad("correlation_breaker", json!({"symbols": ["BTC-USD", "BTC-USD"]})).contains("two different")
        );
        assert!(bad("correlation_breaker", json!({"symbol": "BTC-USD"})).contains("unknown param 'symbol'"));
        assert!(bad("market_making", json!({})).contains("unknown fault kind"));
        assert!(bad("runaway", json!([1])).contains("params must be a table"));
    }

    #[test]
    fn durations_fit_the_schema_pattern() {
        for ok in ["1ms", "9999999999ms", "5s", "99999m", "999h", "365d", "36d"] {
            assert!(every_fits(ok), "{ok}");
        }
        for bad in ["0s", "05s", "366d", "1000h", "10", "s", "1w", "1.5s"] {
            assert!(!every_fits(bad), "{bad}");
        }
    }
}
