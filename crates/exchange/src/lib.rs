//! The exchange simulator: order books with price-time matching, accounts with available and locked
//! balances, maker/taker fees, trades, a built-in liquidity provider, and recovery of everything
//! acknowledged after a restart, kill -9 included (README, *Exchange*).
//!
//! Every instance lists instruments (by default the market data pairs `BTC-USD`, `ETH-USD`,
//! `USDT-USD`, `BTC-ETH`, `ETH-USDT`, `BTC-USDT`) and runs one matching book per instrument inside a
//! single engine task: requests are matched in arrival order with no locks, and answered only once
//! the batch that holds their changes is stored (group commit), so an answer always describes
//! durable state.
//!
//! Where it sits (a service crate: `domain/` pure, `app/`, `api/`, `infra/`; it reaches other
//! instances only through `tse-client` and the registry) and the invariants it keeps:
//! `ARCHITECTURE.md` at the repository root.
//!
//! # Layout
//! - [`domain`]: the pure core — [`domain::instrument`] (ticks and lots), [`domain::ledger`]
//!   (balances, exact decimals), [`domain::order`], [`domain::venue`] (accounts, reservations, fees
//!   and the books of `tse-matching`), [`domain::liquidity`] (the quoting ladder),
//!   [`domain::faults`] (the back door's kinds).
//! - [`settings`]: `[instance.settings]` (fees, instruments, liquidity), validated before start.
//! - [`app`]: the engine and its group commit ([`app::engine`]), the liquidity provider
//!   ([`app::liquidity`]), the views the APIs answer with, the fault snapshot, the metrics port.
//! - [`api`]: production API, HTTP ([`api::http`], with SSE; described in [`api::openapi`]) and
//!   gRPC ([`api::grpc`]).
//! - [`infra`]: storage and recovery ([`infra::repo`]); the Prometheus adapter; the exchange's
//!   panels in the generated monitoring ([`infra::dashboards`]).
//!
//! The back door is the runtime's `/chaos/v1/faults` with the kinds of [`domain::faults`].

pub mod api;
pub mod app;
pub mod domain;
pub mod infra;
pub mod settings;

use std::sync::Arc;

use tokio::sync::mpsc;
use tse_runtime::{
    config::instance_seed,
    faults::FaultBoard,
    health::Check,
    host::{BuildFuture, Service, ServiceContext, ServiceParts, SettingsTable},
    identity::ServiceKind,
    metrics::dashboards::Panel,
    storage::Migration,
};

use crate::{
    api::Api,
    app::{
        engine::{Engine, EngineParts, Restore},
        faults::FaultState,
        liquidity::{self, LiquidityParts},
    },
    domain::{faults::ExchangeFault, instrument::Instrument, venue::Venue},
    infra::{
        metrics::PrometheusMetrics,
        repo::{self, LEDGER_CHECK, WriterParts},
    },
    settings::Settings,
};

/// Commits the engine may get ahead of storage before it waits: memory stays bounded and a slow
/// database shows as acknowledgement latency rather than growth.
const WRITER_BACKLOG: usize = 64;

/// The exchange simulator, as the instance host runs it.
#[derive(Clone, Copy, Debug, Default)]
pub struct Exchange;

/// Returns the exchange simulator, as the instance host runs it.
pub fn service() -> Exchange {
    Exchange
}

impl Service for Exchange {
    type Settings = Settings;

    fn kind(&self) -> ServiceKind {
        ServiceKind::ExchangeSimulator
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
}

fn build(ctx: ServiceContext, settings: Settings) -> BuildFuture {
    Box::pin(async move {
        let instruments: Arc<[Instrument]> = settings.instruments.clone().into();
        let board = FaultBoard::<ExchangeFault>::open(&ctx, "exchange_faults_active", instruments).await?;
        let faults = FaultState::default();
        ctx.spawn(faults.clone().follow(board.clone(), ctx.stopping()));
        let metrics = Arc::new(PrometheusMetrics::register(ctx.metrics(), &settings.instruments)?);
        let storage = ctx.storage().clone();
        let health = ctx.health().clone();
        let fresh = {
            let (instruments, fees) = (settings.instruments.clone(), settings.fees);
            move || Venue::new(instruments.clone(), fees)
        };
        let (venue, restore): (Venue, Option<Restore>) = if storage.is_available() {
            let mut venue = fresh();
            repo::load(&storage, &mut venue).await?;
            health.set_check(LEDGER_CHECK, Check::up(true));
            (venue, None)
        } else {
            health.set_check(
                LEDGER_CHECK,
                Check::down(true, "waiting for the database to restore books and balances"),
            );
            let (storage, health, empty) = (storage.clone(), health.clone(), fresh.clone());
            let restore = async move {
                storage.available().await;
                let mut venue = empty();
                match repo::load(&storage, &mut venue).await {
                    Ok(_) => {
                        health.set_check(LEDGER_CHECK, Check::up(true));
                        Ok(venue)
                    }
                    Err(e) => {
                        let reason = format!("cannot restore the stored state: {e}");
                        health.set_check(LEDGER_CHECK, Check::down(true, reason.clone()));
                        Err(reason)
                    }
                }
            };
            (fresh(), Some(Box::pin(restore) as Restore))
        };
        let (writer, commits) = mpsc::channel(WRITER_BACKLOG);
        let (engine, handle) = Engine::new(EngineParts {
            venue,
            clock: ctx.clock(),
            events: ctx.events().clone(),
            instance: ctx.identity().instance().to_string(),
            faults: faults.clone(),
            metrics,
            seed: instance_seed(None, ctx.config().common.seed, ctx.identity().instance().as_str()),
            writer,
        });
        // The engine stops once every handle is gone (servers drained, provider stopped); the writer
        // then stores what is left and answers it.
        ctx.spawn(engine.run(restore, ctx.stopping()));
        ctx.spawn(repo::write_commits(WriterParts {
            storage: storage.clone(),
            commits,
            market: handle.market_sender(),
            health: health.clone(),
        }));
        ctx.spawn(liquidity::run(LiquidityParts {
            engine: handle.clone(),
            rule: settings.liquidity,
            market_data: settings.market_data,
            peers: ctx.peers().clone(),
            faults: faults.clone(),
            health,
            stop: ctx.stopping(),
            events: ctx.events().clone(),
            storage: storage.clone(),
        }));
        let api = Api {
            engine: handle,
            storage,
            faults,
            draining: ctx.draining(),
        };
        let http = api::http::router(api.clone(), ctx.draining()).merge(board.router());
        Ok(ServiceParts::new()
            .with_http(http)
            .with_openapi(api::openapi::description(&settings.instruments).merge(board.openapi()))
            .with_grpc(api::grpc::server(api, ctx.draining())))
    })
}
