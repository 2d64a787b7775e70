//! Property tests of the strategies run through the real [`Desk`], against a small simulated
//! exchange: generated paths of reference prices and book tops go in, the desk's actions are
//! acknowledged, filled (every fill delivered twice), cancelled and amended as an exchange would,
//! and after every step the invariants are checked:
//!
//! - the market maker never has a bid at or above its ask, resting or sent;
//! - arbitrage never buys above the other venue's bid minus both taker fees;
//! - each strategy's position is the sum of its signed fills, counted once;
//! - the same seed and events give the same actions, for every kind;
//! - the well-behaved strategies are never refused by the desk's `max_position` or
//!   `max_order_size`.

use std::collections::{BTreeMap, VecDeque};

use proptest::prelude::*;
use rust_decimal::Decimal;
use serde_json::json;
use time::OffsetDateTime;
use tse_market::{Side, Symbol};

use super::{
    desk::{Action, Desk},
    market::{BookTop, Event, Instrument, Top},
    order::{Fill, Liquidity, OrderStatus, OrderType, OrderUpdate, TimeInForce, TrackedOrder},
    strategy::{Params, StrategyConfig, StrategyKind},
};

fn d(text: &str) -> Decimal {
    text.parse().unwrap()
}

fn btc() -> Symbol {
    Symbol::parse("BTC-USD").unwrap()
}

fn eth() -> Symbol {
    Symbol::parse("ETH-USD").unwrap()
}

/// Exchange `a`: fine ticks, cheap fees; exchange `b`: coarse ticks and lots, dearer fees.
fn instruments() -> Vec<(&'static str, Instrument)> {
    let listing = |symbol, tick, lot, taker| Instrument {
        symbol,
        tick: d(tick),
        lot: d(lot),
        maker_fee: d("0.0002"),
        taker_fee: d(taker),
    };
    vec![
        ("a", listing(btc(), "0.01", "0.001", "0.0005")),
        ("a", listing(eth(), "0.01", "0.001", "0.0005")),
        ("b", listing(btc(), "0.1", "0.0001", "0.001")),
        ("b", listing(eth(), "0.1", "0.0001", "0.001")),
    ]
}

/// Every kind, the well-behaved ones with tight limits so that they matter.
fn configs() -> Vec<StrategyConfig> {
    let one = |name: &str, kind, exchanges: &[&str], symbols: Vec<Symbol>, params, limits: (&str, &str)| {
        StrategyConfig {
            name: name.into(),
            kind,
            exchanges: exchanges.iter().map(|e| (*e).to_owned()).collect(),
            symbols,
            params: Params::from_json(&params).unwrap(),
            max_position: d(limits.0),
            max_order_size: d(limits.1),
            enabled: true,
        }
    };
    let tight = ("0.03", "0.02");
    let loose = ("1000000", "1000000");
    vec![
        one(
            "mm",
            StrategyKind::MarketMaking,
            &["a"],
            vec![btc(), eth()],
            json!({"spread_bps": 3, "size": "0.015", "skew_bps": 20, "requote_bps": 1}),
            tight,
        ),
        one(
            "arb",
            StrategyKind::Arbitrage,
            &["a", "b"],
            vec![btc(), eth()],
            json!({"threshold_bps": 1, "size": "0.025", "cooldown": "200ms"}),
            tight,
        ),
        one(
            "mom",
            StrategyKind::Momentum,
            &["b"],
            vec![btc()],
            json!({"fast": 3, "slow": 8, "size": "0.05"}),
            tight,
        ),
        one(
            "rev",
            StrategyKind::MeanReversion,
            &["a"],
            vec![btc(), eth()],
            json!({"window": 6, "entry": 1.2, "exit": 0.3, "size": "0.04"}),
            tight,
        ),
        one(
            "runaway",
            StrategyKind::Runaway,
            &["a"],
            vec![btc(), eth()],
            json!({"rate": 4, "burst": 20}),
            loose,
        ),
        one(
            "ignorant",
            StrategyKind::RiskIgnorant,
            &["b"],
            vec![btc()],
            json!({"every": "3s", "size": "0.01"}),
            tight,
        ),
        one(
            "amplifier",
            StrategyKind::VolatilityAmplifier,
            &["a"],
            vec![btc()],
            json!({"threshold_bps": 8, "size": "0.01"}),
            loose,
        ),
        one(
            "breaker",
            StrategyKind::CorrelationBreaker,
            &["a"],
            vec![btc(), eth()],
            json!({"every": "2s"}),
            loose,
        ),
        one(
            "leak",
            StrategyKind::SlowLeak,
            &["b"],
            vec![btc()],
            json!({"every": "2s"}),
            loose,
        ),
    ]
}

