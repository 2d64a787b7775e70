//! The production API, over HTTP JSON ([`http`], described in [`openapi`]) and gRPC ([`grpc`]),
//! with the same rules for both: a strategy name is read here once into a [`StrategyName`], every
//! question goes to the desk task through its [`DeskHandle`], and every refusal is an [`ApiError`].
//!
//! | error code | HTTP | gRPC | when |
//! |---|---|---|---|
//! | `invalid_strategy_name` | 400 | `INVALID_ARGUMENT` | the name is not 1 to 32 of `a-z 0-9 _ -` starting with a letter |
//! | `unknown_strategy` | 404 | `NOT_FOUND` | the desk has no strategy of that name |
//! | `strategy_conflict` | 409 | `FAILED_PRECONDITION` | the strategy's state refuses it (a chaos strategy started by hand: only its fault starts it) |
//! | `desk_unavailable` | 503 | `UNAVAILABLE` | the desk task is not running, or the instance is stopping |

pub mod grpc;
pub mod http;
pub mod openapi;

use std::future::Future;

use tokio_util::sync::CancellationToken;
use tse_runtime::api::ApiError;

use crate::app::{
    handle::{AppError, DeskHandle},
    views::{HaltView, PnlView, PositionsView, StrategyView},
};

/// Longest strategy name.
pub const MAX_NAME: usize = 32;

/// What both API faces work with.
#[derive(Clone, Debug)]
pub struct Api {
    /// Where questions for the desk go.
    pub desk: DeskHandle,
    /// Cancelled when the instance starts draining: a question still waiting is answered 503.
    pub draining: CancellationToken,
}

/// A strategy name as the desk knows them: 1 to [`MAX_NAME`] of `a-z 0-9 _ -`, starting with a
/// letter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StrategyName(String);

