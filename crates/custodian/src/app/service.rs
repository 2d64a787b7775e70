//! The custodian's single writer. One task owns the [`Books`]; every request runs in arrival order,
//! and whatever queued together is stored as one transaction (books, then outbox events) before any
//! of it is answered — reads too, so nobody sees state a crash could still undo. Between requests
//! the task runs settlement passes on the simulated clock: it sleeps until the next settlement falls
//! due, settles it, stores, and only then counts it in the metrics.

use std::{sync::Arc, time::Duration};

use futures::future::BoxFuture;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;
use tracing::{error, info};
use tse_runtime::{
    clock::Clock,
    faults::{Fault, FaultBoard},
    health::{Check, Health},
    storage::{Storage, WriteBatch},
};

use super::books::{Books, CustodianError};
use crate::{
    domain::{custody::Changes, faults::CustodianFault, metrics::MetricsPort, settlement::Status},
    infra::repo,
};

/// The health check that turns down while the books are not (or no longer) those in storage.
pub const BOOKS_CHECK: &str = "books";
/// Requests run before their changes are stored, at most.
const REQUESTS_PER_COMMIT: usize = 1_024;
/// Requests waiting for the writer, at most (callers then wait to enqueue).
const QUEUE: usize = 4_096;
/// How often the pass looks again while a fault holds a due settlement, or at the latest.
const FAULT_POLL: Duration = Duration::from_millis(200);
const IDLE_POLL: Duration = Duration::from_secs(1);

/// Answers a request once its batch is stored: [`CustodianError::Storage`] or
/// [`CustodianError::Halted`] when it was not.
type Ack = Box<dyn FnOnce(Result<(), CustodianError>) + Send>;
type Job = Box<dyn FnOnce(&mut Books, &Context) -> Ack + Send>;

/// What a request sees besides the books.
pub struct Context {
    /// Simulated now.
    pub now: time::OffsetDateTime,
    /// Faults in force.
    pub faults: Vec<Fault<CustodianFault>>,
}

/// The service's handle; cheap to clone.
#[derive(Clone)]
pub struct CustodianHandle {
    jobs: mpsc::Sender<Job>,
    ready: watch::Receiver<bool>,
}

impl CustodianHandle {
    /// Returns whether the books are restored and requests are served.
    pub fn is_ready(&self) -> bool {
        *self.ready.borrow()
    }

    /// Waits until the books are restored and requests are served (forever if they never are).
    pub async fn ready(&self) {
        let mut ready = self.ready.clone();
        if ready.wait_for(|ready| *ready).await.is_err() {
            // The service is gone: its books will never be ready.
            std::future::pending::<()>().await;
        }
    }

    /// Runs `f` on the books in turn and answers once its changes are stored.
    ///
    /// # Errors
    /// What `f` returns; [`CustodianError::Storage`] when the change could not be stored;
    /// [`CustodianError::Stopped`].
    pub async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Books, &Context) -> Result<T, CustodianError> + Send + 'static,
    ) -> Result<T, CustodianError> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |books, ctx| {
            let outcome = f(books, ctx);
            Box::new(move |stored: Result<(), CustodianError>| {
                let _ = tx.send(stored.and(outcome));
            })
        });
        self.jobs.send(job).await.map_err(|_| CustodianError::Stopped)?;
        rx.await.map_err(|_| CustodianError::Stopped)?
    }
}

/// Restores the books (waiting for the database when it is away).
pub type Restore = BoxFuture<'static, Result<Books, String>>;

/// What the service needs.
pub struct ServiceParts {
    /// Where changes go.
    pub storage: Storage,
    /// The simulated clock.
    pub clock: Clock,
    /// The back door's faults.
    pub board: FaultBoard<CustodianFault>,
    /// Business metrics.
    pub metrics: Arc<dyn MetricsPort>,
    /// Where a refused commit is reported.
    pub health: Health,
    /// Ends the service: it stops waiting for the books, runs what is queued, stores it and returns.
    pub stop: CancellationToken,
}

/// Starts the service: returns its task and its handle. The task serves once `restore` gives it
/// the books, and ends at `stop` (after running and storing what was queued) or once every handle
/// is gone. A stop while the books are still being restored (the database is away) ends it at once.
pub fn start(parts: ServiceParts, restore: Restore) -> (BoxFuture<'static, ()>, CustodianHandle) {
    let (jobs, queue) = mpsc::channel(QUEUE);
    let (ready, watch_ready) = watch::channel(false);
    let handle = CustodianHandle {
        jobs,
        ready: watch_ready,
    };
    let task = Box::pin(async move {
        let restored = tokio::select! {
            () = parts.stop.cancelled() => {
                info!("stopped before the books were restored");
                return;
            }
            restored = restore => restored,
        };
        let books = match restored {
            Ok(books) => books,
            Err(reason) => {
                error!(reason, "the custodian cannot restore its books");
                parts.health.set_check(BOOKS_CHECK, Check::down(true, reason));
                return;
            }
        };
        parts.health.set_check(BOOKS_CHECK, Check::up(true));
        parts.metrics.set_pending(books.custody().pending_count());
        for (account, asset, balance) in books.custody().all_balances() {
            parts.metrics.set_balance(account, asset, balance.total());
        }
        ready.send_replace(true);
        info!(
            accounts = books.custody().accounts().count(),
            pending = books.custody().pending_count(),
            "custodian books ready"
        );
        run(parts, books, queue, ready).await;
    });
    (task, handle)
}

