//! Changes to a resting order: cancel and amend.

use rust_decimal::Decimal;
use time::OffsetDateTime;
use tse_matching::{Command, Event, Side};
use tse_runtime::money;

use super::{Lifecycle, Venue, VenueError, settlement::reject_text};
use crate::domain::order::{Order, Trade};

impl Venue {
    /// Cancels an open order.
    ///
    /// # Errors
    /// [`VenueError::UnknownOrder`] or [`VenueError::NotOpen`].
    pub fn cancel(&mut self, id: u64, at: OffsetDateTime) -> Result<Order, VenueError> {
        let order = self.orders.get(&id).ok_or(VenueError::UnknownOrder(id))?;
        if !order.status.is_open() {
            return Err(VenueError::NotOpen {
                id,
                status: order.status.as_str(),
            });
        }
        let index = order.instrument;
        self.run(index, Command::Cancel(id), at);
        Ok(self.orders[&id].clone())
    }

    /// Changes an open limit order's price and/or total quantity. A smaller quantity at the same price
    /// keeps its place; anything else sends it to the back of its level (matching first if it crosses).
    ///
    /// # Errors
    /// [`VenueError`] when the order is unknown or closed, the values are invalid, or a larger
    /// reservation cannot be covered.
    pub fn amend(
        &mut self,
        id: u64,
        price: Option<Decimal>,
        quantity: Option<Decimal>,
        at: OffsetDateTime,
    ) -> Result<(Order, Vec<Trade>), VenueError> {
        let order = self.orders.get(&id).ok_or(VenueError::UnknownOrder(id))?.clone();
        if !order.status.is_open() {
            return Err(VenueError::NotOpen {
                id,
                status: order.status.as_str(),
            });
        }
        let instrument = &self.instruments[order.instrument];
        let new_price = price.or(order.price).unwrap_or_default();
        let ticks = instrument.ticks(new_price).map_err(VenueError::Invalid)?;
        let new_quantity = quantity.unwrap_or(order.quantity);
        money::bounded(new_quantity).map_err(|e| VenueError::Invalid(format!("quantity {e}")))?;
        let remaining = new_quantity
            .checked_sub(order.filled)
            .filter(|r| *r > Decimal::ZERO)
            .ok_or_else(|| {
                VenueError::Invalid(format!(
                    "quantity {new_quantity} must exceed the {} already filled",
                    order.filled
                ))
            })?;
        let lots = instrument.lots(remaining).map_err(VenueError::Invalid)?;
        if instrument.notional(ticks, lots).is_none() {
            return Err(self.notional_error(order.instrument, ticks, lots));
        }
        self.check_room(order.instrument, order.side, lots)?;
        let (base, quote) = self.assets_of(order.instrument);
        let (asset, needed) = match order.side {
            Side::Buy => (quote, self.limit_reserve(order.instrument, ticks, lots)?),
            Side::Sell => (base, remaining),
        };
        if needed > order.locked {
            self.ledger
                .lock(order.account, asset, needed - order.locked)
                .map_err(VenueError::Insufficient)?;
        }
        let mut events = std::mem::take(&mut self.scratch);
        events.clear();
        self.books[order.instrument].execute(
            Command::Amend {
                id,
                price: Some(ticks),
                quantity: Some(lots),
            },
            &mut events,
        );
        if let Some(Event::Rejected { reason, .. }) = events.first() {
            let reason = *reason;
            self.scratch = events;
            if needed > order.locked {
                self.ledger.unlock(order.account, asset, needed - order.locked);
            }
            return Err(VenueError::Invalid(reject_text(reason).into()));
        }
        // Accepted: record the new terms (fills below reserve at the new price), then apply events.
        let o = self.orders.get_mut(&id).expect("order checked above");
        if needed < o.locked {
            self.ledger.unlock(o.account, asset, o.locked - needed);
        }
        o.locked = needed;
        o.price = Some(new_price);
        o.quantity = new_quantity;
        o.updated_at = at;
        self.changed_orders.push(id);
        self.lifecycle.push((id, Lifecycle::Amended));
        let trades = self.apply(order.instrument, &events, at);
        self.scratch = events;
        Ok((self.orders[&id].clone(), trades))
    }
}

#[cfg(test)]
mod tests {
    use tse_matching::Side;

    use super::super::{
        VenueError,
        fixtures::{AT, d, order, venue},
    };
    use crate::domain::order::{OrderStatus, OrderType};

    #[test]
    fn amending_adjusts_the_reservation_and_may_trade() {
        let mut v = venue();
        v.open_account(None, AT);
        v.open_account(None, AT);
        v.deposit("acct-1", "BTC", d("1")).unwrap();
        v.deposit("acct-2", "USD", d("1000")).unwrap();
        let (buy, _) = v
            .place(order("acct-2", Side::Buy, OrderType::Limit, Some("90"), "1"), AT)
            .unwrap();
        let usd = v.asset("USD").unwrap();
        assert_eq!(v.ledger().balance(1, usd).locked, d("90.180"));
        v.place(
            order("acct-1", Side::Sell, OrderType::Limit, Some("95"), "0.5"),
            AT,
        )
        .unwrap();
        let (amended, trades) = v.amend(buy.id, Some(d("95")), None, AT).unwrap();
        assert_eq!(trades.len(), 1, "repriced across the spread, it traded");
        assert_eq!(
            (amended.status, amended.filled),
            (OrderStatus::PartiallyFilled, d("0.5"))
        );
        // The rest (0.5 at 95) stays reserved at the new price.
        assert_eq!(v.ledger().balance(1, usd).locked, d("47.595"));
        assert!(matches!(
            v.amend(buy.id, None, Some(d("0.5")), AT),
            Err(VenueError::Invalid(_))
        ));
        assert!(matches!(
            v.amend(buy.id, Some(d("95")), Some(d("100")), AT),
            Err(VenueError::Insufficient(_))
        ));
        assert_eq!(v.ledger().held(usd), Some(v.ledger().net_deposits(usd)));
    }
}
