//! From the exchanges' and market data's messages to the desk's types, and back. Another
//! instance's answer is not trusted: a field that does not parse drops the message (or the level)
//! rather than the desk.

use rust_decimal::Decimal;
use time::{OffsetDateTime, format_description::well_known::Rfc3339};
use tse_market::{ClientOrderId, Side, Symbol};
use tse_proto::exchange::v1 as pb;

use crate::domain::{
    market::{BookTop, Instrument, Top},
    order::{Fill, Liquidity, OrderSpec, OrderStatus, OrderType, OrderUpdate, TrackedOrder},
};

/// Parses an RFC 3339 timestamp.
pub fn timestamp(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text, &Rfc3339).ok()
}

fn decimal(text: &str) -> Option<Decimal> {
    text.parse().ok()
}

/// An exchange's symbol listing as the desk's instrument.
pub fn instrument(symbol: &pb::Symbol) -> Option<Instrument> {
    Some(Instrument {
        symbol: Symbol::parse(&symbol.symbol).ok()?,
        tick: decimal(&symbol.tick_size)?,
        lot: decimal(&symbol.lot_size)?,
        maker_fee: decimal(&symbol.maker_fee)?,
        taker_fee: decimal(&symbol.taker_fee)?,
    })
}

/// The best levels of a book.
pub fn book_top(book: &pb::OrderBook) -> Option<(Symbol, BookTop)> {
    let level = |levels: &[pb::Level]| {
        levels.first().and_then(|l| {
            Some(Top {
                price: decimal(&l.price)?,
                quantity: decimal(&l.quantity)?,
            })
        })
    };
    Some((
        Symbol::parse(&book.symbol).ok()?,
        BookTop {
            bid: level(&book.bids),
            ask: level(&book.asks),
        },
    ))
}

/// The request placing `order` from `account`. A limit order cancels the desk's own resting order
/// rather than itself when it would meet it; a market order keeps the exchange's default
/// (`CANCEL_TAKER`, the only one a market buy supports).
pub fn place_request(order: &TrackedOrder, account: &str) -> pb::PlaceOrderRequest {
    let spec = &order.spec;
    let stp = match spec.order_type {
        OrderType::Limit { .. } => "CANCEL_MAKER",
        OrderType::Market => "CANCEL_TAKER",
    };
    let (kind, price, tif, post_only) = match spec.order_type {
        OrderType::Limit {
            price,
            time_in_force,
            post_only,
        } => ("LIMIT", price.to_string(), time_in_force.as_str(), post_only),
        OrderType::Market => ("MARKET", String::new(), "IOC", false),
    };
    pb::PlaceOrderRequest {
        account_id: account.to_owned(),
        symbol: spec.symbol.to_string(),
        side: spec.side.as_str().to_owned(),
        r#type: kind.to_owned(),
        price,
        quantity: spec.quantity.to_string(),
        time_in_force: tif.to_owned(),
        client_order_id: order.client_order_id.to_string(),
        post_only,
        self_trade_prevention: stp.to_owned(),
    }
}

/// The reason code the desk counts for an exchange's refusal.
pub const EXCHANGE_REJECTED: &str = "exchange_rejected";
/// The reason code the desk counts for an order it could not send.
pub const VENUE_UNAVAILABLE: &str = "venue_unavailable";

/// An exchange's order as the desk's update (`None` when it is not one of the desk's).
pub fn update(order: &pb::Order) -> Option<OrderUpdate> {
    let status = OrderStatus::parse(&order.status)?;
    Some(OrderUpdate {
        client_order_id: ClientOrderId::parse(&order.client_order_id).ok()?,
        order_id: order.id.parse().ok(),
        status,
        filled: decimal(&order.filled_quantity).unwrap_or_default(),
        reason: (status == OrderStatus::Rejected).then(|| EXCHANGE_REJECTED.to_owned()),
    })
}

/// The desk's side of `trade`, when `account` is on it: its side, its order id and its fee, and
/// whether it took.
pub fn own_side(trade: &pb::Trade, account: &str) -> Option<(Side, u64, Decimal, Liquidity)> {
    let taker = Side::parse(&trade.taker_side).ok()?;
    let (side, order, fee) = if trade.buyer_account_id == account {
        (Side::Buy, &trade.buy_order_id, &trade.buyer_fee)
    } else if trade.seller_account_id == account {
        (Side::Sell, &trade.sell_order_id, &trade.seller_fee)
    } else {
        return None;
    };
    let liquidity = if side == taker {
        Liquidity::Taker
    } else {
        Liquidity::Maker
    };
    Some((
        side,
        order.parse().ok()?,
        decimal(fee).unwrap_or_default(),
        liquidity,
    ))
}

/// The desk's fill in `trade`, its order named `client_order_id`.
pub fn fill(
    exchange: &str,
    trade: &pb::Trade,
    account: &str,
    client_order_id: ClientOrderId,
) -> Option<Fill> {
    let (side, order_id, fee, liquidity) = own_side(trade, account)?;
    Some(Fill {
        exchange: exchange.to_owned(),
        trade_id: trade.id.parse().ok()?,
        order_id,
        client_order_id,
        symbol: Symbol::parse(&trade.symbol).ok()?,
        side,
        price: decimal(&trade.price)?,
        quantity: decimal(&trade.quantity)?,
        fee,
        liquidity,
        at: timestamp(&trade.executed_at)?,
    })
}

/// An order the desk finds open at an exchange without having stored it (sent just before a
/// crash), rebuilt from the exchange's record.
pub fn adopted(exchange: &str, order: &pb::Order, strategy: &str) -> Option<TrackedOrder> {
    let side = Side::parse(&order.side).ok()?;
    let order_type = if order.r#type.eq_ignore_ascii_case("MARKET") {
        OrderType::Market
    } else {
        OrderType::Limit {
            price: decimal(&order.price)?,
            time_in_force: match order.time_in_force.to_ascii_uppercase().as_str() {
                "IOC" => crate::domain::order::TimeInForce::Ioc,
                "FOK" => crate::domain::order::TimeInForce::Fok,
                _ => crate::domain::order::TimeInForce::Gtc,
            },
            post_only: order.post_only,
        }
    };
    Some(TrackedOrder {
        client_order_id: ClientOrderId::parse(&order.client_order_id).ok()?,
        strategy: strategy.to_owned(),
        order_id: order.id.parse().ok(),
        spec: OrderSpec {
            exchange: exchange.to_owned(),
            symbol: Symbol::parse(&order.symbol).ok()?,
            side,
            order_type,
            quantity: decimal(&order.quantity)?,
        },
        filled: decimal(&order.filled_quantity).unwrap_or_default(),
        status: OrderStatus::parse(&order.status)?,
        created_at: timestamp(&order.created_at)?,
    })
}
