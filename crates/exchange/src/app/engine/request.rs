//! Every request the engine takes, and the dispatch that applies one.

use super::{
    Ack, Engine,
    accounts::{MoveFunds, OpenAccount},
    amend::Amend,
    cancel::Cancel,
    place::Place,
    query::{Account, Accounts, Balances, Book, Order},
    quote::Quote,
};

/// A request to the engine; each kind applies itself.
pub(super) enum Request {
    OpenAccount(OpenAccount),
    MoveFunds(MoveFunds),
    Place(Place),
    Cancel(Cancel),
    Amend(Amend),
    Balances(Balances),
    Account(Account),
    Accounts(Accounts),
    Order(Order),
    Book(Book),
    Quote(Quote),
}

impl Engine {
    /// Applies one request at the clock's time; its answer joins `acks`, to be sent once stored.
    pub(super) fn handle(&mut self, request: Request, acks: &mut Vec<Ack>) {
        let at = self.clock.now();
        match request {
            Request::OpenAccount(r) => r.apply(self, at, acks),
            Request::MoveFunds(r) => r.apply(self, acks),
            Request::Place(r) => r.apply(self, at, acks),
            Request::Cancel(r) => r.apply(self, at, acks),
            Request::Amend(r) => r.apply(self, at, acks),
            Request::Balances(r) => r.apply(self, acks),
            Request::Account(r) => r.apply(self, acks),
            Request::Accounts(r) => r.apply(self, acks),
            Request::Order(r) => r.apply(self, acks),
            Request::Book(r) => r.apply(self, at, acks),
            Request::Quote(r) => r.apply(self, at),
        }
    }
}
