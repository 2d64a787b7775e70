//! A position: how much of a symbol's base asset an account holds through settled trades, and at
//! what average cost, with the profit realised when it shrinks.

use rust_decimal::Decimal;
use serde::Serialize;

/// Buy or sell, as a settled trade's direction: the market's own, whose serialized form (`BUY`,
/// `SELL`) is the one the custodian has always stored and answered.
pub use tse_market::Side;

/// One account's position in one symbol. Quantity is signed: negative is short.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Position {
    /// Signed quantity of the base asset.
    pub quantity: Decimal,
    /// Average price paid (or received, when short) for the quantity held; zero when flat.
    pub average_cost: Decimal,
    /// Profit realised by reducing the position, in the quote asset.
    pub realized_pnl: Decimal,
}

impl Position {
    /// Applies a fill of `quantity` (> 0) at `price` on `side`; returns the profit it realised.
    ///
    /// Adding to a position moves the average cost to the quantity-weighted mean; reducing it keeps
    /// the average cost and realises (price − cost) × reduced quantity (negated for shorts); crossing
    /// through zero opens the rest at `price`.
    pub fn apply(&mut self, side: Side, quantity: Decimal, price: Decimal) -> Decimal {
        let signed = match side {
            Side::Buy => quantity,
            Side::Sell => -quantity,
        };
        let same_direction =
            self.quantity.is_zero() || self.quantity.is_sign_positive() == signed.is_sign_positive();
        if same_direction {
            let new_quantity = self.quantity + signed;
            self.average_cost =
                (self.average_cost * self.quantity.abs() + price * quantity) / new_quantity.abs();
            self.quantity = new_quantity;
            return Decimal::ZERO;
        }
        let reduced = quantity.min(self.quantity.abs());
        let per_unit = if self.quantity.is_sign_positive() {
            price - self.average_cost
        } else {
            self.average_cost - price
        };
        let realized = per_unit * reduced;
        self.realized_pnl += realized;
        self.quantity += signed;
        if self.quantity.is_zero() {
            self.average_cost = Decimal::ZERO;
        } else if quantity > reduced {
            // Crossed through zero: what is left was opened at this price.
            self.average_cost = price;
        }
        realized
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    #[test]
    fn adding_averages_and_reducing_realises() {
        let mut p = Position::default();
        assert_eq!(p.apply(Side::Buy, d("1"), d("100")), Decimal::ZERO);
        p.apply(Side::Buy, d("3"), d("200"));
        assert_eq!((p.quantity, p.average_cost), (d("4"), d("175")));
        assert_eq!(p.apply(Side::Sell, d("2"), d("205")), d("60"));
        assert_eq!(
            (p.quantity, p.average_cost, p.realized_pnl),
            (d("2"), d("175"), d("60"))
        );
        assert_eq!(p.apply(Side::Sell, d("2"), d("150")), d("-50"));
        assert_eq!(
            (p.quantity, p.average_cost, p.realized_pnl),
            (d("0"), d("0"), d("10"))
        );
    }

    #[test]
    fn crossing_zero_opens_the_rest_at_the_fill_price_and_shorts_gain_when_prices_fall() {
        let mut p = Position::default();
        p.apply(Side::Buy, d("1"), d("100"));
        assert_eq!(p.apply(Side::Sell, d("3"), d("110")), d("10"));
        assert_eq!((p.quantity, p.average_cost), (d("-2"), d("110")));
        assert_eq!(p.apply(Side::Buy, d("1"), d("100")), d("10"));
        assert_eq!((p.quantity, p.average_cost), (d("-1"), d("110")));
    }
}