/// One generated step: time passes, then a price or a book top changes.
#[derive(Clone, Debug)]
struct Step {
    millis: i64,
    what: u8,
    move_bps: i64,
    offset_bps: i64,
    spread_bps: i64,
    quantity: u32,
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    let step = (50i64..1500, 0u8..6, -40i64..=40, -25i64..=25, 1i64..20, 1u32..80).prop_map(
        |(millis, what, move_bps, offset_bps, spread_bps, quantity)| Step {
            millis,
            what,
            move_bps,
            offset_bps,
            spread_bps,
            quantity,
        },
    );
    prop::collection::vec(step, 20..160)
}

/// A resting order at the simulated exchange.
struct Resting {
    order: TrackedOrder,
    order_id: u64,
}

/// The desk against a simulated exchange, checking the invariants as it goes.
struct Sim {
    desk: Desk,
    now: OffsetDateTime,
    next_id: u64,
    resting: BTreeMap<String, Resting>,
    /// Every action, in order (for determinism).
    log: Vec<Action>,
    /// Σ signed fills by strategy and symbol, each fill counted once here.
    filled: BTreeMap<(String, Symbol), Decimal>,
    queue: VecDeque<Action>,
}

impl Sim {
    fn new(seed: u64) -> Self {
        let mut desk = Desk::new(seed, &configs()).unwrap();
        for (exchange, instrument) in instruments() {
            desk.list(exchange, instrument);
        }
        Sim {
            desk,
            now: OffsetDateTime::UNIX_EPOCH,
            next_id: 0,
            resting: BTreeMap::new(),
            log: Vec::new(),
            filled: BTreeMap::new(),
            queue: VecDeque::new(),
        }
    }

    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn top(&self, exchange: &str, symbol: &Symbol) -> BookTop {
        self.desk.market().book(exchange, symbol).unwrap_or_default()
    }

    /// Feeds `event` and everything the exchange answers, checking after each answer.
    fn feed(&mut self, event: &Event) {
        let actions = self.desk.on_event(self.now, event);
        self.queue.extend(actions);
        self.check_quotes();
        while let Some(action) = self.queue.pop_front() {
            self.log.push(action.clone());
            self.exchange(action);
            self.check_quotes();
        }
        if let Event::Book {
            exchange,
            symbol,
            top,
        } = event
        {
            self.cross_resting(exchange, symbol, *top);
        }
    }

    /// The desk's view of an answer: fed back as an event.
    fn answer(&mut self, event: &Event) {
        let actions = self.desk.on_event(self.now, event);
        self.queue.extend(actions);
    }

    fn update(&mut self, order: &TrackedOrder, order_id: Option<u64>, status: OrderStatus, filled: Decimal) {
        self.answer(&Event::Order(OrderUpdate {
            client_order_id: order.client_order_id.clone(),
            order_id,
            status,
            filled,
            reason: (status == OrderStatus::Rejected).then(|| "post_only_would_take".to_owned()),
        }));
    }

    /// Trades `quantity` of `order` at `price`, delivering the fill twice.
    fn trade(
        &mut self,
        order: &TrackedOrder,
        order_id: u64,
        price: Decimal,
        quantity: Decimal,
        liquidity: Liquidity,
    ) {
        let instrument = self
            .desk
            .market()
            .instrument(&order.spec.exchange, &order.spec.symbol)
            .unwrap();
        let rate = match liquidity {
            Liquidity::Maker => instrument.maker_fee,
            Liquidity::Taker => instrument.taker_fee,
        };
        let fill = Fill {
            exchange: order.spec.exchange.clone(),
            trade_id: self.id(),
            order_id,
            client_order_id: order.client_order_id.clone(),
            symbol: order.spec.symbol.clone(),
            side: order.spec.side,
            price,
            quantity,
            fee: price * quantity * rate,
            liquidity,
            at: self.now,
        };
        let signed = if order.spec.side == Side::Buy {
            quantity
        } else {
            -quantity
        };
        *self
            .filled
            .entry((order.strategy.clone(), order.spec.symbol.clone()))
            .or_default() += signed;
        self.answer(&Event::Fill(fill.clone()));
        self.answer(&Event::Fill(fill));
    }

    fn exchange(&mut self, action: Action) {
        match action {
            Action::Place(order) => self.place(order),
            Action::Cancel { client_order_id, .. } => {
                if let Some(r) = self.resting.remove(client_order_id.as_str()) {
                    self.update(&r.order, Some(r.order_id), OrderStatus::Cancelled, r.order.filled);
                }
            }
            Action::Amend {
                client_order_id,
                price,
                quantity,
                ..
            } => {
                if let Some(r) = self.resting.get_mut(client_order_id.as_str()) {
                    if let OrderType::Limit { price: p, .. } = &mut r.order.spec.order_type {
                        *p = price;
                    }
                    r.order.spec.quantity = quantity;
                    self.desk.amended(&client_order_id, price, quantity);
                }
            }
        }
    }

