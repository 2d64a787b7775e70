//! Watching a running instance and taking it down: one [`Teardown`] stops what an instance runs
//! besides its servers, in the same order whether the start failed part way or the instance stops.

use tokio::task::JoinHandle;
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tracing::{error, info, warn};

use super::{HostError, Server, failure::Failure};
use crate::{config::DRAIN_TIMEOUT, discovery::Discovery, health::Health, health::Phase, storage::Storage};

/// What an instance runs besides its servers, as far as its start got. Stopped in order: the
/// service's tasks (they may still write), the heartbeat (before deregistering, or a last beat could
/// register the instance again), the registration, the host's own tasks (the outbox ships until the
/// very end), then storage (spooled writes stay on disk for the next start).
pub(super) struct Teardown {
    /// Cancelled once in-flight requests are drained: the service's tasks flush and return.
    pub(super) stopping: CancellationToken,
    /// The service's tasks.
    pub(super) tasks: TaskTracker,
    /// The heartbeat, and the token that stops it, once started.
    pub(super) heartbeat: Option<(CancellationToken, JoinHandle<()>)>,
    /// The instance's presence in discovery, once registered (or trying to be).
    pub(super) discovery: Option<Discovery>,
    /// Stops the host's own background work.
    pub(super) host_stop: CancellationToken,
    /// The host's own background work: storage and cache supervisors, the shipper, gRPC health.
    pub(super) host_tasks: TaskTracker,
    /// The instance's storage.
    pub(super) storage: Storage,
}

impl Teardown {
    /// Nothing started yet but storage.
    pub(super) fn new(storage: Storage) -> Self {
        Self {
            stopping: CancellationToken::new(),
            tasks: TaskTracker::new(),
            heartbeat: None,
            discovery: None,
            host_stop: CancellationToken::new(),
            host_tasks: TaskTracker::new(),
            storage,
        }
    }

    /// Stops everything, in order, each stage bounded by the drain timeout.
    pub(super) async fn run(self) {
        self.stopping.cancel();
        self.tasks.close();
        if tokio::time::timeout(DRAIN_TIMEOUT, self.tasks.wait())
            .await
            .is_err()
        {
            warn!(
                timeout = ?DRAIN_TIMEOUT,
                remaining = self.tasks.len(),
                "service tasks did not finish in time"
            );
        }
        if let Some((stop, heartbeat)) = self.heartbeat {
            stop.cancel();
            let _ = heartbeat.await;
        }
        if let Some(discovery) = &self.discovery {
            discovery.deregister().await;
        }
        self.host_stop.cancel();
        self.host_tasks.close();
        if tokio::time::timeout(DRAIN_TIMEOUT, self.host_tasks.wait())
            .await
            .is_err()
        {
            warn!("host tasks did not finish in time");
        }
        let spooled = self.storage.spooled();
        self.storage.close().await;
        if spooled > 0 {
            warn!(
                spooled,
                "stopped with writes in the local spool; they reach the database after the next start"
            );
        }
    }
}

/// Watches a running instance and takes it down in order.
pub(super) struct Supervisor {
    pub(super) instance: String,
    pub(super) health: Health,
    pub(super) failure: Failure,
    pub(super) shutdown: CancellationToken,
    pub(super) http_server: Server,
    pub(super) grpc_server: Server,
    pub(super) teardown: Teardown,
}

impl Supervisor {
    pub(super) async fn run(mut self) -> Result<(), HostError> {
        // A server that stops before shutdown was asked for takes the instance down with it.
        let mut failure = None;
        tokio::select! {
            // Servers end when shutdown is requested too; checking the token first (biased) and again
            // below keeps a requested stop from being mistaken for a failure.
            biased;
            () = self.shutdown.cancelled() => info!("shutdown requested: draining"),
            () = self.failure.signal.cancelled() => {}
            result = &mut self.http_server, if !self.shutdown.is_cancelled() => {
                failure = Some(self.server_failure("HTTP", result));
            }
            result = &mut self.grpc_server, if !self.shutdown.is_cancelled() => {
                failure = Some(self.server_failure("gRPC", result));
            }
        }
        if failure.is_some() && self.shutdown.is_cancelled() {
            failure = None;
        }
        self.shutdown.cancel();
        self.health.set_phase(Phase::Draining);

        let drained = tokio::time::timeout(DRAIN_TIMEOUT, async {
            if !self.http_server.is_finished() {
                let _ = (&mut self.http_server).await;
            }
            if !self.grpc_server.is_finished() {
                let _ = (&mut self.grpc_server).await;
            }
        })
        .await;
        if drained.is_err() {
            warn!(timeout = ?DRAIN_TIMEOUT, "requests still in flight after the drain timeout; closing them");
            self.http_server.abort();
            self.grpc_server.abort();
        }
        info!("servers stopped; stopping service tasks");
        self.teardown.run().await;
        // A task that failed, also while draining, is the instance's failure.
        if let Some(reason) = self.failure.reason() {
            failure.get_or_insert(HostError::Task {
                instance: self.instance.clone(),
                reason,
            });
        }
        match failure {
            Some(error) => {
                error!(%error, "instance stopped after a failure");
                Err(error)
            }
            None => {
                info!("instance stopped");
                Ok(())
            }
        }
    }

    fn server_failure(
        &self,
        protocol: &'static str,
        result: Result<Result<(), String>, tokio::task::JoinError>,
    ) -> HostError {
        let reason = match result {
            Ok(Ok(())) => "stopped unexpectedly".to_owned(),
            Ok(Err(reason)) => reason,
            Err(join) => join.to_string(),
        };
        HostError::Serve {
            instance: self.instance.clone(),
            protocol,
            reason,
        }
    }
}
