//! The market stream shared by SSE and gRPC streaming: the chosen symbols' trades and book changes,
//! commit by commit.

use std::{collections::BTreeSet, sync::Arc, time::Duration};

use futures::{Stream, stream};
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;
use tse_runtime::api::ApiError;

use super::Api;
use crate::app::engine::MarketUpdate;

/// How often a live stream checks that the exchange is still up.
const STREAM_CHECK: Duration = Duration::from_secs(1);

/// The symbols a stream follows: those named (all when none are), each one listed here.
pub(crate) fn stream_symbols<'a>(
    api: &Api,
    names: impl IntoIterator<Item = &'a str>,
) -> Result<BTreeSet<String>, ApiError> {
    let mut chosen = BTreeSet::new();
    for name in names.into_iter().map(str::trim).filter(|n| !n.is_empty()) {
        chosen.insert(api.listed(name)?.to_string());
    }
    if chosen.is_empty() {
        chosen = api
            .engine
            .instruments()
            .iter()
            .map(|i| i.symbol.clone())
            .collect();
    }
    Ok(chosen)
}

/// What a stream subscriber receives: the chosen symbols' updates of one commit, or how many commits
/// it missed by reading too slowly.
pub(crate) enum Batch {
    Updates(Vec<MarketUpdate>),
    Lagged(u64),
}

fn symbol_of(update: &MarketUpdate) -> &str {
    match update {
        MarketUpdate::Trade(t) => &t.symbol,
        MarketUpdate::Book(b) => &b.symbol,
    }
}

/// The stored trades and book changes of `chosen`, commit by commit, until the instance drains or
/// the exchange goes down. Shared by SSE and gRPC streaming.
pub(crate) fn market_for(
    api: Api,
    chosen: BTreeSet<String>,
    draining: CancellationToken,
) -> impl Stream<Item = Batch> + Send + 'static {
    let receiver = api.engine.subscribe();
    let chosen = Arc::new(chosen);
    let mut check = tokio::time::interval(STREAM_CHECK);
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    stream::unfold(
        (api, receiver, check, draining),
        move |(api, mut receiver, mut check, draining)| {
            let chosen = chosen.clone();
            async move {
                loop {
                    tokio::select! {
                        () = draining.cancelled() => return None,
                        _ = check.tick() => if api.available().is_err() { return None },
                        updates = receiver.recv() => match updates {
                            Ok(updates) => {
                                let mine: Vec<MarketUpdate> = updates
                                    .iter()
                                    .filter(|u| chosen.contains(symbol_of(u)))
                                    .cloned()
                                    .collect();
                                if !mine.is_empty() {
                                    return Some((Batch::Updates(mine), (api, receiver, check, draining)));
                                }
                            }
                            Err(RecvError::Lagged(missed)) => {
                                return Some((Batch::Lagged(missed), (api, receiver, check, draining)));
                            }
                            Err(RecvError::Closed) => return None,
                        },
                    }
                }
            }
        },
    )
}
