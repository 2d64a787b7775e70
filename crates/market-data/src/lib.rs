//! The market data simulator: seeded price processes, candles and live streams every other instance
//! trades, settles and measures risk against (README, *Market data*).
//!
//! Each instance publishes its symbols (by default `BTC-USD`, `ETH-USD`, `USDT-USD` and the crosses
//! `BTC-ETH`, `ETH-USDT`, `BTC-USDT`) every `tick_interval` of simulated time. Legs follow seeded
//! processes (geometric Brownian motion with jumps, mean reversion around a peg); crosses are the
//! ratio of their published legs. The same seed and configuration give the same prices.
//!
//! Where it sits (a service crate: `domain/` pure, `app/`, `api/`, `infra/`; it reaches other
//! instances only through their production APIs and the registry) and the invariants it keeps:
//! `ARCHITECTURE.md` at the repository root.
//!
//! # Layout
//! - [`domain`]: pure core — [`domain::symbol`], [`domain::process`] (seeded generator),
//!   [`domain::pricing`] (faults, rounding, crosses), [`domain::candles`], [`domain::faults`].
//! - [`settings`]: `[instance.settings]` (seed, tick interval, symbols), validated before start.
//! - [`app`]: the feed engine stepping on the simulated clock; the metrics port.
//! - [`api`]: production API, HTTP ([`api::http`], with SSE; described in [`api::openapi`]) and gRPC
//!   ([`api::grpc`]).
//! - [`infra`]: storage of ticks, candles and state; the Prometheus adapter.
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
    faults::FaultBoard,
    host::{BuildFuture, Service, ServiceContext, ServiceParts, SettingsTable},
    identity::ServiceKind,
    metrics::dashboards::{Panel, Rule},
    storage::Migration,
};

use crate::{
    app::feed::{Engine, EngineParts},
    domain::{faults::MarketFault, symbol::SymbolSpec},
    infra::{metrics::PrometheusMetrics, repo},
    settings::Settings,
};

/// Rounds the feed may get ahead of storage before it waits: memory stays bounded and a slow
/// database shows as feed lag (`market_data_publish_latency_seconds`) rather than growth.
const WRITER_BACKLOG: usize = 64;

/// The market data simulator, as the instance host runs it.
#[derive(Clone, Copy, Debug, Default)]
pub struct MarketData;

/// Returns the market data simulator, as the instance host runs it.
pub fn service() -> MarketData {
    MarketData
}

impl Service for MarketData {
    type Settings = Settings;

    fn kind(&self) -> ServiceKind {
        ServiceKind::MarketDataSimulator
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
        let seed = tse_runtime::config::instance_seed(
            settings.seed,
            ctx.config().common.seed,
            settings
                .seed_from
                .as_deref()
                .unwrap_or(ctx.identity().instance().as_str()),
        );
        let specs: Arc<[SymbolSpec]> = settings.symbols.into();
        let board = FaultBoard::<MarketFault>::open(&ctx, "market_data_faults_active", specs.clone()).await?;
        let metrics = Arc::new(PrometheusMetrics::register(ctx.metrics(), &specs)?);
        let start = repo::load(ctx.storage(), &specs).await;
        let (writer, rounds) = mpsc::channel(WRITER_BACKLOG);
        let (engine, feed) = Engine::new(
            EngineParts {
                specs,
                seed,
                interval: settings.tick_interval,
                clock: ctx.clock(),
                events: ctx.events().clone(),
                health: ctx.health().clone(),
                metrics,
                board: board.clone(),
                writer,
            },
            start,
        );
        // The engine stops once requests have drained; the writer then stores what is left.
        ctx.spawn(engine.run(ctx.stopping()));
        ctx.spawn(repo::write_rounds(ctx.storage().clone(), rounds));
        let http = api::http::router(feed.clone(), ctx.draining()).merge(board.router());
        let openapi = api::openapi::description(feed.symbols()).merge(board.openapi());
        Ok(ServiceParts::new()
            .with_http(http)
            .with_openapi(openapi)
            .with_grpc(api::grpc::server(feed, ctx.draining())))
    })
}
