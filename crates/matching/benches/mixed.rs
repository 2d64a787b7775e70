//! Mixed-workload benchmark of the matching core, against `orderbook-rs` in the same run.
//!
//! Workload: 70 % passive adds, 20 % cancels of a random earlier add, 10 % aggressive IOC orders.
//! It is generated once, deterministically (seeded xorshift64*), and replayed identically into
//! `tse-matching` and `orderbook-rs`: same ids, owners, sides, prices and quantities.
//!
//! - Passive adds: GTC limits, bids at `MID - 1 - k`, asks at `MID + 1 + k`, `k` in `0..20`, so they
//!   never cross; 1..=10 lots; owners 1..=4.
//! - Cancels: a uniformly chosen id among every earlier passive add; it may already be filled or
//!   cancelled (both engines report that and change nothing).
//! - Aggressive: IOC limits on a random side at `MID ± 10`, 5..=30 lots; owners 5..=6, so
//!   self-trade prevention never fires in either engine.
//!
//! The book is first warmed with `WARMUP_ADDS` passive adds (not timed); then `MIXED_OPS` (default
//! 1 000 000) operations are timed. Two measurements are printed:
//! - a plain single-threaded wall-clock run of the whole timed workload per engine (best of
//!   `MIXED_RUNS`, default 5), with the ratio and a sanity summary of what each engine did;
//! - criterion benchmarks of the same replay (`Throughput::Elements`, so criterion reports elem/s).
//!
//! Environment: `MIXED_OPS`, `MIXED_RUNS`; `MIXED_PROFILE=tse-matching` (or `orderbook-rs`) runs
//! only that engine's plain measurement and skips criterion, for profiling under callgrind.

use std::{
    hint::black_box,
    sync::Arc,
    time::{Duration, Instant},
};

use criterion::{Criterion, SamplingMode, Throughput};
use orderbook_rs::{Clock, OrderBook as ObBook, StubClock};
use pricelevel::{Hash32, Id, OrderType, Price, Quantity, TimeInForce as ObTif};
use tse_matching::{
    CancelReason, Command, Event, NewOrder, OrderBook, RejectReason, SelfTradePrevention, Side, TimeInForce,
};

/// The fixed mid price, in ticks.
const MID: i64 = 10_000;
/// Passive adds rest up to this many ticks away from the inside (`k` in `0..LEVELS`).
const LEVELS: u64 = 20;
/// How far through the mid an aggressive order's limit reaches.
const TAKE_REACH: i64 = 10;
/// Passive adds placed before timing starts.
const WARMUP_ADDS: usize = 10_000;
/// Default number of timed operations.
const DEFAULT_OPS: usize = 1_000_000;
/// Default number of plain wall-clock runs per engine (the best is reported).
const DEFAULT_RUNS: usize = 5;
/// Passive owners are `1..=MAKERS`; aggressive owners are `MAKERS + 1..=MAKERS + TAKERS`.
const MAKERS: u64 = 4;
/// Number of aggressive owners.
const TAKERS: u64 = 2;
/// Workload seed.
const SEED: u64 = 0x7e5e_ed00_2026_0001;

/// One operation of the workload, in neutral terms; each engine maps it into its own types.
#[derive(Clone, Copy, Debug)]
enum Op {
    /// A passive GTC limit order.
    Add {
        id: u64,
        owner: u64,
        side: Side,
        price: i64,
        quantity: u64,
    },
    /// Cancel an earlier passive order (it may be gone already).
    Cancel { id: u64 },
    /// An aggressive IOC limit order.
    Take {
        id: u64,
        owner: u64,
        side: Side,
        price: i64,
        quantity: u64,
    },
}

/// xorshift64*: tiny, deterministic, good enough for a workload.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    fn side(&mut self) -> Side {
        if self.next() & (1 << 40) == 0 {
            Side::Buy
        } else {
            Side::Sell
        }
    }
}

/// The warm-up prefix and the timed operations.
struct Workload {
    warmup: Vec<Op>,
    timed: Vec<Op>,
}

