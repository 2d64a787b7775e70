//! Reconciliation against a reported position, the self-audit of the invariants, and the changes
//! handed to storage.

use std::collections::{BTreeMap, BTreeSet};

use rust_decimal::Decimal;

use super::{Break, Changes, Custody, CustodyError, Malformed, locks};
use crate::domain::settlement::Status;

impl Custody {
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
                .ok_or(CustodyError::Invalid(Malformed::ReportTooLarge))?;
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
