//! The cache against the embedded store (always) and the real Redis (when `TSE_TEST_REDIS_URL` is
//! set): set/get/delete/exists/expire, TTL expiry, and namespace confinement.

use std::time::Duration;

use redis::AsyncCommands;
use tse_runtime::{
    cache::Cache,
    config::SecretUrl,
    health::{Dependency, Health},
    identity::{Identity, RedisNamespace, ServiceKind},
};

use tse_testing::app::unique_instance;
use tse_testing::servers::{RedisGuard, redis_connection, redis_url};

struct Opened {
    cache: Cache,
    _guard: Option<RedisGuard>,
}

async fn open(url: Option<&str>) -> Opened {
    let instance = unique_instance("market-data");
    let identity = Identity::new(ServiceKind::MarketDataSimulator, Some(&instance), None, None).unwrap();
    let namespace = identity.redis_namespace().clone();
    let Some(url) = url else {
        return Opened {
            cache: Cache::memory(namespace),
            _guard: None,
        };
    };
    let health = Health::new(identity, "test", "test".into());
    let gauge = prometheus::IntGauge::new("up", "up").unwrap();
    let secret = SecretUrl::parse("REDIS_URL", url, &["redis"]).unwrap();
    let cache = Cache::redis(
        namespace.clone(),
        &secret,
        Dependency::new("redis", health, gauge),
    )
    .unwrap();
    assert!(cache.connect().await, "redis reachable");
    Opened {
        cache,
        _guard: Some(RedisGuard {
            url: url.to_owned(),
            patterns: vec![format!("{namespace}:*")],
        }),
    }
}

fn backends(test: &str) -> Vec<Option<String>> {
    let mut all = vec![None];
    if let Some(url) = redis_url(test) {
        all.push(Some(url));
    }
    all
}

#[tokio::test]
async fn set_get_delete_exists_and_expire() {
    for url in backends("set_get_delete_exists_and_expire") {
        let Opened { cache, _guard } = open(url.as_deref()).await;
        assert_eq!(cache.get("quote:BTC-USD").await.unwrap(), None);
        cache.set("quote:BTC-USD", "97000.5", None).await.unwrap();
        assert_eq!(
            cache.get("quote:BTC-USD").await.unwrap(),
            Some(b"97000.5".to_vec())
        );
        assert!(cache.exists("quote:BTC-USD").await.unwrap());
        assert!(
            cache
                .expire("quote:BTC-USD", Duration::from_millis(200))
                .await
                .unwrap()
        );
        assert!(
            !cache
                .expire("quote:nothing", Duration::from_secs(1))
                .await
                .unwrap()
        );
        cache.set("session", "s1", None).await.unwrap();
        assert!(cache.delete("session").await.unwrap());
        assert!(!cache.delete("session").await.unwrap());
        assert!(!cache.exists("session").await.unwrap());
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(
            cache.get("quote:BTC-USD").await.unwrap(),
            None,
            "{url:?}: expired"
        );
    }
}

#[tokio::test]
async fn values_written_with_a_ttl_expire() {
    for url in backends("values_written_with_a_ttl_expire") {
        let Opened { cache, _guard } = open(url.as_deref()).await;
        cache
            .set("short", "x", Some(Duration::from_millis(150)))
            .await
            .unwrap();
        cache
            .set("long", "y", Some(Duration::from_secs(30)))
            .await
            .unwrap();
        assert!(cache.exists("short").await.unwrap());
        tokio::time::sleep(Duration::from_millis(350)).await;
        assert!(!cache.exists("short").await.unwrap(), "{url:?}");
        assert!(cache.exists("long").await.unwrap());
    }
}

#[tokio::test]
async fn every_key_lives_under_the_instance_namespace() {
    let Some(url) = redis_url("every_key_lives_under_the_instance_namespace") else {
        return;
    };
    let a = open(Some(&url)).await;
    let b = open(Some(&url)).await;
    a.cache.set("orders:1", "filled", None).await.unwrap();
    let mut raw = redis_connection(&url).await;
    let full_key = format!("{}:orders:1", a.cache.namespace());
    let stored: Option<String> = raw.get(&full_key).await.unwrap();
    assert_eq!(stored.as_deref(), Some("filled"));
    let unprefixed: Option<String> = raw.get("orders:1").await.unwrap();
    assert_eq!(unprefixed, None, "nothing is written outside the namespace");
    assert_eq!(
        b.cache.get("orders:1").await.unwrap(),
        None,
        "another instance cannot see it"
    );
    let ns: &RedisNamespace = b.cache.namespace();
    assert_ne!(ns, a.cache.namespace());
}
