//! Logs: to stdout for people, and as JSON lines to `logs/{instance}/` for each instance, also when
//! many instances share one process (`tse up`).
//!
//! Every instance runs inside an [`instance_span`]. One layer, [`InstanceFiles`], notes on each such
//! span which instance's file it stands for, formats every event inside one as a JSON line and hands
//! it to a single writer thread that appends it to that instance's file. The host instruments request
//! handlers and service tasks with that span, so a handler's log line lands in the right file even
//! though hyper and tonic run connections on tasks of their own.
//!
//! Why one layer and one thread rather than a filtered layer and a writer per instance:
//! tracing-subscriber allows at most 64 per-layer filters (`tse up` of 64 instances panicked), and a
//! writer per instance cost a thread and a preallocated 128k-line queue (about 4 MiB) each.

use std::{
    cell::Cell,
    io::{IsTerminal, Write},
    path::PathBuf,
    sync::mpsc::{self, SyncSender},
    thread::JoinHandle,
};

use tracing::{
    Event, Metadata, Subscriber,
    field::{Field, Visit},
    span::{Attributes, Id, Record},
    subscriber::Interest,
};
use tracing_appender::rolling::{RollingFileAppender, Rotation};
use tracing_subscriber::{
    EnvFilter, Layer,
    filter::LevelFilter,
    fmt::MakeWriter,
    layer::{Context, SubscriberExt},
    registry::LookupSpan,
    util::SubscriberInitExt,
};

use crate::identity::Identity;

/// Name of the span every instance runs in.
pub const INSTANCE_SPAN: &str = "tse";

/// Lines waiting for the writer thread, for all instances together. A writer that falls this far
/// behind makes loggers wait rather than lose lines (as stdout does).
const QUEUE_LINES: usize = 16_384;

/// Creates the span an instance runs in. It is an error-level span so that it exists whatever the
/// log level, and every event inside can be routed to the instance's file.
pub fn instance_span(identity: &Identity) -> tracing::Span {
    tracing::error_span!(
        INSTANCE_SPAN,
        service = %identity.service(),
        instance = %identity.instance()
    )
}

/// An instance whose events go to a file of its own.
#[derive(Clone, Debug)]
pub struct LogTarget {
    /// Instance name, as in its span.
    pub instance: String,
    /// Directory of its log files (`logs/{instance}`).
    pub dir: PathBuf,
}

/// What the terminal (stdout) shows; the instances' files always get every event the log level lets
/// through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Terminal {
    /// Every event the log level lets through.
    Everything,
    /// Only warnings and errors (what `tse up` shows unless asked to be verbose).
    WarningsAndErrors,
}

/// Keeps the log writer alive; dropping it writes out every queued line and stops the writer.
#[must_use = "dropping Telemetry stops file logging"]
pub struct Telemetry {
    queue: SyncSender<Message>,
    writer: Option<JoinHandle<()>>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        // The queue is in order: every line sent before the stop is written before the thread ends.
        if self.queue.send(Message::Stop).is_ok()
            && let Some(writer) = self.writer.take()
        {
            let _ = writer.join();
        }
    }
}

/// Why logging could not start.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// The log directory or file cannot be created.
    #[error("cannot write logs to {dir}: {source}")]
    LogDir {
        /// The directory.
        dir: String,
        /// Why.
        source: std::io::Error,
    },
    /// The log filter is invalid (already validated with the configuration, so unexpected).
    #[error("invalid log level: {0}")]
    Filter(String),
    /// The writer thread cannot be started.
    #[error("cannot start the log writer: {0}")]
    Writer(std::io::Error),
    /// A global subscriber is already installed.
    #[error("logging is already initialized")]
    AlreadyInitialized,
}

/// Installs the global subscriber: stdout at `level` (only warnings and errors when `terminal` says
/// so), plus one daily-rotated JSON file per target, all written by one thread.
///
/// # Errors
/// Returns a [`TelemetryError`] when a log directory cannot be created or a subscriber exists.
pub fn init(level: &str, terminal: Terminal, targets: &[LogTarget]) -> Result<Telemetry, TelemetryError> {
    let (subscriber, telemetry) = subscriber(level, terminal, targets)?;
    subscriber
        .try_init()
        .map_err(|_| TelemetryError::AlreadyInitialized)?;
    Ok(telemetry)
}

