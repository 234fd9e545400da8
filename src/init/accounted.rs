//! The one wrapper around every exporter the set-up creates (OTLP, console,
//! the test kit's): it runs the exit check on spans, their resource and
//! metrics, counts every export's outcome, and keeps the export runtime
//! alive, forwarding each exporter method exactly once, here.
//!
//! Metrics: the SDK's metric data cannot be changed outside the SDK, so the
//! metric side turns each export into its OTLP request, checks that, and
//! hands it to a [`MetricSink`] (the crate's OTLP exporter, the test kit's
//! store) instead of a `PushMetricExporter`.
//!
//! Accounting in one place: an export's result is recorded once, as a failure
//! of its signal ([`ExportHealth`], which flush and shutdown report) and, for
//! spans that left the bounded queue, as exported or failed spans
//! ([`QueueCounters`]). Failures and the queue's drops are also reported in
//! the service's log, here on the exporter's thread: a WARN under
//! [`EXPORT_LOG_TARGET`], rate-limited per signal ([`WarnLimiter`]).

use std::future::Future;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use opentelemetry::logs::Severity;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{LogBatch, LogExporter};
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

use super::filter::EXPORT_LOG_TARGET;
use super::queue::QueueCounters;
use super::rate_limit::{Counts, WarnLimiter};
use super::runtime::ExportRuntime;
use crate::error::echo_error;
use crate::pii::{Redactor, strip_trace_states};

/// Where a checked metric request goes: the end of a metric pipeline.
pub(crate) trait MetricSink: Send + Sync + 'static {
    /// Sends (or keeps) one request.
    fn export(
        &self,
        request: ExportMetricsServiceRequest,
    ) -> impl Future<Output = OTelSdkResult> + Send;

    /// Releases the sink; later exports fail.
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult;
}

/// Export failures of one signal, shared between its exporters and the guard
/// so that flush and shutdown can report what the SDK swallows.
#[derive(Debug)]
pub(crate) struct ExportHealth {
    /// `traces` or `metrics`, as the WARN lines name it.
    signal: &'static str,
    /// When the next WARN line is due, and the counts it will carry.
    warnings: WarnLimiter,
    failures: AtomicU64,
    last_error: Mutex<Option<String>>,
    /// Why the HTTP client's last request failed: the OTLP HTTP exporter
    /// reports every transport failure as "network error", which hides the
    /// cause (connection refused, an untrusted certificate, ...).
    transport_error: Mutex<Option<String>>,
}

impl ExportHealth {
    /// The health of `signal` (`traces`, `metrics`), warning at most once
    /// a minute.
    pub(crate) fn for_signal(signal: &'static str) -> Self {
        Self::new(signal, WarnLimiter::default())
    }

    /// The health of `signal`, warning as `warnings` allows.
    pub(crate) fn new(signal: &'static str, warnings: WarnLimiter) -> Self {
        ExportHealth {
            signal,
            warnings,
            failures: AtomicU64::new(0),
            last_error: Mutex::new(None),
            transport_error: Mutex::new(None),
        }
    }

    /// Records an export of `spans` spans (0 for metrics) and `dropped`
    /// spans the queue dropped since the previous report.
    fn record(&self, result: &OTelSdkResult, spans: u64, dropped: u64) {
        let detail = self.transport_error.lock().ok().and_then(|mut d| d.take());
        let error = result.as_ref().err().map(|e| match detail {
            Some(detail) => format!("{e} ({detail})"),
            None => e.to_string(),
        });
        if let Some(error) = &error {
            self.failures.fetch_add(1, Ordering::Relaxed);
            if let Ok(mut last) = self.last_error.lock() {
                *last = Some(error.clone());
            }
        } else if dropped == 0 {
            return;
        }
        let failed = u64::from(error.is_some());
        let problem = Counts {
            failed_exports: failed,
            failed_spans: spans * failed,
            dropped_spans: dropped,
            last_error: error,
        };
        if let Some(counts) = self.warnings.note(problem) {
            warn_export(self.signal, &counts);
        }
    }

    #[cfg(feature = "http-proto")]
    pub(crate) fn note_transport_error(&self, error: String) {
        if let Ok(mut d) = self.transport_error.lock() {
            *d = Some(error);
        }
    }

    pub(crate) fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    pub(crate) fn last_error(&self) -> Option<String> {
        self.last_error.lock().ok().and_then(|l| l.clone())
    }
}

