//! `momentum`: a moving-average crossover on reference prices.
//!
//! For each symbol it keeps the last `slow` reference prices. Once the window is full, the target
//! position is `+size` while the average of the last `fast` prices is above the average of all
//! `slow`, and `−size` while it is below (unchanged when they are equal). It then steers its
//! position to the target with market orders, one at a time (never while one of its orders for
//! the symbol is still open), each clipped to `max_order_size`, the target to `max_position`.
//!
//! Params: `fast` (default 10 prices), `slow` (default 30), `size` (default 0.01 base).
//!
//! [`Window`] and [`steer`] are shared with `mean_reversion`, which trades toward a target the
//! same way.

use std::collections::{BTreeMap, VecDeque};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use tse_market::{Side, Symbol};

use super::{Context, Strategy, StrategyConfig};
use crate::domain::{
    market::Event,
    order::{Intent, OrderSpec, OrderType},
};

/// The last `capacity` prices of a symbol, with their running sum.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct Window {
    prices: VecDeque<Decimal>,
    sum: Decimal,
    /// Sum of the last `fast` prices (momentum's fast average; unused elsewhere).
    fast_sum: Decimal,
}

impl Window {
    /// Adds `price`, dropping the oldest beyond `capacity`; `fast` prices are kept in `fast_sum`.
    pub(super) fn push(&mut self, price: Decimal, capacity: usize, fast: usize) {
        self.prices.push_back(price);
        self.sum += price;
        self.fast_sum += price;
        let len = self.prices.len();
        if len > fast {
            self.fast_sum -= self.prices[len - 1 - fast];
        }
        if len > capacity
            && let Some(old) = self.prices.pop_front()
        {
            self.sum -= old;
        }
    }

    /// Returns the number of prices held.
    pub(super) fn len(&self) -> usize {
        self.prices.len()
    }

    /// Returns the mean of the prices held (`None` when empty).
    pub(super) fn mean(&self) -> Option<Decimal> {
        (!self.prices.is_empty()).then(|| self.sum / Decimal::from(self.prices.len()))
    }

    /// Returns the prices held, oldest first.
    pub(super) fn prices(&self) -> impl Iterator<Item = &Decimal> {
        self.prices.iter()
    }

    /// A window holding `prices` (oldest first), as [`Window::push`] would have left it.
    pub(super) fn from_prices(prices: &[Decimal], capacity: usize, fast: usize) -> Self {
        let mut window = Window::default();
        for price in prices {
            window.push(*price, capacity, fast);
        }
        window
    }
}

/// Returns whether the strategy has an order for `symbol` still open (sent and not done).
pub(super) fn busy(ctx: &Context<'_>, symbol: &Symbol) -> bool {
    ctx.orders.values().any(|o| &o.spec.symbol == symbol)
}

/// Moves the position in `symbol` toward `target` with one market order at `exchange`, unless an
/// order for the symbol is still open. The target is clipped to `max_position`, the order to
/// `max_order_size` and rounded down to the lot; nothing is sent when it rounds to zero.
pub(super) fn steer(
    ctx: &Context<'_>,
    exchange: &str,
    symbol: &Symbol,
    target: Decimal,
    out: &mut Vec<Intent>,
) {
    if busy(ctx, symbol) {
        return;
    }
    let Some(instrument) = ctx.market.instrument(exchange, symbol) else {
        return;
    };
    let limit = ctx.config.max_position;
    let target = target.clamp(-limit, limit);
    let difference = target - ctx.position(symbol);
    let side = if difference > Decimal::ZERO {
        Side::Buy
    } else {
        Side::Sell
    };
    let quantity = instrument.floor_quantity(difference.abs().min(ctx.config.max_order_size));
    if quantity > Decimal::ZERO {
        out.push(Intent::Place(OrderSpec {
            exchange: exchange.to_owned(),
            symbol: symbol.clone(),
            side,
            order_type: OrderType::Market,
            quantity,
        }));
    }
}

/// Returns the only exchange of `config`.
///
/// # Errors
/// When it names none or several.
pub(super) fn one_exchange(config: &StrategyConfig) -> Result<String, String> {
    match config.exchanges.as_slice() {
        [one] => Ok(one.clone()),
        other => Err(format!(
            "{} trades on exactly one exchange, got {}",
            config.kind,
            other.len()
        )),
    }
}

