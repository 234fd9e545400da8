//! Test kit: capture your service's spans and metrics in memory and query
//! them in a few lines (cargo feature `testing`).
//!
//! [`TestTelemetry`] sets up a tracer provider and a meter provider that
//! export into memory: spans are visible the moment they end (simple span
//! processor), metrics whenever you read them (a flush on demand). Queries
//! find spans by name, walk parents and children, read attributes, events
//! and status ([`SpanSet`], [`SpanView`]) and read metric points
//! ([`MetricSet`]). Lookups that expect exactly one thing panic with a
//! message listing what is there, which is what you want in a test.
//!
//! Add the feature to your dev-dependencies:
//!
//! ```toml
//! [dev-dependencies]
//! checkout-otel = { version = "0.1", features = ["testing"] }
//! ```
//!
//! # A test
//!
//! ```
//! use checkout_otel::attributes::{ERROR_TYPE, PAYMENT_CURRENCY};
//! use checkout_otel::opentelemetry::trace::{Span, Status, TraceContextExt, Tracer};
//! use checkout_otel::opentelemetry::KeyValue;
//! use checkout_otel::testing::TestTelemetry;
//!
//! let telemetry = TestTelemetry::new("checkout");
//! let tracer = telemetry.sdk_tracer();
//!
//! // The code under test.
//! tracer.in_span("checkout.process", |_| {
//!     tracer.in_span("payment.process", |cx| {
//!         let span = cx.span();
//!         span.set_attribute(KeyValue::new(PAYMENT_CURRENCY, "EUR"));
//!         span.add_event("payment_declined", vec![KeyValue::new("attempt", 1)]);
//!         span.set_attribute(KeyValue::new(ERROR_TYPE, "card_declined"));
//!         span.set_status(Status::error("card declined"));
//!     });
//! });
//!
//! // The assertions.
//! let spans = telemetry.spans();
//! let payment = spans.one("payment.process");
//! assert_eq!(payment.parent().map(|p| p.name()), Some("checkout.process"));
//! assert_eq!(payment.attr_str(PAYMENT_CURRENCY), Some("EUR"));
//! assert_eq!(payment.event("payment_declined").attr_i64("attempt"), Some(1));
//! assert!(payment.is_error());
//! assert_eq!(payment.error_type(), Some("card_declined"));
//! assert_eq!(spans.one("checkout.process").children().len(), 1);
//! ```
//!
//! # Metrics
//!
//! ```
//! use checkout_otel::opentelemetry::KeyValue;
//! use checkout_otel::testing::TestTelemetry;
//!
//! let telemetry = TestTelemetry::new("checkout");
//! let meter = telemetry.meter();
//! let completed = meter.u64_counter("checkout.completed").build();
//! completed.add(1, &[KeyValue::new("checkout.status", "completed")]);
//! completed.add(1, &[KeyValue::new("checkout.status", "failed")]);
//! let duration = meter.f64_histogram("checkout.duration").with_unit("s")
//!     .with_boundaries(vec![0.5, 1.0, 5.0]).build();
//! duration.record(0.8, &[KeyValue::new("checkout.status", "completed")]);
//!
//! let metrics = telemetry.metrics();
//! assert_eq!(metrics.counter_sum("checkout.completed", &[("checkout.status", "completed")]), 1.0);
//! assert_eq!(metrics.counter_sum("checkout.completed", &[]), 2.0);
//! let histogram = metrics.histogram("checkout.duration", &[]).unwrap();
//! assert_eq!((histogram.count, histogram.bucket_counts.as_slice()), (1, &[0, 1, 0, 0][..]));
//! assert_eq!(metrics.unit("checkout.duration"), Some("s"));
//! assert_eq!(metrics.boundaries("checkout.duration"), Some(vec![0.5, 1.0, 5.0]));
//! ```
//!
//! # Code instrumented with `tracing`
//!
//! Route `tracing` spans to the test providers with the bridge, for the
//! duration of the test only:
//!
//! ```
//! use checkout_otel::testing::TestTelemetry;
//! use tracing_subscriber::layer::SubscriberExt;
//!
//! let telemetry = TestTelemetry::new("checkout");
//! let subscriber = tracing_subscriber::registry()
//!     .with(checkout_otel::tracing_opentelemetry::layer().with_tracer(telemetry.sdk_tracer()));
//! tracing::subscriber::with_default(subscriber, || {
//!     let _request = tracing::info_span!("POST /checkout").entered();
//!     tracing::info_span!("cart.validate").in_scope(|| {});
//! });
//!
//! let spans = telemetry.spans();
//! assert_eq!(spans.one("cart.validate").parent().map(|p| p.name()), Some("POST /checkout"));
//! ```
//!
//! When a test fails, `println!("{}", telemetry.spans().waterfall())` shows
//! what was recorded as a [waterfall] (see [`SpanSet::waterfall`]).

