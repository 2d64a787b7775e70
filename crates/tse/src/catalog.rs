//! Which crate implements which service kind: the one place the binary wires services to the host.

use tse_runtime::{host::ServiceDef, identity::ServiceKind};

/// Returns the definition of `kind` the instance host runs.
pub fn service(kind: ServiceKind) -> ServiceDef {
    match kind {
        ServiceKind::AuditCorrelator => tse_audit_correlator::service(),
        ServiceKind::TestCoordinator => tse_test_coordinator::service(),
        ServiceKind::ExchangeSimulator => tse_exchange::service(),
        ServiceKind::CustodianSimulator => tse_custodian::service(),
        ServiceKind::MarketDataSimulator => tse_market_data::service(),
        ServiceKind::TradingSystemEngine => tse_trading_system::service(),
        ServiceKind::RiskMonitor => tse_risk_monitor::service(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_maps_to_its_own_service() {
        for kind in ServiceKind::ALL {
            assert_eq!(service(kind).kind, kind);
        }
    }
}
