//! Where a failure's exception goes: a span event (the default), a log
//! record, or both, as `OTEL_SEMCONV_EXCEPTION_SIGNAL_OPT_IN` chooses.
//!
//! The semantic conventions deprecate exceptions recorded as span events in
//! favour of exceptions in logs; instrumentations that record span events
//! should honour this variable. The exception log record is a `tracing`
//! event of target [`EXCEPTION_LOG_TARGET`] emitted in the failed span's
//! context, so it reaches the logs bridge ([`TelemetryGuard::logs_layer`](crate::init::TelemetryGuard::logs_layer))
//! with the span's trace and span id, and the service's own log output.

use std::sync::atomic::{AtomicU8, Ordering};

use opentelemetry::Context;
use opentelemetry::trace::{SpanContext, TraceContextExt as _};

use crate::attributes::{ErrorType, FailureKind};

/// The `tracing` target of the exception log records the span helpers emit.
pub const EXCEPTION_LOG_TARGET: &str = "checkout_otel::exception";

/// Where the span helpers record a failure's exception
/// (`OTEL_SEMCONV_EXCEPTION_SIGNAL_OPT_IN`).
///
/// A log record carries `exception.type`, `exception.message` (scrubbed),
/// `error.type` and `failure.kind`, the failed span's trace and span id, and
/// a severity by the failure's kind: ERROR for a fault, INFO for a business
/// rejection (a decline is not an error in the log store). Its body is the
/// scrubbed message.
///
/// ```
/// use checkout_otel::spans::ExceptionSignal;
/// assert_eq!(ExceptionSignal::parse("logs/dup"), Some(ExceptionSignal::Both));
/// assert_eq!(ExceptionSignal::parse(""), Some(ExceptionSignal::SpanEvent));
/// assert_eq!(ExceptionSignal::parse("spans"), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ExceptionSignal {
    /// An `exception` event on the span (unset: today's behaviour).
    #[default]
    SpanEvent,
    /// A log record only (`logs`).
    Logs,
    /// Both the span event and the log record (`logs/dup`).
    Both,
}

impl ExceptionSignal {
    /// The variable it is read from.
    pub const ENV: &'static str = "OTEL_SEMCONV_EXCEPTION_SIGNAL_OPT_IN";

    /// The value of `OTEL_SEMCONV_EXCEPTION_SIGNAL_OPT_IN`: `logs`,
    /// `logs/dup`, or empty for span events; `None` for anything else.
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "" => Some(ExceptionSignal::SpanEvent),
            "logs" => Some(ExceptionSignal::Logs),
            "logs/dup" => Some(ExceptionSignal::Both),
            _ => None,
        }
    }

    /// Whether the span gets an `exception` event.
    pub fn span_event(self) -> bool {
        self != ExceptionSignal::Logs
    }

    /// Whether an exception log record is emitted.
    pub fn log(self) -> bool {
        self != ExceptionSignal::SpanEvent
    }

    fn code(self) -> u8 {
        match self {
            ExceptionSignal::SpanEvent => 0,
            ExceptionSignal::Logs => 1,
            ExceptionSignal::Both => 2,
        }
    }
}

/// The choice `init` installed, for tracers over the global providers.
static INSTALLED: AtomicU8 = AtomicU8::new(0);

pub(crate) fn install(signal: ExceptionSignal) {
    INSTALLED.store(signal.code(), Ordering::Relaxed);
}

pub(crate) fn installed() -> ExceptionSignal {
    match INSTALLED.load(Ordering::Relaxed) {
        1 => ExceptionSignal::Logs,
        2 => ExceptionSignal::Both,
        _ => ExceptionSignal::SpanEvent,
    }
}

/// Emits the exception log record of a failure recorded on the span of
/// `span_context`; `message` is already scrubbed.
pub(super) fn emit_log(
    span_context: &SpanContext,
    error_type: ErrorType,
    kind: FailureKind,
    exception_type: &str,
    message: &str,
) {
    // The span's own context, current while the event is emitted: the log
    // record and the log line take its ids. `parent: None` keeps the event
    // off any enclosing `tracing` span (it would become a span event there).
    let _current = Context::new()
        .with_remote_span_context(span_context.clone())
        .attach();
    let (error_type, kind_name) = (error_type.as_str(), kind.as_str());
    macro_rules! exception_event {
        ($level:expr) => {
            tracing::event!(
                target: EXCEPTION_LOG_TARGET,
                parent: None,
                $level,
                { "exception.type" = exception_type, "exception.message" = message, "error.type" = error_type, "failure.kind" = kind_name },
                "{message}"
            )
        };
    }
    // `event!` takes its level as a constant: one call per level.
    match kind {
        FailureKind::Fault => exception_event!(tracing::Level::ERROR),
        _ => exception_event!(tracing::Level::INFO),
    }
}
