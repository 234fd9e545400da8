//! The macros that write the domain handles: a struct over the private
//! [`TypedSpan`](super::TypedSpan) core, with the shared methods as explicit
//! forwarding methods (no `Deref`, so nothing of the core is reachable
//! except what a handle chooses to offer).
//!
//! A handle's *ending* is its `Drop`: the handle's bookkeeping (if it has
//! any, in its own `Drop`), then the core's end. Every ending method
//! consumes the handle, so that ending runs exactly once, whichever way the
//! span ends.

/// Writes the non-ending methods every handle shares, forwarding to the
/// handle's `span` field.
macro_rules! forward_span_methods {
    ($name:ident) => {
        impl $name {
            /// The context holding this span: the parent for work done on its
            /// behalf, and what [`CheckoutTracer::inject`](crate::spans::CheckoutTracer::inject)
            /// sends to the next service.
            #[inline]
            pub fn context(&self) -> &::opentelemetry::Context {
                self.span.context()
            }

            /// The span's trace id.
            #[inline]
            pub fn trace_id(&self) -> ::opentelemetry::trace::TraceId {
                self.span.trace_id()
            }

            /// The span's id.
            #[inline]
            pub fn span_id(&self) -> ::opentelemetry::trace::SpanId {
                self.span.span_id()
            }

            /// Whether the span is recorded (sampled, or record-only). Use it
            /// to skip building expensive attributes of your own.
            #[inline]
            pub fn is_recording(&self) -> bool {
                self.span.is_recording()
            }

            /// Sets an attribute. Keep values free of PII: the redacting
            /// exporter scrubs string values at export, but it is the last
            /// line of defence.
            #[inline]
            pub fn set_attribute(&self, kv: ::opentelemetry::KeyValue) {
                self.span.set_attribute(kv)
            }

            /// Adds an event.
            #[inline]
            pub fn add_event(
                &self,
                name: &'static str,
                attributes: ::std::vec::Vec<::opentelemetry::KeyValue>,
            ) {
                self.span.add_event(name, attributes)
            }

            /// Wraps `fut` so that it runs inside this span (see
            /// [`TypedSpan::run`](crate::spans::TypedSpan::run)). The span
            /// stays open.
            #[inline]
            pub fn run<F: ::std::future::Future>(
                &self,
                fut: F,
            ) -> ::opentelemetry::trace::WithContext<F> {
                self.span.run(fut)
            }

            /// Makes this span current on this thread until the guard drops,
            /// for synchronous code. Never hold the guard across an `.await`:
            /// use `run` there.
            #[inline]
            pub fn enter(&self) -> ::opentelemetry::ContextGuard {
                self.span.enter()
            }
        }
    };
}
pub(super) use forward_span_methods;

/// Writes the ending methods of a handle. Each consumes the handle, so the
/// handle's own ending (its `Drop`) runs, and runs once.
macro_rules! span_endings {
    ($name:ident) => {
        impl $name {
            /// Ends the span through this handle's ending (dropping the
            /// handle does the same).
            // Inlined: a by-value handle would otherwise be copied into the call.
            #[inline]
            pub fn end(self) {
                drop(self);
            }

            /// Records a failure and ends the span through this handle's
            /// ending: status `Error` with the scrubbed message, `error.type`,
            /// `failure.kind` and an `exception` event. A failure recorded
            /// earlier on the span (such as an HTTP 5xx) is kept.
            // Inlined: a by-value handle would otherwise be copied into the call.
            #[inline]
            pub fn fail<E: $crate::spans::ClassifyError + ?Sized>(self, error: &E) {
                self.span.record_failure(error);
                drop(self);
            }

            /// Records the error of `result`, if any, ends the span through
            /// this handle's ending, and passes the result through:
            /// `span.record(do_work())?`.
            // Inlined: a by-value handle would otherwise be copied into the call.
            #[inline]
            pub fn record<T, E: $crate::spans::ClassifyError>(
                self,
                result: ::std::result::Result<T, E>,
            ) -> ::std::result::Result<T, E> {
                if let Err(e) = &result {
                    self.span.record_failure(e);
                }
                drop(self);
                result
            }

            /// Moves the span into `fut`: it runs inside the span, and the
            /// span ends through this handle's ending when `fut` completes
            /// (or is dropped). For fire-and-forget work:
            /// `tokio::spawn(span.instrument(work))`.
            pub fn instrument<F: ::std::future::Future>(
                self,
                fut: F,
            ) -> $crate::spans::Instrumented<F, Self> {
                let cx = self.span.context().clone();
                $crate::spans::Instrumented::new(fut, cx, self)
            }

            /// Like `instrument`, for fallible work: an `Err` is recorded on
            /// the span (see `fail`) before it ends.
            pub fn instrument_result<F, T, E>(
                self,
                fut: F,
            ) -> impl ::std::future::Future<Output = ::std::result::Result<T, E>>
            where
                F: ::std::future::Future<Output = ::std::result::Result<T, E>>,
                E: $crate::spans::ClassifyError,
            {
                use ::opentelemetry::trace::FutureExt as _;
                let cx = self.span.context().clone();
                async move {
                    let result = fut.with_context(cx).await;
                    self.record(result)
                }
            }
        }
    };
}
pub(super) use span_endings;

/// Declares a domain handle: a struct over the [`TypedSpan`](super::TypedSpan)
/// core plus the handle's own state, with the shared methods and the
/// endings. A handle with bookkeeping implements `Drop` for it.
macro_rules! span_handle {
    ($(#[$meta:meta])* $name:ident { $($field:ident : $ty:ty),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug)]
        #[must_use = "a span ends when its handle is dropped: bind it (`let span = ...`) and end it when the work is done"]
        pub struct $name {
            span: $crate::spans::TypedSpan,
            $($field: $ty,)*
        }

        $crate::spans::handle::forward_span_methods!($name);
        $crate::spans::handle::span_endings!($name);
    };
}
pub(super) use span_handle;
