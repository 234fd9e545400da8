//! What every group shares: the three kinds of tracer provider, the no-op
//! exporter, the tracing subscriber and the executor.

use std::future::Future;
use std::pin::pin;
use std::task::{Context as TaskContext, Poll, Waker};

use checkout_otel::opentelemetry::trace::TracerProvider as _;
use checkout_otel::opentelemetry_sdk::error::OTelSdkResult;
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
    /// `OTEL_SDK_DISABLED=true`: what the crate's disabled set-up builds.
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
        // The disabled set-up of `init` (OTEL_SDK_DISABLED=true): a provider
        // with the AlwaysOff sampler and no processor at all.
        Mode::Disabled => SdkTracerProvider::builder()
            .with_sampler(Sampler::AlwaysOff)
            .build(),
    }
}

/// The SDK tracer every side of a group uses.
pub fn sdk_tracer(provider: &SdkTracerProvider) -> SdkTracer {
    provider.tracer("bench")
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
