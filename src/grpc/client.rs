//! [`OtelGrpcClientLayer`]: the tower layer over a tonic channel and its
//! service.

use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use opentelemetry::trace::SpanKind;
use tower_layer::Layer;
use tower_service::Service;

use super::body::{OtelGrpcBody, ResponseFuture};
use super::call::RpcCall;
use super::status::Side;
use crate::http_server::request::server_authority;
use crate::spans::CheckoutTracer;

/// A tower [`Layer`] over a tonic `Channel` that records every call as a
/// semantic-convention RPC `CLIENT` span and propagates the trace to the
/// server (see the [module documentation](super)).
///
/// `ServiceBuilder::new().layer(OtelGrpcClientLayer::new(&tracer).target(endpoint.uri())).service(channel)`,
/// then `MyClient::new(service)`.
#[derive(Clone, Debug)]
pub struct OtelGrpcClientLayer {
    tracer: CheckoutTracer,
    target: Option<Target>,
}

/// `server.address` and `server.port` of the channel's endpoint.
#[derive(Clone, Debug)]
struct Target {
    host: Arc<str>,
    port: Option<u16>,
}

impl OtelGrpcClientLayer {
    /// Spans from `tracer` (the guard's `telemetry.tracer()`), the context
    /// injected with its propagator and its allow-list of hosts.
    pub fn new(tracer: &CheckoutTracer) -> Self {
        OtelGrpcClientLayer {
            tracer: tracer.clone(),
            target: None,
        }
    }

    /// Spans from the global tracer provider, the context injected with the
    /// global propagator (and an empty allow-list): what `Telemetry::init`
    /// installs. Create it after `init` (see [`CheckoutTracer::global`]).
    pub fn global() -> Self {
        OtelGrpcClientLayer::new(&CheckoutTracer::global())
    }

    /// The endpoint the channel was built for (`endpoint.uri()`): its host
    /// and port are `server.address` and `server.port`, and its host is what
    /// the allow-list judges. Without it they come from the request URI,
    /// which holds a host only when the client was made with
    /// `with_origin`: a tonic client made with `new` sends a bare path, its
    /// spans have no `server.address`, and it gets `traceparent` only.
    pub fn target(mut self, endpoint: &http::Uri) -> Self {
        self.target = endpoint.host().map(|host| {
            let host = host
                .strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .unwrap_or(host);
            let port = endpoint.port_u16().or_else(|| match endpoint.scheme_str() {
                Some("https") => Some(443),
                Some("http") => Some(80),
                _ => None,
            });
            Target {
                host: host.into(),
                port,
            }
        });
        self
    }
}

impl<S> Layer<S> for OtelGrpcClientLayer {
    type Service = OtelGrpcClientService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        OtelGrpcClientService {
            inner,
            tracer: self.tracer.clone(),
            target: self.target.clone(),
        }
    }
}

/// The service [`OtelGrpcClientLayer`] wraps around a channel.
#[derive(Clone, Debug)]
pub struct OtelGrpcClientService<S> {
    inner: S,
    tracer: CheckoutTracer,
    target: Option<Target>,
}

impl<S, B, RB> Service<http::Request<B>> for OtelGrpcClientService<S>
where
    S: Service<http::Request<B>, Response = http::Response<RB>>,
{
    type Response = http::Response<OtelGrpcBody<RB>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let server = match &self.target {
            Some(target) => Some((&*target.host, target.port)),
            None => server_authority(request.uri(), request.headers()),
        };
        let spec = RpcCall::new(SpanKind::Client, request.uri().path(), server);
        // A child of the caller's current context: the typed or `tracing`
        // span the call is made in.
        let span = self.tracer.start(spec);
        let allowed = server.is_some_and(|(host, _)| self.tracer.allowed_hosts().allows(host));
        self.tracer
            .inject_checked(span.context(), allowed, request.headers_mut());
        ResponseFuture::call_in(&mut self.inner, request, span, Side::Client)
    }
}
