//! The monitor's view of the world, folded from observations: the latest prices and book tops,
//! what each venue holds for each monitored entity, their recent orders, pending settlements, and
//! how the venues answer. Bounded: orders and requests older than the longest rule window go.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use time::{Duration, OffsetDateTime};

use super::observation::{
    BookTop, FillSeen, Holdings, Observation, OrderActivity, Outcome, PriceTick, Request, Settlements,
};

/// The reporting currency: cash, not an exposure.
pub const USD: &str = "USD";

/// The latest price of one symbol from one source.
#[derive(Clone, Debug, PartialEq)]
pub struct PricePoint {
    /// The price.
    pub price: f64,
    /// The source's sequence of it.
    pub sequence: u64,
    /// Simulated time of the last new sequence.
    pub last_at: OffsetDateTime,
    /// Simulated time the price last changed value (its first sighting counts as a change).
    pub changed_at: OffsetDateTime,
    /// Earlier prices within the divergence lag, oldest first (`(time, price)`).
    pub recent: std::collections::VecDeque<(OffsetDateTime, f64)>,
}

/// Most earlier prices kept per symbol and source.
const MAX_RECENT: usize = 4096;

impl PricePoint {
    /// The lowest and highest price from `since` on, the current one included.
    pub fn range_since(&self, since: OffsetDateTime) -> (f64, f64) {
        self.recent
            .iter()
            .filter(|(at, _)| *at >= since)
            .fold((self.price, self.price), |(lo, hi), (_, p)| {
                (lo.min(*p), hi.max(*p))
            })
    }
}

/// One order created by a monitored entity, as far as the rules care.
#[derive(Clone, Debug, PartialEq)]
pub struct NewOrder {
    /// When the exchange created it.
    pub created_at: OffsetDateTime,
    /// The exchange rejected it.
    pub rejected: bool,
}

/// The orders of one entity at one exchange.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct VenueOrders {
    /// New orders within the longest window, by exchange order id.
    pub recent: BTreeMap<String, NewOrder>,
    /// How many orders are open now.
    pub open: usize,
    /// Simulated time the exchange was last asked.
    pub at: Option<OffsetDateTime>,
}

/// One request of the monitor to a venue.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RequestSeen {
    /// Simulated time it finished.
    pub at: OffsetDateTime,
    /// It failed.
    pub failed: bool,
    /// Its latency, milliseconds.
    pub latency_ms: f64,
}

/// How one venue answered the monitor.
#[derive(Clone, Debug, PartialEq)]
pub struct VenueRequests {
    /// Requests within the longest window, oldest first.
    pub recent: VecDeque<RequestSeen>,
    /// The outcome of the last request.
    pub last: Outcome,
    /// Simulated time of the last request.
    pub last_at: OffsetDateTime,
    /// The last gaps between one request and the next, newest last (at most [`GAPS`]).
    pub gaps: VecDeque<Duration>,
}

/// Gaps between requests remembered per venue: a few looks' worth.
const GAPS: usize = 32;

impl VenueRequests {
    /// The longest recent gap between two requests: how long a look at the venue takes to come
    /// round at the clock's speed and the machine's load.
    pub fn longest_gap(&self) -> Duration {
        self.gaps.iter().copied().max().unwrap_or(Duration::ZERO)
    }
}

/// Fills of one entity (counts only: the rules need none of them yet).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct FillStats {
    /// Fills seen.
    pub count: u64,
    /// Σ price × quantity, in the quote assets.
    pub notional: f64,
    /// Simulated time of the last one.
    pub last_at: Option<OffsetDateTime>,
}

/// Request or order statistics over one window.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct WindowStats {
    /// How many.
    pub count: usize,
    /// How many failed (requests) or were rejected (orders).
    pub bad: usize,
    /// Mean latency, milliseconds (requests).
    pub mean_latency_ms: f64,
    /// Simulated time of the newest one counted.
    pub newest: Option<OffsetDateTime>,
}

/// Everything the monitor knows.
#[derive(Clone, Debug, Default)]
pub struct View {
    entities: BTreeSet<String>,
    /// Latest price per source, per symbol.
    pub prices: BTreeMap<String, BTreeMap<String, PricePoint>>,
    /// Latest book top per (venue, symbol).
    pub books: BTreeMap<(String, String), BookTop>,
    /// Latest holdings per (entity, venue).
    pub holdings: BTreeMap<(String, String), Holdings>,
    /// Orders per (entity, exchange).
    pub orders: BTreeMap<(String, String), VenueOrders>,
    /// Fills per entity.
    pub fills: BTreeMap<String, FillStats>,
    /// Latest pending settlements per (entity, custodian).
    pub settlements: BTreeMap<(String, String), Settlements>,
    /// Requests per venue.
    pub requests: BTreeMap<String, VenueRequests>,
    /// Orders and requests older than this before the newest time seen go.
    keep: Duration,
    /// Earlier prices older than this before a symbol's newest go.
    lag: Duration,
}

