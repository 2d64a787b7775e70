//! The built-in liquidity provider: follows the reference prices of a market data instance found
//! through discovery ([`Peers`], reached with [`tse_client::MarketData`]) and keeps a ladder of quotes (see [`crate::domain::liquidity`]) on every listed
//! symbol that instance publishes, so a user's market order always has something to hit.
//!
//! It quotes again when a reference moves more than `requote_bps`, when a fault changes its spread or
//! size, and withdraws from halted symbols. Its state shows as the instance's `liquidity` check:
//! down (the instance degraded, never failed) while no market data instance can be followed; its
//! quotes then stay where they were.

use std::{collections::HashMap, sync::Arc, time::Duration};

use futures::StreamExt;
use rust_decimal::Decimal;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use tse_client::MarketData;
use tse_proto::marketdata::v1::{ListPricesRequest, StreamPricesRequest};
use tse_runtime::{
    backoff::Backoff,
    health::{Check, Health},
    identity::InstanceName,
    peers::Peers,
};

use super::{
    engine::EngineHandle,
    faults::{Effects, FaultState},
};
use crate::domain::liquidity::{Liquidity, ladder, moved_bps};

/// The name of the provider's health check.
pub const CHECK: &str = "liquidity";
/// How often quotes are compared with the faults in force.
const FAULT_POLL: Duration = Duration::from_millis(200);
/// First wait after a failed attempt to find and follow market data.
const FIRST_RETRY: Duration = Duration::from_millis(50);
/// Longest wait between attempts to find and follow market data.
const MAX_RETRY: Duration = Duration::from_secs(5);

/// What the provider needs.
pub struct LiquidityParts {
    /// The engine it quotes through.
    pub engine: EngineHandle,
    /// How it quotes.
    pub rule: Liquidity,
    /// The market data instance to follow (`None`: the first registered, by name).
    pub market_data: Option<InstanceName>,
    /// Where to find it (in the instance's environment, not unhealthy).
    pub peers: Peers,
    /// Faults that change its quotes.
    pub faults: FaultState,
    /// Where its check goes.
    pub health: Health,
    /// Ends it.
    pub stop: CancellationToken,
    /// Where it records whom it follows (`liquidity.following`, for the audit topology).
    pub events: tse_runtime::events::Events,
    /// The instance's storage (the event goes to its outbox).
    pub storage: tse_runtime::storage::Storage,
}

/// What was last quoted on one symbol.
#[derive(Clone, Copy, PartialEq)]
struct Quoted {
    reference: Decimal,
    spread: f64,
    size: f64,
    halted: bool,
}

/// The provider's running state.
struct Provider {
    parts: LiquidityParts,
    references: HashMap<String, Decimal>,
    quoted: HashMap<String, Quoted>,
    /// Whether the last attempt reached a stream (the next retry then starts short again).
    connected: bool,
}

/// Runs the provider until `stop`.
pub async fn run(parts: LiquidityParts) {
    let stop = parts.stop.clone();
    if !parts.rule.enabled {
        // Quotes left from a run with the provider enabled are withdrawn.
        for index in 0..parts.engine.instruments().len() {
            let _ = parts.engine.withdraw_quotes(index).await;
        }
        return;
    }
    let mut provider = Provider {
        parts,
        references: HashMap::new(),
        quoted: HashMap::new(),
        connected: false,
    };
    provider
        .parts
        .health
        .set_check(CHECK, Check::down(false, "looking for market data"));
    let mut retry = Backoff::new(FIRST_RETRY, MAX_RETRY);
    loop {
        let outcome = tokio::select! {
            () = stop.cancelled() => return,
            outcome = provider.follow() => outcome,
        };
        let reason = match outcome {
            Ok(()) => "the market data stream ended".to_owned(),
            Err(reason) => reason,
        };
        provider
            .parts
            .health
            .set_check(CHECK, Check::down(false, reason.clone()));
        warn!(
            reason,
            "liquidity provider: no reference prices; quotes stay where they are"
        );
        if std::mem::take(&mut provider.connected) {
            retry.reset();
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(retry.next_wait()) => {}
        }
    }
}

