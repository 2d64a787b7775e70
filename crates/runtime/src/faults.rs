//! The chaos back door every simulator has (README, *Simulated time, seeds and back doors*): `/chaos/v1/faults`, refused without
//! `Authorization: Bearer $TSE_ADMIN_TOKEN`.
//!
//! - `POST /chaos/v1/faults` with `{"kind": "...", "params": {...}, "duration": "10m"}` injects a fault
//!   and answers it with its `id` (201). `duration` is simulated time; omitted, the fault lasts until
//!   cleared.
//! - `GET /chaos/v1/faults` lists active faults and the most recently ended ones;
//!   `GET /chaos/v1/faults/{id}` shows one.
//! - `DELETE /chaos/v1/faults/{id}` clears one (409 when it has already ended); `DELETE
//!   /chaos/v1/faults` clears every active fault.
//!
//! A service says which kinds it knows and how their params are validated by implementing
//! [`FaultKind`]; the [`FaultBoard`] does the rest once: persistence (faults survive a restart),
//! expiry on the simulated clock, the `{service}_faults_active{kind}` gauge, and `fault.injected`,
//! `fault.cleared` and `fault.expired` events in the outbox. Services ask the board which faults are
//! active at a given simulated time.

use std::{
    sync::{Arc, RwLock},
    time::Duration,
};

use axum::{
    Router,
    extract::{Path, Request, State},
    http::{HeaderValue, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::get,
};
use prometheus::{IntGaugeVec, Opts};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tokio::sync::watch;
use tracing::{info, warn};
use uuid::Uuid;

use crate::{
    api::{ApiError, Json},
    clock::Clock,
    config::{Secret, format_duration, parse_duration},
    events::{Events, types},
    storage::{Migration, Statement, Storage, WriteBatch},
};

/// Errors opening or loading a board.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What a fault board takes from the instance that opens it. The host's `ServiceContext` provides
/// it, so a service opens its board with `FaultBoard::open(&ctx, ...)`; the board itself knows
/// nothing of the host (the host names the board's migration, not the other way round).
pub trait BoardContext {
    /// The instance's metrics registry.
    fn metrics(&self) -> &prometheus::Registry;
    /// The ecosystem's clock.
    fn clock(&self) -> Clock;
    /// The instance's storage.
    fn storage(&self) -> &Storage;
    /// The instance's domain events.
    fn events(&self) -> &Events;
    /// The token that opens the back door; `None` keeps it closed.
    fn admin_token(&self) -> Option<Secret>;
    /// Cancelled when the instance stops.
    fn stopping(&self) -> tokio_util::sync::CancellationToken;
    /// Runs a background task of the instance.
    fn spawn_task(&self, task: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>);
}

/// The faults table, created by the runtime's migrations in every instance's schema.
pub(crate) const FAULTS_MIGRATION: Migration = Migration {
    version: 3,
    name: "faults",
    sql: "CREATE TABLE _tse_faults (
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            params {json} NOT NULL,
            duration_ms BIGINT,
            started_at {timestamp} NOT NULL,
            ends_at {timestamp},
            ended_at {timestamp},
            status TEXT NOT NULL,
            injection_event TEXT NOT NULL)",
};

/// How many ended faults the board keeps listing.
const RECENT_ENDED: usize = 100;

/// The faults a service understands.
pub trait FaultKind: Sized + Clone + Send + Sync + 'static {
    /// What validation needs to know about the instance (its symbols, its accounts, ...).
    type Context: Send + Sync + 'static;

    /// Every kind name, for error messages.
    const KINDS: &'static [&'static str];

    /// Parses and validates `params` of `kind`.
    ///
    /// # Errors
    /// Returns a message saying what is wrong (unknown kind, missing or invalid param).
    fn parse(kind: &str, params: &serde_json::Value, context: &Self::Context) -> Result<Self, String>;

    /// Returns the JSON schema of the params of `kind` for the OpenAPI document: their fields,
    /// types and ranges as [`FaultKind::parse`] checks them (`additionalProperties: false` for params
    /// that refuse unknown fields). By default any object.
    fn params_schema(kind: &str, context: &Self::Context) -> serde_json::Value {
        let _ = (kind, context);
        serde_json::json!({ "type": "object" })
    }

    /// Returns how long the fault stays active given its requested `duration`: by default the
    /// duration itself; a fault with a recovery phase lasts longer.
    fn lifetime(&self, duration: Option<Duration>) -> Option<Duration> {
        duration
    }
}

