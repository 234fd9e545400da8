//! The one span core every domain helper is built on.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context as TaskContext, Poll};
use std::time::SystemTime;

use opentelemetry::global::{self, BoxedTracer};
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{
    FutureExt, Span as _, SpanContext, SpanId, SpanKind, SpanRef, Status, TraceContextExt, TraceId,
    WithContext,
};
use opentelemetry::{Context, ContextGuard, KeyValue, StringValue, Value};
use opentelemetry_sdk::trace::SdkTracer;

use crate::attributes::{self as attr, ErrorType, FailureKind};
use crate::metrics::CheckoutMetrics;
use crate::pii;

pub use crate::scope::SCOPE_NAME;

/// The tracer the span helpers start spans with.
///
/// Cheap to clone. Build it from the [`TelemetryGuard`](crate::init::TelemetryGuard)
/// (`guard.tracer()`), from any [`SdkTracer`], or fall back to the global
/// tracer provider with [`CheckoutTracer::global`]. Holding an explicit tracer
/// lets one process host several services, each with its own `service.name`.
///
/// A tracer may carry [`CheckoutMetrics`]: spans started from it then record
/// the checkout metrics (step durations, declines, shortfalls, gateway
/// latency) without any further code.
#[derive(Clone)]
pub struct CheckoutTracer {
    inner: TracerInner,
    metrics: Option<CheckoutMetrics>,
    /// The propagator of [`CheckoutTracer::inject`]/[`CheckoutTracer::extract`]
    /// (and the HTTP helpers): the guard's, or `None` for the global one.
    propagator: Option<Arc<dyn TextMapPropagator + Send + Sync>>,
    /// The hasher of [`CheckoutTracer::user`]: the guard's, or `None` for
    /// the process-wide one.
    user_hasher: Option<Arc<pii::UserHasher>>,
    /// Whether the last root span this tracer (or a clone) started was
    /// recorded: the guess for the next root (see `start_typed`).
    roots_recorded: Arc<AtomicBool>,
}

#[derive(Clone)]
enum TracerInner {
    // The SDK tracer is used directly (no boxing of every span) on the hot path.
    Sdk(SdkTracer),
    Global(Arc<BoxedTracer>),
}

impl fmt::Debug for CheckoutTracer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.inner {
            TracerInner::Sdk(_) => "sdk",
            TracerInner::Global(_) => "global",
        };
        f.debug_struct("CheckoutTracer")
            .field("tracer", &kind)
            .field("metrics", &self.metrics.is_some())
            .finish()
    }
}

impl CheckoutTracer {
    /// A tracer over an SDK tracer (no metrics attached).
    pub fn new(tracer: SdkTracer) -> Self {
        CheckoutTracer {
            inner: TracerInner::Sdk(tracer),
            metrics: None,
            propagator: None,
            user_hasher: None,
            roots_recorded: Arc::new(AtomicBool::new(true)),
        }
    }

    /// A tracer over the global tracer provider, for code that has no guard at
    /// hand. Spans are dropped until a provider is installed globally.
    pub fn global() -> Self {
        let scope = crate::scope::instrumentation_scope();
        CheckoutTracer {
            inner: TracerInner::Global(Arc::new(global::tracer_with_scope(scope))),
            metrics: None,
            propagator: None,
            user_hasher: None,
            roots_recorded: Arc::new(AtomicBool::new(true)),
        }
    }

