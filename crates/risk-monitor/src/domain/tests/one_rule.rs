//! One rule or one mechanism at a time: stale data, order rate, venue health, settlements,
//! divergence, lifecycle, restore, equity marks, summary, ordering.

use super::*;

#[test]
fn stale_data_measures_time_without_a_new_price_and_time_frozen() {
    let mut m = Monitor::new(vec![E.into()], only(RuleKind::StaleData, Duration::ZERO));
    // Defaults: no_update 30 s / 120 s, frozen 300 s / 900 s; USDT-USD exempt from frozen.
    m.observe(price(MD, "BTC-USD", 100.0, t(0.0)));
    m.observe(price(MD, "USDT-USD", 1.0, t(0.0)));
    assert_eq!(m.evaluate(t(29.0), wall()), vec![]);
    let raised = m.evaluate(t(31.0), wall());
    let subjects: Vec<_> = raised.iter().map(|c| c.alert().subject.key()).collect();
    assert_eq!(
        subjects,
        [
            "venue=market-data-A symbol=BTC-USD measure=no_update",
            "venue=market-data-A symbol=USDT-USD measure=no_update"
        ]
    );
    let alert = raised[0].alert();
    assert_eq!(alert.severity, Severity::Warning);
    assert_eq!(alert.evidence.unit, "seconds");
    assert_eq!(alert.evidence.data_at, t(0.0));
    assert_eq!(alert.evidence.source, MD);
    assert_eq!(
        alert.evidence.message,
        "market-data-A has published no new BTC-USD price for 31 s (warning at 30 s)"
    );
    // A repeated sequence is no news.
    m.observe(Observation::Price(PriceTick {
        source: MD.into(),
        symbol: "BTC-USD".into(),
        price: 100.0,
        sequence: 1,
        at: t(100.0),
    }));
    let escalated = m.evaluate(t(121.0), wall());
    assert_eq!(escalated.len(), 2);
    assert!(
        escalated
            .iter()
            .all(|c| matches!(c, AlertChange::Escalated(a) if a.severity == Severity::Critical))
    );

    // New sequences at the same price: no_update resolves (below 30 × 0.9), frozen keeps counting.
    for s in (130..=400).step_by(10) {
        m.observe(price(MD, "BTC-USD", 100.0, t(f64::from(s))));
        m.observe(price(MD, "USDT-USD", 1.0, t(f64::from(s))));
        let changes = m.evaluate(t(f64::from(s)), wall());
        if s == 130 {
            assert_eq!(changes.len(), 2, "{changes:?}");
            assert!(changes.iter().all(|c| matches!(c, AlertChange::Resolved(_))));
        } else if s == 300 {
            let [AlertChange::Raised(a)] = changes.as_slice() else {
                panic!("frozen at 300s: {changes:?}")
            };
            assert_eq!(
                a.subject.key(),
                "venue=market-data-A symbol=BTC-USD measure=frozen"
            );
            assert_eq!(
                a.evidence.message,
                "market-data-A's BTC-USD price has stayed at 100 for 300 s (warning at 300 s)"
            );
        } else {
            assert_eq!(changes, vec![], "at {s}s");
        }
    }
    // The price moves: frozen resolves.
    m.observe(price(MD, "BTC-USD", 101.0, t(405.0)));
    let changes = m.evaluate(t(405.0), wall());
    assert!(
        matches!(changes.as_slice(), [AlertChange::Resolved(a)] if a.subject.measure.as_deref() == Some("frozen"))
    );
}

