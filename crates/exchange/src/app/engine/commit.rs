//! What one batch of requests changed, turned into a [`Commit`]: rows to store, outbox events,
//! market updates to publish and answers to send once it is durable.

use std::collections::{BTreeSet, HashMap};

use serde_json::json;
use tse_matching::Side;
use tse_runtime::events::types;

use super::{Ack, Commit, Engine, MarketUpdate, STREAM_DEPTH};
use crate::{
    app::views::{AccountView, BalanceView, BookView, OrderView, TradeView},
    domain::{
        order::Order,
        venue::{Changes, Lifecycle},
    },
};

impl Engine {
    /// Collects what changed into a commit.
    pub(super) fn commit(&mut self, acks: Vec<Ack>, publish: bool) -> Commit {
        let Changes {
            lifecycle,
            accounts,
            orders,
            trades,
            balances,
        } = self.venue.take_changes();
        let at = self.clock.now();
        let lp = self.liquidity;
        // A quote the provider withdrew without trading is churn: neither stored nor an event.
        let churn = |o: &Order| Some(o.account) == lp && o.filled.is_zero() && !o.status.is_open();
        let quiet: BTreeSet<u64> = orders
            .iter()
            .filter(|o| Some(o.account) == lp)
            .map(|o| o.id)
            .collect();
        let forgotten: Vec<u64> = orders.iter().filter(|o| churn(o)).map(|o| o.id).collect();
        let order_views: Vec<OrderView> = orders
            .iter()
            .filter(|o| !churn(o))
            .map(|o| OrderView::of(&self.venue, o))
            .collect();
        let by_id: HashMap<u64, &OrderView> = order_views
            .iter()
            .map(|o| (o.id.parse().unwrap_or_default(), o))
            .collect();
        let trade_views: Vec<TradeView> = trades.iter().map(|t| TradeView::of(&self.venue, t)).collect();
        let mut events = Vec::with_capacity(lifecycle.len() + trades.len());
        for (id, step) in &lifecycle {
            if quiet.contains(id) {
                continue;
            }
            let event_type = match step {
                Lifecycle::Placed => types::ORDER_PLACED,
                Lifecycle::Rejected => types::ORDER_REJECTED,
                Lifecycle::Cancelled => types::ORDER_CANCELLED,
                Lifecycle::Amended => types::ORDER_AMENDED,
            };
            let mut event = match by_id.get(id) {
                Some(order) => self.events.event_at(event_type, at, order),
                None => self
                    .events
                    .event_at(event_type, at, json!({ "id": id.to_string() })),
            }
            .traced(self.trace(*id));
            if *step == Lifecycle::Rejected
                && let Some(cause) = self.fault_causes.remove(id)
            {
                event = event.caused_by(cause);
            }
            events.push(event);
        }
        for (trade, view) in trades.iter().zip(&trade_views) {
            let taker = if trade.taker_side == Side::Buy {
                trade.buy_order
            } else {
                trade.sell_order
            };
            events.push(
                self.events
                    .event_at(types::TRADE_EXECUTED, at, view)
                    .traced(self.trace(taker)),
            );
            self.metrics.trade(&view.symbol);
        }
        let assets: BTreeSet<u16> = balances.iter().map(|(_, a, _)| *a).collect();
        let ledger = self.venue.ledger();
        let totals = assets
            .iter()
            .map(|a| {
                (
                    ledger.asset_name(*a).to_owned(),
                    ledger.fees(*a),
                    ledger.net_deposits(*a),
                )
            })
            .collect();
        let balance_rows = balances
            .iter()
            .map(|(account, asset, _)| {
                (
                    self.venue.account_at(*account).id.clone(),
                    BalanceView::of(&self.venue, *account, *asset),
                )
            })
            .collect();
        let touched = std::mem::take(&mut self.touched);
        for index in &touched {
            let book = self.venue.book(*index);
            let symbol = &self.venue.instruments()[*index].symbol;
            let instrument = &self.venue.instruments()[*index];
            for side in [Side::Buy, Side::Sell] {
                let lots = book.volume(side);
                let quantity = instrument.quantity(lots);
                self.metrics
                    .depth(symbol, if side == Side::Buy { "bid" } else { "ask" }, quantity);
            }
        }
        let market = if publish {
            trade_views
                .iter()
                .cloned()
                .map(MarketUpdate::Trade)
                .chain(
                    touched
                        .iter()
                        .map(|i| MarketUpdate::Book(BookView::of(&self.venue, *i, STREAM_DEPTH, at))),
                )
                .collect()
        } else {
            Vec::new()
        };
        Commit {
            accounts: accounts
                .iter()
                .map(|a| AccountView::of(&self.venue, *a))
                .collect(),
            orders: order_views,
            forgotten,
            trades: trade_views,
            balances: balance_rows,
            totals,
            events,
            acks,
            market,
        }
    }
}
