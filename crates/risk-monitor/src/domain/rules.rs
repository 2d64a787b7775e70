//! The rules: each turns the view (and the equity marks) into checks — one value per rule kind
//! and subject, with the bands it is held against and the data point behind it. The monitor runs
//! the alert state machine over the checks; this module only measures.

use std::collections::BTreeMap;

use time::{Duration, OffsetDateTime};

use super::{
    alert::{RuleKind, Severity, Subject},
    limits::{Bands, Limits},
    monitor::EquityMark,
    view::{USD, View},
};

/// One rule's value for one subject at one evaluation.
#[derive(Clone, Debug, PartialEq)]
pub struct Check {
    /// The rule kind.
    pub kind: RuleKind,
    /// What it is about.
    pub subject: Subject,
    /// The value (higher is worse).
    pub value: f64,
    /// Its warning and critical thresholds.
    pub bands: Bands,
    /// The unit of `value`: `usd`, `ratio`, `bps`, `seconds`, `ms`, `per_second`.
    pub unit: &'static str,
    /// The window the value was measured over, if any.
    pub window: Option<Duration>,
    /// The venue or source behind the value.
    pub source: String,
    /// Simulated time of the data point behind the value.
    pub data_at: OffsetDateTime,
    /// Kind-specific figures for the message (see [`Check::message`]).
    pub context: [f64; 3],
}

/// The equity of an entity, with the newest holdings behind it.
#[derive(Clone, Debug, PartialEq)]
pub struct Equity {
    /// Every holding marked to the reference prices, USD.
    pub usd: f64,
    /// The venue of the newest holdings.
    pub venue: String,
    /// Simulated time of the newest holdings.
    pub at: OffsetDateTime,
}

/// One asset of one entity, every venue together, marked to market.
#[derive(Clone, Debug, PartialEq)]
pub struct Marked {
    /// The asset.
    pub asset: String,
    /// Quantity, every venue together.
    pub quantity: f64,
    /// Quantity × USD price.
    pub usd: f64,
}

/// USD prices of assets at the reference source, looked up once per evaluation.
#[derive(Debug, Default)]
pub struct Prices {
    cache: std::cell::RefCell<BTreeMap<String, Option<f64>>>,
    reference: Option<String>,
}

impl Prices {
    /// The price table of `view` at its reference source.
    pub fn new(view: &View, limits: &Limits) -> Self {
        Self {
            cache: std::cell::RefCell::default(),
            reference: view
                .reference(limits.price_divergence.reference.as_deref())
                .map(str::to_owned),
        }
    }

    /// The reference source.
    pub fn reference(&self) -> Option<&str> {
        self.reference.as_deref()
    }

    /// The USD price of `asset`, if known.
    pub fn usd(&self, view: &View, asset: &str) -> Option<f64> {
        if asset == USD {
            return Some(1.0);
        }
        if let Some(p) = self.cache.borrow().get(asset) {
            return *p;
        }
        let p = view.usd_price(self.reference(), asset);
        self.cache.borrow_mut().insert(asset.to_owned(), p);
        p
    }
}

/// The priced assets (USD left out) of `entity`, every venue together, and the newest holdings
/// behind them; `None` if no venue reported holdings of the entity.
pub fn exposure(view: &View, prices: &Prices, entity: &str) -> Option<(Vec<Marked>, String, OffsetDateTime)> {
    let (quantities, newest) = view.quantities(entity);
    let (venue, at) = newest?;
    let marked = quantities
        .into_iter()
        .filter(|(asset, _)| *asset != USD)
        .filter_map(|(asset, quantity)| {
            let px = prices.usd(view, asset)?;
            Some(Marked {
                asset: asset.to_owned(),
                quantity,
                usd: quantity * px,
            })
        })
        .collect();
    Some((marked, venue.to_owned(), at))
}

/// The equity of `entity`: every asset at every venue, USD included, marked to the reference
/// prices; `None` until every asset it holds has a price (or if nothing reported holdings).
pub fn equity(view: &View, prices: &Prices, entity: &str) -> Option<Equity> {
    let (quantities, newest) = view.quantities(entity);
    let (venue, at) = newest?;
    let mut usd = 0.0;
    for (asset, qty) in quantities {
        if qty == 0.0 {
            continue;
        }
        usd += qty * prices.usd(view, asset)?;
    }
    Some(Equity {
        usd,
        venue: venue.to_owned(),
        at,
    })
}

