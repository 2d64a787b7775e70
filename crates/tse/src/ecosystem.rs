//! Many instances in one process: what `tse up` runs.
//!
//! Every port of the ecosystem is bound before any instance starts, so a taken port fails the whole
//! command at once instead of leaving half an ecosystem running. Instances then start concurrently,
//! each with its own shutdown token under the ecosystem's; if one stops on its own (a server failure),
//! the whole ecosystem is taken down rather than left silently incomplete.

use std::{net::SocketAddr, time::Duration};

use futures::{StreamExt, stream::FuturesUnordered};
use tokio_util::sync::CancellationToken;
use tse_runtime::{
    config::topology::EcosystemConfig,
    host::{self, HostError, Listeners, PreparedService, RunningInstance, Shared},
};

/// A running ecosystem.
pub struct Ecosystem {
    instances: Vec<RunningInstance>,
    shutdown: CancellationToken,
}

impl Ecosystem {
    /// Binds every port, then starts every instance, each with its service in `services` (in
    /// topology order, settings parsed). Cancelling `shutdown` stops them all.
    ///
    /// # Errors
    /// Returns the first failure; instances already started are stopped before returning.
    pub async fn start(
        config: &EcosystemConfig,
        services: Vec<PreparedService>,
        shutdown: CancellationToken,
    ) -> Result<Self, String> {
        let mut listeners = Vec::with_capacity(config.instances.len());
        for instance in &config.instances {
            listeners.push(Listeners::bind(instance).await.map_err(|e| e.to_string())?);
        }
        // One registry and one clock for the whole ecosystem: embedded in this process, or shared
        // through Redis when configured.
        let shared = Shared::connect(&config.common).await.map_err(|e| e.to_string())?;
        let starts = config
            .instances
            .iter()
            .zip(services.into_iter().zip(listeners))
            .map(|(instance, (service, listeners))| {
                host::start(
                    instance.clone(),
                    service,
                    listeners,
                    shared.clone(),
                    shutdown.child_token(),
                )
            });
        let results = futures::future::join_all(starts).await;
        let mut instances = Vec::with_capacity(results.len());
        let mut first_error = None;
        for result in results {
            match result {
                Ok(instance) => instances.push(instance),
                Err(error) => {
                    first_error.get_or_insert(error.to_string());
                }
            }
        }
        let ecosystem = Self { instances, shutdown };
        match first_error {
            None => Ok(ecosystem),
            Some(error) => {
                ecosystem.shutdown.cancel();
                // The start failure is what the user needs to see; stop errors would only repeat it.
                let _ = ecosystem.stopped().await;
                Err(error)
            }
        }
    }

    /// Returns the running instances, in topology order.
    pub fn instances(&self) -> &[RunningInstance] {
        &self.instances
    }

    /// Waits until every instance is ready, or `timeout` passes.
    ///
    /// # Errors
    /// Returns the names of the instances still not ready, with their reasons.
    pub async fn ready(&self, timeout: Duration) -> Result<(), String> {
        let all_ready = futures::future::join_all(self.instances.iter().map(|instance| async move {
            let health = instance.health();
            let mut changes = health.subscribe();
            while health.readiness().is_err() {
                if changes.changed().await.is_err() {
                    return;
                }
            }
        }));
        if tokio::time::timeout(timeout, all_ready).await.is_ok() {
            return Ok(());
        }
        let waiting: Vec<String> = self
            .instances
            .iter()
            .filter_map(|i| {
                i.health()
                    .readiness()
                    .err()
                    .map(|reasons| format!("{} ({})", i.config().identity.instance(), reasons.join("; ")))
            })
            .collect();
        Err(waiting.join(", "))
    }

    /// Renders the table `tse up` prints: instance, service, HTTP URL, gRPC address, schema, namespace.
    pub fn table(&self) -> String {
        let mut rows = vec![[
            "INSTANCE".to_owned(),
            "SERVICE".to_owned(),
            "HTTP".to_owned(),
            "GRPC".to_owned(),
            "SCHEMA".to_owned(),
            "NAMESPACE".to_owned(),
        ]];
        for instance in &self.instances {
            let id = &instance.config().identity;
            rows.push([
                id.instance().to_string(),
                id.service().to_string(),
                format!("http://{}", reachable(instance.http_addr())),
                reachable(instance.grpc_addr()).to_string(),
                id.schema().to_string(),
                id.redis_namespace().to_string(),
            ]);
        }
        crate::table::render(&rows)
    }

    /// Runs until the ecosystem's shutdown token is cancelled or an instance stops on its own, then
    /// stops every instance and waits for them.
    ///
    /// # Errors
    /// Returns every instance failure.
    pub async fn stopped(self) -> Result<(), Vec<HostError>> {
        let shutdown = self.shutdown;
        let mut running: FuturesUnordered<_> =
            self.instances.into_iter().map(RunningInstance::stopped).collect();
        let mut errors = Vec::new();
        while let Some(result) = running.next().await {
            if !shutdown.is_cancelled() {
                // An instance stopped without being asked: take the rest down too.
                tracing::error!("an instance stopped on its own; stopping the ecosystem");
                shutdown.cancel();
            }
            if let Err(error) = result {
                errors.push(error);
            }
        }
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }
}

/// An address a user can connect to: the unspecified address (listening everywhere) becomes loopback.
fn reachable(addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_unspecified() {
        SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), addr.port())
    } else {
        addr
    }
}
