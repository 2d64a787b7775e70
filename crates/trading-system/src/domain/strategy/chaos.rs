//! The chaos strategies: misbehaving on purpose, started by the back door's faults of the same
//! name (`crate::domain::faults`), each on one exchange. Their randomness comes from a generator
//! seeded at construction, so the same seed and events give the same orders.
//!
//! | kind | params (defaults) |
//! |---|---|
//! | [`Runaway`] | `rate` (50 orders per simulated second), `burst` (200 per event), `size` (0.001), `spread_bps_min` (50), `spread_bps_max` (500) |
//! | [`RiskIgnorant`] | `side` (`buy`), `size` (0.05), `every` (`"2s"`) |
//! | [`VolatilityAmplifier`] | `threshold_bps` (5), `size` (0.05) |
//! | [`CorrelationBreaker`] | two symbols; `size` (0.01 of the first), `every` (`"5s"`) |
//! | [`SlowLeak`] | `size` (0.001), `every` (`"10s"`, ±20% at random) |

use std::{cmp::Ordering, collections::BTreeMap};

use rand_chacha::{
    ChaCha8Rng,
    rand_core::{Rng, SeedableRng},
};
use rust_decimal::{Decimal, prelude::ToPrimitive};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tse_market::{Side, Symbol};

use super::{
    Context, Strategy, StrategyConfig,
    common::{check_basics, one_exchange},
};
use crate::domain::{
    market::Event,
    order::{Intent, OrderSpec, OrderType, TimeInForce},
};

/// Basis points in one.
const BPS: Decimal = Decimal::from_parts(10_000, 0, 0, false, 0);

/// A market order for `quantity` rounded down to the lot of `symbol` at `exchange` (none when the
/// exchange does not list it or the quantity rounds to zero).
fn market(
    ctx: &Context<'_>,
    exchange: &str,
    symbol: &Symbol,
    side: Side,
    quantity: Decimal,
) -> Option<Intent> {
    let quantity = ctx.market.instrument(exchange, symbol)?.floor_quantity(quantity);
    (quantity > Decimal::ZERO).then(|| {
        Intent::Place(OrderSpec {
            exchange: exchange.to_owned(),
            symbol: symbol.clone(),
            side,
            order_type: OrderType::Market,
            quantity,
        })
    })
}

/// Longest `every` (a year): longer ones would only overflow the calendar.
const MAX_EVERY: std::time::Duration = std::time::Duration::from_secs(365 * 24 * 3600);

/// Reads a positive simulated duration param.
fn every(config: &StrategyConfig, default_seconds: u64) -> Result<time::Duration, String> {
    let every = config
        .params
        .duration("every", std::time::Duration::from_secs(default_seconds))?;
    if every.is_zero() || every > MAX_EVERY {
        return Err(format!(
            "param every: must be longer than zero and at most {}s",
            MAX_EVERY.as_secs()
        ));
    }
    time::Duration::try_from(every).map_err(|e| format!("param every: {e}"))
}

/// Returns whether an action planned at `next` is due at `now` (always, the first time).
fn due(next: Option<OffsetDateTime>, now: OffsetDateTime) -> bool {
    next.is_none_or(|n| now >= n)
}

/// Returns a uniform fraction in `[0, 1]`, exact in decimal.
fn fraction(rng: &mut ChaCha8Rng) -> Decimal {
    Decimal::from(rng.next_u32()) / Decimal::from(u32::MAX)
}

/// Reads a state saved by one of the strategies below.
fn load<T: for<'de> Deserialize<'de>>(kind: &str, state: &serde_json::Value) -> Result<T, String> {
    serde_json::from_value(state.clone()).map_err(|e| format!("{kind} state: {e}"))
}

/// Reads a generator position saved as text.
fn word_pos(kind: &str, text: &str) -> Result<u128, String> {
    text.parse()
        .map_err(|_| format!("{kind} state: rng position '{text}' is not a whole number"))
}

/// Order spam: resting post-only orders far from the market, never cancelled.
pub struct Runaway {
    exchange: String,
    rate: Decimal,
    burst: u64,
    size: Decimal,
    spread_min: Decimal,
    spread_max: Decimal,
    rng: ChaCha8Rng,
    last: Option<OffsetDateTime>,
    /// Fraction of an order owed from earlier events.
    carry: Decimal,
}

