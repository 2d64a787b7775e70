//! Storage of the custodian's books, written once for PostgreSQL and SQLite through the runtime's
//! storage layer: accounts, balances, positions, settlements (with their instruction as JSON),
//! the external totals that prove conservation, and the exchange P&L cursors.
//!
//! Every change is stored in the same transaction as the outbox events that describe it, before
//! anyone is told about it ([`statements`] builds that transaction from a batch's
//! [`Changes`]); [`load`] reads the tables back into [`Custody`] after a restart.

use std::collections::{BTreeMap, BTreeSet};

use rust_decimal::Decimal;
use time::OffsetDateTime;
use tse_market::AccountId;
use tse_runtime::storage::{Migration, Statement, Storage, StorageError, Value};

use crate::domain::{
    custody::{Account, Balance, Changes, Custody, Stored},
    position::Position,
    settlement::{Instruction, Settlement, Status},
};

/// The custodian schema.
pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "accounts, balances, positions, settlements",
    sql: "CREATE TABLE accounts (
            idx {key},
            id TEXT NOT NULL UNIQUE,
            entity TEXT,
            created_at {timestamp} NOT NULL);
          CREATE TABLE balances (
            account_id TEXT NOT NULL,
            asset TEXT NOT NULL,
            available {decimal} NOT NULL,
            locked {decimal} NOT NULL,
            PRIMARY KEY (account_id, asset));
          CREATE TABLE positions (
            account_id TEXT NOT NULL,
            symbol TEXT NOT NULL,
            quantity {decimal} NOT NULL,
            average_cost {decimal} NOT NULL,
            realized_pnl {decimal} NOT NULL,
            PRIMARY KEY (account_id, symbol));
          CREATE TABLE settlements (
            number {key},
            id TEXT NOT NULL UNIQUE,
            external_id TEXT NOT NULL UNIQUE,
            account_id TEXT NOT NULL,
            settlement_type TEXT NOT NULL,
            instruction {json} NOT NULL,
            status TEXT NOT NULL,
            reason TEXT,
            settled {json} NOT NULL,
            created_at {timestamp} NOT NULL,
            due_at {timestamp} NOT NULL,
            finished_at {timestamp});
          CREATE INDEX settlements_by_account ON settlements (account_id, number);
          CREATE INDEX settlements_pending ON settlements (due_at) WHERE status = 'PENDING';
          CREATE TABLE external_totals (
            asset TEXT PRIMARY KEY,
            amount {decimal} NOT NULL);
          CREATE TABLE pnl_cursors (
            exchange TEXT NOT NULL,
            entity TEXT NOT NULL,
            last_trade_id BIGINT NOT NULL,
            PRIMARY KEY (exchange, entity));",
}];

const SETTLEMENT_COLUMNS: &[&str] = &[
    "number",
    "id",
    "external_id",
    "account_id",
    "settlement_type",
    "instruction",
    "status",
    "reason",
    "settled",
    "created_at",
    "due_at",
    "finished_at",
];

fn number(id: &str, prefix: &str) -> i64 {
    id.strip_prefix(prefix)
        .and_then(|n| n.parse().ok())
        .unwrap_or_default()
}

fn json<T: serde::Serialize>(value: &T) -> Value {
    Value::Json(tse_runtime::storage::JsonText::of(value))
}

