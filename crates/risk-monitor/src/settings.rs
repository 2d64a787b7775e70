//! `[instance.settings]` of a risk monitor instance, validated before anything starts.
//!
//! ```toml
//! [instance.settings]
//! entities = ["trading-system-LH"]     # whose accounts are watched at every exchange and custodian
//! market_data = []                     # data sources to follow; default: every one found
//! poll_every = "1s"                    # simulated time between two looks at a venue
//! min_poll_wall = "50ms"               # ... but never more often than this, in wall time
//! alertmanager_url = "http://127.0.0.1:9093"   # default: $ALERTMANAGER_URL; unset: no push
//! alertmanager_resend = "30s"          # wall time between re-sends of the open alerts
//!
//! [instance.settings.limits]           # every rule's limits (README, *Risk monitor*); missing
//! order_rate = { per_second = { warning = 50, critical = 200 } }   # fields keep their defaults
//! ```
//!
//! Unknown keys are refused. Limits set later through `PUT /api/v1/limits` are stored and win over
//! these after a restart.

use std::time::Duration;

use serde::Deserialize;
use tse_runtime::{config::parse_duration, identity::InstanceName};

use crate::domain::limits::Limits;

/// The entity watched when none is named: the default ecosystem's desk.
pub const DEFAULT_ENTITY: &str = "trading-system-LH";
/// Simulated time between two looks at a venue, by default.
pub const DEFAULT_POLL_EVERY: Duration = Duration::from_secs(1);
/// Fewest wall milliseconds between two looks at a venue, by default.
pub const DEFAULT_MIN_POLL_WALL: Duration = Duration::from_millis(50);
/// Wall time between re-sends of the open alerts to Alertmanager, by default.
pub const DEFAULT_RESEND: Duration = Duration::from_secs(30);
/// The variable naming the Alertmanager to push to, when the settings do not.
pub const ALERTMANAGER_URL: &str = "ALERTMANAGER_URL";

/// A risk monitor's settings.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// Monitored entities.
    pub entities: Vec<String>,
    /// Data sources to follow (empty: all).
    pub market_data: Vec<String>,
    /// Simulated time between looks.
    pub poll_every: Duration,
    /// Wall floor between looks.
    pub min_poll_wall: Duration,
    /// Alertmanager base URL, if alerts are pushed.
    pub alertmanager_url: Option<String>,
    /// Wall time between re-sends.
    pub alertmanager_resend: Duration,
    /// Limits in force until the API sets others.
    pub limits: Limits,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    entities: Option<Vec<String>>,
    market_data: Option<Vec<String>>,
    poll_every: Option<String>,
    min_poll_wall: Option<String>,
    alertmanager_url: Option<String>,
    alertmanager_resend: Option<String>,
    limits: Option<toml::Table>,
}

fn duration(
    name: &str,
    text: Option<String>,
    default: Duration,
    least: Duration,
) -> Result<Duration, String> {
    let Some(text) = text else {
        return Ok(default);
    };
    let value = parse_duration(&text).map_err(|e| format!("{name}: {e}"))?;
    if value < least {
        return Err(format!(
            "{name} must be at least {}, got {text}",
            tse_runtime::config::format_duration(least)
        ));
    }
    Ok(value)
}

fn instance(list: &str, name: &str) -> Result<String, String> {
    InstanceName::parse(name)
        .map(|n| n.to_string())
        .map_err(|e| format!("{list}: {e}"))
}

fn url(text: &str) -> Result<String, String> {
    let trimmed = text.trim().trim_end_matches('/');
    if !(trimmed.starts_with("http://") || trimmed.starts_with("https://")) || trimmed.len() < 10 {
        return Err(format!(
            "alertmanager_url must be an http:// or https:// URL, got '{text}'"
        ));
    }
    Ok(trimmed.to_owned())
}

