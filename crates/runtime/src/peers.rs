//! Finding another instance of the ecosystem: one lookup by service kind and optional instance name,
//! written once for every caller (the exchange's liquidity provider, the custodian's P&L collector,
//! the outbox shipper, `tse-client`).
//!
//! A lookup reads the registry and keeps only
//! - instances of the ecosystem's own environment: a shared registry may hold several ecosystems;
//! - instances that are not `unhealthy`: a `degraded` instance still serves its API (an optional
//!   dependency of its own is down), an `unhealthy` one cannot do its job, so it is not offered.
//!
//! Without a name, the choice is deterministic: the first instance by name. With one, exactly that
//! instance, or an error saying why not.
//!
//! [`Peers::connect`] also hands out a gRPC [`Channel`] per instance, cached: the next lookup of the
//! same instance reuses it unless the instance's registration moved (another address, or another run
//! of it) or a caller reported a failed call with [`Peers::forget`]; then a fresh channel is made.
//! `Peers` is cheap to clone; the host builds one per instance and lends it through
//! [`crate::host::ServiceContext::peers`].

use std::{
    collections::HashMap,
    fmt,
    sync::{Arc, Mutex},
};

use tonic::transport::{Channel, Endpoint};

use crate::{
    discovery::{DiscoveryError, Registration, Registry},
    health::Status,
    identity::{InstanceName, ServiceKind},
};

/// Why no instance could be offered.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PeerError {
    /// The registry cannot be read.
    #[error("discovery: {0}")]
    Registry(#[from] DiscoveryError),
    /// No instance of the kind is registered (and not unhealthy) in the environment.
    #[error("no {} instance is registered in {environment}", .kind.noun())]
    NoInstance {
        /// The kind looked for.
        kind: ServiceKind,
        /// The environment looked in.
        environment: String,
    },
    /// The named instance is not registered in the environment.
    #[error("{} instance {name} is not registered in {environment}", .kind.noun())]
    NotRegistered {
        /// The kind looked for.
        kind: ServiceKind,
        /// The instance looked for.
        name: InstanceName,
        /// The environment looked in.
        environment: String,
    },
    /// The named instance is registered but reports itself unhealthy.
    #[error("{} instance {name} is unhealthy in {environment}", .kind.noun())]
    Unhealthy {
        /// The kind looked for.
        kind: ServiceKind,
        /// The instance looked for.
        name: InstanceName,
        /// The environment looked in.
        environment: String,
    },
    /// The instance was found but its gRPC address could not be connected to.
    #[error("cannot connect to {name} at {url}: {reason}")]
    Connect {
        /// The instance.
        name: InstanceName,
        /// The address tried.
        url: String,
        /// What the transport said.
        reason: String,
    },
}

/// An instance found, with a channel to its gRPC server.
#[derive(Clone, Debug)]
pub struct Peer {
    /// Its registration, as read by the lookup.
    pub registration: Registration,
    /// A channel to `registration.grpc_addr()`, shared with every other user of this instance.
    pub channel: Channel,
}

/// A cached channel and the registration it was made for.
struct Cached {
    grpc_addr: String,
    run_id: String,
    channel: Channel,
}

/// Looks other instances of one ecosystem up; cheap to clone (clones share the channel cache).
#[derive(Clone)]
pub struct Peers {
    registry: Registry,
    environment: Arc<str>,
    channels: Arc<Mutex<HashMap<(ServiceKind, InstanceName), Cached>>>,
}

impl fmt::Debug for Peers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Peers")
            .field("registry", &self.registry.kind())
            .field("environment", &self.environment)
            .finish_non_exhaustive()
    }
}

impl Peers {
    /// Looks up instances of `environment` in `registry`.
    pub fn new(registry: Registry, environment: &str) -> Self {
        Self {
            registry,
            environment: environment.into(),
            channels: Arc::default(),
        }
    }

    /// Returns the environment lookups are confined to.
    pub fn environment(&self) -> &str {
        &self.environment
    }

    /// Finds an instance of `kind`: the one called `name`, or without a name the first by name.
    /// Unhealthy instances and those of other environments are never offered.
    ///
    /// # Errors
    /// [`PeerError::Registry`], [`PeerError::NoInstance`], [`PeerError::NotRegistered`] or
    /// [`PeerError::Unhealthy`].
    pub async fn find(
        &self,
        kind: ServiceKind,
        name: Option<&InstanceName>,
    ) -> Result<Registration, PeerError> {
        let mut found = self.registry.by_service(kind).await?;
        found.retain(|r| *r.environment == *self.environment);
        let environment = || self.environment.to_string();
        match name {
            Some(name) => {
                let registration = found.into_iter().find(|r| r.instance == *name).ok_or_else(|| {
                    PeerError::NotRegistered {
                        kind,
                        name: name.clone(),
                        environment: environment(),
                    }
                })?;
                if registration.status == Status::Unhealthy {
                    return Err(PeerError::Unhealthy {
                        kind,
                        name: name.clone(),
                        environment: environment(),
                    });
                }
                Ok(registration)
            }
            None => found
                .into_iter()
                .filter(|r| r.status != Status::Unhealthy)
                .min_by(|a, b| a.instance.cmp(&b.instance))
                .ok_or_else(|| PeerError::NoInstance {
                    kind,
                    environment: environment(),
                }),
        }
    }

