//! The tracing bridge: `tracing` spans and spans from the crate's tracer
//! nest both ways in one trace; exporter-internal targets are filtered out;
//! span details are opt-in; an existing global subscriber is not fought.

use checkout_otel::ConfigError;
use checkout_otel::attributes::{CART_VALIDATE, CHECKOUT_PROCESS, INVENTORY_RESERVE_ITEM};
use checkout_otel::init::Exporter;
use checkout_otel::init::{Telemetry, TelemetryGuard};
use checkout_otel::pii::{UserHasher, UserRef, install_user_hasher, user_hasher};
use opentelemetry::Context;
use opentelemetry::trace::{Span, SpanId, TraceContextExt, Tracer};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SimpleSpanProcessor, SpanData};
use tracing_subscriber::layer::SubscriberExt;

fn setup(details: bool) -> (TelemetryGuard, InMemorySpanExporter) {
    let exporter = InMemorySpanExporter::default();
    let guard = Telemetry::builder("checkout-bridge")
        .traces_exporter(Exporter::None)
        .metrics_exporter(Exporter::None)
        .tracing_span_details(details)
        .with_span_processor(SimpleSpanProcessor::new(exporter.clone()))
        .with_env(Vec::<(String, String)>::new())
        .build()
        .expect("build");
    (guard, exporter)
}

/// Runs `f` with a subscriber made of the guard's layer only.
fn with_layer(guard: &TelemetryGuard, f: impl FnOnce()) {
    let subscriber = tracing_subscriber::registry().with(guard.tracing_layer());
    tracing::subscriber::with_default(subscriber, f);
}

fn find<'a>(spans: &'a [SpanData], name: &str) -> &'a SpanData {
    spans
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("span {name} not exported; got {:?}", names(spans)))
}

fn names(spans: &[SpanData]) -> Vec<String> {
    spans.iter().map(|s| s.name.to_string()).collect()
}

#[test]
fn sdk_span_inside_a_tracing_span_is_its_child() {
    let (guard, exporter) = setup(false);
    let tracer = guard.sdk_tracer();
    with_layer(&guard, || {
        let request = tracing::info_span!("http.request");
        let _entered = request.enter();
        tracer.start(CART_VALIDATE).end();
    });
    let spans = exporter.get_finished_spans().unwrap();
    let request = find(&spans, "http.request");
    let validate = find(&spans, CART_VALIDATE);
    assert_eq!(request.parent_span_id, SpanId::INVALID);
    assert_eq!(
        validate.span_context.trace_id(),
        request.span_context.trace_id()
    );
    assert_eq!(validate.parent_span_id, request.span_context.span_id());
}

#[test]
fn tracing_span_inside_an_sdk_span_is_its_child() {
    let (guard, exporter) = setup(false);
    let tracer = guard.sdk_tracer();
    with_layer(&guard, || {
        let cx = Context::current_with_span(tracer.start(CHECKOUT_PROCESS));
        {
            let _attached = cx.clone().attach();
            tracing::info_span!("db.query").in_scope(|| {});
        }
        cx.span().end();
    });
    let spans = exporter.get_finished_spans().unwrap();
    let checkout = find(&spans, CHECKOUT_PROCESS);
    let query = find(&spans, "db.query");
    assert_eq!(checkout.parent_span_id, SpanId::INVALID);
    assert_eq!(
        query.span_context.trace_id(),
        checkout.span_context.trace_id()
    );
    assert_eq!(query.parent_span_id, checkout.span_context.span_id());
}

#[test]
fn alternating_layers_form_one_chain() {
    let (guard, exporter) = setup(false);
    let tracer = guard.sdk_tracer();
    with_layer(&guard, || {
        tracing::info_span!("http.request").in_scope(|| {
            tracer.in_span(CHECKOUT_PROCESS, |_cx| {
                tracing::info_span!("inventory.client").in_scope(|| {
                    tracer.start(INVENTORY_RESERVE_ITEM).end();
                });
            });
        });
    });
    let spans = exporter.get_finished_spans().unwrap();
    let chain = [
        "http.request",
        CHECKOUT_PROCESS,
        "inventory.client",
        INVENTORY_RESERVE_ITEM,
    ]
    .map(|n| find(&spans, n));
    assert_eq!(chain[0].parent_span_id, SpanId::INVALID);
    for pair in chain.windows(2) {
        assert_eq!(
            pair[1].span_context.trace_id(),
            chain[0].span_context.trace_id()
        );
        assert_eq!(
            pair[1].parent_span_id,
            pair[0].span_context.span_id(),
            "{} should be the parent of {}",
            pair[0].name,
            pair[1].name
        );
    }
}

