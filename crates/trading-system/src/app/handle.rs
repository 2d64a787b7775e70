//! The desk's handle: what the API (and the fault follower) ask the desk task, each question
//! answered once the desk has acted on it.

use tokio::sync::{mpsc, oneshot};

use super::views::{HaltView, PnlView, PositionsView, StrategyView};

/// Why the desk did not do what was asked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AppError {
    /// No strategy has that name (404).
    #[error("{0}")]
    NotFound(String),
    /// It cannot be done in the strategy's state (409).
    #[error("{0}")]
    Conflict(String),
    /// The desk is not running (503).
    #[error("{0}")]
    Unavailable(String),
}

/// A question for the desk task.
#[derive(Debug)]
pub enum Query {
    /// Every strategy.
    Strategies(oneshot::Sender<Vec<StrategyView>>),
    /// One strategy.
    Strategy(String, oneshot::Sender<Result<StrategyView, AppError>>),
    /// Start one strategy.
    Start(String, oneshot::Sender<Result<StrategyView, AppError>>),
    /// Stop one strategy (its open orders are cancelled).
    Stop(String, oneshot::Sender<Result<StrategyView, AppError>>),
    /// The desk's positions.
    Positions(oneshot::Sender<PositionsView>),
    /// The desk's P&L.
    Pnl(oneshot::Sender<PnlView>),
    /// The kill switch.
    Halt(oneshot::Sender<HaltView>),
}

/// Where questions for the desk go; cheap to clone.
#[derive(Clone, Debug)]
pub struct DeskHandle {
    queries: mpsc::Sender<Query>,
}

/// The answer when the desk task is gone.
fn gone() -> AppError {
    AppError::Unavailable("the trading desk is not running (the instance is stopping)".to_owned())
}

impl DeskHandle {
    /// A handle whose questions arrive on the returned receiver.
    pub fn new(backlog: usize) -> (Self, mpsc::Receiver<Query>) {
        let (queries, rx) = mpsc::channel(backlog);
        (Self { queries }, rx)
    }

    async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Query) -> Result<T, AppError> {
        let (tx, rx) = oneshot::channel();
        self.queries.send(make(tx)).await.map_err(|_| gone())?;
        rx.await.map_err(|_| gone())
    }

    /// Every strategy.
    ///
    /// # Errors
    /// [`AppError::Unavailable`] when the desk is gone.
    pub async fn strategies(&self) -> Result<Vec<StrategyView>, AppError> {
        self.ask(Query::Strategies).await
    }

    /// One strategy.
    ///
    /// # Errors
    /// [`AppError::NotFound`], or [`AppError::Unavailable`] when the desk is gone.
    pub async fn strategy(&self, name: &str) -> Result<StrategyView, AppError> {
        self.ask(|tx| Query::Strategy(name.to_owned(), tx)).await?
    }

    /// Starts one strategy.
    ///
    /// # Errors
    /// [`AppError::NotFound`], [`AppError::Conflict`] (a chaos strategy), [`AppError::Unavailable`].
    pub async fn start(&self, name: &str) -> Result<StrategyView, AppError> {
        self.ask(|tx| Query::Start(name.to_owned(), tx)).await?
    }

    /// Stops one strategy and cancels its open orders.
    ///
    /// # Errors
    /// [`AppError::NotFound`], [`AppError::Unavailable`].
    pub async fn stop(&self, name: &str) -> Result<StrategyView, AppError> {
        self.ask(|tx| Query::Stop(name.to_owned(), tx)).await?
    }

    /// The desk's positions.
    ///
    /// # Errors
    /// [`AppError::Unavailable`] when the desk is gone.
    pub async fn positions(&self) -> Result<PositionsView, AppError> {
        self.ask(Query::Positions).await
    }

    /// The desk's P&L.
    ///
    /// # Errors
    /// [`AppError::Unavailable`] when the desk is gone.
    pub async fn pnl(&self) -> Result<PnlView, AppError> {
        self.ask(Query::Pnl).await
    }

    /// The kill switch: cancels every open order and stops every strategy.
    ///
    /// # Errors
    /// [`AppError::Unavailable`] when the desk is gone.
    pub async fn halt(&self) -> Result<HaltView, AppError> {
        self.ask(Query::Halt).await
    }
}
