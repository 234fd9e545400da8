//! Spans and metrics reach a real OTLP receiver over the wire, gRPC and
//! HTTP/protobuf, with the configured resource and headers.

mod common;

use std::time::Duration;

use checkout_otel::attributes::{
    CART_VALIDATE, CHECKOUT_PROCESS, CHECKOUT_STATUS, DEPLOYMENT_ENVIRONMENT_NAME,
    METRIC_CHECKOUT_COMPLETED, SERVICE_INSTANCE_ID, SERVICE_NAME, SERVICE_VERSION,
};
use checkout_otel::init::{Protocol, Telemetry, TelemetryGuard};
use common::receiver::{Received, Receiver};
use opentelemetry::KeyValue;
use opentelemetry::trace::Tracer;

const WAIT: Duration = Duration::from_secs(10);

fn emit(guard: &TelemetryGuard) {
    let tracer = guard.sdk_tracer();
    tracer.in_span(CHECKOUT_PROCESS, |_cx| {
        tracer.in_span(CART_VALIDATE, |_cx| {});
    });
    guard
        .meter()
        .u64_counter(METRIC_CHECKOUT_COMPLETED)
        .build()
        .add(1, &[KeyValue::new(CHECKOUT_STATUS, "success")]);
}

fn both_arrived(r: &Received) -> bool {
    r.spans().len() >= 2
        && r.metric_names()
            .iter()
            .any(|n| n == METRIC_CHECKOUT_COMPLETED)
}

/// Asserts the two spans, their nesting, scope and resource, and the metric.
fn assert_received(r: &Received, service: &str) {
    let root = r.span(CHECKOUT_PROCESS).expect("root span received");
    let child = r.span(CART_VALIDATE).expect("child span received");
    assert_eq!(child.trace_id(), root.trace_id());
    assert_eq!(child.parent_id(), root.span_id());
    assert_eq!(root.parent_id(), "");
    assert_eq!(root.scope, "checkout-otel");

    for resource in [root.resource.clone()]
        .into_iter()
        .chain(r.metric_resources())
    {
        assert_eq!(resource[SERVICE_NAME], service);
        assert_eq!(resource[SERVICE_VERSION], "2.3.4");
        assert_eq!(resource[DEPLOYMENT_ENVIRONMENT_NAME], "staging");
        // From OTEL_RESOURCE_ATTRIBUTES, percent-decoded.
        assert_eq!(resource["team"], "payments");
        assert_eq!(resource["region"], "eu-west 1");
        let id = &resource[SERVICE_INSTANCE_ID];
        assert_eq!(id.len(), 36, "uuid-shaped instance id, got {id}");
    }
    assert!(
        r.metric_names()
            .contains(&METRIC_CHECKOUT_COMPLETED.to_owned())
    );
}

fn builder(service: &str, endpoint: &str) -> checkout_otel::TelemetryBuilder {
    Telemetry::builder(service)
        .service_version("2.3.4")
        .environment("staging")
        .endpoint(endpoint)
        .timeout(Duration::from_secs(5))
        .with_env([(
            "OTEL_RESOURCE_ATTRIBUTES",
            "team=payments,region=eu-west%201",
        )])
}

#[test]
fn grpc_receives_spans_and_metrics_from_plain_main() {
    let receiver = Receiver::grpc();
    let guard = builder("checkout-grpc", &receiver.endpoint())
        .build()
        .expect("build");
    assert_eq!(guard.config().traces().unwrap().protocol(), Protocol::Grpc);
    emit(&guard);
    guard.force_flush().expect("flush to a healthy receiver");
    let r = receiver.wait_for(WAIT, both_arrived);
    assert_received(&r, "checkout-grpc");
    guard.shutdown().expect("clean shutdown");
}

#[tokio::test(flavor = "current_thread")]
async fn grpc_receives_spans_and_metrics_inside_current_thread_runtime() {
    let receiver = Receiver::grpc();
    let guard = builder("checkout-grpc-rt", &receiver.endpoint())
        .build()
        .expect("build");
    emit(&guard);
    // Blocking here would deadlock a current-thread runtime if export used it.
    guard.force_flush().expect("flush");
    let r = receiver.wait_for(WAIT, both_arrived);
    assert_received(&r, "checkout-grpc-rt");
    guard.shutdown().expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_protobuf_receives_spans_and_metrics_on_spec_paths() {
    let receiver = Receiver::http();
    let guard = builder("checkout-http", &receiver.endpoint())
        .protocol(Protocol::HttpProtobuf)
        .build()
        .expect("build");
    emit(&guard);
    guard.force_flush().expect("flush");
    let r = receiver.wait_for(WAIT, both_arrived);
    assert_received(&r, "checkout-http");
    assert!(r.paths.contains(&"/v1/traces".to_owned()), "{:?}", r.paths);
    assert!(r.paths.contains(&"/v1/metrics".to_owned()), "{:?}", r.paths);
    guard.shutdown().expect("clean shutdown");
}

#[test]
fn env_endpoint_and_protocol_are_honoured_and_signal_endpoint_is_used_as_is() {
    let receiver = Receiver::http();
    let base = receiver.endpoint();
    let guard = Telemetry::builder("checkout-env")
        .with_env([
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf".to_owned()),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", base.clone()),
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                format!("{base}/custom/spans"),
            ),
        ])
        .build()
        .expect("build");
    emit(&guard);
    guard.force_flush().expect("flush");
    let r = receiver.wait_for(WAIT, |r| r.spans().len() >= 2 && !r.metrics.is_empty());
    assert!(
        r.paths.contains(&"/custom/spans".to_owned()),
        "{:?}",
        r.paths
    );
    assert!(r.paths.contains(&"/v1/metrics".to_owned()), "{:?}", r.paths);
    assert_eq!(
        r.span(CHECKOUT_PROCESS).expect("span").resource[SERVICE_NAME],
        "checkout-env"
    );
}

