//! `http_client::OtelMiddleware` against a real axum server on loopback: the
//! CLIENT span's name, kind, parent and attributes, the trace context the
//! server receives (inbound `baggage` and `tracestate` only to allowed
//! hosts), and the failures (4xx, 5xx, connection refused, timeout).
#![cfg(feature = "reqwest")]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use checkout_otel::attributes as attr;
use checkout_otel::http_client::OtelMiddleware;
use checkout_otel::http_client::reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use checkout_otel::init::Exporter;
use checkout_otel::opentelemetry::baggage::BaggageExt;
use checkout_otel::opentelemetry::propagation::TextMapCompositePropagator;
use checkout_otel::opentelemetry::trace::{FutureExt as _, SpanId, SpanKind, Status};
use checkout_otel::opentelemetry::{KeyValue, Value, global};
use checkout_otel::opentelemetry_sdk::metrics::SdkMeterProvider;
use checkout_otel::opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use checkout_otel::opentelemetry_sdk::trace::{
    InMemorySpanExporter, SdkTracerProvider, SimpleSpanProcessor, SpanData,
};
use checkout_otel::propagation::AllowedHosts;
use checkout_otel::spans::{CheckoutTracer, OrderCreate};
use checkout_otel::{ConfigError, Telemetry};

/// Headers the server received, per request.
type Seen = Arc<Mutex<Vec<HeaderMap>>>;

fn setup() -> (CheckoutTracer, InMemorySpanExporter, SdkTracerProvider) {
    global::set_text_map_propagator(TextMapCompositePropagator::new(vec![
        Box::new(TraceContextPropagator::new()),
        Box::new(BaggagePropagator::new()),
    ]));
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    (
        CheckoutTracer::from_providers(&provider, &SdkMeterProvider::default()),
        exporter,
        provider,
    )
}

async fn server() -> (SocketAddr, Seen) {
    let seen: Seen = Arc::default();
    let record = |seen: Seen| {
        move |headers: HeaderMap| {
            seen.lock().unwrap().push(headers);
            async { "ok" }
        }
    };
    let app = axum::Router::new()
        .route("/stock/{sku}", get(record(seen.clone())))
        .route("/reservations", post(record(seen.clone())))
        .route("/missing", get(|| async { StatusCode::NOT_FOUND }))
        .route("/boom", get(|| async { StatusCode::INTERNAL_SERVER_ERROR }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "late"
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, seen)
}

fn client(tracer: CheckoutTracer) -> ClientWithMiddleware {
    ClientBuilder::new(reqwest::Client::new())
        .with(OtelMiddleware::new(tracer))
        .build()
}

fn only_client_span(spans: &[SpanData]) -> &SpanData {
    let clients: Vec<_> = spans
        .iter()
        .filter(|s| s.span_kind == SpanKind::Client)
        .collect();
    assert_eq!(clients.len(), 1, "client spans: {clients:?}");
    clients[0]
}

fn attr_of<'a>(span: &'a SpanData, key: &str) -> Option<&'a Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| &kv.value)
}

fn str_attr<'a>(span: &'a SpanData, key: &str) -> Option<&'a str> {
    match attr_of(span, key) {
        Some(Value::String(s)) => Some(s.as_str()),
        _ => None,
    }
}

fn exception_message(span: &SpanData) -> String {
    span.events
        .iter()
        .find(|e| e.name == attr::EXCEPTION_EVENT)
        .and_then(|e| {
            e.attributes
                .iter()
                .find(|kv| kv.key.as_str() == attr::EXCEPTION_MESSAGE)
        })
        .map(|kv| kv.value.as_str().into_owned())
        .unwrap_or_default()
}