/// The statements that store what `changes` says changed, read from `custody` as it is now.
///
/// # Errors
/// [`StorageError::Invalid`] when a statement cannot be built.
pub fn statements(custody: &Custody, changes: &Changes) -> Result<Vec<Statement>, StorageError> {
    let mut out = Vec::new();
    let accounts: Vec<Vec<Value>> = changes
        .accounts
        .iter()
        .filter_map(|id| custody.account(id).ok())
        .map(|a| {
            vec![
                Value::Int(number(&a.id, "cust-")),
                a.id.as_str().into(),
                a.entity.clone().into(),
                a.created_at.into(),
            ]
        })
        .collect();
    out.extend(Statement::insert_chunked(
        "accounts",
        &["idx", "id", "entity", "created_at"],
        accounts,
        "",
    )?);
    let mut external: BTreeSet<&str> = BTreeSet::new();
    let balances: Vec<Vec<Value>> = changes
        .balances
        .iter()
        .filter_map(|(account, asset)| {
            external.insert(asset);
            let b = custody.balance(account, asset).ok()?;
            Some(vec![
                account.as_str().into(),
                asset.as_str().into(),
                b.available.into(),
                b.locked.into(),
            ])
        })
        .collect();
    out.extend(Statement::insert_chunked(
        "balances",
        &["account_id", "asset", "available", "locked"],
        balances,
        "ON CONFLICT (account_id, asset) DO UPDATE SET available = excluded.available, \
         locked = excluded.locked",
    )?);
    let moved: BTreeSet<&(AccountId, String)> = changes.positions.iter().collect();
    let positions: Vec<Vec<Value>> = moved
        .into_iter()
        .filter_map(|(account, symbol)| {
            let p = custody
                .positions(account)
                .ok()?
                .into_iter()
                .find(|(s, _)| s == symbol)?
                .1;
            Some(vec![
                account.as_str().into(),
                symbol.as_str().into(),
                p.quantity.into(),
                p.average_cost.into(),
                p.realized_pnl.into(),
            ])
        })
        .collect();
    out.extend(Statement::insert_chunked(
        "positions",
        &["account_id", "symbol", "quantity", "average_cost", "realized_pnl"],
        positions,
        "ON CONFLICT (account_id, symbol) DO UPDATE SET quantity = excluded.quantity, \
         average_cost = excluded.average_cost, realized_pnl = excluded.realized_pnl",
    )?);
    // The latest state of each settlement the batch touched.
    let mut latest: BTreeMap<i64, &Settlement> = BTreeMap::new();
    for s in &changes.settlements {
        latest.insert(number(&s.id, "stl-"), s);
    }
    let settlements: Vec<Vec<Value>> = latest
        .into_iter()
        .filter_map(|(n, s)| {
            let s = custody.settlement(&s.id).ok()?;
            Some(vec![
                Value::Int(n),
                s.id.as_str().into(),
                s.instruction.external_id.as_str().into(),
                s.instruction.account.as_str().into(),
                s.instruction.kind.label().into(),
                json(&s.instruction),
                s.status.as_str().into(),
                s.reason.clone().into(),
                json(&s.settled),
                s.created_at.into(),
                s.due_at.into(),
                s.finished_at.into(),
            ])
        })
        .collect();
    out.extend(Statement::insert_chunked(
        "settlements",
        SETTLEMENT_COLUMNS,
        settlements,
        "ON CONFLICT (number) DO UPDATE SET status = excluded.status, reason = excluded.reason, \
         settled = excluded.settled, finished_at = excluded.finished_at",
    )?);
    let totals: Vec<Vec<Value>> = external
        .into_iter()
        .map(|asset| vec![asset.into(), custody.external(asset).into()])
        .collect();
    out.extend(Statement::insert_chunked(
        "external_totals",
        &["asset", "amount"],
        totals,
        "ON CONFLICT (asset) DO UPDATE SET amount = excluded.amount",
    )?);
    let cursors: Vec<Vec<Value>> = changes
        .cursors
        .iter()
        .map(|(exchange, entity)| {
            let last = custody.cursor(exchange, entity);
            vec![
                exchange.as_str().into(),
                entity.as_str().into(),
                Value::Int(i64::try_from(last).unwrap_or(i64::MAX)),
            ]
        })
        .collect();
    out.extend(Statement::insert_chunked(
        "pnl_cursors",
        &["exchange", "entity", "last_trade_id"],
        cursors,
        "ON CONFLICT (exchange, entity) DO UPDATE SET last_trade_id = excluded.last_trade_id",
    )?);
    Ok(out)
}

fn decode(what: &str, e: impl std::fmt::Display) -> StorageError {
    StorageError::Decode(format!("{what}: {e}"))
}

fn account_id(text: String) -> Result<AccountId, StorageError> {
    AccountId::parse(&text).map_err(|e| decode("account id", e))
}

