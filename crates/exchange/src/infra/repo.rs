//! Storage of accounts, balances, orders and trades, written once for PostgreSQL and SQLite through
//! the runtime's storage layer.
//!
//! The writer is the second half of the engine's group commit: it merges whatever commits queued
//! while the previous write ran into one transaction (orders and balances upserted once each, trades
//! and outbox events appended), then answers every request in them and publishes their market
//! updates. What is stored is therefore always a prefix of what the engine did, and everything
//! anyone was told about is stored.
//!
//! Recovery reads the same tables back into a [`Venue`]: accounts in index order, balances, fee and
//! deposit totals, open orders in queue-priority order (so every price level keeps its FIFO), the
//! client order ids in use and the last order and trade ids.

use std::{collections::HashMap, sync::Arc, time::Instant};

use rust_decimal::Decimal;
use time::OffsetDateTime;
use tokio::sync::{broadcast, mpsc};
use tracing::{error, info};
use tse_runtime::{
    events::Event,
    health::{Check, Health},
    storage::{Migration, PreparedWrite, Statement, Storage, StorageError, Value, WriteBatch},
};

use crate::{
    app::{
        engine::{Ack, Commit, MarketUpdate},
        views::{AccountView, BalanceView, OrderView, TradeView, average, rfc3339},
    },
    domain::{
        instrument::Instrument,
        ledger::Balance,
        order::{
            Order, OrderStatus, OrderType, parse_side, parse_stp, parse_tif, side_name, stp_name, tif_name,
        },
        venue::{Account, Venue},
    },
};

/// The exchange schema.
pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "accounts, balances, orders and trades",
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
          CREATE TABLE asset_totals (
            asset TEXT PRIMARY KEY,
            fees {decimal} NOT NULL,
            net_deposits {decimal} NOT NULL);
          CREATE TABLE orders (
            id {key},
            client_order_id TEXT,
            account_id TEXT NOT NULL,
            symbol TEXT NOT NULL,
            side TEXT NOT NULL,
            order_type TEXT NOT NULL,
            time_in_force TEXT NOT NULL,
            post_only BOOLEAN NOT NULL,
            self_trade TEXT NOT NULL,
            price {decimal},
            quantity {decimal} NOT NULL,
            filled {decimal} NOT NULL,
            filled_notional {decimal} NOT NULL,
            fees {decimal} NOT NULL,
            locked {decimal} NOT NULL,
            status TEXT NOT NULL,
            reason TEXT,
            priority BIGINT NOT NULL,
            created_at {timestamp} NOT NULL,
            updated_at {timestamp} NOT NULL);
          CREATE INDEX orders_by_account ON orders (account_id, id);
          CREATE INDEX orders_open ON orders (priority) WHERE status IN ('NEW', 'PARTIALLY_FILLED');
          CREATE TABLE trades (
            id {key},
            symbol TEXT NOT NULL,
            price {decimal} NOT NULL,
            quantity {decimal} NOT NULL,
            buy_order_id BIGINT NOT NULL,
            sell_order_id BIGINT NOT NULL,
            buyer_account_id TEXT NOT NULL,
            seller_account_id TEXT NOT NULL,
            taker_side TEXT NOT NULL,
            buyer_fee {decimal} NOT NULL,
            seller_fee {decimal} NOT NULL,
            executed_at {timestamp} NOT NULL);
          CREATE INDEX trades_by_symbol ON trades (symbol, id);
          CREATE INDEX trades_by_buyer ON trades (buyer_account_id, id);
          CREATE INDEX trades_by_seller ON trades (seller_account_id, id);",
}];

/// Ids per `DELETE ... WHERE id IN (...)`.
const ROWS_PER_DELETE: usize = 1_000;
/// Rows merged into one transaction at most: big enough to amortise a commit, small enough that
/// other writers of the instance (the fault board) never wait long behind it.
const ROWS_PER_BATCH: usize = 20_000;

const ORDER_COLUMNS: &[&str] = &[
    "id",
    "client_order_id",
    "account_id",
    "symbol",
    "side",
    "order_type",
    "time_in_force",
    "post_only",
    "self_trade",
    "price",
    "quantity",
    "filled",
    "filled_notional",
    "fees",
    "locked",
    "status",
    "reason",
    "priority",
    "created_at",
    "updated_at",
];

const TRADE_COLUMNS: &[&str] = &[
    "id",
    "symbol",
    "price",
    "quantity",
    "buy_order_id",
    "sell_order_id",
    "buyer_account_id",
    "seller_account_id",
    "taker_side",
    "buyer_fee",
    "seller_fee",
    "executed_at",
];

