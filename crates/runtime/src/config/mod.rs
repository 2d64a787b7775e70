//! Configuration of an instance (ARCHITECTURE.md): environment variables, command-line overrides, and the
//! TOML topology file `tse up` reads.
//!
//! Everything is parsed and validated here, before any port is bound; the rest of the runtime only
//! sees typed, valid values. Values are read through [`EnvSource`] so tests pass a map instead of
//! mutating the process environment. Precedence: flags over environment over topology file over
//! defaults. An empty environment variable counts as unset (`SERVICE_INSTANCE_NAME=""` in a Compose
//! file means "the default").

mod duration;
mod limits;
mod secret;
pub mod topology;

use std::{
    collections::{BTreeMap, HashMap},
    net::IpAddr,
    path::PathBuf,
    time::Duration,
};

pub use duration::{MAX_DURATION, format_duration, parse_duration};
pub use limits::ConnectionLimits;
pub use secret::{Secret, SecretUrl};

use crate::identity::{Identity, IdentityError, ServiceKind};

/// Names of every environment variable the runtime reads, in one place.
pub mod vars {
    /// Service kind (`exchange-simulator`, ...).
    pub const SERVICE_NAME: &str = "SERVICE_NAME";
    /// Instance name; defaults to `SERVICE_NAME` (singleton).
    pub const SERVICE_INSTANCE_NAME: &str = "SERVICE_INSTANCE_NAME";
    /// HTTP port (default 8080; 0 lets the OS choose).
    pub const HTTP_PORT: &str = "HTTP_PORT";
    /// gRPC port (default 50051; 0 lets the OS choose).
    pub const GRPC_PORT: &str = "GRPC_PORT";
    /// Address both servers listen on (default 0.0.0.0 for `tse serve`, 127.0.0.1 for `tse up`).
    pub const BIND_ADDRESS: &str = "BIND_ADDRESS";
    /// Host name other instances reach this one at (default: the listen address, or the machine's
    /// host name when listening on every address).
    pub const ADVERTISE_HOST: &str = "ADVERTISE_HOST";
    /// Deployment environment label (default `development`).
    pub const ENVIRONMENT: &str = "ENVIRONMENT";
    /// PostgreSQL URL; unset means embedded storage.
    pub const DATABASE_URL: &str = "DATABASE_URL";
    /// Redis URL; unset means the embedded key-value store.
    pub const REDIS_URL: &str = "REDIS_URL";
    /// Log filter (`info`, `debug`, `tse_runtime=debug,info`, ...).
    pub const LOG_LEVEL: &str = "LOG_LEVEL";
    /// Interval of health evaluation and discovery heartbeats (`10s`, `500ms`, or seconds).
    pub const HEALTH_CHECK_INTERVAL: &str = "HEALTH_CHECK_INTERVAL";
    /// Explicit PostgreSQL schema, overriding the derived one.
    pub const SCHEMA_NAME: &str = "SCHEMA_NAME";
    /// Explicit Redis namespace, overriding the derived one.
    pub const REDIS_NAMESPACE: &str = "REDIS_NAMESPACE";
    /// The instance's data directory (`tse serve`; default `data/{instance}`), or the root holding one
    /// directory per instance (`tse up`; default `data`).
    pub const DATA_DIR: &str = "DATA_DIR";
    /// The instance's log directory (`tse serve`; default `logs/{instance}`), or the root holding one
    /// directory per instance (`tse up`; default `logs`).
    pub const LOG_DIR: &str = "LOG_DIR";
    /// Bearer token that opens the chaos and audit back doors.
    pub const TSE_ADMIN_TOKEN: &str = "TSE_ADMIN_TOKEN";
    /// Bearer token the instances' shippers present to the audit correlator's ingestion, the same for
    /// every instance of an ecosystem (default: derived from `TSE_ADMIN_TOKEN`, see
    /// [`super::CommonConfig::ingest_secret`]).
    pub const TSE_INGEST_TOKEN: &str = "TSE_INGEST_TOKEN";
    /// Simulated seconds per wall second (default 1: real time).
    pub const TSE_CLOCK_SPEED: &str = "TSE_CLOCK_SPEED";
    /// Seed of every random process of the ecosystem (default 1): same seed, same run.
    pub const TSE_SEED: &str = "TSE_SEED";
    /// Connections an instance holds at once, HTTP and gRPC together (default 1024); more are
    /// refused until some close.
    pub const MAX_CONNECTIONS: &str = "MAX_CONNECTIONS";
    /// How long an HTTP client has to send a request's headers, also between requests on a kept-alive
    /// connection (default `10s`).
    pub const HTTP_HEADER_TIMEOUT: &str = "HTTP_HEADER_TIMEOUT";
    /// How long a connection may move no bytes at all before it is closed (default `60s`); streams
    /// send keep-alives more often than that.
    pub const CONNECTION_IDLE_TIMEOUT: &str = "CONNECTION_IDLE_TIMEOUT";
}

