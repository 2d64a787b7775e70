//! Load driver: how many orders a second the desk sends to an exchange, and how long an order takes
//! from the event that triggered it to the exchange's acknowledgement.
//!
//! It runs, in this process on embedded storage, a market data instance, an exchange (with its
//! liquidity provider) and a trading desk funded there, then injects a `runaway` fault — the chaos
//! strategy that spams post-only orders — at `--rate` orders per simulated second for `--seconds`
//! wall seconds, and prints the desk's orders per second as the exchange acknowledged them, the
//! rejects, and the market-event → order-ack latency p50/p99 the desk measured
//! (`trading_order_ack_seconds`, interpolated within its buckets as Prometheus'
//! `histogram_quantile` does).
//!
//! ```sh
//! cargo run --release -p tse-trading-system --example desk_load -- --rate 20000 --seconds 10
//! ```

use std::time::{Duration, Instant};

use serde_json::json;
use tse_runtime::discovery::Registry;
use tse_testing::app::{TestApp, TestOptions, spawn_with, unique_instance};

const TOKEN: &str = "load-admin-token";

fn arg(name: &str, default: u64) -> Result<u64, String> {
    let args: Vec<String> = std::env::args().collect();
    match args.iter().position(|a| a == name) {
        None => Ok(default),
        Some(i) => args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("{name} takes a whole number")),
    }
}

fn options(registry: &Registry, prefix: &str, settings: &str) -> TestOptions {
    TestOptions {
        registry: Some(registry.clone()),
        admin_token: Some(TOKEN),
        instance: Some(unique_instance(prefix)),
        settings: Some(settings.parse().expect("settings TOML")),
        ..Default::default()
    }
}

/// The `q` quantile of a Prometheus histogram's cumulative buckets `(le, count)`.
fn quantile(q: f64, buckets: &[(f64, f64)]) -> f64 {
    let total = buckets.last().map_or(0.0, |b| b.1);
    let rank = q * total;
    let mut previous = (0.0, 0.0);
    for &(le, count) in buckets {
        if count >= rank {
            if le.is_infinite() {
                return previous.0;
            }
            let share = if count > previous.1 {
                (rank - previous.1) / (count - previous.1)
            } else {
                0.0
            };
            return previous.0 + (le - previous.0) * share;
        }
        previous = (le, count);
    }
    previous.0
}

fn buckets(metrics: &str) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::new();
    for line in metrics
        .lines()
        .filter(|l| l.starts_with("trading_order_ack_seconds_bucket"))
    {
        let le = line
            .split("le=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap_or("+Inf");
        let le = if le == "+Inf" {
            f64::INFINITY
        } else {
            le.parse().unwrap_or(f64::INFINITY)
        };
        let count: f64 = line
            .rsplit(' ')
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        match out.iter_mut().find(|(l, _)| *l == le) {
            Some(entry) => entry.1 += count,
            None => out.push((le, count)),
        }
    }
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    out
}

async fn submitted(desk: &TestApp) -> (u64, u64, u64) {
    let (_, s) = desk.get_json("/api/v1/strategies/runaway").await;
    (
        s["orders_submitted"].as_u64().unwrap_or(0),
        s["orders_rejected"].as_u64().unwrap_or(0),
        s["open_orders"].as_u64().unwrap_or(0),
    )
}

#[tokio::main]
async fn main() {
    let (rate, seconds) = match (arg("--rate", 20_000), arg("--seconds", 10)) {
        (Ok(r), Ok(s)) => (r, s),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("desk_load: {e}");
            std::process::exit(2);
        }
    };
    let registry = Registry::embedded();
    let _market = spawn_with(tse_market_data::service(), options(&registry, "market-data", "")).await;
    let exchange = spawn_with(tse_exchange::service(), options(&registry, "exchange", "")).await;
    let name = exchange.instance_name.clone();
    let settings = format!("[funding]\n\"{name}\" = {{ USD = \"1000000000\", BTC = \"100000\" }}\n");
    let desk = spawn_with(
        tse_trading_system::service(),
        options(&registry, "trading-system", &settings),
    )
    .await;
    desk.wait_health(Duration::from_secs(30), |h| {
        h["checks"][name.as_str()]["status"] == "up"
    })
    .await;
    let fault = desk
        .inject_fault(
            TOKEN,
            json!({"kind": "runaway", "params": {"exchange": name, "symbol": "BTC-USD", "rate": rate, "burst": rate}}),
        )
        .await;
    let started = Instant::now();
    let first = submitted(&desk).await;
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let last = submitted(&desk).await;
    let elapsed = started.elapsed().as_secs_f64();
    desk.clear_fault(TOKEN, fault["id"].as_str().unwrap_or_default())
        .await;
    let metrics = desk.metrics().await;
    let b = buckets(&metrics);
    let acked = b.last().map_or(0.0, |x| x.1);
    println!(
        "runaway at {rate}/s for {elapsed:.1} s: {} orders sent ({:.0}/s), {} refused, {} open at the end",
        last.0 - first.0,
        (last.0 - first.0) as f64 / elapsed,
        last.1 - first.1,
        last.2
    );
    println!(
        "acknowledged {acked:.0}; market event -> order ack: p50 {:.3} ms, p99 {:.3} ms (histogram estimate)",
        quantile(0.5, &b) * 1e3,
        quantile(0.99, &b) * 1e3
    );
}
