//! Domain events for the audit correlator (README, *Audit correlator*): every instance records what happened — orders,
//! trades, settlements, fault injections, ticks produced under a fault — in its own outbox table,
//! written in the same transaction as the change it describes, so an event exists exactly when its
//! change does. Shipping the outbox to the audit correlator is the audit pipeline's job.
//!
//! An event has a time-ordered unique id (UUIDv7), simulated and wall timestamps, the service and
//! instance that emitted it, a [type](types), optional trace, causation and scenario-run ids, and a
//! JSON payload.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{
    clock::Clock,
    identity::{Identity, ServiceKind},
    storage::{JsonText, Migration, Statement},
};

/// Every event type, documented in one place.
pub mod types {
    /// A back door injected a fault. Payload: the fault (id, kind, params, duration, start, end).
    pub const FAULT_INJECTED: &str = "fault.injected";
    /// A fault was cleared through the back door before its end. Payload: the fault.
    pub const FAULT_CLEARED: &str = "fault.cleared";
    /// A fault reached the end of its duration. Payload: the fault.
    pub const FAULT_EXPIRED: &str = "fault.expired";
    /// Market data published a tick whose price a fault changed (or froze). Payload: symbol, price,
    /// the price without faults, sequence, fault ids. Caused by the (first) fault's injection.
    pub const TICK_UNDER_FAULT: &str = "market.tick_under_fault";
    /// An exchange accepted an order (it may have traded at once). Payload: the order as the API
    /// shows it. Trace: `{instance}:order:{id}`.
    pub const ORDER_PLACED: &str = "order.placed";
    /// An exchange rejected an order (a book rule such as post-only, or a fault). Payload: the
    /// order with its reason. Caused by the fault's injection when a fault rejected it.
    pub const ORDER_REJECTED: &str = "order.rejected";
    /// An order left the book before filling completely. Payload: the order.
    pub const ORDER_CANCELLED: &str = "order.cancelled";
    /// An order's price or quantity was changed. Payload: the order.
    pub const ORDER_AMENDED: &str = "order.amended";
    /// Two orders traded. Payload: the trade (both orders and accounts, price, quantity, fees).
    /// Trace: the incoming order's.
    pub const TRADE_EXECUTED: &str = "trade.executed";
    /// An exchange's liquidity provider started following a market data instance's prices (at start
    /// and after each reconnection). Payload: `market_data` (the instance), `symbols`.
    pub const LIQUIDITY_FOLLOWING: &str = "liquidity.following";
    /// A custodian opened an account. Payload: the account.
    pub const CUSTODY_ACCOUNT_OPENED: &str = "custody.account_opened";
    /// Money came into custody from outside. Payload: account, asset, amount, the balance after.
    pub const CUSTODY_DEPOSIT: &str = "custody.deposit";
    /// Money left custody. Payload: account, asset, amount, the balance after.
    pub const CUSTODY_WITHDRAWAL: &str = "custody.withdrawal";
    /// Money moved between two custody accounts. Payload: from, to, asset, amount.
    pub const CUSTODY_TRANSFER: &str = "custody.transfer";
    /// A transfer or withdrawal was refused by a `reject_transfers` fault. Payload: the request and
    /// the reason. Caused by the fault's injection.
    pub const CUSTODY_TRANSFER_REJECTED: &str = "custody.transfer_rejected";
    /// A custodian accepted a settlement instruction (`PENDING`). Payload: the settlement. Trace:
    /// `{instance}:settlement:{id}`, kept by every later settlement event.
    pub const SETTLEMENT_CREATED: &str = "settlement.created";
    /// A settlement moved only part of its legs (a `partial_settlement` fault); it stays pending.
    /// Payload: the settlement. Caused by the fault's injection.
    pub const SETTLEMENT_PARTIAL: &str = "settlement.partially_settled";
    /// A due settlement is held by a `settlement_delay` fault. Payload: the settlement and until
    /// when. Caused by the fault's injection.
    pub const SETTLEMENT_DELAYED: &str = "settlement.delayed";
    /// A settlement settled. Payload: the settlement.
    pub const SETTLEMENT_COMPLETED: &str = "settlement.completed";
    /// A settlement failed (the account could not cover an exchange's P&L, or it was failed).
    /// Payload: the settlement with its reason.
    pub const SETTLEMENT_FAILED: &str = "settlement.failed";
    /// A pending settlement was cancelled. Payload: the settlement.
    pub const SETTLEMENT_CANCELLED: &str = "settlement.cancelled";
    /// The trading system sent an order to an exchange (its strategy, the order; caused by the
    /// injection when a fault's chaos strategy sent it).
    pub const TRADING_ORDER_SUBMITTED: &str = "trading.order_submitted";
    /// An order of the trading system was refused, by its own limits or by the exchange.
    pub const TRADING_ORDER_REJECTED: &str = "trading.order_rejected";
    /// An order of the trading system traded (its strategy, the fill).
    pub const TRADING_FILL: &str = "trading.fill";
    /// A strategy of the trading system started.
    pub const TRADING_STRATEGY_STARTED: &str = "trading.strategy_started";
    /// A strategy of the trading system stopped (by hand, the kill switch or its fault's end).
    pub const TRADING_STRATEGY_STOPPED: &str = "trading.strategy_stopped";
    /// The risk monitor raised an alert (payload: the alert, with its evidence).
    pub const ALERT_RAISED: &str = "alert.raised";
    /// An open alert's severity went up (payload: the alert, with the new evidence).
    pub const ALERT_ESCALATED: &str = "alert.escalated";
    /// Someone acknowledged an open alert (payload: the alert).
    pub const ALERT_ACKNOWLEDGED: &str = "alert.acknowledged";
    /// An alert's breach is over (payload: the alert).
    pub const ALERT_RESOLVED: &str = "alert.resolved";
}