impl StrategyName {
    /// Reads a name as a request gives it (nothing trimmed).
    ///
    /// # Errors
    /// `invalid_strategy_name`, saying what is wrong.
    pub fn parse(text: &str) -> Result<Self, ApiError> {
        let invalid = |why: String| ApiError::bad_request("invalid_strategy_name", why);
        let length = text.chars().count();
        if length > MAX_NAME {
            return Err(invalid(format!(
                "a strategy name has at most {MAX_NAME} characters, got {length}"
            )));
        }
        let mut chars = text.chars();
        let starts_with_letter = chars.next().is_some_and(|c| c.is_ascii_lowercase());
        let rest_allowed =
            chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
        if !(starts_with_letter && rest_allowed) {
            return Err(invalid(format!(
                "strategy name '{}' is not valid: 1 to {MAX_NAME} of a-z 0-9 _ -, starting with a letter",
                text.escape_debug()
            )));
        }
        Ok(Self(text.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The API error of a desk's refusal.
pub fn error(e: AppError) -> ApiError {
    match e {
        AppError::NotFound(message) => ApiError::not_found("unknown_strategy", message),
        AppError::Conflict(message) => {
            ApiError::conflict("strategy_conflict", message).with_grpc_code(tonic::Code::FailedPrecondition)
        }
        AppError::Unavailable(message) => ApiError::unavailable("desk_unavailable", message),
    }
}

/// What a question still waiting when the instance stops is answered.
fn stopping() -> ApiError {
    ApiError::unavailable(
        "desk_unavailable",
        "the trading system is stopping; try again on its restart",
    )
}

impl Api {
    /// The API of the desk behind `desk`; `draining` is the instance's.
    pub fn new(desk: DeskHandle, draining: CancellationToken) -> Self {
        Self { desk, draining }
    }

    /// Waits for the desk's answer, unless the instance starts draining first.
    async fn ask<T>(&self, answer: impl Future<Output = Result<T, AppError>>) -> Result<T, ApiError> {
        tokio::select! {
            biased;
            answer = answer => answer.map_err(error),
            () = self.draining.cancelled() => Err(stopping()),
        }
    }

    /// Every strategy.
    ///
    /// # Errors
    /// `desk_unavailable`.
    pub async fn strategies(&self) -> Result<Vec<StrategyView>, ApiError> {
        self.ask(self.desk.strategies()).await
    }

    /// One strategy.
    ///
    /// # Errors
    /// `invalid_strategy_name`, `unknown_strategy`, `desk_unavailable`.
    pub async fn strategy(&self, name: &str) -> Result<StrategyView, ApiError> {
        let name = StrategyName::parse(name)?;
        self.ask(self.desk.strategy(name.as_str())).await
    }

    /// Starts one strategy.
    ///
    /// # Errors
    /// `invalid_strategy_name`, `unknown_strategy`, `strategy_conflict`, `desk_unavailable`.
    pub async fn start(&self, name: &str) -> Result<StrategyView, ApiError> {
        let name = StrategyName::parse(name)?;
        self.ask(self.desk.start(name.as_str())).await
    }

    /// Stops one strategy and cancels its open orders.
    ///
    /// # Errors
    /// `invalid_strategy_name`, `unknown_strategy`, `desk_unavailable`.
    pub async fn stop(&self, name: &str) -> Result<StrategyView, ApiError> {
        let name = StrategyName::parse(name)?;
        self.ask(self.desk.stop(name.as_str())).await
    }

    /// The desk's positions.
    ///
    /// # Errors
    /// `desk_unavailable`.
    pub async fn positions(&self) -> Result<PositionsView, ApiError> {
        self.ask(self.desk.positions()).await
    }

    /// The desk's P&L.
    ///
    /// # Errors
    /// `desk_unavailable`.
    pub async fn pnl(&self) -> Result<PnlView, ApiError> {
        self.ask(self.desk.pnl()).await
    }

    /// The kill switch: cancels every open order and halts every strategy.
    ///
    /// # Errors
    /// `desk_unavailable`.
    pub async fn halt(&self) -> Result<HaltView, ApiError> {
        self.ask(self.desk.halt()).await
    }
}

/// A desk task answering from fixed views, for the API's tests: `market_making` (RUNNING) and the
/// chaos strategy `runaway` (STOPPED), which refuses to start by hand.
#[cfg(test)]
pub(crate) mod test_desk {
    use std::collections::BTreeMap;

    use rust_decimal::Decimal;
    use tokio::sync::mpsc;

    use super::Api;
    use crate::app::{
        handle::{AppError, DeskHandle, Query},
        views::{HaltView, PnlView, PositionView, PositionsView, StrategyPnl, StrategyView},
    };

    fn d(text: &str) -> Decimal {
        text.parse().expect("a decimal")
    }

    fn view(name: &str, kind: &'static str, status: &'static str) -> StrategyView {
        StrategyView {
            name: name.to_owned(),
            kind,
            status,
            origin: "settings",
            fault_id: None,
            exchanges: vec!["exchange-OKX".to_owned()],
            symbols: vec!["BTC-USD".to_owned()],
            positions: BTreeMap::from([("BTC".to_owned(), d("0.5")), ("USD".to_owned(), d("-25010.5"))]),
            realized_pnl_usd: d("12.5"),
            unrealized_pnl_usd: d("-2.25"),
            pnl_usd: d("10.25"),
            orders_submitted: 40,
            orders_rejected: 3,
            rejected_by_reason: BTreeMap::from([("max_position".to_owned(), 2), ("rejected".to_owned(), 1)]),
            open_orders: 2,
            max_position: d("2"),
            max_order_size: d("0.1"),
            params: serde_json::json!({"spread_bps": 20}),
        }
    }

    /// The two strategies as the desk shows them before anything is asked.
    pub(crate) fn strategies() -> Vec<StrategyView> {
        vec![
            view("market_making", "market_making", "RUNNING"),
            view("runaway", "runaway", "STOPPED"),
        ]
    }

    /// The desk's positions.
    pub(crate) fn positions() -> PositionsView {
        PositionsView {
            assets: BTreeMap::from([("BTC".to_owned(), d("0.5")), ("USD".to_owned(), d("-25010.5"))]),
            positions: vec![PositionView {
                strategy: "market_making".to_owned(),
                symbol: "BTC-USD".to_owned(),
                quantity: d("0.5"),
                average_cost: d("50000"),
                mark: None,
                realized_pnl: d("12.5"),
                unrealized_pnl: d("0"),
                fees: d("0.5"),
                quote: "USD".to_owned(),
                realized_pnl_usd: d("12.5"),
                unrealized_pnl_usd: d("0"),
                fills: 7,
            }],
        }
    }

    /// The desk's P&L.
    pub(crate) fn pnl() -> PnlView {
        let one = StrategyPnl {
            strategy: "market_making".to_owned(),
            realized_usd: d("12.5"),
            unrealized_usd: d("-2.25"),
            total_usd: d("10.25"),
            fees_usd: d("0.5"),
        };
        PnlView {
            realized_usd: d("12.5"),
            unrealized_usd: d("-2.25"),
            total_usd: d("10.25"),
            fees_usd: d("0.5"),
            strategies: vec![one],
        }
    }

    fn find<'a>(all: &'a mut [StrategyView], name: &str) -> Result<&'a mut StrategyView, AppError> {
        all.iter_mut()
            .find(|s| s.name == name)
            .ok_or_else(|| AppError::NotFound(format!("no strategy is named '{name}'")))
    }

    /// Answers `queries` until every handle is gone: start and stop change the status, the kill
    /// switch halts what runs.
    async fn answer(mut queries: mpsc::Receiver<Query>) {
        let mut all = strategies();
        while let Some(query) = queries.recv().await {
            // A send fails only when the asker gave up; nothing to do then.
            match query {
                Query::Strategies(tx) => drop(tx.send(all.clone())),
                Query::Strategy(name, tx) => drop(tx.send(find(&mut all, &name).map(|s| s.clone()))),
                Query::Start(name, tx) => {
                    let started = find(&mut all, &name).and_then(|s| {
                        if s.kind == "runaway" {
                            return Err(AppError::Conflict(format!(
                                "{name} is a chaos strategy (runaway); it runs while a runaway fault is injected"
                            )));
                        }
                        s.status = "RUNNING";
                        Ok(s.clone())
                    });
                    drop(tx.send(started));
                }
                Query::Stop(name, tx) => {
                    let stopped = find(&mut all, &name).map(|s| {
                        s.status = "STOPPED";
                        s.clone()
                    });
                    drop(tx.send(stopped));
                }
                Query::Positions(tx) => drop(tx.send(positions())),
                Query::Pnl(tx) => drop(tx.send(pnl())),
                Query::Halt(tx) => {
                    let mut halted = Vec::new();
                    for s in all.iter_mut().filter(|s| s.status == "RUNNING") {
                        s.status = "HALTED";
                        halted.push(s.name.clone());
                    }
                    drop(tx.send(HaltView {
                        halted,
                        cancels_sent: 2,
                    }));
                }
            }
        }
    }

    /// An API over a running test desk.
    pub(crate) fn api() -> Api {
        let (desk, queries) = DeskHandle::new(16);
        tokio::spawn(answer(queries));
        Api::new(desk, tokio_util::sync::CancellationToken::new())
    }

    /// An API whose desk task is gone (its receiver dropped).
    pub(crate) fn gone() -> Api {
        let (desk, queries) = DeskHandle::new(16);
        drop(queries);
        Api::new(desk, tokio_util::sync::CancellationToken::new())
    }

    /// An API whose desk never answers, for what draining does to a waiting question.
    pub(crate) fn silent() -> (Api, mpsc::Receiver<Query>) {
        let (desk, queries) = DeskHandle::new(16);
        (
            Api::new(desk, tokio_util::sync::CancellationToken::new()),
            queries,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strategy_names_are_read_once_by_the_desks_rule() {
        for good in ["a", "market_making", "mm-2", "x1_y-z", &"a".repeat(MAX_NAME)] {
            assert_eq!(StrategyName::parse(good).map(|n| n.0), Ok(good.to_owned()));
        }
        for bad in [
            "",
            "Bad Name!",
            "1abc",
            "_mm",
            "-mm",
            "MM",
            "mm.2",
            " mm",
            "mm\n",
            "é",
        ] {
            let e = StrategyName::parse(bad).unwrap_err();
            assert_eq!(e.code(), "invalid_strategy_name", "{bad:?}");
            assert!(
                e.message().contains("starting with a letter"),
                "{bad:?}: {}",
                e.message()
            );
        }
        let long = StrategyName::parse(&"a".repeat(MAX_NAME + 1)).unwrap_err();
        assert_eq!(
            long.message(),
            "a strategy name has at most 32 characters, got 33"
        );
        let shown = StrategyName::parse("mm\n").unwrap_err();
        assert!(
            shown.message().contains("'mm\\n'"),
            "control characters escaped: {}",
            shown.message()
        );
    }

    #[test]
    fn desk_refusals_carry_their_statuses_and_messages() {
        let cases = [
            (
                AppError::NotFound("no strategy x".into()),
                404,
                tonic::Code::NotFound,
                "unknown_strategy",
            ),
            (
                AppError::Conflict("chaos".into()),
                409,
                tonic::Code::FailedPrecondition,
                "strategy_conflict",
            ),
            (
                AppError::Unavailable("gone".into()),
                503,
                tonic::Code::Unavailable,
                "desk_unavailable",
            ),
        ];
        for (e, status, grpc, code) in cases {
            let message = e.to_string();
            let api = error(e);
            assert_eq!(
                (api.status().as_u16(), api.grpc_code(), api.code()),
                (status, grpc, code)
            );
            assert_eq!(api.message(), message);
        }
    }

    #[tokio::test]
    async fn a_question_still_waiting_when_the_instance_drains_is_answered_at_once() {
        let (api, _queries) = test_desk::silent();
        let waiting = tokio::spawn({
            let api = api.clone();
            async move { api.pnl().await }
        });
        tokio::task::yield_now().await;
        api.draining.cancel();
        let e = tokio::time::timeout(std::time::Duration::from_secs(5), waiting)
            .await
            .expect("answered without the desk")
            .expect("the task ran")
            .unwrap_err();
        assert_eq!((e.status().as_u16(), e.code()), (503, "desk_unavailable"));
        assert!(e.message().contains("stopping"), "{}", e.message());
    }
}
