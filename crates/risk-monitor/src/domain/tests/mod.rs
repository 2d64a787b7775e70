//! Table tests of every rule kind through the monitor: each fires on its breach with the right
//! severity, subject and evidence, stays quiet just under it, honours `for`, escalates, keeps an
//! alert open between the resolution band and the warning, and resolves below it.

use std::time::Duration as StdDuration;

use time::{Duration, OffsetDateTime, macros::datetime};

use super::{
    alert::{AlertChange, RuleKind, Severity, Status, Subject},
    limits::Limits,
    monitor::{EquityMark, Monitor},
    observation::{
        BookTop, Holdings, Observation, OrderActivity, OrderSeen, Outcome, PendingSettlement, PriceTick,
        Request, Settlements,
    },
};

pub(super) const E: &str = "trading-system-LH";
pub(super) const MD: &str = "market-data-A";
const MD2: &str = "market-data-B";
const OKX: &str = "exchange-OKX";
const CUST: &str = "custodian-Anchorage";

pub(super) fn t(s: f64) -> OffsetDateTime {
    datetime!(2026-03-01 00:00 UTC) + Duration::seconds_f64(s)
}

fn wall() -> OffsetDateTime {
    datetime!(2030-01-01 00:00 UTC)
}

pub(super) fn price(source: &str, symbol: &str, price: f64, at: OffsetDateTime) -> Observation {
    // A new sequence for every publication: the microseconds since the test's epoch.
    let sequence = u64::try_from((at - t(0.0)).whole_microseconds().max(0)).unwrap_or(0) + 1;
    Observation::Price(PriceTick {
        source: source.into(),
        symbol: symbol.into(),
        price,
        sequence,
        at,
    })
}

fn holdings(venue: &str, balances: &[(&str, f64)], at: OffsetDateTime) -> Observation {
    Observation::Holdings(Holdings {
        entity: E.into(),
        venue: venue.into(),
        balances: balances.iter().map(|(a, q)| ((*a).to_owned(), *q)).collect(),
        at,
    })
}

fn request(venue: &str, outcome: Outcome, ms: u64, at: OffsetDateTime) -> Observation {
    Observation::Request(Request {
        venue: venue.into(),
        outcome,
        latency: StdDuration::from_millis(ms),
        at,
    })
}

fn order(id: String, status: &str, created_at: OffsetDateTime) -> OrderSeen {
    OrderSeen {
        id,
        symbol: "BTC-USD".into(),
        side: "BUY".into(),
        price: 100.0,
        remaining: 1.0,
        status: status.into(),
        created_at,
    }
}

fn orders(venue: &str, new: Vec<OrderSeen>, at: OffsetDateTime) -> Observation {
    Observation::Orders(OrderActivity {
        entity: E.into(),
        venue: venue.into(),
        new,
        open: vec![],
        at,
    })
}

fn settlements(pending: Vec<PendingSettlement>, at: OffsetDateTime) -> Observation {
    Observation::Settlements(Settlements {
        entity: E.into(),
        custodian: CUST.into(),
        pending,
        at,
    })
}

/// Limits with only `kind` on, its `for` set.
pub(super) fn only(kind: RuleKind, r#for: Duration) -> Limits {
    let mut limits = Limits::default();
    for k in RuleKind::ALL {
        limits.set_enabled(k, k == kind);
    }
    *limits.rule_mut(kind).1 = r#for;
    limits
}

fn subject(parts: &[(&str, &str)]) -> Subject {
    let mut s = Subject::default();
    for (name, value) in parts {
        let v = Some((*value).to_owned());
        match *name {
            "entity" => s.entity = v,
            "venue" => s.venue = v,
            "asset" => s.asset = v,
            "symbol" => s.symbol = v,
            "measure" => s.measure = v,
            other => panic!("no subject part {other}"),
        }
    }
    s
}

