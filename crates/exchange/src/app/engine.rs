//! The exchange's single writer. One task owns the [`Venue`] and handles every request in arrival
//! order, so matching needs no locks. Requests are applied at once but answered only after the batch
//! holding them is stored (reads too, so nobody sees state that a crash could still undo): the engine drains whatever requests
//! are queued, hands their changes (orders, trades, balances, events) to the writer as one commit,
//! and the writer answers them all once it is durable — group commit. An acknowledged order is
//! therefore always on disk, and a crash loses only requests nobody was told about.

use std::{
    collections::{BTreeSet, HashMap},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Instant,
};

use rust_decimal::Decimal;
use serde_json::json;
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};
use tse_matching::{SelfTradePrevention, Side, TimeInForce};
use tse_runtime::{
    clock::Clock,
    events::{Event, Events, types},
};
use uuid::Uuid;

use super::{
    ExchangeMetrics,
    faults::FaultState,
    views::{AccountView, BalanceView, BookView, OrderView, TradeView},
};
use crate::domain::{
    instrument::Instrument,
    order::OrderType,
    venue::{Changes, Fees, Lifecycle, PlaceRequest, Venue, VenueError},
};

/// The entity of the liquidity provider's account.
pub const LIQUIDITY_ENTITY: &str = "liquidity-provider";
/// Requests the engine handles before it commits, at most.
const REQUESTS_PER_COMMIT: usize = 2_048;
/// Levels of each book published on the market stream.
const STREAM_DEPTH: usize = 10;

/// Why a request failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EngineError {
    /// The venue refused it.
    #[error(transparent)]
    Venue(#[from] VenueError),
    /// Its changes could not be stored; it did not happen as far as anyone was told.
    #[error("the exchange could not store the change: {0}")]
    Storage(String),
    /// The engine is stopping.
    #[error("the exchange is stopping")]
    Stopped,
}

type Reply<T> = oneshot::Sender<Result<T, EngineError>>;

/// The outcome of a submitted request, once it is stored.
pub struct Pending<T>(oneshot::Receiver<Result<T, EngineError>>);

impl<T> Pending<T> {
    /// Waits for the outcome.
    ///
    /// # Errors
    /// [`EngineError`].
    pub async fn wait(self) -> Result<T, EngineError> {
        self.0.await.map_err(|_| EngineError::Stopped)?
    }
}

/// An order as placed or amended, with the trades it made.
#[derive(Clone, Debug, serde::Serialize)]
pub struct OrderOutcome {
    /// The order.
    pub order: OrderView,
    /// Its trades.
    pub trades: Vec<TradeView>,
}

/// Something that happened on a market, for streams.
#[derive(Clone, Debug)]
pub enum MarketUpdate {
    /// A trade.
    Trade(TradeView),
    /// The new top of a book.
    Book(BookView),
}

/// A request to the engine.
enum Request {
    OpenAccount {
        entity: Option<String>,
        reply: Reply<AccountView>,
    },
    Deposit {
        account: String,
        asset: String,
        amount: Decimal,
        withdraw: bool,
        reply: Reply<BalanceView>,
    },
    Place {
        request: PlaceRequest,
        received: Instant,
        reply: Reply<OrderOutcome>,
    },
    Cancel {
        id: u64,
        received: Instant,
        reply: Reply<OrderView>,
    },
    Amend {
        id: u64,
        price: Option<Decimal>,
        quantity: Option<Decimal>,
        received: Instant,
        reply: Reply<OrderOutcome>,
    },
    Balances {
        account: String,
        reply: Reply<Vec<BalanceView>>,
    },
    Account {
        account: String,
        reply: Reply<AccountView>,
    },
    Accounts {
        entity: Option<String>,
        from: usize,
        limit: usize,
        reply: Reply<Vec<AccountView>>,
    },
    Order {
        id: u64,
        reply: Reply<Option<OrderView>>,
    },
    Book {
        symbol: String,
        depth: usize,
        reply: Reply<BookView>,
    },
    Quote {
        instrument: usize,
        bids: Vec<(Decimal, Decimal)>,
        asks: Vec<(Decimal, Decimal)>,
    },
}

