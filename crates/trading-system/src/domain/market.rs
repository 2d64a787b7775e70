//! What the desk knows of the markets: the reference price of each symbol (market data), the best
//! bid and ask of each symbol at each exchange, and each exchange's instruments (tick, lot, fees).
//!
//! The desk keeps one [`Market`], updated by [`Event`]s, and lends it to strategies read-only.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use tse_market::Symbol;

use super::order::{Fill, OrderUpdate};

/// One side of a book top: the best price and the quantity there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Top {
    /// Best price.
    pub price: Decimal,
    /// Quantity at that price.
    pub quantity: Decimal,
}

/// The best bid and ask of one symbol at one exchange (a side is `None` when empty).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BookTop {
    /// Highest bid.
    pub bid: Option<Top>,
    /// Lowest ask.
    pub ask: Option<Top>,
}

impl BookTop {
    /// Returns the mid price, when both sides are there.
    pub fn mid(&self) -> Option<Decimal> {
        let (bid, ask) = (self.bid?, self.ask?);
        Some((bid.price + ask.price) / Decimal::TWO)
    }
}

/// An exchange's terms for one symbol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Instrument {
    /// The symbol.
    pub symbol: Symbol,
    /// Prices are multiples of this.
    pub tick: Decimal,
    /// Quantities are multiples of this.
    pub lot: Decimal,
    /// Fee rate of a resting order that is hit (fraction of the traded value, in the quote asset).
    pub maker_fee: Decimal,
    /// Fee rate of an order that takes.
    pub taker_fee: Decimal,
}

impl Instrument {
    /// Rounds a price down to the tick.
    pub fn floor_price(&self, price: Decimal) -> Decimal {
        floor_to(price, self.tick)
    }

    /// Rounds a price up to the tick.
    pub fn ceil_price(&self, price: Decimal) -> Decimal {
        let floor = floor_to(price, self.tick);
        if floor == price { floor } else { floor + self.tick }
    }

    /// Rounds a quantity down to the lot.
    pub fn floor_quantity(&self, quantity: Decimal) -> Decimal {
        floor_to(quantity, self.lot)
    }
}

/// `value` rounded down to a multiple of `step` (`value` itself when `step` is not positive).
fn floor_to(value: Decimal, step: Decimal) -> Decimal {
    if step <= Decimal::ZERO {
        return value;
    }
    (value / step).floor() * step
}

/// Something that happened that the desk and its strategies react to. The simulated time it
/// happened at travels beside it.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// A reference price from market data.
    Price {
        /// The symbol.
        symbol: Symbol,
        /// Its reference price.
        price: Decimal,
    },
    /// The book top of a symbol at an exchange changed.
    Book {
        /// The exchange instance (`exchange-OKX`).
        exchange: String,
        /// The symbol.
        symbol: Symbol,
        /// Its best bid and ask.
        top: BookTop,
    },
    /// One of the desk's own orders traded.
    Fill(Fill),
    /// One of the desk's own orders changed state (acknowledged, rejected, cancelled, done).
    Order(OrderUpdate),
    /// Simulated time passed (the desk's timer).
    Timer,
}

/// What the desk knows of the markets.
#[derive(Clone, Debug, Default)]
pub struct Market {
    prices: BTreeMap<Symbol, Decimal>,
    books: BTreeMap<(String, Symbol), BookTop>,
    instruments: BTreeMap<(String, Symbol), Instrument>,
}

impl Market {
    /// Records an exchange's instrument.
    pub fn list(&mut self, exchange: &str, instrument: Instrument) {
        self.instruments
            .insert((exchange.to_owned(), instrument.symbol.clone()), instrument);
    }

    /// Updates what `event` says about prices and books (fills and orders change nothing here).
    pub fn apply(&mut self, event: &Event) {
        match event {
            Event::Price { symbol, price } => {
                self.prices.insert(symbol.clone(), *price);
            }
            Event::Book {
                exchange,
                symbol,
                top,
            } => {
                self.books.insert((exchange.clone(), symbol.clone()), *top);
            }
            Event::Fill(_) | Event::Order(_) | Event::Timer => {}
        }
    }

    /// Returns the reference price of `symbol`, once market data has published one.
    pub fn price(&self, symbol: &Symbol) -> Option<Decimal> {
        self.prices.get(symbol).copied()
    }

    /// Returns the book top of `symbol` at `exchange`, once seen.
    pub fn book(&self, exchange: &str, symbol: &Symbol) -> Option<BookTop> {
        self.books.get(&(exchange.to_owned(), symbol.clone())).copied()
    }

    /// Returns `exchange`'s terms for `symbol`, when it lists it.
    pub fn instrument(&self, exchange: &str, symbol: &Symbol) -> Option<&Instrument> {
        self.instruments.get(&(exchange.to_owned(), symbol.clone()))
    }

    /// Returns the value in USD of one unit of `asset`: 1 for USD, else the reference price of
    /// `{asset}-USD`, else that of `USD-{asset}` inverted; `None` when no price says.
    pub fn usd_rate(&self, asset: &str) -> Option<Decimal> {
        if asset == "USD" {
            return Some(Decimal::ONE);
        }
        let direct = Symbol::parse(&format!("{asset}-USD")).ok();
        if let Some(price) = direct.and_then(|s| self.price(&s)) {
            return Some(price);
        }
        let inverse = Symbol::parse(&format!("USD-{asset}")).ok();
        inverse
            .and_then(|s| self.price(&s))
            .filter(|p| !p.is_zero())
            .map(|p| Decimal::ONE / p)
    }

    /// Returns the mark of `symbol` at `exchange`: the reference price, else the book's mid.
    pub fn mark(&self, exchange: &str, symbol: &Symbol) -> Option<Decimal> {
        self.price(symbol)
            .or_else(|| self.book(exchange, symbol).and_then(|b| b.mid()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    #[test]
    fn prices_round_to_the_tick_and_quantities_down_to_the_lot() {
        let i = Instrument {
            symbol: Symbol::parse("BTC-USD").unwrap(),
            tick: d("0.01"),
            lot: d("0.00001"),
            maker_fee: d("0.0002"),
            taker_fee: d("0.0005"),
        };
        assert_eq!(i.floor_price(d("97000.129")), d("97000.12"));
        assert_eq!(i.ceil_price(d("97000.121")), d("97000.13"));
        assert_eq!(i.ceil_price(d("97000.12")), d("97000.12"));
        assert_eq!(i.floor_quantity(d("0.123456")), d("0.12345"));
    }

    #[test]
    fn usd_rates_come_from_direct_or_inverse_prices() {
        let mut m = Market::default();
        m.apply(&Event::Price {
            symbol: Symbol::parse("BTC-USD").unwrap(),
            price: d("100000"),
        });
        assert_eq!(m.usd_rate("USD"), Some(Decimal::ONE));
        assert_eq!(m.usd_rate("BTC"), Some(d("100000")));
        assert_eq!(m.usd_rate("ETH"), None);
    }
}
