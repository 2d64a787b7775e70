//! Limits: defaults, documents, amounts, and every validation message.
use serde_json::json;

use super::*;

fn with(patch: serde_json::Value) -> Result<Limits, String> {
    Limits::from_json(&patch)
}

#[test]
fn the_default_validates_and_has_the_documented_shape() {
    let limits = Limits::default();
    limits.validate().unwrap();
    let value = serde_json::to_value(&limits).unwrap();
    assert_eq!(value["position_limit"]["max_notional_usd"], json!("20000000"));
    assert_eq!(value["position_limit"]["for"], json!("5s"));
    assert_eq!(value["concentration"]["for"], json!("1m"));
    assert_eq!(value["drawdown"]["for"], json!("0s"));
    assert_eq!(value["daily_loss"]["warning_usd"], json!("3000000"));
    assert_eq!(value["stablecoin_depeg"]["pegs"], json!({"USDT-USD": "1"}));
    assert_eq!(value["price_divergence"]["reference"], json!(null));
    assert_eq!(
        value["unsettled_exposure"]["pending_usd"],
        json!({"warning": "20000000", "critical": "50000000"})
    );
    assert_eq!(value["venue_health"]["min_orders"], json!(20));
    assert_eq!(
        value["order_rate"]["per_second"],
        json!({"warning": 50.0, "critical": 200.0})
    );
    assert_eq!(value.as_object().unwrap().len(), KINDS.len());
}

#[test]
fn json_round_trips() {
    let mut limits = Limits::default();
    limits.position_limit.per_asset.insert("BTC".into(), 5_000_000.5);
    limits.price_divergence.reference = Some("market-data-Coinmetrics".into());
    limits.venue_health.window = time::Duration::milliseconds(1500);
    let value = serde_json::to_value(&limits).unwrap();
    assert_eq!(value["position_limit"]["per_asset"]["BTC"], json!("5000000.5"));
    assert_eq!(Limits::from_json(&value).unwrap(), limits);
    let text = serde_json::to_string(&limits).unwrap();
    assert_eq!(serde_json::from_str::<Limits>(&text).unwrap(), limits);
}

