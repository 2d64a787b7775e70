//! The topology file: one TOML document describing a whole ecosystem for `tse up` (and later for the
//! generated Compose and Kubernetes deployments).
//!
//! ```toml
//! [ecosystem]
//! environment = "development"
//! http_port_base = 8080      # instance i listens on base + i unless it sets its own port
//! grpc_port_base = 50051
//!
//! [[instance]]
//! service = "exchange-simulator"
//! name = "exchange-OKX"      # omitted: the singleton named after the service
//! # http_port, grpc_port, schema, redis_namespace: optional per-instance overrides
//! [instance.settings]        # service-specific settings, read by the service
//! ```
//!
//! Unknown keys are refused, so a typo is an error rather than a silently ignored setting.

use std::{
    collections::HashMap,
    net::IpAddr,
    path::{Path, PathBuf},
};

use serde::Deserialize;

use super::{
    CommonConfig, CommonOverrides, ConfigError, EnvSource, InstanceConfig, SecretUrl, parse_environment,
    parse_interval, parse_log_level, vars,
};
use crate::identity::{Identity, ServiceKind};

/// A parsed topology file.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Topology {
    /// Ecosystem-wide settings.
    #[serde(default)]
    pub ecosystem: EcosystemSection,
    /// The instances, in order; instance *i* gets the base ports + *i*.
    #[serde(default, rename = "instance")]
    pub instances: Vec<InstanceSpec>,
}

/// `[ecosystem]`: settings every instance shares.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EcosystemSection {
    /// `ENVIRONMENT` of every instance.
    pub environment: Option<String>,
    /// PostgreSQL URL (prefer the `DATABASE_URL` variable for secrets).
    pub database_url: Option<String>,
    /// Redis URL (prefer the `REDIS_URL` variable for secrets).
    pub redis_url: Option<String>,
    /// Log filter.
    pub log_level: Option<String>,
    /// Health and heartbeat interval (`10s`).
    pub health_check_interval: Option<String>,
    /// Listen address (default 127.0.0.1).
    pub bind: Option<String>,
    /// First HTTP port (default 8080; 0 lets the OS choose every port).
    pub http_port_base: Option<u16>,
    /// First gRPC port (default 50051; 0 lets the OS choose every port).
    pub grpc_port_base: Option<u16>,
    /// Root of the per-instance data directories (default `data`).
    pub data_dir: Option<PathBuf>,
    /// Root of the per-instance log directories (default `logs`).
    pub log_dir: Option<PathBuf>,
    /// Simulated seconds per wall second (default 1).
    pub clock_speed: Option<f64>,
    /// Seed of every random process (default 1).
    pub seed: Option<u64>,
}

/// `[[instance]]`: one instance of the ecosystem.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct InstanceSpec {
    /// `SERVICE_NAME`.
    pub service: String,
    /// `SERVICE_INSTANCE_NAME`; omitted means the singleton named after the service.
    pub name: Option<String>,
    /// Explicit HTTP port, instead of base + index.
    pub http_port: Option<u16>,
    /// Explicit gRPC port, instead of base + index.
    pub grpc_port: Option<u16>,
    /// Explicit PostgreSQL schema.
    pub schema: Option<String>,
    /// Explicit Redis namespace.
    pub redis_namespace: Option<String>,
    /// Service-specific settings.
    #[serde(default)]
    pub settings: toml::Table,
}

impl InstanceSpec {
    fn with_settings(mut self, toml_text: &str) -> Self {
        self.settings = toml_text.parse().expect("the built-in settings are valid TOML");
        self
    }

    fn named(service: ServiceKind, name: Option<&str>) -> Self {
        Self {
            service: service.name().to_owned(),
            name: name.map(str::to_owned),
            http_port: None,
            grpc_port: None,
            schema: None,
            redis_namespace: None,
            settings: toml::Table::new(),
        }
    }
}

/// The default custodian's settings: `trading-system-LH` trades on both default exchanges and its
/// P&L settles at `custodian-Komainu` (README, *Custodian*), funded to cover it.
const DEFAULT_CUSTODIAN_SETTINGS: &str = r#"
settlement_day = "24h"
[[clients]]
entity = "trading-system-LH"
exchanges = ["exchange-OKX", "exchange-Binance"]
cycle = "T+0"
every = "1m"
funding = { USD = "10000000", USDT = "10000000", BTC = "100", ETH = "1000" }
"#;

