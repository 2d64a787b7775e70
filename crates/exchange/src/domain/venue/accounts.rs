//! Accounts and their funds: opening, deposits, withdrawals and the amounts they accept.

use rust_decimal::Decimal;
use time::OffsetDateTime;
use tse_runtime::money;

use super::{Account, Venue, VenueError};
use crate::domain::ledger::{AccountIdx, AssetIdx, Balance, LedgerError};

impl Venue {
    /// Opens an account; returns its index.
    pub fn open_account(&mut self, entity: Option<String>, at: OffsetDateTime) -> AccountIdx {
        let index = self.ledger.open_account();
        let id = format!("acct-{}", index + 1);
        self.account_index.insert(id.clone(), index);
        self.accounts.push(Account {
            id,
            entity,
            created_at: at,
        });
        self.new_accounts.push(index);
        index
    }

    /// Credits a deposit.
    ///
    /// # Errors
    /// [`VenueError`] for an unknown account or asset, a non-positive amount, one beyond
    /// [`MAX_AMOUNT`](money::MAX_AMOUNT) or with more decimals than the asset takes, or holdings that would overflow.
    pub fn deposit(&mut self, account: &str, asset: &str, amount: Decimal) -> Result<Balance, VenueError> {
        let (account, asset) = (self.account(account)?, self.asset(asset)?);
        self.check_amount(asset, amount)?;
        self.ledger
            .deposit(account, asset, amount)
            .map_err(VenueError::Ledger)?;
        Ok(self.ledger.balance(account, asset))
    }

    /// Debits a withdrawal from the available balance.
    ///
    /// # Errors
    /// [`VenueError`] for an unknown account or asset, an invalid amount (as for a deposit), or an
    /// overdraft.
    pub fn withdraw(&mut self, account: &str, asset: &str, amount: Decimal) -> Result<Balance, VenueError> {
        let (account, asset) = (self.account(account)?, self.asset(asset)?);
        self.check_amount(asset, amount)?;
        self.ledger
            .withdraw(account, asset, amount)
            .map_err(|e| match e {
                LedgerError::Insufficient { .. } => VenueError::Insufficient(e),
                other => VenueError::Ledger(other),
            })?;
        Ok(self.ledger.balance(account, asset))
    }

    /// Refuses an amount beyond [`MAX_AMOUNT`](money::MAX_AMOUNT) or finer than the asset's scale.
    fn check_amount(&self, asset: AssetIdx, amount: Decimal) -> Result<(), VenueError> {
        money::bounded(amount).map_err(|e| VenueError::Invalid(format!("amount {e}")))?;
        let (decimals, allowed) = (money::decimals(amount), self.asset_scale(asset));
        if decimals > allowed {
            return Err(VenueError::Invalid(format!(
                "amount {amount} has {decimals} decimals; {} takes at most {allowed} on this exchange",
                self.ledger.asset_name(asset)
            )));
        }
        Ok(())
    }
}
