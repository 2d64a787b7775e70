//! The trading system engine's production API (`tse.trading.v1`): its strategies, positions, P&L
//! and kill switch.

use tse_proto::trading::v1::{
    GetPnlRequest, GetPositionsRequest, HaltRequest, HaltResponse, ListStrategiesRequest,
    ListStrategiesResponse, Pnl, Positions, Strategy, StrategyRef,
    trading_service_client::TradingServiceClient,
};
use tse_runtime::identity::ServiceKind;

use crate::{client, unary};

client!(
    /// A client of one trading system engine instance (a desk).
    Trading,
    TradingServiceClient<tonic::transport::Channel>,
    ServiceKind::TradingSystemEngine
);

impl Trading {
    unary! {
        /// Lists the desk's strategies.
        fn list_strategies(ListStrategiesRequest) -> ListStrategiesResponse;
        /// Returns one strategy.
        fn get_strategy(StrategyRef) -> Strategy;
        /// Starts one strategy.
        fn start_strategy(StrategyRef) -> Strategy;
        /// Stops one strategy and cancels its open orders.
        fn stop_strategy(StrategyRef) -> Strategy;
        /// Returns the desk's positions.
        fn get_positions(GetPositionsRequest) -> Positions;
        /// Returns the desk's P&L.
        fn get_pnl(GetPnlRequest) -> Pnl;
        /// Pulls the kill switch: cancels every open order and halts every strategy.
        fn halt(HaltRequest) -> HaltResponse;
    }
}
