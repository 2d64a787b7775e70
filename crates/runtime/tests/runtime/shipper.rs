//! The outbox shipper against a fake audit correlator on SQLite (always) and the real PostgreSQL
//! (when `TSE_TEST_DATABASE_URL` is set): every event arrives once, in the order it was written, in
//! batches; the outbox empties; nothing is shipped or lost while there is no correlator or it
//! answers 503, and delivery resumes after.

use std::{
    collections::HashMap,
    ops::Range,
    sync::{
        Arc, LazyLock, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::{
    Json, Router,
    extract::State,
    http::{HeaderMap, StatusCode, header},
    routing::post,
};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use tse_runtime::{
    discovery::Registry,
    events::{Event, types},
    host::{BoxError, ServiceContext, ServiceDef, ServiceParts, no_settings},
    identity::ServiceKind,
    shipper::{BATCH, INGEST_PATH},
};
use tse_testing::{
    app::{TestApp, TestOptions, eventually, sample, spawn_with, unique_instance},
    proxy::{FaultProxy, target_of, through},
    servers::{PgGuard, database_url, pg_strings},
};
use uuid::Uuid;

const PATIENCE: Duration = Duration::from_secs(20);

/// What a fake audit correlator received, and whether it refuses batches.
#[derive(Default)]
struct Fake {
    received: Mutex<Vec<Event>>,
    batches: Mutex<Vec<usize>>,
    refused: AtomicUsize,
    failing: AtomicBool,
    malformed: Mutex<Vec<String>>,
    /// The `Authorization` header of each batch received.
    authorization: Mutex<Vec<Option<String>>>,
}

impl Fake {
    fn ids(&self) -> Vec<Uuid> {
        self.received.lock().unwrap().iter().map(|e| e.id).collect()
    }
}

/// The state of each fake correlator and the orders of each emitter, by instance name: a
/// `ServiceDef`'s build is a plain function.
static FAKES: LazyLock<Mutex<HashMap<String, Arc<Fake>>>> = LazyLock::new(Mutex::default);
static EMITTERS: LazyLock<Mutex<HashMap<String, mpsc::UnboundedReceiver<Emit>>>> =
    LazyLock::new(Mutex::default);

/// Emit one event per number of the range, in one write; answers their ids.
type Emit = (Range<usize>, oneshot::Sender<Vec<Uuid>>);

const FAKE_CORRELATOR: ServiceDef = ServiceDef {
    kind: ServiceKind::AuditCorrelator,
    migrations: &[],
    check: no_settings,
    build: |ctx| Box::pin(build_fake(ctx)),
};

const EMITTER: ServiceDef = ServiceDef {
    kind: ServiceKind::ExchangeSimulator,
    migrations: &[],
    check: no_settings,
    build: |ctx| Box::pin(build_emitter(ctx)),
};

async fn build_fake(ctx: ServiceContext) -> Result<ServiceParts, BoxError> {
    let fake = FAKES
        .lock()
        .unwrap()
        .get(ctx.identity().instance().as_str())
        .cloned()
        .ok_or("no fake state for this instance")?;
    let router = Router::new().route(INGEST_PATH, post(ingest)).with_state(fake);
    Ok(ServiceParts::new().with_http(router))
}

/// The ingest token every test emitter holds.
const INGEST_TOKEN: &str = "test-ingest-token";

async fn ingest(
    State(fake): State<Arc<Fake>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    fake.authorization.lock().unwrap().push(
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    );
    if fake.failing.load(Ordering::SeqCst) {
        fake.refused.fetch_add(1, Ordering::SeqCst);
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"error": {"code": "unavailable", "message": "told to fail"}})),
        );
    }
    let events: Vec<Event> = match serde_json::from_value(body["events"].clone()) {
        Ok(events) => events,
        Err(error) => {
            fake.malformed.lock().unwrap().push(format!("{error}: {body}"));
            return (StatusCode::BAD_REQUEST, Json(json!({})));
        }
    };
    let accepted = events.len();
    fake.batches.lock().unwrap().push(accepted);
    fake.received.lock().unwrap().extend(events);
    (
        StatusCode::OK,
        Json(json!({"accepted": accepted, "duplicates": 0})),
    )
}

