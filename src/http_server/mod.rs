//! The request span of an axum / tower server: one layer on the router.
//!
//! [`OtelServerLayer`] records every request as an HTTP `SERVER` span per
//! the semantic conventions, whose parent is the caller's trace context
//! (W3C `traceparent` and `baggage`, read with the tracer's propagator).
//! The service's own `TraceLayer`, access log, log format and filters stay
//! exactly as they were:
//!
//! ```no_run
//! use axum::routing::post;
//! use checkout_otel::http_server::OtelServerLayer;
//! use tower_http::trace::TraceLayer;
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let telemetry = checkout_otel::Telemetry::builder("payment-api").init()?;
//! let app = axum::Router::new()
//!     .route("/pay/{id}", post(|| async { "paid" }))
//!     .layer(TraceLayer::new_for_http()) // the service's own, unchanged
//!     .layer(OtelServerLayer::new(&telemetry.tracer()));
//! let listener = tokio::net::TcpListener::bind("0.0.0.0:8080").await?;
//! axum::serve(listener, app).await?;
//! # Ok(())
//! # }
//! ```
//!
//! # What the span records
//!
//! | attribute | value |
//! |---|---|
//! | span name | `{method} {route}` (`POST /pay/{id}`), `{method}` without a route, `HTTP` for a method outside the well-known set |
//! | `http.request.method` | `GET`, `POST`, ... or `_OTHER` (then `http.request.method_original` holds the method, bounded) |
//! | `url.path` | the path, checked like any URL (`/users/[REDACTED:email]`), at most 256 characters; never the query |
//! | `url.scheme` | [`url_scheme`](OtelServerLayer::url_scheme) if set, else the request's (absolute URI, HTTP/2), the proxy's (`Forwarded: proto=`, `X-Forwarded-Proto`), or `http` |
//! | `http.route` | axum's `MatchedPath` (feature `axum`), or what [`route_with`](OtelServerLayer::route_with) reads |
//! | `server.address`, `server.port` | the `Host` header (HTTP/2's `:authority`); the port from the scheme when it has none |
//! | `client.address` | the first hop of `Forwarded: for=` / `X-Forwarded-For`, else the peer (axum's `ConnectInfo<SocketAddr>`, feature `axum`), **anonymised**: IPv4 to its /24 (`203.0.113.0`), IPv6 to its /48 |
//! | `network.protocol.version` | `1.0`, `1.1`, `2`, `3` |
//! | `user_agent.original` | the `User-Agent` header, scrubbed, at most 512 characters |
//! | `http.response.status_code` | the response's status |
//! | `error.type`, `failure.kind` | a 5xx: the code (`"503"`) and `fault`, status `Error`. A 4xx is not an error on a server. The inner service's `Err`: its Rust type name. A request dropped before its response (client gone, timeout): `cancelled` |
//!
//! Headers that are not UTF-8 or not well-formed are skipped; every value
//! is bounded. The exit check runs on the span as on every other.
//!
//! # Independent of `tracing` filters
//!
//! The span is started with the OpenTelemetry tracer itself, not as a
//! `tracing` span, so no `EnvFilter` (`RUST_LOG=warn` on the registry, as
//! the axum examples set it) can filter it out. The inner service runs with
//! the span's context attached (across every `.await`), so inside it:
//!
//! - typed spans (`tracer.start(..)`) are its children;
//! - `tracing` spans that the filters let through (tower-http's `request`
//!   span, `#[instrument]` spans) are its children through the bridge
//!   ([`TelemetryGuard::tracing_layer`](crate::init::TelemetryGuard::tracing_layer)),
//!   which gives a `tracing` span without a `tracing` parent the current
//!   OpenTelemetry context as its parent. Without the bridge nothing changes
//!   for the typed spans.
//!
//! Which propagator reads the incoming headers, and where the spans go:
//! [`OtelServerLayer::new`]`(&tracer)` the tracer's (with `telemetry.tracer()`,
//! the guard's; works with `build()`), [`OtelServerLayer::global`] the
//! global ones `Telemetry::init` installs.

mod layer;
pub(crate) mod request;

pub use self::layer::{OtelServerLayer, OtelServerService, ResponseFuture};
