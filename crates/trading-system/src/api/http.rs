//! The production HTTP API:
//!
//! | route | does |
//! |---|---|
//! | `GET /api/v1/strategies` | every strategy: `{strategies}` |
//! | `GET /api/v1/strategies/{name}` | one strategy |
//! | `POST /api/v1/strategies/{name}/start` | starts it (RUNNING); answers the strategy |
//! | `POST /api/v1/strategies/{name}/stop` | stops it (STOPPED) and cancels its open orders; answers the strategy |
//! | `GET /api/v1/positions` | what the fills changed per asset, and every strategy's position per symbol: `{assets, positions}` |
//! | `GET /api/v1/pnl` | the desk's P&L in USD, and each strategy's |
//! | `POST /api/v1/halt` | the kill switch: cancels every open order, halts every strategy: `{halted, cancels_sent}` |
//!
//! The POST routes take no body (one sent is ignored).

use axum::{
    Json, Router,
    extract::{Path, State},
    response::IntoResponse,
    routing::{get, post},
};
use serde_json::json;
use tse_runtime::api::ApiError;

use super::Api;

/// The production routes.
pub fn router(api: Api) -> Router {
    Router::new()
        .route("/api/v1/strategies", get(strategies))
        .route("/api/v1/strategies/{name}", get(strategy))
        .route("/api/v1/strategies/{name}/start", post(start))
        .route("/api/v1/strategies/{name}/stop", post(stop))
        .route("/api/v1/positions", get(positions))
        .route("/api/v1/pnl", get(pnl))
        .route("/api/v1/halt", post(halt))
        .with_state(api)
}

async fn strategies(State(api): State<Api>) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(json!({ "strategies": api.strategies().await? })))
}

async fn strategy(State(api): State<Api>, Path(name): Path<String>) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(api.strategy(&name).await?))
}

async fn start(State(api): State<Api>, Path(name): Path<String>) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(api.start(&name).await?))
}

async fn stop(State(api): State<Api>, Path(name): Path<String>) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(api.stop(&name).await?))
}

async fn positions(State(api): State<Api>) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(api.positions().await?))
}

async fn pnl(State(api): State<Api>) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(api.pnl().await?))
}

