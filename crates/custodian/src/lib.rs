//! The custodian simulator: custody accounts, balances, positions, deposits, withdrawals, transfers,
//! settlement instructions on T+0/T+1/T+2 cycles of the simulated clock, settlement of the
//! exchanges' P&L of its client entities, and reconciliation (README, *Custodian*).
//!
//! One task owns the books and runs every request in order; each batch of changes is stored with
//! its outbox events before anyone is answered, and settlements complete on their due time in
//! simulated time. Metrics go through a port ([`domain::metrics::MetricsPort`]) implemented by a
//! Prometheus adapter, with the second seed's names and labels.
//!
//! Where it sits (a service crate: `domain/` pure, `app/`, `api/`, `infra/`; it reaches other
//! instances only through `tse-client` and the registry) and the invariants it keeps:
//! `ARCHITECTURE.md` at the repository root.
//!
//! # Layout
//! - [`domain`]: the pure core — [`domain::custody`] (the books and their invariants),
//!   [`domain::settlement`], [`domain::position`], [`domain::faults`] (the back door's kinds),
//!   [`domain::metrics`] (the metrics port) — with property tests.
//! - [`settings`]: `[instance.settings]` (assets, settlement day, client entities).
//! - [`app`]: the use cases ([`app::books`]), the single writer ([`app::service`]), the exchange
//!   P&L collector ([`app::pnl`]), the views.
//! - [`api`]: production API, HTTP ([`api::http`], described in [`api::openapi`]) and gRPC
//!   ([`api::grpc`]).
//! - [`infra`]: storage and recovery ([`infra::repo`]); the Prometheus adapter ([`infra::metrics`]).
//!
//! The back door is the runtime's `/chaos/v1/faults` with the kinds of [`domain::faults`].

pub mod api;
pub mod app;
pub mod domain;
pub mod infra;
pub mod settings;

use std::sync::Arc;

use tse_runtime::{
    config::instance_seed,
    faults::FaultBoard,
    health::Check,
    host::{BuildFuture, Service, ServiceContext, ServiceParts, SettingsTable},
    identity::ServiceKind,
    metrics::dashboards::{Panel, Rule},
    storage::Migration,
};

use crate::{
    api::Api,
    app::{
        books::Books,
        pnl::{self, PnlParts},
        service::{self, BOOKS_CHECK, Restore},
    },
    domain::faults::CustodianFault,
    infra::{metrics::PrometheusMetrics, repo},
    settings::Settings,
};

/// The custodian simulator, as the instance host runs it.
#[derive(Clone, Copy, Debug, Default)]
pub struct Custodian;

/// Returns the custodian simulator, as the instance host runs it.
pub fn service() -> Custodian {
    Custodian
}

impl Service for Custodian {
    type Settings = Settings;

    fn kind(&self) -> ServiceKind {
        ServiceKind::CustodianSimulator
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
        let assets = settings.assets.clone();
        let board = FaultBoard::<CustodianFault>::open(&ctx, "custodian_faults_active", ()).await?;
        let metrics = Arc::new(PrometheusMetrics::register(ctx.metrics())?);
        let storage = ctx.storage().clone();
        let health = ctx.health().clone();
        let day =
            time::Duration::try_from(settings.settlement_day).map_err(|e| format!("settlement_day: {e}"))?;
        let instance = ctx.identity().instance().to_string();
        let seed = instance_seed(None, ctx.config().common.seed, &instance);
        let restore: Restore = {
            let (storage, health, events, assets) = (
                storage.clone(),
                health.clone(),
                ctx.events().clone(),
                settings.assets.clone(),
            );
            let load = async move |storage: tse_runtime::storage::Storage| {
                let custody = repo::load(&storage, &assets, day)
                    .await
                    .map_err(|e| format!("cannot restore the stored books: {e}"))?;
                let problems = custody.audit();
                if !problems.is_empty() {
                    return Err(format!(
                        "the stored books do not add up, so they are not served: {}",
                        problems.join("; ")
                    ));
                }
                Ok(Books::new(custody, events, instance, seed))
            };
            if storage.is_available() {
                // The usual case: the books are read before the instance serves anything (books
                // that cannot be read or do not add up are reported, and not served).
                let books = load(storage).await;
                Box::pin(async move { books })
            } else {
                health.set_check(
                    BOOKS_CHECK,
                    Check::down(true, "waiting for the database to restore the books"),
                );
                Box::pin(async move {
                    storage.available().await;
                    load(storage).await
                })
            }
        };
        let (task, handle) = service::start(
            service::ServiceParts {
                storage,
                clock: ctx.clock(),
                board: board.clone(),
                metrics,
                health: health.clone(),
                stop: ctx.stopping(),
            },
            restore,
        );
        ctx.spawn(task);
        ctx.spawn(pnl::run(PnlParts {
            custodian: handle.clone(),
            clients: settings.clients,
            peers: ctx.peers().clone(),
            clock: ctx.clock(),
            board: board.clone(),
            health,
            stop: ctx.stopping(),
        }));
        let api = Api {
            custodian: handle,
            board: board.clone(),
        };
        let http = api::http::router(api.clone()).merge(board.router());
        let openapi = api::openapi::description(&assets).merge(board.openapi());
        Ok(ServiceParts::new()
            .with_http(http)
            .with_grpc(api::grpc::server(api))
            .with_openapi(openapi))
    })
}