async fn build_emitter(ctx: ServiceContext) -> Result<ServiceParts, BoxError> {
    let mut orders = EMITTERS
        .lock()
        .unwrap()
        .remove(ctx.identity().instance().as_str())
        .ok_or("no orders for this instance")?;
    let (storage, events, stopping) = (ctx.storage().clone(), ctx.events().clone(), ctx.stopping());
    ctx.spawn(async move {
        loop {
            let (range, done) = tokio::select! {
                () = stopping.cancelled() => return,
                order = orders.recv() => match order {
                    Some(order) => order,
                    None => return,
                },
            };
            let batch: Vec<Event> = range
                .map(|i| {
                    events
                        .event(types::ORDER_PLACED, json!({"i": i}))
                        .traced(format!("trace-{i}"))
                })
                .collect();
            let ids = batch.iter().map(|e| e.id).collect();
            let statements: Vec<_> = batch.iter().map(Event::statement).collect();
            storage.write(statements).await.expect("events stored");
            let _ = done.send(ids);
        }
    });
    Ok(ServiceParts::new())
}

/// An instance writing events to its outbox on demand.
struct Emitter {
    app: TestApp,
    orders: mpsc::UnboundedSender<Emit>,
    database_url: Option<String>,
    _guard: Option<PgGuard>,
}

impl Emitter {
    /// On SQLite (no `database_url`) or PostgreSQL, reached at `database_url` or `via` a proxy.
    async fn spawn(registry: &Registry, database_url: Option<&str>, via: Option<String>) -> Self {
        let name = unique_instance("exchange");
        let (orders, rx) = mpsc::unbounded_channel();
        EMITTERS.lock().unwrap().insert(name.clone(), rx);
        let app = spawn_with(
            EMITTER,
            TestOptions {
                registry: Some(registry.clone()),
                instance: Some(name),
                database_url: via.or(database_url.map(str::to_owned)),
                interval: Some("200ms"),
                env: vec![("TSE_INGEST_TOKEN", INGEST_TOKEN)],
                ..Default::default()
            },
        )
        .await;
        let guard = database_url.map(|url| PgGuard::new(url, &app.schema()));
        Self {
            app,
            orders,
            database_url: database_url.map(str::to_owned),
            _guard: guard,
        }
    }

    async fn emit(&self, range: Range<usize>) -> Vec<Uuid> {
        let (done, ids) = oneshot::channel();
        self.orders.send((range, done)).expect("emitter running");
        ids.await.expect("events written")
    }

    /// Events in the outbox, read beside the instance.
    async fn outbox(&self) -> i64 {
        match &self.database_url {
            None => {
                use sqlx::Row as _;
                let rows = self
                    .app
                    .sqlite_rows("SELECT COUNT(*) AS n FROM _tse_outbox")
                    .await;
                rows[0].get::<i64, _>("n")
            }
            Some(url) => {
                let sql = format!("SELECT COUNT(*)::text FROM {}._tse_outbox", self.app.schema());
                pg_strings(url, &sql).await[0].parse().unwrap()
            }
        }
    }

    async fn metric(&self, name: &str) -> Option<f64> {
        sample(&self.app.metrics().await, name, &[])
    }
}

async fn spawn_correlator(registry: &Registry, fake: &Arc<Fake>) -> TestApp {
    let name = unique_instance("audit");
    FAKES.lock().unwrap().insert(name.clone(), fake.clone());
    spawn_with(
        FAKE_CORRELATOR,
        TestOptions {
            registry: Some(registry.clone()),
            instance: Some(name),
            ..Default::default()
        },
    )
    .await
}

/// Waits until the fake received `expected`, then checks it received exactly that, in order, from
/// the emitter, and that the emitter's outbox and gauge are empty.
async fn assert_delivered(emitter: &Emitter, fake: &Fake, expected: &[Uuid]) {
    eventually(PATIENCE, "every event delivered", || async {
        (fake.received.lock().unwrap().len() >= expected.len()).then_some(())
    })
    .await;
    assert!(
        fake.malformed.lock().unwrap().is_empty(),
        "{:?}",
        fake.malformed.lock().unwrap()
    );
    assert_eq!(fake.ids(), expected, "each event once, in the order written");
    eventually(PATIENCE, "the outbox empty", || async {
        (emitter.outbox().await == 0 && emitter.metric("audit_outbox_pending").await == Some(0.0))
            .then_some(())
    })
    .await;
    assert_eq!(
        emitter.metric("audit_outbox_shipped_total").await,
        Some(expected.len() as f64)
    );
}

