//! Orders as the desk sees them: what a strategy asks for ([`Intent`]), what the desk sends and
//! tracks ([`OrderSpec`], [`TrackedOrder`]), and what comes back ([`OrderUpdate`], [`Fill`]).

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tse_market::{ClientOrderId, Side, Symbol};

/// How long an order lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TimeInForce {
    /// Good till cancelled: rests in the book.
    Gtc,
    /// Immediate or cancel: what does not trade at once is cancelled.
    Ioc,
    /// Fill or kill: trades whole at once or not at all.
    Fok,
}

impl TimeInForce {
    /// The exchange API's name (`GTC`).
    pub fn as_str(self) -> &'static str {
        match self {
            TimeInForce::Gtc => "GTC",
            TimeInForce::Ioc => "IOC",
            TimeInForce::Fok => "FOK",
        }
    }
}

/// Limit or market.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderType {
    /// At `price` or better.
    Limit {
        /// Limit price (a multiple of the instrument's tick).
        price: Decimal,
        /// How long it lives.
        time_in_force: TimeInForce,
        /// Refused rather than taking liquidity.
        post_only: bool,
    },
    /// At whatever the book offers (immediate or cancel).
    Market,
}

/// An order a strategy wants at an exchange.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderSpec {
    /// The exchange instance (`exchange-OKX`).
    pub exchange: String,
    /// The symbol.
    pub symbol: Symbol,
    /// Buy or sell.
    pub side: Side,
    /// Limit or market.
    #[serde(flatten)]
    pub order_type: OrderType,
    /// Quantity in the base asset (a multiple of the instrument's lot).
    pub quantity: Decimal,
}

impl OrderSpec {
    /// Returns the limit price, for a limit order.
    pub fn price(&self) -> Option<Decimal> {
        match self.order_type {
            OrderType::Limit { price, .. } => Some(price),
            OrderType::Market => None,
        }
    }

    /// Returns whether the order may rest in the book.
    pub fn rests(&self) -> bool {
        matches!(
            self.order_type,
            OrderType::Limit {
                time_in_force: TimeInForce::Gtc,
                ..
            }
        )
    }
}

/// What a strategy asks the desk to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Intent {
    /// Place a new order (the desk names it).
    Place(OrderSpec),
    /// Cancel one of the strategy's open orders.
    Cancel {
        /// The order, as the desk named it.
        client_order_id: ClientOrderId,
    },
    /// Change the price or total quantity of one of the strategy's open orders.
    Amend {
        /// The order, as the desk named it.
        client_order_id: ClientOrderId,
        /// New limit price.
        price: Decimal,
        /// New total quantity (filled + open).
        quantity: Decimal,
    },
}

/// An order's state, as the exchange reports it (`Pending` until it has answered).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderStatus {
    /// Sent, not yet acknowledged.
    Pending,
    /// Resting, nothing filled.
    New,
    /// Resting, partly filled.
    PartiallyFilled,
    /// Completely filled.
    Filled,
    /// Cancelled (by the desk, or what an IOC order left).
    Cancelled,
    /// Refused by the exchange.
    Rejected,
}

impl OrderStatus {
    /// Parses the exchange's name (`PARTIALLY_FILLED`).
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text.trim().to_ascii_uppercase().as_str() {
            "PENDING" => OrderStatus::Pending,
            "NEW" => OrderStatus::New,
            "PARTIALLY_FILLED" => OrderStatus::PartiallyFilled,
            "FILLED" => OrderStatus::Filled,
            "CANCELLED" | "CANCELED" => OrderStatus::Cancelled,
            "REJECTED" => OrderStatus::Rejected,
            _ => return None,
        })
    }

    /// The exchange's name.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "PENDING",
            OrderStatus::New => "NEW",
            OrderStatus::PartiallyFilled => "PARTIALLY_FILLED",
            OrderStatus::Filled => "FILLED",
            OrderStatus::Cancelled => "CANCELLED",
            OrderStatus::Rejected => "REJECTED",
        }
    }

    /// Returns whether the order may still trade.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            OrderStatus::Pending | OrderStatus::New | OrderStatus::PartiallyFilled
        )
    }
}

/// An order of the desk's, as the desk tracks it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackedOrder {
    /// The desk's name for it (`{strategy}-{n}`), also sent to the exchange.
    pub client_order_id: ClientOrderId,
    /// The strategy that placed it.
    pub strategy: String,
    /// The exchange's id, once it has answered.
    pub order_id: Option<u64>,
    /// What was asked.
    pub spec: OrderSpec,
    /// Quantity filled so far.
    pub filled: Decimal,
    /// Its state.
    pub status: OrderStatus,
    /// When it was sent (simulated time).
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl TrackedOrder {
    /// Returns the quantity still open.
    pub fn open_quantity(&self) -> Decimal {
        if self.status.is_open() {
            (self.spec.quantity - self.filled).max(Decimal::ZERO)
        } else {
            Decimal::ZERO
        }
    }
}

/// An exchange's answer about one of the desk's orders.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderUpdate {
    /// The desk's name for it.
    pub client_order_id: ClientOrderId,
    /// The exchange's id (none when the exchange refused the request before storing an order).
    pub order_id: Option<u64>,
    /// Its state now.
    pub status: OrderStatus,
    /// Quantity filled so far, as the exchange counts it.
    pub filled: Decimal,
    /// Why it was rejected or cancelled, when the exchange says.
    pub reason: Option<String>,
}

/// Whether an order's fill took liquidity or rested.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Liquidity {
    /// The order rested and was hit.
    Maker,
    /// The order took what rested.
    Taker,
}

/// One trade of one of the desk's orders.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fill {
    /// The exchange instance.
    pub exchange: String,
    /// The exchange's trade id (unique per exchange: a fill is counted once).
    pub trade_id: u64,
    /// The exchange's id of the desk's order.
    pub order_id: u64,
    /// The desk's name for the order.
    pub client_order_id: ClientOrderId,
    /// The symbol.
    pub symbol: Symbol,
    /// The desk's side.
    pub side: Side,
    /// Trade price.
    pub price: Decimal,
    /// Traded quantity (base asset).
    pub quantity: Decimal,
    /// Fee the desk paid, in the quote asset.
    pub fee: Decimal,
    /// Maker or taker.
    pub liquidity: Liquidity,
    /// When it traded (simulated time).
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}
