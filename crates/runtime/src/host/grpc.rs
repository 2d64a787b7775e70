//! The gRPC face every instance has: the standard `grpc.health.v1.Health` service (following
//! readiness), server reflection (v1 and v1alpha, advertising only what is served), and
//! `tse.runtime.v1.InstanceService`; plus RED metrics around every call.

use std::{collections::HashSet, sync::Arc};

use prost::Message;
use tokio::net::TcpListener;
use tokio_stream::StreamExt;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status, service::Routes, transport::server::TcpIncoming};
use tonic_health::{ServingStatus, server::HealthReporter};
use tse_proto::runtime::v1::{
    GetInfoRequest, InstanceInfo,
    instance_service_server::{InstanceService, InstanceServiceServer},
};

use super::conn::{Gate, Tracked};
use crate::{
    config::ConnectionLimits,
    health::Health,
    metrics::{GrpcMetricsLayer, InstanceMetrics},
};

const HEALTH_SERVICE: &str = "grpc.health.v1.Health";
const REFLECTION_V1: &str = "grpc.reflection.v1.ServerReflection";
const REFLECTION_V1ALPHA: &str = "grpc.reflection.v1alpha.ServerReflection";

pub(super) struct Assembled {
    pub(super) routes: Routes,
    pub(super) layer: GrpcMetricsLayer,
    pub(super) reporter: HealthReporter,
    /// Every served service name, for the health reporter.
    pub(super) services: Vec<String>,
}

