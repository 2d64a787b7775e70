//! The Prometheus adapter of the [`MetricsPort`]: the second seed's business metrics with its names
//! and labels exactly — `custodian_positions_total{account,symbol}`,
//! `custodian_settlements_total{status,type}`, `custodian_balance_changes_total{account,currency}` —
//! plus `custodian_settlement_duration_seconds{type}` (simulated time from acceptance to completion),
//! `custodian_settlements_pending` and `custodian_balance{account,currency}` (available plus locked).
//! (`custodian_faults_active{kind}` is kept by the fault board.)
//!
//! Series whose labels come from a fixed set (`custodian_settlements_total{status,type}`,
//! `custodian_settlement_duration_seconds{type}`) exist from the start, at 0, so rates and alerts
//! work before the first settlement.

use prometheus::{GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use crate::domain::{metrics::MetricsPort, settlement::STEPS};

/// Every value of the `type` label: the settlement kinds' labels.
const TYPES: [&str; 3] = ["trade", "net", "exchange_pnl"];

/// Simulated seconds: a second to a week (T+2 at a day each is 172,800 s).
const DURATION_BUCKETS: &[f64] = &[
    1.0, 10.0, 60.0, 600.0, 3_600.0, 21_600.0, 86_400.0, 172_800.0, 259_200.0, 604_800.0,
];

/// Prometheus metrics of one custodian instance.
pub struct PrometheusMetrics {
    positions: IntCounterVec,
    settlements: IntCounterVec,
    balance_changes: IntCounterVec,
    duration: HistogramVec,
    pending: IntGauge,
    balance: GaugeVec,
}

impl PrometheusMetrics {
    /// Registers the metrics in the instance's registry.
    ///
    /// # Errors
    /// Returns a Prometheus error if a name is taken.
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let positions = IntCounterVec::new(
            Opts::new(
                "custodian_positions_total",
                "Position updates: settled trades that moved an account's position in a symbol.",
            ),
            &["account", "symbol"],
        )?;
        let settlements = IntCounterVec::new(
            Opts::new(
                "custodian_settlements_total",
                "Settlement steps by status (pending when accepted, partial, completed, failed, \
                 cancelled) and type (trade, net, exchange_pnl).",
            ),
            &["status", "type"],
        )?;
        let balance_changes = IntCounterVec::new(
            Opts::new(
                "custodian_balance_changes_total",
                "Balance changes (deposits, withdrawals, transfers, settled legs) by account and currency.",
            ),
            &["account", "currency"],
        )?;
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "custodian_settlement_duration_seconds",
                "Simulated time from accepting a settlement instruction to completing it.",
            )
            .buckets(DURATION_BUCKETS.to_vec()),
            &["type"],
        )?;
        let pending = IntGauge::new(
            "custodian_settlements_pending",
            "Settlement instructions accepted and not yet completed, failed or cancelled.",
        )?;
        let balance = GaugeVec::new(
            Opts::new(
                "custodian_balance",
                "Balance held (available plus locked), by account and currency.",
            ),
            &["account", "currency"],
        )?;
        for kind in TYPES {
            for status in STEPS {
                settlements.with_label_values(&[status, kind]);
            }
            duration.with_label_values(&[kind]);
        }
        registry.register(Box::new(positions.clone()))?;
        registry.register(Box::new(settlements.clone()))?;
        registry.register(Box::new(balance_changes.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        registry.register(Box::new(pending.clone()))?;
        registry.register(Box::new(balance.clone()))?;
        Ok(Self {
            positions,
            settlements,
            balance_changes,
            duration,
            pending,
            balance,
        })
    }
}

impl MetricsPort for PrometheusMetrics {
    fn record_position_change(&self, account: &str, symbol: &str) {
        self.positions.with_label_values(&[account, symbol]).inc();
    }

    fn record_settlement(&self, status: &str, kind: &str) {
        self.settlements.with_label_values(&[status, kind]).inc();
    }

    fn record_balance_change(&self, account: &str, currency: &str, _amount: Decimal) {
        self.balance_changes.with_label_values(&[account, currency]).inc();
    }

    fn record_settlement_duration(&self, kind: &str, seconds: f64) {
        self.duration.with_label_values(&[kind]).observe(seconds);
    }

    fn set_pending(&self, pending: usize) {
        self.pending.set(i64::try_from(pending).unwrap_or(i64::MAX));
    }

    fn set_balance(&self, account: &str, currency: &str, total: Decimal) {
        self.balance
            .with_label_values(&[account, currency])
            .set(total.to_f64().unwrap_or(f64::NAN));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::settlement::Kind;

    #[test]
    fn the_type_labels_are_the_settlement_kinds_labels() {
        for label in TYPES {
            assert_eq!(Kind::parse_label(label), Some(label));
        }
    }
}
