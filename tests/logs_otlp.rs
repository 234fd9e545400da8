//! Log records reach a real OTLP receiver over the wire, gRPC and
//! HTTP/protobuf: severity, body, attributes, event name, the trace context
//! of their span, the resource, the exit check, and the accounting.

mod common;

use std::time::Duration;

use checkout_otel::init::{Protocol, Telemetry, TelemetryGuard};
use checkout_otel::pii::EMAIL_MASK;
use common::receiver::{Received, Receiver};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use tracing_subscriber::layer::SubscriberExt as _;

const WAIT: Duration = Duration::from_secs(10);

fn records(r: &Received) -> Vec<(String, LogRecord)> {
    r.logs
        .iter()
        .flat_map(|req| &req.resource_logs)
        .flat_map(|rl| {
            let service = rl
                .resource
                .iter()
                .flat_map(|res| &res.attributes)
                .find(|kv| kv.key == "service.name")
                .and_then(|kv| kv.value.as_ref())
                .and_then(|v| match &v.value {
                    Some(Value::StringValue(s)) => Some(s.clone()),
                    _ => None,
                })
                .unwrap_or_default();
            rl.scope_logs
                .iter()
                .flat_map(|sl| &sl.log_records)
                .map(move |lr| (service.clone(), lr.clone()))
        })
        .collect()
}

fn body(record: &LogRecord) -> String {
    match record.body.as_ref().and_then(|b| b.value.as_ref()) {
        Some(Value::StringValue(s)) => s.clone(),
        _ => String::new(),
    }
}

fn attr(record: &LogRecord, key: &str) -> Option<Value> {
    record
        .attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.clone())
}

fn emit(guard: &TelemetryGuard) -> String {
    let subscriber = tracing_subscriber::registry()
        .with(guard.tracing_layer())
        .with(guard.logs_layer());
    tracing::subscriber::with_default(subscriber, || {
        let span = tracing::info_span!("checkout.process");
        let _entered = span.enter();
        tracing::info!(name: "order.placed", items = 3_i64, "order placed");
        tracing::warn!(note = "mail jane@example.com", "stock short for sku-42");
        use opentelemetry::trace::TraceContextExt as _;
        use tracing_opentelemetry::OpenTelemetrySpanExt as _;
        span.context().span().span_context().trace_id().to_string()
    })
}

fn check(protocol: Protocol, receiver: &Receiver) {
    let guard = Telemetry::builder("checkout-api")
        .endpoint(receiver.endpoint())
        .protocol(protocol)
        .timeout(Duration::from_secs(5))
        .with_env(Vec::<(String, String)>::new())
        .build()
        .expect("build");
    let trace_id = emit(&guard);
    guard.force_flush().expect("flush");
    let received = receiver.wait_for(WAIT, |r| records(r).len() >= 2);
    let records = records(&received);
    assert_eq!(records.len(), 2, "{records:?}");

    let (service, placed) = &records[0];
    assert_eq!(service, "checkout-api");
    assert_eq!(body(placed), "order placed");
    assert_eq!(placed.severity_text, "INFO");
    assert_eq!(placed.severity_number, 9);
    assert_eq!(placed.event_name, "order.placed");
    assert_eq!(attr(placed, "items"), Some(Value::IntValue(3)));
    assert_eq!(hex(&placed.trace_id), trace_id);
    assert_eq!(placed.span_id.len(), 8);

    let (_, short) = &records[1];
    assert_eq!(short.severity_text, "WARN");
    assert_eq!(short.event_name, "", "no made-up event name");
    assert_eq!(
        attr(short, "note"),
        Some(Value::StringValue(format!("mail {EMAIL_MASK}")))
    );
    assert_eq!(hex(&short.trace_id), trace_id);

    let stats = guard.log_export_stats();
    assert_eq!((stats.queued, stats.exported, stats.dropped), (2, 2, 0));
    guard.shutdown().expect("shutdown");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(feature = "grpc")]
#[test]
fn grpc_receives_log_records_in_their_trace() {
    let receiver = Receiver::grpc();
    check(Protocol::Grpc, &receiver);
}

#[cfg(feature = "http-proto")]
#[test]
fn http_receives_log_records_in_their_trace() {
    let receiver = Receiver::http();
    check(Protocol::HttpProtobuf, &receiver);
    let paths = receiver.received().paths;
    assert!(paths.iter().any(|p| p == "/v1/logs"), "{paths:?}");
}
