//! The market data simulator's production API (`tse.marketdata.v1`).

use tse_proto::marketdata::v1::{
    GetCandlesRequest, GetCandlesResponse, GetPriceRequest, ListPricesRequest, ListPricesResponse,
    ListSymbolsRequest, ListSymbolsResponse, Price, StreamPricesRequest,
    market_data_service_client::MarketDataServiceClient,
};
use tse_runtime::identity::ServiceKind;

use crate::{ClientError, Updates, client, unary, updates};

client!(
    /// A client of one market data simulator instance.
    MarketData,
    MarketDataServiceClient<tonic::transport::Channel>,
    ServiceKind::MarketDataSimulator
);

impl MarketData {
    unary! {
        /// Lists the symbols the instance publishes, with their details.
        fn list_symbols(ListSymbolsRequest) -> ListSymbolsResponse;
        /// Returns the reference price of one symbol.
        fn get_price(GetPriceRequest) -> Price;
        /// Returns the reference price of every symbol.
        fn list_prices(ListPricesRequest) -> ListPricesResponse;
        /// Returns candles of one symbol.
        fn get_candles(GetCandlesRequest) -> GetCandlesResponse;
    }

    /// Returns the names of the symbols the instance publishes.
    ///
    /// # Errors
    /// The instance's error status.
    pub async fn symbols(&self) -> Result<Vec<String>, ClientError> {
        let listed = self.list_symbols(ListSymbolsRequest {}).await?;
        Ok(listed.symbols.into_iter().map(|s| s.symbol).collect())
    }

    /// Streams the reference prices of the requested symbols as they move.
    ///
    /// # Errors
    /// The instance's error status when the stream cannot start.
    pub async fn stream_prices(&self, request: StreamPricesRequest) -> Result<Updates<Price>, ClientError> {
        Ok(updates(
            self.grpc.clone().stream_prices(request).await?.into_inner(),
        ))
    }
}
