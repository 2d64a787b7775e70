//! The generated Grafana dashboards and data source (README, *Deployment*): the first seed's two views —
//! *Infrastructure* and *Simulation entities* — plus *Risk* and *Audit*, each with variables for
//! entity type and instance, every panel with a description of what it shows. The panels are the
//! ones every service of the catalog contributes, then the host's.
//!
//! A panel over metrics that no service publishes yet is generated all the same, so the dashboards
//! need no change when the service arrives; its description starts with [`AWAITING`] and names what
//! will publish the data (today every service publishes what its panels read). The
//! Prometheus integration test evaluates every panel: each must parse, each panel must show data, and
//! each awaiting panel must still show none (so the marker never outlives its reason).

use serde_json::{Value, json};
pub use tse_runtime::metrics::dashboards::AWAITING;
use tse_runtime::{
    host::monitoring,
    metrics::dashboards::{Dashboard, Panel},
};

use crate::catalog::SERVICES;

/// Grafana JSON of the `id`th panel (two panels a row).
fn panel_json(id: usize, p: &Panel) -> Value {
    let targets: Vec<Value> = p
        .exprs
        .iter()
        .enumerate()
        .map(|(i, e)| {
            json!({"refId": char::from(b'A' + u8::try_from(i).unwrap_or(0)).to_string(), "expr": e,
                   "datasource": {"type": "prometheus", "uid": "prometheus"}})
        })
        .collect();
    json!({
        "id": id, "type": "timeseries", "title": p.title, "description": p.description,
        "datasource": {"type": "prometheus", "uid": "prometheus"},
        "fieldConfig": {"defaults": {"unit": p.unit}, "overrides": []},
        "gridPos": {"h": 8, "w": 12, "x": (id % 2) * 12, "y": (id / 2) * 8},
        "targets": targets,
    })
}

fn dashboard(uid: &str, title: &str, panels: &[Panel]) -> Value {
    let variable = |name: &str, query: &str| {
        json!({"name": name, "type": "query", "datasource": {"type": "prometheus", "uid": "prometheus"},
               "query": {"query": query, "refId": name}, "definition": query,
               "includeAll": true, "multi": true, "allValue": ".*", "refresh": 2,
               "current": {"text": "All", "value": "$__all"}})
    };
    let panels: Vec<Value> = panels.iter().enumerate().map(|(i, p)| panel_json(i, p)).collect();
    json!({
        "uid": uid, "title": title, "tags": ["tse"], "schemaVersion": 39, "version": 1,
        "time": {"from": "now-30m", "to": "now"}, "refresh": "10s",
        "templating": {"list": [
            variable("entity_type", "label_values(up{job=\"tse\"}, entity_type)"),
            variable("instance", "label_values(up{job=\"tse\", entity_type=~\"$entity_type\"}, instance_name)"),
        ]},
        "panels": panels,
    })
}

/// The panels of `dashboard`: every service's in catalog order, then the host's. Panels of the same
/// title are one panel, where its last contributor's would be, drawing every contributor's
/// expressions.
fn panels(dashboard: Dashboard) -> Vec<Panel> {
    let contributed = SERVICES
        .iter()
        .flat_map(|service| service.panels())
        .chain(monitoring::panels())
        .filter(|panel| panel.dashboard == dashboard);
    let mut panels: Vec<Panel> = Vec::new();
    for mut panel in contributed {
        if let Some(at) = panels.iter().position(|p| p.title == panel.title) {
            let mut earlier = panels.remove(at);
            earlier.exprs.append(&mut panel.exprs);
            panel = earlier;
        }
        panels.push(panel);
    }
    panels
}

/// The generated Grafana dashboards: *Infrastructure*, *Simulation entities*, *Risk* and *Audit*.
/// Every panel's expressions are evaluated against a real Prometheus by the tests.
pub fn dashboards() -> Vec<Value> {
    Dashboard::ALL
        .into_iter()
        .map(|d| dashboard(d.uid(), d.title(), &panels(d)))
        .collect()
}

/// Grafana's Prometheus data source.
pub fn grafana_datasource() -> Value {
    json!({
        "apiVersion": 1,
        "datasources": [{"name": "Prometheus", "uid": "prometheus", "type": "prometheus", "access": "proxy",
                         "url": "http://prometheus:9090", "isDefault": true}],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_panel_reads_the_instance_variable_and_says_what_it_shows() {
        let all = dashboards();
        assert_eq!(all.len(), 4);
        for d in &all {
            for p in d["panels"].as_array().unwrap() {
                assert!(!p["description"].as_str().unwrap().is_empty(), "{p}");
                for t in p["targets"].as_array().unwrap() {
                    assert!(t["expr"].as_str().unwrap().contains("$instance"), "{t}");
                }
            }
        }
    }

    #[test]
    fn panels_of_one_title_are_one_panel_drawing_every_contributor() {
        for dashboard in Dashboard::ALL {
            let panels = panels(dashboard);
            let titles: std::collections::BTreeSet<&str> = panels.iter().map(|p| p.title).collect();
            assert_eq!(titles.len(), panels.len(), "{dashboard:?} repeats a title");
        }
        let entities = panels(Dashboard::Entities);
        let faults = entities.iter().find(|p| p.title == "Faults active").unwrap();
        for gauge in [
            "exchange_faults_active",
            "custodian_faults_active",
            "market_data_faults_active",
        ] {
            assert!(faults.exprs.iter().any(|e| e.starts_with(gauge)), "{gauge}");
        }
    }
}
