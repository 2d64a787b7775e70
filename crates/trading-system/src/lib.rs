//! The trading system engine: strategies trading on the exchanges through their production APIs,
//! well-behaved and misbehaving.
//!
//! Where it sits (a service crate; it trades only through the exchanges' and market data's
//! production APIs, `tse-client` without its back-door feature) and the invariants it keeps:
//! `ARCHITECTURE.md` at the repository root. What it does, its settings, API, back door and
//! metrics: the README's *Trading system* section.
//!
//! # Layout
//! - [`domain`]: the pure core — markets, orders, positions, strategies, the desk, fault kinds.
//! - [`app`]: the desk task, the price feed, one venue task per exchange, the API's handle.
//! - [`api`]: the production API — HTTP ([`api::http`], described in [`api::openapi`]) and gRPC
//!   ([`api::grpc`]), the same semantics.
//! - [`infra`]: storage ([`infra::repo`]), the Prometheus adapter ([`infra::metrics`]), the panels
//!   in the generated monitoring ([`infra::dashboards`]).
//! - [`settings`]: `[instance.settings]` (strategies, funding, market data, seed), validated before
//!   any port is bound.

pub mod api;
pub mod app;
pub mod domain;
pub mod infra;
pub mod settings;

use std::{collections::BTreeMap, sync::Arc};

use tokio::sync::mpsc;
use tse_runtime::{
    config::instance_seed,
    faults::FaultBoard,
    health::Check,
    host::{BuildFuture, Service, ServiceContext, ServiceParts, SettingsTable},
    identity::{InstanceName, ServiceKind},
    metrics::dashboards::Panel,
    storage::Migration,
};

use crate::{
    app::{Metrics, desk, feed, handle::DeskHandle, venue},
    domain::{
        desk::Desk,
        faults::{DEFAULT_SYMBOLS, FaultContext, TradingFault},
    },
    infra::{metrics::PrometheusMetrics, repo},
    settings::Settings,
};

/// The name of the desk's own check: down (required) until its state is restored.
pub const DESK_CHECK: &str = "desk";
/// Inputs the desk may be behind on before feeds and venues wait.
const INPUT_BACKLOG: usize = 10_000;
/// Commands one venue may be behind on before the desk refuses its new orders there.
const VENUE_BACKLOG: usize = 10_000;

/// The trading system engine, as the instance host runs it.
#[derive(Clone, Copy, Debug, Default)]
pub struct TradingSystem;

/// Returns the trading system engine, as the instance host runs it.
pub fn service() -> TradingSystem {
    TradingSystem
}

impl Service for TradingSystem {
    type Settings = Settings;