/// Where a fault is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FaultStatus {
    /// In effect.
    Active,
    /// Reached its end.
    Expired,
    /// Removed through the back door.
    Cleared,
}

impl FaultStatus {
    fn as_str(self) -> &'static str {
        match self {
            FaultStatus::Active => "active",
            FaultStatus::Expired => "expired",
            FaultStatus::Cleared => "cleared",
        }
    }
}

/// One injected fault.
#[derive(Clone, Debug, Serialize)]
pub struct Fault<K> {
    /// Unique id.
    pub id: String,
    /// Kind name.
    pub kind: String,
    /// The params as given.
    pub params: serde_json::Value,
    /// Requested duration in simulated time (`10m`), if any.
    pub duration: Option<String>,
    /// The same, as a duration.
    #[serde(skip)]
    pub requested: Option<Duration>,
    /// When it started (simulated time).
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    /// When it ends on its own (simulated time), if ever.
    #[serde(with = "time::serde::rfc3339::option")]
    pub ends_at: Option<OffsetDateTime>,
    /// When it ended, if it has (simulated time).
    #[serde(with = "time::serde::rfc3339::option")]
    pub ended_at: Option<OffsetDateTime>,
    /// Active, expired or cleared.
    pub status: FaultStatus,
    /// Id of the `fault.injected` event, the cause of everything the fault does.
    pub injection_event: Uuid,
    /// The validated fault.
    #[serde(skip)]
    pub spec: K,
}

impl<K> Fault<K> {
    /// Returns whether the fault was in effect at simulated time `at`.
    pub fn active_at(&self, at: OffsetDateTime) -> bool {
        self.started_at <= at
            && self.ends_at.is_none_or(|end| at < end)
            && self.ended_at.is_none_or(|end| at < end)
    }

    fn public(&self) -> serde_json::Value
    where
        K: Clone,
    {
        serde_json::json!({
            "id": self.id,
            "kind": self.kind,
            "params": self.params,
            "duration": self.duration,
            "started_at": crate::health::rfc3339(self.started_at),
            "ends_at": self.ends_at.map(crate::health::rfc3339),
            "ended_at": self.ended_at.map(crate::health::rfc3339),
            "status": self.status,
        })
    }
}

/// The faults of one instance; cheap to clone.
pub struct FaultBoard<K: FaultKind> {
    inner: Arc<BoardInner<K>>,
}

impl<K: FaultKind> Clone for FaultBoard<K> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

struct BoardInner<K: FaultKind> {
    context: K::Context,
    faults: RwLock<Vec<Fault<K>>>,
    clock: Clock,
    storage: Storage,
    events: Events,
    gauge: IntGaugeVec,
    admin_token: Option<Secret>,
    changes: watch::Sender<u64>,
}

/// Body of `POST /chaos/v1/faults`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InjectRequest {
    kind: String,
    #[serde(default = "empty_params")]
    params: serde_json::Value,
    duration: Option<String>,
}

fn empty_params() -> serde_json::Value {
    serde_json::json!({})
}