#[tokio::test]
async fn client_span_is_a_child_with_semconv_attributes_and_propagates_context() {
    let (tracer, exporter, _provider) = setup();
    let tracer = tracer.with_allowed_hosts(AllowedHosts::new(["127.0.0.1"]).unwrap());
    let (addr, seen) = server().await;
    let client = client(tracer.clone());

    let order = tracer.start(OrderCreate::new("ord-1"));
    let cx = order
        .context()
        .with_baggage(vec![KeyValue::new("tenant", "eu-shop")]);
    let response = client
        .get(format!(
            "http://user:secret@{addr}/stock/sku-1?token=abc&email=jane@example.com#frag"
        ))
        .send()
        .with_context(cx)
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    order.end();

    let spans = exporter.get_finished_spans().unwrap();
    let call = only_client_span(&spans);
    let order = spans.iter().find(|s| s.name == attr::ORDER_CREATE).unwrap();
    assert_eq!(call.name, "GET");
    assert_eq!(call.parent_span_id, order.span_context.span_id());
    assert_eq!(call.span_context.trace_id(), order.span_context.trace_id());
    assert_eq!(str_attr(call, attr::HTTP_REQUEST_METHOD), Some("GET"));
    assert_eq!(
        str_attr(call, attr::URL_FULL),
        Some(format!("http://{addr}/stock/sku-1").as_str())
    );
    assert_eq!(str_attr(call, attr::SERVER_ADDRESS), Some("127.0.0.1"));
    assert_eq!(
        attr_of(call, attr::SERVER_PORT),
        Some(&Value::I64(i64::from(addr.port())))
    );
    assert_eq!(
        attr_of(call, attr::HTTP_RESPONSE_STATUS_CODE),
        Some(&Value::I64(200))
    );
    assert_eq!(attr_of(call, attr::ERROR_TYPE), None);
    assert_eq!(call.status, Status::Unset);

    // The server saw the client span as the parent, and the baggage.
    let headers = seen.lock().unwrap();
    let traceparent = headers[0]["traceparent"].to_str().unwrap();
    assert_eq!(
        traceparent,
        format!(
            "00-{}-{}-01",
            call.span_context.trace_id(),
            call.span_context.span_id()
        )
    );
    assert_eq!(headers[0]["baggage"].to_str().unwrap(), "tenant=eu-shop");
    // No trace state to carry: no `tracestate:` header with an empty value.
    assert!(!headers[0].contains_key("tracestate"), "{:?}", headers[0]);
}

const INBOUND_TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const INBOUND_TRACESTATE: &str = "partner=opaque-state-1,vendor=x9";
const INBOUND_BAGGAGE: &str = "customer.email=jane.doe%40example.com,tenant=eu-shop";

/// What a browser or partner sends the service: a trace context with its
/// own `tracestate` and `baggage`.
fn inbound_headers() -> axum::http::HeaderMap {
    let mut inbound = axum::http::HeaderMap::new();
    let traceparent = format!("00-{INBOUND_TRACE_ID}-00f067aa0ba902b7-01");
    inbound.insert("traceparent", traceparent.parse().unwrap());
    inbound.insert("tracestate", INBOUND_TRACESTATE.parse().unwrap());
    inbound.insert("baggage", INBOUND_BAGGAGE.parse().unwrap());
    inbound
}

/// A client whose requests to these host names reach `addr`, the loopback
/// server: a partner's API and the service's own.
fn client_resolving(
    tracer: CheckoutTracer,
    hosts: &[&str],
    addr: SocketAddr,
) -> ClientWithMiddleware {
    let mut builder = reqwest::Client::builder();
    for host in hosts {
        builder = builder.resolve(host, addr);
    }
    ClientBuilder::new(builder.build().unwrap())
        .with(OtelMiddleware::new(tracer))
        .build()
}

