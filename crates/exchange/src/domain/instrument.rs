//! Tradable instruments: a symbol, its base and quote assets, and the tick and lot sizes that turn
//! decimal prices and quantities into the matching engine's integer ticks and lots.
//!
//! Increments are at most [`MAX_INCREMENT`], so the price of any tick count and the quantity of any
//! lot count the matching engine can hold are exact decimals: converting back never overflows.

use rust_decimal::Decimal;
use serde::Serialize;
use tse_market::Symbol;
use tse_matching::{Lots, Ticks};
use tse_runtime::money::{self, MAX_AMOUNT};

/// The largest tick or lot size (10^6): `i64::MAX` ticks or `u64::MAX` lots of it stay below
/// 2 × 10^25, well within an exact decimal.
pub const MAX_INCREMENT: Decimal = Decimal::from_parts(1_000_000, 0, 0, false, 0);

/// One instrument an exchange lists.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Instrument {
    /// `BASE-QUOTE`, e.g. `BTC-USD`.
    pub symbol: String,
    /// Asset bought and sold.
    pub base: String,
    /// Asset prices are quoted in (and fees are paid in).
    pub quote: String,
    /// Smallest price increment.
    pub tick_size: Decimal,
    /// Smallest quantity increment.
    pub lot_size: Decimal,
}

impl Instrument {
    /// An instrument `symbol` (`BASE-QUOTE`) with the given increments.
    ///
    /// # Errors
    /// Returns a message when the symbol is not `BASE-QUOTE` or an increment is not positive or
    /// above [`MAX_INCREMENT`].
    pub fn new(symbol: &str, tick_size: Decimal, lot_size: Decimal) -> Result<Self, String> {
        let parsed = Symbol::parse(symbol).map_err(|e| e.to_string())?;
        let (base, quote, upper) = (parsed.base(), parsed.quote(), parsed.to_string());
        if tick_size <= Decimal::ZERO || lot_size <= Decimal::ZERO {
            return Err(format!("{upper}: tick_size and lot_size must be positive"));
        }
        if tick_size > MAX_INCREMENT || lot_size > MAX_INCREMENT {
            return Err(format!(
                "{upper}: tick_size and lot_size must be at most {MAX_INCREMENT}"
            ));
        }
        Ok(Self {
            base: base.into(),
            quote: quote.into(),
            symbol: upper,
            tick_size: tick_size.normalize(),
            lot_size: lot_size.normalize(),
        })
    }

    /// Converts a price to ticks.
    ///
    /// # Errors
    /// Returns a message when the price is not positive, above [`MAX_AMOUNT`], has more decimals
    /// than the tick size, is not a multiple of it, or is more ticks than a book holds.
    pub fn ticks(&self, price: Decimal) -> Result<Ticks, String> {
        let ticks = self.increments("price", price, self.tick_size, "tick")?;
        i64::try_from(ticks)
            .map_err(|_| format!("price {price} is more ticks than {}'s book holds", self.symbol))
    }

    /// Converts a quantity to lots.
    ///
    /// # Errors
    /// Returns a message when the quantity is not positive, above [`MAX_AMOUNT`], has more
    /// decimals than the lot size, is not a multiple of it, or is more lots than a book holds.
    pub fn lots(&self, quantity: Decimal) -> Result<Lots, String> {
        let lots = self.increments("quantity", quantity, self.lot_size, "lot")?;
        u64::try_from(lots).map_err(|_| {
            format!(
                "quantity {quantity} is more lots than {}'s book holds",
                self.symbol
            )
        })
    }

    /// How many `increment`s `value` is: a whole number, or a message naming `what` and the rule.
    fn increments(
        &self,
        what: &str,
        value: Decimal,
        increment: Decimal,
        name: &str,
    ) -> Result<Decimal, String> {
        if value <= Decimal::ZERO {
            return Err(format!("{what} must be positive, got {value}"));
        }
        money::bounded(value).map_err(|e| format!("{what} {e}"))?;
        let (decimals, allowed) = (money::decimals(value), increment.scale());
        if decimals > allowed {
            return Err(format!(
                "{what} {value} has {decimals} decimals; {} takes at most {allowed} ({name} size {increment})",
                self.symbol
            ));
        }
        match value.checked_div(increment) {
            Some(count) if count.fract().is_zero() => Ok(count),
            Some(_) => Err(format!(
                "{what} {value} is not a multiple of {}'s {name} size {increment}",
                self.symbol
            )),
            None => Err(format!(
                "{what} {value} is more {name}s than {}'s book holds",
                self.symbol
            )),
        }
    }

    /// Returns the price of `ticks` (exact: see [`MAX_INCREMENT`]).
    pub fn price(&self, ticks: Ticks) -> Decimal {
        Decimal::from(ticks) * self.tick_size
    }

    /// Returns the quantity of `lots` (exact: see [`MAX_INCREMENT`]).
    pub fn quantity(&self, lots: Lots) -> Decimal {
        Decimal::from(lots) * self.lot_size
    }

