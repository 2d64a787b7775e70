//! The desk task: the one owner of the [`Desk`]. It takes events from the feeds and the venues,
//! questions from the API, and the faults in force from the back door; hands the desk's orders to
//! the venues; and stores what changed — orders, fills, positions, strategies, with the outbox
//! events that describe them — through a writer task, in order.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
    time::{Duration, Instant},
};

use rust_decimal::{Decimal, prelude::ToPrimitive};
use time::OffsetDateTime;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};
use tse_market::ClientOrderId;
use tse_proto::exchange::v1 as pb;
use tse_runtime::{
    clock::Clock,
    events::{Events, types},
    faults::FaultBoard,
    storage::{Storage, WriteBatch},
};

use super::{
    Metrics,
    convert::{self, VENUE_UNAVAILABLE},
    handle::{AppError, Query},
    venue::Command,
    views::{self, HaltView},
};
use crate::{
    domain::{
        desk::{Action, Desk, DeskError, DeskEvent, Status, strategy_of},
        faults::TradingFault,
        market::{Event, Instrument},
        order::{OrderStatus, OrderUpdate},
    },
    infra::repo,
};

/// How often strategies get a timer event, and faults are compared with the strategies running.
const TIMER: Duration = Duration::from_millis(100);
/// How often the running and P&L gauges are refreshed.
const GAUGES: Duration = Duration::from_secs(1);
/// Batches the writer may be behind before the desk waits.
const WRITER_BACKLOG: usize = 256;

/// What the feeds and venues tell the desk.
#[derive(Debug)]
pub enum Input {
    /// Something happened at simulated time `now`, received at `received`.
    Event {
        /// What.
        event: Event,
        /// When, in simulated time.
        now: OffsetDateTime,
        /// When it reached the desk's process (ack latencies are measured from it).
        received: Instant,
    },
    /// A venue is (again) ready: the desk's account there, its instruments, the orders open there.
    Ready {
        /// The exchange.
        exchange: String,
        /// The desk's account there.
        account: String,
        /// What it lists.
        instruments: Vec<Instrument>,
        /// The account's open orders.
        open: Vec<pb::Order>,
    },
    /// An order could not be placed.
    Refused {
        /// The order.
        client_order_id: ClientOrderId,
        /// Why (`venue_unavailable` or `exchange_rejected`).
        reason: &'static str,
    },
    /// An amend was accepted.
    Amended {
        /// The order.
        client_order_id: ClientOrderId,
        /// Its new price.
        price: Decimal,
        /// Its new total quantity.
        quantity: Decimal,
    },
    /// Every trade at `exchange` up to `upto` has been handed to the desk.
    Scanned {
        /// The exchange.
        exchange: String,
        /// The last trade id scanned.
        upto: u64,
    },
    /// The venue lost `exchange`: what it had sent without an answer may or may not be there.
    Down {
        /// The exchange.
        exchange: String,
    },
    /// The account's open orders at `exchange` now.
    OpenOrders {
        /// The exchange.
        exchange: String,
        /// Its open orders.
        open: Vec<pb::Order>,
    },
}

/// What the desk task needs.
pub struct DeskParts {
    /// The desk, loaded from storage.
    pub desk: Desk,
    /// Events from feeds and venues.
    pub inputs: mpsc::Receiver<Input>,
    /// Questions from the API.
    pub queries: mpsc::Receiver<Query>,
    /// Each venue's commands, by exchange.
    pub venues: BTreeMap<String, mpsc::Sender<Command>>,
    /// The back door's faults.
    pub board: FaultBoard<TradingFault>,
    /// Where changes are stored.
    pub storage: Storage,
    /// Outbox events.
    pub events: Events,
    /// The simulated clock.
    pub clock: Clock,
    /// Counters and gauges.
    pub metrics: Arc<dyn Metrics>,
    /// Ends it.
    pub stop: CancellationToken,
}

struct Task {
    desk: Desk,
    venues: BTreeMap<String, mpsc::Sender<Command>>,
    board: FaultBoard<TradingFault>,
    events: Events,
    clock: Clock,
    metrics: Arc<dyn Metrics>,
    writer: mpsc::Sender<WriteBatch>,
    /// Faults whose strategy the desk runs (or could not start), by id.
    faults: BTreeSet<String>,
    /// Sync marks to store with the next batch.
    marks: BTreeMap<String, u64>,
}