impl View {
    /// An empty view of `entities`, keeping orders and requests for `keep`.
    pub fn new(entities: &[String], keep: Duration) -> Self {
        Self {
            entities: entities.iter().cloned().collect(),
            keep,
            ..Self::default()
        }
    }

    /// Keeps orders and requests this long from now on.
    pub fn set_keep(&mut self, keep: Duration) {
        self.keep = keep;
    }

    /// How long earlier prices are kept (the divergence lag).
    pub fn set_lag(&mut self, lag: Duration) {
        self.lag = lag;
    }

    /// Folds one observation in. Observations of entities not monitored are ignored.
    pub fn observe(&mut self, observation: Observation) {
        match observation {
            Observation::Price(tick) => self.price(tick),
            Observation::Book(top) => {
                let key = (top.venue.clone(), top.symbol.clone());
                if self.books.get(&key).is_none_or(|old| old.at <= top.at) {
                    self.books.insert(key, top);
                }
            }
            Observation::Holdings(h) => {
                if self.entities.contains(&h.entity) {
                    let key = (h.entity.clone(), h.venue.clone());
                    if self.holdings.get(&key).is_none_or(|old| old.at <= h.at) {
                        self.holdings.insert(key, h);
                    }
                }
            }
            Observation::Orders(activity) => self.orders(activity),
            Observation::Fill(fill) => self.fill(&fill),
            Observation::Settlements(s) => {
                if self.entities.contains(&s.entity) {
                    let key = (s.entity.clone(), s.custodian.clone());
                    if self.settlements.get(&key).is_none_or(|old| old.at <= s.at) {
                        self.settlements.insert(key, s);
                    }
                }
            }
            Observation::Request(r) => self.request(&r),
        }
    }

    fn price(&mut self, tick: PriceTick) {
        let source = self.prices.entry(tick.source).or_default();
        match source.get_mut(&tick.symbol) {
            Some(point) => {
                // A repeated sequence is no news; an older data point is late news. A source that
                // restarted numbers anew, but later in time, still counts.
                if tick.sequence == point.sequence || tick.at < point.last_at {
                    return;
                }
                #[allow(clippy::float_cmp)] // frozen means exactly the same value
                if tick.price != point.price {
                    point.changed_at = tick.at;
                }
                point.recent.push_back((point.last_at, point.price));
                let cutoff = tick.at - self.lag;
                while point.recent.len() > MAX_RECENT
                    || point.recent.front().is_some_and(|(at, _)| *at < cutoff)
                {
                    point.recent.pop_front();
                }
                point.price = tick.price;
                point.sequence = tick.sequence;
                point.last_at = tick.at;
            }
            None => {
                source.insert(
                    tick.symbol,
                    PricePoint {
                        price: tick.price,
                        sequence: tick.sequence,
                        last_at: tick.at,
                        changed_at: tick.at,
                        recent: std::collections::VecDeque::new(),
                    },
                );
            }
        }
    }

    fn orders(&mut self, activity: OrderActivity) {
        if !self.entities.contains(&activity.entity) {
            return;
        }
        let cutoff = activity.at - self.keep;
        let venue = self.orders.entry((activity.entity, activity.venue)).or_default();
        for order in activity.new {
            if order.created_at <= cutoff {
                continue;
            }
            let rejected = order.status == "REJECTED";
            venue
                .recent
                .entry(order.id)
                .and_modify(|seen| seen.rejected |= rejected)
                .or_insert(NewOrder {
                    created_at: order.created_at,
                    rejected,
                });
        }
        venue.open = activity.open.len();
        venue.at = Some(venue.at.map_or(activity.at, |at| at.max(activity.at)));
    }

    fn fill(&mut self, fill: &FillSeen) {
        if !self.entities.contains(&fill.entity) {
            return;
        }
        let stats = self.fills.entry(fill.entity.clone()).or_default();
        stats.count += 1;
        stats.notional += (fill.price * fill.quantity).abs();
        stats.last_at = Some(stats.last_at.map_or(fill.at, |at| at.max(fill.at)));
    }

    fn request(&mut self, r: &Request) {
        let seen = RequestSeen {
            at: r.at,
            failed: r.outcome != Outcome::Ok,
            latency_ms: r.latency.as_secs_f64() * 1000.0,
        };
        match self.requests.get_mut(&r.venue) {
            Some(venue) => {
                if r.at >= venue.last_at {
                    venue.gaps.push_back(r.at - venue.last_at);
                    if venue.gaps.len() > GAPS {
                        venue.gaps.pop_front();
                    }
                    venue.last = r.outcome;
                    venue.last_at = r.at;
                }
                // Keep the window sorted even when a slow request finishes after a quick one.
                let at = venue.recent.partition_point(|s| s.at <= r.at);
                venue.recent.insert(at, seen);
            }
            None => {
                self.requests.insert(
                    r.venue.clone(),
                    VenueRequests {
                        recent: VecDeque::from([seen]),
                        last: r.outcome,
                        last_at: r.at,
                        gaps: VecDeque::new(),
                    },
                );
            }
        }
    }

