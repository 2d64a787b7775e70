//! The desk with scripted strategies: limits, naming, fills counted once, stop, halt, faults.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
};

use rust_decimal::Decimal;
use time::OffsetDateTime;
use tse_market::{ClientOrderId, Side, Symbol};
use uuid::Uuid;

use super::*;
use crate::domain::{
    market::{Event, Instrument},
    order::{Fill, Intent, Liquidity, OrderSpec, OrderStatus, OrderType, OrderUpdate, TimeInForce},
    strategy::{Context, Params, Strategy, StrategyConfig, StrategyKind},
};

fn d(text: &str) -> Decimal {
    text.parse().unwrap()
}

fn btc() -> Symbol {
    Symbol::parse("BTC-USD").unwrap()
}

const EX: &str = "exchange-A";

/// A strategy that answers each event with the next scripted intents, and records what it saw.
struct Scripted {
    script: Arc<Mutex<VecDeque<Vec<Intent>>>>,
    seen: Arc<Mutex<Vec<Event>>>,
}

impl Strategy for Scripted {
    fn on_event(&mut self, event: &Event, _ctx: &Context<'_>, out: &mut Vec<Intent>) {
        self.seen.lock().unwrap().push(event.clone());
        if let Some(next) = self.script.lock().unwrap().pop_front() {
            out.extend(next);
        }
    }
    fn save(&self) -> serde_json::Value {
        serde_json::json!({"seen": self.seen.lock().unwrap().len()})
    }
    fn restore(&mut self, _state: &serde_json::Value) -> Result<(), String> {
        Ok(())
    }
}

type Script = Arc<Mutex<VecDeque<Vec<Intent>>>>;

fn config(name: &str, kind: StrategyKind) -> StrategyConfig {
    StrategyConfig {
        name: name.to_owned(),
        kind,
        exchanges: vec![EX.to_owned()],
        symbols: vec![btc()],
        params: Params::default(),
        max_position: d("1"),
        max_order_size: d("0.5"),
        enabled: true,
    }
}

fn desk_with(name: &str, kind: StrategyKind) -> (Desk, Script) {
    let mut desk = Desk::new(7, &[]).unwrap();
    desk.list(
        EX,
        Instrument {
            symbol: btc(),
            tick: d("0.01"),
            lot: d("0.0001"),
            maker_fee: d("0.0002"),
            taker_fee: d("0.0005"),
        },
    );
    let script: Script = Arc::default();
    desk.push(
        config(name, kind),
        Box::new(Scripted {
            script: script.clone(),
            seen: Arc::default(),
        }),
    );
    (desk, script)
}

fn buy(quantity: &str) -> Intent {
    Intent::Place(OrderSpec {
        exchange: EX.to_owned(),
        symbol: btc(),
        side: Side::Buy,
        order_type: OrderType::Limit {
            price: d("100"),
            time_in_force: TimeInForce::Gtc,
            post_only: true,
        },
        quantity: d(quantity),
    })
}

fn now() -> OffsetDateTime {
    OffsetDateTime::UNIX_EPOCH
}

fn tick(desk: &mut Desk) -> Vec<Action> {
    desk.on_event(now(), &Event::Timer)
}

fn ack(desk: &mut Desk, id: &str, order_id: u64, status: OrderStatus, filled: &str) -> Vec<Action> {
    desk.on_event(
        now(),
        &Event::Order(OrderUpdate {
            client_order_id: ClientOrderId::parse(id).unwrap(),
            order_id: Some(order_id),
            status,
            filled: d(filled),
            reason: None,
        }),
    )
}

fn fill(trade_id: u64, id: &str, order_id: u64, quantity: &str) -> Event {
    Event::Fill(Fill {
        exchange: EX.to_owned(),
        trade_id,
        order_id,
        client_order_id: ClientOrderId::parse(id).unwrap(),
        symbol: btc(),
        side: Side::Buy,
        price: d("100"),
        quantity: d(quantity),
        fee: d("0.01"),
        liquidity: Liquidity::Maker,
        at: now(),
    })
}

