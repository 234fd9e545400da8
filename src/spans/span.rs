//! [`TypedSpan`], the one span core every handle is built on: a recording
//! span kept out of any [`Context`] until something needs one, failures
//! recorded the way backends read them, and an end that runs exactly once.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::SystemTime;

use opentelemetry::global;
use opentelemetry::trace::{
    FutureExt, Span as _, SpanContext, SpanId, SpanKind, SpanRef, Status, TraceContextExt, TraceId,
    WithContext,
};
use opentelemetry::{Context, ContextGuard, KeyValue};

use super::exception::{self, ExceptionSignal};
use super::spec::Attrs;
use super::{ClassifyError, Instrumented};
use crate::attributes::{self as attr, ErrorType, FailureKind};
use crate::pii;

/// Enough for every contract span (the largest, the gateway call, has 12).
const ATTRIBUTE_CAPACITY: usize = 12;

/// A started span: the shared core of every handle, and the handle of
/// [`SpanSpec`](super::SpanSpec)s of your own.
///
/// The crate's domain specs start handles of their own (`{Spec}Span`, for
/// example [`PaymentGatewayCallSpan`](super::PaymentGatewayCallSpan)) that
/// keep this core private, so their bookkeeping cannot be bypassed.
///
/// - Ends exactly once: every way to end it consumes it ([`TypedSpan::end`],
///   [`TypedSpan::fail`], [`TypedSpan::record`], [`TypedSpan::instrument`],
///   [`TypedSpan::instrument_result`]), and dropping it ends it too.
/// - Runs futures inside itself ([`TypedSpan::run`], [`TypedSpan::instrument`])
///   so that spans started in them, typed or `tracing`, are its children,
///   across `.await` and `tokio::spawn`. No thread-local guard is ever held
///   across an `.await`.
/// - Records a failure the way backends read it ([`TypedSpan::fail`]):
///   status `Error` with a scrubbed description, `error.type`,
///   `failure.kind`, and an `exception` event with a scrubbed message. Only
///   the first failure is recorded; success leaves the status `Unset`, as the
///   semantic conventions ask of instrumentation.
#[must_use = "a span ends when its handle is dropped: bind it (`let span = ...`) and end it when the work is done"]
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
    failed: AtomicBool,
    /// Where a failure's exception is recorded.
    exception_signal: ExceptionSignal,
    /// A root whose trace id came from a random generator: its context says
    /// so, for W3C's `random-trace-id` flag.
    random_trace_id: bool,
}

