//! The custodian's books: accounts, balances per asset (available and locked), positions per symbol,
//! and settlement instructions, changed only through the operations here.
//!
//! Rules the operations keep, whatever their order (see the property tests):
//! - no balance, available or locked, is ever negative;
//! - value enters or leaves only through deposits, withdrawals and settled instructions: for every
//!   asset, the sum of all balances equals what came in from outside minus what went out;
//! - a pending instruction's outgoing amounts are locked from the moment it is accepted, so it can
//!   always settle on its due date, and an instruction the account cannot cover is refused whole;
//! - an instruction is identified by its external id: the same id with the same content is the same
//!   instruction (accepted once), the same id with other content is refused.
//!
//! Everything is deterministic: ordered maps, ids counted up, time passed in.

use std::collections::{BTreeMap, BTreeSet};

use rust_decimal::Decimal;
use serde::Serialize;
use time::{Duration, OffsetDateTime};

use super::{
    position::Position,
    settlement::{Instruction, Kind, Settlement, Status},
};

/// A custody account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Account {
    /// `cust-N`.
    pub id: String,
    /// The trading entity that owns it.
    pub entity: Option<String>,
    /// Opened (simulated time).
    pub created_at: OffsetDateTime,
}

pub use tse_runtime::money::Balance;

/// A difference between what the custodian holds and what another party reports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Break {
    /// The asset.
    pub asset: String,
    /// Held here (total).
    pub held: Decimal,
    /// Reported by the other party.
    pub reported: Decimal,
    /// `reported − held`.
    pub difference: Decimal,
}

/// What an operation refused; nothing changed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CustodyError {
    /// No such account.
    #[error("unknown account {0}")]
    UnknownAccount(String),
    /// The asset is not held here.
    #[error("unknown asset '{asset}'; this custodian holds {known}")]
    UnknownAsset {
        /// As given.
        asset: String,
        /// The assets held, comma-separated.
        known: String,
    },
    /// An amount that must be positive is not.
    #[error("{what} must be positive, got {amount}")]
    NonPositive {
        /// Which amount.
        what: &'static str,
        /// As given.
        amount: Decimal,
    },
    /// The account cannot cover it.
    #[error("insufficient {asset} in {account}: {available} available, {needed} needed")]
    Insufficient {
        /// The account.
        account: String,
        /// The asset.
        asset: String,
        /// Available now.
        available: Decimal,
        /// Needed.
        needed: Decimal,
    },
    /// The external id belongs to an instruction with other content.
    #[error("external id {external_id} already names settlement {existing} with other content")]
    DuplicateExternalId {
        /// The id.
        external_id: String,
        /// The settlement it names.
        existing: String,
    },
    /// No such settlement.
    #[error("unknown settlement {0}")]
    UnknownSettlement(String),
    /// The settlement is no longer pending.
    #[error("settlement {id} is {status}, not PENDING")]
    NotPending {
        /// The settlement.
        id: String,
        /// Its status.
        status: &'static str,
    },
    /// The settlement cannot be cancelled.
    #[error("settlement {id} cannot be cancelled: {why}")]
    NotCancellable {
        /// The settlement.
        id: String,
        /// Why not.
        why: &'static str,
    },
    /// The request is malformed.
    #[error("{0}")]
    Invalid(String),
}

/// What changed since the last [`Custody::take_changes`], for storage, metrics and events.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// Accounts opened.
    pub accounts: Vec<String>,
    /// Balances changed: (account, asset).
    pub balances: BTreeSet<(String, String)>,
    /// Positions moved by settled trades: (account, symbol), once per move.
    pub positions: Vec<(String, String)>,
    /// Settlements as they were each time one was created or moved on, in the order it happened.
    pub settlements: Vec<Settlement>,
    /// Balance movements: (account, asset, signed amount), for the balance-change metric.
    pub movements: Vec<(String, String, Decimal)>,
    /// Exchange P&L cursors moved: (exchange, entity).
    pub cursors: BTreeSet<(String, String)>,
}

/// Everything the books hold, as stored: what [`Custody::restore`] rebuilds them from.
#[derive(Clone, Debug, Default)]
pub struct Stored {
    /// Accounts.
    pub accounts: Vec<Account>,
    /// Balances: (account, asset, balance).
    pub balances: Vec<(String, String, Balance)>,
    /// Positions: (account, symbol, position).
    pub positions: Vec<(String, String, Position)>,
    /// Settlements, any order.
    pub settlements: Vec<Settlement>,
    /// What came in from outside minus what went out, per asset.
    pub external: Vec<(String, Decimal)>,
    /// Exchange P&L cursors: (exchange, entity, last trade id settled).
    pub cursors: Vec<(String, String, u64)>,
}

