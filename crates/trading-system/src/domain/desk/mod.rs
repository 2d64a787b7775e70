//! The desk: every strategy, its orders, fills and limits, driven by events, in one deterministic
//! state machine.
//!
//! The app feeds it [`Event`]s (prices, book tops, the exchanges' answers, fills, the timer) with
//! their simulated time, and commands (start, stop, halt, a fault's strategy). It answers with
//! [`Action`]s — orders to place, cancel or amend at an exchange — and records what changed in
//! [`Changes`] for the app to store before anything is reported. It names orders `{strategy}-{n}`,
//! refuses an intent that breaks the strategy's limits (counted as a reject with the limit as
//! reason), counts a fill once per `(exchange, trade id)` whatever way it arrives, and keeps each
//! strategy's positions as the sum of its fills.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use rust_decimal::Decimal;
use time::OffsetDateTime;
use tse_market::{ClientOrderId, Symbol};
use uuid::Uuid;

#[cfg(test)]
mod tests;
mod types;

pub use types::{Action, Changes, DeskError, DeskEvent, Origin, Status, Stored};

use super::{
    market::{Event, Instrument, Market},
    order::{Fill, Intent, OrderStatus, OrderUpdate, TrackedOrder},
    position::Position,
    strategy::{self, Strategy, StrategyConfig},
};

/// One strategy and everything the desk keeps for it.
pub struct Slot {
    /// Its configuration.
    pub config: StrategyConfig,
    /// Where it comes from.
    pub origin: Origin,
    strategy: Box<dyn Strategy>,
    /// Whether it trades.
    pub status: Status,
    /// Positions by symbol, summed over its exchanges.
    pub positions: BTreeMap<Symbol, Position>,
    /// Open orders, by the desk's name.
    pub orders: BTreeMap<ClientOrderId, TrackedOrder>,
    /// Number of its next order.
    pub next_order: u64,
    /// Orders sent, by exchange.
    pub submitted: BTreeMap<String, u64>,
    /// Orders refused (by the desk's limits or the exchange), by reason.
    pub rejected: BTreeMap<String, u64>,
}

impl Slot {
    /// Returns the cause of its orders: the fault that started it, if any.
    pub fn cause(&self) -> Option<Uuid> {
        match &self.origin {
            Origin::Settings => None,
            Origin::Fault { cause, .. } => Some(*cause),
        }
    }

    /// Returns its strategy's state, to be stored.
    pub fn saved_state(&self) -> serde_json::Value {
        self.strategy.save()
    }
}

/// The desk.
pub struct Desk {
    seed: u64,
    market: Market,
    slots: Vec<Slot>,
    /// Exchange order id → the desk's name, for fills that arrive by the exchange's id.
    by_order_id: HashMap<(String, u64), ClientOrderId>,
    /// Trade ids counted, per exchange, above that exchange's `synced` mark.
    counted: BTreeMap<String, BTreeSet<u64>>,
    /// Per exchange: every trade up to this id has been counted.
    synced: BTreeMap<String, u64>,
    changes: Changes,
}

/// The seed of strategy `name`'s randomness on a desk seeded with `seed`.
pub fn strategy_seed(seed: u64, name: &str) -> u64 {
    let name = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let mut z = seed ^ name;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The strategy and number named in a client order id `{strategy}-{n}`.
fn order_name(client_order_id: &str) -> Option<(&str, u64)> {
    let (name, number) = client_order_id.rsplit_once('-')?;
    let digits = !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit());
    (!name.is_empty() && digits).then_some((name, number.parse().ok()?))
}

/// The strategy named in a client order id `{strategy}-{n}`.
pub fn strategy_of(client_order_id: &str) -> Option<&str> {
    order_name(client_order_id).map(|(name, _)| name)
}

impl Desk {
    /// A desk running `configs` (enabled ones start running), its randomness seeded with `seed`.
    ///
    /// # Errors
    /// What is wrong with a configuration.
    pub fn new(seed: u64, configs: &[StrategyConfig]) -> Result<Self, String> {
        let mut desk = Desk {
            seed,
            market: Market::default(),
            slots: Vec::new(),
            by_order_id: HashMap::new(),
            counted: BTreeMap::new(),
            synced: BTreeMap::new(),
            changes: Changes::default(),
        };
        for config in configs {
            if desk.slot(&config.name).is_some() {
                return Err(format!("strategy {} is configured twice", config.name));
            }
            let slot = desk.new_slot(config.clone(), Origin::Settings)?;
            desk.slots.push(slot);
        }
        Ok(desk)
    }