/// What [`Runaway::save`] keeps.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RunawaySaved {
    #[serde(with = "time::serde::rfc3339::option")]
    last: Option<OffsetDateTime>,
    carry: Decimal,
    rng: String,
}

impl Runaway {
    /// Order spam on `config`'s one exchange and symbols, drawing with `seed`.
    ///
    /// # Errors
    /// Unknown or bad params, not exactly one exchange, no symbol.
    pub fn new(config: &StrategyConfig, seed: u64) -> Result<Self, String> {
        let p = &config.params;
        p.only(&["rate", "burst", "size", "spread_bps_min", "spread_bps_max"])?;
        let rate = p.positive("rate", Decimal::new(50, 0))?;
        if rate > Decimal::new(100_000, 0) {
            return Err(format!("param rate: {rate} is above 100000 orders per second"));
        }
        let burst = p.count("burst", 200, 1, 100_000)?;
        let size = p.positive("size", Decimal::new(1, 3))?;
        let spread_min = p.decimal_in(
            "spread_bps_min",
            Decimal::new(50, 0),
            Decimal::ZERO,
            Decimal::new(9_999, 0),
        )?;
        let spread_max = p.decimal_in(
            "spread_bps_max",
            Decimal::new(500, 0),
            Decimal::ZERO,
            Decimal::new(9_999, 0),
        )?;
        // A range given either way round.
        let (spread_min, spread_max) = (spread_min.min(spread_max), spread_min.max(spread_max));
        check_basics(config)?;
        Ok(Runaway {
            exchange: one_exchange(config)?,
            rate,
            burst,
            size,
            spread_min,
            spread_max,
            rng: ChaCha8Rng::seed_from_u64(seed),
            last: None,
            carry: Decimal::ZERO,
        })
    }

    /// One order at a random side and distance from the mark of a random symbol.
    fn spam(&mut self, ctx: &Context<'_>, out: &mut Vec<Intent>) {
        let symbols = &ctx.config.symbols;
        let index = (self.rng.next_u64() % symbols.len().max(1) as u64) as usize;
        let side = if self.rng.next_u32() & 1 == 0 {
            Side::Buy
        } else {
            Side::Sell
        };
        let distance =
            (self.spread_min + (self.spread_max - self.spread_min) * fraction(&mut self.rng)) / BPS;
        let Some(symbol) = symbols.get(index) else {
            return;
        };
        let (Some(instrument), Some(mark)) = (
            ctx.market.instrument(&self.exchange, symbol),
            ctx.market.mark(&self.exchange, symbol),
        ) else {
            return;
        };
        let price = match side {
            Side::Buy => instrument.floor_price(mark * (Decimal::ONE - distance)),
            Side::Sell => instrument.ceil_price(mark * (Decimal::ONE + distance)),
        };
        let quantity = instrument.floor_quantity(self.size);
        if price > Decimal::ZERO && quantity > Decimal::ZERO {
            out.push(Intent::Place(OrderSpec {
                exchange: self.exchange.clone(),
                symbol: symbol.clone(),
                side,
                order_type: OrderType::Limit {
                    price,
                    time_in_force: TimeInForce::Gtc,
                    post_only: true,
                },
                quantity,
            }));
        }
    }
}

impl Strategy for Runaway {
    fn on_event(&mut self, event: &Event, ctx: &Context<'_>, out: &mut Vec<Intent>) {
        if !matches!(event, Event::Timer | Event::Price { .. }) {
            return;
        }
        let Some(last) = self.last.filter(|l| *l <= ctx.now) else {
            self.last = Some(ctx.now);
            return;
        };
        self.last = Some(ctx.now);
        let elapsed = Decimal::from_i128_with_scale((ctx.now - last).whole_nanoseconds(), 9);
        let owed = self.rate * elapsed + self.carry;
        let whole = owed.floor();
        self.carry = owed - whole;
        let count = whole.to_u64().unwrap_or(u64::MAX).min(self.burst);
        for _ in 0..count {
            self.spam(ctx, out);
        }
    }