/// One rule kind driven to any value `v` by `feed`.
struct Case {
    kind: RuleKind,
    subject: Subject,
    unit: &'static str,
    /// Part of the expected message.
    says: &'static str,
    setup: fn(&mut Monitor),
    feed: fn(&mut Monitor, f64, OffsetDateTime),
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            kind: RuleKind::PositionLimit,
            subject: subject(&[("entity", E), ("venue", OKX), ("asset", "BTC")]),
            unit: "ratio",
            says: "USD of BTC at exchange-OKX",
            setup: |_| {},
            // 20 000 000 USD limit, BTC at 100 000.
            feed: |m, v, at| {
                m.observe(price(MD, "BTC-USD", 100_000.0, at));
                m.observe(holdings(OKX, &[("BTC", v * 200.0), ("USD", 5.0)], at));
            },
        },
        Case {
            kind: RuleKind::Exposure,
            subject: subject(&[("entity", E), ("measure", "gross")]),
            unit: "ratio",
            says: "gross exposure",
            setup: |_| {},
            // Long 1000·v BTC at one venue, short 1000·v ETH at another: gross 1e8·2v... so
            // half each, net zero.
            feed: |m, v, at| {
                m.observe(price(MD, "BTC-USD", 100_000.0, at));
                m.observe(price(MD, "ETH-USD", 100_000.0, at));
                m.observe(holdings(OKX, &[("BTC", v * 500.0)], at));
                m.observe(holdings(CUST, &[("ETH", -v * 500.0)], at));
            },
        },
        Case {
            kind: RuleKind::Exposure,
            subject: subject(&[("entity", E), ("measure", "net")]),
            unit: "ratio",
            says: "net exposure",
            setup: |_| {},
            feed: |m, v, at| {
                m.observe(price(MD, "BTC-USD", 100_000.0, at));
                m.observe(holdings(OKX, &[("BTC", v * 1000.0)], at));
            },
        },
        Case {
            kind: RuleKind::Concentration,
            subject: subject(&[("entity", E), ("asset", "BTC")]),
            unit: "ratio",
            says: "BTC makes up",
            setup: |_| {},
            feed: |m, v, at| {
                m.observe(price(MD, "BTC-USD", 1.0, at));
                m.observe(price(MD, "ETH-USD", 1.0, at));
                m.observe(holdings(
                    OKX,
                    &[("BTC", v * 1000.0), ("ETH", (1.0 - v) * 1000.0)],
                    at,
                ));
            },
        },
        Case {
            kind: RuleKind::Drawdown,
            subject: subject(&[("entity", E)]),
            unit: "ratio",
            says: "below its peak of 1,000,000 USD",
            setup: |m| m.restore(vec![], 1, vec![mark(1_000_000.0, 1_000_000.0)]),
            feed: |m, v, at| m.observe(holdings(CUST, &[("USD", 1_000_000.0 * (1.0 - v))], at)),
        },
        Case {
            kind: RuleKind::DailyLoss,
            subject: subject(&[("entity", E)]),
            unit: "usd",
            says: "has lost",
            setup: |m| m.restore(vec![], 1, vec![mark(20_000_000.0, 10_000_000.0)]),
            feed: |m, v, at| m.observe(holdings(CUST, &[("USD", 10_000_000.0 - v)], at)),
        },
        Case {
            kind: RuleKind::StablecoinDepeg,
            subject: subject(&[("asset", "USDT"), ("symbol", "USDT-USD")]),
            unit: "bps",
            says: "bps from its peg 1 at market-data-A",
            setup: |_| {},
            feed: |m, v, at| m.observe(price(MD, "USDT-USD", 1.0 - v / 1e4, at)),
        },
        Case {
            kind: RuleKind::PriceDivergence,
            subject: subject(&[("venue", MD2), ("symbol", "BTC-USD")]),
            unit: "bps",
            says: "market-data-B prices BTC-USD at",
            setup: |_| {},
            feed: |m, v, at| {
                m.observe(price(MD, "BTC-USD", 100_000.0, at));
                m.observe(price(MD2, "BTC-USD", 100_000.0 * (1.0 + v / 1e4), at));
            },
        },
        Case {
            kind: RuleKind::PriceDivergence,
            subject: subject(&[("venue", OKX), ("symbol", "BTC-USD")]),
            unit: "bps",
            says: "exchange-OKX's BTC-USD mid",
            setup: |_| {},
            feed: |m, v, at| {
                let mid = 100_000.0 * (1.0 - v / 1e4);
                m.observe(price(MD, "BTC-USD", 100_000.0, at));
                m.observe(Observation::Book(BookTop {
                    venue: OKX.into(),
                    symbol: "BTC-USD".into(),
                    bid: Some(mid - 5.0),
                    ask: Some(mid + 5.0),
                    at,
                }));
            },
        },
        Case {
            kind: RuleKind::VenueHealth,
            subject: subject(&[("venue", OKX), ("measure", "latency")]),
            unit: "ms",
            says: "answered the monitor in",
            // A one-second window holds only the request of the step.
            setup: |m| {
                let mut limits = m.limits().clone();
                limits.venue_health.window = Duration::SECOND;
                m.set_limits(limits);
            },
            feed: |m, v, at| m.observe(request(OKX, Outcome::Ok, v.round() as u64, at)),
        },
        Case {
            kind: RuleKind::UnsettledExposure,
            subject: subject(&[("entity", E), ("venue", CUST), ("measure", "amount")]),
            unit: "usd",
            says: "pending in 1 settlements at custodian-Anchorage",
            setup: |_| {},
            feed: |m, v, at| {
                m.observe(price(MD, "BTC-USD", 100_000.0, at));
                let s = PendingSettlement {
                    id: "s-1".into(),
                    // The larger leg counts.
                    legs: vec![("USD".into(), -v), ("BTC".into(), v / 200_000.0)],
                    created_at: at,
                    due_at: at + Duration::hours(1),
                };
                m.observe(settlements(vec![s], at));
            },
        },
    ]
}