/// The subscriber [`init`] installs, and the guard of its writer thread.
fn subscriber(
    level: &str,
    terminal: Terminal,
    targets: &[LogTarget],
) -> Result<(impl Subscriber + Send + Sync + 'static, Telemetry), TelemetryError> {
    let filter = EnvFilter::builder()
        .parse(level)
        .map_err(|e| TelemetryError::Filter(e.to_string()))?;
    let (files, queue, writer) = InstanceFiles::open(targets)?;
    let stdout = tracing_subscriber::fmt::layer()
        .with_target(false)
        .with_ansi(std::io::stdout().is_terminal())
        .with_filter(match terminal {
            Terminal::Everything => LevelFilter::TRACE,
            Terminal::WarningsAndErrors => LevelFilter::WARN,
        });
    let telemetry = Telemetry {
        queue,
        writer: Some(writer),
    };
    let subscriber = tracing_subscriber::registry()
        .with(filter)
        .with(files)
        .with(stdout);
    Ok((subscriber, telemetry))
}

/// What the writer thread receives.
enum Message {
    /// One formatted line for the file of the instance at this index.
    Line(usize, Vec<u8>),
    /// Write out what came before, then stop.
    Stop,
}

thread_local! {
    /// The file the event being formatted on this thread goes to: set by [`InstanceFiles`] around
    /// the JSON formatter, read by the [`FileQueue`] writer it calls.
    static ROUTE: Cell<Option<usize>> = const { Cell::new(None) };
}

/// The one layer that writes every instance's events to its own file.
///
/// It tags each instance span with the index of the instance's file when the span is created, and
/// runs the JSON formatter only for events inside a tagged span, with [`ROUTE`] naming the file
/// while it does. The formatter's writer queues the line for the writer thread.
struct InstanceFiles<S> {
    json: Box<dyn Layer<S> + Send + Sync>,
    instances: Vec<String>,
}

impl<S> InstanceFiles<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    /// Opens every target's file and starts the writer thread.
    fn open(targets: &[LogTarget]) -> Result<(Self, SyncSender<Message>, JoinHandle<()>), TelemetryError> {
        let mut files = Vec::with_capacity(targets.len());
        for target in targets {
            let log_dir_error = |source| TelemetryError::LogDir {
                dir: target.dir.display().to_string(),
                source,
            };
            std::fs::create_dir_all(&target.dir).map_err(log_dir_error)?;
            files.push(
                RollingFileAppender::builder()
                    .rotation(Rotation::DAILY)
                    .filename_prefix(&target.instance)
                    .filename_suffix("log")
                    .max_log_files(7)
                    .build(&target.dir)
                    .map_err(|e| log_dir_error(std::io::Error::other(e)))?,
            );
        }
        let (queue, lines) = mpsc::sync_channel(QUEUE_LINES);
        let writer = std::thread::Builder::new()
            .name("tse-logs".to_owned())
            .spawn(move || write_lines(&lines, files))
            .map_err(TelemetryError::Writer)?;
        let json = tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(false)
            .with_span_list(true)
            .with_writer(FileQueue(queue.clone()))
            .boxed();
        let layer = Self {
            json,
            instances: targets.iter().map(|t| t.instance.clone()).collect(),
        };
        Ok((layer, queue, writer))
    }

    /// The file of the innermost instance span around `event`.
    fn file_of(event: &Event<'_>, ctx: &Context<'_, S>) -> Option<usize> {
        ctx.event_scope(event)?
            .find_map(|span| span.extensions().get::<InstanceTag>().map(|tag| tag.0))
    }
}

/// Writes queued lines to their files until told to stop (or every sender is gone).
fn write_lines(lines: &mpsc::Receiver<Message>, mut files: Vec<RollingFileAppender>) {
    for message in lines {
        match message {
            Message::Line(file, line) => {
                if let Some(file) = files.get_mut(file) {
                    // Nowhere to report a failed log write; the next line tries again.
                    let _ = file.write_all(&line);
                }
            }
            Message::Stop => break,
        }
    }
    for file in &mut files {
        let _ = file.flush();
    }
}

