//! Collectors: what the monitor knows of the world, read from production APIs only and handed to
//! the monitor as [`Observation`]s.
//!
//! [`run`] looks the ecosystem's market data, exchange and custodian instances up through
//! discovery (at start and every few wall seconds, unhealthy ones included: a venue that is down is
//! still asked, and its failures observed) and runs one task per instance:
//! - `market`: a market data instance's price stream, every symbol ([`Observation::Price`]);
//! - `exchange`: per cadence tick and monitored entity, its holdings, new and open orders and new
//!   fills at an exchange; and the exchange's book tops from its market stream, at most one per
//!   symbol per tick ([`Observation::Book`]);
//! - `custodian`: per cadence tick and entity, its custody holdings and pending settlements.
//!
//! Every call to an instance is observed too ([`Observation::Request`]: outcome and wall latency),
//! and so is an instance that cannot even be reached (`Unavailable`, once per tick while it lasts).
//! Polls follow the simulated clock ([`Cadence`]), so detection keeps pace at any clock speed,
//! bounded below by a wall interval. A full channel makes the collectors wait (backpressure); a
//! closed one ends them. The monitor never holds the admin token: this crate's `tse-client` has no
//! back-door client to call.

mod custodian;
mod exchange;
mod market;

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
    time::{Duration, Instant},
};

use time::{OffsetDateTime, format_description::well_known::Rfc3339};
use tokio::{sync::mpsc, task::JoinHandle};
use tokio_util::sync::CancellationToken;
use tonic::Code;
use tracing::{debug, warn};
use tse_client::ClientError;
use tse_runtime::{
    clock::Clock,
    identity::{InstanceName, ServiceKind},
    peers::{PeerError, Peers},
};

use crate::domain::observation::{Observation, Outcome, Request};

/// How often the registry is read for instances that came or went (wall time).
const DISCOVER_EVERY: Duration = Duration::from_secs(3);
/// Items asked for per page.
const PAGE: u32 = 1_000;
/// Pages read at most per listing and tick.
const MAX_PAGES: usize = 20;
/// How far back (simulated) the first look at an entity's orders and trades reaches, and how far
/// back a scan of new orders goes at most.
const LOOKBACK: time::Duration = time::Duration::seconds(60);
/// Account lists are read again every this many ticks (a new account of an entity shows up).
const ACCOUNTS_EVERY: u32 = 10;

/// How often venues are polled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cadence {
    /// Simulated time between polls.
    pub every: Duration,
    /// Wall time between polls, at least (a fast clock does not turn polling into a flood).
    pub min_wall: Duration,
}

impl Cadence {
    /// Returns the wall time to wait between two polls on `clock`: `every` in wall time, at least
    /// `min_wall`.
    pub fn wall_wait(&self, clock: &Clock) -> Duration {
        clock.wall_duration(self.every).max(self.min_wall)
    }
}

/// What the collectors need.
pub struct CollectParts {
    /// Where instances are found.
    pub peers: Peers,
    /// The simulated clock.
    pub clock: Clock,
    /// The monitored entities (`trading-system-LH`).
    pub entities: Vec<String>,
    /// How often venues are polled.
    pub cadence: Cadence,
    /// The market data instances to follow; empty: every one found.
    pub market_data: Vec<String>,
    /// Where observations go.
    pub observations: mpsc::Sender<Observation>,
    /// Ends the collectors.
    pub stop: CancellationToken,
}

/// The observation channel is closed: the monitor is gone.
#[derive(Debug)]
struct Closed;

/// What every collector task shares; cheap to clone.
#[derive(Clone)]
struct Ctx {
    peers: Peers,
    clock: Clock,
    entities: Arc<[String]>,
    cadence: Cadence,
    out: mpsc::Sender<Observation>,
}

/// Why a poll stopped early.
#[derive(Debug)]
enum Halt {
    /// The channel closed.
    Closed,
    /// A call failed (already observed) with this outcome.
    Failed(Outcome),
}

impl From<Closed> for Halt {
    fn from(_: Closed) -> Self {
        Halt::Closed
    }
}