/// Runs the desk until `stop`; the writer then stores what is left.
pub async fn run(parts: DeskParts) {
    let DeskParts {
        desk,
        mut inputs,
        mut queries,
        venues,
        board,
        storage,
        events,
        clock,
        metrics,
        stop,
    } = parts;
    let (writer, batches) = mpsc::channel(WRITER_BACKLOG);
    let written = tokio::spawn(write(storage, batches));
    let mut task = Task {
        desk,
        venues,
        board,
        events,
        clock,
        metrics,
        writer,
        faults: BTreeSet::new(),
        marks: BTreeMap::new(),
    };
    for slot in task.desk.slots() {
        task.metrics
            .set_running(&slot.config.name, slot.status == Status::Running);
    }
    let mut timer = tokio::time::interval(TIMER);
    let mut gauges = tokio::time::interval(GAUGES);
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            Some(input) = inputs.recv() => task.input(input),
            Some(query) = queries.recv() => task.query(query),
            _ = timer.tick() => {
                task.follow_faults();
                let now = task.clock.now();
                let actions = task.desk.on_event(now, &Event::Timer);
                task.dispatch(actions, Instant::now());
            }
            _ = gauges.tick() => task.gauges(),
        }
        task.flush().await;
    }
    task.gauges();
    drop(task);
    let _ = written.await;
}

/// Stores batches in order until the desk is gone.
async fn write(storage: Storage, mut batches: mpsc::Receiver<WriteBatch>) {
    while let Some(batch) = batches.recv().await {
        if let Err(e) = storage.write(batch).await {
            warn!(error = %e, "trading desk: a change could not be stored");
        }
    }
}

impl Task {
    fn input(&mut self, input: Input) {
        match input {
            Input::Event { event, now, received } => {
                let actions = self.desk.on_event(now, &event);
                self.dispatch(actions, received);
            }
            Input::Ready {
                exchange,
                account,
                instruments,
                open,
            } => {
                debug!(%exchange, account, "trading desk: venue ready");
                for instrument in instruments {
                    self.desk.list(&exchange, instrument);
                }
                self.reconcile(&exchange, &open, true);
            }
            Input::Refused {
                client_order_id,
                reason,
            } => self.desk.refused(&client_order_id, reason),
            Input::Amended {
                client_order_id,
                price,
                quantity,
            } => self.desk.amended(&client_order_id, price, quantity),
            Input::Scanned { exchange, upto } => {
                self.desk.mark_synced(&exchange, upto);
                self.marks.insert(exchange, upto);
            }
            Input::OpenOrders { exchange, open } => self.reconcile(&exchange, &open, false),
            Input::Down { exchange } => {
                // Orders sent without an answer count as refused; one that did reach the exchange is
                // adopted again when the venue is back (its fills are counted either way).
                let unanswered: Vec<ClientOrderId> = self
                    .desk
                    .open_orders()
                    .filter(|o| o.spec.exchange == exchange && o.order_id.is_none())
                    .map(|o| o.client_order_id.clone())
                    .collect();
                for id in unanswered {
                    self.desk.refused(&id, VENUE_UNAVAILABLE);
                }
            }
        }
    }

    /// Compares the desk's open orders at `exchange` with the exchange's: adopts the desk's orders
    /// it did not know were open, looks up the acknowledged ones the exchange no longer has open,
    /// and (when the venue has just connected) forgets the ones that never reached it.
    fn reconcile(&mut self, exchange: &str, open: &[pb::Order], connected: bool) {
        let now = self.clock.now();
        let there: BTreeSet<&str> = open.iter().map(|o| o.client_order_id.as_str()).collect();
        for order in open {
            let Ok(id) = ClientOrderId::parse(&order.client_order_id) else {
                continue;
            };
            let Some(strategy) = strategy_of(id.as_str()) else {
                continue;
            };
            if self.desk.order(&id).is_some() {
                if let Some(update) = convert::update(order) {
                    let actions = self.desk.on_event(now, &Event::Order(update));
                    self.dispatch(actions, Instant::now());
                }
                continue;
            }
            match (
                self.desk.slot(strategy),
                convert::adopted(exchange, order, strategy),
            ) {
                (Some(_), Some(adopted)) => {
                    info!(%exchange, order = %id, "trading desk: adopted an open order it had not stored");
                    self.desk.restore_order(adopted);
                }
                _ => {
                    // An order of a strategy that no longer exists: withdraw it.
                    if let Ok(order_id) = order.id.parse() {
                        self.send(
                            exchange,
                            Command::Act(
                                Action::Cancel {
                                    exchange: exchange.to_owned(),
                                    client_order_id: id,
                                    order_id,
                                },
                                Instant::now(),
                            ),
                        );
                    }
                }
            }
        }
        let mine: Vec<(ClientOrderId, Option<u64>)> = self
            .desk
            .open_orders()
            .filter(|o| o.spec.exchange == exchange && !there.contains(o.client_order_id.as_str()))
            .map(|o| (o.client_order_id.clone(), o.order_id))
            .collect();
        for (client_order_id, order_id) in mine {
            match order_id {
                Some(order_id) => self.send(exchange, Command::Lookup(order_id)),
                None if connected => {
                    let update = OrderUpdate {
                        client_order_id,
                        order_id: None,
                        status: OrderStatus::Cancelled,
                        filled: Decimal::ZERO,
                        reason: None,
                    };
                    let actions = self.desk.on_event(now, &Event::Order(update));
                    self.dispatch(actions, Instant::now());
                }
                None => {}
            }
        }
    }

