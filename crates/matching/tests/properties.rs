//! Properties of the matching engine over random command sequences: the book is never crossed at
//! rest, fills never exceed an order's quantity, levels fill oldest first, quantities are conserved,
//! and replaying the same commands gives the same events.

use std::collections::{BTreeMap, HashMap};

use proptest::prelude::*;
use tse_matching::{
    Command, Event, Lots, NewOrder, OrderBook, OrderId, SelfTradePrevention, Side, Ticks, TimeInForce,
};

#[derive(Clone, Debug)]
enum Op {
    Place {
        owner: u64,
        side: Side,
        price: Option<Ticks>,
        quantity: Lots,
        tif: TimeInForce,
        post_only: bool,
        stp: SelfTradePrevention,
    },
    Cancel(usize),
    Amend {
        target: usize,
        price: Option<Ticks>,
        quantity: Option<Lots>,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let side = prop_oneof![Just(Side::Buy), Just(Side::Sell)];
    let tif =
        prop_oneof![6 => Just(TimeInForce::Gtc), 2 => Just(TimeInForce::Ioc), 1 => Just(TimeInForce::Fok)];
    let stp = prop_oneof![
        Just(SelfTradePrevention::CancelTaker),
        Just(SelfTradePrevention::CancelMaker),
        Just(SelfTradePrevention::CancelBoth)
    ];
    prop_oneof![
        6 => (0u64..4, side, prop::option::weighted(0.9, 90i64..110), 1u64..20, tif, prop::bool::weighted(0.1), stp)
            .prop_map(|(owner, side, price, quantity, tif, post_only, stp)| Op::Place {
                owner, side, price, quantity, tif, post_only, stp
            }),
        2 => any::<usize>().prop_map(Op::Cancel),
        1 => (any::<usize>(), prop::option::of(90i64..110), prop::option::of(1u64..20))
            .prop_map(|(target, price, quantity)| Op::Amend { target, price, quantity }),
    ]
}

/// Turns ops into commands; cancels and amends name earlier order ids.
fn commands(ops: &[Op]) -> Vec<Command> {
    let mut placed: Vec<OrderId> = Vec::new();
    ops.iter()
        .map(|op| match *op {
            Op::Place {
                owner,
                side,
                price,
                quantity,
                tif,
                post_only,
                stp,
            } => {
                let id = placed.len() as u64 + 1;
                placed.push(id);
                Command::Place(NewOrder {
                    id,
                    owner,
                    side,
                    price,
                    quantity,
                    time_in_force: tif,
                    post_only,
                    self_trade: stp,
                })
            }
            Op::Cancel(i) => Command::Cancel(if placed.is_empty() {
                999
            } else {
                placed[i % placed.len()]
            }),
            Op::Amend {
                target,
                price,
                quantity,
            } => Command::Amend {
                id: if placed.is_empty() {
                    999
                } else {
                    placed[target % placed.len()]
                },
                price,
                quantity,
            },
        })
        .collect()
}

fn run_all(commands: &[Command]) -> (OrderBook, Vec<Vec<Event>>) {
    let mut book = OrderBook::new();
    let mut all = Vec::new();
    for command in commands {
        let mut events = Vec::new();
        book.execute(*command, &mut events);
        all.push(events);
    }
    (book, all)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn the_book_is_never_crossed_at_rest(ops in prop::collection::vec(op(), 1..300)) {
        let mut book = OrderBook::new();
        for command in commands(&ops) {
            let mut events = Vec::new();
            book.execute(command, &mut events);
            if let (Some(bid), Some(ask)) = (book.best_bid(), book.best_ask()) {
                prop_assert!(bid < ask, "crossed: bid {bid} ask {ask} after {command:?}");
            }
            for side in [Side::Buy, Side::Sell] {
                let depth = book.depth(side, usize::MAX);
                let total: Lots = book.orders(side).iter().map(|o| o.remaining).sum();
                prop_assert_eq!(depth.iter().map(|(_, q)| q).sum::<Lots>(), total, "level totals match their orders");
                prop_assert!(depth.iter().all(|(_, q)| *q > 0), "no empty level");
            }
        }
    }

    #[test]
    fn fills_never_exceed_an_order_and_quantities_are_conserved(ops in prop::collection::vec(op(), 1..300)) {
        let commands = commands(&ops);
        let (book, events) = run_all(&commands);
        // Current quantity of each order: placed (or amended) minus fills and cancels.
        let mut open: HashMap<OrderId, Lots> = HashMap::new();
        let mut filled: HashMap<OrderId, Lots> = HashMap::new();
        let mut original: HashMap<OrderId, Lots> = HashMap::new();
        for (command, events) in commands.iter().zip(&events) {
            if let Command::Place(order) = command
                && !events.iter().any(|e| matches!(e, Event::Rejected { .. }))
            {
                original.insert(order.id, order.quantity);
            }
            for event in events {
                match *event {
                    Event::Trade { taker, maker, quantity, taker_remaining, maker_remaining, .. } => {
                        *filled.entry(taker).or_default() += quantity;
                        *filled.entry(maker).or_default() += quantity;
                        open.insert(taker, taker_remaining);
                        open.insert(maker, maker_remaining);
                    }
                    Event::Rested { id, quantity, .. } => { open.insert(id, quantity); }
                    Event::Cancelled { id, .. } => { open.insert(id, 0); }
                    Event::Amended { id, quantity, .. } => {
                        // An amendment resets what the order may still fill.
                        let already = filled.get(&id).copied().unwrap_or(0);
                        original.insert(id, already + quantity);
                        open.insert(id, quantity);
                    }
                    Event::Rejected { .. } => {}
                }
            }
        }
        for (id, total) in &filled {
            prop_assert!(total <= &original[id], "order {id} filled {total} of {}", original[id]);
        }
        let resting: BTreeMap<OrderId, Lots> = [Side::Buy, Side::Sell]
            .iter()
            .flat_map(|s| book.orders(*s))
            .map(|o| (o.id, o.remaining))
            .collect();
        for (id, remaining) in &resting {
            prop_assert_eq!(open.get(id), Some(remaining), "order {} rests with what the events say", id);
        }
    }

    #[test]
    fn levels_fill_oldest_first(
        makers in prop::collection::vec((0u64..3, 1u64..10), 1..30),
        take in 1u64..200,
    ) {
        let mut book = OrderBook::new();
        let mut events = Vec::new();
        for (i, (owner, quantity)) in makers.iter().enumerate() {
            book.execute(Command::Place(NewOrder {
                id: i as u64 + 1, owner: *owner, side: Side::Sell, price: Some(100), quantity: *quantity,
                time_in_force: TimeInForce::Gtc, post_only: false, self_trade: SelfTradePrevention::CancelTaker,
            }), &mut events);
        }
        events.clear();
        book.execute(Command::Place(NewOrder {
            id: 1_000, owner: 99, side: Side::Buy, price: Some(100), quantity: take,
            time_in_force: TimeInForce::Ioc, post_only: false, self_trade: SelfTradePrevention::CancelTaker,
        }), &mut events);
        let makers_hit: Vec<OrderId> = events.iter().filter_map(|e| match e {
            Event::Trade { maker, .. } => Some(*maker), _ => None }).collect();
        let expected: Vec<OrderId> = (1..=makers_hit.len() as u64).collect();
        prop_assert_eq!(makers_hit, expected, "makers trade in arrival order");
    }

    #[test]
    fn replaying_the_same_commands_gives_the_same_events(ops in prop::collection::vec(op(), 1..300)) {
        let commands = commands(&ops);
        let (first_book, first) = run_all(&commands);
        let (second_book, second) = run_all(&commands);
        prop_assert_eq!(&first, &second);
        prop_assert_eq!(first_book.orders(Side::Buy), second_book.orders(Side::Buy));
        prop_assert_eq!(first_book.orders(Side::Sell), second_book.orders(Side::Sell));
    }

    #[test]
    fn re_placing_resting_orders_in_priority_order_rebuilds_the_book(ops in prop::collection::vec(op(), 1..300)) {
        let (book, _) = run_all(&commands(&ops));
        let mut rebuilt = OrderBook::new();
        let mut events = Vec::new();
        for side in [Side::Buy, Side::Sell] {
            for order in book.orders(side) {
                rebuilt.execute(Command::Place(NewOrder {
                    id: order.id, owner: order.owner, side: order.side, price: Some(order.price),
                    quantity: order.remaining, time_in_force: TimeInForce::Gtc, post_only: false,
                    self_trade: SelfTradePrevention::CancelTaker,
                }), &mut events);
            }
        }
        prop_assert!(events.iter().all(|e| matches!(e, Event::Rested { .. })), "nothing matches on rebuild");
        prop_assert_eq!(rebuilt.orders(Side::Buy), book.orders(Side::Buy));
        prop_assert_eq!(rebuilt.orders(Side::Sell), book.orders(Side::Sell));
    }
}