/// Default HTTP port of a single instance, and the default base port of `tse up`.
pub const DEFAULT_HTTP_PORT: u16 = 8080;
/// Default gRPC port of a single instance, and the default base port of `tse up`.
pub const DEFAULT_GRPC_PORT: u16 = 50051;
/// Default `ENVIRONMENT`.
pub const DEFAULT_ENVIRONMENT: &str = "development";
/// Default `LOG_LEVEL`.
pub const DEFAULT_LOG_LEVEL: &str = "info";
/// Default `HEALTH_CHECK_INTERVAL`.
pub const DEFAULT_HEALTH_CHECK_INTERVAL: Duration = Duration::from_secs(10);
/// Default `TSE_CLOCK_SPEED`: real time.
pub const DEFAULT_CLOCK_SPEED: f64 = 1.0;
/// Default `TSE_SEED`.
pub const DEFAULT_SEED: u64 = 1;
/// How long a stopping instance waits for in-flight requests and background tasks.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Where configuration values come from: the process environment, or a map in tests.
pub trait EnvSource {
    /// Returns the value of `key`, or `None` when it is unset or empty.
    fn var(&self, key: &str) -> Option<String>;
}

/// The real process environment.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProcessEnv;

impl EnvSource for ProcessEnv {
    fn var(&self, key: &str) -> Option<String> {
        std::env::var(key).ok().filter(|v| !v.is_empty())
    }
}

impl EnvSource for HashMap<String, String> {
    fn var(&self, key: &str) -> Option<String> {
        self.get(key).filter(|v| !v.is_empty()).cloned()
    }
}

impl EnvSource for BTreeMap<&str, &str> {
    fn var(&self, key: &str) -> Option<String> {
        self.get(key).filter(|v| !v.is_empty()).map(|v| (*v).to_owned())
    }
}

