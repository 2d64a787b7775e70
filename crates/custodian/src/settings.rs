//! `[instance.settings]` of a custodian instance, validated before anything starts.
//!
//! ```toml
//! [instance.settings]
//! assets = ["BTC", "ETH", "USDT", "USD"]   # what the custodian holds (the default)
//! settlement_day = "24h"                   # a settlement day of the simulated clock: T+1 is one of them
//!
//! # Exchange P&L settlement: the entity's trades at these exchanges settle here.
//! [[instance.settings.clients]]
//! entity = "trading-system-LH"
//! exchanges = ["exchange-OKX", "exchange-Binance"]
//! cycle = "T+0"                            # the cycle of its P&L instructions (T+0, T+1, T+2)
//! every = "1m"                             # settlement point: how often (simulated time) trades are collected
//! funding = { USD = "10000000", BTC = 100 }  # deposited when its custody account is opened
//! ```

use std::time::Duration;

use rust_decimal::Decimal;
use serde::Deserialize;
use tse_runtime::{config::parse_duration, identity::InstanceName};

use crate::domain::settlement::Cycle;

/// Validated settings.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// Assets held, upper case.
    pub assets: Vec<String>,
    /// Length of a settlement day (simulated time).
    pub settlement_day: Duration,
    /// Trading entities whose exchange P&L settles here.
    pub clients: Vec<Client>,
}

/// A trading entity whose exchange P&L settles here.
#[derive(Clone, Debug, PartialEq)]
pub struct Client {
    /// The entity, as its exchange accounts name it.
    pub entity: String,
    /// The exchange instances it trades on.
    pub exchanges: Vec<InstanceName>,
    /// The cycle of its P&L instructions.
    pub cycle: Cycle,
    /// How often its trades are collected (simulated time).
    pub every: Duration,
    /// Deposited when its custody account is opened: (asset, amount).
    pub funding: Vec<(String, Decimal)>,
}

/// The longest settlement day.
const MAX_DAY: Duration = Duration::from_secs(365 * 86_400);

/// The assets held when settings name none.
pub const DEFAULT_ASSETS: [&str; 4] = ["BTC", "ETH", "USDT", "USD"];

/// A decimal as TOML lets it be written: `"10000000"`, `10000000` or `0.5`.
#[derive(Deserialize)]
#[serde(untagged)]
enum Number {
    Text(String),
    Integer(i64),
    Float(f64),
}

