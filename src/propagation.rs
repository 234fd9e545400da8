//! W3C trace-context and baggage across HTTP hops, for `http::HeaderMap`
//! (axum, hyper, reqwest, tonic metadata converted to headers).
//!
//! Injecting on the calling side and extracting on the serving side make
//! the callee's spans part of the caller's trace. Which propagator does it:
//!
//! | call | propagator |
//! |---|---|
//! | [`CheckoutTracer::inject`], [`CheckoutTracer::extract`] | the tracer's: with `telemetry.tracer()` the guard's (`OTEL_PROPAGATORS`), from `build()` as from `init()` |
//! | [`inject_with`], [`extract_with`] | the one given, for example `&telemetry.propagator()` |
//! | [`inject`], [`extract`], [`inject_current`] | the global one: what `init()` installs; nothing (no propagation) when no global propagator was installed |
//!
//! Prefer the tracer's: it is right however the telemetry was set up.
//!
//! W3C trace context (`traceparent`, `tracestate`) is the crate's own
//! [`TraceContextPropagator`] in every propagator the crate builds: strict
//! parsing, repeated headers, level 2 `tracestate` keys and the
//! `random-trace-id` flag.
//!
//! # Third parties: `baggage` and `tracestate` only to allowed hosts
//!
//! Inbound `baggage` and `tracestate` are written by whoever called the
//! service: a browser, a partner. Forwarded as they are, they carry that
//! caller's data to every host the service calls, a payment provider
//! included. So a call to another host gets them only when the host is on
//! the service's [`AllowedHosts`] list
//! ([`TelemetryBuilder::propagate_context_to`](crate::TelemetryBuilder::propagate_context_to)
//! or [`PROPAGATION_ALLOWED_HOSTS_ENV`]; empty by default); every host gets
//! `traceparent`, so traces still join up.
//!
//! | call | writes |
//! |---|---|
//! | [`CheckoutTracer::inject_for`] (and the client middleware, per request) | `traceparent` always; `baggage` and `tracestate` only when the host is allowed |
//! | [`CheckoutTracer::inject`], [`inject_with`], [`inject`], [`inject_current`] | everything the propagator writes: only for the service's own hops |
//!
//! A `tracestate` header is never written empty.
//!
//! ```
//! use checkout_otel::opentelemetry::trace::TraceContextExt;
//! use checkout_otel::spans::OrderCreate;
//!
//! # fn main() -> checkout_otel::Result<()> {
//! let telemetry = checkout_otel::Telemetry::builder("order-service")
//! #   .traces_exporter(checkout_otel::init::Exporter::None)
//! #   .metrics_exporter(checkout_otel::init::Exporter::None)
//!     .build()?; // installs no global propagator
//! let tracer = telemetry.tracer();
//! let span = tracer.start(OrderCreate::new("order-1"));
//!
//! // client side
//! let mut headers = http::HeaderMap::new();
//! tracer.inject(span.context(), &mut headers);
//! assert!(headers.contains_key("traceparent"));
//!
//! // server side
//! let parent = tracer.extract(&headers);
//! assert_eq!(parent.span().span_context().trace_id(), span.trace_id());
//! # Ok(())
//! # }
//! ```
//!
//! [`CheckoutTracer::inject`]: crate::CheckoutTracer::inject
//! [`CheckoutTracer::inject_for`]: crate::CheckoutTracer::inject_for
//! [`CheckoutTracer::extract`]: crate::CheckoutTracer::extract

mod allowed_hosts;
mod trace_context;
mod tracestate;

pub use allowed_hosts::{AllowedHosts, PROPAGATION_ALLOWED_HOSTS_ENV};
pub(crate) use trace_context::RandomTraceId;
pub use trace_context::TraceContextPropagator;

use http::HeaderMap;
use http::header::{HeaderName, HeaderValue};
use opentelemetry::Context;
use opentelemetry::global;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{SpanContext, TraceContextExt, TraceState};

/// The headers that carry what the caller wrote rather than the trace's
/// identity: never sent to a host outside the allow-list.
const CALLER_DATA_HEADERS: [&str; 2] = ["baggage", TRACESTATE];

const TRACESTATE: &str = "tracestate";