    fn save(&self) -> serde_json::Value {
        serde_json::to_value(RunawaySaved {
            last: self.last,
            carry: self.carry,
            rng: self.rng.get_word_pos().to_string(),
        })
        .unwrap_or_default()
    }

    fn restore(&mut self, state: &serde_json::Value) -> Result<(), String> {
        let saved: RunawaySaved = load("runaway", state)?;
        if saved.carry < Decimal::ZERO || saved.carry >= Decimal::ONE {
            return Err(format!("runaway state: carry {} is not in [0, 1)", saved.carry));
        }
        self.rng.set_word_pos(word_pos("runaway", &saved.rng)?);
        (self.last, self.carry) = (saved.last, saved.carry);
        Ok(())
    }
}

/// Keeps buying (or selling) at market, whatever its position.
pub struct RiskIgnorant {
    exchange: String,
    side: Side,
    size: Decimal,
    every: time::Duration,
    next: Option<OffsetDateTime>,
}

/// What [`RiskIgnorant::save`], [`CorrelationBreaker::save`] and [`SlowLeak::save`] keep of
/// their timing.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Timed {
    #[serde(with = "time::serde::rfc3339::option")]
    next: Option<OffsetDateTime>,
}

impl RiskIgnorant {
    /// A position that only grows, on `config`'s one exchange and symbols.
    ///
    /// # Errors
    /// Unknown or bad params, not exactly one exchange, no symbol.
    pub fn new(config: &StrategyConfig) -> Result<Self, String> {
        let p = &config.params;
        p.only(&["side", "size", "every"])?;
        let side = match p.word("side", "buy", &["buy", "sell"])? {
            "buy" => Side::Buy,
            _ => Side::Sell,
        };
        let size = p.positive("size", Decimal::new(5, 2))?;
        let every = every(config, 2)?;
        check_basics(config)?;
        Ok(RiskIgnorant {
            exchange: one_exchange(config)?,
            side,
            size,
            every,
            next: None,
        })
    }
}

impl Strategy for RiskIgnorant {
    fn on_event(&mut self, event: &Event, ctx: &Context<'_>, out: &mut Vec<Intent>) {
        if !matches!(event, Event::Timer | Event::Price { .. }) || !due(self.next, ctx.now) {
            return;
        }
        self.next = Some(ctx.now + self.every);
        for symbol in &ctx.config.symbols {
            out.extend(market(ctx, &self.exchange, symbol, self.side, self.size));
        }
    }

    fn save(&self) -> serde_json::Value {
        serde_json::to_value(Timed { next: self.next }).unwrap_or_default()
    }

    fn restore(&mut self, state: &serde_json::Value) -> Result<(), String> {
        self.next = load::<Timed>("risk_ignorant", state)?.next;
        Ok(())
    }
}

/// Chases every move with a market order in its direction.
pub struct VolatilityAmplifier {
    exchange: String,
    threshold: Decimal,
    size: Decimal,
    last: BTreeMap<Symbol, Decimal>,
}

/// What [`VolatilityAmplifier::save`] keeps.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Observed {
    last: BTreeMap<Symbol, Decimal>,
}

impl VolatilityAmplifier {
    /// A move chaser on `config`'s one exchange and symbols.
    ///
    /// # Errors
    /// Unknown or bad params, not exactly one exchange, no symbol.
    pub fn new(config: &StrategyConfig) -> Result<Self, String> {
        let p = &config.params;
        p.only(&["threshold_bps", "size"])?;
        let threshold = p.decimal_in("threshold_bps", Decimal::new(5, 0), Decimal::ZERO, BPS)?;
        let size = p.positive("size", Decimal::new(5, 2))?;
        check_basics(config)?;
        Ok(VolatilityAmplifier {
            exchange: one_exchange(config)?,
            threshold: threshold / BPS,
            size,
            last: BTreeMap::new(),
        })
    }
}

impl Strategy for VolatilityAmplifier {
    fn on_event(&mut self, event: &Event, ctx: &Context<'_>, out: &mut Vec<Intent>) {
        let Event::Price { symbol, price } = event else {
            return;
        };
        if !ctx.config.symbols.contains(symbol) {
            return;
        }
        let Some(before) = self.last.insert(symbol.clone(), *price) else {
            return;
        };
        let moved = *price - before;
        if before > Decimal::ZERO && moved.abs() > before * self.threshold {
            let side = if moved > Decimal::ZERO {
                Side::Buy
            } else {
                Side::Sell
            };
            out.extend(market(ctx, &self.exchange, symbol, side, self.size));
        }
    }

