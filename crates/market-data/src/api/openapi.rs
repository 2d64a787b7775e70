//! The OpenAPI description of the production HTTP API ([`super::http`]); the host publishes it with
//! its own endpoints and the back door's at `GET /api/v1/openapi.json`.

use serde_json::{Value, json};
use tse_runtime::openapi::{
    OpenApi, decimal, event_stream, json_answer, names_any_case, operation, param_with, schema_ref,
    symbols_query, timestamp,
};

use crate::domain::symbol::SymbolSpec;

/// What every production call answers during the `outage` fault.
const OUTAGE: (u16, &str) = (503, "the feed is out (the outage fault)");

/// A price as answers and the stream's `price` events carry it.
fn price() -> Value {
    json!({"type": "object", "required": ["symbol", "price", "sequence", "timestamp"], "properties": {
        "symbol": {"type": "string"}, "price": decimal(),
        "sequence": {"type": "integer", "minimum": 0}, "timestamp": timestamp(),
    }})
}

/// The market data paths and schemas of an instance publishing `specs`: symbols in paths and
/// queries are the published ones (any case).
pub fn description(specs: &[SymbolSpec]) -> OpenApi {
    let names: Vec<&str> = specs.iter().map(|s| s.symbol.as_str()).collect();
    let one_of = names_any_case(&names);
    let symbol = || {
        param_with(
            "symbol",
            "path",
            "a published symbol, e.g. BTC-USD (any case)",
            one_of.clone(),
        )
    };
    let chosen = symbols_query(
        &one_of,
        "published symbols, comma-separated (any case); default all",
    );
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
                &[(400, "not a symbol"), (404, "`unknown_symbol`"), (503, "the feed is out (the outage fault), or no price yet just after start")],
            )},
            "/api/v1/candles/{symbol}": {"get": operation(
                "OHLC candles, newest last",
                vec![
                    symbol(),
                    param_with("interval", "query", "candle width (default 1m)",
                        json!({"enum": ["", "1s", "5s", "15s", "1m", "5m", "15m", "1h", "4h", "1d"]})),
                    param_with("limit", "query", "candles (default 100)",
                        json!({"type": "integer", "minimum": 1, "maximum": 1000})),
                ],
                None,
                (200, json_answer("candles", json!({"type": "object", "properties": {
                    "symbol": {"type": "string"}, "interval": {"type": "string"},
                    "candles": {"type": "array", "items": schema_ref("Candle")}}}))),
                &[(400, "bad interval or limit, or not a symbol"), (404, "`unknown_symbol`"), OUTAGE],
            )},
            "/api/v1/stream": {"get": event_stream(
                "Server-sent events `price` for every new price of the chosen symbols",
                vec![chosen], &[("price", price())], &[(400, "an unknown symbol"), OUTAGE],
            )},
        }))
        .schemas(json!({
            "Symbol": {"type": "object", "properties": {
                "symbol": {"type": "string"}, "base": {"type": "string"}, "quote": {"type": "string"},
                "process": {"enum": ["gbm", "mean_reverting", "cross"]}, "tick_size": decimal(),
            }},
            "Price": price(),
            "Candle": {"type": "object", "properties": {
                "open_time": timestamp(), "close_time": timestamp(),
                "open": decimal(), "high": decimal(), "low": decimal(), "close": decimal(),
                "ticks": {"type": "integer", "minimum": 0},
            }},
        }))
}
