//! Storage of the desk, written once for PostgreSQL and SQLite through the runtime's storage layer:
//! its strategies (status, order numbers, counters, saved state), positions, orders, fills (one row
//! per exchange and trade id: a fill is never counted twice), its accounts at the exchanges (and
//! whether they were funded), and per exchange the trade id up to which every fill was counted.
//!
//! [`statements`] turns a [`Changes`] into the statements of one transaction, stored with the
//! outbox events that describe it; [`load`] reads it all back after a restart.

use std::collections::BTreeMap;

use time::OffsetDateTime;
use tse_market::{ClientOrderId, Symbol};
use tse_runtime::storage::{Migration, Statement, Storage, StorageError, Value};

use crate::domain::{
    desk::{Changes, Desk, Status, Stored},
    order::{Fill, TrackedOrder},
    position::Position,
};

/// The trading system schema.
pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "strategies, positions, orders, fills, accounts, sync marks",
    sql: "CREATE TABLE strategies (
            name TEXT PRIMARY KEY,
            status TEXT NOT NULL,
            next_order BIGINT NOT NULL,
            submitted {json} NOT NULL,
            rejected {json} NOT NULL,
            state {json},
            updated_at {timestamp} NOT NULL);
          CREATE TABLE positions (
            strategy TEXT NOT NULL,
            symbol TEXT NOT NULL,
            position {json} NOT NULL,
            PRIMARY KEY (strategy, symbol));
          CREATE TABLE orders (
            client_order_id TEXT PRIMARY KEY,
            strategy TEXT NOT NULL,
            exchange TEXT NOT NULL,
            order_id BIGINT,
            status TEXT NOT NULL,
            open BIGINT NOT NULL,
            body {json} NOT NULL);
          CREATE INDEX orders_open ON orders (open);
          CREATE TABLE fills (
            exchange TEXT NOT NULL,
            trade_id BIGINT NOT NULL,
            strategy TEXT NOT NULL,
            body {json} NOT NULL,
            PRIMARY KEY (exchange, trade_id));
          CREATE TABLE accounts (
            exchange TEXT PRIMARY KEY,
            account_id TEXT NOT NULL,
            funded BIGINT NOT NULL);
          CREATE TABLE sync_marks (
            exchange TEXT PRIMARY KEY,
            trade_id BIGINT NOT NULL);",
}];

fn json<T: serde::Serialize>(value: &T) -> Value {
    Value::Json(tse_runtime::storage::JsonText::of(value))
}

fn int(value: u64) -> Value {
    Value::Int(i64::try_from(value).unwrap_or(i64::MAX))
}

/// The statements that store what `changes` says changed, read from `desk` as it is now.
///
/// # Errors
/// [`StorageError::Invalid`] when a statement cannot be built.
pub fn statements(
    desk: &Desk,
    changes: &Changes,
    now: OffsetDateTime,
) -> Result<Vec<Statement>, StorageError> {
    let mut out = Vec::new();
    let mut strategies = Vec::new();
    let mut positions = Vec::new();
    for name in &changes.strategies {
        let Some(slot) = desk.slot(name) else { continue };
        strategies.push(vec![
            name.as_str().into(),
            slot.status.as_str().into(),
            int(slot.next_order),
            json(&slot.submitted),
            json(&slot.rejected),
            json(&slot.saved_state()),
            now.into(),
        ]);
        for (symbol, p) in &slot.positions {
            positions.push(vec![name.as_str().into(), symbol.as_str().into(), json(p)]);
        }
    }
    out.extend(Statement::insert_chunked(
        "strategies",
        &[
            "name",
            "status",
            "next_order",
            "submitted",
            "rejected",
            "state",
            "updated_at",
        ],
        strategies,
        "ON CONFLICT (name) DO UPDATE SET status = excluded.status, next_order = excluded.next_order, \
         submitted = excluded.submitted, rejected = excluded.rejected, state = excluded.state, \
         updated_at = excluded.updated_at",
    )?);
    out.extend(Statement::insert_chunked(
        "positions",
        &["strategy", "symbol", "position"],
        positions,
        "ON CONFLICT (strategy, symbol) DO UPDATE SET position = excluded.position",
    )?);
    // The latest state of each order the batch touched.
    let mut latest: BTreeMap<&ClientOrderId, &TrackedOrder> = BTreeMap::new();
    for order in &changes.orders {
        latest.insert(&order.client_order_id, order);
    }
    let orders: Vec<Vec<Value>> = latest
        .into_values()
        .map(|o| {
            vec![
                o.client_order_id.as_str().into(),
                o.strategy.as_str().into(),
                o.spec.exchange.as_str().into(),
                o.order_id.map(|id| i64::try_from(id).unwrap_or(i64::MAX)).into(),
                o.status.as_str().into(),
                Value::Int(i64::from(o.status.is_open())),
                json(o),
            ]
        })
        .collect();
    out.extend(Statement::insert_chunked(
        "orders",
        &[
            "client_order_id",
            "strategy",
            "exchange",
            "order_id",
            "status",
            "open",
            "body",
        ],
        orders,
        "ON CONFLICT (client_order_id) DO UPDATE SET order_id = excluded.order_id, \
         status = excluded.status, open = excluded.open, body = excluded.body",
    )?);
    let fills: Vec<Vec<Value>> = changes
        .fills
        .iter()
        .map(|f| {
            let strategy = crate::domain::desk::strategy_of(f.client_order_id.as_str()).unwrap_or_default();
            vec![
                f.exchange.as_str().into(),
                int(f.trade_id),
                strategy.into(),
                json(f),
            ]
        })
        .collect();
    out.extend(Statement::insert_chunked(
        "fills",
        &["exchange", "trade_id", "strategy", "body"],
        fills,
        "ON CONFLICT (exchange, trade_id) DO NOTHING",
    )?);
    Ok(out)
}

