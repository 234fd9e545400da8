//! [`ShutdownError`]: what a flush or shutdown did not get out, with counts.

use std::fmt;
use std::time::Duration;

/// Which guard operation a [`ShutdownError`] comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ShutdownOperation {
    /// [`TelemetryGuard::force_flush`](crate::TelemetryGuard::force_flush).
    Flush,
    /// [`TelemetryGuard::shutdown`](crate::TelemetryGuard::shutdown), or drop of the guard.
    Shutdown,
}

impl ShutdownOperation {
    fn verb(self) -> &'static str {
        match self {
            ShutdownOperation::Flush => "flush",
            ShutdownOperation::Shutdown => "shutdown",
        }
    }
}

impl fmt::Display for ShutdownOperation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.verb())
    }
}

/// What went wrong for one signal (traces, metrics or logs) in a flush or shutdown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SignalReport {
    /// The signal did not finish within the bound
    /// ([`ShutdownError::bound`]); it keeps going in the background until the
    /// exporter's own timeout. A collector slow, hung or unreachable.
    pub timed_out: bool,
    /// Exports that failed during the operation (the SDK alone would report
    /// success for some of them).
    pub failed_exports: u64,
    /// Why the last failed export failed (no header values, no URL).
    pub last_export_error: Option<String>,
    /// Spans dropped because the export queue was full, since the previous
    /// flush or shutdown (each drop is reported once). Always 0 for metrics and logs.
    pub dropped_spans: u64,
    /// Log records dropped because the log export queue was full, since the
    /// previous flush or shutdown. Always 0 for traces and metrics.
    pub dropped_log_records: u64,
    /// The capacity of the queue that dropped them, in spans or log records.
    pub queue_capacity: u64,
    /// An error the provider reported that no counted export explains.
    pub provider_error: Option<String>,
}

impl SignalReport {
    /// Whether nothing went wrong for this signal.
    pub fn is_ok(&self) -> bool {
        *self
            == SignalReport {
                queue_capacity: self.queue_capacity,
                ..SignalReport::default()
            }
    }

    fn describe(&self, signal: &str, op: ShutdownOperation, bound: Duration) -> Vec<String> {
        let mut out = Vec::new();
        if self.timed_out {
            out.push(format!(
                "{signal}: {op} did not finish within {bound:?} (collector slow, hung or unreachable?)"
            ));
        }
        if self.failed_exports > 0 {
            out.push(format!(
                "{signal}: {} export(s) failed during {op}: {}",
                self.failed_exports,
                self.last_export_error.as_deref().unwrap_or("unknown error")
            ));
        } else if let Some(e) = &self.provider_error {
            out.push(format!("{signal}: {op} failed: {e}"));
        }
        if self.dropped_spans > 0 {
            out.push(format!(
                "{signal}: {} span(s) dropped because the export queue ({} spans) was full (collector slow or unreachable?)",
                self.dropped_spans, self.queue_capacity
            ));
        }
        if self.dropped_log_records > 0 {
            out.push(format!(
                "{signal}: {} log record(s) dropped because the export queue ({} records) was full (collector slow or unreachable?)",
                self.dropped_log_records, self.queue_capacity
            ));
        }
        out
    }
}

/// A flush or shutdown that did not get everything out, from
/// [`TelemetryGuard::force_flush`](crate::TelemetryGuard::force_flush) or
/// [`shutdown`](crate::TelemetryGuard::shutdown): per signal, whether it
/// timed out, how many exports failed and how many spans were dropped.
///
/// ```
/// # use checkout_otel::error::ShutdownError;
/// fn on_shutdown(result: Result<(), ShutdownError>) {
///     if let Err(e) = result {
///         if e.timed_out() {
///             eprintln!("collector hung: {e}");
///         }
///         if e.dropped_spans() > 0 {
///             eprintln!("raise span_queue_size: {} spans lost", e.dropped_spans());
///         }
///         if e.metrics().failed_exports > 0 {
///             eprintln!("metrics lost: {:?}", e.metrics().last_export_error);
///         }
///     }
/// }
/// # on_shutdown(Ok(()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShutdownError(Box<ShutdownReport>);

/// The content of a [`ShutdownError`], boxed: errors stay one pointer wide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ShutdownReport {
    pub(crate) operation: ShutdownOperation,
    pub(crate) bound: Duration,
    pub(crate) traces: SignalReport,
    pub(crate) metrics: SignalReport,
    pub(crate) logs: SignalReport,
}

impl ShutdownError {
    pub(crate) fn new(report: ShutdownReport) -> Self {
        ShutdownError(Box::new(report))
    }

    /// Flush or shutdown.
    pub fn operation(&self) -> ShutdownOperation {
        self.0.operation
    }

    /// The bound the operation had
    /// ([`shutdown_timeout`](crate::TelemetryBuilder::shutdown_timeout)).
    pub fn bound(&self) -> Duration {
        self.0.bound
    }

    /// What happened to traces.
    pub fn traces(&self) -> &SignalReport {
        &self.0.traces
    }

    /// What happened to metrics.
    pub fn metrics(&self) -> &SignalReport {
        &self.0.metrics
    }

    /// What happened to logs.
    pub fn logs(&self) -> &SignalReport {
        &self.0.logs
    }

    /// Whether any signal did not finish within the bound.
    pub fn timed_out(&self) -> bool {
        self.0.traces.timed_out || self.0.metrics.timed_out || self.0.logs.timed_out
    }

    /// Spans dropped from a full export queue since the previous report.
    pub fn dropped_spans(&self) -> u64 {
        self.0.traces.dropped_spans
    }

    /// Log records dropped from a full export queue since the previous report.
    pub fn dropped_log_records(&self) -> u64 {
        self.0.logs.dropped_log_records
    }

    /// Failed exports of every signal.
    pub fn failed_exports(&self) -> u64 {
        self.0.traces.failed_exports + self.0.metrics.failed_exports + self.0.logs.failed_exports
    }
}

impl fmt::Display for ShutdownError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.0;
        let problems: Vec<String> = [
            ("traces", &r.traces),
            ("metrics", &r.metrics),
            ("logs", &r.logs),
        ]
        .into_iter()
        .flat_map(|(signal, report)| report.describe(signal, r.operation, r.bound))
        .collect();
        write!(f, "telemetry {}: {}", r.operation, problems.join("; "))
    }
}

impl std::error::Error for ShutdownError {}
