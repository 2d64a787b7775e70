//! Order entry: a new order is validated, its funds are reserved, and it meets the book.

use rust_decimal::Decimal;
use time::OffsetDateTime;
use tse_market::{AccountId, ClientOrderId};
use tse_matching::{Command, Lots, NewOrder, SelfTradePrevention, Side, Ticks, TimeInForce};
use tse_runtime::money::MAX_AMOUNT;

use super::{Lifecycle, Venue, VenueError};
use crate::domain::{
    ledger::AccountIdx,
    order::{Order, OrderStatus, OrderType, Trade},
};

/// A new order as requested.
#[derive(Clone, Debug, PartialEq)]
pub struct PlaceRequest {
    /// Owner account id.
    pub account: AccountId,
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
    pub client_order_id: Option<ClientOrderId>,
    /// Self-trade prevention (default: cancel the incoming order).
    pub self_trade: SelfTradePrevention,
}

/// A request that passed validation.
struct Validated {
    account: AccountIdx,
    index: usize,
    ticks: Option<tse_matching::Ticks>,
    lots: tse_matching::Lots,
    time_in_force: TimeInForce,
}

impl Venue {
    /// The quote a buy of `lots` at `ticks` reserves: its notional and the highest fee on it.
    pub(super) fn limit_reserve(
        &self,
        index: usize,
        ticks: Ticks,
        lots: Lots,
    ) -> Result<Decimal, VenueError> {
        self.instruments[index]
            .notional(ticks, lots)
            .and_then(|n| n.checked_mul(Decimal::ONE + self.fees.max()))
            .ok_or_else(|| self.notional_error(index, ticks, lots))
    }

    pub(super) fn notional_error(&self, index: usize, ticks: Ticks, lots: Lots) -> VenueError {
        let i = &self.instruments[index];
        VenueError::Invalid(format!(
            "notional {} × {} is beyond the largest amount handled ({MAX_AMOUNT})",
            i.price(ticks).normalize(),
            i.quantity(lots).normalize()
        ))
    }

    /// Refuses `lots` more on `side` of book `index` when the side could not count them.
    pub(super) fn check_room(&self, index: usize, side: Side, lots: Lots) -> Result<(), VenueError> {
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
        if let Some(cid) = &request.client_order_id
            && let Some(order) = self.client_ids.get(&(account, cid.to_string()))
        {
            return Err(VenueError::DuplicateClientOrderId {
                client_order_id: cid.clone(),
                order: *order,
            });
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
    pub(super) fn rejected(&mut self, id: u64) {
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
            self.client_ids.insert((account, cid.to_string()), id);
        }
        self.orders.insert(
            id,
            Order {
                id,
                client_order_id: request.client_order_id.clone().map(String::from),
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
}

#[cfg(test)]
mod tests {
    use rust_decimal::Decimal;
    use tse_market::ClientOrderId;
    use tse_matching::{Side, TimeInForce};

    use super::super::{
        Balance, PlaceRequest, Venue, VenueError,
        fixtures::{AT, d, order, venue},
    };
    use crate::domain::order::{OrderStatus, OrderType};

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
            client_order_id: Some(ClientOrderId::parse("mine-1").unwrap()),
            ..order("acct-1", Side::Buy, OrderType::Limit, Some("10"), "1")
        };
        let (first, _) = v.place(with_cid.clone(), AT).unwrap();
        assert_eq!(
            v.place(with_cid, AT).unwrap_err(),
            VenueError::DuplicateClientOrderId {
                client_order_id: ClientOrderId::parse("mine-1").unwrap(),
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
}
