//! The OpenAPI description of the production HTTP API ([`super::http`]); the host publishes it with
//! its own endpoints and the back door's at `GET /api/v1/openapi.json`.

use serde_json::json;
use tse_runtime::openapi::{
    OpenApi, decimal, json_answer, operation, param_with, path_param, schema_ref, symbol_stream, timestamp,
};

/// What every production call answers during the `outage` fault.
const OUTAGE: (u16, &str) = (503, "the feed is out (the outage fault)");

/// The market data paths and schemas.
pub fn description() -> OpenApi {
    let symbol = || path_param("symbol", "e.g. BTC-USD (any case)");
    OpenApi::new()
        .paths(json!({
            "/api/v1/symbols": {"get": operation(
                "Published symbols with their process and tick size", vec![], None,
                (200, json_answer("the symbols", json!({"type": "object", "properties": {
                    "symbols": {"type": "array", "items": schema_ref("Symbol")}}}))),
                &[OUTAGE],
            )},
            "/api/v1/prices": {"get": operation(
                "The latest price of every symbol", vec![], None,
                (200, json_answer("latest prices", json!({"type": "object", "properties": {
                    "prices": {"type": "array", "items": schema_ref("Price")}}}))),
                &[OUTAGE],
            )},
            "/api/v1/prices/{symbol}": {"get": operation(
                "The latest price of one symbol", vec![symbol()], None,
                (200, json_answer("the latest price", schema_ref("Price"))),
                &[(400, "not a symbol"), (404, "`unknown_symbol`"), OUTAGE],
            )},
            "/api/v1/candles/{symbol}": {"get": operation(
                "OHLC candles, newest last",
                vec![
                    symbol(),
                    param_with("interval", "query", "candle width (default 1m)",
                        json!({"enum": ["1s", "5s", "15s", "1m", "5m", "15m", "1h", "4h", "1d"]})),
                    param_with("limit", "query", "candles (default 100)",
                        json!({"type": "integer", "minimum": 1, "maximum": 1000})),
                ],
                None,
                (200, json_answer("candles", json!({"type": "object", "properties": {
                    "symbol": {"type": "string"}, "interval": {"type": "string"},
                    "candles": {"type": "array", "items": schema_ref("Candle")}}}))),
                &[(400, "bad interval or limit, or not a symbol"), (404, "`unknown_symbol`"), OUTAGE],
            )},
            "/api/v1/stream": {"get": symbol_stream(
                "Server-sent events `price` for every new price of the chosen symbols", "a Price", &[OUTAGE],
            )},
        }))
        .schemas(json!({
            "Symbol": {"type": "object", "properties": {
                "symbol": {"type": "string"}, "base": {"type": "string"}, "quote": {"type": "string"},
                "process": {"enum": ["gbm", "mean_reverting", "cross"]}, "tick_size": decimal(),
            }},
            "Price": {"type": "object", "properties": {
                "symbol": {"type": "string"}, "price": decimal(),
                "sequence": {"type": "integer", "minimum": 0}, "timestamp": timestamp(),
            }},
            "Candle": {"type": "object", "properties": {
                "open_time": timestamp(), "close_time": timestamp(),
                "open": decimal(), "high": decimal(), "low": decimal(), "close": decimal(),
                "ticks": {"type": "integer", "minimum": 0},
            }},
        }))
}