/// Gross and net (signed) USD of marked assets.
pub fn gross_net(marked: &[Marked]) -> (f64, f64) {
    marked
        .iter()
        .fold((0.0, 0.0), |(g, n), m| (g + m.usd.abs(), n + m.usd))
}

fn subject() -> Subject {
    Subject::default()
}

fn seconds(d: Duration) -> f64 {
    d.as_seconds_f64().max(0.0)
}

#[allow(clippy::cast_precision_loss)]
fn count(n: usize) -> f64 {
    n as f64
}

/// Everything the rules need besides the view.
pub struct Inputs<'a> {
    /// The limits in force.
    pub limits: &'a Limits,
    /// Asset prices.
    pub prices: &'a Prices,
    /// The equity of each entity that has one now.
    pub equity: &'a BTreeMap<String, Equity>,
    /// The equity marks (peak, day start) after this evaluation's equity.
    pub marks: &'a BTreeMap<String, EquityMark>,
    /// Simulated time of the evaluation.
    pub now: OffsetDateTime,
    /// Simulated time between two looks at a venue (see [`venue_window`]).
    pub poll_interval: Duration,
}

/// The window venue health is measured over: the configured one, but at least three looks at a
/// venue as they are paced (the collectors' cadence, and the longest recent gap between two
/// requests), so a fast clock or a loaded machine (a look every many simulated seconds) is not
/// mistaken for silence.
pub fn venue_window(window: Duration, poll_interval: Duration, longest_gap: Duration) -> Duration {
    window.max(poll_interval * 3).max(longest_gap * 3)
}

/// The checks of one enabled rule kind.
pub fn checks(kind: RuleKind, view: &View, inputs: &Inputs<'_>, out: &mut Vec<Check>) {
    match kind {
        RuleKind::PositionLimit => position_limit(view, inputs, out),
        RuleKind::Exposure | RuleKind::Concentration => exposure_and_concentration(kind, view, inputs, out),
        RuleKind::Drawdown | RuleKind::DailyLoss => drawdown(kind, inputs, out),
        RuleKind::StablecoinDepeg => depeg(view, inputs, out),
        RuleKind::PriceDivergence => divergence(view, inputs, out),
        RuleKind::StaleData => stale(view, inputs, out),
        RuleKind::VenueHealth => venue_health(view, inputs, out),
        RuleKind::OrderRate => order_rate(view, inputs, out),
        RuleKind::UnsettledExposure => unsettled(view, inputs, out),
    }
}

/// context: [usd notional, limit, 0].
fn position_limit(view: &View, inputs: &Inputs<'_>, out: &mut Vec<Check>) {
    let limits = &inputs.limits.position_limit;
    for ((entity, venue), holdings) in &view.holdings {
        let mut per_asset = BTreeMap::<&str, f64>::new();
        for (asset, qty) in &holdings.balances {
            if asset != USD {
                *per_asset.entry(asset.as_str()).or_default() += qty;
            }
        }
        for (asset, qty) in per_asset {
            let Some(px) = inputs.prices.usd(view, asset) else {
                continue;
            };
            let usd = qty * px;
            let limit = limits
                .per_asset
                .get(asset)
                .copied()
                .unwrap_or(limits.max_notional_usd);
            out.push(Check {
                kind: RuleKind::PositionLimit,
                subject: Subject {
                    entity: Some(entity.clone()),
                    venue: Some(venue.clone()),
                    asset: Some(asset.to_owned()),
                    ..subject()
                },
                value: usd.abs() / limit,
                bands: limits.utilisation,
                unit: "ratio",
                window: None,
                source: venue.clone(),
                data_at: holdings.at,
                context: [usd, limit, 0.0],
            });
        }
    }
}

