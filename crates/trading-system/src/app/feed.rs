//! Reference prices: the desk follows one market data instance found through discovery
//! ([`tse_client::MarketData`]) by its price stream — every symbol it publishes, so P&L in other
//! quote assets converts to USD — and hands each price to the desk at the simulated time it was
//! published. Its state shows as the instance's `market_data` check: down (the instance degraded,
//! never failed) while no market data instance can be followed; strategies then see no new prices.

use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use tse_client::MarketData;
use tse_market::Symbol;
use tse_proto::marketdata::v1::{ListPricesRequest, Price, StreamPricesRequest};
use tse_runtime::{
    backoff::Backoff,
    clock::Clock,
    health::{Check, Health},
    identity::InstanceName,
    peers::Peers,
};

use super::desk::Input;
use crate::domain::market::Event;

/// The name of the feed's health check.
pub const CHECK: &str = "market_data";

/// What the feed needs.
pub struct FeedParts {
    /// The market data instance to follow (`None`: the first registered, by name).
    pub market_data: Option<InstanceName>,
    /// Where to find it.
    pub peers: Peers,
    /// The simulated clock.
    pub clock: Clock,
    /// Where prices go.
    pub desk: mpsc::Sender<Input>,
    /// Where its check goes.
    pub health: Health,
    /// Ends it.
    pub stop: CancellationToken,
}

/// Runs the feed until `stop`.
pub async fn run(parts: FeedParts) {
    parts
        .health
        .set_check(CHECK, Check::down(false, "looking for market data"));
    let mut retry = Backoff::new(Duration::from_millis(50), Duration::from_secs(5));
    // Until market data has been followed once, not finding it is the ecosystem starting.
    let mut ever = false;
    loop {
        let mut connected = false;
        let outcome = tokio::select! {
            () = parts.stop.cancelled() => return,
            outcome = follow(&parts, &mut connected) => outcome,
        };
        if connected {
            retry.reset();
        }
        let reason = match outcome {
            Ok(()) => "the market data stream ended".to_owned(),
            Err(reason) => reason,
        };
        parts.health.set_check(CHECK, Check::down(false, reason.clone()));
        if parts.stop.is_cancelled() {
            return;
        }
        ever |= connected;
        if ever {
            warn!(reason, "trading desk: no reference prices");
        } else {
            tracing::debug!(reason, "trading desk: waiting for market data");
        }
        tokio::select! {
            () = parts.stop.cancelled() => return,
            () = tokio::time::sleep(retry.next_wait()) => {}
        }
    }
}

async fn follow(parts: &FeedParts, connected: &mut bool) -> Result<(), String> {
    let client = MarketData::find(&parts.peers, parts.market_data.as_ref())
        .await
        .map_err(|e| e.to_string())?;
    let source = client
        .registration()
        .map(|r| r.instance.to_string())
        .unwrap_or_default();
    let failed = |e: tse_client::ClientError| {
        client.forget();
        format!("{source}: {}", e.message())
    };
    let mut stream = client
        .stream_prices(StreamPricesRequest { symbols: Vec::new() })
        .await
        .map_err(failed)?;
    for price in client
        .list_prices(ListPricesRequest {})
        .await
        .map_err(failed)?
        .prices
    {
        send(parts, &price).await;
    }
    parts.health.set_check(CHECK, Check::up(false));
    *connected = true;
    info!(market_data = %source, "trading desk following reference prices");
    while let Some(next) = stream.next().await {
        send(parts, &next.map_err(failed)?).await;
    }
    Ok(())
}

async fn send(parts: &FeedParts, price: &Price) {
    let (Ok(symbol), Ok(value)) = (Symbol::parse(&price.symbol), price.price.parse()) else {
        return;
    };
    // The desk's own clock stamps every event it sees, so time never runs backwards for a
    // strategy (a price is published at its tick's time, a little before it arrives).
    let now = parts.clock.now();
    let _ = parts
        .desk
        .send(Input::Event {
            event: Event::Price { symbol, price: value },
            now,
            received: Instant::now(),
        })
        .await;
}