#[test]
fn order_rate_counts_new_orders_of_every_exchange_over_the_window() {
    let mut m = Monitor::new(vec![E.into()], only(RuleKind::OrderRate, Duration::ZERO));
    // Defaults: 10 s window, 50/s warning, 200/s critical, hysteresis 0.2.
    let burst = |m: &mut Monitor, venue: &str, from: u32, n: u32, at: f64| {
        let new = (from..from + n)
            .map(|i| order(format!("{venue}-{i}"), "NEW", t(at - 0.5)))
            .collect();
        m.observe(orders(venue, new, t(at)));
    };
    burst(&mut m, OKX, 0, 240, 1.0);
    burst(&mut m, "exchange-Binance", 0, 249, 1.0);
    assert_eq!(m.evaluate(t(1.0), wall()), vec![], "48.9/s is under 50/s");
    // The same orders seen again count once.
    burst(&mut m, OKX, 0, 240, 2.0);
    assert_eq!(m.evaluate(t(2.0), wall()), vec![]);
    burst(&mut m, OKX, 240, 11, 3.0);
    let raised = m.evaluate(t(3.0), wall());
    let [AlertChange::Raised(a)] = raised.as_slice() else {
        panic!("{raised:?}")
    };
    assert_eq!(a.subject, subject(&[("entity", E)]));
    assert_eq!(a.evidence.unit, "per_second");
    assert_eq!(a.evidence.window_ms, Some(10_000));
    assert_eq!(a.evidence.source, OKX, "the exchange with most orders");
    assert_eq!(
        a.evidence.message,
        "trading-system-LH sends 50.0 orders/s (warning at 50/s over 10s)"
    );
    assert_eq!(m.last_checks(), 1);
    // Once the burst leaves the window the rate is 0: resolved.
    let resolved = m.evaluate(t(11.0), wall());
    assert!(
        matches!(resolved.as_slice(), [AlertChange::Resolved(_)]),
        "{resolved:?}"
    );
    // Orders of entities not monitored are ignored.
    let other = (0..5000)
        .map(|i| order(format!("x-{i}"), "NEW", t(19.0)))
        .collect();
    m.observe(Observation::Orders(OrderActivity {
        entity: "someone-else".into(),
        venue: OKX.into(),
        new: other,
        open: vec![],
        at: t(20.0),
    }));
    assert_eq!(m.evaluate(t(20.0), wall()), vec![]);
}

#[test]
fn venue_health_counts_errors_rejects_and_silence() {
    let mut m = Monitor::new(vec![E.into()], only(RuleKind::VenueHealth, Duration::ZERO));
    // Defaults: 30 s window, errors 0.2 / 0.5, rejects 0.5 / 0.9 from 20 orders.
    for i in 0..10 {
        let outcome = if i < 2 { Outcome::Unavailable } else { Outcome::Ok };
        m.observe(request(OKX, outcome, 10, t(f64::from(i))));
    }
    let raised = m.evaluate(t(10.0), wall());
    let [AlertChange::Raised(a)] = raised.as_slice() else {
        panic!("{raised:?}")
    };
    assert_eq!(a.subject, subject(&[("venue", OKX), ("measure", "errors")]));
    assert_eq!(a.evidence.observed, 0.2);
    assert_eq!(
        a.evidence.message,
        "exchange-OKX failed 2 of 10 of the monitor's requests (20.0%) over 30s (warning at 20.0%)"
    );
    // 19 orders, all rejected: too few to count; the 20th makes it.
    let new = (0..19)
        .map(|i| order(format!("o-{i}"), "REJECTED", t(10.0)))
        .collect();
    m.observe(orders(OKX, new, t(11.0)));
    m.observe(request(OKX, Outcome::Unavailable, 10, t(11.0)));
    assert_eq!(m.evaluate(t(11.0), wall()), vec![]);
    m.observe(orders(OKX, vec![order("o-19".into(), "NEW", t(11.5))], t(12.0)));
    let raised = m.evaluate(t(12.0), wall());
    let [AlertChange::Raised(a)] = raised.as_slice() else {
        panic!("{raised:?}")
    };
    assert_eq!(a.subject, subject(&[("venue", OKX), ("measure", "rejects")]));
    assert_eq!(a.severity, Severity::Critical, "19 of 20 rejected");
    // Silence: no request at all in the window is failure.
    let changes = m.evaluate(t(100.0), wall());
    let escalated: Vec<_> = changes
        .iter()
        .filter(|c| matches!(c, AlertChange::Escalated(_)))
        .collect();
    assert_eq!(escalated.len(), 1, "{changes:?}");
    assert_eq!(escalated[0].alert().subject.measure.as_deref(), Some("errors"));
    assert!(escalated[0].alert().evidence.message.contains("answered none"));
    let summary = m.summary(t(100.0));
    assert_eq!(summary.venues.len(), 1);
    assert!(!summary.venues[0].up);
    assert_eq!(summary.venues[0].error_ratio, 1.0);
}

