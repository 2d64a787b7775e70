//! Deposits, withdrawals and transfers: funds entering, leaving and moving between accounts.

use rust_decimal::Decimal;
use tse_market::AccountId;

use super::{Balance, Custody, CustodyError, MAX_AMOUNT, Malformed};

impl Custody {
    pub(super) fn entry(&mut self, account: &AccountId, asset: &str) -> &mut Balance {
        self.balances
            .entry((account.clone(), asset.to_owned()))
            .or_default()
    }

    pub(super) fn moved(&mut self, account: &AccountId, asset: &str, amount: Decimal) {
        self.changes.balances.insert((account.clone(), asset.to_owned()));
        self.changes
            .movements
            .push((account.clone(), asset.to_owned(), amount));
    }

    pub(super) fn positive(what: &'static str, amount: Decimal) -> Result<Decimal, CustodyError> {
        if amount <= Decimal::ZERO {
            return Err(CustodyError::NonPositive { what, amount });
        }
        Self::bounded(what, amount)
    }

    /// Refuses amounts beyond [`MAX_AMOUNT`]: balances and settlement values stay far from the
    /// limits of exact decimal arithmetic, so no sum or product of them can overflow.
    pub(super) fn bounded(what: &'static str, amount: Decimal) -> Result<Decimal, CustodyError> {
        if amount.abs() > MAX_AMOUNT {
            return Err(CustodyError::Invalid(Malformed::BeyondLimit { what, amount }));
        }
        Ok(amount)
    }

    pub(super) fn available(
        &self,
        account: &AccountId,
        asset: &str,
        needed: Decimal,
    ) -> Result<(), CustodyError> {
        let available = self
            .balances
            .get(&(account.clone(), asset.to_owned()))
            .map_or(Decimal::ZERO, |b| b.available);
        if available < needed {
            return Err(CustodyError::Insufficient {
                account: account.clone(),
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
    ) -> Result<(AccountId, String), CustodyError> {
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
            return Err(CustodyError::Invalid(Malformed::SameAccount(from)));
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
}
