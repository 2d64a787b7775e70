//! `mean_reversion`: trades the z-score of the reference price against its moving average.
//!
//! For each symbol it keeps the last `window` reference prices. Once full, the z-score of the
//! latest price is `(price − mean) / standard deviation` over the window (computed in `f64`: it is
//! a signal, not money). Above `+entry` the target is `−size` (short what looks too dear), below
//! `−entry` it is `+size`, within `±exit` it is flat, and in between it stays what it was. It steers
//! to the target with market orders as `momentum` does: one at a time, within `max_order_size`
//! and `max_position`.
//!
//! Params: `window` (default 20 prices), `entry` (default 2.0), `exit` (default 0.5, below
//! `entry`), `size` (default 0.01 base).

use std::collections::BTreeMap;

use rust_decimal::{Decimal, prelude::ToPrimitive};
use tse_market::Symbol;

use super::{
    Context, Strategy, StrategyConfig,
    common::{Window, check_basics, one_exchange, restore_targets, save_targets, steer},
};
use crate::domain::{market::Event, order::Intent};

/// Z-score against the moving average.
pub struct MeanReversion {
    exchange: String,
    window: usize,
    entry: f64,
    exit: f64,
    size: Decimal,
    windows: BTreeMap<Symbol, Window>,
    targets: BTreeMap<Symbol, Decimal>,
}

impl MeanReversion {
    /// Mean reversion on `config`'s one exchange and symbols.
    ///
    /// # Errors
    /// Unknown or bad params (`exit` must be below `entry`), not exactly one exchange, no symbol.
    pub fn new(config: &StrategyConfig) -> Result<Self, String> {
        let p = &config.params;
        p.only(&["window", "entry", "exit", "size"])?;
        let window = p.count("window", 20, 2, 10_000)?;
        let entry = p.positive("entry", Decimal::TWO)?;
        let exit = p.decimal_in("exit", Decimal::new(5, 1), Decimal::ZERO, entry)?;
        if exit >= entry {
            return Err(format!("param exit ({exit}) must be below entry ({entry})"));
        }
        let size = p.positive("size", Decimal::new(1, 2))?;
        check_basics(config)?;
        Ok(MeanReversion {
            exchange: one_exchange(config)?,
            window: usize::try_from(window).map_err(|e| e.to_string())?,
            entry: entry.to_f64().unwrap_or(f64::INFINITY),
            exit: exit.to_f64().unwrap_or(0.0),
            size,
            windows: BTreeMap::new(),
            targets: BTreeMap::new(),
        })
    }

    /// Returns the z-score of `price` against the full window of `symbol` (`None` before it is
    /// full or when every price is the same).
    fn z_score(&self, symbol: &Symbol, price: Decimal) -> Option<f64> {
        let window = self.windows.get(symbol)?;
        if window.len() < self.window {
            return None;
        }
        let values: Vec<f64> = window.prices().filter_map(ToPrimitive::to_f64).collect();
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        let deviation = variance.sqrt();
        (deviation > 0.0).then(|| (price.to_f64().unwrap_or(mean) - mean) / deviation)
    }

    /// Returns the target `z` asks for, given the current one.
    fn target(&self, z: f64, current: Decimal) -> Decimal {
        if z > self.entry {
            -self.size
        } else if z < -self.entry {
            self.size
        } else if z.abs() < self.exit {
            Decimal::ZERO
        } else {
            current
        }
    }
}

impl Strategy for MeanReversion {
    fn on_event(&mut self, event: &Event, ctx: &Context<'_>, out: &mut Vec<Intent>) {
        match event {
            Event::Price { symbol, price } if ctx.config.symbols.contains(symbol) => {
                self.windows
                    .entry(symbol.clone())
                    .or_default()
                    .push(*price, self.window, self.window);
                if let Some(z) = self.z_score(symbol, *price) {
                    let current = self.targets.get(symbol).copied().unwrap_or_default();
                    self.targets.insert(symbol.clone(), self.target(z, current));
                }
                if let Some(target) = self.targets.get(symbol) {
                    steer(ctx, &self.exchange, symbol, *target, out);
                }
            }
            // The next order goes on the next timer once the last one is done: an order the
            // exchange cancels or refuses is not sent again at once (and again, and again).
            Event::Timer => {
                for (symbol, target) in &self.targets {
                    steer(ctx, &self.exchange, symbol, *target, out);
                }
            }
            Event::Fill(_) | Event::Order(_) | Event::Price { .. } | Event::Book { .. } => {}
        }
    }

