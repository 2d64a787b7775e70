//! Load driver: places a bounded number of limit orders on a running exchange over gRPC or HTTP from
//! many concurrent clients, and prints orders per second, trades, and the p50/p99/p99.9/max
//! acknowledgement latency (send → answer, the answer coming only once the order is stored).
//!
//! Every client places orders for all the funded accounts in turn (so consecutive orders of one
//! session seldom meet their own account's orders, which self-trade prevention would cancel); prices
//! fall at random within a few ticks of one mid price, so about half the orders cross the book and
//! trade.
//!
//! Protocols: `grpc` (one unary `PlaceOrder` at a time per client), `grpc-stream` (one `PlaceOrders`
//! order entry session per client, up to `--window` orders unanswered), `http` (one
//! `POST /api/v1/orders` at a time per client).
//!
//! ```sh
//! # an exchange to measure (embedded storage; add DATABASE_URL=... for PostgreSQL)
//! cargo run --release -- serve exchange-simulator --instance exchange-Load &
//! cargo run --release -p tse-exchange --example load -- \
//!     --grpc 127.0.0.1:50051 --http http://127.0.0.1:8080 --protocol grpc --orders 200000 --clients 64
//! ```

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Instant,
};

use serde_json::{Value, json};
use tonic::transport::Channel;
use tse_client::Exchange;
use tse_proto::exchange::v1::{CreateAccountRequest, MoveFundsRequest, PlaceOrderRequest};

/// What to run.
struct Options {
    grpc: String,
    http: String,
    protocol: String,
    orders: u64,
    clients: usize,
    connections: usize,
    accounts: usize,
    window: usize,
    symbol: String,
    mid: i64,
}

