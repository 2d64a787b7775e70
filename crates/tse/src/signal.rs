//! SIGINT and SIGTERM: the orderly stop of `tse up` and `tse serve`.

use tokio_util::sync::CancellationToken;

/// SIGINT (Ctrl-C) and SIGTERM, listened for from the moment of [`Signals::listen`]: one that arrives
/// while the instances start is kept and acted on once they have started, never lost nor left to
/// the default action (which would kill the process without its orderly stop).
pub(crate) struct Signals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
    #[cfg(not(unix))]
    ctrl_c: tokio::signal::windows::CtrlC,
}

impl Signals {
    /// Starts listening.
    #[cfg(unix)]
    pub(crate) fn listen() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    /// Starts listening.
    #[cfg(not(unix))]
    pub(crate) fn listen() -> std::io::Result<Self> {
        Ok(Self {
            ctrl_c: tokio::signal::windows::ctrl_c()?,
        })
    }

    /// Cancels `shutdown` on the first signal.
    pub(crate) async fn cancel(mut self, shutdown: CancellationToken) {
        #[cfg(unix)]
        let signal = tokio::select! {
            _ = self.interrupt.recv() => "SIGINT",
            _ = self.terminate.recv() => "SIGTERM",
        };
        #[cfg(not(unix))]
        let signal = {
            self.ctrl_c.recv().await;
            "Ctrl-C"
        };
        tracing::info!(signal, "signal received; stopping");
        shutdown.cancel();
    }
}
