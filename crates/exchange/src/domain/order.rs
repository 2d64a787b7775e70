//! Orders and trades as the exchange records them.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tse_matching::{SelfTradePrevention, Side, TimeInForce};

use super::ledger::AccountIdx;

/// Where an order is in its life: `NEW → PARTIALLY_FILLED → FILLED | CANCELLED | REJECTED`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderStatus {
    /// Accepted, nothing filled yet.
    New,
    /// Some filled, some open.
    PartiallyFilled,
    /// Completely filled.
    Filled,
    /// Left the book (or was dropped) before filling completely.
    Cancelled,
    /// Refused; nothing happened.
    Rejected,
}

impl OrderStatus {
    /// Every status, in life order.
    pub const ALL: [OrderStatus; 5] = [
        OrderStatus::New,
        OrderStatus::PartiallyFilled,
        OrderStatus::Filled,
        OrderStatus::Cancelled,
        OrderStatus::Rejected,
    ];

    /// Returns the name used in APIs and storage.
    pub const fn as_str(self) -> &'static str {
        match self {
            OrderStatus::New => "NEW",
            OrderStatus::PartiallyFilled => "PARTIALLY_FILLED",
            OrderStatus::Filled => "FILLED",
            OrderStatus::Cancelled => "CANCELLED",
            OrderStatus::Rejected => "REJECTED",
        }
    }

    /// Parses a name, in any case.
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_uppercase().as_str() {
            "NEW" => Some(OrderStatus::New),
            "PARTIALLY_FILLED" => Some(OrderStatus::PartiallyFilled),
            "FILLED" => Some(OrderStatus::Filled),
            "CANCELLED" => Some(OrderStatus::Cancelled),
            "REJECTED" => Some(OrderStatus::Rejected),
            _ => None,
        }
    }

    /// Returns whether the order can still trade.
    pub fn is_open(self) -> bool {
        matches!(self, OrderStatus::New | OrderStatus::PartiallyFilled)
    }
}

/// Limit or market.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderType {
    /// At a price or better.
    Limit,
    /// At any price, now.
    Market,
}

impl OrderType {
    /// Both types.
    pub const ALL: [OrderType; 2] = [OrderType::Limit, OrderType::Market];

    /// Returns `LIMIT` or `MARKET`.
    pub const fn as_str(self) -> &'static str {
        match self {
            OrderType::Limit => "LIMIT",
            OrderType::Market => "MARKET",
        }
    }
}

impl OrderType {
    /// Parses `LIMIT` or `MARKET`, in any case.
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_uppercase().as_str() {
            "LIMIT" => Some(OrderType::Limit),
            "MARKET" => Some(OrderType::Market),
            _ => None,
        }
    }
}

/// Parses `BUY` or `SELL`, in any case (as [`Side::parse`], for stored rows).
pub fn parse_side(text: &str) -> Option<Side> {
    Side::parse(text).ok()
}

/// Parses `GTC`, `IOC` or `FOK`, in any case.
pub fn parse_tif(text: &str) -> Option<TimeInForce> {
    match text.trim().to_ascii_uppercase().as_str() {
        "GTC" => Some(TimeInForce::Gtc),
        "IOC" => Some(TimeInForce::Ioc),
        "FOK" => Some(TimeInForce::Fok),
        _ => None,
    }
}

/// Parses `CANCEL_TAKER`, `CANCEL_MAKER` or `CANCEL_BOTH`, in any case.
pub fn parse_stp(text: &str) -> Option<SelfTradePrevention> {
    match text.trim().to_ascii_uppercase().as_str() {
        "CANCEL_TAKER" => Some(SelfTradePrevention::CancelTaker),
        "CANCEL_MAKER" => Some(SelfTradePrevention::CancelMaker),
        "CANCEL_BOTH" => Some(SelfTradePrevention::CancelBoth),
        _ => None,
    }
}

/// Returns `BUY` or `SELL`.
pub const fn side_name(side: Side) -> &'static str {
    side.as_str()
}

/// Returns `GTC`, `IOC` or `FOK`.
pub const fn tif_name(tif: TimeInForce) -> &'static str {
    match tif {
        TimeInForce::Gtc => "GTC",
        TimeInForce::Ioc => "IOC",
        TimeInForce::Fok => "FOK",
    }
}

/// Returns `CANCEL_TAKER`, `CANCEL_MAKER` or `CANCEL_BOTH`.
pub const fn stp_name(stp: SelfTradePrevention) -> &'static str {
    match stp {
        SelfTradePrevention::CancelTaker => "CANCEL_TAKER",
        SelfTradePrevention::CancelMaker => "CANCEL_MAKER",
        SelfTradePrevention::CancelBoth => "CANCEL_BOTH",
    }
}

/// One order.
#[derive(Clone, Debug, PartialEq)]
pub struct Order {
    /// Exchange-assigned id.
    pub id: u64,
    /// The client's own id, unique per account.
    pub client_order_id: Option<String>,
    /// Owner.
    pub account: AccountIdx,
    /// Index of the instrument.
    pub instrument: usize,
    /// Buy or sell.
    pub side: Side,
    /// Limit or market.
    pub order_type: OrderType,
    /// Time in force.
    pub time_in_force: TimeInForce,
    /// Rest only.
    pub post_only: bool,
    /// Self-trade prevention.
    pub self_trade: SelfTradePrevention,
    /// Limit price.
    pub price: Option<Decimal>,
    /// Ordered quantity.
    pub quantity: Decimal,
    /// Filled quantity.
    pub filled: Decimal,
    /// Sum of price × quantity of the fills (average price = filled_notional / filled).
    pub filled_notional: Decimal,
    /// Fees paid, in the quote asset.
    pub fees: Decimal,
    /// Lifecycle status.
    pub status: OrderStatus,
    /// Why it was rejected or cancelled.
    pub reason: Option<String>,
    /// When it was placed (simulated time).
    pub created_at: OffsetDateTime,
    /// When it last changed (simulated time).
    pub updated_at: OffsetDateTime,
    /// Funds still reserved for it: quote for a buy, base for a sell.
    pub locked: Decimal,
    /// Queue stamp: resting orders of a level rebuild in increasing stamp order.
    pub priority: u64,
}

impl Order {
    /// Returns the quantity still open.
    pub fn remaining(&self) -> Decimal {
        if self.status.is_open() {
            self.quantity - self.filled
        } else {
            Decimal::ZERO
        }
    }

    /// Returns the average fill price.
    pub fn average_price(&self) -> Option<Decimal> {
        (!self.filled.is_zero()).then(|| self.filled_notional / self.filled)
    }
}

/// One trade.
#[derive(Clone, Debug, PartialEq)]
pub struct Trade {
    /// Exchange-assigned id.
    pub id: u64,
    /// Index of the instrument.
    pub instrument: usize,
    /// Price.
    pub price: Decimal,
    /// Quantity.
    pub quantity: Decimal,
    /// The buying order.
    pub buy_order: u64,
    /// The selling order.
    pub sell_order: u64,
    /// The buyer.
    pub buyer: AccountIdx,
    /// The seller.
    pub seller: AccountIdx,
    /// The side of the incoming (taker) order.
    pub taker_side: Side,
    /// Fee the buyer paid, in quote.
    pub buyer_fee: Decimal,
    /// Fee the seller paid, in quote.
    pub seller_fee: Decimal,
    /// When (simulated time).
    pub executed_at: OffsetDateTime,
}
