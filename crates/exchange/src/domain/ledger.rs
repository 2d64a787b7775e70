//! Balances per account and asset, split into available and locked, plus the fees the exchange
//! collected. Every movement is exact decimal arithmetic, and the only way value enters or leaves is
//! a deposit or a withdrawal: for each asset, the sum of every balance and the collected fees equals
//! deposits minus withdrawals.
//!
//! That sum is why nothing here overflows or rounds: a deposit is refused (checked) when it would
//! take the asset's holdings beyond its limit — what a decimal holds exactly at the asset's scale
//! ([`exact_limit`]) — and every other movement only shifts value between balances and fees, each a
//! part of the holdings, so no balance or fee total can exceed them. Those
//! movements saturate rather than panic all the same: state stored before deposits were checked
//! (a balance at the very limit) then stays at the limit instead of stopping the engine.

use rust_decimal::Decimal;

/// Index of an account in the ledger.
pub type AccountIdx = u32;
/// Index of an asset in the ledger.
pub type AssetIdx = u16;

pub use tse_market::Balance;

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
    /// The deposit would take the asset's holdings beyond their limit.
    #[error(
        "a deposit of {amount} {asset} is refused: the exchange's {asset} holdings ({held}) would exceed {limit}, the most that stays exact"
    )]
    TooLarge {
        /// The asset.
        asset: String,
        /// The amount.
        amount: Decimal,
        /// What the exchange holds of it.
        held: Decimal,
        /// The most it may hold.
        limit: Decimal,
    },
}

/// Every account's balances and the exchange's fees.
#[derive(Clone, Debug, Default)]
pub struct Ledger {
    assets: Vec<String>,
    balances: Vec<Vec<Balance>>,
    fees: Vec<Decimal>,
    net_deposits: Vec<Decimal>,
    limits: Vec<Decimal>,
    touched: Vec<(AccountIdx, AssetIdx)>,
}

/// The most of an asset whose amounts take `scale` decimals that stays exact: 10^(28 − scale), so
/// every balance, fee total and holding has at most 28 digits.
pub fn exact_limit(scale: u32) -> Decimal {
    (scale..Decimal::MAX_SCALE).fold(Decimal::ONE, |limit, _| {
        limit.checked_mul(Decimal::TEN).unwrap_or(Decimal::MAX)
    })
}

impl Ledger {
    /// A ledger for `assets`, with no accounts, holding at most what a decimal holds of each.
    pub fn new(assets: Vec<String>) -> Self {
        let n = assets.len();
        Self {
            assets,
            balances: Vec::new(),
            fees: vec![Decimal::ZERO; n],
            net_deposits: vec![Decimal::ZERO; n],
            limits: vec![Decimal::MAX; n],
            touched: Vec::new(),
        }
    }

    /// Limits the holdings of each asset, in asset order (see [`exact_limit`]).
    #[must_use]
    pub fn with_limits(mut self, limits: Vec<Decimal>) -> Self {
        debug_assert_eq!(limits.len(), self.assets.len(), "one limit per asset");
        self.limits = limits;
        self
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
        let held = self.net_deposits[usize::from(asset)];
        let limit = self.limits[usize::from(asset)];
        let too_large = || LedgerError::TooLarge {
            asset: self.asset_name(asset).to_owned(),
            amount,
            held,
            limit,
        };
        // The balance is part of the holdings; both are checked for state stored before the rule.
        let holdings = held
            .checked_add(amount)
            .filter(|h| *h <= limit)
            .ok_or_else(too_large)?;
        let available = self
            .balance(account, asset)
            .available
            .checked_add(amount)
            .ok_or_else(too_large)?;
        self.entry(account, asset).available = available;
        self.net_deposits[usize::from(asset)] = holdings;
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
        let balance = self.entry(account, asset);
        balance.available = balance.available.saturating_sub(amount);
        let held = &mut self.net_deposits[usize::from(asset)];
        *held = held.saturating_sub(amount);
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
        balance.available = balance.available.saturating_sub(amount);
        balance.locked = balance.locked.saturating_add(amount);
        Ok(())
    }

