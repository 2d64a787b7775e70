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
        None,
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

/// On Redis the namespace is the server's rule, not only the key prefix: the instance's cache logs in
/// as an ACL user of its own that may touch its namespace, the registry keys and its clock key and
/// nothing else; health says so; a Redis that forgot the user (a restart) gets it again.
#[tokio::test]
async fn on_redis_an_instance_logs_in_as_an_acl_user_confined_to_its_namespace() {
    use tse_runtime::host::ServiceDef;
    use tse_testing::app::{TestOptions, eventually, spawn_with};
    let Some(url) = redis_url("on_redis_an_instance_logs_in_as_an_acl_user_confined_to_its_namespace") else {
        return;
    };
    let instance = unique_instance("market-data");
    let user = format!("tse.test.0.{instance}");
    struct DropUser(String, String);
    impl Drop for DropUser {
        fn drop(&mut self) {
            let _ = std::process::Command::new("redis-cli")
                .args(["-u", &self.0, "ACL", "DELUSER", &self.1])
                .output();
        }
    }
    let _user = DropUser(url.clone(), user.clone());
    let app = spawn_with(
        ServiceDef::host_only(ServiceKind::MarketDataSimulator),
        TestOptions {
            instance: Some(instance.clone()),
            redis_url: Some(url.clone()),
            interval: Some("200ms"),
            ..Default::default()
        },
    )
    .await;
    let namespace = instance.replace('-', ":");
    let _guard = RedisGuard {
        url: url.clone(),
        patterns: vec![format!("{namespace}:*"), format!("services:*:{instance}")],
    };
    let (_, health) = app.get_json("/api/v1/health").await;
    assert_eq!(
        health["backends"]["redis_isolation"],
        format!("ACL user {user} (enforced by the server)"),
        "{health}"
    );

    // Logged in as that user: its own namespace works; another's keys, FLUSHALL and ACL do not.
    let password = std::fs::read_to_string(app.data_dir.join("redis-password")).unwrap();
    let mut login = url::Url::parse(&url).unwrap();
    login.set_username(&user).unwrap();
    login.set_password(Some(password.trim())).unwrap();
    let mut as_user = redis_connection(login.as_str()).await;
    let own: redis::RedisResult<()> = as_user.set(format!("{namespace}:k"), "v").await;
    assert!(own.is_ok(), "{own:?}");
    let other: redis::RedisResult<Option<String>> = as_user.get("exchange:OKX:balances").await;
    let other = other.unwrap_err().to_string();
    assert!(other.contains("NoPerm"), "{other}");
    let flush: redis::RedisResult<()> = redis::cmd("FLUSHALL").query_async(&mut as_user).await;
    let flush = flush.unwrap_err().to_string();
    assert!(flush.contains("NoPerm"), "{flush}");
    let registry: redis::RedisResult<Option<String>> = as_user
        .get(format!("services:market-data-simulator:{instance}"))
        .await;
    assert!(registry.is_ok(), "{registry:?}");

    // A Redis that forgets its ACL users (a restart does) gets the instance's back.
    let mut admin = redis_connection(&url).await;
    let _: i64 = redis::cmd("ACL")
        .arg("DELUSER")
        .arg(&user)
        .query_async(&mut admin)
        .await
        .unwrap();
    eventually(Duration::from_secs(10), "the ACL user created again", || {
        let mut admin = admin.clone();
        let user = user.clone();
        async move {
            let found: redis::Value = redis::cmd("ACL")
                .arg("GETUSER")
                .arg(&user)
                .query_async(&mut admin)
                .await
                .ok()?;
            (found != redis::Value::Nil).then_some(())
        }
    })
    .await;
}

/// A `REDIS_URL` user that may not create ACL users still gets a working cache: the key prefix is
/// then the only boundary, and health says so.
#[tokio::test]
async fn a_redis_user_that_may_not_create_acl_users_falls_back_to_the_namespace_prefix() {
    use tse_runtime::host::ServiceDef;
    use tse_testing::app::{TestOptions, spawn_with};
    let Some(url) =
        redis_url("a_redis_user_that_may_not_create_acl_users_falls_back_to_the_namespace_prefix")
    else {
        return;
    };
    let plain = format!("tse-plain-{}", std::process::id());
    let mut admin = redis_connection(&url).await;
    let _: () = redis::cmd("ACL")
        .arg(
            &[
                "SETUSER",
                plain.as_str(),
                "reset",
                "on",
                ">plain",
                "~*",
                "&*",
                "+@all",
                "-@admin",
            ][..],
        )
        .query_async(&mut admin)
        .await
        .unwrap();
    let mut login = url::Url::parse(&url).unwrap();
    login.set_username(&plain).unwrap();
    login.set_password(Some("plain")).unwrap();
    let instance = unique_instance("market-data");
    let app = spawn_with(
        ServiceDef::host_only(ServiceKind::MarketDataSimulator),
        TestOptions {
            instance: Some(instance.clone()),
            redis_url: Some(login.to_string()),
            ..Default::default()
        },
    )
    .await;
    let _guard = RedisGuard {
        url: url.clone(),
        patterns: vec![
            format!("{}:*", instance.replace('-', ":")),
            format!("services:*:{instance}"),
        ],
    };
    let (_, health) = app.get_json("/api/v1/health").await;
    let isolation = health["backends"]["redis_isolation"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        isolation.starts_with("namespace prefix only (the REDIS_URL user may not create ACL users"),
        "{health}"
    );
    assert_eq!(health["checks"]["redis"]["status"], "up", "{health}");
    drop(app);
    let _: i64 = redis::cmd("ACL")
        .arg("DELUSER")
        .arg(&plain)
        .query_async(&mut admin)
        .await
        .unwrap();
}
