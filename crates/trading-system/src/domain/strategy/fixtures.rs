//! Test fixtures the strategies' tests share: decimals, symbols, configurations, instruments, and a
//! small world (market, positions, orders) to feed a strategy events in.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use time::OffsetDateTime;
use tse_market::{ClientOrderId, Side, Symbol};

use super::{Context, Params, Strategy, StrategyConfig, StrategyKind};
use crate::domain::{
    market::{Event, Instrument, Market},
    order::{Intent, OrderSpec, OrderStatus, OrderType, TrackedOrder},
    position::Position,
};

pub(crate) fn d(text: &str) -> Decimal {
    text.parse().unwrap()
}

pub(crate) fn btc() -> Symbol {
    Symbol::parse("BTC-USD").unwrap()
}

pub(crate) fn eth() -> Symbol {
    Symbol::parse("ETH-USD").unwrap()
}

pub(crate) fn at(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(seconds)
}

/// A configuration of `kind` on `exchanges` and `symbols` with `params`.
pub(crate) fn config(
    kind: StrategyKind,
    exchanges: &[&str],
    symbols: &[Symbol],
    params: serde_json::Value,
) -> StrategyConfig {
    StrategyConfig {
        name: kind.name().replace('_', ""),
        kind,
        exchanges: exchanges.iter().map(|e| (*e).to_owned()).collect(),
        symbols: symbols.to_vec(),
        params: Params::from_json(&params).unwrap(),
        max_position: d("0.05"),
        max_order_size: d("0.02"),
        enabled: true,
    }
}

/// An instrument with a 0.01 tick, a 0.001 lot, 0.0002 maker and 0.0005 taker fees.
pub(crate) fn instrument(symbol: Symbol) -> Instrument {
    Instrument {
        symbol,
        tick: d("0.01"),
        lot: d("0.001"),
        maker_fee: d("0.0002"),
        taker_fee: d("0.0005"),
    }
}

/// What a strategy sees: markets, positions and open orders, changed by hand between events.
#[derive(Default)]
pub(crate) struct World {
    pub(crate) market: Market,
    pub(crate) positions: BTreeMap<Symbol, Position>,
    pub(crate) orders: BTreeMap<ClientOrderId, TrackedOrder>,
    next: u64,
}

impl World {
    /// A world where `exchanges` list BTC-USD and ETH-USD.
    pub(crate) fn new(exchanges: &[&str]) -> Self {
        let mut world = World::default();
        for exchange in exchanges {
            world.market.list(exchange, instrument(btc()));
            world.market.list(exchange, instrument(eth()));
        }
        world
    }

    /// Applies `event` to the markets, lets `strategy` react at `now`, and returns its intents.
    pub(crate) fn feed(
        &mut self,
        strategy: &mut dyn Strategy,
        config: &StrategyConfig,
        now: OffsetDateTime,
        event: &Event,
    ) -> Vec<Intent> {
        self.market.apply(event);
        let ctx = Context {
            now,
            config,
            market: &self.market,
            positions: &self.positions,
            orders: &self.orders,
        };
        let mut out = Vec::new();
        strategy.on_event(event, &ctx, &mut out);
        out
    }

    /// Tracks the placed order of `intent` as the desk would (acknowledged when `acked`).
    pub(crate) fn track(&mut self, intent: &Intent, acked: bool) -> ClientOrderId {
        let Intent::Place(spec) = intent else {
            panic!("not a placement: {intent:?}");
        };
        self.next += 1;
        let id = ClientOrderId::parse(&format!("s-{}", self.next)).unwrap();
        self.orders.insert(
            id.clone(),
            TrackedOrder {
                client_order_id: id.clone(),
                strategy: "s".into(),
                order_id: acked.then_some(self.next),
                spec: spec.clone(),
                filled: Decimal::ZERO,
                status: if acked {
                    OrderStatus::New
                } else {
                    OrderStatus::Pending
                },
                created_at: at(0),
            },
        );
        id
    }

    /// Sets the position in `symbol`.
    pub(crate) fn hold(&mut self, symbol: &Symbol, quantity: Decimal) {
        self.positions.entry(symbol.clone()).or_default().quantity = quantity;
    }
}

pub(crate) fn price(symbol: &Symbol, price: &str) -> Event {
    Event::Price {
        symbol: symbol.clone(),
        price: d(price),
    }
}

/// The side and quantity of a market order intent.
pub(crate) fn market_order(intent: &Intent) -> (Side, Decimal) {
    match intent {
        Intent::Place(OrderSpec {
            side,
            order_type: OrderType::Market,
            quantity,
            ..
        }) => (*side, *quantity),
        other => panic!("not a market order: {other:?}"),
    }
}
