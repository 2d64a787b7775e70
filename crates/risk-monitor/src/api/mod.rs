//! The production API, over HTTP JSON ([`http`], described in [`openapi`]) and gRPC ([`grpc`]),
//! with the same rules for both: filters, page sizes, cursors and alert ids are read here once,
//! every question goes to the monitor through its [`MonitorHandle`], and every refusal is an
//! [`ApiError`].
//!
//! | error code | HTTP | gRPC | when |
//! |---|---|---|---|
//! | `invalid_status`, `invalid_severity`, `invalid_kind` | 400 | `INVALID_ARGUMENT` | a list filter names no status, severity or rule kind |
//! | `invalid_limit`, `invalid_cursor` | 400 | `INVALID_ARGUMENT` | a page size outside 1 to 1000, a cursor that is not a positive integer |
//! | `invalid_alert_id` | 400 | `INVALID_ARGUMENT` | an id that is not `alert-N` |
//! | `invalid_json` | 400 | `INVALID_ARGUMENT` | a limits document that is not a JSON object |
//! | `invalid_limits` | 400 | `INVALID_ARGUMENT` | limits the monitor refuses (the reason says which); nothing changes |
//! | `unknown_alert` | 404 | `NOT_FOUND` | the monitor never raised an alert of that id |
//! | `alert_conflict` | 409 | `FAILED_PRECONDITION` | the alert's state refuses it (acknowledging a resolved alert) |
//! | `monitor_unavailable` | 503 | `UNAVAILABLE` | the monitor task or its storage is not running, or the instance is stopping |

pub mod grpc;
pub mod http;
pub mod openapi;

#[cfg(test)]
mod tests;

use std::future::Future;

use futures::{Stream, stream};
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;
use tse_runtime::api::ApiError;

use crate::{
    app::handle::{AlertPage, AppError, MonitorHandle},
    domain::{
        alert::{Alert, AlertChange, AlertFilter, DEFAULT_LIMIT, MAX_LIMIT, RuleKind, Severity, Status},
        limits::Limits,
        summary::Summary,
    },
};

/// Most digits of an alert number or cursor: every such number fits the store's signed 64-bit
/// integers.
pub const MAX_DIGITS: usize = 18;

/// What both API faces work with.
#[derive(Clone, Debug)]
pub struct Api {
    /// Where questions for the monitor go.
    pub monitor: MonitorHandle,
    /// Cancelled when the instance starts draining: a question still waiting is answered 503, and
    /// live streams end.
    pub draining: CancellationToken,
}

/// The filters of an alert listing as a request gives them (HTTP query or gRPC message); empty
/// or absent is none.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertQuery {
    /// `ACTIVE`, `ACKNOWLEDGED` or `RESOLVED`, any case.
    pub status: Option<String>,
    /// `info`, `warning` or `critical`, any case.
    pub severity: Option<String>,
    /// A rule kind, any case.
    pub kind: Option<String>,
    /// Page size, 1 to [`MAX_LIMIT`] (default [`DEFAULT_LIMIT`]).
    pub limit: Option<String>,
    /// The previous page's `next_cursor`.
    pub cursor: Option<String>,
}

/// What the alert stream carries: a change, or how many changes a reader too slow to keep up
/// missed (the stream goes on after it).
#[derive(Clone, Debug, PartialEq)]
pub enum StreamItem {
    /// One change of one alert (boxed: an alert is large, a lag count small).
    Change(Box<AlertChange>),
    /// Changes skipped.
    Lagged(u64),
}

/// `text` as given, or `None` when absent or empty.
fn given(text: Option<&str>) -> Option<&str> {
    text.filter(|t| !t.is_empty())
}

/// Reads one enumerated filter: `parse` on the text, or `invalid_{name}` listing `allowed`.
fn filter<T>(
    name: &str,
    text: Option<&str>,
    parse: impl Fn(&str) -> Option<T>,
    allowed: &[&str],
) -> Result<Option<T>, ApiError> {
    let Some(text) = given(text) else {
        return Ok(None);
    };
    parse(text).map(Some).ok_or_else(|| {
        ApiError::bad_request(
            format!("invalid_{name}"),
            format!(
                "{name} '{}' is not one of {} (any case)",
                text.escape_debug(),
                allowed.join(", ")
            ),
        )
    })
}

