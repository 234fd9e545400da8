//! Typed spans live inside `tracing`-instrumented services, and continue a
//! trace across a real HTTP hop.

use std::net::SocketAddr;

use checkout_otel::attributes as attr;
use checkout_otel::opentelemetry::trace::{SpanKind, TracerProvider as _};
use checkout_otel::opentelemetry_sdk::metrics::SdkMeterProvider;
use checkout_otel::opentelemetry_sdk::propagation::TraceContextPropagator;
use checkout_otel::opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use checkout_otel::pii::{Currency, Money};
use checkout_otel::propagation;
use checkout_otel::spans::{CheckoutTracer, OrderCreate, PaymentProcess};
use tracing_subscriber::layer::SubscriberExt;

fn provider() -> (SdkTracerProvider, InMemorySpanExporter) {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    (provider, exporter)
}

fn find<'a>(spans: &'a [SpanData], name: &str) -> &'a SpanData {
    spans.iter().find(|s| s.name == name).unwrap_or_else(|| {
        panic!(
            "no span {name} in {:?}",
            spans.iter().map(|s| &s.name).collect::<Vec<_>>()
        )
    })
}

#[test]
fn typed_span_inside_tracing_request_span_is_its_child_and_vice_versa() {
    let (provider, exporter) = provider();
    let subscriber = tracing_subscriber::registry()
        .with(checkout_otel::tracing_opentelemetry::layer().with_tracer(provider.tracer("bridge")));
    let tracer = CheckoutTracer::from_providers(&provider, &SdkMeterProvider::default());
    tracing::subscriber::with_default(subscriber, || {
        // What axum + tower-http's TraceLayer creates for a request.
        let request = tracing::info_span!("POST /checkout", otel.kind = "server");
        let _in_request = request.enter();
        let order = tracer.start(OrderCreate::new("order-1"));
        {
            let _in_order = order.enter();
            // A `tracing` span in the typed span's scope, e.g. from sqlx or reqwest.
            let db = tracing::info_span!("db.insert");
            let _in_db = db.enter();
        }
        order.end();
    });
    let spans = exporter.get_finished_spans().unwrap();
    let request = find(&spans, "POST /checkout");
    let order = find(&spans, attr::ORDER_CREATE);
    let db = find(&spans, "db.insert");
    assert_eq!(request.span_kind, SpanKind::Server);
    assert_eq!(order.parent_span_id, request.span_context.span_id());
    assert_eq!(db.parent_span_id, order.span_context.span_id());
    let trace = request.span_context.trace_id();
    assert!(spans.iter().all(|s| s.span_context.trace_id() == trace));
}

#[tokio::test]
async fn tracing_instrumented_future_parents_typed_spans_across_await() {
    use tracing::Instrument;
    let (provider, exporter) = provider();
    let subscriber = tracing_subscriber::registry()
        .with(checkout_otel::tracing_opentelemetry::layer().with_tracer(provider.tracer("bridge")));
    let _default = tracing::subscriber::set_default(subscriber);
    let tracer = CheckoutTracer::from_providers(&provider, &SdkMeterProvider::default());
    let handler = async {
        tokio::task::yield_now().await;
        let payment = tracer.start(PaymentProcess::new(
            "order-2",
            Money::from_minor(100, Currency::USD),
        ));
        payment
            .run(async {
                tokio::task::yield_now().await;
                async {}
                    .instrument(tracing::info_span!("gateway.http"))
                    .await;
            })
            .await;
    };
    handler.instrument(tracing::info_span!("handler")).await;
    let spans = exporter.get_finished_spans().unwrap();
    let handler = find(&spans, "handler");
    let payment = find(&spans, attr::PAYMENT_PROCESS);
    let http = find(&spans, "gateway.http");
    assert_eq!(payment.parent_span_id, handler.span_context.span_id());
    assert_eq!(http.parent_span_id, payment.span_context.span_id());
}

/// Propagation over a real loopback HTTP hop: the server extracts the
/// caller's context, and its span is a child of the client span.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_continues_across_a_real_http_hop() {
    checkout_otel::opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let (provider, exporter) = provider();
    let client_tracer = CheckoutTracer::from_providers(&provider, &SdkMeterProvider::default());
    let server_tracer = CheckoutTracer::from_providers(&provider, &SdkMeterProvider::default());

    let app = axum::Router::new().route(
        "/orders",
        axum::routing::post(move |headers: axum::http::HeaderMap| {
            let tracer = server_tracer.clone();
            async move {
                let parent = propagation::extract(&headers);
                let span = tracer.start_in(OrderCreate::new("order-9"), &parent);
                span.end();
                "created"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let client_span = client_tracer.start(PaymentProcess::new(
        "order-9",
        Money::from_minor(999, Currency::USD),
    ));
    let mut headers = http::HeaderMap::new();
    propagation::inject(client_span.context(), &mut headers);
    let body = reqwest::Client::new()
        .post(format!("http://{addr}/orders"))
        .headers(headers)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "created");
    client_span.end();
    server.abort();

    let spans = exporter.get_finished_spans().unwrap();
    let client = find(&spans, attr::PAYMENT_PROCESS);
    let server = find(&spans, attr::ORDER_CREATE);
    assert_eq!(
        server.span_context.trace_id(),
        client.span_context.trace_id()
    );
    assert_eq!(server.parent_span_id, client.span_context.span_id());
    assert!(server.parent_span_is_remote);
}

#[test]
fn extract_without_headers_starts_a_new_trace_and_bad_headers_never_panic() {
    checkout_otel::opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let (provider, exporter) = provider();
    let tracer = CheckoutTracer::from_providers(&provider, &SdkMeterProvider::default());
    let mut headers = http::HeaderMap::new();
    headers.insert("traceparent", "00-zzzz-not-valid-01".parse().unwrap());
    let parent = propagation::extract(&headers);
    tracer.start_in(OrderCreate::new("o"), &parent).end();
    let spans = exporter.get_finished_spans().unwrap();
    assert_eq!(spans.len(), 1);
    assert!(
        spans[0].span_context.trace_id() != checkout_otel::opentelemetry::trace::TraceId::INVALID
    );
    assert_eq!(
        spans[0].parent_span_id,
        checkout_otel::opentelemetry::trace::SpanId::INVALID
    );
}
