//! The monitor: folds observations into its view of the world, evaluates every rule on it, and
//! keeps one alert per rule kind and subject through `ACTIVE → ACKNOWLEDGED → RESOLVED`.
//!
//! Deterministic: the same observations and evaluation times give the same alerts, ids included.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use super::{
    alert::{Alert, AlertChange, Evidence, RuleKind, Severity, Status, Subject},
    limits::Limits,
    observation::Observation,
    rules::{self, Check, Equity, Inputs, Prices},
    summary::{AssetExposure, DataAge, EntitySummary, PegDeviation, Summary, VenueSummary},
    view::View,
};

/// The equity marks of one entity the monitor keeps across restarts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EquityMark {
    /// The entity.
    pub entity: String,
    /// The first equity seen (P&L is measured from it), USD.
    pub first_usd: f64,
    /// The highest equity seen, USD.
    pub peak_usd: f64,
    /// Equity at the start of the current simulated day, USD.
    pub day_start_usd: f64,
    /// The simulated day (UTC date) `day_start_usd` belongs to.
    pub day: time::Date,
    /// The venues whose holdings the marks count. Holdings first seen at another venue later (a
    /// venue that answered late, a new account) are capital, not profit: the marks move up with them.
    #[serde(default)]
    pub venues: std::collections::BTreeSet<String>,
    /// While set, the entity's book is still being learnt (simulated and wall time of its first
    /// equity): the marks follow equity until [`WARM_UP`] and [`WARM_UP_WALL`] have both passed, so
    /// the funding a desk deposits as it starts is capital, not profit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub learning_since: Option<(OffsetDateTime, OffsetDateTime)>,
}

/// Simulated time an entity's book is learnt before its marks hold.
pub const WARM_UP: Duration = Duration::seconds(30);
/// Wall time an entity's book is learnt before its marks hold (at a fast clock, simulated time
/// alone would end it before the desk's funding arrived).
pub const WARM_UP_WALL: Duration = Duration::seconds(2);

/// Why an alert cannot be acknowledged.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AckError {
    /// The monitor holds no open alert with that id (it is unknown, or resolved).
    #[error("no open alert {0}")]
    NotOpen(String),
}

/// How long the value of one (kind, subject) has been on one side of a band, while it matters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Timers {
    /// Not open: first evaluation of the current breach.
    breach_since: Option<OffsetDateTime>,
    /// Open at warning: first evaluation of the current critical stretch.
    critical_since: Option<OffsetDateTime>,
    /// Open: first evaluation of the current stretch below the resolution band.
    clear_since: Option<OffsetDateTime>,
}

type Key = (RuleKind, Subject);

/// The monitor.
#[derive(Debug)]
pub struct Monitor {
    entities: Vec<String>,
    limits: Limits,
    view: View,
    open: BTreeMap<Key, Alert>,
    timers: BTreeMap<Key, Timers>,
    marks: BTreeMap<String, EquityMark>,
    next_id: u64,
    last_checks: u64,
    /// Simulated time between two looks at a venue, as the collectors poll now.
    poll_interval: Duration,
    /// How long a new entity's book is learnt, simulated and wall time.
    warm_up: (Duration, Duration),
}

/// `alert-7` → 7.
fn number(id: &str) -> Option<u64> {
    id.strip_prefix("alert-")?.parse().ok()
}

fn level(value: f64, check: &Check) -> Option<Severity> {
    if value >= check.bands.critical {
        Some(Severity::Critical)
    } else if value >= check.bands.warning {
        Some(Severity::Warning)
    } else {
        None
    }
}

fn millis(d: time::Duration) -> i64 {
    i64::try_from(d.whole_milliseconds()).unwrap_or(i64::MAX)
}

