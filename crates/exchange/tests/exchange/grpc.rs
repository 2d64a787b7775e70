//! The gRPC face: same semantics and messages as HTTP, errors as status codes, the market stream.

use std::time::Duration;

use futures::StreamExt;
use tonic::Code;
use tse_proto::exchange::v1::{
    AmendOrderRequest, CreateAccountRequest, GetBalancesRequest, GetOrderBookRequest, ListAccountsRequest,
    ListOrdersRequest, ListSymbolsRequest, ListTradesRequest, MoveFundsRequest, OrderRef, PlaceOrderRequest,
    StreamMarketRequest, market_event::Event, place_order_reply::Outcome,
};

use crate::support::{QUIET, exchange};

fn order(account: &str, side: &str, price: &str, quantity: &str) -> PlaceOrderRequest {
    PlaceOrderRequest {
        account_id: account.into(),
        symbol: "eth-usd".into(),
        side: side.into(),
        r#type: "limit".into(),
        price: price.into(),
        quantity: quantity.into(),
        ..Default::default()
    }
}

/// Opens an account over gRPC and deposits `funds` into it; returns its id.
async fn funded(client: &tse_client::Exchange, funds: &[(&str, &str)]) -> String {
    let account = client
        .create_account(CreateAccountRequest::default())
        .await
        .unwrap();
    for (asset, amount) in funds {
        client
            .deposit(MoveFundsRequest {
                account_id: account.id.clone(),
                asset: (*asset).into(),
                amount: (*amount).into(),
            })
            .await
            .unwrap();
    }
    account.id
}

