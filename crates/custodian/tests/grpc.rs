//! The gRPC face of the custodian (`tse.custodian.v1.CustodianService`): same semantics and messages
//! as HTTP, errors as status codes.

#![allow(unreachable_pub)]

use std::time::Duration;

use serde_json::{Value, json};
use tonic::Code;
use tse_proto::custodian::v1::{
    AssetAmount, CancelSettlementRequest, CreateAccountRequest, GetAccountRequest, GetBalancesRequest,
    GetPositionsRequest, GetSettlementRequest, ListAccountsRequest, ListSettlementsRequest, MoveFundsRequest,
    ReconcileRequest, SubmitSettlementRequest, TransferRequest,
};
use tse_testing::app::{TestApp, TestOptions, eventually, spawn_with, unique_instance};

type Client = tse_client::Custodian;

const TOKEN: &str = "test-admin-token";

/// A custodian with the default settings, its back door open to [`TOKEN`], ready to serve; and a
/// gRPC client of it.
async fn custodian() -> (TestApp, Client) {
    let app = spawn_with(
        tse_custodian::service(),
        TestOptions {
            admin_token: Some(TOKEN),
            instance: Some(unique_instance("custodian")),
            ..Default::default()
        },
    )
    .await;
    let client = app.custodian_client().await;
    // The books are restored from storage before anything is served.
    let probe = client.clone();
    eventually(Duration::from_secs(10), "the custodian to serve", || {
        let probe = probe.clone();
        async move {
            match probe.list_accounts(ListAccountsRequest::default()).await {
                Ok(_) => Some(()),
                Err(s) if s.code() == Code::Unavailable => None,
                Err(s) => panic!("unexpected {s:?}"),
            }
        }
    })
    .await;
    (app, client)
}

