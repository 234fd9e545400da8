//! No injection path sends an empty `tracestate` header: the trace-context
//! propagator writes one for every span without trace state, and a
//! `tracestate:` header with an empty value is what a strict proxy or
//! partner rejects. A trace state that exists is still sent where it may go.
//! Its own binary: it installs a global propagator.

use std::sync::Arc;

use checkout_otel::opentelemetry::propagation::TextMapCompositePropagator;
use checkout_otel::opentelemetry::trace::FutureExt as _;
use checkout_otel::opentelemetry::{Context, global};
use checkout_otel::opentelemetry_sdk::metrics::SdkMeterProvider;
use checkout_otel::opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use checkout_otel::opentelemetry_sdk::trace::SdkTracerProvider;
use checkout_otel::propagation::{self, AllowedHosts};
use checkout_otel::spans::{CheckoutTracer, OrderCreate};
use http::HeaderMap;
use http::header::HeaderValue;

const INBOUND_TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const INBOUND_TRACESTATE: &str = "partner=opaque-1";

fn w3c() -> TextMapCompositePropagator {
    TextMapCompositePropagator::new(vec![
        Box::new(TraceContextPropagator::new()),
        Box::new(BaggagePropagator::new()),
    ])
}

fn tracer(provider: &SdkTracerProvider) -> CheckoutTracer {
    CheckoutTracer::from_providers(provider, &SdkMeterProvider::default())
        .with_propagator(Arc::new(w3c()))
        .with_allowed_hosts(AllowedHosts::new(["own.internal"]).unwrap())
}

/// Headers already holding an empty `tracestate`, as a handler that copies
/// the inbound headers onto its outgoing request might have.
fn with_stale_empty_tracestate() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("tracestate", HeaderValue::from_static(""));
    headers
}

/// Every way the crate injects into a `HeaderMap`, named.
fn every_injection(tracer: &CheckoutTracer, cx: &Context) -> Vec<(&'static str, HeaderMap)> {
    let mut out = Vec::new();
    let mut run = |name, inject: &dyn Fn(&mut HeaderMap)| {
        for mut headers in [HeaderMap::new(), with_stale_empty_tracestate()] {
            inject(&mut headers);
            out.push((name, headers));
        }
    };
    run("propagation::inject", &|h| propagation::inject(cx, h));
    run("propagation::inject_with", &|h| {
        propagation::inject_with(&w3c(), cx, h)
    });
    run("propagation::inject_current", &|h| {
        let _in_cx = cx.clone().attach();
        propagation::inject_current(h)
    });
    run("tracer.inject", &|h| tracer.inject(cx, h));
    run("tracer.inject_for (allowed host)", &|h| {
        tracer.inject_for(cx, "own.internal", h)
    });
    run("tracer.inject_for (other host)", &|h| {
        tracer.inject_for(cx, "psp.example", h)
    });
    out
}

#[test]
fn no_injection_path_sends_an_empty_tracestate() {
    global::set_text_map_propagator(w3c());
    let provider = SdkTracerProvider::builder().build();
    let tracer = tracer(&provider);

    // A span of our own, with no trace state.
    let span = tracer.start(OrderCreate::new("order-1"));
    for (path, headers) in every_injection(&tracer, span.context()) {
        assert!(headers.contains_key("traceparent"), "{path}: {headers:?}");
        assert!(!headers.contains_key("tracestate"), "{path}: {headers:?}");
    }

    // A child of a caller that sent a trace state: it goes where it may.
    let mut inbound = HeaderMap::new();
    inbound.insert("traceparent", HeaderValue::from_static(INBOUND_TRACEPARENT));
    inbound.insert("tracestate", HeaderValue::from_static(INBOUND_TRACESTATE));
    let parent = tracer.extract(&inbound);
    let child = tracer.start_in(OrderCreate::new("order-2"), &parent);
    for (path, headers) in every_injection(&tracer, child.context()) {
        let state = headers.get("tracestate");
        if path == "tracer.inject_for (other host)" {
            assert_eq!(state, None, "{path}: {headers:?}");
        } else {
            assert_eq!(
                state.and_then(|v| v.to_str().ok()),
                Some(INBOUND_TRACESTATE),
                "{path}: {headers:?}"
            );
        }
    }
}

/// The reqwest middleware injects through the same path: no empty
/// `tracestate` reaches the callee (checked on the wire in
/// `tests/http_client.rs`); here, that a span run as the current context
/// gives `inject_current` its headers without an empty trace state.
#[tokio::test]
async fn inject_current_inside_a_running_span_sends_no_empty_tracestate() {
    global::set_text_map_propagator(w3c());
    let provider = SdkTracerProvider::builder().build();
    let tracer = tracer(&provider);
    let span = tracer.start(OrderCreate::new("order-3"));
    let headers = async {
        let mut headers = HeaderMap::new();
        propagation::inject_current(&mut headers);
        headers
    }
    .with_context(span.context().clone())
    .await;
    assert!(headers.contains_key("traceparent"), "{headers:?}");
    assert!(!headers.contains_key("tracestate"), "{headers:?}");
}
