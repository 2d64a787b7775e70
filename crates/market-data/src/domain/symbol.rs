//! Symbols (`BTC-USD`) and what each one is: a spot leg driven by a price process, or a cross kept
//! equal to the ratio of two legs.

use std::fmt;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// A trading pair: `BASE-QUOTE`, each 2–10 upper-case ASCII letters or digits. Parsing accepts any
/// case and upper-cases it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Symbol(String);

impl TryFrom<String> for Symbol {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse(&text)
    }
}

impl From<Symbol> for String {
    fn from(symbol: Symbol) -> Self {
        symbol.0
    }
}

impl Symbol {
    /// Parses a symbol.
    ///
    /// # Errors
    /// Returns a message naming the rule broken.
    pub fn parse(text: &str) -> Result<Self, String> {
        let upper = text.trim().to_ascii_uppercase();
        let valid_part =
            |p: &str| (2..=10).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric());
        match upper.split_once('-') {
            Some((base, quote)) if valid_part(base) && valid_part(quote) && base != quote => Ok(Self(upper)),
            _ => Err(format!(
                "'{text}' is not a symbol: write BASE-QUOTE, e.g. BTC-USD (2 to 10 letters or digits each)"
            )),
        }
    }

    /// Returns the symbol text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Returns the base asset (`BTC` of `BTC-USD`).
    pub fn base(&self) -> &str {
        self.0.split_once('-').map_or("", |(b, _)| b)
    }

    /// Returns the quote asset (`USD` of `BTC-USD`).
    pub fn quote(&self) -> &str {
        self.0.split_once('-').map_or("", |(_, q)| q)
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Random jumps added to a geometric Brownian motion: a Poisson number of jumps per year, each a
/// normally distributed log-return.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Jumps {
    /// Expected jumps per year.
    pub intensity: f64,
    /// Mean log-return of a jump.
    pub mean: f64,
    /// Standard deviation of a jump's log-return.
    pub stdev: f64,
}

/// How a symbol's price moves.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "process", rename_all = "snake_case")]
pub enum Process {
    /// Geometric Brownian motion: annual drift and volatility, optional jumps.
    Gbm {
        /// Starting price.
        initial: f64,
        /// Annual drift of the log price.
        drift: f64,
        /// Annual volatility.
        volatility: f64,
        /// Optional jumps.
        jumps: Option<Jumps>,
    },
    /// Mean reversion of the log price around a peg (an Ornstein–Uhlenbeck process): stablecoins.
    MeanReverting {
        /// The peg.
        peg: f64,
        /// Reversion speed per year (higher: pulled back faster).
        reversion: f64,
        /// Annual volatility.
        volatility: f64,
    },
    /// The ratio of two legs: `BTC-ETH` = `BTC-USD` / `ETH-USD`.
    Cross {
        /// Numerator leg.
        numerator: Symbol,
        /// Denominator leg.
        denominator: Symbol,
    },
}

/// One configured symbol.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SymbolSpec {
    /// The symbol.
    pub symbol: Symbol,
    /// How it moves.
    #[serde(flatten)]
    pub process: Process,
    /// Price increment: every price is a multiple of it.
    pub tick_size: Decimal,
}

impl SymbolSpec {
    /// Returns whether the symbol is a cross of two legs.
    pub fn is_cross(&self) -> bool {
        matches!(self.process, Process::Cross { .. })
    }

    /// Returns whether the symbol is pegged (mean-reverting).
    pub fn is_pegged(&self) -> bool {
        matches!(self.process, Process::MeanReverting { .. })
    }
}

fn symbol(text: &str) -> Symbol {
    Symbol(text.to_owned())
}

/// The default symbols: three legs (two volatile coins with jumps, one stablecoin pegged
/// to the dollar) and three crosses kept consistent with them.
pub fn default_symbols() -> Vec<SymbolSpec> {
    let cross = |name: &str, numerator: &str, denominator: &str, tick: Decimal| SymbolSpec {
        symbol: symbol(name),
        process: Process::Cross {
            numerator: symbol(numerator),
            denominator: symbol(denominator),
        },
        tick_size: tick,
    };
    vec![
        SymbolSpec {
            symbol: symbol("BTC-USD"),
            process: Process::Gbm {
                initial: 97_000.0,
                drift: 0.0,
                volatility: 0.55,
                jumps: Some(Jumps {
                    intensity: 12.0,
                    mean: -0.01,
                    stdev: 0.03,
                }),
            },
            tick_size: Decimal::new(1, 2),
        },
        SymbolSpec {
            symbol: symbol("ETH-USD"),
            process: Process::Gbm {
                initial: 3_600.0,
                drift: 0.0,
                volatility: 0.70,
                jumps: Some(Jumps {
                    intensity: 12.0,
                    mean: -0.01,
                    stdev: 0.04,
                }),
            },
            tick_size: Decimal::new(1, 2),
        },
        SymbolSpec {
            symbol: symbol("USDT-USD"),
            process: Process::MeanReverting {
                peg: 1.0,
                reversion: 2_000.0,
                volatility: 0.01,
            },
            tick_size: Decimal::new(1, 4),
        },
        cross("BTC-ETH", "BTC-USD", "ETH-USD", Decimal::new(1, 5)),
        cross("ETH-USDT", "ETH-USD", "USDT-USD", Decimal::new(1, 2)),
        cross("BTC-USDT", "BTC-USD", "USDT-USD", Decimal::new(1, 2)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_parse_in_any_case_and_name_their_parts() {
        let s = Symbol::parse("btc-usd").unwrap();
        assert_eq!(s.as_str(), "BTC-USD");
        assert_eq!((s.base(), s.quote()), ("BTC", "USD"));
        for bad in ["BTCUSD", "B-USD", "BTC-", "BTC-USD-X", "BTC_USD", "USD-USD", ""] {
            assert!(Symbol::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_default_crosses_reference_default_legs() {
        let specs = default_symbols();
        let names: Vec<_> = specs.iter().map(|s| s.symbol.as_str()).collect();
        assert_eq!(
            names,
            [
                "BTC-USD", "ETH-USD", "USDT-USD", "BTC-ETH", "ETH-USDT", "BTC-USDT"
            ]
        );
        for spec in &specs {
            if let Process::Cross {
                numerator,
                denominator,
            } = &spec.process
            {
                assert!(names.contains(&numerator.as_str()) && names.contains(&denominator.as_str()));
                assert_eq!(spec.symbol.base(), numerator.base());
                assert_eq!(spec.symbol.quote(), denominator.base());
            }
        }
    }
}
