//! What the APIs answer with: the books' records as JSON-ready views (decimals as strings,
//! RFC 3339 times, upper-case enums; README, *APIs every instance serves*).

use rust_decimal::Decimal;
use serde::Serialize;
use tse_market::AccountId;

use crate::domain::{
    custody::{Account, Balance, Break},
    position::Position,
    settlement::{Kind, Settlement},
};

pub use tse_runtime::health::rfc3339_exact as rfc3339;

/// A custody account.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AccountView {
    /// `cust-N`.
    pub id: AccountId,
    /// The trading entity that owns it.
    pub entity: Option<String>,
    /// Opened (simulated time).
    pub created_at: String,
}

impl From<&Account> for AccountView {
    fn from(a: &Account) -> Self {
        Self {
            id: a.id.clone(),
            entity: a.entity.clone(),
            created_at: rfc3339(a.created_at),
        }
    }
}

/// One asset's balance.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BalanceView {
    /// The asset.
    pub asset: String,
    /// Free to use.
    pub available: Decimal,
    /// Held for pending settlements.
    pub locked: Decimal,
    /// Available plus locked.
    pub total: Decimal,
}

impl BalanceView {
    /// The view of `balance` of `asset`.
    pub fn of(asset: &str, balance: Balance) -> Self {
        Self {
            asset: asset.to_owned(),
            available: balance.available.normalize(),
            locked: balance.locked.normalize(),
            total: balance.total().normalize(),
        }
    }
}

/// One position.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PositionView {
    /// Symbol.
    pub symbol: String,
    /// Signed base quantity (negative: short).
    pub quantity: Decimal,
    /// Average cost of what is held.
    pub average_cost: Decimal,
    /// Profit realised by reducing it (quote asset).
    pub realized_pnl: Decimal,
}

impl PositionView {
    /// The view of `position` in `symbol`.
    pub fn of(symbol: &str, p: Position) -> Self {
        Self {
            symbol: symbol.to_owned(),
            quantity: p.quantity.normalize(),
            average_cost: p.average_cost.normalize(),
            realized_pnl: p.realized_pnl.normalize(),
        }
    }
}

/// One leg of a settlement.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LegView {
    /// The asset.
    pub asset: String,
    /// Signed amount for the account: positive comes in, negative goes out.
    pub amount: Decimal,
    /// How much of it has moved.
    pub settled: Decimal,
}

/// A settlement.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SettlementView {
    /// `stl-N`.
    pub id: String,
    /// The submitter's id.
    pub external_id: String,
    /// The custody account.
    pub account_id: AccountId,
    /// `TRADE`, `NET` or `EXCHANGE_PNL`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// `T+0`, `T+1` or `T+2`.
    pub cycle: &'static str,
    /// `PENDING`, `COMPLETED`, `FAILED` or `CANCELLED`.
    pub status: &'static str,
    /// Why it failed or was cancelled.
    pub reason: Option<String>,
    /// Trade: symbol.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub symbol: Option<String>,
    /// Trade: `BUY` or `SELL`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub side: Option<&'static str>,
    /// Trade: base quantity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantity: Option<Decimal>,
    /// Trade: price.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price: Option<Decimal>,
    /// Trade: fee (quote asset).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fee: Option<Decimal>,
    /// Exchange P&L: the exchange instance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exchange: Option<String>,
    /// Exchange P&L: the trading entity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entity: Option<String>,
    /// Exchange P&L: first trade id covered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_trade_id: Option<String>,
    /// Exchange P&L: last trade id covered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_trade_id: Option<String>,
    /// Exchange P&L: how many of the entity's trades it covers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trade_count: Option<u64>,
    /// What moves, per asset.
    pub legs: Vec<LegView>,
    /// Accepted (simulated time).
    pub created_at: String,
    /// Due (simulated time).
    pub due_at: String,
    /// Ended (simulated time).
    pub finished_at: Option<String>,
}

/// The API name of a settlement type.
pub fn kind_name(kind: &Kind) -> &'static str {
    match kind {
        Kind::Trade { .. } => "TRADE",
        Kind::Net { .. } => "NET",
        Kind::ExchangePnl { .. } => "EXCHANGE_PNL",
    }
}

impl From<&Settlement> for SettlementView {
    fn from(s: &Settlement) -> Self {
        let remaining = s.remaining();
        let legs = s
            .instruction
            .kind
            .legs()
            .into_iter()
            .zip(remaining)
            .map(|((asset, amount), (_, left))| LegView {
                asset,
                amount: amount.normalize(),
                settled: (amount - left).normalize(),
            })
            .collect();
        let mut view = SettlementView {
            id: s.id.clone(),
            external_id: s.instruction.external_id.clone(),
            account_id: s.instruction.account.clone(),
            kind: kind_name(&s.instruction.kind),
            cycle: s.instruction.cycle.as_str(),
            status: s.status.as_str(),
            reason: s.reason.clone(),
            symbol: None,
            side: None,
            quantity: None,
            price: None,
            fee: None,
            exchange: None,
            entity: None,
            first_trade_id: None,
            last_trade_id: None,
            trade_count: None,
            legs,
            created_at: rfc3339(s.created_at),
            due_at: rfc3339(s.due_at),
            finished_at: s.finished_at.map(rfc3339),
        };
        match &s.instruction.kind {
            Kind::Trade {
                symbol,
                side,
                quantity,
                price,
                fee,
            } => {
                view.symbol = Some(symbol.clone());
                view.side = Some(side.as_str());
                view.quantity = Some(quantity.normalize());
                view.price = Some(price.normalize());
                view.fee = Some(fee.normalize());
            }
            Kind::Net { .. } => {}
            Kind::ExchangePnl {
                exchange,
                entity,
                first_trade_id,
                last_trade_id,
                trades,
                ..
            } => {
                view.exchange = Some(exchange.clone());
                view.entity = Some(entity.clone());
                view.first_trade_id = Some(first_trade_id.to_string());
                view.last_trade_id = Some(last_trade_id.to_string());
                view.trade_count = Some(*trades);
            }
        }
        view
    }
}

/// A reconciliation break.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BreakView {
    /// The asset.
    pub asset: String,
    /// Held here (total).
    pub held: Decimal,
    /// Reported by the other party.
    pub reported: Decimal,
    /// `reported − held`.
    pub difference: Decimal,
}

impl From<Break> for BreakView {
    fn from(b: Break) -> Self {
        Self {
            asset: b.asset,
            held: b.held.normalize(),
            reported: b.reported.normalize(),
            difference: b.difference.normalize(),
        }
    }
}