/// What the writer needs.
pub struct WriterParts {
    /// The instance's storage.
    pub storage: Storage,
    /// Commits from the engine.
    pub commits: mpsc::Receiver<Commit>,
    /// Where stored market updates go.
    pub market: broadcast::Sender<Arc<Vec<MarketUpdate>>>,
    /// Where a refused commit is reported.
    pub health: Health,
}

/// The health check a refused commit turns down: memory is then ahead of storage.
pub const LEDGER_CHECK: &str = "ledger";

/// Several commits merged into one transaction.
#[derive(Default)]
struct Merged {
    accounts: Vec<AccountView>,
    orders: HashMap<u64, OrderView>,
    forgotten: Vec<u64>,
    trades: Vec<TradeView>,
    balances: HashMap<(String, String), BalanceView>,
    totals: HashMap<String, (Decimal, Decimal)>,
    events: Vec<Event>,
    acks: Vec<Ack>,
    market: Vec<MarketUpdate>,
    rows: usize,
}

impl Merged {
    fn add(&mut self, commit: Commit) {
        self.rows += commit.accounts.len()
            + commit.orders.len()
            + commit.trades.len()
            + commit.balances.len()
            + commit.events.len();
        self.accounts.extend(commit.accounts);
        for order in commit.orders {
            self.orders.insert(order.id.parse().unwrap_or_default(), order);
        }
        for id in commit.forgotten {
            self.orders.remove(&id);
            self.forgotten.push(id);
        }
        self.trades.extend(commit.trades);
        for (account, balance) in commit.balances {
            self.balances.insert((account, balance.asset.clone()), balance);
        }
        for (asset, fees, net) in commit.totals {
            self.totals.insert(asset, (fees, net));
        }
        self.events.extend(commit.events);
        self.acks.extend(commit.acks);
        self.market.extend(commit.market);
    }

    /// The statements storing what the commits changed; the acks and market updates stay behind.
    fn statements(&mut self) -> Result<Vec<Statement>, StorageError> {
        let mut out = Vec::new();
        let accounts = std::mem::take(&mut self.accounts)
            .into_iter()
            .map(|a| {
                let idx =
                    a.id.trim_start_matches("acct-")
                        .parse::<i64>()
                        .unwrap_or_default()
                        - 1;
                vec![
                    Value::Int(idx),
                    parse_time(&a.created_at).into(),
                    a.id.into(),
                    a.entity.into(),
                ]
            })
            .collect();
        out.extend(Statement::insert_chunked(
            "accounts",
            &["idx", "created_at", "id", "entity"],
            accounts,
            "",
        )?);
        let mut orders: Vec<OrderView> = std::mem::take(&mut self.orders).into_values().collect();
        orders.sort_by_key(|o| o.priority);
        out.extend(Statement::insert_chunked(
            "orders",
            ORDER_COLUMNS,
            orders.into_iter().map(order_row).collect(),
            "ON CONFLICT (id) DO UPDATE SET price = excluded.price, quantity = excluded.quantity, \
             filled = excluded.filled, filled_notional = excluded.filled_notional, fees = excluded.fees, \
             locked = excluded.locked, status = excluded.status, reason = excluded.reason, \
             priority = excluded.priority, updated_at = excluded.updated_at",
        )?);
        for chunk in self.forgotten.chunks(ROWS_PER_DELETE) {
            let list = chunk.iter().map(u64::to_string).collect::<Vec<_>>().join(", ");
            out.push(Statement::new(format!("DELETE FROM orders WHERE id IN ({list})")));
        }
        out.extend(Statement::insert_chunked(
            "trades",
            TRADE_COLUMNS,
            std::mem::take(&mut self.trades)
                .into_iter()
                .map(trade_row)
                .collect(),
            "",
        )?);
        let balances = std::mem::take(&mut self.balances)
            .into_iter()
            .map(|((account, asset), b)| {
                vec![account.into(), asset.into(), b.available.into(), b.locked.into()]
            })
            .collect();
        out.extend(Statement::insert_chunked(
            "balances",
            &["account_id", "asset", "available", "locked"],
            balances,
            "ON CONFLICT (account_id, asset) DO UPDATE SET available = excluded.available, \
             locked = excluded.locked",
        )?);
        let totals = std::mem::take(&mut self.totals)
            .into_iter()
            .map(|(asset, (fees, net))| vec![asset.into(), fees.into(), net.into()])
            .collect();
        out.extend(Statement::insert_chunked(
            "asset_totals",
            &["asset", "fees", "net_deposits"],
            totals,
            "ON CONFLICT (asset) DO UPDATE SET fees = excluded.fees, net_deposits = excluded.net_deposits",
        )?);
        out.extend(Event::insert_chunked(std::mem::take(&mut self.events))?);
        Ok(out)
    }
}

