//! Properties of the monitor over random observations and evaluation times: determinism, one
//! open alert per (kind, subject), no flapping inside the hysteresis band, and no more raises than
//! upward crossings of the warning.

use std::collections::BTreeSet;

use proptest::prelude::*;
use time::Duration;

use super::{
    alert::{AlertChange, RuleKind},
    limits::Limits,
    monitor::Monitor,
    observation::{Holdings, Observation, OrderActivity, OrderSeen, Outcome, Request},
    tests::{E, MD, only, price, t},
};

const SOURCES: [&str; 2] = ["market-data-A", "market-data-B"];
const SYMBOLS: [&str; 3] = ["BTC-USD", "ETH-USD", "USDT-USD"];
const VENUES: [&str; 2] = ["exchange-OKX", "custodian-Anchorage"];

/// One step: an observation, or an evaluation after some simulated time.
#[derive(Clone, Debug)]
enum Op {
    Price(usize, usize, f64),
    Hold(usize, f64, f64),
    Orders(u32, bool),
    Request(usize, bool, u64),
    Evaluate(u32),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..2usize, 0..3usize, 0.5f64..1.5).prop_map(|(s, y, f)| Op::Price(s, y, f)),
        (0..2usize, -50.0f64..500.0, 0.0f64..2e7).prop_map(|(v, q, u)| Op::Hold(v, q, u)),
        (0..400u32, any::<bool>()).prop_map(|(n, r)| Op::Orders(n, r)),
        (0..2usize, any::<bool>(), 0..8000u64).prop_map(|(v, ok, ms)| Op::Request(v, ok, ms)),
        (0..40u32).prop_map(Op::Evaluate),
    ]
}

/// Runs `ops` on a fresh monitor with every rule on (`for` shortened) and returns every change.
fn run(ops: &[Op]) -> Vec<Vec<AlertChange>> {
    let mut limits = Limits::default();
    for kind in RuleKind::ALL {
        *limits.rule_mut(kind).1 = Duration::seconds(3);
    }
    let mut m = Monitor::new(vec![E.into()], limits);
    let mut now = 0.0;
    let mut order_id = 0u32;
    let mut out = Vec::new();
    let mut open = BTreeSet::new();
    for op in ops {
        let at = t(now);
        match op {
            Op::Price(s, y, f) => {
                let base = [100_000.0, 3_000.0, 1.0][*y];
                m.observe(price(SOURCES[*s], SYMBOLS[*y], base * f, at));
            }
            Op::Hold(v, q, usd) => m.observe(Observation::Holdings(Holdings {
                entity: E.into(),
                venue: VENUES[*v].into(),
                balances: vec![("BTC".into(), *q), ("ETH".into(), q * 3.0), ("USD".into(), *usd)],
                at,
            })),
            Op::Orders(n, rejected) => {
                let new = (0..*n)
                    .map(|_| {
                        order_id += 1;
                        OrderSeen {
                            id: format!("o-{order_id}"),
                            symbol: "BTC-USD".into(),
                            side: "BUY".into(),
                            price: 1.0,
                            remaining: 1.0,
                            status: if *rejected { "REJECTED" } else { "NEW" }.into(),
                            created_at: at,
                        }
                    })
                    .collect();
                m.observe(Observation::Orders(OrderActivity {
                    entity: E.into(),
                    venue: VENUES[0].into(),
                    new,
                    open: vec![],
                    at,
                }));
            }
            Op::Request(v, ok, ms) => m.observe(Observation::Request(Request {
                venue: VENUES[*v].into(),
                outcome: if *ok { Outcome::Ok } else { Outcome::Unavailable },
                latency: std::time::Duration::from_millis(*ms),
                at,
            })),
            Op::Evaluate(dt) => {
                now += f64::from(*dt);
                let changes = m.evaluate(t(now), t(0.0));
                for c in &changes {
                    let key = (c.alert().kind, c.alert().subject.clone());
                    match c {
                        AlertChange::Raised(_) => {
                            assert!(open.insert(key), "raised twice: {c:?}");
                        }
                        AlertChange::Escalated(_) | AlertChange::Acknowledged(_) => {
                            assert!(open.contains(&key), "changed while not open: {c:?}");
                        }
                        AlertChange::Resolved(_) => {
                            assert!(open.remove(&key), "resolved while not open: {c:?}");
                        }
                    }
                }
                let listed: BTreeSet<_> = m.open_alerts().into_iter().map(|a| (a.kind, a.subject)).collect();
                assert_eq!(listed, open);
                out.push(changes);
            }
        }
    }
    out
}

/// A depeg monitor (`for` in seconds) fed USDT-USD at `bps` below the peg, one evaluation per
/// second; returns the number of raises and resolutions.
fn depeg(r#for: i64, values: &[f64]) -> (usize, usize, Vec<AlertChange>) {
    let mut m = Monitor::new(
        vec![E.into()],
        only(RuleKind::StablecoinDepeg, Duration::seconds(r#for)),
    );
    let mut all = Vec::new();
    for (i, bps) in values.iter().enumerate() {
        #[allow(clippy::cast_precision_loss)]
        let at = t(i as f64);
        m.observe(price(MD, "USDT-USD", 1.0 - bps / 1e4, at));
        all.extend(m.evaluate(at, t(0.0)));
    }
    let raised = all.iter().filter(|c| matches!(c, AlertChange::Raised(_))).count();
    let resolved = all
        .iter()
        .filter(|c| matches!(c, AlertChange::Resolved(_)))
        .count();
    (raised, resolved, all)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn the_same_observations_and_times_give_the_same_changes(ops in prop::collection::vec(op(), 1..120)) {
        let first = run(&ops);
        let second = run(&ops);
        prop_assert_eq!(first, second);
    }

    #[test]
    fn a_value_inside_the_hysteresis_band_after_raising_neither_resolves_nor_raises_again(
        r#for in 0..5i64,
        inside in prop::collection::vec(40.5f64..49.9, 1..80),
    ) {
        // Defaults: warning 50 bps, hysteresis 0.2 → the band is [40, 50).
        let mut values = vec![60.0; usize::try_from(r#for).unwrap_or(0) + 1];
        values.extend(inside);
        let (raised, resolved, all) = depeg(r#for, &values);
        prop_assert_eq!(raised, 1, "{:?}", all);
        prop_assert_eq!(resolved, 0, "{:?}", all);
    }

    #[test]
    fn raises_never_outnumber_upward_crossings_of_the_warning(
        r#for in 0..4i64,
        values in prop::collection::vec(0.0f64..300.0, 1..150),
    ) {
        let crossings = values
            .iter()
            .enumerate()
            .filter(|(i, v)| **v >= 50.0 && (*i == 0 || values[i - 1] < 50.0))
            .count();
        let (raised, _, all) = depeg(r#for, &values);
        prop_assert!(raised <= crossings, "{} raises, {} crossings: {:?}", raised, crossings, all);
    }
}
