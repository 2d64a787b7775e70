//! The Prometheus adapter of [`MarketMetrics`]: `market_data_ticks_total{symbol}`,
//! `market_data_price{symbol}`, `market_data_publish_latency_seconds`, and
//! `market_data_symbol_pegged{symbol}` (1 for a pegged, mean-reverting symbol, whose price may
//! legitimately stay put for minutes; 0 otherwise). (`market_data_faults_active{kind}` is kept by the
//! fault board.) The counters of every published symbol start at 0.

use prometheus::{GaugeVec, Histogram, HistogramOpts, IntCounterVec, IntGaugeVec, Opts, Registry};
use rust_decimal::{Decimal, prelude::ToPrimitive};

use crate::{
    app::MarketMetrics,
    domain::symbol::{Symbol, SymbolSpec},
};

/// Prometheus metrics of one market data instance.
pub struct PrometheusMetrics {
    ticks: IntCounterVec,
    price: GaugeVec,
    latency: Histogram,
}

impl PrometheusMetrics {
    /// Registers the metrics of an instance publishing `symbols` in its registry.
    ///
    /// # Errors
    /// Returns a Prometheus error if a name is taken.
    pub fn register(registry: &Registry, symbols: &[SymbolSpec]) -> Result<Self, prometheus::Error> {
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
        let pegged = IntGaugeVec::new(
            Opts::new(
                "market_data_symbol_pegged",
                "1 for a pegged (mean-reverting) symbol, 0 for a floating one.",
            ),
            &["symbol"],
        )?;
        for spec in symbols {
            pegged
                .with_label_values(&[spec.symbol.as_str()])
                .set(i64::from(spec.is_pegged()));
            // Every symbol's counter exists from the start, at 0, so a rate (or an alert on a feed
            // that never published) works before the first price.
            ticks.with_label_values(&[spec.symbol.as_str()]);
        }
        registry.register(Box::new(pegged))?;
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
