//! The desk trades through the exchanges' production APIs: its orders carry its names, its fills
//! are counted once, its positions are the sum of its fills, and the kill switch stops it.

use std::time::Duration;

use serde_json::json;

use crate::support::{
    TOKEN, account_of, desk, eventually, open_orders, positions_match_trades, sample, settings, strategy,
    submitted, trades_of, world,
};

#[tokio::test]
async fn the_desk_trades_on_both_exchanges_and_its_positions_are_the_sum_of_its_fills() {
    let world = world().await;
    let desk = desk(&world, &settings(&world)).await;
    let entity = desk.instance_name.clone();

    // Accounts of the desk's entity, funded once, at both exchanges.
    let okx_account = eventually(
        Duration::from_secs(20),
        "an account at the first exchange",
        || async { account_of(&world.okx, &entity).await },
    )
    .await;
    let binance_account = eventually(
        Duration::from_secs(20),
        "an account at the second exchange",
        || async { account_of(&world.binance, &entity).await },
    )
    .await;

    // The market maker quotes both sides at the first exchange, named after itself, never crossed.
    submitted(&desk, "mm-okx", 2).await;
    let quotes = eventually(Duration::from_secs(20), "two-sided quotes", || async {
        let open = open_orders(&world.okx, &okx_account).await;
        let mm: Vec<_> = open
            .into_iter()
            .filter(|o| o.client_order_id.starts_with("mm-okx-"))
            .collect();
        (mm.iter().any(|o| o.side == "BUY") && mm.iter().any(|o| o.side == "SELL")).then_some(mm)
    })
    .await;
    let best = |side: &str| {
        quotes
            .iter()
            .filter(|o| o.side == side)
            .map(|o| o.price.parse::<rust_decimal::Decimal>().unwrap())
            .collect::<Vec<_>>()
    };
    assert!(best("BUY").iter().max() < best("SELL").iter().min(), "{quotes:?}");

    // Momentum trades at the second exchange: fills there, for the desk's entity.
    let momentum = eventually(Duration::from_secs(40), "momentum fills", || async {
        let s = strategy(&desk, "momentum-btc").await;
        let trades = trades_of(&world.binance, &entity).await;
        (!trades.is_empty() && s["orders_submitted"].as_u64() > Some(0)).then_some(s)
    })
    .await;
    assert_eq!(momentum["status"], "RUNNING", "{momentum}");
    // Its market orders are accepted as sent (none refused by the exchange).
    assert!(
        momentum["rejected_by_reason"]["exchange_rejected"].is_null(),
        "{momentum}"
    );
    assert_eq!(momentum["kind"], "momentum");

    let metrics = desk.metrics().await;
    assert!(
        sample(
            &metrics,
            "trading_orders_submitted_total",
            &[("strategy", "mm-okx"), ("exchange", world.okx())]
        )
        .unwrap_or(0.0)
            >= 2.0,
        "{metrics}"
    );
    assert_eq!(
        sample(
            &metrics,
            "trading_strategies_running",
            &[("strategy", "momentum-btc")]
        ),
        Some(1.0)
    );

    // The kill switch: every strategy halted, every open order of the desk cancelled.
    let (status, halted) = desk.post_json("/api/v1/halt", json!({})).await;
    assert_eq!(status, 200, "{halted}");
    assert_eq!(halted["halted"].as_array().unwrap().len(), 3, "{halted}");
    let (_, list) = desk.get_json("/api/v1/strategies").await;
    for s in list["strategies"].as_array().unwrap() {
        assert_eq!(s["status"], "HALTED", "{s}");
    }
    eventually(Duration::from_secs(20), "no open order left", || async {
        (open_orders(&world.okx, &okx_account).await.is_empty()
            && open_orders(&world.binance, &binance_account).await.is_empty())
        .then_some(())
    })
    .await;

    // Every fill counted once, whichever way it came (the order's answer, the stream, the scans).
    let positions = positions_match_trades(&world, &desk).await;
    assert!(positions.contains_key("BTC-USD"), "{positions:?}");
    let (status, pnl) = desk.get_json("/api/v1/pnl").await;
    assert_eq!(status, 200, "{pnl}");
    assert_eq!(pnl["strategies"].as_array().unwrap().len(), 3, "{pnl}");
    let metrics = desk.metrics().await;
    assert_eq!(
        sample(
            &metrics,
            "trading_strategies_running",
            &[("strategy", "momentum-btc")]
        ),
        Some(0.0)
    );

    // A halted strategy starts again only when asked.
    let (status, started) = desk
        .post_json("/api/v1/strategies/momentum-btc/start", json!({}))
        .await;
    assert_eq!(
        (status, started["status"].as_str()),
        (200, Some("RUNNING")),
        "{started}"
    );
    let _ = TOKEN;
}

#[tokio::test]
async fn an_exchange_that_goes_away_is_counted_and_the_rest_of_the_desk_trades_on() {
    let mut world = world().await;
    let desk = desk(&world, &settings(&world)).await;
    submitted(&desk, "momentum-btc", 1).await;
    submitted(&desk, "mm-okx", 2).await;
    let binance = world.binance.instance_name.clone();
    world.binance.stop().await.unwrap();

    // Its check goes down (the instance degraded, not failed); momentum's orders there are refused
    // as venue_unavailable and counted; the market maker goes on at the other exchange.
    let health = desk
        .wait_health(Duration::from_secs(20), |h| {
            h["checks"][binance.as_str()]["status"] == "down"
        })
        .await;
    assert_eq!(health["status"], "degraded", "{health}");
    let before = strategy(&desk, "mm-okx").await["orders_submitted"]
        .as_u64()
        .unwrap();
    let refused = eventually(Duration::from_secs(40), "refusals counted", || async {
        let s = strategy(&desk, "momentum-btc").await;
        (s["rejected_by_reason"]["venue_unavailable"].as_u64() > Some(0)).then_some(s)
    })
    .await;
    assert_eq!(refused["status"], "RUNNING", "{refused}");
    let metrics = desk.metrics().await;
    assert!(
        sample(
            &metrics,
            "trading_orders_rejected_total",
            &[("strategy", "momentum-btc"), ("reason", "venue_unavailable")]
        ) > Some(0.0),
        "{metrics}"
    );
    let _ = before;
    let okx = world.okx.instance_name.clone();
    let health = desk
        .wait_health(Duration::from_secs(5), |h| {
            h["checks"][okx.as_str()]["status"] == "up"
        })
        .await;
    assert_eq!(strategy(&desk, "mm-okx").await["status"], "RUNNING", "{health}");
}