impl Ctx {
    /// Hands an observation on, waiting while the channel is full.
    async fn send(&self, observation: Observation) -> Result<(), Closed> {
        self.out.send(observation).await.map_err(|_| Closed)
    }

    /// Observes one request to `venue`.
    async fn request(&self, venue: &str, outcome: Outcome, latency: Duration) -> Result<(), Closed> {
        self.send(Observation::Request(Request {
            venue: venue.to_owned(),
            outcome,
            latency,
            at: self.clock.now(),
        }))
        .await
    }

    /// Makes one call to `venue`, observes how it went, and answers its result; a failed call is
    /// [`Halt::Failed`].
    async fn call<T>(
        &self,
        venue: &str,
        what: &str,
        call: impl Future<Output = Result<T, ClientError>>,
    ) -> Result<T, Halt> {
        let started = Instant::now();
        let result = call.await;
        let latency = started.elapsed();
        match result {
            Ok(answer) => {
                self.request(venue, Outcome::Ok, latency).await?;
                Ok(answer)
            }
            Err(e) => {
                let outcome = outcome_of(&e);
                debug!(venue, what, error = %e, "risk monitor: a call failed");
                self.request(venue, outcome, latency).await?;
                Err(Halt::Failed(outcome))
            }
        }
    }

    /// The wall time between two ticks, as the clock runs now.
    fn tick(&self) -> Duration {
        self.cadence.wall_wait(&self.clock)
    }
}

/// How a failed lookup of `venue` counts: `Unavailable` when the instance cannot be reached
/// (unhealthy, or no connection); `None` when it is not asked at all (not registered any more, or
/// the registry cannot be read: nothing is known of the venue itself).
fn lookup_failure(venue: &str, error: &PeerError) -> Option<Outcome> {
    debug!(venue, %error, "risk monitor: cannot reach an instance");
    matches!(error, PeerError::Unhealthy { .. } | PeerError::Connect { .. }).then_some(Outcome::Unavailable)
}

/// How a failed call counts: unreachable (`UNAVAILABLE`, no connection) or an error.
fn outcome_of(error: &ClientError) -> Outcome {
    match error.code() {
        Code::Unavailable => Outcome::Unavailable,
        _ => Outcome::Error,
    }
}

/// Waits `wait` unless `stop` comes first: false when stopped.
async fn pause(stop: &CancellationToken, wait: Duration) -> bool {
    tokio::select! {
        () = stop.cancelled() => false,
        () = tokio::time::sleep(wait) => true,
    }
}

/// Parses an RFC 3339 timestamp.
fn timestamp(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text.trim(), &Rfc3339).ok()
}

