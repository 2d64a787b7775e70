//! Balances per account and asset, split into available and locked, plus the fees the exchange
//! collected. Every movement is exact decimal arithmetic, and the only way value enters or leaves is
//! a deposit or a withdrawal: for each asset, the sum of every balance and the collected fees equals
//! deposits minus withdrawals.

use rust_decimal::Decimal;

/// Index of an account in the ledger.
pub type AccountIdx = u32;
/// Index of an asset in the ledger.
pub type AssetIdx = u16;

pub use tse_runtime::money::Balance;

/// A movement the ledger refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    /// Not enough available balance.
    #[error("insufficient {asset} balance: {available} available, {needed} needed")]
    Insufficient {
        /// The asset.
        asset: String,
        /// What is available.
        available: Decimal,
        /// What was needed.
        needed: Decimal,
    },
    /// The amount is zero or negative.
    #[error("amount must be positive, got {0}")]
    NonPositive(Decimal),
}

/// Every account's balances and the exchange's fees.
#[derive(Clone, Debug, Default)]
pub struct Ledger {
    assets: Vec<String>,
    balances: Vec<Vec<Balance>>,
    fees: Vec<Decimal>,
    net_deposits: Vec<Decimal>,
    touched: Vec<(AccountIdx, AssetIdx)>,
}

impl Ledger {
    /// A ledger for `assets`, with no accounts.
    pub fn new(assets: Vec<String>) -> Self {
        let n = assets.len();
        Self {
            assets,
            balances: Vec::new(),
            fees: vec![Decimal::ZERO; n],
            net_deposits: vec![Decimal::ZERO; n],
            touched: Vec::new(),
        }
    }

    /// Returns the asset names.
    pub fn assets(&self) -> &[String] {
        &self.assets
    }

    /// Returns the index of `asset`.
    pub fn asset(&self, asset: &str) -> Option<AssetIdx> {
        self.assets
            .iter()
            .position(|a| a == asset)
            .and_then(|i| AssetIdx::try_from(i).ok())
    }

    /// Returns the name of asset `index`.
    pub fn asset_name(&self, index: AssetIdx) -> &str {
        &self.assets[usize::from(index)]
    }

    /// Adds an account with zero balances; returns its index.
    pub fn open_account(&mut self) -> AccountIdx {
        self.balances.push(vec![Balance::default(); self.assets.len()]);
        AccountIdx::try_from(self.balances.len() - 1).expect("fewer than 4 billion accounts")
    }

    /// Returns one balance.
    pub fn balance(&self, account: AccountIdx, asset: AssetIdx) -> Balance {
        self.balances[account as usize][usize::from(asset)]
    }

    /// Returns the fees collected in `asset`.
    pub fn fees(&self, asset: AssetIdx) -> Decimal {
        self.fees[usize::from(asset)]
    }

    /// Returns deposits minus withdrawals of `asset`.
    pub fn net_deposits(&self, asset: AssetIdx) -> Decimal {
        self.net_deposits[usize::from(asset)]
    }

    /// Returns and forgets the balances changed since the last call, each once, in first-change order.
    pub fn take_touched(&mut self) -> Vec<(AccountIdx, AssetIdx)> {
        let mut touched = std::mem::take(&mut self.touched);
        let mut seen = std::collections::HashSet::with_capacity(touched.len());
        touched.retain(|key| seen.insert(*key));
        touched
    }

    fn entry(&mut self, account: AccountIdx, asset: AssetIdx) -> &mut Balance {
        self.touched.push((account, asset));
        &mut self.balances[account as usize][usize::from(asset)]
    }

    /// Restores a balance as stored (recovery); not a movement.
    pub fn restore(&mut self, account: AccountIdx, asset: AssetIdx, balance: Balance) {
        self.balances[account as usize][usize::from(asset)] = balance;
    }

    /// Restores an asset's collected fees and net deposits (recovery).
    pub fn restore_totals(&mut self, asset: AssetIdx, fees: Decimal, net_deposits: Decimal) {
        self.fees[usize::from(asset)] = fees;
        self.net_deposits[usize::from(asset)] = net_deposits;
    }

    /// Credits a deposit.
    ///
    /// # Errors
    /// [`LedgerError::NonPositive`] for a zero or negative amount.
    pub fn deposit(
        &mut self,
        account: AccountIdx,
        asset: AssetIdx,
        amount: Decimal,
    ) -> Result<(), LedgerError> {
        if amount <= Decimal::ZERO {
            return Err(LedgerError::NonPositive(amount));
        }
        self.entry(account, asset).available += amount;
        self.net_deposits[usize::from(asset)] += amount;
        Ok(())
    }

    /// Debits a withdrawal from the available balance.
    ///
    /// # Errors
    /// [`LedgerError`] when the amount is not positive or not available.
    pub fn withdraw(
        &mut self,
        account: AccountIdx,
        asset: AssetIdx,
        amount: Decimal,
    ) -> Result<(), LedgerError> {
        if amount <= Decimal::ZERO {
            return Err(LedgerError::NonPositive(amount));
        }
        self.check_available(account, asset, amount)?;
        self.entry(account, asset).available -= amount;
        self.net_deposits[usize::from(asset)] -= amount;
        Ok(())
    }

