//! `tse.risk.v1.RiskService`: the production API over gRPC, same semantics and messages as
//! [`super::http`]. Timestamps travel as RFC 3339 text, an absent one (an alert not yet
//! acknowledged) as an empty string, like an unused subject part; amounts and ratios of the
//! summary as doubles (the summary's own values); limits as the JSON text of the HTTP document.
//! Errors are the [`ApiError`](tse_runtime::api::ApiError)s of the HTTP API with their gRPC codes
//! (see [`super`]).

use std::pin::Pin;

use futures::{Stream, StreamExt};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};
use tonic::{Request, Response, Status};
use tse_proto::risk::v1::{
    self as pb,
    risk_service_server::{RiskService, RiskServiceServer},
};
use tse_runtime::api::ApiError;

use super::{AlertQuery, Api, StreamItem};
use crate::domain::{
    alert::Alert,
    limits::Limits,
    summary::{AssetExposure, DataAge, EntitySummary, PegDeviation, Summary, VenueSummary},
};

/// The gRPC service of one instance.
pub struct Service {
    api: Api,
}

/// Returns the tonic server for `api`.
pub fn server(api: Api) -> RiskServiceServer<Service> {
    RiskServiceServer::new(Service { api })
}

fn timestamp(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

/// An alert as gRPC carries it.
pub fn alert(a: Alert) -> pb::Alert {
    pb::Alert {
        id: a.id,
        kind: a.kind.as_str().to_owned(),
        entity: a.subject.entity.unwrap_or_default(),
        venue: a.subject.venue.unwrap_or_default(),
        asset: a.subject.asset.unwrap_or_default(),
        symbol: a.subject.symbol.unwrap_or_default(),
        measure: a.subject.measure.unwrap_or_default(),
        severity: a.severity.as_str().to_owned(),
        status: a.status.as_str().to_owned(),
        observed: a.evidence.observed,
        threshold: a.evidence.threshold,
        unit: a.evidence.unit,
        window_ms: a.evidence.window_ms.unwrap_or_default(),
        for_ms: a.evidence.for_ms,
        source: a.evidence.source,
        data_at: timestamp(a.evidence.data_at),
        breach_since: a.evidence.breach_since.map(timestamp).unwrap_or_default(),
        message: a.evidence.message,
        detected_at: timestamp(a.detected_at),
        detected_at_wall: timestamp(a.detected_at_wall),
        acknowledged_at: a.acknowledged_at.map(timestamp).unwrap_or_default(),
        resolved_at: a.resolved_at.map(timestamp).unwrap_or_default(),
        updated_at: timestamp(a.updated_at),
    }
}

fn exposure(e: AssetExposure) -> pb::AssetExposure {
    pb::AssetExposure {
        asset: e.asset,
        quantity: e.quantity,
        usd: e.usd,
        concentration: e.concentration,
    }
}

fn entity(e: EntitySummary) -> pb::EntitySummary {
    pb::EntitySummary {
        entity: e.entity,
        exposure: e.exposure.into_iter().map(exposure).collect(),
        gross_usd: e.gross_usd,
        net_usd: e.net_usd,
        equity_usd: e.equity_usd,
        peak_equity_usd: e.peak_equity_usd,
        pnl_usd: e.pnl_usd,
        daily_pnl_usd: e.daily_pnl_usd,
        drawdown: e.drawdown,
        order_rate: e.order_rate,
        pending_settlement_usd: e.pending_settlement_usd,
        overdue_seconds: e.overdue_seconds,
    }
}

fn data_age(d: DataAge) -> pb::DataAge {
    pb::DataAge {
        source: d.source,
        symbol: d.symbol,
        price: d.price,
        last_at: timestamp(d.last_at),
        age_seconds: d.age_seconds,
        unchanged_seconds: d.unchanged_seconds,
    }
}

fn venue(v: VenueSummary) -> pb::VenueSummary {
    pb::VenueSummary {
        venue: v.venue,
        up: v.up,
        error_ratio: v.error_ratio,
        latency_ms: v.latency_ms,
        reject_ratio: v.reject_ratio,
    }
}

fn peg(p: PegDeviation) -> pb::PegDeviation {
    pb::PegDeviation {
        symbol: p.symbol,
        price: p.price,
        peg: p.peg,
        deviation: p.deviation,
    }
}

/// The summary as gRPC carries it.
pub fn summary(s: Summary) -> pb::Summary {
    pb::Summary {
        at: timestamp(s.at),
        entities: s.entities.into_iter().map(entity).collect(),
        data: s.data.into_iter().map(data_age).collect(),
        venues: s.venues.into_iter().map(venue).collect(),
        pegs: s.pegs.into_iter().map(peg).collect(),
    }
}

/// The limits as their JSON document.
fn limits(l: &Limits) -> Result<pb::Limits, Status> {
    serde_json::to_string(l)
        .map(|limits_json| pb::Limits { limits_json })
        .map_err(|e| Status::internal(format!("the limits cannot be written as JSON: {e}")))
}

fn update(item: StreamItem) -> pb::AlertUpdate {
    match item {
        StreamItem::Change(change) => pb::AlertUpdate {
            event_type: change.event_type().to_owned(),
            alert: Some(alert(change.alert().clone())),
            skipped: 0,
        },
        StreamItem::Lagged(skipped) => pb::AlertUpdate {
            event_type: "lagged".to_owned(),
            alert: None,
            skipped,
        },
    }
}

type UpdateStream = Pin<Box<dyn Stream<Item = Result<pb::AlertUpdate, Status>> + Send>>;

#[tonic::async_trait]
impl RiskService for Service {
    async fn list_alerts(
        &self,
        request: Request<pb::ListAlertsRequest>,
    ) -> Result<Response<pb::ListAlertsResponse>, Status> {
        let r = request.into_inner();
        let query = AlertQuery {
            status: Some(r.status),
            severity: Some(r.severity),
            kind: Some(r.kind),
            // proto3 has no absent number: 0 is the default page size.
            limit: (r.limit != 0).then(|| r.limit.to_string()),
            cursor: Some(r.cursor),
        };
        let page = self.api.alerts(&query).await?;
        Ok(Response::new(pb::ListAlertsResponse {
            alerts: page.alerts.into_iter().map(alert).collect(),
            next_cursor: page.next_cursor.unwrap_or_default(),
        }))
    }

    async fn get_alert(&self, request: Request<pb::AlertRef>) -> Result<Response<pb::Alert>, Status> {
        let id = request.into_inner().id;
        Ok(Response::new(alert(self.api.alert(&id).await?)))
    }

    async fn acknowledge_alert(&self, request: Request<pb::AlertRef>) -> Result<Response<pb::Alert>, Status> {
        let id = request.into_inner().id;
        Ok(Response::new(alert(self.api.acknowledge(&id).await?)))
    }

    type StreamAlertsStream = UpdateStream;

    async fn stream_alerts(
        &self,
        _request: Request<pb::StreamAlertsRequest>,
    ) -> Result<Response<Self::StreamAlertsStream>, Status> {
        let updates = self.api.changes().map(|item| Ok(update(item)));
        Ok(Response::new(Box::pin(updates)))
    }

    async fn get_summary(
        &self,
        _request: Request<pb::GetSummaryRequest>,
    ) -> Result<Response<pb::Summary>, Status> {
        Ok(Response::new(summary(self.api.summary().await?)))
    }

    async fn get_limits(
        &self,
        _request: Request<pb::GetLimitsRequest>,
    ) -> Result<Response<pb::Limits>, Status> {
        Ok(Response::new(limits(&self.api.limits().await?)?))
    }

    async fn set_limits(&self, request: Request<pb::Limits>) -> Result<Response<pb::Limits>, Status> {
        let text = request.into_inner().limits_json;
        let document: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| ApiError::bad_request("invalid_json", format!("invalid JSON limits: {e}")))?;
        Ok(Response::new(limits(&self.api.set_limits(&document).await?)?))
    }
}