    fn save(&self) -> serde_json::Value {
        serde_json::to_value(Observed {
            last: self.last.clone(),
        })
        .unwrap_or_default()
    }

    fn restore(&mut self, state: &serde_json::Value) -> Result<(), String> {
        self.last = load::<Observed>("volatility_amplifier", state)?.last;
        Ok(())
    }
}

/// Trades two symbols against their usual relationship: when both rose, buys the first and sells
/// the second; when both fell, the opposite — so it is short what the market lifts together.
pub struct CorrelationBreaker {
    exchange: String,
    symbols: [Symbol; 2],
    size: Decimal,
    every: time::Duration,
    next: Option<OffsetDateTime>,
    /// Both prices at the last look.
    seen: Option<[Decimal; 2]>,
}

/// What [`CorrelationBreaker::save`] keeps.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct BreakerSaved {
    #[serde(with = "time::serde::rfc3339::option")]
    next: Option<OffsetDateTime>,
    seen: Option<[Decimal; 2]>,
}

impl CorrelationBreaker {
    /// A correlation breaker on `config`'s one exchange and its two symbols.
    ///
    /// # Errors
    /// Unknown or bad params, not exactly one exchange, not exactly two symbols.
    pub fn new(config: &StrategyConfig) -> Result<Self, String> {
        let p = &config.params;
        p.only(&["size", "every"])?;
        let size = p.positive("size", Decimal::new(1, 2))?;
        let every = every(config, 5)?;
        check_basics(config)?;
        let symbols = match config.symbols.as_slice() {
            [a, b] if a != b => [a.clone(), b.clone()],
            other => {
                return Err(format!(
                    "correlation_breaker trades exactly two different symbols, got {}",
                    other.len()
                ));
            }
        };
        Ok(CorrelationBreaker {
            exchange: one_exchange(config)?,
            symbols,
            size,
            every,
            next: None,
            seen: None,
        })
    }
}

impl Strategy for CorrelationBreaker {
    fn on_event(&mut self, event: &Event, ctx: &Context<'_>, out: &mut Vec<Intent>) {
        if !matches!(event, Event::Timer | Event::Price { .. }) || !due(self.next, ctx.now) {
            return;
        }
        let [a, b] = &self.symbols;
        let (Some(pa), Some(pb)) = (
            ctx.market.mark(&self.exchange, a),
            ctx.market.mark(&self.exchange, b),
        ) else {
            return;
        };
        self.next = Some(ctx.now + self.every);
        let Some([before_a, before_b]) = self.seen.replace([pa, pb]) else {
            return;
        };
        let first = match (pa.cmp(&before_a), pb.cmp(&before_b)) {
            (Ordering::Greater, Ordering::Greater) => Side::Buy,
            (Ordering::Less, Ordering::Less) => Side::Sell,
            _ => return,
        };
        if pb <= Decimal::ZERO {
            return;
        }
        // The second leg is worth the first's notional at the reference prices.
        out.extend(market(ctx, &self.exchange, a, first, self.size));
        out.extend(market(
            ctx,
            &self.exchange,
            b,
            first.opposite(),
            self.size * pa / pb,
        ));
    }

    fn save(&self) -> serde_json::Value {
        serde_json::to_value(BreakerSaved {
            next: self.next,
            seen: self.seen,
        })
        .unwrap_or_default()
    }

    fn restore(&mut self, state: &serde_json::Value) -> Result<(), String> {
        let saved: BreakerSaved = load("correlation_breaker", state)?;
        (self.next, self.seen) = (saved.next, saved.seen);
        Ok(())
    }
}

/// Small market orders, buy then sell, that pay the spread and fees each time.
pub struct SlowLeak {
    exchange: String,
    size: Decimal,
    every: time::Duration,
    rng: ChaCha8Rng,
    next: Option<OffsetDateTime>,
    side: Side,
}

