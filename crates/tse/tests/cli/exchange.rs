//! The exchange as a user meets it: trading against the liquidity provider in `tse up`, and a
//! process killed with SIGKILL under load that comes back with everything it acknowledged.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use serde_json::{Value, json};

use crate::process::{Tse, addr_in, command};

async fn post(client: &reqwest::Client, url: String, body: Value) -> (u16, Value) {
    let response = client.post(url).json(&body).send().await.expect("request sent");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn get(client: &reqwest::Client, url: String) -> (u16, Value) {
    let response = client.get(url).send().await.expect("request sent");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn dec(value: &Value) -> rust_decimal::Decimal {
    value
        .as_str()
        .unwrap_or_else(|| panic!("decimal string, got {value}"))
        .parse()
        .unwrap()
}

/// Starts `tse up` on `dir` with OS-chosen ports; returns the process and each instance's HTTP URL.
fn up(dir: &std::path::Path) -> (Tse, std::collections::BTreeMap<String, String>) {
    let mut cmd = command(dir);
    cmd.args(["up", "--http-port-base", "0", "--grpc-port-base", "0"]);
    let mut tse = Tse::spawn(cmd);
    tse.wait_for(Duration::from_secs(60), |l| l.starts_with("INSTANCE"));
    let urls = (0..8)
        .map(|_| {
            let row: Vec<String> = tse
                .wait_for(Duration::from_secs(5), |_| true)
                .split_whitespace()
                .map(str::to_owned)
                .collect();
            (row[0].clone(), row[2].clone())
        })
        .collect();
    tse.wait_for(Duration::from_secs(10), |l| l.starts_with("tse:"));
    (tse, urls)
}

/// Waits until the book of `symbol` has quotes on both sides; returns it.
async fn quoted(client: &reqwest::Client, url: &str, symbol: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, book) = get(client, format!("{url}/api/v1/orderbook/{symbol}")).await;
        if status == 200
            && book["asks"].as_array().is_some_and(|a| !a.is_empty())
            && book["bids"].as_array().is_some_and(|b| !b.is_empty())
        {
            return book;
        }
        assert!(Instant::now() < deadline, "no quotes on {url}: {book}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn in_tse_up_a_user_trades_against_the_provider_on_both_exchanges_and_a_restart_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let (mut tse, urls) = up(dir.path());
    let mut kept = Vec::new();
    for exchange in ["exchange-OKX", "exchange-Binance"] {
        let url = &urls[exchange];
        let (status, account) = post(
            &client,
            format!("{url}/api/v1/accounts"),
            // Not the desk's entity: the desk adopts and funds an account of its own entity.
            json!({ "entity": "cli-user" }),
        )
        .await;
        assert_eq!(status, 201, "{account}");
        let id = account["id"].as_str().unwrap().to_owned();
        let (status, _) = post(
            &client,
            format!("{url}/api/v1/accounts/{id}/deposits"),
            json!({ "asset": "USD", "amount": "250000" }),
        )
        .await;
        assert_eq!(status, 200);

        let book = quoted(&client, url, "BTC-USD").await;
        let (status, bought) = post(
            &client,
            format!("{url}/api/v1/orders"),
            json!({ "account_id": id, "symbol": "BTC-USD", "side": "BUY", "type": "MARKET", "quantity": "0.2" }),
        )
        .await;
        assert_eq!(status, 201, "{bought}");
        assert_eq!(bought["order"]["status"], "FILLED", "{exchange}: {bought}");
        let best_ask = dec(&book["asks"][0][0]);
        let paid = dec(&bought["order"]["average_price"]);
        assert!(
            paid >= best_ask * rust_decimal::Decimal::new(99, 2),
            "{exchange}: paid {paid}, ask was {best_ask}"
        );

        // A limit sell below the bid trades at once; a limit buy far below rests.
        let bid = dec(&quoted(&client, url, "BTC-USD").await["bids"][0][0]);
        let (_, sold) = post(
            &client,
            format!("{url}/api/v1/orders"),
            json!({ "account_id": id, "symbol": "BTC-USD", "side": "SELL", "type": "LIMIT",
                    "price": (bid * rust_decimal::Decimal::new(99, 2)).round_dp(2).to_string(), "quantity": "0.05" }),
        )
        .await;
        assert_eq!(sold["order"]["status"], "FILLED", "{exchange}: {sold}");
        let (status, resting) = post(
            &client,
            format!("{url}/api/v1/orders"),
            json!({ "account_id": id, "symbol": "BTC-USD", "side": "BUY", "price": "1000", "quantity": "0.01",
                    "client_order_id": "far-below" }),
        )
        .await;
        assert_eq!(
            (status, resting["order"]["status"].as_str()),
            (201, Some("NEW")),
            "{resting}"
        );

        let (_, balances) = get(&client, format!("{url}/api/v1/accounts/{id}/balances")).await;
        let btc = balances["balances"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["asset"] == "BTC")
            .unwrap()
            .clone();
        assert_eq!(btc["total"], "0.15", "{exchange}: {balances}");
        let (_, trades) = get(&client, format!("{url}/api/v1/trades?account_id={id}")).await;
        assert!(trades["trades"].as_array().unwrap().len() >= 2, "{trades}");
        let (_, depth) = get(&client, format!("{url}/api/v1/orderbook/BTC-USD?depth=50")).await;
        assert!(
            depth["bids"].as_array().unwrap().iter().any(|l| l[0] == "1000"),
            "the resting bid shows in the depth: {depth}"
        );
        kept.push((
            exchange,
            id,
            balances["balances"].clone(),
            resting["order"]["id"].clone(),
        ));
    }

    tse.signal("TERM");
    assert_eq!(
        tse.wait_exit(Duration::from_secs(30)).code(),
        Some(0),
        "{}",
        tse.seen.join("\n")
    );
    drop(tse);
    let (mut tse, urls) = up(dir.path());
    for (exchange, id, balances, resting) in kept {
        let url = &urls[exchange];
        let (_, now) = get(&client, format!("{url}/api/v1/accounts/{id}/balances")).await;
        assert_eq!(now["balances"], balances, "{exchange} balances after the restart");
        let (_, order) = get(
            &client,
            format!("{url}/api/v1/orders/{}", resting.as_str().unwrap()),
        )
        .await;
        assert_eq!(order["status"], "NEW", "{exchange}: {order}");
        let (status, dup) = post(
            &client,
            format!("{url}/api/v1/orders"),
            json!({ "account_id": id, "symbol": "BTC-USD", "side": "BUY", "price": "1000", "quantity": "0.01",
                    "client_order_id": "far-below" }),
        )
        .await;
        assert_eq!(status, 409, "{dup}");
    }
    tse.signal("TERM");
    assert_eq!(tse.wait_exit(Duration::from_secs(30)).code(), Some(0));
}

/// Places orders from several connections until told to stop; returns the acknowledged ids.
async fn place_until_stopped(
    url: String,
    account: String,
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<Vec<String>>>,
) {
    let client = reqwest::Client::new();
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let price = format!("{}", 1000 + (n % 500));
        let body = json!({ "account_id": account, "symbol": "BTC-USD", "side": "BUY", "price": price, "quantity": "0.001" });
        match client
            .post(format!("{url}/api/v1/orders"))
            .json(&body)
            .send()
            .await
        {
            Ok(response) if response.status() == 201 => {
                let answer: Value = response.json().await.unwrap_or(Value::Null);
                if let Some(id) = answer["order"]["id"].as_str() {
                    acked.lock().unwrap().push(id.to_owned());
                }
            }
            // The process is gone: whatever was not answered was not acknowledged.
            _ => return,
        }
    }
}

#[tokio::test]
async fn an_exchange_killed_under_load_comes_back_with_every_acknowledged_order() {
    let dir = tempfile::tempdir().unwrap();
    let serve = || {
        let mut cmd = command(dir.path());
        cmd.arg("serve")
            .env("SERVICE_NAME", "exchange-simulator")
            .env("SERVICE_INSTANCE_NAME", "exchange-K9")
            .env("HTTP_PORT", "0")
            .env("GRPC_PORT", "0")
            .env("BIND_ADDRESS", "127.0.0.1");
        let mut tse = Tse::spawn(cmd);
        let http = addr_in(&tse.wait_for(Duration::from_secs(20), |l| l.contains("HTTP server listening")));
        tse.wait_for(Duration::from_secs(10), |l| l.contains("instance ready"));
        (tse, format!("http://{http}"))
    };
    let client = reqwest::Client::new();
    let (tse, url) = serve();
    let (_, account) = post(&client, format!("{url}/api/v1/accounts"), json!({})).await;
    let id = account["id"].as_str().unwrap().to_owned();
    let (status, _) = post(
        &client,
        format!("{url}/api/v1/accounts/{id}/deposits"),
        json!({ "asset": "USD", "amount": "100000000" }),
    )
    .await;
    assert_eq!(status, 200);

    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Vec::new()));
    let workers: Vec<_> = (0..8)
        .map(|_| {
            tokio::spawn(place_until_stopped(
                url.clone(),
                id.clone(),
                stop.clone(),
                acked.clone(),
            ))
        })
        .collect();
    // Kill once a good number of orders are acknowledged, while requests are still in flight.
    let deadline = Instant::now() + Duration::from_secs(30);
    while acked.lock().unwrap().len() < 500 {
        assert!(Instant::now() < deadline, "orders were not acknowledged");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tse.signal("KILL");
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.unwrap();
    }
    drop(tse);
    let acked = acked.lock().unwrap().clone();

    let (mut tse, url) = serve();
    let (status, open) = get(
        &client,
        format!("{url}/api/v1/orders?status=open&limit=1000&account_id={id}"),
    )
    .await;
    assert_eq!(status, 200, "{open}");
    let mut stored: Vec<Value> = Vec::new();
    let mut page = open;
    loop {
        stored.extend(page["orders"].as_array().unwrap().iter().cloned());
        let Some(cursor) = page["next_cursor"].as_str() else {
            break;
        };
        page = get(
            &client,
            format!("{url}/api/v1/orders?status=open&limit=1000&account_id={id}&cursor={cursor}"),
        )
        .await
        .1;
    }
    let ids: std::collections::BTreeSet<&str> = stored.iter().map(|o| o["id"].as_str().unwrap()).collect();
    let missing: Vec<&String> = acked.iter().filter(|a| !ids.contains(a.as_str())).collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged orders lost: {missing:?}",
        missing.len()
    );

    // Balances are exactly what the stored orders hold: each reserves price × quantity × (1 + 0.0005).
    let held: rust_decimal::Decimal = stored
        .iter()
        .map(|o| dec(&o["price"]) * dec(&o["quantity"]) * rust_decimal::Decimal::new(10005, 4))
        .sum();
    let (_, balances) = get(&client, format!("{url}/api/v1/accounts/{id}/balances")).await;
    let usd = balances["balances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["asset"] == "USD")
        .unwrap();
    assert_eq!(dec(&usd["locked"]), held, "{usd}");
    assert_eq!(
        dec(&usd["total"]),
        rust_decimal::Decimal::from(100_000_000),
        "{usd}"
    );
    let (_, book) = get(&client, format!("{url}/api/v1/orderbook/BTC-USD?depth=1000")).await;
    let resting: rust_decimal::Decimal = book["bids"].as_array().unwrap().iter().map(|l| dec(&l[1])).sum();
    assert_eq!(
        resting,
        rust_decimal::Decimal::new(1, 3) * rust_decimal::Decimal::from(stored.len()),
        "the book holds them all"
    );
    eprintln!(
        "acknowledged before SIGKILL: {}; restored: {}",
        acked.len(),
        stored.len()
    );
    tse.signal("TERM");
    assert_eq!(tse.wait_exit(Duration::from_secs(20)).code(), Some(0));
}