/// Why configuration was refused. Messages name the variable or flag and never echo secrets.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The instance identity is invalid.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// A value could not be parsed.
    #[error("{source_name}={value:?} is invalid: {reason}")]
    Invalid {
        /// The variable or flag the value came from.
        source_name: String,
        /// The value (never a secret).
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A secret value could not be parsed; the value itself is not shown.
    #[error("{source_name} is invalid: {reason}")]
    InvalidSecret {
        /// The variable or flag the value came from.
        source_name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A required value is missing.
    #[error("{0}")]
    Missing(String),
    /// The topology file cannot be used.
    #[error("topology {path}: {reason}")]
    Topology {
        /// The file.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Two instances of one ecosystem would clash.
    #[error("{0}")]
    Conflict(String),
}

impl ConfigError {
    fn invalid(source_name: &str, value: &str, reason: impl Into<String>) -> Self {
        ConfigError::Invalid {
            source_name: source_name.to_owned(),
            value: value.to_owned(),
            reason: reason.into(),
        }
    }
}

/// Settings every instance of an ecosystem shares (`tse up`), or that one `tse serve` instance has.
#[derive(Clone, Debug)]
pub struct CommonConfig {
    /// Deployment environment label.
    pub environment: String,
    /// PostgreSQL URL; `None` means embedded storage.
    pub database_url: Option<SecretUrl>,
    /// Redis URL; `None` means the embedded key-value store.
    pub redis_url: Option<SecretUrl>,
    /// Log filter directive.
    pub log_level: String,
    /// Interval of health evaluation and heartbeats.
    pub health_check_interval: Duration,
    /// Token that opens the back doors; `None` keeps them closed.
    pub admin_token: Option<Secret>,
    /// `TSE_INGEST_TOKEN` as given; the token in force is [`CommonConfig::ingest_secret`].
    pub ingest_token: Option<Secret>,
    /// Address the servers listen on.
    pub bind: IpAddr,
    /// Host name published in discovery; `None`: derived from `bind`.
    pub advertise_host: Option<String>,
    /// Simulated seconds per wall second proposed for the ecosystem clock.
    pub clock_speed: f64,
    /// Seed of the ecosystem's random processes.
    pub seed: u64,
    /// What the servers allow each client.
    pub limits: ConnectionLimits,
}

impl CommonConfig {
    /// Returns the token the shippers present to the audit correlator and the correlator requires:
    /// `TSE_INGEST_TOKEN` when given, else the hex SHA-256 of `tse-ingest:` followed by the admin
    /// token (so an ecosystem sharing an admin token shares this one with no extra setting, and the
    /// admin token itself never travels with events), else `None`: the correlator ingests nothing.
    pub fn ingest_secret(&self) -> Option<Secret> {
        if let Some(token) = &self.ingest_token {
            return Some(token.clone());
        }
        let admin = self.admin_token.as_ref()?;
        let digest = <sha2::Sha256 as sha2::Digest>::digest(format!("tse-ingest:{}", admin.expose()));
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        Secret::parse_token(vars::TSE_INGEST_TOKEN, &hex).ok()
    }

    /// Returns the host other instances should use: `ADVERTISE_HOST`, else the listen address, else
    /// (listening on every address) the machine's host name.
    pub fn advertised_host(&self) -> String {
        if let Some(host) = &self.advertise_host {
            return host.clone();
        }
        if !self.bind.is_unspecified() {
            return self.bind.to_string();
        }
        std::env::var("HOSTNAME")
            .ok()
            .filter(|h| !h.is_empty())
            .or_else(|| {
                std::fs::read_to_string("/proc/sys/kernel/hostname")
                    .ok()
                    .map(|h| h.trim().to_owned())
            })
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".to_owned())
    }
}

/// Command-line values that override the environment. `None` means "not given".
#[derive(Clone, Debug, Default)]
pub struct CommonOverrides {
    /// `--environment`.
    pub environment: Option<String>,
    /// `--database-url`.
    pub database_url: Option<String>,
    /// `--redis-url`.
    pub redis_url: Option<String>,
    /// `--log-level`.
    pub log_level: Option<String>,
    /// `--health-check-interval`.
    pub health_check_interval: Option<String>,
    /// `--bind`.
    pub bind: Option<String>,
    /// `--advertise-host`.
    pub advertise_host: Option<String>,
    /// `--clock-speed`.
    pub clock_speed: Option<String>,
    /// `--seed`.
    pub seed: Option<String>,
}

/// A value and where it came from, so errors name the right variable or flag.
struct Sourced {
    value: String,
    from: String,
}

fn pick(flag: Option<&String>, flag_name: &str, env: &dyn EnvSource, var: &str) -> Option<Sourced> {
    if let Some(value) = flag {
        return Some(Sourced {
            value: value.clone(),
            from: flag_name.to_owned(),
        });
    }
    env.var(var).map(|value| Sourced {
        value,
        from: var.to_owned(),
    })
}

impl CommonConfig {
    /// Returns the built-in defaults, listening on `bind`.
    pub fn defaults(bind: IpAddr) -> Self {
        Self {
            environment: DEFAULT_ENVIRONMENT.to_owned(),
            database_url: None,
            redis_url: None,
            log_level: DEFAULT_LOG_LEVEL.to_owned(),
            health_check_interval: DEFAULT_HEALTH_CHECK_INTERVAL,
            admin_token: None,
            ingest_token: None,
            bind,
            advertise_host: None,
            clock_speed: DEFAULT_CLOCK_SPEED,
            seed: DEFAULT_SEED,
            limits: ConnectionLimits::default(),
        }
    }

    /// Loads the shared settings: flags over environment over `fallback` (from a topology file, or
    /// [`CommonConfig::defaults`]).
    ///
    /// # Errors
    /// Returns a [`ConfigError`] naming the variable or flag whose value is invalid.
    pub fn load(
        overrides: &CommonOverrides,
        env: &dyn EnvSource,
        fallback: &CommonConfig,
    ) -> Result<Self, ConfigError> {
        let environment = match pick(
            overrides.environment.as_ref(),
            "--environment",
            env,
            vars::ENVIRONMENT,
        ) {
            Some(s) => parse_environment(&s.from, &s.value)?,
            None => fallback.environment.clone(),
        };
        let database_url = match pick(
            overrides.database_url.as_ref(),
            "--database-url",
            env,
            vars::DATABASE_URL,
        ) {
            Some(s) => Some(SecretUrl::parse(&s.from, &s.value, &["postgres", "postgresql"])?),
            None => fallback.database_url.clone(),
        };
        let redis_url = match pick(overrides.redis_url.as_ref(), "--redis-url", env, vars::REDIS_URL) {
            Some(s) => Some(SecretUrl::parse(&s.from, &s.value, &["redis", "rediss"])?),
            None => fallback.redis_url.clone(),
        };
        let log_level = match pick(overrides.log_level.as_ref(), "--log-level", env, vars::LOG_LEVEL) {
            Some(s) => parse_log_level(&s.from, &s.value)?,
            None => fallback.log_level.clone(),
        };
        let health_check_interval = match pick(
            overrides.health_check_interval.as_ref(),
            "--health-check-interval",
            env,
            vars::HEALTH_CHECK_INTERVAL,
        ) {
            Some(s) => parse_interval(&s.from, &s.value)?,
            None => fallback.health_check_interval,
        };
        let bind = match pick(overrides.bind.as_ref(), "--bind", env, vars::BIND_ADDRESS) {
            Some(s) => s
                .value
                .parse::<IpAddr>()
                .map_err(|_| ConfigError::invalid(&s.from, &s.value, "not an IP address"))?,
            None => fallback.bind,
        };
        let advertise_host = match pick(
            overrides.advertise_host.as_ref(),
            "--advertise-host",
            env,
            vars::ADVERTISE_HOST,
        ) {
            Some(s) => Some(parse_host(&s.from, &s.value)?),
            None => fallback.advertise_host.clone(),
        };
        let clock_speed = match pick(
            overrides.clock_speed.as_ref(),
            "--clock-speed",
            env,
            vars::TSE_CLOCK_SPEED,
        ) {
            Some(s) => {
                crate::clock::parse_speed(&s.value).map_err(|e| ConfigError::invalid(&s.from, &s.value, e))?
            }
            None => fallback.clock_speed,
        };
        let seed = match pick(overrides.seed.as_ref(), "--seed", env, vars::TSE_SEED) {
            Some(s) => s.value.trim().parse::<u64>().map_err(|_| {
                ConfigError::invalid(
                    &s.from,
                    &s.value,
                    "not a whole number from 0 to 18446744073709551615",
                )
            })?,
            None => fallback.seed,
        };
        let admin_token = match env.var(vars::TSE_ADMIN_TOKEN) {
            Some(token) => Some(Secret::parse_token(vars::TSE_ADMIN_TOKEN, &token)?),
            None => fallback.admin_token.clone(),
        };
        let ingest_token = match env.var(vars::TSE_INGEST_TOKEN) {
            Some(token) => Some(Secret::parse_token(vars::TSE_INGEST_TOKEN, &token)?),
            None => fallback.ingest_token.clone(),
        };
        let limits = ConnectionLimits::load(env, fallback.limits)?;
        Ok(Self {
            environment,
            database_url,
            redis_url,
            log_level,
            health_check_interval,
            admin_token,
            ingest_token,
            bind,
            advertise_host,
            clock_speed,
            seed,
            limits,
        })
    }
}

/// Parses a host name or IP address others can connect to.
fn parse_host(from: &str, value: &str) -> Result<String, ConfigError> {
    let valid = !value.is_empty()
        && value.len() <= 253
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b':' | b'_'));
    if valid {
        Ok(value.to_owned())
    } else {
        Err(ConfigError::invalid(from, value, "not a host name or IP address"))
    }
}

