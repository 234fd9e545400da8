//! One unary gRPC call served through `OtelGrpcServerLayer`, against the
//! same `SERVER` span written by hand around the same in-process service
//! (no network): the caller's context extracted from the metadata, the span
//! started on the SDK tracer with the RPC attributes, the service polled in
//! its context, the status read from the trailers. And the same call made
//! through `OtelGrpcClientLayer`, against the `CLIENT` span by hand: the
//! context injected into the metadata, the status read from the trailers.

use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use checkout_otel::attributes as attr;
use checkout_otel::grpc::{OtelGrpcClientLayer, OtelGrpcServerLayer};
use checkout_otel::opentelemetry::KeyValue;
use checkout_otel::opentelemetry::propagation::{TextMapCompositePropagator, TextMapPropagator};
use checkout_otel::opentelemetry::trace::{
    FutureExt as _, SpanKind, TraceContextExt as _, Tracer as _,
};
use checkout_otel::opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use checkout_otel::opentelemetry_sdk::trace::SdkTracer;
use checkout_otel::propagation::{HeaderExtractor, HeaderInjector};
use checkout_otel::spans::CheckoutTracer;
use http_body::{Body, Frame};
use tower_layer::Layer as _;
use tower_service::Service;

const URI: &str = "http://payment:50051/shop.Payment/Charge";
const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// The incoming call: what a tonic server's routes receive.
pub fn request() -> http::Request<()> {
    http::Request::builder()
        .method("POST")
        .uri(URI)
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .header("traceparent", TRACEPARENT)
        .body(())
        .expect("a valid request")
}

/// A unary answer: one message, then the trailers with `grpc-status: 0`.
pub struct Unary {
    message: Option<&'static [u8]>,
    trailers: bool,
}

impl Body for Unary {
    type Data = &'static [u8];
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        if let Some(message) = self.message.take() {
            return Poll::Ready(Some(Ok(Frame::data(message))));
        }
        if std::mem::take(&mut self.trailers) {
            let mut trailers = http::HeaderMap::new();
            trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
            return Poll::Ready(Some(Ok(Frame::trailers(trailers))));
        }
        Poll::Ready(None)
    }
}

/// The service's own routes: answer at once.
#[derive(Clone, Copy)]
pub struct Routes;

impl Service<http::Request<()>> for Routes {
    type Response = http::Response<Unary>;
    type Error = std::convert::Infallible;
    type Future = std::future::Ready<Result<http::Response<Unary>, Self::Error>>;

    fn poll_ready(&mut self, _: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: http::Request<()>) -> Self::Future {
        std::future::ready(Ok(http::Response::new(Unary {
            message: Some(b"\0\0\0\0\x02\x08\x01"),
            trailers: true,
        })))
    }
}

/// Reads a body to its end, as the server's connection does; returns the
/// `grpc-status` of its trailers.
async fn drain<B: Body + Unpin>(mut body: B) -> Option<http::HeaderValue> {
    let mut status = None;
    while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        if let Ok(frame) = frame {
            if let Some(trailers) = frame.trailers_ref() {
                status = trailers.get("grpc-status").cloned();
            }
        }
    }
    status
}

/// The crate's layer around the routes.
pub fn with_crate(tracer: &CheckoutTracer) -> impl FnMut() -> Option<http::HeaderValue> + use<> {
    let mut service = OtelGrpcServerLayer::new(tracer).layer(Routes);
    move || {
        crate::setup::block_on(async {
            let response = service.call(request()).await.ok()?;
            drain(response.into_body()).await
        })
    }
}

/// The propagator an expert sets up: W3C trace-context and baggage, the
/// crate tracer's default.
pub fn propagator() -> TextMapCompositePropagator {
    TextMapCompositePropagator::new(vec![
        Box::new(TraceContextPropagator::new()),
        Box::new(BaggagePropagator::new()),
    ])
}

/// The same span by hand: what an expert writes in a tower layer.
pub fn raw(
    tracer: SdkTracer,
    propagator: TextMapCompositePropagator,
) -> impl FnMut() -> Option<http::HeaderValue> {
    let mut routes = Routes;
    move || {
        crate::setup::block_on(async {
            let request = request();
            let parent = propagator.extract(&HeaderExtractor(request.headers()));
            let (method, attributes) = rpc_attributes(request.uri());
            let span = tracer
                .span_builder(method)
                .with_kind(SpanKind::Server)
                .with_attributes(attributes)
                .start_with_context(&tracer, &parent);
            let cx = parent.with_span(span);
            let response = routes.call(request).with_context(cx.clone()).await.ok()?;
            let status = drain(response.into_body()).with_context(cx.clone()).await;
            end_with_status(&cx, status)
        })
    }
}

/// The request a client sends: no trace context yet.
fn outgoing() -> http::Request<()> {
    http::Request::builder()
        .method("POST")
        .uri(URI)
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(())
        .expect("a valid request")
}

/// The crate: the same call made through the client layer.
pub fn client_with_crate(
    tracer: &CheckoutTracer,
) -> impl FnMut() -> Option<http::HeaderValue> + use<> {
    let mut service = OtelGrpcClientLayer::new(tracer).layer(Routes);
    move || {
        crate::setup::block_on(async {
            let response = service.call(outgoing()).await.ok()?;
            drain(response.into_body()).await
        })
    }
}

/// By hand: the `CLIENT` span with the same attributes, its context injected
/// into the request's metadata, the status read from the trailers.
pub fn client_raw(
    tracer: SdkTracer,
    propagator: TextMapCompositePropagator,
) -> impl FnMut() -> Option<http::HeaderValue> {
    let mut routes = Routes;
    move || {
        crate::setup::block_on(async {
            let mut request = outgoing();
            let (method, attributes) = rpc_attributes(request.uri());
            let span = tracer
                .span_builder(method)
                .with_kind(SpanKind::Client)
                .with_attributes(attributes)
                .start(&tracer);
            let cx = checkout_otel::opentelemetry::Context::current_with_span(span);
            propagator.inject_context(&cx, &mut HeaderInjector(request.headers_mut()));
            let response = routes.call(request).with_context(cx.clone()).await.ok()?;
            let status = drain(response.into_body()).with_context(cx.clone()).await;
            end_with_status(&cx, status)
        })
    }
}

/// By hand, both sides: the span's name (the method) and its start attributes.
fn rpc_attributes(uri: &http::Uri) -> (String, Vec<KeyValue>) {
    let method = uri.path()[1..].to_owned();
    let mut attributes = Vec::with_capacity(12);
    attributes.push(KeyValue::new(attr::RPC_SYSTEM_NAME, "grpc"));
    attributes.push(KeyValue::new(attr::RPC_METHOD, method.clone()));
    if let Some(host) = uri.host() {
        attributes.push(KeyValue::new(attr::SERVER_ADDRESS, host.to_owned()));
    }
    if let Some(port) = uri.port_u16() {
        attributes.push(KeyValue::new(attr::SERVER_PORT, i64::from(port)));
    }
    (method, attributes)
}

/// By hand, both sides: the status read from the trailers, then the end.
fn end_with_status(
    cx: &checkout_otel::opentelemetry::Context,
    status: Option<http::HeaderValue>,
) -> Option<http::HeaderValue> {
    let span = cx.span();
    let code = match status.as_ref().map(http::HeaderValue::as_bytes) {
        Some(b"0") => "OK",
        _ => "UNKNOWN",
    };
    span.set_attribute(KeyValue::new(attr::RPC_RESPONSE_STATUS_CODE, code));
    span.end();
    status
}
