//! Settlement instructions: what is to move, on which cycle, and where each one is in its life
//! (`PENDING → COMPLETED | FAILED | CANCELLED`).

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};
use tse_market::AccountId;

use super::position::Side;

/// When an instruction settles, counted in settlement days of the simulated clock after it is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Cycle {
    /// The same day: at the next settlement pass.
    #[serde(rename = "T+0")]
    T0,
    /// One settlement day later.
    #[serde(rename = "T+1")]
    T1,
    /// Two settlement days later.
    #[serde(rename = "T+2")]
    T2,
}

impl Cycle {
    /// Parses `T+0`, `T+1`, `T+2` (also `T0`, `t+1`, ...).
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_uppercase().replace('+', "").as_str() {
            "T0" => Some(Cycle::T0),
            "T1" => Some(Cycle::T1),
            "T2" => Some(Cycle::T2),
            _ => None,
        }
    }

    /// `T+0`, `T+1` or `T+2`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Cycle::T0 => "T+0",
            Cycle::T1 => "T+1",
            Cycle::T2 => "T+2",
        }
    }

    /// Settlement days.
    pub const fn days(self) -> i64 {
        match self {
            Cycle::T0 => 0,
            Cycle::T1 => 1,
            Cycle::T2 => 2,
        }
    }

    /// When an instruction made at `at` is due, with settlement days of length `day`.
    pub fn due(self, at: OffsetDateTime, day: Duration) -> OffsetDateTime {
        day.checked_mul(i32::try_from(self.days()).unwrap_or(i32::MAX))
            .and_then(|wait| at.checked_add(wait))
            .unwrap_or(at)
    }
}

/// Where an instruction is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    /// Waiting for its due time; its outgoing amounts are locked.
    Pending,
    /// Settled: every leg moved.
    Completed,
    /// Could not settle; nothing moved.
    Failed,
    /// Withdrawn before settling; nothing moved.
    Cancelled,
}

impl Status {
    /// Parses a status name in any case.
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_uppercase().as_str() {
            "PENDING" => Some(Status::Pending),
            "COMPLETED" => Some(Status::Completed),
            "FAILED" => Some(Status::Failed),
            "CANCELLED" => Some(Status::Cancelled),
            _ => None,
        }
    }

    /// The upper-case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "PENDING",
            Status::Completed => "COMPLETED",
            Status::Failed => "FAILED",
            Status::Cancelled => "CANCELLED",
        }
    }
}

/// What an instruction settles.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Kind {
    /// A trade delivered against payment: the base asset one way, the quote asset (and fee) the
    /// other; the account's position in the symbol follows.
    Trade {
        /// Symbol, `BASE-QUOTE`.
        symbol: String,
        /// The account's side.
        side: Side,
        /// Base quantity.
        quantity: Decimal,
        /// Price in the quote asset.
        price: Decimal,
        /// Fee in the quote asset, paid by the account.
        fee: Decimal,
    },
    /// Net amounts per asset (an exchange's net change for an entity over a settlement period, a
    /// payment): positive amounts come in, negative go out.
    Net {
        /// Signed amount per asset.
        legs: Vec<(String, Decimal)>,
    },
    /// A trading entity's net change at an exchange over a run of its trades there (exchange
    /// P&L): the trades are named, so one fill can be followed to the settlement that carried it.
    ExchangePnl {
        /// The exchange instance (`exchange-OKX`).
        exchange: String,
        /// The trading entity (`trading-system-LH`).
        entity: String,
        /// The first trade id it covers.
        first_trade_id: u64,
        /// The last trade id it covers.
        last_trade_id: u64,
        /// How many of the entity's trades it covers.
        trades: u64,
        /// Signed amount per asset: positive comes in, negative goes out.
        legs: Vec<(String, Decimal)>,
        /// The trades per symbol and side (quantity, average price): the positions they move once
        /// the instruction completes.
        #[serde(default)]
        fills: Vec<Fill>,
    },
}

/// Trades of one symbol and side, summed: what they do to a position.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fill {
    /// Symbol, `BASE-QUOTE`.
    pub symbol: String,
    /// The account's side.
    pub side: Side,
    /// Base quantity.
    pub quantity: Decimal,
    /// Average price.
    pub price: Decimal,
}

