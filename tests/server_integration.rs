//! An existing axum service gets its request span from the crate's
//! `http_server::OtelServerLayer`, or keeps axum-tracing-opentelemetry's
//! `OtelAxumLayer`. Its request span continues the caller's `traceparent`, and
//! the crate's typed spans started in handlers are that span's children.
//! (tests/server_layer.rs covers the layer beside tower-http's `TraceLayer`
//! and under a service's own `EnvFilter`.)
//!
//! Each test runs a real axum server on loopback inside a current-thread
//! runtime, so the thread-local subscriber set with `set_default` sees the
//! handlers too.

use std::net::SocketAddr;

use axum::http::StatusCode;
use axum::routing::post;
use checkout_otel::attributes as attr;
use checkout_otel::http_server::OtelServerLayer;
use checkout_otel::init::Exporter;
use checkout_otel::init::{Telemetry, TelemetryGuard};
use checkout_otel::opentelemetry::global;
use checkout_otel::opentelemetry::trace::{SpanId, SpanKind, Status, TraceId};
use checkout_otel::opentelemetry::{Key, Value};
use checkout_otel::opentelemetry_sdk::trace::{
    InMemorySpanExporter, SimpleSpanProcessor, SpanData,
};
use checkout_otel::spans::CartValidate;
use tower_http::trace::TraceLayer;
use tracing_subscriber::layer::SubscriberExt;

const CALLER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

fn setup() -> (TelemetryGuard, InMemorySpanExporter) {
    setup_with_filter("info")
}

/// `tracing_filter`: which `tracing` spans the guard's layer exports.
fn setup_with_filter(tracing_filter: &str) -> (TelemetryGuard, InMemorySpanExporter) {
    let exporter = InMemorySpanExporter::default();
    let guard = Telemetry::builder("checkout-api")
        .tracing_filter(tracing_filter)
        .traces_exporter(Exporter::None)
        .metrics_exporter(Exporter::None)
        .tracing_bridge(false)
        .with_span_processor(SimpleSpanProcessor::new(exporter.clone()))
        .with_env(Vec::<(String, String)>::new())
        .build()
        .expect("build");
    // What `init` installs globally: W3C trace-context + baggage.
    global::set_text_map_propagator(guard.propagator());
    (guard, exporter)
}

/// The service's routes: a checkout that starts a typed span, and a failing one.
fn routes(guard: &TelemetryGuard) -> axum::Router {
    let tracer = guard.tracer();
    axum::Router::new()
        .route(
            "/checkout/{cart}",
            post(move || {
                let tracer = tracer.clone();
                async move {
                    tokio::task::yield_now().await;
                    let validate = tracer.start(CartValidate::new("cart-1"));
                    tokio::task::yield_now().await;
                    validate.end();
                    "ok"
                }
            }),
        )
        .route(
            "/broken",
            post(|| async { StatusCode::SERVICE_UNAVAILABLE }),
        )
}

async fn serve(app: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

async fn post_with_traceparent(addr: SocketAddr, path: &str) -> StatusCode {
    reqwest::Client::new()
        .post(format!("http://{addr}{path}"))
        .header("traceparent", format!("00-{CALLER_TRACE}-{CALLER_SPAN}-01"))
        .send()
        .await
        .unwrap()
        .status()
}

fn find<'a>(spans: &'a [SpanData], name: &str) -> &'a SpanData {
    spans.iter().find(|s| s.name == name).unwrap_or_else(|| {
        panic!(
            "no span {name} in {:?}",
            spans.iter().map(|s| &s.name).collect::<Vec<_>>()
        )
    })
}

fn attr_of<'a>(span: &'a SpanData, key: &str) -> Option<&'a Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key == Key::new(key.to_owned()))
        .map(|kv| &kv.value)
}

/// The request span continues the caller's trace and is the typed span's parent.
fn assert_request_parents_typed_span(spans: &[SpanData], request_name: &str) {
    let request = find(spans, request_name);
    let validate = find(spans, attr::CART_VALIDATE);
    assert_eq!(request.span_kind, SpanKind::Server);
    assert_eq!(
        request.span_context.trace_id(),
        TraceId::from_hex(CALLER_TRACE).unwrap()
    );
    assert_eq!(
        request.parent_span_id,
        SpanId::from_hex(CALLER_SPAN).unwrap()
    );
    assert!(request.parent_span_is_remote);
    assert_eq!(validate.parent_span_id, request.span_context.span_id());
    assert_eq!(
        validate.span_context.trace_id(),
        request.span_context.trace_id()
    );
}

