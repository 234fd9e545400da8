//! The logs signal: the `tracing` → OpenTelemetry log bridge over the
//! guard's logger provider, and the bounded queue of the log export.
//!
//! The bridge is opentelemetry-appender-tracing's layer, over a provider
//! wrapper that gives every record the crate's one instrumentation scope
//! (its version and schema URL reach the collector; the OTLP encoding of
//! opentelemetry-proto 0.33 replaces the scope's *name* with the event's
//! `tracing` target, so a log store can filter by module) and leaves out the name `tracing` makes up for an event without one
//! (`"event src/main.rs:42"`), so `event.name` is exported only where the
//! code gave one (`info!(name: "order.placed", ..)`). A record takes the
//! trace and span id of the OpenTelemetry context current where it was
//! emitted: a `tracing` span's (the tracing-opentelemetry layer activates
//! it) or a typed span's (entered or run).
//!
//! The log queue is bounded like the span queue (see [`queue`](super::queue)):
//! [`BoundedLogs`] admits a record only while fewer than its capacity wait,
//! and the SDK's batch processor gets that same capacity, so every record is
//! counted once as dropped here or as exported or failed by the exporter's
//! [`Accounted`](super::accounted::Accounted) wrapper.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use opentelemetry::logs::{AnyValue, LogRecord, Logger, LoggerProvider, Severity};
use opentelemetry::{InstrumentationScope, Key, SpanId, TraceFlags, TraceId};
use opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{
    BatchConfigBuilder, BatchLogProcessor, LogExporter, LogProcessor, SdkLogRecord, SdkLogger,
    SdkLoggerProvider,
};
use tracing_subscriber::Layer;
use tracing_subscriber::registry::LookupSpan;

use super::batch::LogExport;
use super::queue::QueueCounters;
use crate::scope::instrumentation_scope;

/// The SDK's batch processor over `exporter` behind the counted bound of
/// `queue`, with the sizes of `OTEL_BLRP_*` as the set-up read and bounded
/// them: the SDK would read them from the process environment itself,
/// unchecked (see [`batch`](super::batch)).
#[cfg_attr(not(any(feature = "grpc", feature = "http-proto")), allow(dead_code))]
pub(crate) fn batch<E>(
    exporter: E,
    queue: Arc<QueueCounters>,
    sizes: &LogExport,
) -> BoundedLogs<BatchLogProcessor>
where
    E: LogExporter + 'static,
{
    let config = BatchConfigBuilder::default()
        .with_max_queue_size(sizes.queue_size)
        .with_max_export_batch_size(sizes.batch_size)
        .with_scheduled_delay(sizes.schedule_delay)
        .build();
    let processor = BatchLogProcessor::builder(exporter)
        .with_batch_config(config)
        .build();
    BoundedLogs::new(processor, queue)
}

/// The bridge layer over `provider`, filtered like the OpenTelemetry layer
/// by `directives` (see [`filter`](super::filter)): `tracing` events become
/// log records, except those of the exporter's own targets (see
/// [`EXPORTER_INTERNAL_TARGETS`](super::EXPORTER_INTERNAL_TARGETS)) and the
/// crate's own warnings about export, which would otherwise feed back.
pub(crate) fn layer<S>(provider: &SdkLoggerProvider, directives: &str) -> impl Layer<S> + use<S>
where
    S: tracing::Subscriber + for<'span> LookupSpan<'span>,
{
    OpenTelemetryTracingBridge::new(&BridgeProvider(provider.clone()))
        .with_filter(super::filter::otel_layer_filter(directives))
}

/// The guard's logger provider as the bridge sees it.
struct BridgeProvider(SdkLoggerProvider);

impl LoggerProvider for BridgeProvider {
    type Logger = BridgeLogger;

    // The bridge asks for a logger without a name: it gets the crate's scope.
    fn logger_with_scope(&self, _scope: InstrumentationScope) -> BridgeLogger {
        BridgeLogger(self.0.logger_with_scope(instrumentation_scope()))
    }
}

