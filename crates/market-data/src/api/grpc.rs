//! `tse.marketdata.v1.MarketDataService`: the production API over gRPC, same semantics as HTTP.

use std::pin::Pin;

use futures::{Stream, StreamExt, stream};
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};
use tse_proto::marketdata::v1::{
    self as pb,
    market_data_service_server::{MarketDataService, MarketDataServiceServer},
};

use super::{
    candle_query, find_symbol,
    http::{Batch, prices_for},
    latest, process_name, refuse_during_outage, stream_symbols, timestamp,
};
use crate::app::feed::{Feed, Tick};

/// The gRPC service of one instance.
pub struct Service {
    feed: Feed,
    draining: CancellationToken,
}

/// Returns the tonic server for `feed`; `draining` ends live streams when the instance stops.
pub fn server(feed: Feed, draining: CancellationToken) -> MarketDataServiceServer<Service> {
    MarketDataServiceServer::new(Service { feed, draining })
}

fn price(tick: &Tick) -> pb::Price {
    pb::Price {
        symbol: tick.symbol.to_string(),
        price: tick.price.to_string(),
        sequence: tick.sequence,
        timestamp: timestamp(tick.timestamp),
    }
}

impl Service {
    fn available(&self) -> Result<(), Status> {
        refuse_during_outage(&self.feed).map_err(Status::from)
    }
}

type PriceStream = Pin<Box<dyn Stream<Item = Result<pb::Price, Status>> + Send>>;

#[tonic::async_trait]
impl MarketDataService for Service {
    async fn list_symbols(
        &self,
        _request: Request<pb::ListSymbolsRequest>,
    ) -> Result<Response<pb::ListSymbolsResponse>, Status> {
        self.available()?;
        let symbols = self
            .feed
            .symbols()
            .iter()
            .map(|s| pb::SymbolInfo {
                symbol: s.symbol.to_string(),
                base: s.symbol.base().to_owned(),
                quote: s.symbol.quote().to_owned(),
                process: process_name(s).to_owned(),
                tick_size: s.tick_size.to_string(),
            })
            .collect();
        Ok(Response::new(pb::ListSymbolsResponse { symbols }))
    }

    async fn get_price(&self, request: Request<pb::GetPriceRequest>) -> Result<Response<pb::Price>, Status> {
        self.available()?;
        Ok(Response::new(price(&latest(
            &self.feed,
            &request.into_inner().symbol,
        )?)))
    }

    async fn list_prices(
        &self,
        _request: Request<pb::ListPricesRequest>,
    ) -> Result<Response<pb::ListPricesResponse>, Status> {
        self.available()?;
        let prices = self.feed.all_latest().iter().map(price).collect();
        Ok(Response::new(pb::ListPricesResponse { prices }))
    }

    async fn get_candles(
        &self,
        request: Request<pb::GetCandlesRequest>,
    ) -> Result<Response<pb::GetCandlesResponse>, Status> {
        self.available()?;
        let request = request.into_inner();
        let spec = find_symbol(&self.feed, &request.symbol)?;
        let limit = (request.limit != 0).then_some(u64::from(request.limit));
        let (interval, limit) = candle_query(Some(&request.interval), limit)?;
        let candles = self
            .feed
            .candles(&spec.symbol, interval, limit)
            .iter()
            .map(|c| pb::Candle {
                open_time: timestamp(c.open_time),
                close_time: timestamp(c.open_time + interval.duration()),
                open: c.open.to_string(),
                high: c.high.to_string(),
                low: c.low.to_string(),
                close: c.close.to_string(),
                ticks: c.ticks,
            })
            .collect();
        Ok(Response::new(pb::GetCandlesResponse {
            symbol: spec.symbol.to_string(),
            interval: interval.as_str().to_owned(),
            candles,
        }))
    }

    type StreamPricesStream = PriceStream;

    async fn stream_prices(
        &self,
        request: Request<pb::StreamPricesRequest>,
    ) -> Result<Response<Self::StreamPricesStream>, Status> {
        self.available()?;
        let names = request.into_inner().symbols;
        let chosen = stream_symbols(&self.feed, names.iter().map(String::as_str))?;
        let prices = prices_for(self.feed.clone(), chosen, self.draining.clone()).flat_map(|batch| {
            let items: Vec<Result<pb::Price, Status>> = match batch {
                Batch::Ticks(ticks) => ticks.iter().map(|t| Ok(price(t))).collect(),
                // A subscriber too slow to keep up simply misses rounds, as on a real feed.
                Batch::Lagged(_) => Vec::new(),
            };
            stream::iter(items)
        });
        Ok(Response::new(Box::pin(prices)))
    }
}
