//! The desk's vocabulary: a strategy's status and origin, the actions it asks of the venues,
//! what changed (for storage and the outbox), its errors, and what is stored between runs.

use std::collections::{BTreeMap, BTreeSet};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use tse_market::{ClientOrderId, Symbol};
use uuid::Uuid;

use crate::domain::{
    order::{Fill, TrackedOrder},
    position::Position,
};

/// Whether a strategy is trading.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    /// Reacting to events and placing orders.
    Running,
    /// Stopped by a user (or, for a fault's strategy, by the fault's end).
    Stopped,
    /// Stopped by the kill switch; starts again only when asked.
    Halted,
}

impl Status {
    /// The API's name (`RUNNING`).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Running => "RUNNING",
            Status::Stopped => "STOPPED",
            Status::Halted => "HALTED",
        }
    }

    /// Parses the API's name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "RUNNING" => Some(Status::Running),
            "STOPPED" => Some(Status::Stopped),
            "HALTED" => Some(Status::Halted),
            _ => None,
        }
    }
}

/// Where a strategy comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// The instance's settings.
    Settings,
    /// A fault injected through the back door: its id and its injection event.
    Fault {
        /// The fault's id.
        id: String,
        /// The `fault.injected` event, cause of the strategy's orders.
        cause: Uuid,
    },
}

/// Something the app must do at an exchange.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Send a new order.
    Place(TrackedOrder),
    /// Cancel an acknowledged order.
    Cancel {
        /// The exchange.
        exchange: String,
        /// The desk's name for it.
        client_order_id: ClientOrderId,
        /// The exchange's id.
        order_id: u64,
    },
    /// Amend an acknowledged order.
    Amend {
        /// The exchange.
        exchange: String,
        /// The desk's name for it.
        client_order_id: ClientOrderId,
        /// The exchange's id.
        order_id: u64,
        /// New price.
        price: Decimal,
        /// New total quantity.
        quantity: Decimal,
    },
}

/// What a call changed, for the app to store (and report) before anything depends on it.
#[derive(Debug, Default)]
pub struct Changes {
    /// Orders whose state changed (stored as they are now, open or not).
    pub orders: Vec<TrackedOrder>,
    /// New fills.
    pub fills: Vec<Fill>,
    /// Strategies whose status, counters, positions or order numbers changed, by name.
    pub strategies: BTreeSet<String>,
    /// What happened, in order, for the outbox.
    pub events: Vec<DeskEvent>,
}

impl Changes {
    /// Returns whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.orders.is_empty()
            && self.fills.is_empty()
            && self.strategies.is_empty()
            && self.events.is_empty()
    }
}

/// Something that happened on the desk.
#[derive(Clone, Debug, PartialEq)]
pub enum DeskEvent {
    /// An order was sent.
    Submitted {
        /// The order.
        order: TrackedOrder,
        /// The injection that caused it, for a fault's strategy.
        cause: Option<Uuid>,
    },
    /// An order was refused, by the desk's limits or the exchange.
    Rejected {
        /// The strategy.
        strategy: String,
        /// The exchange.
        exchange: String,
        /// The order's name, when it got one.
        client_order_id: Option<ClientOrderId>,
        /// Why (`max_position`, `max_order_size`, `venue_unavailable`, or the exchange's reason).
        reason: String,
        /// The injection that caused it, for a fault's strategy.
        cause: Option<Uuid>,
    },
    /// One of the desk's orders traded.
    Filled {
        /// The strategy.
        strategy: String,
        /// The fill.
        fill: Fill,
        /// The injection that caused it, for a fault's strategy.
        cause: Option<Uuid>,
    },
    /// A strategy started.
    Started {
        /// The strategy.
        strategy: String,
        /// The injection that started it, for a fault's strategy.
        cause: Option<Uuid>,
    },
    /// A strategy stopped (`why`: `stopped`, `halted`, `fault_ended`).
    Stopped {
        /// The strategy.
        strategy: String,
        /// Why.
        why: &'static str,
        /// The injection that had started it, for a fault's strategy.
        cause: Option<Uuid>,
    },
}

/// Why a command was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DeskError {
    /// No strategy has that name.
    #[error("no strategy is named '{0}'")]
    UnknownStrategy(String),
    /// The strategy cannot be started or stopped by hand.
    #[error("{0}")]
    Refused(String),
}

/// What is stored of a strategy between runs.
#[derive(Clone, Debug, Default)]
pub struct Stored {
    /// Its status when the desk stopped.
    pub status: Option<Status>,
    /// Number of its next order.
    pub next_order: u64,
    /// Its positions.
    pub positions: BTreeMap<Symbol, Position>,
    /// Orders sent, by exchange.
    pub submitted: BTreeMap<String, u64>,
    /// Orders refused, by reason.
    pub rejected: BTreeMap<String, u64>,
    /// Its strategy's saved state.
    pub state: Option<serde_json::Value>,
}