/// Complete configuration of one instance.
#[derive(Clone, Debug)]
pub struct InstanceConfig {
    /// Who the instance is.
    pub identity: Identity,
    /// Settings shared with the rest of the ecosystem.
    pub common: CommonConfig,
    /// HTTP port; 0 lets the OS choose.
    pub http_port: u16,
    /// gRPC port; 0 lets the OS choose.
    pub grpc_port: u16,
    /// The directory the instance owns for data.
    pub data_dir: PathBuf,
    /// The directory the instance owns for logs.
    pub log_dir: PathBuf,
    /// Service-specific settings from the topology file (empty for `tse serve`).
    pub settings: toml::Table,
}

/// Command-line values of `tse serve` that override the environment.
#[derive(Clone, Debug, Default)]
pub struct ServeOverrides {
    /// Positional `SERVICE`.
    pub service: Option<String>,
    /// `--instance`.
    pub instance: Option<String>,
    /// `--http-port`.
    pub http_port: Option<u16>,
    /// `--grpc-port`.
    pub grpc_port: Option<u16>,
    /// `--schema-name`.
    pub schema_name: Option<String>,
    /// `--redis-namespace`.
    pub redis_namespace: Option<String>,
    /// `--data-dir`.
    pub data_dir: Option<PathBuf>,
    /// `--log-dir`.
    pub log_dir: Option<PathBuf>,
    /// Shared settings.
    pub common: CommonOverrides,
}