impl Kind {
    /// The metrics' `type` label: `trade`, `net` or `exchange_pnl`.
    pub const fn label(&self) -> &'static str {
        match self {
            Kind::Trade { .. } => "trade",
            Kind::Net { .. } => "net",
            Kind::ExchangePnl { .. } => "exchange_pnl",
        }
    }

    /// Parses a `type` label (`trade`, `net`, `exchange_pnl`, any case).
    pub fn parse_label(text: &str) -> Option<&'static str> {
        ["trade", "net", "exchange_pnl"]
            .into_iter()
            .find(|l| l.eq_ignore_ascii_case(text.trim()))
    }

    /// Signed amount per asset the instruction moves for its account, in a stable order.
    pub fn legs(&self) -> Vec<(String, Decimal)> {
        match self {
            Kind::Trade {
                symbol,
                side,
                quantity,
                price,
                fee,
            } => {
                let (base, quote) = symbol.split_once('-').unwrap_or((symbol.as_str(), ""));
                let value = quantity * price;
                match side {
                    Side::Buy => vec![(base.to_owned(), *quantity), (quote.to_owned(), -(value + fee))],
                    Side::Sell => vec![(base.to_owned(), -*quantity), (quote.to_owned(), value - fee)],
                }
            }
            Kind::Net { legs } | Kind::ExchangePnl { legs, .. } => legs.clone(),
        }
    }
}

/// A request to settle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instruction {
    /// The submitter's id; the same id with the same content is the same instruction.
    pub external_id: String,
    /// The custody account it settles for.
    pub account: AccountId,
    /// What moves.
    pub kind: Kind,
    /// When.
    pub cycle: Cycle,
}

/// An instruction and its state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Settlement {
    /// The custodian's id (`stl-N`).
    pub id: String,
    /// What was asked.
    pub instruction: Instruction,
    /// Where it is.
    pub status: Status,
    /// Why it failed or was cancelled.
    pub reason: Option<String>,
    /// Made (simulated time).
    pub created_at: OffsetDateTime,
    /// Due (simulated time).
    pub due_at: OffsetDateTime,
    /// Completed, failed or cancelled (simulated time).
    pub finished_at: Option<OffsetDateTime>,
    /// What has moved so far, per leg in the order of [`Kind::legs`] (empty: nothing yet). Only a
    /// partial settlement leaves a pending instruction with something moved.
    pub settled: Vec<(String, Decimal)>,
}

/// Every name [`Settlement::step`] gives, in a settlement's order of life.
pub const STEPS: [&str; 5] = ["pending", "partial", "completed", "failed", "cancelled"];

impl Settlement {
    /// The metrics' and events' name of the settlement's step: `pending` when accepted, `partial`
    /// after a partial settlement, then `completed`, `failed` or `cancelled`.
    pub fn step(&self) -> &'static str {
        match self.status {
            Status::Pending if self.settled.is_empty() => "pending",
            Status::Pending => "partial",
            Status::Completed => "completed",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
        }
    }

    /// What is still to move, per leg (all of it before anything settled).
    pub fn remaining(&self) -> Vec<(String, Decimal)> {
        self.instruction
            .kind
            .legs()
            .into_iter()
            .map(|(asset, amount)| {
                let done = self
                    .settled
                    .iter()
                    .find(|(a, _)| *a == asset)
                    .map_or(Decimal::ZERO, |(_, d)| *d);
                (asset, amount - done)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cycles_parse_and_fall_due_in_settlement_days() {
        assert_eq!(Cycle::parse("t+2"), Some(Cycle::T2));
        assert_eq!(Cycle::parse("T1"), Some(Cycle::T1));
        assert_eq!(Cycle::parse("T+3"), None);
        let at = OffsetDateTime::UNIX_EPOCH;
        assert_eq!(Cycle::T2.due(at, Duration::days(1)), at + Duration::days(2));
        assert_eq!(Cycle::T0.due(at, Duration::days(1)), at);
    }

    #[test]
    fn a_trade_moves_base_against_quote_and_fee() {
        let buy = Kind::Trade {
            symbol: "BTC-USD".into(),
            side: Side::Buy,
            quantity: "0.5".parse().unwrap(),
            price: "100".parse().unwrap(),
            fee: "0.1".parse().unwrap(),
        };
        assert_eq!(
            buy.legs(),
            vec![
                ("BTC".into(), "0.5".parse().unwrap()),
                ("USD".into(), "-50.1".parse().unwrap())
            ]
        );
    }
}
