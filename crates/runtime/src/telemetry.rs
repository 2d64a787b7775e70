//! Logs: to stdout for people, and as JSON lines to `logs/{instance}/` for each instance, also when
//! many instances share one process (`tse up`).
//!
//! Every instance runs inside an [`instance_span`]; a small layer tags such spans with the instance
//! name, and each instance's file layer keeps only events inside its own span. The host instruments
//! request handlers and service tasks with that span, so a handler's log line lands in the right file
//! even though hyper and tonic run connections on tasks of their own.

use std::{io::IsTerminal, path::PathBuf};

use tracing::{
    Subscriber,
    field::{Field, Visit},
    span::{Attributes, Id},
};
use tracing_appender::{
    non_blocking::WorkerGuard,
    rolling::{RollingFileAppender, Rotation},
};
use tracing_subscriber::{
    EnvFilter, Layer,
    filter::DynFilterFn,
    layer::{Context, SubscriberExt},
    registry::LookupSpan,
    util::SubscriberInitExt,
};

use crate::identity::Identity;

/// Name of the span every instance runs in.
pub const INSTANCE_SPAN: &str = "tse";

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

/// Keeps log writers alive; dropping it flushes every file.
#[must_use = "dropping Telemetry stops file logging"]
pub struct Telemetry {
    _guards: Vec<WorkerGuard>,
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
    /// A global subscriber is already installed.
    #[error("logging is already initialized")]
    AlreadyInitialized,
}

/// Installs the global subscriber: stdout at `level`, plus one daily-rotated JSON file per target.
///
/// # Errors
/// Returns a [`TelemetryError`] when a log directory cannot be created or a subscriber exists.
pub fn init(level: &str, targets: &[LogTarget]) -> Result<Telemetry, TelemetryError> {
    let filter = EnvFilter::builder()
        .parse(level)
        .map_err(|e| TelemetryError::Filter(e.to_string()))?;
    let mut guards = Vec::with_capacity(targets.len());
    let mut files = Vec::with_capacity(targets.len());
    for target in targets {
        let log_dir_error = |source| TelemetryError::LogDir {
            dir: target.dir.display().to_string(),
            source,
        };
        std::fs::create_dir_all(&target.dir).map_err(log_dir_error)?;
        let appender = RollingFileAppender::builder()
            .rotation(Rotation::DAILY)
            .filename_prefix(&target.instance)
            .filename_suffix("log")
            .max_log_files(7)
            .build(&target.dir)
            .map_err(|e| log_dir_error(std::io::Error::other(e)))?;
        let (writer, guard) = tracing_appender::non_blocking(appender);
        guards.push(guard);
        let instance = target.instance.clone();
        let only_this_instance = DynFilterFn::new(move |meta, cx| {
            // Spans are always let through so the scope below can be inspected.
            meta.is_span()
                || cx.lookup_current().is_some_and(|span| {
                    span.scope().any(|s| {
                        s.extensions()
                            .get::<InstanceTag>()
                            .is_some_and(|t| t.0 == instance)
                    })
                })
        });
        files.push(
            tracing_subscriber::fmt::layer()
                .json()
                .with_current_span(false)
                .with_span_list(true)
                .with_writer(writer)
                .with_filter(only_this_instance)
                .boxed(),
        );
    }
    let stdout = tracing_subscriber::fmt::layer()
        .with_target(false)
        .with_ansi(std::io::stdout().is_terminal());
    tracing_subscriber::registry()
        .with(filter)
        .with(InstanceTagLayer)
        .with(files)
        .with(stdout)
        .try_init()
        .map_err(|_| TelemetryError::AlreadyInitialized)?;
    Ok(Telemetry { _guards: guards })
}

/// The instance name recorded on an instance span.
struct InstanceTag(String);

/// Records [`InstanceTag`] on every instance span when it is created.
struct InstanceTagLayer;

impl<S> Layer<S> for InstanceTagLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if attrs.metadata().name() != INSTANCE_SPAN {
            return;
        }
        let mut visitor = InstanceField(None);
        attrs.record(&mut visitor);
        if let (Some(name), Some(span)) = (visitor.0, ctx.span(id)) {
            span.extensions_mut().insert(InstanceTag(name));
        }
    }
}

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
