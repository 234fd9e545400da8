//! The request span of an axum / tower-http server, continuing the caller's
//! trace.
//!
//! A service that already uses tower-http's `TraceLayer` keeps it and swaps
//! in two functions: [`request_span_with`] (for `make_span_with`) starts the
//! request span as a semantic-convention HTTP `SERVER` span whose parent is
//! the incoming `traceparent`, and [`record_response`] (for `on_response`)
//! records the status code. The crate's typed spans started in handlers
//! (`tracer.start(..)`) are children of that span, through the `tracing`
//! bridge (installed by `Telemetry::init`, or the guard's
//! [`tracing_layer`](crate::init::TelemetryGuard::tracing_layer) in your own
//! subscriber).
//!
//! Which propagator reads the incoming headers:
//!
//! - [`request_span_with`]`(&tracer, ..)`: the tracer's
//!   ([`CheckoutTracer::extract`]); with `telemetry.tracer()`, the guard's.
//!   Use it with `build()`, which installs no global propagator, and
//!   wherever you have the tracer at hand.
//! - [`request_span`]: the global propagator, which `Telemetry::init`
//!   installs. With `build()` and no global propagator of your own, every
//!   request would start a new trace.
//!
//! ```
//! use axum::extract::MatchedPath;
//! use axum::http::Request;
//! use axum::routing::post;
//! use checkout_otel::http_server;
//! use tower_http::trace::TraceLayer;
//!
//! # fn main() -> checkout_otel::Result<()> {
//! let telemetry = checkout_otel::Telemetry::builder("checkout-api")
//! #   .console_output(false)
//!     .build()?; // or `.init()?`
//! let tracer = telemetry.tracer();
//! let app: axum::Router = axum::Router::new()
//!     .route("/checkout", post(|| async { "ok" }))
//!     .layer(
//!         TraceLayer::new_for_http()
//!             .make_span_with(move |request: &Request<_>| {
//!                 let route = request.extensions().get::<MatchedPath>().map(MatchedPath::as_str);
//!                 http_server::request_span_with(&tracer, request, route)
//!             })
//!             .on_response(http_server::record_response),
//!     );
//! # Ok(())
//! # }
//! ```
//!
//! The span is a `tracing` span at `INFO` with target `checkout_otel::http_server`:
//! a subscriber filter that drops it (say `RUST_LOG=warn` applied to every
//! layer) drops the request span too. `Telemetry::init` filters only its log
//! output, never what reaches OpenTelemetry.
//!
//! Services using `axum-tracing-opentelemetry`'s `OtelAxumLayer` need none of
//! this: its request span honours `traceparent` through the global
//! propagator that `init` installs, and typed spans are its children.

use std::time::Duration;

use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use opentelemetry::Context;

use crate::attributes as attr;
use crate::propagation;
use crate::spans::CheckoutTracer;
use crate::spans::http::{request_method, span_name_of_method, status_error_type};

/// Starts the request span of `request`: an HTTP `SERVER` span named
/// `{method} {route}` (`POST /checkout`), or `{method}` without a route, with
/// `http.request.method` and `http.route`, whose parent is the caller's
/// trace context read from the request headers (W3C `traceparent` and
/// `baggage`) with `tracer`'s propagator. Without valid headers it starts a
/// new trace.
///
/// `route` is the matched route *template* (axum's `MatchedPath`), never the
/// raw path: paths carry ids, which would make span names unbounded.
pub fn request_span_with<B>(
    tracer: &CheckoutTracer,
    request: &http::Request<B>,
    route: Option<&str>,
) -> tracing::Span {
    start_request_span(request, route, tracer.extract(request.headers()))
}

/// Like [`request_span_with`], reading the headers with the *global*
/// propagator (the one `Telemetry::init` installs). With a guard from
/// `build()`, use [`request_span_with`] and the guard's tracer.
pub fn request_span<B>(request: &http::Request<B>, route: Option<&str>) -> tracing::Span {
    start_request_span(request, route, propagation::extract(request.headers()))
}

fn start_request_span<B>(
    request: &http::Request<B>,
    route: Option<&str>,
    parent: Context,
) -> tracing::Span {
    let method = request_method(request.method().as_str());
    let name = match route {
        Some(route) => format!("{} {route}", span_name_of_method(method)),
        None => span_name_of_method(method).to_owned(),
    };
    let span = tracing::info_span!(
        "HTTP request",
        otel.name = name.as_str(),
        otel.kind = "server",
        { attr::HTTP_REQUEST_METHOD } = method,
        { attr::HTTP_ROUTE } = route,
        { attr::HTTP_RESPONSE_STATUS_CODE } = tracing::field::Empty,
        { attr::ERROR_TYPE } = tracing::field::Empty,
        otel.status_code = tracing::field::Empty,
    );
    // Fails only when no OpenTelemetry layer is installed or the span is
    // filtered out: then there is no trace to continue.
    let _ = span.set_parent(parent);
    span
}

/// Records the response on the request span: `http.response.status_code`,
/// and for 5xx (server errors; a 4xx is the client's mistake, not the
/// server's, per the semantic conventions) status `Error` and `error.type`
/// the status code (`"503"`).
///
/// Its signature is tower-http's `on_response` callback:
/// `TraceLayer::new_for_http().on_response(http_server::record_response)`.
pub fn record_response<B>(response: &http::Response<B>, _latency: Duration, span: &tracing::Span) {
    let status = response.status().as_u16();
    // As i64: tracing-opentelemetry records a u64 as a string.
    span.record(attr::HTTP_RESPONSE_STATUS_CODE, i64::from(status));
    if status >= 500 {
        span.record(attr::ERROR_TYPE, status_error_type(status).as_str());
        span.record("otel.status_code", "ERROR");
    }
}
