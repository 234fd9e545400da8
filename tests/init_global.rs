//! `init` installs the globals: tracer and meter providers, propagator and
//! the bridged `tracing` subscriber. Its own binary: a process has only one
//! global subscriber.

use checkout_otel::attributes::CHECKOUT_PROCESS;
use checkout_otel::init::Exporter;
use checkout_otel::init::Telemetry;
use checkout_otel::pii::{UserRef, user_hasher};
use opentelemetry::trace::{Span, SpanId, Tracer, TracerProvider};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SimpleSpanProcessor};

#[test]
fn init_installs_provider_propagator_and_bridged_subscriber() {
    let exporter = InMemorySpanExporter::default();
    let guard = Telemetry::builder("checkout-global")
        .traces_exporter(Exporter::None)
        .metrics_exporter(Exporter::None)
        .with_span_processor(SimpleSpanProcessor::new(exporter.clone()))
        .with_env([
            ("RUST_LOG", "warn"),
            // The log output at warn, the exported spans from info.
            ("OTEL_LOG_LEVEL", "info"),
            ("OTEL_PROPAGATORS", "tracecontext"),
            ("CHECKOUT_OTEL_USER_HASH_KEY", &"ab".repeat(32)),
        ])
        .init()
        .expect("init");

    // The global tracer provider is ours.
    opentelemetry::global::tracer_provider()
        .tracer("global-user")
        .start("global.span")
        .end();
    // The global subscriber bridges `tracing` spans, and the crate's tracer nests in them.
    tracing::info_span!("http.request").in_scope(|| {
        guard.sdk_tracer().start(CHECKOUT_PROCESS).end();
    });
    let mut fields: Vec<String> = opentelemetry::global::get_text_map_propagator(|p| {
        opentelemetry::propagation::TextMapPropagator::fields(p)
            .map(str::to_owned)
            .collect()
    });
    fields.sort();
    assert_eq!(fields, vec!["traceparent", "tracestate"]);
    // The guard's own propagator is the same one.
    let propagator = guard.propagator();
    let mut own: Vec<String> = opentelemetry::propagation::TextMapPropagator::fields(&propagator)
        .map(str::to_owned)
        .collect();
    own.sort();
    assert_eq!(own, fields);
    // The configured user hasher is the process-wide one: both ways agree.
    assert_eq!(
        user_hasher().fingerprint(),
        guard.user_hasher().fingerprint()
    );
    assert!(!user_hasher().is_random());
    assert_eq!(guard.tracer().user("c-42"), UserRef::new("c-42"));

    let spans = exporter.get_finished_spans().unwrap();
    let get = |n: &str| spans.iter().find(|s| s.name == n).expect(n).clone();
    assert_eq!(get("global.span").parent_span_id, SpanId::INVALID);
    assert_eq!(
        get(CHECKOUT_PROCESS).parent_span_id,
        get("http.request").span_context.span_id()
    );
    assert_eq!(
        get("http.request").instrumentation_scope.name(),
        "checkout-otel"
    );
    guard.shutdown().expect("shutdown");
}
