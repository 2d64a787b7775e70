//! The built-in liquidity provider's quoting rule: a ladder of limit orders on both sides of a
//! reference price, `levels` deep, the first level `spread_bps` away and each next one `step_bps`
//! further, every level `size` of the base asset. Bids round down and asks round up to the tick, so
//! the ladder never crosses the reference; quantities round down to the lot, never below one lot.
//!
//! The reference comes from another instance, so nothing here trusts its size: the arithmetic is
//! checked, and a level that cannot be computed is left out (an absurd reference quotes nothing).

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
    let Some(spread) = rule.spread_bps.checked_mul(factor(spread_factor)) else {
        return ladder;
    };
    let tick = instrument.tick_size;
    let Some(quantity) = rule
        .size(&instrument.base)
        .checked_mul(factor(size_factor))
        .and_then(|size| size.checked_div(instrument.lot_size))
        .and_then(|lots| lots.floor().max(Decimal::ONE).checked_mul(instrument.lot_size))
    else {
        return ladder;
    };
    for level in 0..rule.levels {
        let Some(offset) = rule
            .step_bps
            .checked_mul(Decimal::from(level))
            .and_then(|step| step.checked_add(spread))
            .and_then(|bps| bps.checked_div(BPS))
        else {
            break;
        };
        // `reference × (1 ∓ offset)` on the tick grid: bids round down, asks up.
        let on_grid = |factor: Option<Decimal>, round: fn(&Decimal) -> Decimal| {
            factor
                .and_then(|f| reference.checked_mul(f))
                .and_then(|p| p.checked_div(tick))
                .and_then(|ticks| round(&ticks).checked_mul(tick))
        };
        let bid = on_grid(Decimal::ONE.checked_sub(offset), Decimal::floor);
        if let Some(bid) = bid
            && bid > Decimal::ZERO
            && ladder.bids.last().is_none_or(|(p, _)| bid < *p)
        {
            ladder.bids.push((bid.normalize(), quantity.normalize()));
        }
        let ask = on_grid(Decimal::ONE.checked_add(offset), Decimal::ceil);
        if let Some(ask) = ask
            && ladder.asks.last().is_none_or(|(p, _)| ask > *p)
        {
            ladder.asks.push((ask.normalize(), quantity.normalize()));
        }
    }
    ladder
}

/// Returns how far `now` is from `before`, in basis points of `before`.
pub fn moved_bps(before: Decimal, now: Decimal) -> Decimal {
    now.checked_sub(before)
        .and_then(|moved| moved.checked_div(before))
        .and_then(|ratio| ratio.abs().checked_mul(BPS))
        .unwrap_or(Decimal::MAX)
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

    #[test]
    fn absurd_references_and_factors_quote_what_they_can_without_overflowing() {
        // In ticks, the asks above this reference overflow; the bids below it do not.
        let l = ladder(&btc(), d("792000000000000000000000000"), &rule(), 1.0, 1.0);
        assert!(l.asks.is_empty(), "{l:?}");
        assert_eq!(l.bids.len(), 3);
        assert_eq!(ladder(&btc(), Decimal::MAX, &rule(), 1.0, 1.0), Ladder::default());
        let tiny = ladder(
            &btc(),
            d("0.0000000000000000000000000001"),
            &rule(),
            f64::MAX,
            f64::MAX,
        );
        assert!(tiny.bids.is_empty());
        assert_eq!(
            moved_bps(d("0.0000000000000000000000000001"), Decimal::MAX),
            Decimal::MAX
        );
        assert_eq!(moved_bps(Decimal::ZERO, d("1")), Decimal::MAX);
        assert_eq!(moved_bps(Decimal::MAX, Decimal::MIN), Decimal::MAX);
    }
}
