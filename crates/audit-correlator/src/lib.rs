//! The audit correlator: the simulation's memory. Every instance ships its domain events (orders,
//! trades, settlements, fault injections and their effects) from its outbox; the correlator stores
//! each exactly once and serves them by service, instance, type, trace, cause, scenario run and time,
//! with causal chains (injection → effect) and timelines (README, *Audit correlator*).
//!
//! Where it sits (a service crate: `domain/` pure, `app/`, `api/`, `infra/`; it reaches other
//! instances only through their production APIs and the registry) and the invariants it keeps:
//! `ARCHITECTURE.md` at the repository root.
//!
//! # Layout
//! - [`infra`]: the audit store ([`infra::repo`]: schema, idempotent ingestion, queries) and the
//!   metrics ([`infra::metrics`]).
//! - [`api`]: the HTTP API ([`api::http`], described in [`api::openapi`]), the gRPC API
//!   ([`api::grpc`]) and what ingestion accepts ([`api::admit`]).

pub mod api;
pub mod infra;

use std::sync::Arc;

use tokio::sync::Mutex;
use tse_runtime::{
    host::{BuildFuture, Service, ServiceContext, ServiceParts, SettingsTable, no_settings},
    identity::ServiceKind,
    metrics::dashboards::Panel,
    storage::Migration,
};

use crate::{
    api::Api,
    infra::{metrics::Metrics, repo},
};

/// The audit correlator, as the instance host runs it.
#[derive(Clone, Copy, Debug, Default)]
pub struct AuditCorrelator;

/// Returns the audit correlator, as the instance host runs it.
pub fn service() -> AuditCorrelator {
    AuditCorrelator
}

impl Service for AuditCorrelator {
    type Settings = ();

    fn kind(&self) -> ServiceKind {
        ServiceKind::AuditCorrelator
    }

    fn settings(&self, settings: &SettingsTable) -> Result<(), String> {
        no_settings(settings)
    }

    fn migrations(&self) -> &'static [Migration] {
        repo::MIGRATIONS
    }

    fn build(&self, ctx: ServiceContext, (): ()) -> BuildFuture {
        build(ctx)
    }

    fn panels(&self) -> Vec<Panel> {
        infra::dashboards::panels()
    }
}

fn build(ctx: ServiceContext) -> BuildFuture {
    Box::pin(async move {
        let api = Api {
            storage: ctx.storage().clone(),
            metrics: Arc::new(Metrics::register(ctx.metrics())?),
            ingesting: Arc::new(Mutex::new(())),
            registry: ctx.discovery().registry().clone(),
            environment: ctx.config().common.environment.clone(),
            ingest_token: ctx.config().common.ingest_secret(),
        };
        Ok(ServiceParts::new()
            .with_http(api::http::router(api.clone()))
            .with_grpc(api::grpc::server(api))
            .with_openapi(api::openapi::description()))
    })
}
