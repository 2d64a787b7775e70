//! The exchange core: accounts, balances, orders and one matching book per instrument. Pure and
//! deterministic — requests in, outcomes out; the caller supplies the (simulated) time.
//!
//! Money rules:
//! - a buy reserves quote: `price × quantity × (1 + max fee rate)` for a limit order, the cost of
//!   sweeping the book plus the taker fee for a market order; a sell reserves its base quantity;
//! - a fill moves base from seller to buyer and `price × quantity` of quote from buyer to seller; each
//!   side pays its fee (maker or taker rate) in quote to the exchange;
//! - what an order no longer needs is released as it fills, and all of it when it leaves the book.
//!
//! Every request either succeeds completely or changes nothing.
//!
//! No request can overflow the decimal arithmetic. Validation is checked: prices, quantities,
//! amounts and every order's notional (price × quantity, a market buy's sweep cost) are at most
//! [`MAX_AMOUNT`](tse_runtime::money::MAX_AMOUNT), a deposit may not take an asset's holdings
//! beyond what a decimal holds, and a book side never rests more lots than it counts. What follows
//! a match — a fill's cost and fees, what it releases — is then bounded by the reservations
//! validated before it, and every balance by its asset's holdings (see [`super::ledger`]).
//!
//! The venue's methods are grouped by what they serve: `queries` (lookups by name and index),
//! `accounts` (opening accounts, deposits and withdrawals), `entry` (validating and placing
//! orders), `change` (cancel and amend), `settlement` (applying book events to orders and
//! balances) and `restore` (rebuilding from storage, and the changes to store).

mod accounts;
mod change;
mod entry;
mod queries;
mod restore;
mod settlement;

use std::collections::{HashMap, VecDeque};

use rust_decimal::Decimal;
use time::OffsetDateTime;
use tse_market::ClientOrderId;
use tse_matching::{Event, OrderBook};

pub use entry::PlaceRequest;

use super::{
    instrument::Instrument,
    ledger::{AccountIdx, AssetIdx, Balance, Ledger, LedgerError, exact_limit},
    order::{Order, Trade},
};

/// How many finished orders stay in memory (older ones are read from storage).
const RETAINED_FINISHED: usize = 100_000;

/// Maker and taker fee rates, as fractions of the traded value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fees {
    /// Rate for the resting side.
    pub maker: Decimal,
    /// Rate for the incoming side.
    pub taker: Decimal,
}

impl Fees {
    fn max(self) -> Decimal {
        self.maker.max(self.taker)
    }
}

/// An account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    /// Its id (`acct-1`).
    pub id: String,
    /// The trading entity it belongs to (`trading-system-LH`), for settlement.
    pub entity: Option<String>,
    /// When it was opened (simulated time).
    pub created_at: OffsetDateTime,
}

/// Why a request changed nothing.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VenueError {
    /// No such account.
    #[error("unknown account '{0}'")]
    UnknownAccount(String),
    /// The exchange does not list the symbol.
    #[error("unknown symbol '{symbol}'; this exchange lists {}", .listed.join(", "))]
    UnknownSymbol {
        /// The symbol asked for.
        symbol: String,
        /// What is listed.
        listed: Vec<String>,
    },
    /// The exchange does not hold the asset.
    #[error("unknown asset '{asset}'; this exchange holds {}", .held.join(", "))]
    UnknownAsset {
        /// The asset asked for.
        asset: String,
        /// What is held.
        held: Vec<String>,
    },
    /// A price, quantity or amount is invalid.
    #[error("{0}")]
    Invalid(String),
    /// Not enough funds.
    #[error(transparent)]
    Insufficient(LedgerError),
    /// The ledger refused a deposit or withdrawal otherwise: a non-positive amount, or holdings
    /// beyond what stays exact.
    #[error(transparent)]
    Ledger(LedgerError),
    /// The client order id is taken.
    #[error("client_order_id '{client_order_id}' is already used by order {order}")]
    DuplicateClientOrderId {
        /// The id.
        client_order_id: ClientOrderId,
        /// The order using it.
        order: u64,
    },
    /// No such order in memory.
    #[error("unknown order {0}")]
    UnknownOrder(u64),
    /// The order can no longer change.
    #[error("order {id} is {status} and can no longer change")]
    NotOpen {
        /// The order.
        id: u64,
        /// Its status.
        status: &'static str,
    },
}

/// A step in an order's life worth an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lifecycle {
    /// Accepted (whatever happened next).
    Placed,
    /// Refused.
    Rejected,
    /// Left the book unfilled (on request or not).
    Cancelled,
    /// Changed through an amendment.
    Amended,
}