    /// Attaches the checkout meter: spans started from the returned tracer
    /// record the checkout metrics automatically.
    pub fn with_metrics(mut self, metrics: CheckoutMetrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Uses `propagator` (rather than the global one) for [`CheckoutTracer::inject`],
    /// [`CheckoutTracer::extract`] and the HTTP helpers.
    pub fn with_propagator(mut self, propagator: Arc<dyn TextMapPropagator + Send + Sync>) -> Self {
        self.propagator = Some(propagator);
        self
    }

    /// Uses `hasher` (rather than the process-wide one) for [`CheckoutTracer::user`].
    pub fn with_user_hasher(mut self, hasher: Arc<pii::UserHasher>) -> Self {
        self.user_hasher = Some(hasher);
        self
    }

    /// Writes `cx`'s trace context (and baggage) into `headers` with this
    /// tracer's propagator.
    pub fn inject(&self, cx: &Context, headers: &mut http::HeaderMap) {
        match &self.propagator {
            Some(p) => crate::propagation::inject_with(p.as_ref(), cx, headers),
            None => crate::propagation::inject(cx, headers),
        }
    }

    /// Reads the caller's trace context (and baggage) from `headers` with
    /// this tracer's propagator.
    pub fn extract(&self, headers: &http::HeaderMap) -> Context {
        match &self.propagator {
            Some(p) => crate::propagation::extract_with(p.as_ref(), headers),
            None => crate::propagation::extract(headers),
        }
    }

    /// The customer `customer_id` as a [`pii::UserRef`] (`user.hash`), hashed
    /// with this tracer's key.
    pub fn user(&self, customer_id: &str) -> pii::UserRef {
        match &self.user_hasher {
            Some(h) => h.hash(customer_id),
            None => pii::user_hasher().hash(customer_id),
        }
    }

    /// The attached checkout meter, if any.
    pub fn metrics(&self) -> Option<&CheckoutMetrics> {
        self.metrics.as_ref()
    }

    /// Starts a span of `spec` as a child of the current context.
    pub fn start<S: SpanSpec>(&self, spec: S) -> S::Span {
        self.start_owned(spec, Context::current())
    }

    /// Starts a span of `spec` as a child of `parent` (for example a context
    /// extracted from incoming headers with [`crate::propagation::extract`]).
    pub fn start_in<S: SpanSpec>(&self, spec: S, parent: &Context) -> S::Span {
        self.start_owned(spec, parent.clone())
    }

    fn start_owned<S: SpanSpec>(&self, spec: S, parent: Context) -> S::Span {
        let span = self.start_typed(spec.name(), spec.kind(), parent, &mut |attrs| {
            spec.attributes(attrs)
        });
        spec.wrap(span, self)
    }

    /// Starts a span, building its attributes only if it is (or is expected
    /// to be) recording.
    ///
    /// This is the single place every helper goes through. The attributes go
    /// where a hand-written span puts them, into the builder (one vector, seen
    /// by the sampler), when the span is expected to be recorded: a child of a
    /// sampled parent, or a root while this tracer's last root was recorded.
    /// Otherwise the span is started bare and `fill` runs only if it turns out
    /// to be recording, so a span that is not sampled costs its ids and
    /// nothing else.
    ///
    /// The span is put into a [`Context`] only when something asks for one
    /// (see [`TypedSpan::context`]): most spans are leaves and never do.
    pub(crate) fn start_typed(
        &self,
        name: Cow<'static, str>,
        kind: SpanKind,
        parent: Context,
        fill: &mut dyn FnMut(&mut Attrs<'_>),
    ) -> TypedSpan {
        let parent_span = parent.span();
        let parent_sc = parent_span.span_context();
        let is_root = !parent_sc.is_valid();
        let expected = if is_root {
            self.roots_recorded.load(Ordering::Relaxed)
        } else {
            parent_sc.is_sampled()
        };
        let (live, span_context) = match &self.inner {
            TracerInner::Sdk(tracer) => start_span(tracer, name, kind, &parent, expected, fill),
            TracerInner::Global(tracer) => {
                start_span(tracer.as_ref(), name, kind, &parent, expected, fill)
            }
        };
        let recording = live.is_some();
        // Only written when the guess was wrong, so a steady sampling decision
        // never bounces the flag's cache line between threads.
        if is_root && recording != expected {
            self.roots_recorded.store(recording, Ordering::Relaxed);
        }
        TypedSpan {
            parent,
            span_context,
            live: Mutex::new(live),
            cx: OnceLock::new(),
            recording,
            ended: AtomicBool::new(false),
            failed: AtomicBool::new(false),
        }
    }
}

/// Starts the span and attaches its attributes. Returns the span if it is
/// recording (a span that is not records nothing and ends as a no-op, so only
/// its identity is kept), and its identity.
fn start_span<T>(
    tracer: &T,
    name: Cow<'static, str>,
    kind: SpanKind,
    parent: &Context,
    expected: bool,
    fill: &mut dyn FnMut(&mut Attrs<'_>),
) -> (Option<Live>, SpanContext)
where
    T: opentelemetry::trace::Tracer,
    T::Span: Send + Sync + 'static,
{
    let mut builder = tracer.span_builder(name).with_kind(kind);
    if expected {
        let mut attributes = Vec::with_capacity(ATTRIBUTE_CAPACITY);
        fill(&mut Attrs {
            attributes: &mut attributes,
        });
        builder.attributes = Some(attributes);
    }
    let mut span = builder.start_with_context(tracer, parent);
    let span_context = span.span_context().clone();
    if !span.is_recording() {
        return (None, span_context);
    }
    if !expected {
        let mut attributes = Vec::with_capacity(ATTRIBUTE_CAPACITY);
        fill(&mut Attrs {
            attributes: &mut attributes,
        });
        for kv in attributes {
            span.set_attribute(kv);
        }
    }
    (Some(Live::new(span)), span_context)
}

/// A recording span, boxed once when it starts (so handles stay small and
/// cheap to move, also inside futures) and put into a [`Context`] only if
/// something needs it there.
struct Live(Box<dyn global::ObjectSafeSpan + Send + Sync>);

impl Live {
    fn new<S: opentelemetry::trace::Span + Send + Sync + 'static>(span: S) -> Self {
        Live(Box::new(span))
    }
}

impl opentelemetry::trace::Span for Live {
    fn add_event_with_timestamp<T>(
        &mut self,
        name: T,
        timestamp: SystemTime,
        attributes: Vec<KeyValue>,
    ) where
        T: Into<Cow<'static, str>>,
    {
        self.0
            .add_event_with_timestamp(name.into(), timestamp, attributes)
    }

    fn span_context(&self) -> &SpanContext {
        self.0.span_context()
    }

    fn is_recording(&self) -> bool {
        self.0.is_recording()
    }

    fn set_attribute(&mut self, attribute: KeyValue) {
        self.0.set_attribute(attribute)
    }

    fn set_status(&mut self, status: Status) {
        self.0.set_status(status)
    }

    fn update_name<T>(&mut self, new_name: T)
    where
        T: Into<Cow<'static, str>>,
    {
        self.0.update_name(new_name.into())
    }

    fn add_link(&mut self, span_context: SpanContext, attributes: Vec<KeyValue>) {
        self.0.add_link(span_context, attributes)
    }

    fn end_with_timestamp(&mut self, timestamp: SystemTime) {
        self.0.end_with_timestamp(timestamp)
    }
}

/// What a handle does to its span, wherever the span lives.
enum Op {
    Attribute(KeyValue),
    Event(&'static str, Vec<KeyValue>),
    Status(Status),
    End,
}

impl Op {
    fn apply<S: opentelemetry::trace::Span>(self, span: &mut S) {
        match self {
            Op::Attribute(kv) => span.set_attribute(kv),
            Op::Event(name, attributes) => span.add_event(name, attributes),
            Op::Status(status) => span.set_status(status),
            Op::End => span.end(),
        }
    }

    fn apply_ref(self, span: SpanRef<'_>) {
        match self {
            Op::Attribute(kv) => span.set_attribute(kv),
            Op::Event(name, attributes) => span.add_event(name, attributes),
            Op::Status(status) => span.set_status(status),
            Op::End => span.end(),
        }
    }
}

impl Default for CheckoutTracer {
    fn default() -> Self {
        CheckoutTracer::global()
    }
}

impl From<SdkTracer> for CheckoutTracer {
    fn from(tracer: SdkTracer) -> Self {
        CheckoutTracer::new(tracer)
    }
}

/// Enough for every contract span (the largest, the gateway call, has 12).
const ATTRIBUTE_CAPACITY: usize = 12;

/// Where a [`SpanSpec`] writes its attributes: straight into the vector the
/// span is started with.
pub struct Attrs<'a> {
    attributes: &'a mut Vec<KeyValue>,
}

impl Attrs<'_> {
    /// Adds an attribute.
    #[inline]
    pub fn push(&mut self, kv: KeyValue) {
        self.attributes.push(kv)
    }

    /// Adds a string attribute.
    #[inline]
    pub fn str(&mut self, key: &'static str, value: impl Into<StringValue>) {
        self.push(KeyValue::new(key, Value::String(value.into())))
    }

    /// Adds an integer attribute, saturating values above `i64::MAX`.
    #[inline]
    pub fn int(&mut self, key: &'static str, value: u64) {
        self.push(KeyValue::new(key, saturating_i64(value)))
    }

    /// Adds every attribute of an iterator.
    #[inline]
    pub fn extend(&mut self, kvs: impl IntoIterator<Item = KeyValue>) {
        for kv in kvs {
            self.push(kv)
        }
    }
}

/// Converts a count to an OpenTelemetry integer (which is `i64`).
#[inline]
pub(crate) fn saturating_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// The description of a span: its name, kind and typed attributes.
///
/// Each domain helper of this crate is a `SpanSpec` (for example
/// [`PaymentProcess`](crate::spans::PaymentProcess)); you can write your own
/// for steps of your checkout this crate does not know, and get the same
/// parenting, failure recording and end-once behaviour.
///
/// ```
/// use checkout_otel::opentelemetry::trace::SpanKind;
/// use checkout_otel::spans::{Attrs, CheckoutTracer, SpanSpec, TypedSpan};
///
/// struct FraudCheck<'a> { rule_set: &'a str }
///
/// impl SpanSpec for FraudCheck<'_> {
///     type Span = TypedSpan;
///     const NAME: &'static str = "fraud.check";
///     const KIND: SpanKind = SpanKind::Internal;
///     fn attributes(&self, attrs: &mut Attrs<'_>) {
///         attrs.str("fraud.rule_set", self.rule_set.to_owned());
///     }
///     fn wrap(self, span: TypedSpan, _tracer: &CheckoutTracer) -> TypedSpan { span }
/// }
///
/// let tracer = CheckoutTracer::global();
/// let span = tracer.start(FraudCheck { rule_set: "default" });
/// span.end();
/// ```
pub trait SpanSpec {
    /// The span handle this spec starts: [`TypedSpan`] or a domain wrapper
    /// around it with methods for the step's outcomes.
    type Span;

