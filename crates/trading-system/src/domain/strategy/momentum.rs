//! `momentum`: a moving-average crossover on reference prices.
//!
//! For each symbol it keeps the last `slow` reference prices. Once the window is full, the target
//! position is `+size` while the average of the last `fast` prices is above the average of all
//! `slow`, and `−size` while it is below (unchanged when they are equal). It then steers its
//! position to the target with market orders, one at a time (never while one of its orders for
//! the symbol is still open), each clipped to `max_order_size`, the target to `max_position`.
//!
//! Params: `fast` (default 10 prices), `slow` (default 30), `size` (default 0.01 base).
//!

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use tse_market::Symbol;

use super::{
    Context, Strategy, StrategyConfig,
    common::{Window, check_basics, one_exchange, restore_targets, save_targets, steer},
};
use crate::domain::{market::Event, order::Intent};

/// Moving-average crossover.
pub struct Momentum {
    exchange: String,
    fast: usize,
    slow: usize,
    size: Decimal,
    windows: BTreeMap<Symbol, Window>,
    targets: BTreeMap<Symbol, Decimal>,
}

impl Momentum {
    /// Momentum on `config`'s one exchange and symbols.
    ///
    /// # Errors
    /// Unknown or bad params (`fast` must be below `slow`), not exactly one exchange, no symbol.
    pub fn new(config: &StrategyConfig) -> Result<Self, String> {
        let p = &config.params;
        p.only(&["fast", "slow", "size"])?;
        let fast = p.count("fast", 10, 1, 10_000)?;
        let slow = p.count("slow", 30, 2, 10_000)?;
        if fast >= slow {
            return Err(format!("param fast ({fast}) must be below slow ({slow})"));
        }
        let size = p.positive("size", Decimal::new(1, 2))?;
        check_basics(config)?;
        Ok(Momentum {
            exchange: one_exchange(config)?,
            fast: usize::try_from(fast).map_err(|e| e.to_string())?,
            slow: usize::try_from(slow).map_err(|e| e.to_string())?,
            size,
            windows: BTreeMap::new(),
            targets: BTreeMap::new(),
        })
    }

    /// Returns the fast and slow averages of `symbol`, once `slow` prices are in.
    fn averages(&self, symbol: &Symbol) -> Option<(Decimal, Decimal)> {
        let window = self.windows.get(symbol)?;
        if window.len() < self.slow {
            return None;
        }
        let fast = window.fast_sum() / Decimal::from(self.fast);
        Some((fast, window.mean()?))
    }
}

impl Strategy for Momentum {
    fn on_event(&mut self, event: &Event, ctx: &Context<'_>, out: &mut Vec<Intent>) {
        let symbol = match event {
            Event::Price { symbol, price } if ctx.config.symbols.contains(symbol) => {
                self.windows
                    .entry(symbol.clone())
                    .or_default()
                    .push(*price, self.slow, self.fast);
                if let Some((fast, slow)) = self.averages(symbol) {
                    let target = match fast.cmp(&slow) {
                        std::cmp::Ordering::Greater => self.size,
                        std::cmp::Ordering::Less => -self.size,
                        std::cmp::Ordering::Equal => self.targets.get(symbol).copied().unwrap_or_default(),
                    };
                    self.targets.insert(symbol.clone(), target);
                }
                symbol.clone()
            }
            // The next order goes on the next timer once the last one is done: an order the
            // exchange cancels or refuses is not sent again at once (and again, and again).
            Event::Timer => {
                for (symbol, target) in &self.targets {
                    steer(ctx, &self.exchange, symbol, *target, out);
                }
                return;
            }
            Event::Fill(_) | Event::Order(_) | Event::Price { .. } | Event::Book { .. } => return,
        };
        if let Some(target) = self.targets.get(&symbol) {
            steer(ctx, &self.exchange, &symbol, *target, out);
        }
    }

    fn save(&self) -> serde_json::Value {
        save_targets(&self.windows, &self.targets)
    }