use std::collections::HashMap;
use std::fmt;
use std::time::{Duration, SystemTime};

use opentelemetry::metrics::{Meter, MeterProvider as _};
use opentelemetry::trace::{Event, SpanId, SpanKind, Status, TraceId, TracerProvider as _};
use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider, SpanData};

use crate::attributes::ERROR_TYPE;
use crate::waterfall::{self, CollectedSpan, ColorChoice, SpanCollector, WaterfallOptions};

/// Instrumentation scope name of the tracer and meter handed out.
const SCOPE: &str = env!("CARGO_PKG_NAME");
/// Tests rarely make this many spans; beyond it the oldest are evicted.
const MAX_TEST_SPANS: usize = 1_000_000;

// ---------------------------------------------------------------------------
// TestTelemetry
// ---------------------------------------------------------------------------

/// In-memory telemetry for a test: a tracer provider and a meter provider
/// whose exports you can query. Each instance is independent, so tests can
/// run in parallel; nothing is installed globally.
///
/// Spans are kept after the providers shut down (unlike the SDK's
/// `InMemorySpanExporter`, which clears them).
pub struct TestTelemetry {
    service: String,
    collector: SpanCollector,
    tracer_provider: SdkTracerProvider,
    meter_provider: SdkMeterProvider,
    metric_exporter: InMemoryMetricExporter,
}

impl fmt::Debug for TestTelemetry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestTelemetry")
            .field("service", &self.service)
            .field("spans", &self.collector.len())
            .finish_non_exhaustive()
    }
}

impl TestTelemetry {
    /// Providers for a service named `service_name` (the resource holds only
    /// `service.name`, so tests do not depend on the environment).
    pub fn new(service_name: &str) -> Self {
        let collector = SpanCollector::with_max_spans(MAX_TEST_SPANS);
        let tracer_provider = tracer_provider_into(&collector, service_name);
        let metric_exporter = InMemoryMetricExporter::default();
        // A long interval: metrics are read by an explicit flush, not on a timer.
        let reader = PeriodicReader::builder(metric_exporter.clone())
            .with_interval(Duration::from_secs(24 * 3600))
            .build();
        let meter_provider = SdkMeterProvider::builder()
            .with_resource(resource(service_name))
            .with_reader(reader)
            .build();
        TestTelemetry {
            service: service_name.to_owned(),
            collector,
            tracer_provider,
            meter_provider,
            metric_exporter,
        }
    }

    /// The service name given to [`TestTelemetry::new`].
    pub fn service_name(&self) -> &str {
        &self.service
    }

    /// The tracer provider; pass it (or a tracer from it) to the code under test.
    pub fn tracer_provider(&self) -> &SdkTracerProvider {
        &self.tracer_provider
    }

