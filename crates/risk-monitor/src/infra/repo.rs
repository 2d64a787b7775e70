//! Storage of the monitor, written once for PostgreSQL and SQLite through the runtime's storage
//! layer: every alert ever raised (one row per alert, updated through its life), the equity marks,
//! the next alert number, and the limits set through the API.

use tse_runtime::storage::{JsonText, Migration, Statement, Storage, StorageError, Value};

use crate::domain::{
    alert::{Alert, AlertFilter},
    limits::Limits,
    monitor::EquityMark,
};

/// The risk monitor schema.
pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "alerts, equity marks, monitor state",
    sql: "CREATE TABLE alerts (
            id TEXT PRIMARY KEY,
            number BIGINT NOT NULL UNIQUE,
            kind TEXT NOT NULL,
            severity TEXT NOT NULL,
            status TEXT NOT NULL,
            subject_key TEXT NOT NULL,
            body {json} NOT NULL,
            detected_at {timestamp} NOT NULL,
            updated_at {timestamp} NOT NULL);
          CREATE INDEX alerts_status ON alerts (status, number);
          CREATE INDEX alerts_severity ON alerts (severity, number);
          CREATE INDEX alerts_kind ON alerts (kind, number);
          CREATE TABLE equity_marks (
            entity TEXT PRIMARY KEY,
            body {json} NOT NULL);
          CREATE TABLE monitor_state (
            name TEXT PRIMARY KEY,
            body {json} NOT NULL);",
}];

/// What was stored before a restart.
#[derive(Clone, Debug, Default)]
pub struct Stored {
    /// Alerts not resolved, oldest first.
    pub open: Vec<Alert>,
    /// The number the next alert gets (1 when none was ever raised).
    pub next_id: u64,
    /// Equity marks per entity.
    pub marks: Vec<EquityMark>,
    /// Limits set through the API, if ever.
    pub limits: Option<Limits>,
}

/// The `monitor_state` row of the next alert number.
const NEXT_ID: &str = "next_id";
/// The `monitor_state` row of the limits set through the API.
const LIMITS: &str = "limits";

fn json<T: serde::Serialize>(value: &T) -> Value {
    Value::Json(JsonText::of(value))
}

fn int(value: u64) -> Value {
    Value::Int(i64::try_from(value).unwrap_or(i64::MAX))
}

fn decode(what: &str, e: impl std::fmt::Display) -> StorageError {
    StorageError::Decode(format!("{what}: {e}"))
}

/// The number N of an id `alert-N`.
///
/// # Errors
/// [`StorageError::Invalid`] for any other id.
pub fn alert_number(id: &str) -> Result<u64, StorageError> {
    id.strip_prefix("alert-")
        .and_then(|n| n.parse::<u64>().ok())
        .filter(|n| *n > 0 && i64::try_from(*n).is_ok())
        .ok_or_else(|| StorageError::Invalid(format!("alert id {id:?} is not alert-N")))
}

/// The statements that store `alerts` (each inserted or updated by id), `marks` and `next_id`;
/// the caller writes them in one batch with the outbox events that describe the changes.
///
/// # Errors
/// [`StorageError::Invalid`] when a statement cannot be built.
pub fn statements(
    alerts: &[Alert],
    marks: &[EquityMark],
    next_id: u64,
) -> Result<Vec<Statement>, StorageError> {
    let mut out = Vec::new();
    // The latest state of each alert: one row per id in a statement (PostgreSQL refuses to
    // update a row twice in one INSERT ... ON CONFLICT).
    let mut latest: std::collections::BTreeMap<u64, &Alert> = std::collections::BTreeMap::new();
    for alert in alerts {
        latest.insert(alert_number(&alert.id)?, alert);
    }
    let rows: Vec<Vec<Value>> = latest
        .into_iter()
        .map(|(number, a)| {
            vec![
                a.id.as_str().into(),
                int(number),
                a.kind.as_str().into(),
                a.severity.as_str().into(),
                a.status.as_str().into(),
                a.subject.key().into(),
                json(a),
                a.detected_at.into(),
                a.updated_at.into(),
            ]
        })
        .collect();
    out.extend(Statement::insert_chunked(
        "alerts",
        &[
            "id",
            "number",
            "kind",
            "severity",
            "status",
            "subject_key",
            "body",
            "detected_at",
            "updated_at",
        ],
        rows,
        "ON CONFLICT (id) DO UPDATE SET severity = excluded.severity, status = excluded.status, \
         body = excluded.body, updated_at = excluded.updated_at",
    )?);
    let mut by_entity: std::collections::BTreeMap<&str, &EquityMark> = std::collections::BTreeMap::new();
    for mark in marks {
        by_entity.insert(mark.entity.as_str(), mark);
    }
    out.extend(Statement::insert_chunked(
        "equity_marks",
        &["entity", "body"],
        by_entity
            .into_iter()
            .map(|(entity, m)| vec![entity.into(), json(m)])
            .collect(),
        "ON CONFLICT (entity) DO UPDATE SET body = excluded.body",
    )?);
    out.push(state(NEXT_ID, json(&next_id)));
    Ok(out)
}

