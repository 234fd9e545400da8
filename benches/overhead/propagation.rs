//! W3C trace context across one hop: extract the inbound `traceparent` and
//! `tracestate` from a `HeaderMap`, inject them into the outgoing one. The
//! crate's propagator against opentelemetry_sdk's, on the same headers and
//! the same header adapters.

use checkout_otel::opentelemetry::propagation::TextMapPropagator;
use checkout_otel::opentelemetry_sdk::propagation::TraceContextPropagator as SdkPropagator;
use checkout_otel::propagation::{self, TraceContextPropagator};
use http::HeaderMap;

/// What a sampled caller with two vendors' state sends: headers both
/// propagators treat alike (the SDK's drops the level 2 random flag, so it
/// is not set here).
pub fn inbound() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        "traceparent",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
            .parse()
            .expect("a header value"),
    );
    headers.insert(
        "tracestate",
        "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"
            .parse()
            .expect("a header value"),
    );
    headers
}

pub fn crate_propagator() -> TraceContextPropagator {
    TraceContextPropagator::new()
}

pub fn sdk_propagator() -> SdkPropagator {
    SdkPropagator::new()
}

/// One hop: extract from `inbound`, inject into new outgoing headers.
pub fn hop(propagator: &dyn TextMapPropagator, inbound: &HeaderMap) -> HeaderMap {
    let cx = propagation::extract_with(propagator, inbound);
    let mut outgoing = HeaderMap::new();
    propagation::inject_with(propagator, &cx, &mut outgoing);
    outgoing
}
