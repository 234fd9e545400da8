//! [`Instrumented`]: a future that owns a span handle and ends it, through
//! the handle's own ending, when the future completes.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use opentelemetry::Context;
use opentelemetry::trace::{FutureExt, WithContext};

pin_project_lite::pin_project! {
    /// A future that runs inside a span handle it owns, and drops the handle
    /// (running its ending: bookkeeping, then the span's end) when it
    /// completes, or when the future itself is dropped. Returned by the
    /// handles' `instrument`.
    #[must_use = "futures do nothing unless polled; the span ends when this future completes or is dropped"]
    pub struct Instrumented<F, H> {
        #[pin]
        inner: WithContext<F>,
        span: Option<H>,
    }
}

impl<F: Future, H> Instrumented<F, H> {
    /// `fut` running in `cx` (the handle's context), owning `handle`.
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
        // Dropping the handle is its ending: bookkeeping, then the span's end.
        this.span.take();
        Poll::Ready(out)
    }
}