    /// Moves `amount` from locked back to available.
    pub fn unlock(&mut self, account: AccountIdx, asset: AssetIdx, amount: Decimal) {
        if amount.is_zero() {
            return;
        }
        let balance = self.entry(account, asset);
        debug_assert!(balance.locked >= amount, "unlocking more than is locked");
        balance.locked = balance.locked.saturating_sub(amount);
        balance.available = balance.available.saturating_add(amount);
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
        let price = cost.saturating_add(buyer_fee);
        debug_assert!(paid.locked >= price, "buyer pays from its lock");
        paid.locked = paid.locked.saturating_sub(price);
        let bought = self.entry(buyer, base);
        bought.available = bought.available.saturating_add(quantity);
        let delivered = self.entry(seller, base);
        debug_assert!(delivered.locked >= quantity, "seller delivers from its lock");
        delivered.locked = delivered.locked.saturating_sub(quantity);
        let proceeds = self.entry(seller, quote);
        proceeds.available = proceeds.available.saturating_add(cost.saturating_sub(seller_fee));
        let fees = &mut self.fees[usize::from(quote)];
        *fees = fees.saturating_add(buyer_fee.saturating_add(seller_fee));
    }

    /// Returns, for `asset`, the sum of every balance and the collected fees (`None` if it
    /// overflows, which only state that broke the holdings rule can).
    pub fn held(&self, asset: AssetIdx) -> Option<Decimal> {
        self.balances.iter().try_fold(self.fees(asset), |sum, b| {
            let b = b[usize::from(asset)];
            sum.checked_add(b.available)?.checked_add(b.locked)
        })
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
        assert_eq!(ledger.held(1), Some(ledger.net_deposits(1)));
        assert_eq!(ledger.held(0), Some(ledger.net_deposits(0)));
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

    #[test]
    fn a_deposit_that_would_overflow_is_refused_and_changes_nothing() {
        let mut ledger = Ledger::new(vec!["USD".into()]);
        let (a, b) = (ledger.open_account(), ledger.open_account());
        ledger.deposit(a, 0, Decimal::MAX).unwrap();
        ledger.take_touched();
        for account in [a, b] {
            let refused = ledger.deposit(account, 0, Decimal::ONE).unwrap_err();
            assert!(matches!(refused, LedgerError::TooLarge { .. }), "{refused}");
            assert!(
                refused
                    .to_string()
                    .contains("would exceed 79228162514264337593543950335")
            );
        }
        assert_eq!(ledger.balance(a, 0).available, Decimal::MAX);
        assert_eq!(ledger.balance(b, 0).available, Decimal::ZERO);
        assert_eq!(ledger.net_deposits(0), Decimal::MAX);
        assert!(ledger.take_touched().is_empty());
        // A balance restored beyond the holdings (state that broke the rule) is still checked.
        ledger.restore(
            b,
            0,
            Balance {
                available: Decimal::MAX,
                locked: Decimal::ZERO,
            },
        );
        ledger.restore_totals(0, Decimal::ZERO, Decimal::ONE);
        assert!(matches!(
            ledger.deposit(b, 0, Decimal::ONE),
            Err(LedgerError::TooLarge { .. })
        ));
        assert_eq!(ledger.held(0), None);
    }

    #[test]
    fn holdings_stay_within_what_is_exact_at_the_assets_scale() {
        assert_eq!(exact_limit(28), Decimal::ONE);
        assert_eq!(exact_limit(11), d("100000000000000000"));
        assert_eq!(exact_limit(0), d("10000000000000000000000000000"));
        let mut ledger = Ledger::new(vec!["USD".into()]).with_limits(vec![exact_limit(11)]);
        let a = ledger.open_account();
        ledger.deposit(a, 0, d("99999999999999999.99999999999")).unwrap();
        ledger.deposit(a, 0, d("0.00000000001")).unwrap();
        assert_eq!(ledger.balance(a, 0).available, exact_limit(11));
        let e = ledger.deposit(a, 0, d("0.00000000001")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "a deposit of 0.00000000001 USD is refused: the exchange's USD holdings (100000000000000000.00000000000) would exceed 100000000000000000, the most that stays exact"
        );
    }
}
