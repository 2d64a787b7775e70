//! Who an instance is: service kind, instance name, and the PostgreSQL schema and Redis namespace
//! derived from them (README, *Naming and isolation*).
//!
//! Everything here is parsed once into types and trusted afterwards: an [`Identity`] can only be
//! built from a valid service, a valid instance name and valid (derived or overridden) storage names.
//!
//! We deliberately differ from the first seed's Go sketch, which kept only the first two segments of
//! the instance name: that maps `custodian-sim-001` and `custodian-sim-002` onto one schema. Here every
//! segment is kept, so distinct instance names give distinct schemas unless they differ only in case.

use std::fmt;

use serde::Serialize;

/// The seven service kinds of the ecosystem.
///
/// Adding an eighth service means adding a variant here, its crate, and one line in the `tse` binary's
/// catalog.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum ServiceKind {
    /// `audit-correlator`: ingests every event and correlates cause, effect and alert.
    AuditCorrelator,
    /// `test-coordinator`: runs chaos scenarios and validates detection SLAs.
    TestCoordinator,
    /// `exchange-simulator`: order books, matching, accounts and trades.
    ExchangeSimulator,
    /// `custodian-simulator`: custody accounts, balances, positions and settlement.
    CustodianSimulator,
    /// `market-data-simulator`: seeded price processes, candles and streams.
    MarketDataSimulator,
    /// `trading-system-engine`: strategies trading on the exchanges.
    TradingSystemEngine,
    /// `risk-monitor`: production-like risk surveillance and alerts.
    RiskMonitor,
}

impl ServiceKind {
    /// Every service kind, in the order of the default ecosystem.
    pub const ALL: [ServiceKind; 7] = [
        ServiceKind::AuditCorrelator,
        ServiceKind::TestCoordinator,
        ServiceKind::ExchangeSimulator,
        ServiceKind::CustodianSimulator,
        ServiceKind::MarketDataSimulator,
        ServiceKind::TradingSystemEngine,
        ServiceKind::RiskMonitor,
    ];

    /// Whether instances of this kind may hold the admin token. The risk monitor is a production
    /// system: it reads only production APIs, so the host drops the token from its configuration
    /// before it starts (keeping the ingest token derived from it, so its events still ship).
    pub const fn holds_admin_token(self) -> bool {
        !matches!(self, ServiceKind::RiskMonitor)
    }

    /// Returns the `SERVICE_NAME` of this kind.
    pub const fn name(self) -> &'static str {
        match self {
            ServiceKind::AuditCorrelator => "audit-correlator",
            ServiceKind::TestCoordinator => "test-coordinator",
            ServiceKind::ExchangeSimulator => "exchange-simulator",
            ServiceKind::CustodianSimulator => "custodian-simulator",
            ServiceKind::MarketDataSimulator => "market-data-simulator",
            ServiceKind::TradingSystemEngine => "trading-system-engine",
            ServiceKind::RiskMonitor => "risk-monitor",
        }
    }

    /// Returns the instance's role, used as the `entity_type` Prometheus label.
    pub const fn entity_type(self) -> &'static str {
        match self {
            ServiceKind::AuditCorrelator => "audit",
            ServiceKind::TestCoordinator => "test-coordinator",
            ServiceKind::ExchangeSimulator => "exchange",
            ServiceKind::CustodianSimulator => "custodian",
            ServiceKind::MarketDataSimulator => "market-data",
            ServiceKind::TradingSystemEngine => "trading-system",
            ServiceKind::RiskMonitor => "risk-monitor",
        }
    }

    /// Returns how the kind reads in a sentence ("no market data instance is registered").
    pub const fn noun(self) -> &'static str {
        match self {
            ServiceKind::AuditCorrelator => "audit correlator",
            ServiceKind::TestCoordinator => "test coordinator",
            ServiceKind::ExchangeSimulator => "exchange",
            ServiceKind::CustodianSimulator => "custodian",
            ServiceKind::MarketDataSimulator => "market data",
            ServiceKind::TradingSystemEngine => "trading system",
            ServiceKind::RiskMonitor => "risk monitor",
        }
    }

    /// Parses a `SERVICE_NAME`.
    ///
    /// # Errors
    /// Returns [`IdentityError::UnknownService`] for anything but the seven names.
    pub fn parse(name: &str) -> Result<Self, IdentityError> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.name() == name)
            .ok_or_else(|| IdentityError::UnknownService(name.to_owned()))
    }
}