impl Provider {
    /// Follows one market data instance until its stream fails.
    async fn follow(&mut self) -> Result<(), String> {
        let client = MarketData::find(&self.parts.peers, self.parts.market_data.as_ref())
            .await
            .map_err(|e| e.to_string())?;
        let source = client
            .registration()
            .expect("a client found through discovery has its registration")
            .instance
            .clone();
        // Whatever fails from here on, the next attempt connects afresh.
        let failed = |e: tse_client::ClientError| {
            client.forget();
            format!("{source}: {}", e.message())
        };
        let published = client.symbols().await.map_err(failed)?;
        let symbols: Vec<String> = self
            .parts
            .engine
            .instruments()
            .iter()
            .map(|i| i.symbol.clone())
            .filter(|s| published.contains(s))
            .collect();
        if symbols.is_empty() {
            return Err(format!("{source} publishes none of the listed symbols"));
        }
        let mut stream = client
            .stream_prices(StreamPricesRequest {
                symbols: symbols.clone(),
            })
            .await
            .map_err(failed)?;
        if let Ok(prices) = client.list_prices(ListPricesRequest {}).await {
            for p in prices.prices {
                if let Ok(price) = p.price.parse() {
                    self.references.insert(p.symbol, price);
                }
            }
        }
        info!(market_data = %source, symbols = symbols.len(), "liquidity provider following reference prices");
        let following = self.parts.events.event(
            tse_runtime::events::types::LIQUIDITY_FOLLOWING,
            serde_json::json!({"market_data": source, "symbols": symbols}),
        );
        if let Err(e) = self
            .parts
            .storage
            .write(tse_runtime::storage::WriteBatch::new().with(following.statement()))
            .await
        {
            warn!(error = %e, "liquidity provider: the liquidity.following event could not be stored");
        }
        self.parts.health.set_check(CHECK, Check::up(false));
        self.connected = true;
        self.requote(&self.parts.faults.now()).await;
        let mut poll = tokio::time::interval(FAULT_POLL);
        loop {
            tokio::select! {
                next = stream.next() => match next {
                    Some(Ok(price)) => {
                        if let Ok(value) = price.price.parse() {
                            self.references.insert(price.symbol, value);
                        }
                    }
                    Some(Err(error)) => return Err(failed(error)),
                    None => return Ok(()),
                },
                _ = poll.tick() => self.requote(&self.parts.faults.now()).await,
            }
        }
    }

    /// Quotes again every symbol whose reference moved enough or whose faults changed.
    async fn requote(&mut self, effects: &Arc<Effects>) {
        let instruments = self.parts.engine.instruments().to_vec();
        for (index, instrument) in instruments.iter().enumerate() {
            let Some(reference) = self.references.get(&instrument.symbol).copied() else {
                continue;
            };
            let (spread, size) = effects.liquidity(&instrument.symbol);
            let now = Quoted {
                reference,
                spread,
                size,
                halted: effects.halted.contains_key(&instrument.symbol),
            };
            let due = match self.quoted.get(&instrument.symbol) {
                None => true,
                Some(before) => {
                    (before.spread, before.size, before.halted) != (now.spread, now.size, now.halted)
                        || moved_bps(before.reference, reference) >= self.parts.rule.requote_bps
                }
            };
            if !due {
                continue;
            }
            let sent = if now.halted {
                self.parts.engine.withdraw_quotes(index).await
            } else {
                let ladder = ladder(instrument, reference, &self.parts.rule, spread, size);
                self.parts.engine.quote(index, ladder.bids, ladder.asks).await
            };
            if sent.is_ok() {
                self.quoted.insert(instrument.symbol.clone(), now);
            }
        }
    }
}
