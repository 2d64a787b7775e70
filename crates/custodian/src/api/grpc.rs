//! `tse.custodian.v1.CustodianService`: the production API over gRPC, same semantics and messages as
//! [`super::http`]. Decimals and enums travel as strings; an empty string is an absent value and a
//! limit of 0 the default page. Every call is refused while [`Api::available`] refuses (the
//! `offline` fault, restoring), as the HTTP routes are; errors are the [`ApiError`]s of the HTTP
//! API with their gRPC codes (see [`super`]).

use rust_decimal::Decimal;
use tonic::{Request, Response, Status};
use tse_proto::custodian::v1::{
    self as pb,
    custodian_service_server::{CustodianService, CustodianServiceServer},
};
use tse_runtime::api::{ApiError, non_empty};

use super::{Api, InstructionInput, SettlementQuery};
use crate::app::views::{AccountView, BalanceView, BreakView, LegView, PositionView, SettlementView};

/// The gRPC service of one instance.
pub struct Service {
    api: Api,
}

/// Returns the tonic server for `api`.
pub fn server(api: Api) -> CustodianServiceServer<Service> {
    CustodianServiceServer::new(Service { api })
}

fn text(d: Decimal) -> String {
    d.to_string()
}

fn optional_text(d: Option<Decimal>) -> String {
    d.map(text).unwrap_or_default()
}

/// A page size: 0 is the default.
/// A required text field; proto3 has no absent strings, so blank is missing.
fn required(field: &str, value: String) -> Result<String, ApiError> {
    super::required(field, Some(value))
}

fn limit(limit: u32) -> Option<u32> {
    (limit != 0).then_some(limit)
}

fn account(a: AccountView) -> pb::Account {
    pb::Account {
        id: a.id.into(),
        entity: a.entity.unwrap_or_default(),
        created_at: a.created_at,
    }
}

fn balance(b: BalanceView) -> pb::Balance {
    pb::Balance {
        asset: b.asset,
        available: text(b.available),
        locked: text(b.locked),
        total: text(b.total),
    }
}

fn position(p: PositionView) -> pb::Position {
    pb::Position {
        symbol: p.symbol,
        quantity: text(p.quantity),
        average_cost: text(p.average_cost),
        realized_pnl: text(p.realized_pnl),
    }
}

fn break_pb(b: BreakView) -> pb::Break {
    pb::Break {
        asset: b.asset,
        held: text(b.held),
        reported: text(b.reported),
        difference: text(b.difference),
    }
}

fn leg(l: LegView) -> pb::SettlementLeg {
    pb::SettlementLeg {
        asset: l.asset,
        amount: text(l.amount),
        settled: text(l.settled),
    }
}

fn settlement(s: SettlementView) -> pb::Settlement {
    pb::Settlement {
        id: s.id,
        external_id: s.external_id,
        account_id: s.account_id.into(),
        r#type: s.kind.to_owned(),
        cycle: s.cycle.to_owned(),
        status: s.status.to_owned(),
        reason: s.reason.unwrap_or_default(),
        symbol: s.symbol.unwrap_or_default(),
        side: s.side.unwrap_or_default().to_owned(),
        quantity: optional_text(s.quantity),
        price: optional_text(s.price),
        fee: optional_text(s.fee),
        exchange: s.exchange.unwrap_or_default(),
        entity: s.entity.unwrap_or_default(),
        first_trade_id: s.first_trade_id.unwrap_or_default(),
        last_trade_id: s.last_trade_id.unwrap_or_default(),
        trade_count: s.trade_count.unwrap_or_default(),
        legs: s.legs.into_iter().map(leg).collect(),
        created_at: s.created_at,
        due_at: s.due_at,
        finished_at: s.finished_at.unwrap_or_default(),
    }
}

/// Amounts per asset, each amount required.
fn amounts(items: Vec<pb::AssetAmount>) -> Result<Vec<(String, String)>, ApiError> {
    items
        .into_iter()
        .map(|a| Ok((a.asset, required("amount", a.amount)?)))
        .collect()
}

#[tonic::async_trait]
impl CustodianService for Service {
    async fn create_account(
        &self,
        request: Request<pb::CreateAccountRequest>,
    ) -> Result<Response<pb::Account>, Status> {
        self.api.available()?;
        let entity = non_empty(request.into_inner().entity);
        Ok(Response::new(account(self.api.open_account(entity).await?)))
    }

    async fn list_accounts(
        &self,
        request: Request<pb::ListAccountsRequest>,
    ) -> Result<Response<pb::ListAccountsResponse>, Status> {
        self.api.available()?;
        let r = request.into_inner();
        let (accounts, next) = self
            .api
            .accounts(non_empty(r.entity), limit(r.limit), non_empty(r.cursor))
            .await?;
        Ok(Response::new(pb::ListAccountsResponse {
            accounts: accounts.into_iter().map(account).collect(),
            next_cursor: next.unwrap_or_default(),
        }))
    }

    async fn get_account(
        &self,
        request: Request<pb::GetAccountRequest>,
    ) -> Result<Response<pb::Account>, Status> {
        self.api.available()?;
        let id = request.into_inner().account_id;
        Ok(Response::new(account(self.api.account(id).await?)))
    }

    async fn get_balances(
        &self,
        request: Request<pb::GetBalancesRequest>,
    ) -> Result<Response<pb::Balances>, Status> {
        self.api.available()?;
        let id = request.into_inner().account_id;
        let balances = self.api.balances(id.clone()).await?;
        Ok(Response::new(pb::Balances {
            account_id: id.trim().to_owned(),
            balances: balances.into_iter().map(balance).collect(),
        }))
    }

