//! One market data instance, followed by its price stream (every symbol it publishes): each price
//! becomes an [`Observation::Price`] stamped with the simulated time it was published. On
//! (re)connecting, the latest price of every symbol is read once, so a quiet symbol is seen too.
//!
//! Opening the stream is observed as a request (`Ok`); a stream that cannot open or breaks is a
//! failed one (`Unavailable` for `UNAVAILABLE` or no connection, else `Error`), and is retried with
//! backoff — a failure observed at most once per cadence tick while it lasts.

use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio_util::sync::CancellationToken;
use tse_client::MarketData;
use tse_proto::marketdata::v1::{ListPricesRequest, Price, StreamPricesRequest};
use tse_runtime::{backoff::Backoff, identity::InstanceName};

use super::{Closed, Ctx, Halt, Warned, decimal, lookup_failure, outcome_of, pause, timestamp};
use crate::domain::observation::{Observation, Outcome, PriceTick};

/// Follows market data instance `name` until `stop` (or the channel closes).
pub(super) async fn run(ctx: Ctx, name: InstanceName, stop: CancellationToken) {
    let mut retry = Backoff::new(Duration::from_millis(50), Duration::from_secs(5));
    let mut warned = Warned::default();
    let mut failed_at: Option<Instant> = None;
    let venue = name.to_string();
    loop {
        let outcome = tokio::select! {
            () = stop.cancelled() => return,
            outcome = follow(&ctx, &name, &mut warned) => outcome,
        };
        let (outcome, latency, connected) = match outcome {
            Err(Closed) => return,
            Ok(Session::Unreachable) => (None, Duration::ZERO, false),
            Ok(Session::Failed(outcome, latency, connected)) => (Some(outcome), latency, connected),
        };
        if connected {
            retry.reset();
            failed_at = None;
        }
        // A venue that cannot be reached counts once per tick, however often it is retried.
        if let Some(outcome) = outcome
            && failed_at.is_none_or(|at| at.elapsed() >= ctx.tick())
        {
            if ctx.request(&venue, outcome, latency).await.is_err() {
                return;
            }
            failed_at = Some(Instant::now());
        }
        if !pause(&stop, retry.next_wait().min(ctx.tick())).await {
            return;
        }
    }
}

/// How one attempt to follow the stream ended.
enum Session {
    /// The instance was not asked (not registered, or the registry cannot be read).
    Unreachable,
    /// A call failed or the stream broke: its outcome, latency, and whether the stream had opened.
    Failed(Outcome, Duration, bool),
}

async fn follow(ctx: &Ctx, name: &InstanceName, warned: &mut Warned) -> Result<Session, Closed> {
    let venue = name.as_str();
    let started = Instant::now();
    let client = match MarketData::find(&ctx.peers, Some(name)).await {
        Ok(client) => client,
        Err(e) => {
            return Ok(match lookup_failure(venue, &e) {
                Some(outcome) => Session::Failed(outcome, started.elapsed(), false),
                None => Session::Unreachable,
            });
        }
    };
    let mut stream = match client
        .stream_prices(StreamPricesRequest { symbols: Vec::new() })
        .await
    {
        Ok(stream) => stream,
        Err(e) => {
            client.forget();
            tracing::debug!(venue, error = %e, "risk monitor: the price stream does not open");
            return Ok(Session::Failed(outcome_of(&e), started.elapsed(), false));
        }
    };
    ctx.request(venue, Outcome::Ok, started.elapsed()).await?;
    match ctx
        .call(venue, "list_prices", client.list_prices(ListPricesRequest {}))
        .await
    {
        Ok(listed) => {
            for price in &listed.prices {
                send(ctx, venue, price, warned).await?;
            }
        }
        Err(Halt::Closed) => return Err(Closed),
        // Observed already; the stream goes on.
        Err(Halt::Failed(_)) => {}
    }
    // While the stream is open the source answers: one answered request per tick says so, so
    // venue health sees a streaming source as it sees a polled one.
    let mut alive = tokio::time::Instant::now();
    loop {
        let next = tokio::select! {
            next = stream.next() => next,
            () = tokio::time::sleep_until(alive + ctx.tick()) => {
                alive = tokio::time::Instant::now();
                ctx.request(venue, Outcome::Ok, Duration::ZERO).await?;
                continue;
            }
        };
        match next {
            Some(Ok(price)) => send(ctx, venue, &price, warned).await?,
            Some(Err(e)) => {
                client.forget();
                tracing::debug!(venue, error = %e, "risk monitor: the price stream broke");
                return Ok(Session::Failed(outcome_of(&e), Duration::ZERO, true));
            }
            None => return Ok(Session::Failed(Outcome::Unavailable, Duration::ZERO, true)),
        }
    }
}

/// Hands one price on; a price whose fields cannot be read is skipped.
async fn send(ctx: &Ctx, venue: &str, price: &Price, warned: &mut Warned) -> Result<(), Closed> {
    if let Some(tick) = tick(venue, price, warned) {
        ctx.send(Observation::Price(tick)).await?;
    }
    Ok(())
}

/// Reads a published price.
fn tick(venue: &str, price: &Price, warned: &mut Warned) -> Option<PriceTick> {
    let Some(value) = decimal(&price.price) else {
        warned.skip(venue, "price", &price.price);
        return None;
    };
    let Some(at) = timestamp(&price.timestamp) else {
        warned.skip(venue, "timestamp", &price.timestamp);
        return None;
    };
    Some(PriceTick {
        source: venue.to_owned(),
        symbol: price.symbol.clone(),
        price: value,
        sequence: price.sequence,
        at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn price(value: &str, timestamp: &str) -> Price {
        Price {
            symbol: "BTC-USD".into(),
            price: value.into(),
            sequence: 7,
            timestamp: timestamp.into(),
        }
    }

    #[test]
    fn a_price_keeps_its_source_sequence_and_publication_time() {
        let mut warned = Warned::default();
        let tick = tick("md-A", &price("97000.25", "2026-01-02T03:04:05Z"), &mut warned).unwrap();
        assert_eq!(tick.source, "md-A");
        assert_eq!(tick.symbol, "BTC-USD");
        assert!((tick.price - 97000.25).abs() < 1e-9);
        assert_eq!(tick.sequence, 7);
        assert_eq!(tick.at, timestamp("2026-01-02T03:04:05Z").unwrap());
    }

    #[test]
    fn a_price_that_cannot_be_read_is_skipped() {
        let mut warned = Warned::default();
        assert!(tick("md-A", &price("n/a", "2026-01-02T03:04:05Z"), &mut warned).is_none());
        assert!(tick("md-A", &price("1", "soon"), &mut warned).is_none());
    }
}
