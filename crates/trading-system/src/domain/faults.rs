//! The desk's back door (README, *Trading system*): each fault kind starts the chaos strategy of the
//! same name for the fault's duration, with the fault's params.
//!
//! | kind | params (all optional) |
//! |---|---|
//! | `runaway` | `exchange`, `symbol`, `rate` (orders per simulated second), `size`, ... |
//! | `risk_ignorant` | `exchange`, `symbol`, `side`, `size`, `every` |
//! | `volatility_amplifier` | `exchange`, `symbol`, `size`, `threshold_bps` |
//! | `correlation_breaker` | `exchange`, `symbols` (two, default `BTC-USD`, `ETH-USD`), `size`, `every` |
//! | `slow_leak` | `exchange`, `symbol`, `size`, `every` |
//!
//! Besides `exchange` (default: the desk's first exchange), `symbol` / `symbols` (default
//! `BTC-USD`), `max_position` and `max_order_size`, every param goes to the strategy, which
//! validates it (`crate::domain::strategy`). The strategy is named after the kind, so at most one
//! of each runs; its orders' events name the fault's injection as their cause.

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

/// What faults are checked against: the exchanges the desk trades on.
#[derive(Clone, Debug, Default)]
pub struct FaultContext {
    /// The desk's exchanges, in settings order.
    pub exchanges: Vec<String>,
}

/// Largest position and order size a chaos strategy gets unless its params say (it misbehaves).
const CHAOS_LIMIT: Decimal = Decimal::from_parts(1_000_000, 0, 0, false, 0);

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
        let strategy_kind = StrategyKind::parse(kind)
            .filter(|k| k.is_chaos())
            .ok_or_else(|| format!("unknown fault kind '{kind}'"))?;
        let mut params = Params::from_json(raw).map_err(|e| format!("{kind}: {e}"))?;
        let mut take = |name: &str| params.take(name);
        let text = |value: Option<serde_json::Value>, name: &str| -> Result<Option<String>, String> {
            match value {
                None => Ok(None),
                Some(serde_json::Value::String(s)) => Ok(Some(s)),
                Some(other) => Err(format!("{kind}: {name} must be text, got {other}")),
            }
        };
        let exchange = match text(take("exchange"), "exchange")? {
            Some(name) => {
                let name = name.trim().to_owned();
                if !context.exchanges.contains(&name) {
                    return Err(format!(
                        "{kind}: exchange '{name}' is not one the desk trades on ({})",
                        context.exchanges.join(", ")
                    ));
                }
                name
            }
            None => context
                .exchanges
                .first()
                .cloned()
                .ok_or_else(|| format!("{kind}: the desk trades on no exchange"))?,
        };
        let symbol = |text: &str| Symbol::parse(text).map_err(|e| format!("{kind}: {e}"));
        let single = text(take("symbol"), "symbol")?;
        let symbols = match (take("symbols"), single) {
            (Some(_), Some(_)) => return Err(format!("{kind}: give symbol or symbols, not both")),
            (None, Some(one)) => vec![symbol(&one)?],
            (Some(serde_json::Value::Array(list)), None) => list
                .iter()
                .map(|v| match v {
                    serde_json::Value::String(s) => symbol(s),
                    other => Err(format!("{kind}: symbols must be text, got {other}")),
                })
                .collect::<Result<_, _>>()?,
            (Some(other), None) => return Err(format!("{kind}: symbols must be a list, got {other}")),
            (None, None) if strategy_kind == StrategyKind::CorrelationBreaker => {
                vec![symbol("BTC-USD")?, symbol("ETH-USD")?]
            }
            (None, None) => vec![symbol("BTC-USD")?],
        };
        let limit = |value: Option<serde_json::Value>, name: &str| -> Result<Decimal, String> {
            let mut p = Params::default();
            if let Some(v) = value {
                p.set(name, v);
            }
            p.positive(name, CHAOS_LIMIT).map_err(|e| format!("{kind}: {e}"))
        };
        let max_position = limit(take("max_position"), "max_position")?;
        let max_order_size = limit(take("max_order_size"), "max_order_size")?;
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

    fn params_schema(kind: &str, context: &FaultContext) -> serde_json::Value {
        use serde_json::json;
        let _ = kind;
        json!({
            "type": "object",
            "description": "exchange, symbol or symbols, max_position, max_order_size; every other param goes to the strategy",
            "properties": {
                "exchange": {"type": "string", "enum": context.exchanges},
                "symbol": {"type": "string", "examples": ["BTC-USD"]},
                "symbols": {"type": "array", "items": {"type": "string"}},
                "max_position": {"type": ["string", "number"]},
                "max_order_size": {"type": ["string", "number"]},
                "rate": {"type": ["string", "number"], "description": "runaway: orders per simulated second"},
                "size": {"type": ["string", "number"], "description": "quantity per order, base asset"},
            },
            "additionalProperties": true,
        })
    }
}