/// The WARN line of `signal`'s export problems since the previous line: on
/// the exporter's thread, with no parent span, under a target the
/// OpenTelemetry layer never exports (it cannot feed back).
fn warn_export(signal: &str, counts: &Counts) {
    let last_error = counts.last_error.as_deref().map(echo_error);
    tracing::warn!(
        target: EXPORT_LOG_TARGET,
        parent: None,
        signal,
        failed_exports = counts.failed_exports,
        failed_spans = counts.failed_spans,
        dropped_spans = counts.dropped_spans,
        last_error = last_error.as_deref().unwrap_or("none"),
        "{signal} export failing (collector down, slow or refusing?): counts since the previous line, at most one line a minute"
    );
}

/// An exporter with its accounting: see the [module docs](self). Build it
/// with [`Accounted::new`] and the options that apply.
#[derive(Debug)]
pub(crate) struct Accounted<E> {
    inner: E,
    health: Arc<ExportHealth>,
    /// The exit check before the inner exporter sees a batch or a request.
    redactor: Option<Redactor>,
    /// Spans without a redactor: whether `tracestate` is exported.
    keep_trace_state: bool,
    /// Spans and log records: the bounded queue the exported items leave.
    queue: Option<Arc<QueueCounters>>,
    /// Keeps the gRPC export runtime running while this exporter exists.
    _runtime: Option<Arc<ExportRuntime>>,
}

impl<E> Accounted<E> {
    /// `inner`, its failures counted in `health`.
    pub(crate) fn new(inner: E, health: Arc<ExportHealth>) -> Self {
        Accounted {
            inner,
            health,
            redactor: None,
            keep_trace_state: false,
            queue: None,
            _runtime: None,
        }
    }

    /// Checks every span batch and metric request with `redactor` first
    /// (when there is one).
    pub(crate) fn redacted(mut self, redactor: Option<Redactor>) -> Self {
        self.redactor = redactor;
        self
    }

    /// Spans: whether `tracestate` is exported. Without a redactor it is
    /// still removed unless `keep`; with one, the redactor decides.
    pub(crate) fn keeping_trace_state(mut self, keep: bool) -> Self {
        self.keep_trace_state = keep;
        self
    }

    /// The spans exported leave `queue` and are counted there.
    #[cfg_attr(not(any(feature = "grpc", feature = "http-proto")), allow(dead_code))]
    pub(crate) fn draining(mut self, queue: Arc<QueueCounters>) -> Self {
        self.queue = Some(queue);
        self
    }

    /// Keeps `runtime` alive as long as this exporter.
    #[cfg_attr(not(any(feature = "grpc", feature = "http-proto")), allow(dead_code))]
    pub(crate) fn on_runtime(mut self, runtime: Option<Arc<ExportRuntime>>) -> Self {
        self._runtime = runtime;
        self
    }

    /// `resource` as it may leave the process, or `None` when it needs no
    /// change (or nothing checks it).
    fn checked_resource(&self, resource: &Resource) -> Option<Resource> {
        self.redactor
            .as_ref()
            .and_then(|r| r.redact_resource(resource))
    }

    /// Records one export's outcome, of `spans` spans (0 for metrics).
    fn settle(&self, result: &OTelSdkResult, spans: u64) {
        let dropped = match &self.queue {
            Some(queue) => {
                queue.settle(spans, result.is_ok());
                queue.take_drops_to_warn()
            }
            None => 0,
        };
        self.health.record(result, spans, dropped);
    }
}

impl<E: SpanExporter> SpanExporter for Accounted<E> {
    async fn export(&self, mut batch: Vec<SpanData>) -> OTelSdkResult {
        let spans = batch.len() as u64;
        if let Some(queue) = &self.queue {
            queue.hand_over(spans);
        }
        match &self.redactor {
            Some(redactor) => redactor.redact_batch(&mut batch),
            None if !self.keep_trace_state => strip_trace_states(&mut batch),
            None => {}
        }
        let result = self.inner.export(batch).await;
        self.settle(&result, spans);
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    // The OTLP exporter takes the resource from here: forwarding is essential
    // (the trait's default does nothing). Tested below.
    fn set_resource(&mut self, resource: &Resource) {
        let checked = self.checked_resource(resource);
        self.inner
            .set_resource(checked.as_ref().unwrap_or(resource));
    }
}

impl<E: MetricSink> PushMetricExporter for Accounted<E> {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        let mut request = ExportMetricsServiceRequest::from(metrics);
        if let Some(redactor) = &self.redactor {
            redactor.redact_metrics(&mut request);
        }
        let result = self.inner.export(request).await;
        self.settle(&result, 0);
        result
    }

