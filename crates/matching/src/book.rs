//! The order book of one symbol and its matching loop.

use std::{
    collections::HashMap,
    hash::{BuildHasherDefault, Hasher},
};

use crate::{
    CancelReason, Command, Event, Lots, NewOrder, OrderId, OwnerId, RejectReason, RestingOrder,
    SelfTradePrevention, Side, Ticks, TimeInForce,
};

/// End of a FIFO list.
const NIL: u32 = u32::MAX;

/// A resting order in the slab, linked to its neighbours in its level's queue.
#[derive(Clone, Copy, Debug)]
struct Slot {
    id: OrderId,
    owner: OwnerId,
    price: Ticks,
    remaining: Lots,
    prev: u32,
    next: u32,
    side: Side,
    post_only: bool,
    self_trade: SelfTradePrevention,
}

/// One price level: a FIFO queue of slots and their total quantity.
#[derive(Clone, Copy, Debug)]
struct Level {
    price: Ticks,
    head: u32,
    tail: u32,
    total: Lots,
}

/// The levels of one side, sorted so the best level is last: ascending prices for bids, descending
/// for asks. New orders mostly arrive near the top, so inserts shift few elements.
#[derive(Clone, Debug, Default)]
struct Ladder {
    side: Option<Side>,
    levels: Vec<Level>,
}

impl Ladder {
    fn new(side: Side) -> Self {
        Self {
            side: Some(side),
            levels: Vec::with_capacity(256),
        }
    }

    /// Sort key: larger is better.
    fn key(&self, price: Ticks) -> Ticks {
        match self.side {
            Some(Side::Sell) => -price,
            _ => price,
        }
    }

    /// Position of `price`: `Ok` when the level exists, `Err` where it would go.
    fn find(&self, price: Ticks) -> Result<usize, usize> {
        let key = self.key(price);
        // Most lookups are near the best level, at the end: check it first.
        if let Some(last) = self.levels.last() {
            let last_key = self.key(last.price);
            if last_key == key {
                return Ok(self.levels.len() - 1);
            }
            if last_key < key {
                return Err(self.levels.len());
            }
        }
        self.levels
            .binary_search_by(|level| self.key(level.price).cmp(&key))
    }
}

/// Hashes order ids: they are usually sequential, so a multiplicative hash spreads them well and is
/// far cheaper than SipHash.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(*byte)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// The order book of one symbol.
#[derive(Clone, Debug)]
pub struct OrderBook {
    bids: Ladder,
    asks: Ladder,
    slots: Vec<Slot>,
    free: Vec<u32>,
    index: HashMap<OrderId, u32, BuildHasherDefault<IdHasher>>,
}

impl Default for OrderBook {
    fn default() -> Self {
        Self::new()
    }
}

/// The incoming order while it matches.
struct Taker {
    id: OrderId,
    owner: OwnerId,
    side: Side,
    limit: Option<Ticks>,
    remaining: Lots,
    self_trade: SelfTradePrevention,
}

impl OrderBook {
    /// An empty book.
    pub fn new() -> Self {
        Self::with_capacity(1_024)
    }

    /// An empty book with room for `orders` resting orders before it allocates.
    pub fn with_capacity(orders: usize) -> Self {
        Self {
            bids: Ladder::new(Side::Buy),
            asks: Ladder::new(Side::Sell),
            slots: Vec::with_capacity(orders),
            free: Vec::new(),
            index: HashMap::with_capacity_and_hasher(orders, BuildHasherDefault::default()),
        }
    }

    /// Executes `command`, appending what happened to `events`.
    pub fn execute(&mut self, command: Command, events: &mut Vec<Event>) {
        match command {
            Command::Place(order) => self.place(order, events),
            Command::Cancel(id) => self.cancel(id, events),
            Command::Amend { id, price, quantity } => self.amend(id, price, quantity, events),
        }
    }

    /// Returns the number of resting orders.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Returns whether no order rests.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Returns the best price and its total quantity on `side`.
    pub fn best(&self, side: Side) -> Option<(Ticks, Lots)> {
        self.ladder(side).levels.last().map(|l| (l.price, l.total))
    }

    /// Returns the best bid price.
    pub fn best_bid(&self) -> Option<Ticks> {
        self.best(Side::Buy).map(|(p, _)| p)
    }

