//! The risk monitor's production API (`tse.risk.v1`): its alerts and their live stream, the risk
//! summary and the limits.

use tse_proto::risk::v1::{
    Alert, AlertRef, AlertUpdate, GetLimitsRequest, GetSummaryRequest, Limits, ListAlertsRequest,
    ListAlertsResponse, StreamAlertsRequest, Summary, risk_service_client::RiskServiceClient,
};
use tse_runtime::identity::ServiceKind;

use crate::{ClientError, Updates, client, unary, updates};

client!(
    /// A client of one risk monitor instance.
    Risk,
    RiskServiceClient<tonic::transport::Channel>,
    ServiceKind::RiskMonitor
);

impl Risk {
    unary! {
        /// Lists alerts, newest first, one page at a time.
        fn list_alerts(ListAlertsRequest) -> ListAlertsResponse;
        /// Returns one alert.
        fn get_alert(AlertRef) -> Alert;
        /// Acknowledges one open alert.
        fn acknowledge_alert(AlertRef) -> Alert;
        /// Returns the risk picture now.
        fn get_summary(GetSummaryRequest) -> Summary;
        /// Returns the limits in force, as their JSON document.
        fn get_limits(GetLimitsRequest) -> Limits;
        /// Replaces the limits; answers the limits now in force.
        fn set_limits(Limits) -> Limits;
    }

    /// Streams every alert change from now on (and `lagged` updates when this reader falls
    /// behind).
    ///
    /// # Errors
    /// The instance's error status when the stream cannot start.
    pub async fn stream_alerts(&self) -> Result<Updates<AlertUpdate>, ClientError> {
        Ok(updates(
            self.grpc
                .clone()
                .stream_alerts(StreamAlertsRequest {})
                .await?
                .into_inner(),
        ))
    }
}