/// The statement storing the mark up to which every trade at `exchange` was counted.
pub fn sync_mark(exchange: &str, trade_id: u64) -> Statement {
    Statement::new(
        "INSERT INTO sync_marks (exchange, trade_id) VALUES ($1, $2) \
         ON CONFLICT (exchange) DO UPDATE SET trade_id = excluded.trade_id",
    )
    .bind(exchange)
    .bind(int(trade_id))
}

/// The desk's account at one exchange, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredAccount {
    /// The account id at the exchange.
    pub account_id: String,
    /// Whether the settings' funding was deposited.
    pub funded: bool,
}

/// The statement storing the desk's account at `exchange`.
pub fn account(exchange: &str, account: &StoredAccount) -> Statement {
    Statement::new(
        "INSERT INTO accounts (exchange, account_id, funded) VALUES ($1, $2, $3) \
         ON CONFLICT (exchange) DO UPDATE SET account_id = excluded.account_id, funded = excluded.funded",
    )
    .bind(exchange)
    .bind(account.account_id.as_str())
    .bind(Value::Int(i64::from(account.funded)))
}

/// Reads the desk's account at `exchange`, if it has one.
///
/// # Errors
/// [`StorageError`] when it cannot be read.
pub async fn read_account(storage: &Storage, exchange: &str) -> Result<Option<StoredAccount>, StorageError> {
    let row = storage
        .query_one(
            Statement::new("SELECT account_id, funded FROM accounts WHERE exchange = $1").bind(exchange),
        )
        .await?;
    row.map(|r| {
        Ok(StoredAccount {
            account_id: r.get("account_id")?,
            funded: r.get::<i64>("funded")? != 0,
        })
    })
    .transpose()
}

fn decode(what: &str, e: impl std::fmt::Display) -> StorageError {
    StorageError::Decode(format!("{what}: {e}"))
}

fn count(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// Reads back into `desk` what was stored: strategies, positions, open orders and sync marks
/// (strategies no longer configured are left out; their rows stay).
///
/// # Errors
/// [`StorageError`] when it cannot be read or does not decode.
pub async fn load(storage: &Storage, desk: &mut Desk) -> Result<(), StorageError> {
    let mut stored: BTreeMap<String, Stored> = BTreeMap::new();
    for row in storage
        .query(Statement::new(
            "SELECT name, status, next_order, submitted, rejected, state FROM strategies",
        ))
        .await?
    {
        let name: String = row.get("name")?;
        let status: String = row.get("status")?;
        let entry = stored.entry(name).or_default();
        entry.status = Status::parse(&status);
        entry.next_order = count(row.get("next_order")?);
        entry.submitted =
            serde_json::from_value(row.get("submitted")?).map_err(|e| decode("submitted", e))?;
        entry.rejected = serde_json::from_value(row.get("rejected")?).map_err(|e| decode("rejected", e))?;
        entry.state = row.get::<Option<serde_json::Value>>("state")?;
    }
    for row in storage
        .query(Statement::new("SELECT strategy, symbol, position FROM positions"))
        .await?
    {
        let strategy: String = row.get("strategy")?;
        let symbol: String = row.get("symbol")?;
        let symbol = Symbol::parse(&symbol).map_err(|e| decode("position symbol", e))?;
        let position: Position =
            serde_json::from_value(row.get("position")?).map_err(|e| decode("position", e))?;
        stored
            .entry(strategy)
            .or_default()
            .positions
            .insert(symbol, position);
    }
    for (name, s) in stored {
        desk.restore(&name, s);
    }
    for row in storage
        .query(Statement::new(
            "SELECT body FROM orders WHERE open = 1 ORDER BY client_order_id",
        ))
        .await?
    {
        let order: TrackedOrder = serde_json::from_value(row.get("body")?).map_err(|e| decode("order", e))?;
        desk.restore_order(order);
    }
    for row in storage
        .query(Statement::new("SELECT exchange, trade_id FROM sync_marks"))
        .await?
    {
        let exchange: String = row.get("exchange")?;
        desk.mark_synced(&exchange, count(row.get("trade_id")?));
    }
    Ok(())
}

/// Reads the fills stored for `exchange` above its sync mark (counted, but not yet covered by a
/// scan), so a restart does not count them again.
///
/// # Errors
/// [`StorageError`] when they cannot be read.
pub async fn fills_above(storage: &Storage, exchange: &str, mark: u64) -> Result<Vec<Fill>, StorageError> {
    storage
        .query(
            Statement::new("SELECT body FROM fills WHERE exchange = $1 AND trade_id > $2 ORDER BY trade_id")
                .bind(exchange)
                .bind(int(mark)),
        )
        .await?
        .into_iter()
        .map(|row| serde_json::from_value(row.get("body")?).map_err(|e| decode("fill", e)))
        .collect()
}
