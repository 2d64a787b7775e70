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
//! [`MAX_AMOUNT`], a deposit may not take an asset's holdings beyond what a decimal holds, and a
//! book side never rests more lots than it counts. What follows a match — a fill's cost and fees,
//! what it releases — is then bounded by the reservations validated before it, and every balance by
//! its asset's holdings (see [`super::ledger`]).

use std::collections::{HashMap, VecDeque};

use rust_decimal::Decimal;
use time::OffsetDateTime;
use tse_matching::{
    CancelReason, Command, Event, Lots, NewOrder, OrderBook, RejectReason, SelfTradePrevention, Side, Ticks,
    TimeInForce,
};
use tse_runtime::money::{self, MAX_AMOUNT};

use super::{
    instrument::Instrument,
    ledger::{AccountIdx, AssetIdx, Balance, Ledger, LedgerError, exact_limit},
    order::{Order, OrderStatus, OrderType, Trade},
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
    #[error("unknown symbol '{symbol}'; this exchange lists {listed}")]
    UnknownSymbol {
        /// The symbol asked for.
        symbol: String,
        /// What is listed.
        listed: String,
    },
    /// The exchange does not hold the asset.
    #[error("unknown asset '{asset}'; this exchange holds {held}")]
    UnknownAsset {
        /// The asset asked for.
        asset: String,
        /// What is held.
        held: String,
    },
    /// A price, quantity or amount is invalid.
    #[error("{0}")]
    Invalid(String),
    /// Not enough funds.
    #[error(transparent)]
    Insufficient(LedgerError),
    /// The client order id is taken.
    #[error("client_order_id '{client_order_id}' is already used by order {order}")]
    DuplicateClientOrderId {
        /// The id.
        client_order_id: String,
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

/// A new order as requested.
#[derive(Clone, Debug, PartialEq)]
pub struct PlaceRequest {
    /// Owner account id.
    pub account: String,
    /// Symbol.
    pub symbol: String,
    /// Buy or sell.
    pub side: Side,
    /// Limit or market.
    pub order_type: OrderType,
    /// Limit price (limit orders only).
    pub price: Option<Decimal>,
    /// Quantity.
    pub quantity: Decimal,
    /// Time in force (default GTC for limit, IOC for market).
    pub time_in_force: Option<TimeInForce>,
    /// Rest only.
    pub post_only: bool,
    /// The client's id for the order.
    pub client_order_id: Option<String>,
    /// Self-trade prevention (default: cancel the incoming order).
    pub self_trade: SelfTradePrevention,
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

/// A request that passed validation.
struct Validated {
    account: AccountIdx,
    index: usize,
    ticks: Option<tse_matching::Ticks>,
    lots: tse_matching::Lots,
    time_in_force: TimeInForce,
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

    /// Returns the listed instruments.
    pub fn instruments(&self) -> &[Instrument] {
        &self.instruments
    }

    /// Returns the ledger.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// Returns the fee schedule.
    pub fn fees(&self) -> Fees {
        self.fees
    }

    /// Returns the book of instrument `index`.
    pub fn book(&self, index: usize) -> &OrderBook {
        &self.books[index]
    }

    /// Returns the index of `symbol`.
    ///
    /// # Errors
    /// [`VenueError::UnknownSymbol`] naming what is listed.
    pub fn instrument(&self, symbol: &str) -> Result<usize, VenueError> {
        let upper = symbol.trim().to_ascii_uppercase();
        self.instruments
            .iter()
            .position(|i| i.symbol == upper)
            .ok_or_else(|| VenueError::UnknownSymbol {
                symbol: symbol.to_owned(),
                listed: self
                    .instruments
                    .iter()
                    .map(|i| i.symbol.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// Returns the index of account `id`.
    ///
    /// # Errors
    /// [`VenueError::UnknownAccount`].
    pub fn account(&self, id: &str) -> Result<AccountIdx, VenueError> {
        self.account_index
            .get(id)
            .copied()
            .ok_or_else(|| VenueError::UnknownAccount(id.to_owned()))
    }

    /// Returns how many accounts are open.
    pub fn account_count(&self) -> usize {
        self.accounts.len()
    }

    /// Returns account `index`.
    pub fn account_at(&self, index: AccountIdx) -> &Account {
        &self.accounts[index as usize]
    }

    /// Returns the index of `asset`.
    ///
    /// # Errors
    /// [`VenueError::UnknownAsset`] naming what is held.
    pub fn asset(&self, asset: &str) -> Result<AssetIdx, VenueError> {
        let upper = asset.trim().to_ascii_uppercase();
        self.ledger.asset(&upper).ok_or_else(|| VenueError::UnknownAsset {
            asset: asset.to_owned(),
            held: self.ledger.assets().join(", "),
        })
    }

    /// Returns an order held in memory (open, or recently finished).
    pub fn order(&self, id: u64) -> Option<&Order> {
        self.orders.get(&id)
    }

    /// Returns the open orders of an account, oldest first.
    pub fn open_orders(&self, account: AccountIdx) -> Vec<&Order> {
        let mut open: Vec<&Order> = self
            .orders
            .values()
            .filter(|o| o.account == account && o.status.is_open())
            .collect();
        open.sort_by_key(|o| o.id);
        open
    }

    /// Opens an account; returns its index.
    pub fn open_account(&mut self, entity: Option<String>, at: OffsetDateTime) -> AccountIdx {
        let index = self.ledger.open_account();
        let id = format!("acct-{}", index + 1);
        self.account_index.insert(id.clone(), index);
        self.accounts.push(Account {
            id,
            entity,
            created_at: at,
        });
        self.new_accounts.push(index);
        index
    }

    /// Credits a deposit.
    ///
    /// # Errors
    /// [`VenueError`] for an unknown account or asset, a non-positive amount, one beyond
    /// [`MAX_AMOUNT`] or with more decimals than the asset takes, or holdings that would overflow.
    pub fn deposit(&mut self, account: &str, asset: &str, amount: Decimal) -> Result<Balance, VenueError> {
        let (account, asset) = (self.account(account)?, self.asset(asset)?);
        self.check_amount(asset, amount)?;
        self.ledger
            .deposit(account, asset, amount)
            .map_err(|e| VenueError::Invalid(e.to_string()))?;
        Ok(self.ledger.balance(account, asset))
    }

    /// Debits a withdrawal from the available balance.
    ///
    /// # Errors
    /// [`VenueError`] for an unknown account or asset, an invalid amount (as for a deposit), or an
    /// overdraft.
    pub fn withdraw(&mut self, account: &str, asset: &str, amount: Decimal) -> Result<Balance, VenueError> {
        let (account, asset) = (self.account(account)?, self.asset(asset)?);
        self.check_amount(asset, amount)?;
        self.ledger
            .withdraw(account, asset, amount)
            .map_err(|e| match e {
                LedgerError::Insufficient { .. } => VenueError::Insufficient(e),
                other => VenueError::Invalid(other.to_string()),
            })?;
        Ok(self.ledger.balance(account, asset))
    }

    /// Returns how many decimals amounts of `asset` take here.
    pub fn asset_scale(&self, asset: AssetIdx) -> u32 {
        self.scales[usize::from(asset)]
    }

    /// Refuses an amount beyond [`MAX_AMOUNT`] or finer than the asset's scale.
    fn check_amount(&self, asset: AssetIdx, amount: Decimal) -> Result<(), VenueError> {
        money::bounded(amount).map_err(|e| VenueError::Invalid(format!("amount {e}")))?;
        let (decimals, allowed) = (money::decimals(amount), self.asset_scale(asset));
        if decimals > allowed {
            return Err(VenueError::Invalid(format!(
                "amount {amount} has {decimals} decimals; {} takes at most {allowed} on this exchange",
                self.ledger.asset_name(asset)
            )));
        }
        Ok(())
    }

    /// The quote a buy of `lots` at `ticks` reserves: its notional and the highest fee on it.
    fn limit_reserve(&self, index: usize, ticks: Ticks, lots: Lots) -> Result<Decimal, VenueError> {
        self.instruments[index]
            .notional(ticks, lots)
            .and_then(|n| n.checked_mul(Decimal::ONE + self.fees.max()))
            .ok_or_else(|| self.notional_error(index, ticks, lots))
    }

    fn notional_error(&self, index: usize, ticks: Ticks, lots: Lots) -> VenueError {
        let i = &self.instruments[index];
        VenueError::Invalid(format!(
            "notional {} × {} is beyond the largest amount handled ({MAX_AMOUNT})",
            i.price(ticks).normalize(),
            i.quantity(lots).normalize()
        ))
    }

    /// Refuses `lots` more on `side` of book `index` when the side could not count them.
    fn check_room(&self, index: usize, side: Side, lots: Lots) -> Result<(), VenueError> {
        let resting = self.books[index].volume(side);
        if resting.checked_add(lots).is_none() {
            let i = &self.instruments[index];
            return Err(VenueError::Invalid(format!(
                "{} cannot rest {} more: its {} side already holds {}",
                i.symbol,
                i.quantity(lots).normalize(),
                if side == Side::Buy { "bid" } else { "ask" },
                i.quantity(resting).normalize()
            )));
        }
        Ok(())
    }

    /// Places an order: validates it, reserves its funds, matches it, and rests or drops what is left.
    /// A request the book refuses (post-only that would take, fill-or-kill that cannot fill) becomes
    /// a `REJECTED` order with the reason; an invalid one is an error and changes nothing.
    ///
    /// # Errors
    /// [`VenueError`] for an unknown account or symbol, an invalid price or quantity, a taken client
    /// order id, or insufficient funds.
    pub fn place(
        &mut self,
        request: PlaceRequest,
        at: OffsetDateTime,
    ) -> Result<(Order, Vec<Trade>), VenueError> {
        let Validated {
            account,
            index,
            ticks,
            lots,
            time_in_force,
        } = self.validate(&request)?;
        let instrument = &self.instruments[index];
        let (base, quote) = self.assets_of(index);
        let (reserve_asset, reserve) = match (request.side, ticks) {
            (Side::Buy, Some(ticks)) => (quote, self.limit_reserve(index, ticks, lots)?),
            (Side::Buy, None) => {
                let (_, notional) = self.books[index].sweep(Side::Buy, lots, None);
                let cost = Decimal::try_from_i128_with_scale(notional, 0)
                    .ok()
                    .and_then(|n| n.checked_mul(instrument.tick_size))
                    .and_then(|n| n.checked_mul(instrument.lot_size))
                    .filter(|cost| *cost <= MAX_AMOUNT)
                    .and_then(|cost| cost.checked_mul(Decimal::ONE + self.fees.taker))
                    .ok_or_else(|| {
                        VenueError::Invalid(format!(
                            "a MARKET buy of {} {} would cost more than the largest amount handled ({MAX_AMOUNT})",
                            request.quantity, instrument.symbol
                        ))
                    })?;
                (quote, cost)
            }
            (Side::Sell, _) => (base, request.quantity),
        };
        self.ledger
            .lock(account, reserve_asset, reserve)
            .map_err(VenueError::Insufficient)?;
        let id = self.new_order(&request, account, index, time_in_force, reserve, at);
        let command = Command::Place(NewOrder {
            id,
            owner: u64::from(account),
            side: request.side,
            price: ticks,
            quantity: lots,
            time_in_force,
            post_only: request.post_only,
            self_trade: request.self_trade,
        });
        let trades = self.run(index, command, at);
        Ok((self.orders[&id].clone(), trades))
    }

    /// Checks a request against the listing, the account and the order rules.
    fn validate(&self, request: &PlaceRequest) -> Result<Validated, VenueError> {
        let account = self.account(&request.account)?;
        let index = self.instrument(&request.symbol)?;
        let instrument = &self.instruments[index];
        let lots = instrument.lots(request.quantity).map_err(VenueError::Invalid)?;
        let (ticks, time_in_force) = match request.order_type {
            OrderType::Limit => {
                let price = request
                    .price
                    .ok_or_else(|| VenueError::Invalid("a LIMIT order needs a price".into()))?;
                (
                    Some(instrument.ticks(price).map_err(VenueError::Invalid)?),
                    request.time_in_force.unwrap_or(TimeInForce::Gtc),
                )
            }
            OrderType::Market => {
                if request.price.is_some() {
                    return Err(VenueError::Invalid("a MARKET order takes no price".into()));
                }
                if request.post_only {
                    return Err(VenueError::Invalid("a MARKET order cannot be post-only".into()));
                }
                let tif = request.time_in_force.unwrap_or(TimeInForce::Ioc);
                if tif == TimeInForce::Gtc {
                    return Err(VenueError::Invalid(
                        "a MARKET order is IOC or FOK, never GTC".into(),
                    ));
                }
                // A market buy reserves the cost of sweeping the book as it stands; skipping its own
                // resting orders could make it fill deeper than that.
                if request.side == Side::Buy && request.self_trade != SelfTradePrevention::CancelTaker {
                    return Err(VenueError::Invalid(
                        "a MARKET buy supports only CANCEL_TAKER self-trade prevention".into(),
                    ));
                }
                (None, tif)
            }
        };
        if request.post_only && time_in_force != TimeInForce::Gtc {
            return Err(VenueError::Invalid("a post-only order must be GTC".into()));
        }
        if let Some(ticks) = ticks
            && instrument.notional(ticks, lots).is_none()
        {
            return Err(self.notional_error(index, ticks, lots));
        }
        if time_in_force == TimeInForce::Gtc {
            self.check_room(index, request.side, lots)?;
        }
        if let Some(cid) = &request.client_order_id {
            if cid.is_empty() || cid.len() > 64 {
                return Err(VenueError::Invalid(
                    "client_order_id must have 1 to 64 characters".into(),
                ));
            }
            if let Some(order) = self.client_ids.get(&(account, cid.clone())) {
                return Err(VenueError::DuplicateClientOrderId {
                    client_order_id: cid.clone(),
                    order: *order,
                });
            }
        }
        Ok(Validated {
            account,
            index,
            ticks,
            lots,
            time_in_force,
        })
    }

    /// Records an order the venue refuses for an outside reason (a halted symbol, a fault), after the
    /// same validation as [`Venue::place`]: it exists as `REJECTED` with `reason`, holds nothing and
    /// never reaches the book.
    ///
    /// # Errors
    /// As [`Venue::place`], except for funds, which are not checked.
    pub fn refuse(
        &mut self,
        request: PlaceRequest,
        reason: &str,
        at: OffsetDateTime,
    ) -> Result<Order, VenueError> {
        let Validated {
            account,
            index,
            time_in_force,
            ..
        } = self.validate(&request)?;
        let id = self.new_order(&request, account, index, time_in_force, Decimal::ZERO, at);
        let order = self.orders.get_mut(&id).expect("just inserted");
        order.status = OrderStatus::Rejected;
        order.reason = Some(reason.to_owned());
        self.rejected(id);
        self.finished.push_back(id);
        Ok(self.orders[&id].clone())
    }

    /// Records that order `id` was rejected: an order rejected on arrival was never placed, so its
    /// `Placed` step is replaced.
    fn rejected(&mut self, id: u64) {
        if self.lifecycle.last() == Some(&(id, Lifecycle::Placed)) {
            self.lifecycle.pop();
        }
        self.lifecycle.push((id, Lifecycle::Rejected));
    }

    /// Creates an order record (status NEW) holding `locked`; returns its id.
    fn new_order(
        &mut self,
        request: &PlaceRequest,
        account: AccountIdx,
        index: usize,
        time_in_force: TimeInForce,
        locked: Decimal,
        at: OffsetDateTime,
    ) -> u64 {
        let id = self.next_order;
        self.next_order += 1;
        let priority = self.next_priority;
        self.next_priority += 1;
        if let Some(cid) = &request.client_order_id {
            self.client_ids.insert((account, cid.clone()), id);
        }
        self.orders.insert(
            id,
            Order {
                id,
                client_order_id: request.client_order_id.clone(),
                account,
                instrument: index,
                side: request.side,
                order_type: request.order_type,
                time_in_force,
                post_only: request.post_only,
                self_trade: request.self_trade,
                price: request.price,
                quantity: request.quantity,
                filled: Decimal::ZERO,
                filled_notional: Decimal::ZERO,
                fees: Decimal::ZERO,
                status: OrderStatus::New,
                reason: None,
                created_at: at,
                updated_at: at,
                locked,
                priority,
            },
        );
        self.changed_orders.push(id);
        self.lifecycle.push((id, Lifecycle::Placed));
        id
    }

    /// Cancels an open order.
    ///
    /// # Errors
    /// [`VenueError::UnknownOrder`] or [`VenueError::NotOpen`].
    pub fn cancel(&mut self, id: u64, at: OffsetDateTime) -> Result<Order, VenueError> {
        let order = self.orders.get(&id).ok_or(VenueError::UnknownOrder(id))?;
        if !order.status.is_open() {
            return Err(VenueError::NotOpen {
                id,
                status: order.status.as_str(),
            });
        }
        let index = order.instrument;
        self.run(index, Command::Cancel(id), at);
        Ok(self.orders[&id].clone())
    }

    /// Changes an open limit order's price and/or total quantity. A smaller quantity at the same price
    /// keeps its place; anything else sends it to the back of its level (matching first if it crosses).
    ///
    /// # Errors
    /// [`VenueError`] when the order is unknown or closed, the values are invalid, or a larger
    /// reservation cannot be covered.
    pub fn amend(
        &mut self,
        id: u64,
        price: Option<Decimal>,
        quantity: Option<Decimal>,
        at: OffsetDateTime,
    ) -> Result<(Order, Vec<Trade>), VenueError> {
        let order = self.orders.get(&id).ok_or(VenueError::UnknownOrder(id))?.clone();
        if !order.status.is_open() {
            return Err(VenueError::NotOpen {
                id,
                status: order.status.as_str(),
            });
        }
        let instrument = &self.instruments[order.instrument];
        let new_price = price.or(order.price).unwrap_or_default();
        let ticks = instrument.ticks(new_price).map_err(VenueError::Invalid)?;
        let new_quantity = quantity.unwrap_or(order.quantity);
        money::bounded(new_quantity).map_err(|e| VenueError::Invalid(format!("quantity {e}")))?;
        let remaining = new_quantity
            .checked_sub(order.filled)
            .filter(|r| *r > Decimal::ZERO)
            .ok_or_else(|| {
                VenueError::Invalid(format!(
                    "quantity {new_quantity} must exceed the {} already filled",
                    order.filled
                ))
            })?;
        let lots = instrument.lots(remaining).map_err(VenueError::Invalid)?;
        if instrument.notional(ticks, lots).is_none() {
            return Err(self.notional_error(order.instrument, ticks, lots));
        }
        self.check_room(order.instrument, order.side, lots)?;
        let (base, quote) = self.assets_of(order.instrument);
        let (asset, needed) = match order.side {
            Side::Buy => (quote, self.limit_reserve(order.instrument, ticks, lots)?),
            Side::Sell => (base, remaining),
        };
        if needed > order.locked {
            self.ledger
                .lock(order.account, asset, needed - order.locked)
                .map_err(VenueError::Insufficient)?;
        }
        let mut events = std::mem::take(&mut self.scratch);
        events.clear();
        self.books[order.instrument].execute(
            Command::Amend {
                id,
                price: Some(ticks),
                quantity: Some(lots),
            },
            &mut events,
        );
        if let Some(Event::Rejected { reason, .. }) = events.first() {
            let reason = *reason;
            self.scratch = events;
            if needed > order.locked {
                self.ledger.unlock(order.account, asset, needed - order.locked);
            }
            return Err(VenueError::Invalid(reject_text(reason).into()));
        }
        // Accepted: record the new terms (fills below reserve at the new price), then apply events.
        let o = self.orders.get_mut(&id).expect("order checked above");
        if needed < o.locked {
            self.ledger.unlock(o.account, asset, o.locked - needed);
        }
        o.locked = needed;
        o.price = Some(new_price);
        o.quantity = new_quantity;
        o.updated_at = at;
        self.changed_orders.push(id);
        self.lifecycle.push((id, Lifecycle::Amended));
        let trades = self.apply(order.instrument, &events, at);
        self.scratch = events;
        Ok((self.orders[&id].clone(), trades))
    }

    fn assets_of(&self, index: usize) -> (AssetIdx, AssetIdx) {
        let i = &self.instruments[index];
        let base = self
            .ledger
            .asset(&i.base)
            .expect("instrument assets are in the ledger");
        let quote = self
            .ledger
            .asset(&i.quote)
            .expect("instrument assets are in the ledger");
        (base, quote)
    }

    /// Executes a command on a book and applies its events; returns the trades.
    fn run(&mut self, index: usize, command: Command, at: OffsetDateTime) -> Vec<Trade> {
        let mut events = std::mem::take(&mut self.scratch);
        events.clear();
        self.books[index].execute(command, &mut events);
        let trades = self.apply(index, &events, at);
        self.scratch = events;
        trades
    }

    /// Applies book events to orders and balances.
    fn apply(&mut self, index: usize, events: &[Event], at: OffsetDateTime) -> Vec<Trade> {
        let (base, quote) = self.assets_of(index);
        let instrument = self.instruments[index].clone();
        let mut trades = Vec::new();
        for event in events {
            match *event {
                Event::Trade {
                    taker,
                    maker,
                    taker_side,
                    price,
                    quantity,
                    ..
                } => {
                    let price = instrument.price(price);
                    let quantity = instrument.quantity(quantity);
                    let cost = price * quantity;
                    let (buy, sell) = match taker_side {
                        Side::Buy => (taker, maker),
                        Side::Sell => (maker, taker),
                    };
                    let rate = |order: u64| {
                        if order == taker {
                            self.fees.taker
                        } else {
                            self.fees.maker
                        }
                    };
                    let (buyer_fee, seller_fee) = (cost * rate(buy), cost * rate(sell));
                    let max_rate = self.fees.max();
                    let buyer = self.orders[&buy].account;
                    let seller = self.orders[&sell].account;
                    // What the buy order had reserved for this quantity, and what it releases.
                    let buy_order = self.orders.get_mut(&buy).expect("traded orders are known");
                    let reserved = match buy_order.price {
                        Some(limit) if buy_order.order_type == OrderType::Limit => {
                            limit * quantity * (Decimal::ONE + max_rate)
                        }
                        _ => cost + buyer_fee,
                    };
                    buy_order.locked -= reserved;
                    record_fill(buy_order, quantity, cost, buyer_fee, at);
                    let release = reserved - cost - buyer_fee;
                    let sell_order = self.orders.get_mut(&sell).expect("traded orders are known");
                    sell_order.locked -= quantity;
                    record_fill(sell_order, quantity, cost, seller_fee, at);
                    self.ledger
                        .settle(buyer, seller, base, quote, quantity, cost, buyer_fee, seller_fee);
                    self.ledger.unlock(buyer, quote, release);
                    let trade = Trade {
                        id: self.next_trade,
                        instrument: index,
                        price,
                        quantity,
                        buy_order: buy,
                        sell_order: sell,
                        buyer,
                        seller,
                        taker_side,
                        buyer_fee,
                        seller_fee,
                        executed_at: at,
                    };
                    self.next_trade += 1;
                    self.new_trades.push(trade.clone());
                    trades.push(trade);
                    self.changed_orders.extend([buy, sell]);
                    for id in [buy, sell] {
                        self.settle_if_done(id, base, quote);
                    }
                }
                Event::Rested { id, .. } => {
                    let priority = self.next_priority;
                    self.next_priority += 1;
                    if let Some(order) = self.orders.get_mut(&id) {
                        order.priority = priority;
                        order.updated_at = at;
                    }
                }
                Event::Cancelled { id, reason, .. } => {
                    let text = match reason {
                        CancelReason::Requested => "cancelled by request",
                        CancelReason::Unfilled => "no more liquidity at the order's price",
                        CancelReason::SelfTrade => "self-trade prevention",
                    };
                    self.close(id, OrderStatus::Cancelled, text, at, base, quote);
                }
                Event::Rejected { id, reason } => {
                    self.close(id, OrderStatus::Rejected, reject_text(reason), at, base, quote);
                }
                Event::Amended { id, .. } => {
                    if let Some(order) = self.orders.get_mut(&id) {
                        order.updated_at = at;
                    }
                }
            }
        }
        trades
    }

    /// Releases what a filled order still holds.
    fn settle_if_done(&mut self, id: u64, base: AssetIdx, quote: AssetIdx) {
        let Some(order) = self.orders.get_mut(&id) else {
            return;
        };
        if order.status == OrderStatus::Filled && !order.locked.is_zero() {
            let asset = if order.side == Side::Buy { quote } else { base };
            let left = std::mem::take(&mut order.locked);
            let account = order.account;
            self.ledger.unlock(account, asset, left);
        }
        if order.status == OrderStatus::Filled {
            self.finished.push_back(id);
        }
    }

    /// Ends an order with `status`, releasing its reservation.
    fn close(
        &mut self,
        id: u64,
        status: OrderStatus,
        reason: &str,
        at: OffsetDateTime,
        base: AssetIdx,
        quote: AssetIdx,
    ) {
        let Some(order) = self.orders.get_mut(&id) else {
            return;
        };
        order.status = status;
        order.reason = Some(reason.to_owned());
        order.updated_at = at;
        let asset = if order.side == Side::Buy { quote } else { base };
        let left = std::mem::take(&mut order.locked);
        let account = order.account;
        if status == OrderStatus::Rejected {
            self.rejected(id);
        } else {
            self.lifecycle.push((id, Lifecycle::Cancelled));
        }
        self.ledger.unlock(account, asset, left);
        self.changed_orders.push(id);
        self.finished.push_back(id);
    }

    /// Restores an account as stored; accounts must be restored in index order.
    pub fn restore_account(&mut self, account: Account) -> AccountIdx {
        let index = self.ledger.open_account();
        self.account_index.insert(account.id.clone(), index);
        self.accounts.push(account);
        index
    }

    /// Restores a stored balance.
    ///
    /// # Errors
    /// [`VenueError`] for an unknown account or asset.
    pub fn restore_balance(
        &mut self,
        account: &str,
        asset: &str,
        balance: Balance,
    ) -> Result<(), VenueError> {
        let (account, asset) = (self.account(account)?, self.asset(asset)?);
        self.ledger.restore(account, asset, balance);
        Ok(())
    }

    /// Restores an asset's collected fees and deposits minus withdrawals.
    ///
    /// # Errors
    /// [`VenueError::UnknownAsset`].
    pub fn restore_totals(
        &mut self,
        asset: &str,
        fees: Decimal,
        net_deposits: Decimal,
    ) -> Result<(), VenueError> {
        let asset = self.asset(asset)?;
        self.ledger.restore_totals(asset, fees, net_deposits);
        Ok(())
    }

    /// Restores a stored order. An open order re-enters its book; restore open orders in increasing
    /// `priority` so each level keeps its queue order.
    ///
    /// # Errors
    /// [`VenueError::Invalid`] when an open order does not fit its book (it would cross it).
    pub fn restore_order(&mut self, order: Order) -> Result<(), VenueError> {
        if let Some(cid) = &order.client_order_id {
            self.client_ids.insert((order.account, cid.clone()), order.id);
        }
        self.next_order = self.next_order.max(order.id + 1);
        self.next_priority = self.next_priority.max(order.priority + 1);
        if order.status.is_open() {
            let instrument = &self.instruments[order.instrument];
            let price = order
                .price
                .ok_or_else(|| VenueError::Invalid(format!("open order {} has no price", order.id)))?;
            let ticks = instrument.ticks(price).map_err(VenueError::Invalid)?;
            let lots = instrument
                .lots(order.quantity - order.filled)
                .map_err(VenueError::Invalid)?;
            let mut events = Vec::new();
            self.books[order.instrument].execute(
                Command::Place(NewOrder {
                    id: order.id,
                    owner: u64::from(order.account),
                    side: order.side,
                    price: Some(ticks),
                    quantity: lots,
                    time_in_force: TimeInForce::Gtc,
                    post_only: order.post_only,
                    self_trade: order.self_trade,
                }),
                &mut events,
            );
            if !matches!(events.as_slice(), [Event::Rested { .. }]) {
                return Err(VenueError::Invalid(format!(
                    "order {} does not fit its book: {events:?}",
                    order.id
                )));
            }
            self.orders.insert(order.id, order);
        }
        Ok(())
    }

    /// Remembers that `client_order_id` of `account` is used by `order` (a finished order not kept in
    /// memory).
    pub fn restore_client_id(&mut self, account: AccountIdx, client_order_id: String, order: u64) {
        self.client_ids.insert((account, client_order_id), order);
    }

    /// Continues numbering trades after `last_trade`.
    pub fn restore_last_trade(&mut self, last_trade: u64) {
        self.next_trade = self.next_trade.max(last_trade + 1);
    }

    /// Continues numbering orders after `last_order` (finished orders are not restored one by one).
    pub fn restore_last_order(&mut self, last_order: u64) {
        self.next_order = self.next_order.max(last_order + 1);
    }

    /// Returns what changed since the last call, and forgets the oldest finished orders beyond what
    /// memory keeps.
    pub fn take_changes(&mut self) -> Changes {
        let mut seen = std::collections::HashSet::with_capacity(self.changed_orders.len());
        let orders = std::mem::take(&mut self.changed_orders)
            .into_iter()
            .filter(|id| seen.insert(*id))
            .filter_map(|id| self.orders.get(&id).cloned())
            .collect();
        let balances = self
            .ledger
            .take_touched()
            .into_iter()
            .map(|(account, asset)| (account, asset, self.ledger.balance(account, asset)))
            .collect();
        while self.finished.len() > RETAINED_FINISHED {
            if let Some(id) = self.finished.pop_front() {
                self.orders.remove(&id);
            }
        }
        Changes {
            lifecycle: std::mem::take(&mut self.lifecycle),
            accounts: std::mem::take(&mut self.new_accounts),
            orders,
            trades: std::mem::take(&mut self.new_trades),
            balances,
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

/// Updates an order for one fill.
fn record_fill(order: &mut Order, quantity: Decimal, cost: Decimal, fee: Decimal, at: OffsetDateTime) {
    order.filled += quantity;
    order.filled_notional += cost;
    order.fees += fee;
    order.updated_at = at;
    order.status = if order.filled >= order.quantity {
        OrderStatus::Filled
    } else {
        OrderStatus::PartiallyFilled
    };
}

fn reject_text(reason: RejectReason) -> &'static str {
    match reason {
        RejectReason::PostOnlyWouldTake => "post-only order would have matched on arrival",
        RejectReason::PostOnlyMarket => "a post-only order must be a limit order",
        RejectReason::FillOrKillUnfillable => "fill-or-kill order cannot be filled completely now",
        RejectReason::DuplicateOrderId => "duplicate order id",
        RejectReason::ZeroQuantity => "quantity must be positive",
        RejectReason::NonPositivePrice => "price must be positive",
        RejectReason::UnknownOrder => "unknown order",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn venue() -> Venue {
        Venue::new(
            vec![Instrument::new("BTC-USD", d("0.01"), d("0.001")).unwrap()],
            Fees {
                maker: d("0.001"),
                taker: d("0.002"),
            },
        )
    }

    fn order(
        account: &str,
        side: Side,
        order_type: OrderType,
        price: Option<&str>,
        quantity: &str,
    ) -> PlaceRequest {
        PlaceRequest {
            account: account.into(),
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

    const AT: OffsetDateTime = OffsetDateTime::UNIX_EPOCH;

    #[test]
    fn a_market_buy_fills_against_a_resting_sell_with_exact_fees() {
        let mut v = venue();
        v.open_account(Some("maker-desk".into()), AT);
        v.open_account(None, AT);
        v.deposit("acct-1", "BTC", d("1")).unwrap();
        v.deposit("acct-2", "USD", d("1000")).unwrap();
        let (sell, _) = v
            .place(
                order("acct-1", Side::Sell, OrderType::Limit, Some("100.00"), "1"),
                AT,
            )
            .unwrap();
        assert_eq!(sell.status, OrderStatus::New);
        assert!(matches!(
            v.place(
                order("acct-1", Side::Sell, OrderType::Limit, Some("100"), "5"),
                AT
            ),
            Err(VenueError::Insufficient(_))
        ));

        let (buy, trades) = v
            .place(order("acct-2", Side::Buy, OrderType::Market, None, "0.5"), AT)
            .unwrap();
        assert_eq!(buy.status, OrderStatus::Filled);
        assert_eq!(trades.len(), 1);
        assert_eq!((trades[0].price, trades[0].quantity), (d("100"), d("0.5")));
        // The buyer (taker) pays 50 + 0.1; the seller (maker) receives 50 - 0.05.
        let usd = v.asset("USD").unwrap();
        let btc = v.asset("BTC").unwrap();
        assert_eq!(
            v.ledger().balance(1, usd),
            Balance {
                available: d("949.9"),
                locked: d("0")
            }
        );
        assert_eq!(v.ledger().balance(1, btc).available, d("0.5"));
        assert_eq!(v.ledger().balance(0, usd).available, d("49.95"));
        assert_eq!(
            v.ledger().balance(0, btc),
            Balance {
                available: d("0"),
                locked: d("0.5")
            }
        );
        assert_eq!(v.ledger().fees(usd), d("0.15"));
        let rested = v.order(sell.id).unwrap();
        assert_eq!(
            (rested.status, rested.filled, rested.locked),
            (OrderStatus::PartiallyFilled, d("0.5"), d("0.5"))
        );

        let cancelled = v.cancel(sell.id, AT).unwrap();
        assert_eq!(cancelled.status, OrderStatus::Cancelled);
        assert_eq!(
            v.ledger().balance(0, btc),
            Balance {
                available: d("0.5"),
                locked: d("0")
            }
        );
        assert!(matches!(v.cancel(sell.id, AT), Err(VenueError::NotOpen { .. })));
        for asset in [usd, btc] {
            assert_eq!(v.ledger().held(asset), Some(v.ledger().net_deposits(asset)));
        }
        let changes = v.take_changes();
        assert_eq!(changes.accounts.len(), 2);
        assert_eq!(changes.trades.len(), 1);
        assert!(
            changes
                .orders
                .iter()
                .any(|o| o.id == buy.id && o.status == OrderStatus::Filled)
        );
    }

    #[test]
    fn a_limit_buy_reserves_at_its_price_and_releases_the_improvement() {
        let mut v = venue();
        v.open_account(None, AT);
        v.open_account(None, AT);
        v.deposit("acct-1", "BTC", d("1")).unwrap();
        v.deposit("acct-2", "USD", d("1000")).unwrap();
        v.place(order("acct-1", Side::Sell, OrderType::Limit, Some("90"), "1"), AT)
            .unwrap();
        let (buy, _) = v
            .place(order("acct-2", Side::Buy, OrderType::Limit, Some("100"), "1"), AT)
            .unwrap();
        assert_eq!(buy.status, OrderStatus::Filled);
        // Reserved 100 × 1.002; paid 90 × 1.002: 9.98 comes back.
        let usd = v.asset("USD").unwrap();
        assert_eq!(
            v.ledger().balance(1, usd),
            Balance {
                available: d("909.82"),
                locked: d("0")
            }
        );
        assert_eq!(buy.average_price(), Some(d("90")));
    }

    #[test]
    fn invalid_requests_change_nothing() {
        let mut v = venue();
        v.open_account(None, AT);
        v.deposit("acct-1", "USD", d("100")).unwrap();
        let before = v.ledger().balance(0, v.asset("USD").unwrap());
        let cases = [
            order("acct-9", Side::Buy, OrderType::Limit, Some("1"), "1"),
            PlaceRequest {
                symbol: "DOGE-USD".into(),
                ..order("acct-1", Side::Buy, OrderType::Limit, Some("1"), "1")
            },
            order("acct-1", Side::Buy, OrderType::Limit, Some("1.001"), "1"),
            order("acct-1", Side::Buy, OrderType::Limit, Some("1"), "0.0001"),
            order("acct-1", Side::Buy, OrderType::Limit, Some("1"), "-1"),
            order("acct-1", Side::Buy, OrderType::Limit, None, "1"),
            order("acct-1", Side::Buy, OrderType::Market, Some("1"), "1"),
            order("acct-1", Side::Buy, OrderType::Limit, Some("200"), "1"),
        ];
        for case in cases {
            assert!(v.place(case.clone(), AT).is_err(), "{case:?}");
        }
        assert_eq!(v.ledger().balance(0, v.asset("USD").unwrap()), before);
        assert!(v.take_changes().orders.is_empty());
    }

    #[test]
    fn client_order_ids_are_unique_per_account() {
        let mut v = venue();
        v.open_account(None, AT);
        v.deposit("acct-1", "USD", d("1000")).unwrap();
        let with_cid = PlaceRequest {
            client_order_id: Some("mine-1".into()),
            ..order("acct-1", Side::Buy, OrderType::Limit, Some("10"), "1")
        };
        let (first, _) = v.place(with_cid.clone(), AT).unwrap();
        assert_eq!(
            v.place(with_cid, AT).unwrap_err(),
            VenueError::DuplicateClientOrderId {
                client_order_id: "mine-1".into(),
                order: first.id
            }
        );
    }

    #[test]
    fn post_only_and_fill_or_kill_refusals_are_rejected_orders_that_hold_nothing() {
        let mut v = venue();
        v.open_account(None, AT);
        v.open_account(None, AT);
        v.deposit("acct-1", "BTC", d("1")).unwrap();
        v.deposit("acct-2", "USD", d("1000")).unwrap();
        v.place(
            order("acct-1", Side::Sell, OrderType::Limit, Some("100"), "0.1"),
            AT,
        )
        .unwrap();
        let post = PlaceRequest {
            post_only: true,
            ..order("acct-2", Side::Buy, OrderType::Limit, Some("100"), "0.1")
        };
        let (rejected, _) = v.place(post, AT).unwrap();
        assert_eq!(rejected.status, OrderStatus::Rejected);
        assert_eq!(
            rejected.reason.as_deref(),
            Some("post-only order would have matched on arrival")
        );
        let fok = PlaceRequest {
            time_in_force: Some(TimeInForce::Fok),
            ..order("acct-2", Side::Buy, OrderType::Limit, Some("100"), "0.2")
        };
        assert_eq!(v.place(fok, AT).unwrap().0.status, OrderStatus::Rejected);
        let usd = v.asset("USD").unwrap();
        assert_eq!(
            v.ledger().balance(1, usd),
            Balance {
                available: d("1000"),
                locked: d("0")
            }
        );
    }

    #[test]
    fn a_venue_restored_from_its_recorded_changes_is_the_same() {
        let mut v = venue();
        v.open_account(None, AT);
        v.open_account(Some("desk".into()), AT);
        v.deposit("acct-1", "BTC", d("2")).unwrap();
        v.deposit("acct-2", "USD", d("10000")).unwrap();
        for (price, quantity) in [("101", "0.5"), ("102", "0.3"), ("101", "0.2")] {
            v.place(
                order("acct-1", Side::Sell, OrderType::Limit, Some(price), quantity),
                AT,
            )
            .unwrap();
        }
        v.place(order("acct-2", Side::Buy, OrderType::Limit, Some("99"), "1"), AT)
            .unwrap();
        v.place(order("acct-2", Side::Buy, OrderType::Market, None, "0.6"), AT)
            .unwrap();
        let refused = v
            .refuse(
                order("acct-2", Side::Buy, OrderType::Limit, Some("99"), "1"),
                "trading halted",
                AT,
            )
            .unwrap();
        assert_eq!((refused.status, refused.locked), (OrderStatus::Rejected, d("0")));
        let changes = v.take_changes();

        let mut restored = venue();
        for index in &changes.accounts {
            restored.restore_account(v.account_at(*index).clone());
        }
        for (account, asset, balance) in &changes.balances {
            let id = v.account_at(*account).id.clone();
            restored
                .restore_balance(&id, v.ledger().asset_name(*asset), *balance)
                .unwrap();
        }
        for asset in v.ledger().assets().to_vec() {
            let i = v.asset(&asset).unwrap();
            restored
                .restore_totals(&asset, v.ledger().fees(i), v.ledger().net_deposits(i))
                .unwrap();
        }
        let mut orders = changes.orders.clone();
        orders.sort_by_key(|o| o.priority);
        for order in orders {
            restored.restore_order(order).unwrap();
        }
        restored.restore_last_trade(changes.trades.last().unwrap().id);
        for side in [Side::Buy, Side::Sell] {
            assert_eq!(
                restored.book(0).orders(side),
                v.book(0).orders(side),
                "{side:?} book"
            );
        }
        for account in 0..2 {
            for asset in 0..2 {
                assert_eq!(
                    restored.ledger().balance(account, asset),
                    v.ledger().balance(account, asset)
                );
            }
        }
        // Numbering continues where it stopped.
        let (next, trades) = restored
            .place(order("acct-2", Side::Buy, OrderType::Market, None, "0.1"), AT)
            .unwrap();
        assert_eq!(next.id, refused.id + 1);
        assert_eq!(trades[0].id, changes.trades.last().unwrap().id + 1);
    }

    #[test]
    fn amending_adjusts_the_reservation_and_may_trade() {
        let mut v = venue();
        v.open_account(None, AT);
        v.open_account(None, AT);
        v.deposit("acct-1", "BTC", d("1")).unwrap();
        v.deposit("acct-2", "USD", d("1000")).unwrap();
        let (buy, _) = v
            .place(order("acct-2", Side::Buy, OrderType::Limit, Some("90"), "1"), AT)
            .unwrap();
        let usd = v.asset("USD").unwrap();
        assert_eq!(v.ledger().balance(1, usd).locked, d("90.180"));
        v.place(
            order("acct-1", Side::Sell, OrderType::Limit, Some("95"), "0.5"),
            AT,
        )
        .unwrap();
        let (amended, trades) = v.amend(buy.id, Some(d("95")), None, AT).unwrap();
        assert_eq!(trades.len(), 1, "repriced across the spread, it traded");
        assert_eq!(
            (amended.status, amended.filled),
            (OrderStatus::PartiallyFilled, d("0.5"))
        );
        // The rest (0.5 at 95) stays reserved at the new price.
        assert_eq!(v.ledger().balance(1, usd).locked, d("47.595"));
        assert!(matches!(
            v.amend(buy.id, None, Some(d("0.5")), AT),
            Err(VenueError::Invalid(_))
        ));
        assert!(matches!(
            v.amend(buy.id, Some(d("95")), Some(d("100")), AT),
            Err(VenueError::Insufficient(_))
        ));
        assert_eq!(v.ledger().held(usd), Some(v.ledger().net_deposits(usd)));
    }

    #[test]
    fn values_that_would_overflow_are_refused_and_change_nothing() {
        let mut v = venue();
        v.open_account(None, AT);
        v.open_account(None, AT);
        v.deposit("acct-1", "USD", d("100000000000000000000")).unwrap();
        v.deposit("acct-2", "BTC", d("12000000000000000")).unwrap();
        // Two asks of 6 × 10^19 USD each: within the bound one by one, not together.
        for _ in 0..2 {
            v.place(
                order(
                    "acct-2",
                    Side::Sell,
                    OrderType::Limit,
                    Some("10000"),
                    "6000000000000000",
                ),
                AT,
            )
            .unwrap();
        }
        let (resting, _) = v
            .place(order("acct-1", Side::Buy, OrderType::Limit, Some("0.5"), "1"), AT)
            .unwrap();
        v.take_changes();
        let max = Decimal::MAX.to_string();
        let refused = |v: &mut Venue, request: PlaceRequest| {
            let e = v.place(request.clone(), AT).unwrap_err();
            assert!(matches!(e, VenueError::Invalid(_)), "{request:?}: {e}");
            e.to_string()
        };
        for (price, quantity) in [(max.as_str(), "1"), ("1", max.as_str())] {
            let e = refused(
                &mut v,
                order("acct-1", Side::Buy, OrderType::Limit, Some(price), quantity),
            );
            assert!(e.contains("beyond the largest amount handled"), "{e}");
        }
        // 9e16 × 1e14, each fine alone.
        let e = refused(
            &mut v,
            order(
                "acct-1",
                Side::Buy,
                OrderType::Limit,
                Some("90000000000000000"),
                "100000000000000",
            ),
        );
        assert_eq!(
            e,
            "notional 90000000000000000 × 100000000000000 is beyond the largest amount handled (100000000000000000000)"
        );
        let e = refused(
            &mut v,
            order("acct-1", Side::Buy, OrderType::Market, None, "12000000000000000"),
        );
        assert_eq!(
            e,
            "a MARKET buy of 12000000000000000 BTC-USD would cost more than the largest amount handled (100000000000000000000)"
        );
        for (price, quantity) in [
            (Some(max.as_str()), None),
            (None, Some(max.as_str())),
            (Some("90000000000000000"), Some("100000000000000")),
        ] {
            let e = v
                .amend(resting.id, price.map(d), quantity.map(d), AT)
                .unwrap_err();
            assert!(e.to_string().contains("beyond"), "{e}");
        }
        assert!(matches!(
            v.deposit("acct-1", "USD", Decimal::MAX),
            Err(VenueError::Invalid(e)) if e.contains("beyond")
        ));
        assert!(matches!(
            v.deposit("acct-1", "BTC", d("0.0001")),
            Err(VenueError::Invalid(e)) if e == "amount 0.0001 has 4 decimals; BTC takes at most 3 on this exchange"
        ));
        let changes = v.take_changes();
        assert!(
            changes.orders.is_empty() && changes.balances.is_empty(),
            "{changes:?}"
        );
        for asset in 0..2 {
            assert_eq!(v.ledger().held(asset), Some(v.ledger().net_deposits(asset)));
        }
    }

    #[test]
    fn assets_take_the_decimals_their_instruments_and_fees_produce() {
        let v = venue();
        // BTC moves in lots of 0.001; USD as price (0.01) × quantity (0.001) × a fee rate (0.001).
        assert_eq!(v.asset_scale(v.asset("BTC").unwrap()), 3);
        assert_eq!(v.asset_scale(v.asset("USD").unwrap()), 8);
    }
}