    fn check_available(
        &self,
        account: AccountIdx,
        asset: AssetIdx,
        amount: Decimal,
    ) -> Result<(), LedgerError> {
        let available = self.balance(account, asset).available;
        if available < amount {
            return Err(LedgerError::Insufficient {
                asset: self.asset_name(asset).to_owned(),
                available,
                needed: amount,
            });
        }
        Ok(())
    }

    /// Moves `amount` from available to locked.
    ///
    /// # Errors
    /// [`LedgerError::Insufficient`] when it is not available.
    pub fn lock(&mut self, account: AccountIdx, asset: AssetIdx, amount: Decimal) -> Result<(), LedgerError> {
        self.check_available(account, asset, amount)?;
        let balance = self.entry(account, asset);
        balance.available -= amount;
        balance.locked += amount;
        Ok(())
    }

    /// Moves `amount` from locked back to available.
    pub fn unlock(&mut self, account: AccountIdx, asset: AssetIdx, amount: Decimal) {
        if amount.is_zero() {
            return;
        }
        let balance = self.entry(account, asset);
        debug_assert!(balance.locked >= amount, "unlocking more than is locked");
        balance.locked -= amount;
        balance.available += amount;
    }

    /// Settles one fill: the buyer's locked quote pays `cost + buyer_fee`, the seller's locked base
    /// delivers `quantity`; the buyer receives `quantity` of base, the seller `cost - seller_fee` of
    /// quote, and the exchange both fees.
    #[allow(clippy::too_many_arguments)]
    pub fn settle(
        &mut self,
        buyer: AccountIdx,
        seller: AccountIdx,
        base: AssetIdx,
        quote: AssetIdx,
        quantity: Decimal,
        cost: Decimal,
        buyer_fee: Decimal,
        seller_fee: Decimal,
    ) {
        let paid = self.entry(buyer, quote);
        debug_assert!(paid.locked >= cost + buyer_fee, "buyer pays from its lock");
        paid.locked -= cost + buyer_fee;
        self.entry(buyer, base).available += quantity;
        let delivered = self.entry(seller, base);
        debug_assert!(delivered.locked >= quantity, "seller delivers from its lock");
        delivered.locked -= quantity;
        self.entry(seller, quote).available += cost - seller_fee;
        self.fees[usize::from(quote)] += buyer_fee + seller_fee;
    }

    /// Returns, for `asset`, the sum of every balance and the collected fees.
    pub fn held(&self, asset: AssetIdx) -> Decimal {
        let accounts: Decimal = self.balances.iter().map(|b| b[usize::from(asset)].total()).sum();
        accounts + self.fees(asset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn locks_and_settlement_move_exact_amounts() {
        let mut ledger = Ledger::new(vec!["BTC".into(), "USD".into()]);
        let (buyer, seller) = (ledger.open_account(), ledger.open_account());
        ledger.deposit(buyer, 1, d("1000")).unwrap();
        ledger.deposit(seller, 0, d("1")).unwrap();
        ledger.lock(buyer, 1, d("100.05")).unwrap();
        ledger.lock(seller, 0, d("0.001")).unwrap();
        ledger.settle(buyer, seller, 0, 1, d("0.001"), d("100"), d("0.05"), d("0.02"));
        assert_eq!(
            ledger.balance(buyer, 1),
            Balance {
                available: d("899.95"),
                locked: d("0")
            }
        );
        assert_eq!(ledger.balance(buyer, 0).available, d("0.001"));
        assert_eq!(ledger.balance(seller, 1).available, d("99.98"));
        assert_eq!(ledger.fees(1), d("0.07"));
        assert_eq!(ledger.held(1), ledger.net_deposits(1));
        assert_eq!(ledger.held(0), ledger.net_deposits(0));
    }

    #[test]
    fn refusals_change_nothing() {
        let mut ledger = Ledger::new(vec!["USD".into()]);
        let a = ledger.open_account();
        ledger.deposit(a, 0, d("10")).unwrap();
        assert!(matches!(
            ledger.lock(a, 0, d("10.01")),
            Err(LedgerError::Insufficient { .. })
        ));
        assert!(matches!(
            ledger.withdraw(a, 0, d("11")),
            Err(LedgerError::Insufficient { .. })
        ));
        assert_eq!(
            ledger.deposit(a, 0, d("-1")),
            Err(LedgerError::NonPositive(d("-1")))
        );
        assert_eq!(
            ledger.balance(a, 0),
            Balance {
                available: d("10"),
                locked: d("0")
            }
        );
        ledger.take_touched();
        ledger.withdraw(a, 0, d("4")).unwrap();
        assert_eq!(ledger.take_touched(), [(a, 0)]);
        assert_eq!(ledger.net_deposits(0), d("6"));
    }
}
