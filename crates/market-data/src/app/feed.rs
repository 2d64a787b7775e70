//! The running feed. The [`Engine`] owns the generator and steps it on the simulated clock: every
//! tick due since the last round is produced, priced under the faults in effect at its instant,
//! published to subscribers, folded into the latest prices and candles the API reads ([`Feed`]), and
//! handed to the writer with its events and the engine's state.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{Arc, RwLock},
    time::Duration,
};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;
use tracing::info;
use tse_runtime::{
    clock::Clock,
    events::{Event, Events, types},
    faults::{Fault, FaultBoard, FaultStatus},
    health::{Check, Health},
};

use super::MarketMetrics;
use crate::domain::{
    candles::{Candle, CandleSeries, Interval},
    faults::MarketFault,
    pricing::{ActiveFault, price},
    process::Generator,
    symbol::{Symbol, SymbolSpec},
};

/// Most generator steps one round produces; a feed further behind catches up over several rounds
/// (each handed to the writer, which paces the feed when storage cannot keep up).
const MAX_STEPS_PER_ROUND: u64 = 2_000;

/// Name of the health check the feed reports.
pub const FEED_CHECK: &str = "feed";

/// One published price.
#[derive(Clone, Debug, PartialEq)]
pub struct Tick {
    /// The symbol.
    pub symbol: Symbol,
    /// The price.
    pub price: Decimal,
    /// Increases by one with every price published for the symbol.
    pub sequence: u64,
    /// When it was published, in simulated time.
    pub timestamp: OffsetDateTime,
}

/// What the production API reads.
struct Market {
    latest: BTreeMap<Symbol, Tick>,
    candles: BTreeMap<(Symbol, Interval), CandleSeries>,
}

/// The feed as the API sees it; cheap to clone.
#[derive(Clone)]
pub struct Feed {
    inner: Arc<FeedInner>,
}

struct FeedInner {
    specs: Arc<[SymbolSpec]>,
    market: RwLock<Market>,
    ticks: broadcast::Sender<Arc<Vec<Tick>>>,
    board: FaultBoard<MarketFault>,
}

impl Feed {
    /// Returns the published symbols.
    pub fn symbols(&self) -> &[SymbolSpec] {
        &self.inner.specs
    }

    /// Returns the published symbol equal to `text`, if any.
    pub fn symbol(&self, text: &str) -> Option<&SymbolSpec> {
        let symbol = Symbol::parse(text).ok()?;
        self.inner.specs.iter().find(|s| s.symbol == symbol)
    }

    /// Returns the latest price of `symbol`.
    pub fn latest(&self, symbol: &Symbol) -> Option<Tick> {
        self.market().latest.get(symbol).cloned()
    }

    /// Returns the latest price of every symbol that has one, in configuration order.
    pub fn all_latest(&self) -> Vec<Tick> {
        let market = self.market();
        self.inner
            .specs
            .iter()
            .filter_map(|s| market.latest.get(&s.symbol).cloned())
            .collect()
    }

    /// Returns the `limit` most recent candles of `symbol` at `interval`, oldest first.
    pub fn candles(&self, symbol: &Symbol, interval: Interval, limit: usize) -> Vec<Candle> {
        self.market()
            .candles
            .get(&(symbol.clone(), interval))
            .map(|series| series.last(limit))
            .unwrap_or_default()
    }

    /// Subscribes to every round of published ticks.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Vec<Tick>>> {
        self.inner.ticks.subscribe()
    }

    /// Returns whether an outage fault makes the feed unavailable now.
    pub fn in_outage(&self) -> bool {
        self.inner
            .board
            .active()
            .iter()
            .any(|f| matches!(f.spec, MarketFault::Outage))
    }

    /// Returns the fault board, to watch for faults starting and ending.
    pub fn faults(&self) -> &FaultBoard<MarketFault> {
        &self.inner.board
    }

    fn market(&self) -> std::sync::RwLockReadGuard<'_, Market> {
        self.inner.market.read().unwrap_or_else(|e| e.into_inner())
    }
}