    fn new_slot(&self, config: StrategyConfig, origin: Origin) -> Result<Slot, String> {
        let strategy = strategy::build(&config, strategy_seed(self.seed, &config.name))?;
        let status = if config.enabled {
            Status::Running
        } else {
            Status::Stopped
        };
        Ok(Slot {
            config,
            origin,
            strategy,
            status,
            positions: BTreeMap::new(),
            orders: BTreeMap::new(),
            next_order: 1,
            submitted: BTreeMap::new(),
            rejected: BTreeMap::new(),
        })
    }

    /// Adds a strategy built elsewhere (tests drive the desk with scripted strategies).
    #[cfg(test)]
    fn push(&mut self, config: StrategyConfig, strategy: Box<dyn Strategy>) {
        let status = if config.enabled {
            Status::Running
        } else {
            Status::Stopped
        };
        self.slots.push(Slot {
            config,
            origin: Origin::Settings,
            strategy,
            status,
            positions: BTreeMap::new(),
            orders: BTreeMap::new(),
            next_order: 1,
            submitted: BTreeMap::new(),
            rejected: BTreeMap::new(),
        });
    }

    /// Returns the markets as the desk knows them.
    pub fn market(&self) -> &Market {
        &self.market
    }

    /// Records an exchange's instrument.
    pub fn list(&mut self, exchange: &str, instrument: Instrument) {
        self.market.list(exchange, instrument);
    }

    /// Returns every strategy, in settings order then in the order faults started them.
    pub fn slots(&self) -> &[Slot] {
        &self.slots
    }

    /// Returns the strategy named `name`.
    pub fn slot(&self, name: &str) -> Option<&Slot> {
        self.slots.iter().find(|s| s.config.name == name)
    }

    fn index(&self, name: &str) -> Option<usize> {
        self.slots.iter().position(|s| s.config.name == name)
    }

    /// Takes what changed since the last call.
    pub fn take_changes(&mut self) -> Changes {
        std::mem::take(&mut self.changes)
    }

    /// Returns every open order of every strategy.
    pub fn open_orders(&self) -> impl Iterator<Item = &TrackedOrder> {
        self.slots.iter().flat_map(|s| s.orders.values())
    }

    /// Returns the desk's name of the order `order_id` at `exchange`, when it is one of its own.
    pub fn client_order_id(&self, exchange: &str, order_id: u64) -> Option<&ClientOrderId> {
        self.by_order_id.get(&(exchange.to_owned(), order_id))
    }

    /// Returns whether the fill `trade_id` at `exchange` has been counted.
    pub fn counted(&self, exchange: &str, trade_id: u64) -> bool {
        self.synced.get(exchange).is_some_and(|s| trade_id <= *s)
            || self.counted.get(exchange).is_some_and(|c| c.contains(&trade_id))
    }

    /// Returns the mark up to which every trade at `exchange` has been counted.
    pub fn synced(&self, exchange: &str) -> u64 {
        self.synced.get(exchange).copied().unwrap_or(0)
    }

    /// Records that every trade at `exchange` up to `trade_id` has been counted (after a scan of
    /// the exchange's trades).
    pub fn mark_synced(&mut self, exchange: &str, trade_id: u64) {
        let mark = self.synced.entry(exchange.to_owned()).or_insert(0);
        if trade_id > *mark {
            *mark = trade_id;
            if let Some(counted) = self.counted.get_mut(exchange) {
                *counted = counted.split_off(&(trade_id + 1));
            }
        }
    }

    /// Records that the fill `trade_id` at `exchange` was counted before (stored above the sync
    /// mark when the desk stopped), so it is not counted again.
    pub fn remember_fill(&mut self, exchange: &str, trade_id: u64) {
        if !self.counted(exchange, trade_id) {
            self.counted
                .entry(exchange.to_owned())
                .or_default()
                .insert(trade_id);
        }
    }