impl InstanceConfig {
    /// Drops the admin token if the instance's service kind may not hold it (the risk monitor:
    /// [`crate::identity::ServiceKind::holds_admin_token`]), keeping the ingest token derived from
    /// it so the instance's events still ship. The host applies it before anything starts.
    pub fn without_admin_token_unless_held(mut self) -> Self {
        if !self.identity.service().holds_admin_token() {
            self.common.ingest_token = self.common.ingest_secret();
            self.common.admin_token = None;
        }
        self
    }

    /// Loads the configuration of a single instance (`tse serve`): flags over environment over
    /// defaults.
    ///
    /// # Errors
    /// Returns a [`ConfigError`] naming the first invalid or missing value.
    pub fn load(overrides: &ServeOverrides, env: &dyn EnvSource) -> Result<Self, ConfigError> {
        let service =
            pick(overrides.service.as_ref(), "SERVICE", env, vars::SERVICE_NAME).ok_or_else(|| {
                ConfigError::Missing(
                    "no service given: pass SERVICE (e.g. `tse serve exchange-simulator`) or set SERVICE_NAME"
                        .to_owned(),
                )
            })?;
        let service = ServiceKind::parse(&service.value)?;
        let instance = pick(
            overrides.instance.as_ref(),
            "--instance",
            env,
            vars::SERVICE_INSTANCE_NAME,
        );
        let schema = pick(
            overrides.schema_name.as_ref(),
            "--schema-name",
            env,
            vars::SCHEMA_NAME,
        );
        let namespace = pick(
            overrides.redis_namespace.as_ref(),
            "--redis-namespace",
            env,
            vars::REDIS_NAMESPACE,
        );
        let identity = Identity::new(
            service,
            instance.as_ref().map(|s| s.value.as_str()),
            schema.as_ref().map(|s| s.value.as_str()),
            namespace.as_ref().map(|s| s.value.as_str()),
        )?;
        let http_port = port(overrides.http_port, env, vars::HTTP_PORT, DEFAULT_HTTP_PORT)?;
        let grpc_port = port(overrides.grpc_port, env, vars::GRPC_PORT, DEFAULT_GRPC_PORT)?;
        if http_port != 0 && http_port == grpc_port {
            return Err(ConfigError::Conflict(format!(
                "HTTP and gRPC ports are both {http_port}: they must differ"
            )));
        }
        let common = CommonConfig::load(
            &overrides.common,
            env,
            &CommonConfig::defaults(IpAddr::from([0, 0, 0, 0])),
        )?;
        let instance_dir = |flag: &Option<PathBuf>, var: &str, root: &str| {
            flag.clone()
                .or_else(|| env.var(var).map(PathBuf::from))
                .unwrap_or_else(|| PathBuf::from(root).join(identity.instance().as_str()))
        };
        let data_dir = instance_dir(&overrides.data_dir, vars::DATA_DIR, "data");
        let log_dir = instance_dir(&overrides.log_dir, vars::LOG_DIR, "logs");
        Ok(Self {
            identity,
            common,
            http_port,
            grpc_port,
            data_dir,
            log_dir,
            settings: toml::Table::new(),
        })
    }