/// A positive integer of at most [`MAX_DIGITS`] digits, written without sign, blanks or leading
/// zeros.
fn positive(text: &str) -> Option<u64> {
    let plain = (1..=MAX_DIGITS).contains(&text.len())
        && text.bytes().all(|b| b.is_ascii_digit())
        && !text.starts_with('0');
    plain.then(|| text.parse().ok()).flatten()
}

/// The page size asked (absent: [`DEFAULT_LIMIT`]).
///
/// # Errors
/// `invalid_limit` naming the bounds.
fn page_limit(text: Option<&str>) -> Result<u32, ApiError> {
    let Some(text) = text else {
        return Ok(DEFAULT_LIMIT);
    };
    text.parse::<u32>()
        .ok()
        .filter(|n| (1..=MAX_LIMIT).contains(n) && !text.starts_with('+'))
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_limit",
                format!(
                    "limit must be an integer from 1 to {MAX_LIMIT}, got '{}'",
                    text.escape_debug()
                ),
            )
        })
}

/// The page cursor given (absent or empty: the first page).
///
/// # Errors
/// `invalid_cursor`.
fn page_cursor(text: Option<&str>) -> Result<Option<u64>, ApiError> {
    let Some(text) = given(text) else {
        return Ok(None);
    };
    positive(text).map(Some).ok_or_else(|| {
        ApiError::bad_request(
            "invalid_cursor",
            format!(
                "cursor must be a positive integer of at most {MAX_DIGITS} digits (the next_cursor of \
                 a previous page), got '{}'",
                text.escape_debug()
            ),
        )
    })
}

impl AlertQuery {
    /// The filter it asks for.
    ///
    /// # Errors
    /// `invalid_status`, `invalid_severity`, `invalid_kind`, `invalid_limit`, `invalid_cursor`,
    /// each naming what is allowed.
    pub fn filter(&self) -> Result<AlertFilter, ApiError> {
        let statuses: Vec<&str> = Status::ALL.iter().map(|s| s.as_str()).collect();
        let severities: Vec<&str> = Severity::ALL.iter().map(|s| s.as_str()).collect();
        let kinds: Vec<&str> = RuleKind::ALL.iter().map(|k| k.as_str()).collect();
        Ok(AlertFilter {
            status: filter("status", self.status.as_deref(), Status::parse, &statuses)?,
            severity: filter("severity", self.severity.as_deref(), Severity::parse, &severities)?,
            kind: filter("kind", self.kind.as_deref(), RuleKind::parse, &kinds)?,
            limit: page_limit(self.limit.as_deref())?,
            cursor: page_cursor(self.cursor.as_deref())?,
        })
    }
}

/// Reads an alert id: `alert-` and a positive number of at most [`MAX_DIGITS`] digits.
///
/// # Errors
/// `invalid_alert_id`, saying what an id looks like.
pub fn alert_id(text: &str) -> Result<String, ApiError> {
    text.strip_prefix("alert-")
        .and_then(positive)
        .map(|n| format!("alert-{n}"))
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_alert_id",
                format!(
                    "alert id '{}' is not valid: alert- and a positive number of at most {MAX_DIGITS} \
                     digits, e.g. alert-17",
                    text.escape_debug()
                ),
            )
        })
}

/// The API error of a monitor's refusal.
pub fn error(e: AppError) -> ApiError {
    match e {
        AppError::BadRequest(message) => ApiError::bad_request("invalid_limits", message),
        AppError::NotFound(message) => ApiError::not_found("unknown_alert", message),
        AppError::Conflict(message) => {
            ApiError::conflict("alert_conflict", message).with_grpc_code(tonic::Code::FailedPrecondition)
        }
        AppError::Unavailable(message) => ApiError::unavailable("monitor_unavailable", message),
    }
}

