//! Storage of ticks, candles and the feed's state, written once for PostgreSQL and SQLite through
//! the runtime's storage layer. The writer turns rounds into batches: one transaction holds the
//! ticks, the candles they changed, the events (in the outbox) and the engine's state, so what is
//! stored is always a consistent prefix of what was published.
//!
//! A candle no longer than the tick interval holds a single tick: it is that tick, so it is not
//! stored twice but rebuilt from the stored ticks on restart. (With one-minute ticks, the 1s, 5s,
//! 15s and 1m candles would otherwise be four more rows per tick of every symbol.)

use std::{collections::BTreeMap, time::Duration};

use tokio::sync::mpsc;
use tracing::{error, warn};
use tse_runtime::{
    events::Event,
    storage::{JsonText, Migration, Statement, Storage, StorageError, Value, WriteBatch},
};

use crate::{
    app::feed::{Persist, Snapshot, Start},
    domain::{
        candles::{Candle, CandleSeries, Interval, KEPT},
        symbol::{Symbol, SymbolSpec},
    },
};

/// The market data schema.
pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "ticks, candles and feed state",
    sql: "CREATE TABLE ticks (
            id {id},
            symbol TEXT NOT NULL,
            sequence BIGINT NOT NULL,
            sim_time {timestamp} NOT NULL,
            price {decimal} NOT NULL);
          CREATE INDEX ticks_by_symbol_and_time ON ticks (symbol, sim_time);
          CREATE TABLE candles (
            symbol TEXT NOT NULL,
            candle_interval TEXT NOT NULL,
            open_time {timestamp} NOT NULL,
            open {decimal} NOT NULL,
            high {decimal} NOT NULL,
            low {decimal} NOT NULL,
            close {decimal} NOT NULL,
            ticks BIGINT NOT NULL,
            PRIMARY KEY (symbol, candle_interval, open_time));
          CREATE TABLE feed_state (
            id BIGINT PRIMARY KEY,
            snapshot {json} NOT NULL,
            updated_at {timestamp} NOT NULL);",
}];

/// Rows merged into one transaction at most: big enough to amortise a commit, small enough that
/// other writers of the instance (the fault board) never wait long behind it.
const ROWS_PER_BATCH: usize = 20_000;

/// Stores rounds until the engine hangs up, merging whatever queued while the previous write ran.
pub async fn write_rounds(storage: Storage, mut rounds: mpsc::Receiver<Persist>) {
    while let Some(first) = rounds.recv().await {
        let mut rows = first.ticks.len() + first.events.len();
        let mut merged = vec![first];
        while rows < ROWS_PER_BATCH {
            match rounds.try_recv() {
                Ok(more) => {
                    rows += more.ticks.len() + more.events.len();
                    merged.push(more);
                }
                Err(_) => break,
            }
        }
        match batch(merged) {
            Ok(batch) => {
                if let Err(e) = storage.write(batch).await {
                    error!(error = %e, "market data could not be stored");
                }
            }
            Err(e) => error!(error = %e, "market data could not be prepared for storage"),
        }
    }
}

fn batch(rounds: Vec<Persist>) -> Result<WriteBatch, StorageError> {
    let mut batch = WriteBatch::new();
    let mut ticks = Vec::new();
    let mut events: Vec<Event> = Vec::new();
    let mut candles: BTreeMap<(Symbol, Interval, i64), Candle> = BTreeMap::new();
    let mut snapshot = None;
    for round in rounds {
        ticks.extend(round.ticks);
        events.extend(round.events);
        let tick = Duration::from_millis(round.snapshot.interval_ms);
        for (symbol, interval, candle) in round.candles {
            if interval.duration() > tick {
                candles.insert((symbol, interval, candle.open_time.unix_timestamp()), candle);
            }
        }
        snapshot = Some(round.snapshot);
    }
    let ticks = ticks
        .into_iter()
        .map(|t| {
            vec![
                t.symbol.as_str().into(),
                Value::Int(i64::try_from(t.sequence).unwrap_or(i64::MAX)),
                t.timestamp.into(),
                t.price.into(),
            ]
        })
        .collect();
    batch.extend(Statement::insert_chunked(
        "ticks",
        &["symbol", "sequence", "sim_time", "price"],
        ticks,
        "",
    )?);
    let candles = candles
        .into_iter()
        .map(|((symbol, interval, _), c)| {
            vec![
                symbol.as_str().into(),
                interval.as_str().into(),
                c.open_time.into(),
                c.open.into(),
                c.high.into(),
                c.low.into(),
                c.close.into(),
                Value::Int(i64::try_from(c.ticks).unwrap_or(i64::MAX)),
            ]
        })
        .collect();
    batch.extend(Statement::insert_chunked(
        "candles",
        &[
            "symbol",
            "candle_interval",
            "open_time",
            "open",
            "high",
            "low",
            "close",
            "ticks",
        ],
        candles,
        "ON CONFLICT (symbol, candle_interval, open_time) DO UPDATE SET high = excluded.high, \
         low = excluded.low, close = excluded.close, ticks = excluded.ticks",
    )?);
    batch.extend(Event::insert_chunked(events)?);
    if let Some(snapshot) = snapshot {
        let json = JsonText(
            serde_json::value::to_raw_value(&snapshot).map_err(|e| StorageError::Invalid(e.to_string()))?,
        );
        batch.push(
            Statement::new(
                "INSERT INTO feed_state (id, snapshot, updated_at) VALUES (1, $1, $2) \
                 ON CONFLICT (id) DO UPDATE SET snapshot = excluded.snapshot, updated_at = excluded.updated_at",
            )
            .bind(json)
            .bind(snapshot.origin + std::time::Duration::from_millis(snapshot.interval_ms.saturating_mul(snapshot.tick))),
        );
    }
    Ok(batch)
}