#[test]
fn overdue_settlements_count_from_the_oldest_due_time() {
    let mut m = Monitor::new(vec![E.into()], only(RuleKind::UnsettledExposure, Duration::ZERO));
    let s = |id: &str, due: f64| PendingSettlement {
        id: id.into(),
        legs: vec![("USD".into(), 10.0)],
        created_at: t(0.0),
        due_at: t(due),
    };
    m.observe(settlements(
        vec![s("a", 100.0), s("b", 50.0), s("c", 1000.0)],
        t(100.0),
    ));
    assert_eq!(m.evaluate(t(109.0), wall()), vec![], "59 s past due");
    let raised = m.evaluate(t(111.0), wall());
    let [AlertChange::Raised(a)] = raised.as_slice() else {
        panic!("{raised:?}")
    };
    assert_eq!(
        a.subject,
        subject(&[("entity", E), ("venue", CUST), ("measure", "overdue")])
    );
    assert_eq!(a.evidence.observed, 61.0);
    assert_eq!(a.evidence.data_at, t(100.0));
    // Settled: the list is empty.
    m.observe(settlements(vec![], t(120.0)));
    let resolved = m.evaluate(t(120.0), wall());
    assert!(
        matches!(resolved.as_slice(), [AlertChange::Resolved(_)]),
        "{resolved:?}"
    );
}

#[test]
fn divergence_skips_points_older_than_the_stale_warning() {
    let mut m = Monitor::new(vec![E.into()], only(RuleKind::PriceDivergence, Duration::ZERO));
    m.observe(price(MD, "BTC-USD", 100.0, t(0.0)));
    m.observe(price(MD2, "BTC-USD", 110.0, t(0.0)));
    assert_eq!(m.evaluate(t(31.0), wall()), vec![]);
    assert_eq!(m.last_checks(), 0);
    let raised = m.evaluate(t(30.0), wall());
    assert!(matches!(raised.as_slice(), [AlertChange::Raised(a)] if a.severity == Severity::Critical));
    // An explicit reference turns the comparison around.
    let mut limits = m.limits().clone();
    limits.price_divergence.reference = Some(MD2.into());
    m.set_limits(limits);
    let changes = m.evaluate(t(30.0), wall());
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].alert().subject.venue.as_deref(), Some(MD));
}

#[test]
fn a_price_within_the_reference_range_over_the_lag_does_not_diverge() {
    let mut m = Monitor::new(vec![E.into()], only(RuleKind::PriceDivergence, Duration::ZERO));
    // The reference drops 5 % in a few seconds; a venue still quoting the old price is late, not
    // divergent, while the old price is within the lag (30 s by default).
    m.observe(price(MD, "BTC-USD", 100.0, t(0.0)));
    m.observe(price(MD, "BTC-USD", 97.0, t(2.0)));
    m.observe(price(MD, "BTC-USD", 95.0, t(4.0)));
    let book = |mid: f64, at: OffsetDateTime| {
        Observation::Book(BookTop {
            venue: OKX.into(),
            symbol: "BTC-USD".into(),
            bid: Some(mid - 0.01),
            ask: Some(mid + 0.01),
            at,
        })
    };
    m.observe(book(100.0, t(5.0)));
    assert_eq!(m.evaluate(t(5.0), wall()), vec![]);
    assert_eq!(m.last_checks(), 1, "the venue is checked, and found within range");
    // Still at the old price once every reference price of the lag is 95: 526 bps away.
    m.observe(price(MD, "BTC-USD", 95.0, t(40.0)));
    m.observe(book(100.0, t(40.0)));
    let raised = m.evaluate(t(40.0), wall());
    assert!(
        matches!(raised.as_slice(), [AlertChange::Raised(a)] if a.severity == Severity::Critical
            && a.subject.venue.as_deref() == Some(OKX)),
        "{raised:?}"
    );
    // Below the reference's range, the distance is to its low.
    let mut m = Monitor::new(vec![E.into()], only(RuleKind::PriceDivergence, Duration::ZERO));
    m.observe(price(MD, "BTC-USD", 100.0, t(0.0)));
    m.observe(price(MD, "BTC-USD", 101.0, t(1.0)));
    m.observe(book(99.5, t(1.0)));
    assert_eq!(
        m.evaluate(t(1.0), wall()),
        vec![],
        "50 bps below the low: under the warning"
    );
}