fn evidence(check: &Check, severity: Severity, r#for: time::Duration, since: OffsetDateTime) -> Evidence {
    Evidence {
        observed: check.value,
        threshold: check.threshold(severity),
        unit: check.unit.to_owned(),
        window_ms: check.window.map(millis),
        for_ms: millis(r#for),
        source: check.source.clone(),
        data_at: check.data_at,
        breach_since: Some(since),
        message: check.message(severity),
    }
}

impl Monitor {
    /// A monitor of `entities` (exchange and custodian accounts are found by entity) under `limits`
    /// (already validated).
    pub fn new(entities: Vec<String>, limits: Limits) -> Self {
        let mut view = View::new(&entities, limits.longest_window());
        view.set_lag(limits.price_divergence.lag);
        Self {
            entities,
            limits,
            view,
            open: BTreeMap::new(),
            timers: BTreeMap::new(),
            marks: BTreeMap::new(),
            next_id: 1,
            last_checks: 0,
            poll_interval: Duration::ZERO,
            warm_up: (WARM_UP, WARM_UP_WALL),
        }
    }

    /// Takes back what was stored before a restart: the open alerts, the next alert number, the
    /// equity marks.
    pub fn restore(&mut self, open: Vec<Alert>, next_id: u64, marks: Vec<EquityMark>) {
        let mut next = next_id.max(self.next_id).max(1);
        for alert in open {
            if !alert.status.is_open() {
                continue;
            }
            let n = number(&alert.id).unwrap_or(0);
            next = next.max(n.saturating_add(1));
            let key = (alert.kind, alert.subject.clone());
            // Two open alerts for one pair cannot be stored; if they were, the newer one stays.
            if self
                .open
                .get(&key)
                .is_none_or(|old| number(&old.id).unwrap_or(0) < n)
            {
                self.open.insert(key, alert);
            }
        }
        self.next_id = next;
        for mark in marks {
            self.marks.insert(mark.entity.clone(), mark);
        }
    }

    /// Folds one observation into the view. Nothing is evaluated until [`Monitor::evaluate`].
    pub fn observe(&mut self, observation: Observation) {
        self.view.observe(observation);
    }

    /// Evaluates every enabled rule at simulated time `now` (`wall` is recorded on raised alerts)
    /// and returns what changed, in a deterministic order.
    pub fn evaluate(&mut self, now: OffsetDateTime, wall: OffsetDateTime) -> Vec<AlertChange> {
        let slowest = self
            .view
            .requests
            .values()
            .map(super::view::VenueRequests::longest_gap)
            .max()
            .unwrap_or_default();
        let venue_window = rules::venue_window(self.limits.venue_health.window, self.poll_interval, slowest);
        self.view.set_keep(self.limits.longest_window().max(venue_window));
        self.view.set_lag(self.limits.price_divergence.lag);
        self.view.prune(now);
        let prices = Prices::new(&self.view, &self.limits);
        let equity = self.mark_equity(&prices, now, wall);

        let mut checks: Vec<Check> = Vec::new();
        let mut changes = Vec::new();
        let inputs = Inputs {
            limits: &self.limits,
            prices: &prices,
            equity: &equity,
            marks: &self.marks,
            now,
            poll_interval: self.poll_interval,
        };
        for kind in RuleKind::ALL {
            if self.limits.rule(kind).0 {
                rules::checks(kind, &self.view, &inputs, &mut checks);
            } else {
                // A kind switched off resolves what it had open.
                let keys: Vec<Key> = self
                    .open
                    .range((kind, Subject::default())..)
                    .take_while(|((k, _), _)| *k == kind)
                    .map(|(key, _)| key.clone())
                    .collect();
                for key in keys {
                    if let Some(alert) = self.open.remove(&key) {
                        changes.push(AlertChange::Resolved(resolved(alert, now)));
                    }
                }
            }
        }
        // One check per pair: should two rules' subjects coincide, the worse value counts.
        let mut by_key: BTreeMap<Key, Check> = BTreeMap::new();
        for check in checks {
            let key = (check.kind, check.subject.clone());
            match by_key.get(&key) {
                Some(old) if check.value.partial_cmp(&old.value) != Some(std::cmp::Ordering::Greater) => {}
                _ => {
                    by_key.insert(key, check);
                }
            }
        }
        self.last_checks = by_key.len() as u64;

        let mut old_timers = std::mem::take(&mut self.timers);
        for (key, check) in by_key {
            let timers = old_timers.remove(&key).unwrap_or_default();
            let timers = self.step(key.clone(), &check, timers, now, wall, &mut changes);
            if timers != Timers::default() {
                self.timers.insert(key, timers);
            }
        }
        changes.sort_by(|a, b| {
            let (a, b) = (a.alert(), b.alert());
            (a.kind, &a.subject).cmp(&(b.kind, &b.subject))
        });
        changes
    }

    /// Equity of every entity that has one now, and the marks moved along with it.
    fn mark_equity(
        &mut self,
        prices: &Prices,
        now: OffsetDateTime,
        wall: OffsetDateTime,
    ) -> BTreeMap<String, Equity> {
        let mut out = BTreeMap::new();
        let today = now.date();
        for entity in &self.entities {
            let Some(equity) = rules::equity(&self.view, prices, entity) else {
                continue;
            };
            let usd = equity.usd;
            let venues: std::collections::BTreeSet<String> = self
                .view
                .holdings
                .keys()
                .filter(|(e, _)| e == entity)
                .map(|(_, v)| v.clone())
                .collect();
            // Marks stored without their venues count every venue there is.
            let added: f64 = match self.marks.get(entity) {
                Some(m) if !m.venues.is_empty() => venues
                    .difference(&m.venues)
                    .filter_map(|venue| self.venue_equity(prices, entity, venue))
                    .sum(),
                _ => 0.0,
            };
            let warm_up = self.warm_up;
            match self.marks.get_mut(entity) {
                Some(m) => {
                    m.first_usd += added;
                    m.peak_usd += added;
                    m.day_start_usd += added;
                    m.venues.extend(venues);
                    if let Some((sim, at_wall)) = m.learning_since {
                        if now - sim < warm_up.0 || wall - at_wall < warm_up.1 {
                            m.first_usd = usd;
                            m.peak_usd = usd;
                            m.day_start_usd = usd;
                        } else {
                            m.learning_since = None;
                        }
                    }
                    m.peak_usd = m.peak_usd.max(usd);
                    if m.day != today {
                        m.day = today;
                        m.day_start_usd = usd;
                    }
                }
                None => {
                    self.marks.insert(
                        entity.clone(),
                        EquityMark {
                            entity: entity.clone(),
                            first_usd: usd,
                            peak_usd: usd,
                            day_start_usd: usd,
                            day: today,
                            venues,
                            learning_since: Some((now, wall)),
                        },
                    );
                }
            }
            out.insert(entity.clone(), equity);
        }
        out
    }

    /// What `entity` holds at `venue`, marked to the reference prices (`None` while an asset has
    /// no price).
    fn venue_equity(&self, prices: &Prices, entity: &str, venue: &str) -> Option<f64> {
        let holdings = self.view.holdings.get(&(entity.to_owned(), venue.to_owned()))?;
        holdings
            .balances
            .iter()
            .filter(|(_, qty)| *qty != 0.0)
            .map(|(asset, qty)| prices.usd(&self.view, asset).map(|px| qty * px))
            .sum()
    }

    /// How long a new entity's book is learnt before its marks hold, in simulated and in wall time
    /// (defaults [`WARM_UP`], [`WARM_UP_WALL`]; both must pass).
    pub fn set_warm_up(&mut self, sim: Duration, wall: Duration) {
        self.warm_up = (sim, wall);
    }

    /// Sets the simulated time between two looks at a venue (the collectors' cadence at the
    /// current clock speed): venue health is measured over at least three of them.
    pub fn set_poll_interval(&mut self, interval: Duration) {
        self.poll_interval = interval;
    }

    /// One (kind, subject) through the alert state machine.
    fn step(
        &mut self,
        key: Key,
        check: &Check,
        mut t: Timers,
        now: OffsetDateTime,
        wall: OffsetDateTime,
        changes: &mut Vec<AlertChange>,
    ) -> Timers {
        let (_, r#for, hysteresis) = self.limits.rule(check.kind);
        let value = check.value;
        let level = level(value, check);
        match self.open.get_mut(&key) {
            None => {
                t.critical_since = None;
                t.clear_since = None;
                let Some(severity) = level else {
                    t.breach_since = None;
                    return t;
                };
                let since = *t.breach_since.get_or_insert(now);
                if now - since < r#for {
                    return t;
                }
                let id = format!("alert-{}", self.next_id);
                self.next_id += 1;
                let alert = Alert {
                    id,
                    kind: check.kind,
                    subject: key.1.clone(),
                    severity,
                    status: Status::Active,
                    evidence: evidence(check, severity, r#for, since),
                    detected_at: now,
                    detected_at_wall: wall,
                    acknowledged_at: None,
                    resolved_at: None,
                    updated_at: now,
                };
                self.open.insert(key, alert.clone());
                changes.push(AlertChange::Raised(alert));
                Timers::default()
            }
            Some(alert) => {
                t.breach_since = None;
                if level == Some(Severity::Critical) && alert.severity < Severity::Critical {
                    let since = *t.critical_since.get_or_insert(now);
                    if now - since >= r#for {
                        alert.severity = Severity::Critical;
                        alert.evidence = evidence(check, Severity::Critical, r#for, since);
                        alert.updated_at = now;
                        changes.push(AlertChange::Escalated(alert.clone()));
                        t.critical_since = None;
                    }
                } else {
                    t.critical_since = None;
                }
                if value < check.bands.warning * (1.0 - hysteresis) {
                    let since = *t.clear_since.get_or_insert(now);
                    if now - since >= r#for
                        && let Some(alert) = self.open.remove(&key)
                    {
                        changes.push(AlertChange::Resolved(resolved(alert, now)));
                        return Timers::default();
                    }
                } else {
                    t.clear_since = None;
                }
                t
            }
        }
    }

    /// Acknowledges an open alert (acknowledging an acknowledged one changes nothing and returns it
    /// again, as `AlertChange::Acknowledged`).
    ///
    /// # Errors
    /// [`AckError::NotOpen`] if no open alert has that id.
    pub fn acknowledge(&mut self, id: &str, now: OffsetDateTime) -> Result<AlertChange, AckError> {
        let alert = self
            .open
            .values_mut()
            .find(|a| a.id == id)
            .ok_or_else(|| AckError::NotOpen(id.to_owned()))?;
        if alert.status == Status::Active {
            alert.status = Status::Acknowledged;
            alert.acknowledged_at = Some(now);
            alert.updated_at = now;
        }
        Ok(AlertChange::Acknowledged(alert.clone()))
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Replaces the limits (already validated). Open alerts are re-evaluated against the new ones
    /// at the next [`Monitor::evaluate`].
    pub fn set_limits(&mut self, limits: Limits) {
        self.view.set_lag(limits.price_divergence.lag);
        self.limits = limits;
    }

    /// The monitored entities.
    pub fn entities(&self) -> &[String] {
        &self.entities
    }

    /// The open alerts, oldest first.
    pub fn open_alerts(&self) -> Vec<Alert> {
        let mut open: Vec<Alert> = self.open.values().cloned().collect();
        open.sort_by_key(|a| (number(&a.id).unwrap_or(u64::MAX), a.id.clone()));
        open
    }

    /// The number the next alert gets (`alert-{n}`).
    pub fn next_id(&self) -> u64 {
        self.next_id
    }

    /// The equity marks to store.
    pub fn marks(&self) -> Vec<EquityMark> {
        self.marks.values().cloned().collect()
    }

    /// How many (kind, subject) checks the last [`Monitor::evaluate`] made.
    pub fn last_checks(&self) -> u64 {
        self.last_checks
    }

    /// The risk picture at simulated time `now`.
    pub fn summary(&self, now: OffsetDateTime) -> Summary {
        let view = &self.view;
        let limits = &self.limits;
        let prices = Prices::new(view, limits);
        let mut entities: Vec<&String> = self.entities.iter().collect();
        entities.sort();
        entities.dedup();
        let entities = entities
            .into_iter()
            .map(|entity| self.entity_summary(&prices, entity, now))
            .collect();

        let data = view
            .all_prices()
            .map(|(source, symbol, p)| DataAge {
                source: source.to_owned(),
                symbol: symbol.to_owned(),
                price: p.price,
                last_at: p.last_at,
                age_seconds: (now - p.last_at).as_seconds_f64().max(0.0),
                unchanged_seconds: (now - p.changed_at).as_seconds_f64().max(0.0),
            })
            .collect();

        let base = rules::venue_window(limits.venue_health.window, self.poll_interval, Duration::ZERO);
        let mut venue_names: Vec<&str> = view
            .requests
            .keys()
            .map(String::as_str)
            .chain(view.orders.keys().map(|(_, v)| v.as_str()))
            .collect();
        venue_names.sort_unstable();
        venue_names.dedup();
        let venues = venue_names
            .into_iter()
            .map(|venue| {
                let requests = view.requests.get(venue);
                let window = base.max(requests.map(|r| r.longest_gap() * 3).unwrap_or_default());
                let stats = view.request_stats(venue, now, window);
                let orders = view.order_stats(None, Some(venue), now, base);
                let error_ratio = match (stats.count, requests) {
                    (0, Some(_)) => 1.0,
                    (0, None) => 0.0,
                    (n, _) => ratio(stats.bad, n),
                };
                VenueSummary {
                    venue: venue.to_owned(),
                    up: requests.is_some_and(|r| r.last == super::observation::Outcome::Ok),
                    error_ratio,
                    latency_ms: stats.mean_latency_ms,
                    reject_ratio: if orders.count == 0 {
                        0.0
                    } else {
                        ratio(orders.bad, orders.count)
                    },
                }
            })
            .collect();

        let pegs = prices
            .reference()
            .map(|reference| {
                limits
                    .stablecoin_depeg
                    .pegs
                    .iter()
                    .filter_map(|(symbol, peg)| {
                        let p = view.price_of(reference, symbol)?;
                        Some(PegDeviation {
                            symbol: symbol.clone(),
                            price: p.price,
                            peg: *peg,
                            deviation: (p.price - peg) / peg,
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();

        Summary {
            at: now,
            entities,
            data,
            venues,
            pegs,
        }
    }

    fn entity_summary(&self, prices: &Prices, entity: &str, now: OffsetDateTime) -> EntitySummary {
        let view = &self.view;
        let marked = rules::exposure(view, prices, entity)
            .map(|(m, _, _)| m)
            .unwrap_or_default();
        let (gross_usd, net_usd) = rules::gross_net(&marked);
        let exposure = marked
            .into_iter()
            .map(|m| AssetExposure {
                concentration: if gross_usd > 0.0 {
                    m.usd.abs() / gross_usd
                } else {
                    0.0
                },
                asset: m.asset,
                quantity: m.quantity,
                usd: m.usd,
            })
            .collect();
        // Equity of the assets with a price; the marks move only once every asset has one.
        let (quantities, _) = view.quantities(entity);
        let equity_usd: f64 = quantities
            .into_iter()
            .filter_map(|(asset, qty)| Some(qty * prices.usd(view, asset)?))
            .sum();
        let mark = self.marks.get(entity);
        let peak = mark.map_or(equity_usd, |m| m.peak_usd.max(equity_usd));
        let window = self.limits.order_rate.window;
        let orders = view.order_stats(Some(entity), None, now, window);
        let (pending_usd, overdue) = view
            .settlements
            .iter()
            .filter(|((e, _), _)| e == entity)
            .map(|(_, s)| rules::pending(view, prices, s, now))
            .fold((0.0, 0.0), |(usd, overdue), (u, o)| {
                (usd + u, f64::max(overdue, o))
            });
        EntitySummary {
            entity: entity.to_owned(),
            exposure,
            gross_usd,
            net_usd,
            equity_usd,
            peak_equity_usd: peak,
            pnl_usd: mark.map_or(0.0, |m| equity_usd - m.first_usd),
            daily_pnl_usd: mark.map_or(0.0, |m| equity_usd - m.day_start_usd),
            drawdown: if peak > 0.0 {
                ((peak - equity_usd) / peak).max(0.0)
            } else {
                0.0
            },
            order_rate: ratio(orders.count, 1) / window.as_seconds_f64().max(1e-3),
            pending_settlement_usd: pending_usd,
            overdue_seconds: overdue,
        }
    }
}

#[allow(clippy::cast_precision_loss)]
fn ratio(a: usize, b: usize) -> f64 {
    a as f64 / b as f64
}

fn resolved(mut alert: Alert, now: OffsetDateTime) -> Alert {
    alert.status = Status::Resolved;
    alert.resolved_at = Some(now);
    alert.updated_at = now;
    alert
}