    /// The span name (a constant of [`crate::attributes`] for the contract's spans).
    const NAME: &'static str;

    /// The span kind.
    const KIND: SpanKind;

    /// The name of this span: [`SpanSpec::NAME`] unless the name depends on
    /// the values (database spans are named after their query).
    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed(Self::NAME)
    }

    /// The kind of this span: [`SpanSpec::KIND`] unless it depends on the values.
    fn kind(&self) -> SpanKind {
        Self::KIND
    }

    /// Writes the span's start attributes. Called only when the span is
    /// expected to be recorded (see [`CheckoutTracer::start`]), so it may
    /// allocate freely: a span that is not sampled does not pay for it.
    ///
    /// The sampler sees these attributes when the span was expected to be
    /// recorded (a child of a sampled parent, or a root while the tracer's
    /// previous root was recorded). The SDK's samplers decide on trace ids and
    /// parents only; a custom sampler that decides on attributes should not
    /// rely on seeing them for the first root after an unsampled one.
    fn attributes(&self, attrs: &mut Attrs<'_>);

    /// Wraps the started span into [`SpanSpec::Span`].
    fn wrap(self, span: TypedSpan, tracer: &CheckoutTracer) -> Self::Span;
}

/// A started span: the shared core of every helper.
///
/// - Ends exactly once: on [`TypedSpan::end`] or when dropped, whichever
///   comes first.
/// - Runs futures inside itself ([`TypedSpan::run`], [`TypedSpan::instrument`])
///   so that spans started in them, typed or `tracing`, are its children,
///   across `.await` and `tokio::spawn`. No thread-local guard is ever held
///   across an `.await`.
/// - Records a failure the way backends read it ([`TypedSpan::fail`]):
///   status `Error` with a scrubbed description, `error.type`,
///   `failure.kind`, and an `exception` event with a scrubbed message. Only
///   the first failure is recorded; success leaves the status `Unset`, as the
///   semantic conventions ask of instrumentation.
pub struct TypedSpan {
    /// The context the span was started in: what its own context extends.
    parent: Context,
    span_context: SpanContext,
    /// The span, until something needs it inside a context (a child, a
    /// future run in it, propagation): moving it into one costs two
    /// allocations that a leaf span never needs. `None` when not recording.
    live: Mutex<Option<Live>>,
    /// Built on first use from `parent` and the span taken out of `live`.
    cx: OnceLock<Context>,
    /// Fixed at start: a span that is not recording never becomes one, and
    /// checking this flag saves locking the span for every no-op call.
    recording: bool,
    ended: AtomicBool,
    failed: AtomicBool,
}

impl fmt::Debug for TypedSpan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TypedSpan")
            .field("trace_id", &self.trace_id())
            .field("span_id", &self.span_id())
            .field("recording", &self.is_recording())
            .finish()
    }
}