impl<K: FaultKind> FaultBoard<K> {
    /// Opens the board of an instance: registers `metric` (`{service}_faults_active{kind}`), loads the
    /// faults still active from storage, and starts expiring them on the simulated clock. `context` is
    /// what validating a fault needs to know about the instance.
    ///
    /// # Errors
    /// Returns an error when the gauge cannot be registered or storage cannot be read.
    pub async fn open(ctx: &impl BoardContext, metric: &str, context: K::Context) -> Result<Self, BoxError> {
        let gauge = IntGaugeVec::new(Opts::new(metric, "Faults in effect now, by kind."), &["kind"])?;
        ctx.metrics().register(Box::new(gauge.clone()))?;
        for kind in K::KINDS {
            gauge.with_label_values(&[kind]).set(0);
        }
        let (changes, _) = watch::channel(0);
        let board = Self {
            inner: Arc::new(BoardInner {
                context,
                faults: RwLock::new(Vec::new()),
                clock: ctx.clock(),
                storage: ctx.storage().clone(),
                events: ctx.events().clone(),
                gauge,
                admin_token: ctx.admin_token(),
                changes,
            }),
        };
        board.load().await?;
        let expiry = board.clone();
        let stop = ctx.stopping();
        ctx.spawn_task(Box::pin(async move { expiry.expire_until(stop).await }));
        Ok(board)
    }

