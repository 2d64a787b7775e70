//! The collectors against real instances — market data, an exchange and a custodian sharing a
//! registry — through their production APIs only: what a desk does there shows up as observations,
//! and an exchange that stops shows up as failed requests.

#![allow(unreachable_pub)]

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tonic::Code;
use tse_proto::{
    custodian::v1 as cust,
    exchange::v1::{CreateAccountRequest, ListAccountsRequest, MoveFundsRequest, PlaceOrderRequest},
    marketdata::v1::ListPricesRequest,
};
use tse_risk_monitor::{
    app::collect::{Cadence, CollectParts, run},
    domain::observation::{Observation, Outcome},
};
use tse_runtime::{
    clock::Clock,
    discovery::{Discovery, Registry},
    identity::ServiceKind,
    peers::Peers,
};
use tse_testing::app::{TestApp, TestOptions, eventually, spawn_with, unique_instance};

/// Simulated seconds per wall second.
const CLOCK: &str = "10";
/// Waits are generous: a busy test machine is slow, never wrong.
const WAIT: Duration = Duration::from_secs(60);
const DESK: &str = "desk-A";

fn options(registry: &Registry, prefix: &str, settings: &str) -> TestOptions {
    TestOptions {
        registry: Some(registry.clone()),
        clock_speed: Some(CLOCK),
        instance: Some(unique_instance(prefix)),
        settings: Some(settings.parse().expect("settings TOML")),
        ..Default::default()
    }
}

/// Everything the collectors sent so far.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<Observation>>>);

impl Seen {
    fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }

    /// The first observation (from index `from` on) that `pick` picks.
    fn find<T>(&self, from: usize, pick: impl Fn(&Observation) -> Option<T>) -> Option<T> {
        self.0.lock().unwrap().iter().skip(from).find_map(pick)
    }

    /// Waits until an observation from index `from` on is picked.
    async fn wait<T>(&self, what: &str, from: usize, pick: impl Fn(&Observation) -> Option<T>) -> T {
        eventually(WAIT, what, || std::future::ready(self.find(from, &pick))).await
    }
}

/// Retries `call` while the instance is still starting (`UNAVAILABLE`).
async fn ready<T, F, Fut>(what: &str, call: F) -> T
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<T, tse_client::ClientError>>,
{
    eventually(WAIT, what, || async {
        match call().await {
            Ok(answer) => Some(answer),
            Err(e) if e.code() == Code::Unavailable => None,
            Err(e) => panic!("{what}: {e}"),
        }
    })
    .await
}

fn order(account: &str, side: &str, price: &str, quantity: &str) -> PlaceOrderRequest {
    PlaceOrderRequest {
        account_id: account.into(),
        symbol: "BTC-USD".into(),
        side: side.into(),
        r#type: "LIMIT".into(),
        price: price.into(),
        quantity: quantity.into(),
        ..Default::default()
    }
}

