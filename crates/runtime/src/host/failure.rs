//! A task the instance needs that panics takes the instance down: health turns unhealthy with the
//! reason and the instance stops with a failure.

use std::{
    any::Any,
    panic::AssertUnwindSafe,
    sync::{Arc, Mutex},
};

use futures::FutureExt;
use tokio_util::sync::CancellationToken;
use tracing::error;

use crate::health::{Check, Health};

/// The first failure of a task an instance needs, and the signal that stops the instance for it.
#[derive(Clone)]
pub(super) struct Failure {
    health: Health,
    reason: Arc<Mutex<Option<String>>>,
    pub(super) signal: CancellationToken,
}

impl Failure {
    /// The check a failed task turns critical.
    const CHECK: &'static str = "tasks";

    pub(super) fn new(health: Health) -> Self {
        Self {
            health,
            reason: Arc::default(),
            signal: CancellationToken::new(),
        }
    }

    /// Runs `task`; a panic in it is reported, then carried on to whoever joins the task.
    pub(super) fn watch<F: Future>(&self, task: F) -> impl Future<Output = F::Output> + use<F> {
        let failure = self.clone();
        async move {
            match AssertUnwindSafe(task).catch_unwind().await {
                Ok(output) => output,
                Err(panic) => {
                    failure.fail(format!(
                        "a task the instance needs panicked: {}",
                        panic_message(panic.as_ref())
                    ));
                    std::panic::resume_unwind(panic)
                }
            }
        }
    }

    /// Records the failure (the first one wins), turns health unhealthy and asks the instance to stop.
    fn fail(&self, reason: String) {
        error!(%reason, "the instance cannot go on and stops");
        self.health
            .set_check(Self::CHECK, Check::down(true, reason.clone()));
        self.reason
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_or_insert(reason);
        self.signal.cancel();
    }

    pub(super) fn reason(&self) -> Option<String> {
        self.reason.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// The message a panic was raised with.
pub(crate) fn panic_message(panic: &(dyn Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}
