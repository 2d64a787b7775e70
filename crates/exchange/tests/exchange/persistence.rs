//! Orders, trades and balances are stored; a restarted instance has exactly the acknowledged state:
//! the same balances, the same books in the same queue order, ids that continue, client order ids
//! still taken. On SQLite and on PostgreSQL, also when the database comes only after the instance.

use std::{collections::BTreeMap, time::Duration};

use rust_decimal::Decimal;
use serde_json::{Value, json};
use sqlx::Connection;
use tse_testing::{
    app::{TestApp, TestOptions, spawn_with},
    proxy::{FaultProxy, target_of, through},
    servers::{PgGuard, database_url, pg_strings},
};

use crate::support::{
    QUIET, account, balances, d, delete, eventually, fund, limit, options, patch, place, post,
};

/// What a restart must keep.
#[derive(Debug, PartialEq)]
struct Snapshot {
    balances: BTreeMap<String, BTreeMap<String, (Decimal, Decimal)>>,
    books: Vec<Value>,
    open: Value,
    trades: usize,
}

async fn snapshot(app: &TestApp, accounts: &[String]) -> Snapshot {
    let mut all = BTreeMap::new();
    for a in accounts {
        all.insert(a.clone(), balances(app, a).await);
    }
    let mut books = Vec::new();
    for symbol in ["BTC-USD", "ETH-USD"] {
        let (_, mut book) = app
            .get_json(&format!("/api/v1/orderbook/{symbol}?depth=50"))
            .await;
        book.as_object_mut().unwrap().remove("timestamp");
        books.push(book);
    }
    let (_, open) = app.get_json("/api/v1/orders?status=open&limit=1000").await;
    let (_, trades) = app.get_json("/api/v1/trades?limit=1000").await;
    Snapshot {
        balances: all,
        books,
        open: open["orders"].clone(),
        trades: trades["trades"].as_array().unwrap().len(),
    }
}

/// Trading that leaves resting orders on both sides, partial fills, a queue at one price and a
/// client order id; returns the accounts and the id of the first order in the 99 000 bid queue.
async fn trade_a_little(app: &TestApp) -> (Vec<String>, String) {
    let (a, b, c) = (account(app).await, account(app).await, account(app).await);
    fund(app, &a, "BTC", "2").await;
    fund(app, &a, "ETH", "5").await;
    fund(app, &b, "USD", "500000").await;
    fund(app, &c, "USD", "50000").await;
    let mut first = limit(&a, "BTC-USD", "SELL", "100000", "1");
    first["client_order_id"] = json!("a-1");
    place(app, first).await;
    place(app, limit(&a, "BTC-USD", "SELL", "101000", "0.5")).await;
    place(app, limit(&a, "ETH-USD", "SELL", "3000", "2")).await;
    place(app, limit(&b, "BTC-USD", "BUY", "100000", "0.3")).await;
    let queued = place(app, limit(&b, "BTC-USD", "BUY", "99000", "0.2")).await;
    place(app, limit(&c, "BTC-USD", "BUY", "99000", "0.1")).await;
    place(app, limit(&c, "ETH-USD", "BUY", "2900", "0.5")).await;
    (vec![a, b, c], queued["order"]["id"].as_str().unwrap().to_owned())
}

/// After the restart: client ids still taken, ids continue, the queue kept its order.
async fn check_continuity(app: &TestApp, accounts: &[String], queued: &str, last_order: u64) {
    let mut dup = limit(&accounts[0], "BTC-USD", "SELL", "102000", "0.1");
    dup["client_order_id"] = json!("a-1");
    let (status, body) = post(app, "/api/v1/orders", dup).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("duplicate_client_order_id")),
        "{body}"
    );
    let hit = place(app, limit(&accounts[0], "BTC-USD", "SELL", "99000", "0.1")).await;
    assert!(
        hit["order"]["id"].as_str().unwrap().parse::<u64>().unwrap() > last_order,
        "{hit}"
    );
    assert_eq!(
        hit["trades"][0]["buy_order_id"], queued,
        "the oldest bid at 99 000 is still first"
    );
    assert_eq!(hit["trades"][0]["id"], "2", "trade ids continue after the first");
}

fn last_order(snapshot: &Snapshot) -> u64 {
    snapshot
        .open
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap().parse::<u64>().unwrap())
        .max()
        .unwrap()
}

