//! [`OtelGrpcServerLayer`]: the tower layer of a tonic server and its
//! service.

use std::task::{Context as TaskContext, Poll};

use opentelemetry::trace::SpanKind;
use tower_layer::Layer;
use tower_service::Service;

use super::body::{OtelGrpcBody, ResponseFuture};
use super::call::{KnownMethods, RpcCall};
use super::status::Side;
use crate::http_server::request::server_authority;
use crate::spans::CheckoutTracer;

/// A tower [`Layer`] that records every call a tonic server serves as a
/// semantic-convention RPC `SERVER` span continuing the caller's trace
/// (see the [module documentation](super)).
///
/// `tonic::transport::Server::builder().layer(OtelGrpcServerLayer::new(&tracer)).add_service(..)`.
#[derive(Clone, Debug)]
pub struct OtelGrpcServerLayer {
    tracer: CheckoutTracer,
    known: Option<KnownMethods>,
}

impl OtelGrpcServerLayer {
    /// Spans from `tracer` (the guard's `telemetry.tracer()`), the caller's
    /// context read from the request metadata with its propagator.
    pub fn new(tracer: &CheckoutTracer) -> Self {
        OtelGrpcServerLayer {
            tracer: tracer.clone(),
            known: None,
        }
    }

    /// The methods the server implements (`"shop.Payment/Charge"`, ...):
    /// a call of any other path is recorded with `rpc.method` `_OTHER`, the
    /// path in `rpc.method_original`, and named `grpc`, as the semantic
    /// conventions ask for methods unknown to the instrumentation. Without
    /// it every well-formed path is its own `rpc.method` and span name, so a
    /// client probing random paths makes as many names; list the methods on
    /// a server reachable from outside.
    ///
    /// ```
    /// use checkout_otel::grpc::OtelGrpcServerLayer;
    /// # let tracer = checkout_otel::CheckoutTracer::global();
    /// let layer = OtelGrpcServerLayer::new(&tracer)
    ///     .known_methods(["shop.Payment/Charge", "shop.Payment/Refund"]);
    /// # let _ = layer;
    /// ```
    pub fn known_methods<I>(mut self, methods: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.known = Some(KnownMethods::new(methods));
        self
    }

    /// Spans from the global tracer provider, the caller's context read with
    /// the global propagator: what `Telemetry::init` installs. Create it
    /// after `init` (see [`CheckoutTracer::global`]).
    pub fn global() -> Self {
        OtelGrpcServerLayer::new(&CheckoutTracer::global())
    }
}

impl<S> Layer<S> for OtelGrpcServerLayer {
    type Service = OtelGrpcServerService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        OtelGrpcServerService {
            inner,
            tracer: self.tracer.clone(),
            known: self.known.clone(),
        }
    }
}

/// The service [`OtelGrpcServerLayer`] wraps around the server's routes.
#[derive(Clone, Debug)]
pub struct OtelGrpcServerService<S> {
    inner: S,
    tracer: CheckoutTracer,
    known: Option<KnownMethods>,
}

impl<S, B, RB> Service<http::Request<B>> for OtelGrpcServerService<S>
where
    S: Service<http::Request<B>, Response = http::Response<RB>>,
{
    type Response = http::Response<OtelGrpcBody<RB>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        // gRPC metadata is the request's HTTP/2 headers.
        let parent = self.tracer.extract(request.headers());
        let server = server_authority(request.uri(), request.headers());
        let spec = RpcCall::new(SpanKind::Server, request.uri().path(), server)
            .unless_unknown(self.known.as_ref());
        let span = self.tracer.start_in(spec, &parent);
        ResponseFuture::call_in(&mut self.inner, request, span, Side::Server)
    }
}
