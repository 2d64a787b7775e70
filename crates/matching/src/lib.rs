//! A price-time priority matching engine: one [`OrderBook`] per symbol, commands in, events out.
//!
//! Pure and deterministic: no I/O, no clock, no randomness, no iteration over hash maps where order
//! becomes visible. Replaying the same commands gives the same events. Prices are integer ticks and
//! quantities integer lots; converting from decimals (and refusing prices off the tick) is the
//! caller's business, as are balances and fees.
//!
//! Supported: limit and market orders; good-till-cancelled, immediate-or-cancel and fill-or-kill;
//! post-only; cancel; amend (a smaller quantity keeps the order's place, a new price or a larger
//! quantity sends it to the back of its level, matching first if it now crosses); self-trade
//! prevention (cancel the incoming order, the resting one, or both).
//!
//! Where it sits (a pure crate: no I/O, no runtime) and the invariants it keeps: `ARCHITECTURE.md`
//! at the repository root.
//!
//! # Layout
//! - [`OrderBook::execute`] takes a [`Command`] and appends [`Event`]s to a buffer the caller reuses.
//! - Orders live in a slab with intrusive FIFO links per level; each side's levels are kept in a
//!   sorted vector with the best level last, so the common operations — adding near the top,
//!   cancelling, matching at the top — touch a few contiguous cache lines.

mod book;

pub use book::OrderBook;

/// Identifies an order; chosen by the caller, unique among the book's live orders.
pub type OrderId = u64;
/// Identifies who owns an order, for self-trade prevention.
pub type OwnerId = u64;
/// A price in integer ticks.
pub type Ticks = i64;
/// A quantity in integer lots.
pub type Lots = u64;

/// Buy or sell; shared with the services as a market type.
pub use tse_market::Side;

/// How long an order may wait for a match.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimeInForce {
    /// Good till cancelled: what does not match rests in the book.
    Gtc,
    /// Immediate or cancel: what does not match at once is cancelled.
    Ioc,
    /// Fill or kill: fills completely at once, or is rejected untouched.
    Fok,
}

/// What happens when an order would trade with a resting order of the same owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum SelfTradePrevention {
    /// Cancel the rest of the incoming order.
    #[default]
    CancelTaker,
    /// Cancel the resting order and keep matching.
    CancelMaker,
    /// Cancel both.
    CancelBoth,
}

/// A new order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NewOrder {
    /// Its id.
    pub id: OrderId,
    /// Its owner.
    pub owner: OwnerId,
    /// Buy or sell.
    pub side: Side,
    /// Limit price; `None` for a market order (which never rests).
    pub price: Option<Ticks>,
    /// Quantity.
    pub quantity: Lots,
    /// Time in force.
    pub time_in_force: TimeInForce,
    /// Rest only: rejected if any of it would match on arrival.
    pub post_only: bool,
    /// Self-trade prevention.
    pub self_trade: SelfTradePrevention,
}

/// What a book is asked to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// Match an order and rest what remains, as its time in force says.
    Place(NewOrder),
    /// Remove a resting order.
    Cancel(OrderId),
    /// Change a resting order's price and/or remaining quantity.
    Amend {
        /// The order.
        id: OrderId,
        /// New price, if it changes.
        price: Option<Ticks>,
        /// New remaining quantity, if it changes.
        quantity: Option<Lots>,
    },
}

/// Why a command was refused; the book is unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RejectReason {
    /// An order with this id is live in the book.
    DuplicateOrderId,
    /// The quantity is zero.
    ZeroQuantity,
    /// The price is zero or negative.
    NonPositivePrice,
    /// A post-only order would have matched on arrival.
    PostOnlyWouldTake,
    /// A post-only order must be a limit order.
    PostOnlyMarket,
    /// A fill-or-kill order cannot be filled completely at once.
    FillOrKillUnfillable,
    /// No live order has this id.
    UnknownOrder,
}

/// Why an order left the book unfilled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CancelReason {
    /// Cancelled on request.
    Requested,
    /// A market, IOC or FOK order's remainder that found nothing more to match.
    Unfilled,
    /// Self-trade prevention.
    SelfTrade,
}

/// What a command did, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// A trade: the incoming `taker` matched the resting `maker` at the maker's price.
    Trade {
        /// The incoming order.
        taker: OrderId,
        /// Its owner.
        taker_owner: OwnerId,
        /// The incoming order's side.
        taker_side: Side,
        /// The resting order.
        maker: OrderId,
        /// Its owner.
        maker_owner: OwnerId,
        /// Trade price.
        price: Ticks,
        /// Trade quantity.
        quantity: Lots,
        /// What remains of the taker after this trade.
        taker_remaining: Lots,
        /// What remains of the maker after this trade (0: it left the book).
        maker_remaining: Lots,
    },
    /// An order (or what remained of it after matching) now rests in the book.
    Rested {
        /// The order.
        id: OrderId,
        /// Its side.
        side: Side,
        /// Its price.
        price: Ticks,
        /// Its remaining quantity.
        quantity: Lots,
    },
    /// An order left the book, or an incoming order's remainder was dropped.
    Cancelled {
        /// The order.
        id: OrderId,
        /// Quantity that will never fill.
        remaining: Lots,
        /// Why.
        reason: CancelReason,
    },
    /// A command was refused; nothing changed.
    Rejected {
        /// The order the command named.
        id: OrderId,
        /// Why.
        reason: RejectReason,
    },
    /// A resting order was changed.
    Amended {
        /// The order.
        id: OrderId,
        /// Its price now.
        price: Ticks,
        /// Its remaining quantity now.
        quantity: Lots,
        /// Whether it kept its place in the queue (only when the quantity went down at the same
        /// price).
        kept_priority: bool,
    },
}

/// A resting order as the book holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RestingOrder {
    /// Its id.
    pub id: OrderId,
    /// Its owner.
    pub owner: OwnerId,
    /// Its side.
    pub side: Side,
    /// Its price.
    pub price: Ticks,
    /// What remains to fill.
    pub remaining: Lots,
}