/// The event types each service emits: the one table of who may say what. The audit correlator
/// refuses an event whose type is not listed for its source service, and every event factory checks
/// its events against it in debug builds, so each service's tests keep the table true.
const EMITTED: &[(ServiceKind, &[&str])] = &[
    (
        ServiceKind::ExchangeSimulator,
        &[
            types::FAULT_INJECTED,
            types::FAULT_CLEARED,
            types::FAULT_EXPIRED,
            types::ORDER_PLACED,
            types::ORDER_REJECTED,
            types::ORDER_CANCELLED,
            types::ORDER_AMENDED,
            types::TRADE_EXECUTED,
            types::LIQUIDITY_FOLLOWING,
        ],
    ),
    (
        ServiceKind::CustodianSimulator,
        &[
            types::FAULT_INJECTED,
            types::FAULT_CLEARED,
            types::FAULT_EXPIRED,
            types::CUSTODY_ACCOUNT_OPENED,
            types::CUSTODY_DEPOSIT,
            types::CUSTODY_WITHDRAWAL,
            types::CUSTODY_TRANSFER,
            types::CUSTODY_TRANSFER_REJECTED,
            types::SETTLEMENT_CREATED,
            types::SETTLEMENT_PARTIAL,
            types::SETTLEMENT_DELAYED,
            types::SETTLEMENT_COMPLETED,
            types::SETTLEMENT_FAILED,
            types::SETTLEMENT_CANCELLED,
        ],
    ),
    (
        ServiceKind::TradingSystemEngine,
        &[
            types::FAULT_INJECTED,
            types::FAULT_CLEARED,
            types::FAULT_EXPIRED,
            types::TRADING_ORDER_SUBMITTED,
            types::TRADING_ORDER_REJECTED,
            types::TRADING_FILL,
            types::TRADING_STRATEGY_STARTED,
            types::TRADING_STRATEGY_STOPPED,
        ],
    ),
    (
        ServiceKind::RiskMonitor,
        &[
            types::ALERT_RAISED,
            types::ALERT_ESCALATED,
            types::ALERT_ACKNOWLEDGED,
            types::ALERT_RESOLVED,
        ],
    ),
    (
        ServiceKind::MarketDataSimulator,
        &[
            types::FAULT_INJECTED,
            types::FAULT_CLEARED,
            types::FAULT_EXPIRED,
            types::TICK_UNDER_FAULT,
        ],
    ),
];

