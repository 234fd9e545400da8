//! The input of the waterfall: one owned row per span, built from the SDK's
//! span data or by hand.

use std::time::{Duration, SystemTime};

use opentelemetry::logs::AnyValue;
use opentelemetry::trace::{SpanId, SpanKind, Status, TraceId};
use opentelemetry::{Key, KeyValue, Value};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::logs::SdkLogRecord;
use opentelemetry_sdk::trace::SpanData;

use crate::attributes::{ERROR_TYPE, SERVICE_NAME};

/// Service name used before an exporter has been given a resource, and for
/// resources without `service.name` (the SDK's own fallback spelling).
pub(super) const UNKNOWN_SERVICE: &str = "unknown_service";

/// One span, reduced to what the waterfall shows. Build it from the SDK's
/// [`SpanData`] with [`WaterfallSpan::from_span_data`], or by hand with
/// [`WaterfallSpan::new`] and the `with_*` methods (for spans from another
/// source, or for tests with fixed timings).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct WaterfallSpan {
    /// The trace the span belongs to.
    pub trace_id: TraceId,
    /// The span's own id.
    pub span_id: SpanId,
    /// The parent's id, [`SpanId::INVALID`] for a trace's root.
    pub parent_span_id: SpanId,
    /// Whether the parent was in another process (propagated context).
    pub parent_is_remote: bool,
    /// The span name.
    pub name: String,
    /// The `service.name` of the process that produced the span.
    pub service: String,
    /// The span kind (not drawn; kept for callers that filter on it).
    pub kind: SpanKind,
    /// Start time.
    pub start: SystemTime,
    /// End time.
    pub end: SystemTime,
    /// `Some(error.type)` (or the status message when `error.type` is
    /// missing) when the span failed; drawn as `✗ …`.
    pub error: Option<String>,
    /// The log records emitted in the span, in order: one line each under
    /// the span's row.
    pub logs: Vec<WaterfallLog>,
}

/// A log record emitted in a span, as the waterfall shows it: severity and
/// body (scrubbed when drawn).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WaterfallLog {
    /// The severity text (`INFO`, `WARN`, ...).
    pub severity: String,
    /// The body.
    pub body: String,
}

impl WaterfallLog {
    /// A log line.
    pub fn new(severity: impl Into<String>, body: impl Into<String>) -> Self {
        WaterfallLog {
            severity: severity.into(),
            body: body.into(),
        }
    }

    /// The severity and body of an SDK log record.
    pub fn from_record(record: &SdkLogRecord) -> Self {
        let severity = record
            .severity_text()
            .map(str::to_owned)
            .or_else(|| record.severity_number().map(|s| s.name().to_owned()))
            .unwrap_or_default();
        let body = match record.body() {
            Some(AnyValue::String(s)) => s.as_str().to_owned(),
            Some(other) => format!("{other:?}"),
            None => record.event_name().unwrap_or_default().to_owned(),
        };
        WaterfallLog { severity, body }
    }
}

impl WaterfallSpan {
    /// A span without a parent (a root), of kind `Internal`, without error.
    pub fn new(
        trace_id: TraceId,
        span_id: SpanId,
        name: impl Into<String>,
        service: impl Into<String>,
        start: SystemTime,
        end: SystemTime,
    ) -> Self {
        WaterfallSpan {
            trace_id,
            span_id,
            parent_span_id: SpanId::INVALID,
            parent_is_remote: false,
            name: name.into(),
            service: service.into(),
            kind: SpanKind::Internal,
            start,
            end,
            error: None,
            logs: Vec::new(),
        }
    }

    /// Sets a parent in the same process.
    pub fn with_parent(mut self, parent: SpanId) -> Self {
        self.parent_span_id = parent;
        self.parent_is_remote = false;
        self
    }

    /// Sets a parent in another process (the span continues a propagated trace).
    pub fn with_remote_parent(mut self, parent: SpanId) -> Self {
        self.parent_span_id = parent;
        self.parent_is_remote = true;
        self
    }

    /// Marks the span failed with this `error.type`.
    pub fn with_error(mut self, error_type: impl Into<String>) -> Self {
        self.error = Some(error_type.into());
        self
    }

    /// Adds a log line under the span.
    pub fn with_log(mut self, log: WaterfallLog) -> Self {
        self.logs.push(log);
        self
    }

    /// Sets the span kind.
    pub fn with_kind(mut self, kind: SpanKind) -> Self {
        self.kind = kind;
        self
    }

    /// Builds a row from exported span data. `SpanData` does not carry the
    /// resource, so the service name is passed in (an exporter gets it from
    /// [`SpanExporter::set_resource`]).
    ///
    /// [`SpanExporter::set_resource`]: opentelemetry_sdk::trace::SpanExporter::set_resource
    ///
    /// The span counts as failed when its status is `Error` or it carries
    /// `error.type`; the marker shows `error.type`, else the status message,
    /// else `error`.
    pub fn from_span_data(data: &SpanData, service: &str) -> Self {
        let error_type = last_attr(&data.attributes, ERROR_TYPE).map(|v| v.as_str().into_owned());
        let error = match (&data.status, error_type) {
            (_, Some(t)) if !t.is_empty() => Some(t),
            (Status::Error { description }, _) if !description.is_empty() => {
                Some(description.to_string())
            }
            (Status::Error { .. }, _) => Some("error".to_owned()),
            _ => None,
        };
        WaterfallSpan {
            trace_id: data.span_context.trace_id(),
            span_id: data.span_context.span_id(),
            parent_span_id: data.parent_span_id,
            parent_is_remote: data.parent_span_is_remote,
            name: data.name.to_string(),
            service: service.to_owned(),
            kind: data.span_kind.clone(),
            start: data.start_time,
            end: data.end_time,
            error,
            logs: Vec::new(),
        }
    }

    /// `end - start`, zero if the clock went backwards.
    pub fn duration(&self) -> Duration {
        self.end.duration_since(self.start).unwrap_or_default()
    }

    /// True for the first span of a trace in this process: no parent, or a
    /// parent in another process.
    pub fn is_local_root(&self) -> bool {
        self.parent_span_id == SpanId::INVALID || self.parent_is_remote
    }
}

/// The last value of `key`: the SDK does not de-duplicate attributes, and the
/// last write is the one the code meant.
pub(crate) fn last_attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a Value> {
    attrs
        .iter()
        .rev()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| &kv.value)
}

/// The `service.name` of a resource, or `unknown_service`.
pub(super) fn service_name_of(resource: &Resource) -> String {
    resource
        .get(&Key::from_static_str(SERVICE_NAME))
        .map(|v| v.as_str().into_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| UNKNOWN_SERVICE.to_owned())
}
