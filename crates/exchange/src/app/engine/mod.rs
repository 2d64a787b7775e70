//! The exchange's single writer. One task owns the [`Venue`] and handles every request in arrival
//! order, so matching needs no locks. Requests are applied at once but answered only after the batch
//! holding them is stored (reads too, so nobody sees state that a crash could still undo): the engine drains whatever requests
//! are queued, hands their changes (orders, trades, balances, events) to the writer as one commit,
//! and the writer answers them all once it is durable — group commit. An acknowledged order is
//! therefore always on disk, and a crash loses only requests nobody was told about.
//!
//! Each request is one type in its own file, holding what was asked, how the engine applies it and
//! how it is answered, with the [`EngineHandle`] method that sends it: `accounts` (open, deposit,
//! withdraw), `place`, `cancel`, `amend`, `query` (reads), `quote` (the liquidity provider's
//! ladder). `request` dispatches them; `commit` turns what changed into one [`Commit`].

mod accounts;
mod amend;
mod cancel;
mod commit;
mod place;
mod query;
mod quote;
mod request;

use std::{
    collections::{BTreeSet, HashMap},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use rust_decimal::Decimal;
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};
use tse_runtime::{
    clock::Clock,
    events::{Event, Events},
    storage::StorageError,
};
use uuid::Uuid;

use self::{place::Dice, request::Request};
use super::{
    ExchangeMetrics,
    faults::FaultState,
    views::{AccountView, BalanceView, BookView, OrderView, TradeView},
};
use crate::domain::{
    instrument::Instrument,
    order::{Order, Trade},
    venue::{Fees, Venue, VenueError},
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
    Storage(#[source] Arc<StorageError>),
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
pub type Ack = Box<dyn FnOnce(Result<(), Arc<StorageError>>) + Send>;

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

    /// Returns the publishing side of the market stream, for the writer.
    pub fn market_sender(&self) -> broadcast::Sender<Arc<Vec<MarketUpdate>>> {
        self.market.clone()
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

    fn outcome(&self, order: &Order, trades: &[Trade]) -> OrderOutcome {
        OrderOutcome {
            order: OrderView::of(&self.venue, order),
            trades: trades.iter().map(|t| TradeView::of(&self.venue, t)).collect(),
        }
    }
}

/// An answer sent once its commit is stored (or the storage error instead).
fn deferred<T: Send + 'static>(reply: Reply<T>, answer: Result<T, EngineError>) -> Ack {
    Box::new(move |stored| {
        let _ = reply.send(stored.map_err(EngineError::Storage).and(answer));
    })
}

/// As [`deferred`], recording the acknowledgement latency of a request received at `received`.
fn timed<T: Send + 'static>(
    engine: &Engine,
    received: std::time::Instant,
    reply: Reply<T>,
    answer: Result<T, EngineError>,
) -> Ack {
    let metrics = engine.metrics.clone();
    Box::new(move |stored| {
        metrics.ack_latency(received.elapsed().as_secs_f64());
        let _ = reply.send(stored.map_err(EngineError::Storage).and(answer));
    })
}
