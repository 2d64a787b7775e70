//! Book events applied to orders and balances: fills settle, closed orders release what they hold.

use rust_decimal::Decimal;
use time::OffsetDateTime;
use tse_matching::{CancelReason, Command, Event, RejectReason, Side};

use super::{Lifecycle, Venue};
use crate::domain::{
    ledger::AssetIdx,
    order::{Order, OrderStatus, OrderType, Trade},
};

impl Venue {
    pub(super) fn assets_of(&self, index: usize) -> (AssetIdx, AssetIdx) {
        let i = &self.instruments[index];
        let base = self
            .ledger
            .asset(&i.base)
            .expect("instrument assets are in the ledger");
        let quote = self
            .ledger
            .asset(&i.quote)
            .expect("instrument assets are in the ledger");
        (base, quote)
    }

    /// Executes a command on a book and applies its events; returns the trades.
    pub(super) fn run(&mut self, index: usize, command: Command, at: OffsetDateTime) -> Vec<Trade> {
        let mut events = std::mem::take(&mut self.scratch);
        events.clear();
        self.books[index].execute(command, &mut events);
        let trades = self.apply(index, &events, at);
        self.scratch = events;
        trades
    }

    /// Applies book events to orders and balances.
    pub(super) fn apply(&mut self, index: usize, events: &[Event], at: OffsetDateTime) -> Vec<Trade> {
        let (base, quote) = self.assets_of(index);
        let instrument = self.instruments[index].clone();
        let mut trades = Vec::new();
        for event in events {
            match *event {
                Event::Trade {
                    taker,
                    maker,
                    taker_side,
                    price,
                    quantity,
                    ..
                } => {
                    let price = instrument.price(price);
                    let quantity = instrument.quantity(quantity);
                    let cost = price * quantity;
                    let (buy, sell) = match taker_side {
                        Side::Buy => (taker, maker),
                        Side::Sell => (maker, taker),
                    };
                    let rate = |order: u64| {
                        if order == taker {
                            self.fees.taker
                        } else {
                            self.fees.maker
                        }
                    };
                    let (buyer_fee, seller_fee) = (cost * rate(buy), cost * rate(sell));
                    let max_rate = self.fees.max();
                    let buyer = self.orders[&buy].account;
                    let seller = self.orders[&sell].account;
                    // What the buy order had reserved for this quantity, and what it releases.
                    let buy_order = self.orders.get_mut(&buy).expect("traded orders are known");
                    let reserved = match buy_order.price {
                        Some(limit) if buy_order.order_type == OrderType::Limit => {
                            limit * quantity * (Decimal::ONE + max_rate)
                        }
                        _ => cost + buyer_fee,
                    };
                    buy_order.locked -= reserved;
                    record_fill(buy_order, quantity, cost, buyer_fee, at);
                    let release = reserved - cost - buyer_fee;
                    let sell_order = self.orders.get_mut(&sell).expect("traded orders are known");
                    sell_order.locked -= quantity;
                    record_fill(sell_order, quantity, cost, seller_fee, at);
                    self.ledger
                        .settle(buyer, seller, base, quote, quantity, cost, buyer_fee, seller_fee);
                    self.ledger.unlock(buyer, quote, release);
                    let trade = Trade {
                        id: self.next_trade,
                        instrument: index,
                        price,
                        quantity,
                        buy_order: buy,
                        sell_order: sell,
                        buyer,
                        seller,
                        taker_side,
                        buyer_fee,
                        seller_fee,
                        executed_at: at,
                    };
                    self.next_trade += 1;
                    self.new_trades.push(trade.clone());
                    trades.push(trade);
                    self.changed_orders.extend([buy, sell]);
                    for id in [buy, sell] {
                        self.settle_if_done(id, base, quote);
                    }
                }
                Event::Rested { id, .. } => {
                    let priority = self.next_priority;
                    self.next_priority += 1;
                    if let Some(order) = self.orders.get_mut(&id) {
                        order.priority = priority;
                        order.updated_at = at;
                    }
                }
                Event::Cancelled { id, reason, .. } => {
                    let text = match reason {
                        CancelReason::Requested => "cancelled by request",
                        CancelReason::Unfilled => "no more liquidity at the order's price",
                        CancelReason::SelfTrade => "self-trade prevention",
                    };
                    self.close(id, OrderStatus::Cancelled, text, at, base, quote);
                }
                Event::Rejected { id, reason } => {
                    self.close(id, OrderStatus::Rejected, reject_text(reason), at, base, quote);
                }
                Event::Amended { id, .. } => {
                    if let Some(order) = self.orders.get_mut(&id) {
                        order.updated_at = at;
                    }
                }
            }
        }
        trades
    }

    /// Releases what a filled order still holds.
    fn settle_if_done(&mut self, id: u64, base: AssetIdx, quote: AssetIdx) {
        let Some(order) = self.orders.get_mut(&id) else {
            return;
        };
        if order.status == OrderStatus::Filled && !order.locked.is_zero() {
            let asset = if order.side == Side::Buy { quote } else { base };
            let left = std::mem::take(&mut order.locked);
            let account = order.account;
            self.ledger.unlock(account, asset, left);
        }
        if order.status == OrderStatus::Filled {
            self.finished.push_back(id);
        }
    }

    /// Ends an order with `status`, releasing its reservation.
    fn close(
        &mut self,
        id: u64,
        status: OrderStatus,
        reason: &str,
        at: OffsetDateTime,
        base: AssetIdx,
        quote: AssetIdx,
    ) {
        let Some(order) = self.orders.get_mut(&id) else {
            return;
        };
        order.status = status;
        order.reason = Some(reason.to_owned());
        order.updated_at = at;
        let asset = if order.side == Side::Buy { quote } else { base };
        let left = std::mem::take(&mut order.locked);
        let account = order.account;
        if status == OrderStatus::Rejected {
            self.rejected(id);
        } else {
            self.lifecycle.push((id, Lifecycle::Cancelled));
        }
        self.ledger.unlock(account, asset, left);
        self.changed_orders.push(id);
        self.finished.push_back(id);
    }
}

/// Updates an order for one fill.
fn record_fill(order: &mut Order, quantity: Decimal, cost: Decimal, fee: Decimal, at: OffsetDateTime) {
    order.filled += quantity;
    order.filled_notional += cost;
    order.fees += fee;
    order.updated_at = at;
    order.status = if order.filled >= order.quantity {
        OrderStatus::Filled
    } else {
        OrderStatus::PartiallyFilled
    };
}

pub(super) fn reject_text(reason: RejectReason) -> &'static str {
    match reason {
        RejectReason::PostOnlyWouldTake => "post-only order would have matched on arrival",
        RejectReason::PostOnlyMarket => "a post-only order must be a limit order",
        RejectReason::FillOrKillUnfillable => "fill-or-kill order cannot be filled completely now",
        RejectReason::DuplicateOrderId => "duplicate order id",
        RejectReason::ZeroQuantity => "quantity must be positive",
        RejectReason::NonPositivePrice => "price must be positive",
        RejectReason::UnknownOrder => "unknown order",
    }
}