impl Workload {
    fn generate(ops: usize) -> Self {
        let mut rng = Rng(SEED);
        let mut next_id = 0u64;
        let mut new_id = || {
            next_id += 1;
            next_id
        };
        // Ids of every passive add so far: the cancel targets.
        let mut added: Vec<u64> = Vec::with_capacity(WARMUP_ADDS + ops);
        let add = |rng: &mut Rng, id: u64, added: &mut Vec<u64>| {
            added.push(id);
            let side = rng.side();
            let k = rng.below(LEVELS) as i64;
            let price = match side {
                Side::Buy => MID - 1 - k,
                Side::Sell => MID + 1 + k,
            };
            Op::Add {
                id,
                owner: rng.range(1, MAKERS),
                side,
                price,
                quantity: rng.range(1, 10),
            }
        };
        let warmup: Vec<Op> = (0..WARMUP_ADDS)
            .map(|_| add(&mut rng, new_id(), &mut added))
            .collect();
        let mut timed = Vec::with_capacity(ops);
        for _ in 0..ops {
            let roll = rng.below(100);
            let op = if roll < 70 {
                add(&mut rng, new_id(), &mut added)
            } else if roll < 90 {
                Op::Cancel {
                    id: added[rng.below(added.len() as u64) as usize],
                }
            } else {
                let side = rng.side();
                Op::Take {
                    id: new_id(),
                    owner: MAKERS + rng.range(1, TAKERS),
                    side,
                    price: match side {
                        Side::Buy => MID + TAKE_REACH,
                        Side::Sell => MID - TAKE_REACH,
                    },
                    quantity: rng.range(5, 30),
                }
            };
            timed.push(op);
        }
        Self { warmup, timed }
    }

    fn mix(&self) -> (usize, usize, usize) {
        let mut counts = (0, 0, 0);
        for op in &self.timed {
            match op {
                Op::Add { .. } => counts.0 += 1,
                Op::Cancel { .. } => counts.1 += 1,
                Op::Take { .. } => counts.2 += 1,
            }
        }
        counts
    }
}

/// What an engine did over the timed operations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Stats {
    /// Fills (one per maker an aggressive order traded with).
    trades: u64,
    /// Lots traded.
    traded_lots: u64,
    /// Passive orders that came to rest.
    rested: u64,
    /// Cancels that removed a live order.
    cancelled: u64,
    /// Cancels of an id no longer live (filled or cancelled before).
    cancel_unknown: u64,
    /// Aggressive orders that did not fill completely (remainder dropped).
    ioc_remainders: u64,
    /// Anything else: rejections, errors, self-trade cancels. Expected to be zero.
    other: u64,
}

/// The state of a book after the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct EndState {
    resting_orders: usize,
    resting_lots: u64,
    best_bid: Option<i64>,
    best_ask: Option<i64>,
}

// --- tse-matching ---------------------------------------------------------------------------------

fn tse_command(op: &Op) -> Command {
    match *op {
        Op::Add {
            id,
            owner,
            side,
            price,
            quantity,
        } => Command::Place(NewOrder {
            id,
            owner,
            side,
            price: Some(price),
            quantity,
            time_in_force: TimeInForce::Gtc,
            post_only: false,
            self_trade: SelfTradePrevention::CancelTaker,
        }),
        Op::Cancel { id } => Command::Cancel(id),
        Op::Take {
            id,
            owner,
            side,
            price,
            quantity,
        } => Command::Place(NewOrder {
            id,
            owner,
            side,
            price: Some(price),
            quantity,
            time_in_force: TimeInForce::Ioc,
            post_only: false,
            self_trade: SelfTradePrevention::CancelTaker,
        }),
    }
}