    /// The crate's tracer for the span helpers, with the checkout meter of
    /// [`Self::meter_provider`] attached: spans started from it record the
    /// checkout metrics too.
    pub fn tracer(&self) -> crate::spans::CheckoutTracer {
        crate::spans::CheckoutTracer::from_providers(&self.tracer_provider, &self.meter_provider)
    }

    /// A raw SDK tracer from [`Self::tracer_provider`].
    pub fn sdk_tracer(&self) -> SdkTracer {
        self.tracer_provider.tracer(SCOPE)
    }

    /// Another tracer provider, for a second service (its own `service.name`)
    /// exporting into the same store: for tests of a trace that crosses
    /// services in one process. Keep it alive while the test runs.
    pub fn tracer_provider_for(&self, service_name: &str) -> SdkTracerProvider {
        tracer_provider_into(&self.collector, service_name)
    }

    /// The meter provider; pass it to the code under test.
    pub fn meter_provider(&self) -> &SdkMeterProvider {
        &self.meter_provider
    }

    /// A meter from [`Self::meter_provider`].
    pub fn meter(&self) -> Meter {
        self.meter_provider.meter(SCOPE)
    }

    /// A snapshot of every span ended so far, of every service.
    pub fn spans(&self) -> SpanSet {
        SpanSet::new(self.collector.snapshot())
    }

    /// Forgets the spans recorded so far (metrics are cumulative and stay).
    pub fn clear_spans(&self) {
        self.collector.clear();
    }

    /// Flushes the meter provider and returns the current value of every
    /// metric (cumulative since the start of the test). Empty when nothing
    /// was recorded.
    pub fn metrics(&self) -> MetricSet {
        // An error here means the provider was shut down: nothing new to read.
        let _ = self.meter_provider.force_flush();
        let exported = self
            .metric_exporter
            .get_finished_metrics()
            .unwrap_or_default();
        // Cumulative temporality: the last export holds everything; the
        // earlier ones are dropped so memory stays flat over many reads.
        self.metric_exporter.reset();
        MetricSet::from_resource_metrics(exported.last())
    }
}

fn resource(service_name: &str) -> Resource {
    Resource::builder_empty()
        .with_service_name(service_name.to_owned())
        .build()
}

fn tracer_provider_into(collector: &SpanCollector, service_name: &str) -> SdkTracerProvider {
    SdkTracerProvider::builder()
        .with_resource(resource(service_name))
        .with_simple_exporter(collector.exporter())
        .build()
}

// ---------------------------------------------------------------------------
// Attribute accessors shared by spans, events and metric points
// ---------------------------------------------------------------------------

/// Typed attribute getters over `self.attrs()`. The last value of a key
/// wins (the SDK does not de-duplicate keys).
macro_rules! attr_getters {
    ($lt:lifetime) => {
        /// The value of attribute `key`.
        pub fn attr(&self, key: &str) -> Option<&$lt Value> {
            waterfall::last_attr(self.attrs(), key)
        }

        /// The value of `key` if it is a string.
        pub fn attr_str(&self, key: &str) -> Option<&$lt str> {
            match self.attr(key)? {
                Value::String(s) => Some(s.as_str()),
                _ => None,
            }
        }

        /// The value of `key` if it is an integer.
        pub fn attr_i64(&self, key: &str) -> Option<i64> {
            match self.attr(key)? {
                Value::I64(v) => Some(*v),
                _ => None,
            }
        }

        /// The value of `key` if it is a float.
        pub fn attr_f64(&self, key: &str) -> Option<f64> {
            match self.attr(key)? {
                Value::F64(v) => Some(*v),
                _ => None,
            }
        }

        /// The value of `key` if it is a boolean.
        pub fn attr_bool(&self, key: &str) -> Option<bool> {
            match self.attr(key)? {
                Value::Bool(v) => Some(*v),
                _ => None,
            }
        }

        /// Whether attribute `key` is present.
        pub fn has_attr(&self, key: &str) -> bool {
            self.attr(key).is_some()
        }
    };
}

