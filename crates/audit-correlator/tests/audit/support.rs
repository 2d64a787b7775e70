//! What the audit tests share: a story of events across instances, and the ingest token.

use serde_json::json;
use tse_runtime::{
    clock::Clock,
    events::{Event, Events},
    identity::{Identity, ServiceKind},
};

/// The ingest token of the tests' ecosystems (`TSE_INGEST_TOKEN`).
pub const INGEST_TOKEN: &str = "test-ingest-token";

/// What every test instance of an ecosystem is given so its shipper gets in.
pub fn ingest_env() -> Vec<(&'static str, &'static str)> {
    vec![("TSE_INGEST_TOKEN", INGEST_TOKEN)]
}

pub fn factory(service: ServiceKind, instance: &str) -> Events {
    let identity = Identity::new(service, Some(instance), None, None).unwrap();
    Events::new(&identity, Clock::new(1.0))
}

/// A fault injected on an exchange, an order it rejected, and a trade of another order, then its
/// settlement at a custodian.
pub fn story() -> Vec<Event> {
    let okx = factory(ServiceKind::ExchangeSimulator, "exchange-OKX");
    let komainu = factory(ServiceKind::CustodianSimulator, "custodian-Komainu");
    let injected = okx.event("fault.injected", json!({"kind": "symbol_halt"}));
    let rejected = okx
        .event(
            "order.rejected",
            json!({"id": "1", "reason": "trading is halted on BTC-USD"}),
        )
        .caused_by(injected.id)
        .traced("exchange-OKX:order:1");
    let placed = okx
        .event("order.placed", json!({"id": "2"}))
        .traced("exchange-OKX:order:2");
    let trade = okx
        .event("trade.executed", json!({"id": "1", "buy_order_id": "2"}))
        .caused_by(placed.id)
        .traced("exchange-OKX:order:2");
    let settled = komainu
        .event(
            "settlement.completed",
            json!({"id": "stl-1", "type": "EXCHANGE_PNL", "exchange": "exchange-OKX", "first_trade_id": "1", "last_trade_id": "1"}),
        )
        .caused_by(trade.id)
        .traced("custodian-Komainu:settlement:stl-1");
    vec![injected, rejected, placed, trade, settled]
}
