//! The monitor's handle: what the API asks. Lists and single alerts are read from storage (every
//! alert ever raised is there); acknowledging, limits and the summary go to the monitor task, which
//! answers once it has acted.

use tokio::sync::{broadcast, mpsc, oneshot};
use tse_runtime::storage::Storage;

use crate::{
    domain::{
        alert::{Alert, AlertChange, AlertFilter, MAX_LIMIT},
        limits::Limits,
        summary::Summary,
    },
    infra::repo,
};

/// Why the monitor did not do what was asked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AppError {
    /// Malformed request or invalid limits (400).
    #[error("{0}")]
    BadRequest(String),
    /// No alert has that id (404).
    #[error("{0}")]
    NotFound(String),
    /// It cannot be done in the alert's state, e.g. acknowledging a resolved alert (409).
    #[error("{0}")]
    Conflict(String),
    /// The monitor or its storage is not available (503).
    #[error("{0}")]
    Unavailable(String),
}

/// One page of alerts.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertPage {
    /// Newest first.
    pub alerts: Vec<Alert>,
    /// Pass as `cursor` for the next page; `None` on the last.
    pub next_cursor: Option<String>,
}

/// A question for the monitor task.
#[derive(Debug)]
pub enum Query {
    /// The risk picture now.
    Summary(oneshot::Sender<Summary>),
    /// The limits in force.
    Limits(oneshot::Sender<Limits>),
    /// Replace the limits (validated by the task; stored before it answers).
    SetLimits(Box<Limits>, oneshot::Sender<Result<Limits, AppError>>),
    /// Acknowledge an alert (stored before it answers).
    Acknowledge(String, oneshot::Sender<Result<Alert, AppError>>),
}

/// Where the API's questions go; cheap to clone.
#[derive(Clone)]
pub struct MonitorHandle {
    queries: mpsc::Sender<Query>,
    storage: Storage,
    events: broadcast::Sender<AlertChange>,
}

impl std::fmt::Debug for MonitorHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MonitorHandle").finish_non_exhaustive()
    }
}

fn gone() -> AppError {
    AppError::Unavailable("the risk monitor is not running (the instance is stopping)".to_owned())
}

fn storage_error(e: &tse_runtime::storage::StorageError) -> AppError {
    AppError::Unavailable(format!("the alert store is unavailable: {e}"))
}

/// Parses `alert-17` into 17.
pub fn alert_number(id: &str) -> Option<u64> {
    id.strip_prefix("alert-")?.parse().ok().filter(|n| *n > 0)
}

impl MonitorHandle {
    /// A handle whose questions arrive on the returned receiver; `events` is where the monitor
    /// task announces every alert change.
    pub fn new(
        backlog: usize,
        storage: Storage,
        events: broadcast::Sender<AlertChange>,
    ) -> (Self, mpsc::Receiver<Query>) {
        let (queries, rx) = mpsc::channel(backlog);
        (
            Self {
                queries,
                storage,
                events,
            },
            rx,
        )
    }

    async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Query) -> Result<T, AppError> {
        let (tx, rx) = oneshot::channel();
        self.queries.send(make(tx)).await.map_err(|_| gone())?;
        rx.await.map_err(|_| gone())
    }

    /// A page of alerts, newest first.
    ///
    /// # Errors
    /// [`AppError::Unavailable`] while storage is.
    pub async fn alerts(&self, filter: &AlertFilter) -> Result<AlertPage, AppError> {
        let limit = filter.limit.clamp(1, MAX_LIMIT);
        let mut alerts = repo::list_alerts(&self.storage, filter, limit + 1)
            .await
            .map_err(|e| storage_error(&e))?;
        let next_cursor = if alerts.len() > limit as usize {
            alerts.truncate(limit as usize);
            alerts
                .last()
                .and_then(|a| alert_number(&a.id))
                .map(|n| n.to_string())
        } else {
            None
        };
        Ok(AlertPage { alerts, next_cursor })
    }

    /// One alert.
    ///
    /// # Errors
    /// [`AppError::NotFound`], or [`AppError::Unavailable`] while storage is.
    pub async fn alert(&self, id: &str) -> Result<Alert, AppError> {
        repo::get_alert(&self.storage, id)
            .await
            .map_err(|e| storage_error(&e))?
            .ok_or_else(|| AppError::NotFound(format!("no alert {id}")))
    }

    /// Acknowledges an open alert.
    ///
    /// # Errors
    /// [`AppError::NotFound`], [`AppError::Conflict`] (resolved), [`AppError::Unavailable`].
    pub async fn acknowledge(&self, id: &str) -> Result<Alert, AppError> {
        self.ask(|tx| Query::Acknowledge(id.to_owned(), tx)).await?
    }

    /// The risk picture now.
    ///
    /// # Errors
    /// [`AppError::Unavailable`] while the monitor task is not running.
    pub async fn summary(&self) -> Result<Summary, AppError> {
        self.ask(Query::Summary).await
    }

    /// The limits in force.
    ///
    /// # Errors
    /// [`AppError::Unavailable`] while the monitor task is not running.
    pub async fn limits(&self) -> Result<Limits, AppError> {
        self.ask(Query::Limits).await
    }

    /// Replaces the limits.
    ///
    /// # Errors
    /// [`AppError::BadRequest`] with the reason if a limit is invalid (nothing changes);
    /// [`AppError::Unavailable`].
    pub async fn set_limits(&self, limits: Limits) -> Result<Limits, AppError> {
        self.ask(|tx| Query::SetLimits(Box::new(limits), tx)).await?
    }

    /// Every alert change from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<AlertChange> {
        self.events.subscribe()
    }
}