/// What [`SlowLeak::save`] keeps.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LeakSaved {
    #[serde(with = "time::serde::rfc3339::option")]
    next: Option<OffsetDateTime>,
    side: Side,
    rng: String,
}

impl SlowLeak {
    /// A slow leak on `config`'s one exchange and symbols, its intervals drawn with `seed`.
    ///
    /// # Errors
    /// Unknown or bad params, not exactly one exchange, no symbol.
    pub fn new(config: &StrategyConfig, seed: u64) -> Result<Self, String> {
        let p = &config.params;
        p.only(&["size", "every"])?;
        let size = p.positive("size", Decimal::new(1, 3))?;
        let every = every(config, 10)?;
        check_basics(config)?;
        Ok(SlowLeak {
            exchange: one_exchange(config)?,
            size,
            every,
            rng: ChaCha8Rng::seed_from_u64(seed),
            next: None,
            side: Side::Buy,
        })
    }
}

impl Strategy for SlowLeak {
    fn on_event(&mut self, event: &Event, ctx: &Context<'_>, out: &mut Vec<Intent>) {
        if !matches!(event, Event::Timer | Event::Price { .. }) || !due(self.next, ctx.now) {
            return;
        }
        for symbol in &ctx.config.symbols {
            out.extend(market(ctx, &self.exchange, symbol, self.side, self.size));
        }
        self.side = self.side.opposite();
        // 80% to 120% of `every`.
        let factor = Decimal::new(8, 1) + Decimal::new(4, 1) * fraction(&mut self.rng);
        let nanos = (Decimal::from_i128_with_scale(self.every.whole_nanoseconds(), 0) * factor)
            .floor()
            .to_i128()
            .unwrap_or(i128::MAX);
        let pause = time::Duration::nanoseconds_i128(nanos.max(1));
        self.next = Some(ctx.now + pause);
    }

    fn save(&self) -> serde_json::Value {
        serde_json::to_value(LeakSaved {
            next: self.next,
            side: self.side,
            rng: self.rng.get_word_pos().to_string(),
        })
        .unwrap_or_default()
    }

