//! Discovery against the embedded registry and the real Redis (when `TSE_TEST_REDIS_URL` is set):
//! registration payload and TTL, heartbeat, expiry, re-registration, deregistration, lookups,
//! collision refusal and the discovery endpoints.

use std::time::{Duration, Instant};

use redis::AsyncCommands;
use tse_runtime::{
    clock::Clock,
    config::SecretUrl,
    discovery::{Discovery, Registration, Registry},
    health::Status,
    host::{HostError, ServiceDef},
    identity::{InstanceName, ServiceKind},
};

use tse_testing::app::{TestOptions, spawn_with, try_spawn, unique_instance};
use tse_testing::servers::{RedisGuard, redis_connection, redis_url};

fn redis_options(url: &str) -> TestOptions {
    TestOptions {
        redis_url: Some(url.to_owned()),
        interval: Some("200ms"),
        ..Default::default()
    }
}

fn guard(url: &str, instance: &str) -> RedisGuard {
    RedisGuard {
        url: url.to_owned(),
        patterns: vec![
            format!("services:*:{instance}"),
            format!("{}:*", instance.replace('-', ":")),
        ],
    }
}

#[tokio::test]
async fn registration_payload_ttl_heartbeat_and_deregistration_in_redis() {
    let Some(url) = redis_url("registration_payload_ttl_heartbeat_and_deregistration_in_redis") else {
        return;
    };
    let instance = unique_instance("exchange");
    let _guard = guard(&url, &instance);
    let mut app = spawn_with(
        ServiceDef::host_only(ServiceKind::ExchangeSimulator),
        TestOptions {
            instance: Some(instance.clone()),
            ..redis_options(&url)
        },
    )
    .await;
    let key = format!("services:exchange-simulator:{instance}");
    let mut raw = redis_connection(&url).await;
    let payload: String = raw.get(&key).await.expect("registered");
    let value: serde_json::Value = serde_json::from_str(&payload).unwrap();
    for field in [
        "service",
        "instance",
        "host",
        "http_port",
        "grpc_port",
        "version",
        "environment",
        "status",
        "timestamp",
        "schema",
        "redis_namespace",
        "service_type",
        "entity_type",
        "started_at",
    ] {
        assert!(value.get(field).is_some(), "payload lacks {field}: {payload}");
    }
    assert_eq!(value["instance"], instance.as_str());
    assert_eq!(
        value["http_port"],
        app.http.rsplit(':').next().unwrap().parse::<u16>().unwrap()
    );
    assert_eq!(value["schema"], app.schema().as_str());
    let ttl: i64 = raw.pttl(&key).await.unwrap();
    assert!(ttl > 0 && ttl <= 600, "TTL is 3 x 200ms, got {ttl} ms");

    // Heartbeats keep it alive well past one TTL.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        raw.exists::<_, bool>(&key).await.unwrap(),
        "kept alive by heartbeats"
    );
    let refreshed: serde_json::Value =
        serde_json::from_str(&raw.get::<_, String>(&key).await.unwrap()).unwrap();
    assert_eq!(refreshed["status"], "healthy");
    assert_eq!(refreshed["ready"], true);

    app.stop().await.unwrap();
    assert!(
        !raw.exists::<_, bool>(&key).await.unwrap(),
        "deregistered on stop"
    );
}

