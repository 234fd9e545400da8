//! The one span core every domain helper is built on.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context as TaskContext, Poll};

use opentelemetry::global::{self, BoxedTracer};
use opentelemetry::trace::{
    FutureExt, SpanId, SpanKind, Status, TraceContextExt, TraceId, Tracer as _, WithContext,
};
use opentelemetry::{Context, ContextGuard, InstrumentationScope, KeyValue, StringValue, Value};
use opentelemetry_sdk::trace::SdkTracer;

use crate::attributes::{self as attr, ErrorType, FailureKind};
use crate::metrics::CheckoutMetrics;
use crate::pii;

/// The instrumentation scope name of every span this crate starts.
pub const SCOPE_NAME: &str = "checkout-otel";

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
        }
    }

    /// A tracer over the global tracer provider, for code that has no guard at
    /// hand. Spans are dropped until a provider is installed globally.
    pub fn global() -> Self {
        let scope = InstrumentationScope::builder(SCOPE_NAME)
            .with_version(env!("CARGO_PKG_VERSION"))
            .build();
        CheckoutTracer {
            inner: TracerInner::Global(Arc::new(global::tracer_with_scope(scope))),
            metrics: None,
        }
    }

    /// Attaches the checkout meter: spans started from the returned tracer
    /// record the checkout metrics automatically.
    pub fn with_metrics(mut self, metrics: CheckoutMetrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// The attached checkout meter, if any.
    pub fn metrics(&self) -> Option<&CheckoutMetrics> {
        self.metrics.as_ref()
    }

    /// Starts a span of `spec` as a child of the current context.
    pub fn start<S: SpanSpec>(&self, spec: S) -> S::Span {
        self.start_in(spec, &Context::current())
    }

    /// Starts a span of `spec` as a child of `parent` (for example a context
    /// extracted from incoming headers with [`crate::propagation::extract`]).
    pub fn start_in<S: SpanSpec>(&self, spec: S, parent: &Context) -> S::Span {
        let span = self.start_typed(spec.name(), spec.kind(), parent, &mut |attrs| {
            spec.attributes(attrs)
        });
        spec.wrap(span, self)
    }

    /// Starts a span with attributes filled in only when it is recording.
    ///
    /// This is the single place every helper goes through: a span that is not
    /// sampled costs an id and nothing else, because `fill` is never called.
    pub(crate) fn start_typed(
        &self,
        name: Cow<'static, str>,
        kind: SpanKind,
        parent: &Context,
        fill: &mut dyn FnMut(&mut Attrs<'_>),
    ) -> TypedSpan {
        // Pre-size the SDK's attribute vector only when the span is likely to be
        // recorded, so an unsampled child allocates nothing for attributes.
        let parent_span = parent.span();
        let parent_sc = parent_span.span_context();
        let likely_sampled = !parent_sc.is_valid() || parent_sc.is_sampled();
        let cx = match &self.inner {
            TracerInner::Sdk(tracer) => {
                let mut builder = tracer.span_builder(name).with_kind(kind);
                if likely_sampled {
                    builder.attributes = Some(Vec::with_capacity(ATTRIBUTE_CAPACITY));
                }
                let mut span = builder.start_with_context(tracer, parent);
                fill_if_recording(&mut span, fill);
                parent.with_span(span)
            }
            TracerInner::Global(tracer) => {
                let mut builder = tracer.span_builder(name).with_kind(kind);
                if likely_sampled {
                    builder.attributes = Some(Vec::with_capacity(ATTRIBUTE_CAPACITY));
                }
                let mut span = builder.start_with_context(tracer.as_ref(), parent);
                fill_if_recording(&mut span, fill);
                parent.with_span(span)
            }
        };
        TypedSpan {
            cx,
            failed: AtomicBool::new(false),
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

fn fill_if_recording<S: opentelemetry::trace::Span>(
    span: &mut S,
    fill: &mut dyn FnMut(&mut Attrs<'_>),
) {
    if span.is_recording() {
        let mut sink = |kv: KeyValue| span.set_attribute(kv);
        fill(&mut Attrs { sink: &mut sink });
    }
}

/// Where a [`SpanSpec`] writes its attributes. Only called for spans that are
/// recording.
pub struct Attrs<'a> {
    sink: &'a mut dyn FnMut(KeyValue),
}

impl Attrs<'_> {
    /// Adds an attribute.
    #[inline]
    pub fn push(&mut self, kv: KeyValue) {
        (self.sink)(kv)
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

    /// Writes the span's start attributes. Not called when the span is not
    /// recording, so it may allocate freely.
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
    pub(crate) cx: Context,
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
        &self.cx
    }

    /// The span's trace id.
    pub fn trace_id(&self) -> TraceId {
        self.cx.span().span_context().trace_id()
    }

    /// The span's id.
    pub fn span_id(&self) -> SpanId {
        self.cx.span().span_context().span_id()
    }

    /// Whether the span is recorded (sampled, or record-only). Use it to skip
    /// building expensive attributes of your own.
    pub fn is_recording(&self) -> bool {
        self.cx.span().is_recording()
    }

    /// Sets an attribute. Keep values free of PII: the redacting exporter
    /// scrubs string values at export, but it is the last line of defence.
    pub fn set_attribute(&self, kv: KeyValue) {
        let span = self.cx.span();
        if span.is_recording() {
            span.set_attribute(kv);
        }
    }

    /// Adds an event.
    pub fn add_event(&self, name: &'static str, attributes: Vec<KeyValue>) {
        let span = self.cx.span();
        if span.is_recording() {
            span.add_event(name, attributes);
        }
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
        let span = self.cx.span();
        if !span.is_recording() {
            return;
        }
        let message = pii::scrub(message).into_owned();
        span.set_attribute(KeyValue::new(attr::ERROR_TYPE, error_type.as_str()));
        span.set_attribute(KeyValue::new(attr::FAILURE_KIND, kind.as_str()));
        span.add_event(
            attr::EXCEPTION_EVENT,
            vec![
                KeyValue::new(attr::EXCEPTION_TYPE, exception_type),
                KeyValue::new(attr::EXCEPTION_MESSAGE, message.clone()),
            ],
        );
        span.set_status(Status::error(message));
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
        self.cx.span().end();
    }

    /// Wraps `fut` so that it runs inside this span: spans started while it is
    /// polled are children of this one. The span stays open; await the result,
    /// or spawn it (`tokio::spawn(span.run(fut))`) while keeping the span alive.
    pub fn run<F: Future>(&self, fut: F) -> WithContext<F> {
        fut.with_context(self.cx.clone())
    }

    /// Moves the span into `fut`: it runs inside the span, and the span ends
    /// when the future completes (or is dropped). Made for fire-and-forget
    /// work: `tokio::spawn(span.instrument(send_email()))`.
    pub fn instrument<F: Future>(self, fut: F) -> Instrumented<F, TypedSpan> {
        Instrumented::new(fut, self.cx.clone(), self)
    }

    /// Like [`TypedSpan::instrument`], for fallible work: an `Err` is recorded
    /// on the span (see [`TypedSpan::fail`]) before it ends.
    pub fn instrument_result<F, T, E>(self, fut: F) -> impl Future<Output = Result<T, E>>
    where
        F: Future<Output = Result<T, E>>,
        E: ClassifyError,
    {
        let cx = self.cx.clone();
        async move {
            let result = fut.with_context(cx).await;
            self.record(result)
        }
    }

    /// Makes this span current on this thread until the guard drops, for
    /// synchronous code. Never hold the guard across an `.await`: use
    /// [`TypedSpan::run`] there.
    pub fn enter(&self) -> ContextGuard {
        self.cx.clone().attach()
    }
}

impl Drop for TypedSpan {
    fn drop(&mut self) {
        self.cx.span().end();
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
                let cx = self.span.cx.clone();
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
                let cx = self.span.cx.clone();
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
