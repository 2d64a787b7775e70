//! Unit tests of the books.

use super::*;
use crate::domain::{
    position::Side,
    settlement::{Cycle, Instruction},
};

fn d(text: &str) -> Decimal {
    text.parse().unwrap()
}

fn t(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::UNIX_EPOCH + Duration::seconds(seconds)
}

fn pnl(account: &str, first: u64, btc: &str, usd: &str, cycle: Cycle) -> Instruction {
    Instruction {
        external_id: format!("pnl:x:e:{first}"),
        account: tse_market::AccountId::parse(account).unwrap(),
        kind: Kind::ExchangePnl {
            exchange: "exchange-X".into(),
            entity: "e".into(),
            first_trade_id: first,
            last_trade_id: first,
            trades: 1,
            legs: vec![("BTC".into(), d(btc)), ("USD".into(), d(usd))],
            fills: Vec::new(),
        },
        cycle,
    }
}

#[test]
fn exchange_pnl_is_accepted_whole_and_covered_when_due() {
    let mut c = custody();
    let a = c.open_account(None, t(0)).id;
    c.deposit(&a, "USD", d("100")).unwrap();
    // Buy 1 BTC for 100 on T+1, sell it for 110 on T+1: the sale needs the BTC of the buy,
    // which arrives first, as it falls due first.
    let (buy, _) = c.submit(pnl(&a, 1, "1", "-100", Cycle::T1), t(0)).unwrap();
    let (sell, _) = c.submit(pnl(&a, 2, "-1", "110", Cycle::T1), t(10)).unwrap();
    assert_eq!(c.balance(&a, "USD").unwrap().locked, d("0"), "nothing locked");
    assert!(
        c.cancel(&buy.id, "no", t(20))
            .unwrap_err()
            .to_string()
            .contains("exchange's P&L")
    );
    c.settle_due(t(86_400 + 10));
    assert_eq!(c.settlement(&buy.id).unwrap().status, Status::Completed);
    assert_eq!(c.settlement(&sell.id).unwrap().status, Status::Completed);
    assert_eq!(c.balance(&a, "USD").unwrap().available, d("110"));
    assert_eq!(c.balance(&a, "BTC").unwrap().total(), d("0"));
    // A P&L the account cannot pay when due fails, saying why; nothing moves.
    let (short, _) = c
        .submit(pnl(&a, 3, "1", "-500", Cycle::T0), t(86_400 * 2))
        .unwrap();
    c.settle_due(t(86_400 * 2));
    let failed = c.settlement(&short.id).unwrap();
    assert_eq!(failed.status, Status::Failed);
    assert!(
        failed.reason.as_deref().unwrap().contains("insufficient USD"),
        "{failed:?}"
    );
    assert_eq!(c.balance(&a, "USD").unwrap().available, d("110"));
}

#[test]
fn a_partially_settled_instruction_cannot_be_cancelled() {
    let mut c = custody();
    let a = c.open_account(None, t(0)).id;
    c.deposit(&a, "USD", d("100000")).unwrap();
    let (s, _) = c.submit(buy(&a, "t", Cycle::T0), t(0)).unwrap();
    c.settle_part(&s.id, d("0.5"), t(0)).unwrap();
    assert!(
        c.cancel(&s.id, "no", t(1))
            .unwrap_err()
            .to_string()
            .contains("partially settled")
    );
    c.complete(&s.id, t(2)).unwrap();
    assert_eq!(c.balance(&a, "USD").unwrap().locked, d("0"));
}

