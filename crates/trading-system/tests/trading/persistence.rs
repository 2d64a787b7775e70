//! The desk's state survives a restart: it finds its accounts again (funded once), its positions
//! and order numbers carry on, and no fill is counted twice — on embedded storage and on
//! PostgreSQL with Redis.

use std::time::Duration;

use tse_testing::{
    app::{TestOptions, spawn_with, unique_instance},
    servers::{PgGuard, RedisGuard, database_url, redis_url},
};

use crate::support::{
    World, account_of, d, desk_options, eventually, positions_match_trades, settings, strategy, submitted,
    trades_of, world,
};

async fn restart_keeps_the_books(world: &World, options: TestOptions) {
    let mut first = spawn_with(tse_trading_system::service(), options.clone()).await;
    let entity = first.instance_name.clone();
    eventually(Duration::from_secs(40), "momentum fills", || async {
        (!trades_of(&world.binance, &entity).await.is_empty()).then_some(())
    })
    .await;
    let before = positions_match_trades(world, &first).await;
    let sent = strategy(&first, "momentum-btc").await["orders_submitted"]
        .as_u64()
        .unwrap();
    first.stop().await.unwrap();

    let second = spawn_with(tse_trading_system::service(), options).await;
    // The same state back, then trading on from there.
    let restored = strategy(&second, "momentum-btc").await;
    assert!(
        restored["orders_submitted"].as_u64().unwrap() >= sent,
        "{restored}"
    );
    submitted(&second, "momentum-btc", sent + 1).await;
    let after = positions_match_trades(world, &second).await;
    assert!(!after.is_empty(), "{before:?} -> {after:?}");

    // Funded once: the account holds about the funding, not twice it.
    let account = account_of(&world.binance, &entity).await.unwrap();
    let client = world.binance.exchange_client().await;
    let balances = client
        .get_balances(tse_proto::exchange::v1::GetBalancesRequest { account_id: account })
        .await
        .unwrap();
    let usd = balances.balances.iter().find(|b| b.asset == "USD").unwrap();
    let total: rust_decimal::Decimal = usd.total.parse().unwrap();
    assert!(total < d("1500000") && total > d("500000"), "{usd:?}");
}

#[tokio::test]
async fn a_restarted_desk_carries_on_without_counting_a_fill_twice_or_funding_twice() {
    let world = world().await;
    let name = unique_instance("trading-system");
    let dir = tempfile::tempdir().unwrap();
    let options = TestOptions {
        data_dir: Some(dir.path().to_owned()),
        ..desk_options(&world, &name, &settings(&world))
    };
    restart_keeps_the_books(&world, options).await;
}

#[tokio::test]
async fn on_postgres_and_redis_a_restarted_desk_keeps_its_books() {
    let test = "on_postgres_and_redis_a_restarted_desk_keeps_its_books";
    let (Some(db), Some(redis)) = (database_url(test), redis_url(test)) else {
        return;
    };
    let world = world().await;
    let name = format!("trading-system-pg{}", std::process::id());
    let schema = name.replace('-', "_").to_ascii_lowercase();
    let _pg = PgGuard::new(&db, &schema);
    let _redis = RedisGuard {
        url: redis.clone(),
        patterns: vec![format!("trading-system:pg{}:*", std::process::id())],
    };
    let options = TestOptions {
        database_url: Some(db),
        redis_url: Some(redis),
        ..desk_options(&world, &name, &settings(&world))
    };
    restart_keeps_the_books(&world, options).await;
}