fn parse_time(text: &str) -> OffsetDateTime {
    OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn id_value(id: &str) -> Value {
    Value::Int(id.parse::<i64>().unwrap_or_default())
}

fn order_row(o: OrderView) -> Vec<Value> {
    vec![
        id_value(&o.id),
        o.client_order_id.into(),
        o.account_id.into(),
        o.symbol.into(),
        o.side.into(),
        o.order_type.into(),
        o.time_in_force.into(),
        o.post_only.into(),
        o.self_trade_prevention.into(),
        o.price.into(),
        o.quantity.into(),
        o.filled_quantity.into(),
        o.filled_notional.into(),
        o.fees.into(),
        o.locked.into(),
        o.status.into(),
        o.reason.into(),
        Value::Int(i64::try_from(o.priority).unwrap_or(i64::MAX)),
        o.created.into(),
        o.updated.into(),
    ]
}

fn trade_row(t: TradeView) -> Vec<Value> {
    vec![
        id_value(&t.id),
        t.symbol.into(),
        t.price.into(),
        t.quantity.into(),
        id_value(&t.buy_order_id),
        id_value(&t.sell_order_id),
        t.buyer_account_id.into(),
        t.seller_account_id.into(),
        t.taker_side.into(),
        t.buyer_fee.into(),
        t.seller_fee.into(),
        t.executed.into(),
    ]
}

/// A merged batch ready to store, with whom to answer once it is.
struct Prepared {
    write: Result<PreparedWrite, StorageError>,
    rows: usize,
    acks: Vec<Ack>,
    market: Vec<MarketUpdate>,
}

/// Stores commits until the engine hangs up, merging whatever queued while the previous write ran;
/// answers each commit's requests once it is stored, then publishes its market updates.
///
/// Two stages run side by side: one merges commits and turns them into statements while the other
/// stores the batch before, so the database never waits for the next batch to be prepared.
pub async fn write_commits(parts: WriterParts) {
    let WriterParts {
        storage,
        mut commits,
        market,
        health,
    } = parts;
    // One batch prepared ahead: more would only hold memory the database cannot take yet.
    let (prepared_tx, mut prepared) = mpsc::channel::<Prepared>(1);
    let preparing = storage.clone();
    let prepare = async move {
        while let Some(first) = commits.recv().await {
            let mut merged = Merged::default();
            merged.add(first);
            while merged.rows < ROWS_PER_BATCH {
                match commits.try_recv() {
                    Ok(more) => merged.add(more),
                    Err(_) => break,
                }
            }
            let write = merged
                .statements()
                .map(|statements| preparing.prepare(WriteBatch::from(statements)));
            let batch = Prepared {
                write,
                rows: merged.rows,
                acks: merged.acks,
                market: merged.market,
            };
            if prepared_tx.send(batch).await.is_err() {
                return;
            }
        }
    };
    let store = async move {
        while let Some(batch) = prepared.recv().await {
            let started = Instant::now();
            let outcome = match batch.write {
                Ok(write) => storage.write_prepared(write).await,
                Err(e) => Err(e),
            };
            let stored = match outcome {
                Ok(_) => Ok(()),
                Err(e) => {
                    error!(error = %e, rows = batch.rows, "an exchange commit could not be stored: memory is now ahead of storage");
                    health.set_check(
                        LEDGER_CHECK,
                        Check::down(true, format!("a commit could not be stored ({e}); restart the instance to recover the stored state")),
                    );
                    Err(Arc::new(e))
                }
            };
            tracing::trace!(rows = batch.rows, elapsed = ?started.elapsed(), "commit stored");
            for ack in batch.acks {
                ack(stored.clone());
            }
            if stored.is_ok() && !batch.market.is_empty() {
                let _ = market.send(Arc::new(batch.market));
            }
        }
    };
    tokio::join!(prepare, store);
}

/// Loads the stored state into `venue`. Returns how many accounts and open orders were restored.
///
/// # Errors
/// [`StorageError`] when the state cannot be read, or does not fit the listed instruments (a
/// symbol was removed from the listing while orders rest on it).
pub async fn load(storage: &Storage, venue: &mut Venue) -> Result<(usize, usize), StorageError> {
    let invalid = |e: crate::domain::venue::VenueError| StorageError::Invalid(e.to_string());
    let accounts = storage
        .query(Statement::new(
            "SELECT idx, id, entity, created_at FROM accounts ORDER BY idx",
        ))
        .await?;
    for (n, row) in accounts.iter().enumerate() {
        let idx: i64 = row.get("idx")?;
        if usize::try_from(idx).ok() != Some(n) {
            return Err(StorageError::Invalid(format!(
                "accounts are not numbered without gaps: expected index {n}, found {idx}"
            )));
        }
        venue.restore_account(Account {
            id: row.get("id")?,
            entity: row.get("entity")?,
            created_at: row.get("created_at")?,
        });
    }
    for row in storage
        .query(Statement::new(
            "SELECT account_id, asset, available, locked FROM balances",
        ))
        .await?
    {
        let account: String = row.get("account_id")?;
        let asset: String = row.get("asset")?;
        let balance = Balance {
            available: row.get("available")?,
            locked: row.get("locked")?,
        };
        venue
            .restore_balance(&account, &asset, balance)
            .map_err(invalid)?;
    }
    for row in storage
        .query(Statement::new(
            "SELECT asset, fees, net_deposits FROM asset_totals",
        ))
        .await?
    {
        let asset: String = row.get("asset")?;
        venue
            .restore_totals(&asset, row.get("fees")?, row.get("net_deposits")?)
            .map_err(invalid)?;
    }
    let open = storage
        .query(Statement::new(format!(
            "SELECT {} FROM orders WHERE status IN ('NEW', 'PARTIALLY_FILLED') ORDER BY priority",
            ORDER_COLUMNS.join(", ")
        )))
        .await?;
    for row in &open {
        let order = order_of(venue, row)?;
        venue.restore_order(order).map_err(invalid)?;
    }
    for row in storage
        .query(Statement::new(
            "SELECT id, account_id, client_order_id FROM orders WHERE client_order_id IS NOT NULL",
        ))
        .await?
    {
        let account = venue
            .account(&row.get::<String>("account_id")?)
            .map_err(invalid)?;
        let id: i64 = row.get("id")?;
        venue.restore_client_id(account, row.get("client_order_id")?, id.unsigned_abs());
    }
    let last = |table: &'static str| async move {
        storage
            .query_one(Statement::new(format!("SELECT MAX(id) AS last FROM {table}")))
            .await?
            .map(|r| r.get::<Option<i64>>("last"))
            .transpose()
            .map(|v| v.flatten().unwrap_or_default().unsigned_abs())
    };
    venue.restore_last_order(last("orders").await?);
    venue.restore_last_trade(last("trades").await?);
    info!(
        accounts = accounts.len(),
        open_orders = open.len(),
        "exchange state restored"
    );
    Ok((accounts.len(), open.len()))
}

