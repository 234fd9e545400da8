//! W3C trace-context and baggage across HTTP hops, for `http::HeaderMap`
//! (axum, hyper, reqwest, tonic metadata converted to headers).
//!
//! [`inject`] on the calling side and [`extract`] on the serving side make
//! the callee's spans part of the caller's trace. Both use the globally
//! installed propagator ([`Telemetry`](crate::init::Telemetry)'s `init`
//! installs W3C trace-context and baggage, or what `OTEL_PROPAGATORS` names).
//!
//! ```
//! use checkout_otel::opentelemetry::trace::TraceContextExt;
//! use checkout_otel::propagation;
//! use checkout_otel::spans::{CheckoutTracer, OrderCreate};
//!
//! # checkout_otel::opentelemetry::global::set_text_map_propagator(
//! #     checkout_otel::opentelemetry_sdk::propagation::TraceContextPropagator::new());
//! # let provider = checkout_otel::opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
//! # use checkout_otel::opentelemetry::trace::TracerProvider as _;
//! let tracer = CheckoutTracer::new(provider.tracer("doc"));
//! let span = tracer.start(OrderCreate::new("order-1"));
//!
//! // client side
//! let mut headers = http::HeaderMap::new();
//! propagation::inject(span.context(), &mut headers);
//! assert!(headers.contains_key("traceparent"));
//!
//! // server side
//! let parent = propagation::extract(&headers);
//! assert_eq!(parent.span().span_context().trace_id(), span.trace_id());
//! ```

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
