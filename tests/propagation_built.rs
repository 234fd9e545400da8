//! A service set up with `build()` installs no global propagator, and still
//! continues the caller's trace: every propagating helper reads the
//! propagator from the guard's tracer. Its own binary: nothing in this
//! process ever installs a global propagator, so the global one stays the
//! no-op default and a helper that silently fell back to it would start a
//! new trace.
#![cfg(feature = "reqwest")]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use checkout_otel::attributes as attr;
use checkout_otel::http_client::OtelMiddleware;
use checkout_otel::http_client::reqwest_middleware::ClientBuilder;
use checkout_otel::http_server::OtelServerLayer;
use checkout_otel::init::Exporter;
use checkout_otel::init::{Telemetry, TelemetryGuard};
use checkout_otel::opentelemetry::baggage::BaggageExt as _;
use checkout_otel::opentelemetry::trace::{FutureExt as _, SpanId, SpanKind, TraceId};
use checkout_otel::opentelemetry::{KeyValue, global};
use checkout_otel::opentelemetry_sdk::trace::{
    InMemorySpanExporter, SimpleSpanProcessor, SpanData,
};
use checkout_otel::pii::{Currency, Money};
use checkout_otel::spans::{CartValidate, OrderCreate, PaymentProcess};
use tracing_subscriber::layer::SubscriberExt as _;

const CALLER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

/// A guard from `build()` exporting into `exporter`, with `propagators` as
/// its `OTEL_PROPAGATORS`.
fn built(service: &str, exporter: &InMemorySpanExporter, propagators: &str) -> TelemetryGuard {
    let guard = Telemetry::builder(service)
        .traces_exporter(Exporter::None)
        .metrics_exporter(Exporter::None)
        .tracing_bridge(false)
        .with_span_processor(SimpleSpanProcessor::new(exporter.clone()))
        .with_env([
            ("OTEL_PROPAGATORS", propagators),
            // The services here are each other's own hops, on loopback.
            ("CHECKOUT_OTEL_PROPAGATION_ALLOWED_HOSTS", "127.0.0.1"),
        ])
        .build()
        .expect("build");
    assert_no_global_propagator();
    guard
}

/// The precondition of every test here: the global propagator is still the
/// no-op default, which writes no header.
fn assert_no_global_propagator() {
    let fields = global::get_text_map_propagator(|p| p.fields().count());
    assert_eq!(fields, 0, "something installed a global propagator");
}

fn find<'a>(spans: &'a [SpanData], name: &str) -> &'a SpanData {
    spans.iter().find(|s| s.name == name).unwrap_or_else(|| {
        panic!(
            "no span {name} in {:?}",
            spans.iter().map(|s| &s.name).collect::<Vec<_>>()
        )
    })
}