#[tokio::test]
async fn grpc_places_fills_and_lists_like_http() {
    let app = exchange(QUIET).await;
    let client = app.exchange_client().await;
    let maker = client
        .create_account(CreateAccountRequest { entity: "mm".into() })
        .await
        .unwrap();
    let taker = client
        .create_account(CreateAccountRequest::default())
        .await
        .unwrap();
    assert_eq!(maker.entity, "mm");
    let funded = client
        .deposit(MoveFundsRequest {
            account_id: maker.id.clone(),
            asset: "eth".into(),
            amount: "3".into(),
        })
        .await
        .unwrap();
    assert_eq!((funded.asset.as_str(), funded.available.as_str()), ("ETH", "3"));
    client
        .deposit(MoveFundsRequest {
            account_id: taker.id.clone(),
            asset: "USD".into(),
            amount: "10000".into(),
        })
        .await
        .unwrap();

    let resting = client
        .place_order(order(&maker.id, "SELL", "2500", "2"))
        .await
        .unwrap();
    let resting = resting.order.unwrap();
    assert_eq!(
        (resting.status.as_str(), resting.symbol.as_str()),
        ("NEW", "ETH-USD")
    );
    let filled = client
        .place_order(order(&taker.id, "buy", "2500", "1"))
        .await
        .unwrap();
    assert_eq!(filled.order.as_ref().unwrap().status, "FILLED");
    assert_eq!(filled.trades.len(), 1);
    assert_eq!(filled.trades[0].buyer_fee, "1.25");

    let amended = client
        .amend_order(AmendOrderRequest {
            order_id: resting.id.parse().unwrap(),
            price: "2600".into(),
            quantity: String::new(),
        })
        .await
        .unwrap();
    assert_eq!(amended.order.unwrap().price, "2600");

    let book = client
        .get_order_book(GetOrderBookRequest {
            symbol: "ETH-USD".into(),
            depth: 0,
        })
        .await
        .unwrap();
    assert_eq!(
        (book.asks[0].price.as_str(), book.asks[0].quantity.as_str()),
        ("2600", "1")
    );

    let balances = client
        .get_balances(GetBalancesRequest {
            account_id: taker.id.clone(),
        })
        .await
        .unwrap();
    let usd = balances.balances.iter().find(|b| b.asset == "USD").unwrap();
    assert_eq!(usd.available, "7498.75");

    let trades = client
        .list_trades(ListTradesRequest {
            account_id: maker.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(trades.trades.len(), 1);
    let orders = client
        .list_orders(ListOrdersRequest {
            status: "open".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(orders.orders.len(), 1);
    let cancelled = client
        .cancel_order(OrderRef {
            order_id: resting.id.parse().unwrap(),
        })
        .await
        .unwrap();
    assert_eq!(cancelled.status, "CANCELLED");
    let symbols = client.list_symbols(ListSymbolsRequest {}).await.unwrap();
    assert_eq!(symbols.symbols.len(), 6);
}

#[tokio::test]
async fn grpc_errors_carry_the_matching_codes_and_messages() {
    let app = exchange(QUIET).await;
    let client = app.exchange_client().await;
    let trader = funded(&client, &[("USD", "100")]).await;
    let mut with_id = order(&trader, "BUY", "10", "1");
    with_id.client_order_id = "c-1".into();
    let placed = client.place_order(with_id.clone()).await.unwrap();
    let id: u64 = placed.order.unwrap().id.parse().unwrap();

    let cases: Vec<(PlaceOrderRequest, Code, &str)> = vec![
        (
            order(&trader, "BUY", "10", "500"),
            Code::FailedPrecondition,
            "insufficient USD",
        ),
        (
            order(&trader, "BUY", "10.001", "1"),
            Code::InvalidArgument,
            "tick size",
        ),
        (
            order(&trader, "BUY", "10", "0"),
            Code::InvalidArgument,
            "positive",
        ),
        (
            order("acct-77", "BUY", "10", "1"),
            Code::NotFound,
            "unknown account",
        ),
        (with_id, Code::AlreadyExists, "c-1"),
        (
            PlaceOrderRequest {
                symbol: "XRP-USD".into(),
                ..order(&trader, "BUY", "10", "1")
            },
            Code::InvalidArgument,
            "unknown symbol",
        ),
    ];
    for (request, code, needle) in cases {
        let status = client.place_order(request.clone()).await.unwrap_err();
        assert_eq!(status.code(), code, "{request:?}: {}", status.message());
        assert!(
            status.message().contains(needle),
            "{request:?}: {}",
            status.message()
        );
    }
    client.cancel_order(OrderRef { order_id: id }).await.unwrap();
    let again = client.cancel_order(OrderRef { order_id: id }).await.unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition, "{}", again.message());
    let missing = client
        .get_order(OrderRef { order_id: 987_654 })
        .await
        .unwrap_err();
    assert_eq!(
        (missing.code(), missing.message()),
        (Code::NotFound, "unknown order 987654")
    );
    let book = client
        .get_order_book(GetOrderBookRequest {
            symbol: "NOPE".into(),
            depth: 1,
        })
        .await
        .unwrap_err();
    assert_eq!(book.code(), Code::NotFound);
    let balance = client
        .get_balances(GetBalancesRequest {
            account_id: trader.clone(),
        })
        .await
        .unwrap();
    let usd = balance.balances.iter().find(|b| b.asset == "USD").unwrap();
    assert_eq!(
        (usd.available.as_str(), usd.locked.as_str()),
        ("100", "0"),
        "nothing was lost"
    );
}

#[tokio::test]
async fn grpc_refuses_values_that_would_overflow_with_invalid_argument_and_goes_on_trading() {
    let app = exchange(QUIET).await;
    let client = app.exchange_client().await;
    let max = "79228162514264337593543950335";
    let bound = "is beyond the largest amount handled (100000000000000000000)";
    let trader = funded(&client, &[("USD", "100000"), ("ETH", "10")]).await;
    let resting = client
        .place_order(order(&trader, "BUY", "10", "1"))
        .await
        .unwrap();
    let id: u64 = resting.order.unwrap().id.parse().unwrap();
    for (request, needle) in [
        (order(&trader, "BUY", max, "1"), format!("price: {max} {bound}")),
        (
            order(&trader, "SELL", "10", max),
            format!("quantity: {max} {bound}"),
        ),
        (
            order(&trader, "BUY", "90000000000000000", "100000000000000"),
            format!("notional 90000000000000000 × 100000000000000 {bound}"),
        ),
    ] {
        let status = client.place_order(request.clone()).await.unwrap_err();
        assert_eq!(
            (status.code(), status.message()),
            (Code::InvalidArgument, needle.as_str()),
            "{request:?}"
        );
    }
    for (price, quantity) in [(max, ""), ("", max), ("90000000000000000", "100000000000000")] {
        let status = client
            .amend_order(AmendOrderRequest {
                order_id: id,
                price: price.into(),
                quantity: quantity.into(),
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{}", status.message());
        assert!(status.message().contains(bound), "{}", status.message());
    }
    let status = client
        .deposit(MoveFundsRequest {
            account_id: trader.clone(),
            asset: "USD".into(),
            amount: max.into(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        (status.code(), status.message()),
        (Code::InvalidArgument, format!("amount: {max} {bound}").as_str())
    );

    // Still trading: the resting buy fills against a sell.
    let other = funded(&client, &[("ETH", "1")]).await;
    let filled = client
        .place_order(order(&other, "SELL", "10", "1"))
        .await
        .unwrap();
    assert_eq!(filled.trades.len(), 1, "{filled:?}");
    let (status, _) = app.get_json("/api/v1/ready").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn grpc_reads_amounts_exactly_and_only_as_plain_decimals() {
    let app = exchange(QUIET).await;
    let client = app.exchange_client().await;
    let trader = funded(&client, &[]).await;
    let deposit = |amount: &str| MoveFundsRequest {
        account_id: trader.clone(),
        asset: "USD".into(),
        amount: amount.into(),
    };
    let credited = client.deposit(deposit("1234567890.123456789")).await.unwrap();
    assert_eq!(credited.available, "1234567890.123456789");
    for (amount, needle) in [
        (
            "1.00000000000000000000000000001",
            "more digits than an exact decimal holds",
        ),
        ("1_000", "not a plain decimal"),
        ("+5", "not a plain decimal"),
        ("1e3", "not a plain decimal"),
        ("0.000000000001", "USD takes at most 11"),
    ] {
        let status = client.deposit(deposit(amount)).await.unwrap_err();
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
async fn grpc_streams_trades_and_books() {
    let app = exchange(QUIET).await;
    let client = app.exchange_client().await;
    let mut stream = client
        .stream_market(StreamMarketRequest {
            symbols: vec!["ETH-USD".into()],
        })
        .await
        .unwrap();
    let trader = funded(&client, &[("ETH", "1")]).await;
    let other = funded(&client, &[("USD", "5000")]).await;
    client
        .place_order(order(&trader, "SELL", "2000", "1"))
        .await
        .unwrap();
    client
        .place_order(order(&other, "BUY", "2000", "0.5"))
        .await
        .unwrap();
    let mut trades = 0;
    let mut books = 0;
    tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(event) = stream.next().await {
            match event.unwrap().event.unwrap() {
                Event::Trade(t) => {
                    assert_eq!((t.price.as_str(), t.quantity.as_str()), ("2000", "0.5"));
                    trades += 1;
                }
                Event::Book(b) => {
                    assert_eq!(b.symbol, "ETH-USD");
                    books += 1;
                }
            }
            if trades == 1 && books >= 2 {
                break;
            }
        }
    })
    .await
    .expect("trade and books streamed");
}

#[tokio::test]
async fn an_order_session_answers_every_order_in_turn_and_goes_on_after_a_bad_one() {
    let app = exchange(QUIET).await;
    let client = app.exchange_client().await;
    // 40 sells resting at 2000..2039; a price off the tick; a buy the taker cannot pay for; then
    // five buys that take the five cheapest asks.
    let trader = funded(&client, &[("ETH", "10"), ("USD", "20000")]).await;
    let taker = funded(&client, &[("USD", "20000")]).await;
    let mut orders: Vec<PlaceOrderRequest> = (0..40)
        .map(|i| order(&trader, "SELL", &(2000 + i).to_string(), "0.1"))
        .collect();
    orders.push(order(&trader, "SELL", "2000.001", "0.1"));
    orders.push(order(&taker, "BUY", "2000", "1000"));
    orders.extend((0..5).map(|_| order(&taker, "BUY", "2039", "0.1")));
    let mut replies = client.place_orders(futures::stream::iter(orders)).await.unwrap();
    let mut answers = Vec::new();
    while let Some(reply) = tokio::time::timeout(Duration::from_secs(10), replies.next())
        .await
        .expect("a reply within 10 s")
    {
        answers.push(reply.unwrap());
    }
    assert_eq!(answers.len(), 47, "one reply per order");
    assert!(
        answers.iter().enumerate().all(|(i, a)| a.sequence == i as u64),
        "replies in order"
    );
    let outcome = |i: usize| answers[i].outcome.clone().unwrap();
    for i in 0..40 {
        let Outcome::Result(r) = outcome(i) else {
            panic!("order {i}: {:?}", outcome(i))
        };
        assert_eq!(r.order.unwrap().status, "NEW");
    }
    let Outcome::Error(off_tick) = outcome(40) else {
        panic!("{:?}", outcome(40))
    };
    assert_eq!(off_tick.status, "InvalidArgument");
    assert!(off_tick.message.contains("tick size"), "{}", off_tick.message);
    let Outcome::Error(broke) = outcome(41) else {
        panic!("{:?}", outcome(41))
    };
    assert_eq!(
        (broke.status.as_str(), broke.code.as_str()),
        ("FailedPrecondition", "insufficient_balance")
    );
    let mut fills = Vec::new();
    for i in 42..47 {
        let Outcome::Result(r) = outcome(i) else {
            panic!("order {i}: {:?}", outcome(i))
        };
        assert_eq!(r.order.unwrap().status, "FILLED");
        fills.extend(r.trades.into_iter().map(|t| t.price));
    }
    assert_eq!(
        fills,
        ["2000", "2001", "2002", "2003", "2004"],
        "best asks first, in session order"
    );
    let book = client
        .get_order_book(GetOrderBookRequest {
            symbol: "ETH-USD".into(),
            depth: 1,
        })
        .await
        .unwrap();
    assert_eq!((book.asks[0].price.as_str(), book.bids.len()), ("2005", 0));
}

#[tokio::test]
async fn grpc_lists_an_entitys_accounts_and_its_trades_after_an_id() {
    let app = exchange(QUIET).await;
    let client = app.exchange_client().await;
    let open = async |entity: &str| {
        client
            .create_account(CreateAccountRequest {
                entity: entity.into(),
            })
            .await
            .unwrap()
            .id
    };
    let (lh1, maker, lh2) = (
        open("trading-system-LH").await,
        open("mm").await,
        open("trading-system-LH").await,
    );
    let mut pages = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = client
            .list_accounts(ListAccountsRequest {
                entity: "trading-system-LH".into(),
                limit: 1,
                cursor: cursor.clone(),
            })
            .await
            .unwrap();
        pages.push(page.accounts.iter().map(|a| a.id.clone()).collect::<Vec<_>>());
        if page.next_cursor.is_empty() {
            break;
        }
        cursor = page.next_cursor;
    }
    assert_eq!(pages, [vec![lh1.clone()], vec![lh2.clone()], vec![]]);
    let all = client
        .list_accounts(ListAccountsRequest::default())
        .await
        .unwrap();
    assert_eq!(
        all.accounts.iter().map(|a| a.entity.as_str()).collect::<Vec<_>>(),
        ["trading-system-LH", "mm", "trading-system-LH"]
    );
    assert_eq!(all.next_cursor, "");

    for (account, asset, amount) in [(&maker, "ETH", "1"), (&lh1, "USD", "1000"), (&lh2, "USD", "1000")] {
        client
            .deposit(MoveFundsRequest {
                account_id: account.clone(),
                asset: asset.into(),
                amount: amount.into(),
            })
            .await
            .unwrap();
    }
    client
        .place_order(order(&maker, "SELL", "2000", "1"))
        .await
        .unwrap();
    let mut trades = Vec::new();
    for buyer in [&lh1, &lh2, &lh1] {
        let placed = client
            .place_order(order(buyer, "BUY", "2000", "0.1"))
            .await
            .unwrap();
        trades.push(placed.trades[0].id.clone());
    }
    let after = |after: &str| ListTradesRequest {
        entity: "trading-system-LH".into(),
        after: after.into(),
        limit: 2,
        ..Default::default()
    };
    let first = client.list_trades(after("0")).await.unwrap();
    let ids = |r: &tse_proto::exchange::v1::ListTradesResponse| {
        r.trades.iter().map(|t| t.id.clone()).collect::<Vec<_>>()
    };
    assert_eq!(
        (ids(&first), first.next_cursor.as_str()),
        (trades[..2].to_vec(), "")
    );
    let rest = client.list_trades(after(&trades[1])).await.unwrap();
    assert_eq!(ids(&rest), trades[2..]);
    let newest = client
        .list_trades(ListTradesRequest {
            entity: "trading-system-LH".into(),
            account_id: lh2.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(ids(&newest), [trades[1].clone()]);
    let nobody = client
        .list_trades(ListTradesRequest {
            entity: "nobody".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(nobody.trades.is_empty());

    let refused = [
        (
            client.list_trades(after("x")).await.unwrap_err(),
            "after 'x' is not a trade id",
        ),
        (
            client
                .list_trades(ListTradesRequest {
                    cursor: trades[2].clone(),
                    ..after("1")
                })
                .await
                .unwrap_err(),
            "not both",
        ),
        (
            client
                .list_accounts(ListAccountsRequest {
                    cursor: "nope".into(),
                    ..Default::default()
                })
                .await
                .unwrap_err(),
            "cursor 'nope' is not one this API gave",
        ),
        (
            client
                .list_accounts(ListAccountsRequest {
                    limit: 5000,
                    ..Default::default()
                })
                .await
                .unwrap_err(),
            "limit must be between 1 and 1000",
        ),
    ];
    for (status, needle) in refused {
        assert_eq!(status.code(), Code::InvalidArgument, "{}", status.message());
        assert!(status.message().contains(needle), "{}", status.message());
    }
}
