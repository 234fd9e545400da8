//! Traced outgoing HTTP calls with reqwest (cargo feature `reqwest`).
//!
//! [`OtelMiddleware`] is a [`reqwest_middleware`] middleware: every request
//! sent through the client gets an HTTP `CLIENT` span
//! ([`HttpClientCall`]: named after the method, with `http.request.method`,
//! `url.full` without credentials, query or fragment, `server.address`,
//! `server.port`, `http.response.status_code`, and `error.type` on failure),
//! and carries the span's W3C `traceparent` so the callee continues the
//! trace. The span is a child of the current context: the typed span or
//! `tracing` span the call is made in.
//!
//! Inbound `baggage` and `tracestate` (written by the service's own caller)
//! go only to hosts on the tracer's allow-list
//! ([`CheckoutTracer::inject_for`]; with `telemetry.tracer()` the list of
//! [`TelemetryBuilder::propagate_context_to`](crate::TelemetryBuilder::propagate_context_to)
//! or `CHECKOUT_OTEL_PROPAGATION_ALLOWED_HOSTS`, empty by default): a
//! payment provider or any other host not listed gets `traceparent` only.
//!
//! The middleware injects with its tracer's propagator: with
//! `telemetry.tracer()` that is the guard's (from `OTEL_PROPAGATORS`),
//! whether the guard came from `init()` or from `build()`, which installs no
//! global propagator. [`OtelMiddleware::default`] uses
//! [`CheckoutTracer::global`], and so the global propagator and an empty
//! allow-list.
//!
//! It exists because `reqwest-tracing` does not support this crate's
//! OpenTelemetry version; it adds no TLS stack of its own (enable one on your
//! `reqwest` dependency if you call `https://` URLs).
//!
//! ```
//! use checkout_otel::http_client::{OtelMiddleware, reqwest_middleware::ClientBuilder};
//! use checkout_otel::spans::CheckoutTracer;
//!
//! # fn main() -> checkout_otel::Result<()> {
//! # use checkout_otel::init::Exporter;
//! # let telemetry = checkout_otel::Telemetry::builder("checkout-api")
//! #     .traces_exporter(Exporter::None)
//! #     .metrics_exporter(Exporter::None)
//! #     .build()?;
//! // `telemetry` is the guard from `Telemetry::builder(..).init()` or `.build()`.
//! let client = ClientBuilder::new(reqwest::Client::new())
//!     .with(OtelMiddleware::new(telemetry.tracer()))
//!     .build();
//! // client.post("http://inventory:8080/reservations").json(&body).send().await?
//! # let _ = client;
//! # Ok(())
//! # }
//! ```
//!
//! Middleware order matters: put retries *before* it
//! (`.with(retry).with(OtelMiddleware::new(..))`) for one span per attempt.

use http::Extensions;
use reqwest::{Request, Response};
use reqwest_middleware::{Middleware, Next};

use crate::attributes::ErrorType;
use crate::spans::{CheckoutTracer, HttpClientCall, HttpClientCallSpan};

/// The reqwest-middleware crate this module implements; use this re-export
/// so your graph holds the version the middleware was built for.
pub use reqwest_middleware;

/// A reqwest middleware that traces each request as an HTTP `CLIENT` span
/// and propagates the trace to the callee (see the [module docs](self)).
#[derive(Debug, Clone, Default)]
pub struct OtelMiddleware {
    tracer: CheckoutTracer,
}

impl OtelMiddleware {
    /// A middleware starting its spans with `tracer` (`telemetry.tracer()`)
    /// and propagating with its propagator.
    /// [`OtelMiddleware::default`] uses [`CheckoutTracer::global`]: the global
    /// providers and the global propagator.
    pub fn new(tracer: CheckoutTracer) -> Self {
        OtelMiddleware { tracer }
    }
}

#[async_trait::async_trait]
impl Middleware for OtelMiddleware {
    async fn handle(
        &self,
        mut request: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        let span = self.tracer.start(HttpClientCall::new(
            request.method().as_str(),
            request.url().as_str(),
        ));
        let allowed = self
            .tracer
            .allowed_hosts()
            .allows(request.url().host_str().unwrap_or_default());
        self.tracer
            .inject_checked(span.context(), allowed, request.headers_mut());
        // Run the rest of the stack inside the span, so spans below are its children.
        let result = span.run(next.run(request, extensions)).await;
        match &result {
            Ok(response) => {
                span.response_status(response.status().as_u16());
                span.end();
            }
            Err(error) => record_transport_error(span, error),
        }
        result
    }
}

/// A request without a response: `error.type` `timeout`, `unavailable`
/// (could not connect) or `_OTHER`. Ends the span.
fn record_transport_error(span: HttpClientCallSpan, error: &reqwest_middleware::Error) {
    let (error_type, exception_type) = match error {
        reqwest_middleware::Error::Reqwest(e) if e.is_timeout() => {
            (ErrorType::TIMEOUT, "reqwest::Error")
        }
        reqwest_middleware::Error::Reqwest(e) if e.is_connect() => {
            (ErrorType::UNAVAILABLE, "reqwest::Error")
        }
        reqwest_middleware::Error::Reqwest(_) => (ErrorType::OTHER, "reqwest::Error"),
        reqwest_middleware::Error::Middleware(_) => (ErrorType::OTHER, "middleware"),
    };
    span.transport_error(error_type, &describe(error), exception_type);
}

/// The error's message without its URL: reqwest's own message names the
/// full URL, query string included, so only the causes below it are kept.
fn describe(error: &reqwest_middleware::Error) -> String {
    let mut causes = Vec::new();
    let mut source: Option<&dyn std::error::Error> = match error {
        reqwest_middleware::Error::Reqwest(e) => std::error::Error::source(e),
        // Another middleware's error: its own message carries no URL of ours.
        reqwest_middleware::Error::Middleware(e) => Some(e.as_ref()),
    };
    while let Some(cause) = source {
        causes.push(cause.to_string());
        source = cause.source();
    }
    let kind = match error {
        reqwest_middleware::Error::Reqwest(e) if e.is_timeout() => "request timed out",
        reqwest_middleware::Error::Reqwest(e) if e.is_connect() => "could not connect",
        reqwest_middleware::Error::Reqwest(_) => "request failed",
        reqwest_middleware::Error::Middleware(_) => "middleware failed",
    };
    if causes.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind}: {}", causes.join(": "))
    }
}