/// What changed since the caller last asked, for storage and events.
#[derive(Debug, Default)]
pub struct Changes {
    /// Order lifecycle steps, in order.
    pub lifecycle: Vec<(u64, Lifecycle)>,
    /// Accounts opened.
    pub accounts: Vec<AccountIdx>,
    /// Orders created or changed (their state now), each once.
    pub orders: Vec<Order>,
    /// Trades executed.
    pub trades: Vec<Trade>,
    /// Balances changed (their value now).
    pub balances: Vec<(AccountIdx, AssetIdx, Balance)>,
}

/// The exchange core.
#[derive(Debug)]
pub struct Venue {
    instruments: Vec<Instrument>,
    /// Decimals each ledger asset takes (see [`asset_scales`]).
    scales: Vec<u32>,
    books: Vec<OrderBook>,
    ledger: Ledger,
    fees: Fees,
    accounts: Vec<Account>,
    account_index: HashMap<String, AccountIdx>,
    orders: HashMap<u64, Order>,
    finished: VecDeque<u64>,
    client_ids: HashMap<(AccountIdx, String), u64>,
    next_order: u64,
    next_trade: u64,
    next_priority: u64,
    scratch: Vec<Event>,
    changed_orders: Vec<u64>,
    lifecycle: Vec<(u64, Lifecycle)>,
    new_trades: Vec<Trade>,
    new_accounts: Vec<AccountIdx>,
}

impl Venue {
    /// A venue listing `instruments`, charging `fees`.
    pub fn new(instruments: Vec<Instrument>, fees: Fees) -> Self {
        let mut assets: Vec<String> = Vec::new();
        for i in &instruments {
            for asset in [&i.base, &i.quote] {
                if !assets.contains(asset) {
                    assets.push(asset.clone());
                }
            }
        }
        let scales = asset_scales(&instruments, &assets, fees);
        Self {
            books: instruments.iter().map(|_| OrderBook::new()).collect(),
            ledger: Ledger::new(assets).with_limits(scales.iter().copied().map(exact_limit).collect()),
            scales,
            instruments,

            fees,
            accounts: Vec::new(),
            account_index: HashMap::new(),
            orders: HashMap::new(),
            finished: VecDeque::new(),
            client_ids: HashMap::new(),
            next_order: 1,
            next_trade: 1,
            next_priority: 1,
            scratch: Vec::with_capacity(64),
            changed_orders: Vec::new(),
            lifecycle: Vec::new(),
            new_trades: Vec::new(),
            new_accounts: Vec::new(),
        }
    }
}

/// Decimals each of `assets` takes: a base asset moves in lots, a quote asset in a price times a
/// quantity and a fee rate on that; the finest of its instruments counts (at most 28, all an
/// exact decimal holds).
fn asset_scales(instruments: &[Instrument], assets: &[String], fees: Fees) -> Vec<u32> {
    let rate = fees.maker.normalize().scale().max(fees.taker.normalize().scale());
    assets
        .iter()
        .map(|asset| {
            instruments
                .iter()
                .map(|i| {
                    let lot = i.lot_size.scale();
                    let as_base = if &i.base == asset { lot } else { 0 };
                    let as_quote = if &i.quote == asset {
                        i.tick_size.scale() + lot + rate
                    } else {
                        0
                    };
                    as_base.max(as_quote)
                })
                .max()
                .unwrap_or(0)
                .min(Decimal::MAX_SCALE)
        })
        .collect()
}

#[cfg(test)]
pub(super) mod fixtures {
    //! What the venue's tests share: a venue listing BTC-USD and a way to write orders briefly.

    use rust_decimal::Decimal;
    use time::OffsetDateTime;
    use tse_market::AccountId;
    use tse_matching::{SelfTradePrevention, Side};

    use super::{Fees, PlaceRequest, Venue};
    use crate::domain::{instrument::Instrument, order::OrderType};

    pub(crate) const AT: OffsetDateTime = OffsetDateTime::UNIX_EPOCH;

    pub(crate) fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    pub(crate) fn venue() -> Venue {
        Venue::new(
            vec![Instrument::new("BTC-USD", d("0.01"), d("0.001")).unwrap()],
            Fees {
                maker: d("0.001"),
                taker: d("0.002"),
            },
        )
    }

    pub(crate) fn order(
        account: &str,
        side: Side,
        order_type: OrderType,
        price: Option<&str>,
        quantity: &str,
    ) -> PlaceRequest {
        PlaceRequest {
            account: AccountId::parse(account).unwrap(),
            symbol: "btc-usd".into(),
            side,
            order_type,
            price: price.map(d),
            quantity: d(quantity),
            time_in_force: None,
            post_only: false,
            client_order_id: None,
            self_trade: SelfTradePrevention::CancelTaker,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::venue;

    #[test]
    fn assets_take_the_decimals_their_instruments_and_fees_produce() {
        let v = venue();
        // BTC moves in lots of 0.001; USD as price (0.01) × quantity (0.001) × a fee rate (0.001).
        assert_eq!(v.asset_scale(v.asset("BTC").unwrap()), 3);
        assert_eq!(v.asset_scale(v.asset("USD").unwrap()), 8);
    }
}
