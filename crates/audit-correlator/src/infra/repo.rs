//! The audit store: every event of the ecosystem once, in the instance's own schema, with the
//! outbox's columns; ingestion is idempotent by event id.

use std::collections::BTreeSet;

use serde_json::{Value as Json, json};
use time::OffsetDateTime;
use tracing::warn;
use tse_runtime::{
    events::Event,
    health::rfc3339_exact as rfc3339,
    storage::{Migration, Row, Statement, Storage, StorageError, Value, WriteBatch},
};

/// The audit schema.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "audit events",
        sql: "CREATE TABLE audit_events (
            seq {id},
            id TEXT NOT NULL UNIQUE,
            sim_time {timestamp} NOT NULL,
            wall_time {timestamp} NOT NULL,
            service TEXT NOT NULL,
            instance TEXT NOT NULL,
            event_type TEXT NOT NULL,
            trace_id TEXT,
            causation_id TEXT,
            scenario_run_id TEXT,
            payload {json} NOT NULL);
          CREATE INDEX audit_events_by_instance ON audit_events (instance, seq);
          CREATE INDEX audit_events_by_type ON audit_events (event_type, seq);
          CREATE INDEX audit_events_by_trace ON audit_events (trace_id);
          CREATE INDEX audit_events_by_cause ON audit_events (causation_id);
          CREATE INDEX audit_events_by_run ON audit_events (scenario_run_id);
          CREATE INDEX audit_events_by_time ON audit_events (sim_time, seq);",
    },
    Migration {
        version: 2,
        name: "correlation links",
        sql: "CREATE TABLE audit_links (
            event_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            scope TEXT NOT NULL,
            low BIGINT NOT NULL,
            high BIGINT NOT NULL);
          CREATE INDEX audit_links_by_key ON audit_links (kind, scope, low);
          CREATE INDEX audit_links_by_event ON audit_links (event_id);",
    },
];

/// What an event is about, for correlating events of different instances: `kind` things numbered
/// `low..=high` in `scope` (an instance). An order event is about its order; a trade about itself and
/// its two orders; an exchange P&L settlement about the exchange's trades it carries.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Link {
    /// `order`, `trade`, `settlement` or `prices` (an exchange following a market data instance).
    pub kind: &'static str,
    /// The instance numbering them.
    pub scope: String,
    /// First number.
    pub low: i64,
    /// Last number.
    pub high: i64,
}

fn number(value: &Json) -> Option<i64> {
    let text = value.as_str()?;
    text.rsplit('-').next()?.parse().ok()
}

/// The links of an event, read from its type and payload.
pub fn links(e: &Event) -> Vec<Link> {
    let Ok(payload) = serde_json::from_str::<Json>(e.payload.get()) else {
        return Vec::new();
    };
    let one = |kind: &'static str, scope: &str, value: &Json| {
        number(value).map(|n| Link {
            kind,
            scope: scope.to_owned(),
            low: n,
            high: n,
        })
    };
    let mut out = Vec::new();
    let t = e.event_type.as_str();
    if t.starts_with("order.") {
        out.extend(one("order", &e.instance, &payload["id"]));
    } else if t == "trade.executed" {
        out.extend(one("trade", &e.instance, &payload["id"]));
        out.extend(one("order", &e.instance, &payload["buy_order_id"]));
        out.extend(one("order", &e.instance, &payload["sell_order_id"]));
    } else if t == "liquidity.following"
        && let Some(market_data) = payload["market_data"].as_str()
    {
        out.push(Link {
            kind: "prices",
            scope: market_data.to_owned(),
            low: 0,
            high: 0,
        });
    } else if t.starts_with("settlement.") {
        let settlement = if payload["settlement"].is_object() {
            &payload["settlement"]
        } else {
            &payload
        };
        out.extend(one("settlement", &e.instance, &settlement["id"]));
        if let (Some(exchange), Some(first), Some(last)) = (
            settlement["exchange"].as_str(),
            number(&settlement["first_trade_id"]),
            number(&settlement["last_trade_id"]),
        ) {
            out.push(Link {
                kind: "trade",
                scope: exchange.to_owned(),
                low: first,
                high: last,
            });
        }
    }
    out
}

/// The payload is read as text and parsed here (see [`event_json`]), never decoded by the driver: a
/// payload stored before ingestion was bounded may nest deeper than a JSON parser follows.
const COLUMNS: &str = "seq, id, sim_time, wall_time, service, instance, event_type, trace_id, causation_id, \
                       scenario_run_id, CAST(payload AS TEXT) AS payload";

/// What an ingestion did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Ingested {
    /// Events stored now.
    pub accepted: usize,
    /// Events already stored (or repeated in the batch), dropped.
    pub duplicates: usize,
}

