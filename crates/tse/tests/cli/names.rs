//! `tse names`: the identity an instance would have.

use serde_json::{Value, json};

use crate::process::run;

fn names(args: &[&str]) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut full = vec!["names"];
    full.extend_from_slice(args);
    run(dir.path(), &full)
}

#[test]
fn prints_one_json_object_with_every_field() {
    let (code, stdout, stderr) = names(&["exchange-simulator", "exchange-OKX"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.lines().count(), 1);
    let value: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        value,
        json!({
            "service": "exchange-simulator",
            "instance": "exchange-OKX",
            "service_type": "multi-instance",
            "entity_type": "exchange",
            "schema": "exchange_okx",
            "redis_namespace": "exchange:OKX"
        })
    );
}

#[test]
fn an_omitted_instance_is_the_singleton() {
    let (code, stdout, _) = names(&["audit-correlator"]);
    assert_eq!(code, 0);
    let value: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(value["instance"], "audit-correlator");
    assert_eq!(value["service_type"], "singleton");
    assert_eq!(value["schema"], "audit");
    assert_eq!(value["redis_namespace"], "audit");
}

#[test]
fn overrides_are_honoured() {
    let (code, stdout, _) = names(&[
        "custodian-simulator",
        "custodian-sim-001",
        "--schema-name",
        "custody_one",
        "--redis-namespace",
        "custody:one",
    ]);
    assert_eq!(code, 0);
    let value: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(value["schema"], "custody_one");
    assert_eq!(value["redis_namespace"], "custody:one");
}

#[test]
fn invalid_names_exit_2_with_one_line_naming_the_rule() {
    for (instance, rule) in [
        ("exchange_OKX", "only ASCII letters, digits and '-' are allowed"),
        ("-exchange", "must start with a letter"),
        ("exchange-", "must end with a letter or digit"),
        ("exchange--OKX", "consecutive hyphens"),
        ("1exchange", "must start with a letter"),
        ("exchange-ÖKX", "only ASCII letters"),
        ("", "empty"),
    ] {
        let (code, stdout, stderr) = names(&["exchange-simulator", instance]);
        assert_eq!(code, 2, "{instance:?}: {stderr}");
        assert!(stdout.is_empty());
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(rule), "{instance:?}: {stderr}");
    }
    let long = "a".repeat(64);
    let (code, _, stderr) = names(&["exchange-simulator", &long]);
    assert_eq!(code, 2);
    assert!(stderr.contains("64 characters"), "{stderr}");
}

#[test]
fn unknown_services_and_flags_exit_2() {
    let (code, _, stderr) = names(&["exchange"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("unknown service 'exchange'"), "{stderr}");
    let (code, _, stderr) = names(&["exchange-simulator", "--bogus"]);
    assert_eq!(code, 2);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn a_missing_argument_exits_2_with_one_line_naming_it_and_the_usage() {
    let dir = tempfile::tempdir().unwrap();
    for (args, missing, usage) in [
        (&["names"][..], "<SERVICE>", "usage: tse names <SERVICE>"),
        (
            &["deploy", "compose"][..],
            "--out <DIR>",
            "usage: tse deploy compose --out <DIR>",
        ),
    ] {
        let (code, stdout, stderr) = run(dir.path(), args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stdout.is_empty(), "{stdout}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.starts_with(&format!(
                "tse: the following required arguments were not provided: {missing}"
            )),
            "{args:?}: {stderr}"
        );
        assert!(stderr.contains(usage), "{args:?}: {stderr}");
        let help = format!("see tse {} --help)", args.join(" "));
        assert!(stderr.trim_end().ends_with(&help), "{args:?}: {stderr}");
    }
}

#[test]
fn every_command_documents_itself_and_its_environment() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, _) = run(dir.path(), &["--help"]);
    assert_eq!(code, 0);
    for command in ["up", "serve", "names"] {
        assert!(stdout.contains(command), "{stdout}");
    }
    let (code, stdout, _) = run(dir.path(), &["serve", "--help"]);
    assert_eq!(code, 0);
    for var in [
        "SERVICE_NAME",
        "SERVICE_INSTANCE_NAME",
        "HTTP_PORT",
        "GRPC_PORT",
        "ENVIRONMENT",
        "DATABASE_URL",
        "REDIS_URL",
        "LOG_LEVEL",
        "HEALTH_CHECK_INTERVAL",
        "SCHEMA_NAME",
        "REDIS_NAMESPACE",
        "DATA_DIR",
        "LOG_DIR",
        "TSE_ADMIN_TOKEN",
        "TSE_INGEST_TOKEN",
    ] {
        assert!(stdout.contains(var), "serve --help lacks {var}");
    }
    let (code, stdout, _) = run(dir.path(), &["up", "--help"]);
    assert_eq!(code, 0);
    for text in [
        "--topology",
        "--http-port-base",
        "--grpc-port-base",
        "--verbose",
        "TSE_VERBOSE",
        "DATABASE_URL",
        "REDIS_URL",
    ] {
        assert!(stdout.contains(text), "up --help lacks {text}");
    }
    let (code, stdout, _) = run(dir.path(), &["names", "--help"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("redis_namespace"));
}
