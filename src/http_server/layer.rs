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

#[cfg(all(test, feature = "testing"))]
mod tests {
    use std::future::{Ready, ready};
    use std::task::Waker;

    use opentelemetry::trace::Status;

    use super::*;
    use crate::testing::TestTelemetry;

    /// A service that answers with `status`, fails, or never answers.
    #[derive(Clone, Copy)]
    enum Inner {
        Status(u16),
        Fails,
    }

    #[derive(Debug)]
    struct BackendDown;

    impl Service<http::Request<()>> for Inner {
        type Response = http::Response<()>;
        type Error = BackendDown;
        type Future = Ready<Result<http::Response<()>, BackendDown>>;

        fn poll_ready(&mut self, _: &mut TaskContext<'_>) -> Poll<Result<(), BackendDown>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _: http::Request<()>) -> Self::Future {
            ready(match *self {
                Inner::Status(code) => {
                    let mut response = http::Response::new(());
                    *response.status_mut() = http::StatusCode::from_u16(code).unwrap();
                    Ok(response)
                }
                Inner::Fails => Err(BackendDown),
            })
        }
    }

    struct Never;

    impl Service<http::Request<()>> for Never {
        type Response = http::Response<()>;
        type Error = BackendDown;
        type Future = std::future::Pending<Result<http::Response<()>, BackendDown>>;

        fn poll_ready(&mut self, _: &mut TaskContext<'_>) -> Poll<Result<(), BackendDown>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _: http::Request<()>) -> Self::Future {
            std::future::pending()
        }
    }

    fn poll_once<F: Future>(fut: F) -> Poll<F::Output> {
        let mut fut = std::pin::pin!(fut);
        fut.as_mut()
            .poll(&mut TaskContext::from_waker(Waker::noop()))
    }

    fn request(method: &str, uri: &str) -> http::Request<()> {
        http::Request::builder()
            .method(method)
            .uri(uri)
            .body(())
            .unwrap()
    }

    #[test]
    fn an_inner_error_is_recorded_with_its_type_name() {
        let telemetry = TestTelemetry::new("api");
        let mut service = OtelServerLayer::new(&telemetry.tracer()).layer(Inner::Fails);
        let result = poll_once(service.call(request("POST", "/pay")));
        assert!(matches!(result, Poll::Ready(Err(BackendDown))));
        let spans = telemetry.spans();
        let span = spans.one("POST");
        assert!(matches!(span.status(), Status::Error { .. }));
        assert_eq!(
            span.error_type(),
            Some(std::any::type_name::<BackendDown>())
        );
        assert_eq!(span.attr_str(attr::HTTP_RESPONSE_STATUS_CODE), None);
    }

    #[test]
    fn a_dropped_request_is_recorded_as_cancelled() {
        let telemetry = TestTelemetry::new("api");
        let mut service = OtelServerLayer::new(&telemetry.tracer()).layer(Never);
        let mut fut = Box::pin(service.call(request("GET", "/slow")));
        assert!(
            fut.as_mut()
                .poll(&mut TaskContext::from_waker(Waker::noop()))
                .is_pending()
        );
        assert!(telemetry.spans().is_empty(), "ended only when dropped");
        drop(fut);
        let spans = telemetry.spans();
        let span = spans.one("GET");
        assert_eq!(span.error_type(), Some("cancelled"));
        assert_eq!(span.attr_str(attr::FAILURE_KIND), Some("fault"));
    }

    #[test]
    fn unknown_methods_hostile_headers_and_huge_paths_are_bounded() {
        let telemetry = TestTelemetry::new("api");
        let mut service = OtelServerLayer::new(&telemetry.tracer())
            .url_scheme("https")
            .route_with(|_| Some("/pay/{id}"))
            .layer(Inner::Status(200));
        let long_path = format!("/pay/{}", "a".repeat(60_000));
        let mut hostile = request(
            "PURGE",
            &format!("{long_path};jsessionid=secret?card=4111111111111111"),
        );
        let headers = hostile.headers_mut();
        headers.insert(
            "host",
            http::HeaderValue::from_bytes(b"shop\xff.example").unwrap(),
        );
        headers.insert(
            "user-agent",
            http::HeaderValue::from_bytes(b"agent \xff").unwrap(),
        );
        headers.insert("x-forwarded-for", http::HeaderValue::from_static("unknown"));
        headers.insert("traceparent", http::HeaderValue::from_static("00-zz-zz-01"));
        assert!(poll_once(service.call(hostile)).is_ready());

        let spans = telemetry.spans();
        let span = spans.one("HTTP /pay/{id}");
        assert_eq!(span.attr_str(attr::HTTP_REQUEST_METHOD), Some("_OTHER"));
        assert_eq!(
            span.attr_str(attr::HTTP_REQUEST_METHOD_ORIGINAL),
            Some("PURGE")
        );
        assert_eq!(span.attr_str(attr::URL_SCHEME), Some("https"));
        assert_eq!(span.parent_span_id(), opentelemetry::trace::SpanId::INVALID);
        let path = span.attr_str(attr::URL_PATH).unwrap();
        assert!(path.len() < 400, "{} bytes", path.len());
        assert!(path.ends_with(crate::pii::TRUNCATION_MARKER));
        for key in [
            attr::SERVER_ADDRESS,
            attr::SERVER_PORT,
            attr::USER_AGENT_ORIGINAL,
            attr::CLIENT_ADDRESS,
        ] {
            assert_eq!(span.attr_str(key), None, "{key}");
        }
    }

    #[test]
    fn path_parameters_are_masked_and_the_query_never_recorded() {
        let telemetry = TestTelemetry::new("api");
        let mut service = OtelServerLayer::new(&telemetry.tracer()).layer(Inner::Status(200));
        let mut req = request(
            "GET",
            "/users/jane.doe%40example.com;jsessionid=abc?card=4111111111111111",
        );
        req.headers_mut().insert(
            "forwarded",
            http::HeaderValue::from_static("for=\"[2001:db8:cafe:1::17]:4711\";proto=https"),
        );
        assert!(poll_once(service.call(req)).is_ready());
        let spans = telemetry.spans();
        let span = spans.one("GET");
        assert_eq!(
            span.attr_str(attr::URL_PATH),
            Some("/users/[REDACTED:email];jsessionid=REDACTED")
        );
        assert_eq!(span.attr_str(attr::URL_SCHEME), Some("https"));
        assert_eq!(span.attr_str(attr::CLIENT_ADDRESS), Some("2001:db8:cafe::"));
    }
}
