//! Connection hygiene shared by the HTTP and gRPC servers of an instance: a limit on the connections
//! held at once, and an idle timeout on each. Without them, idle or half-sent connections pile up until
//! the process runs out of file descriptors and even `/api/v1/health` cannot be reached.
//!
//! A [`Gate`] hands out one permit per admitted connection; the permit travels inside the connection's
//! [`Tracked`] I/O and returns when the connection closes. A connection that moves no bytes for the
//! idle timeout fails its next read or write, which makes hyper close it. Streams stay open: they send
//! keep-alives (SSE comments, HTTP/2 pings) more often than the timeout.

use std::{
    future::Future,
    io,
    net::SocketAddr,
    pin::Pin,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use prometheus::{IntCounterVec, IntGauge, Opts, Registry};
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf},
    net::TcpStream,
    sync::{OwnedSemaphorePermit, Semaphore},
    time::{Instant, Sleep},
};
use tracing::warn;

/// Refused HTTP connections being answered at once, at most.
const REFUSALS: usize = 64;

/// How often a repeated condition (limit reached, accept failing) is logged at most.
const WARN_EVERY: Duration = Duration::from_secs(10);

/// Admits connections up to the instance's limit, and counts and logs those it refuses.
pub(super) struct Gate {
    permits: Arc<Semaphore>,
    max: u32,
    refused: AtomicU64,
    refused_total: IntCounterVec,
    open: IntGauge,
    throttle: Throttle,
    goodbyes: Arc<Semaphore>,
}

impl Gate {
    /// A gate admitting `max` connections at once, with its metrics in `registry`.
    pub(super) fn new(max: u32, registry: &Registry) -> Result<Arc<Self>, prometheus::Error> {
        let open = IntGauge::new(
            "tse_connections_open",
            "Connections the instance holds (HTTP and gRPC), bounded by MAX_CONNECTIONS",
        )?;
        let refused_total = IntCounterVec::new(
            Opts::new(
                "tse_connections_refused_total",
                "Connections refused because the instance held MAX_CONNECTIONS",
            ),
            &["protocol"],
        )?;
        registry.register(Box::new(open.clone()))?;
        registry.register(Box::new(refused_total.clone()))?;
        for protocol in ["http", "grpc"] {
            refused_total.with_label_values(&[protocol]);
        }
        Ok(Arc::new(Self {
            permits: Arc::new(Semaphore::new(max as usize)),
            max,
            refused: AtomicU64::new(0),
            refused_total,
            open,
            throttle: Throttle::default(),
            goodbyes: Arc::new(Semaphore::new(REFUSALS)),
        }))
    }

    /// Admits a connection when the instance holds fewer than its limit.
    pub(super) fn admit(&self) -> Option<Admission> {
        let permit = self.permits.clone().try_acquire_owned().ok()?;
        self.open.inc();
        Some(Admission {
            _permit: permit,
            open: self.open.clone(),
        })
    }

    /// Counts a refused connection and says so in the log, at most every few seconds.
    pub(super) fn refuse(&self, protocol: &'static str, peer: Option<SocketAddr>) {
        let refused = self.refused.fetch_add(1, Ordering::Relaxed) + 1;
        self.refused_total
            .with_label_values(&[&protocol.to_ascii_lowercase()])
            .inc();
        if self.throttle.allow() {
            warn!(
                protocol,
                limit = self.max,
                refused,
                peer = ?peer,
                "connection limit reached: new connections are refused until some close (MAX_CONNECTIONS)"
            );
        }
    }

    /// Answers an HTTP connection refused at the limit with a JSON 503 and closes it. The answer is
    /// written at once if the socket takes it; the request is then read and discarded for a moment, so
    /// closing does not reset the connection and lose the answer. At most [`REFUSALS`] such goodbyes run
    /// at once; beyond that, connections are simply closed.
    pub(super) fn refuse_http(&self, tcp: TcpStream) {
        let body = format!(
            r#"{{"error":{{"code":"too_many_connections","message":"this instance already holds its limit of {} connections (MAX_CONNECTIONS); retry later"}}}}"#,
            self.max
        );
        let response = format!(
            "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        if tcp.try_write(response.as_bytes()).is_err() {
            return;
        }
        let Ok(goodbye) = self.goodbyes.clone().try_acquire_owned() else {
            return;
        };
        tokio::spawn(async move {
            let mut tcp = tcp;
            let _ = tcp.shutdown().await;
            let mut sink = [0u8; 1024];
            let _ = tokio::time::timeout(Duration::from_secs(1), async {
                while matches!(tcp.read(&mut sink).await, Ok(n) if n > 0) {}
            })
            .await;
            drop(goodbye);
        });
    }
}

/// A connection's place under the limit; it frees the place when dropped.
pub(super) struct Admission {
    _permit: OwnedSemaphorePermit,
    open: IntGauge,
}