/// exposure context: [usd, limit, 0]; concentration context: [usd, gross, 0].
fn exposure_and_concentration(kind: RuleKind, view: &View, inputs: &Inputs<'_>, out: &mut Vec<Check>) {
    for entity in view.entities() {
        let Some((marked, venue, at)) = exposure(view, inputs.prices, entity) else {
            continue;
        };
        let (gross, net) = gross_net(&marked);
        let check = |subject: Subject, value: f64, bands: Bands, context: [f64; 3]| Check {
            kind,
            subject,
            value,
            bands,
            unit: "ratio",
            window: None,
            source: venue.clone(),
            data_at: at,
            context,
        };
        if kind == RuleKind::Exposure {
            let l = &inputs.limits.exposure;
            for (measure, usd, limit) in [("gross", gross, l.max_gross_usd), ("net", net, l.max_net_usd)] {
                let subject = Subject {
                    entity: Some(entity.clone()),
                    measure: Some(measure.to_owned()),
                    ..subject()
                };
                out.push(check(
                    subject,
                    usd.abs() / limit,
                    l.utilisation,
                    [usd, limit, 0.0],
                ));
            }
        } else if gross > 0.0 {
            let l = &inputs.limits.concentration;
            let bands = Bands {
                warning: l.warning,
                critical: l.critical,
            };
            for m in &marked {
                let subject = Subject {
                    entity: Some(entity.clone()),
                    asset: Some(m.asset.clone()),
                    ..subject()
                };
                out.push(check(subject, m.usd.abs() / gross, bands, [m.usd, gross, 0.0]));
            }
        }
    }
}

/// drawdown context: [equity, peak, 0]; daily_loss context: [equity, day start, 0].
fn drawdown(kind: RuleKind, inputs: &Inputs<'_>, out: &mut Vec<Check>) {
    for (entity, equity) in inputs.equity {
        let Some(mark) = inputs.marks.get(entity) else {
            continue;
        };
        let (value, bands, unit, reference) = if kind == RuleKind::Drawdown {
            if mark.peak_usd <= 0.0 {
                continue;
            }
            let l = &inputs.limits.drawdown;
            (
                ((mark.peak_usd - equity.usd) / mark.peak_usd).max(0.0),
                Bands {
                    warning: l.warning,
                    critical: l.critical,
                },
                "ratio",
                mark.peak_usd,
            )
        } else {
            let l = &inputs.limits.daily_loss;
            (
                mark.day_start_usd - equity.usd,
                Bands {
                    warning: l.warning_usd,
                    critical: l.critical_usd,
                },
                "usd",
                mark.day_start_usd,
            )
        };
        out.push(Check {
            kind,
            subject: Subject {
                entity: Some(entity.clone()),
                ..subject()
            },
            value,
            bands,
            unit,
            window: None,
            source: equity.venue.clone(),
            data_at: equity.at,
            context: [equity.usd, reference, 0.0],
        });
    }
}

/// context: [price, peg, 0].
fn depeg(view: &View, inputs: &Inputs<'_>, out: &mut Vec<Check>) {
    let l = &inputs.limits.stablecoin_depeg;
    let Some(reference) = inputs.prices.reference() else {
        return;
    };
    for (symbol, peg) in &l.pegs {
        let Some(p) = view.price_of(reference, symbol) else {
            continue;
        };
        let base = symbol.split_once('-').map_or(symbol.as_str(), |(b, _)| b);
        out.push(Check {
            kind: RuleKind::StablecoinDepeg,
            subject: Subject {
                asset: Some(base.to_owned()),
                symbol: Some(symbol.clone()),
                ..subject()
            },
            value: (p.price - peg).abs() / peg * 1e4,
            bands: Bands {
                warning: l.warning_bps,
                critical: l.critical_bps,
            },
            unit: "bps",
            window: None,
            source: reference.to_owned(),
            data_at: p.last_at,
            context: [p.price, *peg, 0.0],
        });
    }
}