/// The SDK logger, creating [`BridgeRecord`]s.
pub(crate) struct BridgeLogger(SdkLogger);

impl Logger for BridgeLogger {
    type LogRecord = BridgeRecord;

    fn create_log_record(&self) -> BridgeRecord {
        BridgeRecord(self.0.create_log_record())
    }

    fn emit(&self, record: BridgeRecord) {
        self.0.emit(record.0);
    }

    fn event_enabled(&self, level: Severity, target: &str, name: Option<&str>) -> bool {
        self.0.event_enabled(level, target, name)
    }
}

/// The SDK record, without the event names `tracing` makes up.
pub(crate) struct BridgeRecord(SdkLogRecord);

/// Whether `name` is the one `tracing` gives an event without a `name:`:
/// `"event <file>:<line>"`.
fn is_made_up_event_name(name: &str) -> bool {
    name.strip_prefix("event ")
        .and_then(|rest| rest.rsplit_once(':'))
        .is_some_and(|(_, line)| !line.is_empty() && line.bytes().all(|b| b.is_ascii_digit()))
}

impl LogRecord for BridgeRecord {
    fn set_event_name(&mut self, name: &'static str) {
        if !is_made_up_event_name(name) {
            self.0.set_event_name(name);
        }
    }

    fn set_target<T>(&mut self, target: T)
    where
        T: Into<Cow<'static, str>>,
    {
        self.0.set_target(target);
    }

    fn set_timestamp(&mut self, timestamp: SystemTime) {
        self.0.set_timestamp(timestamp);
    }

    fn set_observed_timestamp(&mut self, timestamp: SystemTime) {
        self.0.set_observed_timestamp(timestamp);
    }

    fn set_severity_text(&mut self, text: &'static str) {
        self.0.set_severity_text(text);
    }

    fn set_severity_number(&mut self, number: Severity) {
        self.0.set_severity_number(number);
    }

    fn set_body(&mut self, body: AnyValue) {
        self.0.set_body(body);
    }

    fn add_attributes<I, K, V>(&mut self, attributes: I)
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<Key>,
        V: Into<AnyValue>,
    {
        self.0.add_attributes(attributes);
    }

    fn add_attribute<K, V>(&mut self, key: K, value: V)
    where
        K: Into<Key>,
        V: Into<AnyValue>,
    {
        self.0.add_attribute(key, value);
    }

    fn set_trace_context(
        &mut self,
        trace_id: TraceId,
        span_id: SpanId,
        trace_flags: Option<TraceFlags>,
    ) {
        self.0.set_trace_context(trace_id, span_id, trace_flags);
    }
}

/// A log processor (the SDK's batch processor) behind the counted queue
/// bound: see the [module docs](self).
#[derive(Debug)]
pub(crate) struct BoundedLogs<P> {
    inner: P,
    counters: Arc<QueueCounters>,
}

impl<P> BoundedLogs<P> {
    pub(crate) fn new(inner: P, counters: Arc<QueueCounters>) -> Self {
        BoundedLogs { inner, counters }
    }
}

impl<P: LogProcessor> LogProcessor for BoundedLogs<P> {
    fn emit(&self, record: &mut SdkLogRecord, scope: &InstrumentationScope) {
        if self.counters.admit() {
            self.inner.emit(record, scope);
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn event_enabled(&self, level: Severity, target: &str, name: Option<&str>) -> bool {
        self.inner.event_enabled(level, target, name)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_up_event_names_are_recognised() {
        assert!(is_made_up_event_name("event src/main.rs:42"));
        assert!(is_made_up_event_name(
            "event examples/checkout_demo/services/payment.rs:7"
        ));
        assert!(!is_made_up_event_name("order.placed"));
        assert!(!is_made_up_event_name("event order:placed"));
        assert!(!is_made_up_event_name("event src/main.rs:"));
    }
}