/// What one commit stores, and whom to answer once it is stored.
pub struct Commit {
    /// Accounts opened.
    pub accounts: Vec<AccountView>,
    /// Orders created or changed.
    pub orders: Vec<OrderView>,
    /// Orders to forget: liquidity provider quotes withdrawn without trading (keeping them would
    /// grow storage by every re-quote and tell nothing).
    pub forgotten: Vec<u64>,
    /// Trades.
    pub trades: Vec<TradeView>,
    /// Balances changed: (account id, balance).
    pub balances: Vec<(String, BalanceView)>,
    /// Assets whose fees or net deposits changed: (asset, fees, net deposits).
    pub totals: Vec<(String, Decimal, Decimal)>,
    /// Outbox events.
    pub events: Vec<Event>,
    /// Answers to send once stored.
    pub acks: Vec<Ack>,
    /// What to publish once stored.
    pub market: Vec<MarketUpdate>,
}

/// An answer waiting for its commit.
pub type Ack = Box<dyn FnOnce(Result<(), String>) + Send>;

/// The engine's handle; cheap to clone.
#[derive(Clone)]
pub struct EngineHandle {
    requests: mpsc::Sender<Request>,
    market: broadcast::Sender<Arc<Vec<MarketUpdate>>>,
    instruments: Arc<[Instrument]>,
    fees: Fees,
    ready: Arc<AtomicBool>,
}

impl EngineHandle {
    async fn call<T>(&self, make: impl FnOnce(Reply<T>) -> Request) -> Result<T, EngineError> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(make(reply))
            .await
            .map_err(|_| EngineError::Stopped)?;
        answer.await.map_err(|_| EngineError::Stopped)?
    }

    /// Returns whether the engine serves requests (its state is restored).
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Returns the listed instruments.
    pub fn instruments(&self) -> &[Instrument] {
        &self.instruments
    }

    /// Returns the fee schedule.
    pub fn fees(&self) -> Fees {
        self.fees
    }

    /// Subscribes to trades and book changes, published once stored.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Vec<MarketUpdate>>> {
        self.market.subscribe()
    }

    /// Opens an account.
    ///
    /// # Errors
    /// [`EngineError`].
    pub async fn open_account(&self, entity: Option<String>) -> Result<AccountView, EngineError> {
        self.call(|reply| Request::OpenAccount { entity, reply }).await
    }

    /// Credits (or, with `withdraw`, debits) an account.
    ///
    /// # Errors
    /// [`EngineError`].
    pub async fn move_funds(
        &self,
        account: String,
        asset: String,
        amount: Decimal,
        withdraw: bool,
    ) -> Result<BalanceView, EngineError> {
        self.call(|reply| Request::Deposit {
            account,
            asset,
            amount,
            withdraw,
            reply,
        })
        .await
    }

    /// Places an order.
    ///
    /// # Errors
    /// [`EngineError`].
    pub async fn place(&self, request: PlaceRequest) -> Result<OrderOutcome, EngineError> {
        self.submit(request).await?.wait().await
    }

    /// Hands an order to the engine and returns at once with where its outcome will arrive: orders
    /// submitted one after the other reach the book in that order, and their outcomes can be awaited
    /// together (an order entry session).
    ///
    /// # Errors
    /// [`EngineError::Stopped`].
    pub async fn submit(&self, request: PlaceRequest) -> Result<Pending<OrderOutcome>, EngineError> {
        let received = Instant::now();
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(Request::Place {
                request,
                received,
                reply,
            })
            .await
            .map_err(|_| EngineError::Stopped)?;
        Ok(Pending(answer))
    }

    /// Cancels an order.
    ///
    /// # Errors
    /// [`EngineError`].
    pub async fn cancel(&self, id: u64) -> Result<OrderView, EngineError> {
        let received = Instant::now();
        self.call(|reply| Request::Cancel { id, received, reply }).await
    }

    /// Amends an order.
    ///
    /// # Errors
    /// [`EngineError`].
    pub async fn amend(
        &self,
        id: u64,
        price: Option<Decimal>,
        quantity: Option<Decimal>,
    ) -> Result<OrderOutcome, EngineError> {
        let received = Instant::now();
        self.call(|reply| Request::Amend {
            id,
            price,
            quantity,
            received,
            reply,
        })
        .await
    }

    /// Returns an account's balances.
    ///
    /// # Errors
    /// [`EngineError`].
    pub async fn balances(&self, account: String) -> Result<Vec<BalanceView>, EngineError> {
        self.call(|reply| Request::Balances { account, reply }).await
    }

    /// Returns an account.
    ///
    /// # Errors
    /// [`EngineError`], [`VenueError::UnknownAccount`] for an unknown id.
    pub async fn account(&self, account: String) -> Result<AccountView, EngineError> {
        self.call(|reply| Request::Account { account, reply }).await
    }

    /// Returns up to `limit` accounts in id order, from the `from`-th opened (0 is `acct-1`), only
    /// those of `entity` when it is given.
    ///
    /// # Errors
    /// [`EngineError`].
    pub async fn accounts(
        &self,
        entity: Option<String>,
        from: usize,
        limit: usize,
    ) -> Result<Vec<AccountView>, EngineError> {
        self.call(|reply| Request::Accounts {
            entity,
            from,
            limit,
            reply,
        })
        .await
    }

    /// Returns an order held in memory (open or recently finished).
    ///
    /// # Errors
    /// [`EngineError`].
    pub async fn order(&self, id: u64) -> Result<Option<OrderView>, EngineError> {
        self.call(|reply| Request::Order { id, reply }).await
    }

    /// Returns the top `depth` levels of a book.
    ///
    /// # Errors
    /// [`EngineError`].
    pub async fn book(&self, symbol: String, depth: usize) -> Result<BookView, EngineError> {
        self.call(|reply| Request::Book { symbol, depth, reply }).await
    }

    /// Withdraws the liquidity provider's quotes from instrument `instrument`.
    ///
    /// # Errors
    /// [`EngineError::Stopped`].
    pub async fn withdraw_quotes(&self, instrument: usize) -> Result<(), EngineError> {
        self.quote(instrument, Vec::new(), Vec::new()).await
    }

    /// Returns the publishing side of the market stream, for the writer.
    pub fn market_sender(&self) -> broadcast::Sender<Arc<Vec<MarketUpdate>>> {
        self.market.clone()
    }

    /// Replaces the liquidity provider's quotes on instrument `instrument`.
    ///
    /// # Errors
    /// [`EngineError::Stopped`].
    pub async fn quote(
        &self,
        instrument: usize,
        bids: Vec<(Decimal, Decimal)>,
        asks: Vec<(Decimal, Decimal)>,
    ) -> Result<(), EngineError> {
        self.requests
            .send(Request::Quote {
                instrument,
                bids,
                asks,
            })
            .await
            .map_err(|_| EngineError::Stopped)
    }
}