/// context: [price or mid, reference price, 1 for a venue's mid else 0].
fn divergence(view: &View, inputs: &Inputs<'_>, out: &mut Vec<Check>) {
    let l = &inputs.limits.price_divergence;
    let Some(reference) = inputs.prices.reference() else {
        return;
    };
    let Some(refs) = view.prices.get(reference) else {
        return;
    };
    let max_age = inputs.limits.stale_data.max_age_seconds.warning;
    let fresh = |at: OffsetDateTime| seconds(inputs.now - at) <= max_age;
    let bands = Bands {
        warning: l.warning_bps,
        critical: l.critical_bps,
    };
    let mut push = |venue: &str, symbol: &str, price: f64, at: OffsetDateTime, r: f64, book: bool| {
        if r > 0.0 {
            out.push(Check {
                kind: RuleKind::PriceDivergence,
                subject: Subject {
                    venue: Some(venue.to_owned()),
                    symbol: Some(symbol.to_owned()),
                    ..subject()
                },
                value: (price - r).abs() / r * 1e4,
                bands,
                unit: "bps",
                window: None,
                source: venue.to_owned(),
                data_at: at,
                context: [price, r, if book { 1.0 } else { 0.0 }],
            });
        }
    };
    // The reference price a price is measured from: the nearest of the reference's prices over
    // the lag (none of them if it lies within their range), so a late follower is not divergent.
    let since = inputs.now - l.lag;
    let nearest = |r: &super::view::PricePoint, price: f64| {
        let (lo, hi) = r.range_since(since);
        price.clamp(lo, hi)
    };
    for (source, symbols) in &view.prices {
        if source == reference {
            continue;
        }
        for (symbol, p) in symbols {
            if let Some(r) = refs.get(symbol)
                && fresh(p.last_at)
                && fresh(r.last_at)
            {
                push(source, symbol, p.price, p.last_at, nearest(r, p.price), false);
            }
        }
    }
    for ((venue, symbol), top) in &view.books {
        let (Some(bid), Some(ask)) = (top.bid, top.ask) else {
            continue;
        };
        if bid <= 0.0 || ask <= 0.0 {
            continue;
        }
        if let Some(r) = refs.get(symbol)
            && fresh(top.at)
            && fresh(r.last_at)
        {
            let mid = (bid + ask) / 2.0;
            push(venue, symbol, mid, top.at, nearest(r, mid), true);
        }
    }
}

/// context: [price, 0, 0].
fn stale(view: &View, inputs: &Inputs<'_>, out: &mut Vec<Check>) {
    let l = &inputs.limits.stale_data;
    for (source, symbol, p) in view.all_prices() {
        let mut push = |measure: &str, value: f64, bands: Bands| {
            out.push(Check {
                kind: RuleKind::StaleData,
                subject: Subject {
                    venue: Some(source.to_owned()),
                    symbol: Some(symbol.to_owned()),
                    measure: Some(measure.to_owned()),
                    ..subject()
                },
                value,
                bands,
                unit: "seconds",
                window: None,
                source: source.to_owned(),
                data_at: p.last_at,
                context: [p.price, 0.0, 0.0],
            });
        };
        push("no_update", seconds(inputs.now - p.last_at), l.max_age_seconds);
        if !l.frozen_exempt.iter().any(|s| s == symbol) {
            push("frozen", seconds(inputs.now - p.changed_at), l.frozen_seconds);
        }
    }
}

/// errors context: [requests, failed, 0]; latency: [requests, 0, 0]; rejects: [orders, rejected, 0].
fn venue_health(view: &View, inputs: &Inputs<'_>, out: &mut Vec<Check>) {
    let l = &inputs.limits.venue_health;
    let now = inputs.now;
    let base = venue_window(l.window, inputs.poll_interval, Duration::ZERO);
    let mut push = |venue: &str, measure: &str, value: f64, bands: Bands, unit, at, context, window| {
        out.push(Check {
            kind: RuleKind::VenueHealth,
            subject: Subject {
                venue: Some(venue.to_owned()),
                measure: Some(measure.to_owned()),
                ..subject()
            },
            value,
            bands,
            unit,
            window: Some(window),
            source: venue.to_owned(),
            data_at: at,
            context,
        });
    };
    for (venue, requests) in &view.requests {
        let window = base.max(requests.longest_gap() * 3);
        let stats = view.request_stats(venue, now, window);
        if stats.count == 0 {
            // The collector keeps asking: no answer in the whole window is failure.
            if requests.last_at <= now {
                let at = requests.last_at;
                push(venue, "errors", 1.0, l.error_ratio, "ratio", at, [0.0; 3], window);
            }
            continue;
        }
        let at = stats.newest.unwrap_or(requests.last_at);
        let (n, bad) = (count(stats.count), count(stats.bad));
        push(
            venue,
            "errors",
            bad / n,
            l.error_ratio,
            "ratio",
            at,
            [n, bad, 0.0],
            window,
        );
        // Latency is a mean over the configured window alone (when it holds requests): a slow
        // look long ago says nothing of now.
        let recent = view.request_stats(venue, now, base);
        if recent.count > 0 {
            let at = recent.newest.unwrap_or(at);
            let (n, latency) = (count(recent.count), recent.mean_latency_ms);
            push(
                venue,
                "latency",
                latency,
                l.latency_ms,
                "ms",
                at,
                [n, 0.0, 0.0],
                base,
            );
        }
    }
    let mut venues: Vec<&str> = view.orders.keys().map(|(_, v)| v.as_str()).collect();
    venues.sort_unstable();
    venues.dedup();
    for venue in venues {
        let stats = view.order_stats(None, Some(venue), now, base);
        if stats.count >= l.min_orders as usize {
            let (n, bad) = (count(stats.count), count(stats.bad));
            let at = stats.newest.unwrap_or(now);
            push(
                venue,
                "rejects",
                bad / n,
                l.reject_ratio,
                "ratio",
                at,
                [n, bad, 0.0],
                base,
            );
        }
    }
}