#[test]
fn exporter_internal_targets_never_reach_the_otel_layer() {
    let (guard, exporter) = setup(false);
    with_layer(&guard, || {
        tracing::info_span!(target: "h2::proto::connection", "h2.internal").in_scope(|| {});
        tracing::info_span!(target: "tonic::transport", "tonic.internal").in_scope(|| {});
        tracing::info_span!(target: "hyper_util::client", "hyper.internal").in_scope(|| {});
        tracing::info_span!(target: "opentelemetry_otlp", "otlp.internal").in_scope(|| {});
        tracing::info_span!(target: "checkout_service", "app.span").in_scope(|| {});
    });
    let spans = exporter.get_finished_spans().unwrap();
    assert_eq!(names(&spans), vec!["app.span"]);
}

fn attribute_keys(span: &SpanData) -> Vec<String> {
    span.attributes
        .iter()
        .map(|kv| kv.key.as_str().to_owned())
        .collect()
}

#[test]
fn location_thread_and_busy_time_are_off_unless_asked() {
    let detail_keys = [
        "code.file.path",
        "code.line.number",
        "thread.id",
        "busy_ns",
        "idle_ns",
    ];

    let (guard, exporter) = setup(false);
    with_layer(&guard, || tracing::info_span!("cart.fetch").in_scope(|| {}));
    let spans = exporter.get_finished_spans().unwrap();
    let keys = attribute_keys(find(&spans, "cart.fetch"));
    for k in detail_keys {
        assert!(!keys.contains(&k.to_owned()), "{k} present: {keys:?}");
    }

    let (guard, exporter) = setup(true);
    with_layer(&guard, || tracing::info_span!("cart.fetch").in_scope(|| {}));
    let spans = exporter.get_finished_spans().unwrap();
    let keys = attribute_keys(find(&spans, "cart.fetch"));
    for k in detail_keys {
        assert!(keys.contains(&k.to_owned()), "{k} missing: {keys:?}");
    }
}

/// The only test in this binary that touches process globals.
#[test]
fn existing_global_subscriber_is_not_fought() {
    tracing::subscriber::set_global_default(tracing_subscriber::registry())
        .expect("no other test sets a global subscriber");
    let fields = || {
        opentelemetry::global::get_text_map_propagator(|p| {
            opentelemetry::propagation::TextMapPropagator::fields(p).count()
        })
    };

    let before = UserHasher::from_text(&"a".repeat(32)).unwrap();
    let configured = UserHasher::from_text(&"b".repeat(32)).unwrap();
    install_user_hasher(before.clone());

    let err = Telemetry::builder("checkout-bridge")
        .traces_exporter(Exporter::None)
        .metrics_exporter(Exporter::None)
        .user_hash_key(format!("raw:{}", "b".repeat(32)))
        .with_env(Vec::<(String, String)>::new())
        .init()
        .unwrap_err();
    assert!(matches!(err, ConfigError::SubscriberAlreadySet), "{err:?}");
    assert!(err.to_string().contains("tracing_bridge(false)"));
    assert_eq!(fields(), 0, "a refused init installs no propagator");
    assert_eq!(
        user_hasher().fingerprint(),
        before.fingerprint(),
        "a refused init installs no user hasher"
    );

    // The documented way out: bridge off, compose the layer yourself.
    let exporter = InMemorySpanExporter::default();
    let guard = Telemetry::builder("checkout-bridge")
        .traces_exporter(Exporter::None)
        .metrics_exporter(Exporter::None)
        .tracing_bridge(false)
        .user_hash_key(format!("raw:{}", "b".repeat(32)))
        .with_span_processor(SimpleSpanProcessor::new(exporter.clone()))
        .with_env(Vec::<(String, String)>::new())
        .init()
        .expect("init without the bridge");
    assert_eq!(fields(), 3, "traceparent, tracestate, baggage installed");
    // The guard's hasher is now the process-wide one: both agree.
    assert_eq!(user_hasher().fingerprint(), configured.fingerprint());
    assert_eq!(guard.user_hasher().fingerprint(), configured.fingerprint());
    assert_eq!(guard.tracer().user("c-42"), UserRef::new("c-42"));
    with_layer(&guard, || {
        tracing::info_span!("own.subscriber").in_scope(|| {});
    });
    let spans = exporter.get_finished_spans().unwrap();
    assert_eq!(names(&spans), vec!["own.subscriber"]);
}