    async fn load(&self) -> Result<(), BoxError> {
        if !self.inner.storage.is_available() {
            // Nothing to restore from a database we cannot read; faults injected before the outage
            // come back on the next start.
            return Ok(());
        }
        let rows = self
            .inner
            .storage
            .query(Statement::new(
                "SELECT * FROM _tse_faults WHERE status = 'active' ORDER BY started_at",
            ))
            .await?;
        let mut loaded = Vec::new();
        for row in rows {
            let kind: String = row.get("kind")?;
            let params: serde_json::Value = row.get("params")?;
            let Ok(spec) = K::parse(&kind, &params, &self.inner.context) else {
                warn!(kind, "a stored fault no longer parses; ignored");
                continue;
            };
            let duration_ms: Option<i64> = row.get("duration_ms")?;
            let injection: String = row.get("injection_event")?;
            loaded.push(Fault {
                id: row.get("id")?,
                kind,
                params,
                duration: duration_ms.map(|ms| format_duration(Duration::from_millis(ms.unsigned_abs()))),
                requested: duration_ms.map(|ms| Duration::from_millis(ms.unsigned_abs())),
                started_at: row.get("started_at")?,
                ends_at: row.get("ends_at")?,
                ended_at: None,
                status: FaultStatus::Active,
                injection_event: injection.parse().unwrap_or_else(|_| Uuid::nil()),
                spec,
            });
        }
        if !loaded.is_empty() {
            info!(faults = loaded.len(), "active faults restored");
        }
        *self.write() = loaded;
        self.changed();
        Ok(())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Vec<Fault<K>>> {
        self.inner.faults.write().unwrap_or_else(|e| e.into_inner())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Vec<Fault<K>>> {
        self.inner.faults.read().unwrap_or_else(|e| e.into_inner())
    }

    fn changed(&self) {
        let active = self.read();
        for kind in K::KINDS {
            let n = active
                .iter()
                .filter(|f| f.status == FaultStatus::Active && f.kind == *kind)
                .count();
            self.inner
                .gauge
                .with_label_values(&[kind])
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        drop(active);
        self.inner.changes.send_modify(|v| *v += 1);
    }

    /// Returns a receiver that sees a new value whenever a fault starts or ends.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.changes.subscribe()
    }

    /// Returns every fault in effect at simulated time `at` (including ones that have ended since),
    /// oldest first.
    pub fn active_at(&self, at: OffsetDateTime) -> Vec<Fault<K>> {
        self.read().iter().filter(|f| f.active_at(at)).cloned().collect()
    }

    /// Returns every fault in effect now.
    pub fn active(&self) -> Vec<Fault<K>> {
        self.active_at(self.inner.clock.now())
    }

    /// Returns the active faults and the most recently ended ones.
    pub fn list(&self) -> Vec<Fault<K>> {
        self.read().clone()
    }

    /// Injects a fault now.
    ///
    /// # Errors
    /// [`ApiError`] 400 when the kind, params or duration are invalid; 503 when it cannot be recorded.
    pub async fn inject(
        &self,
        kind: &str,
        params: serde_json::Value,
        duration: Option<&str>,
    ) -> Result<Fault<K>, ApiError> {
        if !params.is_object() && K::KINDS.contains(&kind) {
            // serde would read a kind's params struct from an array too.
            return Err(ApiError::bad_request(
                "invalid_fault",
                format!("{kind} params must be a JSON object, got {params}"),
            ));
        }
        let spec = K::parse(kind, &params, &self.inner.context).map_err(|message| {
            if K::KINDS.contains(&kind) {
                ApiError::bad_request("invalid_fault", message)
            } else {
                ApiError::bad_request(
                    "unknown_fault_kind",
                    format!(
                        "unknown fault kind '{kind}'; this service knows {}",
                        K::KINDS.join(", ")
                    ),
                )
            }
        })?;
        let duration = duration
            .map(|d| {
                parse_duration(d)
                    .and_then(|d| {
                        if d.is_zero() {
                            Err("a duration must be longer than 0s".into())
                        } else {
                            Ok(d)
                        }
                    })
                    .map_err(|e| ApiError::bad_request("invalid_duration", format!("duration: {e}")))
            })
            .transpose()?;
        let now = self.inner.clock.now();
        let ends_at = spec.lifetime(duration).map(|life| now + life);
        let event_id = Uuid::now_v7();
        let fault = Fault {
            id: format!("fault-{}", Uuid::now_v7().simple()),
            kind: kind.to_owned(),
            params,
            duration: duration.map(format_duration),
            requested: duration,
            started_at: now,
            ends_at,
            ended_at: None,
            status: FaultStatus::Active,
            injection_event: event_id,
            spec,
        };
        let mut event = self
            .inner
            .events
            .event_at(types::FAULT_INJECTED, now, fault.public());
        event.id = event_id;
        let batch = WriteBatch::new()
            .with(
                Statement::new(
                    "INSERT INTO _tse_faults (id, kind, params, duration_ms, started_at, ends_at, status, injection_event)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(fault.id.as_str())
                .bind(fault.kind.as_str())
                .bind(fault.params.clone())
                .bind(duration.map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)))
                .bind(fault.started_at)
                .bind(fault.ends_at)
                .bind(FaultStatus::Active.as_str())
                .bind(event_id.to_string()),
            )
            .with(event.statement());
        self.inner.storage.write(batch).await.map_err(|e| {
            ApiError::unavailable("storage_unavailable", format!("cannot record the fault: {e}"))
        })?;
        info!(id = %fault.id, kind, duration = ?fault.duration, "fault injected");
        self.write().push(fault.clone());
        self.changed();
        Ok(fault)
    }

    /// Ends fault `id` now.
    ///
    /// # Errors
    /// [`ApiError`] 404 when no fault has that id, 409 when it has already ended (expired or
    /// cleared: a short fault may expire before its clearance arrives).
    pub async fn clear(&self, id: &str) -> Result<Fault<K>, ApiError> {
        let now = self.inner.clock.now();
        let ended = self.end(|f| f.id == id, FaultStatus::Cleared, now).await?;
        if let Some(fault) = ended.into_iter().next() {
            return Ok(fault);
        }
        match self.read().iter().find(|f| f.id == id) {
            Some(fault) => Err(ApiError::conflict(
                "fault_not_active",
                format!(
                    "fault '{id}' has already ended ({} at {})",
                    fault.status.as_str(),
                    fault
                        .ended_at
                        .map_or_else(|| "an unknown time".to_owned(), crate::health::rfc3339)
                ),
            )),
            None => Err(ApiError::not_found(
                "unknown_fault",
                format!("no fault with id '{id}'"),
            )),
        }
    }

    /// Ends every active fault now; returns them.
    ///
    /// # Errors
    /// [`ApiError`] 503 when the change cannot be recorded.
    pub async fn clear_all(&self) -> Result<Vec<Fault<K>>, ApiError> {
        let now = self.inner.clock.now();
        self.end(|_| true, FaultStatus::Cleared, now).await
    }

    /// Moves the active faults matching `which` to `status` at `at`, recording it.
    async fn end(
        &self,
        which: impl Fn(&Fault<K>) -> bool,
        status: FaultStatus,
        at: OffsetDateTime,
    ) -> Result<Vec<Fault<K>>, ApiError> {
        let ending: Vec<Fault<K>> = self
            .read()
            .iter()
            .filter(|f| f.status == FaultStatus::Active && which(f))
            .cloned()
            .collect();
        if ending.is_empty() {
            return Ok(Vec::new());
        }
        let event_type = match status {
            FaultStatus::Expired => types::FAULT_EXPIRED,
            _ => types::FAULT_CLEARED,
        };
        let mut batch = WriteBatch::new();
        let mut ended = Vec::with_capacity(ending.len());
        for mut fault in ending {
            // An expiry happens at the fault's end, even when noticed a little later.
            let end = match (status, fault.ends_at) {
                (FaultStatus::Expired, Some(ends_at)) => ends_at,
                _ => at,
            };
            fault.status = status;
            fault.ended_at = Some(end);
            batch.push(
                Statement::new("UPDATE _tse_faults SET status = $1, ended_at = $2 WHERE id = $3")
                    .bind(status.as_str())
                    .bind(end)
                    .bind(fault.id.as_str()),
            );
            batch.push(
                self.inner
                    .events
                    .event_at(event_type, end, fault.public())
                    .caused_by(fault.injection_event)
                    .statement(),
            );
            ended.push(fault);
        }
        self.inner.storage.write(batch).await.map_err(|e| {
            ApiError::unavailable("storage_unavailable", format!("cannot record the change: {e}"))
        })?;
        {
            let mut faults = self.write();
            for fault in &ended {
                info!(id = %fault.id, kind = %fault.kind, status = fault.status.as_str(), "fault ended");
                if let Some(slot) = faults.iter_mut().find(|f| f.id == fault.id) {
                    *slot = fault.clone();
                }
            }
            // Keep the active ones and the most recent ended ones.
            let ended_count = faults.iter().filter(|f| f.status != FaultStatus::Active).count();
            let mut excess = ended_count.saturating_sub(RECENT_ENDED);
            faults.retain(|f| {
                if excess > 0 && f.status != FaultStatus::Active {
                    excess -= 1;
                    false
                } else {
                    true
                }
            });
        }
        self.changed();
        Ok(ended)
    }

    /// Expires faults as their end comes, until `stop`.
    async fn expire_until(self, stop: tokio_util::sync::CancellationToken) {
        let mut changes = self.subscribe();
        loop {
            let now = self.inner.clock.now();
            let next_end = self
                .read()
                .iter()
                .filter(|f| f.status == FaultStatus::Active)
                .filter_map(|f| f.ends_at)
                .min();
            if next_end.is_some_and(|end| end <= now)
                && let Err(e) = self
                    .end(
                        |f| f.ends_at.is_some_and(|end| end <= now),
                        FaultStatus::Expired,
                        now,
                    )
                    .await
            {
                warn!(error = %e, "cannot record fault expiry; retrying");
            }
            // Wake at the next end, at a new fault, or at least every wall second.
            let wait = next_end
                .map_or(Duration::from_secs(1), |end| self.inner.clock.wall_until(end))
                .min(Duration::from_secs(1));
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(wait) => {}
                _ = changes.changed() => {}
            }
        }
    }