    async fn get_positions(
        &self,
        request: Request<pb::GetPositionsRequest>,
    ) -> Result<Response<pb::Positions>, Status> {
        self.api.available()?;
        let id = request.into_inner().account_id;
        let positions = self.api.positions(id.clone()).await?;
        Ok(Response::new(pb::Positions {
            account_id: id.trim().to_owned(),
            positions: positions.into_iter().map(position).collect(),
        }))
    }

    async fn deposit(&self, request: Request<pb::MoveFundsRequest>) -> Result<Response<pb::Balance>, Status> {
        self.move_funds(request.into_inner(), false).await
    }

    async fn withdraw(
        &self,
        request: Request<pb::MoveFundsRequest>,
    ) -> Result<Response<pb::Balance>, Status> {
        self.move_funds(request.into_inner(), true).await
    }

    async fn transfer(
        &self,
        request: Request<pb::TransferRequest>,
    ) -> Result<Response<pb::TransferResponse>, Status> {
        self.api.available()?;
        let r = request.into_inner();
        // Checked in the order HTTP checks them, so the first complaint is the same.
        let amount = required("amount", r.amount)?;
        let from = required("from_account_id", r.from_account_id)?;
        let to = required("to_account_id", r.to_account_id)?;
        let asset = required("asset", r.asset)?;
        let (from, to) = self.api.transfer(from, to, asset, &amount).await?;
        Ok(Response::new(pb::TransferResponse {
            from: Some(balance(from)),
            to: Some(balance(to)),
        }))
    }

    async fn reconcile(
        &self,
        request: Request<pb::ReconcileRequest>,
    ) -> Result<Response<pb::ReconcileResponse>, Status> {
        self.api.available()?;
        let r = request.into_inner();
        let reported = amounts(r.balances)?;
        let breaks = self.api.reconcile(r.account_id.clone(), reported).await?;
        Ok(Response::new(pb::ReconcileResponse {
            account_id: r.account_id.trim().to_owned(),
            reconciled: breaks.is_empty(),
            breaks: breaks.into_iter().map(break_pb).collect(),
        }))
    }

    async fn submit_settlement(
        &self,
        request: Request<pb::SubmitSettlementRequest>,
    ) -> Result<Response<pb::SubmitSettlementResponse>, Status> {
        self.api.available()?;
        let r = request.into_inner();
        let legs = amounts(r.legs)?;
        let input = InstructionInput {
            external_id: required("external_id", r.external_id)?,
            account_id: required("account_id", r.account_id)?,
            kind: required("type", r.r#type)?,
            cycle: non_empty(r.cycle),
            symbol: non_empty(r.symbol),
            side: non_empty(r.side),
            quantity: non_empty(r.quantity),
            price: non_empty(r.price),
            fee: non_empty(r.fee),
            legs,
        };
        let (s, created) = self.api.submit(input).await?;
        Ok(Response::new(pb::SubmitSettlementResponse {
            settlement: Some(settlement(s)),
            created,
        }))
    }

    async fn get_settlement(
        &self,
        request: Request<pb::GetSettlementRequest>,
    ) -> Result<Response<pb::Settlement>, Status> {
        self.api.available()?;
        let id = request.into_inner().id;
        Ok(Response::new(settlement(self.api.settlement(id).await?)))
    }

    async fn list_settlements(
        &self,
        request: Request<pb::ListSettlementsRequest>,
    ) -> Result<Response<pb::ListSettlementsResponse>, Status> {
        self.api.available()?;
        let r = request.into_inner();
        let (settlements, next) = self
            .api
            .settlements(SettlementQuery {
                account_id: non_empty(r.account_id),
                status: non_empty(r.status),
                kind: non_empty(r.r#type),
                exchange: non_empty(r.exchange),
                trade_id: non_empty(r.trade_id),
                limit: limit(r.limit),
                cursor: non_empty(r.cursor),
            })
            .await?;
        Ok(Response::new(pb::ListSettlementsResponse {
            settlements: settlements.into_iter().map(settlement).collect(),
            next_cursor: next.unwrap_or_default(),
        }))
    }

    async fn cancel_settlement(
        &self,
        request: Request<pb::CancelSettlementRequest>,
    ) -> Result<Response<pb::Settlement>, Status> {
        self.api.available()?;
        let r = request.into_inner();
        Ok(Response::new(settlement(
            self.api.cancel(r.id, non_empty(r.reason)).await?,
        )))
    }
}

impl Service {
    async fn move_funds(
        &self,
        r: pb::MoveFundsRequest,
        withdraw: bool,
    ) -> Result<Response<pb::Balance>, Status> {
        self.api.available()?;
        let asset = required("asset", r.asset)?;
        let amount = required("amount", r.amount)?;
        let b = self
            .api
            .move_funds(r.account_id, asset, &amount, withdraw)
            .await?;
        Ok(Response::new(balance(b)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_values_and_required_fields_read_as_in_http() {
        assert_eq!(non_empty(String::new()), None);
        assert_eq!(non_empty("  ".into()), None);
        assert_eq!(non_empty("x".into()).as_deref(), Some("x"));
        assert_eq!(limit(0), None);
        assert_eq!(limit(5), Some(5));
        let amount = required("amount", String::new()).unwrap_err();
        assert_eq!(
            (amount.code(), amount.message()),
            ("invalid_amount", "amount is required")
        );
        let asset = required("asset", String::new()).unwrap_err();
        assert_eq!(
            (asset.code(), asset.message()),
            ("invalid_request", "asset is required")
        );
        let legs = amounts(vec![pb::AssetAmount {
            asset: "BTC".into(),
            amount: String::new(),
        }])
        .unwrap_err();
        assert_eq!(legs.code(), "invalid_amount");
    }
}