#[tokio::test]
async fn otel_server_layer_continues_the_caller() {
    let (guard, exporter) = setup();
    let _subscriber = tracing::subscriber::set_default(
        tracing_subscriber::registry().with(guard.tracing_layer()),
    );
    let app = routes(&guard).layer(OtelServerLayer::new(&guard.tracer()));
    let addr = serve(app).await;

    assert_eq!(
        post_with_traceparent(addr, "/checkout/cart-1").await,
        StatusCode::OK
    );
    assert_eq!(
        post_with_traceparent(addr, "/broken").await,
        StatusCode::SERVICE_UNAVAILABLE
    );

    let spans = exporter.get_finished_spans().unwrap();
    assert_request_parents_typed_span(&spans, "POST /checkout/{cart}");
    let ok = find(&spans, "POST /checkout/{cart}");
    assert_eq!(
        attr_of(ok, attr::HTTP_REQUEST_METHOD),
        Some(&Value::from("POST"))
    );
    assert_eq!(
        attr_of(ok, attr::HTTP_ROUTE),
        Some(&Value::from("/checkout/{cart}"))
    );
    assert_eq!(
        attr_of(ok, attr::HTTP_RESPONSE_STATUS_CODE),
        Some(&Value::I64(200))
    );
    assert_eq!(attr_of(ok, attr::ERROR_TYPE), None);
    assert_eq!(ok.status, Status::Unset);

    let broken = find(&spans, "POST /broken");
    assert_eq!(
        attr_of(broken, attr::HTTP_RESPONSE_STATUS_CODE),
        Some(&Value::I64(503))
    );
    assert_eq!(attr_of(broken, attr::ERROR_TYPE), Some(&Value::from("503")));
    assert!(matches!(broken.status, Status::Error { .. }));
}

#[tokio::test]
async fn request_without_traceparent_starts_a_new_trace() {
    let (guard, exporter) = setup();
    let _subscriber = tracing::subscriber::set_default(
        tracing_subscriber::registry().with(guard.tracing_layer()),
    );
    // A route reader that finds none.
    let app = routes(&guard).layer(OtelServerLayer::new(&guard.tracer()).route_with(|_| None));
    let addr = serve(app).await;
    let status = reqwest::Client::new()
        .post(format!("http://{addr}/checkout/cart-1"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, StatusCode::OK);

    let spans = exporter.get_finished_spans().unwrap();
    // Without a route the span is named after the method alone.
    let request = find(&spans, "POST");
    let validate = find(&spans, attr::CART_VALIDATE);
    assert_eq!(request.parent_span_id, SpanId::INVALID);
    assert_ne!(
        request.span_context.trace_id(),
        TraceId::from_hex(CALLER_TRACE).unwrap()
    );
    assert_eq!(validate.parent_span_id, request.span_context.span_id());
}

/// A service that keeps tower-http's default span (DEBUG) and lets the
/// bridge export it (`tower_http=debug`) gets its typed spans nested under it
/// (the crate's layer must not filter `tower_http` out as an exporter
/// target); it just does not continue the caller's trace, which is what
/// `http_server::OtelServerLayer` adds.
#[tokio::test]
async fn default_trace_layer_span_is_the_typed_spans_parent() {
    let (guard, exporter) = setup_with_filter("info,tower_http=debug");
    let _subscriber = tracing::subscriber::set_default(
        tracing_subscriber::registry().with(guard.tracing_layer()),
    );
    let addr = serve(routes(&guard).layer(TraceLayer::new_for_http())).await;
    assert_eq!(
        post_with_traceparent(addr, "/checkout/cart-1").await,
        StatusCode::OK
    );

    let spans = exporter.get_finished_spans().unwrap();
    let request = find(&spans, "request");
    let validate = find(&spans, attr::CART_VALIDATE);
    assert_eq!(validate.parent_span_id, request.span_context.span_id());
    assert_ne!(
        request.span_context.trace_id(),
        TraceId::from_hex(CALLER_TRACE).unwrap()
    );
}

#[tokio::test]
async fn axum_tracing_opentelemetry_layer_continues_the_caller() {
    use axum_tracing_opentelemetry::middleware::OtelAxumLayer;
    let (guard, exporter) = setup();
    let _subscriber = tracing::subscriber::set_default(
        tracing_subscriber::registry().with(guard.tracing_layer()),
    );
    let addr = serve(routes(&guard).layer(OtelAxumLayer::default())).await;
    assert_eq!(
        post_with_traceparent(addr, "/checkout/cart-1").await,
        StatusCode::OK
    );

    let spans = exporter.get_finished_spans().unwrap();
    assert_request_parents_typed_span(&spans, "POST /checkout/{cart}");
    let request = find(&spans, "POST /checkout/{cart}");
    assert_eq!(
        attr_of(request, attr::HTTP_ROUTE),
        Some(&Value::from("/checkout/{cart}"))
    );
    assert_eq!(
        attr_of(request, attr::HTTP_RESPONSE_STATUS_CODE),
        Some(&Value::I64(200))
    );
}