#[test]
fn holdings_first_seen_at_another_venue_later_are_capital_not_profit() {
    let mut m = Monitor::new(vec![E.into()], Limits::default());
    m.observe(price(MD, "BTC-USD", 100.0, t(0.0)));
    m.observe(holdings(OKX, &[("BTC", 10.0), ("USD", 1000.0)], t(0.0)));
    m.evaluate(t(0.0), wall());
    // Funding arriving while the book is learnt (30 s and 2 s of wall time) is capital.
    m.observe(holdings(OKX, &[("BTC", 10.0), ("USD", 2000.0)], t(5.0)));
    m.evaluate(t(5.0), wall() + Duration::seconds(5));
    assert_eq!(m.summary(t(5.0)).entities[0].pnl_usd, 0.0);
    m.evaluate(t(31.0), wall() + Duration::seconds(31));
    // The custodian answers later: its holdings raise equity, not P&L, and not the drawdown base.
    m.observe(holdings(CUST, &[("USD", 5000.0)], t(40.0)));
    m.evaluate(t(40.0), wall() + Duration::seconds(40));
    let entity = &m.summary(t(40.0)).entities[0];
    assert!((entity.equity_usd - 8000.0).abs() < 1e-9, "{entity:?}");
    assert!(entity.pnl_usd.abs() < 1e-9, "{entity:?}");
    assert!(entity.daily_pnl_usd.abs() < 1e-9, "{entity:?}");
    // A real move is profit.
    m.observe(price(MD, "BTC-USD", 110.0, t(41.0)));
    m.evaluate(t(41.0), wall() + Duration::seconds(41));
    let entity = &m.summary(t(41.0)).entities[0];
    assert!((entity.pnl_usd - 100.0).abs() < 1e-9, "{entity:?}");
    assert_eq!(m.marks()[0].venues.len(), 2);
}

#[test]
fn a_slow_poll_at_a_fast_clock_is_not_silence() {
    let mut m = Monitor::new(vec![E.into()], only(RuleKind::VenueHealth, Duration::ZERO));
    // One look every 50 simulated seconds (a 1000x clock), a 30 s window.
    m.set_poll_interval(Duration::seconds(50));
    for i in 0..4 {
        let at = t(50.0 * f64::from(i));
        m.observe(request(OKX, Outcome::Ok, 1, at));
        assert_eq!(m.evaluate(at + Duration::seconds(45), wall()), vec![]);
    }
    // Three looks missed: silence is failure.
    let raised = m.evaluate(t(150.0 + 151.0), wall());
    assert!(
        matches!(raised.as_slice(), [AlertChange::Raised(a)] if a.subject.measure.as_deref() == Some("errors")),
        "{raised:?}"
    );
}

#[test]
fn a_disabled_kind_resolves_its_open_alerts_and_a_vanished_subject_keeps_its_alert() {
    let mut m = Monitor::new(vec![E.into()], only(RuleKind::StablecoinDepeg, Duration::ZERO));
    m.observe(price(MD, "USDT-USD", 0.9, t(0.0)));
    assert_eq!(m.evaluate(t(0.0), wall()).len(), 1);
    // The reference source switches to one without USDT: no data, the alert stays.
    let mut limits = m.limits().clone();
    limits.price_divergence.reference = Some(MD2.into());
    m.set_limits(limits.clone());
    assert_eq!(m.evaluate(t(1.0), wall()), vec![]);
    assert_eq!(m.open_alerts().len(), 1);
    limits.set_enabled(RuleKind::StablecoinDepeg, false);
    m.set_limits(limits);
    let changes = m.evaluate(t(2.0), wall());
    assert!(matches!(changes.as_slice(), [AlertChange::Resolved(a)] if a.resolved_at == Some(t(2.0))));
    assert!(m.open_alerts().is_empty());
}