/// Distinct values in first-seen order, for "found: [...]" panic messages.
fn distinct<'a>(items: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut out: Vec<&str> = Vec::new();
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Spans
// ---------------------------------------------------------------------------

/// A snapshot of finished spans, ordered by start time (then span id), with
/// queries. Get one from [`TestTelemetry::spans`].
#[derive(Clone)]
pub struct SpanSet {
    spans: Vec<CollectedSpan>,
    by_id: HashMap<(TraceId, SpanId), usize>,
}

impl fmt::Debug for SpanSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl SpanSet {
    fn new(mut spans: Vec<CollectedSpan>) -> Self {
        spans.sort_by_key(|s| (s.data.start_time, s.data.span_context.span_id().to_bytes()));
        let mut by_id = HashMap::new();
        for (i, s) in spans.iter().enumerate() {
            let ctx = &s.data.span_context;
            by_id.entry((ctx.trace_id(), ctx.span_id())).or_insert(i);
        }
        SpanSet { spans, by_id }
    }

    fn view(&self, index: usize) -> SpanView<'_> {
        SpanView { set: self, index }
    }

    /// Number of spans.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// True when there is no span.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Every span, by start time.
    pub fn iter(&self) -> impl Iterator<Item = SpanView<'_>> {
        (0..self.spans.len()).map(|i| self.view(i))
    }

    /// Distinct span names, in order of first start.
    pub fn names(&self) -> Vec<&str> {
        distinct(self.spans.iter().map(|s| s.data.name.as_ref()))
    }

    /// Every span named `name`, by start time (empty if none).
    pub fn by_name(&self, name: &str) -> Vec<SpanView<'_>> {
        self.iter().filter(|s| s.name() == name).collect()
    }

    /// The first span (by start time) named `name`, if any.
    pub fn find(&self, name: &str) -> Option<SpanView<'_>> {
        self.iter().find(|s| s.name() == name)
    }

    /// The one span named `name`.
    ///
    /// # Panics
    /// When there is no such span or more than one, listing the names present.
    pub fn one(&self, name: &str) -> SpanView<'_> {
        let found = self.by_name(name);
        match found.as_slice() {
            [one] => *one,
            _ => panic!(
                "expected exactly one span named {name:?}, found {}; spans present: {:?}",
                found.len(),
                self.names()
            ),
        }
    }

    /// Spans without a parent in this set (trace roots, and spans whose
    /// parent was not captured), by start time.
    pub fn roots(&self) -> Vec<SpanView<'_>> {
        self.iter().filter(|s| s.parent().is_none()).collect()
    }

    /// Distinct trace ids, in order of first start.
    pub fn trace_ids(&self) -> Vec<TraceId> {
        let mut ids = Vec::new();
        for s in &self.spans {
            let id = s.data.span_context.trace_id();
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        ids
    }

    /// The spans of one trace.
    pub fn trace(&self, trace_id: TraceId) -> SpanSet {
        SpanSet::new(
            self.spans
                .iter()
                .filter(|s| s.data.span_context.trace_id() == trace_id)
                .cloned()
                .collect(),
        )
    }

    /// The spans as a waterfall (100 columns, no colour), for a failing
    /// test's output.
    pub fn waterfall(&self) -> String {
        let rows: Vec<_> = self.iter().map(|s| s.to_waterfall()).collect();
        let options = WaterfallOptions::default().with_color(ColorChoice::Never);
        waterfall::render(&rows, &options)
    }
}

/// One span of a [`SpanSet`]; cheap to copy. Walk to its parent and
/// children, read its attributes, events and status.
#[derive(Clone, Copy)]
pub struct SpanView<'a> {
    set: &'a SpanSet,
    index: usize,
}

impl fmt::Debug for SpanView<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpanView")
            .field("name", &self.name())
            .field("service", &self.service())
            .field("span_id", &self.span_id())
            .field("parent_span_id", &self.data().parent_span_id)
            .finish()
    }
}