fn decode(what: &str, text: &str) -> StorageError {
    StorageError::Decode(format!("{what} '{text}'"))
}

/// A stored order as the venue holds it.
fn order_of(venue: &Venue, row: &tse_runtime::storage::Row) -> Result<Order, StorageError> {
    let invalid = |e: crate::domain::venue::VenueError| StorageError::Invalid(e.to_string());
    let text = |name: &str| row.get::<String>(name);
    let side = text("side")?;
    let order_type = text("order_type")?;
    let tif = text("time_in_force")?;
    let stp = text("self_trade")?;
    let status = text("status")?;
    let id: i64 = row.get("id")?;
    let priority: i64 = row.get("priority")?;
    Ok(Order {
        id: id.unsigned_abs(),
        client_order_id: row.get("client_order_id")?,
        account: venue.account(&text("account_id")?).map_err(invalid)?,
        instrument: venue.instrument(&text("symbol")?).map_err(invalid)?,
        side: parse_side(&side).ok_or_else(|| decode("side", &side))?,
        order_type: OrderType::parse(&order_type).ok_or_else(|| decode("order type", &order_type))?,
        time_in_force: parse_tif(&tif).ok_or_else(|| decode("time in force", &tif))?,
        post_only: row.get("post_only")?,
        self_trade: parse_stp(&stp).ok_or_else(|| decode("self-trade prevention", &stp))?,
        price: row.get("price")?,
        quantity: row.get("quantity")?,
        filled: row.get("filled")?,
        filled_notional: row.get("filled_notional")?,
        fees: row.get("fees")?,
        status: OrderStatus::parse(&status).ok_or_else(|| decode("status", &status))?,
        reason: row.get("reason")?,
        created_at: row.get("created_at")?,
        updated_at: row.get("updated_at")?,
        locked: row.get("locked")?,
        priority: priority.unsigned_abs(),
    })
}

