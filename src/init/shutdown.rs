//! Flush and shutdown that return within a bound.
//!
//! Each provider is flushed or shut down on a dedicated OS thread and the
//! caller waits on a channel with a deadline. The caller therefore never
//! blocks longer than the bound, whatever the collector does, and never
//! deadlocks a current-thread tokio runtime (the caller's runtime drives no
//! export work: see `exporters`). A thread that overruns keeps going in the
//! background and ends when the exporter's own timeout fires.

use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::SdkTracerProvider;

use super::exporters::ExportHealth;
use super::queue::QueueCounters;
use crate::error::{Error, Result};

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Flush,
    Shutdown,
}

impl Op {
    fn verb(self) -> &'static str {
        match self {
            Op::Flush => "flush",
            Op::Shutdown => "shutdown",
        }
    }
}

struct Outcome {
    signal: &'static str,
    result: OTelSdkResult,
    new_failures: u64,
    last_error: Option<String>,
}

pub(crate) fn run(
    op: Op,
    bound: Duration,
    tracer_provider: &SdkTracerProvider,
    meter_provider: &SdkMeterProvider,
    trace_health: &Arc<ExportHealth>,
    metric_health: &Arc<ExportHealth>,
    span_queue: &QueueCounters,
) -> Result<()> {
    let deadline = Instant::now() + bound;
    let (tx, rx) = mpsc::channel::<Outcome>();

    let tp = tracer_provider.clone();
    let traces = move || match op {
        Op::Flush => tp.force_flush(),
        Op::Shutdown => tp.shutdown_with_timeout(bound),
    };
    let mp = meter_provider.clone();
    let metrics = move || match op {
        Op::Flush => mp.force_flush(),
        Op::Shutdown => mp.shutdown_with_timeout(bound),
    };
    let started = spawn_signal("traces", trace_health.clone(), traces, tx.clone())
        + spawn_signal("metrics", metric_health.clone(), metrics, tx);

    let mut problems = Vec::new();
    let mut finished = Vec::new();
    for _ in 0..started {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(outcome) => {
                finished.push(outcome.signal);
                describe(op, &outcome, &mut problems);
            }
            Err(_) => break,
        }
    }
    for signal in ["traces", "metrics"] {
        if !finished.contains(&signal) {
            problems.push(format!(
                "{signal}: {} did not finish within {bound:?} (collector slow, hung or unreachable?)",
                op.verb()
            ));
        }
    }
    let dropped = span_queue.take_new_drops();
    if dropped > 0 {
        problems.push(format!(
            "traces: {dropped} span(s) dropped because the export queue ({} spans) was full (collector slow or unreachable?)",
            span_queue.capacity()
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::Shutdown(problems.join("; ")))
    }
}

/// Runs `f` on its own thread and reports on `tx`. Returns how many threads
/// were started (0 if the OS refused one: that signal is then reported as
/// not finished rather than run on the caller's thread without a bound).
fn spawn_signal(
    signal: &'static str,
    health: Arc<ExportHealth>,
    f: impl FnOnce() -> OTelSdkResult + Send + 'static,
    tx: mpsc::Sender<Outcome>,
) -> usize {
    let spawned = std::thread::Builder::new()
        .name(format!("checkout-otel-{signal}-shutdown"))
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

fn describe(op: Op, o: &Outcome, problems: &mut Vec<String>) {
    // The SDK reports Ok from a batch processor's shutdown even when the
    // final export failed, and a vague error from the metric reader: the
    // failures our exporter wrapper counted say more.
    if o.new_failures == 0 {
        match &o.result {
            Ok(()) | Err(OTelSdkError::AlreadyShutdown) => {}
            Err(e) => problems.push(format!("{}: {} failed: {e}", o.signal, op.verb())),
        }
    } else {
        problems.push(format!(
            "{}: {} export(s) failed during {}: {}",
            o.signal,
            o.new_failures,
            op.verb(),
            o.last_error.as_deref().unwrap_or("unknown error")
        ));
    }
}
