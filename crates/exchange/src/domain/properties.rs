//! Invariants of the venue over random sequences of deposits, withdrawals, orders, cancels and amends:
//! for every asset, the balances of all accounts plus the collected fees equal deposits minus
//! withdrawals; no balance or reservation goes negative; every lock is owned by an open order.

use proptest::prelude::*;
use rust_decimal::Decimal;
use time::OffsetDateTime;
use tse_market::AccountId;
use tse_matching::{SelfTradePrevention, Side, TimeInForce};

use super::{
    instrument::Instrument,
    order::OrderType,
    venue::{Fees, PlaceRequest, Venue},
};

#[derive(Clone, Debug)]
enum Op {
    Deposit {
        account: usize,
        asset: usize,
        amount: i64,
    },
    Withdraw {
        account: usize,
        asset: usize,
        amount: i64,
    },
    Place {
        account: usize,
        instrument: usize,
        buy: bool,
        market: bool,
        tif: usize,
        price: i64,
        lots: i64,
        stp: usize,
    },
    Cancel {
        pick: usize,
    },
    Amend {
        pick: usize,
        price: i64,
        lots: i64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => (0usize..3, 0usize..3, 1i64..1_000_000).prop_map(|(account, asset, amount)| Op::Deposit { account, asset, amount }),
        1 => (0usize..3, 0usize..3, 1i64..500_000).prop_map(|(account, asset, amount)| Op::Withdraw { account, asset, amount }),
        8 => (0usize..3, 0usize..2, any::<bool>(), prop::bool::weighted(0.2), 0usize..3, 95i64..105, 1i64..50, 0usize..3)
            .prop_map(|(account, instrument, buy, market, tif, price, lots, stp)| Op::Place { account, instrument, buy, market, tif, price, lots, stp }),
        2 => any::<usize>().prop_map(|pick| Op::Cancel { pick }),
        1 => (any::<usize>(), 95i64..105, 1i64..60).prop_map(|(pick, price, lots)| Op::Amend { pick, price, lots }),
    ]
}

fn venue() -> Venue {
    let instruments = vec![
        Instrument::new("BTC-USD", Decimal::new(1, 0), Decimal::new(1, 3)).unwrap(),
        Instrument::new("ETH-USD", Decimal::new(1, 1), Decimal::new(1, 2)).unwrap(),
    ];
    Venue::new(
        instruments,
        Fees {
            maker: Decimal::new(2, 4),
            taker: Decimal::new(7, 4),
        },
    )
}

