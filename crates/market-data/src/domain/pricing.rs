//! From the legs' true prices to the prices an instance publishes at one instant: lasting levels,
//! active faults, rounding to the tick size, crosses as the ratio of their published legs, frozen
//! symbols. Pure: the same inputs always publish the same prices.

use std::{
    collections::{BTreeMap, BTreeSet},
    time::Duration,
};

use rust_decimal::Decimal;
use time::OffsetDateTime;

use super::{
    faults::MarketFault,
    symbol::{Process, Symbol, SymbolSpec},
};

/// A fault in effect, as pricing needs it.
#[derive(Clone, Copy, Debug)]
pub struct ActiveFault<'a> {
    /// What it does.
    pub fault: &'a MarketFault,
    /// When it started.
    pub started: OffsetDateTime,
    /// Its requested duration (the ramp of shocks and depegs).
    pub duration: Option<Duration>,
}

/// One published price and what shaped it.
#[derive(Clone, Debug, PartialEq)]
pub struct Priced {
    /// The symbol.
    pub symbol: Symbol,
    /// What is published.
    pub price: Decimal,
    /// What would be published without the active faults.
    pub undisturbed: Decimal,
    /// Positions (in the `faults` given to [`price`]) of the faults that shaped this price.
    pub shaped_by: BTreeSet<usize>,
}

/// Rounds a positive price to a multiple of `tick`, at least one tick.
pub fn to_tick(value: f64, tick: Decimal) -> Decimal {
    let tick_f: f64 = tick.try_into().unwrap_or(0.01);
    let ticks = (value / tick_f).round();
    let ticks = if ticks.is_finite() && ticks >= 1.0 {
        Decimal::try_from(ticks).unwrap_or(Decimal::ONE)
    } else {
        Decimal::ONE
    };
    (ticks * tick).normalize_to(tick)
}

/// Rounds an exact ratio to a multiple of `tick`, at least one tick.
fn ratio_to_tick(numerator: Decimal, denominator: Decimal, tick: Decimal) -> Decimal {
    let ticks = numerator
        .checked_div(denominator)
        .and_then(|q| q.checked_div(tick))
        .map_or(Decimal::ONE, |t| t.round().max(Decimal::ONE));
    (ticks * tick).normalize_to(tick)
}

trait NormalizeTo {
    fn normalize_to(self, tick: Decimal) -> Decimal;
}

impl NormalizeTo for Decimal {
    /// Shows exactly the tick's decimals (`97000.10`, not `97000.1000`).
    fn normalize_to(mut self, tick: Decimal) -> Decimal {
        self.rescale(tick.scale());
        self
    }
}