fn mark(peak: f64, day_start: f64) -> EquityMark {
    EquityMark {
        entity: E.into(),
        first_usd: day_start,
        peak_usd: peak,
        day_start_usd: day_start,
        day: t(0.0).date(),
        venues: Default::default(),
        learning_since: None,
    }
}

/// Feeds `v` at `s` seconds, evaluates, and returns the changes of the case's subject.
fn step(m: &mut Monitor, case: &Case, v: f64, s: f64) -> Vec<AlertChange> {
    (case.feed)(m, v, t(s));
    m.evaluate(t(s), wall())
        .into_iter()
        .filter(|c| c.alert().kind == case.kind && c.alert().subject == case.subject)
        .collect()
}

fn bands(m: &Monitor, kind: RuleKind) -> (f64, f64, f64) {
    let l = m.limits();
    let (w, c) = match kind {
        RuleKind::PositionLimit => (
            l.position_limit.utilisation.warning,
            l.position_limit.utilisation.critical,
        ),
        RuleKind::Exposure => (l.exposure.utilisation.warning, l.exposure.utilisation.critical),
        RuleKind::Concentration => (l.concentration.warning, l.concentration.critical),
        RuleKind::Drawdown => (l.drawdown.warning, l.drawdown.critical),
        RuleKind::DailyLoss => (l.daily_loss.warning_usd, l.daily_loss.critical_usd),
        RuleKind::StablecoinDepeg => (l.stablecoin_depeg.warning_bps, l.stablecoin_depeg.critical_bps),
        RuleKind::PriceDivergence => (l.price_divergence.warning_bps, l.price_divergence.critical_bps),
        RuleKind::VenueHealth => (
            l.venue_health.latency_ms.warning,
            l.venue_health.latency_ms.critical,
        ),
        RuleKind::UnsettledExposure => (
            l.unsettled_exposure.pending_usd.warning,
            l.unsettled_exposure.pending_usd.critical,
        ),
        other => panic!("no table case for {other:?}"),
    };
    (w, c, l.rule(kind).2)
}

