//! What the exchange shows of its state: accounts, balances, orders, trades and books with names
//! resolved, as the API answers them and storage keeps them.

use rust_decimal::Decimal;
use serde::Serialize;
use time::OffsetDateTime;

use crate::domain::{
    order::{Order, Trade, side_name, stp_name, tif_name},
    venue::Venue,
};

pub(crate) use tse_runtime::health::rfc3339_exact as rfc3339;

/// An average fill price for display: four digits finer than the tick.
pub(crate) fn average(price: Decimal, tick: Decimal) -> Decimal {
    price.round_dp(tick.scale() + 4).normalize()
}

/// An account.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AccountView {
    /// Id.
    pub id: String,
    /// Trading entity.
    pub entity: Option<String>,
    /// Opened (simulated time, RFC 3339).
    pub created_at: String,
}

impl AccountView {
    /// The view of account `index`.
    pub fn of(venue: &Venue, index: u32) -> Self {
        let a = venue.account_at(index);
        Self {
            id: a.id.clone(),
            entity: a.entity.clone(),
            created_at: rfc3339(a.created_at),
        }
    }
}

/// One balance.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BalanceView {
    /// Asset.
    pub asset: String,
    /// Free.
    pub available: Decimal,
    /// Held for open orders.
    pub locked: Decimal,
    /// Available plus locked.
    pub total: Decimal,
}

impl BalanceView {
    /// The view of `account`'s `asset` balance.
    pub fn of(venue: &Venue, account: u32, asset: u16) -> Self {
        let b = venue.ledger().balance(account, asset);
        Self {
            asset: venue.ledger().asset_name(asset).to_owned(),
            available: b.available.normalize(),
            locked: b.locked.normalize(),
            total: b.total().normalize(),
        }
    }
}

/// One order.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OrderView {
    /// Id.
    pub id: String,
    /// The client's id.
    pub client_order_id: Option<String>,
    /// Owner.
    pub account_id: String,
    /// Symbol.
    pub symbol: String,
    /// `BUY` or `SELL`.
    pub side: &'static str,
    /// `LIMIT` or `MARKET`.
    #[serde(rename = "type")]
    pub order_type: &'static str,
    /// `GTC`, `IOC` or `FOK`.
    pub time_in_force: &'static str,
    /// Rest only.
    pub post_only: bool,
    /// Self-trade prevention.
    pub self_trade_prevention: &'static str,
    /// Limit price.
    pub price: Option<Decimal>,
    /// Ordered quantity.
    pub quantity: Decimal,
    /// Filled quantity.
    pub filled_quantity: Decimal,
    /// Average fill price.
    pub average_price: Option<Decimal>,
    /// Fees paid (quote).
    pub fees: Decimal,
    /// Lifecycle status.
    pub status: &'static str,
    /// Why rejected or cancelled.
    pub reason: Option<String>,
    /// Placed (simulated time).
    pub created_at: String,
    /// Last changed (simulated time).
    pub updated_at: String,
    /// Funds still reserved (not shown by the API).
    #[serde(skip)]
    pub locked: Decimal,
    /// Quote value filled (not shown by the API).
    #[serde(skip)]
    pub filled_notional: Decimal,
    /// Queue stamp (not shown by the API).
    #[serde(skip)]
    pub priority: u64,
    /// Placement time as a time (not shown by the API).
    #[serde(skip)]
    pub created: OffsetDateTime,
    /// Last change as a time (not shown by the API).
    #[serde(skip)]
    pub updated: OffsetDateTime,
}

impl OrderView {
    /// The view of `order`.
    pub fn of(venue: &Venue, order: &Order) -> Self {
        Self {
            id: order.id.to_string(),
            client_order_id: order.client_order_id.clone(),
            account_id: venue.account_at(order.account).id.clone(),
            symbol: venue.instruments()[order.instrument].symbol.clone(),
            side: side_name(order.side),
            order_type: order.order_type.as_str(),
            time_in_force: tif_name(order.time_in_force),
            post_only: order.post_only,
            self_trade_prevention: stp_name(order.self_trade),
            price: order.price.map(|p| p.normalize()),
            quantity: order.quantity.normalize(),
            filled_quantity: order.filled.normalize(),
            average_price: order
                .average_price()
                .map(|p| average(p, venue.instruments()[order.instrument].tick_size)),
            fees: order.fees.normalize(),
            status: order.status.as_str(),
            reason: order.reason.clone(),
            created_at: rfc3339(order.created_at),
            updated_at: rfc3339(order.updated_at),
            locked: order.locked,
            filled_notional: order.filled_notional,
            priority: order.priority,
            created: order.created_at,
            updated: order.updated_at,
        }
    }
}

/// One trade.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TradeView {
    /// Id.
    pub id: String,
    /// Symbol.
    pub symbol: String,
    /// Price.
    pub price: Decimal,
    /// Quantity.
    pub quantity: Decimal,
    /// The buying order.
    pub buy_order_id: String,
    /// The selling order.
    pub sell_order_id: String,
    /// The buyer.
    pub buyer_account_id: String,
    /// The seller.
    pub seller_account_id: String,
    /// Side of the incoming order.
    pub taker_side: &'static str,
    /// Buyer's fee (quote).
    pub buyer_fee: Decimal,
    /// Seller's fee (quote).
    pub seller_fee: Decimal,
    /// When (simulated time).
    pub executed_at: String,
    /// When, as a time (not shown by the API).
    #[serde(skip)]
    pub executed: OffsetDateTime,
}

impl TradeView {
    /// The view of `trade`.
    pub fn of(venue: &Venue, trade: &Trade) -> Self {
        Self {
            id: trade.id.to_string(),
            symbol: venue.instruments()[trade.instrument].symbol.clone(),
            price: trade.price.normalize(),
            quantity: trade.quantity.normalize(),
            buy_order_id: trade.buy_order.to_string(),
            sell_order_id: trade.sell_order.to_string(),
            buyer_account_id: venue.account_at(trade.buyer).id.clone(),
            seller_account_id: venue.account_at(trade.seller).id.clone(),
            taker_side: side_name(trade.taker_side),
            buyer_fee: trade.buyer_fee.normalize(),
            seller_fee: trade.seller_fee.normalize(),
            executed_at: rfc3339(trade.executed_at),
            executed: trade.executed_at,
        }
    }
}

/// The top of one book.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BookView {
    /// Symbol.
    pub symbol: String,
    /// Bids, best first: `[price, quantity]`.
    pub bids: Vec<(Decimal, Decimal)>,
    /// Asks, best first.
    pub asks: Vec<(Decimal, Decimal)>,
    /// When (simulated time).
    pub timestamp: String,
}

impl BookView {
    /// The `depth` best levels of instrument `index` at `at`.
    pub fn of(venue: &Venue, index: usize, depth: usize, at: OffsetDateTime) -> Self {
        let instrument = &venue.instruments()[index];
        let levels = |side| {
            venue
                .book(index)
                .depth(side, depth)
                .into_iter()
                .map(|(p, q)| {
                    (
                        instrument.price(p).normalize(),
                        instrument.quantity(q).normalize(),
                    )
                })
                .collect()
        };
        Self {
            symbol: instrument.symbol.clone(),
            bids: levels(tse_matching::Side::Buy),
            asks: levels(tse_matching::Side::Sell),
            timestamp: rfc3339(at),
        }
    }
}