impl fmt::Display for ServiceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Whether an instance is its service's only instance (`SERVICE_INSTANCE_NAME` unset or equal to
/// `SERVICE_NAME`) or one of several named instances.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ServiceType {
    /// The instance name is the service name: schema and namespace come from the service name.
    Singleton,
    /// A named instance: schema and namespace come from every segment of the instance name.
    MultiInstance,
}

impl ServiceType {
    /// Returns the label value: `singleton` or `multi-instance`.
    pub const fn as_str(self) -> &'static str {
        match self {
            ServiceType::Singleton => "singleton",
            ServiceType::MultiInstance => "multi-instance",
        }
    }
}

impl fmt::Display for ServiceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Maximum length of an instance name (a DNS label, so it can name a container).
pub const MAX_INSTANCE_NAME_LEN: usize = 63;

/// A valid instance name: 1–63 ASCII letters, digits and `-`, starting with a letter, ending with a
/// letter or digit, without `--`. Case is kept (`exchange-OKX`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct InstanceName(String);

impl InstanceName {
    /// Parses an instance name.
    ///
    /// # Errors
    /// Returns [`IdentityError::InvalidInstanceName`] naming the first rule the name breaks.
    pub fn parse(name: &str) -> Result<Self, IdentityError> {
        let invalid = |rule: String| IdentityError::InvalidInstanceName {
            name: name.to_owned(),
            rule,
        };
        if name.is_empty() {
            return Err(invalid("it is empty; it must have 1 to 63 characters".into()));
        }
        let chars = name.chars().count();
        if chars > MAX_INSTANCE_NAME_LEN {
            return Err(invalid(format!(
                "it has {chars} characters; at most {MAX_INSTANCE_NAME_LEN} are allowed"
            )));
        }
        if let Some((pos, c)) = name
            .chars()
            .enumerate()
            .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '-'))
        {
            return Err(invalid(format!(
                "character {:?} at position {}; only ASCII letters, digits and '-' are allowed",
                c,
                pos + 1
            )));
        }
        let bytes = name.as_bytes();
        if !bytes[0].is_ascii_alphabetic() {
            return Err(invalid(format!(
                "it starts with {:?}; it must start with a letter",
                bytes[0] as char
            )));
        }
        if !bytes[bytes.len() - 1].is_ascii_alphanumeric() {
            return Err(invalid(format!(
                "it ends with {:?}; it must end with a letter or digit",
                bytes[bytes.len() - 1] as char
            )));
        }
        if let Some(pos) = name.find("--") {
            return Err(invalid(format!(
                "'--' at position {}; consecutive hyphens are not allowed",
                pos + 1
            )));
        }
        Ok(Self(name.to_owned()))
    }

    /// Returns the name as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('-')
    }
}

impl fmt::Display for InstanceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for InstanceName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for InstanceName {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for InstanceName {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<String> for InstanceName {
    fn eq(&self, other: &String) -> bool {
        &self.0 == other
    }
}

/// A PostgreSQL schema name an instance owns: 1–63 lower-case ASCII letters, digits and `_`, starting
/// with a letter, not `pg_`-prefixed (reserved by PostgreSQL) and not `public` or
/// `information_schema` (shared by everyone).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct SchemaName(String);

impl SchemaName {
    /// Parses an explicit schema name (`SCHEMA_NAME`).
    ///
    /// # Errors
    /// Returns [`IdentityError::InvalidSchemaName`] naming the rule broken.
    pub fn parse(name: &str) -> Result<Self, IdentityError> {
        let invalid = |rule: &str| IdentityError::InvalidSchemaName {
            name: name.to_owned(),
            rule: rule.to_owned(),
        };
        if name.is_empty() || name.len() > 63 {
            return Err(invalid("it must have 1 to 63 characters"));
        }
        if !name.as_bytes()[0].is_ascii_lowercase() {
            return Err(invalid("it must start with a lower-case letter"));
        }
        if !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(invalid(
                "only lower-case ASCII letters, digits and '_' are allowed",
            ));
        }
        if name.starts_with("pg_") || name == "public" || name == "information_schema" {
            return Err(invalid("it is reserved by PostgreSQL or shared by every user"));
        }
        Ok(Self(name.to_owned()))
    }

