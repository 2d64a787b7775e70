//! The book's behaviour, command by command.

use super::*;

fn limit(id: OrderId, owner: OwnerId, side: Side, price: Ticks, quantity: Lots) -> Command {
    Command::Place(NewOrder {
        id,
        owner,
        side,
        price: Some(price),
        quantity,
        time_in_force: TimeInForce::Gtc,
        post_only: false,
        self_trade: SelfTradePrevention::CancelTaker,
    })
}

fn run(book: &mut OrderBook, command: Command) -> Vec<Event> {
    let mut events = Vec::new();
    book.execute(command, &mut events);
    events
}

#[test]
fn orders_rest_at_their_price_and_the_best_is_on_top() {
    let mut book = OrderBook::new();
    run(&mut book, limit(1, 1, Side::Buy, 100, 5));
    run(&mut book, limit(2, 1, Side::Buy, 101, 5));
    run(&mut book, limit(3, 1, Side::Sell, 105, 5));
    run(&mut book, limit(4, 1, Side::Sell, 104, 5));
    run(&mut book, limit(5, 1, Side::Buy, 101, 3));
    assert_eq!(book.best_bid(), Some(101));
    assert_eq!(book.best_ask(), Some(104));
    assert_eq!(book.depth(Side::Buy, 5), [(101, 8), (100, 5)]);
    assert_eq!(book.depth(Side::Sell, 1), [(104, 5)]);
    let order: Vec<OrderId> = book.orders(Side::Buy).iter().map(|o| o.id).collect();
    assert_eq!(order, [2, 5, 1]);
}

#[test]
fn an_aggressive_order_sweeps_levels_in_price_time_order() {
    let mut book = OrderBook::new();
    run(&mut book, limit(1, 1, Side::Sell, 101, 2));
    run(&mut book, limit(2, 2, Side::Sell, 100, 3));
    run(&mut book, limit(3, 3, Side::Sell, 100, 4));
    let events = run(&mut book, limit(4, 9, Side::Buy, 101, 8));
    let trades: Vec<(OrderId, Ticks, Lots)> = events
        .iter()
        .filter_map(|e| match e {
            Event::Trade {
                maker,
                price,
                quantity,
                ..
            } => Some((*maker, *price, *quantity)),
            _ => None,
        })
        .collect();
    assert_eq!(trades, [(2, 100, 3), (3, 100, 4), (1, 101, 1)]);
    assert_eq!(book.depth(Side::Sell, 5), [(101, 1)]);
    assert!(book.best_bid().is_none(), "fully filled, nothing rests");
}

#[test]
fn ioc_and_market_remainders_are_cancelled_and_fok_is_all_or_nothing() {
    let mut book = OrderBook::new();
    run(&mut book, limit(1, 1, Side::Sell, 100, 5));
    let ioc = Command::Place(NewOrder {
        id: 2,
        owner: 2,
        side: Side::Buy,
        price: Some(100),
        quantity: 8,
        time_in_force: TimeInForce::Ioc,
        post_only: false,
        self_trade: SelfTradePrevention::CancelTaker,
    });
    let events = run(&mut book, ioc);
    assert!(matches!(
        events.last(),
        Some(Event::Cancelled {
            id: 2,
            remaining: 3,
            reason: CancelReason::Unfilled
        })
    ));
    run(&mut book, limit(3, 1, Side::Sell, 100, 5));
    let fok = |id, quantity| {
        Command::Place(NewOrder {
            id,
            owner: 2,
            side: Side::Buy,
            price: Some(100),
            quantity,
            time_in_force: TimeInForce::Fok,
            post_only: false,
            self_trade: SelfTradePrevention::CancelTaker,
        })
    };
    assert_eq!(
        run(&mut book, fok(4, 6)),
        [Event::Rejected {
            id: 4,
            reason: RejectReason::FillOrKillUnfillable
        }]
    );
    assert_eq!(book.depth(Side::Sell, 1), [(100, 5)], "untouched");
    assert!(matches!(
        run(&mut book, fok(5, 5)).as_slice(),
        [Event::Trade {
            taker_remaining: 0,
            ..
        }]
    ));
}

#[test]
fn post_only_never_takes() {
    let mut book = OrderBook::new();
    run(&mut book, limit(1, 1, Side::Sell, 100, 5));
    let post = |id, price| {
        Command::Place(NewOrder {
            id,
            owner: 2,
            side: Side::Buy,
            price,
            quantity: 1,
            time_in_force: TimeInForce::Gtc,
            post_only: true,
            self_trade: SelfTradePrevention::CancelTaker,
        })
    };
    assert!(matches!(
        run(&mut book, post(2, Some(100)))[0],
        Event::Rejected {
            reason: RejectReason::PostOnlyWouldTake,
            ..
        }
    ));
    assert!(matches!(
        run(&mut book, post(3, None))[0],
        Event::Rejected {
            reason: RejectReason::PostOnlyMarket,
            ..
        }
    ));
    assert!(matches!(
        run(&mut book, post(4, Some(99)))[0],
        Event::Rested { .. }
    ));
}