    /// The OpenAPI description of [`FaultBoard::router`], with this service's fault kinds.
    pub fn openapi(&self) -> crate::openapi::OpenApi {
        let kinds: Vec<(&str, serde_json::Value)> = K::KINDS
            .iter()
            .map(|kind| (*kind, K::params_schema(kind, &self.inner.context)))
            .collect();
        crate::openapi::fault_endpoints(&kinds)
    }

    /// Returns the `/chaos/v1/faults` routes, guarded by the admin token.
    pub fn router(&self) -> Router {
        let token = self.inner.admin_token.clone();
        Router::new()
            .route(
                "/chaos/v1/faults",
                get(list_faults::<K>)
                    .post(inject_fault::<K>)
                    .delete(clear_faults::<K>),
            )
            .route(
                "/chaos/v1/faults/{id}",
                get(get_fault::<K>).delete(clear_fault::<K>),
            )
            .with_state(self.clone())
            .layer(middleware::from_fn_with_state(token, require_admin))
    }
}

async fn list_faults<K: FaultKind>(State(board): State<FaultBoard<K>>) -> Response {
    let faults: Vec<_> = board.list().iter().map(Fault::public).collect();
    axum::Json(serde_json::json!({ "faults": faults })).into_response()
}

async fn inject_fault<K: FaultKind>(
    State(board): State<FaultBoard<K>>,
    Json(body): Json<serde_json::Value>,
) -> Result<Response, ApiError> {
    let request: InjectRequest = crate::api::json_object(body, "the body")?;
    let fault = board
        .inject(&request.kind, request.params, request.duration.as_deref())
        .await?;
    Ok((StatusCode::CREATED, axum::Json(fault.public())).into_response())
}

