//! `tse.exchange.v1.ExchangeService`: the production API over gRPC, same semantics as HTTP. Decimals
//! and enums travel as strings; an empty string is an absent value.

use std::pin::Pin;

use futures::{Stream, StreamExt, stream};
use rust_decimal::Decimal;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status, Streaming};
use tse_proto::exchange::v1::{
    self as pb,
    exchange_service_server::{ExchangeService, ExchangeServiceServer},
};
use tse_runtime::api::{ApiError, non_empty};

use super::{
    AccountQuery, Api, Batch, ListQuery, OrderInput, account_id, decimal, depth, engine_error, market_for,
    optional_decimal, stream_symbols,
};
use crate::{
    app::{
        engine::{MarketUpdate, OrderOutcome},
        views::{AccountView, BalanceView, BookView, OrderView, TradeView},
    },
    domain::faults::Operation,
};

/// The gRPC service of one instance.
pub struct Service {
    api: Api,
    draining: CancellationToken,
}

/// Returns the tonic server for `api`; `draining` ends live streams when the instance stops.
pub fn server(api: Api, draining: CancellationToken) -> ExchangeServiceServer<Service> {
    ExchangeServiceServer::new(Service { api, draining })
}

fn text(d: Decimal) -> String {
    d.to_string()
}

fn optional_text(d: Option<Decimal>) -> String {
    d.map(text).unwrap_or_default()
}