/// What a question still waiting when the instance stops is answered.
fn stopping() -> ApiError {
    ApiError::unavailable(
        "monitor_unavailable",
        "the risk monitor is stopping; try again on its restart",
    )
}

/// Reads a limits document: a JSON object of [`Limits`] (missing fields take their defaults,
/// unknown ones are refused, the values are validated).
///
/// # Errors
/// `invalid_json` when it is not an object, `invalid_limits` with the reason otherwise.
pub fn limits_document(document: &serde_json::Value) -> Result<Limits, ApiError> {
    if !document.is_object() {
        return Err(ApiError::bad_request(
            "invalid_json",
            "a limits document must be a JSON object",
        ));
    }
    Limits::from_json(document).map_err(|reason| ApiError::bad_request("invalid_limits", reason))
}

impl Api {
    /// The API of the monitor behind `monitor`; `draining` is the instance's.
    pub fn new(monitor: MonitorHandle, draining: CancellationToken) -> Self {
        Self { monitor, draining }
    }

    /// Waits for the monitor's answer, unless the instance starts draining first.
    async fn ask<T>(&self, answer: impl Future<Output = Result<T, AppError>>) -> Result<T, ApiError> {
        tokio::select! {
            biased;
            answer = answer => answer.map_err(error),
            () = self.draining.cancelled() => Err(stopping()),
        }
    }

    /// A page of alerts, newest first.
    ///
    /// # Errors
    /// The filter's (see [`AlertQuery::filter`]), `monitor_unavailable`.
    pub async fn alerts(&self, query: &AlertQuery) -> Result<AlertPage, ApiError> {
        let filter = query.filter()?;
        self.ask(self.monitor.alerts(&filter)).await
    }

    /// One alert.
    ///
    /// # Errors
    /// `invalid_alert_id`, `unknown_alert`, `monitor_unavailable`.
    pub async fn alert(&self, id: &str) -> Result<Alert, ApiError> {
        let id = alert_id(id)?;
        self.ask(self.monitor.alert(&id)).await
    }

    /// Acknowledges an open alert.
    ///
    /// # Errors
    /// `invalid_alert_id`, `unknown_alert`, `alert_conflict` (resolved), `monitor_unavailable`.
    pub async fn acknowledge(&self, id: &str) -> Result<Alert, ApiError> {
        let id = alert_id(id)?;
        self.ask(self.monitor.acknowledge(&id)).await
    }

    /// The risk picture now.
    ///
    /// # Errors
    /// `monitor_unavailable`.
    pub async fn summary(&self) -> Result<Summary, ApiError> {
        self.ask(self.monitor.summary()).await
    }

    /// The limits in force.
    ///
    /// # Errors
    /// `monitor_unavailable`.
    pub async fn limits(&self) -> Result<Limits, ApiError> {
        self.ask(self.monitor.limits()).await
    }

    /// Replaces the limits with those of `document`; answers the limits now in force.
    ///
    /// # Errors
    /// `invalid_json`, `invalid_limits` with the reason (nothing changes), `monitor_unavailable`.
    pub async fn set_limits(&self, document: &serde_json::Value) -> Result<Limits, ApiError> {
        let limits = limits_document(document)?;
        self.ask(self.monitor.set_limits(limits)).await
    }

    /// Every alert change from now on, until the instance drains or the monitor stops. Shared
    /// by SSE and gRPC streaming.
    pub fn changes(&self) -> impl Stream<Item = StreamItem> + Send + use<> {
        let receiver = self.monitor.subscribe();
        stream::unfold(
            (receiver, self.draining.clone()),
            |(mut receiver, draining)| async move {
                let item = tokio::select! {
                    () = draining.cancelled() => return None,
                    change = receiver.recv() => match change {
                        Ok(change) => StreamItem::Change(Box::new(change)),
                        Err(RecvError::Lagged(missed)) => StreamItem::Lagged(missed),
                        Err(RecvError::Closed) => return None,
                    },
                };
                Some((item, (receiver, draining)))
            },
        )
    }
}
