//! The tracing bridge: `tracing` spans and spans from the crate's tracer
//! nest both ways in one trace; exporter-internal targets are filtered out;
//! span details are opt-in; an existing global subscriber is not fought.

use checkout_otel::ConfigError;
use checkout_otel::attributes::{CART_VALIDATE, CHECKOUT_PROCESS, INVENTORY_RESERVE_ITEM};
use checkout_otel::init::{
    EXPORT_LOG_TARGET, Exporter, INIT_LOG_TARGET, Telemetry, TelemetryBuilder, TelemetryGuard,
};
use checkout_otel::pii::{UserHasher, UserRef, install_user_hasher, user_hasher};
use opentelemetry::Context;
use opentelemetry::trace::{Span, SpanId, TraceContextExt, Tracer};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SimpleSpanProcessor, SpanData};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;

fn setup(details: bool) -> (TelemetryGuard, InMemorySpanExporter) {
    setup_with(|b| b.tracing_span_details(details), &[])
}

/// A guard configured by `configure`, reading only `env`.
fn setup_with(
    configure: impl FnOnce(TelemetryBuilder) -> TelemetryBuilder,
    env: &[(&str, &str)],
) -> (TelemetryGuard, InMemorySpanExporter) {
    let exporter = InMemorySpanExporter::default();
    let builder = Telemetry::builder("checkout-bridge")
        .traces_exporter(Exporter::None)
        .metrics_exporter(Exporter::None)
        .with_span_processor(SimpleSpanProcessor::new(exporter.clone()))
        .with_env(env.iter().copied());
    let guard = configure(builder).build().expect("build");
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

/// A request span with an event of each level, as tower-http and a handler log them.
fn request_with_events() {
    tracing::info_span!("http.request").in_scope(|| {
        tracing::debug!("started processing request");
        tracing::info!("payment accepted");
        tracing::warn!("slow gateway");
    });
}

fn event_names(spans: &[SpanData], span: &str) -> Vec<String> {
    find(spans, span)
        .events
        .iter()
        .map(|e| e.name.to_string())
        .collect()
}

#[test]
fn events_below_the_default_info_level_are_not_exported() {
    let (guard, exporter) = setup(false);
    assert_eq!(
        guard.config().tracing_filter(),
        "info,otel::tracing=trace",
        "the default, and axum-tracing-opentelemetry's request spans"
    );
    with_layer(&guard, request_with_events);
    let spans = exporter.get_finished_spans().unwrap();
    assert_eq!(
        event_names(&spans, "http.request"),
        ["payment accepted", "slow gateway"]
    );
}

#[test]
fn a_debug_filter_exports_debug_events() {
    let (guard, exporter) = setup_with(|b| b.tracing_filter("debug"), &[]);
    with_layer(&guard, request_with_events);
    let spans = exporter.get_finished_spans().unwrap();
    assert_eq!(
        event_names(&spans, "http.request"),
        [
            "started processing request",
            "payment accepted",
            "slow gateway"
        ]
    );
}

#[test]
fn the_level_comes_from_builder_then_otel_log_level_then_rust_log() {
    // RUST_LOG=warn: the info span itself is not exported.
    let (guard, exporter) = setup_with(|b| b, &[("RUST_LOG", "warn")]);
    with_layer(&guard, request_with_events);
    assert!(exporter.get_finished_spans().unwrap().is_empty());

    let (guard, exporter) = setup_with(|b| b, &[("RUST_LOG", "warn"), ("OTEL_LOG_LEVEL", "debug")]);
    with_layer(&guard, request_with_events);
    let spans = exporter.get_finished_spans().unwrap();
    assert_eq!(event_names(&spans, "http.request").len(), 3);

    let (guard, exporter) = setup_with(
        |b| b.tracing_filter("info,checkout_bridge=warn"),
        &[("OTEL_LOG_LEVEL", "debug")],
    );
    with_layer(&guard, request_with_events);
    let spans = exporter.get_finished_spans().unwrap();
    assert_eq!(
        event_names(&spans, "http.request"),
        ["payment accepted", "slow gateway"]
    );
}

#[test]
fn an_invalid_filter_is_refused_naming_its_source() {
    for (configure, env, source) in [
        (None, ("RUST_LOG", "checkout=verbose"), "RUST_LOG"),
        (None, ("OTEL_LOG_LEVEL", "loud"), "OTEL_LOG_LEVEL"),
        (Some("svc=chatty"), ("RUST_LOG", "info"), "tracing_filter"),
    ] {
        let mut builder = Telemetry::builder("checkout-bridge")
            .traces_exporter(Exporter::None)
            .metrics_exporter(Exporter::None)
            .with_env([env]);
        if let Some(directives) = configure {
            builder = builder.tracing_filter(directives);
        }
        let err = builder.build().unwrap_err();
        assert!(
            matches!(err, ConfigError::InvalidLogFilter { .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains(source), "{err}");
    }
}

#[test]
fn a_debug_callsite_below_both_filters_is_disabled() {
    let (guard, _exporter) = setup(false);
    // A service's log output at INFO next to the OpenTelemetry layer at INFO.
    let subscriber = tracing_subscriber::registry()
        .with(guard.tracing_layer())
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::sink)
                .with_filter(LevelFilter::INFO),
        );
    // Asked directly: `enabled!` would read the callsite's interest cached
    // across every subscriber of this test binary. `never`: the callsite is
    // disabled for good, the macro returns after one load.
    let debug = tracing::debug_span!("started processing request")
        .metadata()
        .expect("a disabled span keeps its metadata");
    let tower_debug = tracing::debug_span!(target: "tower_http::trace", "request")
        .metadata()
        .expect("metadata");
    let info = tracing::info_span!("payment").metadata().expect("metadata");
    for meta in [debug, tower_debug] {
        assert!(
            tracing::Subscriber::register_callsite(&subscriber, meta).is_never(),
            "{meta:?}"
        );
    }
    assert!(tracing::Subscriber::register_callsite(&subscriber, info).is_always());

    // At debug, the OpenTelemetry layer alone enables the callsite.
    let (guard, _exporter) = setup_with(|b| b.tracing_filter("debug"), &[]);
    let subscriber = tracing_subscriber::registry().with(guard.tracing_layer());
    tracing::subscriber::with_default(subscriber, || {
        assert!(tracing::enabled!(tracing::Level::DEBUG));
    });
}

#[test]
fn the_crates_own_log_lines_never_reach_the_otel_layer() {
    let (guard, exporter) = setup_with(|b| b.tracing_filter("trace"), &[]);
    with_layer(&guard, || {
        tracing::info_span!("http.request").in_scope(|| {
            tracing::warn!(target: EXPORT_LOG_TARGET, "traces export failing");
            tracing::warn!(target: INIT_LOG_TARGET, "no user hash key");
            tracing::info!("kept");
        });
    });
    let spans = exporter.get_finished_spans().unwrap();
    assert_eq!(event_names(&spans, "http.request"), ["kept"]);
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
