//! Reads: balances, accounts, an order held in memory, a book. They are answered with the batch
//! they arrived in, so nobody sees state that a crash could still undo.

use time::OffsetDateTime;
use tse_market::{AccountId, Symbol};

use super::{Ack, Engine, EngineError, EngineHandle, Reply, deferred, request::Request};
use crate::app::views::{AccountView, BalanceView, BookView, OrderView};

/// An account's balances, one per asset.
pub(super) struct Balances {
    account: AccountId,
    reply: Reply<Vec<BalanceView>>,
}

impl Balances {
    pub(super) fn apply(self, engine: &mut Engine, acks: &mut Vec<Ack>) {
        let venue = &engine.venue;
        let answer = venue
            .account(&self.account)
            .map(|a| {
                (0..venue.ledger().assets().len())
                    .map(|asset| BalanceView::of(venue, a, asset as u16))
                    .collect()
            })
            .map_err(EngineError::from);
        acks.push(deferred(self.reply, answer));
    }
}

/// One account by id.
pub(super) struct Account {
    account: AccountId,
    reply: Reply<AccountView>,
}

impl Account {
    pub(super) fn apply(self, engine: &mut Engine, acks: &mut Vec<Ack>) {
        let answer = engine
            .venue
            .account(&self.account)
            .map(|a| AccountView::of(&engine.venue, a))
            .map_err(EngineError::from);
        acks.push(deferred(self.reply, answer));
    }
}

/// A page of accounts in id order, optionally of one entity.
pub(super) struct Accounts {
    entity: Option<String>,
    from: usize,
    limit: usize,
    reply: Reply<Vec<AccountView>>,
}

impl Accounts {
    pub(super) fn apply(self, engine: &mut Engine, acks: &mut Vec<Ack>) {
        let venue = &engine.venue;
        let count = u32::try_from(venue.account_count()).unwrap_or(u32::MAX);
        let from = u32::try_from(self.from).unwrap_or(u32::MAX);
        let page = (from..count)
            .filter(|i| self.entity.is_none() || venue.account_at(*i).entity == self.entity)
            .take(self.limit)
            .map(|i| AccountView::of(venue, i))
            .collect();
        acks.push(deferred(self.reply, Ok(page)));
    }
}

/// An order held in memory.
pub(super) struct Order {
    id: u64,
    reply: Reply<Option<OrderView>>,
}

impl Order {
    pub(super) fn apply(self, engine: &mut Engine, acks: &mut Vec<Ack>) {
        let venue = &engine.venue;
        let answer = venue.order(self.id).map(|o| OrderView::of(venue, o));
        acks.push(deferred(self.reply, Ok(answer)));
    }
}

/// The top levels of a book.
pub(super) struct Book {
    symbol: Symbol,
    depth: usize,
    reply: Reply<BookView>,
}

impl Book {
    pub(super) fn apply(self, engine: &mut Engine, at: OffsetDateTime, acks: &mut Vec<Ack>) {
        let answer = engine
            .venue
            .instrument(&self.symbol)
            .map(|index| BookView::of(&engine.venue, index, self.depth, at))
            .map_err(EngineError::from);
        acks.push(deferred(self.reply, answer));
    }
}

impl EngineHandle {
    /// Returns an account's balances.
    ///
    /// # Errors
    /// [`EngineError`].
    pub async fn balances(&self, account: AccountId) -> Result<Vec<BalanceView>, EngineError> {
        self.call(|reply| Request::Balances(Balances { account, reply }))
            .await
    }

    /// Returns an account.
    ///
    /// # Errors
    /// [`EngineError`], [`crate::domain::venue::VenueError::UnknownAccount`] for an unknown id.
    pub async fn account(&self, account: AccountId) -> Result<AccountView, EngineError> {
        self.call(|reply| Request::Account(Account { account, reply }))
            .await
    }

    /// Returns up to `limit` accounts in id order, from the `from`-th opened (0 is `acct-1`), only
    /// those of `entity` when it is given.
    ///
    /// # Errors
    /// [`EngineError`].
    pub async fn accounts(
        &self,
        entity: Option<String>,
        from: usize,
        limit: usize,
    ) -> Result<Vec<AccountView>, EngineError> {
        self.call(|reply| {
            Request::Accounts(Accounts {
                entity,
                from,
                limit,
                reply,
            })
        })
        .await
    }

    /// Returns an order held in memory (open or recently finished).
    ///
    /// # Errors
    /// [`EngineError`].
    pub async fn order(&self, id: u64) -> Result<Option<OrderView>, EngineError> {
        self.call(|reply| Request::Order(Order { id, reply })).await
    }

    /// Returns the top `depth` levels of a book.
    ///
    /// # Errors
    /// [`EngineError`].
    pub async fn book(&self, symbol: Symbol, depth: usize) -> Result<BookView, EngineError> {
        self.call(|reply| Request::Book(Book { symbol, depth, reply }))
            .await
    }
}