/// Writes `cx`'s trace context (and baggage) into `headers` with the global
/// propagator. Inbound `baggage` and `tracestate` go too: use it for the
/// service's own hops, and [`CheckoutTracer::inject_for`](crate::CheckoutTracer::inject_for)
/// for any other host.
pub fn inject(cx: &Context, headers: &mut HeaderMap) {
    global::get_text_map_propagator(|propagator| inject_with(propagator, cx, headers));
}

/// Writes `cx`'s trace context (and baggage) into `headers` with `propagator`
/// (for example `guard.propagator()`). Like [`inject`], for the service's
/// own hops.
pub fn inject_with(propagator: &dyn TextMapPropagator, cx: &Context, headers: &mut HeaderMap) {
    // A `tracestate` copied from elsewhere (the inbound request) must not go
    // out beside a trace context that has none: the propagator writes no
    // empty header to replace it.
    if propagator.fields().any(|field| field == TRACESTATE) {
        headers.remove(TRACESTATE);
    }
    propagator.inject_context(cx, &mut HeaderInjector(headers))
}

/// Writes the current context into `headers`. Like [`inject`], for the
/// service's own hops.
pub fn inject_current(headers: &mut HeaderMap) {
    inject(&Context::current(), headers)
}

/// Reads the caller's trace context (and baggage) from `headers`: the parent
/// to start the server side's spans in. Without valid headers the result has
/// no remote parent and spans started in it begin a new trace.
pub fn extract(headers: &HeaderMap) -> Context {
    global::get_text_map_propagator(|propagator| extract_with(propagator, headers))
}

/// Like [`extract`], with `propagator` (for example `guard.propagator()`).
pub fn extract_with(propagator: &dyn TextMapPropagator, headers: &HeaderMap) -> Context {
    propagator.extract_with_context(&Context::new(), &HeaderExtractor(headers))
}

/// `cx` reduced to its trace identity: the span context without its
/// `tracestate`, and no baggage or other values (only whether the trace id
/// is random, which belongs to `traceparent`). What a host outside the
/// allow-list may learn.
pub(crate) fn trace_identity(cx: &Context) -> Context {
    let span = cx.span();
    let sc = span.span_context();
    if !sc.is_valid() {
        return Context::new();
    }
    let identity = match cx.get::<RandomTraceId>() {
        Some(random) => Context::new().with_value(*random),
        None => Context::new(),
    };
    identity.with_remote_span_context(SpanContext::new(
        sc.trace_id(),
        sc.span_id(),
        sc.trace_flags(),
        sc.is_remote(),
        TraceState::NONE,
    ))
}

/// Removes the headers that carry caller data (`baggage`, `tracestate`),
/// including any copied from the inbound request.
pub(crate) fn remove_caller_data(headers: &mut HeaderMap) {
    for name in CALLER_DATA_HEADERS {
        headers.remove(name);
    }
}

/// An [`Injector`] writing into an `http::HeaderMap`. Invalid names or values
/// are skipped, never a panic. An empty value removes the header rather than
/// sending it empty (the SDK's trace-context propagator writes an empty
/// `tracestate` when there is none).
pub struct HeaderInjector<'a>(pub &'a mut HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        let Ok(name) = HeaderName::from_bytes(key.as_bytes()) else {
            return;
        };
        if value.trim().is_empty() {
            self.0.remove(name);
        } else if let Ok(value) = HeaderValue::from_str(&value) {
            self.0.insert(name, value);
        }
    }
}

/// An [`Extractor`] reading from an `http::HeaderMap`. [`get`](Extractor::get)
/// ignores a value that is not visible ASCII; [`get_all`](Extractor::get_all)
/// returns every field of a repeated header in order, each such value as
/// `\u{FFFD}` (so a parser rejects it instead of seeing fewer fields).
pub struct HeaderExtractor<'a>(pub &'a HeaderMap);

/// What [`HeaderExtractor::get_all`] returns for a value that is not text.
const NOT_TEXT: &str = "\u{FFFD}";

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn get_all(&self, key: &str) -> Option<Vec<&str>> {
        let mut fields = self.0.get_all(key).iter().peekable();
        fields.peek()?;
        Some(fields.map(|v| v.to_str().unwrap_or(NOT_TEXT)).collect())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}