/// Stores the events not stored yet. Callers serialise ingestions (one at a time) so the
/// duplicate count is exact; the insert ignores a stored id anyway.
///
/// # Errors
/// [`StorageError`].
pub async fn ingest(storage: &Storage, events: Vec<Event>) -> Result<(Ingested, Vec<Event>), StorageError> {
    let mut seen = BTreeSet::new();
    let mut fresh: Vec<Event> = Vec::with_capacity(events.len());
    let total = events.len();
    for e in events {
        if seen.insert(e.id) {
            fresh.push(e);
        }
    }
    let mut stored: BTreeSet<String> = BTreeSet::new();
    for chunk in fresh.chunks(500) {
        let marks = (1..=chunk.len())
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let statement = chunk.iter().fold(
            Statement::new(format!("SELECT id FROM audit_events WHERE id IN ({marks})")),
            |s, e| s.bind(e.id.to_string()),
        );
        for row in storage.query(statement).await? {
            stored.insert(row.get::<String>("id")?);
        }
    }
    fresh.retain(|e| !stored.contains(&e.id.to_string()));
    let accepted = fresh.len();
    if !fresh.is_empty() {
        let link_rows: Vec<Vec<Value>> = fresh
            .iter()
            .flat_map(|e| {
                let id = e.id.to_string();
                links(e).into_iter().map(move |l| {
                    vec![
                        Value::Text(id.clone()),
                        l.kind.into(),
                        l.scope.into(),
                        Value::Int(l.low),
                        Value::Int(l.high),
                    ]
                })
            })
            .collect();
        let mut statements =
            Event::insert_chunked_into("audit_events", fresh.clone(), "ON CONFLICT (id) DO NOTHING")?;
        statements.extend(Statement::insert_chunked(
            "audit_links",
            &["event_id", "kind", "scope", "low", "high"],
            link_rows,
            "",
        )?);
        storage.write(WriteBatch::from(statements)).await?;
    }
    Ok((
        Ingested {
            accepted,
            duplicates: total - accepted,
        },
        fresh,
    ))
}

/// One stored event as the API shows it. A payload that cannot be read back as JSON (one stored
/// before ingestion was bounded, nesting deeper than serde_json's recursion limit) shows as `null`
/// with `payload_error` saying why, and is logged: one such row never fails a whole listing.
fn event_json(row: &Row) -> Result<Json, StorageError> {
    let seq: i64 = row.get("seq")?;
    let id: String = row.get("id")?;
    let text: String = row.get("payload")?;
    let (payload, unreadable) = match serde_json::from_str::<Json>(&text) {
        Ok(payload) => (payload, None),
        Err(error) => {
            warn!(event = %id, %error, bytes = text.len(), "a stored payload cannot be read back; shown as null");
            (
                Json::Null,
                Some(format!("the stored payload cannot be shown: {error}")),
            )
        }
    };
    let mut event = json!({
        "seq": seq,
        "id": id,
        "sim_time": rfc3339(row.get::<OffsetDateTime>("sim_time")?),
        "wall_time": rfc3339(row.get::<OffsetDateTime>("wall_time")?),
        "service": row.get::<String>("service")?,
        "instance": row.get::<String>("instance")?,
        "event_type": row.get::<String>("event_type")?,
        "trace_id": row.get::<Option<String>>("trace_id")?,
        "causation_id": row.get::<Option<String>>("causation_id")?,
        "scenario_run_id": row.get::<Option<String>>("scenario_run_id")?,
        "payload": payload,
    });
    if let Some(reason) = unreadable {
        event["payload_error"] = Json::String(reason);
    }
    Ok(event)
}

/// Filters of an event query.
#[derive(Clone, Debug, Default)]
pub struct EventFilter {
    /// `SERVICE_NAME`.
    pub service: Option<String>,
    /// Instance name.
    pub instance: Option<String>,
    /// Event type.
    pub event_type: Option<String>,
    /// Trace id.
    pub trace_id: Option<String>,
    /// Scenario run id.
    pub scenario_run_id: Option<String>,
    /// Caused by this event id.
    pub causation_id: Option<String>,
    /// Simulated time from (inclusive).
    pub from: Option<OffsetDateTime>,
    /// Simulated time to (exclusive).
    pub to: Option<OffsetDateTime>,
    /// Stored after this sequence number (the cursor).
    pub after: Option<i64>,
}

impl EventFilter {
    fn statement(&self, order: &str, limit: usize) -> Statement {
        let mut conditions: Vec<String> = Vec::new();
        let mut params: Vec<Value> = Vec::new();
        let mut push = |column: &str, op: &str, value: Value| {
            params.push(value);
            conditions.push(format!("{column} {op} ${}", params.len()));
        };
        let text = |v: &Option<String>| v.as_deref().map(|s| Value::Text(s.to_owned()));
        for (column, value) in [
            ("service", text(&self.service)),
            ("instance", text(&self.instance)),
            ("event_type", text(&self.event_type)),
            ("trace_id", text(&self.trace_id)),
            ("scenario_run_id", text(&self.scenario_run_id)),
            ("causation_id", text(&self.causation_id)),
        ] {
            if let Some(v) = value {
                push(column, "=", v);
            }
        }
        if let Some(from) = self.from {
            push("sim_time", ">=", Value::Time(from));
        }
        if let Some(to) = self.to {
            push("sim_time", "<", Value::Time(to));
        }
        if let Some(after) = self.after {
            push("seq", ">", Value::Int(after));
        }
        let mut sql = format!("SELECT {COLUMNS} FROM audit_events");
        if !conditions.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&conditions.join(" AND "));
        }
        sql.push_str(&format!(" ORDER BY {order} LIMIT {limit}"));
        params.into_iter().fold(Statement::new(sql), Statement::bind)
    }
}

