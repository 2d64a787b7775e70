//! `[instance.settings]` of an exchange instance, validated before anything starts.
//!
//! ```toml
//! [instance.settings]
//! maker_fee = "0.0002"            # fraction of the traded value, paid in the quote asset
//! taker_fee = "0.0005"
//! market_data = "market-data-Coinmetrics"   # reference prices; default: the first market data instance found
//!
//! [instance.settings.liquidity]   # the built-in liquidity provider
//! enabled = true
//! levels = 5                      # price levels quoted on each side
//! spread_bps = 5                  # distance from the reference price to the first level
//! step_bps = 5                    # distance between levels
//! requote_bps = 2                 # reference move that makes it quote again
//! sizes = { BTC = "0.5", ETH = "5" }   # quantity per level, by base asset
//!
//! [[instance.settings.instruments]]   # replaces the default listing when given
//! symbol = "BTC-USD"
//! tick_size = "0.01"                # positive, at most 1000000
//! lot_size = "0.00001"
//! ```

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::Deserialize;
use tse_runtime::identity::InstanceName;

pub use crate::domain::liquidity::Liquidity;
use crate::domain::{
    instrument::{Instrument, default_instruments},
    venue::Fees,
};

/// Validated settings.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// Fee schedule.
    pub fees: Fees,
    /// Market data instance to follow; `None`: the first one registered.
    pub market_data: Option<InstanceName>,
    /// Listed instruments.
    pub instruments: Vec<Instrument>,
    /// Liquidity provider.
    pub liquidity: Liquidity,
}

/// A decimal as TOML lets it be written: `"0.0002"`, `0.0002` or `5`.
enum Number {
    Text(String),
    Integer(i64),
    Float(f64),
}