async fn run(
    parts: ServiceParts,
    mut books: Books,
    mut queue: mpsc::Receiver<Job>,
    ready: watch::Sender<bool>,
) {
    let mut held = false;
    let mut stopping = false;
    loop {
        if !*ready.borrow() {
            // The books are no longer what storage holds: answer nothing more from them.
            break;
        }
        let wait = if held {
            // Look again soon for what a fault holds, but settle what falls due meanwhile on time.
            books
                .custody()
                .next_due_after(parts.clock.now())
                .map_or(FAULT_POLL, |due| parts.clock.wall_until(due).min(FAULT_POLL))
        } else {
            books
                .custody()
                .next_due()
                .map_or(IDLE_POLL, |due| parts.clock.wall_until(due).min(IDLE_POLL))
        };
        let mut jobs = Vec::new();
        tokio::select! {
            job = queue.recv() => match job {
                Some(job) => jobs.push(job),
                None => break,
            },
            () = tokio::time::sleep(wait) => {}
            // No more requests are taken; those already queued still run, and the loop ends once
            // the queue is empty.
            () = parts.stop.cancelled(), if !stopping => {
                stopping = true;
                queue.close();
            }
        }
        while jobs.len() < REQUESTS_PER_COMMIT {
            match queue.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let ctx = Context {
            now: parts.clock.now(),
            faults: parts.board.active(),
        };
        // An operation that panics (a bug: input is validated) leaves the books in doubt; what it
        // changed is not stored, the instance reports it and stops serving.
        let mut broken = false;
        let mut acks: Vec<Ack> = Vec::with_capacity(jobs.len());
        for job in jobs {
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&mut books, &ctx))) {
                Ok(ack) => acks.push(ack),
                Err(_) => broken = true,
            }
        }
        if !broken {
            let now = parts.clock.now();
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| books.pass(now, &ctx.faults))) {
                Ok(h) => held = h,
                Err(_) => broken = true,
            }
        }
        if broken {
            stop_serving(&parts, &ready, "an operation on the books failed unexpectedly");
            for ack in acks {
                ack(Err(CustodianError::Halted));
            }
            break;
        }
        if !commit(&parts, &mut books, acks).await {
            stop_serving(&parts, &ready, "a commit could not be stored");
        }
    }
    // Whatever the last requests changed is stored by the last commit of the loop.
}

/// Turns the instance unready for good: memory may differ from storage.
fn stop_serving(parts: &ServiceParts, ready: &watch::Sender<bool>, what: &str) {
    error!(
        what,
        "the custodian stops serving its books; restart the instance to recover the stored books"
    );
    ready.send_replace(false);
    parts.health.set_check(
        BOOKS_CHECK,
        Check::down(
            true,
            format!("{what}; restart the instance to recover the stored books"),
        ),
    );
}

/// Stores what the batch changed and answers it; `false` when it could not be stored.
async fn commit(parts: &ServiceParts, books: &mut Books, acks: Vec<Ack>) -> bool {
    let (changes, events) = books.take(parts.clock.now());
    let stored = if changes == Changes::default() && events.is_empty() {
        Ok(())
    } else {
        let statements = repo::statements(books.custody(), &changes).and_then(|mut statements| {
            statements.extend(tse_runtime::events::Event::insert_chunked(events)?);
            Ok(statements)
        });
        let outcome = match statements {
            Ok(statements) => parts.storage.write(WriteBatch::from(statements)).await.map(drop),
            Err(e) => Err(e),
        };
        match outcome {
            Ok(()) => {
                record(parts.metrics.as_ref(), books, &changes);
                Ok(())
            }
            Err(e) => {
                error!(error = %e, "a custodian commit could not be stored: memory is now ahead of storage");
                Err(CustodianError::Storage(Arc::new(e)))
            }
        }
    };
    let ok = stored.is_ok();
    for ack in acks {
        ack(stored.clone());
    }
    ok
}

/// Counts what a stored batch did.
fn record(metrics: &dyn MetricsPort, books: &Books, changes: &Changes) {
    for s in &changes.settlements {
        let kind = s.instruction.kind.label();
        metrics.record_settlement(s.step(), kind);
        if s.status == Status::Completed
            && let Some(done) = s.finished_at
        {
            let seconds = (done - s.created_at).as_seconds_f64();
            metrics.record_settlement_duration(kind, seconds);
        }
    }
    for (account, asset, amount) in &changes.movements {
        metrics.record_balance_change(account, asset, *amount);
    }
    for (account, symbol) in &changes.positions {
        metrics.record_position_change(account, symbol);
    }
    for (account, asset) in &changes.balances {
        if let Ok(balance) = books.custody().balance(account, asset) {
            metrics.set_balance(account, asset, balance.total());
        }
    }
    metrics.set_pending(books.custody().pending_count());
}