/// Returns the event types `service` emits (none for a service that emits no events yet).
pub fn emitted_by(service: ServiceKind) -> &'static [&'static str] {
    EMITTED
        .iter()
        .find(|(kind, _)| *kind == service)
        .map_or(&[], |(_, types)| *types)
}

/// The outbox table, created by the runtime's migrations in every instance's schema.
pub(crate) const OUTBOX_MIGRATION: Migration = Migration {
    version: 2,
    name: "event outbox",
    sql: "CREATE TABLE _tse_outbox (
            seq {id},
            id TEXT NOT NULL UNIQUE,
            sim_time {timestamp} NOT NULL,
            wall_time {timestamp} NOT NULL,
            service TEXT NOT NULL,
            instance TEXT NOT NULL,
            event_type TEXT NOT NULL,
            trace_id TEXT,
            causation_id TEXT,
            scenario_run_id TEXT,
            payload {json} NOT NULL)",
};

/// The outbox columns an event fills, in order.
const OUTBOX_COLUMNS: &[&str] = &[
    "id",
    "sim_time",
    "wall_time",
    "service",
    "instance",
    "event_type",
    "trace_id",
    "causation_id",
    "scenario_run_id",
    "payload",
];

/// One domain event.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Event {
    /// Unique, time-ordered id.
    pub id: Uuid,
    /// When it happened, in simulated time.
    #[serde(with = "time::serde::rfc3339")]
    pub sim_time: OffsetDateTime,
    /// When it happened, in wall time.
    #[serde(with = "time::serde::rfc3339")]
    pub wall_time: OffsetDateTime,
    /// `SERVICE_NAME` of the emitter.
    pub service: String,
    /// Instance name of the emitter.
    pub instance: String,
    /// One of [`types`].
    pub event_type: String,
    /// Groups the events of one flow (an order's life, a scenario step).
    pub trace_id: Option<String>,
    /// The event that caused this one.
    pub causation_id: Option<Uuid>,
    /// The scenario run this happened under, if any.
    pub scenario_run_id: Option<String>,
    /// What happened: a JSON document, serialized once when the event is made.
    pub payload: Box<RawValue>,
}

impl Event {
    /// Marks the event as caused by `cause`.
    #[must_use]
    pub fn caused_by(mut self, cause: Uuid) -> Self {
        self.causation_id = Some(cause);
        self
    }

    /// Puts the event on trace `trace_id`.
    #[must_use]
    pub fn traced(mut self, trace_id: impl Into<String>) -> Self {
        self.trace_id = Some(trace_id.into());
        self
    }

    /// Returns the statements storing many events in the outbox, in the recurring chunk sizes of
    /// [`Statement::insert_chunked`].
    ///
    /// # Errors
    /// Never for well-formed events; the signature follows [`Statement::insert_chunked`].
    pub fn insert_chunked(events: Vec<Event>) -> Result<Vec<Statement>, crate::storage::StorageError> {
        Statement::insert_chunked(
            "_tse_outbox",
            OUTBOX_COLUMNS,
            events.into_iter().map(Event::into_row).collect(),
            "",
        )
    }

    /// Returns the statements storing many events in `table`, a table with the outbox's columns
    /// (the audit correlator's store), `suffix` appended (e.g. `ON CONFLICT (id) DO NOTHING`).
    ///
    /// # Errors
    /// As [`Statement::insert_chunked`].
    pub fn insert_chunked_into(
        table: &str,
        events: Vec<Event>,
        suffix: &str,
    ) -> Result<Vec<Statement>, crate::storage::StorageError> {
        Statement::insert_chunked(
            table,
            OUTBOX_COLUMNS,
            events.into_iter().map(Event::into_row).collect(),
            suffix,
        )
    }