    /// Drops orders and requests older than the longest window before `now`.
    pub fn prune(&mut self, now: OffsetDateTime) {
        let cutoff = now - self.keep;
        for venue in self.orders.values_mut() {
            venue.recent.retain(|_, o| o.created_at > cutoff);
        }
        for venue in self.requests.values_mut() {
            while venue.recent.front().is_some_and(|s| s.at <= cutoff) {
                venue.recent.pop_front();
            }
        }
    }

    /// The reference source: `reference` if given, else the first source by name with prices.
    pub fn reference<'a>(&'a self, reference: Option<&'a str>) -> Option<&'a str> {
        reference.or_else(|| {
            self.prices
                .iter()
                .find(|(_, symbols)| !symbols.is_empty())
                .map(|(source, _)| source.as_str())
        })
    }

    /// The latest price of `symbol` from `source`.
    pub fn price_of(&self, source: &str, symbol: &str) -> Option<&PricePoint> {
        self.prices.get(source)?.get(symbol)
    }

    /// The USD price of `asset` at the reference source: 1 for USD, else `{asset}-USD`, else
    /// `{asset}-USDT × USDT-USD`; `None` if unknown.
    pub fn usd_price(&self, reference: Option<&str>, asset: &str) -> Option<f64> {
        if asset == USD {
            return Some(1.0);
        }
        let source = reference?;
        if let Some(p) = self.price_of(source, &format!("{asset}-USD")) {
            return Some(p.price);
        }
        let in_usdt = self.price_of(source, &format!("{asset}-USDT"))?.price;
        let usdt = self.price_of(source, "USDT-USD")?.price;
        Some(in_usdt * usdt)
    }

    /// The requests to `venue` in `(now − window, now]`.
    pub fn request_stats(&self, venue: &str, now: OffsetDateTime, window: Duration) -> WindowStats {
        let mut stats = WindowStats::default();
        let Some(v) = self.requests.get(venue) else {
            return stats;
        };
        let from = now - window;
        let mut latency = 0.0;
        for s in v.recent.iter().filter(|s| s.at > from && s.at <= now) {
            stats.count += 1;
            stats.bad += usize::from(s.failed);
            latency += s.latency_ms;
            stats.newest = Some(s.at);
        }
        if stats.count > 0 {
            #[allow(clippy::cast_precision_loss)]
            let n = stats.count as f64;
            stats.mean_latency_ms = latency / n;
        }
        stats
    }

    /// The new orders of `entity` (every exchange if `venue` is `None`) created in
    /// `(now − window, now]`.
    pub fn order_stats(
        &self,
        entity: Option<&str>,
        venue: Option<&str>,
        now: OffsetDateTime,
        window: Duration,
    ) -> WindowStats {
        let from = now - window;
        let mut stats = WindowStats::default();
        for ((e, v), orders) in &self.orders {
            if entity.is_some_and(|x| x != e) || venue.is_some_and(|x| x != v) {
                continue;
            }
            for o in orders.recent.values() {
                if o.created_at > from && o.created_at <= now {
                    stats.count += 1;
                    stats.bad += usize::from(o.rejected);
                    stats.newest = Some(stats.newest.map_or(o.created_at, |t| t.max(o.created_at)));
                }
            }
        }
        stats
    }

    /// The monitored entities, in name order.
    pub fn entities(&self) -> impl Iterator<Item = &String> {
        self.entities.iter()
    }

    /// Every (source, symbol, price), in name order.
    pub fn all_prices(&self) -> impl Iterator<Item = (&str, &str, &PricePoint)> {
        self.prices.iter().flat_map(|(source, symbols)| {
            symbols
                .iter()
                .map(move |(symbol, p)| (source.as_str(), symbol.as_str(), p))
        })
    }

    /// Quantity per asset of `entity`, every venue together, and the newest holdings behind it.
    pub fn quantities(&self, entity: &str) -> (BTreeMap<&str, f64>, Option<(&str, OffsetDateTime)>) {
        let mut out = BTreeMap::<&str, f64>::new();
        let mut newest: Option<(&str, OffsetDateTime)> = None;
        for ((e, venue), h) in &self.holdings {
            if e != entity {
                continue;
            }
            if newest.is_none_or(|(_, at)| h.at > at) {
                newest = Some((venue.as_str(), h.at));
            }
            for (asset, qty) in &h.balances {
                *out.entry(asset.as_str()).or_default() += qty;
            }
        }
        (out, newest)
    }
}