#[test]
fn missing_kinds_and_fields_take_their_own_default() {
    assert_eq!(with(json!({})).unwrap(), Limits::default());
    let limits = with(json!({"drawdown": {"warning": 0.02}, "concentration": {"enabled": false}})).unwrap();
    assert_eq!(limits.drawdown.warning, 0.02);
    assert_eq!(limits.drawdown.critical, 0.05);
    assert_eq!(limits.drawdown.r#for, time::Duration::ZERO);
    assert!(!limits.concentration.enabled);
    assert_eq!(limits.concentration.warning, 0.7);
    assert_eq!(limits.concentration.r#for, time::Duration::minutes(1));
    let limits = with(json!({"order_rate": {"per_second": {"critical": 400}}})).unwrap();
    assert_eq!(
        limits.order_rate.per_second,
        Bands {
            warning: 50.0,
            critical: 400.0
        }
    );
    // A map replaces the default's.
    let limits = with(json!({"stablecoin_depeg": {"pegs": {"USDC-USD": 1}}})).unwrap();
    assert_eq!(limits.stablecoin_depeg.pegs.len(), 1);
}

#[test]
fn amounts_accept_numbers_and_strings() {
    let limits = with(json!({
        "position_limit": {"max_notional_usd": 1000, "per_asset": {"BTC": "2500.5", "ETH": 7.25}},
        "exposure": {"max_gross_usd": "3e6", "max_net_usd": 4000000},
        "daily_loss": {"warning_usd": 1.5, "critical_usd": "2"},
        "unsettled_exposure": {"pending_usd": {"warning": 10, "critical": "20"}},
    }))
    .unwrap();
    assert_eq!(limits.position_limit.max_notional_usd, 1000.0);
    assert_eq!(limits.position_limit.per_asset["BTC"], 2500.5);
    assert_eq!(limits.position_limit.per_asset["ETH"], 7.25);
    assert_eq!(limits.exposure.max_gross_usd, 3_000_000.0);
    assert_eq!(limits.daily_loss.critical_usd, 2.0);
    assert_eq!(
        limits.unsettled_exposure.pending_usd,
        Bands {
            warning: 10.0,
            critical: 20.0
        }
    );
    let err = with(json!({"exposure": {"max_gross_usd": "lots"}})).unwrap_err();
    assert!(err.starts_with("exposure: "), "{err}");
    assert!(err.contains("`lots` is not a USD amount"), "{err}");
}

#[test]
fn unknown_fields_and_kinds_are_refused() {
    let err = with(json!({"drawdown": {"warnin": 0.1}})).unwrap_err();
    assert!(err.starts_with("drawdown: unknown field `warnin`"), "{err}");
    let err = with(json!({"order_rate": {"per_second": {"warning": 1, "major": 2}}})).unwrap_err();
    assert!(err.contains("unknown field `major`"), "{err}");
    let err = with(json!({"unsettled_exposure": {"pending_usd": {"low": 2}}})).unwrap_err();
    assert!(err.contains("unknown field `low`"), "{err}");
    let err = with(json!({"liquidity": {}})).unwrap_err();
    assert!(err.starts_with("unknown rule kind `liquidity`"), "{err}");
    assert_eq!(
        with(json!([1])).unwrap_err(),
        "limits must be a table of rule kinds"
    );
    assert_eq!(
        with(json!({"drawdown": 3})).unwrap_err(),
        "drawdown must be a table"
    );
    let err = with(json!({"drawdown": {"for": "soon"}})).unwrap_err();
    assert!(err.starts_with("drawdown: "), "{err}");
}

#[test]
fn each_bad_value_is_named_with_its_rule() {
    let cases = [
        (
            json!({"order_rate": {"per_second": {"warning": 300, "critical": 200}}}),
            "order_rate.per_second: warning (300) must not exceed critical (200)",
        ),
        (
            json!({"drawdown": {"warning": 1.5}}),
            "drawdown.warning must be between 0 and 1, got 1.5",
        ),
        (
            json!({"concentration": {"critical": 0}}),
            "concentration.critical must be between 0 and 1, got 0",
        ),
        (
            json!({"venue_health": {"reject_ratio": {"warning": 0.5, "critical": 1.2}}}),
            "venue_health.reject_ratio.critical must be between 0 and 1, got 1.2",
        ),
        (
            json!({"venue_health": {"error_ratio": {"warning": -0.1, "critical": 0.5}}}),
            "venue_health.error_ratio.warning must be between 0 and 1, got -0.1",
        ),
        (
            json!({"position_limit": {"utilisation": {"warning": 0.8, "critical": 11}}}),
            "position_limit.utilisation.critical must be between 0 and 10, got 11",
        ),
        (
            json!({"position_limit": {"per_asset": {"BTC": -5}}}),
            "position_limit.per_asset.BTC must be a positive USD amount, got -5",
        ),
        (
            json!({"position_limit": {"per_asset": {"btc": 5}}}),
            "position_limit.per_asset: `btc` is not an asset (upper case letters and digits)",
        ),
        (
            json!({"exposure": {"max_net_usd": "0"}}),
            "exposure.max_net_usd must be a positive USD amount, got 0",
        ),
        (
            json!({"daily_loss": {"warning_usd": 6000000}}),
            "daily_loss: warning_usd (6000000) must not exceed critical_usd (5000000)",
        ),
        (
            json!({"stablecoin_depeg": {"pegs": {"USDT-USD": 0}}}),
            "stablecoin_depeg.pegs.USDT-USD must be a positive price, got 0",
        ),
        (
            json!({"stablecoin_depeg": {"pegs": {"USDTUSD": 1}}}),
            "stablecoin_depeg.pegs: `USDTUSD` is not a symbol like USDT-USD",
        ),
        (
            json!({"stablecoin_depeg": {"warning_bps": 0}}),
            "stablecoin_depeg.warning_bps must be a positive number, got 0",
        ),
        (
            json!({"price_divergence": {"warning_bps": 400}}),
            "price_divergence: warning_bps (400) must not exceed critical_bps (300)",
        ),
        (
            json!({"price_divergence": {"reference": " "}}),
            "price_divergence.reference must name a market data instance, or be null",
        ),
        (
            json!({"stale_data": {"frozen_exempt": ["usdt-usd"]}}),
            "stale_data.frozen_exempt: `usdt-usd` is not a symbol like USDT-USD",
        ),
        (
            json!({"stale_data": {"max_age_seconds": {"warning": 0, "critical": 1}}}),
            "stale_data.max_age_seconds.warning must be a positive number, got 0",
        ),
        (
            json!({"exposure": {"hysteresis": 1}}),
            "exposure.hysteresis must be at least 0 and below 1, got 1",
        ),
        (
            json!({"drawdown": {"hysteresis": -0.1}}),
            "drawdown.hysteresis must be at least 0 and below 1, got -0.1",
        ),
        (
            json!({"exposure": {"for": "25h"}}),
            "exposure.for must be between 0s and 24h, got 1d1h",
        ),
        (
            json!({"venue_health": {"window": "500ms"}}),
            "venue_health.window must be between 1s and 24h, got 500ms",
        ),
        (
            json!({"order_rate": {"window": "2d"}}),
            "order_rate.window must be between 1s and 24h, got 2d",
        ),
        (
            json!({"venue_health": {"min_orders": 0}}),
            "venue_health.min_orders must be at least 1, got 0",
        ),
        (
            json!({"unsettled_exposure": {"pending_usd": {"warning": "-1", "critical": "5"}}}),
            "unsettled_exposure.pending_usd.warning must be a positive USD amount, got -1",
        ),
        (
            json!({"unsettled_exposure": {"overdue_seconds": {"warning": 700, "critical": 600}}}),
            "unsettled_exposure.overdue_seconds: warning (700) must not exceed critical (600)",
        ),
    ];
    for (patch, message) in cases {
        assert_eq!(with(patch.clone()).unwrap_err(), message, "{patch}");
    }
}

#[test]
fn non_finite_numbers_are_refused() {
    let mut limits = Limits::default();
    limits.order_rate.per_second.critical = f64::INFINITY;
    assert_eq!(
        limits.validate().unwrap_err(),
        "order_rate.per_second.critical must be a positive number, got inf"
    );
    let mut limits = Limits::default();
    limits.exposure.hysteresis = f64::NAN;
    assert!(limits.validate().unwrap_err().starts_with("exposure.hysteresis"));
}

#[test]
fn limits_read_from_toml_converted_to_json() {
    let text = r#"
        [drawdown]
        warning = 0.04
        [position_limit.per_asset]
        BTC = 1000000
        [price_divergence]
        reference = "market-data-Kaiko"
    "#;
    let table: toml::Table = toml::from_str(text).unwrap();
    let value = serde_json::to_value(table).unwrap();
    let limits = Limits::from_json(&value).unwrap();
    assert_eq!(limits.drawdown.warning, 0.04);
    assert_eq!(limits.position_limit.per_asset["BTC"], 1_000_000.0);
    assert_eq!(
        limits.price_divergence.reference.as_deref(),
        Some("market-data-Kaiko")
    );
}
