//! Settlement instructions: validated, accepted (their outgoing amounts locked), then settled
//! whole or in parts when due, cancelled or failed.

use std::collections::BTreeSet;

use rust_decimal::Decimal;
use time::OffsetDateTime;

use super::{Custody, CustodyError, Malformed, locks, settlement_number};
use crate::domain::settlement::{Instruction, Kind, Settlement, Status};

impl Custody {
    /// Validates an instruction and puts its names in canonical form.
    pub(super) fn normalize(&self, mut instruction: Instruction) -> Result<Instruction, CustodyError> {
        instruction.external_id = instruction.external_id.trim().to_owned();
        if instruction.external_id.is_empty() {
            return Err(CustodyError::Invalid(Malformed::MissingExternalId));
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
            return Err(CustodyError::Invalid(Malformed::IncompletePnl));
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
                    return Err(CustodyError::Invalid(Malformed::NotASymbol(symbol.clone())));
                };
                self.asset(base)?;
                self.asset(quote)?;
                if base == quote {
                    return Err(CustodyError::Invalid(Malformed::AgainstItself(symbol.clone())));
                }
                *symbol = upper;
                Self::positive("quantity", *quantity)?;
                Self::positive("price", *price)?;
                if fee.is_sign_negative() {
                    return Err(CustodyError::Invalid(Malformed::NegativeFee(*fee)));
                }
                let value = quantity
                    .checked_mul(*price)
                    .and_then(|v| v.checked_add(*fee))
                    .unwrap_or(Decimal::MAX);
                Self::bounded("quantity × price + fee", value)?;
            }
            Kind::Net { legs } | Kind::ExchangePnl { legs, .. } => {
                if legs.is_empty() {
                    return Err(CustodyError::Invalid(Malformed::NoLegs));
                }
                let mut seen = BTreeSet::new();
                for (asset, amount) in legs.iter_mut() {
                    *asset = self.asset(asset)?;
                    if amount.is_zero() {
                        return Err(CustodyError::Invalid(Malformed::ZeroLeg(asset.clone())));
                    }
                    Self::bounded("a leg", *amount)?;
                    if !seen.insert(asset.clone()) {
                        return Err(CustodyError::Invalid(Malformed::RepeatedLeg(asset.clone())));
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

    pub(super) fn accept(
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
            account.is_none_or(|a| s.instruction.account.as_str() == a)
                && status.is_none_or(|st| s.status == st)
        })
    }

    /// Settlements, newest first, numbered below `before` when given.
    pub fn settlements_newest_first(&self, before: Option<u64>) -> impl Iterator<Item = &Settlement> {
        self.settlements
            .range(..before.unwrap_or(u64::MAX))
            .rev()
            .map(|(_, s)| s)
    }

    pub(super) fn pending_number(&self, id: &str) -> Result<u64, CustodyError> {
        let settlement = self.settlement(id)?;
        if settlement.status != Status::Pending {
            return Err(CustodyError::NotPending {
                id: settlement.id.clone(),
                status: settlement.status,
            });
        }
        settlement_number(&settlement.id).ok_or_else(|| CustodyError::UnknownSettlement(id.to_owned()))
    }

    /// Releases what a pending settlement locked and ends it with `status`.
    pub(super) fn end_unsettled(
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
            return Err(CustodyError::Invalid(Malformed::Fraction(fraction)));
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
    pub(super) fn cover(&self, number: u64, part: &[(String, Decimal)]) -> Result<(), CustodyError> {
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
    pub(super) fn move_legs(&mut self, number: u64, part: &[(String, Decimal)]) {
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
}
