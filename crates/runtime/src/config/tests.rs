//! Unit tests of the configuration loaders.

use super::*;

#[test]
fn instance_seeds_differ_by_name_and_repeat_for_the_same_name() {
    let a = instance_seed(None, 1, "market-data-A");
    assert_eq!(a, instance_seed(None, 1, "market-data-A"));
    assert_ne!(a, instance_seed(None, 1, "market-data-B"));
    assert_ne!(a, instance_seed(None, 2, "market-data-A"));
    assert_eq!(instance_seed(Some(5), 1, "market-data-A"), 5);
}

fn env(pairs: &[(&'static str, &'static str)]) -> BTreeMap<&'static str, &'static str> {
    pairs.iter().copied().collect()
}

fn load(
    overrides: &ServeOverrides,
    pairs: &[(&'static str, &'static str)],
) -> Result<InstanceConfig, ConfigError> {
    InstanceConfig::load(overrides, &env(pairs))
}

#[test]
fn defaults_give_a_singleton_on_the_standard_ports() {
    let cfg = load(
        &ServeOverrides::default(),
        &[("SERVICE_NAME", "audit-correlator")],
    )
    .unwrap();
    assert_eq!(cfg.identity.instance().as_str(), "audit-correlator");
    assert_eq!(cfg.http_port, 8080);
    assert_eq!(cfg.grpc_port, 50051);
    assert_eq!(cfg.common.environment, "development");
    assert_eq!(cfg.common.health_check_interval, Duration::from_secs(10));
    assert_eq!(cfg.data_dir, PathBuf::from("data/audit-correlator"));
    assert_eq!(cfg.log_dir, PathBuf::from("logs/audit-correlator"));
    assert!(cfg.common.database_url.is_none());
}

#[test]
fn flags_override_the_environment() {
    let overrides = ServeOverrides {
        instance: Some("exchange-Binance".into()),
        http_port: Some(9000),
        ..Default::default()
    };
    let cfg = load(
        &overrides,
        &[
            ("SERVICE_NAME", "exchange-simulator"),
            ("SERVICE_INSTANCE_NAME", "exchange-OKX"),
            ("HTTP_PORT", "8081"),
            ("GRPC_PORT", "50052"),
        ],
    )
    .unwrap();
    assert_eq!(cfg.identity.instance().as_str(), "exchange-Binance");
    assert_eq!(cfg.http_port, 9000);
    assert_eq!(cfg.grpc_port, 50052);
}

#[test]
fn connection_limits_have_defaults_and_are_validated() {
    let cfg = load(
        &ServeOverrides::default(),
        &[("SERVICE_NAME", "audit-correlator")],
    )
    .unwrap();
    assert_eq!(cfg.common.limits, ConnectionLimits::default());
    let cfg = load(
        &ServeOverrides::default(),
        &[
            ("SERVICE_NAME", "audit-correlator"),
            ("MAX_CONNECTIONS", "16"),
            ("HTTP_HEADER_TIMEOUT", "2s"),
            ("CONNECTION_IDLE_TIMEOUT", "500ms"),
        ],
    )
    .unwrap();
    assert_eq!(
        cfg.common.limits,
        ConnectionLimits {
            max_connections: 16,
            header_timeout: Duration::from_secs(2),
            idle_timeout: Duration::from_millis(500),
        }
    );
    for (var, value) in [
        ("MAX_CONNECTIONS", "0"),
        ("MAX_CONNECTIONS", "many"),
        ("HTTP_HEADER_TIMEOUT", "10ms"),
        ("CONNECTION_IDLE_TIMEOUT", "2h"),
    ] {
        let error = load(
            &ServeOverrides::default(),
            &[("SERVICE_NAME", "audit-correlator"), (var, value)],
        )
        .unwrap_err()
        .to_string();
        assert!(error.starts_with(var), "{var}={value}: {error}");
    }
}