    /// Returns the schema name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SchemaName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// First key segments no instance namespace may start with: `services` holds discovery registrations
/// (`services:{service}:{instance}`), `tse` holds what an ecosystem shares (`tse:clock:{environment}`).
pub const RESERVED_NAMESPACES: [&str; 2] = ["services", "tse"];

/// A Redis namespace: every key an instance writes is `{namespace}:{rest}`. Segments of ASCII letters,
/// digits, `-` and `_`, separated by single `:`; at most 128 characters; the first segment may not be
/// one of [`RESERVED_NAMESPACES`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct RedisNamespace(String);

impl RedisNamespace {
    /// Parses an explicit namespace (`REDIS_NAMESPACE`).
    ///
    /// # Errors
    /// Returns [`IdentityError::InvalidRedisNamespace`] naming the rule broken.
    pub fn parse(name: &str) -> Result<Self, IdentityError> {
        let invalid = |rule: &str| IdentityError::InvalidRedisNamespace {
            name: name.to_owned(),
            rule: rule.to_owned(),
        };
        if name.is_empty() || name.len() > 128 {
            return Err(invalid("it must have 1 to 128 characters"));
        }
        let valid_segment = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        if !name.split(':').all(valid_segment) {
            return Err(invalid(
                "it must be segments of ASCII letters, digits, '-' and '_' separated by single ':'",
            ));
        }
        if let Some(first) = name.split(':').next()
            && RESERVED_NAMESPACES.contains(&first)
        {
            return Err(invalid(&format!(
                "its first segment '{first}' is reserved for what the ecosystem shares"
            )));
        }
        Ok(Self(name.to_owned()))
    }

    /// Returns the namespace, without a trailing `:`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RedisNamespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A complete, valid instance identity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Identity {
    service: ServiceKind,
    instance: InstanceName,
    service_type: ServiceType,
    schema: SchemaName,
    redis_namespace: RedisNamespace,
}

impl Identity {
    /// Builds the identity of `instance` of `service`; `None` means the singleton instance named
    /// after the service. Explicit `schema` / `namespace` override the derived names.
    ///
    /// # Errors
    /// Returns an [`IdentityError`] when the instance name or an override is invalid, or when the
    /// derived names would collide with what discovery owns.
    pub fn new(
        service: ServiceKind,
        instance: Option<&str>,
        schema: Option<&str>,
        namespace: Option<&str>,
    ) -> Result<Self, IdentityError> {
        let instance = InstanceName::parse(instance.unwrap_or(service.name()))?;
        let service_type = if instance.as_str() == service.name() {
            ServiceType::Singleton
        } else {
            ServiceType::MultiInstance
        };
        let schema = match schema {
            Some(explicit) => SchemaName::parse(explicit)?,
            None => derive_schema(service, &instance, service_type),
        };
        let redis_namespace = match namespace {
            Some(explicit) => RedisNamespace::parse(explicit)?,
            None => derive_namespace(service, &instance, service_type)?,
        };
        Ok(Self {
            service,
            instance,
            service_type,
            schema,
            redis_namespace,
        })
    }

    /// Returns the service kind.
    pub fn service(&self) -> ServiceKind {
        self.service
    }

    /// Returns the instance name.
    pub fn instance(&self) -> &InstanceName {
        &self.instance
    }

    /// Returns whether this is a singleton or a named instance.
    pub fn service_type(&self) -> ServiceType {
        self.service_type
    }

    /// Returns the instance's role (`entity_type` label).
    pub fn entity_type(&self) -> &'static str {
        self.service.entity_type()
    }

    /// Returns the PostgreSQL schema the instance owns.
    pub fn schema(&self) -> &SchemaName {
        &self.schema
    }

    /// Returns the Redis namespace the instance owns.
    pub fn redis_namespace(&self) -> &RedisNamespace {
        &self.redis_namespace
    }

    /// Returns the JSON view printed by `tse names` and embedded in health answers.
    pub fn summary(&self) -> IdentitySummary<'_> {
        IdentitySummary {
            service: self.service.name(),
            instance: self.instance.as_str(),
            service_type: self.service_type.as_str(),
            entity_type: self.entity_type(),
            schema: self.schema.as_str(),
            redis_namespace: self.redis_namespace.as_str(),
        }
    }
}

/// The identity as flat strings, in the order `tse names` prints them.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct IdentitySummary<'a> {
    /// `SERVICE_NAME`.
    pub service: &'a str,
    /// `SERVICE_INSTANCE_NAME`.
    pub instance: &'a str,
    /// `singleton` or `multi-instance`.
    pub service_type: &'a str,
    /// The instance's role.
    pub entity_type: &'a str,
    /// PostgreSQL schema.
    pub schema: &'a str,
    /// Redis namespace.
    pub redis_namespace: &'a str,
}

fn first_segment(service: ServiceKind) -> &'static str {
    service
        .name()
        .split('-')
        .next()
        .expect("split yields at least one segment")
}

