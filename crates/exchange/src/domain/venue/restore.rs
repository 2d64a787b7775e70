//! Rebuilding a venue from storage, and handing over what changed to be stored.

use rust_decimal::Decimal;
use tse_matching::{Command, Event, NewOrder, TimeInForce};

use super::{Account, Changes, RETAINED_FINISHED, Venue, VenueError};
use crate::domain::{
    ledger::{AccountIdx, Balance},
    order::Order,
};

impl Venue {
    /// Restores an account as stored; accounts must be restored in index order.
    pub fn restore_account(&mut self, account: Account) -> AccountIdx {
        let index = self.ledger.open_account();
        self.account_index.insert(account.id.clone(), index);
        self.accounts.push(account);
        index
    }

    /// Restores a stored balance.
    ///
    /// # Errors
    /// [`VenueError`] for an unknown account or asset.
    pub fn restore_balance(
        &mut self,
        account: &str,
        asset: &str,
        balance: Balance,
    ) -> Result<(), VenueError> {
        let (account, asset) = (self.account(account)?, self.asset(asset)?);
        self.ledger.restore(account, asset, balance);
        Ok(())
    }

    /// Restores an asset's collected fees and deposits minus withdrawals.
    ///
    /// # Errors
    /// [`VenueError::UnknownAsset`].
    pub fn restore_totals(
        &mut self,
        asset: &str,
        fees: Decimal,
        net_deposits: Decimal,
    ) -> Result<(), VenueError> {
        let asset = self.asset(asset)?;
        self.ledger.restore_totals(asset, fees, net_deposits);
        Ok(())
    }

    /// Restores a stored order. An open order re-enters its book; restore open orders in increasing
    /// `priority` so each level keeps its queue order.
    ///
    /// # Errors
    /// [`VenueError::Invalid`] when an open order does not fit its book (it would cross it).
    pub fn restore_order(&mut self, order: Order) -> Result<(), VenueError> {
        if let Some(cid) = &order.client_order_id {
            self.client_ids.insert((order.account, cid.clone()), order.id);
        }
        self.next_order = self.next_order.max(order.id + 1);
        self.next_priority = self.next_priority.max(order.priority + 1);
        if order.status.is_open() {
            let instrument = &self.instruments[order.instrument];
            let price = order
                .price
                .ok_or_else(|| VenueError::Invalid(format!("open order {} has no price", order.id)))?;
            let ticks = instrument.ticks(price).map_err(VenueError::Invalid)?;
            let lots = instrument
                .lots(order.quantity - order.filled)
                .map_err(VenueError::Invalid)?;
            let mut events = Vec::new();
            self.books[order.instrument].execute(
                Command::Place(NewOrder {
                    id: order.id,
                    owner: u64::from(order.account),
                    side: order.side,
                    price: Some(ticks),
                    quantity: lots,
                    time_in_force: TimeInForce::Gtc,
                    post_only: order.post_only,
                    self_trade: order.self_trade,
                }),
                &mut events,
            );
            if !matches!(events.as_slice(), [Event::Rested { .. }]) {
                return Err(VenueError::Invalid(format!(
                    "order {} does not fit its book: {events:?}",
                    order.id
                )));
            }
            self.orders.insert(order.id, order);
        }
        Ok(())
    }

    /// Remembers that `client_order_id` of `account` is used by `order` (a finished order not kept in
    /// memory).
    pub fn restore_client_id(&mut self, account: AccountIdx, client_order_id: String, order: u64) {
        self.client_ids.insert((account, client_order_id), order);
    }

    /// Continues numbering trades after `last_trade`.
    pub fn restore_last_trade(&mut self, last_trade: u64) {
        self.next_trade = self.next_trade.max(last_trade + 1);
    }

    /// Continues numbering orders after `last_order` (finished orders are not restored one by one).
    pub fn restore_last_order(&mut self, last_order: u64) {
        self.next_order = self.next_order.max(last_order + 1);
    }

