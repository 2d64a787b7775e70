//! What the API shows of the desk, computed from the [`Desk`] as it is now: strategies with their
//! positions and P&L in USD, the desk's positions, its P&L, a halt's outcome.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::Serialize;

use crate::domain::desk::{Desk, Origin, Slot};

/// One strategy, as `GET /api/v1/strategies` shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StrategyView {
    /// Its name.
    pub name: String,
    /// Its kind (`market_making`).
    pub kind: &'static str,
    /// `RUNNING`, `STOPPED` or `HALTED`.
    pub status: &'static str,
    /// `settings`, or `fault` for a chaos strategy a fault started.
    pub origin: &'static str,
    /// The fault that started it, if any.
    pub fault_id: Option<String>,
    /// The exchanges it trades on.
    pub exchanges: Vec<String>,
    /// The symbols it trades.
    pub symbols: Vec<String>,
    /// What its fills changed per asset: base assets bought minus sold, quote assets received
    /// minus paid (fees included).
    pub positions: BTreeMap<String, Decimal>,
    /// Realised P&L after fees, in USD.
    pub realized_pnl_usd: Decimal,
    /// P&L of the open positions at the reference prices, in USD.
    pub unrealized_pnl_usd: Decimal,
    /// Their sum.
    pub pnl_usd: Decimal,
    /// Orders sent.
    pub orders_submitted: u64,
    /// Orders refused, by the desk's limits or the exchanges.
    pub orders_rejected: u64,
    /// The same, by reason.
    pub rejected_by_reason: BTreeMap<String, u64>,
    /// Orders open now.
    pub open_orders: usize,
    /// Largest position per symbol, base asset.
    pub max_position: Decimal,
    /// Largest order, base asset.
    pub max_order_size: Decimal,
    /// Its parameters.
    pub params: serde_json::Value,
}

/// One strategy's position in one symbol.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PositionView {
    /// The strategy.
    pub strategy: String,
    /// The symbol.
    pub symbol: String,
    /// Base asset held (negative: short).
    pub quantity: Decimal,
    /// Average price of the open quantity.
    pub average_cost: Decimal,
    /// The reference price it is marked at, when known.
    pub mark: Option<Decimal>,
    /// Realised P&L after fees, in the quote asset.
    pub realized_pnl: Decimal,
    /// Unrealised P&L at the mark, in the quote asset.
    pub unrealized_pnl: Decimal,
    /// Fees paid, in the quote asset.
    pub fees: Decimal,
    /// The quote asset.
    pub quote: String,
    /// Realised P&L in USD (zero while the quote asset has no USD price).
    pub realized_pnl_usd: Decimal,
    /// Unrealised P&L in USD.
    pub unrealized_pnl_usd: Decimal,
    /// Fills counted.
    pub fills: u64,
}

/// The desk's positions (`GET /api/v1/positions`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PositionsView {
    /// What every fill changed per asset, summed over strategies.
    pub assets: BTreeMap<String, Decimal>,
    /// Every strategy's position in every symbol it traded.
    pub positions: Vec<PositionView>,
}

/// One strategy's P&L.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StrategyPnl {
    /// The strategy.
    pub strategy: String,
    /// Realised after fees, USD.
    pub realized_usd: Decimal,
    /// Unrealised, USD.
    pub unrealized_usd: Decimal,
    /// Their sum.
    pub total_usd: Decimal,
    /// Fees paid, USD.
    pub fees_usd: Decimal,
}

/// The desk's P&L (`GET /api/v1/pnl`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PnlView {
    /// Realised after fees, USD.
    pub realized_usd: Decimal,
    /// Unrealised, USD.
    pub unrealized_usd: Decimal,
    /// Their sum.
    pub total_usd: Decimal,
    /// Fees paid, USD.
    pub fees_usd: Decimal,
    /// Per strategy.
    pub strategies: Vec<StrategyPnl>,
}

/// What the kill switch did (`POST /api/v1/halt`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HaltView {
    /// Strategies that were running and are now halted.
    pub halted: Vec<String>,
    /// Cancels sent for open orders.
    pub cancels_sent: usize,
}

/// Rounds a USD amount for display (cents and below kept to 8 places).
fn usd(value: Decimal) -> Decimal {
    value.round_dp(8).normalize()
}

