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
use tse_market::AccountId;

use super::{
    position::Position,
    settlement::{Kind, Settlement, Status},
};

/// A custody account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Account {
    /// `cust-N`.
    pub id: AccountId,
    /// The trading entity that owns it.
    pub entity: Option<String>,
    /// Opened (simulated time).
    pub created_at: OffsetDateTime,
}

pub use tse_market::Balance;

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
    /// No such account: the id as given (trimmed), which may be blank, so not an [`AccountId`].
    #[error("unknown account {0}")]
    UnknownAccount(String),
    /// The asset is not held here.
    #[error("unknown asset '{asset}'; this custodian holds {}", known.join(", "))]
    UnknownAsset {
        /// As given (trimmed).
        asset: String,
        /// The assets held, in order.
        known: Vec<String>,
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
        account: AccountId,
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
    #[error("settlement {id} is {}, not PENDING", status.as_str())]
    NotPending {
        /// The settlement.
        id: String,
        /// Its status.
        status: Status,
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
    Invalid(Malformed),
}

/// How a request (or what storage holds) is malformed, with what is wrong in it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Malformed {
    /// An instruction without its external id.
    #[error("external_id is required")]
    MissingExternalId,
    /// An exchange P&L instruction without its exchange, its entity or a trade range.
    #[error("an exchange P&L instruction needs an exchange, an entity and a trade range")]
    IncompletePnl,
    /// A trade's symbol (as given) is not `BASE-QUOTE`.
    #[error("symbol '{0}' is not BASE-QUOTE")]
    NotASymbol(String),
    /// A trade's symbol (as given) names one asset twice.
    #[error("symbol '{0}' trades an asset against itself")]
    AgainstItself(String),
    /// A trade's fee is negative.
    #[error("fee must not be negative, got {0}")]
    NegativeFee(Decimal),
    /// A net instruction without legs.
    #[error("a net instruction needs at least one leg")]
    NoLegs,
    /// A leg of this asset moves nothing.
    #[error("the {0} leg is zero")]
    ZeroLeg(String),
    /// Two legs of this asset.
    #[error("{0} appears in two legs")]
    RepeatedLeg(String),
    /// An amount beyond [`MAX_AMOUNT`].
    #[error("{what} {amount} is beyond the largest amount handled ({})", MAX_AMOUNT)]
    BeyondLimit {
        /// Which amount.
        what: &'static str,
        /// As given (or summed).
        amount: Decimal,
    },
    /// A transfer from an account to itself.
    #[error("a transfer needs two accounts; both are {0}")]
    SameAccount(AccountId),
    /// A partial settlement's fraction outside (0, 1).
    #[error("a partial settlement moves a fraction in (0, 1), got {0}")]
    Fraction(Decimal),
    /// Reported amounts whose sum overflows.
    #[error("reported amounts too large")]
    ReportTooLarge,
    /// A stored account id these books do not make.
    #[error("stored account id {0}")]
    StoredAccountId(AccountId),
    /// A stored settlement id these books do not make.
    #[error("stored settlement id {0}")]
    StoredSettlementId(String),
}

/// What changed since the last [`Custody::take_changes`], for storage, metrics and events.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// Accounts opened.
    pub accounts: Vec<AccountId>,
    /// Balances changed: (account, asset).
    pub balances: BTreeSet<(AccountId, String)>,
    /// Positions moved by settled trades: (account, symbol), once per move.
    pub positions: Vec<(AccountId, String)>,
    /// Settlements as they were each time one was created or moved on, in the order it happened.
    pub settlements: Vec<Settlement>,
    /// Balance movements: (account, asset, signed amount), for the balance-change metric.
    pub movements: Vec<(AccountId, String, Decimal)>,
    /// Exchange P&L cursors moved: (exchange, entity).
    pub cursors: BTreeSet<(String, String)>,
}

/// Everything the books hold, as stored: what [`Custody::restore`] rebuilds them from.
#[derive(Clone, Debug, Default)]
pub struct Stored {
    /// Accounts.
    pub accounts: Vec<Account>,
    /// Balances: (account, asset, balance).
    pub balances: Vec<(AccountId, String, Balance)>,
    /// Positions: (account, symbol, position).
    pub positions: Vec<(AccountId, String, Position)>,
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
    accounts: BTreeMap<AccountId, Account>,
    opened: u64,
    balances: BTreeMap<(AccountId, String), Balance>,
    positions: BTreeMap<(AccountId, String), Position>,
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
                .ok_or_else(|| CustodyError::Invalid(Malformed::StoredAccountId(account.id.clone())))?;
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
                .ok_or_else(|| CustodyError::Invalid(Malformed::StoredSettlementId(settlement.id.clone())))?;
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
            id: AccountId::numbered("cust-", self.opened),
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
                known: self.assets.iter().cloned().collect(),
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
    pub fn all_balances(&self) -> impl Iterator<Item = (&AccountId, &str, Balance)> {
        self.balances
            .iter()
            .map(|((account, asset), b)| (account, asset.as_str(), *b))
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
}

mod funds;
mod instructions;
mod reconcile;

#[cfg(test)]
mod tests;
