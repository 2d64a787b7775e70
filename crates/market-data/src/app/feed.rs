//! The running feed. The [`Engine`] owns the generator and steps it on the simulated clock: every
//! tick due since the last round is produced, priced under the faults in effect at its instant,
//! published to subscribers, folded into the latest prices and candles the API reads ([`Feed`]), and
//! handed to the writer with its events and the engine's state.
//!
//! A fresh feed publishes its first prices at start; the instance reports ready only once every
//! symbol has one (the [`PRICES_CHECK`]), so a client that waits for ready always finds prices.

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
/// Name of the health check that holds readiness until every symbol has a price to answer with.
pub const PRICES_CHECK: &str = "prices";

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
    /// Each symbol's candle series, one per interval in [`Interval::ALL`] order.
    candles: BTreeMap<Symbol, [CandleSeries; Interval::ALL.len()]>,
}

impl Market {
    /// Folds `ticks` into the latest prices and the candles. Returns the final state of every candle
    /// they touched — also those they closed: a round that catches up several steps (a feed behind
    /// the clock) spans several candles of the short intervals, and each must be stored.
    ///
    /// This runs for every tick of every symbol (thousands a second on a fast clock): one map
    /// lookup per tick, and a symbol is cloned only for a candle new to the round.
    fn record(&mut self, ticks: &[Tick]) -> Vec<(Symbol, Interval, Candle)> {
        let mut changed: Vec<(Symbol, Interval, Candle)> = Vec::new();
        // Where each series' candle last changed by this round sits in `changed`.
        let mut slots: BTreeMap<&Symbol, [Option<usize>; Interval::ALL.len()]> = BTreeMap::new();
        for tick in ticks {
            match self.latest.get_mut(&tick.symbol) {
                Some(latest) => *latest = tick.clone(),
                None => {
                    self.latest.insert(tick.symbol.clone(), tick.clone());
                }
            }
            if !self.candles.contains_key(&tick.symbol) {
                self.candles
                    .insert(tick.symbol.clone(), Interval::ALL.map(CandleSeries::new));
            }
            let Some(all) = self.candles.get_mut(&tick.symbol) else {
                continue;
            };
            let slots = slots.entry(&tick.symbol).or_default();
            for ((series, slot), interval) in all.iter_mut().zip(slots.iter_mut()).zip(Interval::ALL) {
                let candle = series.record(tick.timestamp, tick.price);
                match *slot {
                    Some(k) if changed[k].2.open_time == candle.open_time => changed[k].2 = candle,
                    _ => {
                        *slot = Some(changed.len());
                        changed.push((tick.symbol.clone(), interval, candle));
                    }
                }
            }
        }
        changed
    }
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
            .get(symbol)
            .map(|all| all[interval.index()].last(limit))
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
    /// Whether every symbol has a price (the `prices` check is up).
    priced: bool,
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
                // Step 0 is one interval back, so the first prices are published at once rather
                // than an interval (up to an hour of simulated time) after the start.
                let now = clock.now();
                let origin = time::Duration::try_from(interval)
                    .ok()
                    .and_then(|back| now.checked_sub(back))
                    .unwrap_or(now);
                (Generator::new(&specs, seed, interval), origin, None)
            }
        };
        let mut candles: BTreeMap<Symbol, [CandleSeries; Interval::ALL.len()]> = BTreeMap::new();
        for ((symbol, interval), saved) in start.candles {
            candles
                .entry(symbol)
                .or_insert_with(|| Interval::ALL.map(CandleSeries::new))[interval.index()] =
                CandleSeries::restored(interval, saved);
        }
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
            priced: false,
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
        engine.report_prices();
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

    /// Holds the instance's readiness (the `prices` check) until every symbol has a price: a
    /// client that waits for ready must find prices to read.
    fn report_prices(&mut self) {
        if self.priced {
            return;
        }
        let missing: Vec<&str> = {
            let market = self.feed.market();
            self.specs
                .iter()
                .filter(|s| !market.latest.contains_key(&s.symbol))
                .map(|s| s.symbol.as_str())
                .collect()
        };
        let check = if missing.is_empty() {
            self.priced = true;
            Check::up(false)
        } else {
            Check::down(
                false,
                format!("no price published yet for {}", missing.join(", ")),
            )
        };
        self.health.set_check(PRICES_CHECK, check);
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
        if !ticks.is_empty() {
            self.report_prices();
        }
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
        let changed = self
            .feed
            .inner
            .market
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .record(ticks);
        let now = self.clock.now();
        for tick in ticks {
            self.metrics.published(&tick.symbol, tick.price);
            let late = (now - tick.timestamp).as_seconds_f64().max(0.0) / self.clock.speed();
            self.metrics.publish_latency(late);
        }
        // Nobody listening is fine: the feed publishes regardless.
        let _ = self.feed.inner.ticks.send(Arc::new(ticks.to_vec()));
        changed
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

#[cfg(test)]
mod tests {
    use super::*;

    fn tick(symbol: &Symbol, sequence: u64, second: i64, price: i64) -> Tick {
        Tick {
            symbol: symbol.clone(),
            price: Decimal::from(price),
            sequence,
            timestamp: OffsetDateTime::from_unix_timestamp(1_800_000_000 + second).unwrap(),
        }
    }

    #[test]
    fn a_round_of_several_steps_returns_every_candle_it_touched() {
        let btc = Symbol::parse("BTC-USD").unwrap();
        let mut market = Market {
            latest: BTreeMap::new(),
            candles: BTreeMap::new(),
        };
        // Three steps a second apart, published in one round (a feed catching up).
        let ticks = [tick(&btc, 1, 0, 100), tick(&btc, 2, 1, 101), tick(&btc, 3, 2, 99)];
        let changed = market.record(&ticks);
        let seconds: Vec<(i64, Decimal)> = changed
            .iter()
            .filter(|(s, i, _)| *s == btc && *i == Interval::S1)
            .map(|(_, _, c)| (c.open_time.unix_timestamp() - 1_800_000_000, c.close))
            .collect();
        assert_eq!(
            seconds,
            [
                (0, Decimal::from(100)),
                (1, Decimal::from(101)),
                (2, Decimal::from(99))
            ],
            "each 1s candle of the round, not only the last"
        );
        let minute: Vec<&Candle> = changed
            .iter()
            .filter(|(_, i, _)| *i == Interval::M1)
            .map(|(_, _, c)| c)
            .collect();
        assert_eq!(minute.len(), 1, "one 1m candle, in its final state");
        assert_eq!((minute[0].ticks, minute[0].close), (3, Decimal::from(99)));
        assert_eq!(market.latest[&btc].sequence, 3);
    }
}
