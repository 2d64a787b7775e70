//! The Prometheus adapter of [`ExchangeMetrics`]: `exchange_orders_total{symbol,side,type,status}`,
//! `exchange_trades_total{symbol}`, `exchange_order_latency_seconds` and
//! `exchange_book_depth{symbol,side}`. (`exchange_faults_active{kind}` is kept by the fault board.)

use prometheus::{GaugeVec, Histogram, HistogramOpts, IntCounterVec, Opts, Registry};
use rust_decimal::{Decimal, prelude::ToPrimitive};

use crate::app::ExchangeMetrics;

/// Prometheus metrics of one exchange instance.
pub struct PrometheusMetrics {
    orders: IntCounterVec,
    trades: IntCounterVec,
    latency: Histogram,
    depth: GaugeVec,
}

impl PrometheusMetrics {
    /// Registers the metrics in the instance's registry.
    ///
    /// # Errors
    /// Returns a Prometheus error if a name is taken.
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let orders = IntCounterVec::new(
            Opts::new(
                "exchange_orders_total",
                "Orders acknowledged, by symbol, side, type and status at acknowledgement.",
            ),
            &["symbol", "side", "type", "status"],
        )?;
        let trades = IntCounterVec::new(
            Opts::new("exchange_trades_total", "Trades executed, by symbol."),
            &["symbol"],
        )?;
        let latency = Histogram::with_opts(
            HistogramOpts::new(
                "exchange_order_latency_seconds",
                "Wall time from receiving a place, amend or cancel request to acknowledging it, \
                 stored included.",
            )
            .buckets(tse_runtime::metrics::LATENCY_BUCKETS.to_vec()),
        )?;
        let depth = GaugeVec::new(
            Opts::new(
                "exchange_book_depth",
                "Resting quantity (base asset) on one side of a book, all levels.",
            ),
            &["symbol", "side"],
        )?;
        registry.register(Box::new(orders.clone()))?;
        registry.register(Box::new(trades.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(depth.clone()))?;
        Ok(Self {
            orders,
            trades,
            latency,
            depth,
        })
    }
}

impl ExchangeMetrics for PrometheusMetrics {
    fn order(&self, symbol: &str, side: &str, order_type: &str, status: &str) {
        self.orders
            .with_label_values(&[symbol, side, order_type, status])
            .inc();
    }

    fn trade(&self, symbol: &str) {
        self.trades.with_label_values(&[symbol]).inc();
    }

    fn ack_latency(&self, seconds: f64) {
        self.latency.observe(seconds);
    }

    fn depth(&self, symbol: &str, side: &str, quantity: Decimal) {
        self.depth
            .with_label_values(&[symbol, side])
            .set(quantity.to_f64().unwrap_or(f64::NAN));
    }
}