/// context: [orders, window seconds, 0].
fn order_rate(view: &View, inputs: &Inputs<'_>, out: &mut Vec<Check>) {
    let l = &inputs.limits.order_rate;
    let window = seconds(l.window).max(1e-3);
    for entity in view.entities() {
        let mut total = 0usize;
        let mut top: Option<(&str, usize)> = None;
        let mut newest: Option<OffsetDateTime> = None;
        let mut seen = false;
        for ((e, venue), orders) in &view.orders {
            if e != entity {
                continue;
            }
            seen = true;
            let stats = view.order_stats(Some(e), Some(venue), inputs.now, l.window);
            total += stats.count;
            if top.is_none_or(|(_, n)| stats.count > n) {
                top = Some((venue, stats.count));
            }
            newest = newest.max(stats.newest).max(orders.at);
        }
        let (Some((venue, _)), true) = (top, seen) else {
            continue;
        };
        out.push(Check {
            kind: RuleKind::OrderRate,
            subject: Subject {
                entity: Some(entity.clone()),
                ..subject()
            },
            value: count(total) / window,
            bands: l.per_second,
            unit: "per_second",
            window: Some(l.window),
            source: venue.to_owned(),
            data_at: newest.unwrap_or(inputs.now).min(inputs.now),
            context: [count(total), window, 0.0],
        });
    }
}

/// The USD value of `entity`'s pending settlements at one custodian (Σ over instructions of
/// the largest |leg|) and how far past due the oldest overdue one is, in seconds (0 if none).
pub fn pending(
    view: &View,
    prices: &Prices,
    settlements: &super::observation::Settlements,
    now: OffsetDateTime,
) -> (f64, f64) {
    let usd = settlements
        .pending
        .iter()
        .map(|s| {
            s.legs
                .iter()
                .filter_map(|(asset, amount)| Some((amount * prices.usd(view, asset)?).abs()))
                .fold(0.0, f64::max)
        })
        .sum();
    let overdue = settlements
        .pending
        .iter()
        .filter(|s| s.due_at < now)
        .map(|s| s.due_at)
        .min()
        .map_or(0.0, |due| seconds(now - due));
    (usd, overdue)
}

/// context: [pending instructions, 0, 0].
fn unsettled(view: &View, inputs: &Inputs<'_>, out: &mut Vec<Check>) {
    let l = &inputs.limits.unsettled_exposure;
    for ((entity, custodian), s) in &view.settlements {
        let (usd, overdue) = pending(view, inputs.prices, s, inputs.now);
        for (measure, value, bands, unit) in [
            ("amount", usd, l.pending_usd, "usd"),
            ("overdue", overdue, l.overdue_seconds, "seconds"),
        ] {
            out.push(Check {
                kind: RuleKind::UnsettledExposure,
                subject: Subject {
                    entity: Some(entity.clone()),
                    venue: Some(custodian.clone()),
                    measure: Some(measure.to_owned()),
                    ..subject()
                },
                value,
                bands,
                unit,
                window: None,
                source: custodian.clone(),
                data_at: s.at,
                context: [count(s.pending.len()), 0.0, 0.0],
            });
        }
    }
}

