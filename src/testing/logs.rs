//! Log queries: the records the pipeline exported, one record.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use opentelemetry::logs::{AnyValue, Severity};
use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry::{InstrumentationScope, Key};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{LogBatch, LogExporter, SdkLogRecord};

use super::attrs::distinct;
use crate::attributes::SERVICE_NAME;

/// Tests rarely log this much; beyond it the oldest records are evicted.
const MAX_TEST_LOGS: usize = 1_000_000;

/// One exported record and where it came from.
#[derive(Debug, Clone)]
pub(crate) struct CollectedLog {
    service: Arc<str>,
    scope: InstrumentationScope,
    record: SdkLogRecord,
}

/// The test kit's log exporter: keeps every record it is given (after the
/// exit check), also after shutdown.
#[derive(Debug, Clone, Default)]
pub(crate) struct LogStore {
    records: Arc<Mutex<Vec<CollectedLog>>>,
    service: Arc<str>,
}

impl LogStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<CollectedLog>> {
        self.records.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn snapshot(&self) -> Vec<CollectedLog> {
        self.lock().clone()
    }

    pub(crate) fn clear(&self) {
        self.lock().clear();
    }
}

impl LogExporter for LogStore {
    fn export(&self, batch: LogBatch<'_>) -> impl Future<Output = OTelSdkResult> + Send {
        let mut records = self.lock();
        for (record, scope) in batch.iter() {
            if records.len() >= MAX_TEST_LOGS {
                records.remove(0);
            }
            records.push(CollectedLog {
                service: self.service.clone(),
                scope: scope.clone(),
                record: record.clone(),
            });
        }
        std::future::ready(Ok(()))
    }

    fn set_resource(&mut self, resource: &Resource) {
        if let Some(name) = resource.get(&Key::from_static_str(SERVICE_NAME)) {
            self.service = Arc::from(name.as_str().as_ref());
        }
    }
}

/// A snapshot of exported log records, in the order they were emitted, with
/// queries. Get one from [`TestTelemetry::logs`](super::TestTelemetry::logs).
#[derive(Clone)]
pub struct LogSet {
    records: Vec<CollectedLog>,
}

impl fmt::Debug for LogSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl LogSet {
    pub(super) fn new(records: Vec<CollectedLog>) -> Self {
        LogSet { records }
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// True when there is no record.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Every record, in emission order.
    pub fn iter(&self) -> impl Iterator<Item = LogView<'_>> {
        self.records.iter().map(|record| LogView { record })
    }

    /// The bodies (text bodies only), in emission order.
    pub fn bodies(&self) -> Vec<&str> {
        self.iter().filter_map(|l| l.body()).collect()
    }

    /// Records whose body contains `text`.
    pub fn containing(&self, text: &str) -> Vec<LogView<'_>> {
        self.iter()
            .filter(|l| l.body().is_some_and(|b| b.contains(text)))
            .collect()
    }

    /// The one record whose body contains `text`.
    ///
    /// # Panics
    /// When there is no such record or more than one, listing the bodies.
    pub fn one(&self, text: &str) -> LogView<'_> {
        let found = self.containing(text);
        match found.as_slice() {
            [one] => *one,
            _ => panic!(
                "expected exactly one log record containing {text:?}, found {}; bodies: {:?}",
                found.len(),
                distinct(self.bodies().into_iter())
            ),
        }
    }

    /// Records with `event.name` equal to `name`.
    pub fn by_event_name(&self, name: &str) -> Vec<LogView<'_>> {
        self.iter()
            .filter(|l| l.event_name() == Some(name))
            .collect()
    }

    /// Records at `severity` or above.
    pub fn at_least(&self, severity: Severity) -> Vec<LogView<'_>> {
        self.iter()
            .filter(|l| l.severity().is_some_and(|s| s >= severity))
            .collect()
    }

    /// Records emitted inside the span `span_id` (not its children).
    pub fn in_span(&self, span_id: SpanId) -> Vec<LogView<'_>> {
        self.iter()
            .filter(|l| l.span_id() == Some(span_id))
            .collect()
    }

    /// Records of one trace.
    pub fn in_trace(&self, trace_id: TraceId) -> Vec<LogView<'_>> {
        self.iter()
            .filter(|l| l.trace_id() == Some(trace_id))
            .collect()
    }
}