/// Reads the stored books.
///
/// # Errors
/// [`StorageError`] when they cannot be read or do not decode.
pub async fn read(storage: &Storage) -> Result<Stored, StorageError> {
    let mut stored = Stored::default();
    for row in storage
        .query(Statement::new(
            "SELECT id, entity, created_at FROM accounts ORDER BY idx",
        ))
        .await?
    {
        stored.accounts.push(Account {
            id: account_id(row.get("id")?)?,
            entity: row.get("entity")?,
            created_at: row.get::<OffsetDateTime>("created_at")?,
        });
    }
    for row in storage
        .query(Statement::new(
            "SELECT account_id, asset, available, locked FROM balances",
        ))
        .await?
    {
        stored.balances.push((
            account_id(row.get("account_id")?)?,
            row.get("asset")?,
            Balance {
                available: row.get("available")?,
                locked: row.get("locked")?,
            },
        ));
    }
    for row in storage
        .query(Statement::new(
            "SELECT account_id, symbol, quantity, average_cost, realized_pnl FROM positions",
        ))
        .await?
    {
        stored.positions.push((
            account_id(row.get("account_id")?)?,
            row.get("symbol")?,
            Position {
                quantity: row.get("quantity")?,
                average_cost: row.get("average_cost")?,
                realized_pnl: row.get("realized_pnl")?,
            },
        ));
    }
    for row in storage
        .query(Statement::new(format!(
            "SELECT {} FROM settlements ORDER BY number",
            SETTLEMENT_COLUMNS.join(", ")
        )))
        .await?
    {
        let id: String = row.get("id")?;
        let instruction: Instruction = serde_json::from_value(row.get::<serde_json::Value>("instruction")?)
            .map_err(|e| decode(&format!("settlement {id} instruction"), e))?;
        let settled: Vec<(String, Decimal)> =
            serde_json::from_value(row.get::<serde_json::Value>("settled")?)
                .map_err(|e| decode(&format!("settlement {id} settled"), e))?;
        let status_text: String = row.get("status")?;
        let status = Status::parse(&status_text)
            .ok_or_else(|| decode(&format!("settlement {id} status"), &status_text))?;
        stored.settlements.push(Settlement {
            id,
            instruction,
            status,
            reason: row.get("reason")?,
            created_at: row.get("created_at")?,
            due_at: row.get("due_at")?,
            finished_at: row.get("finished_at")?,
            settled,
        });
    }
    for row in storage
        .query(Statement::new("SELECT asset, amount FROM external_totals"))
        .await?
    {
        stored.external.push((row.get("asset")?, row.get("amount")?));
    }
    for row in storage
        .query(Statement::new(
            "SELECT exchange, entity, last_trade_id FROM pnl_cursors",
        ))
        .await?
    {
        let last: i64 = row.get("last_trade_id")?;
        stored.cursors.push((
            row.get("exchange")?,
            row.get("entity")?,
            u64::try_from(last).unwrap_or_default(),
        ));
    }
    Ok(stored)
}

/// Rebuilds the books from storage.
///
/// # Errors
/// [`StorageError`] when they cannot be read, or do not make valid books.
pub async fn load(
    storage: &Storage,
    assets: &[String],
    day: time::Duration,
) -> Result<Custody, StorageError> {
    let stored = read(storage).await?;
    Custody::restore(assets.iter().cloned(), day, stored).map_err(|e| StorageError::Invalid(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{
        position::Side,
        settlement::{Cycle, Kind},
    };

    #[test]
    fn instructions_survive_their_json_form() {
        let kinds = [
            Kind::Trade {
                symbol: "BTC-USD".into(),
                side: Side::Sell,
                quantity: "0.5".parse().unwrap(),
                price: "97000.10".parse().unwrap(),
                fee: "1.5".parse().unwrap(),
            },
            Kind::ExchangePnl {
                exchange: "exchange-OKX".into(),
                entity: "trading-system-LH".into(),
                first_trade_id: 3,
                last_trade_id: 9,
                trades: 4,
                legs: vec![
                    ("BTC".into(), "0.3".parse().unwrap()),
                    ("USD".into(), "-29104.5".parse().unwrap()),
                ],
                fills: vec![crate::domain::settlement::Fill {
                    symbol: "BTC-USD".into(),
                    side: Side::Buy,
                    quantity: "0.3".parse().unwrap(),
                    price: "97000".parse().unwrap(),
                }],
            },
        ];
        for kind in kinds {
            let instruction = Instruction {
                external_id: "x".into(),
                account: AccountId::parse("cust-1").unwrap(),
                kind,
                cycle: Cycle::T2,
            };
            let text = serde_json::to_value(&instruction).unwrap();
            assert_eq!(serde_json::from_value::<Instruction>(text).unwrap(), instruction);
        }
    }
}