#[test]
fn empty_variables_count_as_unset() {
    let cfg = load(
        &ServeOverrides::default(),
        &[
            ("SERVICE_NAME", "custodian-simulator"),
            ("SERVICE_INSTANCE_NAME", ""),
        ],
    )
    .unwrap();
    assert_eq!(cfg.identity.instance().as_str(), "custodian-simulator");
}

#[test]
fn schema_and_namespace_overrides_come_from_the_environment() {
    let cfg = load(
        &ServeOverrides::default(),
        &[
            ("SERVICE_NAME", "exchange-simulator"),
            ("SERVICE_INSTANCE_NAME", "exchange-OKX"),
            ("SCHEMA_NAME", "okx"),
            ("REDIS_NAMESPACE", "venue:okx"),
        ],
    )
    .unwrap();
    assert_eq!(cfg.identity.schema().as_str(), "okx");
    assert_eq!(cfg.identity.redis_namespace().as_str(), "venue:okx");
}

#[test]
fn invalid_values_name_their_variable() {
    let err = |pairs| load(&ServeOverrides::default(), pairs).unwrap_err().to_string();
    assert!(
        err(&[("SERVICE_NAME", "exchange-simulator"), ("HTTP_PORT", "80a")]).starts_with("HTTP_PORT=\"80a\"")
    );
    assert!(
        err(&[
            ("SERVICE_NAME", "exchange-simulator"),
            ("HEALTH_CHECK_INTERVAL", "soon")
        ])
        .starts_with("HEALTH_CHECK_INTERVAL")
    );
    assert!(
        err(&[("SERVICE_NAME", "exchange-simulator"), ("LOG_LEVEL", "loud=1=2")]).starts_with("LOG_LEVEL")
    );
    assert!(
        err(&[
            ("SERVICE_NAME", "exchange-simulator"),
            ("ENVIRONMENT", "prod env")
        ])
        .starts_with("ENVIRONMENT")
    );
    assert!(err(&[]).contains("no service given"));
    assert!(err(&[("SERVICE_NAME", "nope")]).contains("unknown service 'nope'"));
    assert!(
        err(&[
            ("SERVICE_NAME", "exchange-simulator"),
            ("SERVICE_INSTANCE_NAME", "ex_1")
        ])
        .contains("invalid instance name 'ex_1'")
    );
    assert!(
        err(&[
            ("SERVICE_NAME", "exchange-simulator"),
            ("HTTP_PORT", "7000"),
            ("GRPC_PORT", "7000")
        ])
        .contains("must differ")
    );
}