fn options() -> Result<Options, String> {
    let mut o = Options {
        grpc: "127.0.0.1:50051".into(),
        http: "http://127.0.0.1:8080".into(),
        protocol: "grpc".into(),
        orders: 100_000,
        clients: 64,
        connections: 8,
        accounts: 16,
        window: 256,
        symbol: "BTC-USD".into(),
        mid: 100_000,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--grpc" => o.grpc = value()?,
            "--http" => o.http = value()?,
            "--protocol" => o.protocol = value()?,
            "--orders" => o.orders = value()?.parse().map_err(|e| format!("--orders: {e}"))?,
            "--clients" => o.clients = value()?.parse().map_err(|e| format!("--clients: {e}"))?,
            "--connections" => o.connections = value()?.parse().map_err(|e| format!("--connections: {e}"))?,
            "--accounts" => o.accounts = value()?.parse().map_err(|e| format!("--accounts: {e}"))?,
            "--window" => o.window = value()?.parse().map_err(|e| format!("--window: {e}"))?,
            "--symbol" => o.symbol = value()?,
            "--mid" => o.mid = value()?.parse().map_err(|e| format!("--mid: {e}"))?,
            "-h" | "--help" => {
                return Err("usage: load [--grpc HOST:PORT] [--http URL] [--protocol grpc|grpc-stream|http] \
                            [--orders N] [--clients N] [--connections N] [--accounts N] [--window N] [--symbol S] \
                            [--mid PRICE]"
                    .into());
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if !["grpc", "grpc-stream", "http"].contains(&o.protocol.as_str()) {
        return Err(format!(
            "--protocol is grpc, grpc-stream or http, not {}",
            o.protocol
        ));
    }
    if o.clients == 0 || o.connections == 0 || o.accounts == 0 || o.window == 0 {
        return Err("--clients, --connections, --accounts and --window must be positive".into());
    }
    Ok(o)
}

/// A seeded generator, so runs repeat.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// What one client places: whose order, which side, at which price.
struct Flow {
    accounts: Arc<[String]>,
    turn: usize,
    rng: Rng,
    symbol: String,
    mid: i64,
}

impl Flow {
    fn new(client: usize, accounts: Arc<[String]>, symbol: String, mid: i64) -> Self {
        Self {
            turn: client % accounts.len(),
            accounts,
            rng: Rng(0x9e37_79b9_7f4a_7c15 ^ (client as u64 + 1).wrapping_mul(0xbf58_476d_1ce4_e5b9)),
            symbol,
            mid,
        }
    }

    /// The next order: 0.001 of the base asset, limit, good till cancelled.
    fn next(&mut self) -> PlaceOrderRequest {
        let r = self.rng.next();
        let side = if r & 1 == 0 { "BUY" } else { "SELL" };
        // Within ±5 ticks of 0.01 around the mid; buys lean up and sells down so about half cross.
        let offset = ((r >> 1) % 11) as i64 - 5;
        let ticks = self.mid * 100 + if side == "BUY" { offset + 2 } else { offset - 2 };
        self.turn = (self.turn + 1) % self.accounts.len();
        PlaceOrderRequest {
            account_id: self.accounts[self.turn].clone(),
            symbol: self.symbol.clone(),
            side: side.into(),
            r#type: "LIMIT".into(),
            price: format!("{}.{:02}", ticks / 100, ticks % 100),
            quantity: "0.001".into(),
            ..Default::default()
        }
    }
}

enum Client {
    Grpc(Exchange),
    Http(reqwest::Client, String),
}

impl Client {
    async fn account(&mut self) -> Result<String, String> {
        match self {
            Client::Grpc(c) => Ok(c
                .create_account(CreateAccountRequest {
                    entity: "load".into(),
                })
                .await
                .map_err(|e| e.message().to_owned())?
                .id),
            Client::Http(c, base) => {
                let answer: Value = c
                    .post(format!("{base}/api/v1/accounts"))
                    .json(&json!({ "entity": "load" }))
                    .send()
                    .await
                    .map_err(|e| e.to_string())?
                    .json()
                    .await
                    .map_err(|e| e.to_string())?;
                answer["id"]
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| answer.to_string())
            }
        }
    }

    async fn fund(&mut self, account: &str, asset: &str, amount: &str) -> Result<(), String> {
        match self {
            Client::Grpc(c) => c
                .deposit(MoveFundsRequest {
                    account_id: account.into(),
                    asset: asset.into(),
                    amount: amount.into(),
                })
                .await
                .map(drop)
                .map_err(|e| e.message().to_owned()),
            Client::Http(c, base) => {
                let response = c
                    .post(format!("{base}/api/v1/accounts/{account}/deposits"))
                    .json(&json!({ "asset": asset, "amount": amount }))
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                if response.status().is_success() {
                    Ok(())
                } else {
                    Err(response.text().await.unwrap_or_default())
                }
            }
        }
    }

    /// Places one order; returns the number of trades it made.
    async fn place(&mut self, order: PlaceOrderRequest) -> Result<usize, String> {
        match self {
            Client::Grpc(c) => c
                .place_order(order)
                .await
                .map(|r| r.trades.len())
                .map_err(|e| e.message().to_owned()),
            Client::Http(c, base) => {
                let response = c
                    .post(format!("{base}/api/v1/orders"))
                    .json(
                        &json!({ "account_id": order.account_id, "symbol": order.symbol, "side": order.side,
                                   "type": order.r#type, "price": order.price, "quantity": order.quantity }),
                    )
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                if response.status().as_u16() != 201 {
                    return Err(response.text().await.unwrap_or_default());
                }
                let answer: Value = response.json().await.map_err(|e| e.to_string())?;
                Ok(answer["trades"].as_array().map_or(0, Vec::len))
            }
        }
    }
}

type Outcome = (Vec<u32>, usize, Vec<String>);

/// Places orders one at a time, waiting for each answer.
async fn one_by_one(mut client: Client, mut flow: Flow, total: u64, next: Arc<AtomicU64>) -> Outcome {
    let mut latencies = Vec::new();
    let (mut trades, mut errors) = (0usize, Vec::new());
    while next.fetch_add(1, Ordering::Relaxed) < total {
        let order = flow.next();
        let sent = Instant::now();
        match client.place(order).await {
            Ok(n) => {
                latencies.push(u32::try_from(sent.elapsed().as_micros()).unwrap_or(u32::MAX));
                trades += n;
            }
            Err(e) => {
                if errors.len() < 3 {
                    errors.push(e);
                }
                latencies.push(u32::MAX);
            }
        }
    }
    (latencies, trades, errors)
}

/// Places orders through one order entry session, up to `window` unanswered at a time.
async fn session(
    client: Exchange,
    mut flow: Flow,
    total: u64,
    window: usize,
    next: Arc<AtomicU64>,
) -> Outcome {
    use futures::StreamExt;
    let (tx, rx) = tokio::sync::mpsc::channel::<PlaceOrderRequest>(window);
    let permits = Arc::new(tokio::sync::Semaphore::new(window));
    let sent_at = Arc::new(std::sync::Mutex::new(Vec::<Instant>::new()));
    let sender = {
        let (permits, sent_at) = (permits.clone(), sent_at.clone());
        tokio::spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < total {
                let Ok(permit) = permits.clone().acquire_owned().await else {
                    break;
                };
                permit.forget();
                let order = flow.next();
                sent_at.lock().unwrap().push(Instant::now());
                if tx.send(order).await.is_err() {
                    break;
                }
            }
        })
    };
    let mut latencies = Vec::new();
    let (mut trades, mut errors) = (0usize, Vec::new());
    match client
        .place_orders(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
    {
        Ok(mut replies) => {
            while let Some(reply) = replies.next().await {
                let Ok(reply) = reply else { break };
                let sent = sent_at.lock().unwrap()[reply.sequence as usize];
                match reply.outcome {
                    Some(tse_proto::exchange::v1::place_order_reply::Outcome::Result(r)) => {
                        latencies.push(u32::try_from(sent.elapsed().as_micros()).unwrap_or(u32::MAX));
                        trades += r.trades.len();
                    }
                    other => {
                        if errors.len() < 3 {
                            errors.push(format!("{other:?}"));
                        }
                        latencies.push(u32::MAX);
                    }
                }
                permits.add_permits(1);
            }
        }
        Err(status) => errors.push(status.message().to_owned()),
    }
    let _ = sender.await;
    (latencies, trades, errors)
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    f64::from(sorted[rank.clamp(1, sorted.len()) - 1]) / 1000.0
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let o = match options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("load: {e}");
            std::process::exit(2);
        }
    };
    let channels: Vec<Channel> = if o.protocol.starts_with("grpc") {
        let mut v = Vec::new();
        for _ in 0..o.connections {
            v.push(
                Channel::from_shared(format!("http://{}", o.grpc))?
                    .connect()
                    .await?,
            );
        }
        v
    } else {
        Vec::new()
    };
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(o.clients)
        .build()?;
    let make = |i: usize| match o.protocol.as_str() {
        "http" => Client::Http(http.clone(), o.http.clone()),
        _ => Client::Grpc(Exchange::new(channels[i % channels.len()].clone())),
    };

    // Accounts funded for every order they may place; clients share them.
    let accounts_n = o.accounts;
    let per_account = o.orders.div_ceil(accounts_n as u64);
    let mut accounts = Vec::with_capacity(accounts_n);
    for i in 0..accounts_n {
        let mut client = make(i);
        let account = client.account().await?;
        let quote = (per_account as i64 * (o.mid + 1)).to_string();
        client.fund(&account, "USD", &quote).await?;
        client.fund(&account, "BTC", &format!("{per_account}")).await?;
        accounts.push(account);
    }

    let accounts: Arc<[String]> = accounts.into();
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..o.clients)
        .map(|i| {
            let next = next.clone();
            let flow = Flow::new(i, accounts.clone(), o.symbol.clone(), o.mid);
            if o.protocol == "grpc-stream" {
                let client = Exchange::new(channels[i % channels.len()].clone());
                tokio::spawn(session(client, flow, o.orders, o.window, next))
            } else {
                tokio::spawn(one_by_one(make(i), flow, o.orders, next))
            }
        })
        .collect();
    let mut latencies = Vec::with_capacity(o.orders as usize);
    let (mut trades, mut errors) = (0, Vec::new());
    for task in tasks {
        let (l, t, e) = task.await?;
        latencies.extend(l);
        trades += t;
        errors.extend(e);
    }
    let elapsed = started.elapsed();
    let failed = latencies.iter().filter(|l| **l == u32::MAX).count();
    latencies.retain(|l| *l != u32::MAX);
    latencies.sort_unstable();
    println!(
        "{} over {}: {} orders from {} clients on {} accounts in {:.2} s = {:.0} orders/s acknowledged; {} trades; \
         {} failed",
        o.symbol,
        o.protocol,
        latencies.len(),
        o.clients,
        accounts_n,
        elapsed.as_secs_f64(),
        latencies.len() as f64 / elapsed.as_secs_f64(),
        trades,
        failed,
    );
    println!(
        "ack latency ms: p50 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}",
        percentile(&latencies, 50.0),
        percentile(&latencies, 99.0),
        percentile(&latencies, 99.9),
        latencies.last().map_or(0.0, |l| f64::from(*l) / 1000.0),
    );
    for e in errors.iter().take(3) {
        println!("error: {e}");
    }
    Ok(())
}
