//! Flush and shutdown that return within a bound.
//!
//! Each provider is flushed or shut down on a dedicated OS thread and the
//! caller waits on a channel with a deadline. The caller therefore never
//! blocks longer than the bound, whatever the collector does, and never
//! deadlocks a current-thread tokio runtime (the caller's runtime drives no
//! export work: see `runtime`). A thread that overruns keeps going in the
//! background and ends when the exporter's own timeout fires.

use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::SdkTracerProvider;

use super::accounted::ExportHealth;
use super::queue::QueueCounters;
use crate::error::{ShutdownError, ShutdownOperation, ShutdownReport, SignalReport};

/// The accounts flush and shutdown report from: one set per guard.
#[derive(Debug)]
pub(crate) struct ExportAccounts {
    pub(crate) traces: Arc<ExportHealth>,
    pub(crate) metrics: Arc<ExportHealth>,
    pub(crate) logs: Arc<ExportHealth>,
    /// The OTLP span queue's counters; all zero without one.
    pub(crate) span_queue: Arc<QueueCounters>,
    /// The OTLP log queue's counters; all zero without one.
    pub(crate) log_queue: Arc<QueueCounters>,
}

impl Default for ExportAccounts {
    fn default() -> Self {
        ExportAccounts {
            traces: Arc::new(ExportHealth::for_signal("traces")),
            metrics: Arc::new(ExportHealth::for_signal("metrics")),
            logs: Arc::new(ExportHealth::for_signal("logs")),
            span_queue: Arc::default(),
            log_queue: Arc::default(),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Signal {
    Traces,
    Metrics,
    Logs,
}

struct Outcome {
    signal: Signal,
    result: OTelSdkResult,
    new_failures: u64,
    last_error: Option<String>,
}

/// The providers of one set-up, flushed and shut down together.
pub(crate) struct Providers<'a> {
    pub(crate) tracer: &'a SdkTracerProvider,
    pub(crate) meter: &'a SdkMeterProvider,
    pub(crate) logger: &'a SdkLoggerProvider,
}

/// Flushes or shuts down every provider within `bound`, in parallel.
pub(crate) fn run(
    op: ShutdownOperation,
    bound: Duration,
    providers: Providers<'_>,
    accounts: &ExportAccounts,
) -> Result<(), ShutdownError> {
    // Checked: `bound` is a user's value, and `Instant + Duration` panics on
    // overflow. Without a representable deadline, each wait gets the bound.
    let deadline = Instant::now().checked_add(bound);
    let (tx, rx) = mpsc::channel::<Outcome>();

    let tp = providers.tracer.clone();
    let traces = move || match op {
        ShutdownOperation::Flush => tp.force_flush(),
        ShutdownOperation::Shutdown => tp.shutdown_with_timeout(bound),
    };
    let mp = providers.meter.clone();
    let metrics = move || match op {
        ShutdownOperation::Flush => mp.force_flush(),
        ShutdownOperation::Shutdown => mp.shutdown_with_timeout(bound),
    };
    let lp = providers.logger.clone();
    let logs = move || match op {
        ShutdownOperation::Flush => lp.force_flush(),
        ShutdownOperation::Shutdown => lp.shutdown_with_timeout(bound),
    };
    let started = spawn_signal(Signal::Traces, accounts.traces.clone(), traces, tx.clone())
        + spawn_signal(
            Signal::Metrics,
            accounts.metrics.clone(),
            metrics,
            tx.clone(),
        )
        + spawn_signal(Signal::Logs, accounts.logs.clone(), logs, tx);

    // A signal is timed out until its thread reports.
    let timed_out = SignalReport {
        timed_out: true,
        ..SignalReport::default()
    };
    let mut report = ShutdownReport {
        operation: op,
        bound,
        traces: timed_out.clone(),
        metrics: timed_out.clone(),
        logs: timed_out,
    };
    for _ in 0..started {
        let left = deadline.map_or(bound, |d| d.saturating_duration_since(Instant::now()));
        let Ok(outcome) = rx.recv_timeout(left) else {
            break;
        };
        let signal = match outcome.signal {
            Signal::Traces => &mut report.traces,
            Signal::Metrics => &mut report.metrics,
            Signal::Logs => &mut report.logs,
        };
        *signal = report_of(outcome);
    }
    report.traces.dropped_spans = accounts.span_queue.take_new_drops();
    report.traces.queue_capacity = accounts.span_queue.capacity();
    report.logs.dropped_log_records = accounts.log_queue.take_new_drops();
    report.logs.queue_capacity = accounts.log_queue.capacity();
    if report.traces.is_ok() && report.metrics.is_ok() && report.logs.is_ok() {
        Ok(())
    } else {
        Err(ShutdownError::new(report))
    }
}

/// Runs `f` on its own thread and reports on `tx`. Returns how many threads
/// were started (0 if the OS refused one: that signal is then reported as
/// timed out rather than run on the caller's thread without a bound).
fn spawn_signal(
    signal: Signal,
    health: Arc<ExportHealth>,
    f: impl FnOnce() -> OTelSdkResult + Send + 'static,
    tx: mpsc::Sender<Outcome>,
) -> usize {
    let name = match signal {
        Signal::Traces => "checkout-otel-traces-shutdown",
        Signal::Metrics => "checkout-otel-metrics-shutdown",
        Signal::Logs => "checkout-otel-logs-shutdown",
    };
    let spawned = std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let before = health.failures();
            let result = f();
            let new_failures = health.failures().saturating_sub(before);
            let _ = tx.send(Outcome {
                signal,
                result,
                new_failures,
                last_error: health.last_error(),
            });
        });
    usize::from(spawned.is_ok())
}

