//! What several strategies share: a window of recent prices, steering a position toward a target
//! with market orders, whether an order is still open on a symbol, and the checks every
//! configuration passes.

use std::collections::{BTreeMap, VecDeque};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use tse_market::{Side, Symbol};

use super::{Context, StrategyConfig};
use crate::domain::order::{Intent, OrderSpec, OrderType};

/// The last `capacity` prices of a symbol, with their running sum.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct Window {
    prices: VecDeque<Decimal>,
    sum: Decimal,
    /// Sum of the last `fast` prices (momentum's fast average; unused elsewhere).
    fast_sum: Decimal,
}

impl Window {
    /// Adds `price`, dropping the oldest beyond `capacity`; `fast` prices are kept in `fast_sum`.
    pub(super) fn push(&mut self, price: Decimal, capacity: usize, fast: usize) {
        self.prices.push_back(price);
        self.sum += price;
        self.fast_sum += price;
        let len = self.prices.len();
        if len > fast {
            self.fast_sum -= self.prices[len - 1 - fast];
        }
        if len > capacity
            && let Some(old) = self.prices.pop_front()
        {
            self.sum -= old;
        }
    }

    /// Returns the number of prices held.
    /// Returns the sum of the last `fast` prices.
    pub(super) fn fast_sum(&self) -> Decimal {
        self.fast_sum
    }

    pub(super) fn len(&self) -> usize {
        self.prices.len()
    }

    /// Returns the mean of the prices held (`None` when empty).
    pub(super) fn mean(&self) -> Option<Decimal> {
        (!self.prices.is_empty()).then(|| self.sum / Decimal::from(self.prices.len()))
    }

    /// Returns the prices held, oldest first.
    pub(super) fn prices(&self) -> impl Iterator<Item = &Decimal> {
        self.prices.iter()
    }

    /// A window holding `prices` (oldest first), as [`Window::push`] would have left it.
    pub(super) fn from_prices(prices: &[Decimal], capacity: usize, fast: usize) -> Self {
        let mut window = Window::default();
        for price in prices {
            window.push(*price, capacity, fast);
        }
        window
    }
}

/// Returns whether the strategy has an order for `symbol` still open (sent and not done).
pub(super) fn busy(ctx: &Context<'_>, symbol: &Symbol) -> bool {
    ctx.orders.values().any(|o| &o.spec.symbol == symbol)
}

/// Moves the position in `symbol` toward `target` with one market order at `exchange`, unless an
/// order for the symbol is still open. The target is clipped to `max_position`, the order to
/// `max_order_size` and rounded down to the lot; nothing is sent when it rounds to zero.
pub(super) fn steer(
    ctx: &Context<'_>,
    exchange: &str,
    symbol: &Symbol,
    target: Decimal,
    out: &mut Vec<Intent>,
) {
    if busy(ctx, symbol) {
        return;
    }
    let Some(instrument) = ctx.market.instrument(exchange, symbol) else {
        return;
    };
    let limit = ctx.config.max_position;
    let target = target.clamp(-limit, limit);
    let difference = target - ctx.position(symbol);
    let side = if difference > Decimal::ZERO {
        Side::Buy
    } else {
        Side::Sell
    };
    let quantity = instrument.floor_quantity(difference.abs().min(ctx.config.max_order_size));
    if quantity > Decimal::ZERO {
        out.push(Intent::Place(OrderSpec {
            exchange: exchange.to_owned(),
            symbol: symbol.clone(),
            side,
            order_type: OrderType::Market,
            quantity,
        }));
    }
}

/// Returns the only exchange of `config`.
///
/// # Errors
/// When it names none or several.
pub(super) fn one_exchange(config: &StrategyConfig) -> Result<String, String> {
    match config.exchanges.as_slice() {
        [one] => Ok(one.clone()),
        other => Err(format!(
            "{} trades on exactly one exchange, got {}",
            config.kind,
            other.len()
        )),
    }
}

/// Checks that `config` names at least one symbol and positive limits.
///
/// # Errors
/// What is missing, one line.
pub(super) fn check_basics(config: &StrategyConfig) -> Result<(), String> {
    if config.symbols.is_empty() {
        return Err(format!("{} needs at least one symbol", config.kind));
    }
    if config.max_position <= Decimal::ZERO || config.max_order_size <= Decimal::ZERO {
        return Err(format!(
            "max_position and max_order_size must be positive, got {} and {}",
            config.max_position, config.max_order_size
        ));
    }
    Ok(())
}

/// Recent prices per symbol.
pub(super) type Windows = BTreeMap<Symbol, Window>;
/// Target positions per symbol.
pub(super) type Targets = BTreeMap<Symbol, Decimal>;

/// What a strategy steering toward targets keeps between runs: each symbol's recent prices
/// (oldest first) and its target position.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Saved {
    prices: BTreeMap<Symbol, Vec<Decimal>>,
    targets: BTreeMap<Symbol, Decimal>,
}

/// The saved state of price `windows` and `targets`.
pub(super) fn save_targets(
    windows: &BTreeMap<Symbol, Window>,
    targets: &BTreeMap<Symbol, Decimal>,
) -> serde_json::Value {
    let saved = Saved {
        prices: windows
            .iter()
            .map(|(s, w)| (s.clone(), w.prices().copied().collect()))
            .collect(),
        targets: targets.clone(),
    };
    serde_json::to_value(saved).unwrap_or_default()
}

/// Price windows of `capacity` (the last `fast` summed apart) and targets back from what
/// [`save_targets`] returned; `kind` and `limit` (the param that sets `capacity`) name it in errors.
///
/// # Errors
/// A state that does not decode, or with more prices than `capacity`.
pub(super) fn restore_targets(
    state: &serde_json::Value,
    kind: &str,
    limit: &str,
    capacity: usize,
    fast: usize,
) -> Result<(Windows, Targets), String> {
    let saved: Saved = serde_json::from_value(state.clone()).map_err(|e| format!("{kind} state: {e}"))?;
    if let Some((symbol, prices)) = saved.prices.iter().find(|(_, p)| p.len() > capacity) {
        return Err(format!(
            "{kind} state: {} prices for {symbol}, more than {limit} ({capacity})",
            prices.len()
        ));
    }
    let windows = saved
        .prices
        .iter()
        .map(|(s, p)| (s.clone(), Window::from_prices(p, capacity, fast)))
        .collect();
    Ok((windows, saved.targets))
}