impl Settings {
    /// Parses `[instance.settings]`; `env` answers environment variables (`ALERTMANAGER_URL`).
    ///
    /// # Errors
    /// A one-line reason naming the setting.
    pub fn parse_with(table: &toml::Table, env: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let raw: Raw = toml::Value::Table(table.clone())
            .try_into()
            .map_err(|e: toml::de::Error| format!("risk monitor settings: {}", e.message().trim()))?;
        let entities = match raw.entities {
            None => vec![DEFAULT_ENTITY.to_owned()],
            Some(list) if list.is_empty() => return Err("entities: name at least one entity".to_owned()),
            Some(list) => list
                .iter()
                .map(|e| instance("entities", e))
                .collect::<Result<_, _>>()?,
        };
        let market_data = raw
            .market_data
            .unwrap_or_default()
            .iter()
            .map(|e| instance("market_data", e))
            .collect::<Result<Vec<_>, _>>()?;
        let poll_every = duration(
            "poll_every",
            raw.poll_every,
            DEFAULT_POLL_EVERY,
            Duration::from_millis(10),
        )?;
        let min_poll_wall = duration(
            "min_poll_wall",
            raw.min_poll_wall,
            DEFAULT_MIN_POLL_WALL,
            Duration::from_millis(1),
        )?;
        let alertmanager_resend = duration(
            "alertmanager_resend",
            raw.alertmanager_resend,
            DEFAULT_RESEND,
            Duration::from_secs(1),
        )?;
        let alertmanager_url = match raw.alertmanager_url.or_else(|| env(ALERTMANAGER_URL)) {
            Some(text) if !text.trim().is_empty() => Some(url(&text)?),
            _ => None,
        };
        let limits = match raw.limits {
            None => Limits::default(),
            Some(table) => {
                let json =
                    serde_json::to_value(toml::Value::Table(table)).map_err(|e| format!("limits: {e}"))?;
                Limits::from_json(&json).map_err(|e| format!("limits: {e}"))?
            }
        };
        Ok(Self {
            entities,
            market_data,
            poll_every,
            min_poll_wall,
            alertmanager_url,
            alertmanager_resend,
            limits,
        })
    }

    /// Parses `[instance.settings]` with the process environment.
    ///
    /// # Errors
    /// As [`Settings::parse_with`].
    pub fn parse(table: &toml::Table) -> Result<Self, String> {
        Self::parse_with(table, |name| std::env::var(name).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Settings, String> {
        Settings::parse_with(&toml::from_str(text).unwrap(), |_| None)
    }

    #[test]
    fn defaults_watch_the_default_desk() {
        let s = parse("").unwrap();
        assert_eq!(s.entities, vec![DEFAULT_ENTITY.to_owned()]);
        assert!(s.market_data.is_empty());
        assert_eq!(s.poll_every, DEFAULT_POLL_EVERY);
        assert_eq!(s.alertmanager_url, None);
        assert_eq!(s.limits, Limits::default());
    }

    #[test]
    fn alertmanager_comes_from_the_settings_or_the_environment() {
        let s = parse("alertmanager_url = \"http://127.0.0.1:9093/\"").unwrap();
        assert_eq!(s.alertmanager_url.as_deref(), Some("http://127.0.0.1:9093"));
        let s = Settings::parse_with(&toml::Table::new(), |name| {
            (name == ALERTMANAGER_URL).then(|| "http://am:9093".to_owned())
        })
        .unwrap();
        assert_eq!(s.alertmanager_url.as_deref(), Some("http://am:9093"));
    }

    #[test]
    fn limits_in_the_settings_override_the_defaults() {
        let s = parse("[limits.order_rate]\nper_second = { warning = 5, critical = 10 }").unwrap();
        assert_eq!(s.limits.order_rate.per_second.warning, 5.0);
        assert_eq!(s.limits.drawdown, Limits::default().drawdown);
    }

    #[test]
    fn bad_settings_say_what_is_wrong() {
        assert!(
            parse("entities = []")
                .unwrap_err()
                .contains("at least one entity")
        );
        assert!(
            parse("entities = [\"bad name!\"]")
                .unwrap_err()
                .starts_with("entities:")
        );
        assert!(
            parse("poll_every = \"1ms\"")
                .unwrap_err()
                .contains("poll_every must be at least")
        );
        assert!(
            parse("poll_every = \"soon\"")
                .unwrap_err()
                .starts_with("poll_every:")
        );
        assert!(
            parse("alertmanager_url = \"am:9093\"")
                .unwrap_err()
                .contains("http://")
        );
        assert!(parse("bogus = 1").unwrap_err().contains("bogus"));
        assert!(
            parse("[limits.order_rate]\nper_second = { warning = 300, critical = 200 }")
                .unwrap_err()
                .starts_with("limits: ")
        );
    }
}