    fn restore(&mut self, state: &serde_json::Value) -> Result<(), String> {
        (self.windows, self.targets) = restore_targets(state, "momentum", "slow", self.slow, self.fast)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use tse_market::Side;

    use super::*;
    use crate::domain::strategy::{
        StrategyKind,
        fixtures::{World, at, btc, config, d, market_order, price},
    };

    fn momentum(params: serde_json::Value) -> (Momentum, StrategyConfig) {
        let c = config(StrategyKind::Momentum, &["x"], &[btc()], params);
        (Momentum::new(&c).unwrap(), c)
    }

    #[test]
    fn params_are_validated_in_one_line() {
        let bad = |params, exchanges: &[&str]| {
            let c = config(StrategyKind::Momentum, exchanges, &[btc()], params);
            Momentum::new(&c).err().unwrap()
        };
        assert!(bad(json!({"fast": 30, "slow": 10}), &["x"]).contains("below slow"));
        assert!(bad(json!({"size": -1}), &["x"]).contains("positive"));
        assert!(bad(json!({"window": 3}), &["x"]).contains("unknown param 'window'"));
        assert!(bad(json!({}), &["x", "y"]).contains("exactly one exchange"));
        let mut c = config(StrategyKind::Momentum, &["x"], &[], json!({}));
        assert!(Momentum::new(&c).err().unwrap().contains("at least one symbol"));
        c.symbols = vec![btc()];
        c.max_position = Decimal::ZERO;
        assert!(Momentum::new(&c).err().unwrap().contains("must be positive"));
    }

    #[test]
    fn goes_long_on_a_rise_and_short_on_a_fall_once_the_slow_window_is_full() {
        let (mut m, c) = momentum(json!({"fast": 2, "slow": 4, "size": "0.03"}));
        let mut w = World::new(&["x"]);
        for p in ["100", "100", "100"] {
            assert!(w.feed(&mut m, &c, at(0), &price(&btc(), p)).is_empty());
        }
        // 100 100 100 101: fast 100.5 > slow 100.25 → +0.03, clipped to max_order_size 0.02.
        let out = w.feed(&mut m, &c, at(1), &price(&btc(), "101"));
        assert_eq!(
            out.iter().map(market_order).collect::<Vec<_>>(),
            [(Side::Buy, d("0.02"))]
        );
        w.track(&out[0], true);
        // An order still open: nothing more.
        assert!(w.feed(&mut m, &c, at(2), &price(&btc(), "102")).is_empty());
        w.orders.clear();
        w.hold(&btc(), d("0.02"));
        let out = w.feed(&mut m, &c, at(3), &Event::Timer);
        assert_eq!(
            out.iter().map(market_order).collect::<Vec<_>>(),
            [(Side::Buy, d("0.01"))]
        );
        w.hold(&btc(), d("0.03"));
        // Falling: fast below slow → −0.03, one max_order_size at a time.
        w.feed(&mut m, &c, at(4), &price(&btc(), "90"));
        let out = w.feed(&mut m, &c, at(5), &price(&btc(), "80"));
        assert_eq!(
            out.iter().map(market_order).collect::<Vec<_>>(),
            [(Side::Sell, d("0.02"))]
        );
    }

    #[test]
    fn the_target_never_exceeds_max_position() {
        let (mut m, c) = momentum(json!({"fast": 1, "slow": 2, "size": "1"}));
        let mut w = World::new(&["x"]);
        w.hold(&btc(), d("0.04"));
        w.feed(&mut m, &c, at(0), &price(&btc(), "100"));
        let out = w.feed(&mut m, &c, at(1), &price(&btc(), "101"));
        assert_eq!(
            out.iter().map(market_order).collect::<Vec<_>>(),
            [(Side::Buy, d("0.01"))]
        );
    }

    #[test]
    fn state_survives_save_and_restore_and_garbage_is_refused() {
        let (mut m, c) = momentum(json!({"fast": 2, "slow": 3}));
        let mut w = World::new(&["x"]);
        for p in ["100", "101", "102"] {
            w.feed(&mut m, &c, at(0), &price(&btc(), p));
        }
        let saved = m.save();
        let (mut back, _) = momentum(json!({"fast": 2, "slow": 3}));
        back.restore(&saved).unwrap();
        assert_eq!(back.windows, m.windows);
        assert_eq!(back.targets, m.targets);
        assert_eq!(back.save(), saved);
        assert!(back.restore(&json!({"prices": 3})).is_err());
        assert!(
            back.restore(&json!({"prices": {}, "targets": {}, "extra": 1}))
                .is_err()
        );
        let (mut short, _) = momentum(json!({"fast": 1, "slow": 2}));
        assert!(short.restore(&saved).unwrap_err().contains("more than slow"));
    }
}