async fn sqlite_scalars(app: &TestApp, sql: &str) -> Vec<String> {
    let path = app.data_dir.join("tse.sqlite");
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}?mode=ro", path.display()))
        .await
        .unwrap();
    sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_all(&mut conn)
        .await
        .unwrap()
}

/// Per asset `asset|held|fees|net_deposits` from the stored tables: held plus fees must equal what
/// was deposited.
const CONSERVATION: &str = "SELECT t.asset || '|' || CAST(SUM(CAST(b.available AS NUMERIC) + CAST(b.locked AS NUMERIC)) AS TEXT) \
     || '|' || CAST(t.fees AS TEXT) || '|' || CAST(t.net_deposits AS TEXT) \
     FROM asset_totals t JOIN balances b ON b.asset = t.asset GROUP BY t.asset, t.fees, t.net_deposits ORDER BY t.asset";

fn assert_conserved(rows: &[String]) {
    assert!(!rows.is_empty());
    for row in rows {
        let parts: Vec<&str> = row.split('|').collect();
        let (held, fees, net) = (d(parts[1]), d(parts[2]), d(parts[3]));
        assert_eq!(held + fees, net, "{row}");
    }
}

#[tokio::test]
async fn a_restart_restores_books_balances_and_ids_exactly() {
    let data = tempfile::tempdir().unwrap();
    let options = TestOptions {
        data_dir: Some(data.path().to_owned()),
        ..options(QUIET)
    };
    let mut first = spawn_with(tse_exchange::service(), options.clone()).await;
    let (accounts, queued) = trade_a_little(&first).await;
    let before = snapshot(&first, &accounts).await;
    assert_eq!(before.trades, 1);
    assert_eq!(before.open.as_array().unwrap().len(), 6, "{:?}", before.open);
    first.stop().await.unwrap();

    let second = spawn_with(tse_exchange::service(), options).await;
    let after = snapshot(&second, &accounts).await;
    assert_eq!(after, before);
    check_continuity(&second, &accounts, &queued, last_order(&before)).await;
    // The conversion to NUMERIC is SQLite's float: compare with the exact text sums in Rust instead.
    let rows = sqlite_scalars(
        &second,
        "SELECT asset || '|' || available || '|' || locked FROM balances",
    )
    .await;
    let totals = sqlite_scalars(
        &second,
        "SELECT asset || '|' || fees || '|' || net_deposits FROM asset_totals",
    )
    .await;
    let mut held: BTreeMap<String, Decimal> = BTreeMap::new();
    for row in rows {
        let p: Vec<&str> = row.split('|').collect();
        *held.entry(p[0].to_owned()).or_default() += d(p[1]) + d(p[2]);
    }
    let conserved: Vec<String> = totals
        .iter()
        .map(|t| {
            let p: Vec<&str> = t.split('|').collect();
            format!("{}|{}|{}|{}", p[0], held[p[0]], p[1], p[2])
        })
        .collect();
    assert_conserved(&conserved);
}