#[test]
fn orders_are_named_after_their_strategy_and_limits_refuse_what_breaks_them() {
    let (mut desk, script) = desk_with("mm", StrategyKind::MarketMaking);
    script
        .lock()
        .unwrap()
        .extend([vec![buy("0.4"), buy("0.4")], vec![buy("0.6")], vec![buy("0.4")]]);
    let actions = tick(&mut desk);
    let names: Vec<_> = actions
        .iter()
        .map(|a| match a {
            Action::Place(o) => o.client_order_id.to_string(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(names, ["mm-1", "mm-2"]);
    // Larger than max_order_size.
    assert!(tick(&mut desk).is_empty());
    // 0.8 open on the buy side + 0.4 would pass max_position 1.
    assert!(tick(&mut desk).is_empty());
    let slot = desk.slot("mm").unwrap();
    assert_eq!(slot.rejected.get("max_order_size"), Some(&1));
    assert_eq!(slot.rejected.get("max_position"), Some(&1));
    assert_eq!(slot.submitted.get(EX), Some(&2));
    let changes = desk.take_changes();
    assert_eq!(changes.orders.len(), 2);
    assert_eq!(
        changes
            .events
            .iter()
            .filter(|e| matches!(e, DeskEvent::Rejected { .. }))
            .count(),
        2
    );
}

#[test]
fn risk_ignorant_is_not_held_by_the_limits() {
    let (mut desk, script) = desk_with("reckless", StrategyKind::RiskIgnorant);
    script.lock().unwrap().extend([vec![buy("5")]]);
    assert_eq!(tick(&mut desk).len(), 1);
}

#[test]
fn a_fill_counts_once_whichever_way_it_arrives_and_positions_are_the_sum_of_fills() {
    let (mut desk, script) = desk_with("mm", StrategyKind::MarketMaking);
    script.lock().unwrap().push_back(vec![buy("0.5")]);
    tick(&mut desk);
    ack(&mut desk, "mm-1", 41, OrderStatus::New, "0");
    assert_eq!(
        desk.client_order_id(EX, 41).map(ClientOrderId::as_str),
        Some("mm-1")
    );
    desk.on_event(now(), &fill(9, "mm-1", 41, "0.2"));
    desk.on_event(now(), &fill(9, "mm-1", 41, "0.2"));
    desk.on_event(now(), &fill(10, "mm-1", 41, "0.3"));
    let slot = desk.slot("mm").unwrap();
    let p = slot.positions[&btc()];
    assert_eq!((p.quantity, p.fills), (d("0.5"), 2));
    assert!(slot.orders.is_empty(), "filled orders are no longer open");
    assert!(desk.counted(EX, 9) && desk.counted(EX, 10) && !desk.counted(EX, 11));
    // A scan up to 10 keeps them counted, with less to remember.
    desk.mark_synced(EX, 10);
    assert!(desk.counted(EX, 9));
    desk.on_event(now(), &fill(10, "mm-1", 41, "0.3"));
    assert_eq!(desk.slot("mm").unwrap().positions[&btc()].quantity, d("0.5"));
    let changes = desk.take_changes();
    assert_eq!(changes.fills.len(), 2);
}

#[test]
fn stop_and_halt_cancel_open_orders_and_a_stopped_strategy_hears_nothing() {
    let (mut desk, script) = desk_with("mm", StrategyKind::MarketMaking);
    script.lock().unwrap().push_back(vec![buy("0.1"), buy("0.1")]);
    tick(&mut desk);
    ack(&mut desk, "mm-1", 1, OrderStatus::New, "0");
    let (cancels, slot) = desk.stop("mm").unwrap();
    assert_eq!(slot.status, Status::Stopped);
    // Only the acknowledged order can be cancelled now ...
    assert_eq!(cancels.len(), 1);
    // ... the other is cancelled when its acknowledgement comes.
    let late = ack(&mut desk, "mm-2", 2, OrderStatus::New, "0");
    assert!(
        matches!(&late[..], [Action::Cancel { order_id: 2, .. }]),
        "{late:?}"
    );
    script.lock().unwrap().push_back(vec![buy("0.1")]);
    assert!(tick(&mut desk).is_empty(), "a stopped strategy does not trade");
    desk.start("mm").unwrap();
    assert_eq!(desk.halt().len(), 2);
    assert_eq!(desk.slot("mm").unwrap().status, Status::Halted);
    assert!(matches!(desk.start("nope"), Err(DeskError::UnknownStrategy(_))));
}

#[test]
fn a_refused_order_is_counted_with_its_reason_and_closed() {
    let (mut desk, script) = desk_with("mm", StrategyKind::MarketMaking);
    script.lock().unwrap().push_back(vec![buy("0.1")]);
    tick(&mut desk);
    desk.refused(&ClientOrderId::parse("mm-1").unwrap(), "venue_unavailable");
    let slot = desk.slot("mm").unwrap();
    assert_eq!(slot.rejected.get("venue_unavailable"), Some(&1));
    assert!(slot.orders.is_empty());
}

#[test]
fn a_fault_runs_its_strategy_until_it_ends_and_its_events_carry_the_injection() {
    let (mut desk, _) = desk_with("mm", StrategyKind::MarketMaking);
    let cause = Uuid::now_v7();
    let mut chaos = config("runaway", StrategyKind::Runaway);
    chaos.max_position = d("1000000");
    chaos.max_order_size = d("1000000");
    desk.start_fault("f-1", cause, chaos.clone())
        .expect("runaway starts");
    let slot = desk.slot("runaway").unwrap();
    assert_eq!((slot.status, slot.cause()), (Status::Running, Some(cause)));
    assert!(
        desk.start_fault("f-2", cause, chaos).is_err(),
        "one runaway at a time"
    );
    assert!(
        matches!(desk.take_changes().events.last(), Some(DeskEvent::Started { cause: Some(c), .. }) if *c == cause)
    );
    desk.end_fault("f-1");
    assert_eq!(desk.slot("runaway").unwrap().status, Status::Stopped);
    assert!(desk.end_fault("f-1").is_empty());
}

#[test]
fn client_order_ids_name_their_strategy() {
    assert_eq!(strategy_of("mm-okx-12"), Some("mm-okx"));
    assert_eq!(strategy_of("mm-okx"), None);
    assert_eq!(strategy_of("-3"), None);
    assert_eq!(strategy_seed(1, "a"), strategy_seed(1, "a"));
    assert_ne!(strategy_seed(1, "a"), strategy_seed(1, "b"));
}
