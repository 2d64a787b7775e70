//! The chaos back door of every simulator (`/chaos/v1/faults`, see `tse_runtime::faults`), over
//! HTTP with the ecosystem's admin token. Present only with the cargo feature `chaos`: the test
//! coordinator and the tests turn it on, production services never do.

use std::fmt;

use reqwest::{Method, StatusCode};
use serde_json::Value;
use tse_runtime::discovery::Registration;

/// The back-door route every simulator serves.
pub const FAULTS_PATH: &str = "/chaos/v1/faults";

/// Why the back door did not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum ChaosError {
    /// The request did not get an answer.
    #[error("{method} {url}: {source}")]
    Request {
        /// The method sent.
        method: Method,
        /// The URL asked.
        url: String,
        /// What the HTTP client said.
        #[source]
        source: reqwest::Error,
    },
    /// The instance answered something else than the success the route promises (401 with a wrong
    /// token, 403 when its back doors are closed, 400 for an unknown kind, 409 for an ended fault...).
    #[error("{method} {url} answered {status}: {body}")]
    Refused {
        /// The method sent.
        method: Method,
        /// The URL asked.
        url: String,
        /// The status answered.
        status: StatusCode,
        /// The body answered (`{"error": {"code", "message"}}`, or `null` when it was not JSON).
        body: Value,
    },
}

/// The back door of one instance, opened with the admin token.
#[derive(Clone)]
pub struct Chaos {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl fmt::Debug for Chaos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The token is a secret: never printed.
        f.debug_struct("Chaos")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl Chaos {
    /// The back door of the instance whose HTTP base URL is `base` (`http://host:port`), opened with
    /// `admin_token` (the ecosystem's `TSE_ADMIN_TOKEN`).
    pub fn new(base: &str, admin_token: &str) -> Self {
        Self::with_client(reqwest::Client::new(), base, admin_token)
    }

    /// As [`Chaos::new`], sending through `http` (to share its connections).
    pub fn with_client(http: reqwest::Client, base: &str, admin_token: &str) -> Self {
        Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
            token: admin_token.to_owned(),
        }
    }

    /// The back door of the instance `registration` describes.
    pub fn at(registration: &Registration, admin_token: &str) -> Self {
        Self::new(&registration.http_url(), admin_token)
    }

    /// Injects `fault` (`{"kind", "params", "duration"}`); answers the fault with its `id`.
    ///
    /// # Errors
    /// [`ChaosError::Refused`] unless the instance answers 201.
    pub async fn inject(&self, fault: &Value) -> Result<Value, ChaosError> {
        self.send(
            Method::POST,
            FAULTS_PATH.to_owned(),
            Some(fault),
            StatusCode::CREATED,
        )
        .await
    }

    /// Lists the active faults and the most recently ended ones.
    ///
    /// # Errors
    /// [`ChaosError::Refused`] unless the instance answers 200.
    pub async fn list(&self) -> Result<Vec<Value>, ChaosError> {
        let listed = self
            .send(Method::GET, FAULTS_PATH.to_owned(), None, StatusCode::OK)
            .await?;
        Ok(faults(listed, "faults"))
    }

    /// Clears fault `id`; answers the ended fault.
    ///
    /// # Errors
    /// [`ChaosError::Refused`] unless the instance answers 200 (409 when it had already ended).
    pub async fn clear(&self, id: &str) -> Result<Value, ChaosError> {
        self.send(
            Method::DELETE,
            format!("{FAULTS_PATH}/{id}"),
            None,
            StatusCode::OK,
        )
        .await
    }

    /// Clears every active fault; answers those cleared.
    ///
    /// # Errors
    /// [`ChaosError::Refused`] unless the instance answers 200.
    pub async fn clear_all(&self) -> Result<Vec<Value>, ChaosError> {
        let cleared = self
            .send(Method::DELETE, FAULTS_PATH.to_owned(), None, StatusCode::OK)
            .await?;
        Ok(faults(cleared, "cleared"))
    }

    async fn send(
        &self,
        method: Method,
        path: String,
        body: Option<&Value>,
        expected: StatusCode,
    ) -> Result<Value, ChaosError> {
        let url = format!("{}{path}", self.base);
        let mut request = self.http.request(method.clone(), &url).bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(body);
        }
        let failed = |source| ChaosError::Request {
            method: method.clone(),
            url: url.clone(),
            source,
        };
        let response = request.send().await.map_err(failed)?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(failed)?;
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status != expected {
            return Err(ChaosError::Refused {
                method,
                url,
                status,
                body,
            });
        }
        Ok(body)
    }
}

fn faults(mut answer: Value, field: &str) -> Vec<Value> {
    match answer[field].take() {
        Value::Array(faults) => faults,
        _ => Vec::new(),
    }
}