/// The default `exchange-Binance`'s settings: a tighter spread, lower fees, and a provider that
/// requotes only after the reference moved 25 bps, so its quotes go stale and cross the fresh ones
/// of `exchange-OKX` (which keeps the defaults) — what the desk's arbitrage trades on.
const DEFAULT_BINANCE_SETTINGS: &str = r#"
taker_fee = "0.0003"
[liquidity]
spread_bps = 2
requote_bps = 25
"#;

/// The default second market data vendor: the same market as `market-data-Coinmetrics` (the seed
/// that instance derives), so the risk monitor can check its reference against a second source.
const DEFAULT_SECOND_VENDOR_SETTINGS: &str = r#"
seed_from = "market-data-Coinmetrics"
"#;

/// The default trading system's settings (README, *Trading system*): funded on both default
/// exchanges, it makes a market on `exchange-OKX`, arbitrages `exchange-OKX` against
/// `exchange-Binance`, and follows BTC's momentum on `exchange-Binance`.
const DEFAULT_TRADING_SETTINGS: &str = r#"
[funding]
"exchange-OKX" = { USD = "5000000", USDT = "5000000", BTC = "50", ETH = "500" }
"exchange-Binance" = { USD = "5000000", USDT = "5000000", BTC = "50", ETH = "500" }

[[strategies]]
name = "mm-okx"
kind = "market_making"
exchanges = ["exchange-OKX"]
symbols = ["BTC-USD", "ETH-USD"]
max_position = "2"
max_order_size = "0.5"
params = { spread_bps = 8, size = "0.05" }

[[strategies]]
name = "arb-okx-binance"
kind = "arbitrage"
exchanges = ["exchange-OKX", "exchange-Binance"]
symbols = ["BTC-USD", "ETH-USD"]
max_position = "2"
max_order_size = "0.5"
params = { threshold_bps = 2, size = "0.1" }

[[strategies]]
name = "momentum-btc"
kind = "momentum"
exchanges = ["exchange-Binance"]
symbols = ["BTC-USD"]
max_position = "1"
max_order_size = "0.25"
params = { fast = 10, slow = 30, size = "0.1" }
"#;

impl Topology {
    /// The default ecosystem, in the order whose index sets each instance's ports.
    pub fn default_ecosystem() -> Self {
        use ServiceKind::*;
        Self {
            ecosystem: EcosystemSection::default(),
            instances: vec![
                InstanceSpec::named(AuditCorrelator, None),
                InstanceSpec::named(TestCoordinator, None),
                InstanceSpec::named(ExchangeSimulator, Some("exchange-OKX")),
                InstanceSpec::named(ExchangeSimulator, Some("exchange-Binance"))
                    .with_settings(DEFAULT_BINANCE_SETTINGS),
                InstanceSpec::named(CustodianSimulator, Some("custodian-Komainu"))
                    .with_settings(DEFAULT_CUSTODIAN_SETTINGS),
                InstanceSpec::named(MarketDataSimulator, Some("market-data-Coinmetrics")),
                InstanceSpec::named(TradingSystemEngine, Some("trading-system-LH"))
                    .with_settings(DEFAULT_TRADING_SETTINGS),
                InstanceSpec::named(RiskMonitor, Some("risk-monitor-LH")),
                InstanceSpec::named(MarketDataSimulator, Some("market-data-Kaiko"))
                    .with_settings(DEFAULT_SECOND_VENDOR_SETTINGS),
            ],
        }
    }

    /// Parses topology text; `path` only names the source in errors.
    ///
    /// # Errors
    /// Returns [`ConfigError::Topology`] with the line and column of the problem.
    pub fn parse(path: &Path, text: &str) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|e| {
            let location = e
                .span()
                .map(|span| {
                    let before = &text[..span.start.min(text.len())];
                    let line = before.matches('\n').count() + 1;
                    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                    format!("line {line}, column {column}: ")
                })
                .unwrap_or_default();
            ConfigError::Topology {
                path: path.display().to_string(),
                reason: format!("{location}{}", e.message().trim()),
            }
        })
    }

    /// Reads and parses a topology file.
    ///
    /// # Errors
    /// Returns [`ConfigError::Topology`] when it cannot be read or parsed.
    pub fn read(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Topology {
            path: path.display().to_string(),
            reason: format!("cannot read it ({e})"),
        })?;
        Self::parse(path, &text)
    }
}

