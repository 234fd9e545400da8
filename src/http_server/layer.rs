//! [`OtelServerLayer`]: the tower layer, its service and its response
//! future.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use opentelemetry::KeyValue;
use opentelemetry::trace::{FutureExt as _, WithContext};
use tower_layer::Layer;
use tower_service::Service;

use super::request::{Options, RequestParts, RouteFn, ServerRequest};
use crate::attributes::{self as attr, ErrorType, FailureKind};
use crate::spans::http::status_error_type;
use crate::spans::{CheckoutTracer, TypedSpan};

/// A tower [`Layer`] that records every request as a semantic-convention
/// HTTP `SERVER` span continuing the caller's trace (see the
/// [module documentation](super)).
///
/// `Router::new().route(..).layer(TraceLayer::new_for_http()).layer(OtelServerLayer::new(&tracer))`:
/// put it last (outermost), so the service's own layers run inside the span.
#[derive(Clone)]
pub struct OtelServerLayer {
    tracer: CheckoutTracer,
    options: Options,
}

impl fmt::Debug for OtelServerLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtelServerLayer")
            .field("tracer", &self.tracer)
            .field("url_scheme", &self.options.scheme)
            .field("forwarded_headers", &self.options.forwarded)
            .finish_non_exhaustive()
    }
}

impl OtelServerLayer {
    /// Spans from `tracer` (the guard's `telemetry.tracer()`), the caller's
    /// context read with its propagator.
    pub fn new(tracer: &CheckoutTracer) -> Self {
        OtelServerLayer {
            tracer: tracer.clone(),
            options: Options::default(),
        }
    }

    /// Spans from the global tracer provider, the caller's context read with
    /// the global propagator: what `Telemetry::init` installs. Create it
    /// after `init` (see [`CheckoutTracer::global`]).
    pub fn global() -> Self {
        OtelServerLayer::new(&CheckoutTracer::global())
    }

    /// Records `url.scheme` as `scheme` for every request: for a service
    /// behind a proxy that terminates TLS and forwards no `X-Forwarded-Proto`
    /// (`.url_scheme("https")`). Without it the scheme is the request's own,
    /// the proxy's, or `http`.
    pub fn url_scheme(mut self, scheme: &'static str) -> Self {
        self.options.scheme = Some(scheme);
        self
    }

    /// Whether `Forwarded`, `X-Forwarded-For` and `X-Forwarded-Proto` are
    /// read for `client.address` and `url.scheme` (on by default, as the
    /// semantic conventions ask). Turn it off for a service reached without
    /// a proxy, where a client could write them.
    pub fn forwarded_headers(mut self, read: bool) -> Self {
        self.options.forwarded = read;
        self
    }

    /// Reads the route template (`http.route`, and the span name
    /// `{method} {route}`) from the request's extensions with `route`. By
    /// default axum's `MatchedPath` with feature `axum`, and no route
    /// without it. Return a template (`/pay/{id}`), never the raw path:
    /// paths carry ids, which would make span names unbounded.
    ///
    /// ```
    /// use checkout_otel::http_server::OtelServerLayer;
    ///
    /// #[derive(Clone)]
    /// struct RouteTemplate(&'static str);
    ///
    /// let layer = OtelServerLayer::global()
    ///     .route_with(|extensions| extensions.get::<RouteTemplate>().map(|r| r.0));
    /// ```
    pub fn route_with(mut self, route: RouteFn) -> Self {
        self.options.route = route;
        self
    }
}

impl<S> Layer<S> for OtelServerLayer {
    type Service = OtelServerService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        OtelServerService {
            inner,
            tracer: self.tracer.clone(),
            options: self.options,
        }
    }
}

/// The service [`OtelServerLayer`] wraps around the service's own.
#[derive(Clone)]
pub struct OtelServerService<S> {
    inner: S,
    tracer: CheckoutTracer,
    options: Options,
}

impl<S: fmt::Debug> fmt::Debug for OtelServerService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtelServerService")
            .field("inner", &self.inner)
            .field("tracer", &self.tracer)
            .finish_non_exhaustive()
    }
}

impl<S, B, RB> Service<http::Request<B>> for OtelServerService<S>
where
    S: Service<http::Request<B>, Response = http::Response<RB>>,
{
    type Response = http::Response<RB>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let parent = self.tracer.extract(request.headers());
        let parts = RequestParts {
            method: request.method(),
            uri: request.uri(),
            version: request.version(),
            headers: request.headers(),
            extensions: request.extensions(),
        };
        let span = self
            .tracer
            .start_in(ServerRequest::new(parts, &self.options), &parent);
        let cx = span.context().clone();
        let inner = {
            // What the inner service does in `call` itself (tower-http's
            // TraceLayer makes its span there) runs inside the span too. The
            // guard ends with this block, before any `.await`.
            let _current = cx.clone().attach();
            self.inner.call(request)
        };
        ResponseFuture {
            inner: inner.with_context(cx),
            span: ServerSpan(Some(span)),
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`OtelServerService`]: the service's own,
    /// polled inside the request span, which ends when it completes (or,
    /// recorded as cancelled, when it is dropped first).
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<F> {
        #[pin]
        inner: WithContext<F>,
        span: ServerSpan,
    }
}

impl<F: fmt::Debug> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<F, RB, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<http::Response<RB>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = std::task::ready!(this.inner.poll(cx));
        if let Some(span) = this.span.0.take() {
            match &result {
                Ok(response) => record_status(&span, response.status().as_u16()),
                Err(_) => span.fail_without_exception(
                    ErrorType::new(std::any::type_name::<E>()),
                    FailureKind::Fault,
                    "the service returned an error".to_owned(),
                ),
            }
        }
        Poll::Ready(result)
    }
}

/// `http.response.status_code`; a 5xx fails the span (`error.type` the
/// code), a 4xx does not: on a server it is the client's mistake.
fn record_status(span: &TypedSpan, status: u16) {
    span.set_attribute(KeyValue::new(
        attr::HTTP_RESPONSE_STATUS_CODE,
        i64::from(status),
    ));
    if status >= 500 {
        // No description: the status code says it all (semantic conventions).
        span.fail_without_exception(status_error_type(status), FailureKind::Fault, String::new());
    }
}

/// The request span until the response: dropped with it still inside (the
/// client went away, a timeout layer gave up), it is recorded as cancelled
/// and ended rather than leaked.
struct ServerSpan(Option<TypedSpan>);

impl Drop for ServerSpan {
    fn drop(&mut self) {
        if let Some(span) = self.0.take() {
            span.fail_without_exception(
                ErrorType::CANCELLED,
                FailureKind::Fault,
                "request dropped before its response".to_owned(),
            );
        }
    }
}