impl Drop for Admission {
    fn drop(&mut self) {
        self.open.dec();
    }
}

/// Lets a repeated warning through at most once per [`WARN_EVERY`].
#[derive(Default)]
pub(super) struct Throttle(Mutex<Option<std::time::Instant>>);

impl Throttle {
    /// Returns whether to log now.
    pub(super) fn allow(&self) -> bool {
        let mut last = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if last.is_some_and(|at| at.elapsed() < WARN_EVERY) {
            return false;
        }
        *last = Some(std::time::Instant::now());
        true
    }
}

/// A connection's I/O under the instance's limits: it holds the connection's [`Admission`], and fails
/// a read or write once no byte has moved for the idle timeout.
pub(super) struct Tracked<IO> {
    io: IO,
    timer: Pin<Box<Sleep>>,
    idle: Duration,
    last_activity: Instant,
    _admission: Admission,
}

impl<IO> Tracked<IO> {
    /// Wraps an admitted connection.
    pub(super) fn new(io: IO, admission: Admission, idle: Duration) -> Self {
        let now = Instant::now();
        Self {
            io,
            timer: Box::pin(tokio::time::sleep_until(now + idle)),
            idle,
            last_activity: now,
            _admission: admission,
        }
    }

    /// Notes that bytes moved.
    fn active(&mut self) {
        self.last_activity = Instant::now();
    }

    /// Called when an operation is pending: an error once the connection has been idle for too long;
    /// otherwise the timer is (re)armed for the moment it would be, so the task wakes up then. The
    /// timer is only touched on this slow path, not on every read and write.
    fn idle_error(&mut self, cx: &mut Context<'_>) -> Option<io::Error> {
        let deadline = self.last_activity + self.idle;
        if Instant::now() >= deadline {
            return Some(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no bytes moved for {:?}: connection closed as idle", self.idle),
            ));
        }
        if self.timer.deadline() != deadline {
            self.timer.as_mut().reset(deadline);
        }
        // Registers the waker; the deadline is in the future, so this is pending.
        let _ = self.timer.as_mut().poll(cx);
        None
    }

    /// Maps a pending operation to the idle error when it is due.
    fn pending<T>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        match self.idle_error(cx) {
            Some(error) => Poll::Ready(Err(error)),
            None => Poll::Pending,
        }
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Tracked<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.io).poll_read(cx, buf) {
            Poll::Ready(result) => {
                if buf.filled().len() > before {
                    self.active();
                }
                Poll::Ready(result)
            }
            Poll::Pending => self.pending(cx),
        }
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Tracked<IO> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.io).poll_write(cx, buf) {
            Poll::Ready(Ok(written)) => {
                if written > 0 {
                    self.active();
                }
                Poll::Ready(Ok(written))
            }
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Pending => self.pending(cx),
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.io).poll_write_vectored(cx, bufs) {
            Poll::Ready(Ok(written)) => {
                if written > 0 {
                    self.active();
                }
                Poll::Ready(Ok(written))
            }
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Pending => self.pending(cx),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

impl tonic::transport::server::Connected for Tracked<TcpStream> {
    type ConnectInfo = tonic::transport::server::TcpConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.io.connect_info()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_connection_that_moves_nothing_fails_after_the_idle_timeout() {
        let gate = Gate::new(1, &Registry::new()).unwrap();
        let (client, server) = tokio::io::duplex(64);
        let mut server = Box::pin(Tracked::new(
            server,
            gate.admit().unwrap(),
            Duration::from_secs(60),
        ));
        let mut client = client;
        client.write_all(b"ping").await.unwrap();
        let mut buf = [0u8; 4];
        server.read_exact(&mut buf).await.unwrap();
        tokio::time::advance(Duration::from_secs(59)).await;
        client.write_all(b"more").await.unwrap();
        server.read_exact(&mut buf).await.unwrap();
        // Activity pushed the deadline: 59 s after it, still open.
        let started = Instant::now();
        let error = server.read(&mut buf).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert_eq!(started.elapsed(), Duration::from_secs(60));
    }

    #[test]
    fn the_gate_admits_up_to_its_limit_and_frees_places_on_close() {
        let registry = Registry::new();
        let gate = Gate::new(2, &registry).unwrap();
        let (a, b) = (gate.admit().unwrap(), gate.admit().unwrap());
        assert!(gate.admit().is_none());
        gate.refuse("HTTP", None);
        assert_eq!(gate.open.get(), 2);
        drop(a);
        assert!(gate.admit().is_some());
        drop(b);
        assert_eq!(gate.open.get(), 0);
        assert_eq!(gate.refused_total.with_label_values(&["http"]).get(), 1);
        assert_eq!(gate.refused_total.with_label_values(&["grpc"]).get(), 0);
    }
}
