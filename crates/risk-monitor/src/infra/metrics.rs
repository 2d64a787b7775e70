//! The Prometheus side of the risk monitor: the names and labels its dashboards and its
//! `TseRiskAlert` rule read (README, *Risk*) — `risk_alerts_active{severity,kind}`,
//! `risk_alerts_raised_total{severity,kind}`, `risk_exposure_usd{asset}`, `risk_pnl_usd`,
//! `risk_drawdown_ratio`, `risk_concentration_ratio{asset}`,
//! `risk_stablecoin_deviation_ratio{symbol}`, `risk_venue_up{venue}`,
//! `risk_data_age_seconds{source}` — plus `risk_alertmanager_posts_total{outcome}`, the pushes to
//! Alertmanager.
//!
//! The alert series exist for every severity and kind from the start, at 0, so the dashboards show
//! data before the first alert. The summary gauges follow the latest summary: a label that left
//! it (a venue no longer asked, an asset no longer held) is removed from its gauge.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{Arc, Mutex, PoisonError},
};

use prometheus::{Gauge, GaugeVec, IntCounterVec, IntGaugeVec, Opts, Registry};

use crate::domain::{
    alert::{Alert, RuleKind, Severity},
    summary::Summary,
};

/// Every value of the `outcome` label of `risk_alertmanager_posts_total`.
pub const POST_OUTCOMES: [&str; 2] = ["ok", "error"];

/// A gauge with one label that remembers which label values it shows, so those that vanish from
/// the data are removed.
#[derive(Clone)]
struct Keyed {
    gauge: GaugeVec,
    shown: Arc<Mutex<BTreeSet<String>>>,
}

impl Keyed {
    fn new(name: &str, help: &str, label: &str) -> Result<Self, prometheus::Error> {
        Ok(Self {
            gauge: GaugeVec::new(Opts::new(name, help), &[label])?,
            shown: Arc::default(),
        })
    }

    /// Shows exactly `values`: sets each, removes the label values shown before and absent now.
    fn show(&self, values: &BTreeMap<String, f64>) {
        let mut shown = self.shown.lock().unwrap_or_else(PoisonError::into_inner);
        for gone in shown.iter().filter(|l| !values.contains_key(*l)) {
            let _ = self.gauge.remove_label_values(&[gone.as_str()]);
        }
        for (label, value) in values {
            self.gauge.with_label_values(&[label.as_str()]).set(*value);
        }
        *shown = values.keys().cloned().collect();
    }
}

/// Prometheus metrics of one risk monitor instance. Clones share the same series.
#[derive(Clone)]
pub struct PrometheusMetrics {
    active: IntGaugeVec,
    raised: IntCounterVec,
    exposure: Keyed,
    pnl: Gauge,
    drawdown: Gauge,
    concentration: Keyed,
    deviation: Keyed,
    venue_up: Keyed,
    data_age: Keyed,
    posts: IntCounterVec,
}