/// Checks that `config` names at least one symbol and positive limits.
///
/// # Errors
/// What is missing, one line.
pub(super) fn check_basics(config: &StrategyConfig) -> Result<(), String> {
    if config.symbols.is_empty() {
        return Err(format!("{} needs at least one symbol", config.kind));
    }
    if config.max_position <= Decimal::ZERO || config.max_order_size <= Decimal::ZERO {
        return Err(format!(
            "max_position and max_order_size must be positive, got {} and {}",
            config.max_position, config.max_order_size
        ));
    }
    Ok(())
}

/// Moving-average crossover.
pub struct Momentum {
    exchange: String,
    fast: usize,
    slow: usize,
    size: Decimal,
    windows: BTreeMap<Symbol, Window>,
    targets: BTreeMap<Symbol, Decimal>,
}

/// What [`Momentum::save`] keeps: each symbol's prices (oldest first) and target.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Saved {
    prices: BTreeMap<Symbol, Vec<Decimal>>,
    targets: BTreeMap<Symbol, Decimal>,
}

impl Momentum {
    /// Momentum on `config`'s one exchange and symbols.
    ///
    /// # Errors
    /// Unknown or bad params (`fast` must be below `slow`), not exactly one exchange, no symbol.
    pub fn new(config: &StrategyConfig) -> Result<Self, String> {
        let p = &config.params;
        p.only(&["fast", "slow", "size"])?;
        let fast = p.count("fast", 10, 1, 10_000)?;
        let slow = p.count("slow", 30, 2, 10_000)?;
        if fast >= slow {
            return Err(format!("param fast ({fast}) must be below slow ({slow})"));
        }
        let size = p.positive("size", Decimal::new(1, 2))?;
        check_basics(config)?;
        Ok(Momentum {
            exchange: one_exchange(config)?,
            fast: usize::try_from(fast).map_err(|e| e.to_string())?,
            slow: usize::try_from(slow).map_err(|e| e.to_string())?,
            size,
            windows: BTreeMap::new(),
            targets: BTreeMap::new(),
        })
    }

    /// Returns the fast and slow averages of `symbol`, once `slow` prices are in.
    fn averages(&self, symbol: &Symbol) -> Option<(Decimal, Decimal)> {
        let window = self.windows.get(symbol)?;
        if window.len() < self.slow {
            return None;
        }
        let fast = window.fast_sum / Decimal::from(self.fast);
        Some((fast, window.mean()?))
    }
}

impl Strategy for Momentum {
    fn on_event(&mut self, event: &Event, ctx: &Context<'_>, out: &mut Vec<Intent>) {
        let symbol = match event {
            Event::Price { symbol, price } if ctx.config.symbols.contains(symbol) => {
                self.windows
                    .entry(symbol.clone())
                    .or_default()
                    .push(*price, self.slow, self.fast);
                if let Some((fast, slow)) = self.averages(symbol) {
                    let target = match fast.cmp(&slow) {
                        std::cmp::Ordering::Greater => self.size,
                        std::cmp::Ordering::Less => -self.size,
                        std::cmp::Ordering::Equal => self.targets.get(symbol).copied().unwrap_or_default(),
                    };
                    self.targets.insert(symbol.clone(), target);
                }
                symbol.clone()
            }
            // A finished order lets the next one go: steer again toward the standing target.
            Event::Fill(fill) => fill.symbol.clone(),
            Event::Order(_) | Event::Timer => {
                for (symbol, target) in &self.targets {
                    steer(ctx, &self.exchange, symbol, *target, out);
                }
                return;
            }
            Event::Price { .. } | Event::Book { .. } => return,
        };
        if let Some(target) = self.targets.get(&symbol) {
            steer(ctx, &self.exchange, &symbol, *target, out);
        }
    }

    fn save(&self) -> serde_json::Value {
        let saved = Saved {
            prices: self
                .windows
                .iter()
                .map(|(s, w)| (s.clone(), w.prices().copied().collect()))
                .collect(),
            targets: self.targets.clone(),
        };
        serde_json::to_value(saved).unwrap_or_default()
    }

