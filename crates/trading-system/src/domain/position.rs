//! A position in one symbol: signed quantity of the base asset, average cost, realised P&L and fees
//! in the quote asset, all exact decimals.
//!
//! A fill that adds to the position moves the average cost; one that reduces it realises
//! `(price − average cost) × quantity` (the sign of the position decides which way), and one that
//! crosses zero realises the closed part and opens the rest at the fill's price. Fees are kept
//! apart and subtracted in [`Position::net_realized`]. Applying fills in any grouping gives the same
//! quantity; the quantity is always the sum of signed fills.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use tse_market::Side;

/// A position in one symbol.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// Base asset held: positive long, negative short.
    pub quantity: Decimal,
    /// Average price of the open quantity (zero when flat).
    pub average_cost: Decimal,
    /// P&L realised by reducing the position, in the quote asset, before fees.
    pub realized: Decimal,
    /// Fees paid, in the quote asset.
    pub fees: Decimal,
    /// Base asset bought in all.
    pub bought: Decimal,
    /// Base asset sold in all.
    pub sold: Decimal,
    /// Quote asset paid for what was bought (before fees).
    pub paid: Decimal,
    /// Quote asset received for what was sold (before fees).
    pub received: Decimal,
    /// Fills applied.
    pub fills: u64,
}

impl Position {
    /// Applies one fill of `quantity` at `price` on `side`, paying `fee` in the quote asset.
    pub fn apply(&mut self, side: Side, price: Decimal, quantity: Decimal, fee: Decimal) {
        let signed = match side {
            Side::Buy => quantity,
            Side::Sell => -quantity,
        };
        match side {
            Side::Buy => {
                self.bought += quantity;
                self.paid += price * quantity;
            }
            Side::Sell => {
                self.sold += quantity;
                self.received += price * quantity;
            }
        }
        self.fees += fee;
        self.fills += 1;
        let before = self.quantity;
        let after = before + signed;
        if before.is_zero() || before.is_sign_positive() == signed.is_sign_positive() {
            // Opening or adding: the average cost moves.
            let cost = self.average_cost * before.abs() + price * quantity;
            self.average_cost = if after.is_zero() {
                Decimal::ZERO
            } else {
                cost / after.abs()
            };
        } else {
            // Reducing: the closed part realises against the average cost.
            let closed = quantity.min(before.abs());
            let per_unit = if before.is_sign_positive() {
                price - self.average_cost
            } else {
                self.average_cost - price
            };
            self.realized += per_unit * closed;
            if after.is_zero() {
                self.average_cost = Decimal::ZERO;
            } else if after.is_sign_positive() != before.is_sign_positive() {
                // Crossed zero: the rest opens at the fill's price.
                self.average_cost = price;
            }
        }
        self.quantity = after;
    }

    /// Returns the P&L of the open quantity marked at `mark`, in the quote asset.
    pub fn unrealized(&self, mark: Decimal) -> Decimal {
        (mark - self.average_cost) * self.quantity
    }

    /// Returns the realised P&L after fees, in the quote asset.
    pub fn net_realized(&self) -> Decimal {
        self.realized - self.fees
    }

    /// Returns the signed quantity `side` and `quantity` would leave.
    pub fn after(&self, side: Side, quantity: Decimal) -> Decimal {
        match side {
            Side::Buy => self.quantity + quantity,
            Side::Sell => self.quantity - quantity,
        }
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
        p.apply(Side::Buy, d("100"), d("1"), d("0.1"));
        p.apply(Side::Buy, d("110"), d("1"), d("0.1"));
        assert_eq!((p.quantity, p.average_cost), (d("2"), d("105")));
        p.apply(Side::Sell, d("120"), d("1"), d("0.1"));
        assert_eq!(
            (p.quantity, p.average_cost, p.realized),
            (d("1"), d("105"), d("15"))
        );
        assert_eq!(p.net_realized(), d("14.7"));
        assert_eq!(p.unrealized(d("100")), d("-5"));
    }

    #[test]
    fn crossing_zero_opens_the_rest_at_the_fill_price() {
        let mut p = Position::default();
        p.apply(Side::Buy, d("100"), d("1"), Decimal::ZERO);
        p.apply(Side::Sell, d("90"), d("3"), Decimal::ZERO);
        assert_eq!(
            (p.quantity, p.average_cost, p.realized),
            (d("-2"), d("90"), d("-10"))
        );
        p.apply(Side::Buy, d("80"), d("2"), Decimal::ZERO);
        assert_eq!(
            (p.quantity, p.average_cost, p.realized),
            (d("0"), d("0"), d("10"))
        );
    }
}
