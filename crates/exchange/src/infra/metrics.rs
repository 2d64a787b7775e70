//! The Prometheus adapter of [`ExchangeMetrics`]: `exchange_orders_total{symbol,side,type,status}`,
//! `exchange_trades_total{symbol}`, `exchange_order_latency_seconds` and
//! `exchange_book_depth{symbol,side}`. (`exchange_faults_active{kind}` is kept by the fault board.)
//!
//! Every label set is bounded (the listed symbols, two sides, two types, five statuses), so every
//! series exists from the start at 0: a rate or an alert works before the first order.

use prometheus::{GaugeVec, Histogram, HistogramOpts, IntCounterVec, Opts, Registry};
use rust_decimal::{Decimal, prelude::ToPrimitive};

use tse_matching::Side;

use crate::{
    app::ExchangeMetrics,
    domain::{
        instrument::Instrument,
        order::{OrderStatus, OrderType, side_name},
    },
};

/// Prometheus metrics of one exchange instance.
pub struct PrometheusMetrics {
    orders: IntCounterVec,
    trades: IntCounterVec,
    latency: Histogram,
    depth: GaugeVec,
}

impl PrometheusMetrics {
    /// Registers the metrics of an exchange listing `instruments` in the instance's registry, every
    /// series at 0.
    ///
    /// # Errors
    /// Returns a Prometheus error if a name is taken.
    pub fn register(registry: &Registry, instruments: &[Instrument]) -> Result<Self, prometheus::Error> {
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
        for symbol in instruments.iter().map(|i| i.symbol.as_str()) {
            trades.with_label_values(&[symbol]);
            for side in [Side::Buy, Side::Sell] {
                depth
                    .with_label_values(&[symbol, if side == Side::Buy { "bid" } else { "ask" }])
                    .set(0.0);
                for order_type in OrderType::ALL {
                    for status in OrderStatus::ALL {
                        orders.with_label_values(&[
                            symbol,
                            side_name(side),
                            order_type.as_str(),
                            status.as_str(),
                        ]);
                    }
                }
            }
        }
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