/// Share of generated runs that traded at all, so the invariants are not checked on idle books only.
static TRADING_RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn assets_are_conserved_and_never_negative(ops in prop::collection::vec(op(), 1..200)) {
        let mut v = venue();
        let at = OffsetDateTime::UNIX_EPOCH;
        let accounts: Vec<String> = (0..3).map(|_| {
            let i = v.open_account(None, at);
            v.account_at(i).id.clone()
        }).collect();
        let assets = ["BTC", "ETH", "USD"];
        let mut placed: Vec<u64> = Vec::new();
        let mut traded = 0usize;
        for op in ops {
            match op {
                Op::Deposit { account, asset, amount } => {
                    v.deposit(&accounts[account], assets[asset], Decimal::new(amount, 2)).unwrap();
                }
                Op::Withdraw { account, asset, amount } => {
                    let _ = v.withdraw(&accounts[account], assets[asset], Decimal::new(amount, 2));
                }
                Op::Place { account, instrument, buy, market, tif, price, lots, stp } => {
                    let request = PlaceRequest {
                        account: AccountId::parse(&accounts[account]).unwrap(),
                        symbol: ["BTC-USD", "ETH-USD"][instrument].into(),
                        side: if buy { Side::Buy } else { Side::Sell },
                        order_type: if market { OrderType::Market } else { OrderType::Limit },
                        price: (!market).then(|| Decimal::new(price * 10_i64.pow(instrument as u32), instrument as u32)),
                        quantity: Decimal::new(lots, [3, 2][instrument]),
                        time_in_force: Some([TimeInForce::Gtc, TimeInForce::Ioc, TimeInForce::Fok][tif])
                            .filter(|t| !(market && *t == TimeInForce::Gtc)),
                        post_only: false,
                        client_order_id: None,
                        self_trade: if market && buy {
                            SelfTradePrevention::CancelTaker
                        } else {
                            [SelfTradePrevention::CancelTaker, SelfTradePrevention::CancelMaker, SelfTradePrevention::CancelBoth][stp]
                        },
                    };
                    if let Ok((order, trades)) = v.place(request, at) {
                        placed.push(order.id);
                        traded += trades.len();
                    }
                }
                Op::Cancel { pick } => {
                    if !placed.is_empty() {
                        let _ = v.cancel(placed[pick % placed.len()], at);
                    }
                }
                Op::Amend { pick, price, lots } => {
                    if !placed.is_empty() {
                        let id = placed[pick % placed.len()];
                        let scale = v.order(id).map_or(0, |o| o.instrument as u32);
                        let _ = v.amend(
                            id,
                            Some(Decimal::new(price * 10_i64.pow(scale), scale)),
                            Some(Decimal::new(lots, [3, 2][scale as usize])),
                            at,
                        );
                    }
                }
            }
            let ledger = v.ledger();
            for (asset, name) in ledger.assets().iter().enumerate() {
                let asset = asset as u16;
                prop_assert_eq!(ledger.held(asset), Some(ledger.net_deposits(asset)), "{} is conserved", name);
                for account in 0..3u32 {
                    let b = ledger.balance(account, asset);
                    prop_assert!(b.available >= Decimal::ZERO && b.locked >= Decimal::ZERO, "{name}: {b:?}");
                }
                // What is locked is exactly what open orders hold.
                for account in 0..3u32 {
                    let held_by_orders: Decimal = v
                        .open_orders(account)
                        .iter()
                        .filter(|o| {
                            let i = &v.instruments()[o.instrument];
                            (if o.side == Side::Buy { &i.quote } else { &i.base }) == name
                        })
                        .map(|o| o.locked)
                        .sum();
                    prop_assert_eq!(ledger.balance(account, asset).locked, held_by_orders, "{} locks of account {}", name, account);
                }
            }
        }
        if traded > 0 {
            TRADING_RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

#[test]
fn random_runs_do_trade() {
    // Runs the property once more in-process and checks that a good share of runs traded.
    assets_are_conserved_and_never_negative();
    let runs = TRADING_RUNS.load(std::sync::atomic::Ordering::Relaxed);
    assert!(runs > 100, "only {runs} of 256 runs traded");
}

/// A decimal of any magnitude, from 10^-8 to beyond what a decimal holds (clamped to its largest).
fn any_magnitude() -> impl Strategy<Value = Decimal> {
    (1i64..100_000, -8i32..32).prop_map(|(mantissa, exponent)| {
        if exponent < 0 {
            Decimal::new(mantissa, exponent.unsigned_abs())
        } else {
            (0..exponent).fold(Decimal::from(mantissa), |d, _| {
                d.checked_mul(Decimal::TEN).unwrap_or(Decimal::MAX)
            })
        }
    })
}

#[derive(Clone, Debug)]
enum Wild {
    Deposit(usize, usize, Decimal),
    Place(usize, usize, bool, bool, Decimal, Decimal),
    Amend(usize, Option<Decimal>, Option<Decimal>),
}

fn wild() -> impl Strategy<Value = Wild> {
    prop_oneof![
        (0usize..3, 0usize..3, any_magnitude()).prop_map(|(a, s, x)| Wild::Deposit(a, s, x)),
        (
            0usize..3,
            0usize..2,
            any::<bool>(),
            prop::bool::weighted(0.2),
            any_magnitude(),
            any_magnitude()
        )
            .prop_map(|(a, i, buy, market, p, q)| Wild::Place(a, i, buy, market, p, q)),
        (
            any::<usize>(),
            prop::option::of(any_magnitude()),
            prop::option::of(any_magnitude())
        )
            .prop_map(|(pick, p, q)| Wild::Amend(pick, p, q)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whatever the size of the values asked for, the venue answers (refusing what is too large)
    /// and keeps every asset conserved and every digit.
    #[test]
    fn values_of_any_magnitude_never_panic_nor_break_conservation(ops in prop::collection::vec(wild(), 1..120)) {
        let mut v = venue();
        let at = OffsetDateTime::UNIX_EPOCH;
        let accounts: Vec<String> = (0..3).map(|_| {
            let i = v.open_account(None, at);
            v.account_at(i).id.clone()
        }).collect();
        let mut placed: Vec<u64> = Vec::new();
        for op in ops {
            match op {
                Wild::Deposit(account, asset, amount) => {
                    let _ = v.deposit(&accounts[account], ["BTC", "ETH", "USD"][asset], amount);
                }
                Wild::Place(account, instrument, buy, market, price, quantity) => {
                    let request = PlaceRequest {
                        account: AccountId::parse(&accounts[account]).unwrap(),
                        symbol: ["BTC-USD", "ETH-USD"][instrument].into(),
                        side: if buy { Side::Buy } else { Side::Sell },
                        order_type: if market { OrderType::Market } else { OrderType::Limit },
                        price: (!market).then_some(price),
                        quantity,
                        time_in_force: market.then_some(TimeInForce::Ioc),
                        post_only: false,
                        client_order_id: None,
                        self_trade: SelfTradePrevention::CancelTaker,
                    };
                    if let Ok((order, _)) = v.place(request, at) {
                        placed.push(order.id);
                    }
                }
                Wild::Amend(pick, price, quantity) => {
                    if !placed.is_empty() {
                        let _ = v.amend(placed[pick % placed.len()], price, quantity, at);
                    }
                }
            }
            let ledger = v.ledger();
            for asset in 0..ledger.assets().len() {
                let asset = asset as u16;
                prop_assert_eq!(ledger.held(asset), Some(ledger.net_deposits(asset)));
            }
        }
    }
}