/// Prices every symbol of `specs` at `at`.
///
/// `legs` are the legs' true prices, `levels` the lasting factors left by finished shocks and
/// depegs. `frozen` holds the price each frozen symbol sticks to: a symbol a stale-feed fault starts
/// freezing is frozen at its `last` published price (or at this price, if never published); a symbol
/// no longer frozen is released.
pub fn price(
    specs: &[SymbolSpec],
    legs: &BTreeMap<Symbol, f64>,
    levels: &BTreeMap<Symbol, f64>,
    faults: &[ActiveFault<'_>],
    last: &BTreeMap<Symbol, Decimal>,
    frozen: &mut BTreeMap<Symbol, Decimal>,
    at: OffsetDateTime,
) -> Vec<Priced> {
    let mut priced: BTreeMap<&Symbol, Priced> = BTreeMap::new();
    for spec in specs.iter().filter(|s| !s.is_cross()) {
        let level = levels.get(&spec.symbol).copied().unwrap_or(1.0);
        let base = legs.get(&spec.symbol).copied().unwrap_or(0.0) * level;
        let mut factor = 1.0;
        let mut shaped_by = BTreeSet::new();
        for (i, active) in faults.iter().enumerate() {
            if let Some(f) = active
                .fault
                .leg_factor(&spec.symbol, active.started, active.duration, at)
            {
                factor *= f;
                shaped_by.insert(i);
            }
        }
        priced.insert(
            &spec.symbol,
            Priced {
                symbol: spec.symbol.clone(),
                price: to_tick(base * factor, spec.tick_size),
                undisturbed: to_tick(base, spec.tick_size),
                shaped_by,
            },
        );
    }
    // Stale legs stick to their frozen price, and crosses are computed from the legs as published.
    let freezing: Vec<(usize, &MarketFault)> = faults.iter().map(|a| a.fault).enumerate().collect();
    let mut freeze = |quote: &mut Priced| {
        let stale: Vec<usize> = freezing
            .iter()
            .filter(|(_, f)| f.freezes(&quote.symbol))
            .map(|(i, _)| *i)
            .collect();
        if stale.is_empty() {
            frozen.remove(&quote.symbol);
            return;
        }
        let held = *frozen
            .entry(quote.symbol.clone())
            .or_insert_with(|| last.get(&quote.symbol).copied().unwrap_or(quote.price));
        quote.price = held;
        quote.shaped_by.extend(stale);
    };
    for quote in priced.values_mut() {
        freeze(quote);
    }
    let mut out = Vec::with_capacity(specs.len());
    for spec in specs {
        let quote = match &spec.process {
            Process::Cross {
                numerator,
                denominator,
            } => {
                let (Some(n), Some(d)) = (priced.get(numerator), priced.get(denominator)) else {
                    continue;
                };
                let mut quote = Priced {
                    symbol: spec.symbol.clone(),
                    price: ratio_to_tick(n.price, d.price, spec.tick_size),
                    undisturbed: ratio_to_tick(n.undisturbed, d.undisturbed, spec.tick_size),
                    shaped_by: n.shaped_by.union(&d.shaped_by).copied().collect(),
                };
                freeze(&mut quote);
                quote
            }
            _ => match priced.get(&spec.symbol) {
                Some(quote) => quote.clone(),
                None => continue,
            },
        };
        out.push(quote);
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use tse_runtime::faults::FaultKind;

    use super::*;
    use crate::domain::symbol::default_symbols;

    fn sym(s: &str) -> Symbol {
        Symbol::parse(s).unwrap()
    }

    fn legs() -> BTreeMap<Symbol, f64> {
        [
            ("BTC-USD", 97_000.123),
            ("ETH-USD", 3_600.456),
            ("USDT-USD", 0.99994),
        ]
        .into_iter()
        .map(|(s, p)| (sym(s), p))
        .collect()
    }

    fn at(secs: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(secs).unwrap()
    }

    fn find<'a>(quotes: &'a [Priced], s: &str) -> &'a Priced {
        quotes.iter().find(|q| q.symbol.as_str() == s).unwrap()
    }

    #[test]
    fn prices_round_to_the_tick_and_crosses_follow_their_legs() {
        let quotes = price(
            &default_symbols(),
            &legs(),
            &BTreeMap::new(),
            &[],
            &BTreeMap::new(),
            &mut BTreeMap::new(),
            at(0),
        );
        assert_eq!(find(&quotes, "BTC-USD").price.to_string(), "97000.12");
        assert_eq!(find(&quotes, "USDT-USD").price.to_string(), "0.9999");
        // 97000.12 / 3600.46 = 26.941040... → 0.00001 ticks
        assert_eq!(find(&quotes, "BTC-ETH").price.to_string(), "26.94104");
        assert_eq!(find(&quotes, "BTC-USDT").price.to_string(), "97009.82");
        assert!(
            quotes
                .iter()
                .all(|q| q.price == q.undisturbed && q.shaped_by.is_empty())
        );
    }

    #[test]
    fn a_shock_moves_its_leg_and_every_cross_of_it() {
        let specs = default_symbols();
        let shock = MarketFault::parse(
            "price_shock",
            &json!({"symbol": "BTC-USD", "percent": -10}),
            &specs.clone().into(),
        )
        .unwrap();
        let active = [ActiveFault {
            fault: &shock,
            started: at(0),
            duration: None,
        }];
        let quotes = price(
            &specs,
            &legs(),
            &BTreeMap::new(),
            &active,
            &BTreeMap::new(),
            &mut BTreeMap::new(),
            at(1),
        );
        let btc = find(&quotes, "BTC-USD");
        assert_eq!(btc.price.to_string(), "87300.11");
        assert_eq!(btc.undisturbed.to_string(), "97000.12");
        assert!(find(&quotes, "BTC-ETH").shaped_by.contains(&0));
        assert!(find(&quotes, "ETH-USD").shaped_by.is_empty());
    }

    #[test]
    fn a_stale_feed_holds_the_last_published_price_until_released() {
        let specs = default_symbols();
        let stale = MarketFault::parse(
            "stale_feed",
            &json!({"symbols": ["BTC-USD"]}),
            &specs.clone().into(),
        )
        .unwrap();
        let active = [ActiveFault {
            fault: &stale,
            started: at(0),
            duration: None,
        }];
        let last: BTreeMap<Symbol, Decimal> = [(sym("BTC-USD"), Decimal::new(9_500_000, 2))].into();
        let mut frozen = BTreeMap::new();
        let quotes = price(
            &specs,
            &legs(),
            &BTreeMap::new(),
            &active,
            &last,
            &mut frozen,
            at(1),
        );
        assert_eq!(find(&quotes, "BTC-USD").price.to_string(), "95000.00");
        // 95000.00 / 3600.46: the cross is the ratio of what is published.
        assert_eq!(find(&quotes, "BTC-ETH").price.to_string(), "26.38552");
        let quotes = price(&specs, &legs(), &BTreeMap::new(), &[], &last, &mut frozen, at(2));
        assert_eq!(find(&quotes, "BTC-USD").price.to_string(), "97000.12");
        assert!(frozen.is_empty());
    }
}