    /// Reacts to `event` at simulated time `now`: updates the markets, orders and positions, and
    /// lets the strategies concerned answer.
    pub fn on_event(&mut self, now: OffsetDateTime, event: &Event) -> Vec<Action> {
        let mut actions = Vec::new();
        match event {
            Event::Price { symbol, .. } => {
                self.market.apply(event);
                for i in 0..self.slots.len() {
                    if self.slots[i].config.symbols.contains(symbol) {
                        self.react(i, now, event, &mut actions);
                    }
                }
            }
            Event::Book { exchange, symbol, .. } => {
                self.market.apply(event);
                for i in 0..self.slots.len() {
                    let c = &self.slots[i].config;
                    if c.symbols.contains(symbol) && c.exchanges.contains(exchange) {
                        self.react(i, now, event, &mut actions);
                    }
                }
            }
            Event::Timer => {
                for i in 0..self.slots.len() {
                    self.react(i, now, event, &mut actions);
                }
            }
            Event::Fill(fill) => {
                if let Some(i) = self.fill(fill) {
                    self.react(i, now, event, &mut actions);
                }
            }
            Event::Order(update) => {
                if let Some(i) = self.update(update, &mut actions) {
                    self.react(i, now, event, &mut actions);
                }
            }
        }
        actions
    }

    /// Counts a fill once: the order's filled quantity and the strategy's position move.
    fn fill(&mut self, fill: &Fill) -> Option<usize> {
        if self.counted(&fill.exchange, fill.trade_id) {
            return None;
        }
        self.counted
            .entry(fill.exchange.clone())
            .or_default()
            .insert(fill.trade_id);
        let i = self.index(strategy_of(fill.client_order_id.as_str())?)?;
        let slot = &mut self.slots[i];
        slot.positions.entry(fill.symbol.clone()).or_default().apply(
            fill.side,
            fill.price,
            fill.quantity,
            fill.fee,
        );
        if let Some(order) = slot.orders.get_mut(&fill.client_order_id) {
            order.filled += fill.quantity;
            if order.order_id.is_none() {
                order.order_id = Some(fill.order_id);
            }
            if order.filled >= order.spec.quantity {
                order.status = OrderStatus::Filled;
            } else if order.status == OrderStatus::New {
                order.status = OrderStatus::PartiallyFilled;
            }
            let order = order.clone();
            if !order.status.is_open() {
                slot.orders.remove(&order.client_order_id);
                self.by_order_id
                    .remove(&(order.spec.exchange.clone(), fill.order_id));
            }
            self.changes.orders.push(order);
        }
        let cause = slot.cause();
        let strategy = slot.config.name.clone();
        self.changes.strategies.insert(strategy.clone());
        self.changes.fills.push(fill.clone());
        self.changes.events.push(DeskEvent::Filled {
            strategy,
            fill: fill.clone(),
            cause,
        });
        Some(i)
    }

    /// Applies an exchange's answer about an order.
    fn update(&mut self, update: &OrderUpdate, actions: &mut Vec<Action>) -> Option<usize> {
        let i = self.index(strategy_of(update.client_order_id.as_str())?)?;
        let slot = &mut self.slots[i];
        let order = slot.orders.get_mut(&update.client_order_id)?;
        let exchange = order.spec.exchange.clone();
        if let Some(id) = update.order_id {
            order.order_id = Some(id);
            if update.status.is_open() {
                self.by_order_id
                    .insert((exchange.clone(), id), update.client_order_id.clone());
            }
        }
        // Fills counted from trades may be ahead of the answer; never go back.
        order.filled = order.filled.max(update.filled);
        order.status = update.status;
        if order.status.is_open() && order.filled >= order.spec.quantity {
            order.status = OrderStatus::Filled;
        }
        let order = order.clone();
        if update.status == OrderStatus::Rejected {
            let reason = update.reason.clone().unwrap_or_else(|| "rejected".to_owned());
            *slot.rejected.entry(reason.clone()).or_insert(0) += 1;
            self.changes.events.push(DeskEvent::Rejected {
                strategy: slot.config.name.clone(),
                exchange: exchange.clone(),
                client_order_id: Some(order.client_order_id.clone()),
                reason,
                cause: slot.cause(),
            });
            self.changes.strategies.insert(slot.config.name.clone());
        }
        if !order.status.is_open() {
            slot.orders.remove(&order.client_order_id);
            if let Some(id) = order.order_id {
                self.by_order_id.remove(&(exchange, id));
            }
        } else if slot.status != Status::Running
            && let Some(order_id) = order.order_id
        {
            // Acknowledged after its strategy stopped: it goes too.
            actions.push(Action::Cancel {
                exchange,
                client_order_id: order.client_order_id.clone(),
                order_id,
            });
        }
        self.changes.orders.push(order);
        Some(i)
    }