/// Starts a span with `tracer` and attaches its attributes: into the builder
/// (one vector, seen by the sampler) when the span is `expected` to be
/// recorded, afterwards and only if it is recording otherwise.
#[inline]
pub(super) fn start<T>(
    tracer: &T,
    name: Cow<'static, str>,
    kind: SpanKind,
    parent: Context,
    expected: bool,
    fill: &mut dyn FnMut(&mut Attrs<'_>),
) -> TypedSpan
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
    let mut span = builder.start_with_context(tracer, &parent);
    let span_context = span.span_context().clone();
    // A span that is not recording records nothing and ends as a no-op, so
    // only its identity is kept.
    let live = if span.is_recording() {
        if !expected {
            let mut attributes = Vec::with_capacity(ATTRIBUTE_CAPACITY);
            fill(&mut Attrs {
                attributes: &mut attributes,
            });
            for kv in attributes {
                span.set_attribute(kv);
            }
        }
        Some(Live::new(span))
    } else {
        None
    };
    TypedSpan {
        parent,
        span_context,
        recording: live.is_some(),
        live: Mutex::new(live),
        cx: OnceLock::new(),
        failed: AtomicBool::new(false),
        exception_signal: ExceptionSignal::SpanEvent,
        random_trace_id: false,
    }
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
    /// and what [`CheckoutTracer::inject`](super::CheckoutTracer::inject)
    /// sends to the next service.
    pub fn context(&self) -> &Context {
        if let Some(cx) = self.cx.get() {
            return cx;
        }
        // Initialised under the lock, so `apply` never finds the span gone
        // from `live` without finding it in `cx`.
        let mut live = self.lock_live();
        self.cx.get_or_init(|| match live.take() {
            Some(span) => self.context_parent().with_span(span),
            // No ids at all (a no-op tracer's span, when no provider is
            // installed): the parent's context as it is. An invalid span in
            // a context would make the SDK's parent-based sampler drop every
            // child as the child of an unsampled parent.
            None if !self.span_context.is_valid() => self.parent.clone(),
            // A span that records nothing: its ids are all a context needs.
            // (The method keeps the span context as it is; it is not remote.)
            None => self
                .context_parent()
                .with_remote_span_context(self.span_context.clone()),
        })
    }

    /// What the span's own context extends: the parent, with the trace id
    /// marked random for a root that [`mark_random_trace_id`](Self::mark_random_trace_id)
    /// was called on (only when a context is built, so leaves pay nothing).
    fn context_parent(&self) -> Cow<'_, Context> {
        if self.random_trace_id && self.span_context.is_valid() {
            Cow::Owned(
                self.parent
                    .with_value(crate::propagation::RandomTraceId(self.trace_id())),
            )
        } else {
            Cow::Borrowed(&self.parent)
        }
    }

    /// The span's trace id.
    pub fn trace_id(&self) -> TraceId {
        self.span_context.trace_id()
    }

    /// The span's id.
    pub fn span_id(&self) -> SpanId {
        self.span_context.span_id()
    }

    /// Whether the span is recorded (sampled, or record-only). Use it to skip
    /// building expensive attributes of your own.
    pub fn is_recording(&self) -> bool {
        self.recording
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

    /// Wraps `fut` so that it runs inside this span: spans started while it is
    /// polled are children of this one. The span stays open; await the result,
    /// or spawn it (`tokio::spawn(span.run(fut))`) while keeping the span alive.
    pub fn run<F: Future>(&self, fut: F) -> WithContext<F> {
        fut.with_context(self.context().clone())
    }

    /// Makes this span current on this thread until the guard drops, for
    /// synchronous code. Never hold the guard across an `.await`: use
    /// [`TypedSpan::run`] there.
    pub fn enter(&self) -> ContextGuard {
        self.context().clone().attach()
    }

    /// Ends the span now (dropping it does the same).
    #[inline]
    pub fn end(self) {
        drop(self);
    }

    /// Records a failure and ends the span: status `Error` with the scrubbed
    /// message, `error.type`, `failure.kind` and an `exception` event.
    #[inline]
    pub fn fail<E: ClassifyError + ?Sized>(self, error: &E) {
        self.record_failure(error);
    }

    /// Records the error of `result`, if any, ends the span, and passes the
    /// result through: `span.record(do_work())?`.
    #[inline]
    pub fn record<T, E: ClassifyError>(self, result: Result<T, E>) -> Result<T, E> {
        if let Err(e) = &result {
            self.record_failure(e);
        }
        result
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

    /// Records a failure without ending the span (see [`TypedSpan::fail`]).
    /// Only the first failure recorded on a span counts.
    pub(crate) fn record_failure<E: ClassifyError + ?Sized>(&self, error: &E) {
        self.fail_with(
            error.error_type(),
            error.failure_kind(),
            &error.to_string(),
            error.exception_type(),
        )
    }

    /// Records a failure from its parts, without ending the span (see
    /// [`TypedSpan::fail`]). Only the first failure recorded on a span counts.
    pub(crate) fn fail_with(
        &self,
        error_type: ErrorType,
        kind: FailureKind,
        message: &str,
        exception_type: &'static str,
    ) {
        if self.failed.swap(true, Ordering::AcqRel) || !self.recording {
            return;
        }
        let message = pii::scrub(message).into_owned();
        if self.exception_signal.log() {
            exception::emit_log(
                &self.span_context,
                error_type,
                kind,
                exception_type,
                &message,
            );
        }
        self.apply_failure_kind(error_type, kind);
        if self.exception_signal.span_event() {
            self.apply(Op::Event(
                attr::EXCEPTION_EVENT,
                vec![
                    KeyValue::new(attr::EXCEPTION_TYPE, exception_type),
                    KeyValue::new(attr::EXCEPTION_MESSAGE, message.clone()),
                ],
            ));
        }
        self.apply(Op::Status(Status::error(message)));
    }

    /// Records failures' exceptions where `signal` says.
    pub(super) fn set_exception_signal(&mut self, signal: ExceptionSignal) {
        self.exception_signal = signal;
    }

    /// Records that this span started its trace with a trace id from a
    /// random generator.
    pub(super) fn mark_random_trace_id(&mut self) {
        self.random_trace_id = true;
    }

    /// Records a failure that raised no exception (an HTTP server's 5xx, a
    /// request cancelled), without ending the span: status `Error` with
    /// `message` (not scrubbed: the caller builds it from no input),
    /// `error.type` and `failure.kind`, and no `exception` event. Only the
    /// first failure recorded on a span counts.
    pub(crate) fn fail_without_exception(
        &self,
        error_type: ErrorType,
        kind: FailureKind,
        message: String,
    ) {
        if self.failed.swap(true, Ordering::AcqRel) || !self.recording {
            return;
        }
        self.apply_failure_kind(error_type, kind);
        self.apply(Op::Status(Status::error(message)));
    }

    /// `error.type` and `failure.kind`, which every failure records.
    fn apply_failure_kind(&self, error_type: ErrorType, kind: FailureKind) {
        self.apply(Op::Attribute(KeyValue::new(
            attr::ERROR_TYPE,
            error_type.as_str(),
        )));
        self.apply(Op::Attribute(KeyValue::new(
            attr::FAILURE_KIND,
            kind.as_str(),
        )));
    }

    /// Whether a failure has been recorded on this span.
    pub(crate) fn has_failed(&self) -> bool {
        self.failed.load(Ordering::Acquire)
    }

    fn lock_live(&self) -> MutexGuard<'_, Option<Live>> {
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
}

impl Drop for TypedSpan {
    fn drop(&mut self) {
        // Ownership makes this the only end; a span that records nothing
        // skips reading the clock and locking.
        self.apply(Op::End);
    }
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