    fn into_row(self) -> Vec<crate::storage::Value> {
        vec![
            self.id.to_string().into(),
            self.sim_time.into(),
            self.wall_time.into(),
            self.service.into(),
            self.instance.into(),
            self.event_type.into(),
            self.trace_id.into(),
            self.causation_id.map(|c| c.to_string()).into(),
            self.scenario_run_id.into(),
            self.payload.into(),
        ]
    }

    /// Returns the statement that stores the event in the outbox; put it in the same write batch as
    /// the change it describes.
    pub fn statement(&self) -> Statement {
        // One event always makes a valid insert: the row has exactly the listed columns.
        Statement::insert_rows("_tse_outbox", OUTBOX_COLUMNS, vec![self.clone().into_row()], "")
            .expect("one event makes a valid insert")
    }
}

/// Makes events stamped with an instance's identity and the ecosystem clock.
#[derive(Clone)]
pub struct Events {
    service: ServiceKind,
    instance: String,
    clock: Clock,
}

impl Events {
    /// Creates the event factory of an instance.
    pub fn new(identity: &Identity, clock: Clock) -> Self {
        Self {
            service: identity.service(),
            instance: identity.instance().to_string(),
            clock,
        }
    }

    /// A new event of `event_type`, happening now.
    pub fn event(&self, event_type: &str, payload: impl Serialize) -> Event {
        self.event_at(event_type, self.clock.now(), payload)
    }

    /// A new event of `event_type` that happened at simulated time `sim_time`.
    pub fn event_at(&self, event_type: &str, sim_time: OffsetDateTime, payload: impl Serialize) -> Event {
        debug_assert!(
            emitted_by(self.service).contains(&event_type),
            "{} emits {event_type}, which the table of emitted event types (events::EMITTED) does not \
             list for it: the audit correlator would refuse it",
            self.service.name()
        );
        Event {
            id: Uuid::now_v7(),
            sim_time,
            wall_time: crate::clock::wall_now(),
            service: self.service.name().to_owned(),
            instance: self.instance.clone(),
            event_type: event_type.to_owned(),
            trace_id: None,
            causation_id: None,
            scenario_run_id: None,
            payload: JsonText::of(&payload).0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::ServiceKind;

    #[test]
    fn events_are_time_ordered_and_stamped() {
        let identity = Identity::new(
            ServiceKind::MarketDataSimulator,
            Some("market-data-A"),
            None,
            None,
        )
        .unwrap();
        let events = Events::new(&identity, Clock::new(1.0));
        let a = events.event(types::FAULT_INJECTED, serde_json::json!({"kind": "outage"}));
        let b = events
            .event(types::FAULT_CLEARED, serde_json::json!({}))
            .caused_by(a.id);
        assert!(a.id < b.id, "UUIDv7 ids sort by time");
        assert_eq!(b.causation_id, Some(a.id));
        assert_eq!(a.instance, "market-data-A");
        assert_eq!(a.service, "market-data-simulator");
        assert_eq!(a.statement().params().len(), 10);
    }

    #[test]
    fn each_type_is_documented_once_and_services_without_events_emit_none() {
        for (service, emitted) in EMITTED {
            let unique: std::collections::BTreeSet<_> = emitted.iter().collect();
            assert_eq!(unique.len(), emitted.len(), "{service} lists a type twice");
            assert_eq!(emitted_by(*service), *emitted);
        }
        assert!(emitted_by(ServiceKind::AuditCorrelator).is_empty());
        assert!(emitted_by(ServiceKind::ExchangeSimulator).contains(&types::TRADE_EXECUTED));
        assert!(!emitted_by(ServiceKind::MarketDataSimulator).contains(&types::ORDER_PLACED));
    }
}
