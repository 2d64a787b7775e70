//! Tradable instruments: a symbol, its base and quote assets, and the tick and lot sizes that turn
//! decimal prices and quantities into the matching engine's integer ticks and lots.

use rust_decimal::Decimal;
use serde::Serialize;
use tse_matching::{Lots, Ticks};

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
    /// Returns a message when the symbol is not `BASE-QUOTE` or an increment is not positive.
    pub fn new(symbol: &str, tick_size: Decimal, lot_size: Decimal) -> Result<Self, String> {
        let upper = symbol.trim().to_ascii_uppercase();
        let valid = |p: &str| (2..=10).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric());
        let Some((base, quote)) = upper
            .split_once('-')
            .filter(|(b, q)| valid(b) && valid(q) && b != q)
        else {
            return Err(format!(
                "'{symbol}' is not a symbol: write BASE-QUOTE, e.g. BTC-USD"
            ));
        };
        if tick_size <= Decimal::ZERO || lot_size <= Decimal::ZERO {
            return Err(format!("{upper}: tick_size and lot_size must be positive"));
        }
        Ok(Self {
            base: base.to_owned(),
            quote: quote.to_owned(),
            symbol: upper,
            tick_size: tick_size.normalize(),
            lot_size: lot_size.normalize(),
        })
    }

    /// Converts a price to ticks.
    ///
    /// # Errors
    /// Returns a message when the price is not positive or not a multiple of the tick size.
    pub fn ticks(&self, price: Decimal) -> Result<Ticks, String> {
        if price <= Decimal::ZERO {
            return Err(format!("price must be positive, got {price}"));
        }
        let ticks = price / self.tick_size;
        if !ticks.fract().is_zero() {
            return Err(format!(
                "price {price} is not a multiple of {}'s tick size {}",
                self.symbol, self.tick_size
            ));
        }
        i64::try_from(ticks).map_err(|_| format!("price {price} is too large"))
    }

    /// Converts a quantity to lots.
    ///
    /// # Errors
    /// Returns a message when the quantity is not positive or not a multiple of the lot size.
    pub fn lots(&self, quantity: Decimal) -> Result<Lots, String> {
        if quantity <= Decimal::ZERO {
            return Err(format!("quantity must be positive, got {quantity}"));
        }
        let lots = quantity / self.lot_size;
        if !lots.fract().is_zero() {
            return Err(format!(
                "quantity {quantity} is not a multiple of {}'s lot size {}",
                self.symbol, self.lot_size
            ));
        }
        u64::try_from(lots).map_err(|_| format!("quantity {quantity} is too large"))
    }

    /// Returns the price of `ticks`.
    pub fn price(&self, ticks: Ticks) -> Decimal {
        Decimal::from(ticks) * self.tick_size
    }

    /// Returns the quantity of `lots`.
    pub fn quantity(&self, lots: Lots) -> Decimal {
        Decimal::from(lots) * self.lot_size
    }

    /// Returns the quote value of `lots` at `ticks`.
    pub fn notional(&self, ticks: Ticks, lots: Lots) -> Decimal {
        self.price(ticks) * self.quantity(lots)
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
        assert!(
            i.ticks("97000.123".parse().unwrap())
                .unwrap_err()
                .contains("tick size 0.01")
        );
        assert!(
            i.lots("0.000001".parse().unwrap())
                .unwrap_err()
                .contains("lot size 0.00001")
        );
        assert!(i.ticks(Decimal::ZERO).unwrap_err().contains("positive"));
        assert!(i.lots("-1".parse().unwrap()).unwrap_err().contains("positive"));
        assert_eq!(i.price(9_700_012).to_string(), "97000.12");
        assert_eq!(i.notional(9_700_000, 1_500).to_string(), "1455.0000000");
    }

    #[test]
    fn bad_instruments_are_refused() {
        assert!(Instrument::new("BTCUSD", Decimal::ONE, Decimal::ONE).is_err());
        assert!(Instrument::new("BTC-USD", Decimal::ZERO, Decimal::ONE).is_err());
    }
}
