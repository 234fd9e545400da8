//! gRPC plumbing for the gateway -> payment hop, the gRPC counterpart of
//! `net.rs`: serving a tonic service on a free loopback port, each request
//! under the service's own `tracing` subscriber, and a channel to it whose
//! calls carry the trace context.

use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use checkout_otel::CheckoutTracer;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tonic::Status;
use tonic::body::Body;
use tonic::server::NamedService;
use tonic::service::Routes;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Endpoint, Server};
use tower::util::BoxCloneSyncService;
use tower::{Service, ServiceBuilder};
use tracing::Dispatch;

use crate::net::with_logs;

/// A channel to one service, its calls traced, its errors gRPC statuses.
/// Boxed, so that the clients holding it have one type whatever layers wrap
/// the channel.
pub type TracedChannel = BoxCloneSyncService<http::Request<Body>, http::Response<Body>, Status>;

/// Serves `service` on 127.0.0.1 with a port the OS picks, every request
/// handled under `logs` (see [`with_logs`]), and returns its URL and the
/// server task.
pub async fn serve<S>(
    service: S,
    tracer: &CheckoutTracer,
    logs: Dispatch,
) -> std::io::Result<(String, JoinHandle<()>)>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
        + NamedService
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await?;
    let addr = listener.local_addr()?;
    // tonic routes on an axum router: the HTTP services' log layer fits it.
    let router = Routes::new(service).into_axum_router();
    let router = stand_in::server(router, tracer); // TODO(lead): see `stand_in`
    let server = Server::builder().add_routes(Routes::from(with_logs(router, logs)));
    let task = tokio::spawn(async move {
        // Only ends with the process (or when the pipeline aborts the task).
        let _ = server
            .serve_with_incoming(TcpIncoming::from(listener))
            .await;
    });
    Ok((format!("http://{addr}"), task))
}

/// A channel to the gRPC service at `url` (connected on first use) whose
/// calls are traced with `tracer`, each giving up after `timeout`.
pub fn channel(
    url: &str,
    timeout: Duration,
    tracer: &CheckoutTracer,
) -> Result<TracedChannel, tonic::transport::Error> {
    let endpoint = Endpoint::from_shared(url.to_owned())?.timeout(timeout);
    let host = endpoint.uri().host().unwrap_or_default().to_owned();
    Ok(BoxCloneSyncService::new(
        ServiceBuilder::new()
            // A timeout is CANCELLED, a refused connection UNAVAILABLE.
            .map_err(|e| Status::from_error(Into::into(e)))
            .layer(stand_in::client(tracer, host)) // TODO(lead): see `stand_in`
            .service(endpoint.connect_lazy()),
    ))
}

// TODO(lead): replace with checkout_otel::grpc::Otel{Server,Client}Layer:
// drop the `stand_in::server` line of `serve` for
// `Server::builder().layer(OtelGrpcServerLayer::new(tracer))`, and
// `.layer(stand_in::client(tracer, host))` of `channel` for
// `.layer(OtelGrpcClientLayer::new(tracer))`; delete this module. Until then
// the trace is joined across the hop without RPC spans.
mod stand_in {
    use axum::extract::Request;
    use axum::middleware::Next;
    use checkout_otel::CheckoutTracer;
    use checkout_otel::opentelemetry::Context;
    use checkout_otel::opentelemetry::context::FutureExt as _;
    use tonic::body::Body;

    /// Runs each request in the caller's trace context, read from its metadata.
    pub fn server(router: axum::Router, tracer: &CheckoutTracer) -> axum::Router {
        let tracer = tracer.clone();
        router.layer(axum::middleware::from_fn(
            move |request: Request, next: Next| {
                let cx = tracer.extract(request.headers());
                next.run(request).with_context(cx)
            },
        ))
    }

    /// Writes the current trace context into each request's metadata.
    pub fn client(
        tracer: &CheckoutTracer,
        host: String,
    ) -> tower::util::MapRequestLayer<
        impl Fn(http::Request<Body>) -> http::Request<Body> + Clone + Send + Sync + use<>,
    > {
        let tracer = tracer.clone();
        tower::util::MapRequestLayer::new(move |mut request: http::Request<Body>| {
            tracer.inject_for(&Context::current(), &host, request.headers_mut());
            request
        })
    }
}