    /// Lists every instance of `kind` registered in the environment, sorted by name, unhealthy ones
    /// included: a monitor asks a venue that is down too, and observes its failures.
    ///
    /// # Errors
    /// [`PeerError::Registry`] when the registry cannot be read.
    pub async fn list(&self, kind: ServiceKind) -> Result<Vec<Registration>, PeerError> {
        let mut found = self.registry.by_service(kind).await?;
        found.retain(|r| *r.environment == *self.environment);
        found.sort_by(|a, b| a.instance.cmp(&b.instance));
        Ok(found)
    }

    /// Finds an instance as [`Peers::find`] does and returns it with a channel to its gRPC server:
    /// the cached one while the instance's address and run are unchanged, else a fresh connection.
    ///
    /// # Errors
    /// As [`Peers::find`], and [`PeerError::Connect`] when a fresh connection fails.
    pub async fn connect(&self, kind: ServiceKind, name: Option<&InstanceName>) -> Result<Peer, PeerError> {
        let registration = self.find(kind, name).await?;
        let key = (kind, registration.instance.clone());
        let grpc_addr = registration.grpc_addr();
        if let Some(cached) = self.cache().get(&key)
            && cached.grpc_addr == grpc_addr
            && cached.run_id == registration.run_id
        {
            return Ok(Peer {
                channel: cached.channel.clone(),
                registration,
            });
        }
        let url = format!("http://{grpc_addr}");
        let failed = |reason: String| PeerError::Connect {
            name: registration.instance.clone(),
            url: url.clone(),
            reason,
        };
        let channel = Endpoint::from_shared(url.clone())
            .map_err(|e| failed(e.to_string()))?
            .connect()
            .await
            .map_err(|e| failed(e.to_string()))?;
        self.cache().insert(
            key,
            Cached {
                grpc_addr,
                run_id: registration.run_id.clone(),
                channel: channel.clone(),
            },
        );
        Ok(Peer {
            registration,
            channel,
        })
    }