impl TypedSpan {
    /// The context holding this span: the parent for work done on its behalf,
    /// and what [`crate::propagation::inject`] sends to the next service.
    pub fn context(&self) -> &Context {
        if let Some(cx) = self.cx.get() {
            return cx;
        }
        // Initialised under the lock, so `apply` never finds the span gone
        // from `live` without finding it in `cx`.
        let mut live = self.lock_live();
        self.cx.get_or_init(|| match live.take() {
            Some(span) => self.parent.with_span(span),
            // A span that records nothing: its ids are all a context needs.
            // (The method keeps the span context as it is; it is not remote.)
            None => self
                .parent
                .with_remote_span_context(self.span_context.clone()),
        })
    }

    /// The span's trace id.
    pub fn trace_id(&self) -> TraceId {
        self.span_context.trace_id()
    }

    /// The span's id.
    pub fn span_id(&self) -> SpanId {
        self.span_context.span_id()
    }

    fn lock_live(&self) -> std::sync::MutexGuard<'_, Option<Live>> {
        // A panic elsewhere while the lock was held must not take telemetry down.
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Applies `op` to the span, wherever it lives now.
    fn apply(&self, op: Op) {
        if !self.recording {
            return;
        }
        if let Some(cx) = self.cx.get() {
            return op.apply_ref(cx.span());
        }
        let mut live = self.lock_live();
        match live.as_mut() {
            Some(span) => op.apply(span),
            None => {
                drop(live);
                // Moved into the context by another thread in the meantime.
                if let Some(cx) = self.cx.get() {
                    op.apply_ref(cx.span());
                }
            }
        }
    }