    fn kind(&self) -> ServiceKind {
        ServiceKind::TradingSystemEngine
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
        let exchanges = settings.exchanges();
        let board = FaultBoard::<TradingFault>::open(
            &ctx,
            "trading_faults_active",
            FaultContext {
                exchanges: exchanges.clone(),
                symbols: fault_symbols(&settings),
            },
        )
        .await?;
        let (router, openapi) = (board.router(), board.openapi());
        let metrics: Arc<dyn Metrics> =
            Arc::new(PrometheusMetrics::register(ctx.metrics(), &settings.strategies)?);
        let instance = ctx.identity().instance().to_string();
        let seed = instance_seed(settings.seed, ctx.config().common.seed, &instance);
        let mut desk = Desk::new(seed, &settings.strategies)?;
        let (handle, queries) = DeskHandle::new(64);
        let (inputs_tx, inputs) = mpsc::channel(INPUT_BACKLOG);
        let health = ctx.health().clone();
        let storage = ctx.storage().clone();
        health.set_check(DESK_CHECK, Check::down(true, "restoring the desk's state"));
        let mut venues = BTreeMap::new();
        let mut venue_parts = Vec::new();
        for exchange in &exchanges {
            let name = InstanceName::parse(exchange).map_err(|e| e.to_string())?;
            let (tx, commands) = mpsc::channel(VENUE_BACKLOG);
            venues.insert(exchange.clone(), tx);
            venue_parts.push((name, commands));
        }
        let (peers, clock, events, stop) = (
            ctx.peers().clone(),
            ctx.clock(),
            ctx.events().clone(),
            ctx.stopping(),
        );
        let feed = feed::FeedParts {
            market_data: settings.market_data.clone(),
            peers: peers.clone(),
            clock,
            desk: inputs_tx.clone(),
            health: health.clone(),
            stop: stop.clone(),
        };
        let funding = settings.funding.clone();
        ctx.spawn(async move {
            // The desk starts once its stored state is back.
            tokio::select! {
                () = stop.cancelled() => return,
                () = storage.available() => {}
            }
            let loaded = async {
                repo::load(&storage, &mut desk).await?;
                for exchange in &exchanges {
                    for fill in repo::fills_above(&storage, exchange, desk.synced(exchange)).await? {
                        desk.remember_fill(exchange, fill.trade_id);
                    }
                }
                Ok::<_, tse_runtime::storage::StorageError>(())
            };
            if let Err(e) = loaded.await {
                health.set_check(
                    DESK_CHECK,
                    Check::down(true, format!("cannot restore the desk's state: {e}")),
                );
                return;
            }
            health.set_check(DESK_CHECK, Check::up(true));
            for (exchange, commands) in venue_parts {
                tokio::spawn(venue::run(venue::VenueParts {
                    funding: funding.get(exchange.as_str()).cloned().unwrap_or_default(),
                    synced: desk.synced(exchange.as_str()),
                    exchange,
                    entity: instance.clone(),
                    symbols: Vec::new(),
                    peers: peers.clone(),
                    storage: storage.clone(),
                    clock,
                    desk: inputs_tx.clone(),
                    commands,
                    metrics: metrics.clone(),
                    health: health.clone(),
                    stop: stop.clone(),
                }));
            }
            tokio::spawn(feed::run(feed));
            desk::run(desk::DeskParts {
                desk,
                inputs,
                queries,
                venues,
                board,
                storage,
                events,
                clock,
                metrics,
                stop,
            })
            .await;
        });
        let api = api::Api::new(handle, ctx.draining());
        Ok(ServiceParts::new()
            .with_http(api::http::router(api.clone()).merge(router))
            .with_openapi(api::openapi::description().merge(openapi))
            .with_grpc(api::grpc::server(api)))
    })
}

/// The symbols a fault may name: the default listing's, then its strategies' others.
fn fault_symbols(settings: &Settings) -> Vec<String> {
    let mut out: Vec<String> = DEFAULT_SYMBOLS.iter().map(|s| (*s).to_owned()).collect();
    for symbol in settings.strategies.iter().flat_map(|s| s.symbols.iter()) {
        if !out.iter().any(|s| s == symbol.as_str()) {
            out.push(symbol.to_string());
        }
    }
    out
}

impl Metrics for PrometheusMetrics {
    fn submitted(&self, strategy: &str, exchange: &str) {
        PrometheusMetrics::submitted(self, strategy, exchange);
    }
    fn rejected(&self, strategy: &str, reason: &str) {
        PrometheusMetrics::rejected(self, strategy, reason);
    }
    fn filled(&self, strategy: &str, exchange: &str) {
        PrometheusMetrics::filled(self, strategy, exchange);
    }
    fn set_running(&self, strategy: &str, running: bool) {
        PrometheusMetrics::set_running(self, strategy, running);
    }
    fn set_pnl(&self, strategy: &str, usd: f64) {
        PrometheusMetrics::set_pnl(self, strategy, usd);
    }
    fn ack_latency(&self, exchange: &str, latency: std::time::Duration) {
        PrometheusMetrics::ack_latency(self, exchange, latency);
    }
}
