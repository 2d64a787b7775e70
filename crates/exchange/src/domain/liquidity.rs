//! The built-in liquidity provider's quoting rule: a ladder of limit orders on both sides of a
//! reference price, `levels` deep, the first level `spread_bps` away and each next one `step_bps`
//! further, every level `size` of the base asset. Bids round down and asks round up to the tick, so
//! the ladder never crosses the reference; quantities round down to the lot, never below one lot.

use std::collections::BTreeMap;

use rust_decimal::{Decimal, prelude::FromPrimitive};

use super::instrument::Instrument;

/// How the liquidity provider quotes.
#[derive(Clone, Debug, PartialEq)]
pub struct Liquidity {
    /// Whether it quotes at all.
    pub enabled: bool,
    /// Levels quoted on each side.
    pub levels: u32,
    /// Distance from the reference to the first level, in basis points.
    pub spread_bps: Decimal,
    /// Distance between levels, in basis points.
    pub step_bps: Decimal,
    /// Reference move, in basis points, that triggers new quotes.
    pub requote_bps: Decimal,
    /// Quantity per level, by base asset.
    pub sizes: BTreeMap<String, Decimal>,
}

impl Liquidity {
    /// Returns the quantity per level for `base` (1 for an asset without a configured size).
    pub fn size(&self, base: &str) -> Decimal {
        self.sizes.get(base).copied().unwrap_or(Decimal::ONE)
    }
}

/// Price levels `(price, quantity)` on each side, best first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ladder {
    /// Buy levels, highest first.
    pub bids: Vec<(Decimal, Decimal)>,
    /// Sell levels, lowest first.
    pub asks: Vec<(Decimal, Decimal)>,
}

const BPS: Decimal = Decimal::from_parts(10_000, 0, 0, false, 0);

/// The ladder around `reference`, with the spread multiplied by `spread_factor` and sizes by
/// `size_factor` (the `spread_widening` and `liquidity_reduction` faults).
pub fn ladder(
    instrument: &Instrument,
    reference: Decimal,
    rule: &Liquidity,
    spread_factor: f64,
    size_factor: f64,
) -> Ladder {
    let mut ladder = Ladder::default();
    if reference <= Decimal::ZERO {
        return ladder;
    }
    let factor = |f: f64| {
        Decimal::from_f64(f)
            .filter(|d| *d > Decimal::ZERO)
            .unwrap_or(Decimal::ONE)
    };
    let spread = rule.spread_bps * factor(spread_factor);
    let lots = (rule.size(&instrument.base) * factor(size_factor) / instrument.lot_size)
        .floor()
        .max(Decimal::ONE);
    let quantity = lots * instrument.lot_size;
    let tick = instrument.tick_size;
    for level in 0..rule.levels {
        let offset = (spread + rule.step_bps * Decimal::from(level)) / BPS;
        let bid = (reference * (Decimal::ONE - offset) / tick).floor() * tick;
        if bid > Decimal::ZERO && ladder.bids.last().is_none_or(|(p, _)| bid < *p) {
            ladder.bids.push((bid.normalize(), quantity.normalize()));
        }
        let ask = (reference * (Decimal::ONE + offset) / tick).ceil() * tick;
        if ladder.asks.last().is_none_or(|(p, _)| ask > *p) {
            ladder.asks.push((ask.normalize(), quantity.normalize()));
        }
    }
    ladder
}

/// Returns how far `now` is from `before`, in basis points of `before`.
pub fn moved_bps(before: Decimal, now: Decimal) -> Decimal {
    if before.is_zero() {
        return Decimal::MAX;
    }
    ((now - before) / before).abs() * BPS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule() -> Liquidity {
        Liquidity {
            enabled: true,
            levels: 3,
            spread_bps: Decimal::from(5),
            step_bps: Decimal::from(10),
            requote_bps: Decimal::from(2),
            sizes: [("BTC".to_owned(), Decimal::new(5, 1))].into(),
        }
    }

    fn btc() -> Instrument {
        Instrument::new("BTC-USD", Decimal::new(1, 2), Decimal::new(1, 5)).unwrap()
    }

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn the_ladder_straddles_the_reference_on_the_tick() {
        let l = ladder(&btc(), d("100000"), &rule(), 1.0, 1.0);
        assert_eq!(
            l.bids,
            vec![
                (d("99950"), d("0.5")),
                (d("99850"), d("0.5")),
                (d("99750"), d("0.5"))
            ]
        );
        assert_eq!(
            l.asks,
            vec![
                (d("100050"), d("0.5")),
                (d("100150"), d("0.5")),
                (d("100250"), d("0.5"))
            ]
        );
        // Off-tick results round away from the reference.
        let l = ladder(&btc(), d("97123.457"), &rule(), 1.0, 1.0);
        assert_eq!(l.bids[0].0, d("97074.89"));
        assert_eq!(l.asks[0].0, d("97172.02"));
    }

    #[test]
    fn faults_widen_and_thin_the_ladder() {
        let l = ladder(&btc(), d("100000"), &rule(), 4.0, 0.1);
        assert_eq!(l.bids[0], (d("99800"), d("0.05")));
        assert_eq!(l.asks[0], (d("100200"), d("0.05")));
        // Never below one lot.
        let l = ladder(&btc(), d("100000"), &rule(), 1.0, 1e-9);
        assert_eq!(l.bids[0].1, d("0.00001"));
    }

    #[test]
    fn coarse_ticks_collapse_levels_instead_of_repeating_them() {
        let coarse = Instrument::new("USDT-USD", Decimal::ONE, Decimal::ONE).unwrap();
        let l = ladder(&coarse, d("1"), &rule(), 1.0, 1.0);
        assert!(l.bids.is_empty(), "no positive bid below 1 on a tick of 1: {l:?}");
        assert_eq!(l.asks, vec![(d("2"), d("1"))]);
        assert!(ladder(&btc(), Decimal::ZERO, &rule(), 1.0, 1.0).bids.is_empty());
    }

    #[test]
    fn moves_are_measured_in_basis_points() {
        assert_eq!(moved_bps(d("100"), d("100.03")), d("3"));
        assert_eq!(moved_bps(d("100"), d("99.98")), d("2"));
    }
}