impl<'a> SpanView<'a> {
    fn collected(&self) -> &'a CollectedSpan {
        &self.set.spans[self.index]
    }

    fn attrs(&self) -> &'a [KeyValue] {
        &self.data().attributes
    }

    /// The full exported span data, for anything the queries do not cover.
    pub fn data(&self) -> &'a SpanData {
        &self.collected().data
    }

    /// The span name.
    pub fn name(&self) -> &'a str {
        &self.data().name
    }

    /// The `service.name` of the provider that exported the span.
    pub fn service(&self) -> &'a str {
        &self.collected().service
    }

    /// The span kind.
    pub fn kind(&self) -> SpanKind {
        self.data().span_kind.clone()
    }

    /// The trace id.
    pub fn trace_id(&self) -> TraceId {
        self.data().span_context.trace_id()
    }

    /// The span id.
    pub fn span_id(&self) -> SpanId {
        self.data().span_context.span_id()
    }

    /// The parent span id ([`SpanId::INVALID`] for a root).
    pub fn parent_span_id(&self) -> SpanId {
        self.data().parent_span_id
    }

    /// The parent, if it is in the set.
    pub fn parent(&self) -> Option<SpanView<'a>> {
        let parent = self.data().parent_span_id;
        if parent == SpanId::INVALID {
            return None;
        }
        self.set
            .by_id
            .get(&(self.trace_id(), parent))
            .map(|&index| SpanView {
                set: self.set,
                index,
            })
    }

    /// Direct children, by start time.
    pub fn children(&self) -> Vec<SpanView<'a>> {
        let (trace, id) = (self.trace_id(), self.span_id());
        let set = self.set;
        (0..set.spans.len())
            .map(|index| SpanView { set, index })
            .filter(|c| c.trace_id() == trace && c.parent_span_id() == id)
            .collect()
    }

    /// The one direct child named `name`.
    ///
    /// # Panics
    /// When there is no such child or more than one, listing the children.
    pub fn child(&self, name: &str) -> SpanView<'a> {
        let children = self.children();
        let named: Vec<_> = children.iter().filter(|c| c.name() == name).collect();
        match named.as_slice() {
            [one] => **one,
            _ => panic!(
                "expected exactly one child named {name:?} under {:?}, found {}; children: {:?}",
                self.name(),
                named.len(),
                distinct(children.iter().map(|c| c.name()))
            ),
        }
    }

    /// Whether `ancestor` is this span's parent, grandparent, ...
    pub fn is_descendant_of(&self, ancestor: &SpanView<'_>) -> bool {
        let mut current = self.parent();
        // Bounded by the set size, in case of malformed parent loops.
        for _ in 0..self.set.len() {
            match current {
                Some(p)
                    if p.trace_id() == ancestor.trace_id() && p.span_id() == ancestor.span_id() =>
                {
                    return true;
                }
                Some(p) => current = p.parent(),
                None => return false,
            }
        }
        false
    }

    attr_getters!('a);

    /// All attributes, in the order they were set.
    pub fn attributes(&self) -> &'a [KeyValue] {
        self.attrs()
    }

    /// All events, in the order they were added.
    pub fn events(&self) -> Vec<EventView<'a>> {
        self.data()
            .events
            .iter()
            .map(|event| EventView { event })
            .collect()
    }

    /// The first event named `name`.
    ///
    /// # Panics
    /// When there is none, listing the span's events.
    pub fn event(&self, name: &str) -> EventView<'a> {
        self.find_event(name).unwrap_or_else(|| {
            panic!(
                "span {:?} has no event named {name:?}; events: {:?}",
                self.name(),
                distinct(self.data().events.iter().map(|e| e.name.as_ref()))
            )
        })
    }

    /// The first event named `name`, if any.
    pub fn find_event(&self, name: &str) -> Option<EventView<'a>> {
        self.data()
            .events
            .iter()
            .find(|e| e.name == name)
            .map(|event| EventView { event })
    }

    /// The status.
    pub fn status(&self) -> &'a Status {
        &self.data().status
    }

    /// Whether the status is `Error`.
    pub fn is_error(&self) -> bool {
        matches!(self.data().status, Status::Error { .. })
    }

    /// The status description when the status is `Error`.
    pub fn status_message(&self) -> Option<&'a str> {
        match &self.data().status {
            Status::Error { description } => Some(description.as_ref()),
            _ => None,
        }
    }

    /// The `error.type` attribute, if it is a string.
    pub fn error_type(&self) -> Option<&'a str> {
        self.attr_str(ERROR_TYPE)
    }

    /// Start time.
    pub fn start_time(&self) -> SystemTime {
        self.data().start_time
    }

    /// End time.
    pub fn end_time(&self) -> SystemTime {
        self.data().end_time
    }

    /// `end - start`.
    pub fn duration(&self) -> Duration {
        self.data()
            .end_time
            .duration_since(self.data().start_time)
            .unwrap_or_default()
    }

    fn to_waterfall(self) -> waterfall::WaterfallSpan {
        waterfall::WaterfallSpan::from_span_data(self.data(), self.service())
    }
}

