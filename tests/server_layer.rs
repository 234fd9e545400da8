//! `OtelServerLayer` in an existing axum service that keeps its own
//! subscriber: an `EnvFilter` on the *registry* (the axum examples' set-up,
//! which filtered the old `tracing` request span out of every layer), the
//! bridge, and a fmt layer whose access log must keep tower-http's lines and
//! `request{..}` prefix. Under tower-http 0.6's and 0.7's `TraceLayer`.
//!
//! Each test runs a real axum server on loopback inside a current-thread
//! runtime, so the thread-local subscriber set with `set_default` sees the
//! handlers too.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::post;
use checkout_otel::Telemetry;
use checkout_otel::attributes as attr;
use checkout_otel::http_server::OtelServerLayer;
use checkout_otel::opentelemetry::baggage::BaggageExt;
use checkout_otel::opentelemetry::trace::{SpanId, SpanKind, Status, TraceId};
use checkout_otel::opentelemetry::{Context, Value};
use checkout_otel::spans::{CheckoutTracer, OrderCreate};
use checkout_otel::testing::{SpanView, TestTelemetry};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;

const CALLER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";
const USER_AGENT: &str = "checkout-client/1.0 (jane.doe@example.com)";

/// The filters a service keeps on its registry: one that lets nothing
/// below WARN through, one that lets its own and tower-http's DEBUG through.
const FILTERS: [&str; 2] = ["warn", "my_service=debug,tower_http=debug"];

#[derive(Clone, Copy, Debug, PartialEq)]
enum TowerHttp {
    V06,
    V07,
}

/// The fmt layer's output.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Buffer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// What the handler saw of the caller's baggage.
type SeenBaggage = Arc<Mutex<Vec<String>>>;

#[tracing::instrument(target = "my_service", level = "debug", skip_all)]
async fn charge(tracer: &CheckoutTracer, order: &str) {
    tokio::task::yield_now().await;
    tracer.start(OrderCreate::new(order)).end();
}

/// The service: `POST /pay/{id}`, 503 for `broken`, 404 for `missing`; a
/// typed span, an `#[instrument]` span (which starts another typed span).
fn app(tracer: &CheckoutTracer, seen: SeenBaggage, tower_http: Option<TowerHttp>) -> axum::Router {
    let handler_tracer = tracer.clone();
    let router = axum::Router::new().route(
        "/pay/{id}",
        post(move |Path(id): Path<String>| {
            let tracer = handler_tracer.clone();
            let seen = seen.clone();
            async move {
                if let Some(tenant) = Context::current().baggage().get("tenant") {
                    seen.lock().unwrap().push(tenant.to_string());
                }
                match id.as_str() {
                    "broken" => return StatusCode::SERVICE_UNAVAILABLE,
                    "missing" => return StatusCode::NOT_FOUND,
                    _ => {}
                }
                let payment = tracer.start(OrderCreate::new("typed-in-handler"));
                tokio::task::yield_now().await;
                payment.end();
                charge(&tracer, "instrumented").await;
                StatusCode::OK
            }
        }),
    );
    // The service's own TraceLayer, exactly as it was; the crate's layer last.
    let router = match tower_http {
        Some(TowerHttp::V06) => router.layer(tower_http::trace::TraceLayer::new_for_http()),
        Some(TowerHttp::V07) => router.layer(tower_http_07::trace::TraceLayer::new_for_http()),
        None => router,
    };
    router.layer(OtelServerLayer::new(tracer))
}

async fn serve(app: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// The peer address in `ConnectInfo`, where the layer reads `client.address`
/// when no proxy header names one.
async fn serve_with_connect_info(app: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    });
    addr
}

async fn pay(addr: SocketAddr, id: &str) -> StatusCode {
    reqwest::Client::new()
        .post(format!("http://{addr}/pay/{id}?card=4111111111111111"))
        .header("traceparent", format!("00-{CALLER_TRACE}-{CALLER_SPAN}-01"))
        .header("baggage", "tenant=eu-shop")
        .header("user-agent", USER_AGENT)
        .header("x-forwarded-for", "203.0.113.77, 10.0.0.1")
        .send()
        .await
        .unwrap()
        .status()
}

fn str_attr<'a>(span: &SpanView<'a>, key: &str) -> Option<&'a str> {
    span.attributes()
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .and_then(|kv| match &kv.value {
            Value::String(s) => Some(s.as_str()),
            _ => None,
        })
}

fn int_attr(span: &SpanView<'_>, key: &str) -> Option<i64> {
    span.attributes()
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .and_then(|kv| match kv.value {
            Value::I64(i) => Some(i),
            _ => None,
        })
}