/// The positions of `slot`, marked at the desk's reference prices.
pub fn positions(desk: &Desk, slot: &Slot) -> Vec<PositionView> {
    let market = desk.market();
    slot.positions
        .iter()
        .map(|(symbol, p)| {
            let exchange = slot.config.exchanges.first().map_or("", String::as_str);
            let mark = market.mark(exchange, symbol);
            let quote = symbol.quote();
            let rate = market.usd_rate(quote.as_str()).unwrap_or_default();
            let unrealized = mark.map_or(Decimal::ZERO, |m| p.unrealized(m));
            PositionView {
                strategy: slot.config.name.clone(),
                symbol: symbol.to_string(),
                quantity: p.quantity.normalize(),
                average_cost: p.average_cost.round_dp(8).normalize(),
                mark,
                realized_pnl: p.net_realized().round_dp(8).normalize(),
                unrealized_pnl: unrealized.round_dp(8).normalize(),
                fees: p.fees.normalize(),
                quote: quote.to_string(),
                realized_pnl_usd: usd(p.net_realized() * rate),
                unrealized_pnl_usd: usd(unrealized * rate),
                fills: p.fills,
            }
        })
        .collect()
}

/// What `slot`'s fills changed per asset.
fn assets(slot: &Slot) -> BTreeMap<String, Decimal> {
    let mut out: BTreeMap<String, Decimal> = BTreeMap::new();
    for (symbol, p) in &slot.positions {
        *out.entry(symbol.base().to_string()).or_default() += p.bought - p.sold;
        *out.entry(symbol.quote().to_string()).or_default() += p.received - p.paid - p.fees;
    }
    out.into_iter().map(|(a, v)| (a, v.normalize())).collect()
}

/// One strategy's P&L in USD.
pub fn pnl_of(desk: &Desk, slot: &Slot) -> StrategyPnl {
    let rate = |quote: &str| desk.market().usd_rate(quote).unwrap_or_default();
    let (mut realized, mut unrealized, mut fees) = (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
    for (symbol, p) in &slot.positions {
        let exchange = slot.config.exchanges.first().map_or("", String::as_str);
        let r = rate(symbol.quote().as_str());
        realized += p.net_realized() * r;
        fees += p.fees * r;
        if let Some(mark) = desk.market().mark(exchange, symbol) {
            unrealized += p.unrealized(mark) * r;
        }
    }
    StrategyPnl {
        strategy: slot.config.name.clone(),
        realized_usd: usd(realized),
        unrealized_usd: usd(unrealized),
        total_usd: usd(realized + unrealized),
        fees_usd: usd(fees),
    }
}

/// One strategy as the API shows it.
pub fn strategy(desk: &Desk, slot: &Slot) -> StrategyView {
    let pnl = pnl_of(desk, slot);
    let (origin, fault_id) = match &slot.origin {
        Origin::Settings => ("settings", None),
        Origin::Fault { id, .. } => ("fault", Some(id.clone())),
    };
    StrategyView {
        name: slot.config.name.clone(),
        kind: slot.config.kind.name(),
        status: slot.status.as_str(),
        origin,
        fault_id,
        exchanges: slot.config.exchanges.clone(),
        symbols: slot.config.symbols.iter().map(ToString::to_string).collect(),
        positions: assets(slot),
        realized_pnl_usd: pnl.realized_usd,
        unrealized_pnl_usd: pnl.unrealized_usd,
        pnl_usd: pnl.total_usd,
        orders_submitted: slot.submitted.values().sum(),
        orders_rejected: slot.rejected.values().sum(),
        rejected_by_reason: slot.rejected.clone(),
        open_orders: slot.orders.len(),
        max_position: slot.config.max_position.normalize(),
        max_order_size: slot.config.max_order_size.normalize(),
        params: slot.config.params.to_json(),
    }
}

/// Every strategy.
pub fn strategies(desk: &Desk) -> Vec<StrategyView> {
    desk.slots().iter().map(|s| strategy(desk, s)).collect()
}

/// The desk's positions.
pub fn all_positions(desk: &Desk) -> PositionsView {
    let mut total: BTreeMap<String, Decimal> = BTreeMap::new();
    let mut list = Vec::new();
    for slot in desk.slots() {
        for (asset, v) in assets(slot) {
            *total.entry(asset).or_default() += v;
        }
        list.extend(positions(desk, slot));
    }
    PositionsView {
        assets: total.into_iter().map(|(a, v)| (a, v.normalize())).collect(),
        positions: list,
    }
}

/// The desk's P&L.
pub fn pnl(desk: &Desk) -> PnlView {
    let strategies: Vec<StrategyPnl> = desk.slots().iter().map(|s| pnl_of(desk, s)).collect();
    let sum = |f: fn(&StrategyPnl) -> Decimal| usd(strategies.iter().map(f).sum());
    PnlView {
        realized_usd: sum(|s| s.realized_usd),
        unrealized_usd: sum(|s| s.unrealized_usd),
        total_usd: sum(|s| s.total_usd),
        fees_usd: sum(|s| s.fees_usd),
        strategies,
    }
}