    fn send(&mut self, exchange: &str, command: Command) {
        let refused = match self.venues.get(exchange) {
            Some(venue) => match venue.try_send(command) {
                Ok(()) => None,
                Err(mpsc::error::TrySendError::Full(c) | mpsc::error::TrySendError::Closed(c)) => Some(c),
            },
            None => Some(command),
        };
        if let Some(Command::Act(Action::Place(order), _)) = refused {
            self.desk.refused(&order.client_order_id, VENUE_UNAVAILABLE);
        }
    }

    fn dispatch(&mut self, actions: Vec<Action>, received: Instant) {
        for action in actions {
            let exchange = match &action {
                Action::Place(order) => order.spec.exchange.clone(),
                Action::Cancel { exchange, .. } | Action::Amend { exchange, .. } => exchange.clone(),
            };
            self.send(&exchange, Command::Act(action, received));
        }
    }

    fn query(&mut self, query: Query) {
        let not_found = |e: DeskError| match e {
            DeskError::UnknownStrategy(_) => AppError::NotFound(e.to_string()),
            DeskError::Refused(_) => AppError::Conflict(e.to_string()),
        };
        match query {
            Query::Strategies(reply) => {
                let _ = reply.send(views::strategies(&self.desk));
            }
            Query::Strategy(name, reply) => {
                let answer = self
                    .desk
                    .slot(&name)
                    .map(|s| views::strategy(&self.desk, s))
                    .ok_or_else(|| not_found(DeskError::UnknownStrategy(name)));
                let _ = reply.send(answer);
            }
            Query::Start(name, reply) => {
                let answer = self.desk.start(&name).map(|_| ()).map_err(not_found);
                let answer = answer.map(|()| {
                    self.metrics.set_running(&name, true);
                    views::strategy(&self.desk, self.desk.slot(&name).expect("just started"))
                });
                let _ = reply.send(answer);
            }
            Query::Stop(name, reply) => {
                let answer = match self.desk.stop(&name) {
                    Ok((actions, _)) => {
                        self.dispatch(actions, Instant::now());
                        self.metrics.set_running(&name, false);
                        Ok(views::strategy(
                            &self.desk,
                            self.desk.slot(&name).expect("just stopped"),
                        ))
                    }
                    Err(e) => Err(not_found(e)),
                };
                let _ = reply.send(answer);
            }
            Query::Positions(reply) => {
                let _ = reply.send(views::all_positions(&self.desk));
            }
            Query::Pnl(reply) => {
                let _ = reply.send(views::pnl(&self.desk));
            }
            Query::Halt(reply) => {
                let running: Vec<String> = self
                    .desk
                    .slots()
                    .iter()
                    .filter(|s| s.status == Status::Running)
                    .map(|s| s.config.name.clone())
                    .collect();
                let actions = self.desk.halt();
                let cancels_sent = actions.len();
                self.dispatch(actions, Instant::now());
                for slot in self.desk.slots() {
                    self.metrics.set_running(&slot.config.name, false);
                }
                warn!(
                    strategies = running.len(),
                    cancels_sent, "trading desk: halted (kill switch)"
                );
                let _ = reply.send(HaltView {
                    halted: running,
                    cancels_sent,
                });
            }
        }
    }

