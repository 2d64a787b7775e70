//! The custodian's back doors (README, *Simulated time, seeds and back doors*), injected through `/chaos/v1/faults`.
//!
//! | kind | params | effect |
//! |---|---|---|
//! | `settlement_delay` | `delay` (simulated time, e.g. `"6h"`), optional `types` (`trade`, `net`, `exchange_pnl`; default all) | settlements of those types that fall due are held until `delay` after their due time (a `settlement.delayed` event, caused by the injection, says so once per settlement) |
//! | `reject_transfers` | optional `fraction` (0–1, default 1) | that share of transfers and withdrawals is refused: 422 `transfer_rejected` (a `custody.transfer_rejected` event) |
//! | `offline` | none | the production API answers 503 / UNAVAILABLE; no settlement pass runs and no exchange P&L is collected, so due settlements wait |
//! | `partial_settlement` | optional `fraction` (0–1, default 0.5), optional `types` | a settlement of those types that falls due settles `fraction` of each leg and stays `PENDING`; the rest settles once the fault is gone |

use std::time::Duration;

use serde::Deserialize;
use tse_runtime::{config::parse_duration, faults::FaultKind};

use super::settlement::Kind;

/// A fault the custodian knows.
#[derive(Clone, Debug, PartialEq)]
pub enum CustodianFault {
    /// Due settlements wait longer.
    SettlementDelay {
        /// Added simulated time after the due time.
        delay: Duration,
        /// Settlement types held (`Kind::label`); empty: all.
        types: Vec<&'static str>,
    },
    /// Transfers and withdrawals are refused.
    RejectTransfers {
        /// Share refused.
        fraction: f64,
    },
    /// The production API and the settlement passes are down.
    Offline,
    /// Due settlements settle only in part.
    PartialSettlement {
        /// Share of each leg settled.
        fraction: f64,
        /// Settlement types affected; empty: all.
        types: Vec<&'static str>,
    },
}

impl CustodianFault {
    /// Returns whether the fault concerns settlements of `kind`.
    pub fn covers(&self, kind: &Kind) -> bool {
        match self {
            CustodianFault::SettlementDelay { types, .. }
            | CustodianFault::PartialSettlement { types, .. } => {
                types.is_empty() || types.contains(&kind.label())
            }
            CustodianFault::RejectTransfers { .. } | CustodianFault::Offline => false,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DelayParams {
    delay: String,
    types: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RejectParams {
    fraction: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PartialParams {
    fraction: Option<f64>,
    types: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoParams {}

fn params<T: serde::de::DeserializeOwned>(kind: &str, raw: &serde_json::Value) -> Result<T, String> {
    serde_json::from_value(raw.clone()).map_err(|e| format!("{kind} params: {e}"))
}

fn types(kind: &str, names: Option<Vec<String>>) -> Result<Vec<&'static str>, String> {
    names
        .unwrap_or_default()
        .iter()
        .map(|n| {
            Kind::parse_label(n).ok_or_else(|| {
                format!("{kind}: unknown settlement type '{n}'; use trade, net or exchange_pnl")
            })
        })
        .collect()
}

fn fraction(kind: &str, value: Option<f64>, default: f64, closed: bool) -> Result<f64, String> {
    let f = value.unwrap_or(default);
    let fits = if closed {
        f > 0.0 && f <= 1.0
    } else {
        f > 0.0 && f < 1.0
    };
    if fits {
        Ok(f)
    } else {
        let range = if closed { "(0, 1]" } else { "(0, 1)" };
        Err(format!("{kind}: fraction must be in {range}, got {f}"))
    }
}

impl FaultKind for CustodianFault {
    type Context = ();

    const KINDS: &'static [&'static str] = &[
        "settlement_delay",
        "reject_transfers",
        "offline",
        "partial_settlement",
    ];

    fn parse(kind: &str, raw: &serde_json::Value, (): &()) -> Result<Self, String> {
        match kind {
            "settlement_delay" => {
                let p: DelayParams = params(kind, raw)?;
                let delay = parse_duration(&p.delay).map_err(|e| format!("settlement_delay: delay: {e}"))?;
                if delay.is_zero() || delay > Duration::from_secs(3_650 * 86_400) {
                    return Err("settlement_delay: delay must be positive and at most 3650d".into());
                }
                Ok(CustodianFault::SettlementDelay {
                    delay,
                    types: types(kind, p.types)?,
                })
            }
            "reject_transfers" => {
                let p: RejectParams = params(kind, raw)?;
                Ok(CustodianFault::RejectTransfers {
                    fraction: fraction(kind, p.fraction, 1.0, true)?,
                })
            }
            "offline" => {
                let _: NoParams = params(kind, raw)?;
                Ok(CustodianFault::Offline)
            }
            "partial_settlement" => {
                let p: PartialParams = params(kind, raw)?;
                Ok(CustodianFault::PartialSettlement {
                    fraction: fraction(kind, p.fraction, 0.5, false)?,
                    types: types(kind, p.types)?,
                })
            }
            other => Err(format!("unknown fault kind '{other}'")),
        }
    }

    fn params_schema(kind: &str, (): &()) -> serde_json::Value {
        use serde_json::json;
        use tse_runtime::openapi::{duration, names_any_case, no_params};
        let types = json!({"type": ["array", "null"], "items": names_any_case(&["trade", "net", "exchange_pnl"]),
            "description": "settlement types; omitted or empty: all"});
        let object = |required: &[&str], properties: serde_json::Value| json!({"type": "object", "required": required, "additionalProperties": false, "properties": properties});
        match kind {
            "settlement_delay" => object(&["delay"], json!({"delay": duration(), "types": types})),
            "reject_transfers" => object(
                &[],
                json!({"fraction": {"type": ["number", "null"],
                "exclusiveMinimum": 0, "maximum": 1, "description": "default 1"}}),
            ),
            "partial_settlement" => object(
                &[],
                json!({"fraction": {"type": ["number", "null"],
                "exclusiveMinimum": 0, "exclusiveMaximum": 1, "description": "default 0.5"}, "types": types}),
            ),
            _ => no_params(),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(kind: &str, params: serde_json::Value) -> Result<CustodianFault, String> {
        CustodianFault::parse(kind, &params, &())
    }

    #[test]
    fn faults_parse_and_validate() {
        assert_eq!(
            parse("settlement_delay", json!({"delay": "6h", "types": ["TRADE"]})).unwrap(),
            CustodianFault::SettlementDelay {
                delay: Duration::from_secs(6 * 3600),
                types: vec!["trade"]
            }
        );
        assert_eq!(
            parse("reject_transfers", json!({})).unwrap(),
            CustodianFault::RejectTransfers { fraction: 1.0 }
        );
        assert_eq!(
            parse("partial_settlement", json!({})).unwrap(),
            CustodianFault::PartialSettlement {
                fraction: 0.5,
                types: vec![]
            }
        );
        assert!(
            parse("partial_settlement", json!({"fraction": 1.0}))
                .unwrap_err()
                .contains("(0, 1)")
        );
        assert!(
            parse("settlement_delay", json!({"delay": "1h", "types": ["swap"]}))
                .unwrap_err()
                .contains("unknown settlement type 'swap'")
        );
        assert!(
            parse("settlement_delay", json!({}))
                .unwrap_err()
                .contains("delay")
        );
        assert!(
            parse("offline", json!({"x": 1}))
                .unwrap_err()
                .contains("unknown field")
        );
        assert!(
            parse("meltdown", json!({}))
                .unwrap_err()
                .contains("unknown fault kind")
        );
    }
}