    fn restore(&mut self, state: &serde_json::Value) -> Result<(), String> {
        let saved: Saved =
            serde_json::from_value(state.clone()).map_err(|e| format!("momentum state: {e}"))?;
        if let Some((symbol, prices)) = saved.prices.iter().find(|(_, p)| p.len() > self.slow) {
            return Err(format!(
                "momentum state: {} prices for {symbol}, more than slow ({})",
                prices.len(),
                self.slow
            ));
        }
        self.windows = saved
            .prices
            .iter()
            .map(|(s, p)| (s.clone(), Window::from_prices(p, self.slow, self.fast)))
            .collect();
        self.targets = saved.targets;
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    //! Also the fixtures the other strategies' tests share.

    use std::collections::BTreeMap;

    use rust_decimal::Decimal;
    use serde_json::json;
    use time::OffsetDateTime;
    use tse_market::{ClientOrderId, Side, Symbol};

    use super::*;
    use crate::domain::{
        market::{Instrument, Market},
        order::{OrderStatus, TrackedOrder},
        position::Position,
        strategy::{Params, StrategyKind},
    };

    pub(crate) fn d(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    pub(crate) fn btc() -> Symbol {
        Symbol::parse("BTC-USD").unwrap()
    }

    pub(crate) fn eth() -> Symbol {
        Symbol::parse("ETH-USD").unwrap()
    }

    pub(crate) fn at(seconds: i64) -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(seconds)
    }

    /// A configuration of `kind` on `exchanges` and `symbols` with `params`.
    pub(crate) fn config(
        kind: StrategyKind,
        exchanges: &[&str],
        symbols: &[Symbol],
        params: serde_json::Value,
    ) -> StrategyConfig {
        StrategyConfig {
            name: kind.name().replace('_', ""),
            kind,
            exchanges: exchanges.iter().map(|e| (*e).to_owned()).collect(),
            symbols: symbols.to_vec(),
            params: Params::from_json(&params).unwrap(),
            max_position: d("0.05"),
            max_order_size: d("0.02"),
            enabled: true,
        }
    }

    /// An instrument with a 0.01 tick, a 0.001 lot, 0.0002 maker and 0.0005 taker fees.
    pub(crate) fn instrument(symbol: Symbol) -> Instrument {
        Instrument {
            symbol,
            tick: d("0.01"),
            lot: d("0.001"),
            maker_fee: d("0.0002"),
            taker_fee: d("0.0005"),
        }
    }

    /// What a strategy sees: markets, positions and open orders, changed by hand between events.
    #[derive(Default)]
    pub(crate) struct World {
        pub(crate) market: Market,
        pub(crate) positions: BTreeMap<Symbol, Position>,
        pub(crate) orders: BTreeMap<ClientOrderId, TrackedOrder>,
        next: u64,
    }

    impl World {
        /// A world where `exchanges` list BTC-USD and ETH-USD.
        pub(crate) fn new(exchanges: &[&str]) -> Self {
            let mut world = World::default();
            for exchange in exchanges {
                world.market.list(exchange, instrument(btc()));
                world.market.list(exchange, instrument(eth()));
            }
            world
        }

        /// Applies `event` to the markets, lets `strategy` react at `now`, and returns its intents.
        pub(crate) fn feed(
            &mut self,
            strategy: &mut dyn Strategy,
            config: &StrategyConfig,
            now: OffsetDateTime,
            event: &Event,
        ) -> Vec<Intent> {
            self.market.apply(event);
            let ctx = Context {
                now,
                config,
                market: &self.market,
                positions: &self.positions,
                orders: &self.orders,
            };
            let mut out = Vec::new();
            strategy.on_event(event, &ctx, &mut out);
            out
        }

        /// Tracks the placed order of `intent` as the desk would (acknowledged when `acked`).
        pub(crate) fn track(&mut self, intent: &Intent, acked: bool) -> ClientOrderId {
            let Intent::Place(spec) = intent else {
                panic!("not a placement: {intent:?}");
            };
            self.next += 1;
            let id = ClientOrderId::parse(&format!("s-{}", self.next)).unwrap();
            self.orders.insert(
                id.clone(),
                TrackedOrder {
                    client_order_id: id.clone(),
                    strategy: "s".into(),
                    order_id: acked.then_some(self.next),
                    spec: spec.clone(),
                    filled: Decimal::ZERO,
                    status: if acked {
                        OrderStatus::New
                    } else {
                        OrderStatus::Pending
                    },
                    created_at: at(0),
                },
            );
            id
        }

        /// Sets the position in `symbol`.
        pub(crate) fn hold(&mut self, symbol: &Symbol, quantity: Decimal) {
            self.positions.entry(symbol.clone()).or_default().quantity = quantity;
        }
    }

    pub(crate) fn price(symbol: &Symbol, price: &str) -> Event {
        Event::Price {
            symbol: symbol.clone(),
            price: d(price),
        }
    }

    /// The side and quantity of a market order intent.
    pub(crate) fn market_order(intent: &Intent) -> (Side, Decimal) {
        match intent {
            Intent::Place(OrderSpec {
                side,
                order_type: OrderType::Market,
                quantity,
                ..
            }) => (*side, *quantity),
            other => panic!("not a market order: {other:?}"),
        }
    }

    fn momentum(params: serde_json::Value) -> (Momentum, StrategyConfig) {
        let c = config(StrategyKind::Momentum, &["x"], &[btc()], params);
        (Momentum::new(&c).unwrap(), c)
    }

    #[test]
    fn params_are_validated_in_one_line() {
        let bad = |params, exchanges: &[&str]| {
            let c = config(StrategyKind::Momentum, exchanges, &[btc()], params);
            Momentum::new(&c).err().unwrap()
        };
        assert!(bad(json!({"fast": 30, "slow": 10}), &["x"]).contains("below slow"));
        assert!(bad(json!({"size": -1}), &["x"]).contains("positive"));
        assert!(bad(json!({"window": 3}), &["x"]).contains("unknown param 'window'"));
        assert!(bad(json!({}), &["x", "y"]).contains("exactly one exchange"));
        let mut c = config(StrategyKind::Momentum, &["x"], &[], json!({}));
        assert!(Momentum::new(&c).err().unwrap().contains("at least one symbol"));
        c.symbols = vec![btc()];
        c.max_position = Decimal::ZERO;
        assert!(Momentum::new(&c).err().unwrap().contains("must be positive"));
    }

    #[test]
    fn goes_long_on_a_rise_and_short_on_a_fall_once_the_slow_window_is_full() {
        let (mut m, c) = momentum(json!({"fast": 2, "slow": 4, "size": "0.03"}));
        let mut w = World::new(&["x"]);
        for p in ["100", "100", "100"] {
            assert!(w.feed(&mut m, &c, at(0), &price(&btc(), p)).is_empty());
        }
        // 100 100 100 101: fast 100.5 > slow 100.25 → +0.03, clipped to max_order_size 0.02.
        let out = w.feed(&mut m, &c, at(1), &price(&btc(), "101"));
        assert_eq!(
            out.iter().map(market_order).collect::<Vec<_>>(),
            [(Side::Buy, d("0.02"))]
        );
        w.track(&out[0], true);
        // An order still open: nothing more.
        assert!(w.feed(&mut m, &c, at(2), &price(&btc(), "102")).is_empty());
        w.orders.clear();
        w.hold(&btc(), d("0.02"));
        let out = w.feed(&mut m, &c, at(3), &Event::Timer);
        assert_eq!(
            out.iter().map(market_order).collect::<Vec<_>>(),
            [(Side::Buy, d("0.01"))]
        );
        w.hold(&btc(), d("0.03"));
        // Falling: fast below slow → −0.03, one max_order_size at a time.
        w.feed(&mut m, &c, at(4), &price(&btc(), "90"));
        let out = w.feed(&mut m, &c, at(5), &price(&btc(), "80"));
        assert_eq!(
            out.iter().map(market_order).collect::<Vec<_>>(),
            [(Side::Sell, d("0.02"))]
        );
    }

    #[test]
    fn the_target_never_exceeds_max_position() {
        let (mut m, c) = momentum(json!({"fast": 1, "slow": 2, "size": "1"}));
        let mut w = World::new(&["x"]);
        w.hold(&btc(), d("0.04"));
        w.feed(&mut m, &c, at(0), &price(&btc(), "100"));
        let out = w.feed(&mut m, &c, at(1), &price(&btc(), "101"));
        assert_eq!(
            out.iter().map(market_order).collect::<Vec<_>>(),
            [(Side::Buy, d("0.01"))]
        );
    }

    #[test]
    fn state_survives_save_and_restore_and_garbage_is_refused() {
        let (mut m, c) = momentum(json!({"fast": 2, "slow": 3}));
        let mut w = World::new(&["x"]);
        for p in ["100", "101", "102"] {
            w.feed(&mut m, &c, at(0), &price(&btc(), p));
        }
        let saved = m.save();
        let (mut back, _) = momentum(json!({"fast": 2, "slow": 3}));
        back.restore(&saved).unwrap();
        assert_eq!(back.windows, m.windows);
        assert_eq!(back.targets, m.targets);
        assert_eq!(back.save(), saved);
        assert!(back.restore(&json!({"prices": 3})).is_err());
        assert!(
            back.restore(&json!({"prices": {}, "targets": {}, "extra": 1}))
                .is_err()
        );
        let (mut short, _) = momentum(json!({"fast": 1, "slow": 2}));
        assert!(short.restore(&saved).unwrap_err().contains("more than slow"));
    }
}
