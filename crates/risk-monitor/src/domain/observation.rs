//! What the monitor sees: observations of the outside world as production APIs report them, each
//! with the simulated time of the data point and where it came from. The app's collectors make them;
//! the [`super::monitor::Monitor`] folds them into its view and evaluates its rules on it.

use time::{Duration, OffsetDateTime};

/// A reference or venue price of one symbol (`BTC-USD`), as one source published it.
#[derive(Clone, Debug, PartialEq)]
pub struct PriceTick {
    /// The market data instance that published it (`market-data-Coinmetrics`).
    pub source: String,
    /// `BASE-QUOTE`.
    pub symbol: String,
    /// The price.
    pub price: f64,
    /// The source's own sequence number for the symbol (increases with every publication).
    pub sequence: u64,
    /// Simulated time of the data point.
    pub at: OffsetDateTime,
}

/// The top of one venue's book for one symbol.
#[derive(Clone, Debug, PartialEq)]
pub struct BookTop {
    /// The exchange instance (`exchange-OKX`).
    pub venue: String,
    /// `BASE-QUOTE`.
    pub symbol: String,
    /// Best bid, if any.
    pub bid: Option<f64>,
    /// Best ask, if any.
    pub ask: Option<f64>,
    /// Simulated time of the data point.
    pub at: OffsetDateTime,
}

/// What one venue (exchange or custodian) holds for one monitored entity, every asset.
#[derive(Clone, Debug, PartialEq)]
pub struct Holdings {
    /// The monitored entity (`trading-system-LH`).
    pub entity: String,
    /// The exchange or custodian instance.
    pub venue: String,
    /// `(asset, total)`, total = available + locked.
    pub balances: Vec<(String, f64)>,
    /// Simulated time the venue was asked.
    pub at: OffsetDateTime,
}

/// One order of a monitored entity at an exchange, as the exchange reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct OrderSeen {
    /// The exchange's order id.
    pub id: String,
    /// `BASE-QUOTE`.
    pub symbol: String,
    /// `BUY` or `SELL`.
    pub side: String,
    /// Limit price (market orders: 0).
    pub price: f64,
    /// Quantity not yet filled.
    pub remaining: f64,
    /// `NEW`, `PARTIALLY_FILLED`, `FILLED`, `CANCELLED`, `REJECTED`.
    pub status: String,
    /// When the exchange created it (simulated time).
    pub created_at: OffsetDateTime,
}

/// Orders of one entity at one exchange: the new ones since the last look (every status) and the
/// ones still open now.
#[derive(Clone, Debug, PartialEq)]
pub struct OrderActivity {
    /// The monitored entity.
    pub entity: String,
    /// The exchange instance.
    pub venue: String,
    /// Orders created since the previous observation of this venue, oldest first.
    pub new: Vec<OrderSeen>,
    /// Every order still open (`NEW`, `PARTIALLY_FILLED`).
    pub open: Vec<OrderSeen>,
    /// Simulated time the venue was asked.
    pub at: OffsetDateTime,
}

/// One trade of a monitored entity (its side of it).
#[derive(Clone, Debug, PartialEq)]
pub struct FillSeen {
    /// The monitored entity.
    pub entity: String,
    /// The exchange instance.
    pub venue: String,
    /// The exchange's trade id.
    pub trade_id: String,
    /// `BASE-QUOTE`.
    pub symbol: String,
    /// `BUY` or `SELL`, the entity's side.
    pub side: String,
    /// Price.
    pub price: f64,
    /// Quantity.
    pub quantity: f64,
    /// Fee the entity paid, in the quote asset.
    pub fee: f64,
    /// Simulated time of execution.
    pub at: OffsetDateTime,
}

/// A settlement instruction of a monitored entity that is not finished yet.
#[derive(Clone, Debug, PartialEq)]
pub struct PendingSettlement {
    /// The custodian's id.
    pub id: String,
    /// `(asset, amount)` legs still to settle (signed).
    pub legs: Vec<(String, f64)>,
    /// When it was created (simulated time).
    pub created_at: OffsetDateTime,
    /// When it is due (simulated time).
    pub due_at: OffsetDateTime,
}

/// Every pending settlement of one entity at one custodian.
#[derive(Clone, Debug, PartialEq)]
pub struct Settlements {
    /// The monitored entity.
    pub entity: String,
    /// The custodian instance.
    pub custodian: String,
    /// Pending (`PENDING`) instructions.
    pub pending: Vec<PendingSettlement>,
    /// Simulated time the custodian was asked.
    pub at: OffsetDateTime,
}

/// How a request of the monitor to a venue or source went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Answered.
    Ok,
    /// 503 / `UNAVAILABLE`, or no connection.
    Unavailable,
    /// Any other error.
    Error,
}

/// One request of the monitor to a venue or data source.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    /// The instance asked.
    pub venue: String,
    /// How it went.
    pub outcome: Outcome,
    /// How long it took (wall time).
    pub latency: std::time::Duration,
    /// Simulated time it finished.
    pub at: OffsetDateTime,
}

/// Everything the monitor can observe.
#[derive(Clone, Debug, PartialEq)]
pub enum Observation {
    /// A price from a market data source.
    Price(PriceTick),
    /// A venue's book top.
    Book(BookTop),
    /// An entity's holdings at a venue.
    Holdings(Holdings),
    /// An entity's orders at an exchange.
    Orders(OrderActivity),
    /// An entity's fill.
    Fill(FillSeen),
    /// An entity's pending settlements at a custodian.
    Settlements(Settlements),
    /// How a request went.
    Request(Request),
}

impl Observation {
    /// Simulated time of the data point.
    pub fn at(&self) -> OffsetDateTime {
        match self {
            Observation::Price(p) => p.at,
            Observation::Book(b) => b.at,
            Observation::Holdings(h) => h.at,
            Observation::Orders(o) => o.at,
            Observation::Fill(f) => f.at,
            Observation::Settlements(s) => s.at,
            Observation::Request(r) => r.at,
        }
    }
}

/// A simulated duration from whole milliseconds (helper for tests and settings).
pub fn millis(ms: i64) -> Duration {
    Duration::milliseconds(ms)
}
