//! Placing an order, unless a fault refuses it first.

use std::time::Instant;

use time::OffsetDateTime;
use tokio::sync::oneshot;

use super::{Ack, Engine, EngineError, EngineHandle, OrderOutcome, Pending, Reply, request::Request};
use crate::domain::venue::PlaceRequest;

/// Places a new order.
pub(super) struct Place {
    request: PlaceRequest,
    received: Instant,
    reply: Reply<OrderOutcome>,
}

impl Place {
    pub(super) fn apply(self, engine: &mut Engine, at: OffsetDateTime, acks: &mut Vec<Ack>) {
        let Self {
            request,
            received,
            reply,
        } = self;
        let answer = engine.place(request, at);
        let metrics = engine.metrics.clone();
        acks.push(Box::new(move |stored| {
            let answer = stored.map_err(EngineError::Storage).and(answer);
            if let Ok(outcome) = &answer {
                let o = &outcome.order;
                metrics.order(&o.symbol, o.side, o.order_type, o.status);
                metrics.ack_latency(received.elapsed().as_secs_f64());
            }
            let _ = reply.send(answer);
        }));
    }
}

impl Engine {
    /// Places a client order, unless a fault refuses it first.
    fn place(&mut self, request: PlaceRequest, at: OffsetDateTime) -> Result<OrderOutcome, EngineError> {
        let effects = self.faults.now();
        let symbol = request.symbol.trim().to_ascii_uppercase();
        let refusal = if let Some(cause) = effects.halted.get(&symbol) {
            Some((format!("trading is halted on {symbol}"), *cause))
        } else if let Some((fraction, cause)) = effects.rejection(&symbol) {
            (self.dice.roll() < fraction).then(|| ("rejected by the venue".to_owned(), cause))
        } else {
            None
        };
        if let Some((reason, cause)) = refusal {
            let order = self.venue.refuse(request, &reason, at)?;
            self.fault_causes.insert(order.id, cause);
            return Ok(self.outcome(&order, &[]));
        }
        let (order, trades) = self.venue.place(request, at)?;
        self.touched.insert(order.instrument);
        Ok(self.outcome(&order, &trades))
    }
}

/// A tiny seeded generator (xorshift64*) for the `reject_orders` fault: runs repeat with the seed.
pub(super) struct Dice(pub(super) u64);

impl Dice {
    fn roll(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }
}

impl EngineHandle {
    /// Places an order.
    ///
    /// # Errors
    /// [`EngineError`].
    pub async fn place(&self, request: PlaceRequest) -> Result<OrderOutcome, EngineError> {
        self.submit(request).await?.wait().await
    }

    /// Hands an order to the engine and returns at once with where its outcome will arrive: orders
    /// submitted one after the other reach the book in that order, and their outcomes can be awaited
    /// together (an order entry session).
    ///
    /// # Errors
    /// [`EngineError::Stopped`].
    pub async fn submit(&self, request: PlaceRequest) -> Result<Pending<OrderOutcome>, EngineError> {
        let received = Instant::now();
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(Request::Place(Place {
                request,
                received,
                reply,
            }))
            .await
            .map_err(|_| EngineError::Stopped)?;
        Ok(Pending(answer))
    }
}