/// The same request over HTTP: status and body.
async fn http(app: &TestApp, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let url = format!("{}{path}", app.http);
    let request = match method {
        "GET" => app.client.get(url),
        _ => app.client.post(url),
    };
    let request = match body {
        Some(b) => request.json(&b),
        None => request,
    };
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Asserts that a gRPC call failed with `code` and the message HTTP gives for the same request (its
/// status `http_status`); returns the message.
async fn same_error<T: std::fmt::Debug>(
    grpc: Result<T, tse_client::ClientError>,
    code: Code,
    http_answer: (u16, Value),
    http_status: u16,
) -> String {
    let status = grpc.expect_err("the gRPC call fails");
    assert_eq!(status.code(), code, "{status:?}");
    let (got_status, body) = http_answer;
    assert_eq!(got_status, http_status, "{body}");
    assert_eq!(
        status.message(),
        body["error"]["message"].as_str().unwrap(),
        "{body}"
    );
    status.message().to_owned()
}

fn funds(account: &str, asset: &str, amount: &str) -> MoveFundsRequest {
    MoveFundsRequest {
        account_id: account.into(),
        asset: asset.into(),
        amount: amount.into(),
    }
}

fn trade(account: &str, external_id: &str, cycle: &str, quantity: &str) -> SubmitSettlementRequest {
    SubmitSettlementRequest {
        external_id: external_id.into(),
        account_id: account.into(),
        r#type: "trade".into(),
        cycle: cycle.into(),
        symbol: "BTC-USD".into(),
        side: "buy".into(),
        quantity: quantity.into(),
        price: "100".into(),
        fee: "1".into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn grpc_keeps_accounts_and_settles_like_http() {
    let (app, client) = custodian().await;

    // Accounts.
    let a = client
        .create_account(CreateAccountRequest {
            entity: "fund-a".into(),
        })
        .await
        .unwrap();
    let b = client
        .create_account(CreateAccountRequest::default())
        .await
        .unwrap();
    assert!(a.id.starts_with("cust-"), "{a:?}");
    assert_eq!((a.entity.as_str(), b.entity.as_str()), ("fund-a", ""));
    let got = client
        .get_account(GetAccountRequest {
            account_id: a.id.clone(),
        })
        .await
        .unwrap();
    assert_eq!(got, a);
    let (_, over_http) = http(&app, "GET", &format!("/api/v1/accounts/{}", a.id), None).await;
    assert_eq!(over_http["created_at"].as_str(), Some(a.created_at.as_str()));
    let of_entity = client
        .list_accounts(ListAccountsRequest {
            entity: "fund-a".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(of_entity.accounts, vec![a.clone()]);
    assert_eq!(of_entity.next_cursor, "");
    let first = client
        .list_accounts(ListAccountsRequest {
            limit: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(first.accounts.len(), 1);
    assert!(!first.next_cursor.is_empty());
    let second = client
        .list_accounts(ListAccountsRequest {
            limit: 1,
            cursor: first.next_cursor,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(second.accounts, vec![b.clone()]);

    // Deposits and withdrawals.
    let deposited = client.deposit(funds(&a.id, "usd", "1000")).await.unwrap();
    assert_eq!(
        (
            deposited.asset.as_str(),
            deposited.available.as_str(),
            deposited.total.as_str()
        ),
        ("USD", "1000", "1000")
    );
    let withdrawn = client.withdraw(funds(&a.id, "USD", "100.50")).await.unwrap();
    assert_eq!(withdrawn.available, "899.5");
    let overdraft = same_error(
        client.withdraw(funds(&a.id, "USD", "5000")).await,
        Code::FailedPrecondition,
        http(
            &app,
            "POST",
            &format!("/api/v1/accounts/{}/withdrawals", a.id),
            Some(json!({"asset": "USD", "amount": "5000"})),
        )
        .await,
        400,
    )
    .await;
    assert!(!overdraft.is_empty());
    same_error(
        client.deposit(funds(&a.id, "USD", "")).await,
        Code::InvalidArgument,
        http(
            &app,
            "POST",
            &format!("/api/v1/accounts/{}/deposits", a.id),
            Some(json!({"asset": "USD"})),
        )
        .await,
        400,
    )
    .await;
    same_error(
        client.deposit(funds(&a.id, "DOGE", "1")).await,
        Code::InvalidArgument,
        http(
            &app,
            "POST",
            &format!("/api/v1/accounts/{}/deposits", a.id),
            Some(json!({"asset": "DOGE", "amount": 1})),
        )
        .await,
        400,
    )
    .await;

    // A transfer answers both balances.
    let moved = client
        .transfer(TransferRequest {
            from_account_id: a.id.clone(),
            to_account_id: b.id.clone(),
            asset: "USD".into(),
            amount: "99.5".into(),
        })
        .await
        .unwrap();
    let (from, to) = (moved.from.unwrap(), moved.to.unwrap());
    assert_eq!((from.available.as_str(), to.available.as_str()), ("800", "99.5"));

    // Reconciliation.
    let agreed = client
        .reconcile(ReconcileRequest {
            account_id: b.id.clone(),
            balances: vec![AssetAmount {
                asset: "usd".into(),
                amount: "99.5".into(),
            }],
        })
        .await
        .unwrap();
    assert!(agreed.reconciled && agreed.breaks.is_empty(), "{agreed:?}");
    assert_eq!(agreed.account_id, b.id);
    let broken = client
        .reconcile(ReconcileRequest {
            account_id: b.id.clone(),
            balances: vec![AssetAmount {
                asset: "USD".into(),
                amount: "100".into(),
            }],
        })
        .await
        .unwrap();
    assert!(!broken.reconciled);
    let brk = &broken.breaks[0];
    assert_eq!(
        (
            brk.asset.as_str(),
            brk.held.as_str(),
            brk.reported.as_str(),
            brk.difference.as_str()
        ),
        ("USD", "99.5", "100", "0.5")
    );

    // A T+0 trade settles at once; the position follows.
    let submitted = client
        .submit_settlement(trade(&a.id, "trade-1", "t+0", "0.5"))
        .await
        .unwrap();
    assert!(submitted.created);
    let settlement = submitted.settlement.unwrap();
    assert_eq!(
        (
            settlement.r#type.as_str(),
            settlement.cycle.as_str(),
            settlement.side.as_str(),
            settlement.quantity.as_str(),
            settlement.fee.as_str(),
        ),
        ("TRADE", "T+0", "BUY", "0.5", "1")
    );
    assert_eq!((settlement.exchange.as_str(), settlement.trade_count), ("", 0));
    let id = settlement.id.clone();
    let completed = eventually(Duration::from_secs(10), "the T+0 trade to settle", || {
        let client = client.clone();
        let id = id.clone();
        async move {
            let s = client.get_settlement(GetSettlementRequest { id }).await.unwrap();
            (s.status == "COMPLETED").then_some(s)
        }
    })
    .await;
    assert!(!completed.finished_at.is_empty());
    let legs: Vec<(&str, &str, &str)> = completed
        .legs
        .iter()
        .map(|l| (l.asset.as_str(), l.amount.as_str(), l.settled.as_str()))
        .collect();
    assert!(legs.contains(&("BTC", "0.5", "0.5")), "{legs:?}");
    assert!(legs.contains(&("USD", "-51", "-51")), "{legs:?}");
    let positions = client
        .get_positions(GetPositionsRequest {
            account_id: a.id.clone(),
        })
        .await
        .unwrap();
    assert_eq!(positions.account_id, a.id);
    let btc = positions
        .positions
        .iter()
        .find(|p| p.symbol == "BTC-USD")
        .unwrap();
    assert_eq!((btc.quantity.as_str(), btc.average_cost.as_str()), ("0.5", "100"));
    let balances = client
        .get_balances(GetBalancesRequest {
            account_id: a.id.clone(),
        })
        .await
        .unwrap();
    let usd = balances.balances.iter().find(|b| b.asset == "USD").unwrap();
    assert_eq!(usd.total, "749");

    // The settlement reads the same over HTTP.
    let (_, over_http) = http(&app, "GET", &format!("/api/v1/settlements/{id}"), None).await;
    assert_eq!(over_http["status"], "COMPLETED");
    assert_eq!(
        over_http["finished_at"].as_str(),
        Some(completed.finished_at.as_str())
    );
    assert_eq!(over_http["due_at"].as_str(), Some(completed.due_at.as_str()));

    // The same instruction again answers the first settlement.
    let again = client
        .submit_settlement(trade(&a.id, "trade-1", "T+0", "0.5"))
        .await
        .unwrap();
    assert!(!again.created);
    assert_eq!(again.settlement.unwrap().id, id);
    // The same external id with other content is refused.
    same_error(
        client
            .submit_settlement(trade(&a.id, "trade-1", "T+0", "0.75"))
            .await,
        Code::AlreadyExists,
        http(
            &app,
            "POST",
            "/api/v1/settlements",
            Some(json!({
                "external_id": "trade-1", "account_id": a.id, "type": "TRADE", "cycle": "T+0",
                "symbol": "BTC-USD", "side": "BUY", "quantity": "0.75", "price": 100, "fee": "1",
            })),
        )
        .await,
        409,
    )
    .await;
    same_error(
        client
            .submit_settlement(SubmitSettlementRequest {
                r#type: "TRADE".into(),
                ..trade(&a.id, "", "T+0", "1")
            })
            .await,
        Code::InvalidArgument,
        http(
            &app,
            "POST",
            "/api/v1/settlements",
            Some(json!({"account_id": a.id, "type": "TRADE"})),
        )
        .await,
        400,
    )
    .await;

    // A completed settlement cannot be cancelled; a pending one can, once.
    same_error(
        client
            .cancel_settlement(CancelSettlementRequest {
                id: id.clone(),
                reason: String::new(),
            })
            .await,
        Code::FailedPrecondition,
        http(&app, "POST", &format!("/api/v1/settlements/{id}/cancel"), None).await,
        409,
    )
    .await;
    let pending = client
        .submit_settlement(trade(&a.id, "trade-2", "", "0.1"))
        .await
        .unwrap()
        .settlement
        .unwrap();
    assert_eq!(
        (pending.cycle.as_str(), pending.status.as_str()),
        ("T+2", "PENDING")
    );
    assert_eq!(pending.finished_at, "");
    let cancelled = client
        .cancel_settlement(CancelSettlementRequest {
            id: pending.id.clone(),
            reason: String::new(),
        })
        .await
        .unwrap();
    assert_eq!(
        (cancelled.status.as_str(), cancelled.reason.as_str()),
        ("CANCELLED", "cancelled by request")
    );

    // A NET instruction moves its legs.
    let net = client
        .submit_settlement(SubmitSettlementRequest {
            external_id: "net-1".into(),
            account_id: b.id.clone(),
            r#type: "net".into(),
            legs: vec![AssetAmount {
                asset: "ETH".into(),
                amount: "2".into(),
            }],
            ..Default::default()
        })
        .await
        .unwrap()
        .settlement
        .unwrap();
    assert_eq!(
        (net.r#type.as_str(), net.cycle.as_str(), net.symbol.as_str()),
        ("NET", "T+0", "")
    );

    // Listings by account and status, newest first.
    let of_a = client
        .list_settlements(ListSettlementsRequest {
            account_id: a.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    let ids: Vec<&str> = of_a.settlements.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, vec![pending.id.as_str(), id.as_str()]);
    assert_eq!(of_a.next_cursor, "");
    let completed_of_a = client
        .list_settlements(ListSettlementsRequest {
            account_id: a.id.clone(),
            status: "completed".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(completed_of_a.settlements, vec![completed.clone()]);
    let trades = client
        .list_settlements(ListSettlementsRequest {
            r#type: "TRADE".into(),
            limit: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(trades.settlements.len(), 1);
    let older = client
        .list_settlements(ListSettlementsRequest {
            r#type: "TRADE".into(),
            limit: 1,
            cursor: trades.next_cursor.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(older.settlements[0].id, id);
    same_error(
        client
            .list_settlements(ListSettlementsRequest {
                status: "settled".into(),
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        http(&app, "GET", "/api/v1/settlements?status=settled", None).await,
        400,
    )
    .await;

    // Unknown ids.
    same_error(
        client
            .get_balances(GetBalancesRequest {
                account_id: "cust-999".into(),
            })
            .await,
        Code::NotFound,
        http(&app, "GET", "/api/v1/accounts/cust-999/balances", None).await,
        404,
    )
    .await;
    same_error(
        client.deposit(funds("cust-999", "USD", "1")).await,
        Code::NotFound,
        http(
            &app,
            "POST",
            "/api/v1/accounts/cust-999/deposits",
            Some(json!({"asset": "USD", "amount": "1"})),
        )
        .await,
        404,
    )
    .await;
    same_error(
        client
            .get_settlement(GetSettlementRequest { id: "stl-999".into() })
            .await,
        Code::NotFound,
        http(&app, "GET", "/api/v1/settlements/stl-999", None).await,
        404,
    )
    .await;
}

#[tokio::test]
async fn grpc_reads_amounts_exactly_and_only_as_plain_decimals() {
    let (_app, client) = custodian().await;
    let account = client
        .create_account(CreateAccountRequest::default())
        .await
        .unwrap()
        .id;
    let credited = client
        .deposit(funds(&account, "USD", "1234567890.123456789"))
        .await
        .unwrap();
    assert_eq!(credited.available, "1234567890.123456789");
    for (amount, needle) in [
        (
            "1.00000000000000000000000000001",
            "more digits than an exact decimal holds",
        ),
        ("1_000", "not a plain decimal"),
        ("+5", "not a plain decimal"),
        ("1e3", "not a plain decimal"),
        ("0.0000000000000000001", "amounts take at most 18"),
        (
            "79228162514264337593543950335",
            "beyond the largest amount handled (100000000000000000000)",
        ),
    ] {
        let status = client.deposit(funds(&account, "USD", amount)).await.unwrap_err();
        assert_eq!(
            status.code(),
            Code::InvalidArgument,
            "{amount}: {}",
            status.message()
        );
        assert!(
            status.message().contains(needle),
            "{amount}: {}",
            status.message()
        );
    }
}

#[tokio::test]
async fn grpc_is_unavailable_while_offline() {
    let (app, client) = custodian().await;
    let fault = app
        .inject_fault(TOKEN, json!({"kind": "offline", "params": {}, "duration": "10m"}))
        .await;
    let refused = client
        .create_account(CreateAccountRequest::default())
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unavailable);
    let (status, body) = http(&app, "GET", "/api/v1/accounts", None).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(refused.message(), body["error"]["message"].as_str().unwrap());
    let refused = client
        .list_settlements(ListSettlementsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unavailable);

    let id = fault["id"].as_str().unwrap();
    let (status, body) = app
        .admin(
            app.client.delete(format!("{}/chaos/v1/faults/{id}", app.http)),
            TOKEN,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    client
        .create_account(CreateAccountRequest::default())
        .await
        .expect("served again once the fault is cleared");
}