async fn halt(State(api): State<Api>) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(api.halt().await?))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::api::test_desk;

    /// Serves `router(api)` on a free port; returns its base URL.
    async fn serve(api: Api) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router(api)).await });
        url
    }

    async fn call(url: &str, method: &str, path: &str) -> (u16, Value) {
        let client = reqwest::Client::new();
        let request = match method {
            "GET" => client.get(format!("{url}{path}")),
            "POST" => client.post(format!("{url}{path}")),
            other => panic!("unexpected method {other}"),
        };
        let response = request.send().await.expect("answered");
        let status = response.status().as_u16();
        let body = response.json().await.expect("a JSON body");
        (status, body)
    }

    fn error(body: &Value) -> (&str, &str) {
        (
            body["error"]["code"].as_str().unwrap_or_default(),
            body["error"]["message"].as_str().unwrap_or_default(),
        )
    }

    #[tokio::test]
    async fn every_route_answers_the_desks_views_as_json() {
        let url = serve(test_desk::api()).await;
        let (status, body) = call(&url, "GET", "/api/v1/strategies").await;
        assert_eq!(status, 200, "{body}");
        let expected = serde_json::to_value(test_desk::strategies()).unwrap();
        assert_eq!(body, json!({ "strategies": expected }));
        let mm = &body["strategies"][0];
        assert_eq!(
            (&mm["name"], &mm["status"], &mm["kind"]),
            (
                &json!("market_making"),
                &json!("RUNNING"),
                &json!("market_making")
            )
        );
        // Decimals are strings; counts are numbers.
        assert_eq!(mm["positions"], json!({"BTC": "0.5", "USD": "-25010.5"}));
        assert_eq!(mm["pnl_usd"], "10.25");
        assert_eq!(mm["orders_submitted"], 40);
        assert_eq!(
            mm["rejected_by_reason"],
            json!({"max_position": 2, "rejected": 1})
        );

        let (status, body) = call(&url, "GET", "/api/v1/strategies/runaway").await;
        assert_eq!((status, &body["status"]), (200, &json!("STOPPED")), "{body}");
        assert_eq!(body["fault_id"], Value::Null);

        let (status, body) = call(&url, "POST", "/api/v1/strategies/market_making/stop").await;
        assert_eq!((status, &body["status"]), (200, &json!("STOPPED")), "{body}");
        let (_, body) = call(&url, "GET", "/api/v1/strategies/market_making").await;
        assert_eq!(body["status"], "STOPPED", "the stop holds: {body}");
        let (status, body) = call(&url, "POST", "/api/v1/strategies/market_making/start").await;
        assert_eq!((status, &body["status"]), (200, &json!("RUNNING")), "{body}");

        let (status, body) = call(&url, "GET", "/api/v1/positions").await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body, serde_json::to_value(test_desk::positions()).unwrap());
        assert_eq!(body["positions"][0]["mark"], Value::Null);
        assert_eq!(body["positions"][0]["average_cost"], "50000");

        let (status, body) = call(&url, "GET", "/api/v1/pnl").await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body, serde_json::to_value(test_desk::pnl()).unwrap());

        let (status, body) = call(&url, "POST", "/api/v1/halt").await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body, json!({"halted": ["market_making"], "cancels_sent": 2}));
        let (_, body) = call(&url, "GET", "/api/v1/strategies/market_making").await;
        assert_eq!(body["status"], "HALTED", "{body}");
    }

    #[tokio::test]
    async fn bad_names_unknown_strategies_and_conflicts_are_4xx_with_a_reason() {
        let url = serve(test_desk::api()).await;
        let long = "a".repeat(33);
        for method_path in [
            ("GET", "/api/v1/strategies/Bad%20Name!".to_owned()),
            ("POST", "/api/v1/strategies/Bad%20Name!/start".to_owned()),
            ("POST", "/api/v1/strategies/Bad%20Name!/stop".to_owned()),
            ("GET", format!("/api/v1/strategies/{long}")),
            ("POST", format!("/api/v1/strategies/{long}/start")),
        ] {
            let (method, path) = method_path;
            let (status, body) = call(&url, method, &path).await;
            assert_eq!(
                (status, error(&body).0),
                (400, "invalid_strategy_name"),
                "{path}: {body}"
            );
        }
        let (_, body) = call(&url, "GET", "/api/v1/strategies/Bad%20Name!").await;
        assert_eq!(
            error(&body).1,
            "strategy name 'Bad Name!' is not valid: 1 to 32 of a-z 0-9 _ -, starting with a letter"
        );
        let (_, body) = call(&url, "GET", &format!("/api/v1/strategies/{long}")).await;
        assert_eq!(
            error(&body).1,
            "a strategy name has at most 32 characters, got 33"
        );

        for (method, path) in [
            ("GET", "/api/v1/strategies/nope"),
            ("POST", "/api/v1/strategies/nope/start"),
            ("POST", "/api/v1/strategies/nope/stop"),
        ] {
            let (status, body) = call(&url, method, path).await;
            assert_eq!(
                (status, error(&body)),
                (404, ("unknown_strategy", "no strategy is named 'nope'")),
                "{path}"
            );
        }

        let (status, body) = call(&url, "POST", "/api/v1/strategies/runaway/start").await;
        assert_eq!((status, error(&body).0), (409, "strategy_conflict"), "{body}");
        assert!(error(&body).1.contains("chaos strategy"), "{body}");
        let (_, body) = call(&url, "GET", "/api/v1/strategies/runaway").await;
        assert_eq!(
            body["status"], "STOPPED",
            "a refused start changes nothing: {body}"
        );
    }

    #[tokio::test]
    async fn every_route_is_503_when_the_desk_is_gone() {
        let url = serve(test_desk::gone()).await;
        for (method, path) in [
            ("GET", "/api/v1/strategies"),
            ("GET", "/api/v1/strategies/market_making"),
            ("POST", "/api/v1/strategies/market_making/start"),
            ("POST", "/api/v1/strategies/market_making/stop"),
            ("GET", "/api/v1/positions"),
            ("GET", "/api/v1/pnl"),
            ("POST", "/api/v1/halt"),
        ] {
            let (status, body) = call(&url, method, path).await;
            assert_eq!(
                (status, error(&body)),
                (
                    503,
                    (
                        "desk_unavailable",
                        "the trading desk is not running (the instance is stopping)"
                    )
                ),
                "{method} {path}"
            );
        }
        // A bad name is still the caller's to fix.
        let (status, _) = call(&url, "GET", "/api/v1/strategies/Bad%20Name!").await;
        assert_eq!(status, 400);
    }
}