    /// Whether the span is recorded (sampled, or record-only). Use it to skip
    /// building expensive attributes of your own.
    pub fn is_recording(&self) -> bool {
        self.recording && !self.ended.load(Ordering::Acquire)
    }

    /// Sets an attribute. Keep values free of PII: the redacting exporter
    /// scrubs string values at export, but it is the last line of defence.
    pub fn set_attribute(&self, kv: KeyValue) {
        self.apply(Op::Attribute(kv));
    }

    /// Adds an event.
    pub fn add_event(&self, name: &'static str, attributes: Vec<KeyValue>) {
        self.apply(Op::Event(name, attributes));
    }

    /// Records a failure: status `Error` with the scrubbed message,
    /// `error.type`, `failure.kind` and an `exception` event.
    ///
    /// Only the first failure recorded on a span counts.
    pub fn fail<E: ClassifyError + ?Sized>(&self, error: &E) {
        self.fail_with(
            error.error_type(),
            error.failure_kind(),
            &error.to_string(),
            error.exception_type(),
        )
    }

    /// Records a failure from its parts (see [`TypedSpan::fail`]).
    pub fn fail_with(
        &self,
        error_type: ErrorType,
        kind: FailureKind,
        message: &str,
        exception_type: &'static str,
    ) {
        if self.failed.swap(true, Ordering::AcqRel) {
            return;
        }
        if !self.recording {
            return;
        }
        let message = pii::scrub(message).into_owned();
        self.apply(Op::Attribute(KeyValue::new(
            attr::ERROR_TYPE,
            error_type.as_str(),
        )));
        self.apply(Op::Attribute(KeyValue::new(
            attr::FAILURE_KIND,
            kind.as_str(),
        )));
        self.apply(Op::Event(
            attr::EXCEPTION_EVENT,
            vec![
                KeyValue::new(attr::EXCEPTION_TYPE, exception_type),
                KeyValue::new(attr::EXCEPTION_MESSAGE, message.clone()),
            ],
        ));
        self.apply(Op::Status(Status::error(message)));
    }

    /// Whether a failure has been recorded on this span.
    pub fn has_failed(&self) -> bool {
        self.failed.load(Ordering::Acquire)
    }