fn header<'a>(r: &'a Received, name: &str) -> Vec<&'a str> {
    r.headers
        .iter()
        .filter_map(|h| h.get(name))
        .filter_map(|v| v.to_str().ok())
        .collect()
}

fn assert_headers_arrive(receiver: &Receiver, protocol: Protocol) {
    let guard = Telemetry::builder("checkout-headers")
        .endpoint(receiver.endpoint())
        .protocol(protocol)
        .header("x-api-key", "from-builder")
        .with_env([(
            "OTEL_EXPORTER_OTLP_HEADERS",
            "x-api-key=from-env,x-tenant=acme%20shop",
        )])
        .build()
        .expect("build");
    emit(&guard);
    guard.force_flush().expect("flush");
    let r = receiver.wait_for(WAIT, both_arrived);
    assert!(!r.traces.is_empty() && !r.metrics.is_empty());
    // Every request carries the builder's value (it wins) and the env-only header.
    assert_eq!(header(&r, "x-api-key").len(), r.headers.len());
    assert!(header(&r, "x-api-key").iter().all(|v| *v == "from-builder"));
    assert!(header(&r, "x-tenant").iter().all(|v| *v == "acme shop"));
    assert_eq!(header(&r, "x-tenant").len(), r.headers.len());
}

#[test]
fn headers_arrive_over_grpc_with_builder_winning() {
    assert_headers_arrive(&Receiver::grpc(), Protocol::Grpc);
}

#[test]
fn headers_arrive_over_http_with_builder_winning() {
    assert_headers_arrive(&Receiver::http(), Protocol::HttpProtobuf);
}

/// Exports with `compression` and checks that every request (traces,
/// metrics and logs) carried `encoding_header: gzip` and decoded to the
/// right data.
#[cfg(feature = "gzip")]
fn assert_gzip_arrives(receiver: &Receiver, protocol: Protocol, encoding_header: &str) {
    use tracing_subscriber::layer::SubscriberExt as _;
    let guard = builder("checkout-gzip", &receiver.endpoint())
        .protocol(protocol)
        .compression(checkout_otel::init::Compression::Gzip)
        .tracing_bridge(false)
        .build()
        .expect("build");
    emit(&guard);
    let logs = tracing_subscriber::registry().with(guard.logs_layer());
    tracing::subscriber::with_default(logs, || tracing::info!("order placed"));
    guard.force_flush().expect("flush");
    let r = receiver.wait_for(WAIT, |r| both_arrived(r) && !r.logs.is_empty());
    assert_received(&r, "checkout-gzip");
    assert!(!r.logs.is_empty(), "the log record arrived");
    let encodings = header(&r, encoding_header);
    assert_eq!(encodings.len(), r.headers.len(), "{:?}", r.headers);
    assert!(encodings.iter().all(|v| *v == "gzip"), "{encodings:?}");
    guard.shutdown().expect("clean shutdown");
}

#[cfg(feature = "gzip")]
#[test]
fn gzip_requests_arrive_over_grpc() {
    assert_gzip_arrives(&Receiver::grpc(), Protocol::Grpc, "grpc-encoding");
}

#[cfg(feature = "gzip")]
#[test]
fn gzip_requests_arrive_over_http() {
    assert_gzip_arrives(
        &Receiver::http(),
        Protocol::HttpProtobuf,
        "content-encoding",
    );
}

#[test]
fn without_compression_requests_are_not_encoded() {
    let receiver = Receiver::http();
    let guard = builder("checkout-plain", &receiver.endpoint())
        .protocol(Protocol::HttpProtobuf)
        .build()
        .expect("build");
    emit(&guard);
    guard.force_flush().expect("flush");
    let r = receiver.wait_for(WAIT, both_arrived);
    assert_received(&r, "checkout-plain");
    assert!(header(&r, "content-encoding").is_empty());
}

