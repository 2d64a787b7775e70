//! The liquidity provider's quotes: a ladder per instrument, replaced whole each time.

use rust_decimal::Decimal;
use time::OffsetDateTime;
use tracing::{info, warn};
use tse_market::AccountId;
use tse_matching::{SelfTradePrevention, Side, TimeInForce};

use super::{Engine, EngineError, EngineHandle, LIQUIDITY_ENTITY, request::Request};
use crate::domain::{order::OrderType, venue::PlaceRequest};

/// Replaces the liquidity provider's quotes on one instrument; nobody waits for an answer.
pub(super) struct Quote {
    instrument: usize,
    bids: Vec<(Decimal, Decimal)>,
    asks: Vec<(Decimal, Decimal)>,
}

impl Quote {
    pub(super) fn apply(self, engine: &mut Engine, at: OffsetDateTime) {
        engine.quote(self.instrument, &self.bids, &self.asks, at);
    }
}

impl Engine {
    /// Replaces the liquidity provider's quotes on one instrument, funding its account as needed.
    fn quote(
        &mut self,
        index: usize,
        bids: &[(Decimal, Decimal)],
        asks: &[(Decimal, Decimal)],
        at: OffsetDateTime,
    ) {
        let lp = match self.liquidity {
            Some(lp) => lp,
            None if bids.is_empty() && asks.is_empty() => return,
            None => {
                let lp = self.venue.open_account(Some(LIQUIDITY_ENTITY.into()), at);
                info!(account = %self.venue.account_at(lp).id, "liquidity provider account opened");
                self.liquidity = Some(lp);
                lp
            }
        };
        for id in std::mem::take(&mut self.quotes[index]) {
            let _ = self.venue.cancel(id, at);
        }
        self.touched.insert(index);
        let instrument = self.venue.instruments()[index].clone();
        let lp_id = self.venue.account_at(lp).id.clone();
        let lp_account = AccountId::parse(&lp_id).expect("the venue names every account acct-N");
        // The provider's treasury: keep twice what the ladder needs available. A ladder too large
        // to count is not funded; the venue then refuses its orders like any other.
        let fee = Decimal::ONE + self.venue.fees().maker.max(self.venue.fees().taker);
        let need_quote = bids.iter().try_fold(Decimal::ZERO, |sum, (p, q)| {
            sum.checked_add(p.checked_mul(*q)?.checked_mul(fee)?)
        });
        let need_base = asks
            .iter()
            .try_fold(Decimal::ZERO, |sum, (_, q)| sum.checked_add(*q));
        for (asset, need) in [(&instrument.quote, need_quote), (&instrument.base, need_base)] {
            let Some(need) = need else {
                warn!(symbol = %instrument.symbol, asset, "liquidity provider: the ladder needs more than can be counted; not funded");
                continue;
            };
            if let Ok(a) = self.venue.asset(asset) {
                let available = self.venue.ledger().balance(lp, a).available;
                let top_up = need
                    .checked_sub(available)
                    .and_then(|short| short.checked_mul(Decimal::TWO))
                    .and_then(|short| short.checked_add(Decimal::ONE));
                if available < need
                    && let Some(top_up) = top_up
                    && let Err(e) = self.venue.deposit(&lp_id, asset, top_up)
                {
                    warn!(symbol = %instrument.symbol, asset, error = %e, "liquidity provider: funding refused");
                }
            }
        }
        let orders = bids
            .iter()
            .map(|(p, q)| (Side::Buy, *p, *q))
            .chain(asks.iter().map(|(p, q)| (Side::Sell, *p, *q)));
        for (side, price, quantity) in orders {
            let request = PlaceRequest {
                account: lp_account.clone(),
                symbol: instrument.symbol.clone(),
                side,
                order_type: OrderType::Limit,
                price: Some(price),
                quantity,
                time_in_force: Some(TimeInForce::Gtc),
                post_only: true,
                client_order_id: None,
                self_trade: SelfTradePrevention::CancelTaker,
            };
            if let Ok((order, _)) = self.venue.place(request, at)
                && order.status.is_open()
            {
                self.quotes[index].push(order.id);
            }
        }
    }
}

impl EngineHandle {
    /// Withdraws the liquidity provider's quotes from instrument `instrument`.
    ///
    /// # Errors
    /// [`EngineError::Stopped`].
    pub async fn withdraw_quotes(&self, instrument: usize) -> Result<(), EngineError> {
        self.quote(instrument, Vec::new(), Vec::new()).await
    }

    /// Replaces the liquidity provider's quotes on instrument `instrument`.
    ///
    /// # Errors
    /// [`EngineError::Stopped`].
    pub async fn quote(
        &self,
        instrument: usize,
        bids: Vec<(Decimal, Decimal)>,
        asks: Vec<(Decimal, Decimal)>,
    ) -> Result<(), EngineError> {
        self.requests
            .send(Request::Quote(Quote {
                instrument,
                bids,
                asks,
            }))
            .await
            .map_err(|_| EngineError::Stopped)
    }
}