#[test]
fn amounts_beyond_the_limit_are_refused_not_overflowed() {
    assert_eq!(MAX_AMOUNT, d("100000000000000000000"));
    let mut c = custody();
    let a = c.open_account(None, t(0)).id;
    assert!(c.deposit(&a, "USD", d("79228162514264337593543950335")).is_err());
    c.deposit(&a, "USD", d("1000")).unwrap();
    let huge = Instruction {
        external_id: "x".into(),
        account: a.clone(),
        kind: Kind::Trade {
            symbol: "BTC-USD".into(),
            side: Side::Sell,
            quantity: d("10000000000000000000"),
            price: d("10000000000000000000"),
            fee: d("0"),
        },
        cycle: Cycle::T0,
    };
    let refused = c.submit(huge, t(0)).unwrap_err().to_string();
    assert!(refused.contains("beyond the largest amount"), "{refused}");
}

fn custody() -> Custody {
    Custody::new(["BTC", "USD", "ETH"].map(String::from), Duration::days(1))
}

fn buy(account: &str, external_id: &str, cycle: Cycle) -> Instruction {
    Instruction {
        external_id: external_id.into(),
        account: tse_market::AccountId::parse(account).unwrap(),
        kind: Kind::Trade {
            symbol: "btc-usd".into(),
            side: Side::Buy,
            quantity: d("0.5"),
            price: d("100000"),
            fee: d("25"),
        },
        cycle,
    }
}

#[test]
fn deposits_withdrawals_and_transfers_move_available_funds_only_when_covered() {
    let mut c = custody();
    let a = c.open_account(Some("trading-system-LH".into()), t(0)).id;
    let b = c.open_account(None, t(0)).id;
    assert_eq!(c.deposit(&a, "usd", d("100")).unwrap().available, d("100"));
    assert!(matches!(
        c.withdraw(&a, "USD", d("100.01")),
        Err(CustodyError::Insufficient { .. })
    ));
    assert!(matches!(
        c.deposit(&a, "USD", d("-1")),
        Err(CustodyError::NonPositive { .. })
    ));
    assert!(matches!(
        c.deposit(&a, "DOGE", d("1")),
        Err(CustodyError::UnknownAsset { .. })
    ));
    assert!(matches!(
        c.deposit("cust-9", "USD", d("1")),
        Err(CustodyError::UnknownAccount(_))
    ));
    assert!(matches!(
        c.transfer(&a, &a, "USD", d("1")),
        Err(CustodyError::Invalid(_))
    ));
    let (from, to) = c.transfer(&a, &b, "USD", d("40")).unwrap();
    assert_eq!((from.available, to.available), (d("60"), d("40")));
    c.withdraw(&b, "USD", d("40")).unwrap();
    assert_eq!(c.external("USD"), d("60"));
    let changes = c.take_changes();
    assert_eq!(changes.accounts, [a.clone(), b.clone()]);
    assert_eq!(changes.movements.len(), 4);
}

#[test]
fn a_trade_settles_on_its_cycle_moving_funds_and_the_position() {
    let mut c = custody();
    let a = c.open_account(None, t(0)).id;
    c.deposit(&a, "USD", d("60000")).unwrap();
    let (s, new) = c.submit(buy(&a, "okx-1", Cycle::T2), t(10)).unwrap();
    assert!(new);
    assert_eq!(
        (s.id.as_str(), s.status, s.due_at),
        ("stl-1", Status::Pending, t(10) + Duration::days(2))
    );
    let usd = c.balance(&a, "USD").unwrap();
    assert_eq!((usd.available, usd.locked), (d("9975"), d("50025")));
    assert!(
        c.settle_due(t(10) + Duration::days(1)).is_empty(),
        "not due on T+1"
    );
    let settled = c.settle_due(t(10) + Duration::days(2));
    assert_eq!(settled.len(), 1);
    assert_eq!(settled[0].status, Status::Completed);
    let usd = c.balance(&a, "USD").unwrap();
    assert_eq!((usd.available, usd.locked), (d("9975"), d("0")));
    assert_eq!(c.balance(&a, "BTC").unwrap().available, d("0.5"));
    let positions = c.positions(&a).unwrap();
    assert_eq!(positions[0].0, "BTC-USD");
    assert_eq!(
        (positions[0].1.quantity, positions[0].1.average_cost),
        (d("0.5"), d("100000"))
    );
    assert_eq!(c.external("BTC"), d("0.5"));
    assert_eq!(c.external("USD"), d("9975"));
}

