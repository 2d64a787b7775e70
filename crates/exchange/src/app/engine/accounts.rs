//! Opening accounts and moving funds in and out of them.

use rust_decimal::Decimal;
use time::OffsetDateTime;
use tse_market::AccountId;

use super::{Ack, Engine, EngineError, EngineHandle, Reply, deferred, request::Request};
use crate::app::views::{AccountView, BalanceView};

/// Opens an account for an optional trading entity.
pub(super) struct OpenAccount {
    entity: Option<String>,
    reply: Reply<AccountView>,
}

impl OpenAccount {
    pub(super) fn apply(self, engine: &mut Engine, at: OffsetDateTime, acks: &mut Vec<Ack>) {
        let index = engine.venue.open_account(self.entity, at);
        let view = AccountView::of(&engine.venue, index);
        acks.push(deferred(self.reply, Ok(view)));
    }
}

/// Credits a deposit to an account, or debits a withdrawal.
pub(super) struct MoveFunds {
    account: AccountId,
    asset: String,
    amount: Decimal,
    withdraw: bool,
    reply: Reply<BalanceView>,
}

impl MoveFunds {
    pub(super) fn apply(self, engine: &mut Engine, acks: &mut Vec<Ack>) {
        let Self {
            account,
            asset,
            amount,
            withdraw,
            reply,
        } = self;
        let venue = &mut engine.venue;
        let result = if withdraw {
            venue.withdraw(&account, &asset, amount)
        } else {
            venue.deposit(&account, &asset, amount)
        };
        let answer = result.map_err(EngineError::from).map(|_| {
            let (a, s) = (venue.account(&account), venue.asset(&asset));
            BalanceView::of(venue, a.unwrap_or_default(), s.unwrap_or_default())
        });
        acks.push(deferred(reply, answer));
    }
}

impl EngineHandle {
    /// Opens an account.
    ///
    /// # Errors
    /// [`EngineError`].
    pub async fn open_account(&self, entity: Option<String>) -> Result<AccountView, EngineError> {
        self.call(|reply| Request::OpenAccount(OpenAccount { entity, reply }))
            .await
    }

    /// Credits (or, with `withdraw`, debits) an account.
    ///
    /// # Errors
    /// [`EngineError`].
    pub async fn move_funds(
        &self,
        account: AccountId,
        asset: String,
        amount: Decimal,
        withdraw: bool,
    ) -> Result<BalanceView, EngineError> {
        self.call(|reply| {
            Request::MoveFunds(MoveFunds {
                account,
                asset,
                amount,
                withdraw,
                reply,
            })
        })
        .await
    }
}
