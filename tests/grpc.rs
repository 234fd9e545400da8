//! The tonic layers over a real loopback gRPC connection: a hand-written
//! echo service (tests/common/grpc_echo.rs) served under
//! `OtelGrpcServerLayer`, called through `OtelGrpcClientLayer`, everything
//! asserted from the exported spans of the test kit (the production
//! pipeline, exit check included, built with `build()`: no global is set).

#[path = "common/grpc_echo.rs"]
mod grpc_echo;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use checkout_otel::SCOPE_NAME;
use checkout_otel::attributes as attr;
use checkout_otel::grpc::{OtelGrpcClientLayer, OtelGrpcServerLayer};
use checkout_otel::opentelemetry::baggage::BaggageExt;
use checkout_otel::opentelemetry::trace::{SpanId, SpanKind, Status, TraceId};
use checkout_otel::opentelemetry::{Context, KeyValue};
use checkout_otel::propagation::AllowedHosts;
use checkout_otel::spans::CartValidate;
use checkout_otel::testing::{SpanView, TestTelemetry};
use grpc_echo::{ECHO_METHOD, EchoClient, EchoRequest, EchoServer, serve};
use tonic::transport::{Channel, Endpoint};
use tower::{ServiceBuilder, ServiceExt as _};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt as _;

const CALLER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

/// The span's attributes as text, keyed by name: compared whole, so an
/// attribute too many fails as surely as one missing.
fn attributes(span: &SpanView<'_>) -> BTreeMap<String, String> {
    span.attributes()
        .iter()
        .map(|kv| (kv.key.to_string(), kv.value.to_string()))
        .collect()
}