/// Every attribute of the server span of `POST /pay/{id}` with path `path`.
fn assert_server_span(span: &SpanView<'_>, addr: SocketAddr, path: &str, status: i64) {
    assert_eq!(span.name(), "POST /pay/{id}");
    assert_eq!(span.kind(), SpanKind::Server);
    assert_eq!(span.trace_id(), TraceId::from_hex(CALLER_TRACE).unwrap());
    assert_eq!(
        span.parent_span_id(),
        SpanId::from_hex(CALLER_SPAN).unwrap()
    );
    assert!(span.data().parent_span_is_remote);
    let expected = [
        (attr::HTTP_REQUEST_METHOD, "POST"),
        (attr::URL_PATH, path),
        (attr::URL_SCHEME, "http"),
        (attr::HTTP_ROUTE, "/pay/{id}"),
        (attr::SERVER_ADDRESS, "127.0.0.1"),
        (attr::CLIENT_ADDRESS, "203.0.113.0"),
        (attr::NETWORK_PROTOCOL_VERSION, "1.1"),
        (
            attr::USER_AGENT_ORIGINAL,
            "checkout-client/1.0 ([REDACTED:email])",
        ),
    ];
    for (key, value) in expected {
        assert_eq!(str_attr(span, key), Some(value), "{key}");
    }
    assert_eq!(
        int_attr(span, attr::SERVER_PORT),
        Some(i64::from(addr.port()))
    );
    assert_eq!(
        int_attr(span, attr::HTTP_RESPONSE_STATUS_CODE),
        Some(status)
    );
    // Nothing else: no query, no `target`, no code location.
    let mut keys: Vec<&str> = span.attributes().iter().map(|kv| kv.key.as_str()).collect();
    keys.sort_unstable();
    let mut want: Vec<&str> = expected.iter().map(|(k, _)| *k).collect();
    want.extend([attr::SERVER_PORT, attr::HTTP_RESPONSE_STATUS_CODE]);
    if status >= 500 {
        want.extend([attr::ERROR_TYPE, attr::FAILURE_KIND]);
    }
    want.sort_unstable();
    assert_eq!(keys, want);
}

async fn run_case(filter: &str, tower_http: TowerHttp) {
    // The same directives reach the bridge, as `RUST_LOG` would: the bridge
    // exports only what they enable.
    let telemetry =
        TestTelemetry::from_builder(Telemetry::builder("payment-api").tracing_filter(filter))
            .expect("test telemetry");
    let log = Buffer::default();
    let writer = log.clone();
    // The trap: the filter on the registry, so it applies to every layer.
    let subscriber = tracing_subscriber::registry()
        .with(EnvFilter::new(filter))
        .with(telemetry.guard().tracing_layer())
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(move || writer.clone()),
        );
    let _subscriber = tracing::subscriber::set_default(subscriber);
    let seen = SeenBaggage::default();
    let addr = serve(app(&telemetry.tracer(), seen.clone(), Some(tower_http))).await;
    let case = format!("{filter:?} under {tower_http:?}");

    assert_eq!(pay(addr, "order-42").await, StatusCode::OK, "{case}");
    assert_eq!(pay(addr, "broken").await, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(pay(addr, "missing").await, StatusCode::NOT_FOUND);
    assert_eq!(*seen.lock().unwrap(), ["eu-shop"; 3], "{case}");

    let spans = telemetry.spans();
    let servers = spans.by_name("POST /pay/{id}");
    assert_eq!(servers.len(), 3, "{case}: {:?}", spans.names());
    let by_path = |path: &str| {
        servers
            .iter()
            .find(|s| str_attr(s, attr::URL_PATH) == Some(path))
            .copied()
            .unwrap_or_else(|| panic!("{case}: no server span for {path}"))
    };

    let ok = by_path("/pay/order-42");
    assert_server_span(&ok, addr, "/pay/order-42", 200);
    assert_eq!(ok.status(), &Status::Unset, "{case}");

    let broken = by_path("/pay/broken");
    assert_server_span(&broken, addr, "/pay/broken", 503);
    assert!(matches!(broken.status(), Status::Error { .. }), "{case}");
    assert_eq!(broken.error_type(), Some("503"));
    assert_eq!(str_attr(&broken, attr::FAILURE_KIND), Some("fault"));

    let missing = by_path("/pay/missing");
    assert_server_span(&missing, addr, "/pay/missing", 404);
    assert_eq!(
        missing.status(),
        &Status::Unset,
        "a 4xx is not a server error"
    );

    let typed = spans
        .by_name(attr::ORDER_CREATE)
        .into_iter()
        .find(|s| str_attr(s, attr::ORDER_ID) == Some("typed-in-handler"))
        .unwrap();
    let instrumented_typed = spans
        .by_name(attr::ORDER_CREATE)
        .into_iter()
        .find(|s| str_attr(s, attr::ORDER_ID) == Some("instrumented"))
        .unwrap();
    let log = log.text();
    if filter == "warn" {
        // No tracing span got through: the typed spans are the server span's
        // own children, and the access log is empty as the filter says.
        assert_eq!(typed.parent_span_id(), ok.span_id(), "{case}");
        assert_eq!(instrumented_typed.parent_span_id(), ok.span_id(), "{case}");
        assert!(spans.find("request").is_none(), "{case}");
        assert!(spans.find("charge").is_none(), "{case}");
        assert!(
            !log.contains("finished processing request"),
            "{case}: {log}"
        );
    } else {
        // tower-http's span is the server span's child; the handler's spans
        // nest under it, the `#[instrument]` span too.
        let request = ok
            .children()
            .into_iter()
            .find(|s| s.name() == "request")
            .unwrap_or_else(|| panic!("{case}: {}", spans.waterfall()));
        assert_eq!(typed.parent_span_id(), request.span_id(), "{case}");
        let charge = spans
            .by_name("charge")
            .into_iter()
            .find(|s| s.trace_id() == ok.trace_id() && s.is_descendant_of(&ok))
            .unwrap_or_else(|| panic!("{case}: {}", spans.waterfall()));
        assert_eq!(charge.parent_span_id(), request.span_id(), "{case}");
        assert_eq!(instrumented_typed.parent_span_id(), charge.span_id());
        assert!(typed.is_descendant_of(&ok));
        // The service's access log and its prefix, as before adoption.
        assert!(
            log.contains("request{method=POST uri=/pay/order-42"),
            "{case}: {log}"
        );
        assert!(log.contains("finished processing request"), "{case}: {log}");
        assert!(log.contains("status=503"), "{case}: {log}");
    }
}