async fn delivers_in_order_once_a_correlator_registers(database_url: Option<&str>) {
    let registry = Registry::embedded();
    let mut emitter = Emitter::spawn(&registry, database_url, None).await;
    let mut written = emitter.emit(0..700).await;
    written.extend(emitter.emit(700..1200).await);

    // No correlator yet: everything waits in the outbox, and the gauge says so.
    eventually(PATIENCE, "the pending gauge", || async {
        (emitter.metric("audit_outbox_pending").await == Some(1200.0)).then_some(())
    })
    .await;
    assert_eq!(emitter.outbox().await, 1200);

    let fake = Arc::new(Fake::default());
    let mut correlator = spawn_correlator(&registry, &fake).await;
    assert_delivered(&emitter, &fake, &written).await;
    let batches = fake.batches.lock().unwrap().clone();
    assert!(
        batches.len() >= 3 && batches.iter().all(|&n| n <= BATCH),
        "{batches:?}"
    );

    let received = fake.received.lock().unwrap()[0].clone();
    assert_eq!(received.service, "exchange-simulator");
    assert_eq!(received.instance, emitter.app.instance_name);
    assert_eq!(received.event_type, types::ORDER_PLACED);
    let authorization = fake.authorization.lock().unwrap().clone();
    assert!(
        authorization
            .iter()
            .all(|a| a.as_deref() == Some(&format!("Bearer {INGEST_TOKEN}"))),
        "every batch carries the ingest token: {authorization:?}"
    );
    assert_eq!(received.trace_id.as_deref(), Some("trace-0"));
    assert_eq!(
        serde_json::from_str::<Value>(received.payload.get()).unwrap(),
        json!({"i": 0})
    );

    // An event written later ships on its own, soon.
    written.extend(emitter.emit(1200..1201).await);
    assert_delivered(&emitter, &fake, &written).await;

    emitter.app.stop().await.unwrap();
    correlator.stop().await.unwrap();
}

#[tokio::test]
async fn shipper_delivers_every_event_in_order_once_a_correlator_registers() {
    delivers_in_order_once_a_correlator_registers(None).await;
}

#[tokio::test]
async fn shipper_delivers_every_event_in_order_on_postgres() {
    let Some(url) = database_url("shipper_delivers_every_event_in_order_on_postgres") else {
        return;
    };
    delivers_in_order_once_a_correlator_registers(Some(&url)).await;
}

#[tokio::test]
async fn shipper_keeps_events_while_the_correlator_fails_and_resumes_after() {
    let registry = Registry::embedded();
    let fake = Arc::new(Fake::default());
    fake.failing.store(true, Ordering::SeqCst);
    let mut correlator = spawn_correlator(&registry, &fake).await;
    let mut emitter = Emitter::spawn(&registry, None, None).await;

    let mut written = emitter.emit(0..300).await;
    eventually(PATIENCE, "a few refused batches", || async {
        (fake.refused.load(Ordering::SeqCst) >= 2).then_some(())
    })
    .await;
    written.extend(emitter.emit(300..800).await);
    eventually(PATIENCE, "the pending gauge", || async {
        (emitter.metric("audit_outbox_pending").await == Some(800.0)).then_some(())
    })
    .await;
    assert!(fake.received.lock().unwrap().is_empty());
    assert_eq!(emitter.outbox().await, 800, "nothing lost while refused");
    assert_eq!(emitter.metric("audit_outbox_shipped_total").await, Some(0.0));

    fake.failing.store(false, Ordering::SeqCst);
    assert_delivered(&emitter, &fake, &written).await;

    // Failing again: an instance still stops promptly while its shipper backs off.
    fake.failing.store(true, Ordering::SeqCst);
    emitter.emit(800..810).await;
    let refused = fake.refused.load(Ordering::SeqCst);
    eventually(PATIENCE, "another refused batch", || async {
        (fake.refused.load(Ordering::SeqCst) > refused).then_some(())
    })
    .await;
    tokio::time::timeout(Duration::from_secs(5), emitter.app.stop())
        .await
        .expect("stops promptly")
        .unwrap();
    correlator.stop().await.unwrap();
}

#[tokio::test]
async fn shipper_backs_off_while_postgres_is_away_and_ships_the_spooled_events_after() {
    let Some(url) =
        database_url("shipper_backs_off_while_postgres_is_away_and_ships_the_spooled_events_after")
    else {
        return;
    };
    let registry = Registry::embedded();
    let fake = Arc::new(Fake::default());
    let mut correlator = spawn_correlator(&registry, &fake).await;
    let proxy = FaultProxy::start(target_of(&url)).await;
    let mut emitter = Emitter::spawn(&registry, Some(&url), Some(through(&url, &proxy))).await;
    let mut written = emitter.emit(0..100).await;
    assert_delivered(&emitter, &fake, &written).await;

    proxy.cut();
    // Written while the database is away: spooled, in the outbox once it returns.
    written.extend(emitter.emit(100..400).await);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(fake.received.lock().unwrap().len(), 100);

    proxy.restore();
    assert_delivered(&emitter, &fake, &written).await;
    emitter.app.stop().await.unwrap();
    correlator.stop().await.unwrap();
}