    /// Lets strategy `i` react to `event`, turning its intents into actions within its limits.
    fn react(&mut self, i: usize, now: OffsetDateTime, event: &Event, actions: &mut Vec<Action>) {
        let slot = &mut self.slots[i];
        if slot.status != Status::Running {
            return;
        }
        let mut intents = Vec::new();
        let ctx = strategy::Context {
            now,
            config: &slot.config,
            market: &self.market,
            positions: &slot.positions,
            orders: &slot.orders,
        };
        slot.strategy.on_event(event, &ctx, &mut intents);
        for intent in intents {
            self.intent(i, now, intent, actions);
        }
    }

    fn intent(&mut self, i: usize, now: OffsetDateTime, intent: Intent, actions: &mut Vec<Action>) {
        let slot = &mut self.slots[i];
        let name = slot.config.name.clone();
        match intent {
            Intent::Place(spec) => {
                let refused = if !slot.config.exchanges.contains(&spec.exchange) {
                    Some("unknown_exchange")
                } else if spec.quantity <= Decimal::ZERO {
                    Some("invalid_quantity")
                } else if !slot.config.kind.respects_limits() {
                    None
                } else if spec.quantity > slot.config.max_order_size {
                    Some("max_order_size")
                } else {
                    // The worst case: every open order on the same side fills too.
                    let open: Decimal = slot
                        .orders
                        .values()
                        .filter(|o| o.spec.symbol == spec.symbol && o.spec.side == spec.side)
                        .map(TrackedOrder::open_quantity)
                        .sum();
                    let held = slot.positions.get(&spec.symbol).copied().unwrap_or_default();
                    let worst = held.after(spec.side, spec.quantity + open);
                    let reduces = worst.abs() <= held.quantity.abs();
                    (!reduces && worst.abs() > slot.config.max_position).then_some("max_position")
                };
                if let Some(reason) = refused {
                    *slot.rejected.entry(reason.to_owned()).or_insert(0) += 1;
                    self.changes.strategies.insert(name.clone());
                    self.changes.events.push(DeskEvent::Rejected {
                        strategy: name,
                        exchange: spec.exchange,
                        client_order_id: None,
                        reason: reason.to_owned(),
                        cause: slot.cause(),
                    });
                    return;
                }
                let number = slot.next_order;
                slot.next_order += 1;
                let Ok(client_order_id) = ClientOrderId::parse(&format!("{name}-{number}")) else {
                    return;
                };
                let order = TrackedOrder {
                    client_order_id: client_order_id.clone(),
                    strategy: name.clone(),
                    order_id: None,
                    spec,
                    filled: Decimal::ZERO,
                    status: OrderStatus::Pending,
                    created_at: now,
                };
                *slot.submitted.entry(order.spec.exchange.clone()).or_insert(0) += 1;
                slot.orders.insert(client_order_id, order.clone());
                self.changes.strategies.insert(name);
                self.changes.orders.push(order.clone());
                self.changes.events.push(DeskEvent::Submitted {
                    order: order.clone(),
                    cause: slot.cause(),
                });
                actions.push(Action::Place(order));
            }
            Intent::Cancel { client_order_id } => {
                if let Some(order) = slot.orders.get(&client_order_id)
                    && let Some(order_id) = order.order_id
                {
                    actions.push(Action::Cancel {
                        exchange: order.spec.exchange.clone(),
                        client_order_id,
                        order_id,
                    });
                }
            }
            Intent::Amend {
                client_order_id,
                price,
                quantity,
            } => {
                let Some(order) = slot.orders.get(&client_order_id) else {
                    return;
                };
                let Some(order_id) = order.order_id else {
                    return;
                };
                let grows = quantity > order.spec.quantity;
                if slot.config.kind.respects_limits() && grows && quantity > slot.config.max_order_size {
                    let reason = "max_order_size";
                    *slot.rejected.entry(reason.to_owned()).or_insert(0) += 1;
                    self.changes.strategies.insert(name.clone());
                    self.changes.events.push(DeskEvent::Rejected {
                        strategy: name,
                        exchange: order.spec.exchange.clone(),
                        client_order_id: Some(client_order_id),
                        reason: reason.to_owned(),
                        cause: slot.cause(),
                    });
                    return;
                }
                actions.push(Action::Amend {
                    exchange: order.spec.exchange.clone(),
                    client_order_id,
                    order_id,
                    price,
                    quantity,
                });
            }
        }
    }

