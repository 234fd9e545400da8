//! One `tracing` log record through the crate's logs bridge (its layer over
//! the guard's logger provider: the exit check first, as in production)
//! against opentelemetry-appender-tracing's bridge alone over a provider
//! without redaction. Both providers end in a simple processor over an
//! exporter that drops the record, so what is measured is the caller's cost.

use std::future::Future;

use checkout_otel::init::{Exporter, Telemetry};
use checkout_otel::opentelemetry::Context;
use checkout_otel::opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId, TraceState,
};
use checkout_otel::opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge;
use checkout_otel::opentelemetry_sdk::error::OTelSdkResult;
use checkout_otel::opentelemetry_sdk::logs::{
    LogBatch, LogExporter, LogProcessor, SdkLoggerProvider, SimpleLogProcessor,
};
use tracing_subscriber::layer::SubscriberExt as _;

/// Accepts every record and drops it.
#[derive(Debug, Default, Clone)]
pub struct NoopLogExporter;

impl LogExporter for NoopLogExporter {
    fn export(&self, batch: LogBatch<'_>) -> impl Future<Output = OTelSdkResult> + Send {
        std::hint::black_box(&batch);
        std::future::ready(Ok(()))
    }
}

/// The span a record is emitted in: a service logs inside its request.
pub fn context() -> Context {
    Context::new().with_remote_span_context(SpanContext::new(
        TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736),
        SpanId::from(0x00f0_67aa_0ba9_02b7),
        TraceFlags::SAMPLED,
        false,
        TraceState::default(),
    ))
}

/// The record: a decline as the demo's payment service logs it, no PII (the
/// common case: the exit check reads it and changes nothing).
pub fn emit(cx: &Context) {
    let _in = cx.clone().attach();
    tracing::warn!(
        name: "payment.declined",
        {
            "payment.decline_code" = "insufficient_funds",
            "payment.decline_class" = "soft",
            attempt = 1_i64,
            "order.id" = "ord-0042",
        },
        "payment declined by the issuer"
    );
}

/// The crate: a service's logs layer, over the logger provider `build` made
/// (exit check first unless `redaction` is off), with `processor` after it.
pub fn with_crate(
    processor: impl LogProcessor + 'static,
    redaction: bool,
) -> impl tracing::Subscriber + Send + Sync {
    let guard = Telemetry::builder("bench")
        .with_env(Vec::<(String, String)>::new())
        .traces_exporter(Exporter::None)
        .metrics_exporter(Exporter::None)
        .logs_exporter(Exporter::None)
        .tracing_bridge(false)
        .with_log_processor(processor)
        .redaction(redaction)
        .build()
        .expect("a bench set-up");
    let subscriber = tracing_subscriber::registry().with(guard.logs_layer());
    // Dropping the guard would shut the provider down: it lives for the run.
    std::mem::forget(guard);
    subscriber
}

/// By hand: the appender's bridge alone, over a provider with `processor`
/// alone (no redaction).
pub fn appender(processor: impl LogProcessor + 'static) -> impl tracing::Subscriber + Send + Sync {
    let provider = SdkLoggerProvider::builder()
        .with_log_processor(processor)
        .build();
    let bridge = OpenTelemetryTracingBridge::new(&provider);
    // Dropping the provider would shut it down: it lives for the run.
    std::mem::forget(provider);
    tracing_subscriber::registry().with(bridge)
}

/// Both sides over a no-op exporter.
pub fn noop() -> SimpleLogProcessor<NoopLogExporter> {
    SimpleLogProcessor::new(NoopLogExporter)
}