    fn save(&self) -> serde_json::Value {
        save_targets(&self.windows, &self.targets)
    }

    fn restore(&mut self, state: &serde_json::Value) -> Result<(), String> {
        (self.windows, self.targets) =
            restore_targets(state, "mean_reversion", "window", self.window, self.window)?;
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

    fn reversion(params: serde_json::Value) -> (MeanReversion, StrategyConfig) {
        let c = config(StrategyKind::MeanReversion, &["x"], &[btc()], params);
        (MeanReversion::new(&c).unwrap(), c)
    }

    #[test]
    fn params_are_validated_in_one_line() {
        let bad = |params| {
            let c = config(StrategyKind::MeanReversion, &["x"], &[btc()], params);
            MeanReversion::new(&c).err().unwrap()
        };
        assert!(bad(json!({"entry": 1, "exit": 1})).contains("below entry"));
        assert!(bad(json!({"exit": 3})).contains("between"));
        assert!(bad(json!({"window": 1})).contains("between"));
        assert!(bad(json!({"entry": "x"})).contains("not a decimal"));
        assert!(bad(json!({"fast": 1})).contains("unknown param 'fast'"));
    }

    #[test]
    fn shorts_a_spike_buys_a_dip_and_flattens_near_the_mean() {
        let (mut m, c) = reversion(json!({"window": 4, "entry": 1.5, "exit": 0.5, "size": "0.01"}));
        let mut w = World::new(&["x"]);
        for p in ["100", "101", "100"] {
            assert!(w.feed(&mut m, &c, at(0), &price(&btc(), p)).is_empty());
        }
        // 100 101 100 110: the spike's z-score is about 1.7 > 1.5 → short.
        let out = w.feed(&mut m, &c, at(1), &price(&btc(), "110"));
        assert_eq!(
            out.iter().map(market_order).collect::<Vec<_>>(),
            [(Side::Sell, d("0.01"))]
        );
        w.hold(&btc(), d("-0.01"));
        // 101 100 110 105: z ≈ 0.2, inside exit → flatten.
        let out = w.feed(&mut m, &c, at(2), &price(&btc(), "105"));
        assert_eq!(
            out.iter().map(market_order).collect::<Vec<_>>(),
            [(Side::Buy, d("0.01"))]
        );
        w.hold(&btc(), d("0"));
        // 100 110 105 90: z ≈ −1.52 < −1.5 → long.
        let out = w.feed(&mut m, &c, at(3), &price(&btc(), "90"));
        assert_eq!(
            out.iter().map(market_order).collect::<Vec<_>>(),
            [(Side::Buy, d("0.01"))]
        );
        // A flat window has no z-score: nothing new.
        let (mut flat, c) = reversion(json!({"window": 2}));
        w.feed(&mut flat, &c, at(0), &price(&btc(), "100"));
        assert!(w.feed(&mut flat, &c, at(1), &price(&btc(), "100")).is_empty());
    }

    #[test]
    fn state_survives_save_and_restore_and_garbage_is_refused() {
        let (mut m, c) = reversion(json!({"window": 3}));
        let mut w = World::new(&["x"]);
        for p in ["100", "101", "130"] {
            w.feed(&mut m, &c, at(0), &price(&btc(), p));
        }
        let saved = m.save();
        let (mut back, _) = reversion(json!({"window": 3}));
        back.restore(&saved).unwrap();
        assert_eq!(back.save(), saved);
        assert_eq!(back.windows, m.windows);
        assert!(back.restore(&json!(null)).is_err());
        assert!(
            back.restore(&json!({"prices": {"nope": []}, "targets": {}}))
                .is_err()
        );
        let (mut short, _) = reversion(json!({"window": 2}));
        assert!(short.restore(&saved).unwrap_err().contains("more than window"));
    }
}