    /// Returns what changed since the last call, and forgets the oldest finished orders beyond what
    /// memory keeps.
    pub fn take_changes(&mut self) -> Changes {
        let mut seen = std::collections::HashSet::with_capacity(self.changed_orders.len());
        let orders = std::mem::take(&mut self.changed_orders)
            .into_iter()
            .filter(|id| seen.insert(*id))
            .filter_map(|id| self.orders.get(&id).cloned())
            .collect();
        let balances = self
            .ledger
            .take_touched()
            .into_iter()
            .map(|(account, asset)| (account, asset, self.ledger.balance(account, asset)))
            .collect();
        while self.finished.len() > RETAINED_FINISHED {
            if let Some(id) = self.finished.pop_front() {
                self.orders.remove(&id);
            }
        }
        Changes {
            lifecycle: std::mem::take(&mut self.lifecycle),
            accounts: std::mem::take(&mut self.new_accounts),
            orders,
            trades: std::mem::take(&mut self.new_trades),
            balances,
        }
    }
}

#[cfg(test)]
mod tests {
    use tse_matching::Side;

    use super::super::fixtures::{AT, d, order, venue};
    use crate::domain::order::{OrderStatus, OrderType};

    #[test]
    fn a_venue_restored_from_its_recorded_changes_is_the_same() {
        let mut v = venue();
        v.open_account(None, AT);
        v.open_account(Some("desk".into()), AT);
        v.deposit("acct-1", "BTC", d("2")).unwrap();
        v.deposit("acct-2", "USD", d("10000")).unwrap();
        for (price, quantity) in [("101", "0.5"), ("102", "0.3"), ("101", "0.2")] {
            v.place(
                order("acct-1", Side::Sell, OrderType::Limit, Some(price), quantity),
                AT,
            )
            .unwrap();
        }
        v.place(order("acct-2", Side::Buy, OrderType::Limit, Some("99"), "1"), AT)
            .unwrap();
        v.place(order("acct-2", Side::Buy, OrderType::Market, None, "0.6"), AT)
            .unwrap();
        let refused = v
            .refuse(
                order("acct-2", Side::Buy, OrderType::Limit, Some("99"), "1"),
                "trading halted",
                AT,
            )
            .unwrap();
        assert_eq!((refused.status, refused.locked), (OrderStatus::Rejected, d("0")));
        let changes = v.take_changes();

        let mut restored = venue();
        for index in &changes.accounts {
            restored.restore_account(v.account_at(*index).clone());
        }
        for (account, asset, balance) in &changes.balances {
            let id = v.account_at(*account).id.clone();
            restored
                .restore_balance(&id, v.ledger().asset_name(*asset), *balance)
                .unwrap();
        }
        for asset in v.ledger().assets().to_vec() {
            let i = v.asset(&asset).unwrap();
            restored
                .restore_totals(&asset, v.ledger().fees(i), v.ledger().net_deposits(i))
                .unwrap();
        }
        let mut orders = changes.orders.clone();
        orders.sort_by_key(|o| o.priority);
        for order in orders {
            restored.restore_order(order).unwrap();
        }
        restored.restore_last_trade(changes.trades.last().unwrap().id);
        for side in [Side::Buy, Side::Sell] {
            assert_eq!(
                restored.book(0).orders(side),
                v.book(0).orders(side),
                "{side:?} book"
            );
        }
        for account in 0..2 {
            for asset in 0..2 {
                assert_eq!(
                    restored.ledger().balance(account, asset),
                    v.ledger().balance(account, asset)
                );
            }
        }
        // Numbering continues where it stopped.
        let (next, trades) = restored
            .place(order("acct-2", Side::Buy, OrderType::Market, None, "0.1"), AT)
            .unwrap();
        assert_eq!(next.id, refused.id + 1);
        assert_eq!(trades[0].id, changes.trades.last().unwrap().id + 1);
    }
}