#[tokio::test]
async fn on_postgres_the_state_lives_in_the_instance_schema_and_survives_a_restart() {
    let Some(url) = database_url("on_postgres_the_state_lives_in_the_instance_schema_and_survives_a_restart")
    else {
        return;
    };
    let options = TestOptions {
        database_url: Some(url.clone()),
        ..options(QUIET)
    };
    let mut first = spawn_with(tse_exchange::service(), options.clone()).await;
    let _guard = PgGuard::new(&url, &first.schema());
    let (accounts, queued) = trade_a_little(&first).await;
    let before = snapshot(&first, &accounts).await;
    first.stop().await.unwrap();

    let schema = first.schema();
    let counts = pg_strings(
        &url,
        &format!(
            "SELECT (SELECT COUNT(*) FROM {schema}.orders)::text UNION ALL \
             SELECT (SELECT COUNT(*) FROM {schema}.trades)::text UNION ALL \
             SELECT (SELECT COUNT(*) FROM {schema}._tse_outbox WHERE event_type = 'trade.executed')::text"
        ),
    )
    .await;
    assert_eq!(counts, ["7", "1", "1"]);
    let sql = CONSERVATION
        .replace("asset_totals", &format!("{schema}.asset_totals"))
        .replace("JOIN balances", &format!("JOIN {schema}.balances"));
    assert_conserved(&pg_strings(&url, &sql).await);

    let second = spawn_with(tse_exchange::service(), options).await;
    assert_eq!(snapshot(&second, &accounts).await, before);
    // The restored accounts list by entity, and trades by their accounts' entity, on PostgreSQL too.
    let (_, listed) = second.get_json("/api/v1/accounts?entity=tests").await;
    let listed: Vec<&str> = listed["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, accounts);
    let (_, ours) = second.get_json("/api/v1/trades?entity=tests&after=0").await;
    assert_eq!(ours["trades"].as_array().unwrap().len(), 1, "{ours}");
    let (_, none) = second.get_json("/api/v1/trades?entity=nobody&after=0").await;
    assert_eq!(none["trades"], json!([]));
    check_continuity(&second, &accounts, &queued, last_order(&before)).await;
}

#[tokio::test]
async fn when_the_database_comes_late_the_exchange_restores_before_it_serves() {
    let Some(url) = database_url("when_the_database_comes_late_the_exchange_restores_before_it_serves")
    else {
        return;
    };
    let proxy = FaultProxy::start(target_of(&url)).await;
    let options = TestOptions {
        database_url: Some(through(&url, &proxy)),
        interval: Some("1s"),
        ..options(QUIET)
    };
    let mut first = spawn_with(tse_exchange::service(), options.clone()).await;
    let _guard = PgGuard::new(&url, &first.schema());
    let trader = account(&first).await;
    fund(&first, &trader, "USD", "1234.5").await;
    first.stop().await.unwrap();

    proxy.cut();
    let second = spawn_with(tse_exchange::service(), options).await;
    let (status, body) = second.get_json("/api/v1/symbols").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (503, Some("exchange_restoring")),
        "{body}"
    );
    let (status, _) = second.get_json("/api/v1/ready").await;
    assert_eq!(status, 503, "not ready while the books are not restored");
    proxy.restore();
    eventually(Duration::from_secs(20), "the restored exchange", || async {
        let (status, _) = second.get_json("/api/v1/symbols").await;
        (status == 200).then_some(())
    })
    .await;
    assert_eq!(
        balances(&second, &trader).await["USD"],
        (d("1234.5"), Decimal::ZERO)
    );
    let again = account(&second).await;
    assert_eq!(again, "acct-2", "account numbers continue");
}

#[tokio::test]
async fn a_balance_at_the_decimal_limit_stored_before_the_bounds_restores_and_overflows_nothing() {
    let data = tempfile::tempdir().unwrap();
    let options = TestOptions {
        data_dir: Some(data.path().to_owned()),
        ..options(QUIET)
    };
    let mut first = spawn_with(tse_exchange::service(), options.clone()).await;
    let (rich, seller) = (account(&first).await, account(&first).await);
    fund(&first, &rich, "USD", "1").await;
    fund(&first, &seller, "BTC", "1").await;
    first.stop().await.unwrap();
    // What an exchange without the bounds stored after a deposit of the largest decimal.
    let max = "79228162514264337593543950335";
    let path = first.data_dir.join("tse.sqlite");
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    for sql in [
        format!("UPDATE balances SET available = '{max}' WHERE account_id = '{rich}' AND asset = 'USD'"),
        format!("UPDATE asset_totals SET net_deposits = '{max}' WHERE asset = 'USD'"),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    conn.close().await.unwrap();

    let second = spawn_with(tse_exchange::service(), options).await;
    assert_eq!(balances(&second, &rich).await["USD"], (d(max), Decimal::ZERO));
    // A deposit on top of it, by anyone, is refused rather than overflowed.
    for who in [&rich, &seller] {
        let (status, answer) = post(
            &second,
            &format!("/api/v1/accounts/{who}/deposits"),
            json!({ "asset": "USD", "amount": "1" }),
        )
        .await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (400, Some("invalid_amount")),
            "{answer}"
        );
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("would exceed 100000000000000000, the most that stays exact"),
            "{message}"
        );
    }
    // The engine lives on: the account trades, and the instance is healthy.
    place(&second, limit(&seller, "BTC-USD", "SELL", "100", "1")).await;
    let bought = place(&second, limit(&rich, "BTC-USD", "BUY", "100", "1")).await;
    assert_eq!(bought["order"]["status"], "FILLED", "{bought}");
    assert_eq!(
        balances(&second, &seller).await["USD"],
        (d("99.98"), Decimal::ZERO)
    );
    let (status, health) = second.get_json("/api/v1/health").await;
    assert_eq!(
        (status, health["status"].as_str()),
        (200, Some("healthy")),
        "{health}"
    );
}