fn derive_schema(service: ServiceKind, instance: &InstanceName, kind: ServiceType) -> SchemaName {
    let name = match kind {
        ServiceType::Singleton => first_segment(service).to_owned(),
        ServiceType::MultiInstance => instance
            .segments()
            .map(str::to_ascii_lowercase)
            .collect::<Vec<_>>()
            .join("_"),
    };
    // A valid instance name always yields a valid schema: it starts with a letter, has at most
    // 63 characters, and '-' becomes '_'.
    SchemaName(name)
}

fn derive_namespace(
    service: ServiceKind,
    instance: &InstanceName,
    kind: ServiceType,
) -> Result<RedisNamespace, IdentityError> {
    match kind {
        ServiceType::Singleton => Ok(RedisNamespace(first_segment(service).to_owned())),
        ServiceType::MultiInstance => {
            let derived = instance.segments().collect::<Vec<_>>().join(":");
            RedisNamespace::parse(&derived).map_err(|_| IdentityError::ReservedNamespace {
                instance: instance.to_string(),
                namespace: derived,
            })
        }
    }
}

/// Why an identity was refused. Each message names the rule broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// `SERVICE_NAME` is not one of the seven services.
    #[error(
        "unknown service '{0}': expected one of audit-correlator, test-coordinator, exchange-simulator, \
         custodian-simulator, market-data-simulator, trading-system-engine, risk-monitor"
    )]
    UnknownService(String),
    /// The instance name breaks a naming rule.
    #[error("invalid instance name '{name}': {rule}")]
    InvalidInstanceName {
        /// The refused name.
        name: String,
        /// The rule it breaks.
        rule: String,
    },
    /// An explicit `SCHEMA_NAME` breaks a rule.
    #[error("invalid schema name '{name}': {rule}")]
    InvalidSchemaName {
        /// The refused name.
        name: String,
        /// The rule it breaks.
        rule: String,
    },
    /// An explicit `REDIS_NAMESPACE` breaks a rule.
    #[error("invalid Redis namespace '{name}': {rule}")]
    InvalidRedisNamespace {
        /// The refused namespace.
        name: String,
        /// The rule it breaks.
        rule: String,
    },
    /// The instance name derives a namespace that discovery owns.
    #[error(
        "invalid instance name '{instance}': its Redis namespace '{namespace}' would start with a \
         segment reserved for what the ecosystem shares (services, tse); rename it or set REDIS_NAMESPACE"
    )]
    ReservedNamespace {
        /// The instance name.
        instance: String,
        /// The namespace it would derive.
        namespace: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ident(service: &str, instance: Option<&str>) -> Identity {
        Identity::new(ServiceKind::parse(service).unwrap(), instance, None, None).unwrap()
    }

    fn names(service: &str, instance: Option<&str>) -> (String, String, ServiceType) {
        let id = ident(service, instance);
        (
            id.schema().to_string(),
            id.redis_namespace().to_string(),
            id.service_type(),
        )
    }

    #[test]
    fn singleton_services_use_the_first_segment_of_the_service_name() {
        assert_eq!(
            names("audit-correlator", None),
            ("audit".into(), "audit".into(), ServiceType::Singleton)
        );
        assert_eq!(
            names("test-coordinator", None),
            ("test".into(), "test".into(), ServiceType::Singleton)
        );
    }

    #[test]
    fn instance_equal_to_service_is_a_singleton() {
        let id = ident("audit-correlator", Some("audit-correlator"));
        assert_eq!(id.service_type(), ServiceType::Singleton);
        assert_eq!(id.schema().as_str(), "audit");
    }

    #[test]
    fn unset_instance_is_the_singleton_named_after_the_service() {
        let id = ident("exchange-simulator", None);
        assert_eq!(id.instance().as_str(), "exchange-simulator");
        assert_eq!(id.service_type(), ServiceType::Singleton);
        assert_eq!(id.schema().as_str(), "exchange");
        assert_eq!(id.redis_namespace().as_str(), "exchange");
    }

    #[test]
    fn named_instances_keep_every_segment() {
        assert_eq!(
            names("exchange-simulator", Some("exchange-OKX")),
            (
                "exchange_okx".into(),
                "exchange:OKX".into(),
                ServiceType::MultiInstance
            )
        );
        assert_eq!(
            names("custodian-simulator", Some("custodian-Komainu")),
            (
                "custodian_komainu".into(),
                "custodian:Komainu".into(),
                ServiceType::MultiInstance
            )
        );
        assert_eq!(
            names("market-data-simulator", Some("market-data-Coinmetrics")),
            (
                "market_data_coinmetrics".into(),
                "market:data:Coinmetrics".into(),
                ServiceType::MultiInstance
            )
        );
    }

    #[test]
    fn numbered_instances_get_distinct_schemas_and_namespaces() {
        let a = ident("custodian-simulator", Some("custodian-sim-001"));
        let b = ident("custodian-simulator", Some("custodian-sim-002"));
        assert_eq!(a.schema().as_str(), "custodian_sim_001");
        assert_eq!(a.redis_namespace().as_str(), "custodian:sim:001");
        assert_eq!(b.schema().as_str(), "custodian_sim_002");
        assert_ne!(a.schema(), b.schema());
        assert_ne!(a.redis_namespace(), b.redis_namespace());
    }

    #[test]
    fn entity_types_follow_the_service() {
        assert_eq!(
            ident("exchange-simulator", Some("exchange-OKX")).entity_type(),
            "exchange"
        );
        assert_eq!(ident("audit-correlator", None).entity_type(), "audit");
        assert_eq!(
            ident("risk-monitor", Some("risk-monitor-LH")).entity_type(),
            "risk-monitor"
        );
        assert_eq!(
            ident("trading-system-engine", Some("trading-system-LH")).entity_type(),
            "trading-system"
        );
        assert_eq!(
            ident("market-data-simulator", Some("market-data-X")).entity_type(),
            "market-data"
        );
    }

    #[test]
    fn explicit_overrides_are_honoured() {
        let id = Identity::new(
            ServiceKind::ExchangeSimulator,
            Some("exchange-OKX"),
            Some("okx_main"),
            Some("venues:okx"),
        )
        .unwrap();
        assert_eq!(id.schema().as_str(), "okx_main");
        assert_eq!(id.redis_namespace().as_str(), "venues:okx");
        assert_eq!(id.instance().as_str(), "exchange-OKX");
    }

    #[test]
    fn invalid_overrides_are_refused() {
        for schema in ["Okx", "1okx", "okx-main", "pg_okx", "public", ""] {
            let err = Identity::new(ServiceKind::ExchangeSimulator, None, Some(schema), None);
            assert!(
                matches!(err, Err(IdentityError::InvalidSchemaName { .. })),
                "{schema}"
            );
        }
        for ns in [
            "",
            "a::b",
            ":a",
            "a:",
            "a b",
            "services",
            "services:x",
            "tse:clock",
            "é",
        ] {
            let err = Identity::new(ServiceKind::ExchangeSimulator, None, None, Some(ns));
            assert!(
                matches!(err, Err(IdentityError::InvalidRedisNamespace { .. })),
                "{ns}"
            );
        }
    }

    fn refused(name: &str) -> String {
        InstanceName::parse(name).unwrap_err().to_string()
    }

    #[test]
    fn invalid_instance_names_are_refused_naming_the_rule() {
        assert!(refused("exchange_OKX").contains("only ASCII letters, digits and '-'"));
        assert!(refused("-exchange").contains("must start with a letter"));
        assert!(refused("exchange-").contains("must end with a letter or digit"));
        assert!(refused("exchange--OKX").contains("consecutive hyphens"));
        assert!(refused(&"a".repeat(64)).contains("64 characters; at most 63"));
        assert!(refused("1exchange").contains("must start with a letter"));
        assert!(refused("exchange-ÖKX").contains("only ASCII letters"));
        assert!(refused("").contains("empty"));
        assert!(refused("exchange OKX").contains("position 9"));
    }

    #[test]
    fn longest_valid_name_is_accepted() {
        let name = "a".repeat(63);
        assert_eq!(InstanceName::parse(&name).unwrap().as_str(), name);
    }

    #[test]
    fn names_that_would_enter_the_discovery_keyspace_are_refused() {
        for name in ["services-x", "tse-clock"] {
            let err = Identity::new(ServiceKind::ExchangeSimulator, Some(name), None, None);
            assert!(
                matches!(err, Err(IdentityError::ReservedNamespace { .. })),
                "{name}"
            );
        }
    }

    #[test]
    fn unknown_services_are_refused_with_the_list_of_valid_ones() {
        let err = ServiceKind::parse("exchange").unwrap_err().to_string();
        assert!(err.contains("unknown service 'exchange'"));
        assert!(err.contains("exchange-simulator"));
    }

    #[test]
    fn every_kind_round_trips_through_its_name() {
        for kind in ServiceKind::ALL {
            assert_eq!(ServiceKind::parse(kind.name()).unwrap(), kind);
        }
    }
}