#[test]
fn traces_exporter_none_exports_no_span_while_metrics_arrive() {
    let receiver = Receiver::grpc();
    let guard = builder("checkout-no-traces", &receiver.endpoint())
        .with_env([("OTEL_TRACES_EXPORTER", "none")])
        .build()
        .expect("build");
    assert!(guard.config().traces().is_none());
    emit(&guard);
    guard.force_flush().expect("flush");
    let r = receiver.wait_for(WAIT, |r| !r.metrics.is_empty());
    assert!(
        r.metric_names()
            .contains(&METRIC_CHECKOUT_COMPLETED.to_owned())
    );
    guard.shutdown().expect("clean shutdown");
    // Shutdown flushed whatever span export there was: none.
    assert!(receiver.received().traces.is_empty());
}

#[test]
fn metrics_exporter_none_exports_no_metric_while_spans_arrive() {
    let receiver = Receiver::http();
    let guard = builder("checkout-no-metrics", &receiver.endpoint())
        .protocol(Protocol::HttpProtobuf)
        .with_env([("OTEL_METRICS_EXPORTER", "none")])
        .build()
        .expect("build");
    emit(&guard);
    guard.force_flush().expect("flush");
    let r = receiver.wait_for(WAIT, |r| r.spans().len() >= 2);
    assert!(r.span(CHECKOUT_PROCESS).is_some());
    guard.shutdown().expect("clean shutdown");
    let r = receiver.received();
    assert!(r.metrics.is_empty());
    assert!(
        !r.paths.iter().any(|p| p.contains("metrics")),
        "{:?}",
        r.paths
    );
}

#[test]
fn console_exporters_send_nothing_over_the_network() {
    let receiver = Receiver::grpc();
    let guard = builder("checkout-console", &receiver.endpoint())
        .traces_exporter(checkout_otel::init::Exporter::Console)
        .metrics_exporter(checkout_otel::init::Exporter::Console)
        .build()
        .expect("build");
    emit(&guard);
    guard.force_flush().expect("flush");
    guard.shutdown().expect("clean shutdown");
    let r = receiver.received();
    assert!(r.traces.is_empty() && r.metrics.is_empty());
}

#[test]
fn two_services_in_one_process_keep_their_own_service_name() {
    let receiver = Receiver::grpc();
    let a = builder("cart-service", &receiver.endpoint())
        .build()
        .unwrap();
    let b = builder("payment-service", &receiver.endpoint())
        .build()
        .unwrap();
    a.sdk_tracer().in_span(CART_VALIDATE, |_| {});
    b.sdk_tracer().in_span(CHECKOUT_PROCESS, |_| {});
    a.force_flush().unwrap();
    b.force_flush().unwrap();
    let r = receiver.wait_for(WAIT, |r| r.spans().len() >= 2);
    assert_eq!(
        r.span(CART_VALIDATE).unwrap().resource[SERVICE_NAME],
        "cart-service"
    );
    assert_eq!(
        r.span(CHECKOUT_PROCESS).unwrap().resource[SERVICE_NAME],
        "payment-service"
    );
}

/// What `init` sets up by default: the crate's tracer records the checkout
/// meter, and PII is scrubbed before spans leave the process.
#[test]
fn default_setup_redacts_pii_and_records_the_checkout_meter() {
    use checkout_otel::attributes::{CheckoutStep, ErrorType};
    use checkout_otel::spans::{CheckoutProcess, Failure};

    let receiver = Receiver::grpc();
    let guard = builder("redacting", &receiver.endpoint())
        .metric_export_interval(Duration::from_millis(200))
        .build()
        .unwrap();
    let tracer = guard.tracer();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let checkout = tracer.start(CheckoutProcess::new("cart-1"));
        // A user-supplied attribute carrying PII, which redaction must catch.
        checkout.set_attribute(KeyValue::new(
            "customer.note",
            "call me at +44 20 7946 0958 or jane.doe@example.com, card 4111 1111 1111 1111",
        ));
        let result = checkout
            .step(CheckoutStep::ProcessingPayment, async {
                Err::<(), _>(Failure::rejection(
                    ErrorType::CARD_DECLINED,
                    "declined for jane.doe@example.com",
                ))
            })
            .await;
        checkout.finish(&result);
    });
    guard.force_flush().unwrap();
    let r = receiver.wait_for(WAIT, |r| {
        !r.spans().is_empty()
            && r.metric_names()
                .contains(&METRIC_CHECKOUT_COMPLETED.to_owned())
    });
    let root = r.span(CHECKOUT_PROCESS).expect("checkout span received");
    let note = root
        .attr("customer.note")
        .expect("note attribute kept, masked");
    assert!(!note.contains("jane.doe@example.com"), "{note}");
    assert!(!note.contains("4111"), "{note}");
    assert!(!note.contains("7946"), "{note}");
    assert_eq!(
        root.attr("checkout.failure_step").as_deref(),
        Some("processing_payment")
    );
    let counters = guard.redaction_counters().expect("redaction on by default");
    assert!(counters.masked_values() >= 1);
    assert_eq!(counters.cards(), 1);
    assert!(
        r.metric_names()
            .contains(&checkout_otel::attributes::METRIC_CHECKOUT_STEP_DURATION.to_owned())
    );
}
