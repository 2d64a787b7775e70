//! `tse.trading.v1.TradingService`: the production API over gRPC, same semantics and messages as
//! [`super::http`]. Decimals travel as strings, an absent one (a mark not yet known, a strategy no
//! fault started) as an empty string; maps of the HTTP answers are lists in key order; a
//! strategy's params are their JSON text. Errors are the [`ApiError`](tse_runtime::api::ApiError)s
//! of the HTTP API with their gRPC codes (see [`super`]).

use rust_decimal::Decimal;
use tonic::{Request, Response, Status};
use tse_proto::trading::v1::{
    self as pb,
    trading_service_server::{TradingService, TradingServiceServer},
};

use super::Api;
use crate::app::views::{HaltView, PnlView, PositionView, PositionsView, StrategyPnl, StrategyView};

/// The gRPC service of one instance.
pub struct Service {
    api: Api,
}

/// Returns the tonic server for `api`.
pub fn server(api: Api) -> TradingServiceServer<Service> {
    TradingServiceServer::new(Service { api })
}

fn text(d: Decimal) -> String {
    d.to_string()
}

fn amounts(amounts: impl IntoIterator<Item = (String, Decimal)>) -> Vec<pb::AssetAmount> {
    amounts
        .into_iter()
        .map(|(asset, amount)| pb::AssetAmount {
            asset,
            amount: text(amount),
        })
        .collect()
}

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

fn strategy(s: StrategyView) -> pb::Strategy {
    pb::Strategy {
        name: s.name,
        kind: s.kind.to_owned(),
        status: s.status.to_owned(),
        origin: s.origin.to_owned(),
        fault_id: s.fault_id.unwrap_or_default(),
        exchanges: s.exchanges,
        symbols: s.symbols,
        positions: amounts(s.positions),
        realized_pnl_usd: text(s.realized_pnl_usd),
        unrealized_pnl_usd: text(s.unrealized_pnl_usd),
        pnl_usd: text(s.pnl_usd),
        orders_submitted: s.orders_submitted,
        orders_rejected: s.orders_rejected,
        rejected_by_reason: s
            .rejected_by_reason
            .into_iter()
            .map(|(reason, count)| pb::RejectCount { reason, count })
            .collect(),
        open_orders: count(s.open_orders),
        max_position: text(s.max_position),
        max_order_size: text(s.max_order_size),
        params_json: s.params.to_string(),
    }
}

fn position(p: PositionView) -> pb::Position {
    pb::Position {
        strategy: p.strategy,
        symbol: p.symbol,
        quantity: text(p.quantity),
        average_cost: text(p.average_cost),
        mark: p.mark.map(text).unwrap_or_default(),
        realized_pnl: text(p.realized_pnl),
        unrealized_pnl: text(p.unrealized_pnl),
        fees: text(p.fees),
        quote: p.quote,
        realized_pnl_usd: text(p.realized_pnl_usd),
        unrealized_pnl_usd: text(p.unrealized_pnl_usd),
        fills: p.fills,
    }
}

fn positions(p: PositionsView) -> pb::Positions {
    pb::Positions {
        assets: amounts(p.assets),
        positions: p.positions.into_iter().map(position).collect(),
    }
}

fn strategy_pnl(s: StrategyPnl) -> pb::StrategyPnl {
    pb::StrategyPnl {
        strategy: s.strategy,
        realized_usd: text(s.realized_usd),
        unrealized_usd: text(s.unrealized_usd),
        total_usd: text(s.total_usd),
        fees_usd: text(s.fees_usd),
    }
}

fn pnl(p: PnlView) -> pb::Pnl {
    pb::Pnl {
        realized_usd: text(p.realized_usd),
        unrealized_usd: text(p.unrealized_usd),
        total_usd: text(p.total_usd),
        fees_usd: text(p.fees_usd),
        strategies: p.strategies.into_iter().map(strategy_pnl).collect(),
    }
}

fn halt(h: HaltView) -> pb::HaltResponse {
    pb::HaltResponse {
        halted: h.halted,
        cancels_sent: count(h.cancels_sent),
    }
}

#[tonic::async_trait]
impl TradingService for Service {
    async fn list_strategies(
        &self,
        _request: Request<pb::ListStrategiesRequest>,
    ) -> Result<Response<pb::ListStrategiesResponse>, Status> {
        let strategies = self.api.strategies().await?;
        Ok(Response::new(pb::ListStrategiesResponse {
            strategies: strategies.into_iter().map(strategy).collect(),
        }))
    }

    async fn get_strategy(
        &self,
        request: Request<pb::StrategyRef>,
    ) -> Result<Response<pb::Strategy>, Status> {
        let name = request.into_inner().name;
        Ok(Response::new(strategy(self.api.strategy(&name).await?)))
    }

    async fn start_strategy(
        &self,
        request: Request<pb::StrategyRef>,
    ) -> Result<Response<pb::Strategy>, Status> {
        let name = request.into_inner().name;
        Ok(Response::new(strategy(self.api.start(&name).await?)))
    }

    async fn stop_strategy(
        &self,
        request: Request<pb::StrategyRef>,
    ) -> Result<Response<pb::Strategy>, Status> {
        let name = request.into_inner().name;
        Ok(Response::new(strategy(self.api.stop(&name).await?)))
    }

    async fn get_positions(
        &self,
        _request: Request<pb::GetPositionsRequest>,
    ) -> Result<Response<pb::Positions>, Status> {
        Ok(Response::new(positions(self.api.positions().await?)))
    }

    async fn get_pnl(&self, _request: Request<pb::GetPnlRequest>) -> Result<Response<pb::Pnl>, Status> {
        Ok(Response::new(pnl(self.api.pnl().await?)))
    }

