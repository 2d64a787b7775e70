//! Rules evaluated per second in the risk monitor's pure core.
//!
//! A realistic default world: one entity, two exchanges and a custodian holding six assets, two
//! market data sources publishing six symbols, book tops at both exchanges, the desk sending 20
//! orders a second (about 200 in the order-rate window), the monitor's requests to every venue and
//! a few pending settlements. Each iteration is what the monitor does on every price: one tick
//! observed (100 ms of simulated time later), then every rule evaluated under the default limits.
//! Throughput is reported in checks (one (kind, subject) evaluated), so criterion's elements per
//! second are the rules evaluated per second.
//!
//! `cargo bench -p tse-risk-monitor --bench rules`

use std::{hint::black_box, time::Duration as StdDuration};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use time::{Duration, OffsetDateTime, macros::datetime};
use tse_risk_monitor::domain::{
    limits::Limits,
    monitor::Monitor,
    observation::{
        BookTop, Holdings, Observation, OrderActivity, OrderSeen, Outcome, PendingSettlement, PriceTick,
        Request, Settlements,
    },
};

const ENTITY: &str = "trading-system-LH";
const SOURCES: [&str; 2] = ["market-data-Coinmetrics", "market-data-Kaiko"];
const EXCHANGES: [&str; 2] = ["exchange-Binance", "exchange-OKX"];
const CUSTODIAN: &str = "custodian-Anchorage";
const SYMBOLS: [(&str, f64); 6] = [
    ("BTC-USD", 100_000.0),
    ("DOGE-USD", 0.2),
    ("ETH-USD", 3_000.0),
    ("SOL-USD", 150.0),
    ("USDT-USD", 1.0),
    ("XRP-USD", 2.0),
];

/// The world, moving on by 100 ms of simulated time per step.
struct World {
    monitor: Monitor,
    now: OffsetDateTime,
    step: u64,
    state: u64,
}

impl World {
    fn new() -> Self {
        let mut world = Self {
            monitor: Monitor::new(vec![ENTITY.into()], Limits::default()),
            now: datetime!(2026-03-01 00:00 UTC),
            step: 0,
            state: 0x2545_f491_4f6c_dd1d,
        };
        // A minute of history: every price, book, holding, order and request seen.
        for _ in 0..600 {
            world.tick();
            world.monitor.evaluate(world.now, world.now);
        }
        world
    }

    /// A small deterministic move, ±10 bps.
    fn wiggle(&mut self) -> f64 {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        #[allow(clippy::cast_precision_loss)]
        let unit = (self.state % 2001) as f64 / 1000.0 - 1.0;
        1.0 + unit * 1e-3
    }

    /// One price tick; every second also the books, holdings, orders, requests and settlements
    /// the collectors would have brought in meanwhile.
    fn tick(&mut self) {
        self.step += 1;
        self.now += Duration::milliseconds(100);
        let now = self.now;
        let n = usize::try_from(self.step).unwrap_or(0);
        let (symbol, base) = SYMBOLS[n % SYMBOLS.len()];
        let source = SOURCES[(n / SYMBOLS.len()) % SOURCES.len()];
        let price = base * self.wiggle();
        self.monitor.observe(Observation::Price(PriceTick {
            source: source.into(),
            symbol: symbol.into(),
            price,
            sequence: self.step,
            at: now,
        }));
        if !self.step.is_multiple_of(10) {
            return;
        }
        for venue in EXCHANGES {
            for (symbol, base) in SYMBOLS {
                let mid = base * self.wiggle();
                self.monitor.observe(Observation::Book(BookTop {
                    venue: venue.into(),
                    symbol: symbol.into(),
                    bid: Some(mid * 0.9999),
                    ask: Some(mid * 1.0001),
                    at: now,
                }));
            }
            let new = (0..10)
                .map(|i| OrderSeen {
                    id: format!("{venue}-{}-{i}", self.step),
                    symbol: "BTC-USD".into(),
                    side: if i % 2 == 0 { "BUY" } else { "SELL" }.into(),
                    price: 100_000.0,
                    remaining: 0.01,
                    status: if i == 0 { "REJECTED" } else { "NEW" }.into(),
                    created_at: now - Duration::milliseconds(500),
                })
                .collect::<Vec<_>>();
            let open = new.iter().take(5).cloned().collect();
            self.monitor.observe(Observation::Orders(OrderActivity {
                entity: ENTITY.into(),
                venue: venue.into(),
                new,
                open,
                at: now,
            }));
        }
        for venue in EXCHANGES.into_iter().chain([CUSTODIAN]) {
            self.monitor.observe(Observation::Holdings(Holdings {
                entity: ENTITY.into(),
                venue: venue.into(),
                balances: vec![
                    ("BTC".into(), 20.0),
                    ("DOGE".into(), 1_000_000.0),
                    ("ETH".into(), 300.0),
                    ("SOL".into(), 5_000.0),
                    ("USD".into(), 5_000_000.0),
                    ("USDT".into(), 2_000_000.0),
                    ("XRP".into(), 500_000.0),
                ],
                at: now,
            }));
            for _ in 0..3 {
                self.monitor.observe(Observation::Request(Request {
                    venue: venue.into(),
                    outcome: Outcome::Ok,
                    latency: StdDuration::from_millis(40),
                    at: now,
                }));
            }
        }
        let pending = (0..3)
            .map(|i| PendingSettlement {
                id: format!("s-{i}"),
                legs: vec![("BTC".into(), 1.0), ("USD".into(), -100_000.0)],
                created_at: now - Duration::seconds(20),
                due_at: now + Duration::seconds(40),
            })
            .collect();
        self.monitor.observe(Observation::Settlements(Settlements {
            entity: ENTITY.into(),
            custodian: CUSTODIAN.into(),
            pending,
            at: now,
        }));
    }
}

fn rules(c: &mut Criterion) {
    let mut world = World::new();
    world.tick();
    let changes = world.monitor.evaluate(world.now, world.now);
    assert!(changes.is_empty(), "a quiet world raises nothing: {changes:?}");
    let checks = world.monitor.last_checks();
    println!("checks per evaluate: {checks}");

    let mut group = c.benchmark_group("rules");
    group.throughput(Throughput::Elements(checks));
    group.bench_function("observe_tick_and_evaluate", |b| {
        b.iter(|| {
            world.tick();
            black_box(world.monitor.evaluate(world.now, world.now))
        });
    });
    group.finish();
}

criterion_group!(benches, rules);
criterion_main!(benches);