/// Command-line values of `tse up` that override environment and topology.
#[derive(Clone, Debug, Default)]
pub struct UpOverrides {
    /// `--http-port-base`.
    pub http_port_base: Option<u16>,
    /// `--grpc-port-base`.
    pub grpc_port_base: Option<u16>,
    /// `--data-dir` (root).
    pub data_dir: Option<PathBuf>,
    /// `--log-dir` (root).
    pub log_dir: Option<PathBuf>,
    /// Shared settings.
    pub common: CommonOverrides,
}

/// A validated ecosystem: every instance's complete configuration.
#[derive(Clone, Debug)]
pub struct EcosystemConfig {
    /// Shared settings.
    pub common: CommonConfig,
    /// The instances, in topology order.
    pub instances: Vec<InstanceConfig>,
    /// Root of the per-instance data directories.
    pub data_root: PathBuf,
    /// Root of the per-instance log directories.
    pub log_root: PathBuf,
}

impl EcosystemConfig {
    /// Builds every instance's configuration from a topology, the environment and flags.
    ///
    /// # Errors
    /// Returns a [`ConfigError`] for any invalid value, and [`ConfigError::Conflict`] when two
    /// instances would share an instance name, schema, namespace or port.
    pub fn load(
        topology: &Topology,
        topology_path: &Path,
        overrides: &UpOverrides,
        env: &dyn EnvSource,
    ) -> Result<Self, ConfigError> {
        let section = &topology.ecosystem;
        let from = |key: &str| format!("{} [ecosystem].{key}", topology_path.display());
        let mut defaults = CommonConfig::defaults(IpAddr::from([127, 0, 0, 1]));
        if let Some(v) = &section.environment {
            defaults.environment = parse_environment(&from("environment"), v)?;
        }
        if let Some(v) = &section.database_url {
            defaults.database_url = Some(SecretUrl::parse(
                &from("database_url"),
                v,
                &["postgres", "postgresql"],
            )?);
        }
        if let Some(v) = &section.redis_url {
            defaults.redis_url = Some(SecretUrl::parse(&from("redis_url"), v, &["redis", "rediss"])?);
        }
        if let Some(v) = &section.log_level {
            defaults.log_level = parse_log_level(&from("log_level"), v)?;
        }
        if let Some(v) = &section.health_check_interval {
            defaults.health_check_interval = parse_interval(&from("health_check_interval"), v)?;
        }
        if let Some(v) = &section.bind {
            defaults.bind = v
                .parse()
                .map_err(|_| ConfigError::invalid(&from("bind"), v, "not an IP address"))?;
        }
        if let Some(v) = section.clock_speed {
            defaults.clock_speed = crate::clock::parse_speed(&v.to_string())
                .map_err(|e| ConfigError::invalid(&from("clock_speed"), &v.to_string(), e))?;
        }
        if let Some(v) = section.seed {
            defaults.seed = v;
        }
        let common = CommonConfig::load(&overrides.common, env, &defaults)?;

        let http_base = overrides
            .http_port_base
            .or(section.http_port_base)
            .unwrap_or(super::DEFAULT_HTTP_PORT);
        let grpc_base = overrides
            .grpc_port_base
            .or(section.grpc_port_base)
            .unwrap_or(super::DEFAULT_GRPC_PORT);
        let root = |flag: &Option<PathBuf>, var: &str, file: &Option<PathBuf>, default: &str| {
            flag.clone()
                .or_else(|| env.var(var).map(PathBuf::from))
                .or_else(|| file.clone())
                .unwrap_or_else(|| PathBuf::from(default))
        };
        let data_root = root(&overrides.data_dir, vars::DATA_DIR, &section.data_dir, "data");
        let log_root = root(&overrides.log_dir, vars::LOG_DIR, &section.log_dir, "logs");

        if topology.instances.is_empty() {
            return Err(ConfigError::Topology {
                path: topology_path.display().to_string(),
                reason: "it declares no [[instance]]".into(),
            });
        }
        let mut instances = Vec::with_capacity(topology.instances.len());
        for (index, spec) in topology.instances.iter().enumerate() {
            let service = ServiceKind::parse(&spec.service)?;
            let identity = Identity::new(
                service,
                spec.name.as_deref(),
                spec.schema.as_deref(),
                spec.redis_namespace.as_deref(),
            )?;
            let http_port = match spec.http_port {
                Some(port) => port,
                None => offset_port(http_base, index, "HTTP")?,
            };
            let grpc_port = match spec.grpc_port {
                Some(port) => port,
                None => offset_port(grpc_base, index, "gRPC")?,
            };
            let name = identity.instance().as_str().to_owned();
            instances.push(InstanceConfig {
                common: common.clone(),
                http_port,
                grpc_port,
                data_dir: data_root.join(&name),
                log_dir: log_root.join(&name),
                settings: spec.settings.clone(),
                identity,
            });
        }
        check_conflicts(&instances)?;
        Ok(Self {
            common,
            instances,
            data_root,
            log_root,
        })
    }
}