impl<'de> Deserialize<'de> for Number {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Number;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a decimal, as a number or as text like \"0.0002\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Number, E> {
                Ok(Number::Text(v.to_owned()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Number, E> {
                Ok(Number::Integer(v))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Number, E> {
                Ok(Number::Float(v))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

impl Number {
    /// The text the decimal is read from; a float prints as the shortest text that reads back as
    /// it, which is what was written (`0.0002`, not `0.000200000000000000001`).
    fn text(self) -> String {
        match self {
            Number::Text(t) => t,
            Number::Integer(i) => i.to_string(),
            Number::Float(f) => f.to_string(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    maker_fee: Option<Number>,
    taker_fee: Option<Number>,
    market_data: Option<String>,
    liquidity: Option<RawLiquidity>,
    instruments: Option<Vec<RawInstrument>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLiquidity {
    enabled: Option<bool>,
    levels: Option<u32>,
    spread_bps: Option<Number>,
    step_bps: Option<Number>,
    requote_bps: Option<Number>,
    sizes: Option<BTreeMap<String, Number>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInstrument {
    symbol: String,
    tick_size: Number,
    lot_size: Number,
}

fn decimal(name: &str, text: &str) -> Result<Decimal, String> {
    text.parse()
        .map_err(|_| format!("{name}: '{text}' is not a decimal"))
}

fn rate(name: &str, text: Option<Number>, default: Decimal) -> Result<Decimal, String> {
    let rate = text.map_or(Ok(default), |t| decimal(name, &t.text()))?;
    if rate < Decimal::ZERO || rate >= Decimal::new(1, 1) {
        return Err(format!("{name} must be between 0 and 0.1, got {rate}"));
    }
    Ok(rate)
}

fn bps(name: &str, text: Option<Number>, default: i64) -> Result<Decimal, String> {
    let value = text.map_or(Ok(Decimal::from(default)), |t| decimal(name, &t.text()))?;
    if value <= Decimal::ZERO || value > Decimal::from(10_000) {
        return Err(format!("{name} must be above 0 and at most 10000, got {value}"));
    }
    Ok(value)
}

/// Quantity per level by base asset when not configured.
fn default_sizes() -> BTreeMap<String, Decimal> {
    [
        ("BTC", Decimal::new(5, 1)),
        ("ETH", Decimal::new(5, 0)),
        ("USDT", Decimal::new(25_000, 0)),
    ]
    .into_iter()
    .map(|(a, s)| (a.to_owned(), s))
    .collect()
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
        let fees = Fees {
            maker: rate("maker_fee", raw.maker_fee, Decimal::new(2, 4))?,
            taker: rate("taker_fee", raw.taker_fee, Decimal::new(5, 4))?,
        };
        let market_data = raw
            .market_data
            .map(|name| InstanceName::parse(&name).map_err(|e| format!("market_data: {e}")))
            .transpose()?;
        let instruments = match raw.instruments {
            None => default_instruments(),
            Some(list) if list.is_empty() => return Err("instruments: list at least one".into()),
            Some(list) => {
                let mut out: Vec<Instrument> = Vec::new();
                for r in list {
                    let instrument = Instrument::new(
                        &r.symbol,
                        decimal(&format!("{} tick_size", r.symbol), &r.tick_size.text())?,
                        decimal(&format!("{} lot_size", r.symbol), &r.lot_size.text())?,
                    )?;
                    if out.iter().any(|i| i.symbol == instrument.symbol) {
                        return Err(format!("instruments: {} is listed twice", instrument.symbol));
                    }
                    out.push(instrument);
                }
                out
            }
        };
        let raw_liquidity = raw.liquidity.unwrap_or(RawLiquidity {
            enabled: None,
            levels: None,
            spread_bps: None,
            step_bps: None,
            requote_bps: None,
            sizes: None,
        });
        let mut sizes = default_sizes();
        for (asset, number) in raw_liquidity.sizes.unwrap_or_default() {
            let size = decimal(&format!("liquidity sizes {asset}"), &number.text())?;
            if size <= Decimal::ZERO {
                return Err(format!("liquidity sizes {asset} must be positive"));
            }
            sizes.insert(asset.to_ascii_uppercase(), size);
        }
        let levels = raw_liquidity.levels.unwrap_or(5);
        if !(1..=50).contains(&levels) {
            return Err(format!("liquidity levels must be between 1 and 50, got {levels}"));
        }
        Ok(Self {
            fees,
            market_data,
            instruments,
            liquidity: Liquidity {
                enabled: raw_liquidity.enabled.unwrap_or(true),
                levels,
                spread_bps: bps("liquidity spread_bps", raw_liquidity.spread_bps, 5)?,
                step_bps: bps("liquidity step_bps", raw_liquidity.step_bps, 5)?,
                requote_bps: bps("liquidity requote_bps", raw_liquidity.requote_bps, 2)?,
                sizes,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Settings, String> {
        Settings::parse(&text.parse::<toml::Table>().unwrap())
    }

    #[test]
    fn defaults_list_the_market_data_pairs_with_a_liquidity_provider() {
        let s = parse("").unwrap();
        assert_eq!(s.instruments, default_instruments());
        assert_eq!(
            s.fees,
            Fees {
                maker: Decimal::new(2, 4),
                taker: Decimal::new(5, 4)
            }
        );
        assert!(s.liquidity.enabled);
        assert_eq!(s.liquidity.levels, 5);
        assert_eq!(s.liquidity.size("BTC"), Decimal::new(5, 1));
        assert_eq!(s.market_data, None);
    }

    #[test]
    fn settings_are_validated() {
        let err = |t| parse(t).unwrap_err();
        assert!(err("maker_fee = \"0.5\"").contains("between 0 and 0.1"));
        assert!(err("market_data = \"md_1\"").contains("market_data"));
        assert!(err("[liquidity]\nlevels = 0").contains("between 1 and 50"));
        assert!(err("[liquidity]\nspread_bps = \"-1\"").contains("above 0"));
        assert!(
            err("[[instruments]]\nsymbol = \"X\"\ntick_size = \"1\"\nlot_size = \"1\"")
                .contains("not a symbol")
        );
        assert!(err("fees = 1").contains("unknown field"));
        let custom = parse("[liquidity]\nsizes = { btc = \"2\" }\n[[instruments]]\nsymbol = \"BTC-EUR\"\ntick_size = \"0.5\"\nlot_size = \"0.001\"").unwrap();
        assert_eq!(custom.instruments[0].quote, "EUR");
        assert_eq!(custom.liquidity.size("BTC"), Decimal::TWO);
    }

    #[test]
    fn decimals_may_be_written_as_numbers() {
        let s = parse(
            "maker_fee = 0.0001
taker_fee = 0
[liquidity]
spread_bps = 7.5
step_bps = 5
sizes = { ETH = 2.25 }",
        )
        .unwrap();
        assert_eq!(s.fees.maker, Decimal::new(1, 4));
        assert_eq!(s.fees.taker, Decimal::ZERO);
        assert_eq!(s.liquidity.spread_bps, Decimal::new(75, 1));
        assert_eq!(s.liquidity.step_bps, Decimal::from(5));
        assert_eq!(s.liquidity.size("ETH"), Decimal::new(225, 2));
        let refusal = parse("maker_fee = true").unwrap_err();
        assert!(refusal.contains("expected a decimal"), "{refusal}");
    }
}
