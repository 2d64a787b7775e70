//! The contract between a service crate and the host: a [`Service`] describes itself (kind,
//! settings, migrations, how to build it for one instance, its panels and rules); the host lends
//! it a [`ServiceContext`] and serves the [`ServiceParts`] it returns.
//!
//! Settings are parsed once, before any port is bound: [`PreparedService::new`] keeps the typed
//! settings and hands exactly those to [`Service::build`] when the host starts the instance.

use std::{future::Future, pin::Pin};

use super::ServiceContext;
use crate::{
    identity::ServiceKind,
    metrics::dashboards::{Panel, Rule},
    storage::Migration,
};

/// An instance's `[instance.settings]` table from the topology file, as a service's parser reads it.
pub type SettingsTable = toml::Table;

/// Errors a service's `build` may return.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The future a service's `build` returns.
pub type BuildFuture = Pin<Box<dyn Future<Output = Result<ServiceParts, BoxError>> + Send>>;

/// A service as the host runs it. A service crate implements it on a unit type and adds that type
/// to the binary's catalog: nothing else names the service.
pub trait Service: Clone + Send + Sync + 'static {
    /// The instance's `[instance.settings]`, parsed.
    type Settings: Send + 'static;

    /// Returns the service kind this builds.
    fn kind(&self) -> ServiceKind;

    /// Parses the instance's `[instance.settings]` from the topology file, before any port is
    /// bound.
    ///
    /// # Errors
    /// Says what is wrong.
    fn settings(&self, settings: &SettingsTable) -> Result<Self::Settings, String>;

    /// Returns the service's migrations, applied to the instance's schema before it is built.
    fn migrations(&self) -> &'static [Migration] {
        &[]
    }

    /// Builds the service for one instance, from the settings parsed before its ports were bound.
    fn build(&self, ctx: ServiceContext, settings: Self::Settings) -> BuildFuture;

    /// Returns the service's panels on the generated Grafana dashboards, beside the host's.
    fn panels(&self) -> Vec<Panel> {
        Vec::new()
    }

    /// Returns the service's Prometheus recording and alert rules, beside the host's.
    fn rules(&self) -> Vec<Rule> {
        Vec::new()
    }
}

/// Any [`Service`], whatever its settings type: what a catalog of services holds.
pub trait AnyService: Send + Sync {
    /// Returns the service kind.
    fn kind(&self) -> ServiceKind;

    /// Parses an instance's settings and keeps them for the host.
    ///
    /// # Errors
    /// Says what is wrong with the settings.
    fn prepare(&self, settings: &SettingsTable) -> Result<PreparedService, String>;

    /// Returns the service's panels.
    fn panels(&self) -> Vec<Panel>;

    /// Returns the service's rules.
    fn rules(&self) -> Vec<Rule>;
}

impl<S: Service> AnyService for S {
    fn kind(&self) -> ServiceKind {
        Service::kind(self)
    }

    fn prepare(&self, settings: &SettingsTable) -> Result<PreparedService, String> {
        PreparedService::new(self.clone(), settings)
    }

    fn panels(&self) -> Vec<Panel> {
        Service::panels(self)
    }

    fn rules(&self) -> Vec<Rule> {
        Service::rules(self)
    }
}

/// A service with one instance's settings parsed: what [`start`](super::start) runs.
pub struct PreparedService {
    kind: ServiceKind,
    migrations: &'static [Migration],
    build: Box<dyn FnOnce(ServiceContext) -> BuildFuture + Send>,
}

impl PreparedService {
    /// Parses `settings` for `service`; the host later builds the service from exactly these.
    ///
    /// # Errors
    /// Says what is wrong with the settings.
    pub fn new<S: Service>(service: S, settings: &SettingsTable) -> Result<Self, String> {
        let settings = service.settings(settings)?;
        Ok(Self {
            kind: service.kind(),
            migrations: service.migrations(),
            build: Box::new(move |ctx| service.build(ctx, settings)),
        })
    }

    /// Returns the service kind.
    pub fn kind(&self) -> ServiceKind {
        self.kind
    }

    pub(super) fn migrations(&self) -> &'static [Migration] {
        self.migrations
    }

    pub(super) fn build(self, ctx: ServiceContext) -> BuildFuture {
        (self.build)(ctx)
    }
}

/// A service written as plain functions, without typed settings: a probe, a test double, or a
/// kind that so far serves only the host's endpoints.
#[derive(Clone, Copy)]
pub struct ServiceDef {
    /// The service kind this builds.
    pub kind: ServiceKind,
    /// The service's migrations, applied to the instance's schema before it is built.
    pub migrations: &'static [Migration],
    /// Validates the instance's `[instance.settings]` from the topology file, before any port is
    /// bound; the error says what is wrong.
    pub check: fn(&SettingsTable) -> Result<(), String>,
    /// Builds the service for one instance.
    pub build: fn(ServiceContext) -> BuildFuture,
}

impl ServiceDef {
    /// A service that serves only the host's own endpoints (health, readiness, metrics,
    /// discovery, the standard gRPC services).
    pub const fn host_only(kind: ServiceKind) -> Self {
        Self {
            kind,
            migrations: &[],
            check: no_settings,
            build: |_| Box::pin(async { Ok(ServiceParts::new()) }),
        }
    }
}

impl Service for ServiceDef {
    type Settings = ();

    fn kind(&self) -> ServiceKind {
        self.kind
    }

    fn settings(&self, settings: &SettingsTable) -> Result<(), String> {
        (self.check)(settings)
    }

    fn migrations(&self) -> &'static [Migration] {
        self.migrations
    }

    fn build(&self, ctx: ServiceContext, (): ()) -> BuildFuture {
        (self.build)(ctx)
    }
}

/// The settings check of a service that takes no settings.
///
/// # Errors
/// Names the first setting given.
pub fn no_settings(settings: &SettingsTable) -> Result<(), String> {
    match settings.keys().next() {
        None => Ok(()),
        Some(key) => Err(format!("this service takes no settings; found `{key}`")),
    }
}

/// What a service serves: HTTP routes and gRPC services, added to the host's own.
#[derive(Default)]
pub struct ServiceParts {
    pub(super) http: axum::Router,
    pub(super) grpc: tonic::service::Routes,
    pub(super) grpc_services: Vec<&'static str>,
    pub(super) openapi: crate::openapi::OpenApi,
}

impl ServiceParts {
    /// Creates parts serving nothing beyond the host's own endpoints.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds HTTP routes (with their state already applied).
    #[must_use]
    pub fn with_http(mut self, router: axum::Router) -> Self {
        self.http = self.http.merge(router);
        self
    }

    /// Adds to the OpenAPI description of the HTTP routes (`GET /api/v1/openapi.json`).
    #[must_use]
    pub fn with_openapi(mut self, description: crate::openapi::OpenApi) -> Self {
        self.openapi = self.openapi.merge(description);
        self
    }

    /// Adds a gRPC service; its name goes into health, reflection and the metrics' method list.
    #[must_use]
    pub fn with_grpc<S>(mut self, service: S) -> Self
    where
        S: tower::Service<::http::Request<tonic::body::Body>, Error = std::convert::Infallible>
            + tonic::server::NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Response: axum::response::IntoResponse,
        S::Future: Send + 'static,
    {
        self.grpc = self.grpc.add_service(service);
        self.grpc_services.push(S::NAME);
        self
    }
}