fn offset_port(base: u16, index: usize, protocol: &str) -> Result<u16, ConfigError> {
    if base == 0 {
        return Ok(0);
    }
    u16::try_from(usize::from(base) + index).map_err(|_| {
        ConfigError::Conflict(format!(
            "{protocol} port base {base} + instance {index} exceeds 65535; choose a lower base"
        ))
    })
}

/// Refuses two instances sharing an instance name, schema, namespace, or a (non-zero) port.
fn check_conflicts(instances: &[InstanceConfig]) -> Result<(), ConfigError> {
    let mut seen: HashMap<String, &str> = HashMap::new();
    for cfg in instances {
        let id = &cfg.identity;
        let name = id.instance().as_str();
        let mut claims = vec![
            (format!("instance name '{name}'"), format!("instance:{name}")),
            (
                format!("schema '{}'", id.schema()),
                format!("schema:{}", id.schema()),
            ),
            (
                format!("Redis namespace '{}'", id.redis_namespace()),
                format!("namespace:{}", id.redis_namespace()),
            ),
        ];
        for (protocol, port) in [("HTTP", cfg.http_port), ("gRPC", cfg.grpc_port)] {
            if port != 0 {
                claims.push((format!("port {port} ({protocol})"), format!("port:{port}")));
            }
        }
        for (what, key) in claims {
            if let Some(holder) = seen.insert(key, name) {
                return Err(ConfigError::Conflict(if holder == name {
                    format!("instance '{name}' uses {what} twice")
                } else {
                    format!("instance '{name}' would share {what} with instance '{holder}'")
                }));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn load(text: &str, overrides: &UpOverrides) -> Result<EcosystemConfig, ConfigError> {
        let path = Path::new("test.toml");
        let topology = Topology::parse(path, text)?;
        EcosystemConfig::load(&topology, path, overrides, &BTreeMap::new())
    }

    #[test]
    fn the_default_ecosystem_has_eight_instances_on_consecutive_ports() {
        let cfg = EcosystemConfig::load(
            &Topology::default_ecosystem(),
            Path::new("(built-in)"),
            &UpOverrides::default(),
            &BTreeMap::new(),
        )
        .unwrap();
        let names: Vec<_> = cfg
            .instances
            .iter()
            .map(|i| i.identity.instance().to_string())
            .collect();
        assert_eq!(
            names,
            [
                "audit-correlator",
                "test-coordinator",
                "exchange-OKX",
                "exchange-Binance",
                "custodian-Komainu",
                "market-data-Coinmetrics",
                "trading-system-LH",
                "risk-monitor-LH",
                "market-data-Kaiko"
            ]
        );
        let http: Vec<_> = cfg.instances.iter().map(|i| i.http_port).collect();
        assert_eq!(http, (8080..8089).collect::<Vec<_>>());
        let grpc: Vec<_> = cfg.instances.iter().map(|i| i.grpc_port).collect();
        assert_eq!(grpc, (50051..50060).collect::<Vec<_>>());
        assert_eq!(cfg.instances[2].data_dir, PathBuf::from("data/exchange-OKX"));
        assert_eq!(cfg.common.bind, IpAddr::from([127, 0, 0, 1]));
    }

    #[test]
    fn the_shipped_example_is_the_default_ecosystem() {
        let text = include_str!("../../../../examples/ecosystem.toml");
        let parsed = Topology::parse(Path::new("examples/ecosystem.toml"), text).unwrap();
        assert_eq!(parsed.instances, Topology::default_ecosystem().instances);
    }

    #[test]
    fn the_default_desk_is_funded_and_trades_on_the_default_exchanges() {
        let topology = Topology::default_ecosystem();
        let settings = |name: &str| {
            &topology
                .instances
                .iter()
                .find(|i| i.name.as_deref() == Some(name))
                .unwrap()
                .settings
        };
        let exchanges: Vec<&str> = topology
            .instances
            .iter()
            .filter(|i| i.service == ServiceKind::ExchangeSimulator.name())
            .filter_map(|i| i.name.as_deref())
            .collect();
        let desk = settings("trading-system-LH");
        let funded: Vec<&str> = desk["funding"]
            .as_table()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(funded, ["exchange-Binance", "exchange-OKX"]);
        assert!(funded.iter().all(|e| exchanges.contains(e)));
        let strategies: Vec<(&str, &str)> = desk["strategies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                for exchange in s["exchanges"].as_array().unwrap() {
                    assert!(exchanges.contains(&exchange.as_str().unwrap()), "{s:?}");
                }
                (s["name"].as_str().unwrap(), s["kind"].as_str().unwrap())
            })
            .collect();
        assert_eq!(
            strategies,
            [
                ("mm-okx", "market_making"),
                ("arb-okx-binance", "arbitrage"),
                ("momentum-btc", "momentum")
            ]
        );
        // Its P&L at every exchange it trades on settles at the custodian.
        let clients = settings("custodian-Komainu")["clients"].as_array().unwrap();
        let client = clients
            .iter()
            .find(|c| c["entity"].as_str() == Some("trading-system-LH"))
            .unwrap();
        let settled: Vec<&str> = client["exchanges"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e.as_str())
            .collect();
        assert!(funded.iter().all(|e| settled.contains(e)), "{settled:?}");
        // The two exchanges quote differently, so arbitrage between them finds opportunities.
        assert_ne!(settings("exchange-OKX"), settings("exchange-Binance"));
    }

    #[test]
    fn base_zero_lets_the_os_choose_every_port() {
        let overrides = UpOverrides {
            http_port_base: Some(0),
            grpc_port_base: Some(0),
            ..Default::default()
        };
        let cfg = EcosystemConfig::load(
            &Topology::default_ecosystem(),
            Path::new("x"),
            &overrides,
            &BTreeMap::new(),
        )
        .unwrap();
        assert!(cfg.instances.iter().all(|i| i.http_port == 0 && i.grpc_port == 0));
    }

    #[test]
    fn instances_sharing_a_schema_are_refused_naming_both() {
        let err = load(
            r#"
            [[instance]]
            service = "exchange-simulator"
            name = "exchange-OKX"
            [[instance]]
            service = "exchange-simulator"
            name = "exchange-okx"
            "#,
            &UpOverrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "instance 'exchange-okx' would share schema 'exchange_okx' with instance 'exchange-OKX'"
        );
    }

    #[test]
    fn overlapping_port_ranges_are_refused() {
        let err = load(
            r#"
            [ecosystem]
            http_port_base = 9000
            grpc_port_base = 9001
            [[instance]]
            service = "audit-correlator"
            [[instance]]
            service = "test-coordinator"
            "#,
            &UpOverrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("port 9001"), "{err}");
    }

    #[test]
    fn unknown_keys_are_refused_with_their_location() {
        let err = load("[ecosystem]\nenviroment = \"prod\"\n", &UpOverrides::default())
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("topology test.toml: line 2, column 1:"), "{err}");
        assert!(err.contains("enviroment"), "{err}");
    }

    #[test]
    fn an_empty_topology_is_refused() {
        let err = load("", &UpOverrides::default()).unwrap_err().to_string();
        assert!(err.contains("no [[instance]]"));
    }

    #[test]
    fn file_settings_apply_unless_flags_say_otherwise() {
        let text = r#"
            [ecosystem]
            environment = "staging"
            http_port_base = 7000
            data_dir = "/var/tse"
            [[instance]]
            service = "market-data-simulator"
            name = "market-data-A"
            grpc_port = 6000
            [instance.settings]
            seed = 7
        "#;
        let cfg = load(text, &UpOverrides::default()).unwrap();
        let inst = &cfg.instances[0];
        assert_eq!(cfg.common.environment, "staging");
        assert_eq!(inst.http_port, 7000);
        assert_eq!(inst.grpc_port, 6000);
        assert_eq!(inst.data_dir, PathBuf::from("/var/tse/market-data-A"));
        assert_eq!(inst.settings.get("seed").and_then(|v| v.as_integer()), Some(7));
        let flagged = load(
            text,
            &UpOverrides {
                http_port_base: Some(7100),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(flagged.instances[0].http_port, 7100);
    }

    #[test]
    fn ports_past_65535_are_refused() {
        let err = load(
            "[ecosystem]\nhttp_port_base = 65535\n[[instance]]\nservice = \"audit-correlator\"\n[[instance]]\nservice = \"test-coordinator\"\n",
            &UpOverrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("exceeds 65535"), "{err}");
    }
}