/// One exported log record.
#[derive(Clone, Copy)]
pub struct LogView<'a> {
    record: &'a CollectedLog,
}

impl fmt::Debug for LogView<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogView")
            .field("severity", &self.severity_text())
            .field("body", &self.record.record.body())
            .field("event_name", &self.event_name())
            .field("trace_id", &self.trace_id())
            .field("span_id", &self.span_id())
            .finish_non_exhaustive()
    }
}

impl<'a> LogView<'a> {
    /// The SDK's record, for what no query covers.
    pub fn record(&self) -> &'a SdkLogRecord {
        &self.record.record
    }

    /// The `service.name` of the pipeline that exported it.
    pub fn service(&self) -> &'a str {
        &self.record.service
    }

    /// The instrumentation scope of the logger that emitted it.
    pub fn scope(&self) -> &'a InstrumentationScope {
        &self.record.scope
    }

    /// The body, when it is text (a `tracing` event's message).
    pub fn body(&self) -> Option<&'a str> {
        match self.record.record.body()? {
            AnyValue::String(s) => Some(s.as_str()),
            _ => None,
        }
    }

    /// The severity number.
    pub fn severity(&self) -> Option<Severity> {
        self.record.record.severity_number()
    }

    /// The severity text (`"INFO"`, `"ERROR"`, ...).
    pub fn severity_text(&self) -> Option<&'static str> {
        self.record.record.severity_text()
    }

    /// The `event.name`, when the code gave one.
    pub fn event_name(&self) -> Option<&'static str> {
        self.record.record.event_name()
    }

    /// The `tracing` target (exported as the scope name over OTLP).
    pub fn target(&self) -> Option<&'a str> {
        self.record.record.target().map(|t| t.as_ref())
    }

    /// The trace it was emitted in, if any.
    pub fn trace_id(&self) -> Option<TraceId> {
        self.record.record.trace_context().map(|tc| tc.trace_id)
    }

    /// The span it was emitted in, if any.
    pub fn span_id(&self) -> Option<SpanId> {
        self.record.record.trace_context().map(|tc| tc.span_id)
    }

    /// The value of attribute `key` (the last one, if repeated).
    pub fn attr(&self, key: &str) -> Option<&'a AnyValue> {
        self.record
            .record
            .attributes_iter()
            .filter(|(k, _)| k.as_str() == key)
            .map(|(_, v)| v)
            .last()
    }

    /// The value of `key` if it is text.
    pub fn attr_str(&self, key: &str) -> Option<&'a str> {
        match self.attr(key)? {
            AnyValue::String(s) => Some(s.as_str()),
            _ => None,
        }
    }

    /// The value of `key` if it is an integer.
    pub fn attr_i64(&self, key: &str) -> Option<i64> {
        match self.attr(key)? {
            AnyValue::Int(v) => Some(*v),
            _ => None,
        }
    }

    /// The value of `key` if it is a float.
    pub fn attr_f64(&self, key: &str) -> Option<f64> {
        match self.attr(key)? {
            AnyValue::Double(v) => Some(*v),
            _ => None,
        }
    }

    /// The value of `key` if it is a boolean.
    pub fn attr_bool(&self, key: &str) -> Option<bool> {
        match self.attr(key)? {
            AnyValue::Boolean(v) => Some(*v),
            _ => None,
        }
    }

    /// Whether attribute `key` is present.
    pub fn has_attr(&self, key: &str) -> bool {
        self.attr(key).is_some()
    }
}