/// `12,345,678` (rounded to whole units, thousands separated).
fn usd(x: f64) -> String {
    let rounded = format!("{:.0}", x.abs());
    let mut out = String::new();
    for (i, c) in rounded.chars().enumerate() {
        if i > 0 && (rounded.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if x < 0.0 && rounded != "0" {
        format!("-{out}")
    } else {
        out
    }
}

fn pct(ratio: f64) -> String {
    format!("{:.1}%", ratio * 100.0)
}

fn window_text(d: Option<Duration>) -> String {
    d.and_then(|d| std::time::Duration::try_from(d).ok())
        .map(tse_runtime::config::format_duration)
        .unwrap_or_default()
}

impl Check {
    /// The threshold the value crossed at `severity`.
    pub fn threshold(&self, severity: Severity) -> f64 {
        if severity == Severity::Critical {
            self.bands.critical
        } else {
            self.bands.warning
        }
    }

    /// One sentence a person can act on, for an alert at `severity`.
    pub fn message(&self, severity: Severity) -> String {
        let s = &self.subject;
        let part = |p: &Option<String>| p.clone().unwrap_or_default();
        let (entity, venue, asset, symbol) =
            (part(&s.entity), part(&s.venue), part(&s.asset), part(&s.symbol));
        let measure = s.measure.as_deref().unwrap_or_default();
        let sev = severity.as_str();
        let t = self.threshold(severity);
        let v = self.value;
        let [a, b, c] = self.context;
        let window = window_text(self.window);
        match self.kind {
            RuleKind::PositionLimit => format!(
                "{entity} holds {} USD of {asset} at {venue}, {} of its {} USD limit ({sev} at {})",
                usd(a),
                pct(v),
                usd(b),
                pct(t)
            ),
            RuleKind::Exposure => format!(
                "{entity}'s {measure} exposure is {} USD, {} of its {} USD limit ({sev} at {})",
                usd(a),
                pct(v),
                usd(b),
                pct(t)
            ),
            RuleKind::Concentration => format!(
                "{asset} makes up {} of {entity}'s gross exposure of {} USD ({sev} at {})",
                pct(v),
                usd(b),
                pct(t)
            ),
            RuleKind::Drawdown => format!(
                "{entity}'s equity of {} USD is {} below its peak of {} USD ({sev} at {})",
                usd(a),
                pct(v),
                usd(b),
                pct(t)
            ),
            RuleKind::DailyLoss => format!(
                "{entity} has lost {} USD since the simulated day began at {} USD of equity ({sev} at {} USD)",
                usd(v),
                usd(b),
                usd(t)
            ),
            RuleKind::StablecoinDepeg => format!(
                "{symbol} is {v:.0} bps from its peg {b} at {} ({sev} at {t} bps)",
                self.source
            ),
            RuleKind::PriceDivergence if c > 0.0 => format!(
                "{venue}'s {symbol} mid {a} is {v:.0} bps from the reference price {b} ({sev} at {t} bps)"
            ),
            RuleKind::PriceDivergence => format!(
                "{venue} prices {symbol} at {a}, {v:.0} bps from the reference price {b} ({sev} at {t} bps)"
            ),
            RuleKind::StaleData if measure == "frozen" => {
                format!("{venue}'s {symbol} price has stayed at {a} for {v:.0} s ({sev} at {t} s)")
            }
            RuleKind::StaleData => {
                format!("{venue} has published no new {symbol} price for {v:.0} s ({sev} at {t} s)")
            }
            RuleKind::VenueHealth => match measure {
                "latency" => format!(
                    "{venue} answered the monitor in {v:.0} ms on average over {window} ({sev} at {t} ms)"
                ),
                "rejects" => format!(
                    "{venue} rejected {} of {a:.0} new orders of the monitored entities over {window} ({sev} at {})",
                    pct(v),
                    pct(t)
                ),
                _ if a == 0.0 => format!(
                    "{venue} answered none of the monitor's requests over {window} ({sev} at {} failed)",
                    pct(t)
                ),
                _ => format!(
                    "{venue} failed {b:.0} of {a:.0} of the monitor's requests ({}) over {window} ({sev} at {})",
                    pct(v),
                    pct(t)
                ),
            },
            RuleKind::OrderRate => format!("{entity} sends {v:.1} orders/s ({sev} at {t}/s over {window})"),
            RuleKind::UnsettledExposure if measure == "overdue" => format!(
                "{entity}'s oldest overdue settlement at {venue} is {v:.0} s past due ({sev} at {t} s)"
            ),
            RuleKind::UnsettledExposure => format!(
                "{entity} has {} USD pending in {a:.0} settlements at {venue} ({sev} at {} USD)",
                usd(v),
                usd(t)
            ),
        }
    }
}