    /// Returns the configuration as shown to a user or written to a log: passwords masked.
    pub fn redacted(&self) -> serde_json::Value {
        serde_json::json!({
            "service": self.identity.service().name(),
            "instance": self.identity.instance().as_str(),
            "schema": self.identity.schema().as_str(),
            "redis_namespace": self.identity.redis_namespace().as_str(),
            "http": format!("{}:{}", self.common.bind, self.http_port),
            "grpc": format!("{}:{}", self.common.bind, self.grpc_port),
            "advertised_host": self.common.advertised_host(),
            "environment": self.common.environment,
            "database_url": self.common.database_url.as_ref().map(|u| u.masked()),
            "redis_url": self.common.redis_url.as_ref().map(|u| u.masked()),
            "log_level": self.common.log_level,
            "health_check_interval": format_duration(self.common.health_check_interval),
            "data_dir": self.data_dir.display().to_string(),
            "log_dir": self.log_dir.display().to_string(),
            "admin_token": self.common.admin_token.as_ref().map(|_| "***"),
            "ingest_token": self.common.ingest_secret().map(|_| "***"),
            "clock_speed": self.common.clock_speed,
            "seed": self.common.seed,
            "max_connections": self.common.limits.max_connections,
            "http_header_timeout": format_duration(self.common.limits.header_timeout),
            "connection_idle_timeout": format_duration(self.common.limits.idle_timeout),
        })
    }
}

fn port(flag: Option<u16>, env: &dyn EnvSource, var: &str, default: u16) -> Result<u16, ConfigError> {
    if let Some(port) = flag {
        return Ok(port);
    }
    match env.var(var) {
        Some(value) => value
            .trim()
            .parse::<u16>()
            .map_err(|_| ConfigError::invalid(var, &value, "not a port number (0-65535)")),
        None => Ok(default),
    }
}

/// Parses an `ENVIRONMENT` label: 1–32 ASCII letters, digits, `-` and `_`.
///
/// # Errors
/// Returns [`ConfigError::Invalid`] naming `from`.
pub fn parse_environment(from: &str, value: &str) -> Result<String, ConfigError> {
    let valid = !value.is_empty()
        && value.len() <= 32
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if valid {
        Ok(value.to_owned())
    } else {
        Err(ConfigError::invalid(
            from,
            value,
            "use 1 to 32 ASCII letters, digits, '-' or '_'",
        ))
    }
}

/// Parses a log filter directive (`info`, `debug`, `tse_runtime=debug,warn`).
///
/// # Errors
/// Returns [`ConfigError::Invalid`] naming `from`.
pub fn parse_log_level(from: &str, value: &str) -> Result<String, ConfigError> {
    tracing_subscriber::EnvFilter::builder()
        .parse(value)
        .map(|_| value.to_owned())
        .map_err(|e| ConfigError::invalid(from, value, format!("not a log filter ({e})")))
}

/// Parses a health-check interval: a duration (`10s`, `500ms`) or whole seconds, from 100 ms to 1 h.
///
/// # Errors
/// Returns [`ConfigError::Invalid`] naming `from`.
pub fn parse_interval(from: &str, value: &str) -> Result<Duration, ConfigError> {
    let parsed = match value.trim().parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => parse_duration(value).map_err(|e| ConfigError::invalid(from, value, e))?,
    };
    if parsed < Duration::from_millis(100) || parsed > Duration::from_secs(3600) {
        return Err(ConfigError::invalid(from, value, "must be between 100ms and 1h"));
    }
    Ok(parsed)
}

/// The seed of an instance: its own when set, else one mixed from the ecosystem seed and the
/// instance name (so two instances differ, and the same configuration repeats exactly).
pub fn instance_seed(own: Option<u64>, ecosystem: u64, instance: &str) -> u64 {
    own.unwrap_or_else(|| {
        // FNV-1a over the name, then a splitmix64 finaliser with the ecosystem seed.
        let name = instance.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
        let mut z = ecosystem ^ name;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    })
}

#[cfg(test)]
mod tests;