/// Replays `ops` into `book`, reusing one event buffer, and tallies the events.
fn tse_run(book: &mut OrderBook, events: &mut Vec<Event>, ops: &[Op]) -> Stats {
    let mut stats = Stats::default();
    for op in ops {
        events.clear();
        book.execute(tse_command(op), events);
        for event in events.iter() {
            match *event {
                Event::Trade { quantity, .. } => {
                    stats.trades += 1;
                    stats.traded_lots += quantity;
                }
                Event::Rested { .. } => stats.rested += 1,
                Event::Cancelled {
                    reason: CancelReason::Requested,
                    ..
                } => stats.cancelled += 1,
                Event::Cancelled {
                    reason: CancelReason::Unfilled,
                    ..
                } => stats.ioc_remainders += 1,
                Event::Rejected {
                    reason: RejectReason::UnknownOrder,
                    ..
                } => stats.cancel_unknown += 1,
                _ => stats.other += 1,
            }
        }
    }
    stats
}

fn tse_warm(workload: &Workload) -> (OrderBook, Vec<Event>) {
    let mut book = OrderBook::new();
    let mut events = Vec::with_capacity(64);
    tse_run(&mut book, &mut events, &workload.warmup);
    (book, events)
}

fn tse_end_state(book: &OrderBook) -> EndState {
    let lots = |side| book.depth(side, usize::MAX).iter().map(|&(_, q)| q).sum::<u64>();
    EndState {
        resting_orders: book.len(),
        resting_lots: lots(Side::Buy) + lots(Side::Sell),
        best_bid: book.best_bid(),
        best_ask: book.best_ask(),
    }
}

/// One timed replay; returns its duration, what it did and the final book.
fn tse_once(workload: &Workload) -> (Duration, Stats, EndState) {
    let (mut book, mut events) = tse_warm(workload);
    let start = Instant::now();
    let stats = tse_run(&mut book, &mut events, &workload.timed);
    let elapsed = start.elapsed();
    black_box(&stats);
    (elapsed, stats, tse_end_state(&book))
}

// --- orderbook-rs ---------------------------------------------------------------------------------

/// `orderbook-rs` with a stub clock: it stamps every order with `Clock::now_millis`, and the stub
/// (an atomic counter) is cheaper than its default wall clock, which is the fairer comparison since
/// `tse-matching` reads no clock at all.
fn ob_new() -> ObBook<()> {
    ObBook::with_clock("BENCH", Arc::new(StubClock::new()) as Arc<dyn Clock>)
}

fn ob_side(side: Side) -> pricelevel::Side {
    match side {
        Side::Buy => pricelevel::Side::Buy,
        Side::Sell => pricelevel::Side::Sell,
    }
}

fn ob_price(price: i64) -> u128 {
    u128::try_from(price).expect("positive price")
}

/// Owner ids as `orderbook-rs` user ids, indexed by owner.
struct Owners([Hash32; (MAKERS + TAKERS + 1) as usize]);

impl Owners {
    fn new() -> Self {
        Self(std::array::from_fn(|owner| {
            let mut bytes = [0u8; 32];
            bytes[..8].copy_from_slice(&(owner as u64).to_le_bytes());
            Hash32::new(bytes)
        }))
    }

    fn get(&self, owner: u64) -> Hash32 {
        self.0[owner as usize]
    }
}

fn ob_tally_trades(stats: &mut Stats, result: &orderbook_rs::TradeResult) {
    for trade in result.match_result.trades().as_vec() {
        stats.trades += 1;
        stats.traded_lots += trade.quantity().as_u64();
    }
}