#[test]
fn database_errors_never_echo_the_password() {
    let err = load(
        &ServeOverrides::default(),
        &[
            ("SERVICE_NAME", "exchange-simulator"),
            ("DATABASE_URL", "mysql://u:hunter2@db/x"),
        ],
    )
    .unwrap_err()
    .to_string();
    assert!(err.starts_with("DATABASE_URL"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
}

#[test]
fn redacted_configuration_masks_passwords_and_tokens() {
    let cfg = load(
        &ServeOverrides::default(),
        &[
            ("SERVICE_NAME", "exchange-simulator"),
            ("DATABASE_URL", "postgres://tse:hunter2@db:5432/tse"),
            ("REDIS_URL", "redis://:s3cret@cache:6379/0"),
            ("TSE_ADMIN_TOKEN", "abcdefghijklmnop"),
            ("TSE_INGEST_TOKEN", "qrstuvwxyz012345"),
        ],
    )
    .unwrap();
    let shown = cfg.redacted().to_string();
    assert!(
        !shown.contains("hunter2")
            && !shown.contains("s3cret")
            && !shown.contains("abcdefghijklmnop")
            && !shown.contains("qrstuvwxyz012345")
    );
    assert_eq!(cfg.redacted()["ingest_token"], "***");
    assert!(shown.contains("postgres://tse:***@db:5432/tse"), "{shown}");
    assert!(shown.contains("redis://:***@cache:6379/0"), "{shown}");
}

#[test]
fn the_ingest_token_is_given_or_derived_from_the_admin_token_and_never_equals_it() {
    let env = |pairs: &[(&'static str, &'static str)]| {
        let mut all = vec![("SERVICE_NAME", "exchange-simulator")];
        all.extend_from_slice(pairs);
        load(&ServeOverrides::default(), &all).map(|c| c.common)
    };
    let given = env(&[
        ("TSE_ADMIN_TOKEN", "abcdefghijklmnop"),
        ("TSE_INGEST_TOKEN", "qrstuvwxyz012345"),
    ]);
    assert_eq!(
        given.unwrap().ingest_secret().unwrap().expose(),
        "qrstuvwxyz012345"
    );
    let derived = env(&[("TSE_ADMIN_TOKEN", "abcdefghijklmnop")]).unwrap();
    let token = derived.ingest_secret().unwrap();
    // printf 'tse-ingest:abcdefghijklmnop' | sha256sum
    assert_eq!(
        token.expose(),
        "1e8751a31bc35936f6c62a90006257539909937279369642b55c71733e6706bf"
    );
    assert_ne!(token.expose(), "abcdefghijklmnop");
    assert!(
        env(&[]).unwrap().ingest_secret().is_none(),
        "no token: ingestion closed"
    );
    let err = env(&[("TSE_INGEST_TOKEN", "short")]).unwrap_err().to_string();
    assert!(
        err.starts_with("TSE_INGEST_TOKEN") && !err.contains("short"),
        "{err}"
    );
}

#[test]
fn clock_speed_and_seed_are_read_and_validated() {
    let cfg = load(
        &ServeOverrides::default(),
        &[
            ("SERVICE_NAME", "market-data-simulator"),
            ("TSE_CLOCK_SPEED", "3600"),
            ("TSE_SEED", "7"),
        ],
    )
    .unwrap();
    assert_eq!(cfg.common.clock_speed, 3600.0);
    assert_eq!(cfg.common.seed, 7);
    let defaults = load(
        &ServeOverrides::default(),
        &[("SERVICE_NAME", "market-data-simulator")],
    )
    .unwrap();
    assert_eq!((defaults.common.clock_speed, defaults.common.seed), (1.0, 1));
    let err = |pairs| load(&ServeOverrides::default(), pairs).unwrap_err().to_string();
    assert!(
        err(&[("SERVICE_NAME", "exchange-simulator"), ("TSE_CLOCK_SPEED", "0")])
            .starts_with("TSE_CLOCK_SPEED")
    );
    assert!(err(&[("SERVICE_NAME", "exchange-simulator"), ("TSE_SEED", "-1")]).starts_with("TSE_SEED"));
}

#[test]
fn intervals_accept_durations_and_seconds_within_bounds() {
    assert_eq!(parse_interval("X", "5").unwrap(), Duration::from_secs(5));
    assert_eq!(parse_interval("X", "250ms").unwrap(), Duration::from_millis(250));
    assert!(parse_interval("X", "10ms").is_err());
    assert!(parse_interval("X", "2h").is_err());
}

#[test]
fn the_risk_monitor_never_holds_the_admin_token_but_keeps_shipping_events() {
    let load_as = |service: &'static str| {
        load(
            &ServeOverrides::default(),
            &[("SERVICE_NAME", service), ("TSE_ADMIN_TOKEN", "abcdefghijklmnop")],
        )
        .unwrap()
        .without_admin_token_unless_held()
    };
    let exchange = load_as("exchange-simulator");
    assert_eq!(
        exchange.common.admin_token.as_ref().map(Secret::expose),
        Some("abcdefghijklmnop")
    );
    let monitor = load_as("risk-monitor");
    assert!(monitor.common.admin_token.is_none());
    assert_eq!(
        monitor.common.ingest_secret().map(|s| s.expose().to_owned()),
        exchange.common.ingest_secret().map(|s| s.expose().to_owned()),
        "the monitor's events reach the audit correlator with the ecosystem's ingest token"
    );
}