/// Everything the engine must save to continue exactly after a restart.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Instance seed.
    pub seed: u64,
    /// Simulated time of step 0.
    #[serde(with = "time::serde::rfc3339")]
    pub origin: OffsetDateTime,
    /// Simulated time between steps, in milliseconds.
    pub interval_ms: u64,
    /// Steps taken.
    pub tick: u64,
    /// The symbols, in order, to detect a changed configuration.
    pub symbols: Vec<String>,
    /// The generator's leg states.
    pub legs: Vec<f64>,
    /// Lasting factors left by finished shocks and depegs.
    pub levels: BTreeMap<Symbol, f64>,
    /// Faults whose lasting factor is already in `levels`.
    pub folded: BTreeSet<String>,
    /// Last sequence number per symbol.
    pub sequences: BTreeMap<Symbol, u64>,
    /// Last published price per symbol.
    pub last: BTreeMap<Symbol, Decimal>,
    /// Prices frozen by a stale feed.
    pub frozen: BTreeMap<Symbol, Decimal>,
}

/// What one round gives the writer.
pub struct Persist {
    /// Published ticks.
    pub ticks: Vec<Tick>,
    /// Candles the ticks changed (latest state of each).
    pub candles: Vec<(Symbol, Interval, Candle)>,
    /// Events of the round.
    pub events: Vec<Event>,
    /// The engine's state after the round.
    pub snapshot: Snapshot,
}

/// Where a feed starts: fresh, or from saved state and candles.
pub struct Start {
    /// Saved state, when it matches the configuration.
    pub snapshot: Option<Snapshot>,
    /// Saved candles per symbol and interval, oldest first.
    pub candles: BTreeMap<(Symbol, Interval), Vec<Candle>>,
}

/// The owner of the generator; runs until stopped.
pub struct Engine {
    feed: Feed,
    generator: Generator,
    specs: Arc<[SymbolSpec]>,
    seed: u64,
    origin: OffsetDateTime,
    interval: Duration,
    levels: BTreeMap<Symbol, f64>,
    folded: BTreeSet<String>,
    sequences: BTreeMap<Symbol, u64>,
    last: BTreeMap<Symbol, Decimal>,
    frozen: BTreeMap<Symbol, Decimal>,
    clock: Clock,
    events: Events,
    health: Health,
    metrics: Arc<dyn MarketMetrics>,
    writer: mpsc::Sender<Persist>,
}

/// What the engine needs from its instance.
pub struct EngineParts {
    /// The published symbols.
    pub specs: Arc<[SymbolSpec]>,
    /// The instance seed.
    pub seed: u64,
    /// Simulated time between steps.
    pub interval: Duration,
    /// The ecosystem clock.
    pub clock: Clock,
    /// Event factory.
    pub events: Events,
    /// Instance health, for the feed check.
    pub health: Health,
    /// Business metrics.
    pub metrics: Arc<dyn MarketMetrics>,
    /// The fault board.
    pub board: FaultBoard<MarketFault>,
    /// Where rounds go to be stored.
    pub writer: mpsc::Sender<Persist>,
}

