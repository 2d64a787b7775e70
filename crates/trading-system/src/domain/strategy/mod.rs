//! Strategies: state machines fed [`Event`]s that answer with [`Intent`]s.
//!
//! A strategy sees the world through a [`Context`] the desk lends it for each event — the
//! simulated time, its configuration, the markets, its own positions and its own open orders —
//! and pushes what it wants done into `out`. It never does I/O, never reads a clock and draws any
//! randomness from a generator seeded at construction, so the same events give the same intents.
//! The desk applies the configured limits (`max_order_size`, `max_position`) to every intent but
//! those of `risk_ignorant`, names the orders, and tells the strategy what became of them.
//!
//! | kind | what it does |
//! |---|---|
//! | `market_making` | a two-sided post-only quote around the mid, skewed against its inventory, capped by `max_position` |
//! | `arbitrage` | takes on two exchanges when one's bid exceeds the other's ask by more than both taker fees plus a threshold |
//! | `momentum` | moving-average crossover on reference prices: long when the fast average is above the slow one, short below |
//! | `mean_reversion` | z-score of the price against its moving average: sells above `+entry`, buys below `−entry`, flattens near the mean |
//! | `runaway` | order spam at `rate` orders per simulated second, far from the market, never cancelled: overwhelms the book |
//! | `risk_ignorant` | keeps buying (or selling) past every limit |
//! | `volatility_amplifier` | chases every move with aggressive market orders in its direction |
//! | `correlation_breaker` | trades BTC and ETH against their usual relationship: buys one and sells the other as they move together |
//! | `slow_leak` | small trades that cross the spread both ways, bleeding fees and spread slowly |

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tse_market::{ClientOrderId, Symbol};

use super::{
    market::{Event, Market},
    order::{Intent, TrackedOrder},
    position::Position,
};

pub mod arbitrage;
pub mod chaos;
mod common;
#[cfg(test)]
pub(crate) mod fixtures;
pub mod market_making;
pub mod mean_reversion;
pub mod momentum;
mod params;

pub use params::Params;

/// The kinds of strategy the desk runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StrategyKind {
    /// Two-sided quotes around the mid.
    MarketMaking,
    /// Cross-exchange arbitrage.
    Arbitrage,
    /// Moving-average crossover.
    Momentum,
    /// Z-score against the moving average.
    MeanReversion,
    /// Order spam (chaos).
    Runaway,
    /// Adds to a position past every limit (chaos).
    RiskIgnorant,
    /// Chases moves with market orders (chaos).
    VolatilityAmplifier,
    /// Trades BTC and ETH against their relationship (chaos).
    CorrelationBreaker,
    /// Small losing trades (chaos).
    SlowLeak,
}

impl StrategyKind {
    /// Every kind, well-behaved first.
    pub const ALL: [StrategyKind; 9] = [
        StrategyKind::MarketMaking,
        StrategyKind::Arbitrage,
        StrategyKind::Momentum,
        StrategyKind::MeanReversion,
        StrategyKind::Runaway,
        StrategyKind::RiskIgnorant,
        StrategyKind::VolatilityAmplifier,
        StrategyKind::CorrelationBreaker,
        StrategyKind::SlowLeak,
    ];

    /// The kind's name in settings, the API and fault kinds (`market_making`).
    pub const fn name(self) -> &'static str {
        match self {
            StrategyKind::MarketMaking => "market_making",
            StrategyKind::Arbitrage => "arbitrage",
            StrategyKind::Momentum => "momentum",
            StrategyKind::MeanReversion => "mean_reversion",
            StrategyKind::Runaway => "runaway",
            StrategyKind::RiskIgnorant => "risk_ignorant",
            StrategyKind::VolatilityAmplifier => "volatility_amplifier",
            StrategyKind::CorrelationBreaker => "correlation_breaker",
            StrategyKind::SlowLeak => "slow_leak",
        }
    }

    /// Parses a kind's name, in any case.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim().to_ascii_lowercase();
        Self::ALL.into_iter().find(|k| k.name() == text)
    }

    /// Returns whether the kind misbehaves on purpose (started only through the back door).
    pub const fn is_chaos(self) -> bool {
        matches!(
            self,
            StrategyKind::Runaway
                | StrategyKind::RiskIgnorant
                | StrategyKind::VolatilityAmplifier
                | StrategyKind::CorrelationBreaker
                | StrategyKind::SlowLeak
        )
    }

    /// Returns whether the desk's limits apply to the kind's orders (all but `risk_ignorant`).
    pub const fn respects_limits(self) -> bool {
        !matches!(self, StrategyKind::RiskIgnorant)
    }
}