    /// Returns the best ask price.
    pub fn best_ask(&self) -> Option<Ticks> {
        self.best(Side::Sell).map(|(p, _)| p)
    }

    /// Returns up to `levels` price levels of `side`, best first, with their total quantity.
    pub fn depth(&self, side: Side, levels: usize) -> Vec<(Ticks, Lots)> {
        self.ladder(side)
            .levels
            .iter()
            .rev()
            .take(levels)
            .map(|l| (l.price, l.total))
            .collect()
    }

    /// Returns the total resting quantity of `side`, all levels.
    pub fn volume(&self, side: Side) -> Lots {
        self.ladder(side).levels.iter().map(|l| l.total).sum()
    }

    /// Returns the resting order `id`.
    pub fn order(&self, id: OrderId) -> Option<RestingOrder> {
        self.index.get(&id).map(|&i| self.resting(i))
    }

    /// Returns the resting orders of `side` in priority order: best level first, oldest first within
    /// a level. Re-placing them in this order rebuilds the same book.
    pub fn orders(&self, side: Side) -> Vec<RestingOrder> {
        let mut out = Vec::new();
        for level in self.ladder(side).levels.iter().rev() {
            let mut cur = level.head;
            while cur != NIL {
                out.push(self.resting(cur));
                cur = self.slots[cur as usize].next;
            }
        }
        out
    }

    /// Returns how much of `quantity` an order on `side` would fill at once, and its notional (sum of
    /// price × lots), walking the opposite side no further than `limit` (`None`: any price). Self-trade
    /// prevention is not considered. Used for pre-trade checks.
    pub fn sweep(&self, side: Side, quantity: Lots, limit: Option<Ticks>) -> (Lots, i128) {
        let mut filled = 0;
        let mut notional = 0i128;
        for level in self.ladder(side.opposite()).levels.iter().rev() {
            if !crosses(side, limit, level.price) || filled == quantity {
                break;
            }
            let take = level.total.min(quantity - filled);
            filled += take;
            notional += i128::from(level.price) * i128::from(take);
        }
        (filled, notional)
    }

    fn resting(&self, slot: u32) -> RestingOrder {
        let s = &self.slots[slot as usize];
        RestingOrder {
            id: s.id,
            owner: s.owner,
            side: s.side,
            price: s.price,
            remaining: s.remaining,
        }
    }