/// Cancels and amends order `id` over HTTP and gRPC; returns each answer as `status error`.
async fn change_finished(app: &TestApp, id: &str) -> Vec<String> {
    use tse_proto::exchange::v1::{AmendOrderRequest, OrderRef};
    let (cancel, cancelled) = delete(app, &format!("/api/v1/orders/{id}")).await;
    let (amend, amended) = patch(app, &format!("/api/v1/orders/{id}"), json!({ "price": "101" })).await;
    let client = app.exchange_client().await;
    let order_id = id.parse().unwrap();
    let grpc_cancel = client.cancel_order(OrderRef { order_id }).await.unwrap_err();
    let grpc_amend = client
        .amend_order(AmendOrderRequest {
            order_id,
            price: "101".into(),
            quantity: String::new(),
        })
        .await
        .unwrap_err();
    vec![
        format!("{cancel} {}", cancelled["error"]),
        format!("{amend} {}", amended["error"]),
        format!("{:?} {}", grpc_cancel.code(), grpc_cancel.message()),
        format!("{:?} {}", grpc_amend.code(), grpc_amend.message()),
    ]
}

#[tokio::test]
async fn changing_an_order_that_finished_before_a_restart_is_409_as_before_it() {
    let data = tempfile::tempdir().unwrap();
    let options = TestOptions {
        data_dir: Some(data.path().to_owned()),
        ..options(QUIET)
    };
    let mut first = spawn_with(tse_exchange::service(), options.clone()).await;
    let (seller, buyer) = (account(&first).await, account(&first).await);
    fund(&first, &seller, "BTC", "1").await;
    fund(&first, &buyer, "USD", "1000").await;
    let sold = place(&first, limit(&seller, "BTC-USD", "SELL", "100", "1")).await;
    place(&first, limit(&buyer, "BTC-USD", "BUY", "100", "1")).await;
    let resting = place(&first, limit(&buyer, "BTC-USD", "BUY", "90", "1")).await;
    let cancelled = resting["order"]["id"].as_str().unwrap().to_owned();
    let (status, _) = delete(&first, &format!("/api/v1/orders/{cancelled}")).await;
    assert_eq!(status, 200);
    let filled = sold["order"]["id"].as_str().unwrap().to_owned();
    let mut before = Vec::new();
    for id in [&filled, &cancelled] {
        before.push(change_finished(&first, id).await);
    }
    for answers in &before {
        for http in &answers[..2] {
            assert!(
                http.starts_with("409 ") && http.contains("order_not_open"),
                "{answers:?}"
            );
        }
        for grpc in &answers[2..] {
            assert!(grpc.starts_with("FailedPrecondition order "), "{answers:?}");
        }
    }
    first.stop().await.unwrap();

    let second = spawn_with(tse_exchange::service(), options).await;
    for (id, before) in [&filled, &cancelled].into_iter().zip(before) {
        let (status, order) = second.get_json(&format!("/api/v1/orders/{id}")).await;
        assert_eq!(status, 200, "{order}");
        assert_eq!(
            change_finished(&second, id).await,
            before,
            "order {id} ({})",
            order["status"]
        );
    }
    let (status, answer) = delete(&second, "/api/v1/orders/424242").await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (404, Some("unknown_order"))
    );
}

/// An exchange whose database is down at start waits to restore its books (unhealthy, saying why),
/// and a stop meanwhile is prompt: the wait observes it instead of holding the instance until the
/// host gives up on its tasks (10 s before).
#[tokio::test]
async fn an_exchange_waiting_for_its_database_stops_promptly() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut app = spawn_with(
        tse_exchange::service(),
        TestOptions {
            database_url: Some(format!("postgres://postgres@{closed}/test")),
            ..options(QUIET)
        },
    )
    .await;
    let health = app
        .wait_health(Duration::from_secs(5), |h| {
            h["checks"]["ledger"]["status"] == "down"
        })
        .await;
    assert_eq!(health["status"], "unhealthy", "{health}");
    assert!(
        health["checks"]["ledger"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("waiting for the database")),
        "{health}"
    );
    let asked = std::time::Instant::now();
    app.stop().await.unwrap();
    let took = asked.elapsed();
    assert!(took < Duration::from_secs(5), "stopping took {took:?}");
}