#[test]
fn acknowledged_alerts_stay_acknowledged_and_resolve_the_same_way() {
    let mut m = Monitor::new(vec![E.into()], only(RuleKind::StablecoinDepeg, Duration::ZERO));
    m.observe(price(MD, "USDT-USD", 0.99, t(0.0)));
    m.evaluate(t(0.0), wall());
    assert_eq!(
        m.acknowledge("alert-9", t(1.0)),
        Err(crate::domain::monitor::AckError::NotOpen("alert-9".into()))
    );
    let AlertChange::Acknowledged(a) = m.acknowledge("alert-1", t(1.0)).unwrap() else {
        panic!("not an acknowledgement")
    };
    assert_eq!(
        (a.status, a.acknowledged_at, a.updated_at),
        (Status::Acknowledged, Some(t(1.0)), t(1.0))
    );
    // Again: nothing changes.
    let again = m.acknowledge("alert-1", t(2.0)).unwrap();
    assert_eq!(again.alert().acknowledged_at, Some(t(1.0)));
    // Escalation keeps it acknowledged.
    m.observe(price(MD, "USDT-USD", 0.97, t(3.0)));
    let changes = m.evaluate(t(3.0), wall());
    assert!(matches!(changes.as_slice(), [AlertChange::Escalated(a)] if a.status == Status::Acknowledged));
    m.observe(price(MD, "USDT-USD", 1.0, t(4.0)));
    let changes = m.evaluate(t(4.0), wall());
    assert!(
        matches!(changes.as_slice(), [AlertChange::Resolved(a)] if a.status == Status::Resolved && a.acknowledged_at == Some(t(1.0)))
    );
    assert!(
        m.acknowledge("alert-1", t(5.0)).is_err(),
        "a resolved alert is not open"
    );
}

#[test]
fn restore_takes_back_open_alerts_ids_and_marks() {
    let mut m = Monitor::new(vec![E.into()], only(RuleKind::StablecoinDepeg, Duration::ZERO));
    m.observe(price(MD, "USDT-USD", 0.99, t(0.0)));
    m.observe(holdings(CUST, &[("USD", 1000.0)], t(0.0)));
    m.evaluate(t(0.0), wall());
    let (open, next, marks) = (m.open_alerts(), m.next_id(), m.marks());
    assert_eq!(next, 2);
    assert_eq!(marks.len(), 1);
    assert_eq!(marks[0].peak_usd, 1000.0);

    let mut back = Monitor::new(vec![E.into()], only(RuleKind::StablecoinDepeg, Duration::ZERO));
    back.restore(open.clone(), next, marks.clone());
    assert_eq!(back.open_alerts(), open);
    assert_eq!(back.marks(), marks);
    // The still-breaching pair does not raise again; a new pair gets the next number.
    back.observe(price(MD, "USDT-USD", 0.99, t(1.0)));
    back.observe(price(MD, "USDC-USD", 0.9, t(1.0)));
    let mut limits = back.limits().clone();
    limits.stablecoin_depeg.pegs.insert("USDC-USD".into(), 1.0);
    back.set_limits(limits);
    let changes = back.evaluate(t(1.0), wall());
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0].alert().id, "alert-2");
    assert_eq!(changes[0].alert().subject.symbol.as_deref(), Some("USDC-USD"));
}