impl PrometheusMetrics {
    /// Registers the metrics in the instance's registry, the alert series of every severity and
    /// kind at 0.
    ///
    /// # Errors
    /// Returns a Prometheus error if a name is taken.
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let active = IntGaugeVec::new(
            Opts::new(
                "risk_alerts_active",
                "Open risk alerts (active or acknowledged), by severity and rule kind.",
            ),
            &["severity", "kind"],
        )?;
        let raised = IntCounterVec::new(
            Opts::new(
                "risk_alerts_raised_total",
                "Risk alerts raised, by the severity they were raised with and rule kind.",
            ),
            &["severity", "kind"],
        )?;
        let exposure = Keyed::new(
            "risk_exposure_usd",
            "Exposure to an asset in USD (quantity times reference price), every monitored entity together.",
            "asset",
        )?;
        let pnl = Gauge::with_opts(Opts::new(
            "risk_pnl_usd",
            "Profit and loss in USD since the monitor first saw them, every monitored entity together.",
        ))?;
        let drawdown = Gauge::with_opts(Opts::new(
            "risk_drawdown_ratio",
            "Equity below its peak as a share of the peak, the largest over the monitored entities.",
        ))?;
        let concentration = Keyed::new(
            "risk_concentration_ratio",
            "Share of an asset in an entity's gross exposure, the largest over the monitored entities.",
            "asset",
        )?;
        let deviation = Keyed::new(
            "risk_stablecoin_deviation_ratio",
            "A stablecoin's price away from its peg, (price - peg) / peg, signed.",
            "symbol",
        )?;
        let venue_up = Keyed::new(
            "risk_venue_up",
            "Whether the venue answered the monitor's last request (1) or not (0).",
            "venue",
        )?;
        let data_age = Keyed::new(
            "risk_data_age_seconds",
            "Simulated seconds since the newest price from a source, the oldest over its symbols.",
            "source",
        )?;
        let posts = IntCounterVec::new(
            Opts::new(
                "risk_alertmanager_posts_total",
                "Pushes of alerts to Alertmanager, by outcome (ok, error).",
            ),
            &["outcome"],
        )?;
        for severity in Severity::ALL {
            for kind in RuleKind::ALL {
                active
                    .with_label_values(&[severity.as_str(), kind.as_str()])
                    .set(0);
                raised.with_label_values(&[severity.as_str(), kind.as_str()]);
            }
        }
        for outcome in POST_OUTCOMES {
            posts.with_label_values(&[outcome]);
        }
        registry.register(Box::new(active.clone()))?;
        registry.register(Box::new(raised.clone()))?;
        registry.register(Box::new(exposure.gauge.clone()))?;
        registry.register(Box::new(pnl.clone()))?;
        registry.register(Box::new(drawdown.clone()))?;
        registry.register(Box::new(concentration.gauge.clone()))?;
        registry.register(Box::new(deviation.gauge.clone()))?;
        registry.register(Box::new(venue_up.gauge.clone()))?;
        registry.register(Box::new(data_age.gauge.clone()))?;
        registry.register(Box::new(posts.clone()))?;
        Ok(Self {
            active,
            raised,
            exposure,
            pnl,
            drawdown,
            concentration,
            deviation,
            venue_up,
            data_age,
            posts,
        })
    }

    /// Counts a newly raised alert (escalations are not counted again).
    pub fn raised(&self, alert: &Alert) {
        self.raised
            .with_label_values(&[alert.severity.as_str(), alert.kind.as_str()])
            .inc();
    }

    /// Counts one push to Alertmanager.
    pub fn alertmanager_post(&self, ok: bool) {
        self.posts
            .with_label_values(&[if ok { "ok" } else { "error" }])
            .inc();
    }

    /// Shows the open alerts (those of `open` that are active or acknowledged) and the risk
    /// picture of `summary`, its stablecoin deviations included.
    pub fn publish(&self, open: &[Alert], summary: &Summary) {
        let mut counts: BTreeMap<(Severity, RuleKind), i64> = BTreeMap::new();
        for alert in open.iter().filter(|a| a.status.is_open()) {
            *counts.entry((alert.severity, alert.kind)).or_default() += 1;
        }
        for severity in Severity::ALL {
            for kind in RuleKind::ALL {
                self.active
                    .with_label_values(&[severity.as_str(), kind.as_str()])
                    .set(counts.get(&(severity, kind)).copied().unwrap_or(0));
            }
        }

        let mut exposure: BTreeMap<String, f64> = BTreeMap::new();
        let mut concentration: BTreeMap<String, f64> = BTreeMap::new();
        let (mut pnl, mut drawdown) = (0.0, 0.0_f64);
        for entity in &summary.entities {
            pnl += entity.pnl_usd;
            drawdown = drawdown.max(entity.drawdown);
            for asset in &entity.exposure {
                *exposure.entry(asset.asset.clone()).or_default() += asset.usd;
                let share = concentration.entry(asset.asset.clone()).or_insert(0.0);
                *share = share.max(asset.concentration);
            }
        }
        self.exposure.show(&exposure);
        self.concentration.show(&concentration);
        self.pnl.set(pnl);
        self.drawdown.set(drawdown);

        self.deviation.show(
            &summary
                .pegs
                .iter()
                .map(|p| (p.symbol.clone(), p.deviation))
                .collect(),
        );
        self.venue_up.show(
            &summary
                .venues
                .iter()
                .map(|v| (v.venue.clone(), if v.up { 1.0 } else { 0.0 }))
                .collect(),
        );
        let mut age: BTreeMap<String, f64> = BTreeMap::new();
        for data in &summary.data {
            let oldest = age.entry(data.source.clone()).or_insert(data.age_seconds);
            *oldest = oldest.max(data.age_seconds);
        }
        self.data_age.show(&age);
    }
}