/// A stored order as the API shows it.
fn order_view(
    row: &tse_runtime::storage::Row,
    instruments: &[Instrument],
) -> Result<OrderView, StorageError> {
    let text = |name: &str| row.get::<String>(name);
    let (side, order_type, tif, stp, status) = (
        text("side")?,
        text("order_type")?,
        text("time_in_force")?,
        text("self_trade")?,
        text("status")?,
    );
    let id: i64 = row.get("id")?;
    let priority: i64 = row.get("priority")?;
    let filled: Decimal = row.get("filled")?;
    let filled_notional: Decimal = row.get("filled_notional")?;
    let created: OffsetDateTime = row.get("created_at")?;
    let updated: OffsetDateTime = row.get("updated_at")?;
    let symbol = text("symbol")?;
    let tick = instruments
        .iter()
        .find(|i| i.symbol == symbol)
        .map_or(Decimal::new(1, 8), |i| i.tick_size);
    let price: Option<Decimal> = row.get("price")?;
    let quantity: Decimal = row.get("quantity")?;
    let fees: Decimal = row.get("fees")?;
    Ok(OrderView {
        id: id.to_string(),
        client_order_id: row.get("client_order_id")?,
        account_id: text("account_id")?,
        symbol,
        side: side_name(parse_side(&side).ok_or_else(|| decode("side", &side))?),
        order_type: OrderType::parse(&order_type)
            .ok_or_else(|| decode("order type", &order_type))?
            .as_str(),
        time_in_force: tif_name(parse_tif(&tif).ok_or_else(|| decode("time in force", &tif))?),
        post_only: row.get("post_only")?,
        self_trade_prevention: stp_name(
            parse_stp(&stp).ok_or_else(|| decode("self-trade prevention", &stp))?,
        ),
        price: price.map(|p| p.normalize()),
        quantity: quantity.normalize(),
        filled_quantity: filled.normalize(),
        average_price: (!filled.is_zero()).then(|| average(filled_notional / filled, tick)),
        fees: fees.normalize(),
        status: OrderStatus::parse(&status)
            .ok_or_else(|| decode("status", &status))?
            .as_str(),
        reason: row.get("reason")?,
        created_at: rfc3339(created),
        updated_at: rfc3339(updated),
        locked: row.get("locked")?,
        filled_notional,
        priority: priority.unsigned_abs(),
        created,
        updated,
    })
}

fn trade_view(row: &tse_runtime::storage::Row) -> Result<TradeView, StorageError> {
    let taker: String = row.get("taker_side")?;
    let executed: OffsetDateTime = row.get("executed_at")?;
    let normal = |name: &str| row.get::<Decimal>(name).map(|d| d.normalize());
    Ok(TradeView {
        id: row.get::<i64>("id")?.to_string(),
        symbol: row.get("symbol")?,
        price: normal("price")?,
        quantity: normal("quantity")?,
        buy_order_id: row.get::<i64>("buy_order_id")?.to_string(),
        sell_order_id: row.get::<i64>("sell_order_id")?.to_string(),
        buyer_account_id: row.get("buyer_account_id")?,
        seller_account_id: row.get("seller_account_id")?,
        taker_side: side_name(parse_side(&taker).ok_or_else(|| decode("taker side", &taker))?),
        buyer_fee: normal("buyer_fee")?,
        seller_fee: normal("seller_fee")?,
        executed_at: rfc3339(executed),
        executed,
    })
}

/// Which orders to list.
#[derive(Clone, Debug, Default)]
pub struct OrderFilter {
    /// Owner.
    pub account_id: Option<String>,
    /// Symbol.
    pub symbol: Option<String>,
    /// Statuses (`NEW` and `PARTIALLY_FILLED` for "open").
    pub statuses: Vec<OrderStatus>,
    /// Only orders with a smaller id (the cursor).
    pub before: Option<u64>,
    /// Page size.
    pub limit: u32,
}

/// Which trades to list.
#[derive(Clone, Debug, Default)]
pub struct TradeFilter {
    /// Either side's account.
    pub account_id: Option<String>,
    /// Either side's account belongs to this entity.
    pub entity: Option<String>,
    /// Symbol.
    pub symbol: Option<String>,
    /// Only trades with a smaller id (the cursor), newest first.
    pub before: Option<u64>,
    /// Only trades with a greater id, oldest first.
    pub after: Option<u64>,
    /// Page size.
    pub limit: u32,
}