#[test]
fn equity_marks_follow_peak_and_the_simulated_day() {
    let mut m = Monitor::new(vec![E.into()], only(RuleKind::DailyLoss, Duration::ZERO));
    m.set_warm_up(Duration::ZERO, Duration::ZERO);
    m.observe(price(MD, "BTC-USD", 100_000.0, t(0.0)));
    m.observe(holdings(OKX, &[("BTC", 100.0), ("USD", 1_000_000.0)], t(0.0)));
    m.observe(holdings(CUST, &[("SOL", 1.0)], t(0.0)));
    m.evaluate(t(0.0), wall());
    assert!(m.marks().is_empty(), "SOL has no price: no equity yet");
    m.observe(price(MD, "SOL-USDT", 100.0, t(1.0)));
    m.observe(price(MD, "USDT-USD", 0.5, t(1.0)));
    m.evaluate(t(1.0), wall());
    let marks = m.marks();
    assert_eq!(marks[0].first_usd, 11_000_050.0, "SOL through USDT");
    m.observe(price(MD, "BTC-USD", 50_000.0, t(2.0)));
    let changes = m.evaluate(t(2.0), wall());
    assert!(
        matches!(changes.as_slice(), [AlertChange::Raised(a)] if a.severity == Severity::Critical && a.evidence.observed == 5_000_000.0)
    );
    let summary = m.summary(t(2.0));
    let e = &summary.entities[0];
    assert_eq!(e.equity_usd, 6_000_050.0);
    assert_eq!(e.peak_equity_usd, 11_000_050.0);
    assert_eq!(e.pnl_usd, -5_000_000.0);
    assert_eq!(e.daily_pnl_usd, -5_000_000.0);
    assert_eq!(e.gross_usd, 5_000_050.0);
    assert_eq!(e.exposure.len(), 2);
    assert_eq!(e.exposure[0].asset, "BTC");
    // The next simulated day starts from the equity of its first evaluation: the loss is gone.
    let tomorrow = t(86_400.0);
    let changes = m.evaluate(tomorrow, wall());
    assert!(
        matches!(changes.as_slice(), [AlertChange::Resolved(_)]),
        "{changes:?}"
    );
    assert_eq!(m.marks()[0].day_start_usd, 6_000_050.0);
    assert_eq!(m.marks()[0].day, tomorrow.date());
}

#[test]
fn summary_reports_data_age_pegs_and_every_entity() {
    let mut m = Monitor::new(vec![E.into(), "desk-2".into()], Limits::default());
    m.observe(price(MD, "USDT-USD", 0.998, t(0.0)));
    m.observe(price(MD, "BTC-USD", 100.0, t(0.0)));
    m.observe(price(MD, "BTC-USD", 100.0, t(5.0)));
    let s = m.summary(t(8.0));
    assert_eq!(s.at, t(8.0));
    assert_eq!(
        s.entities.iter().map(|e| e.entity.as_str()).collect::<Vec<_>>(),
        ["desk-2", E]
    );
    assert_eq!(s.data.len(), 2);
    assert_eq!(
        (
            s.data[0].symbol.as_str(),
            s.data[0].age_seconds,
            s.data[0].unchanged_seconds
        ),
        ("BTC-USD", 3.0, 8.0)
    );
    assert_eq!(s.pegs.len(), 1);
    assert!((s.pegs[0].deviation + 0.002).abs() < 1e-12);
    let json = serde_json::to_value(&s).unwrap();
    assert!(json["pegs"][0]["deviation"].is_number());
    assert!(json["entities"][0]["order_rate"].is_number());
}

#[test]
fn changes_come_in_kind_then_subject_order() {
    let mut limits = Limits::default();
    for k in RuleKind::ALL {
        *limits.rule_mut(k).1 = Duration::ZERO;
    }
    let mut m = Monitor::new(vec![E.into()], limits);
    m.observe(price(MD, "USDT-USD", 0.9, t(0.0)));
    m.observe(price(MD, "BTC-USD", 100_000.0, t(0.0)));
    m.observe(price(MD2, "BTC-USD", 150_000.0, t(0.0)));
    m.observe(holdings(OKX, &[("BTC", 1000.0)], t(0.0)));
    let changes = m.evaluate(t(0.0), wall());
    let keys: Vec<_> = changes
        .iter()
        .map(|c| (c.alert().kind, c.alert().subject.clone()))
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    let kinds: Vec<_> = keys.iter().map(|(k, _)| *k).collect();
    for kind in [
        RuleKind::PositionLimit,
        RuleKind::Exposure,
        RuleKind::Concentration,
        RuleKind::StablecoinDepeg,
        RuleKind::PriceDivergence,
    ] {
        assert!(kinds.contains(&kind), "{kind:?} in {kinds:?}");
    }
    let ids: Vec<_> = changes.iter().map(|c| c.alert().id.clone()).collect();
    assert_eq!(ids.first().map(String::as_str), Some("alert-1"));
    assert!(m.last_checks() >= changes.len() as u64);
}