#[tokio::test]
async fn baggage_and_tracestate_go_to_allowed_hosts_and_only_traceparent_elsewhere() {
    let exporter = InMemorySpanExporter::default();
    let telemetry = Telemetry::builder("checkout-api")
        .with_env(Vec::<(String, String)>::new())
        .traces_exporter(Exporter::None)
        .metrics_exporter(Exporter::None)
        .tracing_bridge(false)
        .propagate_context_to(["*.internal.example"])
        .with_span_processor(SimpleSpanProcessor::new(exporter.clone()))
        .build()
        .unwrap();
    let tracer = telemetry.tracer();
    let (addr, seen) = server().await;
    let own = "inventory.internal.example";
    let partner = "api.payments.example";
    let client = client_resolving(tracer.clone(), &[own, partner], addr);

    let order = tracer.start_in(
        OrderCreate::new("ord-7"),
        &tracer.extract(&inbound_headers()),
    );
    let cx = order.context().clone();
    for host in [own, partner] {
        client
            .get(format!("http://{host}:{}/stock/sku-1", addr.port()))
            // As a service that copies the inbound headers onto its own calls would.
            .header("baggage", "copied=from-inbound")
            .header("tracestate", "copied=1")
            .send()
            .with_context(cx.clone())
            .await
            .unwrap();
    }
    order.end();

    let spans = exporter.get_finished_spans().unwrap();
    let calls: Vec<&SpanData> = spans
        .iter()
        .filter(|s| s.span_kind == SpanKind::Client)
        .collect();
    assert_eq!(calls.len(), 2);
    let headers = seen.lock().unwrap();
    assert_eq!(headers.len(), 2);
    for (received, call) in headers.iter().zip(&calls) {
        // Every host continues the trace, with the client span as parent.
        assert_eq!(
            received["traceparent"].to_str().unwrap(),
            format!("00-{INBOUND_TRACE_ID}-{}-01", call.span_context.span_id())
        );
    }
    // The service's own host gets the caller's trace state and baggage
    // (the propagator's values, not the copied headers).
    assert_eq!(
        headers[0]["tracestate"].to_str().unwrap(),
        INBOUND_TRACESTATE
    );
    let baggage = headers[0]["baggage"].to_str().unwrap();
    assert!(baggage.contains("tenant=eu-shop"), "{baggage}");
    assert!(baggage.contains("customer.email="), "{baggage}");
    assert!(!baggage.contains("copied"), "{baggage}");
    // The partner gets neither, not even the copied ones.
    assert_eq!(headers[1].get("tracestate"), None, "{:?}", headers[1]);
    assert_eq!(headers[1].get("baggage"), None, "{:?}", headers[1]);
}

#[tokio::test]
async fn without_an_allow_list_every_host_gets_only_traceparent() {
    // `from_providers`, `global` and a guard without a list: all empty.
    let (tracer, exporter, provider) = setup();
    assert!(tracer.allowed_hosts().is_empty());
    assert!(CheckoutTracer::global().allowed_hosts().is_empty());
    let guard_tracer = Telemetry::builder("checkout-api")
        .with_env(Vec::<(String, String)>::new())
        .traces_exporter(Exporter::None)
        .metrics_exporter(Exporter::None)
        .tracing_bridge(false)
        .build()
        .unwrap()
        .tracer();
    assert!(guard_tracer.allowed_hosts().is_empty());

    let (addr, seen) = server().await;
    let parent = tracer.extract(&inbound_headers());
    client(tracer)
        .get(format!("http://{addr}/stock/sku-3"))
        .send()
        .with_context(parent)
        .await
        .unwrap();
    let spans = exporter.get_finished_spans().unwrap();
    let call = only_client_span(&spans);
    let received = &seen.lock().unwrap()[0];
    assert_eq!(
        received["traceparent"].to_str().unwrap(),
        format!("00-{INBOUND_TRACE_ID}-{}-01", call.span_context.span_id())
    );
    assert_eq!(received.get("tracestate"), None);
    assert_eq!(received.get("baggage"), None);
    drop(provider);
}

