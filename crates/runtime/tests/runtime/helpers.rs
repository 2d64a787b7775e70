//! `spawn_app`: one instance on OS-chosen ports, in a fresh directory, with request helpers.

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    sync::atomic::{AtomicU32, Ordering},
};

use tokio_util::sync::CancellationToken;
use tse_runtime::{
    config::{InstanceConfig, ServeOverrides},
    discovery::Registry,
    host::{self, Listeners, RunningInstance, ServiceDef},
    identity::ServiceKind,
};

/// A running instance under test.
pub struct TestApp {
    pub http: String,
    pub grpc: SocketAddr,
    pub client: reqwest::Client,
    pub instance_name: String,
    pub shutdown: CancellationToken,
    pub instance: Option<RunningInstance>,
    _dir: tempfile::TempDir,
}

/// A fresh instance name per test, so tests never share names, schemas or namespaces.
pub fn unique_instance(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-t{}x{n}", std::process::id())
}

pub async fn spawn_app() -> TestApp {
    spawn_service(ServiceDef::host_only(ServiceKind::ExchangeSimulator)).await
}

pub async fn spawn_service(service: ServiceDef) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let instance_name = unique_instance("exchange");
    let overrides = ServeOverrides {
        service: Some(service.kind.name().to_owned()),
        instance: Some(instance_name.clone()),
        http_port: Some(0),
        grpc_port: Some(0),
        data_dir: Some(dir.path().join("data")),
        log_dir: Some(dir.path().join("logs")),
        ..Default::default()
    };
    let mut env = BTreeMap::new();
    env.insert("BIND_ADDRESS", "127.0.0.1");
    env.insert("ENVIRONMENT", "test");
    let config = InstanceConfig::load(&overrides, &env).expect("valid test configuration");
    let listeners = Listeners::bind(&config).await.expect("ports bind");
    let shutdown = CancellationToken::new();
    let instance = host::start(config, service, listeners, Registry::embedded(), shutdown.clone())
        .await
        .expect("instance starts");
    TestApp {
        http: format!("http://{}", instance.http_addr()),
        grpc: instance.grpc_addr(),
        client: reqwest::Client::new(),
        instance_name,
        shutdown,
        instance: Some(instance),
        _dir: dir,
    }
}

impl TestApp {
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.http))
            .send()
            .await
            .expect("request sent")
    }

    pub async fn get_json(&self, path: &str) -> (u16, serde_json::Value) {
        let response = self.get(path).await;
        let status = response.status().as_u16();
        (status, response.json().await.expect("JSON body"))
    }

    pub async fn metrics(&self) -> String {
        self.get("/metrics").await.text().await.expect("metrics text")
    }

    pub async fn grpc_channel(&self) -> tonic::transport::Channel {
        tonic::transport::Endpoint::from_shared(format!("http://{}", self.grpc))
            .expect("endpoint")
            .connect()
            .await
            .expect("gRPC connects")
    }

    /// Requests shutdown and waits for the instance to stop.
    pub async fn stop(&mut self) -> Result<(), tse_runtime::host::HostError> {
        self.shutdown.cancel();
        self.instance.take().expect("running").stopped().await
    }
}

/// Returns the value of the sample of `name` whose labels include all of `labels`.
pub fn sample(metrics: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    metrics.lines().filter(|l| !l.starts_with('#')).find_map(|line| {
        let (series, value) = line.rsplit_once(' ')?;
        let (metric, rest) = series.split_once('{').unwrap_or((series, "}"));
        if metric != name {
            return None;
        }
        let matches = labels.iter().all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")));
        matches.then(|| value.parse().ok()).flatten()
    })
}

/// Every distinct value the label `label` takes on series of `name`.
pub fn label_values(metrics: &str, name: &str, label: &str) -> std::collections::BTreeSet<String> {
    metrics
        .lines()
        .filter(|l| l.starts_with(&format!("{name}{{")))
        .filter_map(|l| {
            let start = l.find(&format!("{label}=\""))? + label.len() + 2;
            let end = start + l[start..].find('"')?;
            Some(l[start..end].to_owned())
        })
        .collect()
}