/// The custodian's books.
#[derive(Clone, Debug)]
pub struct Custody {
    assets: BTreeSet<String>,
    day: Duration,
    accounts: BTreeMap<String, Account>,
    opened: u64,
    balances: BTreeMap<(String, String), Balance>,
    positions: BTreeMap<(String, String), Position>,
    settlements: BTreeMap<u64, Settlement>,
    by_external: BTreeMap<String, u64>,
    created: u64,
    /// Pending settlements by (due, number): the next due is the first.
    pending: BTreeSet<(OffsetDateTime, u64)>,
    external: BTreeMap<String, Decimal>,
    cursors: BTreeMap<(String, String), u64>,
    changes: Changes,
}

/// The largest amount one operation may move (10^20, the bound of every amount in the ecosystem):
/// with balances built from such amounts no sum or product of exact decimals can overflow.
pub use tse_runtime::money::MAX_AMOUNT;

/// Whether an instruction locks its outgoing amounts when accepted (all but exchange P&L).
fn locks(kind: &Kind) -> bool {
    !matches!(kind, Kind::ExchangePnl { .. })
}

fn settlement_number(id: &str) -> Option<u64> {
    id.strip_prefix("stl-")?.parse().ok()
}

impl Custody {
    /// Empty books for `assets`, with settlement days of length `day`.
    pub fn new(assets: impl IntoIterator<Item = String>, day: Duration) -> Self {
        Self {
            assets: assets.into_iter().map(|a| a.to_ascii_uppercase()).collect(),
            day,
            accounts: BTreeMap::new(),
            opened: 0,
            balances: BTreeMap::new(),
            positions: BTreeMap::new(),
            settlements: BTreeMap::new(),
            by_external: BTreeMap::new(),
            created: 0,
            pending: BTreeSet::new(),
            external: BTreeMap::new(),
            cursors: BTreeMap::new(),
            changes: Changes::default(),
        }
    }