    /// Starts the strategy of every fault newly in force, and stops those of faults that ended.
    fn follow_faults(&mut self) {
        let active = self.board.active_at(self.clock.now());
        let ids: BTreeSet<String> = active.iter().map(|f| f.id.clone()).collect();
        for fault in active {
            if self.faults.contains(&fault.id) {
                continue;
            }
            self.faults.insert(fault.id.clone());
            let name = fault.spec.config.name.clone();
            match self
                .desk
                .start_fault(&fault.id, fault.injection_event, fault.spec.config.clone())
            {
                Ok(()) => {
                    info!(fault = %fault.id, strategy = %name, "trading desk: chaos strategy started by a fault");
                    self.metrics.set_running(&name, true);
                }
                Err(e) => {
                    warn!(fault = %fault.id, error = %e, "trading desk: the fault's strategy cannot start")
                }
            }
        }
        let ended: Vec<String> = self.faults.difference(&ids).cloned().collect();
        for id in ended {
            self.faults.remove(&id);
            let actions = self.desk.end_fault(&id);
            self.dispatch(actions, Instant::now());
            for slot in self.desk.slots() {
                if slot.status != Status::Running {
                    self.metrics.set_running(&slot.config.name, false);
                }
            }
        }
    }

    fn gauges(&self) {
        for slot in self.desk.slots() {
            let pnl = views::pnl_of(&self.desk, slot);
            self.metrics
                .set_pnl(&slot.config.name, pnl.total_usd.to_f64().unwrap_or(0.0));
            self.metrics
                .set_running(&slot.config.name, slot.status == Status::Running);
        }
    }

    /// Stores what changed, with its outbox events, and counts it.
    async fn flush(&mut self) {
        let changes = self.desk.take_changes();
        if changes.is_empty() && self.marks.is_empty() {
            return;
        }
        let now = self.clock.now();
        let mut batch = WriteBatch::new();
        match repo::statements(&self.desk, &changes, now) {
            Ok(statements) => statements.into_iter().for_each(|s| batch.push(s)),
            Err(e) => warn!(error = %e, "trading desk: changes could not be prepared for storage"),
        }
        for (exchange, mark) in std::mem::take(&mut self.marks) {
            batch.push(repo::sync_mark(&exchange, mark));
        }
        let mut outbox = Vec::with_capacity(changes.events.len());
        for event in &changes.events {
            outbox.push(self.outbox_event(event, now));
        }
        match tse_runtime::events::Event::insert_chunked(outbox) {
            Ok(statements) => statements.into_iter().for_each(|s| batch.push(s)),
            Err(e) => warn!(error = %e, "trading desk: events could not be prepared for the outbox"),
        }
        if self.writer.send(batch).await.is_err() {
            warn!("trading desk: the writer is gone; a change was not stored");
        }
    }

    /// The outbox event of `event`, counted in the metrics as it goes.
    fn outbox_event(&self, event: &DeskEvent, now: OffsetDateTime) -> tse_runtime::events::Event {
        use serde_json::json;
        let (made, cause) = match event {
            DeskEvent::Submitted { order, cause } => {
                self.metrics.submitted(&order.strategy, &order.spec.exchange);
                let made = self.events.event_at(
                    types::TRADING_ORDER_SUBMITTED,
                    now,
                    json!({
                        "strategy": order.strategy,
                        "exchange": order.spec.exchange,
                        "client_order_id": order.client_order_id,
                        "symbol": order.spec.symbol,
                        "side": order.spec.side,
                        "order": order.spec.order_type,
                        "quantity": order.spec.quantity,
                    }),
                );
                (made.traced(order.client_order_id.to_string()), *cause)
            }
            DeskEvent::Rejected {
                strategy,
                exchange,
                client_order_id,
                reason,
                cause,
            } => {
                self.metrics.rejected(strategy, reason);
                let made = self.events.event_at(
                    types::TRADING_ORDER_REJECTED,
                    now,
                    json!({"strategy": strategy, "exchange": exchange, "client_order_id": client_order_id, "reason": reason}),
                );
                (made, *cause)
            }
            DeskEvent::Filled {
                strategy,
                fill,
                cause,
            } => {
                self.metrics.filled(strategy, &fill.exchange);
                let made = self.events.event_at(
                    types::TRADING_FILL,
                    now,
                    json!({"strategy": strategy, "fill": fill}),
                );
                (made.traced(fill.client_order_id.to_string()), *cause)
            }
            DeskEvent::Started { strategy, cause } => (
                self.events.event_at(
                    types::TRADING_STRATEGY_STARTED,
                    now,
                    json!({"strategy": strategy}),
                ),
                *cause,
            ),
            DeskEvent::Stopped { strategy, why, cause } => (
                self.events.event_at(
                    types::TRADING_STRATEGY_STOPPED,
                    now,
                    json!({"strategy": strategy, "why": why}),
                ),
                *cause,
            ),
        };
        match cause {
            Some(cause) => made.caused_by(cause),
            None => made,
        }
    }
}