/// Reads what a restarting feed continues from: its state and recent candles. With the database
/// unreachable the feed starts afresh (and says so).
pub async fn load(storage: &Storage, specs: &[SymbolSpec]) -> Start {
    let fresh = Start {
        snapshot: None,
        candles: BTreeMap::new(),
    };
    if !storage.is_available() {
        warn!("storage unavailable at start: the feed starts afresh");
        return fresh;
    }
    match try_load(storage, specs).await {
        Ok(start) => start,
        Err(e) => {
            warn!(error = %e, "cannot read the saved feed: it starts afresh");
            fresh
        }
    }
}

async fn try_load(storage: &Storage, specs: &[SymbolSpec]) -> Result<Start, StorageError> {
    let snapshot = storage
        .query_one(Statement::new("SELECT snapshot FROM feed_state WHERE id = 1"))
        .await?
        .map(|row| row.get::<serde_json::Value>("snapshot"))
        .transpose()?
        .and_then(|json| serde_json::from_value::<Snapshot>(json).ok());
    let mut candles = BTreeMap::new();
    if let Some(saved) = &snapshot {
        let tick = Duration::from_millis(saved.interval_ms);
        for spec in specs {
            let (short, long): (Vec<Interval>, Vec<Interval>) =
                Interval::ALL.into_iter().partition(|i| i.duration() <= tick);
            if !short.is_empty() {
                candles.extend(
                    candles_of_ticks(storage, &spec.symbol, &short)
                        .await?
                        .into_iter()
                        .filter(|(_, series)| !series.is_empty()),
                );
            }
            for interval in long {
                let rows = storage
                    .query(
                        Statement::new(format!(
                            "SELECT open_time, open, high, low, close, ticks FROM candles \
                             WHERE symbol = $1 AND candle_interval = $2 ORDER BY open_time DESC LIMIT {KEPT}"
                        ))
                        .bind(spec.symbol.as_str())
                        .bind(interval.as_str()),
                    )
                    .await?;
                let mut series = rows
                    .iter()
                    .map(|r| {
                        Ok(Candle {
                            open_time: r.get("open_time")?,
                            open: r.get("open")?,
                            high: r.get("high")?,
                            low: r.get("low")?,
                            close: r.get("close")?,
                            ticks: r.get::<i64>("ticks")?.unsigned_abs(),
                        })
                    })
                    .collect::<Result<Vec<_>, StorageError>>()?;
                series.reverse();
                if !series.is_empty() {
                    candles.insert((spec.symbol.clone(), interval), series);
                }
            }
        }
    }
    Ok(Start { snapshot, candles })
}

/// Rebuilds the candles of `intervals` (each no longer than the tick interval, so one tick each)
/// from the symbol's most recent stored ticks.
async fn candles_of_ticks(
    storage: &Storage,
    symbol: &Symbol,
    intervals: &[Interval],
) -> Result<Vec<((Symbol, Interval), Vec<Candle>)>, StorageError> {
    let rows = storage
        .query(
            Statement::new(format!(
                "SELECT sim_time, price FROM ticks WHERE symbol = $1 ORDER BY sim_time DESC LIMIT {KEPT}"
            ))
            .bind(symbol.as_str()),
        )
        .await?;
    let mut series: Vec<CandleSeries> = intervals.iter().map(|i| CandleSeries::new(*i)).collect();
    for row in rows.iter().rev() {
        let (at, price) = (row.get("sim_time")?, row.get("price")?);
        for s in &mut series {
            s.record(at, price);
        }
    }
    Ok(intervals
        .iter()
        .zip(series)
        .map(|(interval, s)| ((symbol.clone(), *interval), s.last(KEPT)))
        .collect())
}