    /// Returns the quote value of `lots` at `ticks`, or `None` when it is above [`MAX_AMOUNT`]
    /// (no order may be worth that much).
    pub fn notional(&self, ticks: Ticks, lots: Lots) -> Option<Decimal> {
        self.price(ticks)
            .checked_mul(self.quantity(lots))
            .filter(|n| *n <= MAX_AMOUNT)
    }
}

/// The instruments an exchange lists by default: every pair the default market data instance
/// publishes, so the liquidity provider has a reference price for each.
pub fn default_instruments() -> Vec<Instrument> {
    let d = |v: i64, scale: u32| Decimal::new(v, scale);
    [
        ("BTC-USD", d(1, 2), d(1, 5)),
        ("ETH-USD", d(1, 2), d(1, 4)),
        ("USDT-USD", d(1, 4), d(1, 2)),
        ("BTC-ETH", d(1, 5), d(1, 5)),
        ("ETH-USDT", d(1, 2), d(1, 4)),
        ("BTC-USDT", d(1, 2), d(1, 5)),
    ]
    .into_iter()
    .map(|(s, tick, lot)| Instrument::new(s, tick, lot).expect("valid default instrument"))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn btc() -> Instrument {
        Instrument::new("btc-usd", Decimal::new(1, 2), Decimal::new(1, 5)).unwrap()
    }

    #[test]
    fn prices_and_quantities_convert_exactly_or_are_refused() {
        let i = btc();
        assert_eq!(
            (i.symbol.as_str(), i.base.as_str(), i.quote.as_str()),
            ("BTC-USD", "BTC", "USD")
        );
        assert_eq!(i.ticks("97000.12".parse().unwrap()), Ok(9_700_012));
        assert_eq!(i.lots("0.015".parse().unwrap()), Ok(1_500));
        assert_eq!(
            i.ticks("97000.123".parse().unwrap()).unwrap_err(),
            "price 97000.123 has 3 decimals; BTC-USD takes at most 2 (tick size 0.01)"
        );
        assert_eq!(
            i.lots("0.000001".parse().unwrap()).unwrap_err(),
            "quantity 0.000001 has 6 decimals; BTC-USD takes at most 5 (lot size 0.00001)"
        );
        let coarse = Instrument::new("BTC-USD", Decimal::new(5, 1), Decimal::ONE).unwrap();
        assert!(
            coarse
                .ticks("1.2".parse().unwrap())
                .unwrap_err()
                .contains("not a multiple of BTC-USD's tick size 0.5")
        );
        assert!(i.ticks(Decimal::ZERO).unwrap_err().contains("positive"));
        assert!(i.lots("-1".parse().unwrap()).unwrap_err().contains("positive"));
        assert_eq!(i.price(9_700_012).to_string(), "97000.12");
        assert_eq!(i.notional(9_700_000, 1_500).unwrap().to_string(), "1455.0000000");
    }

    #[test]
    fn bad_instruments_are_refused() {
        assert!(Instrument::new("BTCUSD", Decimal::ONE, Decimal::ONE).is_err());
        assert!(Instrument::new("BTC-USD", Decimal::ZERO, Decimal::ONE).is_err());
        assert!(
            Instrument::new("BTC-USD", Decimal::ONE, MAX_INCREMENT + Decimal::ONE)
                .unwrap_err()
                .contains("at most 1000000")
        );
    }

    #[test]
    fn values_that_would_overflow_are_refused_not_panicked_on() {
        let i = btc();
        let max = Decimal::MAX.to_string();
        for (what, e) in [
            ("price", i.ticks(Decimal::MAX).unwrap_err()),
            ("quantity", i.lots(Decimal::MAX).unwrap_err()),
        ] {
            assert_eq!(
                e,
                format!("{what} {max} is beyond the largest amount handled (100000000000000000000)")
            );
        }
        // Within the bound, but more ticks or lots than the book counts.
        assert!(i.ticks(MAX_AMOUNT).unwrap_err().contains("more ticks"));
        assert!(i.lots(MAX_AMOUNT).unwrap_err().contains("more lots"));
        // A tiny increment: the division itself would overflow.
        let fine = Instrument::new("AB-CD", Decimal::new(1, 28), Decimal::new(1, 28)).unwrap();
        assert!(fine.ticks(MAX_AMOUNT).unwrap_err().contains("more ticks"));
        // 9e16 × 1e14 is beyond any notional.
        let (ticks, lots) = (
            i.ticks(d("90000000000000000")).unwrap(),
            i.lots(d("100000000000000")).unwrap(),
        );
        assert_eq!(i.notional(ticks, lots), None);
        assert_eq!(i.price(i64::MAX).to_string(), "92233720368547758.07");
        let coarse = Instrument::new("AB-CD", MAX_INCREMENT, MAX_INCREMENT).unwrap();
        assert!(coarse.quantity(u64::MAX) > Decimal::ZERO);
        assert!(coarse.price(i64::MAX) > Decimal::ZERO);
    }

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }
}