impl Engine {
    /// Builds the engine and the feed it publishes to, resuming saved state when it matches the
    /// configuration, and skipping silently over the steps that fell due while the instance was not
    /// running (the true market moved on; nothing was published meanwhile).
    pub fn new(parts: EngineParts, start: Start) -> (Self, Feed) {
        let EngineParts {
            specs,
            seed,
            interval,
            clock,
            events,
            health,
            metrics,
            board,
            writer,
        } = parts;
        let names: Vec<String> = specs.iter().map(|s| s.symbol.to_string()).collect();
        let interval_ms = u64::try_from(interval.as_millis()).unwrap_or(u64::MAX);
        let resumed = start
            .snapshot
            .filter(|s| s.seed == seed && s.interval_ms == interval_ms && s.symbols == names);
        let (generator, origin, snapshot) = match resumed.and_then(|s| {
            Generator::resume(&specs, seed, interval, s.tick, &s.legs)
                .ok()
                .map(|g| (g, s))
        }) {
            Some((generator, snapshot)) => {
                info!(tick = snapshot.tick, "feed resumes from its saved state");
                (generator, snapshot.origin, Some(snapshot))
            }
            None => {
                info!(seed, interval = ?interval, symbols = names.len(), "feed starts");
                (Generator::new(&specs, seed, interval), clock.now(), None)
            }
        };
        let candles = start
            .candles
            .into_iter()
            .map(|(key, saved)| {
                let series = CandleSeries::restored(key.1, saved);
                (key, series)
            })
            .collect();
        let (ticks, _) = broadcast::channel(1_024);
        let feed = Feed {
            inner: Arc::new(FeedInner {
                specs: specs.clone(),
                market: RwLock::new(Market {
                    latest: BTreeMap::new(),
                    candles,
                }),
                ticks,
                board,
            }),
        };
        let mut engine = Self {
            feed: feed.clone(),
            generator,
            specs,
            seed,
            origin,
            interval,
            levels: BTreeMap::new(),
            folded: BTreeSet::new(),
            sequences: BTreeMap::new(),
            last: BTreeMap::new(),
            frozen: BTreeMap::new(),
            clock,
            events,
            health,
            metrics,
            writer,
        };
        if let Some(s) = snapshot {
            engine.levels = s.levels;
            engine.folded = s.folded;
            engine.sequences = s.sequences;
            engine.last = s.last;
            engine.frozen = s.frozen;
            engine.skip_to(engine.clock.now());
            // The API answers with the last prices until the next round publishes new ones.
            let mut market = engine
                .feed
                .inner
                .market
                .write()
                .unwrap_or_else(|e| e.into_inner());
            for (symbol, price) in &engine.last {
                market.latest.insert(
                    symbol.clone(),
                    Tick {
                        symbol: symbol.clone(),
                        price: *price,
                        sequence: engine.sequences.get(symbol).copied().unwrap_or(0),
                        timestamp: engine.time_of(engine.generator.tick()),
                    },
                );
            }
        }
        (engine, feed)
    }

