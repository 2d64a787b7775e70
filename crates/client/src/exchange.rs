//! The exchange simulator's production API (`tse.exchange.v1`).

use futures::Stream;
use tse_proto::exchange::v1::{
    Account, AmendOrderRequest, Balance, Balances, CreateAccountRequest, GetBalancesRequest,
    GetOrderBookRequest, ListAccountsRequest, ListAccountsResponse, ListOrdersRequest, ListOrdersResponse,
    ListSymbolsRequest, ListSymbolsResponse, ListTradesRequest, ListTradesResponse, MarketEvent,
    MoveFundsRequest, Order, OrderBook, OrderRef, OrderResult, PlaceOrderReply, PlaceOrderRequest,
    StreamMarketRequest, exchange_service_client::ExchangeServiceClient,
};
use tse_runtime::identity::ServiceKind;

use crate::{ClientError, Updates, client, unary, updates};

client!(
    /// A client of one exchange simulator instance.
    Exchange,
    ExchangeServiceClient<tonic::transport::Channel>,
    ServiceKind::ExchangeSimulator
);

impl Exchange {
    unary! {
        /// Opens an account, of an entity when one is given.
        fn create_account(CreateAccountRequest) -> Account;
        /// Lists accounts in id order, one page at a time.
        fn list_accounts(ListAccountsRequest) -> ListAccountsResponse;
        /// Credits an account.
        fn deposit(MoveFundsRequest) -> Balance;
        /// Debits an account.
        fn withdraw(MoveFundsRequest) -> Balance;
        /// Returns an account's balances.
        fn get_balances(GetBalancesRequest) -> Balances;
        /// Places one order.
        fn place_order(PlaceOrderRequest) -> OrderResult;
        /// Cancels an order.
        fn cancel_order(OrderRef) -> Order;
        /// Amends an order's price or quantity.
        fn amend_order(AmendOrderRequest) -> OrderResult;
        /// Returns one order.
        fn get_order(OrderRef) -> Order;
        /// Lists orders, one page at a time.
        fn list_orders(ListOrdersRequest) -> ListOrdersResponse;
        /// Lists trades, one page at a time.
        fn list_trades(ListTradesRequest) -> ListTradesResponse;
        /// Returns a symbol's order book.
        fn get_order_book(GetOrderBookRequest) -> OrderBook;
        /// Lists the instance's symbols.
        fn list_symbols(ListSymbolsRequest) -> ListSymbolsResponse;
    }

    /// Opens an order entry session: each order sent gets one reply, in order, once it is stored.
    ///
    /// # Errors
    /// The instance's error status when the session cannot start.
    pub async fn place_orders(
        &self,
        orders: impl Stream<Item = PlaceOrderRequest> + Send + 'static,
    ) -> Result<Updates<PlaceOrderReply>, ClientError> {
        Ok(updates(
            self.grpc.clone().place_orders(orders).await?.into_inner(),
        ))
    }

    /// Streams the trades and book changes of the requested symbols (all when none are named).
    ///
    /// # Errors
    /// The instance's error status when the stream cannot start.
    pub async fn stream_market(
        &self,
        request: StreamMarketRequest,
    ) -> Result<Updates<MarketEvent>, ClientError> {
        Ok(updates(
            self.grpc.clone().stream_market(request).await?.into_inner(),
        ))
    }
}
