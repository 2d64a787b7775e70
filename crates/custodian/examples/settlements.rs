//! Load driver: submits settlement instructions to a running custodian over gRPC from many
//! concurrent clients and prints instructions accepted per second, acceptance latency (send →
//! answer, the answer coming only once stored), and settlements completed per second: from the first
//! submission until the custodian's own `custodian_settlements_total{status="completed"}` counts them
//! all. Then it submits one more instruction on `--cycle` and prints the wall time until it
//! completes (a T+2 cycle at a high clock speed).
//!
//! ```sh
//! # a custodian to measure, a simulated day per wall second (embedded storage; add DATABASE_URL=...)
//! TSE_CLOCK_SPEED=86400 cargo run --release -- serve custodian-simulator --instance custodian-Load &
//! cargo run --release -p tse-custodian --example settlements -- \
//!     --grpc 127.0.0.1:50051 --http http://127.0.0.1:8080 --instructions 100000 --clients 64 --cycle T+2
//! ```

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use tse_client::Custodian;
use tse_proto::custodian::v1::{
    CreateAccountRequest, GetSettlementRequest, MoveFundsRequest, SubmitSettlementRequest,
};

struct Options {
    grpc: String,
    http: String,
    instructions: u64,
    clients: usize,
    accounts: usize,
    cycle: String,
}

fn options() -> Result<Options, String> {
    let mut o = Options {
        grpc: "127.0.0.1:50051".into(),
        http: "http://127.0.0.1:8080".into(),
        instructions: 50_000,
        clients: 64,
        accounts: 16,
        cycle: "T+2".into(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = || {
            value
                .parse::<u64>()
                .map_err(|_| format!("{flag}: '{value}' is not a number"))
        };
        match flag.as_str() {
            "--grpc" => o.grpc = value.clone(),
            "--http" => o.http = value.clone(),
            "--instructions" => o.instructions = number()?,
            "--clients" => o.clients = usize::try_from(number()?).map_err(|e| e.to_string())?.max(1),
            "--accounts" => o.accounts = usize::try_from(number()?).map_err(|e| e.to_string())?.max(1),
            "--cycle" => o.cycle = value.clone(),
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(o)
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    #[allow(clippy::cast_precision_loss)]
    let ms = sorted[i] as f64 / 1_000.0;
    ms
}

async fn completed(http: &str) -> Result<f64, String> {
    let text = reqwest::get(format!("{http}/metrics"))
        .await
        .map_err(|e| e.to_string())?
        .text()
        .await
        .map_err(|e| e.to_string())?;
    Ok(text
        .lines()
        .filter(|l| l.starts_with("custodian_settlements_total{") && l.contains("status=\"completed\""))
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum())
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let o = options()?;
    let client = Custodian::connect(&format!("http://{}", o.grpc))
        .await
        .map_err(|e| e.to_string())?;
    let mut accounts = Vec::new();
    for _ in 0..o.accounts {
        let id = client
            .create_account(CreateAccountRequest {
                entity: "load".into(),
            })
            .await
            .map_err(|e| e.message().to_owned())?
            .id;
        client
            .deposit(MoveFundsRequest {
                account_id: id.clone(),
                asset: "USD".into(),
                amount: "1000000000000".into(),
            })
            .await
            .map_err(|e| e.message().to_owned())?;
        accounts.push(id);
    }
    let before = completed(&o.http).await?;
    let run = std::process::id();
    let next = Arc::new(AtomicU64::new(0));
    let accounts = Arc::new(accounts);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..o.clients {
        let (client, next, accounts, total, cycle) = (
            client.clone(),
            next.clone(),
            accounts.clone(),
            o.instructions,
            o.cycle.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= total {
                    return Ok::<_, String>(latencies);
                }
                #[allow(clippy::cast_possible_truncation)]
                let account = accounts[n as usize % accounts.len()].clone();
                let sent = Instant::now();
                client
                    .submit_settlement(SubmitSettlementRequest {
                        external_id: format!("load-{run}-{n}"),
                        account_id: account,
                        r#type: "TRADE".into(),
                        cycle: cycle.clone(),
                        symbol: "BTC-USD".into(),
                        side: "BUY".into(),
                        quantity: "0.001".into(),
                        price: "97000.5".into(),
                        fee: "0.05".into(),
                        legs: Vec::new(),
                    })
                    .await
                    .map_err(|e| e.message().to_owned())?;
                #[allow(clippy::cast_possible_truncation)]
                latencies.push(sent.elapsed().as_micros() as u64);
            }
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.map_err(|e| e.to_string())??);
    }
    let accepted = started.elapsed();
    latencies.sort_unstable();
    #[allow(clippy::cast_precision_loss)]
    let n = o.instructions as f64;
    println!(
        "accepted {} instructions in {:.2} s: {:.0}/s; latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        o.instructions,
        accepted.as_secs_f64(),
        n / accepted.as_secs_f64(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        percentile(&latencies, 1.0),
    );
    loop {
        let done = completed(&o.http).await? - before;
        if done >= n {
            break;
        }
        if started.elapsed() > Duration::from_secs(3_600) {
            return Err(format!("only {done} of {n} completed within an hour"));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let all = started.elapsed();
    println!(
        "completed {} settlements ({}) {:.2} s after the first submission: {:.0} settlements/s end to end",
        o.instructions,
        o.cycle,
        all.as_secs_f64(),
        n / all.as_secs_f64()
    );
    // One more, alone: the wall time of its cycle.
    let sent = Instant::now();
    let settlement = client
        .submit_settlement(SubmitSettlementRequest {
            external_id: format!("load-{run}-cycle"),
            account_id: accounts[0].clone(),
            r#type: "TRADE".into(),
            cycle: o.cycle.clone(),
            symbol: "BTC-USD".into(),
            side: "BUY".into(),
            quantity: "0.001".into(),
            price: "97000.5".into(),
            fee: String::new(),
            legs: Vec::new(),
        })
        .await
        .map_err(|e| e.message().to_owned())?
        .settlement
        .ok_or("no settlement in the answer")?;
    loop {
        let now = client
            .get_settlement(GetSettlementRequest {
                id: settlement.id.clone(),
            })
            .await
            .map_err(|e| e.message().to_owned())?;
        if now.status == "COMPLETED" {
            println!(
                "one {} settlement: accepted at {} (simulated), due {}, completed {}; {:.3} s wall",
                o.cycle,
                now.created_at,
                now.due_at,
                now.finished_at,
                sent.elapsed().as_secs_f64()
            );
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
