//! The custodian's use cases on its books: every production operation, the settlement pass, the
//! collection of exchange P&L, and the outbox events that describe them. The service
//! ([`super::service`]) runs them one at a time and stores what they changed before answering.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
};

use rust_decimal::Decimal;
use serde_json::json;
use time::OffsetDateTime;
use tse_market::AccountId;
use tse_runtime::{
    events::{Event, Events, types},
    faults::Fault,
    storage::StorageError,
};
use uuid::Uuid;

use super::views::{AccountView, BalanceView, BreakView, PositionView, SettlementView, rfc3339};
use crate::domain::{
    custody::{Account, Changes, Custody, CustodyError, Malformed},
    faults::CustodianFault,
    settlement::{Cycle, Fill, Instruction, Kind, Settlement, Status},
};

/// Why an operation failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CustodianError {
    /// The books refused it; nothing changed.
    #[error(transparent)]
    Custody(#[from] CustodyError),
    /// A `reject_transfers` fault refused it.
    #[error("{REJECTED}")]
    Rejected {
        /// The fault that refused it.
        fault_id: String,
    },
    /// Its changes could not be stored; it did not happen as far as anyone was told.
    #[error("the custodian could not store the change: {0}")]
    Storage(#[source] Arc<StorageError>),
    /// An operation of its batch failed unexpectedly (a bug): nothing of the batch was stored, and
    /// the instance stopped serving its books.
    #[error("the custodian could not store the change: {HALTED}")]
    Halted,
    /// The service is stopping.
    #[error("the custodian is stopping")]
    Stopped,
}

/// Why a `reject_transfers` fault refused a transfer or withdrawal, as answered and announced.
pub const REJECTED: &str = "the custodian refused the transfer (transfers are suspended)";

/// What a request of a batch that failed unexpectedly is answered.
pub const HALTED: &str = "the custodian stopped after an internal error; see its health";

/// The prefix of the external ids of exchange P&L instructions, which the API refuses from users.
pub const PNL_PREFIX: &str = "pnl:";

/// Settlement filters of a listing.
#[derive(Clone, Debug, Default)]
pub struct SettlementFilter {
    /// One account.
    pub account: Option<AccountId>,
    /// One status.
    pub status: Option<Status>,
    /// One type label (`trade`, `net`, `exchange_pnl`).
    pub kind: Option<&'static str>,
    /// Exchange P&L of one exchange.
    pub exchange: Option<String>,
    /// Exchange P&L covering one trade id (with `exchange`).
    pub trade_id: Option<u64>,
    /// Numbered below (the cursor).
    pub before: Option<u64>,
    /// Page size.
    pub limit: usize,
}

/// An exchange P&L batch, as collected.
#[derive(Clone, Debug)]
pub struct PnlBatch {
    /// The exchange instance.
    pub exchange: String,
    /// The trading entity.
    pub entity: String,
    /// First trade id.
    pub first_trade_id: u64,
    /// Last trade id.
    pub last_trade_id: u64,
    /// Trades covered.
    pub trades: u64,
    /// Net amount per asset (zero amounts are dropped).
    pub legs: BTreeMap<String, Decimal>,
    /// The trades per symbol and side.
    pub fills: Vec<Fill>,
    /// The cycle to settle on.
    pub cycle: Cycle,
}

/// The books and what describes their changes.
pub struct Books {
    custody: Custody,
    events: Events,
    instance: String,
    outbox: Vec<Event>,
    /// Events caused by a fault, by settlement id (the next event of that settlement carries it).
    causes: BTreeMap<String, Uuid>,
    /// Settlements a delay fault holds, already announced.
    delayed: BTreeSet<String>,
    dice: u64,
}

impl Books {
    /// Books around `custody`; `seed` drives the `reject_transfers` fault's dice.
    pub fn new(custody: Custody, events: Events, instance: String, seed: u64) -> Self {
        Self {
            custody,
            events,
            instance,
            outbox: Vec::new(),
            causes: BTreeMap::new(),
            delayed: BTreeSet::new(),
            dice: seed | 1,
        }
    }

    /// The books, read only.
    pub fn custody(&self) -> &Custody {
        &self.custody
    }

    /// A number in [0, 1) (xorshift64*).
    fn roll(&mut self) -> f64 {
        self.dice ^= self.dice >> 12;
        self.dice ^= self.dice << 25;
        self.dice ^= self.dice >> 27;
        let n = self.dice.wrapping_mul(0x2545_f491_4f6c_dd1d);
        #[allow(clippy::cast_precision_loss)]
        let unit = (n >> 11) as f64 / (1u64 << 53) as f64;
        unit
    }

    fn emit(&mut self, event_type: &str, at: OffsetDateTime, payload: impl serde::Serialize) {
        let event = self.events.event_at(event_type, at, payload);
        self.outbox.push(event);
    }

    /// Opens an account.
    pub fn open_account(&mut self, entity: Option<String>, at: OffsetDateTime) -> AccountView {
        AccountView::from(&self.open(entity, at))
    }

    fn open(&mut self, entity: Option<String>, at: OffsetDateTime) -> Account {
        let account = self.custody.open_account(entity, at);
        self.emit(types::CUSTODY_ACCOUNT_OPENED, at, AccountView::from(&account));
        account
    }

    /// The custody account of a trading entity, opened (and funded) on first use.
    ///
    /// # Errors
    /// [`CustodianError`] when the funding names an asset not held here.
    pub fn client_account(
        &mut self,
        entity: &str,
        funding: &[(String, Decimal)],
        at: OffsetDateTime,
    ) -> Result<AccountId, CustodianError> {
        // The entity's first account (by number: cust-2 before cust-10).
        if let Some(id) = self
            .custody
            .accounts()
            .filter(|a| a.entity.as_deref() == Some(entity))
            .filter_map(|a| Some((a.id.strip_prefix("cust-")?.parse::<u64>().ok()?, a.id.clone())))
            .min()
            .map(|(_, id)| id)
        {
            return Ok(id);
        }
        let account = self.open(Some(entity.to_owned()), at);
        for (asset, amount) in funding {
            self.deposit(&account.id, asset, *amount, at)?;
        }
        Ok(account.id)
    }

    /// Credits a deposit.
    ///
    /// # Errors
    /// [`CustodianError::Custody`].
    pub fn deposit(
        &mut self,
        account: &AccountId,
        asset: &str,
        amount: Decimal,
        at: OffsetDateTime,
    ) -> Result<BalanceView, CustodianError> {
        let balance = self.custody.deposit(account, asset, amount)?;
        let asset = asset.trim().to_ascii_uppercase();
        let view = BalanceView::of(&asset, balance);
        self.emit(
            types::CUSTODY_DEPOSIT,
            at,
            json!({"account_id": account, "asset": asset, "amount": amount, "balance": view}),
        );
        Ok(view)
    }

    /// Refuses a transfer or withdrawal when a `reject_transfers` fault says so.
    fn screen(
        &mut self,
        faults: &[Fault<CustodianFault>],
        request: serde_json::Value,
        at: OffsetDateTime,
    ) -> Result<(), CustodianError> {
        for fault in faults {
            if let CustodianFault::RejectTransfers { fraction } = fault.spec
                && self.roll() < fraction
            {
                let event = self
                    .events
                    .event_at(
                        types::CUSTODY_TRANSFER_REJECTED,
                        at,
                        json!({"request": request, "reason": REJECTED, "fault_id": fault.id}),
                    )
                    .caused_by(fault.injection_event);
                self.outbox.push(event);
                return Err(CustodianError::Rejected {
                    fault_id: fault.id.clone(),
                });
            }
        }
        Ok(())
    }

    /// Pays a withdrawal.
    ///
    /// # Errors
    /// [`CustodianError`]: refused by the books or by a fault.
    pub fn withdraw(
        &mut self,
        account: &AccountId,
        asset: &str,
        amount: Decimal,
        faults: &[Fault<CustodianFault>],
        at: OffsetDateTime,
    ) -> Result<BalanceView, CustodianError> {
        // Validate first: a request the books would refuse anyway is not a fault's effect.
        self.custody.payable(account, asset, amount)?;
        let request = json!({"withdrawal": {"account_id": account, "asset": asset, "amount": amount}});
        self.screen(faults, request, at)?;
        let balance = self.custody.withdraw(account, asset, amount)?;
        let asset = asset.trim().to_ascii_uppercase();
        let view = BalanceView::of(&asset, balance);
        self.emit(
            types::CUSTODY_WITHDRAWAL,
            at,
            json!({"account_id": account, "asset": asset, "amount": amount, "balance": view}),
        );
        Ok(view)
    }

    /// Moves an amount between accounts.
    ///
    /// # Errors
    /// [`CustodianError`]: refused by the books or by a fault.
    pub fn transfer(
        &mut self,
        from: &AccountId,
        to: &AccountId,
        asset: &str,
        amount: Decimal,
        faults: &[Fault<CustodianFault>],
        at: OffsetDateTime,
    ) -> Result<(BalanceView, BalanceView), CustodianError> {
        self.custody.payable(from, asset, amount)?;
        if self.custody.account(to)?.id == self.custody.account(from)?.id {
            return Err(CustodyError::Invalid(Malformed::SameAccount(from.clone())).into());
        }
        let request = json!({"transfer": {"from_account_id": from, "to_account_id": to, "asset": asset, "amount": amount}});
        self.screen(faults, request, at)?;
        let (a, b) = self.custody.transfer(from, to, asset, amount)?;
        let asset = asset.trim().to_ascii_uppercase();
        self.emit(
            types::CUSTODY_TRANSFER,
            at,
            json!({"from_account_id": from, "to_account_id": to, "asset": asset, "amount": amount}),
        );
        Ok((BalanceView::of(&asset, a), BalanceView::of(&asset, b)))
    }

    /// Accepts a settlement instruction; `false` when the same instruction was accepted before.
    ///
    /// # Errors
    /// [`CustodianError::Custody`].
    pub fn submit(
        &mut self,
        instruction: Instruction,
        at: OffsetDateTime,
    ) -> Result<(SettlementView, bool), CustodianError> {
        let (s, new) = self.custody.submit(instruction, at)?;
        Ok((SettlementView::from(&s), new))
    }

    /// Cancels a pending settlement.
    ///
    /// # Errors
    /// [`CustodianError::Custody`].
    pub fn cancel(
        &mut self,
        id: &str,
        reason: &str,
        at: OffsetDateTime,
    ) -> Result<SettlementView, CustodianError> {
        Ok(SettlementView::from(&self.custody.cancel(id, reason, at)?))
    }

    /// Turns a collected exchange P&L batch into an instruction (accepted whole; paid when due) and
    /// moves the entity's cursor past it, in one step.
    ///
    /// # Errors
    /// [`CustodianError::Custody`] when the batch names an asset not held here (nothing changes).
    pub fn settle_pnl(
        &mut self,
        account: &AccountId,
        batch: PnlBatch,
        at: OffsetDateTime,
    ) -> Result<Option<SettlementView>, CustodianError> {
        let legs: Vec<(String, Decimal)> = batch
            .legs
            .into_iter()
            .filter(|(_, amount)| !amount.is_zero())
            .collect();
        let settlement = if legs.is_empty() {
            None
        } else {
            let instruction = Instruction {
                external_id: format!(
                    "{PNL_PREFIX}{}:{}:{}-{}",
                    batch.exchange, batch.entity, batch.first_trade_id, batch.last_trade_id
                ),
                account: account.clone(),
                kind: Kind::ExchangePnl {
                    exchange: batch.exchange.clone(),
                    entity: batch.entity.clone(),
                    first_trade_id: batch.first_trade_id,
                    last_trade_id: batch.last_trade_id,
                    trades: batch.trades,
                    legs,
                    fills: batch.fills,
                },
                cycle: batch.cycle,
            };
            Some(SettlementView::from(&self.custody.submit(instruction, at)?.0))
        };
        self.custody
            .advance_cursor(&batch.exchange, &batch.entity, batch.last_trade_id);
        Ok(settlement)
    }

    /// Settles what is due at `now`, as the faults in force allow. Returns whether a fault holds
    /// a due settlement (the caller then looks again soon).
    pub fn pass(&mut self, now: OffsetDateTime, faults: &[Fault<CustodianFault>]) -> bool {
        if faults.iter().any(|f| matches!(f.spec, CustodianFault::Offline)) {
            return self.custody.next_due().is_some_and(|due| due <= now);
        }
        let mut held = false;
        for id in self.custody.due(now) {
            let Ok(s) = self.custody.settlement(&id) else {
                continue;
            };
            let (kind, due_at, settled_any) = (s.instruction.kind.clone(), s.due_at, !s.settled.is_empty());
            let delay = faults.iter().find_map(|f| match &f.spec {
                CustodianFault::SettlementDelay { delay, .. } if f.spec.covers(&kind) => Some((f, *delay)),
                _ => None,
            });
            if let Some((fault, delay)) = delay {
                let until = due_at.checked_add(delay.try_into().unwrap_or(time::Duration::MAX));
                if until.is_none_or(|until| now < until) {
                    let until = until.map_or_else(|| "never".to_owned(), rfc3339);
                    held = true;
                    if self.delayed.insert(id.clone()) {
                        let view = SettlementView::from(s);
                        let event = self
                            .events
                            .event_at(
                                types::SETTLEMENT_DELAYED,
                                now,
                                json!({"settlement": view, "until": until, "fault_id": fault.id}),
                            )
                            .caused_by(fault.injection_event)
                            .traced(self.trace(&id));
                        self.outbox.push(event);
                    }
                    continue;
                }
            }
            let partial = faults.iter().find_map(|f| match &f.spec {
                CustodianFault::PartialSettlement { fraction, .. } if f.spec.covers(&kind) => {
                    Some((f.injection_event, *fraction))
                }
                _ => None,
            });
            if let Some((cause, fraction)) = partial {
                held = true;
                if !settled_any {
                    let fraction = Decimal::from_f64_retain(fraction)
                        .unwrap_or(Decimal::new(5, 1))
                        .round_dp(6);
                    if self.custody.settle_part(&id, fraction, now).is_ok() {
                        self.causes.insert(id.clone(), cause);
                    }
                }
                continue;
            }
            self.delayed.remove(&id);
            let _ = self.custody.complete(&id, now);
        }
        held
    }

    fn trace(&self, settlement: &str) -> String {
        format!("{}:settlement:{settlement}", self.instance)
    }

    /// Takes what changed since the last call, with the events that describe it; `now` dates the
    /// steps that have no time of their own (a partial settlement).
    pub fn take(&mut self, now: OffsetDateTime) -> (Changes, Vec<Event>) {
        let changes = self.custody.take_changes();
        let mut events = std::mem::take(&mut self.outbox);
        for s in &changes.settlements {
            events.push(self.settlement_event(s, now));
        }
        (changes, events)
    }

    fn settlement_event(&mut self, s: &Settlement, now: OffsetDateTime) -> Event {
        let event_type = match s.step() {
            "pending" => types::SETTLEMENT_CREATED,
            "partial" => types::SETTLEMENT_PARTIAL,
            "completed" => types::SETTLEMENT_COMPLETED,
            "failed" => types::SETTLEMENT_FAILED,
            _ => types::SETTLEMENT_CANCELLED,
        };
        let at = match event_type {
            types::SETTLEMENT_PARTIAL => now,
            _ => s.finished_at.unwrap_or(s.created_at),
        };
        let mut event = self
            .events
            .event_at(event_type, at, SettlementView::from(s))
            .traced(self.trace(&s.id));
        if event_type == types::SETTLEMENT_PARTIAL
            && let Some(cause) = self.causes.remove(&s.id)
        {
            event = event.caused_by(cause);
        }
        event
    }

    /// One account.
    ///
    /// # Errors
    /// [`CustodianError::Custody`].
    pub fn account(&self, id: &AccountId) -> Result<AccountView, CustodianError> {
        Ok(AccountView::from(self.custody.account(id)?))
    }

    /// Accounts in id order, numbered above `after`, optionally of one entity.
    pub fn accounts(&self, entity: Option<&str>, after: u64, limit: usize) -> Vec<AccountView> {
        let mut found: Vec<(u64, AccountView)> = self
            .custody
            .accounts()
            .filter(|a| entity.is_none_or(|e| a.entity.as_deref() == Some(e)))
            .filter_map(|a| {
                let n: u64 = a.id.strip_prefix("cust-")?.parse().ok()?;
                (n > after).then(|| (n, AccountView::from(a)))
            })
            .collect();
        found.sort_by_key(|(n, _)| *n);
        found.into_iter().take(limit).map(|(_, a)| a).collect()
    }

    /// An account's balances.
    ///
    /// # Errors
    /// [`CustodianError::Custody`].
    pub fn balances(&self, account: &AccountId) -> Result<Vec<BalanceView>, CustodianError> {
        Ok(self
            .custody
            .balances(account)?
            .into_iter()
            .map(|(asset, b)| BalanceView::of(&asset, b))
            .collect())
    }

    /// An account's positions.
    ///
    /// # Errors
    /// [`CustodianError::Custody`].
    pub fn positions(&self, account: &AccountId) -> Result<Vec<PositionView>, CustodianError> {
        Ok(self
            .custody
            .positions(account)?
            .into_iter()
            .map(|(symbol, p)| PositionView::of(&symbol, p))
            .collect())
    }

    /// One settlement.
    ///
    /// # Errors
    /// [`CustodianError::Custody`].
    pub fn settlement(&self, id: &str) -> Result<SettlementView, CustodianError> {
        Ok(SettlementView::from(self.custody.settlement(id)?))
    }

    /// Settlements, newest first.
    ///
    /// # Errors
    /// [`CustodianError::Custody`] for an unknown account.
    pub fn settlements(&self, filter: &SettlementFilter) -> Result<Vec<SettlementView>, CustodianError> {
        if let Some(account) = &filter.account {
            self.custody.account(account)?;
        }
        Ok(self
            .custody
            .settlements_newest_first(filter.before)
            .filter(|s| {
                filter
                    .account
                    .as_ref()
                    .is_none_or(|a| s.instruction.account == *a)
                    && filter.status.is_none_or(|st| s.status == st)
                    && filter.kind.is_none_or(|k| s.instruction.kind.label() == k)
                    && match &s.instruction.kind {
                        Kind::ExchangePnl {
                            exchange,
                            first_trade_id,
                            last_trade_id,
                            ..
                        } => {
                            filter.exchange.as_deref().is_none_or(|e| e == exchange)
                                && filter
                                    .trade_id
                                    .is_none_or(|t| (*first_trade_id..=*last_trade_id).contains(&t))
                        }
                        _ => filter.exchange.is_none() && filter.trade_id.is_none(),
                    }
            })
            .take(filter.limit)
            .map(SettlementView::from)
            .collect())
    }

    /// Reconciles an account with another party's report.
    ///
    /// # Errors
    /// [`CustodianError::Custody`].
    pub fn reconcile(
        &self,
        account: &str,
        reported: &[(String, Decimal)],
    ) -> Result<Vec<BreakView>, CustodianError> {
        Ok(self
            .custody
            .reconcile(account, reported)?
            .into_iter()
            .map(BreakView::from)
            .collect())
    }
}