    fn ladder(&self, side: Side) -> &Ladder {
        match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        }
    }

    fn place(&mut self, order: NewOrder, events: &mut Vec<Event>) {
        let reject = |events: &mut Vec<Event>, reason| events.push(Event::Rejected { id: order.id, reason });
        if order.quantity == 0 {
            return reject(events, RejectReason::ZeroQuantity);
        }
        if order.price.is_some_and(|p| p <= 0) {
            return reject(events, RejectReason::NonPositivePrice);
        }
        if self.index.contains_key(&order.id) {
            return reject(events, RejectReason::DuplicateOrderId);
        }
        if order.post_only {
            if order.price.is_none() {
                return reject(events, RejectReason::PostOnlyMarket);
            }
            if self.would_cross(order.side, order.price) {
                return reject(events, RejectReason::PostOnlyWouldTake);
            }
        }
        if order.time_in_force == TimeInForce::Fok && self.fillable(&order) < order.quantity {
            return reject(events, RejectReason::FillOrKillUnfillable);
        }
        let mut taker = Taker {
            id: order.id,
            owner: order.owner,
            side: order.side,
            limit: order.price,
            remaining: order.quantity,
            self_trade: order.self_trade,
        };
        if !self.take(&mut taker, events) || taker.remaining == 0 {
            return;
        }
        match (order.price, order.time_in_force) {
            (Some(price), TimeInForce::Gtc) => {
                self.rest(&order, price, taker.remaining);
                events.push(Event::Rested {
                    id: order.id,
                    side: order.side,
                    price,
                    quantity: taker.remaining,
                });
            }
            _ => events.push(Event::Cancelled {
                id: order.id,
                remaining: taker.remaining,
                reason: CancelReason::Unfilled,
            }),
        }
    }

    /// Whether an order on `side` at `limit` would match the opposite best level.
    fn would_cross(&self, side: Side, limit: Option<Ticks>) -> bool {
        self.best(side.opposite())
            .is_some_and(|(best, _)| crosses(side, limit, best))
    }

    /// How much of `order` could fill at once, following the matching loop's self-trade rules.
    fn fillable(&self, order: &NewOrder) -> Lots {
        let mut sum = 0;
        for level in self.ladder(order.side.opposite()).levels.iter().rev() {
            if !crosses(order.side, order.price, level.price) {
                break;
            }
            let mut cur = level.head;
            while cur != NIL {
                let maker = &self.slots[cur as usize];
                if maker.owner == order.owner {
                    if order.self_trade != SelfTradePrevention::CancelMaker {
                        return sum;
                    }
                } else {
                    sum += maker.remaining;
                    if sum >= order.quantity {
                        return sum;
                    }
                }
                cur = maker.next;
            }
        }
        sum
    }

    /// Matches `taker` against the opposite side. Returns `false` when self-trade prevention
    /// cancelled the taker (its remainder must not rest).
    fn take(&mut self, taker: &mut Taker, events: &mut Vec<Event>) -> bool {
        let Self {
            bids,
            asks,
            slots,
            free,
            index,
        } = self;
        let opposite = match taker.side {
            Side::Buy => asks,
            Side::Sell => bids,
        };
        while taker.remaining > 0 {
            let Some(level) = opposite.levels.last_mut() else {
                break;
            };
            if !crosses(taker.side, taker.limit, level.price) {
                break;
            }
            let mut cur = level.head;
            while cur != NIL && taker.remaining > 0 {
                let maker = slots[cur as usize];
                let next = maker.next;
                if maker.owner == taker.owner {
                    let cancel_maker = matches!(
                        taker.self_trade,
                        SelfTradePrevention::CancelMaker | SelfTradePrevention::CancelBoth
                    );
                    if cancel_maker {
                        unlink(slots, level, cur);
                        level.total -= maker.remaining;
                        index.remove(&maker.id);
                        free.push(cur);
                        events.push(Event::Cancelled {
                            id: maker.id,
                            remaining: maker.remaining,
                            reason: CancelReason::SelfTrade,
                        });
                    }
                    if taker.self_trade != SelfTradePrevention::CancelMaker {
                        events.push(Event::Cancelled {
                            id: taker.id,
                            remaining: taker.remaining,
                            reason: CancelReason::SelfTrade,
                        });
                        taker.remaining = 0;
                        if level.head == NIL {
                            opposite.levels.pop();
                        }
                        return false;
                    }
                    cur = next;
                    continue;
                }
                let quantity = taker.remaining.min(maker.remaining);
                taker.remaining -= quantity;
                let maker_remaining = maker.remaining - quantity;
                level.total -= quantity;
                events.push(Event::Trade {
                    taker: taker.id,
                    taker_owner: taker.owner,
                    taker_side: taker.side,
                    maker: maker.id,
                    maker_owner: maker.owner,
                    price: level.price,
                    quantity,
                    taker_remaining: taker.remaining,
                    maker_remaining,
                });
                if maker_remaining == 0 {
                    unlink(slots, level, cur);
                    index.remove(&maker.id);
                    free.push(cur);
                } else {
                    slots[cur as usize].remaining = maker_remaining;
                }
                cur = next;
            }
            if level.head == NIL {
                opposite.levels.pop();
            }
        }
        true
    }

    /// Puts `quantity` of `order` at the back of its level.
    fn rest(&mut self, order: &NewOrder, price: Ticks, quantity: Lots) {
        let slot = Slot {
            id: order.id,
            owner: order.owner,
            price,
            remaining: quantity,
            prev: NIL,
            next: NIL,
            side: order.side,
            post_only: order.post_only,
            self_trade: order.self_trade,
        };
        let index = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = slot;
                i
            }
            None => {
                self.slots.push(slot);
                u32::try_from(self.slots.len() - 1).expect("fewer than 4 billion resting orders")
            }
        };
        self.index.insert(order.id, index);
        let Self {
            bids, asks, slots, ..
        } = self;
        let ladder = match order.side {
            Side::Buy => bids,
            Side::Sell => asks,
        };
        let position = match ladder.find(price) {
            Ok(p) => p,
            Err(p) => {
                ladder.levels.insert(
                    p,
                    Level {
                        price,
                        head: NIL,
                        tail: NIL,
                        total: 0,
                    },
                );
                p
            }
        };
        let level = &mut ladder.levels[position];
        level.total += quantity;
        if level.tail == NIL {
            level.head = index;
        } else {
            slots[level.tail as usize].next = index;
            slots[index as usize].prev = level.tail;
        }
        level.tail = index;
    }

    /// Takes resting slot `index` out of the book; returns it.
    fn remove(&mut self, index: u32) -> Slot {
        let slot = self.slots[index as usize];
        let Self {
            bids,
            asks,
            slots,
            free,
            index: ids,
        } = self;
        let ladder = match slot.side {
            Side::Buy => bids,
            Side::Sell => asks,
        };
        if let Ok(position) = ladder.find(slot.price) {
            let level = &mut ladder.levels[position];
            unlink(slots, level, index);
            level.total -= slot.remaining;
            if level.head == NIL {
                ladder.levels.remove(position);
            }
        }
        ids.remove(&slot.id);
        free.push(index);
        slot
    }

    fn cancel(&mut self, id: OrderId, events: &mut Vec<Event>) {
        match self.index.get(&id) {
            None => events.push(Event::Rejected {
                id,
                reason: RejectReason::UnknownOrder,
            }),
            Some(&index) => {
                let slot = self.remove(index);
                events.push(Event::Cancelled {
                    id,
                    remaining: slot.remaining,
                    reason: CancelReason::Requested,
                });
            }
        }
    }

    fn amend(&mut self, id: OrderId, price: Option<Ticks>, quantity: Option<Lots>, events: &mut Vec<Event>) {
        let Some(&index) = self.index.get(&id) else {
            return events.push(Event::Rejected {
                id,
                reason: RejectReason::UnknownOrder,
            });
        };
        let slot = self.slots[index as usize];
        let new_price = price.unwrap_or(slot.price);
        let new_quantity = quantity.unwrap_or(slot.remaining);
        let reject = |events: &mut Vec<Event>, reason| events.push(Event::Rejected { id, reason });
        if new_quantity == 0 {
            return reject(events, RejectReason::ZeroQuantity);
        }
        if new_price <= 0 {
            return reject(events, RejectReason::NonPositivePrice);
        }
        if new_price == slot.price && new_quantity <= slot.remaining {
            let ladder = match slot.side {
                Side::Buy => &mut self.bids,
                Side::Sell => &mut self.asks,
            };
            if let Ok(position) = ladder.find(slot.price) {
                ladder.levels[position].total -= slot.remaining - new_quantity;
            }
            self.slots[index as usize].remaining = new_quantity;
            return events.push(Event::Amended {
                id,
                price: new_price,
                quantity: new_quantity,
                kept_priority: true,
            });
        }
        if slot.post_only && self.would_cross(slot.side, Some(new_price)) {
            return reject(events, RejectReason::PostOnlyWouldTake);
        }
        self.remove(index);
        events.push(Event::Amended {
            id,
            price: new_price,
            quantity: new_quantity,
            kept_priority: false,
        });
        self.place(
            NewOrder {
                id,
                owner: slot.owner,
                side: slot.side,
                price: Some(new_price),
                quantity: new_quantity,
                time_in_force: TimeInForce::Gtc,
                post_only: slot.post_only,
                self_trade: slot.self_trade,
            },
            events,
        );
    }
}

/// Whether an order on `side` with `limit` (`None`: market) matches a resting level at `price`.
fn crosses(side: Side, limit: Option<Ticks>, price: Ticks) -> bool {
    match (side, limit) {
        (_, None) => true,
        (Side::Buy, Some(limit)) => price <= limit,
        (Side::Sell, Some(limit)) => price >= limit,
    }
}

/// Removes slot `index` from `level`'s queue.
fn unlink(slots: &mut [Slot], level: &mut Level, index: u32) {
    let Slot { prev, next, .. } = slots[index as usize];
    if prev == NIL {
        level.head = next;
    } else {
        slots[prev as usize].next = next;
    }
    if next == NIL {
        level.tail = prev;
    } else {
        slots[next as usize].prev = prev;
    }
}

#[cfg(test)]
mod tests;