#[test]
fn self_trades_are_prevented_as_asked() {
    let stp = |id, self_trade| {
        Command::Place(NewOrder {
            id,
            owner: 1,
            side: Side::Buy,
            price: Some(100),
            quantity: 10,
            time_in_force: TimeInForce::Gtc,
            post_only: false,
            self_trade,
        })
    };
    let mut book = OrderBook::new();
    run(&mut book, limit(1, 2, Side::Sell, 100, 2));
    run(&mut book, limit(2, 1, Side::Sell, 100, 2));
    run(&mut book, limit(3, 2, Side::Sell, 100, 2));
    // The taker trades with owner 2 first, then meets its own order and is cancelled.
    let events = run(&mut book, stp(10, SelfTradePrevention::CancelTaker));
    assert!(matches!(events[0], Event::Trade { maker: 1, .. }));
    assert!(matches!(
        events[1],
        Event::Cancelled {
            id: 10,
            remaining: 8,
            reason: CancelReason::SelfTrade
        }
    ));
    assert_eq!(book.depth(Side::Sell, 1), [(100, 4)]);
    // Cancelling the maker instead lets it trade past its own order.
    let events = run(&mut book, stp(11, SelfTradePrevention::CancelMaker));
    assert!(matches!(
        events[0],
        Event::Cancelled {
            id: 2,
            reason: CancelReason::SelfTrade,
            ..
        }
    ));
    assert!(matches!(events[1], Event::Trade { maker: 3, .. }));
    assert!(matches!(
        events[2],
        Event::Rested {
            id: 11,
            quantity: 8,
            ..
        }
    ));
}

#[test]
fn cancels_remove_orders_and_unknown_ids_are_rejected() {
    let mut book = OrderBook::new();
    run(&mut book, limit(1, 1, Side::Buy, 100, 5));
    run(&mut book, limit(2, 1, Side::Buy, 100, 5));
    assert_eq!(
        run(&mut book, Command::Cancel(1)),
        [Event::Cancelled {
            id: 1,
            remaining: 5,
            reason: CancelReason::Requested
        }]
    );
    assert_eq!(book.depth(Side::Buy, 1), [(100, 5)]);
    assert!(matches!(
        run(&mut book, Command::Cancel(1))[0],
        Event::Rejected {
            reason: RejectReason::UnknownOrder,
            ..
        }
    ));
    run(&mut book, Command::Cancel(2));
    assert!(book.is_empty() && book.best_bid().is_none());
}

#[test]
fn a_smaller_quantity_keeps_priority_and_a_new_price_loses_it() {
    let mut book = OrderBook::new();
    run(&mut book, limit(1, 1, Side::Buy, 100, 5));
    run(&mut book, limit(2, 2, Side::Buy, 100, 5));
    let amend = |id, price, quantity| Command::Amend { id, price, quantity };
    assert!(matches!(
        run(&mut book, amend(1, None, Some(3)))[0],
        Event::Amended {
            kept_priority: true,
            quantity: 3,
            ..
        }
    ));
    assert_eq!(
        book.orders(Side::Buy).iter().map(|o| o.id).collect::<Vec<_>>(),
        [1, 2]
    );
    assert!(matches!(
        run(&mut book, amend(1, None, Some(4)))[0],
        Event::Amended {
            kept_priority: false,
            ..
        }
    ));
    assert_eq!(
        book.orders(Side::Buy).iter().map(|o| o.id).collect::<Vec<_>>(),
        [2, 1]
    );
    run(&mut book, limit(3, 3, Side::Sell, 102, 1));
    // Repricing across the spread matches at once.
    let events = run(&mut book, amend(2, Some(102), None));
    assert!(matches!(
        events[1],
        Event::Trade {
            maker: 3,
            quantity: 1,
            ..
        }
    ));
    assert!(matches!(
        events[2],
        Event::Rested {
            id: 2,
            price: 102,
            quantity: 4,
            ..
        }
    ));
}

#[test]
fn invalid_commands_leave_the_book_unchanged() {
    let mut book = OrderBook::new();
    run(&mut book, limit(1, 1, Side::Buy, 100, 5));
    for (command, reason) in [
        (limit(1, 1, Side::Buy, 100, 5), RejectReason::DuplicateOrderId),
        (limit(2, 1, Side::Buy, 100, 0), RejectReason::ZeroQuantity),
        (limit(3, 1, Side::Buy, 0, 1), RejectReason::NonPositivePrice),
        (
            Command::Amend {
                id: 1,
                price: Some(-5),
                quantity: None,
            },
            RejectReason::NonPositivePrice,
        ),
    ] {
        assert!(matches!(run(&mut book, command)[0], Event::Rejected { reason: r, .. } if r == reason));
    }
    assert_eq!(book.depth(Side::Buy, 5), [(100, 5)]);
}

#[test]
fn the_sweep_prices_a_market_order_before_it_is_placed() {
    let mut book = OrderBook::new();
    run(&mut book, limit(1, 1, Side::Sell, 100, 2));
    run(&mut book, limit(2, 1, Side::Sell, 102, 3));
    assert_eq!(book.sweep(Side::Buy, 4, None), (4, 2 * 100 + 2 * 102));
    assert_eq!(book.sweep(Side::Buy, 10, Some(101)), (2, 200));
    assert_eq!(book.sweep(Side::Sell, 1, None), (0, 0));
}