    fn place(&mut self, order: TrackedOrder) {
        let top = self.top(&order.spec.exchange, &order.spec.symbol);
        let opposite = match order.spec.side {
            Side::Buy => top.ask,
            Side::Sell => top.bid,
        };
        if order.strategy == "arb" && order.spec.side == Side::Buy {
            self.check_arbitrage_buy(&order);
        }
        let limit = order.spec.price();
        let marketable = |t: &Top| match (order.spec.side, limit) {
            (_, None) => true,
            (Side::Buy, Some(p)) => p >= t.price,
            (Side::Sell, Some(p)) => p <= t.price,
        };
        let takes = opposite.filter(marketable);
        let order_id = self.id();
        match order.spec.order_type {
            OrderType::Limit {
                time_in_force: TimeInForce::Gtc,
                post_only,
                ..
            } => {
                if takes.is_some() && post_only {
                    self.update(&order, None, OrderStatus::Rejected, Decimal::ZERO);
                } else {
                    self.update(&order, Some(order_id), OrderStatus::New, Decimal::ZERO);
                    let key = order.client_order_id.to_string();
                    self.resting.insert(key, Resting { order, order_id });
                }
            }
            _ => {
                let mut filled = Decimal::ZERO;
                if let Some(t) = takes {
                    filled = order.spec.quantity.min(t.quantity);
                    self.trade(&order, order_id, t.price, filled, Liquidity::Taker);
                }
                let status = if filled >= order.spec.quantity {
                    OrderStatus::Filled
                } else {
                    OrderStatus::Cancelled
                };
                self.update(&order, Some(order_id), status, filled);
            }
        }
    }

    /// The book moved through resting orders: they fill whole at their price.
    fn cross_resting(&mut self, exchange: &str, symbol: &Symbol, top: BookTop) {
        let crossed: Vec<String> = self
            .resting
            .iter()
            .filter(|(_, r)| r.order.spec.exchange == exchange && &r.order.spec.symbol == symbol)
            .filter(|(_, r)| {
                let price = r.order.spec.price().unwrap_or_default();
                match r.order.spec.side {
                    Side::Buy => top.ask.is_some_and(|a| a.price <= price),
                    Side::Sell => top.bid.is_some_and(|b| b.price >= price),
                }
            })
            .map(|(k, _)| k.clone())
            .collect();
        for key in crossed {
            if let Some(r) = self.resting.remove(&key) {
                let open = r.order.spec.quantity - r.order.filled;
                let price = r.order.spec.price().unwrap_or_default();
                self.trade(&r.order, r.order_id, price, open, Liquidity::Maker);
                self.update(
                    &r.order,
                    Some(r.order_id),
                    OrderStatus::Filled,
                    r.order.spec.quantity,
                );
            }
        }
        while let Some(action) = self.queue.pop_front() {
            self.log.push(action.clone());
            self.exchange(action);
            self.check_quotes();
        }
    }

    /// (a): the market maker's bids stay below its asks, per symbol, whatever is resting or sent.
    fn check_quotes(&self) {
        let slot = self.desk.slot("mm").unwrap();
        for symbol in [btc(), eth()] {
            let mut bid: Option<Decimal> = None;
            let mut ask: Option<Decimal> = None;
            for order in slot.orders.values().filter(|o| o.spec.symbol == symbol) {
                let price = order.spec.price();
                match order.spec.side {
                    Side::Buy => bid = bid.max(price),
                    Side::Sell => ask = ask.into_iter().chain(price).min(),
                }
            }
            if let (Some(bid), Some(ask)) = (bid, ask) {
                assert!(bid < ask, "market maker crossed: bid {bid} ask {ask}");
            }
        }
    }

    /// (b): a purchase costs, after its fee, less than the other venue's bid brings after its fee.
    fn check_arbitrage_buy(&self, order: &TrackedOrder) {
        let other = if order.spec.exchange == "a" { "b" } else { "a" };
        let market = self.desk.market();
        let fee = |exchange| market.instrument(exchange, &order.spec.symbol).unwrap().taker_fee;
        let bid = self
            .top(other, &order.spec.symbol)
            .bid
            .expect("bought with no bid on the other venue");
        let price = order.spec.price().expect("arbitrage buys with a limit");
        assert!(
            price * (Decimal::ONE + fee(&order.spec.exchange)) < bid.price * (Decimal::ONE - fee(other)),
            "bought at {price} with the other bid at {}",
            bid.price
        );
    }

