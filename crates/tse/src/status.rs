//! `tse status`: what the discovery registry holds, and how each instance says it is doing.

use std::time::Duration;

use serde::Serialize;
use tse_runtime::{
    config::{EnvSource, ProcessEnv, SecretUrl, vars},
    discovery::{Registration, Registry},
};

use crate::failure::{Failure, input, runtime};

const DEFAULT_URL: &str = "http://127.0.0.1:8080";

/// One line of the status: the registration and the instance's own health answer.
#[derive(Debug, Serialize)]
pub struct InstanceStatus {
    /// What the registry holds.
    #[serde(flatten)]
    pub registration: Registration,
    /// Whether the instance answered its health endpoint.
    pub reachable: bool,
    /// Its health answer, when it gave one.
    pub health: Option<serde_json::Value>,
}

/// Lists the registry (from `url`, else Redis from `REDIS_URL`, else the default `tse up` address)
/// and asks every instance for its health.
pub(crate) async fn run(url: Option<String>, json: bool) -> Result<(), Failure> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .map_err(runtime)?;
    let registrations = match (url, ProcessEnv.var(vars::REDIS_URL)) {
        (Some(url), _) => from_instance(&client, &url).await?,
        (None, Some(redis)) => {
            let redis = SecretUrl::parse(vars::REDIS_URL, &redis, &["redis", "rediss"]).map_err(input)?;
            Registry::redis(&redis)
                .map_err(runtime)?
                .list()
                .await
                .map_err(runtime)?
        }
        (None, None) => from_instance(&client, DEFAULT_URL)
            .await
            .map_err(|failure| match failure {
                Failure::Runtime(reason) => runtime(format!(
                    "{reason} (the default, asked because neither --url nor REDIS_URL is given: \
                     point tse status at any instance with --url http://HOST:PORT, or at the \
                     registry with REDIS_URL=redis://HOST:PORT)"
                )),
                input => input,
            })?,
    };
    let statuses = futures::future::join_all(registrations.into_iter().map(|registration| {
        let client = client.clone();
        async move {
            let health = async {
                client
                    .get(format!("{}/api/v1/health", registration.http_url()))
                    .send()
                    .await
                    .ok()?
                    .json::<serde_json::Value>()
                    .await
                    .ok()
            }
            .await;
            InstanceStatus {
                reachable: health.is_some(),
                health,
                registration,
            }
        }
    }))
    .await;
    if json {
        println!("{}", serde_json::to_string_pretty(&statuses).map_err(runtime)?);
    } else {
        print!("{}", table(&statuses));
    }
    Ok(())
}

async fn from_instance(client: &reqwest::Client, url: &str) -> Result<Vec<Registration>, Failure> {
    #[derive(serde::Deserialize)]
    struct Listing {
        services: Vec<serde_json::Value>,
    }
    let base = url.trim_end_matches('/');
    if !(base.starts_with("http://") || base.starts_with("https://")) {
        return Err(input(format!(
            "--url {url:?} must start with http:// or https://"
        )));
    }
    let response = client
        .get(format!("{base}/api/v1/discovery/services"))
        .send()
        .await
        .map_err(|e| runtime(format!("cannot reach {base}: {e}")))?;
    if !response.status().is_success() {
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        return Err(runtime(format!("{base} answered {status}: {body}")));
    }
    let listing: Listing = response
        .json()
        .await
        .map_err(|e| runtime(format!("{base} did not answer a registry listing: {e}")))?;
    // An entry that does not read (written by another version) is left out, as the registry's own
    // listing does, rather than hiding every other instance.
    Ok(listing
        .services
        .into_iter()
        .filter_map(|entry| {
            serde_json::from_value(entry)
                .inspect_err(|e| eprintln!("tse: skipping a registration that does not read: {e}"))
                .ok()
        })
        .collect())
}

fn table(statuses: &[InstanceStatus]) -> String {
    let mut rows = vec![
        [
            "INSTANCE",
            "SERVICE",
            "STATUS",
            "READY",
            "HTTP",
            "GRPC",
            "SCHEMA",
            "NAMESPACE",
            "UPTIME",
        ]
        .map(str::to_owned),
    ];
    for s in statuses {
        let r = &s.registration;
        let field = |name: &str| s.health.as_ref().and_then(|h| h.get(name)).cloned();
        let status = field("status")
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_else(|| "unreachable".to_owned());
        let ready = match field("ready").and_then(|v| v.as_bool()) {
            Some(true) => "yes".to_owned(),
            Some(false) => "no".to_owned(),
            None => "-".to_owned(),
        };
        let uptime = field("uptime_seconds")
            .and_then(|v| v.as_f64())
            .map_or_else(|| "-".to_owned(), |s| format!("{s:.0}s"));
        rows.push([
            r.instance.to_string(),
            r.service.name().to_owned(),
            status,
            ready,
            r.http_url(),
            r.grpc_addr(),
            r.schema.clone(),
            r.redis_namespace.clone(),
            uptime,
        ]);
    }
    crate::table::render(&rows)
}