#[test]
fn an_invalid_allow_list_is_an_error_naming_its_source() {
    let err = Telemetry::builder("checkout-api")
        .with_env(Vec::<(String, String)>::new())
        .propagate_context_to(["payments.example:443"])
        .resolve()
        .unwrap_err();
    assert!(
        matches!(
            &err,
            ConfigError::InvalidPropagationHost { source_of, .. }
                if *source_of == checkout_otel::error::ConfigSource::Builder("propagate_context_to")
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn post_span_is_named_post_and_a_root_without_a_parent() {
    let (tracer, exporter, _provider) = setup();
    let (addr, seen) = server().await;
    let response = client(tracer)
        .post(format!("http://{addr}/reservations"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    let spans = exporter.get_finished_spans().unwrap();
    let call = only_client_span(&spans);
    assert_eq!(call.name, "POST");
    assert_eq!(str_attr(call, attr::HTTP_REQUEST_METHOD), Some("POST"));
    assert_eq!(call.parent_span_id, SpanId::INVALID);
    let traceparent = seen.lock().unwrap()[0]["traceparent"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(traceparent.contains(&call.span_context.span_id().to_string()));
}

#[tokio::test]
async fn status_4xx_is_a_rejection_and_5xx_a_fault() {
    let (tracer, exporter, _provider) = setup();
    let (addr, _) = server().await;
    let client = client(tracer);
    for (path, code, kind) in [("/missing", 404, "rejection"), ("/boom", 500, "fault")] {
        exporter.reset();
        let response = client
            .get(format!("http://{addr}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), code);

        let spans = exporter.get_finished_spans().unwrap();
        let call = only_client_span(&spans);
        assert_eq!(
            attr_of(call, attr::HTTP_RESPONSE_STATUS_CODE),
            Some(&Value::I64(i64::from(code)))
        );
        assert_eq!(
            str_attr(call, attr::ERROR_TYPE),
            Some(code.to_string().as_str())
        );
        assert_eq!(str_attr(call, attr::FAILURE_KIND), Some(kind));
        assert_eq!(call.status, Status::error(format!("HTTP {code}")), "{path}");
    }
}

#[tokio::test]
async fn connection_refused_is_unavailable_and_never_records_the_url() {
    let (tracer, exporter, _provider) = setup();
    // A port nothing listens on: bind, read the port, close.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let result = client(tracer)
        .get(format!("http://127.0.0.1:{port}/stock?token=s3cr3t"))
        .send()
        .await;
    assert!(result.is_err());

    let spans = exporter.get_finished_spans().unwrap();
    let call = only_client_span(&spans);
    assert_eq!(str_attr(call, attr::ERROR_TYPE), Some("unavailable"));
    assert_eq!(str_attr(call, attr::FAILURE_KIND), Some("fault"));
    assert_eq!(attr_of(call, attr::HTTP_RESPONSE_STATUS_CODE), None);
    assert!(matches!(call.status, Status::Error { .. }));
    let message = exception_message(call);
    assert!(message.starts_with("could not connect"), "{message}");
    assert!(!message.contains("s3cr3t"), "{message}");
    assert_eq!(
        str_attr(call, attr::URL_FULL),
        Some(format!("http://127.0.0.1:{port}/stock").as_str())
    );
}

#[tokio::test]
async fn client_timeout_is_a_timeout() {
    let (tracer, exporter, _provider) = setup();
    let (addr, _) = server().await;
    let client = ClientBuilder::new(
        reqwest::Client::builder()
            .timeout(Duration::from_millis(100))
            .build()
            .unwrap(),
    )
    .with(OtelMiddleware::new(tracer))
    .build();
    let result = client.get(format!("http://{addr}/slow")).send().await;
    assert!(result.unwrap_err().is_timeout());

    let spans = exporter.get_finished_spans().unwrap();
    let call = only_client_span(&spans);
    assert_eq!(str_attr(call, attr::ERROR_TYPE), Some("timeout"));
    assert!(exception_message(call).starts_with("request timed out"));
}

/// The middleware falls back to the global tracer provider by default.
#[tokio::test]
async fn default_middleware_uses_the_global_provider() {
    let (_tracer, exporter, provider) = setup();
    global::set_tracer_provider(provider.clone());
    let (addr, _) = server().await;
    ClientBuilder::new(reqwest::Client::new())
        .with(OtelMiddleware::default())
        .build()
        .get(format!("http://{addr}/stock/sku-2"))
        .send()
        .await
        .unwrap();
    let spans = exporter.get_finished_spans().unwrap();
    assert_eq!(only_client_span(&spans).name, "GET");
}