    /// (c) and (e), at the end.
    fn check_positions_and_limits(&self) {
        for slot in self.desk.slots() {
            for (symbol, position) in &slot.positions {
                let sum = self
                    .filled
                    .get(&(slot.config.name.clone(), symbol.clone()))
                    .copied()
                    .unwrap_or_default();
                assert_eq!(position.quantity, sum, "{} {symbol}", slot.config.name);
            }
            for ((name, symbol), sum) in &self.filled {
                if *name == slot.config.name {
                    assert_eq!(slot.positions.get(symbol).map(|p| p.quantity), Some(*sum));
                }
            }
            if !slot.config.kind.is_chaos() {
                for reason in ["max_position", "max_order_size"] {
                    assert!(
                        !slot.rejected.contains_key(reason),
                        "{} refused: {:?}",
                        slot.config.name,
                        slot.rejected
                    );
                }
            }
        }
    }

    /// Runs `steps` and returns every action the desk asked for.
    fn run(mut self, steps: &[Step]) -> (Vec<Action>, Self) {
        let (mut btc_price, mut eth_price) = (d("1000"), d("100"));
        for (i, step) in steps.iter().enumerate() {
            self.now += time::Duration::milliseconds(step.millis);
            let factor = Decimal::ONE + Decimal::new(step.move_bps, 4);
            let book = |exchange: &str, symbol: Symbol, reference: Decimal| {
                let mid = reference * (Decimal::ONE + Decimal::new(step.offset_bps, 4));
                let spread = Decimal::new(step.spread_bps, 4);
                let top = |price| {
                    Some(Top {
                        price,
                        quantity: Decimal::new(i64::from(step.quantity), 3),
                    })
                };
                Event::Book {
                    exchange: exchange.into(),
                    symbol,
                    top: BookTop {
                        bid: top((mid * (Decimal::ONE - spread)).round_dp(1)),
                        ask: top((mid * (Decimal::ONE + spread)).round_dp(1) + d("0.1")),
                    },
                }
            };
            let event = match step.what {
                0 => {
                    btc_price = (btc_price * factor).round_dp(2);
                    Event::Price {
                        symbol: btc(),
                        price: btc_price,
                    }
                }
                1 => {
                    eth_price = (eth_price * factor).round_dp(2);
                    Event::Price {
                        symbol: eth(),
                        price: eth_price,
                    }
                }
                2 => book("a", btc(), btc_price),
                3 => book("b", btc(), btc_price),
                4 => book("a", eth(), eth_price),
                _ => book("b", eth(), eth_price),
            };
            self.feed(&event);
            if i % 3 == 0 {
                self.feed(&Event::Timer);
            }
        }
        self.check_positions_and_limits();
        (std::mem::take(&mut self.log), self)
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, max_shrink_iters: 200, ..ProptestConfig::default() })]

    #[test]
    fn strategies_keep_their_invariants_through_the_desk(steps in steps(), seed in any::<u64>()) {
        let (first, sim) = Sim::new(seed).run(&steps);
        // The run did something: some quotes at least once a price is in.
        prop_assert!(steps.iter().all(|s| s.what != 0) || sim.desk.slot("mm").unwrap().submitted.values().sum::<u64>() > 0);
        let (second, _) = Sim::new(seed).run(&steps);
        prop_assert_eq!(first, second);
    }
}

#[test]
fn every_kind_trades_on_a_long_path_and_a_fill_sent_twice_counts_once() {
    let steps: Vec<Step> = (0..600)
        .map(|i: i64| Step {
            millis: 400 + (i * 37) % 500,
            what: u8::try_from(i % 6).unwrap(),
            move_bps: ((i * 7919) % 61) - 30,
            offset_bps: ((i * 104_729) % 41) - 20,
            spread_bps: 1 + (i % 5),
            quantity: u32::try_from(5 + (i % 40)).unwrap(),
        })
        .collect();
    let (actions, sim) = Sim::new(42).run(&steps);
    for slot in sim.desk.slots() {
        let sent: u64 = slot.submitted.values().sum();
        assert!(sent > 0, "{} sent nothing", slot.config.name);
    }
    let traded = sim
        .filled
        .keys()
        .map(|(name, _)| name.as_str())
        .collect::<std::collections::BTreeSet<_>>();
    for name in [
        "mm",
        "arb",
        "mom",
        "rev",
        "ignorant",
        "amplifier",
        "breaker",
        "leak",
    ] {
        assert!(traded.contains(name), "{name} never traded: {traded:?}");
    }
    let (again, _) = Sim::new(42).run(&steps);
    assert_eq!(actions, again);
    let (other, _) = Sim::new(43).run(&steps);
    assert_ne!(
        actions, other,
        "the seed changes the runaway's and the leak's draws"
    );
}