    /// Records the error of `result`, if any, and passes it through.
    pub fn record<T, E: ClassifyError>(&self, result: Result<T, E>) -> Result<T, E> {
        if let Err(e) = &result {
            self.fail(e);
        }
        result
    }

    /// Ends the span now. Later calls, and the drop, do nothing.
    pub fn end(&self) {
        // Ending reads the clock and locks the span: do it once, and not at
        // all for a span that records nothing. A plain load and store, not a
        // swap: two threads racing to end the same span both reach the SDK,
        // which ends a span once anyway.
        if !self.ended.load(Ordering::Acquire) {
            self.ended.store(true, Ordering::Release);
            self.apply(Op::End);
        }
    }

    /// Wraps `fut` so that it runs inside this span: spans started while it is
    /// polled are children of this one. The span stays open; await the result,
    /// or spawn it (`tokio::spawn(span.run(fut))`) while keeping the span alive.
    pub fn run<F: Future>(&self, fut: F) -> WithContext<F> {
        fut.with_context(self.context().clone())
    }

    /// Moves the span into `fut`: it runs inside the span, and the span ends
    /// when the future completes (or is dropped). Made for fire-and-forget
    /// work: `tokio::spawn(span.instrument(send_email()))`.
    pub fn instrument<F: Future>(self, fut: F) -> Instrumented<F, TypedSpan> {
        let cx = self.context().clone();
        Instrumented::new(fut, cx, self)
    }

    /// Like [`TypedSpan::instrument`], for fallible work: an `Err` is recorded
    /// on the span (see [`TypedSpan::fail`]) before it ends.
    pub fn instrument_result<F, T, E>(self, fut: F) -> impl Future<Output = Result<T, E>>
    where
        F: Future<Output = Result<T, E>>,
        E: ClassifyError,
    {
        let cx = self.context().clone();
        async move {
            let result = fut.with_context(cx).await;
            self.record(result)
        }
    }

    /// Makes this span current on this thread until the guard drops, for
    /// synchronous code. Never hold the guard across an `.await`: use
    /// [`TypedSpan::run`] there.
    pub fn enter(&self) -> ContextGuard {
        self.context().clone().attach()
    }
}

impl Drop for TypedSpan {
    fn drop(&mut self) {
        self.end();
    }
}

pin_project_lite::pin_project! {
    /// A future that runs inside a span handle it owns, and drops the handle
    /// (ending the span) when it completes. Returned by `instrument`.
    pub struct Instrumented<F, H> {
        #[pin]
        inner: WithContext<F>,
        span: Option<H>,
    }
}

impl<F: Future, H> Instrumented<F, H> {
    pub(crate) fn new(fut: F, cx: Context, handle: H) -> Self {
        Instrumented {
            inner: fut.with_context(cx),
            span: Some(handle),
        }
    }
}

impl<F: Future, H> Future for Instrumented<F, H> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        let this = self.project();
        let out = std::task::ready!(this.inner.poll(cx));
        // Dropping the handle runs its end-of-span bookkeeping, then ends it.
        this.span.take();
        Poll::Ready(out)
    }
}

/// How a failure is recorded: its low-cardinality `error.type`, and whether it
/// was an expected business outcome or a fault.
///
/// Implement it for your service's error types:
///
/// ```
/// use checkout_otel::attributes::{ErrorType, FailureKind};
/// use checkout_otel::spans::ClassifyError;
///
/// #[derive(Debug, thiserror::Error)]
/// enum PaymentError {
///     #[error("card declined: {0}")]
///     Declined(String),
///     #[error("gateway timed out")]
///     Timeout,
/// }
///
/// impl ClassifyError for PaymentError {
///     fn error_type(&self) -> ErrorType {
///         match self {
///             PaymentError::Declined(_) => ErrorType::CARD_DECLINED,
///             PaymentError::Timeout => ErrorType::TIMEOUT,
///         }
///     }
///     fn failure_kind(&self) -> FailureKind {
///         match self {
///             PaymentError::Declined(_) => FailureKind::Rejection,
///             PaymentError::Timeout => FailureKind::Fault,
///         }
///     }
/// }
/// ```
pub trait ClassifyError: fmt::Display {
    /// The `error.type` value: low cardinality, never an id or a message.
    fn error_type(&self) -> ErrorType;

