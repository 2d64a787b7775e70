//! Alerts to store and push, built field by field.

use time::{OffsetDateTime, macros::datetime};
use tse_risk_monitor::domain::alert::{Alert, Evidence, RuleKind, Severity, Status, Subject};

/// Simulated time of alert `n`: one second per number after a fixed start.
pub(crate) fn at(n: u64) -> OffsetDateTime {
    datetime!(2024-03-01 9:00 UTC) + time::Duration::seconds(i64::try_from(n).unwrap())
}

/// Alert `alert-{n}` of `kind` and `severity`, active, about `entity` and `asset`.
pub(crate) fn alert(n: u64, kind: RuleKind, severity: Severity, entity: &str, asset: &str) -> Alert {
    Alert {
        id: format!("alert-{n}"),
        kind,
        subject: Subject {
            entity: Some(entity.to_owned()),
            asset: Some(asset.to_owned()),
            ..Subject::default()
        },
        severity,
        status: Status::Active,
        evidence: Evidence {
            observed: 0.9 + n as f64 / 1000.0,
            threshold: 0.8,
            unit: "ratio".into(),
            window_ms: Some(30_000),
            for_ms: 5_000,
            source: "exchange-OKX".into(),
            data_at: at(n) - time::Duration::seconds(5),
            breach_since: None,
            message: format!("{asset} is {kind:?} for {entity}"),
        },
        detected_at: at(n),
        detected_at_wall: datetime!(2025-01-01 12:00 UTC)
            + time::Duration::milliseconds(i64::try_from(n).unwrap()),
        acknowledged_at: None,
        resolved_at: None,
        updated_at: at(n),
    }
}
