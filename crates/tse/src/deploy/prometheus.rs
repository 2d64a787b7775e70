//! Prometheus: the scrape configuration of an ecosystem, and the recording and alert rules the host
//! and every service of the catalog contribute.

use serde_json::{Value, json};
use tse_runtime::{config::topology::EcosystemConfig, host::monitoring, metrics::dashboards::Rule};

use crate::catalog::SERVICES;

/// Recording and alert rules over the instances' metrics (`prometheus/rules.yml`): the host's
/// (instance or dependency down, HTTP error rate and latency), then each service's, in catalog order
/// (for example market data out or stale, a settlement backlog, active risk alerts).
pub fn rules() -> Value {
    let all: Vec<Rule> = monitoring::rules()
        .into_iter()
        .chain(SERVICES.iter().flat_map(|service| service.rules()))
        .collect();
    let (records, alerts): (Vec<&Rule>, Vec<&Rule>) =
        all.iter().partition(|rule| matches!(rule, Rule::Record { .. }));
    let group = |name: &str, rules: Vec<&Rule>| json!({"name": name, "rules": rules.into_iter().map(Rule::to_json).collect::<Vec<_>>()});
    json!({"groups": [group("tse-recording", records), group("tse-alerts", alerts)]})
}

/// Prometheus scraping every instance of the ecosystem with its labels: discovered through the
/// registry's HTTP service discovery (any instance serves it), with the topology's instances as a
/// static fallback (identical targets are scraped once). `host` is the name an instance is reached
/// at — the one it advertises in discovery.
pub fn prometheus(ecosystem: &EcosystemConfig, host: &dyn Fn(&str) -> String) -> Value {
    let targets: Vec<Value> = ecosystem
        .instances
        .iter()
        .map(|i| {
            json!({
                "targets": [format!("{}:8080", host(i.identity.instance().as_str()))],
                "labels": {
                    "service": i.identity.service().name(),
                    "instance_name": i.identity.instance().as_str(),
                    "service_type": i.identity.service_type().to_string(),
                    "entity_type": i.identity.entity_type(),
                },
            })
        })
        .collect();
    let mut job = json!({"job_name": "tse", "metrics_path": "/metrics", "static_configs": targets});
    if let Some(first) = ecosystem.instances.first() {
        job["http_sd_configs"] = json!([{
            "url": format!("http://{}:8080/api/v1/discovery/prometheus", host(first.identity.instance().as_str())),
            "refresh_interval": "15s",
        }]);
    }
    json!({
        "global": {"scrape_interval": "5s", "evaluation_interval": "5s"},
        "rule_files": ["rules.yml"],
        "scrape_configs": [job],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::service_key;

    #[test]
    fn prometheus_scrapes_every_instance_with_its_labels() {
        let doc = prometheus(&crate::deploy::default_ecosystem(), &service_key);
        let targets = doc["scrape_configs"][0]["static_configs"].as_array().unwrap();
        assert_eq!(targets.len(), 9);
        let custodian = targets
            .iter()
            .find(|t| t["labels"]["instance_name"] == "custodian-Komainu")
            .unwrap();
        assert_eq!(custodian["targets"], json!(["custodian-komainu:8080"]));
        assert_eq!(custodian["labels"]["service"], "custodian-simulator");
        assert_eq!(custodian["labels"]["service_type"], "multi-instance");
        assert_eq!(custodian["labels"]["entity_type"], "custodian");
    }
}