/// Parses a decimal string (`""` is not one).
fn decimal(text: &str) -> Option<f64> {
    text.trim().parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Warns about each kind of malformed field once per task, not once per item.
#[derive(Default)]
struct Warned(BTreeSet<&'static str>);

impl Warned {
    /// Logs that `venue` sent an item whose `field` could not be read (`value`), the first time.
    fn skip(&mut self, venue: &str, field: &'static str, value: &str) {
        if self.0.insert(field) {
            warn!(
                venue,
                field, value, "risk monitor: skipped an item whose field cannot be read (warned once)"
            );
        }
    }
}

/// The roles of the instances the monitor follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Role {
    Market,
    Exchange,
    Custodian,
}

impl Role {
    const ALL: [Role; 3] = [Role::Market, Role::Exchange, Role::Custodian];

    fn kind(self) -> ServiceKind {
        match self {
            Role::Market => ServiceKind::MarketDataSimulator,
            Role::Exchange => ServiceKind::ExchangeSimulator,
            Role::Custodian => ServiceKind::CustodianSimulator,
        }
    }
}

/// One instance's running task.
struct Task {
    stop: CancellationToken,
    handle: JoinHandle<()>,
}

/// Runs the collectors until `stop` is cancelled or the observation channel closes.
pub async fn run(parts: CollectParts) {
    let ctx = Ctx {
        peers: parts.peers,
        clock: parts.clock,
        entities: parts.entities.into(),
        cadence: parts.cadence,
        out: parts.observations,
    };
    let chosen: BTreeSet<String> = parts.market_data.into_iter().collect();
    let mut tasks: BTreeMap<(Role, InstanceName), Task> = BTreeMap::new();
    loop {
        for role in Role::ALL {
            discover(&ctx, role, &chosen, &parts.stop, &mut tasks).await;
        }
        tokio::select! {
            () = parts.stop.cancelled() => break,
            () = ctx.out.closed() => break,
            () = tokio::time::sleep(DISCOVER_EVERY) => {}
        }
    }
    for task in tasks.values() {
        task.stop.cancel();
    }
    for task in tasks.into_values() {
        let _ = task.handle.await;
    }
}

/// Starts a task for each new instance of `role` and stops those of instances gone from the
/// registry; keeps everything as it is when the registry cannot be read.
async fn discover(
    ctx: &Ctx,
    role: Role,
    chosen: &BTreeSet<String>,
    stop: &CancellationToken,
    tasks: &mut BTreeMap<(Role, InstanceName), Task>,
) {
    let listed = match ctx.peers.list(role.kind()).await {
        Ok(listed) => listed,
        Err(e) => {
            warn!(error = %e, "risk monitor: cannot read the registry; following the instances known");
            return;
        }
    };
    let names: BTreeSet<InstanceName> = listed
        .into_iter()
        .map(|r| r.instance)
        .filter(|name| role != Role::Market || chosen.is_empty() || chosen.contains(name.as_str()))
        .collect();
    tasks.retain(|(r, name), task| {
        let keep = *r != role || (names.contains(name) && !task.handle.is_finished());
        if !keep {
            task.stop.cancel();
        }
        keep
    });
    for name in names {
        let key = (role, name);
        if tasks.contains_key(&key) {
            continue;
        }
        let name = key.1.clone();
        debug!(instance = %name, ?role, "risk monitor: following an instance");
        let task_stop = stop.child_token();
        let (ctx, token) = (ctx.clone(), task_stop.clone());
        let handle = match role {
            Role::Market => tokio::spawn(market::run(ctx, name, token)),
            Role::Exchange => tokio::spawn(exchange::run(ctx, name, token)),
            Role::Custodian => tokio::spawn(custodian::run(ctx, name, token)),
        };
        tasks.insert(
            key,
            Task {
                stop: task_stop,
                handle,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wall_wait_follows_the_clock_and_never_drops_below_the_minimum() {
        let cadence = Cadence {
            every: Duration::from_secs(10),
            min_wall: Duration::from_millis(200),
        };
        assert_eq!(cadence.wall_wait(&Clock::new(1.0)), Duration::from_secs(10));
        assert_eq!(cadence.wall_wait(&Clock::new(10.0)), Duration::from_secs(1));
        assert_eq!(cadence.wall_wait(&Clock::new(1000.0)), Duration::from_millis(200));
    }

    #[test]
    fn unreachable_is_unavailable_and_anything_else_an_error() {
        let status = |code| ClientError::Status {
            code,
            message: String::new(),
        };
        assert_eq!(outcome_of(&status(Code::Unavailable)), Outcome::Unavailable);
        assert_eq!(
            outcome_of(&ClientError::Connect {
                url: "http://127.0.0.1:9".into(),
                reason: "refused".into()
            }),
            Outcome::Unavailable
        );
        assert_eq!(outcome_of(&status(Code::Internal)), Outcome::Error);
        assert_eq!(outcome_of(&status(Code::NotFound)), Outcome::Error);
    }

    #[test]
    fn fields_parse_or_are_refused() {
        assert_eq!(decimal("97000.5"), Some(97000.5));
        assert_eq!(decimal(""), None);
        assert_eq!(decimal("NaN"), None);
        assert_eq!(decimal("abc"), None);
        assert!(timestamp("2026-01-02T03:04:05.123Z").is_some());
        assert!(timestamp("yesterday").is_none());
    }
}
