//! `spawn_app`: one instance on OS-chosen ports, in a fresh directory, with request helpers and
//! readers of its `/metrics`.

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    sync::atomic::{AtomicU32, Ordering},
};

use tokio_util::sync::CancellationToken;
use tse_client::{Audit, Custodian, Exchange, MarketData, chaos::Chaos};
use tse_runtime::{
    clock::Clock,
    config::{InstanceConfig, ServeOverrides},
    discovery::Registry,
    host::{self, Listeners, PreparedService, RunningInstance, Service, ServiceDef, Shared},
    identity::ServiceKind,
};

/// A running instance under test.
#[allow(missing_docs)]
pub struct TestApp {
    pub http: String,
    pub grpc: SocketAddr,
    pub client: reqwest::Client,
    pub instance_name: String,
    pub shutdown: CancellationToken,
    pub instance: Option<RunningInstance>,
    pub data_dir: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

/// A fresh instance name per test, so tests never share names, schemas or namespaces.
pub fn unique_instance(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-t{}x{n}", std::process::id())
}

/// An exchange instance serving only the host's endpoints.
pub async fn spawn_app() -> TestApp {
    spawn_service(ServiceDef::host_only(ServiceKind::ExchangeSimulator)).await
}

/// An instance of `service` with default options.
pub async fn spawn_service(service: impl Service) -> TestApp {
    spawn_with(service, TestOptions::default()).await
}

/// What a test instance connects to.
#[allow(missing_docs)]
#[derive(Clone, Default)]
pub struct TestOptions {
    pub database_url: Option<String>,
    pub redis_url: Option<String>,
    /// Health and heartbeat interval (default 10s).
    pub interval: Option<&'static str>,
    /// A registry shared with other test instances (default: a fresh embedded one).
    pub registry: Option<Registry>,
    /// The instance name (default: a fresh one).
    pub instance: Option<String>,
    /// The instance's data directory (default: a fresh temporary one), to restart on the same data.
    pub data_dir: Option<std::path::PathBuf>,
    /// `TSE_CLOCK_SPEED` (default 1).
    pub clock_speed: Option<&'static str>,
    /// `TSE_ADMIN_TOKEN` (default: none, back doors closed).
    pub admin_token: Option<&'static str>,
    /// `[instance.settings]` of the service.
    pub settings: Option<toml::Table>,
    /// `ENVIRONMENT` (default `test`): the ecosystem, whose clock and lookups it shares.
    pub environment: Option<String>,
    /// More environment variables (`MAX_CONNECTIONS`, ...).
    pub env: Vec<(&'static str, &'static str)>,
}

/// An instance of `service` with `options`; panics if it cannot start.
pub async fn spawn_with(service: impl Service, options: TestOptions) -> TestApp {
    try_spawn(service, options).await.expect("instance starts")
}

/// An instance of `service` with `options`, or why it could not start.
///
/// # Errors
/// The host's error.
pub async fn try_spawn(
    service: impl Service,
    options: TestOptions,
) -> Result<TestApp, tse_runtime::host::HostError> {
    let dir = tempfile::tempdir().expect("temp dir");
    let instance_name = options
        .instance
        .clone()
        .unwrap_or_else(|| unique_instance("exchange"));
    let overrides = ServeOverrides {
        service: Some(service.kind().name().to_owned()),
        instance: Some(instance_name.clone()),
        http_port: Some(0),
        grpc_port: Some(0),
        data_dir: Some(
            options
                .data_dir
                .clone()
                .unwrap_or_else(|| dir.path().join("data")),
        ),
        log_dir: Some(dir.path().join("logs")),
        ..Default::default()
    };
    let mut env: BTreeMap<&str, &str> = BTreeMap::new();
    env.insert("BIND_ADDRESS", "127.0.0.1");
    env.insert("ENVIRONMENT", options.environment.as_deref().unwrap_or("test"));
    if let Some(url) = &options.database_url {
        env.insert("DATABASE_URL", url);
    }
    if let Some(url) = &options.redis_url {
        env.insert("REDIS_URL", url);
    }
    if let Some(interval) = options.interval {
        env.insert("HEALTH_CHECK_INTERVAL", interval);
    }
    if let Some(speed) = options.clock_speed {
        env.insert("TSE_CLOCK_SPEED", speed);
    }
    if let Some(token) = options.admin_token {
        env.insert("TSE_ADMIN_TOKEN", token);
    }
    env.extend(options.env.iter().copied());
    let mut config = InstanceConfig::load(&overrides, &env).expect("valid test configuration");
    if let Some(settings) = options.settings.clone() {
        config.settings = settings;
    }
    let service = PreparedService::new(service, &config.settings).expect("valid test settings");
    let data_dir = config.data_dir.clone();
    let shared = match options.registry {
        Some(registry) => Shared {
            registry,
            clock: Clock::new(config.common.clock_speed),
        },
        None => Shared::connect(&config.common).await.expect("registry"),
    };
    let listeners = Listeners::bind(&config).await.expect("ports bind");
    let shutdown = CancellationToken::new();
    let instance = host::start(config, service, listeners, shared, shutdown.clone()).await?;
    Ok(TestApp {
        http: format!("http://{}", instance.http_addr()),
        grpc: instance.grpc_addr(),
        client: reqwest::Client::new(),
        instance_name,
        shutdown,
        instance: Some(instance),
        data_dir,
        _dir: dir,
    })
}

#[allow(missing_docs)]
impl TestApp {
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.http))
            .send()
            .await
            .expect("request sent")
    }

    /// Sends `request` with the admin token `token`.
    pub async fn admin(&self, request: reqwest::RequestBuilder, token: &str) -> (u16, serde_json::Value) {
        let response = request.bearer_auth(token).send().await.expect("request sent");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(serde_json::Value::Null))
    }

    pub async fn get_json(&self, path: &str) -> (u16, serde_json::Value) {
        let response = self.get(path).await;
        let status = response.status().as_u16();
        (status, response.json().await.expect("JSON body"))
    }

    /// POSTs `body` as JSON to `path`: the status and the JSON answer (`Null` when it is not JSON).
    pub async fn post_json(&self, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        let response = self
            .client
            .post(format!("{}{path}", self.http))
            .json(&body)
            .send()
            .await
            .expect("request sent");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(serde_json::Value::Null))
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

    pub fn schema(&self) -> String {
        self.instance_name.to_lowercase().replace('-', "_")
    }

    /// Waits until `condition` holds on the health answer, polling every 50 ms, for at most `limit`.
    pub async fn wait_health(
        &self,
        limit: std::time::Duration,
        condition: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = std::time::Instant::now() + limit;
        loop {
            let (_, body) = self.get_json("/api/v1/health").await;
            if condition(&body) {
                return body;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "health never matched; last: {body}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// Rows of a query on the instance's embedded database, opened read-only beside the instance.
    pub async fn sqlite_rows(&self, sql: &str) -> Vec<sqlx::sqlite::SqliteRow> {
        use sqlx::Connection as _;
        let path = self.data_dir.join("tse.sqlite");
        let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}?mode=ro", path.display()))
            .await
            .expect("embedded database");
        sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_all(&mut conn)
            .await
            .expect("query")
    }

    /// The instance's back door, opened with the admin token `token`.
    pub fn chaos(&self, token: &str) -> Chaos {
        Chaos::with_client(self.client.clone(), &self.http, token)
    }

    /// Injects `fault` through the back door with the admin token `token`; expects 201 and returns
    /// the fault.
    pub async fn inject_fault(&self, token: &str, fault: serde_json::Value) -> serde_json::Value {
        self.chaos(token)
            .inject(&fault)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Clears fault `id` through the back door with the admin token `token`; expects 200.
    pub async fn clear_fault(&self, token: &str, id: &str) {
        self.chaos(token)
            .clear(id)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// A client of the instance's exchange API.
    pub async fn exchange_client(&self) -> Exchange {
        Exchange::new(self.grpc_channel().await)
    }

    /// A client of the instance's custodian API.
    pub async fn custodian_client(&self) -> Custodian {
        Custodian::new(self.grpc_channel().await)
    }

    /// A client of the instance's market data API.
    pub async fn market_data_client(&self) -> MarketData {
        MarketData::new(self.grpc_channel().await)
    }

    /// A client of the instance's audit API.
    pub async fn audit_client(&self) -> Audit {
        Audit::new(self.grpc_channel().await)
    }

    /// Fetches the instance's OpenAPI document and checks that every operation it describes is
    /// routed: a request with placeholder path parameters (and, for back doors, `token`) gets an
    /// answer of the route itself, never the unknown-route 404 or a 405. Returns the document.
    pub async fn assert_openapi_routed(&self, token: Option<&str>) -> serde_json::Value {
        let (status, doc) = self.get_json("/api/v1/openapi.json").await;
        assert_eq!(status, 200, "{doc}");
        assert_eq!(doc["openapi"], "3.1.0");
        let paths = doc["paths"].as_object().expect("paths");
        for (path, operations) in paths {
            let concrete = path.replace("{symbol}", "BTC-USD").replace("{id}", "1");
            for method in operations.as_object().expect("operations").keys() {
                let url = format!("{}{concrete}", self.http);
                let mut request = match method.as_str() {
                    "get" => self.client.get(&url),
                    "post" => self.client.post(&url).json(&serde_json::json!({})),
                    "patch" => self.client.patch(&url).json(&serde_json::json!({})),
                    "delete" => self.client.delete(&url),
                    other => panic!("{path}: unexpected method {other}"),
                };
                if let Some(token) = token {
                    request = request.bearer_auth(token);
                }
                let response = request.send().await.expect("request sent");
                let status = response.status().as_u16();
                assert_ne!(status, 405, "{method} {path} is documented but not allowed");
                if status == 404 {
                    let body: serde_json::Value = response.json().await.unwrap_or_default();
                    assert_ne!(
                        body["error"]["code"], "not_found",
                        "{method} {path} is documented but not routed: {body}"
                    );
                }
                // Streams stay open: the status is all this needs.
            }
        }
        doc
    }

    /// Requests shutdown and waits for the instance to stop.
    pub async fn stop(&mut self) -> Result<(), tse_runtime::host::HostError> {
        self.shutdown.cancel();
        self.instance.take().expect("running").stopped().await
    }
}

/// Polls `probe` every 20 ms until it returns `Some`, for at most `limit`; panics naming `what` when
/// time runs out.
pub async fn eventually<T, F, Fut>(limit: std::time::Duration, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// A decimal the API sent as a JSON string (README, *APIs every instance serves*); panics on anything else.
pub fn dec(value: &serde_json::Value) -> rust_decimal::Decimal {
    value
        .as_str()
        .unwrap_or_else(|| panic!("a decimal string, got {value}"))
        .parse()
        .expect("decimal")
}

/// A decimal from its text; panics when it is not one.
pub fn d(text: &str) -> rust_decimal::Decimal {
    text.parse().expect("decimal")
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