    fn force_flush(&self) -> OTelSdkResult {
        // Each export is sent when it is made: nothing is buffered here.
        Ok(())
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn temporality(&self) -> Temporality {
        // The next export carries everything a failed one had.
        Temporality::Cumulative
    }
}

// Log records are checked before they are queued (the exit check is the
// first log processor: the exporter gets them by shared reference), so only
// the accounting and the resource are left here.
impl<E: LogExporter> LogExporter for Accounted<E> {
    async fn export(&self, batch: LogBatch<'_>) -> OTelSdkResult {
        let records = batch.iter().count() as u64;
        if let Some(queue) = &self.queue {
            queue.hand_over(records);
        }
        let result = self.inner.export(batch).await;
        self.settle(&result, records);
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn event_enabled(&self, level: Severity, target: &str, name: Option<&str>) -> bool {
        self.inner.event_enabled(level, target, name)
    }

    fn set_resource(&mut self, resource: &Resource) {
        let checked = self.checked_resource(resource);
        self.inner
            .set_resource(checked.as_ref().unwrap_or(resource));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::KeyValue;
    use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
    use opentelemetry_sdk::error::OTelSdkError;
    use opentelemetry_sdk::trace::{SdkTracerProvider, SimpleSpanProcessor};

    /// Fails every export; remembers the resource it was given.
    #[derive(Debug, Default)]
    struct Probe {
        resource: Arc<Mutex<Option<Resource>>>,
        batches: Arc<Mutex<Vec<Vec<SpanData>>>>,
        fail: bool,
    }

    impl SpanExporter for Probe {
        async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
            if let Ok(mut b) = self.batches.lock() {
                b.push(batch);
            }
            if self.fail {
                Err(OTelSdkError::InternalFailure(
                    "collector unreachable".into(),
                ))
            } else {
                Ok(())
            }
        }

        fn set_resource(&mut self, resource: &Resource) {
            if let Ok(mut r) = self.resource.lock() {
                *r = Some(resource.clone());
            }
        }
    }

    #[test]
    fn failures_are_counted_once_with_the_last_error() {
        let health = Arc::new(ExportHealth::for_signal("traces"));
        let queue = Arc::new(QueueCounters::new(8));
        let exporter = Accounted::new(
            Probe {
                fail: true,
                ..Probe::default()
            },
            health.clone(),
        )
        .draining(queue.clone());
        let r = futures_block_on(exporter.export(vec![]));
        assert!(r.is_err());
        assert_eq!(health.failures(), 1);
        assert!(
            health
                .last_error()
                .unwrap()
                .contains("collector unreachable")
        );
    }

    #[test]
    fn resource_and_redaction_reach_the_inner_exporter() {
        let probe = Probe::default();
        let (resource, batches) = (probe.resource.clone(), probe.batches.clone());
        let counters = crate::pii::RedactionCounters::default();
        let exporter = Accounted::new(probe, Arc::new(ExportHealth::for_signal("traces")))
            .redacted(Some(Redactor::new(counters.clone())));
        let provider = SdkTracerProvider::builder()
            .with_resource(Resource::builder_empty().with_service_name("svc").build())
            .with_span_processor(SimpleSpanProcessor::new(exporter))
            .build();
        let mut span = provider.tracer("t").start("s");
        span.set_attribute(KeyValue::new("note", "mail jane@example.com"));
        span.end();

        let resource = resource
            .lock()
            .unwrap()
            .clone()
            .expect("set_resource forwarded");
        assert_eq!(
            resource
                .get(&opentelemetry::Key::from_static_str("service.name"))
                .map(|v| v.to_string()),
            Some("svc".to_owned())
        );
        let batches = batches.lock().unwrap();
        assert_eq!(
            batches[0][0].attributes[0].value.as_str(),
            "mail [REDACTED:email]"
        );
        assert_eq!(counters.emails(), 1);
    }

    fn futures_block_on<F: std::future::Future>(f: F) -> F::Output {
        // The exporter future never pends: poll it once with a no-op waker.
        let mut f = std::pin::pin!(f);
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        match f.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(v) => v,
            std::task::Poll::Pending => panic!("pending"),
        }
    }
}
