//! The audit correlator's API (`tse.audit.v1`): ingestion and queries of every instance's events.

use tse_proto::audit::v1::{
    AuditEvent, Chain, CountsRequest, CountsResponse, GetChainRequest, GetEventRequest, GetTraceRequest,
    IngestRequest, IngestResponse, ListEventsRequest, ListEventsResponse, TimelineRequest, TimelineResponse,
    Trace, audit_service_client::AuditServiceClient,
};
use tse_runtime::identity::ServiceKind;

use crate::{client, unary};

client!(
    /// A client of one audit correlator instance.
    Audit,
    AuditServiceClient<tonic::transport::Channel>,
    ServiceKind::AuditCorrelator
);

impl Audit {
    unary! {
        /// Ingests a batch of events (idempotent by event id).
        fn ingest(IngestRequest) -> IngestResponse;
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