impl Number {
    fn decimal(&self, name: &str) -> Result<Decimal, String> {
        let text = match self {
            Number::Text(t) => t.clone(),
            Number::Integer(i) => i.to_string(),
            Number::Float(f) => f.to_string(),
        };
        text.trim()
            .parse()
            .map_err(|_| format!("{name}: '{text}' is not a decimal"))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    assets: Option<Vec<String>>,
    settlement_day: Option<String>,
    clients: Option<Vec<RawClient>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClient {
    entity: String,
    exchanges: Vec<String>,
    cycle: Option<String>,
    every: Option<String>,
    funding: Option<std::collections::BTreeMap<String, Number>>,
}

impl Settings {
    /// Parses and validates `[instance.settings]`.
    ///
    /// # Errors
    /// A message naming the setting and what is wrong with it.
    pub fn parse(table: &toml::Table) -> Result<Self, String> {
        let raw: Raw = toml::Value::Table(table.clone())
            .try_into()
            .map_err(|e: toml::de::Error| format!("custodian settings: {}", e.message().trim()))?;
        let assets: Vec<String> = match raw.assets {
            None => DEFAULT_ASSETS.map(str::to_owned).to_vec(),
            Some(list) => {
                let mut assets = Vec::new();
                for a in list {
                    let upper = a.trim().to_ascii_uppercase();
                    if upper.is_empty()
                        || upper.len() > 16
                        || !upper.bytes().all(|b| b.is_ascii_alphanumeric())
                    {
                        return Err(format!(
                            "assets: '{a}' is not an asset code (1 to 16 letters and digits)"
                        ));
                    }
                    if assets.contains(&upper) {
                        return Err(format!("assets: {upper} is listed twice"));
                    }
                    assets.push(upper);
                }
                if assets.is_empty() {
                    return Err("assets: list at least one asset".into());
                }
                assets
            }
        };
        let settlement_day = match raw.settlement_day {
            None => Duration::from_secs(24 * 3600),
            Some(text) => parse_duration(&text).map_err(|e| format!("settlement_day: {e}"))?,
        };
        if settlement_day < Duration::from_secs(1) || settlement_day > MAX_DAY {
            return Err("settlement_day: must be between 1s and 365d".into());
        }
        let mut clients: Vec<Client> = Vec::new();
        for (i, c) in raw.clients.unwrap_or_default().into_iter().enumerate() {
            let at = format!("clients[{i}]");
            let entity = c.entity.trim().to_owned();
            if entity.is_empty() || entity.len() > 64 {
                return Err(format!("{at}.entity: 1 to 64 characters"));
            }
            if clients.iter().any(|other| other.entity == entity) {
                return Err(format!("{at}.entity: {entity} is listed twice"));
            }
            if c.exchanges.is_empty() {
                return Err(format!("{at}.exchanges: name at least one exchange instance"));
            }
            let exchanges = c
                .exchanges
                .iter()
                .map(|n| InstanceName::parse(n).map_err(|e| format!("{at}.exchanges: {e}")))
                .collect::<Result<Vec<_>, _>>()?;
            let cycle = match c.cycle {
                None => Cycle::T0,
                Some(text) => Cycle::parse(&text)
                    .ok_or_else(|| format!("{at}.cycle: '{text}' is not T+0, T+1 or T+2"))?,
            };
            let every = match c.every {
                None => Duration::from_secs(60),
                Some(text) => parse_duration(&text).map_err(|e| format!("{at}.every: {e}"))?,
            };
            if every < Duration::from_secs(1) {
                return Err(format!("{at}.every: must be at least 1s"));
            }
            let mut funding = Vec::new();
            for (asset, amount) in c.funding.unwrap_or_default() {
                let upper = asset.trim().to_ascii_uppercase();
                if !assets.contains(&upper) {
                    return Err(format!(
                        "{at}.funding: {asset} is not held here ({})",
                        assets.join(", ")
                    ));
                }
                let amount = amount.decimal(&format!("{at}.funding.{asset}"))?;
                if amount <= Decimal::ZERO {
                    return Err(format!("{at}.funding.{asset}: must be positive, got {amount}"));
                }
                funding.push((upper, amount));
            }
            clients.push(Client {
                entity,
                exchanges,
                cycle,
                every,
                funding,
            });
        }
        Ok(Self {
            assets,
            settlement_day,
            clients,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Settings, String> {
        Settings::parse(&text.parse::<toml::Table>().unwrap())
    }

    #[test]
    fn defaults_and_a_client() {
        let s = parse("").unwrap();
        assert_eq!(s.assets, DEFAULT_ASSETS.map(str::to_owned).to_vec());
        assert_eq!(s.settlement_day, Duration::from_secs(86_400));
        assert!(s.clients.is_empty());
        let s = parse(
            r#"settlement_day = "1h"
               [[clients]]
               entity = "trading-system-LH"
               exchanges = ["exchange-OKX"]
               cycle = "t+2"
               every = "30s"
               funding = { usd = 1000, BTC = "1.5", ETH = 2.5 }"#,
        )
        .unwrap();
        let c = &s.clients[0];
        assert_eq!((c.cycle, c.every), (Cycle::T2, Duration::from_secs(30)));
        assert_eq!(
            c.funding,
            vec![
                ("BTC".into(), "1.5".parse().unwrap()),
                ("ETH".into(), "2.5".parse().unwrap()),
                ("USD".into(), "1000".parse().unwrap())
            ]
        );
    }

    #[test]
    fn errors_name_the_setting() {
        assert!(parse("assets = []").unwrap_err().contains("at least one"));
        assert!(
            parse("settlement_day = \"soon\"")
                .unwrap_err()
                .contains("settlement_day")
        );
        assert!(parse("colour = 1").unwrap_err().contains("colour"));
        let bad_cycle = "[[clients]]\nentity = \"e\"\nexchanges = [\"exchange-OKX\"]\ncycle = \"T+3\"";
        assert!(parse(bad_cycle).unwrap_err().contains("clients[0].cycle"));
        let bad_asset = "[[clients]]\nentity = \"e\"\nexchanges = [\"exchange-OKX\"]\nfunding = { DOGE = 1 }";
        assert!(parse(bad_asset).unwrap_err().contains("DOGE is not held here"));
        let bad_name = "[[clients]]\nentity = \"e\"\nexchanges = [\"exchange--OKX\"]";
        assert!(parse(bad_name).unwrap_err().contains("clients[0].exchanges"));
    }
}