/// Replays `ops` into `book` through its public submit/cancel API and tallies the outcomes.
fn ob_run(book: &ObBook<()>, owners: &Owners, ops: &[Op]) -> Stats {
    let mut stats = Stats::default();
    for op in ops {
        match *op {
            Op::Add {
                id,
                owner,
                side,
                price,
                quantity,
            } => {
                match book.add_limit_order_with_user(
                    Id::sequential(id),
                    ob_price(price),
                    quantity,
                    ob_side(side),
                    ObTif::Gtc,
                    owners.get(owner),
                    None,
                ) {
                    Ok(_) => stats.rested += 1,
                    Err(_) => stats.other += 1,
                }
            }
            Op::Cancel { id } => match book.cancel_order(Id::sequential(id)) {
                Ok(Some(_)) => stats.cancelled += 1,
                Ok(None) => stats.cancel_unknown += 1,
                Err(_) => stats.other += 1,
            },
            Op::Take {
                id,
                owner,
                side,
                price,
                quantity,
            } => {
                // `add_order_with_committed` hands back the fills in both outcomes: `Ok` when the
                // IOC filled completely, `Err(InsufficientLiquidity)` carrying the committed fills
                // when its remainder was dropped (the plain submit calls drop those fills).
                let order = OrderType::Standard {
                    id: Id::sequential(id),
                    price: Price::new(ob_price(price)),
                    quantity: Quantity::new(quantity),
                    side: ob_side(side),
                    user_id: owners.get(owner),
                    timestamp: book.clock().now_millis(),
                    time_in_force: ObTif::Ioc,
                    extra_fields: (),
                };
                match book.add_order_with_committed(order) {
                    Ok((_, result)) => {
                        if let Some(result) = result {
                            ob_tally_trades(&mut stats, &result);
                        }
                    }
                    Err(failure) => {
                        if let Some(result) = &failure.committed {
                            ob_tally_trades(&mut stats, result);
                        }
                        match failure.error {
                            orderbook_rs::OrderBookError::InsufficientLiquidity { .. } => {
                                stats.ioc_remainders += 1;
                            }
                            _ => stats.other += 1,
                        }
                    }
                }
            }
        }
    }
    stats
}

fn ob_warm(workload: &Workload, owners: &Owners) -> ObBook<()> {
    let book = ob_new();
    ob_run(&book, owners, &workload.warmup);
    book
}

fn ob_end_state(book: &ObBook<()>) -> EndState {
    let orders = book.get_all_orders();
    let to_i64 = |p: u128| i64::try_from(p).expect("price fits");
    EndState {
        resting_orders: orders.len(),
        resting_lots: orders.iter().map(|o| o.visible_quantity().as_u64()).sum(),
        best_bid: book.best_bid().map(to_i64),
        best_ask: book.best_ask().map(to_i64),
    }
}

/// One timed replay; returns its duration, what it did and the final book.
fn ob_once(workload: &Workload, owners: &Owners) -> (Duration, Stats, EndState) {
    let book = ob_warm(workload, owners);
    let start = Instant::now();
    let stats = ob_run(&book, owners, &workload.timed);
    let elapsed = start.elapsed();
    black_box(&stats);
    (elapsed, stats, ob_end_state(&book))
}

// --- reporting ------------------------------------------------------------------------------------

/// The plain wall-clock result of one engine.
struct Plain {
    name: &'static str,
    best: Duration,
    median: Duration,
    stats: Stats,
    end: EndState,
}

impl Plain {
    fn measure(
        name: &'static str,
        runs: usize,
        mut once: impl FnMut() -> (Duration, Stats, EndState),
    ) -> Self {
        let mut times = Vec::with_capacity(runs);
        let mut last = None;
        for _ in 0..runs {
            let (elapsed, stats, end) = once();
            if let Some((s, e)) = last {
                assert_eq!((s, e), (stats, end), "{name}: replays must be deterministic");
            }
            last = Some((stats, end));
            times.push(elapsed);
        }
        times.sort();
        let (stats, end) = last.expect("at least one run");
        Self {
            name,
            best: times[0],
            median: times[times.len() / 2],
            stats,
            end,
        }
    }

    fn mops(&self, ops: usize) -> f64 {
        ops as f64 / self.best.as_secs_f64() / 1e6
    }

    fn print(&self, ops: usize, runs: usize) {
        println!(
            "{}: {:.2} M ops/s ({} ops, best of {} runs: {:.1} ms; median {:.1} ms = {:.2} M ops/s; {:.0} ns/op)",
            self.name,
            self.mops(ops),
            ops,
            runs,
            self.best.as_secs_f64() * 1e3,
            self.median.as_secs_f64() * 1e3,
            ops as f64 / self.median.as_secs_f64() / 1e6,
            self.best.as_secs_f64() * 1e9 / ops as f64,
        );
    }