#[cfg(test)]
mod tests {
    use prometheus::{Encoder, TextEncoder};
    use time::macros::datetime;

    use super::*;
    use crate::domain::{
        alert::{Evidence, Status, Subject},
        summary::{AssetExposure, DataAge, EntitySummary, PegDeviation, VenueSummary},
    };

    fn exposition(registry: &Registry) -> String {
        let mut out = Vec::new();
        TextEncoder::new().encode(&registry.gather(), &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    /// The value of the series `name{labels}` (labels in exposition order), if shown.
    fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let series = if labels.is_empty() {
            name.to_owned()
        } else {
            let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
            format!("{name}{{{}}}", inner.join(","))
        };
        text.lines()
            .find_map(|line| line.strip_prefix(&format!("{series} ")))
            .map(|v| v.parse().unwrap())
    }

    fn alert(n: u64, kind: RuleKind, severity: Severity, status: Status) -> Alert {
        let at = datetime!(2024-01-01 0:00 UTC);
        Alert {
            id: format!("alert-{n}"),
            kind,
            subject: Subject::default(),
            severity,
            status,
            evidence: Evidence {
                observed: 1.0,
                threshold: 0.5,
                unit: "ratio".into(),
                window_ms: None,
                for_ms: 0,
                source: "exchange-OKX".into(),
                data_at: at,
                breach_since: None,
                message: "m".into(),
            },
            detected_at: at,
            detected_at_wall: at,
            acknowledged_at: None,
            resolved_at: None,
            updated_at: at,
        }
    }

    fn entity(name: &str, pnl: f64, drawdown: f64, assets: &[(&str, f64, f64)]) -> EntitySummary {
        EntitySummary {
            entity: name.into(),
            exposure: assets
                .iter()
                .map(|(asset, usd, concentration)| AssetExposure {
                    asset: (*asset).into(),
                    quantity: 1.0,
                    usd: *usd,
                    concentration: *concentration,
                })
                .collect(),
            gross_usd: 0.0,
            net_usd: 0.0,
            equity_usd: 0.0,
            peak_equity_usd: 0.0,
            pnl_usd: pnl,
            daily_pnl_usd: 0.0,
            drawdown,
            order_rate: 0.0,
            pending_settlement_usd: 0.0,
            overdue_seconds: 0.0,
        }
    }

    fn data(source: &str, symbol: &str, age: f64) -> DataAge {
        DataAge {
            source: source.into(),
            symbol: symbol.into(),
            price: 1.0,
            last_at: datetime!(2024-01-01 0:00 UTC),
            age_seconds: age,
            unchanged_seconds: 0.0,
        }
    }

    fn venue(name: &str, up: bool) -> VenueSummary {
        VenueSummary {
            venue: name.into(),
            up,
            error_ratio: 0.0,
            latency_ms: 0.0,
            reject_ratio: 0.0,
        }
    }

    #[test]
    fn every_alert_series_shows_from_the_start_at_zero() {
        let registry = Registry::new();
        PrometheusMetrics::register(&registry).unwrap();
        let text = exposition(&registry);
        for severity in Severity::ALL {
            for kind in RuleKind::ALL {
                let labels = [("kind", kind.as_str()), ("severity", severity.as_str())];
                assert_eq!(
                    value(&text, "risk_alerts_active", &labels),
                    Some(0.0),
                    "{labels:?}"
                );
                assert_eq!(
                    value(&text, "risk_alerts_raised_total", &labels),
                    Some(0.0),
                    "{labels:?}"
                );
            }
        }
        for outcome in POST_OUTCOMES {
            assert_eq!(
                value(&text, "risk_alertmanager_posts_total", &[("outcome", outcome)]),
                Some(0.0)
            );
        }
        assert_eq!(value(&text, "risk_pnl_usd", &[]), Some(0.0));
        assert_eq!(value(&text, "risk_drawdown_ratio", &[]), Some(0.0));
    }

    #[test]
    fn raised_counts_by_severity_and_kind() {
        let registry = Registry::new();
        let metrics = PrometheusMetrics::register(&registry).unwrap();
        metrics.raised(&alert(
            1,
            RuleKind::StablecoinDepeg,
            Severity::Warning,
            Status::Active,
        ));
        metrics.raised(&alert(
            2,
            RuleKind::StablecoinDepeg,
            Severity::Warning,
            Status::Active,
        ));
        metrics.raised(&alert(3, RuleKind::OrderRate, Severity::Critical, Status::Active));
        metrics.alertmanager_post(true);
        metrics.alertmanager_post(false);
        metrics.alertmanager_post(false);
        let text = exposition(&registry);
        let raised = |kind: &str, severity: &str| {
            value(
                &text,
                "risk_alerts_raised_total",
                &[("kind", kind), ("severity", severity)],
            )
        };
        assert_eq!(raised("stablecoin_depeg", "warning"), Some(2.0));
        assert_eq!(raised("order_rate", "critical"), Some(1.0));
        assert_eq!(raised("order_rate", "warning"), Some(0.0));
        assert_eq!(
            value(&text, "risk_alertmanager_posts_total", &[("outcome", "ok")]),
            Some(1.0)
        );
        assert_eq!(
            value(&text, "risk_alertmanager_posts_total", &[("outcome", "error")]),
            Some(2.0)
        );
    }

    #[test]
    fn publish_shows_the_open_alerts_and_the_summary_and_forgets_what_left_it() {
        let registry = Registry::new();
        let metrics = PrometheusMetrics::register(&registry).unwrap();
        let open = [
            alert(1, RuleKind::Drawdown, Severity::Critical, Status::Active),
            alert(2, RuleKind::Drawdown, Severity::Critical, Status::Acknowledged),
            alert(3, RuleKind::StaleData, Severity::Warning, Status::Active),
            // Not open: not counted even if handed over.
            alert(4, RuleKind::StaleData, Severity::Warning, Status::Resolved),
        ];
        let summary = Summary {
            at: datetime!(2024-01-01 0:00 UTC),
            entities: vec![
                entity("a", 100.0, 0.02, &[("BTC", 1000.0, 0.8), ("ETH", 250.0, 0.2)]),
                entity("b", -40.0, 0.05, &[("BTC", 500.0, 0.5), ("SOL", 500.0, 0.5)]),
            ],
            data: vec![
                data("market-data-Coinmetrics", "BTC-USD", 2.0),
                data("market-data-Coinmetrics", "USDT-USD", 7.5),
                data("exchange-OKX", "BTC-USD", 1.0),
            ],
            venues: vec![venue("exchange-OKX", true), venue("exchange-Binance", false)],
            pegs: vec![PegDeviation {
                symbol: "USDT-USD".into(),
                price: 0.975,
                peg: 1.0,
                deviation: -0.025,
            }],
        };
        metrics.publish(&open, &summary);
        let text = exposition(&registry);
        let active = |kind: &str, severity: &str| {
            value(
                &text,
                "risk_alerts_active",
                &[("kind", kind), ("severity", severity)],
            )
        };
        assert_eq!(active("drawdown", "critical"), Some(2.0));
        assert_eq!(active("stale_data", "warning"), Some(1.0));
        assert_eq!(active("stale_data", "critical"), Some(0.0));
        assert_eq!(
            value(&text, "risk_exposure_usd", &[("asset", "BTC")]),
            Some(1500.0)
        );
        assert_eq!(
            value(&text, "risk_exposure_usd", &[("asset", "ETH")]),
            Some(250.0)
        );
        assert_eq!(
            value(&text, "risk_exposure_usd", &[("asset", "SOL")]),
            Some(500.0)
        );
        assert_eq!(value(&text, "risk_pnl_usd", &[]), Some(60.0));
        assert_eq!(value(&text, "risk_drawdown_ratio", &[]), Some(0.05));
        assert_eq!(
            value(&text, "risk_concentration_ratio", &[("asset", "BTC")]),
            Some(0.8)
        );
        assert_eq!(
            value(&text, "risk_concentration_ratio", &[("asset", "SOL")]),
            Some(0.5)
        );
        assert_eq!(
            value(
                &text,
                "risk_stablecoin_deviation_ratio",
                &[("symbol", "USDT-USD")]
            ),
            Some(-0.025)
        );
        assert_eq!(
            value(&text, "risk_venue_up", &[("venue", "exchange-OKX")]),
            Some(1.0)
        );
        assert_eq!(
            value(&text, "risk_venue_up", &[("venue", "exchange-Binance")]),
            Some(0.0)
        );
        assert_eq!(
            value(
                &text,
                "risk_data_age_seconds",
                &[("source", "market-data-Coinmetrics")]
            ),
            Some(7.5)
        );
        assert_eq!(
            value(&text, "risk_data_age_seconds", &[("source", "exchange-OKX")]),
            Some(1.0)
        );

        // Everything resolved, one entity and venue left, no peg: the rest goes.
        let later = Summary {
            entities: vec![entity("a", 10.0, 0.0, &[("BTC", 900.0, 1.0)])],
            data: vec![data("exchange-OKX", "BTC-USD", 3.0)],
            venues: vec![venue("exchange-OKX", false)],
            pegs: Vec::new(),
            ..summary
        };
        metrics.publish(&[], &later);
        let text = exposition(&registry);
        assert_eq!(
            value(
                &text,
                "risk_alerts_active",
                &[("kind", "drawdown"), ("severity", "critical")]
            ),
            Some(0.0)
        );
        assert_eq!(
            value(&text, "risk_exposure_usd", &[("asset", "BTC")]),
            Some(900.0)
        );
        assert_eq!(value(&text, "risk_exposure_usd", &[("asset", "ETH")]), None);
        assert_eq!(value(&text, "risk_exposure_usd", &[("asset", "SOL")]), None);
        assert_eq!(
            value(&text, "risk_concentration_ratio", &[("asset", "SOL")]),
            None
        );
        assert!(!text.contains("risk_stablecoin_deviation_ratio{"), "{text}");
        assert_eq!(
            value(&text, "risk_venue_up", &[("venue", "exchange-Binance")]),
            None
        );
        assert_eq!(
            value(&text, "risk_venue_up", &[("venue", "exchange-OKX")]),
            Some(0.0)
        );
        assert_eq!(
            value(
                &text,
                "risk_data_age_seconds",
                &[("source", "market-data-Coinmetrics")]
            ),
            None
        );
        assert_eq!(value(&text, "risk_pnl_usd", &[]), Some(10.0));
        assert_eq!(value(&text, "risk_drawdown_ratio", &[]), Some(0.0));
    }
}
