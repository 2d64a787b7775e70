//! The Prometheus adapter of [`MarketMetrics`]: `market_data_ticks_total{symbol}`,
//! `market_data_price{symbol}`, `market_data_publish_latency_seconds`. (`market_data_faults_active{kind}`
//! is kept by the fault board.)

use prometheus::{GaugeVec, Histogram, HistogramOpts, IntCounterVec, Opts, Registry};
use rust_decimal::{Decimal, prelude::ToPrimitive};

use crate::{app::MarketMetrics, domain::symbol::Symbol};

/// Prometheus metrics of one market data instance.
pub struct PrometheusMetrics {
    ticks: IntCounterVec,
    price: GaugeVec,
    latency: Histogram,
}

impl PrometheusMetrics {
    /// Registers the metrics in the instance's registry.
    ///
    /// # Errors
    /// Returns a Prometheus error if a name is taken.
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let ticks = IntCounterVec::new(
            Opts::new("market_data_ticks_total", "Prices published, by symbol."),
            &["symbol"],
        )?;
        let price = GaugeVec::new(
            Opts::new("market_data_price", "Latest published price, by symbol."),
            &["symbol"],
        )?;
        let latency = Histogram::with_opts(
            HistogramOpts::new(
                "market_data_publish_latency_seconds",
                "Wall time from a tick's instant on the simulated clock to its publication.",
            )
            .buckets(tse_runtime::metrics::LATENCY_BUCKETS.to_vec()),
        )?;
        registry.register(Box::new(ticks.clone()))?;
        registry.register(Box::new(price.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        Ok(Self {
            ticks,
            price,
            latency,
        })
    }
}

impl MarketMetrics for PrometheusMetrics {
    fn published(&self, symbol: &Symbol, price: Decimal) {
        self.ticks.with_label_values(&[symbol.as_str()]).inc();
        self.price
            .with_label_values(&[symbol.as_str()])
            .set(price.to_f64().unwrap_or(f64::NAN));
    }

    fn publish_latency(&self, seconds: f64) {
        self.latency.observe(seconds);
    }
}
