//! A shared in-memory span store that several providers (one per service in
//! one process) export into, so a trace that crosses services is drawn as
//! one picture; the test kit reads its spans from it.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};

use opentelemetry::trace::TraceId;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

use super::lock;
use super::model::{UNKNOWN_SERVICE, WaterfallSpan, service_name_of};

/// A span as stored by [`SpanCollector`]: the full exported data plus the
/// service that exported it.
#[derive(Debug, Clone)]
pub(crate) struct CollectedSpan {
    pub(crate) service: Arc<str>,
    pub(crate) data: SpanData,
}

impl CollectedSpan {
    pub(crate) fn to_waterfall(&self) -> WaterfallSpan {
        WaterfallSpan::from_span_data(&self.data, &self.service)
    }
}

struct CollectorState {
    spans: VecDeque<CollectedSpan>,
    max_spans: usize,
    evicted: u64,
}

/// A shared in-memory span store that several tracer providers export into,
/// each through its own [`CollectorExporter`] that remembers its provider's
/// `service.name`. Use it to draw one waterfall for a trace that crosses
/// several services hosted in one process (a demo, an integration test).
///
/// Cloning shares the store. It holds at most `max_spans` spans (default
/// 10 000); when full, the oldest span is evicted and counted.
///
/// ```
/// use checkout_otel::opentelemetry::trace::{TraceContextExt, Tracer, TracerProvider};
/// use checkout_otel::opentelemetry::Context;
/// use checkout_otel::opentelemetry_sdk::{trace::SdkTracerProvider, Resource};
/// use checkout_otel::waterfall::{render, ColorChoice, SpanCollector, WaterfallOptions};
///
/// let collector = SpanCollector::new();
/// let provider = |service: &'static str| {
///     SdkTracerProvider::builder()
///         .with_resource(Resource::builder_empty().with_service_name(service).build())
///         .with_simple_exporter(collector.exporter())
///         .build()
/// };
/// let (checkout, payment) = (provider("checkout"), provider("payment"));
///
/// let trace_id = checkout.tracer("demo").in_span("checkout.process", |cx| {
///     payment.tracer("demo").in_span("payment.process", |_| {});
///     cx.span().span_context().trace_id()
/// });
///
/// let spans = collector.take_trace(trace_id);
/// let picture = render(&spans, &WaterfallOptions::default().with_color(ColorChoice::Never));
/// assert!(picture.contains(" · 2 services · 2 spans"));
/// assert!(collector.is_empty());
/// ```
#[derive(Clone)]
pub struct SpanCollector {
    inner: Arc<Mutex<CollectorState>>,
}

impl fmt::Debug for SpanCollector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = lock(&self.inner);
        f.debug_struct("SpanCollector")
            .field("spans", &state.spans.len())
            .field("max_spans", &state.max_spans)
            .field("evicted", &state.evicted)
            .finish()
    }
}

impl Default for SpanCollector {
    fn default() -> Self {
        Self::new()
    }
}

impl SpanCollector {
    /// Default capacity in spans.
    pub const DEFAULT_MAX_SPANS: usize = 10_000;

    /// An empty collector holding up to [`Self::DEFAULT_MAX_SPANS`] spans.
    pub fn new() -> Self {
        Self::with_max_spans(Self::DEFAULT_MAX_SPANS)
    }

    /// An empty collector holding up to `max_spans` spans (at least 1).
    pub fn with_max_spans(max_spans: usize) -> Self {
        SpanCollector {
            inner: Arc::new(Mutex::new(CollectorState {
                spans: VecDeque::new(),
                max_spans: max_spans.max(1),
                evicted: 0,
            })),
        }
    }

    /// A new exporter into this collector, for one tracer provider. It takes
    /// its service name from the provider's resource.
    pub fn exporter(&self) -> CollectorExporter {
        CollectorExporter {
            collector: self.clone(),
            service: Arc::from(UNKNOWN_SERVICE),
        }
    }

    /// All stored spans, in arrival order, as waterfall rows (kept in the store).
    pub fn spans(&self) -> Vec<WaterfallSpan> {
        lock(&self.inner)
            .spans
            .iter()
            .map(CollectedSpan::to_waterfall)
            .collect()
    }

    /// The trace ids present, in order of first arrival.
    pub fn trace_ids(&self) -> Vec<TraceId> {
        let mut ids = Vec::new();
        for s in &lock(&self.inner).spans {
            let id = s.data.span_context.trace_id();
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        ids
    }

    /// Removes and returns the spans of one trace, in arrival order.
    pub fn take_trace(&self, trace_id: TraceId) -> Vec<WaterfallSpan> {
        let mut state = lock(&self.inner);
        let mut taken = Vec::new();
        state.spans.retain(|s| {
            let keep = s.data.span_context.trace_id() != trace_id;
            if !keep {
                taken.push(s.to_waterfall());
            }
            keep
        });
        taken
    }

    /// Removes and returns every stored span, in arrival order.
    pub fn take_all(&self) -> Vec<WaterfallSpan> {
        lock(&self.inner)
            .spans
            .drain(..)
            .map(|s| s.to_waterfall())
            .collect()
    }

    /// Number of stored spans.
    pub fn len(&self) -> usize {
        lock(&self.inner).spans.len()
    }

    /// True when no span is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Spans evicted so far because the collector was full.
    pub fn evicted(&self) -> u64 {
        lock(&self.inner).evicted
    }

    /// Drops every stored span.
    pub fn clear(&self) {
        lock(&self.inner).spans.clear();
    }

    /// A copy of the stored spans with their full data (for the test kit).
    #[cfg(feature = "testing")]
    pub(crate) fn snapshot(&self) -> Vec<CollectedSpan> {
        lock(&self.inner).spans.iter().cloned().collect()
    }

    fn push(&self, service: &Arc<str>, batch: Vec<SpanData>) {
        let mut state = lock(&self.inner);
        for data in batch {
            if state.spans.len() >= state.max_spans {
                state.spans.pop_front();
                state.evicted += 1;
            }
            state.spans.push_back(CollectedSpan {
                service: Arc::clone(service),
                data,
            });
        }
    }
}

/// The [`SpanExporter`] of one provider into a [`SpanCollector`]; made by
/// [`SpanCollector::exporter`]. Shutting it down keeps the collected spans.
#[derive(Debug, Clone)]
pub struct CollectorExporter {
    collector: SpanCollector,
    service: Arc<str>,
}

impl CollectorExporter {
    /// The service name spans are stored under (from the provider's resource).
    pub fn service(&self) -> &str {
        &self.service
    }
}

impl SpanExporter for CollectorExporter {
    fn export(&self, batch: Vec<SpanData>) -> impl Future<Output = OTelSdkResult> + Send {
        self.collector.push(&self.service, batch);
        std::future::ready(Ok(()))
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.service = Arc::from(service_name_of(resource));
    }
}
