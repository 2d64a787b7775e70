//! The Prometheus side of the desk's metrics: the names and labels the dashboards read (README,
//! *Trading system*) — `trading_strategies_running{strategy}`,
//! `trading_orders_submitted_total{strategy,exchange}`, `trading_orders_rejected_total{strategy,reason}`,
//! `trading_pnl_usd{strategy}` — plus `trading_fills_total{strategy,exchange}` and
//! `trading_order_ack_seconds{exchange}` (wall time from the market event a strategy reacted to
//! until the exchange acknowledged the order it sent). (`trading_faults_active{kind}` is kept by the
//! fault board.)
//!
//! Every configured strategy's series exist from the start, at 0, so the dashboards show the whole
//! desk before its first order; a strategy the back door starts gets its series when it first
//! reports. `reason` is bounded: the desk's own refusals by name, everything an exchange says
//! counted as `exchange_rejected`.

use std::time::Duration;

use prometheus::{GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry};

use crate::domain::strategy::StrategyConfig;

/// Every value of the `reason` label.
pub const REASONS: [&str; 4] = [
    "max_position",
    "max_order_size",
    "venue_unavailable",
    EXCHANGE_REJECTED,
];

/// The `reason` of a refusal the desk did not name itself: the exchange's.
const EXCHANGE_REJECTED: &str = "exchange_rejected";

/// Seconds from a market event to the acknowledgement of the order it caused: 100 µs to 5 s.
const ACK_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// Prometheus metrics of one trading system instance.
#[derive(Clone)]
pub struct PrometheusMetrics {
    running: IntGaugeVec,
    submitted: IntCounterVec,
    rejected: IntCounterVec,
    fills: IntCounterVec,
    pnl: GaugeVec,
    ack: HistogramVec,
}

impl PrometheusMetrics {
    /// Registers the metrics in the instance's registry, with the series of every strategy of
    /// `strategies` (and of each of their exchanges) at 0.
    ///
    /// # Errors
    /// Returns a Prometheus error if a name is taken.
    pub fn register(registry: &Registry, strategies: &[StrategyConfig]) -> Result<Self, prometheus::Error> {
        let running = IntGaugeVec::new(
            Opts::new(
                "trading_strategies_running",
                "Whether a strategy is running (1) or stopped or halted (0).",
            ),
            &["strategy"],
        )?;
        let submitted = IntCounterVec::new(
            Opts::new(
                "trading_orders_submitted_total",
                "Orders sent to an exchange, by strategy and exchange.",
            ),
            &["strategy", "exchange"],
        )?;
        let rejected = IntCounterVec::new(
            Opts::new(
                "trading_orders_rejected_total",
                "Orders refused by the desk's limits (max_position, max_order_size), not sent because \
                 the exchange was unreachable (venue_unavailable), or rejected by the exchange \
                 (exchange_rejected).",
            ),
            &["strategy", "reason"],
        )?;
        let fills = IntCounterVec::new(
            Opts::new(
                "trading_fills_total",
                "Fills of the desk's orders, each counted once, by strategy and exchange.",
            ),
            &["strategy", "exchange"],
        )?;
        let pnl = GaugeVec::new(
            Opts::new(
                "trading_pnl_usd",
                "A strategy's profit and loss in USD, realised plus unrealised.",
            ),
            &["strategy"],
        )?;
        let ack = HistogramVec::new(
            HistogramOpts::new(
                "trading_order_ack_seconds",
                "Wall time from the market event a strategy reacted to until the exchange \
                 acknowledged the order it sent.",
            )
            .buckets(ACK_BUCKETS.to_vec()),
            &["exchange"],
        )?;
        for config in strategies {
            let strategy = config.name.as_str();
            running.with_label_values(&[strategy]).set(0);
            pnl.with_label_values(&[strategy]).set(0.0);
            for reason in REASONS {
                rejected.with_label_values(&[strategy, reason]);
            }
            for exchange in &config.exchanges {
                submitted.with_label_values(&[strategy, exchange]);
                fills.with_label_values(&[strategy, exchange]);
                ack.with_label_values(&[exchange]);
            }
        }
        registry.register(Box::new(running.clone()))?;
        registry.register(Box::new(submitted.clone()))?;
        registry.register(Box::new(rejected.clone()))?;
        registry.register(Box::new(fills.clone()))?;
        registry.register(Box::new(pnl.clone()))?;
        registry.register(Box::new(ack.clone()))?;
        Ok(Self {
            running,
            submitted,
            rejected,
            fills,
            pnl,
            ack,
        })
    }

    /// Counts an order `strategy` sent to `exchange`.
    pub fn submitted(&self, strategy: &str, exchange: &str) {
        self.submitted.with_label_values(&[strategy, exchange]).inc();
    }

    /// Counts an order of `strategy` refused for `reason`; a reason not in [`REASONS`] is the
    /// exchange's and counts as `exchange_rejected`.
    pub fn rejected(&self, strategy: &str, reason: &str) {
        let reason = REASONS
            .into_iter()
            .find(|r| *r == reason)
            .unwrap_or(EXCHANGE_REJECTED);
        self.rejected.with_label_values(&[strategy, reason]).inc();
    }

    /// Counts a fill of an order `strategy` sent to `exchange`.
    pub fn filled(&self, strategy: &str, exchange: &str) {
        self.fills.with_label_values(&[strategy, exchange]).inc();
    }

