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
//! ```
//! use checkout_otel::opentelemetry::trace::TraceContextExt;
//! use checkout_otel::spans::OrderCreate;
//!
//! # fn main() -> checkout_otel::Result<()> {
//! let telemetry = checkout_otel::Telemetry::builder("order-service")
//! #   .console_output(false)
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
//! [`CheckoutTracer::extract`]: crate::CheckoutTracer::extract

use http::HeaderMap;
use http::header::{HeaderName, HeaderValue};
use opentelemetry::Context;
use opentelemetry::global;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};

/// Writes `cx`'s trace context (and baggage) into `headers` with the global
/// propagator.
pub fn inject(cx: &Context, headers: &mut HeaderMap) {
    global::get_text_map_propagator(|propagator| inject_with(propagator, cx, headers));
}

/// Writes `cx`'s trace context (and baggage) into `headers` with `propagator`
/// (for example `guard.propagator()`).
pub fn inject_with(propagator: &dyn TextMapPropagator, cx: &Context, headers: &mut HeaderMap) {
    propagator.inject_context(cx, &mut HeaderInjector(headers))
}

/// Writes the current context into `headers`.
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

/// An [`Injector`] writing into an `http::HeaderMap`. Invalid names or values
/// are skipped, never a panic.
pub struct HeaderInjector<'a>(pub &'a mut HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(key.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

/// An [`Extractor`] reading from an `http::HeaderMap`. Non-ASCII values are
/// ignored.
pub struct HeaderExtractor<'a>(pub &'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}
