//! The risk picture at one moment: what `GET /api/v1/risk/summary` serves and the `risk_*` gauges
//! show.

use serde::Serialize;
use time::OffsetDateTime;

/// The risk picture of every monitored entity, and how fresh the data behind it is.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    /// Simulated time it was computed at.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// One per monitored entity, in name order.
    pub entities: Vec<EntitySummary>,
    /// One per (source, symbol) the monitor receives prices from, in name order.
    pub data: Vec<DataAge>,
    /// One per venue the monitor asks, in name order.
    pub venues: Vec<VenueSummary>,
    /// One per pegged symbol with a reference price, in name order.
    pub pegs: Vec<PegDeviation>,
}

/// How far one pegged symbol is from its peg at the reference source.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PegDeviation {
    /// `USDT-USD`.
    pub symbol: String,
    /// The reference price.
    pub price: f64,
    /// The peg.
    pub peg: f64,
    /// (price − peg) / peg, signed.
    pub deviation: f64,
}

/// One entity's risk.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EntitySummary {
    /// The entity (`trading-system-LH`).
    pub entity: String,
    /// Exposure per asset (every venue together), in asset order; the reporting currency (USD)
    /// is cash and not an exposure.
    pub exposure: Vec<AssetExposure>,
    /// Σ |notional| over assets.
    pub gross_usd: f64,
    /// Σ notional over assets (equal to gross while no venue reports a negative balance).
    pub net_usd: f64,
    /// Every holding at every venue marked to the reference prices, USD included.
    pub equity_usd: f64,
    /// Highest equity seen.
    pub peak_equity_usd: f64,
    /// Equity now minus the first equity the monitor saw.
    pub pnl_usd: f64,
    /// Equity now minus equity at the start of the simulated day.
    pub daily_pnl_usd: f64,
    /// (peak − equity) / peak, 0 at the peak.
    pub drawdown: f64,
    /// Orders per second over the order-rate window, every exchange together.
    pub order_rate: f64,
    /// USD value of the legs of pending settlements.
    pub pending_settlement_usd: f64,
    /// Age of the oldest pending settlement past its due time, in simulated seconds (0 if none).
    pub overdue_seconds: f64,
}

/// One asset of one entity.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AssetExposure {
    /// `BTC`.
    pub asset: String,
    /// Quantity held, every venue together.
    pub quantity: f64,
    /// Quantity × reference price.
    pub usd: f64,
    /// |usd| / gross.
    pub concentration: f64,
}

/// How old the newest price of one symbol from one source is.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DataAge {
    /// The source instance.
    pub source: String,
    /// `BTC-USD`.
    pub symbol: String,
    /// The newest price.
    pub price: f64,
    /// Simulated time of the newest price.
    #[serde(with = "time::serde::rfc3339")]
    pub last_at: OffsetDateTime,
    /// Simulated seconds since then.
    pub age_seconds: f64,
    /// Simulated seconds the price has not changed.
    pub unchanged_seconds: f64,
}

/// How one venue answers the monitor.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VenueSummary {
    /// The instance.
    pub venue: String,
    /// Its last request was answered.
    pub up: bool,
    /// Failed requests / requests over the venue-health window.
    pub error_ratio: f64,
    /// Mean latency over the window, in milliseconds.
    pub latency_ms: f64,
    /// Rejected / new orders of the monitored entities over the window.
    pub reject_ratio: f64,
}