    /// Drops the cached channel of instance `name` of `kind`: a call through it failed, so the next
    /// [`Peers::connect`] reads the registry and connects afresh.
    pub fn forget(&self, kind: ServiceKind, name: &InstanceName) {
        self.cache().remove(&(kind, name.clone()));
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<(ServiceKind, InstanceName), Cached>> {
        // Held for a map operation only, never across an await.
        self.channels.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::{clock::Clock, discovery::Discovery};

    async fn register(
        registry: &Registry,
        kind: ServiceKind,
        instance: &str,
        environment: &str,
        status: Status,
    ) {
        register_run(registry, kind, instance, environment, status, (9, instance)).await;
    }

    /// Registers a run of `instance` whose gRPC server listens on `grpc_port`; nothing listens on
    /// its HTTP port (9), so a new run takes an old one's registration over.
    async fn register_run(
        registry: &Registry,
        kind: ServiceKind,
        instance: &str,
        environment: &str,
        status: Status,
        (grpc_port, run_id): (u16, &str),
    ) {
        let registration = Registration {
            service: kind,
            instance: InstanceName::parse(instance).unwrap(),
            host: "127.0.0.1".into(),
            http_port: 9,
            grpc_port,
            version: "0".into(),
            environment: environment.into(),
            status,
            timestamp: String::new(),
            schema: instance.to_lowercase().replace('-', "_"),
            redis_namespace: instance.replace('-', ":"),
            service_type: "multi-instance".into(),
            entity_type: kind.entity_type().into(),
            started_at: String::new(),
            ready: true,
            run_id: run_id.into(),
        };
        let spec = Clock::new(1.0).spec();
        Discovery::new(registry.clone(), registration, spec, Duration::from_secs(60))
            .register()
            .await
            .unwrap();
    }

    fn name(text: &str) -> InstanceName {
        InstanceName::parse(text).unwrap()
    }

    #[tokio::test]
    async fn lookups_stay_in_the_environment_skip_unhealthy_and_pick_the_first_by_name() {
        let registry = Registry::embedded();
        let md = ServiceKind::MarketDataSimulator;
        register(&registry, md, "md-c", "test", Status::Degraded).await;
        register(&registry, md, "md-b", "test", Status::Unhealthy).await;
        register(&registry, md, "md-a", "other", Status::Healthy).await;
        register(
            &registry,
            ServiceKind::ExchangeSimulator,
            "exchange-A",
            "test",
            Status::Healthy,
        )
        .await;
        let peers = Peers::new(registry, "test");

        let first = peers.find(md, None).await.unwrap();
        assert_eq!(
            first.instance, "md-c",
            "degraded is offered, unhealthy and other ecosystems not"
        );
        assert_eq!(
            peers.find(md, Some(&name("md-a"))).await.unwrap_err().to_string(),
            "market data instance md-a is not registered in test"
        );
        assert_eq!(
            peers.find(md, Some(&name("md-b"))).await.unwrap_err().to_string(),
            "market data instance md-b is unhealthy in test"
        );
        assert_eq!(
            peers
                .find(ServiceKind::AuditCorrelator, None)
                .await
                .unwrap_err()
                .to_string(),
            "no audit correlator instance is registered in test"
        );
        let named = peers
            .find(ServiceKind::ExchangeSimulator, Some(&name("exchange-A")))
            .await
            .unwrap();
        assert_eq!(named.instance, "exchange-A");
    }

    #[tokio::test]
    async fn a_list_holds_every_instance_of_the_kind_in_the_environment_by_name() {
        let registry = Registry::embedded();
        let md = ServiceKind::MarketDataSimulator;
        register(&registry, md, "md-c", "test", Status::Degraded).await;
        register(&registry, md, "md-b", "test", Status::Unhealthy).await;
        register(&registry, md, "md-a", "other", Status::Healthy).await;
        register(&registry, md, "md-d", "test", Status::Healthy).await;
        register(
            &registry,
            ServiceKind::ExchangeSimulator,
            "exchange-A",
            "test",
            Status::Healthy,
        )
        .await;
        let peers = Peers::new(registry, "test");

        let listed = peers.list(md).await.unwrap();
        let names: Vec<_> = listed.iter().map(|r| r.instance.to_string()).collect();
        assert_eq!(
            names,
            ["md-b", "md-c", "md-d"],
            "unhealthy included, other environments and kinds not, sorted by name"
        );
        assert!(peers.list(ServiceKind::AuditCorrelator).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_connection_failure_names_the_instance_and_address() {
        let registry = Registry::embedded();
        register(
            &registry,
            ServiceKind::ExchangeSimulator,
            "exchange-A",
            "test",
            Status::Healthy,
        )
        .await;
        let peers = Peers::new(registry, "test");
        let error = peers
            .connect(ServiceKind::ExchangeSimulator, None)
            .await
            .unwrap_err();
        assert!(
            matches!(&error, PeerError::Connect { name, url, .. } if *name == "exchange-A" && url == "http://127.0.0.1:9"),
            "{error}"
        );
    }

    /// A gRPC server (the standard health service) on an OS-chosen port; returns the port.
    async fn grpc_server() -> u16 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (_, service) = tonic_health::server::health_reporter();
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
        );
        port
    }

    #[tokio::test]
    async fn a_channel_is_kept_until_the_peer_moves_or_is_forgotten() {
        let registry = Registry::embedded();
        let kind = ServiceKind::ExchangeSimulator;
        let (first, second) = (grpc_server().await, grpc_server().await);
        register_run(
            &registry,
            kind,
            "exchange-A",
            "test",
            Status::Healthy,
            (first, "r1"),
        )
        .await;
        let peers = Peers::new(registry.clone(), "test");
        let cached = |peers: &Peers| {
            peers
                .cache()
                .get(&(kind, name("exchange-A")))
                .map(|c| (c.grpc_addr.clone(), c.run_id.clone()))
        };

        let peer = peers.connect(kind, None).await.unwrap();
        assert_eq!(peer.registration.run_id, "r1");
        let kept = Some((format!("127.0.0.1:{first}"), "r1".to_owned()));
        assert_eq!(cached(&peers), kept);
        peers.connect(kind, None).await.unwrap();
        assert_eq!(
            cached(&peers),
            kept,
            "the same run at the same address keeps its channel"
        );

        // Restarted elsewhere: the next lookup connects to the new address.
        register_run(
            &registry,
            kind,
            "exchange-A",
            "test",
            Status::Healthy,
            (second, "r2"),
        )
        .await;
        let moved = peers.connect(kind, None).await.unwrap();
        assert_eq!(moved.registration.run_id, "r2");
        assert_eq!(
            cached(&peers),
            Some((format!("127.0.0.1:{second}"), "r2".to_owned()))
        );

        peers.forget(kind, &name("exchange-A"));
        assert_eq!(cached(&peers), None);
        peers.connect(kind, Some(&name("exchange-A"))).await.unwrap();
        assert!(cached(&peers).is_some(), "connected afresh after being forgotten");
    }
}