fn monitor(case: &Case, r#for: Duration) -> Monitor {
    let mut m = Monitor::new(vec![E.into()], only(case.kind, r#for));
    (case.setup)(&mut m);
    m
}

#[test]
fn every_rule_fires_escalates_holds_and_resolves_honouring_for_and_hysteresis() {
    for case in cases() {
        let name = format!("{} {}", case.kind.as_str(), case.subject.key());
        let mut m = monitor(&case, Duration::seconds(10));
        let (w, c, h) = bands(&m, case.kind);

        // Just under the warning: quiet.
        for s in [0.0, 5.0, 10.0, 15.0, 20.0, 25.0] {
            assert_eq!(step(&mut m, &case, w * 0.98, s), vec![], "{name}: quiet at {s}s");
        }
        // Breach for 5 s, interrupted, then 10 s: raised only after the full `for`.
        assert_eq!(step(&mut m, &case, w * 1.02, 30.0), vec![], "{name}");
        assert_eq!(step(&mut m, &case, w * 0.98, 35.0), vec![], "{name}");
        assert_eq!(step(&mut m, &case, w * 1.02, 40.0), vec![], "{name}");
        assert_eq!(step(&mut m, &case, w * 1.02, 45.0), vec![], "{name}");
        let raised = step(&mut m, &case, w * 1.02, 50.0);
        let [AlertChange::Raised(alert)] = raised.as_slice() else {
            panic!("{name}: expected a raise at 50s, got {raised:?}");
        };
        let id = alert.id.clone();
        assert_eq!(alert.severity, Severity::Warning, "{name}");
        assert_eq!(alert.status, Status::Active, "{name}");
        assert_eq!(alert.subject, case.subject, "{name}");
        assert_eq!(alert.detected_at, t(50.0), "{name}");
        assert_eq!(alert.detected_at_wall, wall(), "{name}");
        let ev = &alert.evidence;
        assert_eq!(ev.threshold, w, "{name}");
        assert_eq!(ev.unit, case.unit, "{name}");
        assert_eq!(ev.for_ms, 10_000, "{name}");
        assert_eq!(ev.data_at, t(50.0), "{name}");
        assert!(
            (ev.observed - w * 1.02).abs() <= w * 1e-3,
            "{name}: observed {} for {}",
            ev.observed,
            w * 1.02
        );
        assert!(ev.message.contains(case.says), "{name}: {}", ev.message);
        assert!(ev.message.contains("(warning at "), "{name}: {}", ev.message);
        assert!(!ev.source.is_empty(), "{name}");

        // Critical: escalates after `for`, never before.
        assert_eq!(step(&mut m, &case, c * 1.02, 55.0), vec![], "{name}");
        assert_eq!(step(&mut m, &case, c * 1.02, 60.0), vec![], "{name}");
        let escalated = step(&mut m, &case, c * 1.02, 65.0);
        let [AlertChange::Escalated(alert)] = escalated.as_slice() else {
            panic!("{name}: expected an escalation at 65s, got {escalated:?}");
        };
        assert_eq!(alert.id, id, "{name}");
        assert_eq!(alert.severity, Severity::Critical, "{name}");
        assert_eq!(alert.evidence.threshold, c, "{name}");
        assert!(
            alert.evidence.message.contains("(critical at"),
            "{name}: {}",
            alert.evidence.message
        );
        assert_eq!(alert.detected_at, t(50.0), "{name}");
        assert_eq!(alert.updated_at, t(65.0), "{name}");

        // Between the resolution band and the warning: stays open, no change.
        let between = w * (1.0 - h / 2.0);
        for s in (70..=130).step_by(5) {
            assert_eq!(
                step(&mut m, &case, between, f64::from(s)),
                vec![],
                "{name}: held at {s}s"
            );
        }
        let mine = |m: &Monitor| {
            m.open_alerts()
                .into_iter()
                .filter(|a| a.kind == case.kind && a.subject == case.subject)
                .collect::<Vec<_>>()
        };
        assert_eq!(mine(&m).len(), 1, "{name}");
        assert_eq!(
            mine(&m)[0].severity,
            Severity::Critical,
            "{name}: severity never drops"
        );

        // Below the resolution band for `for`: resolved.
        let below = w * (1.0 - h) * 0.95;
        assert_eq!(step(&mut m, &case, below, 135.0), vec![], "{name}");
        assert_eq!(step(&mut m, &case, below, 140.0), vec![], "{name}");
        let resolved = step(&mut m, &case, below, 145.0);
        let [AlertChange::Resolved(alert)] = resolved.as_slice() else {
            panic!("{name}: expected a resolution at 145s, got {resolved:?}");
        };
        assert_eq!(alert.status, Status::Resolved, "{name}");
        assert_eq!(alert.resolved_at, Some(t(145.0)), "{name}");
        assert!(mine(&m).is_empty(), "{name}");

        // A new breach is a new alert.
        step(&mut m, &case, c * 1.02, 150.0);
        step(&mut m, &case, c * 1.02, 155.0);
        let again = step(&mut m, &case, c * 1.02, 160.0);
        let [AlertChange::Raised(alert)] = again.as_slice() else {
            panic!("{name}: expected a second raise, got {again:?}");
        };
        let number = |id: &str| id.trim_start_matches("alert-").parse::<u64>().unwrap_or(0);
        assert!(number(&alert.id) > number(&id), "{name}");
        assert!(m.next_id() > number(&alert.id), "{name}");
        assert_eq!(
            alert.severity,
            Severity::Critical,
            "{name}: raised at the current level"
        );
    }
}

#[test]
fn with_for_zero_every_rule_raises_at_the_first_breaching_evaluation_and_resolves_at_once() {
    for case in cases() {
        let name = format!("{} {}", case.kind.as_str(), case.subject.key());
        let mut m = monitor(&case, Duration::ZERO);
        let (w, _, h) = bands(&m, case.kind);
        assert_eq!(step(&mut m, &case, w * 0.999, 0.0), vec![], "{name}");
        let raised = step(&mut m, &case, w * 1.001, 1.0);
        assert!(
            matches!(raised.as_slice(), [AlertChange::Raised(_)]),
            "{name}: {raised:?}"
        );
        let resolved = step(&mut m, &case, w * (1.0 - h) * 0.99, 2.0);
        assert!(
            matches!(resolved.as_slice(), [AlertChange::Resolved(_)]),
            "{name}: {resolved:?}"
        );
    }
}

mod one_rule;