    /// Records that an order could not be sent or was refused before the exchange stored it
    /// (`reason`: `venue_unavailable`, the exchange's error code, ...).
    pub fn refused(&mut self, client_order_id: &ClientOrderId, reason: &str) {
        let update = OrderUpdate {
            client_order_id: client_order_id.clone(),
            order_id: None,
            status: OrderStatus::Rejected,
            filled: Decimal::ZERO,
            reason: Some(reason.to_owned()),
        };
        let mut actions = Vec::new();
        self.update(&update, &mut actions);
    }

    /// Records an amended order's new price and quantity, as the exchange accepted them.
    pub fn amended(&mut self, client_order_id: &ClientOrderId, price: Decimal, quantity: Decimal) {
        let Some(i) = strategy_of(client_order_id.as_str()).and_then(|n| self.index(n)) else {
            return;
        };
        if let Some(order) = self.slots[i].orders.get_mut(client_order_id) {
            if let super::order::OrderType::Limit { price: p, .. } = &mut order.spec.order_type {
                *p = price;
            }
            order.spec.quantity = quantity;
            self.changes.orders.push(order.clone());
        }
    }

    /// Starts strategy `name`.
    ///
    /// # Errors
    /// [`DeskError::UnknownStrategy`]; [`DeskError::Refused`] for a chaos strategy, which only
    /// its fault starts.
    pub fn start(&mut self, name: &str) -> Result<&Slot, DeskError> {
        let i = self
            .index(name)
            .ok_or_else(|| DeskError::UnknownStrategy(name.to_owned()))?;
        let slot = &mut self.slots[i];
        if slot.config.kind.is_chaos() && slot.origin == Origin::Settings {
            return Err(DeskError::Refused(format!(
                "{name} is a chaos strategy ({}); it runs while a {} fault is injected through /chaos/v1/faults",
                slot.config.kind, slot.config.kind
            )));
        }
        if slot.status != Status::Running {
            slot.status = Status::Running;
            self.changes.strategies.insert(name.to_owned());
            self.changes.events.push(DeskEvent::Started {
                strategy: name.to_owned(),
                cause: slot.cause(),
            });
        }
        Ok(&self.slots[i])
    }

    /// Stops strategy `name` and cancels its open orders.
    ///
    /// # Errors
    /// [`DeskError::UnknownStrategy`].
    pub fn stop(&mut self, name: &str) -> Result<(Vec<Action>, &Slot), DeskError> {
        let i = self
            .index(name)
            .ok_or_else(|| DeskError::UnknownStrategy(name.to_owned()))?;
        let actions = self.halt_slot(i, Status::Stopped, "stopped");
        Ok((actions, &self.slots[i]))
    }

    /// The kill switch: stops every strategy and cancels every open order.
    pub fn halt(&mut self) -> Vec<Action> {
        (0..self.slots.len())
            .flat_map(|i| self.halt_slot(i, Status::Halted, "halted"))
            .collect()
    }

