//! gRPC services and clients with tonic (cargo feature `tonic`): one layer
//! on the server, one on the channel.
//!
//! [`OtelGrpcServerLayer`] records every call a tonic server serves as an
//! RPC `SERVER` span whose parent is the caller's trace context (W3C
//! `traceparent` and `baggage` in the gRPC metadata, read with the tracer's
//! propagator). [`OtelGrpcClientLayer`] records every call made through a
//! channel as an RPC `CLIENT` span and sends its context to the server,
//! inbound `baggage` and `tracestate` only to hosts on the tracer's
//! allow-list (as the HTTP client middleware does). Both are tower layers
//! over `http::Request`/`http::Response`, so they take tonic's own body
//! types and need nothing generated:
//!
//! ```no_run
//! use checkout_otel::grpc::{OtelGrpcClientLayer, OtelGrpcServerLayer};
//! use tonic::transport::{Endpoint, Server};
//! use tower::ServiceBuilder;
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let telemetry = checkout_otel::Telemetry::builder("payment").init()?;
//! let tracer = telemetry.tracer();
//!
//! // Server: `.add_service(PaymentServer::new(payment))` as before.
//! # let routes = tonic::service::Routes::default();
//! Server::builder()
//!     .layer(OtelGrpcServerLayer::new(&tracer))
//!     .add_routes(routes)
//!     .serve("0.0.0.0:50051".parse()?)
//!     .await?;
//!
//! // Client: the generated client over the traced channel.
//! let endpoint = Endpoint::from_static("http://payment:50051");
//! let channel = ServiceBuilder::new()
//!     .layer(OtelGrpcClientLayer::new(&tracer).target(endpoint.uri()))
//!     .service(endpoint.connect_lazy());
//! let client = tonic::client::Grpc::new(channel); // or `PaymentClient::new(channel)`
//! # let _ = client;
//! # Ok(())
//! # }
//! ```
//!
//! # What the spans record
//!
//! Semantic conventions 1.42 (gRPC, release candidate):
//!
//! | attribute | value |
//! |---|---|
//! | span name | `{rpc.method}` (`shop.Payment/Charge`), `grpc` when it is `_OTHER` |
//! | span kind | `SERVER` ([`OtelGrpcServerLayer`]), `CLIENT` ([`OtelGrpcClientLayer`]) |
//! | `rpc.system.name` | `grpc` |
//! | `rpc.method` | `{package.Service}/{Method}` from the request path; `_OTHER` for a path that is not a well-formed method (then `rpc.method_original` holds the path, scrubbed, at most 256 bytes) |
//! | `rpc.response.status_code` | the status code's name (`OK`, `NOT_FOUND`): the `grpc-status` of a trailers-only response or of the trailers; for a response without one, the code its HTTP status stands for |
//! | `server.address`, `server.port` | server: the request's `:authority`; client: [`target`](OtelGrpcClientLayer::target), else the request URI's authority |
//! | `error.type`, `failure.kind` | server: `UNKNOWN`, `DEADLINE_EXCEEDED`, `UNIMPLEMENTED`, `INTERNAL`, `UNAVAILABLE`, `DATA_LOSS` (`fault`), status `Error`; client: every code but `OK` (`fault` for those six, `rejection` for the others). A call with no status: the Rust type name of the error (`tonic::transport::error::Error`), `_OTHER` for a body that ended without one, `cancelled` for a call dropped before its status |
//!
//! No metadata value is recorded, and the status has no description
//! (`grpc-message` is free text from the peer). The span ends when the
//! status arrives: with the response's headers for a trailers-only
//! response, with the body's trailers otherwise, so it covers the whole
//! stream of a streaming call. The exit check runs on these spans as on
//! every other.
//!
//! # Independent of `tracing` filters
//!
//! As with the [HTTP server layer](crate::http_server), the spans are
//! started on the OpenTelemetry tracer itself, so no `EnvFilter` removes
//! them. The server's routes (and the handler, and the response stream)
//! run with the `SERVER` span's context attached: typed spans, and
//! `#[instrument]` spans through the bridge, are its children. The `CLIENT`
//! span is a child of the context current when the call is made.
//!
//! [`OtelGrpcServerLayer::new`]`(&tracer)` and
//! [`OtelGrpcClientLayer::new`]`(&tracer)` use the tracer's providers,
//! propagator and allow-list (with `telemetry.tracer()` the guard's, from
//! `build()` as from `init()`); `global()` the global ones `init` installs.

mod body;
mod call;
mod client;
mod server;
mod status;

pub use self::body::{OtelGrpcBody, ResponseFuture};
pub use self::client::{OtelGrpcClientLayer, OtelGrpcClientService};
pub use self::server::{OtelGrpcServerLayer, OtelGrpcServerService};
