//! The response side shared by both layers: the future that waits for the
//! response's headers and the body that carries the span until the status
//! in its trailers.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use http_body::{Body, Frame, SizeHint};
use opentelemetry::trace::{FutureExt as _, WithContext};
use tower_service::Service;

use super::status::{CallSpan, Side};
use crate::attributes::ErrorType;
use crate::spans::TypedSpan;

pin_project_lite::pin_project! {
    /// The response future of [`OtelGrpcServerService`](super::OtelGrpcServerService)
    /// and [`OtelGrpcClientService`](super::OtelGrpcClientService): the inner
    /// service's, polled inside the call's span. A trailers-only response
    /// (an error status without a body) ends the span here; otherwise the
    /// span moves into the response's [`OtelGrpcBody`].
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<F> {
        #[pin]
        inner: WithContext<F>,
        call: Option<CallSpan>,
    }
}

impl<F> ResponseFuture<F> {
    /// Calls `service` with `request` inside `span`'s context (what the
    /// service does in `call` itself, and every poll of its future, run in
    /// the span), the span then waiting for the call's status.
    pub(super) fn call_in<S, R>(service: &mut S, request: R, span: TypedSpan, side: Side) -> Self
    where
        S: Service<R, Future = F>,
    {
        let cx = span.context().clone();
        let inner = {
            // The guard ends with this block, before any `.await`.
            let _current = cx.clone().attach();
            service.call(request)
        };
        ResponseFuture {
            inner: inner.with_context(cx),
            call: Some(CallSpan::new(span, side)),
        }
    }
}

impl<F: fmt::Debug> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<http::Response<B>, E>>,
{
    type Output = Result<http::Response<OtelGrpcBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = std::task::ready!(this.inner.poll(cx));
        let mut call = this.call.take();
        Poll::Ready(match result {
            Ok(response) => {
                if let Some(call) = call.as_mut() {
                    call.end_from_head(response.status(), response.headers());
                }
                let call = call.filter(|c| !c.is_done());
                Ok(response.map(|inner| OtelGrpcBody { inner, call }))
            }
            Err(error) => {
                if let Some(mut call) = call {
                    // Before any status: the error's own type, as the
                    // conventions ask (`tonic::transport::Error` on a channel).
                    call.end_failed(
                        ErrorType::new(std::any::type_name::<E>()),
                        "the call failed before a response",
                    );
                }
                Err(error)
            }
        })
    }
}

pin_project_lite::pin_project! {
    /// A gRPC response body carrying the call's span until the body ends:
    /// the `grpc-status` of its trailers ends the span (a body dropped
    /// before them ends it as cancelled). Every frame passes through as it
    /// is.
    pub struct OtelGrpcBody<B> {
        #[pin]
        inner: B,
        call: Option<CallSpan>,
    }
}

impl<B: fmt::Debug> fmt::Debug for OtelGrpcBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtelGrpcBody")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<B: Body> Body for OtelGrpcBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let _in_span = this.call.as_ref().and_then(CallSpan::enter_for_body);
        let frame = std::task::ready!(this.inner.poll_frame(cx));
        if let Some(call) = this.call.as_mut() {
            match &frame {
                Some(Ok(frame)) => {
                    if let Some(trailers) = frame.trailers_ref() {
                        call.end_from_trailers(trailers);
                    }
                }
                Some(Err(_)) => call.end_failed(
                    ErrorType::new(std::any::type_name::<B::Error>()),
                    "the response body failed",
                ),
                None => call.end_failed(ErrorType::OTHER, "the response ended without a status"),
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
