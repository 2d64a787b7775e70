//! Load driver: N subscribers on a market data SSE stream for a while; prints events received per
//! second in total and per subscriber, and the sequence gaps (missed prices) seen.
//!
//! ```sh
//! cargo run --release -p tse-market-data --example sse_fanout -- http://127.0.0.1:8085 100 10
//! ```

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use futures::StreamExt;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let base = args.next().unwrap_or_else(|| "http://127.0.0.1:8085".into());
    let subscribers: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(100);
    let seconds: u64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(10);
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let tasks: Vec<_> = (0..subscribers)
        .map(|_| {
            let client = client.clone();
            let url = format!("{base}/api/v1/stream");
            tokio::spawn(async move {
                let mut events = 0u64;
                let mut gaps = 0u64;
                let mut last: BTreeMap<String, u64> = BTreeMap::new();
                let Ok(response) = client.get(url).send().await else {
                    return (0, 0);
                };
                let mut body = response.bytes_stream();
                let mut pending = String::new();
                while let Ok(Some(Ok(chunk))) =
                    tokio::time::timeout(deadline.saturating_duration_since(Instant::now()), body.next())
                        .await
                {
                    pending.push_str(&String::from_utf8_lossy(&chunk));
                    while let Some(end) = pending.find("\n\n") {
                        let event: String = pending.drain(..end + 2).collect();
                        let Some(data) = event.lines().find_map(|l| l.strip_prefix("data: ")) else {
                            continue;
                        };
                        let Ok(json) = serde_json::from_str::<serde_json::Value>(data) else {
                            continue;
                        };
                        events += 1;
                        let symbol = json["symbol"].as_str().unwrap_or("").to_owned();
                        let sequence = json["sequence"].as_u64().unwrap_or(0);
                        if let Some(previous) = last.insert(symbol, sequence) {
                            gaps += sequence.saturating_sub(previous + 1);
                        }
                    }
                }
                (events, gaps)
            })
        })
        .collect();
    let started = Instant::now();
    let mut per_subscriber = Vec::with_capacity(subscribers);
    let mut gaps = 0;
    for task in tasks {
        let (events, missed) = task.await?;
        per_subscriber.push(events);
        gaps += missed;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let total: u64 = per_subscriber.iter().sum();
    per_subscriber.sort_unstable();
    println!(
        "{subscribers} subscribers, {elapsed:.1} s: {total} events, {:.0} events/s delivered in total, \
         per subscriber min {} / median {} / max {} events, {gaps} prices missed",
        total as f64 / elapsed,
        per_subscriber.first().unwrap_or(&0),
        per_subscriber[per_subscriber.len() / 2],
        per_subscriber.last().unwrap_or(&0),
    );
    Ok(())
}