/// Adds the host's gRPC services to the service's, and builds the metrics layer knowing every method
/// served.
pub(super) fn assemble(
    service_routes: Routes,
    service_names: &[&'static str],
    health: &Health,
    metrics: &InstanceMetrics,
    span: &tracing::Span,
) -> Assembled {
    let (reporter, health_service) = tonic_health::server::health_reporter();
    let instance_service = InstanceServiceServer::new(InstanceInfoService {
        health: health.clone(),
    });

    let mut served: Vec<String> = vec![
        HEALTH_SERVICE.to_owned(),
        REFLECTION_V1.to_owned(),
        REFLECTION_V1ALPHA.to_owned(),
        <InstanceServiceServer<InstanceInfoService> as tonic::server::NamedService>::NAME.to_owned(),
    ];
    served.extend(service_names.iter().map(|s| (*s).to_owned()));

    let descriptor_sets: [&[u8]; 4] = [
        tse_proto::FILE_DESCRIPTOR_SET,
        tonic_health::pb::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
    ];
    // Both reflection versions describe every served service, each other included: a client that
    // lists services through v1 may ask v1 for the v1alpha descriptor, and the other way round.
    let reflection = || {
        let mut builder = descriptor_sets.iter().fold(
            tonic_reflection::server::Builder::configure().include_reflection_service(false),
            |builder, set| builder.register_encoded_file_descriptor_set(set),
        );
        for name in &served {
            builder = builder.with_service_name(name.clone());
        }
        builder
    };
    // The descriptor sets are compiled into the binary; failing to load them is a build defect.
    let reflection_v1 = reflection()
        .build_v1()
        .expect("embedded descriptor sets are valid");
    let reflection_v1alpha = reflection()
        .build_v1alpha()
        .expect("embedded descriptor sets are valid");

    let routes = service_routes
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(instance_service);
    let methods = methods_of(&descriptor_sets, &served);
    Assembled {
        routes,
        layer: GrpcMetricsLayer::new(metrics.grpc().clone(), methods, span.clone()),
        reporter,
        services: served,
    }
}

/// Every `/{package.Service}/{Method}` path of the served services, from the descriptor sets.
fn methods_of(descriptor_sets: &[&[u8]], served: &[String]) -> HashSet<String> {
    let served: HashSet<&str> = served.iter().map(String::as_str).collect();
    let mut methods = HashSet::new();
    for encoded in descriptor_sets {
        let Ok(set) = prost_types::FileDescriptorSet::decode(*encoded) else {
            continue;
        };
        for file in set.file {
            let package = file.package.unwrap_or_default();
            for service in file.service {
                let name = service.name.unwrap_or_default();
                let full = if package.is_empty() {
                    name
                } else {
                    format!("{package}.{name}")
                };
                if !served.contains(full.as_str()) {
                    continue;
                }
                for method in service.method {
                    methods.insert(format!("/{full}/{}", method.name.unwrap_or_default()));
                }
            }
        }
    }
    methods
}

/// Serves gRPC until `shutdown`, then lets in-flight calls finish. Connections are admitted through
/// `gate` (refused ones are closed at once) and closed after moving no bytes for the idle timeout;
/// HTTP/2 pings keep a live client's connection busier than that.
pub(super) async fn serve(
    routes: Routes,
    layer: GrpcMetricsLayer,
    listener: TcpListener,
    shutdown: CancellationToken,
    gate: Arc<Gate>,
    limits: ConnectionLimits,
) -> Result<(), String> {
    let incoming = TcpIncoming::from(listener)
        .with_nodelay(Some(true))
        .filter_map(move |accepted| match accepted {
            Ok(tcp) => match gate.admit() {
                Some(admission) => Some(Ok(Tracked::new(tcp, admission, limits.idle_timeout))),
                None => {
                    gate.refuse("gRPC", tcp.peer_addr().ok());
                    None
                }
            },
            Err(error) => Some(Err(error)),
        });
    tonic::transport::Server::builder()
        .http2_keepalive_interval(Some(limits.idle_timeout / 2))
        .http2_keepalive_timeout(Some(limits.idle_timeout / 2))
        .layer(layer)
        .add_routes(routes)
        .serve_with_incoming_shutdown(incoming, shutdown.cancelled_owned())
        .await
        .map_err(|e| e.to_string())
}

/// Keeps the standard health service in step with readiness: `SERVING` exactly when ready.
pub(super) async fn report_health(
    reporter: HealthReporter,
    services: Vec<String>,
    health: Health,
    stop: CancellationToken,
) {
    let mut changes = health.subscribe();
    loop {
        let status = if health.readiness().is_ok() {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        reporter.set_service_status("", status).await;
        for service in &services {
            reporter.set_service_status(service, status).await;
        }
        tokio::select! {
            () = stop.cancelled() => return,
            changed = changes.changed() => if changed.is_err() { return },
        }
    }
}

struct InstanceInfoService {
    health: Health,
}

#[tonic::async_trait]
impl InstanceService for InstanceInfoService {
    async fn get_info(&self, _request: Request<GetInfoRequest>) -> Result<Response<InstanceInfo>, Status> {
        let report = self.health.report();
        Ok(Response::new(InstanceInfo {
            status: report.status.as_str().to_owned(),
            service: report.service.to_owned(),
            instance: report.instance,
            version: report.version.to_owned(),
            environment: report.environment,
            timestamp: report.timestamp,
            schema: report.schema,
            redis_namespace: report.redis_namespace,
            service_type: report.service_type.to_owned(),
            entity_type: report.entity_type.to_owned(),
            started_at: report.started_at,
            uptime_seconds: report.uptime_seconds,
            ready: report.ready,
            not_ready_reasons: report.not_ready_reasons,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_are_listed_only_for_served_services() {
        let methods = methods_of(
            &[
                tse_proto::FILE_DESCRIPTOR_SET,
                tonic_health::pb::FILE_DESCRIPTOR_SET,
            ],
            &[
                "grpc.health.v1.Health".to_owned(),
                "tse.runtime.v1.InstanceService".to_owned(),
            ],
        );
        assert!(methods.contains("/grpc.health.v1.Health/Check"));
        assert!(methods.contains("/grpc.health.v1.Health/Watch"));
        assert!(methods.contains("/tse.runtime.v1.InstanceService/GetInfo"));
        assert_eq!(methods.len(), 3);
    }
}