impl std::fmt::Display for StrategyKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One strategy as configured (`[[instance.settings.strategies]]`) or started by a fault.
#[derive(Clone, Debug, PartialEq)]
pub struct StrategyConfig {
    /// Unique within the desk: 1 to 32 of `a-z 0-9 _ -`, starting with a letter. Its orders are
    /// named `{name}-{n}`.
    pub name: String,
    /// What it does.
    pub kind: StrategyKind,
    /// The exchange instances it trades on (two for `arbitrage`, one or more otherwise).
    pub exchanges: Vec<String>,
    /// The symbols it trades.
    pub symbols: Vec<Symbol>,
    /// Kind-specific parameters, validated by [`build`].
    pub params: Params,
    /// Largest absolute position per symbol, in the base asset (summed over its exchanges).
    pub max_position: Decimal,
    /// Largest quantity of one order, in the base asset.
    pub max_order_size: Decimal,
    /// Whether it runs when the desk starts.
    pub enabled: bool,
}

/// What a strategy sees when it reacts to an event.
pub struct Context<'a> {
    /// Simulated time of the event.
    pub now: OffsetDateTime,
    /// Its configuration.
    pub config: &'a StrategyConfig,
    /// Prices, book tops and instruments.
    pub market: &'a Market,
    /// Its positions, by symbol (summed over its exchanges); a symbol never traded is absent.
    pub positions: &'a BTreeMap<Symbol, Position>,
    /// Its open orders (sent and not yet done), by the desk's name for them.
    pub orders: &'a BTreeMap<ClientOrderId, TrackedOrder>,
}

impl Context<'_> {
    /// Returns its position in `symbol` (zero when never traded).
    pub fn position(&self, symbol: &Symbol) -> Decimal {
        self.positions.get(symbol).map_or(Decimal::ZERO, |p| p.quantity)
    }
}

/// A strategy: a deterministic state machine from events to intents.
pub trait Strategy: Send {
    /// Reacts to `event` (already applied to `ctx.market`), pushing what it wants done to `out`.
    fn on_event(&mut self, event: &Event, ctx: &Context<'_>, out: &mut Vec<Intent>);

    /// Returns its state, to be stored and given back to [`Strategy::restore`] after a restart.
    fn save(&self) -> serde_json::Value;

    /// Takes back a state [`Strategy::save`] returned.
    ///
    /// # Errors
    /// Why the state cannot be used (the strategy then starts afresh).
    fn restore(&mut self, state: &serde_json::Value) -> Result<(), String>;
}

/// Builds the strategy `config` describes, its randomness seeded with `seed`.
///
/// # Errors
/// What is wrong with the configuration for its kind (params, exchanges, symbols), one line.
pub fn build(config: &StrategyConfig, seed: u64) -> Result<Box<dyn Strategy>, String> {
    let fail = |reason: String| format!("strategy {}: {reason}", config.name);
    Ok(match config.kind {
        StrategyKind::MarketMaking => Box::new(market_making::MarketMaking::new(config).map_err(fail)?),
        StrategyKind::Arbitrage => Box::new(arbitrage::Arbitrage::new(config).map_err(fail)?),
        StrategyKind::Momentum => Box::new(momentum::Momentum::new(config).map_err(fail)?),
        StrategyKind::MeanReversion => Box::new(mean_reversion::MeanReversion::new(config).map_err(fail)?),
        StrategyKind::Runaway => Box::new(chaos::Runaway::new(config, seed).map_err(fail)?),
        StrategyKind::RiskIgnorant => Box::new(chaos::RiskIgnorant::new(config).map_err(fail)?),
        StrategyKind::VolatilityAmplifier => Box::new(chaos::VolatilityAmplifier::new(config).map_err(fail)?),
        StrategyKind::CorrelationBreaker => Box::new(chaos::CorrelationBreaker::new(config).map_err(fail)?),
        StrategyKind::SlowLeak => Box::new(chaos::SlowLeak::new(config, seed).map_err(fail)?),
    })
}