    async fn halt(&self, _request: Request<pb::HaltRequest>) -> Result<Response<pb::HaltResponse>, Status> {
        Ok(Response::new(halt(self.api.halt().await?)))
    }
}

#[cfg(test)]
mod tests {
    use tonic::{Code, transport::server::TcpIncoming};
    use tse_client::{ClientError, Trading};

    use super::*;
    use crate::api::test_desk;

    /// Serves `server(api)` on a free port; returns a client connected to it.
    async fn serve(api: Api) -> Trading {
        let incoming = TcpIncoming::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let url = format!("http://{}", incoming.local_addr().unwrap());
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(server(api))
                .serve_with_incoming(incoming),
        );
        Trading::connect(&url).await.expect("connected")
    }

    fn named(name: &str) -> pb::StrategyRef {
        pb::StrategyRef {
            name: name.to_owned(),
        }
    }

    fn refusal<T: std::fmt::Debug>(result: Result<T, ClientError>) -> (Code, String) {
        let e = result.unwrap_err();
        (e.code(), e.message().to_owned())
    }

    #[tokio::test]
    async fn every_rpc_answers_what_http_does() {
        let client = serve(test_desk::api()).await;
        let list = client
            .list_strategies(pb::ListStrategiesRequest {})
            .await
            .unwrap();
        let expected: Vec<pb::Strategy> = test_desk::strategies().into_iter().map(strategy).collect();
        assert_eq!(list.strategies, expected);
        let mm = &list.strategies[0];
        assert_eq!(
            (mm.name.as_str(), mm.status.as_str()),
            ("market_making", "RUNNING")
        );
        assert_eq!(
            mm.positions,
            vec![
                pb::AssetAmount {
                    asset: "BTC".into(),
                    amount: "0.5".into()
                },
                pb::AssetAmount {
                    asset: "USD".into(),
                    amount: "-25010.5".into()
                },
            ]
        );
        assert_eq!(
            (mm.pnl_usd.as_str(), mm.orders_rejected, mm.open_orders),
            ("10.25", 3, 2)
        );
        assert_eq!(mm.rejected_by_reason[0].reason, "max_position");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&mm.params_json).unwrap(),
            serde_json::json!({"spread_bps": 20})
        );
        assert_eq!(mm.fault_id, "", "no fault started it");

        let runaway = client.get_strategy(named("runaway")).await.unwrap();
        assert_eq!(
            (runaway.kind.as_str(), runaway.status.as_str()),
            ("runaway", "STOPPED")
        );
        let stopped = client.stop_strategy(named("market_making")).await.unwrap();
        assert_eq!(stopped.status, "STOPPED");
        let started = client.start_strategy(named("market_making")).await.unwrap();
        assert_eq!(started.status, "RUNNING");

        let p = client.get_positions(pb::GetPositionsRequest {}).await.unwrap();
        assert_eq!(p, positions(test_desk::positions()));
        assert_eq!((p.positions[0].mark.as_str(), p.positions[0].fills), ("", 7));
        let total = client.get_pnl(pb::GetPnlRequest {}).await.unwrap();
        assert_eq!(total, pnl(test_desk::pnl()));
        assert_eq!(total.strategies[0].strategy, "market_making");

        let halted = client.halt(pb::HaltRequest {}).await.unwrap();
        assert_eq!(
            (halted.halted, halted.cancels_sent),
            (vec!["market_making".to_owned()], 2)
        );
        let after = client.get_strategy(named("market_making")).await.unwrap();
        assert_eq!(after.status, "HALTED");
    }

    #[tokio::test]
    async fn refusals_carry_the_http_messages_with_their_grpc_codes() {
        let client = serve(test_desk::api()).await;
        let rule = "1 to 32 of a-z 0-9 _ -, starting with a letter";
        assert_eq!(
            refusal(client.get_strategy(named("Bad Name!")).await),
            (
                Code::InvalidArgument,
                format!("strategy name 'Bad Name!' is not valid: {rule}")
            )
        );
        assert_eq!(
            refusal(client.start_strategy(named("")).await),
            (
                Code::InvalidArgument,
                format!("strategy name '' is not valid: {rule}")
            )
        );
        assert_eq!(
            refusal(client.stop_strategy(named(&"a".repeat(33))).await),
            (
                Code::InvalidArgument,
                "a strategy name has at most 32 characters, got 33".to_owned()
            )
        );
        for result in [
            client.get_strategy(named("nope")).await,
            client.start_strategy(named("nope")).await,
            client.stop_strategy(named("nope")).await,
        ] {
            assert_eq!(
                refusal(result),
                (Code::NotFound, "no strategy is named 'nope'".to_owned())
            );
        }
        let (code, message) = refusal(client.start_strategy(named("runaway")).await);
        assert_eq!(code, Code::FailedPrecondition);
        assert!(message.contains("chaos strategy"), "{message}");
    }

    #[tokio::test]
    async fn every_rpc_is_unavailable_when_the_desk_is_gone() {
        let client = serve(test_desk::gone()).await;
        let gone = (
            Code::Unavailable,
            "the trading desk is not running (the instance is stopping)".to_owned(),
        );
        assert_eq!(
            refusal(client.list_strategies(pb::ListStrategiesRequest {}).await),
            gone
        );
        assert_eq!(refusal(client.get_strategy(named("market_making")).await), gone);
        assert_eq!(refusal(client.start_strategy(named("market_making")).await), gone);
        assert_eq!(refusal(client.stop_strategy(named("market_making")).await), gone);
        assert_eq!(
            refusal(client.get_positions(pb::GetPositionsRequest {}).await),
            gone
        );
        assert_eq!(refusal(client.get_pnl(pb::GetPnlRequest {}).await), gone);
        assert_eq!(refusal(client.halt(pb::HaltRequest {}).await), gone);
    }
}
