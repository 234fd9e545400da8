//! gRPC plumbing for the gateway -> payment hop, the gRPC counterpart of
//! `net.rs`: serving a tonic service on a free loopback port, each request
//! under the service's own `tracing` subscriber, and a channel to it whose
//! calls carry the trace context.

use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use checkout_otel::CheckoutTracer;
use checkout_otel::grpc::{OtelGrpcClientLayer, OtelGrpcServerLayer};
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
/// server task. `methods` are the paths the service implements: a call of
/// any other is traced as `_OTHER`, so probes cannot mint span names.
pub async fn serve<S>(
    service: S,
    methods: &[&str],
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
    let server = Server::builder()
        // One line: the RPC SERVER span, in the caller's trace.
        .layer(OtelGrpcServerLayer::new(tracer).known_methods(methods.iter().copied()))
        .add_routes(Routes::from(with_logs(router, logs)));
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
    Ok(BoxCloneSyncService::new(
        ServiceBuilder::new()
            // A timeout is CANCELLED, a refused connection UNAVAILABLE.
            .map_err(|e| Status::from_error(Into::into(e)))
            .map_response(|response: http::Response<_>| response.map(Body::new))
            // One line: the RPC CLIENT span, the trace context injected.
            .layer(OtelGrpcClientLayer::new(tracer).target(endpoint.uri()))
            .service(endpoint.connect_lazy()),
    ))
}
