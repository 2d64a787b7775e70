//! The production API: symbols, prices, candles, SSE and gRPC streams, and clear errors.

use std::{collections::BTreeMap, time::Duration};

use futures::StreamExt;
use tse_proto::marketdata::v1::{
    GetCandlesRequest, GetPriceRequest, ListSymbolsRequest, StreamPricesRequest,
};

use crate::support::{decimal, eventually, market, price};

#[tokio::test]
async fn prices_move_with_sequences_and_timestamps_on_the_simulated_clock() {
    let app = market("600", "").await;
    let (status, symbols) = app.get_json("/api/v1/symbols").await;
    assert_eq!(status, 200);
    let names: Vec<&str> = symbols["symbols"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["symbol"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "BTC-USD", "ETH-USD", "USDT-USD", "BTC-ETH", "ETH-USDT", "BTC-USDT"
        ]
    );
    assert_eq!(symbols["symbols"][3]["process"], "cross");
    assert_eq!(symbols["symbols"][2]["tick_size"], "0.0001");

    let first = eventually(Duration::from_secs(5), "a first price", || async {
        let (status, body) = app.get_json("/api/v1/prices/BTC-USD").await;
        (status == 200).then_some(body)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let later = price(&app, "btc-usd").await;
    assert!(later["sequence"].as_u64() > first["sequence"].as_u64());
    let t0 = time::OffsetDateTime::parse(
        first["timestamp"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let t1 = time::OffsetDateTime::parse(
        later["timestamp"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    // 300 ms of wall time at 600x is about 3 simulated minutes.
    let simulated = (t1 - t0).whole_seconds();
    assert!(
        (120..=400).contains(&simulated),
        "{simulated} simulated seconds passed"
    );

    let (_, all) = app.get_json("/api/v1/prices").await;
    let prices: BTreeMap<&str, f64> = all["prices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["symbol"].as_str().unwrap(), decimal(&p["price"])))
        .collect();
    assert_eq!(prices.len(), 6);
    let ratio = prices["BTC-USD"] / prices["ETH-USD"];
    assert!(
        (prices["BTC-ETH"] - ratio).abs() <= 0.00001,
        "cross {} vs legs {ratio}",
        prices["BTC-ETH"]
    );
}

#[tokio::test]
async fn once_ready_every_symbol_has_a_price() {
    // An hour of simulated time between ticks, on a real-time clock: the first prices must come at
    // the start, and readiness must wait for them.
    let app = market("1", "tick_interval = \"1h\"").await;
    eventually(Duration::from_secs(5), "ready", || async {
        (app.get("/api/v1/ready").await.status() == 200).then_some(())
    })
    .await;
    let (status, all) = app.get_json("/api/v1/prices").await;
    assert_eq!(status, 200);
    assert_eq!(all["prices"].as_array().unwrap().len(), 6, "{all}");
    let btc = price(&app, "BTC-USD").await;
    assert_eq!(btc["sequence"], 1, "{btc}");
    let (_, health) = app.get_json("/api/v1/health").await;
    assert_eq!(health["checks"]["prices"]["status"], "up", "{health}");
}

#[tokio::test]
async fn candles_cover_simulated_intervals_and_bad_queries_are_refused() {
    let app = market("3600", "").await;
    let candles = eventually(Duration::from_secs(10), "three 1m candles", || async {
        let (_, body) = app.get_json("/api/v1/candles/ETH-USD?interval=1m&limit=3").await;
        (body["candles"].as_array().map_or(0, Vec::len) == 3).then_some(body)
    })
    .await;
    assert_eq!(candles["interval"], "1m");
    for c in candles["candles"].as_array().unwrap() {
        let (open, high, low, close) = (
            decimal(&c["open"]),
            decimal(&c["high"]),
            decimal(&c["low"]),
            decimal(&c["close"]),
        );
        assert!(low <= open.min(close) && high >= open.max(close), "{c}");
        assert!(c["ticks"].as_u64().unwrap() >= 1);
    }
    let (status, hourly) = app.get_json("/api/v1/candles/ETH-USD?interval=1h").await;
    assert_eq!(status, 200);
    assert!(!hourly["candles"].as_array().unwrap().is_empty());

    for (path, status, code) in [
        ("/api/v1/candles/ETH-USD?interval=2m", 400, "invalid_interval"),
        ("/api/v1/candles/ETH-USD?limit=0", 400, "invalid_limit"),
        ("/api/v1/candles/ETH-USD?limit=1001", 400, "invalid_limit"),
        ("/api/v1/candles/ETH-USD?limit=ten", 400, "invalid_query"),
        ("/api/v1/candles/ETH-USD?colour=red", 400, "invalid_query"),
        ("/api/v1/candles/DOGE-USD", 404, "unknown_symbol"),
        ("/api/v1/prices/DOGE-USD", 404, "unknown_symbol"),
        ("/api/v1/prices/NOT_A_SYMBOL", 400, "invalid_symbol"),
        ("/api/v1/stream?symbols=BTC-USD,DOGE-USD", 404, "unknown_symbol"),
    ] {
        let (got, body) = app.get_json(path).await;
        assert_eq!(got, status, "{path}: {body}");
        assert_eq!(body["error"]["code"], code, "{path}");
        assert!(!body["error"]["message"].as_str().unwrap().is_empty());
    }
}

#[tokio::test]
async fn the_sse_stream_sends_every_new_price_of_the_chosen_symbols() {
    let app = market("600", "").await;
    let response = app
        .client
        .get(format!("{}/api/v1/stream?symbols=USDT-USD,BTC-ETH", app.http))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut body = response.bytes_stream();
    let mut text = String::new();
    while text.matches("event: price").count() < 20 {
        let chunk = tokio::time::timeout(Duration::from_secs(5), body.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    let events: Vec<serde_json::Value> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    assert!(
        events
            .iter()
            .all(|e| e["symbol"] == "USDT-USD" || e["symbol"] == "BTC-ETH")
    );
    let usdt: Vec<u64> = events
        .iter()
        .filter(|e| e["symbol"] == "USDT-USD")
        .map(|e| e["sequence"].as_u64().unwrap())
        .collect();
    assert!(
        usdt.windows(2).all(|w| w[1] == w[0] + 1),
        "consecutive sequences: {usdt:?}"
    );
}

#[tokio::test]
async fn grpc_serves_the_same_answers_and_streams() {
    let app = market("600", "").await;
    let client = app.market_data_client().await;
    let symbols = client.list_symbols(ListSymbolsRequest {}).await.unwrap();
    assert_eq!(symbols.symbols.len(), 6);
    eventually(Duration::from_secs(5), "a price", || {
        let client = client.clone();
        async move {
            client
                .get_price(GetPriceRequest {
                    symbol: "ETH-USD".into(),
                })
                .await
                .ok()
        }
    })
    .await;
    let unknown = client
        .get_price(GetPriceRequest {
            symbol: "DOGE-USD".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::NotFound);
    assert!(unknown.message().contains("unknown symbol DOGE-USD"));
    let bad = client
        .get_candles(GetCandlesRequest {
            symbol: "ETH-USD".into(),
            interval: "7m".into(),
            limit: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), tonic::Code::InvalidArgument);
    assert!(bad.message().contains("unknown interval '7m'"));

    let mut stream = client
        .stream_prices(StreamPricesRequest {
            symbols: vec!["BTC-USD".into()],
        })
        .await
        .unwrap();
    let mut sequences = Vec::new();
    while sequences.len() < 10 {
        let price = tokio::time::timeout(Duration::from_secs(5), stream.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(price.symbol, "BTC-USD");
        sequences.push(price.sequence);
    }
    assert!(sequences.windows(2).all(|w| w[1] == w[0] + 1), "{sequences:?}");
}

/// An open SSE subscription to BTC-USD prices.
async fn subscribe(app: &tse_testing::app::TestApp) -> reqwest::Response {
    app.client
        .get(format!("{}/api/v1/stream?symbols=BTC-USD", app.http))
        .send()
        .await
        .unwrap()
}

/// BTC-USD prices of the sequences in `window`, read from a subscription opened before it began.
async fn series(subscription: reqwest::Response, window: std::ops::Range<u64>) -> BTreeMap<u64, String> {
    let mut body = subscription.bytes_stream();
    let mut text = String::new();
    let mut seen = BTreeMap::new();
    while (seen.len() as u64) < window.end - window.start {
        let chunk = tokio::time::timeout(Duration::from_secs(10), body.next())
            .await
            .expect("a price within 10 s")
            .unwrap()
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
        // A partial last line waits for the next chunk.
        let complete = text.rfind('\n').map_or(0, |i| i + 1);
        for data in text[..complete].lines().filter_map(|l| l.strip_prefix("data: ")) {
            let event: serde_json::Value = serde_json::from_str(data).unwrap();
            let sequence = event["sequence"].as_u64().unwrap();
            if window.contains(&sequence) {
                seen.insert(sequence, event["price"].as_str().unwrap().to_owned());
            }
        }
        text.drain(..complete);
    }
    seen
}

#[tokio::test]
async fn the_same_seed_publishes_the_same_series_and_another_seed_another() {
    let a = market("1000", "seed = 7").await;
    let b = market("1000", "seed = 7").await;
    let c = market("1000", "seed = 8").await;
    // Each instance numbers its prices from its own start, so they are compared over one window of
    // sequence numbers that begins after every subscription is open, however far apart they started.
    let (sub_a, sub_b, sub_c) = (subscribe(&a).await, subscribe(&b).await, subscribe(&c).await);
    let mut from = 0;
    for app in [&a, &b, &c] {
        let now = eventually(Duration::from_secs(5), "a first price", || async {
            let (status, body) = app.get_json("/api/v1/prices/BTC-USD").await;
            (status == 200).then_some(body)
        })
        .await;
        from = from.max(now["sequence"].as_u64().unwrap());
    }
    let window = from + 200..from + 400;
    let (sa, sb, sc) = tokio::join!(
        series(sub_a, window.clone()),
        series(sub_b, window.clone()),
        series(sub_c, window.clone())
    );
    assert_eq!(sa.len(), 200);
    assert_eq!(sa, sb, "the same seed, the same series");
    let differing = window.filter(|k| sa[k] != sc[k]).count();
    assert!(
        differing >= 180,
        "another seed, another series ({differing} of 200 differ)"
    );
}

#[tokio::test]
async fn the_openapi_document_describes_every_route_and_fault_kind() {
    let app = market("60", "").await;
    let doc = app.assert_openapi_routed(Some(crate::support::TOKEN)).await;
    for path in [
        "/api/v1/symbols",
        "/api/v1/prices/{symbol}",
        "/api/v1/candles/{symbol}",
        "/api/v1/stream",
    ] {
        assert!(doc["paths"][path]["get"].is_object(), "{path} is described");
    }
    assert_eq!(
        doc["components"]["schemas"]["FaultRequest"]["properties"]["kind"]["enum"],
        serde_json::json!(["price_shock", "depeg", "stale_feed", "divergence", "outage"])
    );
    // Symbols in paths are the published ones; stream events carry a price as JSON data.
    let symbol = &doc["paths"]["/api/v1/prices/{symbol}"]["get"]["parameters"][0]["schema"]["enum"];
    assert!(
        symbol.as_array().unwrap().contains(&serde_json::json!("BTC-USD")),
        "{symbol}"
    );
    assert!(
        symbol.as_array().unwrap().contains(&serde_json::json!("btc-usd")),
        "{symbol}"
    );
    let event = &doc["paths"]["/api/v1/stream"]["get"]["responses"]["200"]["content"]["text/event-stream"]["schema"]
        ["oneOf"][0];
    assert_eq!(event["properties"]["event"]["const"], "price");
    assert_eq!(
        event["properties"]["data"]["contentSchema"]["required"],
        serde_json::json!(["symbol", "price", "sequence", "timestamp"])
    );
    // A fault's params: depeg needs its deviation, within the parser's range and not 0.
    let kinds = doc["components"]["schemas"]["FaultRequest"]["oneOf"]
        .as_array()
        .unwrap();
    let depeg = kinds
        .iter()
        .find(|k| k["properties"]["kind"]["const"] == "depeg")
        .unwrap();
    let deviation = &depeg["properties"]["params"]["properties"]["deviation"];
    assert_eq!(
        (&deviation["minimum"], &deviation["maximum"]),
        (&serde_json::json!(-90.0), &serde_json::json!(90.0))
    );
    assert_eq!(depeg["required"], serde_json::json!(["kind", "params"]));
}