    /// [`FailureKind::Rejection`] for expected business outcomes (declines,
    /// out of stock), [`FailureKind::Fault`] (the default) for everything else.
    fn failure_kind(&self) -> FailureKind {
        FailureKind::Fault
    }

    /// The `exception.type` of the exception event: by default the Rust type
    /// name of the error.
    fn exception_type(&self) -> &'static str {
        std::any::type_name::<Self>()
    }
}

impl<E: ClassifyError + ?Sized> ClassifyError for &E {
    fn error_type(&self) -> ErrorType {
        (**self).error_type()
    }
    fn failure_kind(&self) -> FailureKind {
        (**self).failure_kind()
    }
    fn exception_type(&self) -> &'static str {
        (**self).exception_type()
    }
}

impl<E: ClassifyError + ?Sized> ClassifyError for Box<E> {
    fn error_type(&self) -> ErrorType {
        (**self).error_type()
    }
    fn failure_kind(&self) -> FailureKind {
        (**self).failure_kind()
    }
    fn exception_type(&self) -> &'static str {
        (**self).exception_type()
    }
}

/// A ready-made classified error, for code that has no error type of its own.
///
/// ```
/// use checkout_otel::attributes::ErrorType;
/// use checkout_otel::spans::{ClassifyError, Failure};
/// let f = Failure::rejection(ErrorType::INSUFFICIENT_STOCK, "only 1 left of sku-42");
/// assert_eq!(f.error_type(), ErrorType::INSUFFICIENT_STOCK);
/// assert_eq!(f.to_string(), "only 1 left of sku-42");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    error_type: ErrorType,
    kind: FailureKind,
    message: Cow<'static, str>,
}

impl Failure {
    /// An expected business outcome (decline, out of stock, stale price).
    pub fn rejection(error_type: ErrorType, message: impl Into<Cow<'static, str>>) -> Self {
        Failure {
            error_type,
            kind: FailureKind::Rejection,
            message: message.into(),
        }
    }

    /// A fault (timeout, 5xx, bug).
    pub fn fault(error_type: ErrorType, message: impl Into<Cow<'static, str>>) -> Self {
        Failure {
            error_type,
            kind: FailureKind::Fault,
            message: message.into(),
        }
    }

    /// The failure's message (not yet scrubbed: it is scrubbed when recorded).
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

impl ClassifyError for Failure {
    fn error_type(&self) -> ErrorType {
        self.error_type
    }
    fn failure_kind(&self) -> FailureKind {
        self.kind
    }
    fn exception_type(&self) -> &'static str {
        self.error_type.as_str()
    }
}

/// Declares a domain span handle: a newtype over [`TypedSpan`] that derefs to
/// it and forwards the owning methods.
macro_rules! span_handle {
    ($(#[$meta:meta])* $name:ident { $($field:ident : $ty:ty),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug)]
        pub struct $name {
            span: $crate::spans::TypedSpan,
            $($field: $ty,)*
        }

        impl std::ops::Deref for $name {
            type Target = $crate::spans::TypedSpan;
            fn deref(&self) -> &$crate::spans::TypedSpan {
                &self.span
            }
        }

        impl $name {
            /// Moves the span into `fut` and ends it when `fut` completes
            /// (see [`TypedSpan::instrument`](crate::spans::TypedSpan::instrument)).
            pub fn instrument<F: std::future::Future>(
                self,
                fut: F,
            ) -> $crate::spans::Instrumented<F, Self> {
                let cx = self.span.context().clone();
                $crate::spans::Instrumented::new(fut, cx, self)
            }

            /// Moves the span into fallible `fut`, records an `Err` on it and
            /// ends it when `fut` completes (see
            /// [`TypedSpan::instrument_result`](crate::spans::TypedSpan::instrument_result)).
            pub fn instrument_result<F, T, E>(
                self,
                fut: F,
            ) -> impl std::future::Future<Output = Result<T, E>>
            where
                F: std::future::Future<Output = Result<T, E>>,
                E: $crate::spans::ClassifyError,
            {
                use opentelemetry::trace::FutureExt as _;
                let cx = self.span.context().clone();
                async move {
                    let result = fut.with_context(cx).await;
                    let result = self.span.record(result);
                    drop(self);
                    result
                }
            }
        }
    };
}
pub(crate) use span_handle;