async fn get_fault<K: FaultKind>(
    State(board): State<FaultBoard<K>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    board
        .list()
        .iter()
        .find(|f| f.id == id)
        .map(|f| axum::Json(f.public()).into_response())
        .ok_or_else(|| ApiError::not_found("unknown_fault", format!("no fault with id '{id}'")))
}

async fn clear_fault<K: FaultKind>(
    State(board): State<FaultBoard<K>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let fault = board.clear(&id).await?;
    Ok(axum::Json(fault.public()).into_response())
}

async fn clear_faults<K: FaultKind>(State(board): State<FaultBoard<K>>) -> Result<Response, ApiError> {
    let cleared: Vec<_> = board.clear_all().await?.iter().map(Fault::public).collect();
    Ok(axum::Json(serde_json::json!({ "cleared": cleared })).into_response())
}

/// Lets a request through only with `Authorization: Bearer <TSE_ADMIN_TOKEN>`.
async fn require_admin(State(token): State<Option<Secret>>, request: Request, next: Next) -> Response {
    let Some(token) = token else {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "back_doors_closed",
            "the back doors are closed: this instance was started without TSE_ADMIN_TOKEN",
        )
        .into_response();
    };
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match given {
        Some(given) if token.matches(given) => next.run(request).await,
        _ => {
            let mut response = ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "the back doors need `Authorization: Bearer <TSE_ADMIN_TOKEN>`",
            )
            .into_response();
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fault_is_active_within_its_window_until_it_ends() {
        let start = OffsetDateTime::from_unix_timestamp(1_000).unwrap();
        let mut fault = Fault {
            id: "f".into(),
            kind: "outage".into(),
            params: serde_json::json!({}),
            duration: Some("10s".into()),
            requested: Some(Duration::from_secs(10)),
            started_at: start,
            ends_at: Some(start + time::Duration::seconds(10)),
            ended_at: None,
            status: FaultStatus::Active,
            injection_event: Uuid::nil(),
            spec: (),
        };
        assert!(!fault.active_at(start - time::Duration::seconds(1)));
        assert!(fault.active_at(start));
        assert!(fault.active_at(start + time::Duration::seconds(9)));
        assert!(!fault.active_at(start + time::Duration::seconds(10)));
        fault.ended_at = Some(start + time::Duration::seconds(3));
        assert!(
            !fault.active_at(start + time::Duration::seconds(5)),
            "cleared early"
        );
    }
}