fn account(a: AccountView) -> pb::Account {
    pb::Account {
        id: a.id,
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

fn order(o: OrderView) -> pb::Order {
    pb::Order {
        id: o.id,
        client_order_id: o.client_order_id.unwrap_or_default(),
        account_id: o.account_id,
        symbol: o.symbol,
        side: o.side.to_owned(),
        r#type: o.order_type.to_owned(),
        time_in_force: o.time_in_force.to_owned(),
        post_only: o.post_only,
        price: optional_text(o.price),
        quantity: text(o.quantity),
        filled_quantity: text(o.filled_quantity),
        average_price: optional_text(o.average_price),
        fees: text(o.fees),
        status: o.status.to_owned(),
        reason: o.reason.unwrap_or_default(),
        created_at: o.created_at,
        updated_at: o.updated_at,
    }
}

fn trade(t: TradeView) -> pb::Trade {
    pb::Trade {
        id: t.id,
        symbol: t.symbol,
        price: text(t.price),
        quantity: text(t.quantity),
        buy_order_id: t.buy_order_id,
        sell_order_id: t.sell_order_id,
        buyer_account_id: t.buyer_account_id,
        seller_account_id: t.seller_account_id,
        taker_side: t.taker_side.to_owned(),
        buyer_fee: text(t.buyer_fee),
        seller_fee: text(t.seller_fee),
        executed_at: t.executed_at,
    }
}

fn book(b: BookView) -> pb::OrderBook {
    let levels = |side: Vec<(Decimal, Decimal)>| {
        side.into_iter()
            .map(|(p, q)| pb::Level {
                price: text(p),
                quantity: text(q),
            })
            .collect()
    };
    pb::OrderBook {
        symbol: b.symbol,
        bids: levels(b.bids),
        asks: levels(b.asks),
        timestamp: b.timestamp,
    }
}

fn outcome_pb(o: OrderOutcome) -> pb::OrderResult {
    pb::OrderResult {
        order: Some(order(o.order)),
        trades: o.trades.into_iter().map(trade).collect(),
    }
}

fn order_id(id: u64) -> Result<u64, Status> {
    if id == 0 {
        return Err(ApiError::bad_request("invalid_order_id", "order_id is required").into());
    }
    Ok(id)
}

type MarketStream = Pin<Box<dyn Stream<Item = Result<pb::MarketEvent, Status>> + Send>>;
type ReplyStream = Pin<Box<dyn Stream<Item = Result<pb::PlaceOrderReply, Status>> + Send>>;

/// Orders of one session in the engine at once, at most; the session reads no further until the
/// oldest is answered.
const SESSION_WINDOW: usize = 1_024;

fn parse_order(r: pb::PlaceOrderRequest) -> Result<crate::domain::venue::PlaceRequest, ApiError> {
    OrderInput {
        account_id: r.account_id,
        symbol: r.symbol,
        side: r.side,
        order_type: non_empty(r.r#type),
        price: non_empty(r.price),
        quantity: non_empty(r.quantity),
        time_in_force: non_empty(r.time_in_force),
        client_order_id: non_empty(r.client_order_id),
        post_only: r.post_only,
        self_trade_prevention: non_empty(r.self_trade_prevention),
    }
    .parse()
}

fn session_reply(sequence: u64, outcome: Result<OrderOutcome, ApiError>) -> pb::PlaceOrderReply {
    pb::PlaceOrderReply {
        sequence,
        outcome: Some(match outcome {
            Ok(o) => pb::place_order_reply::Outcome::Result(outcome_pb(o)),
            Err(e) => pb::place_order_reply::Outcome::Error(pb::Error {
                status: format!("{:?}", e.grpc_code()),
                code: e.code().to_owned(),
                message: e.message().to_owned(),
            }),
        }),
    }
}

#[tonic::async_trait]
impl ExchangeService for Service {
    async fn create_account(
        &self,
        request: Request<pb::CreateAccountRequest>,
    ) -> Result<Response<pb::Account>, Status> {
        self.api.available()?;
        let entity = super::entity(non_empty(request.into_inner().entity))?;
        let a = self
            .api
            .engine
            .open_account(entity)
            .await
            .map_err(|e| engine_error(e, "invalid_account"))?;
        Ok(Response::new(account(a)))
    }

    async fn list_accounts(
        &self,
        request: Request<pb::ListAccountsRequest>,
    ) -> Result<Response<pb::ListAccountsResponse>, Status> {
        self.api.enter(Operation::Query).await?;
        let r = request.into_inner();
        let (accounts, next) = self
            .api
            .accounts(AccountQuery {
                entity: non_empty(r.entity),
                limit: (r.limit != 0).then_some(r.limit),
                cursor: non_empty(r.cursor),
            })
            .await?;
        Ok(Response::new(pb::ListAccountsResponse {
            accounts: accounts.into_iter().map(account).collect(),
            next_cursor: next.unwrap_or_default(),
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

    async fn get_balances(
        &self,
        request: Request<pb::GetBalancesRequest>,
    ) -> Result<Response<pb::Balances>, Status> {
        self.api.enter(Operation::Query).await?;
        let account_id = request.into_inner().account_id;
        let balances = self
            .api
            .engine
            .balances(super::account_id(&account_id)?)
            .await
            .map_err(|e| engine_error(e, "invalid_account"))?;
        Ok(Response::new(pb::Balances {
            account_id,
            balances: balances.into_iter().map(balance).collect(),
        }))
    }

    async fn place_order(
        &self,
        request: Request<pb::PlaceOrderRequest>,
    ) -> Result<Response<pb::OrderResult>, Status> {
        self.api.available()?;
        let request = parse_order(request.into_inner())?;
        self.api.enter(Operation::Place).await?;
        let o = self
            .api
            .engine
            .place(request)
            .await
            .map_err(|e| engine_error(e, "invalid_order"))?;
        Ok(Response::new(outcome_pb(o)))
    }

    type PlaceOrdersStream = ReplyStream;

    async fn place_orders(
        &self,
        request: Request<Streaming<pb::PlaceOrderRequest>>,
    ) -> Result<Response<Self::PlaceOrdersStream>, Status> {
        self.api.available()?;
        let api = self.api.clone();
        // Orders reach the engine one after the other, in the session's order; their outcomes are
        // awaited together and answered in the same order.
        // Draining stops reading new orders; those already submitted are still answered.
        let incoming = request
            .into_inner()
            .take_until(self.draining.clone().cancelled_owned());
        let submitted = incoming.enumerate().then(move |(sequence, item)| {
            let api = api.clone();
            async move {
                let request = item?;
                let submitted = match api.available().and_then(|()| parse_order(request)) {
                    Ok(order) => api
                        .engine
                        .submit(order)
                        .await
                        .map_err(|e| engine_error(e, "invalid_order")),
                    Err(e) => Err(e),
                };
                Ok::<_, Status>((sequence as u64, submitted, api))
            }
        });
        let replies = submitted
            .map(|item| async move {
                let (sequence, submitted, api) = item?;
                let outcome = match submitted {
                    Ok(pending) => {
                        let outcome = pending.wait().await.map_err(|e| engine_error(e, "invalid_order"));
                        // A latency fault delays the acknowledgement of every order of the session.
                        if let Some(delay) = api.faults.now().delay(Operation::Place) {
                            tokio::select! {
                                () = tokio::time::sleep(delay) => {}
                                () = api.draining.cancelled() => {}
                            }
                        }
                        outcome
                    }
                    Err(e) => Err(e),
                };
                Ok(session_reply(sequence, outcome))
            })
            .buffered(SESSION_WINDOW);
        Ok(Response::new(Box::pin(replies)))
    }

    async fn cancel_order(&self, request: Request<pb::OrderRef>) -> Result<Response<pb::Order>, Status> {
        let id = order_id(request.into_inner().order_id)?;
        self.api.enter(Operation::Cancel).await?;
        match self.api.engine.cancel(id).await {
            Ok(o) => Ok(Response::new(order(o))),
            Err(e) => Err(self.api.change_error(id, e, "invalid_order").await.into()),
        }
    }

    async fn amend_order(
        &self,
        request: Request<pb::AmendOrderRequest>,
    ) -> Result<Response<pb::OrderResult>, Status> {
        let r = request.into_inner();
        let id = order_id(r.order_id)?;
        let price = optional_decimal("price", Some(&r.price))?;
        let quantity = optional_decimal("quantity", Some(&r.quantity))?;
        if price.is_none() && quantity.is_none() {
            return Err(
                ApiError::bad_request("invalid_amend", "give a new price, a new quantity, or both").into(),
            );
        }
        self.api.enter(Operation::Place).await?;
        match self.api.engine.amend(id, price, quantity).await {
            Ok(o) => Ok(Response::new(outcome_pb(o))),
            Err(e) => Err(self.api.change_error(id, e, "invalid_amend").await.into()),
        }
    }

    async fn get_order(&self, request: Request<pb::OrderRef>) -> Result<Response<pb::Order>, Status> {
        let id = order_id(request.into_inner().order_id)?;
        self.api.enter(Operation::Query).await?;
        Ok(Response::new(order(self.api.order(id).await?)))
    }

    async fn list_orders(
        &self,
        request: Request<pb::ListOrdersRequest>,
    ) -> Result<Response<pb::ListOrdersResponse>, Status> {
        self.api.enter(Operation::Query).await?;
        let r = request.into_inner();
        let (orders, next) = self
            .api
            .orders(ListQuery {
                account_id: non_empty(r.account_id),
                symbol: non_empty(r.symbol),
                status: non_empty(r.status),
                limit: (r.limit != 0).then_some(r.limit),
                cursor: non_empty(r.cursor),
                ..ListQuery::default()
            })
            .await?;
        Ok(Response::new(pb::ListOrdersResponse {
            orders: orders.into_iter().map(order).collect(),
            next_cursor: next.unwrap_or_default(),
        }))
    }

    async fn list_trades(
        &self,
        request: Request<pb::ListTradesRequest>,
    ) -> Result<Response<pb::ListTradesResponse>, Status> {
        self.api.enter(Operation::Query).await?;
        let r = request.into_inner();
        let (trades, next) = self
            .api
            .trades(ListQuery {
                account_id: non_empty(r.account_id),
                entity: non_empty(r.entity),
                symbol: non_empty(r.symbol),
                status: None,
                limit: (r.limit != 0).then_some(r.limit),
                cursor: non_empty(r.cursor),
                after: non_empty(r.after),
            })
            .await?;
        Ok(Response::new(pb::ListTradesResponse {
            trades: trades.into_iter().map(trade).collect(),
            next_cursor: next.unwrap_or_default(),
        }))
    }

    async fn get_order_book(
        &self,
        request: Request<pb::GetOrderBookRequest>,
    ) -> Result<Response<pb::OrderBook>, Status> {
        let r = request.into_inner();
        let depth = depth(Some(r.depth))?;
        let symbol = self
            .api
            .listed(&r.symbol)
            .map_err(|e| ApiError::not_found("unknown_symbol", e.message()))?;
        self.api.enter(Operation::Query).await?;
        let b = self
            .api
            .engine
            .book(symbol, depth)
            .await
            .map_err(|e| engine_error(e, "invalid_symbol"))?;
        Ok(Response::new(book(b)))
    }

    async fn list_symbols(
        &self,
        _request: Request<pb::ListSymbolsRequest>,
    ) -> Result<Response<pb::ListSymbolsResponse>, Status> {
        self.api.available()?;
        let fees = self.api.engine.fees();
        let symbols = self
            .api
            .engine
            .instruments()
            .iter()
            .map(|i| pb::Symbol {
                symbol: i.symbol.clone(),
                base: i.base.clone(),
                quote: i.quote.clone(),
                tick_size: text(i.tick_size),
                lot_size: text(i.lot_size),
                maker_fee: text(fees.maker),
                taker_fee: text(fees.taker),
            })
            .collect();
        Ok(Response::new(pb::ListSymbolsResponse { symbols }))
    }

    type StreamMarketStream = MarketStream;

    async fn stream_market(
        &self,
        request: Request<pb::StreamMarketRequest>,
    ) -> Result<Response<Self::StreamMarketStream>, Status> {
        self.api.available()?;
        let names = request.into_inner().symbols;
        let chosen = stream_symbols(&self.api, names.iter().map(String::as_str))?;
        let events = market_for(self.api.clone(), chosen, self.draining.clone()).flat_map(|batch| {
            let items: Vec<Result<pb::MarketEvent, Status>> = match batch {
                Batch::Updates(updates) => updates
                    .into_iter()
                    .map(|u| {
                        Ok(pb::MarketEvent {
                            event: Some(match u {
                                MarketUpdate::Trade(t) => pb::market_event::Event::Trade(trade(t)),
                                MarketUpdate::Book(b) => pb::market_event::Event::Book(book(b)),
                            }),
                        })
                    })
                    .collect(),
                // A subscriber too slow to keep up misses updates, as on a real venue's feed.
                Batch::Lagged(_) => Vec::new(),
            };
            stream::iter(items)
        });
        Ok(Response::new(Box::pin(events)))
    }
}

impl Service {
    async fn move_funds(
        &self,
        r: pb::MoveFundsRequest,
        withdraw: bool,
    ) -> Result<Response<pb::Balance>, Status> {
        self.api.available()?;
        if r.asset.trim().is_empty() {
            return Err(ApiError::bad_request("missing_asset", "asset is required").into());
        }
        if r.amount.trim().is_empty() {
            return Err(ApiError::bad_request("missing_amount", "amount is required").into());
        }
        let amount = decimal("amount", &r.amount)?;
        let b = self
            .api
            .engine
            .move_funds(account_id(&r.account_id)?, r.asset, amount, withdraw)
            .await
            .map_err(|e| engine_error(e, "invalid_amount"))?;
        Ok(Response::new(balance(b)))
    }
}
