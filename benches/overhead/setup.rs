//! What every group shares: the three kinds of tracer provider, the no-op
//! exporter, the tracing subscriber and the executor.

use std::future::Future;
use std::pin::pin;
use std::task::{Context as TaskContext, Poll, Waker};

use checkout_otel::CheckoutTracer;
use checkout_otel::init::Telemetry;
use checkout_otel::opentelemetry::InstrumentationScope;
use checkout_otel::opentelemetry::trace::TracerProvider as _;
use checkout_otel::opentelemetry_sdk::error::OTelSdkResult;
use checkout_otel::opentelemetry_sdk::metrics::SdkMeterProvider;
use checkout_otel::opentelemetry_sdk::trace::{
    Sampler, SdkTracer, SdkTracerProvider, SimpleSpanProcessor, SpanData, SpanExporter,
};
use tracing_subscriber::layer::SubscriberExt as _;

/// Accepts every batch and drops it, so what is measured is the caller's cost.
#[derive(Debug, Default, Clone)]
pub struct NoopExporter;

impl SpanExporter for NoopExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        drop(std::hint::black_box(batch));
        Ok(())
    }
}

/// The three situations a span is started in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Recorded and exported: `AlwaysOn`, a simple processor, a no-op exporter.
    Sampled,
    /// Not sampled: `AlwaysOff`, with the same processor.
    Unsampled,
    /// `OTEL_SDK_DISABLED=true`: the provider of the crate's disabled set-up.
    Disabled,
}

/// A tracer provider for `mode`.
pub fn provider(mode: Mode) -> SdkTracerProvider {
    match mode {
        Mode::Sampled => SdkTracerProvider::builder()
            .with_sampler(Sampler::AlwaysOn)
            .with_span_processor(SimpleSpanProcessor::new(NoopExporter))
            .build(),
        Mode::Unsampled => SdkTracerProvider::builder()
            .with_sampler(Sampler::AlwaysOff)
            .with_span_processor(SimpleSpanProcessor::new(NoopExporter))
            .build(),
        // What `init` builds for OTEL_SDK_DISABLED=true (an AlwaysOff
        // provider without processors).
        Mode::Disabled => {
            let guard = Telemetry::builder("bench")
                .with_env([("OTEL_SDK_DISABLED", "true")])
                .build()
                .expect("a disabled set-up");
            assert!(!guard.is_enabled());
            let provider = guard.tracer_provider().clone();
            // Dropping the guard would shut the provider down: it lives for
            // the whole run.
            std::mem::forget(guard);
            provider
        }
    }
}

/// The SDK tracer the raw and `tracing` sides of a group use, with the
/// scope an expert sets by hand and the crate emits: name, version and the
/// semantic-conventions schema URL.
pub fn sdk_tracer(provider: &SdkTracerProvider) -> SdkTracer {
    let scope = InstrumentationScope::builder(checkout_otel::SCOPE_NAME)
        .with_version(env!("CARGO_PKG_VERSION"))
        .with_schema_url(checkout_otel::opentelemetry_semantic_conventions::SCHEMA_URL)
        .build();
    provider.tracer_with_scope(scope)
}

/// The crate's tracer over the same `provider`. Every `CheckoutTracer`
/// carries the checkout meter; here its meter provider has no reader: the
/// single-span groups record no metrics on any side.
pub fn crate_tracer(provider: &SdkTracerProvider) -> CheckoutTracer {
    let meters = SdkMeterProvider::builder().build();
    let tracer = CheckoutTracer::from_providers(provider, &meters);
    // Dropping the meter provider would shut it down: it lives for the run.
    std::mem::forget(meters);
    tracer
}

/// The crate's tracer over `provider` recording its checkout metrics into
/// `meters` (a provider with a reader, like a service's): the checkout trace
/// group, whose raw side records the same metrics by hand.
pub fn crate_tracer_with_meter(
    provider: &SdkTracerProvider,
    meters: &SdkMeterProvider,
) -> CheckoutTracer {
    CheckoutTracer::from_providers(provider, meters)
}

/// The subscriber a `tracing` user installs: the registry and the
/// tracing-opentelemetry layer over the same tracer. Location, thread and
/// busy-time attributes are off (as `init` sets them), so tracing spans carry
/// exactly the attributes the other sides record.
pub fn subscriber(tracer: SdkTracer) -> impl tracing::Subscriber + Send + Sync {
    tracing_subscriber::registry().with(
        tracing_opentelemetry::layer()
            .with_tracer(tracer)
            .with_context_activation(true)
            .with_location(false)
            .with_threads(false)
            .with_tracked_inactivity(false),
    )
}

/// The same layer with tracing-opentelemetry's defaults, as most users
/// write it: every span also gets its source location, thread and
/// busy/idle times, which the other sides do not record.
pub fn subscriber_with_defaults(tracer: SdkTracer) -> impl tracing::Subscriber + Send + Sync {
    tracing_subscriber::registry().with(tracing_opentelemetry::layer().with_tracer(tracer))
}

/// The attributes tracing-opentelemetry's defaults add.
pub const DEFAULT_LAYER_EXTRAS: [&str; 7] = [
    "code.file.path",
    "code.module.name",
    "code.line.number",
    "thread.id",
    "thread.name",
    "busy_ns",
    "idle_ns",
];

/// Runs a future that never waits (every future in these benches is ready at
/// once) to completion on this thread. All sides go through it.
pub fn block_on<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let mut cx = TaskContext::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
    }
}