/// A tiny seeded generator (xorshift64*) for the `reject_orders` fault: runs repeat with the seed.
struct Dice(u64);

impl Dice {
    fn roll(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The engine task's state.
pub struct Engine {
    venue: Venue,
    clock: Clock,
    events: Events,
    instance: String,
    faults: FaultState,
    metrics: Arc<dyn ExchangeMetrics>,
    dice: Dice,
    liquidity: Option<u32>,
    quotes: Vec<Vec<u64>>,
    fault_causes: HashMap<u64, Uuid>,
    touched: BTreeSet<usize>,
    requests: mpsc::Receiver<Request>,
    writer: mpsc::Sender<Commit>,
    market: broadcast::Sender<Arc<Vec<MarketUpdate>>>,
    ready: Arc<AtomicBool>,
}

/// A venue being read from storage.
pub type Restore = std::pin::Pin<Box<dyn Future<Output = Result<Venue, String>> + Send>>;

/// What the engine needs from its instance.
pub struct EngineParts {
    /// The venue: restored from storage, or empty when [`Engine::run`] is to restore it.
    pub venue: Venue,
    /// The ecosystem clock.
    pub clock: Clock,
    /// Event factory.
    pub events: Events,
    /// Instance name, for trace ids.
    pub instance: String,
    /// Active faults.
    pub faults: FaultState,
    /// Business metrics.
    pub metrics: Arc<dyn ExchangeMetrics>,
    /// Seed of the engine's dice.
    pub seed: u64,
    /// Where commits go to be stored.
    pub writer: mpsc::Sender<Commit>,
}

impl Engine {
    /// Builds the engine and its handle.
    pub fn new(parts: EngineParts) -> (Self, EngineHandle) {
        let (requests_tx, requests) = mpsc::channel(8_192);
        let (market, _) = broadcast::channel(1_024);
        let venue = parts.venue;
        let handle = EngineHandle {
            requests: requests_tx,
            market: market.clone(),
            instruments: venue.instruments().to_vec().into(),
            fees: venue.fees(),
            ready: Arc::new(AtomicBool::new(false)),
        };
        let mut engine = Self {
            quotes: vec![Vec::new(); venue.instruments().len()],
            venue,
            clock: parts.clock,
            events: parts.events,
            instance: parts.instance,
            faults: parts.faults,
            metrics: parts.metrics,
            dice: Dice(parts.seed | 1),
            liquidity: None,
            fault_causes: HashMap::new(),
            touched: BTreeSet::new(),
            requests,
            writer: parts.writer,
            market,
            ready: handle.ready.clone(),
        };
        engine.find_liquidity();
        (engine, handle)
    }

    /// Finds the liquidity provider's account and its quotes in a (restored) venue.
    fn find_liquidity(&mut self) {
        let venue = &self.venue;
        self.liquidity = (0..u32::try_from(venue.account_count()).unwrap_or(u32::MAX))
            .find(|i| venue.account_at(*i).entity.as_deref() == Some(LIQUIDITY_ENTITY));
        self.quotes = vec![Vec::new(); venue.instruments().len()];
        if let Some(lp) = self.liquidity {
            for order in venue.open_orders(lp) {
                self.quotes[order.instrument].push(order.id);
            }
        }
    }

    /// Handles requests until every handle is dropped, committing as it goes. With `restore`, the
    /// venue is first replaced by what it yields (the state read from storage once the database is
    /// reachable); requests wait meanwhile, and the API answers 503 until it is done. A restore that
    /// fails stops the engine, and so does `stop` while the restore still waits for the database.
    pub async fn run(mut self, restore: Option<Restore>, stop: CancellationToken) {
        if let Some(restore) = restore {
            let restored = tokio::select! {
                restored = restore => restored,
                () = stop.cancelled() => {
                    info!("stopping before the database returned: nothing restored, nothing to store");
                    return;
                }
            };
            match restored {
                Ok(venue) => {
                    self.venue = venue;
                    self.find_liquidity();
                }
                Err(reason) => {
                    error!(reason, "the exchange cannot restore its state and stops");
                    return;
                }
            }
        }
        self.ready.store(true, Ordering::Release);
        while let Some(first) = self.requests.recv().await {
            let mut acks: Vec<Ack> = Vec::new();
            self.handle(first, &mut acks);
            while acks.len() < REQUESTS_PER_COMMIT {
                match self.requests.try_recv() {
                    Ok(request) => self.handle(request, &mut acks),
                    Err(_) => break,
                }
            }
            let publish = self.market.receiver_count() > 0;
            let commit = self.commit(acks, publish);
            if self.writer.send(commit).await.is_err() {
                warn!("the writer is gone; the engine stops");
                return;
            }
        }
    }

    fn trace(&self, order: u64) -> String {
        format!("{}:order:{order}", self.instance)
    }

    fn handle(&mut self, request: Request, acks: &mut Vec<Ack>) {
        let at = self.clock.now();
        match request {
            Request::OpenAccount { entity, reply } => {
                let index = self.venue.open_account(entity, at);
                let view = AccountView::of(&self.venue, index);
                acks.push(deferred(reply, Ok(view)));
            }
            Request::Deposit {
                account,
                asset,
                amount,
                withdraw,
                reply,
            } => {
                let result = if withdraw {
                    self.venue.withdraw(&account, &asset, amount)
                } else {
                    self.venue.deposit(&account, &asset, amount)
                };
                let answer = result.map_err(EngineError::from).map(|_| {
                    let (a, s) = (self.venue.account(&account), self.venue.asset(&asset));
                    BalanceView::of(&self.venue, a.unwrap_or_default(), s.unwrap_or_default())
                });
                acks.push(deferred(reply, answer));
            }
            Request::Place {
                request,
                received,
                reply,
            } => {
                let answer = self.place(request, at);
                let metrics = self.metrics.clone();
                acks.push(Box::new(move |stored| {
                    let answer = stored.map_err(EngineError::Storage).and(answer);
                    if let Ok(outcome) = &answer {
                        let o = &outcome.order;
                        metrics.order(&o.symbol, o.side, o.order_type, o.status);
                        metrics.ack_latency(received.elapsed().as_secs_f64());
                    }
                    let _ = reply.send(answer);
                }));
            }
            Request::Cancel { id, received, reply } => {
                let answer = self
                    .venue
                    .cancel(id, at)
                    .map(|order| {
                        self.touched.insert(order.instrument);
                        OrderView::of(&self.venue, &order)
                    })
                    .map_err(EngineError::from);
                let metrics = self.metrics.clone();
                acks.push(Box::new(move |stored| {
                    metrics.ack_latency(received.elapsed().as_secs_f64());
                    let _ = reply.send(stored.map_err(EngineError::Storage).and(answer));
                }));
            }
            Request::Amend {
                id,
                price,
                quantity,
                received,
                reply,
            } => {
                let answer = self
                    .venue
                    .amend(id, price, quantity, at)
                    .map(|(order, trades)| {
                        self.touched.insert(order.instrument);
                        self.outcome(&order, &trades)
                    })
                    .map_err(EngineError::from);
                let metrics = self.metrics.clone();
                acks.push(Box::new(move |stored| {
                    metrics.ack_latency(received.elapsed().as_secs_f64());
                    let _ = reply.send(stored.map_err(EngineError::Storage).and(answer));
                }));
            }
            Request::Balances { account, reply } => {
                let answer = self
                    .venue
                    .account(&account)
                    .map(|a| {
                        (0..self.venue.ledger().assets().len())
                            .map(|asset| BalanceView::of(&self.venue, a, asset as u16))
                            .collect()
                    })
                    .map_err(EngineError::from);
                acks.push(deferred(reply, answer));
            }
            Request::Account { account, reply } => {
                let answer = self
                    .venue
                    .account(&account)
                    .map(|a| AccountView::of(&self.venue, a))
                    .map_err(EngineError::from);
                acks.push(deferred(reply, answer));
            }
            Request::Accounts {
                entity,
                from,
                limit,
                reply,
            } => {
                let venue = &self.venue;
                let count = u32::try_from(venue.account_count()).unwrap_or(u32::MAX);
                let from = u32::try_from(from).unwrap_or(u32::MAX);
                let page = (from..count)
                    .filter(|i| entity.is_none() || venue.account_at(*i).entity == entity)
                    .take(limit)
                    .map(|i| AccountView::of(venue, i))
                    .collect();
                acks.push(deferred(reply, Ok(page)));
            }
            Request::Order { id, reply } => {
                let answer = self.venue.order(id).map(|o| OrderView::of(&self.venue, o));
                acks.push(deferred(reply, Ok(answer)));
            }
            Request::Book { symbol, depth, reply } => {
                let answer = self
                    .venue
                    .instrument(&symbol)
                    .map(|index| BookView::of(&self.venue, index, depth, at))
                    .map_err(EngineError::from);
                acks.push(deferred(reply, answer));
            }
            Request::Quote {
                instrument,
                bids,
                asks,
            } => self.quote(instrument, &bids, &asks, at),
        }
    }

    fn outcome(
        &self,
        order: &crate::domain::order::Order,
        trades: &[crate::domain::order::Trade],
    ) -> OrderOutcome {
        OrderOutcome {
            order: OrderView::of(&self.venue, order),
            trades: trades.iter().map(|t| TradeView::of(&self.venue, t)).collect(),
        }
    }

    /// Places a client order, unless a fault refuses it first.
    fn place(
        &mut self,
        request: PlaceRequest,
        at: time::OffsetDateTime,
    ) -> Result<OrderOutcome, EngineError> {
        let effects = self.faults.now();
        let symbol = request.symbol.trim().to_ascii_uppercase();
        let refusal = if let Some(cause) = effects.halted.get(&symbol) {
            Some((format!("trading is halted on {symbol}"), *cause))
        } else if let Some((fraction, cause)) = effects.rejection(&symbol) {
            (self.dice.roll() < fraction).then(|| ("rejected by the venue".to_owned(), cause))
        } else {
            None
        };
        if let Some((reason, cause)) = refusal {
            let order = self.venue.refuse(request, &reason, at)?;
            self.fault_causes.insert(order.id, cause);
            return Ok(self.outcome(&order, &[]));
        }
        let (order, trades) = self.venue.place(request, at)?;
        self.touched.insert(order.instrument);
        Ok(self.outcome(&order, &trades))
    }

    /// Replaces the liquidity provider's quotes on one instrument, funding its account as needed.
    fn quote(
        &mut self,
        index: usize,
        bids: &[(Decimal, Decimal)],
        asks: &[(Decimal, Decimal)],
        at: time::OffsetDateTime,
    ) {
        let lp = match self.liquidity {
            Some(lp) => lp,
            None if bids.is_empty() && asks.is_empty() => return,
            None => {
                let lp = self.venue.open_account(Some(LIQUIDITY_ENTITY.into()), at);
                info!(account = %self.venue.account_at(lp).id, "liquidity provider account opened");
                self.liquidity = Some(lp);
                lp
            }
        };
        for id in std::mem::take(&mut self.quotes[index]) {
            let _ = self.venue.cancel(id, at);
        }
        self.touched.insert(index);
        let instrument = self.venue.instruments()[index].clone();
        let lp_id = self.venue.account_at(lp).id.clone();
        // The provider's treasury: keep twice what the ladder needs available. A ladder too large
        // to count is not funded; the venue then refuses its orders like any other.
        let fee = Decimal::ONE + self.venue.fees().maker.max(self.venue.fees().taker);
        let need_quote = bids.iter().try_fold(Decimal::ZERO, |sum, (p, q)| {
            sum.checked_add(p.checked_mul(*q)?.checked_mul(fee)?)
        });
        let need_base = asks
            .iter()
            .try_fold(Decimal::ZERO, |sum, (_, q)| sum.checked_add(*q));
        for (asset, need) in [(&instrument.quote, need_quote), (&instrument.base, need_base)] {
            let Some(need) = need else {
                warn!(symbol = %instrument.symbol, asset, "liquidity provider: the ladder needs more than can be counted; not funded");
                continue;
            };
            if let Ok(a) = self.venue.asset(asset) {
                let available = self.venue.ledger().balance(lp, a).available;
                let top_up = need
                    .checked_sub(available)
                    .and_then(|short| short.checked_mul(Decimal::TWO))
                    .and_then(|short| short.checked_add(Decimal::ONE));
                if available < need
                    && let Some(top_up) = top_up
                    && let Err(e) = self.venue.deposit(&lp_id, asset, top_up)
                {
                    warn!(symbol = %instrument.symbol, asset, error = %e, "liquidity provider: funding refused");
                }
            }
        }
        let orders = bids
            .iter()
            .map(|(p, q)| (Side::Buy, *p, *q))
            .chain(asks.iter().map(|(p, q)| (Side::Sell, *p, *q)));
        for (side, price, quantity) in orders {
            let request = PlaceRequest {
                account: lp_id.clone(),
                symbol: instrument.symbol.clone(),
                side,
                order_type: OrderType::Limit,
                price: Some(price),
                quantity,
                time_in_force: Some(TimeInForce::Gtc),
                post_only: true,
                client_order_id: None,
                self_trade: SelfTradePrevention::CancelTaker,
            };
            if let Ok((order, _)) = self.venue.place(request, at)
                && order.status.is_open()
            {
                self.quotes[index].push(order.id);
            }
        }
    }

    /// Collects what changed into a commit.
    fn commit(&mut self, acks: Vec<Ack>, publish: bool) -> Commit {
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
        let churn = |o: &crate::domain::order::Order| {
            Some(o.account) == lp && o.filled.is_zero() && !o.status.is_open()
        };
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

/// An answer sent once its commit is stored (or the storage error instead).
fn deferred<T: Send + 'static>(reply: Reply<T>, answer: Result<T, EngineError>) -> Ack {
    Box::new(move |stored| {
        let _ = reply.send(stored.map_err(EngineError::Storage).and(answer));
    })
}