    fn time_of(&self, tick: u64) -> OffsetDateTime {
        let nanos = self.interval.as_nanos().saturating_mul(u128::from(tick));
        self.origin + Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    /// Steps without publishing up to `now`, applying the lasting effects of faults that ended.
    fn skip_to(&mut self, now: OffsetDateTime) {
        let faults = self.feed.inner.board.list();
        while self.time_of(self.generator.tick() + 1) <= now {
            self.generator.step();
        }
        self.fold(&faults, now);
    }

    /// Folds into the levels the lasting factor of every shock or depeg that ran its full course by
    /// `at`, once.
    fn fold(&mut self, faults: &[Fault<MarketFault>], at: OffsetDateTime) {
        for fault in faults {
            let ran_its_course = fault.status == FaultStatus::Expired
                && fault.ends_at.is_some_and(|end| end <= at)
                && fault.ended_at == fault.ends_at;
            if !ran_its_course || self.folded.contains(&fault.id) {
                continue;
            }
            for leg in fault.spec.targets() {
                if let Some(factor) = fault.spec.lasting_factor(leg) {
                    *self.levels.entry(leg.clone()).or_insert(1.0) *= factor;
                }
            }
            self.folded.insert(fault.id.clone());
        }
    }

    /// Runs rounds until `stop`: each waits for the next step's instant on the simulated clock.
    pub async fn run(mut self, stop: CancellationToken) {
        let mut faults = self.feed.inner.board.subscribe();
        loop {
            let next = self.time_of(self.generator.tick() + 1);
            tokio::select! {
                () = stop.cancelled() => break,
                () = self.clock.sleep_until(next) => {}
                // A new fault (an outage) takes effect at once, not at the next step.
                _ = faults.changed() => {}
            }
            self.report_outage();
            if self.round().await.is_err() {
                // The writer is gone: the instance is stopping.
                break;
            }
        }
    }

    fn report_outage(&self) {
        let check = if self.feed.in_outage() {
            Check::down(false, "feed unavailable (outage)")
        } else {
            Check::up(false)
        };
        self.health.set_check(FEED_CHECK, check);
    }

    /// Produces every step due by now (up to a cap), publishes and stores them.
    async fn round(&mut self) -> Result<(), mpsc::error::SendError<Persist>> {
        let now = self.clock.now();
        let board = self.feed.inner.board.list();
        let mut ticks = Vec::new();
        let mut events = Vec::new();
        let mut steps = 0;
        while steps < MAX_STEPS_PER_ROUND && self.time_of(self.generator.tick() + 1) <= now {
            self.generator.step();
            steps += 1;
            let at = self.time_of(self.generator.tick());
            self.fold(&board, at);
            let active: Vec<&Fault<MarketFault>> = board.iter().filter(|f| f.active_at(at)).collect();
            if active.iter().any(|f| matches!(f.spec, MarketFault::Outage)) {
                // The feed is down: the market moves on, nothing is published.
                continue;
            }
            let pricing: Vec<ActiveFault<'_>> = active
                .iter()
                .map(|f| ActiveFault {
                    fault: &f.spec,
                    started: f.started_at,
                    duration: f.requested,
                })
                .collect();
            let legs: BTreeMap<Symbol, f64> = self.generator.prices().map(|(s, p)| (s.clone(), p)).collect();
            let quotes = price(
                &self.specs,
                &legs,
                &self.levels,
                &pricing,
                &self.last,
                &mut self.frozen,
                at,
            );
            for quote in quotes {
                let sequence = self.sequences.entry(quote.symbol.clone()).or_insert(0);
                *sequence += 1;
                self.last.insert(quote.symbol.clone(), quote.price);
                if let Some(first) = quote.shaped_by.first() {
                    let faults: Vec<&str> = quote.shaped_by.iter().map(|i| active[*i].id.as_str()).collect();
                    let payload = serde_json::json!({
                        "symbol": quote.symbol,
                        "price": quote.price,
                        "undisturbed_price": quote.undisturbed,
                        "sequence": *sequence,
                        "faults": faults,
                    });
                    events.push(
                        self.events
                            .event_at(types::TICK_UNDER_FAULT, at, payload)
                            .caused_by(active[*first].injection_event),
                    );
                }
                ticks.push(Tick {
                    symbol: quote.symbol,
                    price: quote.price,
                    sequence: *sequence,
                    timestamp: at,
                });
            }
        }
        if steps == 0 {
            return Ok(());
        }
        let candles = self.publish(&ticks);
        let snapshot = self.snapshot();
        if ticks.is_empty() && events.is_empty() && steps < MAX_STEPS_PER_ROUND {
            // An outage round: only the state moved; store it with the next published round.
            return Ok(());
        }
        self.writer
            .send(Persist {
                ticks,
                candles,
                events,
                snapshot,
            })
            .await
    }

    /// Makes `ticks` visible: latest prices, candles, subscribers, metrics. Returns the candles they
    /// changed.
    fn publish(&self, ticks: &[Tick]) -> Vec<(Symbol, Interval, Candle)> {
        if ticks.is_empty() {
            return Vec::new();
        }
        let mut changed: BTreeMap<(Symbol, Interval), Candle> = BTreeMap::new();
        {
            let mut market = self.feed.inner.market.write().unwrap_or_else(|e| e.into_inner());
            for tick in ticks {
                market.latest.insert(tick.symbol.clone(), tick.clone());
                for interval in Interval::ALL {
                    let key = (tick.symbol.clone(), interval);
                    let candle = market
                        .candles
                        .entry(key.clone())
                        .or_insert_with(|| CandleSeries::new(interval))
                        .record(tick.timestamp, tick.price);
                    changed.insert(key, candle);
                }
            }
        }
        let now = self.clock.now();
        for tick in ticks {
            self.metrics.published(&tick.symbol, tick.price);
            let late = (now - tick.timestamp).as_seconds_f64().max(0.0) / self.clock.speed();
            self.metrics.publish_latency(late);
        }
        // Nobody listening is fine: the feed publishes regardless.
        let _ = self.feed.inner.ticks.send(Arc::new(ticks.to_vec()));
        changed.into_iter().map(|((s, i), c)| (s, i, c)).collect()
    }

    fn snapshot(&self) -> Snapshot {
        Snapshot {
            seed: self.seed,
            origin: self.origin,
            interval_ms: u64::try_from(self.interval.as_millis()).unwrap_or(u64::MAX),
            tick: self.generator.tick(),
            symbols: self.specs.iter().map(|s| s.symbol.to_string()).collect(),
            legs: self.generator.states(),
            levels: self.levels.clone(),
            folded: self.folded.clone(),
            sequences: self.sequences.clone(),
            last: self.last.clone(),
            frozen: self.frozen.clone(),
        }
    }
}