impl<S> Layer<S> for InstanceFiles<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_register_dispatch(&self, subscriber: &tracing::Dispatch) {
        self.json.on_register_dispatch(subscriber);
    }

    fn on_layer(&mut self, subscriber: &mut S) {
        self.json.on_layer(subscriber);
    }

    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        self.json.register_callsite(metadata)
    }

    fn enabled(&self, metadata: &Metadata<'_>, ctx: Context<'_, S>) -> bool {
        self.json.enabled(metadata, ctx)
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if attrs.metadata().name() == INSTANCE_SPAN {
            let mut visitor = InstanceField(None);
            attrs.record(&mut visitor);
            let file = visitor
                .0
                .and_then(|name| self.instances.iter().position(|i| *i == name));
            if let (Some(file), Some(span)) = (file, ctx.span(id)) {
                span.extensions_mut().insert(InstanceTag(file));
            }
        }
        self.json.on_new_span(attrs, id, ctx);
    }

    fn on_record(&self, span: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        self.json.on_record(span, values, ctx);
    }

    fn on_follows_from(&self, span: &Id, follows: &Id, ctx: Context<'_, S>) {
        self.json.on_follows_from(span, follows, ctx);
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let Some(file) = Self::file_of(event, &ctx) else {
            return;
        };
        // Restored rather than cleared: an event logged while formatting this one (by a field's
        // `Debug`) must not leave this one without its file.
        let outer = ROUTE.replace(Some(file));
        self.json.on_event(event, ctx);
        ROUTE.set(outer);
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        self.json.on_enter(id, ctx);
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        self.json.on_exit(id, ctx);
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        self.json.on_close(id, ctx);
    }

    fn on_id_change(&self, old: &Id, new: &Id, ctx: Context<'_, S>) {
        self.json.on_id_change(old, new, ctx);
    }
}

/// The JSON formatter's writer: each line it is given goes to the writer thread, for the file
/// [`ROUTE`] names.
struct FileQueue(SyncSender<Message>);

impl<'a> MakeWriter<'a> for FileQueue {
    type Writer = QueuedLine<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        QueuedLine {
            queue: &self.0,
            file: ROUTE.get(),
            line: Vec::new(),
        }
    }
}

/// One event's text, queued when the formatter is done with it.
struct QueuedLine<'a> {
    queue: &'a SyncSender<Message>,
    file: Option<usize>,
    line: Vec<u8>,
}

impl Write for QueuedLine<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.line.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for QueuedLine<'_> {
    fn drop(&mut self) {
        if let Some(file) = self.file
            && !self.line.is_empty()
        {
            // After the writer has stopped (the process is ending), lines have nowhere to go.
            let _ = self
                .queue
                .send(Message::Line(file, std::mem::take(&mut self.line)));
        }
    }
}

/// The index of an instance's file, recorded on its instance span.
struct InstanceTag(usize);

struct InstanceField(Option<String>);

impl Visit for InstanceField {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "instance" {
            self.0 = Some(value.to_owned());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "instance" {
            self.0 = Some(format!("{value:?}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::ServiceKind;

    fn log_of(target: &LogTarget) -> String {
        let files: Vec<_> = std::fs::read_dir(&target.dir).unwrap().collect();
        assert_eq!(files.len(), 1, "one file in {}", target.dir.display());
        std::fs::read_to_string(files[0].as_ref().unwrap().path()).unwrap()
    }

    #[test]
    fn each_instance_file_holds_exactly_its_own_lines_also_past_64_instances() {
        let dir = tempfile::tempdir().unwrap();
        let targets: Vec<LogTarget> = (0..100)
            .map(|i| LogTarget {
                instance: format!("exchange-X{i:03}"),
                dir: dir.path().join(format!("exchange-X{i:03}")),
            })
            .collect();
        let kind = ServiceKind::parse("exchange-simulator").unwrap();
        let (subscriber, telemetry) = subscriber("info", Terminal::WarningsAndErrors, &targets).unwrap();
        tracing::subscriber::with_default(subscriber, || {
            for target in &targets {
                let identity = Identity::new(kind, Some(&target.instance), None, None).unwrap();
                instance_span(&identity).in_scope(|| {
                    tracing::info!(own = %target.instance, "a line of its own");
                    tracing::info_span!("request").in_scope(|| tracing::info!("inside a request"));
                    tracing::debug!("below the log level");
                });
            }
            tracing::info!("outside every instance");
        });
        // Dropping the guard writes out every queued line.
        drop(telemetry);
        for target in &targets {
            let text = log_of(target);
            let lines: Vec<&str> = text.lines().collect();
            assert_eq!(lines.len(), 2, "{text}");
            assert!(
                lines[0].contains(&format!("\"own\":\"{}\"", target.instance)),
                "{text}"
            );
            assert!(lines[1].contains("inside a request"), "{text}");
            let own_span = format!("\"instance\":\"{}\"", target.instance);
            assert!(lines.iter().all(|l| l.contains(&own_span)), "{text}");
        }
    }
}