#[tokio::test]
async fn a_vanished_registration_is_written_again_by_the_heartbeat() {
    let Some(url) = redis_url("a_vanished_registration_is_written_again_by_the_heartbeat") else {
        return;
    };
    let instance = unique_instance("exchange");
    let _guard = guard(&url, &instance);
    let _app = spawn_with(
        ServiceDef::host_only(ServiceKind::ExchangeSimulator),
        TestOptions {
            instance: Some(instance.clone()),
            ..redis_options(&url)
        },
    )
    .await;
    let key = format!("services:exchange-simulator:{instance}");
    let mut raw = redis_connection(&url).await;
    let _: i64 = raw.del(&key).await.unwrap();
    let deleted = Instant::now();
    while !raw.exists::<_, bool>(&key).await.unwrap() {
        assert!(deleted.elapsed() < Duration::from_secs(3), "not re-registered");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_registration_without_heartbeat_expires_after_its_ttl() {
    let Some(url) = redis_url("a_registration_without_heartbeat_expires_after_its_ttl") else {
        return;
    };
    let registry = Registry::redis(&SecretUrl::parse("REDIS_URL", &url, &["redis"]).unwrap()).unwrap();
    let instance = unique_instance("exchange");
    let _guard = guard(&url, &instance);
    let registration = Registration {
        service: ServiceKind::ExchangeSimulator,
        instance: InstanceName::parse(&instance).unwrap(),
        host: "127.0.0.1".into(),
        http_port: 9,
        grpc_port: 9,
        version: "test".into(),
        environment: "test".into(),
        status: Status::Healthy,
        timestamp: String::new(),
        schema: instance.to_lowercase().replace('-', "_"),
        redis_namespace: instance.replace('-', ":"),
        service_type: "multi-instance".into(),
        entity_type: "exchange".into(),
        started_at: String::new(),
        ready: true,
        run_id: "killed".into(),
    };
    let discovery = Discovery::new(
        registry.clone(),
        registration,
        Clock::new(1.0).spec(),
        Duration::from_millis(300),
    );
    discovery.register().await.unwrap();
    let listed =
        |r: Registry, name: String| async move { r.list().await.unwrap().iter().any(|x| x.instance == name) };
    assert!(listed(registry.clone(), instance.clone()).await);
    assert!(
        registry
            .by_service(ServiceKind::ExchangeSimulator)
            .await
            .unwrap()
            .iter()
            .any(|x| x.instance == instance)
    );
    assert!(
        registry
            .healthy()
            .await
            .unwrap()
            .iter()
            .any(|x| x.instance == instance)
    );
    // Killed: no heartbeat, no deregistration.
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert!(
        !listed(registry, instance).await,
        "gone from lookups after its TTL"
    );
}

async fn collision_is_refused(registry: Registry, options: TestOptions) {
    let first = unique_instance("exchange").replace("exchange", "exchange-OKX");
    let holder = spawn_with(
        ServiceDef::host_only(ServiceKind::ExchangeSimulator),
        TestOptions {
            instance: Some(first.clone()),
            registry: Some(registry.clone()),
            ..options.clone()
        },
    )
    .await;
    // Same schema and namespace apart from case: exchange-okx-... vs exchange-OKX-...
    let second = first.replace("OKX", "okx");
    let refused = try_spawn(
        ServiceDef::host_only(ServiceKind::ExchangeSimulator),
        TestOptions {
            instance: Some(second.clone()),
            registry: Some(registry.clone()),
            ..options.clone()
        },
    )
    .await;
    let Err(HostError::Conflict { instance, reason }) = refused else {
        panic!("expected a conflict, got {:?}", refused.err());
    };
    assert_eq!(instance, second);
    assert!(
        reason.contains(&format!("schema '{}'", holder.schema())),
        "{reason}"
    );
    assert!(reason.contains(&format!("live instance {first}")), "{reason}");
    // The same instance name under another service is refused too.
    let same_name = try_spawn(
        ServiceDef::host_only(ServiceKind::CustodianSimulator),
        TestOptions {
            instance: Some(first.clone()),
            registry: Some(registry),
            ..options
        },
    )
    .await;
    assert!(matches!(same_name, Err(HostError::Conflict { .. })));
}

#[tokio::test]
async fn a_second_instance_with_a_taken_schema_is_refused_embedded() {
    collision_is_refused(Registry::embedded(), TestOptions::default()).await;
}

#[tokio::test]
async fn a_second_instance_with_a_taken_schema_is_refused_in_redis() {
    let Some(url) = redis_url("a_second_instance_with_a_taken_schema_is_refused_in_redis") else {
        return;
    };
    let _guard = RedisGuard {
        url: url.clone(),
        patterns: vec![format!("services:*:exchange-*-t{}x*", std::process::id())],
    };
    let registry = Registry::redis(&SecretUrl::parse("REDIS_URL", &url, &["redis"]).unwrap()).unwrap();
    collision_is_refused(registry, redis_options(&url)).await;
}

/// Registry keys keep the seed's format (`services:{service}:{instance}`), not scoped by
/// `ENVIRONMENT`: a second ecosystem on the same Redis database that reuses an instance name is
/// refused, and the refusal says why and what to do instead of only naming the holder.
#[tokio::test]
async fn a_name_held_by_another_ecosystem_is_refused_saying_one_redis_database_holds_one_ecosystem() {
    let Some(url) = redis_url(
        "a_name_held_by_another_ecosystem_is_refused_saying_one_redis_database_holds_one_ecosystem",
    ) else {
        return;
    };
    let instance = unique_instance("exchange");
    let _guard = guard(&url, &instance);
    let registry = Registry::redis(&SecretUrl::parse("REDIS_URL", &url, &["redis"]).unwrap()).unwrap();
    let options = |environment: &str| TestOptions {
        instance: Some(instance.clone()),
        registry: Some(registry.clone()),
        environment: Some(environment.to_owned()),
        ..redis_options(&url)
    };
    let _staging = spawn_with(
        ServiceDef::host_only(ServiceKind::ExchangeSimulator),
        options("staging"),
    )
    .await;
    let refused = try_spawn(
        ServiceDef::host_only(ServiceKind::ExchangeSimulator),
        options("loadtest"),
    )
    .await;
    let Err(HostError::Conflict { reason, .. }) = refused else {
        panic!("expected a conflict, got {:?}", refused.err());
    };
    assert!(
        reason.contains("ecosystem 'staging', not 'loadtest'")
            && reason.contains("one Redis database holds one ecosystem")
            && reason.contains("REDIS_URL=redis://host:6379/1"),
        "{reason}"
    );
    // Within one ecosystem the refusal stays as it was: the holder, nothing about ecosystems.
    let same = try_spawn(
        ServiceDef::host_only(ServiceKind::ExchangeSimulator),
        options("staging"),
    )
    .await;
    let Err(HostError::Conflict { reason, .. }) = same else {
        panic!("expected a conflict, got {:?}", same.err());
    };
    assert!(!reason.contains("ecosystem"), "{reason}");
}

#[tokio::test]
async fn a_stale_registration_of_a_dead_instance_is_taken_over() {
    let registry = Registry::embedded();
    let instance = unique_instance("exchange");
    let dead = Registration {
        service: ServiceKind::ExchangeSimulator,
        instance: InstanceName::parse(&instance).unwrap(),
        host: "127.0.0.1".into(),
        // Nothing listens on the discard port.
        http_port: 9,
        grpc_port: 9,
        version: "old".into(),
        environment: "test".into(),
        status: Status::Healthy,
        timestamp: String::new(),
        schema: instance.to_lowercase().replace('-', "_"),
        redis_namespace: instance.replace('-', ":"),
        service_type: "multi-instance".into(),
        entity_type: "exchange".into(),
        started_at: String::new(),
        ready: true,
        run_id: "previous-run".into(),
    };
    Discovery::new(
        registry.clone(),
        dead,
        Clock::new(1.0).spec(),
        Duration::from_secs(60),
    )
    .register()
    .await
    .unwrap();
    let app = spawn_with(
        ServiceDef::host_only(ServiceKind::ExchangeSimulator),
        TestOptions {
            instance: Some(instance.clone()),
            registry: Some(registry.clone()),
            ..Default::default()
        },
    )
    .await;
    let listed = registry.list().await.unwrap();
    let entry = listed.iter().find(|r| r.instance == instance).unwrap();
    assert_eq!(
        entry.version,
        env!("CARGO_PKG_VERSION"),
        "the new run holds the registration"
    );
    assert_eq!(entry.http_port.to_string(), app.http.rsplit(':').next().unwrap());
}

#[tokio::test]
async fn discovery_endpoints_list_filter_and_serve_prometheus_targets() {
    let registry = Registry::embedded();
    let shared = |service: ServiceKind, prefix: &str| {
        let registry = registry.clone();
        let instance = unique_instance(prefix);
        async move {
            spawn_with(
                ServiceDef::host_only(service),
                TestOptions {
                    instance: Some(instance),
                    registry: Some(registry),
                    ..Default::default()
                },
            )
            .await
        }
    };
    let exchange = shared(ServiceKind::ExchangeSimulator, "exchange").await;
    let custodian = shared(ServiceKind::CustodianSimulator, "custodian").await;

    let (status, all) = exchange.get_json("/api/v1/discovery/services").await;
    assert_eq!(status, 200);
    assert_eq!(all["registry"], "embedded");
    assert_eq!(all["count"], 2);
    let (_, only) = exchange
        .get_json("/api/v1/discovery/services?service=custodian-simulator&healthy=true")
        .await;
    let names: Vec<&str> = only["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["instance"].as_str().unwrap())
        .collect();
    assert_eq!(names, [custodian.instance_name.as_str()]);

    let (status, bad) = exchange.get_json("/api/v1/discovery/services?service=bank").await;
    assert_eq!(status, 400);
    assert_eq!(bad["error"]["code"], "unknown_service");
    let (status, bad) = exchange
        .get_json("/api/v1/discovery/services?healthy=maybe")
        .await;
    assert_eq!(status, 400);
    assert_eq!(bad["error"]["code"], "invalid_query");
    let (status, _) = exchange.get_json("/api/v1/discovery/services?colour=red").await;
    assert_eq!(status, 400);

    let (status, targets) = custodian.get_json("/api/v1/discovery/prometheus").await;
    assert_eq!(status, 200);
    let groups = targets.as_array().unwrap();
    assert_eq!(groups.len(), 2);
    let exchange_group = groups
        .iter()
        .find(|g| g["labels"]["instance_name"] == exchange.instance_name.as_str())
        .unwrap();
    assert_eq!(
        exchange_group["targets"][0],
        exchange.http.trim_start_matches("http://")
    );
    assert_eq!(exchange_group["labels"]["service"], "exchange-simulator");
    assert_eq!(exchange_group["labels"]["service_type"], "multi-instance");
    assert_eq!(exchange_group["labels"]["entity_type"], "exchange");
    assert_eq!(exchange_group["labels"].as_object().unwrap().len(), 4);

    // Another ecosystem on the same registry is listed, but not given to this one's Prometheus.
    let staging = spawn_with(
        ServiceDef::host_only(ServiceKind::MarketDataSimulator),
        TestOptions {
            instance: Some(unique_instance("market-data")),
            registry: Some(registry.clone()),
            environment: Some("staging".into()),
            ..Default::default()
        },
    )
    .await;
    let (_, all) = exchange.get_json("/api/v1/discovery/services").await;
    assert_eq!(all["count"], 3);
    let (_, targets) = custodian.get_json("/api/v1/discovery/prometheus").await;
    assert_eq!(targets.as_array().unwrap().len(), 2, "{targets}");
    let (_, targets) = staging.get_json("/api/v1/discovery/prometheus").await;
    assert_eq!(targets.as_array().unwrap().len(), 1, "{targets}");
    assert_eq!(
        targets[0]["labels"]["instance_name"],
        staging.instance_name.as_str()
    );
}