    fn halt_slot(&mut self, i: usize, status: Status, why: &'static str) -> Vec<Action> {
        let slot = &mut self.slots[i];
        if slot.status == Status::Running {
            self.changes.events.push(DeskEvent::Stopped {
                strategy: slot.config.name.clone(),
                why,
                cause: slot.cause(),
            });
        }
        if slot.status != status {
            slot.status = status;
            self.changes.strategies.insert(slot.config.name.clone());
        }
        slot.orders
            .values()
            .filter_map(|o| {
                Some(Action::Cancel {
                    exchange: o.spec.exchange.clone(),
                    client_order_id: o.client_order_id.clone(),
                    order_id: o.order_id?,
                })
            })
            .collect()
    }

    /// Runs a fault's chaos strategy: replaces the stopped one of the same name, or adds it.
    ///
    /// # Errors
    /// When a strategy of that name is running for another fault, or the configuration is bad.
    pub fn start_fault(&mut self, fault: &str, cause: Uuid, config: StrategyConfig) -> Result<(), String> {
        let name = config.name.clone();
        let origin = Origin::Fault {
            id: fault.to_owned(),
            cause,
        };
        match self.index(&name) {
            Some(i) if self.slots[i].status == Status::Running => {
                return Err(format!("{name} is already running"));
            }
            Some(i) => {
                let old = &mut self.slots[i];
                let (positions, orders, next_order, submitted, rejected) = (
                    std::mem::take(&mut old.positions),
                    std::mem::take(&mut old.orders),
                    old.next_order,
                    std::mem::take(&mut old.submitted),
                    std::mem::take(&mut old.rejected),
                );
                let mut slot = self.new_slot(config, origin)?;
                (
                    slot.positions,
                    slot.orders,
                    slot.next_order,
                    slot.submitted,
                    slot.rejected,
                ) = (positions, orders, next_order, submitted, rejected);
                self.slots[i] = slot;
            }
            None => {
                let slot = self.new_slot(config, origin)?;
                self.slots.push(slot);
            }
        }
        self.changes.strategies.insert(name.clone());
        self.changes.events.push(DeskEvent::Started {
            strategy: name,
            cause: Some(cause),
        });
        Ok(())
    }

    /// Stops the strategy fault `fault` runs, if it still does, and cancels its orders.
    pub fn end_fault(&mut self, fault: &str) -> Vec<Action> {
        let Some(i) = self
            .slots
            .iter()
            .position(|s| matches!(&s.origin, Origin::Fault { id, .. } if id == fault))
        else {
            return Vec::new();
        };
        if self.slots[i].status != Status::Running {
            return Vec::new();
        }
        self.halt_slot(i, Status::Stopped, "fault_ended")
    }

    /// Puts back what was stored of strategy `name` after a restart.
    pub fn restore(&mut self, name: &str, stored: Stored) {
        let Some(i) = self.index(name) else {
            return;
        };
        let slot = &mut self.slots[i];
        if let Some(status) = stored.status
            && !(slot.config.kind.is_chaos() && status == Status::Running)
        {
            slot.status = status;
        }
        slot.next_order = slot.next_order.max(stored.next_order);
        slot.positions = stored.positions;
        slot.submitted = stored.submitted;
        slot.rejected = stored.rejected;
        if let Some(state) = stored.state {
            // A state the strategy cannot read again is dropped: it starts afresh.
            let _ = slot.strategy.restore(&state);
        }
    }

    /// Puts back an order that was open when the desk stopped.
    pub fn restore_order(&mut self, order: TrackedOrder) {
        let Some(i) = self.index(&order.strategy) else {
            return;
        };
        if let Some(id) = order.order_id {
            self.by_order_id
                .insert((order.spec.exchange.clone(), id), order.client_order_id.clone());
        }
        let slot = &mut self.slots[i];
        if let Some((_, number)) = order_name(order.client_order_id.as_str()) {
            slot.next_order = slot.next_order.max(number + 1);
        }
        slot.orders.insert(order.client_order_id.clone(), order);
    }

    /// Returns the open order named `client_order_id`.
    pub fn order(&self, client_order_id: &ClientOrderId) -> Option<&TrackedOrder> {
        let i = self.index(strategy_of(client_order_id.as_str())?)?;
        self.slots[i].orders.get(client_order_id)
    }
}
