//! Pushes alerts to a real Prometheus Alertmanager (H-infra).