async fn serve(app: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

#[test]
fn tracer_inject_and_extract_use_the_guards_propagator() {
    let exporter = InMemorySpanExporter::default();
    // Trace context only: a tracer that fell back to W3C trace-context *and*
    // baggage (or to the global no-op) would write different headers.
    let client = built("checkout-api", &exporter, "tracecontext");
    let server = built("order-service", &exporter, "tracecontext");
    let client_tracer = client.tracer();
    let server_tracer = server.tracer();

    let payment = client_tracer.start(PaymentProcess::new(
        "order-1",
        Money::from_minor(4_998, Currency::USD),
    ));
    let cx = payment
        .context()
        .with_baggage(vec![KeyValue::new("tenant", "eu-shop")]);
    let mut headers = HeaderMap::new();
    client_tracer.inject(&cx, &mut headers);
    assert!(headers.contains_key("traceparent"), "{headers:?}");
    assert!(
        !headers.contains_key("baggage"),
        "the guard's propagators are tracecontext only: {headers:?}"
    );

    let parent = server_tracer.extract(&headers);
    server_tracer
        .start_in(OrderCreate::new("order-1"), &parent)
        .end();
    payment.end();

    let spans = exporter.get_finished_spans().unwrap();
    let payment = find(&spans, attr::PAYMENT_PROCESS);
    let order = find(&spans, attr::ORDER_CREATE);
    assert_eq!(
        order.span_context.trace_id(),
        payment.span_context.trace_id()
    );
    assert_eq!(order.parent_span_id, payment.span_context.span_id());
    assert!(order.parent_span_is_remote);
    assert_no_global_propagator();
}

#[tokio::test]
async fn otel_middleware_propagates_with_the_guards_propagator() {
    let exporter = InMemorySpanExporter::default();
    let client = built("checkout-api", &exporter, "tracecontext,baggage");
    let server = built("order-service", &exporter, "tracecontext,baggage");
    let server_tracer = server.tracer();
    let seen: Arc<Mutex<Vec<HeaderMap>>> = Arc::default();
    let app = axum::Router::new().route(
        "/orders",
        post({
            let seen = seen.clone();
            move |headers: HeaderMap| {
                seen.lock().unwrap().push(headers.clone());
                let tracer = server_tracer.clone();
                async move {
                    let parent = tracer.extract(&headers);
                    tracer.start_in(OrderCreate::new("order-2"), &parent).end();
                    "created"
                }
            }
        }),
    );
    let addr = serve(app).await;

    let http = ClientBuilder::new(reqwest::Client::new())
        .with(OtelMiddleware::new(client.tracer()))
        .build();
    let validate = client.tracer().start(CartValidate::new("cart-2"));
    let cx = validate
        .context()
        .with_baggage(vec![KeyValue::new("tenant", "eu-shop")]);
    let response = http
        .post(format!("http://{addr}/orders"))
        .send()
        .with_context(cx)
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    validate.end();

    let spans = exporter.get_finished_spans().unwrap();
    let validate = find(&spans, attr::CART_VALIDATE);
    let call = find(&spans, "POST");
    let order = find(&spans, attr::ORDER_CREATE);
    assert_eq!(call.span_kind, SpanKind::Client);
    assert_eq!(call.parent_span_id, validate.span_context.span_id());
    assert_eq!(order.parent_span_id, call.span_context.span_id());
    assert_eq!(
        order.span_context.trace_id(),
        validate.span_context.trace_id()
    );
    let headers = seen.lock().unwrap();
    assert_eq!(headers[0]["baggage"].to_str().unwrap(), "tenant=eu-shop");
    assert_no_global_propagator();
}

/// `OtelServerLayer::new(&tracer)` reads `traceparent` with the tracer's
/// propagator; `OtelServerLayer::global()` reads it with the global one,
/// which here propagates nothing (and records into the global provider,
/// which here is the no-op one), so the handler's span starts a new trace.
#[tokio::test]
async fn server_layer_with_the_tracer_continues_the_caller_and_global_needs_a_global() {
    for with_tracer in [true, false] {
        let exporter = InMemorySpanExporter::default();
        let guard = built("checkout-api", &exporter, "tracecontext,baggage");
        let _subscriber = tracing::subscriber::set_default(
            tracing_subscriber::registry().with(guard.tracing_layer()),
        );
        let tracer = guard.tracer();
        let handler_tracer = tracer.clone();
        let layer = if with_tracer {
            OtelServerLayer::new(&tracer)
        } else {
            OtelServerLayer::global()
        };
        let app = axum::Router::new()
            .route(
                "/checkout/{cart}",
                post(move || {
                    let tracer = handler_tracer.clone();
                    async move {
                        tracer.start(CartValidate::new("cart-1")).end();
                        "ok"
                    }
                }),
            )
            .layer(layer);
        let addr = serve(app).await;
        let status = reqwest::Client::new()
            .post(format!("http://{addr}/checkout/cart-1"))
            .header("traceparent", format!("00-{CALLER_TRACE}-{CALLER_SPAN}-01"))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, StatusCode::OK);

        let spans = exporter.get_finished_spans().unwrap();
        let validate = find(&spans, attr::CART_VALIDATE);
        let caller = TraceId::from_hex(CALLER_TRACE).unwrap();
        if with_tracer {
            let request = find(&spans, "POST /checkout/{cart}");
            assert_eq!(request.span_kind, SpanKind::Server);
            assert_eq!(validate.parent_span_id, request.span_context.span_id());
            assert_eq!(request.span_context.trace_id(), caller);
            assert_eq!(
                request.parent_span_id,
                SpanId::from_hex(CALLER_SPAN).unwrap()
            );
        } else {
            assert!(spans.iter().all(|s| s.name != "POST /checkout/{cart}"));
            assert_ne!(validate.span_context.trace_id(), caller);
            assert_eq!(validate.parent_span_id, SpanId::INVALID);
        }
    }
    assert_no_global_propagator();
}
