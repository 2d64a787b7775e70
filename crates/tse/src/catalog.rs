//! Which crate implements which service kind: the one place the binary wires services to the host.
//! Each service describes itself (settings, migrations, build, panels, rules); this list only names
//! them, one line each.

use std::path::Path;

use tse_runtime::{
    config::InstanceConfig,
    host::{AnyService, PreparedService},
    identity::ServiceKind,
};

use crate::failure::{Failure, input};

/// Every service the binary runs, in the order the generated monitoring lists their panels and rules.
pub const SERVICES: [&dyn AnyService; ServiceKind::ALL.len()] = [
    &tse_audit_correlator::AuditCorrelator,
    &tse_test_coordinator::TestCoordinator,
    &tse_exchange::Exchange,
    &tse_custodian::Custodian,
    &tse_market_data::MarketData,
    &tse_trading_system::TradingSystem,
    &tse_risk_monitor::RiskMonitor,
];

/// Returns the service of `kind` the instance host runs.
pub fn service(kind: ServiceKind) -> &'static dyn AnyService {
    SERVICES
        .into_iter()
        .find(|service| service.kind() == kind)
        .expect("the catalog lists every service kind (a test checks it)")
}

/// The service of `instance` with its settings parsed (once: the host builds it from these), or
/// what is wrong with them, naming the topology file they come from.
pub(crate) fn prepare(
    instance: &InstanceConfig,
    topology: Option<&Path>,
) -> Result<PreparedService, Failure> {
    service(instance.identity.service())
        .prepare(&instance.settings)
        .map_err(|e| {
            let source = topology.map(|path| format!("topology {}: ", path.display()));
            input(format!(
                "{}instance {}: settings: {e}",
                source.unwrap_or_default(),
                instance.identity.instance()
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_maps_to_its_own_service() {
        for kind in ServiceKind::ALL {
            assert_eq!(service(kind).kind(), kind);
            let listed = SERVICES.iter().filter(|s| s.kind() == kind).count();
            assert_eq!(listed, 1, "{kind} is listed once");
        }
    }
}