#[test]
fn instructions_are_idempotent_by_external_id_and_refused_whole_when_not_covered() {
    let mut c = custody();
    let a = c.open_account(None, t(0)).id;
    assert!(matches!(
        c.submit(buy(&a, "x-1", Cycle::T0), t(1)),
        Err(CustodyError::Insufficient { .. })
    ));
    assert_eq!(
        c.balance(&a, "USD").unwrap(),
        Balance::default(),
        "nothing locked"
    );
    c.deposit(&a, "USD", d("100000")).unwrap();
    let (first, _) = c.submit(buy(&a, "x-1", Cycle::T0), t(1)).unwrap();
    let (again, new) = c.submit(buy(&a, "x-1", Cycle::T0), t(2)).unwrap();
    assert_eq!((again.id, new), (first.id.clone(), false));
    assert_eq!(c.balance(&a, "USD").unwrap().locked, d("50025"), "locked once");
    let other = Instruction {
        cycle: Cycle::T1,
        ..buy(&a, "x-1", Cycle::T0)
    };
    assert!(matches!(
        c.submit(other, t(3)),
        Err(CustodyError::DuplicateExternalId { .. })
    ));
}

#[test]
fn cancelled_and_failed_settlements_release_their_locks() {
    let mut c = custody();
    let a = c.open_account(None, t(0)).id;
    c.deposit(&a, "USD", d("200000")).unwrap();
    let (one, _) = c.submit(buy(&a, "1", Cycle::T1), t(0)).unwrap();
    let (two, _) = c.submit(buy(&a, "2", Cycle::T1), t(0)).unwrap();
    c.cancel(&one.id, "client request", t(5)).unwrap();
    let failed = c.fail(&two.id, "counterparty refused", t(6)).unwrap();
    assert_eq!(
        (failed.status, failed.reason.as_deref()),
        (Status::Failed, Some("counterparty refused"))
    );
    assert_eq!(
        c.balance(&a, "USD").unwrap(),
        Balance {
            available: d("200000"),
            locked: d("0")
        }
    );
    assert!(matches!(
        c.cancel(&one.id, "again", t(7)),
        Err(CustodyError::NotPending { .. })
    ));
    assert!(c.settle_due(t(0) + Duration::days(3)).is_empty());
}

#[test]
fn net_instructions_move_several_assets_and_reconciliation_finds_breaks() {
    let mut c = custody();
    let a = c.open_account(None, t(0)).id;
    c.deposit(&a, "ETH", d("10")).unwrap();
    let net = Instruction {
        external_id: "okx:2026-12-01".into(),
        account: a.clone(),
        kind: Kind::Net {
            legs: vec![("eth".into(), d("-4")), ("USD".into(), d("12000"))],
        },
        cycle: Cycle::T0,
    };
    c.submit(net, t(0)).unwrap();
    c.settle_due(t(0));
    let breaks = c
        .reconcile(&a, &[("ETH".into(), d("6")), ("USD".into(), d("11000"))])
        .unwrap();
    assert_eq!(breaks.len(), 1);
    assert_eq!(
        (breaks[0].asset.as_str(), breaks[0].held, breaks[0].difference),
        ("USD", d("12000"), d("-1000"))
    );
    let bad = |legs: Vec<(String, Decimal)>| Instruction {
        external_id: "bad".into(),
        account: a.clone(),
        kind: Kind::Net { legs },
        cycle: Cycle::T0,
    };
    assert!(c.submit(bad(vec![]), t(1)).is_err());
    assert!(c.submit(bad(vec![("ETH".into(), d("0"))]), t(1)).is_err());
    assert!(
        c.submit(bad(vec![("ETH".into(), d("1")), ("eth".into(), d("1"))]), t(1))
            .is_err()
    );
}