/// Opens an account of `entity` at `exchange` holding `amount` of `asset`.
async fn exchange_account(exchange: &TestApp, entity: &str, asset: &str, amount: &str) -> String {
    let client = exchange.exchange_client().await;
    let account = ready("an exchange account", || {
        client.create_account(CreateAccountRequest {
            entity: entity.into(),
        })
    })
    .await;
    client
        .deposit(MoveFundsRequest {
            account_id: account.id.clone(),
            asset: asset.into(),
            amount: amount.into(),
        })
        .await
        .unwrap();
    account.id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_desks_activity_at_every_venue_is_observed_and_a_stopped_exchange_fails_its_requests() {
    let registry = Registry::embedded();
    let market = spawn_with(
        tse_market_data::service(),
        options(&registry, "market-data", "tick_interval = \"1s\""),
    )
    .await;
    // No liquidity provider: the book holds the desks' orders only.
    let mut exchange = spawn_with(
        tse_exchange::service(),
        options(&registry, "exchange", "[liquidity]\nenabled = false"),
    )
    .await;
    let custodian = spawn_with(tse_custodian::service(), options(&registry, "custodian", "")).await;
    let (md_name, ex_name, cu_name) = (
        market.instance_name.clone(),
        exchange.instance_name.clone(),
        custodian.instance_name.clone(),
    );

    // Every instance serves before the collectors start.
    let md_client = market.market_data_client().await;
    ready("market data", || md_client.list_prices(ListPricesRequest {})).await;
    let client = exchange.exchange_client().await;
    ready("the exchange", || {
        client.list_accounts(ListAccountsRequest::default())
    })
    .await;
    let cclient = custodian.custodian_client().await;
    ready("the custodian", || {
        cclient.list_accounts(cust::ListAccountsRequest::default())
    })
    .await;

    // The collectors.
    let (tx, mut rx) = mpsc::channel(256);
    let seen = Seen::default();
    let sink = seen.clone();
    tokio::spawn(async move {
        while let Some(observation) = rx.recv().await {
            sink.0.lock().unwrap().push(observation);
        }
    });
    let stop = CancellationToken::new();
    let collectors = tokio::spawn(run(CollectParts {
        peers: Peers::new(registry.clone(), "test"),
        clock: Clock::new(CLOCK.parse().unwrap()),
        entities: vec![DESK.to_owned()],
        cadence: Cadence {
            every: Duration::from_secs(1),
            min_wall: Duration::from_millis(100),
        },
        market_data: Vec::new(),
        observations: tx,
        stop: stop.clone(),
    }));

    // While they run, desk-A opens its accounts and trades.
    // desk-A rests a bid and lifts desk-B's offer; desk-B is not monitored.
    let desk = exchange_account(&exchange, DESK, "USD", "100000").await;
    let other = exchange_account(&exchange, "desk-B", "BTC", "1").await;
    let offer = client
        .place_order(order(&other, "SELL", "50000", "0.5"))
        .await
        .unwrap();
    let bid = client
        .place_order(order(&desk, "BUY", "40000", "0.1"))
        .await
        .unwrap();
    let lift = client
        .place_order(order(&desk, "BUY", "50000", "0.2"))
        .await
        .unwrap();
    let (offer, bid, lift_order) = (offer.order.unwrap(), bid.order.unwrap(), lift.order.unwrap());
    assert_eq!(bid.status, "NEW");
    assert_eq!(lift_order.status, "FILLED");
    let trade = lift.trades.first().expect("the offer is lifted").clone();

    // desk-A at the custodian: funds, and a T+2 trade that stays pending.
    let custody = ready("a custody account", || {
        cclient.create_account(cust::CreateAccountRequest { entity: DESK.into() })
    })
    .await;
    cclient
        .deposit(cust::MoveFundsRequest {
            account_id: custody.id.clone(),
            asset: "USD".into(),
            amount: "5000".into(),
        })
        .await
        .unwrap();
    let settlement = cclient
        .submit_settlement(cust::SubmitSettlementRequest {
            external_id: "trade-1".into(),
            account_id: custody.id.clone(),
            r#type: "TRADE".into(),
            cycle: "T+2".into(),
            symbol: "BTC-USD".into(),
            side: "BUY".into(),
            quantity: "0.02".into(),
            price: "50000".into(),
            fee: "1".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .settlement
        .unwrap();
    assert_eq!(settlement.status, "PENDING");

    // Prices from the market data source.
    let price = seen
        .wait("a price", 0, |o| match o {
            Observation::Price(p) if p.source == md_name && p.symbol == "BTC-USD" => Some(p.clone()),
            _ => None,
        })
        .await;
    assert!(price.price > 0.0);
    seen.wait("the price stream observed as a request", 0, |o| match o {
        Observation::Request(r) if r.venue == md_name && r.outcome == Outcome::Ok => Some(()),
        _ => None,
    })
    .await;

    // Holdings at the exchange: the deposit, less the lift (fees are paid in USD).
    let holdings = seen
        .wait(
            "desk-A's holdings at the exchange after the lift",
            0,
            |o| match o {
                Observation::Holdings(h)
                    if h.venue == ex_name
                        && h.entity == DESK
                        && h.balances.iter().any(|(a, v)| a == "BTC" && *v > 0.0) =>
                {
                    Some(h.clone())
                }
                _ => None,
            },
        )
        .await;
    let held = |asset: &str| {
        holdings
            .balances
            .iter()
            .find(|(a, _)| a == asset)
            .map(|(_, v)| *v)
    };
    assert!((held("BTC").unwrap() - 0.2).abs() < 1e-9, "{holdings:?}");
    let usd = held("USD").unwrap();
    assert!(usd <= 90_000.0 && usd > 89_000.0, "{holdings:?}");

    // Orders: both of desk-A's, each new once, oldest first; the resting bid open; desk-B's offer
    // never.
    let open = seen
        .wait("desk-A's resting bid open", 0, |o| match o {
            Observation::Orders(a) if a.venue == ex_name && a.entity == DESK && !a.open.is_empty() => {
                Some(a.open.clone())
            }
            _ => None,
        })
        .await;
    let ids: Vec<&str> = open.iter().map(|o| o.id.as_str()).collect();
    assert_eq!(ids, [bid.id.as_str()]);
    assert!((open[0].remaining - 0.1).abs() < 1e-9);
    assert!((open[0].price - 40_000.0).abs() < 1e-9);
    assert_eq!((open[0].side.as_str(), open[0].status.as_str()), ("BUY", "NEW"));
    let new_orders = |seen: &Seen| -> Vec<(String, String)> {
        seen.0
            .lock()
            .unwrap()
            .iter()
            .filter_map(|o| match o {
                Observation::Orders(a) if a.venue == ex_name && a.entity == DESK => Some(a.new.clone()),
                _ => None,
            })
            .flatten()
            .map(|o| (o.id, o.status))
            .collect()
    };
    eventually(WAIT, "both of desk-A's orders reported new", || {
        std::future::ready((new_orders(&seen).len() >= 2).then_some(()))
    })
    .await;
    // A few more looks: none reports an order again.
    for _ in 0..3 {
        let from = seen.len();
        seen.wait("a later look at desk-A's orders", from, |o| match o {
            Observation::Orders(a) if a.venue == ex_name && a.entity == DESK => Some(()),
            _ => None,
        })
        .await;
    }
    let reported = new_orders(&seen);
    let ids: Vec<&str> = reported.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(
        ids,
        [bid.id.as_str(), lift_order.id.as_str()],
        "each once, oldest first, never another entity's ({})",
        offer.id
    );

    // The fill, on desk-A's side, with its fee.
    let fill = seen
        .wait("desk-A's fill", 0, |o| match o {
            Observation::Fill(f) if f.venue == ex_name => Some(f.clone()),
            _ => None,
        })
        .await;
    assert_eq!(fill.entity, DESK);
    assert_eq!(fill.trade_id, trade.id);
    assert_eq!(fill.side, "BUY");
    assert!((fill.quantity - 0.2).abs() < 1e-9);
    assert!((fill.price - 50_000.0).abs() < 1e-9);
    assert!((fill.fee - trade.buyer_fee.parse::<f64>().unwrap()).abs() < 1e-9);
    assert_eq!(
        seen.0
            .lock()
            .unwrap()
            .iter()
            .filter(|o| matches!(o, Observation::Fill(_)))
            .count(),
        1,
        "a fill is seen once"
    );

    // The book's top: desk-A's bid, what is left of desk-B's offer.
    seen.wait("the BTC-USD book top", 0, |o| match o {
        Observation::Book(b)
            if b.venue == ex_name
                && b.symbol == "BTC-USD"
                && b.bid == Some(40_000.0)
                && b.ask == Some(50_000.0) =>
        {
            Some(())
        }
        _ => None,
    })
    .await;

    // The custodian: holdings and the pending settlement with its legs.
    let custody_held = seen
        .wait("desk-A's holdings at the custodian", 0, |o| match o {
            Observation::Holdings(h) if h.venue == cu_name && h.entity == DESK && !h.balances.is_empty() => {
                Some(h.clone())
            }
            _ => None,
        })
        .await;
    assert!(
        custody_held
            .balances
            .iter()
            .any(|(a, v)| a == "USD" && (*v - 5000.0).abs() < 1e-9),
        "{custody_held:?}"
    );
    let pending = seen
        .wait("desk-A's pending settlements", 0, |o| match o {
            Observation::Settlements(s)
                if s.custodian == cu_name && s.entity == DESK && !s.pending.is_empty() =>
            {
                Some(s.clone())
            }
            _ => None,
        })
        .await;
    assert_eq!(pending.pending.len(), 1, "{pending:?}");
    let p = &pending.pending[0];
    assert_eq!(p.id, settlement.id);
    assert!(p.due_at > p.created_at);
    assert!(p.legs.contains(&("BTC".to_owned(), 0.02)), "{p:?}");
    assert!(p.legs.contains(&("USD".to_owned(), -1001.0)), "{p:?}");

    // Every call so far answered.
    assert!(
        seen.find(0, |o| match o {
            Observation::Request(r) if r.outcome != Outcome::Ok => Some(r.clone()),
            _ => None,
        })
        .is_none(),
        "no failed request while every venue is up"
    );

    // The exchange stops as if it crashed: its registration outlives it (until its TTL), so it is
    // still asked, and every tick it fails.
    let registration = registry
        .by_service(ServiceKind::ExchangeSimulator)
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.instance == ex_name)
        .expect("the exchange is registered");
    exchange.stop().await.unwrap();
    Discovery::new(
        registry.clone(),
        registration,
        Clock::new(1.0).spec(),
        Duration::from_secs(600),
    )
    .register()
    .await
    .unwrap();
    let stopped = seen.len();
    for n in 1..=3 {
        let from = seen.len().max(stopped);
        seen.wait(
            &format!("failed request {n} to the stopped exchange"),
            from,
            |o| match o {
                Observation::Request(r) if r.venue == ex_name && r.outcome == Outcome::Unavailable => {
                    Some(())
                }
                _ => None,
            },
        )
        .await;
    }
    // The other venues are still followed.
    let from = seen.len();
    seen.wait(
        "holdings at the custodian after the exchange stopped",
        from,
        |o| match o {
            Observation::Holdings(h) if h.venue == cu_name => Some(()),
            _ => None,
        },
    )
    .await;

    stop.cancel();
    tokio::time::timeout(WAIT, collectors)
        .await
        .expect("the collectors stop when asked")
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entity_without_accounts_is_skipped_quietly_and_a_closed_channel_ends_the_collectors() {
    let registry = Registry::embedded();
    let exchange = spawn_with(
        tse_exchange::service(),
        options(&registry, "exchange", "[liquidity]\nenabled = false"),
    )
    .await;
    let client = exchange.exchange_client().await;
    ready("the exchange", || {
        client.list_accounts(ListAccountsRequest::default())
    })
    .await;

    let (tx, mut rx) = mpsc::channel(16);
    let stop = CancellationToken::new();
    let collectors = tokio::spawn(run(CollectParts {
        peers: Peers::new(registry.clone(), "test"),
        clock: Clock::new(CLOCK.parse().unwrap()),
        entities: vec!["nobody".to_owned()],
        cadence: Cadence {
            every: Duration::from_secs(1),
            min_wall: Duration::from_millis(50),
        },
        market_data: Vec::new(),
        observations: tx,
        stop,
    }));
    // Ten observations: requests that were answered (and the empty books), nothing of the entity.
    for _ in 0..10 {
        let observation = tokio::time::timeout(WAIT, rx.recv())
            .await
            .expect("observations arrive")
            .expect("the channel is open");
        match observation {
            Observation::Request(r) => assert_eq!(r.outcome, Outcome::Ok, "{r:?}"),
            Observation::Book(_) => {}
            other => panic!("nothing is observed of an entity without accounts: {other:?}"),
        }
    }
    drop(rx);
    tokio::time::timeout(WAIT, collectors)
        .await
        .expect("the collectors end once nobody listens")
        .unwrap();
}
