//! Cancelling an open order.

use std::time::Instant;

use time::OffsetDateTime;

use super::{Ack, Engine, EngineError, EngineHandle, Reply, request::Request, timed};
use crate::app::views::OrderView;

/// Cancels an open order.
pub(super) struct Cancel {
    id: u64,
    received: Instant,
    reply: Reply<OrderView>,
}

impl Cancel {
    pub(super) fn apply(self, engine: &mut Engine, at: OffsetDateTime, acks: &mut Vec<Ack>) {
        let Self { id, received, reply } = self;
        let answer = engine
            .venue
            .cancel(id, at)
            .map(|order| {
                engine.touched.insert(order.instrument);
                OrderView::of(&engine.venue, &order)
            })
            .map_err(EngineError::from);
        acks.push(timed(engine, received, reply, answer));
    }
}

impl EngineHandle {
    /// Cancels an order.
    ///
    /// # Errors
    /// [`EngineError`].
    pub async fn cancel(&self, id: u64) -> Result<OrderView, EngineError> {
        let received = Instant::now();
        self.call(|reply| Request::Cancel(Cancel { id, received, reply }))
            .await
    }
}
