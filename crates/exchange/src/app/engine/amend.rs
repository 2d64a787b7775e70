//! Amending an open limit order's price or quantity.

use std::time::Instant;

use rust_decimal::Decimal;
use time::OffsetDateTime;

use super::{Ack, Engine, EngineError, EngineHandle, OrderOutcome, Reply, request::Request, timed};

/// Changes an open order's price and/or total quantity.
pub(super) struct Amend {
    id: u64,
    price: Option<Decimal>,
    quantity: Option<Decimal>,
    received: Instant,
    reply: Reply<OrderOutcome>,
}

impl Amend {
    pub(super) fn apply(self, engine: &mut Engine, at: OffsetDateTime, acks: &mut Vec<Ack>) {
        let Self {
            id,
            price,
            quantity,
            received,
            reply,
        } = self;
        let answer = engine
            .venue
            .amend(id, price, quantity, at)
            .map(|(order, trades)| {
                engine.touched.insert(order.instrument);
                engine.outcome(&order, &trades)
            })
            .map_err(EngineError::from);
        acks.push(timed(engine, received, reply, answer));
    }
}

impl EngineHandle {
    /// Amends an order.
    ///
    /// # Errors
    /// [`EngineError`].
    pub async fn amend(
        &self,
        id: u64,
        price: Option<Decimal>,
        quantity: Option<Decimal>,
    ) -> Result<OrderOutcome, EngineError> {
        let received = Instant::now();
        self.call(|reply| {
            Request::Amend(Amend {
                id,
                price,
                quantity,
                received,
                reply,
            })
        })
        .await
    }
}