    fn restore(&mut self, state: &serde_json::Value) -> Result<(), String> {
        let saved: LeakSaved = load("slow_leak", state)?;
        self.rng.set_word_pos(word_pos("slow_leak", &saved.rng)?);
        (self.next, self.side) = (saved.next, saved.side);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::domain::strategy::{
        StrategyKind,
        fixtures::{World, at, btc, config, d, eth, market_order, price},
    };

    fn chaos(kind: StrategyKind, symbols: &[Symbol], params: serde_json::Value) -> StrategyConfig {
        let mut c = config(kind, &["x"], symbols, params);
        (c.max_position, c.max_order_size) = (d("1000000"), d("1000000"));
        c
    }

    fn millis(ms: i64) -> OffsetDateTime {
        at(0) + time::Duration::milliseconds(ms)
    }

    #[test]
    fn params_are_validated_in_one_line() {
        let c = |kind, params| chaos(kind, &[btc()], params);
        let err = |r: Result<(), String>| r.unwrap_err();
        assert!(
            err(Runaway::new(&c(StrategyKind::Runaway, json!({"rate": 0})), 1).map(drop))
                .contains("positive")
        );
        assert!(
            err(Runaway::new(&c(StrategyKind::Runaway, json!({"spread_bps_max": 10_000})), 1).map(drop))
                .contains("between")
        );
        // A spread range given either way round is the same range.
        let reversed = Runaway::new(
            &c(
                StrategyKind::Runaway,
                json!({"spread_bps_min": 100, "spread_bps_max": 50}),
            ),
            1,
        )
        .unwrap();
        assert_eq!((reversed.spread_min, reversed.spread_max), (d("50"), d("100")));
        assert!(
            err(RiskIgnorant::new(&c(StrategyKind::RiskIgnorant, json!({"side": "up"}))).map(drop))
                .contains("buy, sell")
        );
        assert!(
            err(RiskIgnorant::new(&c(StrategyKind::RiskIgnorant, json!({"every": "0s"}))).map(drop))
                .contains("longer than zero")
        );
        assert!(
            err(
                VolatilityAmplifier::new(&c(StrategyKind::VolatilityAmplifier, json!({"rate": 1}))).map(drop)
            )
            .contains("unknown param 'rate'")
        );
        assert!(
            err(CorrelationBreaker::new(&c(StrategyKind::CorrelationBreaker, json!({}))).map(drop))
                .contains("exactly two different symbols")
        );
        assert!(
            err(SlowLeak::new(&c(StrategyKind::SlowLeak, json!({"every": "soon"})), 1).map(drop))
                .contains("every")
        );
        let mut two = c(StrategyKind::SlowLeak, json!({}));
        two.exchanges.push("y".into());
        assert!(err(SlowLeak::new(&two, 1).map(drop)).contains("exactly one exchange"));
    }

    #[test]
    fn runaway_places_rate_orders_per_simulated_second_far_from_the_price() {
        let c = chaos(StrategyKind::Runaway, &[btc()], json!({"rate": 10, "burst": 25}));
        let mut r = Runaway::new(&c, 7).unwrap();
        let mut w = World::new(&["x"]);
        assert!(w.feed(&mut r, &c, at(0), &price(&btc(), "1000")).is_empty());
        // 0.25 s at 10/s: 2.5 orders → 2 now, the half carried.
        assert_eq!(w.feed(&mut r, &c, millis(250), &Event::Timer).len(), 2);
        assert_eq!(w.feed(&mut r, &c, millis(300), &Event::Timer).len(), 1);
        // 10 s owe 100: capped at the burst.
        let out = w.feed(&mut r, &c, millis(10_300), &Event::Timer);
        assert_eq!(out.len(), 25);
        for intent in &out {
            let Intent::Place(spec) = intent else {
                panic!("{intent:?}")
            };
            let price = spec.price().unwrap();
            let distance = (price - d("1000")).abs();
            assert!(distance >= d("5") && distance <= d("50.01"), "{price}");
            assert_eq!(spec.side == Side::Buy, price < d("1000"));
            assert!(matches!(
                spec.order_type,
                OrderType::Limit {
                    time_in_force: TimeInForce::Gtc,
                    post_only: true,
                    ..
                }
            ));
            assert_eq!(spec.quantity, d("0.001"));
        }
        // Same seed, same events: same orders; after save and restore, the same continuation.
        let mut twin = Runaway::new(&c, 7).unwrap();
        let mut v = World::new(&["x"]);
        v.feed(&mut twin, &c, at(0), &price(&btc(), "1000"));
        v.feed(&mut twin, &c, millis(250), &Event::Timer);
        v.feed(&mut twin, &c, millis(300), &Event::Timer);
        assert_eq!(v.feed(&mut twin, &c, millis(10_300), &Event::Timer), out);
        let mut back = Runaway::new(&c, 7).unwrap();
        back.restore(&twin.save()).unwrap();
        assert_eq!(
            v.feed(&mut back, &c, millis(11_000), &Event::Timer),
            w.feed(&mut r, &c, millis(11_000), &Event::Timer)
        );
        assert!(
            back.restore(&json!({"last": null, "carry": "2", "rng": "0"}))
                .unwrap_err()
                .contains("carry")
        );
        assert!(
            back.restore(&json!({"last": null, "carry": "0", "rng": "x"}))
                .unwrap_err()
                .contains("rng")
        );
    }

    #[test]
    fn risk_ignorant_buys_every_interval_whatever_its_position() {
        let c = chaos(
            StrategyKind::RiskIgnorant,
            &[btc()],
            json!({"every": "2s", "size": "0.05"}),
        );
        let mut r = RiskIgnorant::new(&c).unwrap();
        let mut w = World::new(&["x"]);
        w.hold(&btc(), d("999999"));
        let out = w.feed(&mut r, &c, at(0), &Event::Timer);
        assert_eq!(
            out.iter().map(market_order).collect::<Vec<_>>(),
            [(Side::Buy, d("0.05"))]
        );
        assert!(w.feed(&mut r, &c, at(1), &Event::Timer).is_empty());
        assert_eq!(w.feed(&mut r, &c, at(2), &Event::Timer).len(), 1);
        let mut back = RiskIgnorant::new(&c).unwrap();
        back.restore(&r.save()).unwrap();
        assert!(w.feed(&mut back, &c, at(3), &Event::Timer).is_empty());
        assert!(back.restore(&json!({"next": "tomorrow"})).is_err());
    }

    #[test]
    fn volatility_amplifier_chases_moves_beyond_the_threshold() {
        let c = chaos(
            StrategyKind::VolatilityAmplifier,
            &[btc()],
            json!({"threshold_bps": 5}),
        );
        let mut v = VolatilityAmplifier::new(&c).unwrap();
        let mut w = World::new(&["x"]);
        assert!(w.feed(&mut v, &c, at(0), &price(&btc(), "1000")).is_empty());
        assert!(w.feed(&mut v, &c, at(1), &price(&btc(), "1000.4")).is_empty());
        let up = w.feed(&mut v, &c, at(2), &price(&btc(), "1001"));
        assert_eq!(
            up.iter().map(market_order).collect::<Vec<_>>(),
            [(Side::Buy, d("0.05"))]
        );
        let down = w.feed(&mut v, &c, at(3), &price(&btc(), "990"));
        assert_eq!(
            down.iter().map(market_order).collect::<Vec<_>>(),
            [(Side::Sell, d("0.05"))]
        );
        let mut back = VolatilityAmplifier::new(&c).unwrap();
        back.restore(&v.save()).unwrap();
        assert_eq!(back.last, v.last);
        assert!(back.restore(&json!({"last": {"BTC-USD": "x"}})).is_err());
    }

    #[test]
    fn correlation_breaker_trades_against_a_joint_move_at_equal_notional() {
        let c = chaos(
            StrategyKind::CorrelationBreaker,
            &[btc(), eth()],
            json!({"every": "5s", "size": "0.01"}),
        );
        let mut b = CorrelationBreaker::new(&c).unwrap();
        let mut w = World::new(&["x"]);
        w.feed(&mut b, &c, at(0), &price(&btc(), "100000"));
        assert!(w.feed(&mut b, &c, at(0), &price(&eth(), "4000")).is_empty());
        w.feed(&mut b, &c, at(1), &price(&btc(), "101000"));
        w.feed(&mut b, &c, at(2), &price(&eth(), "4100"));
        let out = w.feed(&mut b, &c, at(5), &Event::Timer);
        // 0.01 BTC at 101000 is 1010 USD: 0.246341... ETH at 4100, 0.246 at the lot.
        assert_eq!(
            out.iter().map(market_order).collect::<Vec<_>>(),
            [(Side::Buy, d("0.01")), (Side::Sell, d("0.246"))]
        );
        // Apart: nothing.
        w.feed(&mut b, &c, at(6), &price(&btc(), "100000"));
        assert!(w.feed(&mut b, &c, at(10), &Event::Timer).is_empty());
        let mut back = CorrelationBreaker::new(&c).unwrap();
        back.restore(&b.save()).unwrap();
        assert_eq!((back.next, back.seen), (b.next, b.seen));
        assert!(back.restore(&json!({"next": null, "seen": ["1"]})).is_err());
    }

    #[test]
    fn slow_leak_alternates_buys_and_sells_at_jittered_intervals() {
        let c = chaos(StrategyKind::SlowLeak, &[btc()], json!({"every": "10s"}));
        let mut s = SlowLeak::new(&c, 3).unwrap();
        let mut w = World::new(&["x"]);
        let mut sides = Vec::new();
        let mut times = Vec::new();
        for second in 0..100 {
            for intent in w.feed(&mut s, &c, at(second), &Event::Timer) {
                sides.push(market_order(&intent));
                times.push(second);
            }
        }
        assert!(sides.len() >= 8 && sides.len() <= 13, "{times:?}");
        for (i, (side, quantity)) in sides.iter().enumerate() {
            assert_eq!(*side, if i % 2 == 0 { Side::Buy } else { Side::Sell });
            assert_eq!(*quantity, d("0.001"));
        }
        for gap in times.windows(2).map(|t| t[1] - t[0]) {
            assert!((8..=13).contains(&gap), "{times:?}");
        }
        let mut back = SlowLeak::new(&c, 3).unwrap();
        back.restore(&s.save()).unwrap();
        assert_eq!(back.save(), s.save());
        assert!(
            back.restore(&json!({"next": null, "side": "UP", "rng": "0"}))
                .is_err()
        );
    }
}