fn expected(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn endpoint(addr: SocketAddr) -> Endpoint {
    Endpoint::from_shared(format!("http://{addr}")).unwrap()
}

/// An echo client over a channel to `addr` under `OtelGrpcClientLayer`.
async fn traced_client(
    telemetry: &TestTelemetry,
    addr: SocketAddr,
) -> EchoClient<checkout_otel::grpc::OtelGrpcClientService<Channel>> {
    let endpoint = endpoint(addr);
    let channel = endpoint.connect().await.unwrap();
    let service = ServiceBuilder::new()
        .layer(OtelGrpcClientLayer::new(&telemetry.tracer()).target(endpoint.uri()))
        .service(channel);
    EchoClient::new(service)
}

async fn server(telemetry: &TestTelemetry) -> SocketAddr {
    serve(
        OtelGrpcServerLayer::new(&telemetry.tracer()),
        EchoServer {
            tracer: telemetry.tracer(),
        },
    )
    .await
}

#[tokio::test]
async fn a_call_through_both_layers_is_one_trace_with_the_rpc_attributes() {
    let telemetry = TestTelemetry::new("echo");
    let addr = server(&telemetry).await;
    let mut client = traced_client(&telemetry, addr).await;

    let root = telemetry.tracer().start(CartValidate::new("cart-1"));
    let mut request = tonic::Request::new(EchoRequest {
        message: "hello".into(),
        code: 0,
    });
    // A metadata value with a card number: never recorded.
    request
        .metadata_mut()
        .insert("x-card", "4111111111111111".parse().unwrap());
    let reply = root.run(client.echo(request)).await.unwrap();
    assert_eq!(reply.into_inner().message, "hello");
    root.end();

    let spans = telemetry.spans();
    let root = spans.one(attr::CART_VALIDATE);
    let calls = spans.by_name(ECHO_METHOD);
    assert_eq!(calls.len(), 2, "{:?}", spans.names());
    let client = calls.iter().find(|s| s.kind() == SpanKind::Client).unwrap();
    let server = calls.iter().find(|s| s.kind() == SpanKind::Server).unwrap();

    assert_eq!(client.parent_span_id(), root.span_id());
    assert_eq!(server.parent_span_id(), client.span_id());
    assert_eq!(server.trace_id(), root.trace_id());
    let handler = spans.one(attr::ORDER_CREATE);
    assert_eq!(
        handler.parent_span_id(),
        server.span_id(),
        "the handler runs in the server span"
    );

    let port = addr.port().to_string();
    let rpc = [
        (attr::RPC_SYSTEM_NAME, "grpc"),
        (attr::RPC_METHOD, ECHO_METHOD),
        (attr::SERVER_ADDRESS, "127.0.0.1"),
        (attr::SERVER_PORT, port.as_str()),
        (attr::RPC_RESPONSE_STATUS_CODE, "OK"),
    ];
    assert_eq!(attributes(client), expected(&rpc));
    assert_eq!(attributes(server), expected(&rpc));
    assert_eq!(client.status(), &Status::Unset);
    assert_eq!(server.status(), &Status::Unset);

    for span in spans.iter() {
        let text = format!("{:?}", span.data());
        assert!(!text.contains("4111"), "{text}");
    }
    // One scope, the crate's, for the layers' spans as for the typed ones.
    for span in [client, server] {
        assert_eq!(span.data().instrumentation_scope.name(), SCOPE_NAME);
    }
    // Built with `build()`: the layers worked without any global. The
    // global propagator is still the no-op one, so it writes nothing.
    let mut headers = http::HeaderMap::new();
    let local = telemetry.tracer().start(CartValidate::new("cart-2"));
    checkout_otel::propagation::inject(local.context(), &mut headers);
    assert!(
        headers.is_empty(),
        "a global propagator was installed: {headers:?}"
    );
}

#[tokio::test]
async fn not_found_fails_the_client_span_only_and_internal_both() {
    let telemetry = TestTelemetry::new("echo");
    let addr = server(&telemetry).await;
    let mut client = traced_client(&telemetry, addr).await;

    for (code, name, server_fails, kind) in [
        (tonic::Code::NotFound, "NOT_FOUND", false, "rejection"),
        (tonic::Code::Internal, "INTERNAL", true, "fault"),
    ] {
        telemetry.clear_spans();
        let status = client
            .echo(EchoRequest {
                message: String::new(),
                code: code as i32,
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), code);

        let spans = telemetry.spans();
        let calls = spans.by_name(ECHO_METHOD);
        let client_span = calls.iter().find(|s| s.kind() == SpanKind::Client).unwrap();
        let server_span = calls.iter().find(|s| s.kind() == SpanKind::Server).unwrap();
        for span in [client_span, server_span] {
            assert_eq!(span.attr_str(attr::RPC_RESPONSE_STATUS_CODE), Some(name));
        }

        assert_eq!(client_span.status(), &Status::error(""), "{name}");
        assert_eq!(client_span.error_type(), Some(name));
        assert_eq!(client_span.attr_str(attr::FAILURE_KIND), Some(kind));

        if server_fails {
            assert_eq!(server_span.status(), &Status::error(""));
            assert_eq!(server_span.error_type(), Some(name));
            assert_eq!(server_span.attr_str(attr::FAILURE_KIND), Some("fault"));
        } else {
            assert_eq!(server_span.status(), &Status::Unset, "{name} is an answer");
            assert_eq!(server_span.error_type(), None);
            assert_eq!(server_span.attr_str(attr::FAILURE_KIND), None);
        }
        // The status message held a card number: no description, no event.
        for span in spans.iter() {
            let text = format!("{:?}", span.data());
            assert!(!text.contains("4111"), "{text}");
        }
    }
}

#[tokio::test]
async fn a_path_that_is_not_a_method_is_other_and_named_grpc() {
    let telemetry = TestTelemetry::new("echo");
    let addr = server(&telemetry).await;
    let mut client = traced_client(&telemetry, addr).await;
    let status = client
        .call("/not-a-method", EchoRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unimplemented);

    let spans = telemetry.spans();
    let calls = spans.by_name("grpc");
    assert_eq!(calls.len(), 2, "{:?}", spans.names());
    let port = addr.port().to_string();
    for span in &calls {
        assert_eq!(
            attributes(span),
            expected(&[
                (attr::RPC_SYSTEM_NAME, "grpc"),
                (attr::RPC_METHOD, "_OTHER"),
                (attr::RPC_METHOD_ORIGINAL, "/not-a-method"),
                (attr::SERVER_ADDRESS, "127.0.0.1"),
                (attr::SERVER_PORT, port.as_str()),
                (attr::RPC_RESPONSE_STATUS_CODE, "UNIMPLEMENTED"),
                (attr::ERROR_TYPE, "UNIMPLEMENTED"),
                (attr::FAILURE_KIND, "fault"),
            ]),
            "{:?}",
            span.kind()
        );
    }
}

#[tokio::test]
async fn a_server_told_its_methods_records_any_other_path_as_other() {
    let telemetry = TestTelemetry::new("echo");
    let layer = OtelGrpcServerLayer::new(&telemetry.tracer()).known_methods([ECHO_METHOD]);
    let echo = EchoServer {
        tracer: telemetry.tracer(),
    };
    let addr = serve(layer, echo).await;
    let mut client = traced_client(&telemetry, addr).await;
    // A well-formed path the server does not implement: a probe.
    let status = client
        .call("/test.Echo/Probe", EchoRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unimplemented);
    client.echo(EchoRequest::default()).await.unwrap();

    let spans = telemetry.spans();
    let servers: Vec<_> = spans
        .iter()
        .filter(|s| s.kind() == SpanKind::Server)
        .collect();
    assert_eq!(servers.len(), 2, "{:?}", spans.names());
    let probe = servers
        .iter()
        .find(|s| s.name() == "grpc")
        .expect("the probe's span");
    assert_eq!(probe.attr_str(attr::RPC_METHOD), Some("_OTHER"));
    assert_eq!(
        probe.attr_str(attr::RPC_METHOD_ORIGINAL),
        Some("/test.Echo/Probe")
    );
    let known = servers
        .iter()
        .find(|s| s.name() == ECHO_METHOD)
        .expect("the listed method keeps its name");
    assert_eq!(known.attr_str(attr::RPC_METHOD), Some(ECHO_METHOD));
    assert!(!known.has_attr(attr::RPC_METHOD_ORIGINAL));
    // The client does not know the server's list: it names what it called.
    assert_eq!(spans.by_name("test.Echo/Probe").len(), 1);
}

#[tokio::test]
async fn the_server_span_continues_the_traceparent_of_a_plain_client() {
    let telemetry = TestTelemetry::new("echo");
    let addr = server(&telemetry).await;
    let channel = endpoint(addr).connect().await.unwrap();
    let mut plain = EchoClient::new(channel);

    let mut request = tonic::Request::new(EchoRequest {
        message: "hi".into(),
        code: 0,
    });
    let metadata = request.metadata_mut();
    let traceparent = format!("00-{CALLER_TRACE}-{CALLER_SPAN}-01");
    metadata.insert("traceparent", traceparent.parse().unwrap());
    metadata.insert("baggage", "tenant=eu".parse().unwrap());
    plain.echo(request).await.unwrap();

    let spans = telemetry.spans();
    let server = spans.one(ECHO_METHOD);
    assert_eq!(server.kind(), SpanKind::Server);
    assert_eq!(server.trace_id(), TraceId::from_hex(CALLER_TRACE).unwrap());
    assert_eq!(
        server.parent_span_id(),
        SpanId::from_hex(CALLER_SPAN).unwrap()
    );
    assert_eq!(
        spans.one(attr::ORDER_CREATE).parent_span_id(),
        server.span_id()
    );
}

#[tokio::test]
async fn a_warn_filter_on_the_registry_does_not_drop_the_spans() {
    let telemetry = TestTelemetry::new("echo");
    let subscriber = tracing_subscriber::registry()
        .with(EnvFilter::new("warn"))
        .with(telemetry.guard().tracing_layer());
    // The test runtime is current-thread: the server runs under it too.
    let _subscriber = tracing::subscriber::set_default(subscriber);
    let addr = server(&telemetry).await;
    let mut client = traced_client(&telemetry, addr).await;
    client.echo(EchoRequest::default()).await.unwrap();

    let spans = telemetry.spans();
    let kinds: Vec<SpanKind> = spans
        .by_name(ECHO_METHOD)
        .iter()
        .map(|s| s.kind())
        .collect();
    assert_eq!(kinds.len(), 2);
    assert!(kinds.contains(&SpanKind::Client) && kinds.contains(&SpanKind::Server));
}

/// The headers a client layer sends, captured by an inner service that
/// answers `OK` in a trailers-only response.
async fn sent_headers(layer: OtelGrpcClientLayer, cx: &Context) -> http::HeaderMap {
    let seen = Arc::new(Mutex::new(http::HeaderMap::new()));
    let capture = seen.clone();
    let inner = tower::service_fn(move |request: http::Request<tonic::body::Body>| {
        *capture.lock().unwrap() = request.headers().clone();
        async {
            let mut response = http::Response::new(tonic::body::Body::empty());
            response
                .headers_mut()
                .insert("grpc-status", http::HeaderValue::from_static("0"));
            Ok::<_, std::convert::Infallible>(response)
        }
    });
    let mut request = http::Request::new(tonic::body::Body::empty());
    *request.uri_mut() = "/test.Echo/Echo".parse().unwrap();
    // Copied from an inbound request by the service: must not leak either.
    request
        .headers_mut()
        .insert("baggage", http::HeaderValue::from_static("inbound=copied"));
    let _attached = cx.clone().attach();
    ServiceBuilder::new()
        .layer(layer)
        .service(inner)
        .oneshot(request)
        .await
        .unwrap();
    seen.lock().unwrap().clone()
}

#[tokio::test]
async fn baggage_goes_only_to_allowed_targets() {
    let telemetry = TestTelemetry::new("echo");
    let tracer = telemetry
        .tracer()
        .with_allowed_hosts(AllowedHosts::new(["inventory"]).unwrap());
    let cx = Context::current().with_baggage([KeyValue::new("tenant", "eu")]);

    let inventory: http::Uri = "http://inventory:50051".parse().unwrap();
    let headers = sent_headers(OtelGrpcClientLayer::new(&tracer).target(&inventory), &cx).await;
    assert!(headers.contains_key("traceparent"));
    assert_eq!(headers["baggage"], "tenant=eu");

    let partner: http::Uri = "https://payments.example".parse().unwrap();
    let headers = sent_headers(OtelGrpcClientLayer::new(&tracer).target(&partner), &cx).await;
    assert!(headers.contains_key("traceparent"));
    assert!(!headers.contains_key("baggage"), "{headers:?}");

    let headers = sent_headers(OtelGrpcClientLayer::new(&tracer), &cx).await;
    assert!(headers.contains_key("traceparent"));
    assert!(
        !headers.contains_key("baggage"),
        "no target: traceparent only"
    );

    let spans = telemetry.spans();
    let calls = spans.by_name(ECHO_METHOD);
    assert_eq!(calls.len(), 3);
    let partner_call = calls
        .iter()
        .find(|s| s.attr_str(attr::SERVER_ADDRESS) == Some("payments.example"))
        .unwrap();
    assert_eq!(partner_call.attr_i64(attr::SERVER_PORT), Some(443));
    let bare = calls
        .iter()
        .find(|s| s.attr_str(attr::SERVER_ADDRESS).is_none())
        .unwrap();
    assert_eq!(bare.attr_str(attr::RPC_RESPONSE_STATUS_CODE), Some("OK"));
    assert_eq!(bare.attr_i64(attr::SERVER_PORT), None);
}