fn state(name: &str, body: Value) -> Statement {
    Statement::new(
        "INSERT INTO monitor_state (name, body) VALUES ($1, $2) \
         ON CONFLICT (name) DO UPDATE SET body = excluded.body",
    )
    .bind(name)
    .bind(body)
}

/// The statement that stores `limits`.
///
/// # Errors
/// [`StorageError::Invalid`].
pub fn limits_statement(limits: &Limits) -> Result<Statement, StorageError> {
    let body = serde_json::to_value(limits).map_err(|e| StorageError::Invalid(format!("limits: {e}")))?;
    Ok(state(LIMITS, body.into()))
}

fn alert_of(row: &tse_runtime::storage::Row) -> Result<Alert, StorageError> {
    serde_json::from_value(row.get("body")?).map_err(|e| decode("alert", e))
}

/// Reads back everything stored.
///
/// # Errors
/// [`StorageError`].
pub async fn load(storage: &Storage) -> Result<Stored, StorageError> {
    let open = storage
        .query(
            Statement::new("SELECT body FROM alerts WHERE status <> $1 ORDER BY number")
                .bind(crate::domain::alert::Status::Resolved.as_str()),
        )
        .await?
        .iter()
        .map(alert_of)
        .collect::<Result<Vec<_>, _>>()?;
    let marks = storage
        .query(Statement::new("SELECT body FROM equity_marks ORDER BY entity"))
        .await?
        .into_iter()
        .map(|row| serde_json::from_value(row.get("body")?).map_err(|e| decode("equity mark", e)))
        .collect::<Result<Vec<EquityMark>, _>>()?;
    let mut stored = Stored {
        open,
        next_id: 1,
        marks,
        limits: None,
    };
    for row in storage
        .query(Statement::new(
            "SELECT name, body FROM monitor_state ORDER BY name",
        ))
        .await?
    {
        let name: String = row.get("name")?;
        let body: serde_json::Value = row.get("body")?;
        match name.as_str() {
            NEXT_ID => {
                stored.next_id = serde_json::from_value::<u64>(body)
                    .map_err(|e| decode("next_id", e))?
                    .max(1);
            }
            LIMITS => stored.limits = Some(serde_json::from_value(body).map_err(|e| decode("limits", e))?),
            _ => {}
        }
    }
    // Never hand out a number already taken, whatever was stored.
    if let Some(last) = stored.open.last() {
        stored.next_id = stored.next_id.max(alert_number(&last.id).map_or(0, |n| n + 1));
    }
    Ok(stored)
}

/// Alerts matching `filter` (its `limit` ignored), newest first, at most `limit`.
///
/// # Errors
/// [`StorageError`].
pub async fn list_alerts(
    storage: &Storage,
    filter: &AlertFilter,
    limit: u32,
) -> Result<Vec<Alert>, StorageError> {
    let mut sql = String::from("SELECT body FROM alerts WHERE 1 = 1");
    let mut params: Vec<Value> = Vec::new();
    let mut add = |column: &str, value: Value, sql: &mut String| {
        params.push(value);
        sql.push_str(&format!(" AND {column} ${}", params.len()));
    };
    if let Some(status) = filter.status {
        add("status =", status.as_str().into(), &mut sql);
    }
    if let Some(severity) = filter.severity {
        add("severity =", severity.as_str().into(), &mut sql);
    }
    if let Some(kind) = filter.kind {
        add("kind =", kind.as_str().into(), &mut sql);
    }
    if let Some(cursor) = filter.cursor {
        add("number <", int(cursor), &mut sql);
    }
    params.push(Value::Int(i64::from(limit)));
    sql.push_str(&format!(" ORDER BY number DESC LIMIT ${}", params.len()));
    let statement = params.into_iter().fold(Statement::new(sql), Statement::bind);
    storage.query(statement).await?.iter().map(alert_of).collect()
}

/// One alert by id.
///
/// # Errors
/// [`StorageError`].
pub async fn get_alert(storage: &Storage, id: &str) -> Result<Option<Alert>, StorageError> {
    storage
        .query_one(Statement::new("SELECT body FROM alerts WHERE id = $1").bind(id))
        .await?
        .as_ref()
        .map(alert_of)
        .transpose()
}