/// One event of a span.
#[derive(Clone, Copy, Debug)]
pub struct EventView<'a> {
    event: &'a Event,
}

impl<'a> EventView<'a> {
    fn attrs(&self) -> &'a [KeyValue] {
        &self.event.attributes
    }

    /// The event name.
    pub fn name(&self) -> &'a str {
        &self.event.name
    }

    /// When the event was added.
    pub fn timestamp(&self) -> SystemTime {
        self.event.timestamp
    }

    /// All attributes.
    pub fn attributes(&self) -> &'a [KeyValue] {
        self.attrs()
    }

    attr_getters!('a);
}

// ---------------------------------------------------------------------------
// Metrics
// ---------------------------------------------------------------------------

/// What kind of instrument a metric came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MetricKind {
    /// A monotonic sum (counter, observable counter).
    Counter,
    /// A non-monotonic sum (up-down counter).
    UpDownCounter,
    /// A gauge.
    Gauge,
    /// An explicit-bucket histogram.
    Histogram,
    /// An exponential histogram (its points carry no bucket bounds here).
    ExponentialHistogram,
}

/// The value of a histogram point (or several merged, see [`MetricSet::histogram`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct HistogramValue {
    /// Number of recorded values.
    pub count: u64,
    /// Sum of recorded values.
    pub sum: f64,
    /// Smallest recorded value.
    pub min: Option<f64>,
    /// Largest recorded value.
    pub max: Option<f64>,
    /// Upper bucket bounds (the `+Inf` bucket is implied).
    pub bounds: Vec<f64>,
    /// Count per bucket, one more than `bounds`.
    pub bucket_counts: Vec<u64>,
}

/// The value of one metric point.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum PointValue {
    /// A sum or gauge value (integers converted to `f64`).
    Number(f64),
    /// A histogram.
    Histogram(HistogramValue),
}

/// One time series of a metric: its attributes and current value.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct MetricPoint {
    /// The point's attributes.
    pub attributes: Vec<KeyValue>,
    /// The point's value.
    pub value: PointValue,
}

impl MetricPoint {
    fn attrs(&self) -> &[KeyValue] {
        &self.attributes
    }