    fn print_sanity(&self) {
        let s = &self.stats;
        let e = &self.end;
        println!(
            "  {:<13} trades {} ({} lots), rested {}, cancelled {}, cancel-unknown {}, ioc-remainders {}, other {}; end: {} resting orders ({} lots), best bid {:?}, best ask {:?}",
            self.name,
            s.trades,
            s.traded_lots,
            s.rested,
            s.cancelled,
            s.cancel_unknown,
            s.ioc_remainders,
            s.other,
            e.resting_orders,
            e.resting_lots,
            e.best_bid,
            e.best_ask,
        );
    }
}

fn env_usize(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a number, got {v:?}")),
        Err(_) => default,
    }
}

fn print_summary(ours: &Plain, theirs: &Plain, ops: usize, runs: usize) {
    println!("== mixed 70/20/10: plain single-threaded wall clock, whole timed workload ==");
    ours.print(ops, runs);
    theirs.print(ops, runs);
    println!(
        "ratio: {:.1}x (tse-matching / orderbook-rs, best runs)",
        ours.mops(ops) / theirs.mops(ops)
    );
    println!("sanity (timed ops only; end state includes the warm-up):");
    ours.print_sanity();
    theirs.print_sanity();
    let same = ours.stats == theirs.stats && ours.end == theirs.end;
    println!(
        "  outcomes identical across engines: {}",
        if same { "yes" } else { "NO" }
    );
    println!(
        "targets: >= 5 M ops/s: {}; >= 10x orderbook-rs: {}",
        if ours.mops(ops) >= 5.0 { "met" } else { "MISSED" },
        if ours.mops(ops) >= 10.0 * theirs.mops(ops) {
            "met"
        } else {
            "MISSED"
        },
    );
}

fn main() {
    let ops = env_usize("MIXED_OPS", DEFAULT_OPS);
    let runs = env_usize("MIXED_RUNS", DEFAULT_RUNS).max(1);
    let workload = Workload::generate(ops);
    let owners = Owners::new();
    let (adds, cancels, takes) = workload.mix();
    println!(
        "workload: {WARMUP_ADDS} warm-up adds (untimed), then {ops} timed ops: {adds} adds, {cancels} cancels, {takes} aggressive IOC; seed {SEED:#x}"
    );

    if let Ok(only) = std::env::var("MIXED_PROFILE") {
        let plain = match only.as_str() {
            "tse-matching" => Plain::measure("tse-matching", runs, || tse_once(&workload)),
            "orderbook-rs" => Plain::measure("orderbook-rs", runs, || ob_once(&workload, &owners)),
            other => panic!("MIXED_PROFILE must be tse-matching or orderbook-rs, got {other:?}"),
        };
        plain.print(ops, runs);
        plain.print_sanity();
        return;
    }

    let ours = Plain::measure("tse-matching", runs, || tse_once(&workload));
    let theirs = Plain::measure("orderbook-rs", runs, || ob_once(&workload, &owners));
    print_summary(&ours, &theirs, ops, runs);
    println!();

    let mut criterion = Criterion::default().configure_from_args();
    {
        let mut group = criterion.benchmark_group("mixed_70_20_10");
        group
            .throughput(Throughput::Elements(ops as u64))
            .sampling_mode(SamplingMode::Flat)
            .sample_size(10)
            .warm_up_time(Duration::from_millis(500));
        // About ten samples of one replay each (flat sampling), and at least 2 s.
        let budget = |plain: &Plain| (plain.median * 8).max(Duration::from_secs(2));

        group.measurement_time(budget(&ours));
        group.bench_function("tse-matching", |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let (mut book, mut events) = tse_warm(&workload);
                    let start = Instant::now();
                    black_box(tse_run(&mut book, &mut events, &workload.timed));
                    total += start.elapsed();
                }
                total
            });
        });

        group.measurement_time(budget(&theirs));
        group.bench_function("orderbook-rs", |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let book = ob_warm(&workload, &owners);
                    let start = Instant::now();
                    black_box(ob_run(&book, &owners, &workload.timed));
                    total += start.elapsed();
                }
                total
            });
        });
        group.finish();
    }
    criterion.final_summary();

    println!();
    print_summary(&ours, &theirs, ops, runs);
}
