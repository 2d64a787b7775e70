//! The audit correlator's API (`tse.audit.v1`): ingestion and queries of every instance's events.

use tse_proto::audit::v1::{
    AuditEvent, Chain, CountsRequest, CountsResponse, GetChainRequest, GetEventRequest, GetTraceRequest,
    IngestRequest, IngestResponse, ListEventsRequest, ListEventsResponse, TimelineRequest, TimelineResponse,
    Trace, audit_service_client::AuditServiceClient,
};
use tse_runtime::identity::ServiceKind;

use crate::{ClientError, client, unary};

client!(
    /// A client of one audit correlator instance.
    Audit,
    AuditServiceClient<tonic::transport::Channel>,
    ServiceKind::AuditCorrelator
);

impl Audit {
    /// Ingests a batch of events (idempotent by event id), presenting the ecosystem's ingest token
    /// as `authorization: Bearer <token>` (`None`: without one, which the correlator refuses).
    ///
    /// # Errors
    /// The correlator's error status (`UNAUTHENTICATED` for a missing or wrong token,
    /// `INVALID_ARGUMENT` for a batch it refuses).
    pub async fn ingest(
        &self,
        events: IngestRequest,
        token: Option<&str>,
    ) -> Result<IngestResponse, ClientError> {
        let mut request = tonic::Request::new(events);
        if let Some(token) = token {
            let value = format!("Bearer {token}")
                .parse()
                .map_err(|_| ClientError::Status {
                    code: tonic::Code::InvalidArgument,
                    message: "the ingest token cannot be sent as gRPC metadata".to_owned(),
                })?;
            request.metadata_mut().insert("authorization", value);
        }
        Ok(self.grpc.clone().ingest(request).await?.into_inner())
    }

    unary! {
        /// Lists events matching a filter, one page at a time.
        fn list_events(ListEventsRequest) -> ListEventsResponse;
        /// Returns one event.
        fn get_event(GetEventRequest) -> AuditEvent;
        /// Returns an event with its causes and effects.
        fn get_chain(GetChainRequest) -> Chain;
        /// Returns the events of one trace.
        fn get_trace(GetTraceRequest) -> Trace;
        /// Returns a timeline of events.
        fn timeline(TimelineRequest) -> TimelineResponse;
        /// Returns event counts per instance and type.
        fn counts(CountsRequest) -> CountsResponse;
    }
}