    attr_getters!('_);

    /// The value of a sum or gauge point.
    pub fn number(&self) -> Option<f64> {
        match self.value {
            PointValue::Number(v) => Some(v),
            PointValue::Histogram(_) => None,
        }
    }

    /// The value of a histogram point.
    pub fn histogram(&self) -> Option<&HistogramValue> {
        match &self.value {
            PointValue::Histogram(h) => Some(h),
            PointValue::Number(_) => None,
        }
    }

    /// Whether every `(key, value)` pair is among the point's attributes
    /// (values compared as text, so `("http.response.status_code", "200")`
    /// matches an integer 200). An empty filter matches every point.
    pub fn matches(&self, filter: &[(&str, &str)]) -> bool {
        filter
            .iter()
            .all(|(k, v)| self.attr(k).is_some_and(|actual| actual.as_str() == *v))
    }
}

/// One metric: name, description, unit, kind and points.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct MetricView {
    /// Instrument name.
    pub name: String,
    /// Instrument description.
    pub description: String,
    /// Instrument unit.
    pub unit: String,
    /// Name of the meter (instrumentation scope) that recorded it.
    pub scope: String,
    /// Instrument kind.
    pub kind: MetricKind,
    /// One point per attribute set.
    pub points: Vec<MetricPoint>,
}

/// A snapshot of every metric, with queries. Get one from
/// [`TestTelemetry::metrics`].
#[derive(Debug, Clone, Default)]
pub struct MetricSet {
    metrics: Vec<MetricView>,
}

impl MetricSet {
    fn from_resource_metrics(rm: Option<&ResourceMetrics>) -> Self {
        let mut metrics = Vec::new();
        for scope in rm.into_iter().flat_map(|rm| rm.scope_metrics()) {
            for metric in scope.metrics() {
                let (kind, points) = match metric.data() {
                    AggregatedMetrics::F64(d) => convert(d),
                    AggregatedMetrics::U64(d) => convert(d),
                    AggregatedMetrics::I64(d) => convert(d),
                };
                metrics.push(MetricView {
                    name: metric.name().to_owned(),
                    description: metric.description().to_owned(),
                    unit: metric.unit().to_owned(),
                    scope: scope.scope().name().to_owned(),
                    kind,
                    points,
                });
            }
        }
        MetricSet { metrics }
    }

    /// Every metric.
    pub fn all(&self) -> &[MetricView] {
        &self.metrics
    }

    /// Distinct metric names.
    pub fn names(&self) -> Vec<&str> {
        distinct(self.metrics.iter().map(|m| m.name.as_str()))
    }

    /// The metric named `name`, if recorded.
    pub fn get(&self, name: &str) -> Option<&MetricView> {
        self.metrics.iter().find(|m| m.name == name)
    }

    /// The metric named `name`.
    ///
    /// # Panics
    /// When it was not recorded, listing the metrics present.
    pub fn metric(&self, name: &str) -> &MetricView {
        self.get(name).unwrap_or_else(|| {
            panic!(
                "no metric named {name:?}; metrics present: {:?}",
                self.names()
            )
        })
    }

    /// Every point of `name` (of every meter), empty if not recorded.
    pub fn points(&self, name: &str) -> Vec<&MetricPoint> {
        self.metrics
            .iter()
            .filter(|m| m.name == name)
            .flat_map(|m| &m.points)
            .collect()
    }

    /// Sum of the values of `name`'s points matching `filter` (see
    /// [`MetricPoint::matches`]); 0 when nothing matches or the metric was
    /// never recorded. For counters, up-down counters and gauges.
    pub fn counter_sum(&self, name: &str, filter: &[(&str, &str)]) -> f64 {
        self.points(name)
            .into_iter()
            .filter(|p| p.matches(filter))
            .filter_map(MetricPoint::number)
            .sum()
    }

