//! Decisions per second one strategy sustains in the pure core: 10 000 pre-generated reference
//! prices and book tops go through a [`Desk`] running that one strategy, and a minimal exchange
//! answers its orders at once (resting orders acknowledged, takers filled at the book's top,
//! amends and cancels applied), so the strategy keeps quoting and trading as it would live.
//!
//! `cargo bench -p tse-trading-system --bench decisions`

use std::{collections::VecDeque, hint::black_box};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use rust_decimal::Decimal;
use time::OffsetDateTime;
use tse_market::{Side, Symbol};
use tse_trading_system::domain::{
    desk::{Action, Desk},
    market::{BookTop, Event, Instrument, Top},
    order::{Fill, Liquidity, OrderStatus, OrderType, OrderUpdate, TimeInForce},
    strategy::{Params, StrategyConfig, StrategyKind},
};

/// Market events per run.
const EVENTS: usize = 10_000;

fn btc() -> Symbol {
    Symbol::parse("BTC-USD").expect("a symbol")
}

/// A random walk of BTC-USD with book tops at two exchanges around it, one event in three each:
/// a reference price, a top at `a`, a top at `b` (the venues drift apart now and then).
fn events() -> Vec<(OffsetDateTime, Event)> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut draw = move |n: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        i64::try_from(state % n).unwrap_or(0)
    };
    let mut price = Decimal::new(100_000, 0);
    let mut now = OffsetDateTime::UNIX_EPOCH;
    (0..EVENTS)
        .map(|i| {
            now += time::Duration::milliseconds(100);
            let event = match i % 3 {
                0 => {
                    price = (price * (Decimal::ONE + Decimal::new(draw(41) - 20, 4))).round_dp(2);
                    Event::Price { symbol: btc(), price }
                }
                venue => {
                    let mid = price * (Decimal::ONE + Decimal::new(draw(31) - 15, 4));
                    let half = Decimal::new(1 + draw(5), 4);
                    let mut top = |p: Decimal| {
                        Some(Top {
                            price: p.round_dp(1),
                            quantity: Decimal::new(1 + draw(100), 3),
                        })
                    };
                    Event::Book {
                        exchange: if venue == 1 { "a" } else { "b" }.into(),
                        symbol: btc(),
                        top: BookTop {
                            bid: top(mid * (Decimal::ONE - half)),
                            ask: top(mid * (Decimal::ONE + half) + Decimal::ONE),
                        },
                    }
                }
            };
            (now, event)
        })
        .collect()
}

fn desk(kind: StrategyKind, exchanges: &[&str], params: serde_json::Value) -> Desk {
    let config = StrategyConfig {
        name: "bench".into(),
        kind,
        exchanges: exchanges.iter().map(|e| (*e).to_owned()).collect(),
        symbols: vec![btc()],
        params: Params::from_json(&params).expect("params"),
        max_position: Decimal::ONE,
        max_order_size: Decimal::new(1, 1),
        enabled: true,
    };
    let mut desk = Desk::new(7, &[config]).expect("a desk");
    for exchange in ["a", "b"] {
        desk.list(
            exchange,
            Instrument {
                symbol: btc(),
                tick: Decimal::new(1, 1),
                lot: Decimal::new(1, 4),
                maker_fee: Decimal::new(2, 4),
                taker_fee: Decimal::new(5, 4),
            },
        );
    }
    desk
}

/// Feeds every event, answering the desk's actions as an exchange would at once; returns the
/// number of actions.
fn run(mut desk: Desk, events: &[(OffsetDateTime, Event)]) -> usize {
    let mut queue = VecDeque::new();
    let mut ids = 0u64;
    let mut count = 0;
    for (now, event) in events {
        queue.extend(desk.on_event(*now, event));
        while let Some(action) = queue.pop_front() {
            count += 1;
            ids += 1;
            let answer = |status, filled| OrderUpdate {
                client_order_id: match &action {
                    Action::Place(o) => o.client_order_id.clone(),
                    Action::Cancel { client_order_id, .. } | Action::Amend { client_order_id, .. } => {
                        client_order_id.clone()
                    }
                },
                order_id: Some(ids),
                status,
                filled,
                reason: None,
            };
            match &action {
                Action::Place(order) if order.spec.rests() => {
                    queue.extend(desk.on_event(*now, &Event::Order(answer(OrderStatus::New, Decimal::ZERO))));
                }
                Action::Place(order) => {
                    let top = desk
                        .market()
                        .book(&order.spec.exchange, &order.spec.symbol)
                        .unwrap_or_default();
                    let price = match (order.spec.side, order.spec.order_type) {
                        (
                            Side::Buy,
                            OrderType::Market
                            | OrderType::Limit {
                                time_in_force: TimeInForce::Ioc,
                                ..
                            },
                        ) => top.ask.map_or(Decimal::ZERO, |t| t.price),
                        _ => top.bid.map_or(Decimal::ZERO, |t| t.price),
                    };
                    let fill = Fill {
                        exchange: order.spec.exchange.clone(),
                        trade_id: ids,
                        order_id: ids,
                        client_order_id: order.client_order_id.clone(),
                        symbol: order.spec.symbol.clone(),
                        side: order.spec.side,
                        price,
                        quantity: order.spec.quantity,
                        fee: Decimal::ZERO,
                        liquidity: Liquidity::Taker,
                        at: *now,
                    };
                    queue.extend(desk.on_event(*now, &Event::Fill(fill)));
                    let done = answer(OrderStatus::Filled, order.spec.quantity);
                    queue.extend(desk.on_event(*now, &Event::Order(done)));
                }
                Action::Cancel { .. } => {
                    queue.extend(
                        desk.on_event(*now, &Event::Order(answer(OrderStatus::Cancelled, Decimal::ZERO))),
                    );
                }
                Action::Amend {
                    client_order_id,
                    price,
                    quantity,
                    ..
                } => desk.amended(client_order_id, *price, *quantity),
            }
        }
    }
    count
}

fn decisions(c: &mut Criterion) {
    let events = events();
    let mut group = c.benchmark_group("decisions");
    group.throughput(Throughput::Elements(EVENTS as u64));
    let cases: [(&str, StrategyKind, &[&str], serde_json::Value); 3] = [
        (
            "market_making",
            StrategyKind::MarketMaking,
            &["a"],
            serde_json::json!({"spread_bps": 5, "size": "0.01"}),
        ),
        (
            "momentum",
            StrategyKind::Momentum,
            &["a"],
            serde_json::json!({"fast": 10, "slow": 30, "size": "0.05"}),
        ),
        (
            "arbitrage",
            StrategyKind::Arbitrage,
            &["a", "b"],
            serde_json::json!({"cooldown": "500ms"}),
        ),
    ];
    for (name, kind, exchanges, params) in cases {
        let actions = run(desk(kind, exchanges, params.clone()), &events);
        assert!(actions > 0, "{name} did nothing on the bench's events");
        group.bench_function(name, |b| {
            b.iter_batched(
                || desk(kind, exchanges, params.clone()),
                |desk| black_box(run(desk, black_box(&events))),
                BatchSize::LargeInput,
            );
        });
    }
    group.finish();
}

criterion_group!(benches, decisions);
criterion_main!(benches);
