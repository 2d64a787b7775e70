//! The risk monitor: production-like risk surveillance that reads only production APIs and raises
//! alerts with evidence.
//!
//! Where it sits (a production service: it calls other instances only through `tse-client` without
//! the `chaos` feature, so it cannot even compile a back-door call, and the host drops the admin
//! token from its configuration) and the invariants it keeps: `ARCHITECTURE.md` at the repository
//! root. What it watches, its rules, limits, API and metrics: the README's *Risk monitor* section.
//!
//! # Layout
//! - [`domain`]: the pure core — observations in, rules evaluated on the view they build, alerts out
//!   (`ACTIVE → ACKNOWLEDGED → RESOLVED`, with evidence), limits, the risk summary.
//! - [`app`]: the collectors that read market data, exchanges and custodians found through
//!   discovery ([`app::collect`]), the monitor task that owns the core ([`app::monitor`]), the API's
//!   handle ([`app::handle`]).
//! - [`api`]: the production API — HTTP (with an SSE alert stream) and gRPC, the same semantics,
//!   and its OpenAPI document.
//! - [`infra`]: storage ([`infra::repo`]), the `risk_*` metrics ([`infra::metrics`]), the push to a
//!   real Alertmanager ([`infra::alertmanager`]), the panels and rules in the generated monitoring
//!   ([`infra::dashboards`]).
//! - [`settings`]: `[instance.settings]` (entities, sources, cadence, Alertmanager, limits).

pub mod api;
pub mod app;
pub mod domain;
pub mod infra;
pub mod settings;

use std::sync::Arc;

use tokio::sync::{broadcast, mpsc, watch};
use tse_runtime::{
    health::Check,
    host::{BuildFuture, Service, ServiceContext, ServiceParts, SettingsTable},
    identity::ServiceKind,
    metrics::dashboards::{Panel, Rule},
    storage::Migration,
};

use crate::{
    app::{
        collect::{self, Cadence, CollectParts},
        handle::MonitorHandle,
        monitor::{self, Metrics, MonitorParts},
    },
    domain::{alert::Alert, monitor::Monitor, summary::Summary},
    infra::{
        alertmanager::{self, AlertmanagerParts},
        metrics::PrometheusMetrics,
        repo,
    },
    settings::Settings,
};

/// The name of the monitor's own check: down (required) until its stored state is back.
pub const MONITOR_CHECK: &str = "monitor";
/// Observations the monitor may be behind on before the collectors wait.
const OBSERVATION_BACKLOG: usize = 10_000;
/// Alert changes a slow stream reader may be behind on before it is told it lagged.
const CHANGE_BACKLOG: usize = 1024;

/// The risk monitor, as the instance host runs it.
#[derive(Clone, Copy, Debug, Default)]
pub struct RiskMonitor;

/// Returns the risk monitor, as the instance host runs it.
pub fn service() -> RiskMonitor {
    RiskMonitor
}

impl Service for RiskMonitor {
    type Settings = Settings;

    fn kind(&self) -> ServiceKind {
        ServiceKind::RiskMonitor
    }

    fn settings(&self, settings: &SettingsTable) -> Result<Settings, String> {
        Settings::parse(settings)
    }

    fn migrations(&self) -> &'static [Migration] {
        repo::MIGRATIONS
    }

    fn build(&self, ctx: ServiceContext, settings: Settings) -> BuildFuture {
        build(ctx, settings)
    }

    fn panels(&self) -> Vec<Panel> {
        infra::dashboards::panels()
    }

    fn rules(&self) -> Vec<Rule> {
        infra::dashboards::rules()
    }
}

fn build(ctx: ServiceContext, settings: Settings) -> BuildFuture {
    Box::pin(async move {
        let metrics = Arc::new(PrometheusMetrics::register(ctx.metrics()).map_err(|e| e.to_string())?);
        let storage = ctx.storage().clone();
        let (changes, _) = broadcast::channel(CHANGE_BACKLOG);
        let (open, _) = watch::channel(Vec::<Alert>::new());
        let (handle, queries) = MonitorHandle::new(64, storage.clone(), changes.clone());
        let (observations_tx, observations) = mpsc::channel(OBSERVATION_BACKLOG);
        let health = ctx.health().clone();
        health.set_check(MONITOR_CHECK, Check::down(true, "restoring the monitor's alerts"));
        let (peers, clock, events, stop) = (
            ctx.peers().clone(),
            ctx.clock(),
            ctx.events().clone(),
            ctx.stopping(),
        );
        let config = ctx.config();
        let api_url = format!("http://{}:{}", config.common.advertised_host(), config.http_port);
        let instance = ctx.identity().instance().to_string();
        if let Some(url) = settings.alertmanager_url.clone() {
            tracing::info!(alertmanager = %url, "risk alerts are pushed to Alertmanager");
            ctx.spawn(alertmanager::run(AlertmanagerParts {
                url,
                instance,
                api_url,
                open: open.subscribe(),
                changes: changes.subscribe(),
                resend: settings.alertmanager_resend,
                stop: stop.clone(),
                metrics: Some((*metrics).clone()),
            }));
        }
        let cadence = Cadence {
            every: settings.poll_every,
            min_wall: settings.min_poll_wall,
        };
        ctx.spawn(async move {
            // The monitor starts once its stored alerts are back.
            tokio::select! {
                () = stop.cancelled() => return,
                () = storage.available() => {}
            }
            let stored = match repo::load(&storage).await {
                Ok(stored) => stored,
                Err(e) => {
                    health.set_check(
                        MONITOR_CHECK,
                        Check::down(true, format!("cannot restore the monitor's alerts: {e}")),
                    );
                    return;
                }
            };
            let limits = stored.limits.unwrap_or(settings.limits);
            let mut core = Monitor::new(settings.entities.clone(), limits);
            core.restore(stored.open, stored.next_id, stored.marks);
            health.set_check(MONITOR_CHECK, Check::up(true));
            tokio::spawn(collect::run(CollectParts {
                peers,
                clock,
                entities: settings.entities,
                cadence,
                market_data: settings.market_data,
                observations: observations_tx,
                stop: stop.clone(),
            }));
            monitor::run(MonitorParts {
                monitor: core,
                observations,
                queries,
                evaluate_every: settings.poll_every,
                min_wall: settings.min_poll_wall,
                storage,
                events,
                changes,
                open,
                clock,
                metrics,
                stop,
            })
            .await;
        });
        let api = api::Api::new(handle, ctx.draining());
        Ok(ServiceParts::new()
            .with_http(api::http::router(api.clone()))
            .with_openapi(api::openapi::description())
            .with_grpc(api::grpc::server(api)))
    })
}

impl Metrics for PrometheusMetrics {
    fn raised(&self, alert: &Alert) {
        PrometheusMetrics::raised(self, alert);
    }
    fn publish(&self, open: &[Alert], summary: &Summary) {
        PrometheusMetrics::publish(self, open, summary);
    }
}