    /// `name`'s histogram points matching `filter`, merged (counts, sums and
    /// buckets added, min and max combined); `None` when no point matches.
    /// Points with different bucket bounds cannot be merged: the buckets of
    /// the first are kept and the others only add to count and sum.
    pub fn histogram(&self, name: &str, filter: &[(&str, &str)]) -> Option<HistogramValue> {
        let mut merged: Option<HistogramValue> = None;
        for h in self
            .points(name)
            .into_iter()
            .filter(|p| p.matches(filter))
            .filter_map(MetricPoint::histogram)
        {
            match &mut merged {
                None => merged = Some(h.clone()),
                Some(m) => {
                    m.count += h.count;
                    m.sum += h.sum;
                    m.min = min_opt(m.min, h.min, f64::min);
                    m.max = min_opt(m.max, h.max, f64::max);
                    if m.bounds == h.bounds {
                        for (a, b) in m.bucket_counts.iter_mut().zip(&h.bucket_counts) {
                            *a += b;
                        }
                    }
                }
            }
        }
        merged
    }

    /// The unit of `name`, if recorded.
    pub fn unit(&self, name: &str) -> Option<&str> {
        self.get(name).map(|m| m.unit.as_str())
    }

    /// The description of `name`, if recorded.
    pub fn description(&self, name: &str) -> Option<&str> {
        self.get(name).map(|m| m.description.as_str())
    }

    /// The kind of `name`, if recorded.
    pub fn kind(&self, name: &str) -> Option<MetricKind> {
        self.get(name).map(|m| m.kind)
    }

    /// The bucket bounds of histogram `name` (from its first point).
    pub fn boundaries(&self, name: &str) -> Option<Vec<f64>> {
        self.points(name)
            .into_iter()
            .find_map(MetricPoint::histogram)
            .map(|h| h.bounds.clone())
    }
}

fn min_opt(a: Option<f64>, b: Option<f64>, pick: fn(f64, f64) -> f64) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(pick(a, b)),
        (a, b) => a.or(b),
    }
}

/// The three number types metric data comes in.
trait ToF64: Copy {
    fn to_f64(self) -> f64;
}
impl ToF64 for f64 {
    fn to_f64(self) -> f64 {
        self
    }
}
impl ToF64 for u64 {
    fn to_f64(self) -> f64 {
        self as f64
    }
}
impl ToF64 for i64 {
    fn to_f64(self) -> f64 {
        self as f64
    }
}

fn convert<T: ToF64>(data: &MetricData<T>) -> (MetricKind, Vec<MetricPoint>) {
    let point = |attributes: &mut dyn Iterator<Item = &KeyValue>, value| MetricPoint {
        attributes: attributes.cloned().collect(),
        value,
    };
    match data {
        MetricData::Gauge(g) => (
            MetricKind::Gauge,
            g.data_points()
                .map(|p| point(&mut p.attributes(), PointValue::Number(p.value().to_f64())))
                .collect(),
        ),
        MetricData::Sum(s) => (
            if s.is_monotonic() {
                MetricKind::Counter
            } else {
                MetricKind::UpDownCounter
            },
            s.data_points()
                .map(|p| point(&mut p.attributes(), PointValue::Number(p.value().to_f64())))
                .collect(),
        ),
        MetricData::Histogram(h) => (
            MetricKind::Histogram,
            h.data_points()
                .map(|p| {
                    let value = HistogramValue {
                        count: p.count(),
                        sum: p.sum().to_f64(),
                        min: p.min().map(ToF64::to_f64),
                        max: p.max().map(ToF64::to_f64),
                        bounds: p.bounds().collect(),
                        bucket_counts: p.bucket_counts().collect(),
                    };
                    point(&mut p.attributes(), PointValue::Histogram(value))
                })
                .collect(),
        ),
        MetricData::ExponentialHistogram(h) => (
            MetricKind::ExponentialHistogram,
            h.data_points()
                .map(|p| {
                    let value = HistogramValue {
                        count: p.count() as u64,
                        sum: p.sum().to_f64(),
                        min: p.min().map(ToF64::to_f64),
                        max: p.max().map(ToF64::to_f64),
                        bounds: Vec::new(),
                        bucket_counts: Vec::new(),
                    };
                    point(&mut p.attributes(), PointValue::Histogram(value))
                })
                .collect(),
        ),
    }
}