#[tokio::test]
async fn registry_filter_warn_under_tower_http_06() {
    run_case(FILTERS[0], TowerHttp::V06).await;
}

#[tokio::test]
async fn registry_filter_debug_under_tower_http_06() {
    run_case(FILTERS[1], TowerHttp::V06).await;
}

#[tokio::test]
async fn registry_filter_warn_under_tower_http_07() {
    run_case(FILTERS[0], TowerHttp::V07).await;
}

#[tokio::test]
async fn registry_filter_debug_under_tower_http_07() {
    run_case(FILTERS[1], TowerHttp::V07).await;
}

/// A service with no `tracing` bridge at all (no subscriber): the layer and
/// the typed spans need none.
#[tokio::test]
async fn without_a_tracing_bridge_typed_spans_are_children_of_the_server_span() {
    let telemetry = TestTelemetry::new("payment-api");
    let seen = SeenBaggage::default();
    let addr = serve(app(&telemetry.tracer(), seen.clone(), None)).await;
    assert_eq!(pay(addr, "order-42").await, StatusCode::OK);
    assert_eq!(*seen.lock().unwrap(), ["eu-shop"]);

    let spans = telemetry.spans();
    let server = spans.one("POST /pay/{id}");
    assert_server_span(&server, addr, "/pay/order-42", 200);
    let children: Vec<&str> = server.children().iter().map(|s| s.name()).collect();
    assert_eq!(children, [attr::ORDER_CREATE, attr::ORDER_CREATE]);
    assert!(spans.find("charge").is_none());
}

/// Without `traceparent` the request starts a trace of its own; without a
/// proxy header `client.address` is the peer's, anonymised; the route is
/// read only when one matched (a 404 of the router has none).
#[tokio::test]
async fn without_traceparent_a_new_trace_and_unmatched_routes_are_named_by_method() {
    let telemetry = TestTelemetry::new("payment-api");
    let addr =
        serve_with_connect_info(app(&telemetry.tracer(), SeenBaggage::default(), None)).await;
    let client = reqwest::Client::new();
    let status = client
        .post(format!("http://{addr}/pay/order-1"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, StatusCode::OK);
    let status = client
        .get(format!("http://{addr}/nowhere"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, StatusCode::NOT_FOUND);

    let spans = telemetry.spans();
    let server = spans.one("POST /pay/{id}");
    assert_eq!(server.parent_span_id(), SpanId::INVALID);
    assert_ne!(server.trace_id(), TraceId::from_hex(CALLER_TRACE).unwrap());
    assert_eq!(str_attr(&server, attr::CLIENT_ADDRESS), Some("127.0.0.0"));
    let unmatched = spans.one("GET");
    assert_eq!(str_attr(&unmatched, attr::HTTP_ROUTE), None);
    assert_eq!(str_attr(&unmatched, attr::URL_PATH), Some("/nowhere"));
}