/// Events matching `filter`, in storage order (`seq`), at most `limit`.
///
/// # Errors
/// [`StorageError`].
pub async fn events(
    storage: &Storage,
    filter: &EventFilter,
    limit: usize,
) -> Result<Vec<Json>, StorageError> {
    storage
        .query(filter.statement("seq", limit))
        .await?
        .iter()
        .map(event_json)
        .collect()
}

/// Events matching `filter` in simulated-time order, at most `limit`.
///
/// # Errors
/// [`StorageError`].
pub async fn timeline(
    storage: &Storage,
    filter: &EventFilter,
    limit: usize,
) -> Result<Vec<Json>, StorageError> {
    storage
        .query(filter.statement("sim_time, seq", limit))
        .await?
        .iter()
        .map(event_json)
        .collect()
}

/// One event by id.
///
/// # Errors
/// [`StorageError`].
pub async fn event(storage: &Storage, id: &str) -> Result<Option<Json>, StorageError> {
    storage
        .query_one(Statement::new(format!("SELECT {COLUMNS} FROM audit_events WHERE id = $1")).bind(id))
        .await?
        .as_ref()
        .map(event_json)
        .transpose()
}

/// The stored links of an event.
///
/// # Errors
/// [`StorageError`].
pub async fn links_of(storage: &Storage, event_id: &str) -> Result<Vec<Link>, StorageError> {
    storage
        .query(
            Statement::new("SELECT kind, scope, low, high FROM audit_links WHERE event_id = $1")
                .bind(event_id),
        )
        .await?
        .iter()
        .map(|r| {
            let kind: String = r.get("kind")?;
            Ok(Link {
                kind: match kind.as_str() {
                    "order" => "order",
                    "trade" => "trade",
                    "prices" => "prices",
                    _ => "settlement",
                },
                scope: r.get("scope")?,
                low: r.get("low")?,
                high: r.get("high")?,
            })
        })
        .collect()
}

/// Ids of the events with a link overlapping `link`, at most `limit`.
///
/// # Errors
/// [`StorageError`].
pub async fn linked(storage: &Storage, link: &Link, limit: usize) -> Result<Vec<String>, StorageError> {
    storage
        .query(
            Statement::new(format!(
                "SELECT DISTINCT event_id FROM audit_links                  WHERE kind = $1 AND scope = $2 AND low <= $3 AND high >= $4 LIMIT {limit}"
            ))
            .bind(link.kind)
            .bind(link.scope.as_str())
            .bind(Value::Int(link.high))
            .bind(Value::Int(link.low)),
        )
        .await?
        .iter()
        .map(|r| r.get::<String>("event_id"))
        .collect()
}

/// Interactions observed in events: an instance's events about another instance's things, per
/// (from, to, kind), with how many and when last (simulated time).
///
/// # Errors
/// [`StorageError`].
pub async fn edges(storage: &Storage) -> Result<Vec<Json>, StorageError> {
    storage
        .query(Statement::new(
            "SELECT e.instance AS source, l.scope AS target, l.kind AS kind, COUNT(*) AS n,              MAX(e.sim_time) AS last_seen FROM audit_links l JOIN audit_events e ON e.id = l.event_id              WHERE l.scope <> e.instance GROUP BY e.instance, l.scope, l.kind ORDER BY source, target, kind",
        ))
        .await?
        .iter()
        .map(|r| {
            let kind: String = r.get("kind")?;
            let relation = match kind.as_str() {
                "trade" => "settles trades of",
                "order" => "handles orders of",
                "prices" => "prices from",
                _ => "refers to",
            };
            Ok(json!({
                "from": r.get::<String>("source")?,
                "to": r.get::<String>("target")?,
                "kind": kind,
                "relation": relation,
                "count": r.get::<i64>("n")?,
                "last_seen": rfc3339(r.get::<OffsetDateTime>("last_seen")?),
            }))
        })
        .collect()
}

/// Counts per event type and instance.
///
/// # Errors
/// [`StorageError`].
pub async fn counts(storage: &Storage) -> Result<Vec<Json>, StorageError> {
    storage
        .query(Statement::new(
            "SELECT event_type, service, instance, COUNT(*) AS n FROM audit_events \
             GROUP BY event_type, service, instance ORDER BY event_type, instance",
        ))
        .await?
        .iter()
        .map(|r| {
            Ok(json!({
                "event_type": r.get::<String>("event_type")?,
                "service": r.get::<String>("service")?,
                "instance": r.get::<String>("instance")?,
                "count": r.get::<i64>("n")?,
            }))
        })
        .collect()
}