/// Builds `WHERE ...` from conditions on `$n` parameters.
struct Filter {
    conditions: Vec<String>,
    params: Vec<Value>,
}

impl Filter {
    fn new() -> Self {
        Self {
            conditions: Vec::new(),
            params: Vec::new(),
        }
    }

    /// Adds a condition; `?` in it stands for the new parameter (repeated for each `?`).
    fn push(&mut self, condition: &str, value: Value) {
        self.params.push(value);
        let n = format!("${}", self.params.len());
        self.conditions.push(condition.replace('?', &n));
    }

    fn statement(self, select: &str, order: &str, limit: u32) -> Statement {
        let mut sql = select.to_owned();
        if !self.conditions.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&self.conditions.join(" AND "));
        }
        sql.push_str(&format!(" ORDER BY {order} LIMIT {limit}"));
        self.params.into_iter().fold(Statement::new(sql), Statement::bind)
    }
}

/// Lists stored orders, newest first.
///
/// # Errors
/// [`StorageError`], e.g. unavailable while PostgreSQL is down.
pub async fn list_orders(
    storage: &Storage,
    instruments: &[Instrument],
    filter: &OrderFilter,
) -> Result<Vec<OrderView>, StorageError> {
    let mut f = Filter::new();
    if let Some(account) = &filter.account_id {
        f.push("account_id = ?", account.as_str().into());
    }
    if let Some(symbol) = &filter.symbol {
        f.push("symbol = ?", symbol.as_str().into());
    }
    if let Some(before) = filter.before {
        f.push("id < ?", Value::Int(i64::try_from(before).unwrap_or(i64::MAX)));
    }
    if !filter.statuses.is_empty() {
        let list = filter
            .statuses
            .iter()
            .map(|s| format!("'{}'", s.as_str()))
            .collect::<Vec<_>>()
            .join(", ");
        f.conditions.push(format!("status IN ({list})"));
    }
    let statement = f.statement(
        &format!("SELECT {} FROM orders", ORDER_COLUMNS.join(", ")),
        "id DESC",
        filter.limit,
    );
    storage
        .query(statement)
        .await?
        .iter()
        .map(|row| order_view(row, instruments))
        .collect()
}

/// Reads one stored order.
///
/// # Errors
/// [`StorageError`].
pub async fn get_order(
    storage: &Storage,
    instruments: &[Instrument],
    id: u64,
) -> Result<Option<OrderView>, StorageError> {
    let statement = Statement::new(format!(
        "SELECT {} FROM orders WHERE id = $1",
        ORDER_COLUMNS.join(", ")
    ))
    .bind(Value::Int(i64::try_from(id).unwrap_or(i64::MAX)));
    storage
        .query_one(statement)
        .await?
        .as_ref()
        .map(|row| order_view(row, instruments))
        .transpose()
}

/// Lists stored trades: newest first, or oldest first with [`TradeFilter::after`].
///
/// # Errors
/// [`StorageError`].
pub async fn list_trades(storage: &Storage, filter: &TradeFilter) -> Result<Vec<TradeView>, StorageError> {
    let mut f = Filter::new();
    if let Some(account) = &filter.account_id {
        f.push(
            "(buyer_account_id = ? OR seller_account_id = ?)",
            account.as_str().into(),
        );
    }
    if let Some(entity) = &filter.entity {
        f.push(
            "(buyer_account_id IN (SELECT id FROM accounts WHERE entity = ?) \
             OR seller_account_id IN (SELECT id FROM accounts WHERE entity = ?))",
            entity.as_str().into(),
        );
    }
    if let Some(symbol) = &filter.symbol {
        f.push("symbol = ?", symbol.as_str().into());
    }
    if let Some(before) = filter.before {
        f.push("id < ?", Value::Int(i64::try_from(before).unwrap_or(i64::MAX)));
    }
    if let Some(after) = filter.after {
        f.push("id > ?", Value::Int(i64::try_from(after).unwrap_or(i64::MAX)));
    }
    let statement = f.statement(
        &format!("SELECT {} FROM trades", TRADE_COLUMNS.join(", ")),
        if filter.after.is_some() {
            "id ASC"
        } else {
            "id DESC"
        },
        filter.limit,
    );
    storage.query(statement).await?.iter().map(trade_view).collect()
}