/// What one signal's finished flush or shutdown says. The SDK reports Ok
/// from a batch processor's shutdown even when the final export failed, and
/// a vague error from the metric reader: the failures our exporter wrapper
/// counted say more, so they come first.
fn report_of(o: Outcome) -> SignalReport {
    let mut report = SignalReport {
        failed_exports: o.new_failures,
        last_export_error: (o.new_failures > 0).then_some(o.last_error).flatten(),
        ..SignalReport::default()
    };
    match o.result {
        Ok(()) | Err(OTelSdkError::AlreadyShutdown) => {}
        // The SDK's own deadline (the same bound) passed first.
        Err(e) if o.new_failures == 0 && sdk_timed_out(&e) => report.timed_out = true,
        Err(e) => report.provider_error = Some(e.to_string()),
    }
    report
}

/// Whether the SDK's error says only that its deadline passed. The tracer
/// provider wraps its processors' results in one `InternalFailure`
/// (`"Shutdown errors: [Timeout(1s)]"`, `"errs: [Ok(()), Err(Timeout(1s))]"`),
/// so a timeout can arrive in that shape too.
fn sdk_timed_out(e: &OTelSdkError) -> bool {
    match e {
        OTelSdkError::Timeout(_) => true,
        OTelSdkError::InternalFailure(message) => message
            .strip_prefix("Shutdown errors: ")
            .or_else(|| message.strip_prefix("errs: "))
            .is_some_and(|list| {
                list.contains("Timeout(")
                    && !list.contains("InternalFailure")
                    && !list.contains("AlreadyShutdown")
            }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timeout_wrapped_by_the_tracer_provider_is_a_timeout() {
        let wrapped = |m: &str| OTelSdkError::InternalFailure(m.to_owned());
        assert!(sdk_timed_out(&OTelSdkError::Timeout(Duration::from_secs(
            1
        ))));
        assert!(sdk_timed_out(&wrapped("Shutdown errors: [Timeout(1s)]")));
        assert!(sdk_timed_out(&wrapped("errs: [Ok(()), Err(Timeout(1s))]")));
        assert!(!sdk_timed_out(&wrapped(
            "Shutdown errors: [Timeout(1s), InternalFailure(\"x\")]"
        )));
        assert!(!sdk_timed_out(&wrapped("connection refused")));
    }

    #[test]
    fn a_bound_past_the_end_of_time_neither_panics_nor_waits() {
        // No deadline can be computed for Duration::MAX (`Instant + Duration`
        // overflows): each wait gets the bound, and these providers finish at once.
        let tracer_provider = SdkTracerProvider::builder().build();
        let meter_provider = SdkMeterProvider::builder().build();
        let logger_provider = SdkLoggerProvider::builder().build();
        let accounts = ExportAccounts::default();
        for op in [ShutdownOperation::Flush, ShutdownOperation::Shutdown] {
            let providers = Providers {
                tracer: &tracer_provider,
                meter: &meter_provider,
                logger: &logger_provider,
            };
            let result = run(op, Duration::MAX, providers, &accounts);
            assert_eq!(result, Ok(()), "{op}");
        }
    }
}