    /// Records whether `strategy` runs.
    pub fn set_running(&self, strategy: &str, running: bool) {
        self.running
            .with_label_values(&[strategy])
            .set(i64::from(running));
    }

    /// Records the P&L of `strategy` in USD.
    pub fn set_pnl(&self, strategy: &str, usd: f64) {
        self.pnl.with_label_values(&[strategy]).set(usd);
    }

    /// Records the time from a market event to the acknowledgement, by `exchange`, of the order it
    /// caused.
    pub fn ack_latency(&self, exchange: &str, latency: Duration) {
        self.ack
            .with_label_values(&[exchange])
            .observe(latency.as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use prometheus::{Encoder, TextEncoder};
    use rust_decimal::Decimal;
    use tse_market::Symbol;

    use super::*;
    use crate::domain::strategy::{Params, StrategyKind};

    fn config(name: &str, exchanges: &[&str]) -> StrategyConfig {
        StrategyConfig {
            name: name.to_owned(),
            kind: StrategyKind::Arbitrage,
            exchanges: exchanges.iter().map(|e| (*e).to_owned()).collect(),
            symbols: vec![Symbol::parse("BTC-USD").unwrap()],
            params: Params::default(),
            max_position: Decimal::ONE,
            max_order_size: Decimal::ONE,
            enabled: true,
        }
    }

    fn exposition(registry: &Registry) -> String {
        let mut out = Vec::new();
        TextEncoder::new().encode(&registry.gather(), &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn every_configured_strategy_shows_from_the_start_at_zero() {
        let registry = Registry::new();
        PrometheusMetrics::register(
            &registry,
            &[
                config("arb", &["exchange-OKX", "exchange-Binance"]),
                config("mm", &["exchange-OKX"]),
            ],
        )
        .unwrap();
        let text = exposition(&registry);
        for line in [
            "trading_strategies_running{strategy=\"arb\"} 0",
            "trading_strategies_running{strategy=\"mm\"} 0",
            "trading_pnl_usd{strategy=\"mm\"} 0",
            "trading_orders_submitted_total{exchange=\"exchange-Binance\",strategy=\"arb\"} 0",
            "trading_orders_submitted_total{exchange=\"exchange-OKX\",strategy=\"mm\"} 0",
            "trading_fills_total{exchange=\"exchange-OKX\",strategy=\"arb\"} 0",
            "trading_orders_rejected_total{reason=\"max_position\",strategy=\"mm\"} 0",
            "trading_orders_rejected_total{reason=\"max_order_size\",strategy=\"mm\"} 0",
            "trading_orders_rejected_total{reason=\"venue_unavailable\",strategy=\"arb\"} 0",
            "trading_orders_rejected_total{reason=\"exchange_rejected\",strategy=\"arb\"} 0",
            "trading_order_ack_seconds_bucket{exchange=\"exchange-Binance\",le=\"0.0001\"} 0",
            "trading_order_ack_seconds_bucket{exchange=\"exchange-OKX\",le=\"5\"} 0",
            "trading_order_ack_seconds_count{exchange=\"exchange-OKX\"} 0",
        ] {
            assert!(text.contains(line), "missing {line} in\n{text}");
        }
        // mm trades only on OKX: no Binance series for it.
        assert!(
            !text.contains("exchange=\"exchange-Binance\",strategy=\"mm\""),
            "{text}"
        );
    }

    #[test]
    fn recordings_land_on_their_series() {
        let registry = Registry::new();
        let m = PrometheusMetrics::register(&registry, &[config("mm", &["exchange-OKX"])]).unwrap();
        m.submitted("mm", "exchange-OKX");
        m.submitted("mm", "exchange-OKX");
        m.filled("mm", "exchange-OKX");
        m.rejected("mm", "max_position");
        m.rejected("mm", "INSUFFICIENT_FUNDS");
        m.rejected("mm", "PRICE_OUT_OF_BAND");
        m.set_running("mm", true);
        m.set_pnl("mm", -12.5);
        m.ack_latency("exchange-OKX", Duration::from_micros(300));
        m.set_running("runaway", true);
        let text = exposition(&registry);
        for line in [
            "trading_orders_submitted_total{exchange=\"exchange-OKX\",strategy=\"mm\"} 2",
            "trading_fills_total{exchange=\"exchange-OKX\",strategy=\"mm\"} 1",
            "trading_orders_rejected_total{reason=\"max_position\",strategy=\"mm\"} 1",
            "trading_orders_rejected_total{reason=\"exchange_rejected\",strategy=\"mm\"} 2",
            "trading_strategies_running{strategy=\"mm\"} 1",
            "trading_strategies_running{strategy=\"runaway\"} 1",
            "trading_pnl_usd{strategy=\"mm\"} -12.5",
            "trading_order_ack_seconds_bucket{exchange=\"exchange-OKX\",le=\"0.00025\"} 0",
            "trading_order_ack_seconds_bucket{exchange=\"exchange-OKX\",le=\"0.0005\"} 1",
            "trading_order_ack_seconds_count{exchange=\"exchange-OKX\"} 1",
        ] {
            assert!(text.contains(line), "missing {line} in\n{text}");
        }
        assert!(!text.contains("INSUFFICIENT_FUNDS"), "{text}");
    }
}