    /// Rebuilds the books from what was stored (see [`Stored`]); ids go on counting after the
    /// highest stored.
    ///
    /// # Errors
    /// [`CustodyError::Invalid`] when a stored id is not one these books make.
    pub fn restore(
        assets: impl IntoIterator<Item = String>,
        day: Duration,
        stored: Stored,
    ) -> Result<Self, CustodyError> {
        let mut c = Self::new(assets, day);
        for account in stored.accounts {
            let n: u64 = account
                .id
                .strip_prefix("cust-")
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| CustodyError::Invalid(format!("stored account id {}", account.id)))?;
            c.opened = c.opened.max(n);
            c.accounts.insert(account.id.clone(), account);
        }
        for (account, asset, balance) in stored.balances {
            c.assets.insert(asset.clone());
            c.balances.insert((account, asset), balance);
        }
        for (account, symbol, position) in stored.positions {
            c.positions.insert((account, symbol), position);
        }
        for settlement in stored.settlements {
            let n = settlement_number(&settlement.id)
                .ok_or_else(|| CustodyError::Invalid(format!("stored settlement id {}", settlement.id)))?;
            c.created = c.created.max(n);
            if settlement.status == Status::Pending {
                c.pending.insert((settlement.due_at, n));
            }
            c.by_external
                .insert(settlement.instruction.external_id.clone(), n);
            c.settlements.insert(n, settlement);
        }
        c.external = stored.external.into_iter().collect();
        c.cursors = stored
            .cursors
            .into_iter()
            .map(|(exchange, entity, last)| ((exchange, entity), last))
            .collect();
        Ok(c)
    }

    /// The last exchange trade id settled for `entity` at `exchange` (0: none yet).
    pub fn cursor(&self, exchange: &str, entity: &str) -> u64 {
        self.cursors
            .get(&(exchange.to_owned(), entity.to_owned()))
            .copied()
            .unwrap_or(0)
    }

    /// Records that `entity`'s trades at `exchange` up to `last` are settled (never moves back).
    pub fn advance_cursor(&mut self, exchange: &str, entity: &str, last: u64) {
        let key = (exchange.to_owned(), entity.to_owned());
        let cursor = self.cursors.entry(key.clone()).or_default();
        if last > *cursor {
            *cursor = last;
            self.changes.cursors.insert(key);
        }
    }

    /// How many settlements are pending.
    pub fn pending_count(&self) -> usize {
        self.pending.len()
    }

    /// When the next pending settlement falls due.
    pub fn next_due(&self) -> Option<OffsetDateTime> {
        self.pending.first().map(|(at, _)| *at)
    }

    /// When the first pending settlement due strictly after `at` falls due (those due by `at` may be
    /// held by a fault).
    pub fn next_due_after(&self, at: OffsetDateTime) -> Option<OffsetDateTime> {
        self.pending
            .range((at + Duration::nanoseconds(1), 0)..)
            .next()
            .map(|(due, _)| *due)
    }

    /// The assets held here.
    pub fn assets(&self) -> impl Iterator<Item = &str> {
        self.assets.iter().map(String::as_str)
    }

    /// Opens an account.
    pub fn open_account(&mut self, entity: Option<String>, at: OffsetDateTime) -> Account {
        self.opened += 1;
        let account = Account {
            id: format!("cust-{}", self.opened),
            entity,
            created_at: at,
        };
        self.accounts.insert(account.id.clone(), account.clone());
        self.changes.accounts.push(account.id.clone());
        account
    }

    /// One account.
    ///
    /// # Errors
    /// [`CustodyError::UnknownAccount`].
    pub fn account(&self, id: &str) -> Result<&Account, CustodyError> {
        self.accounts
            .get(id.trim())
            .ok_or_else(|| CustodyError::UnknownAccount(id.trim().to_owned()))
    }

    /// Every account, by id.
    pub fn accounts(&self) -> impl Iterator<Item = &Account> {
        self.accounts.values()
    }

    fn asset(&self, asset: &str) -> Result<String, CustodyError> {
        let upper = asset.trim().to_ascii_uppercase();
        if self.assets.contains(&upper) {
            Ok(upper)
        } else {
            Err(CustodyError::UnknownAsset {
                asset: asset.trim().to_owned(),
                known: self.assets.iter().cloned().collect::<Vec<_>>().join(", "),
            })
        }
    }

    /// One balance (zero when never touched).
    ///
    /// # Errors
    /// [`CustodyError`] for an unknown account or asset.
    pub fn balance(&self, account: &str, asset: &str) -> Result<Balance, CustodyError> {
        let account = self.account(account)?.id.clone();
        let asset = self.asset(asset)?;
        Ok(self.balances.get(&(account, asset)).copied().unwrap_or_default())
    }

    /// Every asset's balance of an account, in asset order.
    ///
    /// # Errors
    /// [`CustodyError::UnknownAccount`].
    pub fn balances(&self, account: &str) -> Result<Vec<(String, Balance)>, CustodyError> {
        let account = self.account(account)?.id.clone();
        Ok(self
            .assets
            .iter()
            .map(|asset| {
                let b = self.balances.get(&(account.clone(), asset.clone())).copied();
                (asset.clone(), b.unwrap_or_default())
            })
            .collect())
    }

    /// Every balance ever touched: (account, asset, balance), in account and asset order.
    pub fn all_balances(&self) -> impl Iterator<Item = (&str, &str, Balance)> {
        self.balances
            .iter()
            .map(|((account, asset), b)| (account.as_str(), asset.as_str(), *b))
    }

    /// Every position of an account, in symbol order.
    ///
    /// # Errors
    /// [`CustodyError::UnknownAccount`].
    pub fn positions(&self, account: &str) -> Result<Vec<(String, Position)>, CustodyError> {
        let account = self.account(account)?.id.clone();
        Ok(self
            .positions
            .range((account.clone(), String::new())..)
            .take_while(|((a, _), _)| *a == account)
            .map(|((_, symbol), p)| (symbol.clone(), *p))
            .collect())
    }

    /// What came in from outside minus what went out, per asset.
    pub fn external(&self, asset: &str) -> Decimal {
        self.external.get(asset).copied().unwrap_or_default()
    }

    fn entry(&mut self, account: &str, asset: &str) -> &mut Balance {
        self.balances
            .entry((account.to_owned(), asset.to_owned()))
            .or_default()
    }

    fn moved(&mut self, account: &str, asset: &str, amount: Decimal) {
        self.changes
            .balances
            .insert((account.to_owned(), asset.to_owned()));
        self.changes
            .movements
            .push((account.to_owned(), asset.to_owned(), amount));
    }

    fn positive(what: &'static str, amount: Decimal) -> Result<Decimal, CustodyError> {
        if amount <= Decimal::ZERO {
            return Err(CustodyError::NonPositive { what, amount });
        }
        Self::bounded(what, amount)
    }

    /// Refuses amounts beyond [`MAX_AMOUNT`]: balances and settlement values stay far from the
    /// limits of exact decimal arithmetic, so no sum or product of them can overflow.
    fn bounded(what: &'static str, amount: Decimal) -> Result<Decimal, CustodyError> {
        if amount.abs() > MAX_AMOUNT {
            return Err(CustodyError::Invalid(format!(
                "{what} {amount} is beyond the largest amount handled ({MAX_AMOUNT})"
            )));
        }
        Ok(amount)
    }

    fn available(&self, account: &str, asset: &str, needed: Decimal) -> Result<(), CustodyError> {
        let available = self
            .balances
            .get(&(account.to_owned(), asset.to_owned()))
            .map_or(Decimal::ZERO, |b| b.available);
        if available < needed {
            return Err(CustodyError::Insufficient {
                account: account.to_owned(),
                asset: asset.to_owned(),
                available,
                needed,
            });
        }
        Ok(())
    }

    /// Credits a deposit from outside.
    ///
    /// # Errors
    /// [`CustodyError`] for an unknown account or asset or a non-positive amount.
    pub fn deposit(&mut self, account: &str, asset: &str, amount: Decimal) -> Result<Balance, CustodyError> {
        let account = self.account(account)?.id.clone();
        let asset = self.asset(asset)?;
        let amount = Self::positive("amount", amount)?;
        self.entry(&account, &asset).available += amount;
        *self.external.entry(asset.clone()).or_default() += amount;
        self.moved(&account, &asset, amount);
        Ok(self.balances[&(account, asset)])
    }

    /// Whether `account` can pay `amount` of `asset` out of its available balance (what a
    /// withdrawal or a transfer would check): the canonical account id and asset when it can.
    ///
    /// # Errors
    /// [`CustodyError`] for an unknown account or asset, a non-positive amount, or an overdraft.
    pub fn payable(
        &self,
        account: &str,
        asset: &str,
        amount: Decimal,
    ) -> Result<(String, String), CustodyError> {
        let account = self.account(account)?.id.clone();
        let asset = self.asset(asset)?;
        let amount = Self::positive("amount", amount)?;
        self.available(&account, &asset, amount)?;
        Ok((account, asset))
    }

    /// Pays a withdrawal out of the available balance.
    ///
    /// # Errors
    /// [`CustodyError`] for an unknown account or asset, a non-positive amount, or an overdraft.
    pub fn withdraw(&mut self, account: &str, asset: &str, amount: Decimal) -> Result<Balance, CustodyError> {
        let (account, asset) = self.payable(account, asset, amount)?;
        self.entry(&account, &asset).available -= amount;
        *self.external.entry(asset.clone()).or_default() -= amount;
        self.moved(&account, &asset, -amount);
        Ok(self.balances[&(account, asset)])
    }

    /// Moves an available amount from one account to another.
    ///
    /// # Errors
    /// [`CustodyError`] for unknown accounts or asset, the same account twice, a non-positive
    /// amount, or an overdraft.
    pub fn transfer(
        &mut self,
        from: &str,
        to: &str,
        asset: &str,
        amount: Decimal,
    ) -> Result<(Balance, Balance), CustodyError> {
        let from = self.account(from)?.id.clone();
        let to = self.account(to)?.id.clone();
        if from == to {
            return Err(CustodyError::Invalid(format!(
                "a transfer needs two accounts; both are {from}"
            )));
        }
        let asset = self.asset(asset)?;
        let amount = Self::positive("amount", amount)?;
        self.available(&from, &asset, amount)?;
        self.entry(&from, &asset).available -= amount;
        self.entry(&to, &asset).available += amount;
        self.moved(&from, &asset, -amount);
        self.moved(&to, &asset, amount);
        Ok((self.balances[&(from, asset.clone())], self.balances[&(to, asset)]))
    }

    /// Validates an instruction and puts its names in canonical form.
    fn normalize(&self, mut instruction: Instruction) -> Result<Instruction, CustodyError> {
        instruction.external_id = instruction.external_id.trim().to_owned();
        if instruction.external_id.is_empty() {
            return Err(CustodyError::Invalid("external_id is required".into()));
        }
        instruction.account = self.account(&instruction.account)?.id.clone();
        if let Kind::ExchangePnl {
            exchange,
            entity,
            first_trade_id,
            last_trade_id,
            ..
        } = &instruction.kind
            && (exchange.trim().is_empty() || entity.trim().is_empty() || first_trade_id > last_trade_id)
        {
            return Err(CustodyError::Invalid(
                "an exchange P&L instruction needs an exchange, an entity and a trade range".into(),
            ));
        }
        match &mut instruction.kind {
            Kind::Trade {
                symbol,
                quantity,
                price,
                fee,
                ..
            } => {
                let upper = symbol.trim().to_ascii_uppercase();
                let Some((base, quote)) = upper.split_once('-') else {
                    return Err(CustodyError::Invalid(format!(
                        "symbol '{symbol}' is not BASE-QUOTE"
                    )));
                };
                self.asset(base)?;
                self.asset(quote)?;
                if base == quote {
                    return Err(CustodyError::Invalid(format!(
                        "symbol '{symbol}' trades an asset against itself"
                    )));
                }
                *symbol = upper;
                Self::positive("quantity", *quantity)?;
                Self::positive("price", *price)?;
                if fee.is_sign_negative() {
                    return Err(CustodyError::Invalid(format!(
                        "fee must not be negative, got {fee}"
                    )));
                }
                let value = quantity
                    .checked_mul(*price)
                    .and_then(|v| v.checked_add(*fee))
                    .unwrap_or(Decimal::MAX);
                Self::bounded("quantity × price + fee", value)?;
            }
            Kind::Net { legs } | Kind::ExchangePnl { legs, .. } => {
                if legs.is_empty() {
                    return Err(CustodyError::Invalid(
                        "a net instruction needs at least one leg".into(),
                    ));
                }
                let mut seen = BTreeSet::new();
                for (asset, amount) in legs.iter_mut() {
                    *asset = self.asset(asset)?;
                    if amount.is_zero() {
                        return Err(CustodyError::Invalid(format!("the {asset} leg is zero")));
                    }
                    Self::bounded("a leg", *amount)?;
                    if !seen.insert(asset.clone()) {
                        return Err(CustodyError::Invalid(format!("{asset} appears in two legs")));
                    }
                }
            }
        }
        Ok(instruction)
    }

    /// Accepts an instruction: it becomes `PENDING`, due on its cycle, with its outgoing amounts
    /// locked. Returns the settlement and whether it is new (`false`: the same external id and
    /// content were accepted before, and nothing changed).
    ///
    /// # Errors
    /// [`CustodyError`]: unknown account, asset or symbol; non-positive amounts; the external id
    /// taken by other content; an outgoing amount the account cannot cover (nothing is locked).
    pub fn submit(
        &mut self,
        instruction: Instruction,
        at: OffsetDateTime,
    ) -> Result<(Settlement, bool), CustodyError> {
        self.accept(instruction, at)
    }

    fn accept(
        &mut self,
        instruction: Instruction,
        at: OffsetDateTime,
    ) -> Result<(Settlement, bool), CustodyError> {
        let instruction = self.normalize(instruction)?;
        if let Some(number) = self.by_external.get(&instruction.external_id) {
            let existing = &self.settlements[number];
            if existing.instruction == instruction {
                return Ok((existing.clone(), false));
            }
            return Err(CustodyError::DuplicateExternalId {
                external_id: instruction.external_id,
                existing: existing.id.clone(),
            });
        }
        let account = instruction.account.clone();
        // An exchange's P&L describes what already happened: it is always accepted, and its cover
        // is looked for when it falls due (after the earlier P&L of the same entity has settled).
        let outgoing: Vec<(String, Decimal)> = if locks(&instruction.kind) {
            instruction
                .kind
                .legs()
                .into_iter()
                .filter(|(_, amount)| amount.is_sign_negative())
                .map(|(asset, amount)| (asset, -amount))
                .collect()
        } else {
            Vec::new()
        };
        for (asset, amount) in &outgoing {
            self.available(&account, asset, *amount)?;
        }
        for (asset, amount) in &outgoing {
            let balance = self.entry(&account, asset);
            balance.available -= *amount;
            balance.locked += *amount;
            self.changes.balances.insert((account.clone(), asset.clone()));
        }
        self.created += 1;
        let settlement = Settlement {
            id: format!("stl-{}", self.created),
            due_at: instruction.cycle.due(at, self.day),
            instruction,
            status: Status::Pending,
            reason: None,
            created_at: at,
            finished_at: None,
            settled: Vec::new(),
        };
        self.by_external
            .insert(settlement.instruction.external_id.clone(), self.created);
        self.pending.insert((settlement.due_at, self.created));
        self.settlements.insert(self.created, settlement.clone());
        self.changes.settlements.push(settlement.clone());
        Ok((settlement, true))
    }

    /// One settlement.
    ///
    /// # Errors
    /// [`CustodyError::UnknownSettlement`].
    pub fn settlement(&self, id: &str) -> Result<&Settlement, CustodyError> {
        settlement_number(id.trim())
            .and_then(|n| self.settlements.get(&n))
            .ok_or_else(|| CustodyError::UnknownSettlement(id.trim().to_owned()))
    }

    /// Settlements, oldest first, optionally of one account and one status.
    pub fn settlements(
        &self,
        account: Option<&str>,
        status: Option<Status>,
    ) -> impl Iterator<Item = &Settlement> {
        self.settlements.values().filter(move |s| {
            account.is_none_or(|a| s.instruction.account == a) && status.is_none_or(|st| s.status == st)
        })
    }

    /// Settlements, newest first, numbered below `before` when given.
    pub fn settlements_newest_first(&self, before: Option<u64>) -> impl Iterator<Item = &Settlement> {
        self.settlements
            .range(..before.unwrap_or(u64::MAX))
            .rev()
            .map(|(_, s)| s)
    }

    fn pending_number(&self, id: &str) -> Result<u64, CustodyError> {
        let settlement = self.settlement(id)?;
        if settlement.status != Status::Pending {
            return Err(CustodyError::NotPending {
                id: settlement.id.clone(),
                status: settlement.status.as_str(),
            });
        }
        settlement_number(&settlement.id).ok_or_else(|| CustodyError::UnknownSettlement(id.to_owned()))
    }

    /// Releases what a pending settlement locked and ends it with `status`.
    fn end_unsettled(
        &mut self,
        number: u64,
        status: Status,
        reason: String,
        at: OffsetDateTime,
    ) -> Settlement {
        let settlement = self.settlements[&number].clone();
        let account = settlement.instruction.account.clone();
        let locked = locks(&settlement.instruction.kind);
        for (asset, amount) in settlement.remaining() {
            if locked && amount.is_sign_negative() {
                let balance = self.entry(&account, &asset);
                balance.locked += amount;
                balance.available -= amount;
                self.changes.balances.insert((account.clone(), asset));
            }
        }
        self.pending.remove(&(settlement.due_at, number));
        let s = self.settlements.get_mut(&number).expect("a known settlement");
        s.status = status;
        s.reason = Some(reason);
        s.finished_at = Some(at);
        self.changes.settlements.push(s.clone());
        s.clone()
    }

    /// Withdraws a pending settlement: nothing moves, its locks are released.
    ///
    /// # Errors
    /// [`CustodyError`]: unknown, or no longer pending.
    pub fn cancel(&mut self, id: &str, reason: &str, at: OffsetDateTime) -> Result<Settlement, CustodyError> {
        let number = self.pending_number(id)?;
        let s = &self.settlements[&number];
        if !s.settled.is_empty() {
            return Err(CustodyError::NotCancellable {
                id: s.id.clone(),
                why: "it is partially settled",
            });
        }
        if !locks(&s.instruction.kind) {
            return Err(CustodyError::NotCancellable {
                id: s.id.clone(),
                why: "it settles an exchange's P&L, trades that already happened",
            });
        }
        Ok(self.end_unsettled(number, Status::Cancelled, reason.to_owned(), at))
    }

    /// Fails a pending settlement (refused by the counterparty, a fault): nothing moves, its locks are
    /// released.
    ///
    /// # Errors
    /// [`CustodyError`]: unknown, or no longer pending.
    pub fn fail(&mut self, id: &str, reason: &str, at: OffsetDateTime) -> Result<Settlement, CustodyError> {
        let number = self.pending_number(id)?;
        Ok(self.end_unsettled(number, Status::Failed, reason.to_owned(), at))
    }

    /// Settles a pending settlement now: locked outgoing amounts leave, incoming amounts arrive, a
    /// trade moves the account's position.
    ///
    /// # Errors
    /// [`CustodyError`]: unknown, or no longer pending.
    pub fn complete(&mut self, id: &str, at: OffsetDateTime) -> Result<Settlement, CustodyError> {
        let number = self.pending_number(id)?;
        let remaining = self.settlements[&number].remaining();
        if let Err(missing) = self.cover(number, &remaining) {
            return Ok(self.end_unsettled(number, Status::Failed, missing.to_string(), at));
        }
        self.move_legs(number, &remaining);
        // An exchange's P&L moves the positions of the trades it carries once it completes.
        if let Kind::ExchangePnl { fills, .. } = &self.settlements[&number].instruction.kind {
            let account = self.settlements[&number].instruction.account.clone();
            for fill in fills.clone() {
                self.positions
                    .entry((account.clone(), fill.symbol.clone()))
                    .or_default()
                    .apply(fill.side, fill.quantity, fill.price);
                self.changes.positions.push((account.clone(), fill.symbol));
            }
        }
        let s = self.settlements.get_mut(&number).expect("a known settlement");
        s.status = Status::Completed;
        s.finished_at = Some(at);
        s.settled = s.instruction.kind.legs();
        let due = s.due_at;
        self.changes.settlements.push(s.clone());
        let done = s.clone();
        self.pending.remove(&(due, number));
        Ok(done)
    }

    /// Settles part of a pending settlement now: `fraction` (in (0, 1)) of what each leg still has
    /// to move, rounded toward zero to 8 decimals; it stays `PENDING` with the rest, which settles
    /// on a later pass. A trade moves the position by the part of its quantity settled.
    ///
    /// # Errors
    /// [`CustodyError`]: unknown, no longer pending, or a fraction outside (0, 1).
    pub fn settle_part(
        &mut self,
        id: &str,
        fraction: Decimal,
        _at: OffsetDateTime,
    ) -> Result<Settlement, CustodyError> {
        if fraction <= Decimal::ZERO || fraction >= Decimal::ONE {
            return Err(CustodyError::Invalid(format!(
                "a partial settlement moves a fraction in (0, 1), got {fraction}"
            )));
        }
        let number = self.pending_number(id)?;
        let part: Vec<(String, Decimal)> = self.settlements[&number]
            .remaining()
            .into_iter()
            .map(|(asset, amount)| {
                let moved =
                    (amount * fraction).round_dp_with_strategy(8, rust_decimal::RoundingStrategy::ToZero);
                (asset, moved)
            })
            .collect();
        self.cover(number, &part)?;
        self.move_legs(number, &part);
        let s = self.settlements.get_mut(&number).expect("a known settlement");
        let legs = s.instruction.kind.legs();
        s.settled = legs
            .iter()
            .map(|(asset, _)| {
                let before = s
                    .settled
                    .iter()
                    .find(|(a, _)| a == asset)
                    .map_or(Decimal::ZERO, |(_, d)| *d);
                let now = part
                    .iter()
                    .find(|(a, _)| a == asset)
                    .map_or(Decimal::ZERO, |(_, d)| *d);
                (asset.clone(), before + now)
            })
            .collect();
        self.changes.settlements.push(s.clone());
        Ok(s.clone())
    }

    /// Whether the account can pay the outgoing amounts of `part` of an instruction that did not
    /// lock them (exchange P&L); those that locked always can.
    fn cover(&self, number: u64, part: &[(String, Decimal)]) -> Result<(), CustodyError> {
        let settlement = &self.settlements[&number];
        if locks(&settlement.instruction.kind) {
            return Ok(());
        }
        let account = &settlement.instruction.account;
        part.iter()
            .filter(|(_, amount)| amount.is_sign_negative())
            .try_for_each(|(asset, amount)| self.available(account, asset, -*amount))
    }

    /// Moves `part` of settlement `number`'s legs: outgoing amounts leave the locked balance,
    /// incoming arrive as available; a trade's position follows its base leg.
    fn move_legs(&mut self, number: u64, part: &[(String, Decimal)]) {
        let settlement = &self.settlements[&number];
        let account = settlement.instruction.account.clone();
        let locked = locks(&settlement.instruction.kind);
        let trade = match &settlement.instruction.kind {
            Kind::Trade {
                symbol, side, price, ..
            } => Some((symbol.clone(), *side, *price)),
            _ => None,
        };
        for (asset, amount) in part {
            if amount.is_zero() {
                continue;
            }
            let balance = self.entry(&account, asset);
            if amount.is_sign_negative() && locked {
                balance.locked += *amount;
            } else {
                balance.available += *amount;
            }
            *self.external.entry(asset.clone()).or_default() += *amount;
            self.moved(&account, asset, *amount);
        }
        if let Some((symbol, side, price)) = trade {
            // The base leg comes first.
            let quantity = part.first().map_or(Decimal::ZERO, |(_, q)| q.abs());
            if !quantity.is_zero() {
                self.positions
                    .entry((account.clone(), symbol.clone()))
                    .or_default()
                    .apply(side, quantity, price);
                self.changes.positions.push((account, symbol));
            }
        }
    }

    /// Pending settlements due at `now` (or before), in due order.
    pub fn due(&self, now: OffsetDateTime) -> Vec<String> {
        self.pending
            .iter()
            .take_while(|(due, _)| *due <= now)
            .map(|(_, n)| self.settlements[n].id.clone())
            .collect()
    }

    /// Settles everything due at `now`; returns what settled.
    pub fn settle_due(&mut self, now: OffsetDateTime) -> Vec<Settlement> {
        self.due(now)
            .iter()
            .filter_map(|id| self.complete(id, now).ok())
            .collect()
    }

    /// Compares what an account holds with what another party reports for it: one break per asset
    /// whose totals differ (an asset missing from the report counts as reported zero).
    ///
    /// # Errors
    /// [`CustodyError`]: unknown account or asset in the report.
    pub fn reconcile(
        &self,
        account: &str,
        reported: &[(String, Decimal)],
    ) -> Result<Vec<Break>, CustodyError> {
        let mut report: BTreeMap<String, Decimal> = BTreeMap::new();
        for (asset, amount) in reported {
            Self::bounded("a reported amount", *amount)?;
            let entry = report.entry(self.asset(asset)?).or_default();
            *entry = entry
                .checked_add(*amount)
                .ok_or_else(|| CustodyError::Invalid("reported amounts too large".into()))?;
            Self::bounded("a reported total", *entry)?;
        }
        Ok(self
            .balances(account)?
            .into_iter()
            .filter_map(|(asset, balance)| {
                let reported = report.get(&asset).copied().unwrap_or_default();
                let held = balance.total();
                (held != reported).then(|| Break {
                    difference: reported - held,
                    asset,
                    held,
                    reported,
                })
            })
            .collect())
    }

    /// Checks the rules the operations keep (module doc) on the books as they are: no negative
    /// balance, every asset's balances adding up to what came in minus what went out, every lock
    /// belonging to a pending settlement. Returns what is broken (nothing, unless storage was
    /// changed behind the custodian's back).
    pub fn audit(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut totals: BTreeMap<&str, Decimal> = BTreeMap::new();
        for ((account, asset), b) in &self.balances {
            if b.available.is_sign_negative() || b.locked.is_sign_negative() {
                problems.push(format!("{account} holds a negative {asset} balance"));
            }
            *totals.entry(asset).or_default() += b.total();
        }
        let assets: BTreeSet<&str> = totals
            .keys()
            .copied()
            .chain(self.external.keys().map(String::as_str))
            .collect();
        for asset in assets {
            let held = totals.get(asset).copied().unwrap_or_default();
            let external = self.external(asset);
            if held != external {
                problems.push(format!(
                    "{asset}: balances total {held}, deposits less withdrawals {external}"
                ));
            }
        }
        let mut committed: BTreeMap<(&str, String), Decimal> = BTreeMap::new();
        for s in self.settlements.values() {
            if s.status == Status::Pending && locks(&s.instruction.kind) {
                for (asset, amount) in s.remaining() {
                    if amount.is_sign_negative() {
                        *committed.entry((&s.instruction.account, asset)).or_default() -= amount;
                    }
                }
            }
        }
        for ((account, asset), b) in &self.balances {
            let expected = committed
                .get(&(account.as_str(), asset.clone()))
                .copied()
                .unwrap_or_default();
            if b.locked != expected {
                problems.push(format!(
                    "{account} has {} {asset} locked, pending settlements account for {expected}",
                    b.locked
                ));
            }
        }
        problems
    }

    /// Takes what changed since the last call.
    pub fn take_changes(&mut self) -> Changes {
        std::mem::take(&mut self.changes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{position::Side, settlement::Cycle};

    fn d(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    fn t(seconds: i64) -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH + Duration::seconds(seconds)
    }

    fn pnl(account: &str, first: u64, btc: &str, usd: &str, cycle: Cycle) -> Instruction {
        Instruction {
            external_id: format!("pnl:x:e:{first}"),
            account: account.into(),
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
            account: account.into(),
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
}
