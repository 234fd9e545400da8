//! The exit check on every path out of the process. The redacting exporter
//! in front of the SDK's in-memory exporter: PII in span names, attribute
//! keys and values of every type, events, links, status descriptions,
//! `tracestate`, resource and scope never reaches the wrapped exporter, and
//! the counters say exactly what was done. The set-up's pipeline (the test
//! kit's in-memory end, and a real OTLP receiver over gRPC and HTTP): the
//! same for spans, the `tracing` bridge's events, the resource from the
//! builder and `OTEL_RESOURCE_ATTRIBUTES`, and metric attributes.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use checkout_otel::init::{Protocol, Telemetry, TelemetryBuilder};
use checkout_otel::opentelemetry::metrics::MeterProvider as _;
use checkout_otel::opentelemetry::trace::{
    Span, SpanContext, SpanId, Status, TraceContextExt as _, TraceFlags, TraceId, TraceState,
    Tracer, TracerProvider,
};
use checkout_otel::opentelemetry::{
    Array, Context, InstrumentationScope, KeyValue, StringValue, Value,
};
use checkout_otel::opentelemetry_sdk::Resource;
use checkout_otel::opentelemetry_sdk::error::OTelSdkResult;
use checkout_otel::opentelemetry_sdk::trace::{
    InMemorySpanExporter, SdkTracerProvider, SpanData, SpanExporter,
};
use checkout_otel::pii::{
    CARD_MASK, DEFAULT_EXPORT_MAX_CHARS, EMAIL_MASK, PHONE_MASK, RedactingExporter,
    RedactionCounters, SENSITIVE_VALUE_MASK, TRUNCATION_MARKER, UserHasher,
};
use checkout_otel::testing::TestTelemetry;
use common::receiver::{Received, Receiver};

fn pipeline(
    wrap: impl FnOnce(
        RedactingExporter<InMemorySpanExporter>,
    ) -> RedactingExporter<InMemorySpanExporter>,
) -> (SdkTracerProvider, InMemorySpanExporter, RedactionCounters) {
    let memory = InMemorySpanExporter::default();
    let exporter = wrap(RedactingExporter::new(memory.clone()));
    let counters = exporter.counters();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter)
        .build();
    (provider, memory, counters)
}

fn attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a Value> {
    attrs
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| &kv.value)
}

fn string(s: &str) -> Value {
    Value::from(s.to_string())
}

fn span_named<'a>(spans: &'a [SpanData], name: &str) -> &'a SpanData {
    spans.iter().find(|s| s.name == name).unwrap_or_else(|| {
        panic!(
            "no span {name:?} in {:?}",
            spans.iter().map(|s| &s.name).collect::<Vec<_>>()
        )
    })
}

#[test]
fn nothing_survives_and_counts_are_exact() {
    let (provider, memory, counters) = pipeline(|e| e);
    let tracer = provider.tracer("redaction-test");

    let linked = tracer.start("linked");
    let linked_context = linked.span_context().clone();
    drop(linked);

    let long = "x".repeat(5000);
    let mut span = tracer.start("lookup jane@example.com");
    span.set_attributes([
        KeyValue::new("payment.decline_code", "do_not_honor"),
        KeyValue::new(
            "exception.message",
            "card 4111 1111 1111 1111 declined for jane@example.com",
        ),
        KeyValue::new("customer.note", "call me at +44 20 7946 0958"),
        KeyValue::new(
            "tags",
            Value::Array(Array::String(vec![
                StringValue::from("ok"),
                StringValue::from("bob@example.org"),
                StringValue::from("4242424242424242"),
            ])),
        ),
        KeyValue::new("http.request.header.authorization", "Bearer abc.def"),
        KeyValue::new("payment.amount_minor", 1234i64),
        KeyValue::new("retry", true),
        KeyValue::new("debug.dump", long.clone()),
        KeyValue::new("card.cvv", 123i64),
    ]);
    span.add_event(
        "declined card 5555555555554444",
        vec![
            KeyValue::new("exception.message", "mail ann@x.org"),
            KeyValue::new("exception.type", "GatewayError"),
        ],
    );
    span.add_link(
        linked_context,
        vec![KeyValue::new("note", "from +14155550123")],
    );
    span.set_status(Status::error(
        "gateway said: card 4111111111111111 / +1 415 555 0123",
    ));
    span.end();

    let spans = memory.get_finished_spans().unwrap();
    assert_eq!(spans.len(), 2);
    let span = span_named(&spans, &format!("lookup {EMAIL_MASK}"));
    let a = &span.attributes;
    assert_eq!(
        attr(a, "payment.decline_code"),
        Some(&Value::from("do_not_honor"))
    );
    assert_eq!(
        attr(a, "exception.message"),
        Some(&string(&format!(
            "card {CARD_MASK} declined for {EMAIL_MASK}"
        )))
    );
    assert_eq!(
        attr(a, "customer.note"),
        Some(&string(&format!("call me at {PHONE_MASK}")))
    );
    assert_eq!(
        attr(a, "tags"),
        Some(&Value::Array(Array::String(vec![
            StringValue::from("ok"),
            StringValue::from(EMAIL_MASK),
            StringValue::from(CARD_MASK),
        ])))
    );
    assert_eq!(
        attr(a, "http.request.header.authorization"),
        Some(&Value::from(SENSITIVE_VALUE_MASK))
    );
    assert_eq!(
        attr(a, "card.cvv"),
        Some(&Value::from(SENSITIVE_VALUE_MASK))
    );
    assert_eq!(attr(a, "payment.amount_minor"), Some(&Value::I64(1234)));
    assert_eq!(attr(a, "retry"), Some(&Value::Bool(true)));
    assert_eq!(
        attr(a, "debug.dump"),
        Some(&string(&format!(
            "{}{TRUNCATION_MARKER}",
            &long[..DEFAULT_EXPORT_MAX_CHARS]
        )))
    );
    assert_eq!(a.len(), 9);

    let event = &span.events.events[0];
    assert_eq!(event.name, format!("declined card {CARD_MASK}"));
    assert_eq!(
        attr(&event.attributes, "exception.message"),
        Some(&string(&format!("mail {EMAIL_MASK}")))
    );
    assert_eq!(
        attr(&event.attributes, "exception.type"),
        Some(&Value::from("GatewayError"))
    );
    let link = &span.links.links[0];
    assert_eq!(
        attr(&link.attributes, "note"),
        Some(&string(&format!("from {PHONE_MASK}")))
    );
    assert_eq!(
        span.status,
        Status::error(format!("gateway said: card {CARD_MASK} / {PHONE_MASK}"))
    );

    // Nothing of the PII is left anywhere in the exported data.
    let dump = format!("{spans:?}");
    for secret in [
        "jane@example.com",
        "4111 1111 1111 1111",
        "4111111111111111",
        "+44 20 7946 0958",
        "bob@example.org",
        "4242424242424242",
        "Bearer abc.def",
        "5555555555554444",
        "ann@x.org",
        "+14155550123",
        "+1 415 555 0123",
        "I64(123)",
    ] {
        assert!(!dump.contains(secret), "{secret:?} survived");
    }

    assert_eq!(counters.masked_values(), 12);
    assert_eq!(counters.cards(), 4);
    assert_eq!(counters.emails(), 4);
    assert_eq!(counters.phones(), 3);
    assert_eq!(counters.truncated_values(), 1);
    assert_eq!(counters.sensitive_keys(), 2);
    assert_eq!(counters.dropped_keys(), 0);

    assert!(!memory.is_shutdown_called());
    provider.shutdown().unwrap();
    assert!(memory.is_shutdown_called(), "shutdown is forwarded");
}

#[test]
fn clean_spans_pass_unchanged_and_uncounted() {
    let (provider, memory, counters) = pipeline(|e| e);
    let tracer = provider.tracer("redaction-test");
    let attributes = vec![
        KeyValue::new("payment.decline_code", "insufficient_funds"),
        KeyValue::new(
            "exception.message",
            "insufficient funds (code 51), amount 12.34 EUR",
        ),
        KeyValue::new("order.id", "ORD-2024-000123"),
        KeyValue::new("checkout.total", "129.99"),
        KeyValue::new(
            "tags",
            Value::Array(Array::String(vec!["a".into(), "b".into()])),
        ),
    ];
    let mut span = tracer.start("payment.process");
    span.set_attributes(attributes.clone());
    span.add_event("payment_processed", vec![KeyValue::new("order.id", "o-1")]);
    span.set_status(Status::error("upstream timeout after 30s"));
    span.end();

    let spans = memory.get_finished_spans().unwrap();
    assert_eq!(spans[0].name, "payment.process");
    assert_eq!(spans[0].attributes, attributes);
    assert_eq!(spans[0].events.events[0].name, "payment_processed");
    assert_eq!(spans[0].status, Status::error("upstream timeout after 30s"));
    assert_eq!(counters.masked_values(), 0);
    assert_eq!(counters.dropped_keys(), 0);
}

#[test]
fn strict_mode_keeps_only_contract_keys_and_the_allow_list() {
    let (provider, memory, counters) = pipeline(|e| e.strict(["tenant.id"]).strict(["region"]));
    let tracer = provider.tracer("redaction-test");
    let mut span = tracer.start("payment.process");
    span.set_attributes([
        KeyValue::new("payment.decline_code", "generic_decline"),
        KeyValue::new("customer.email", "jane@example.com"),
        KeyValue::new("exception.message", "refund to x@y.com ok"),
        KeyValue::new("db.password", "hunter2"),
        KeyValue::new("user.hash", "ab12"),
        KeyValue::new("tenant.id", "acme"),
        KeyValue::new("region", "eu"),
        KeyValue::new("tags", Value::Array(Array::String(vec!["t".into()]))),
    ]);
    span.add_event(
        "exception",
        vec![
            KeyValue::new("exception.message", "card 4111111111111111 declined"),
            KeyValue::new("exception.stacktrace", "at pay() src/lib.rs:10"),
            KeyValue::new("code.lineno", 42i64),
        ],
    );
    span.end();

    let spans = memory.get_finished_spans().unwrap();
    let keys: Vec<&str> = spans[0]
        .attributes
        .iter()
        .map(|kv| kv.key.as_str())
        .collect();
    assert_eq!(
        keys,
        [
            "payment.decline_code",
            "exception.message",
            "user.hash",
            "tenant.id",
            "region"
        ]
    );
    assert_eq!(
        attr(&spans[0].attributes, "exception.message"),
        Some(&string(&format!("refund to {EMAIL_MASK} ok")))
    );
    let event = &spans[0].events.events[0];
    assert_eq!(event.attributes.len(), 1);
    assert_eq!(
        attr(&event.attributes, "exception.message"),
        Some(&string(&format!("card {CARD_MASK} declined")))
    );
    // `customer.email` is dropped by strict mode, or removed as an identity
    // (a `user.hash` is already there) where the key counts as one.
    assert_eq!(counters.dropped_keys() + counters.identities(), 5);
    assert_eq!(counters.masked_values(), 2);
    assert_eq!(
        counters.sensitive_keys(),
        0,
        "db.password was dropped, not masked"
    );
}

#[test]
fn value_limit_is_configurable() {
    let (provider, memory, counters) = pipeline(|e| e.max_value_chars(8));
    let tracer = provider.tracer("redaction-test");
    let mut span = tracer.start("s");
    span.set_attribute(KeyValue::new("order.id", "0123456789abcdef"));
    span.end();
    let spans = memory.get_finished_spans().unwrap();
    assert_eq!(
        attr(&spans[0].attributes, "order.id"),
        Some(&string(&format!("01234567{TRUNCATION_MARKER}")))
    );
    assert_eq!(counters.truncated_values(), 1);
}

#[test]
fn tracing_bridge_messages_are_scrubbed_too() {
    use tracing_subscriber::layer::SubscriberExt;

    let (provider, memory, counters) = pipeline(|e| e);
    let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("bridge"));
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || {
        let span = tracing::info_span!("payment.gateway_call", note = "jane@example.com");
        let _entered = span.enter();
        // The bridge turns the message into the event name.
        tracing::warn!(
            card = "4111-1111-1111-1111",
            "card 4111111111111111 declined, call +1 415 555 0123"
        );
    });

    let spans = memory.get_finished_spans().unwrap();
    let span = span_named(&spans, "payment.gateway_call");
    assert_eq!(attr(&span.attributes, "note"), Some(&string(EMAIL_MASK)));
    let event = &span.events.events[0];
    assert_eq!(
        event.name,
        format!("card {CARD_MASK} declined, call {PHONE_MASK}")
    );
    assert_eq!(attr(&event.attributes, "card"), Some(&string(CARD_MASK)));
    assert!(counters.masked_values() >= 3);
    let dump = format!("{spans:?}");
    for secret in [
        "4111-1111-1111-1111",
        "4111111111111111",
        "jane@example.com",
        "415 555 0123",
    ] {
        assert!(!dump.contains(secret), "{secret:?} survived");
    }
}

#[test]
fn well_formed_user_hashes_are_left_alone() {
    let (provider, memory, counters) = pipeline(|e| e);
    let tracer = provider.tracer("redaction-test");
    // A hash can contain a Luhn-valid run of digits by chance.
    let hash = format!("4111111111111111{}", "ab".repeat(24));
    assert_eq!(hash.len(), 64);
    let mut span = tracer.start("s");
    span.set_attributes([
        KeyValue::new("user.hash", hash.clone()),
        KeyValue::new("request.id", hash.clone()),
    ]);
    span.end();
    let mut other = tracer.start("t");
    other.set_attribute(KeyValue::new("user.hash", "jane@example.com"));
    other.end();

    let spans = memory.get_finished_spans().unwrap();
    let s = span_named(&spans, "s");
    assert_eq!(attr(&s.attributes, "user.hash"), Some(&string(&hash)));
    assert_eq!(
        attr(&s.attributes, "request.id"),
        Some(&string(&format!("{CARD_MASK}{}", "ab".repeat(24))))
    );
    let t = span_named(&spans, "t");
    assert_eq!(attr(&t.attributes, "user.hash"), Some(&string(EMAIL_MASK)));
    assert_eq!(counters.masked_values(), 2);
}

// ---------------------------------------------------------------------------
// Keys, numbers, identities, scope and resource at the redacting exporter
// ---------------------------------------------------------------------------

#[test]
fn attribute_keys_are_bounded_and_checked_like_values() {
    let (provider, memory, counters) = pipeline(|e| e);
    let huge_key = format!("note.{}", "k".repeat(10_000_000));
    let mut span = provider.tracer("redaction-test").start("s");
    span.set_attributes([
        KeyValue::new("contact:jane@example.com", "yes"),
        KeyValue::new(huge_key.clone(), "v"),
        KeyValue::new("cart.id", "c-1"),
    ]);
    span.end();

    let spans = memory.get_finished_spans().unwrap();
    let keys: Vec<&str> = spans[0]
        .attributes
        .iter()
        .map(|kv| kv.key.as_str())
        .collect();
    assert_eq!(keys[0], format!("contact:{EMAIL_MASK}"));
    assert!(keys[1].len() < 1_000, "bounded: {} bytes", keys[1].len());
    assert!(keys[1].starts_with("note.kkk") && keys[1].ends_with(TRUNCATION_MARKER));
    assert_eq!(keys[2], "cart.id");
    assert_eq!(counters.masked_keys(), 2);
    assert_eq!(counters.masked_values(), 0, "the values needed nothing");
}

#[test]
fn numbers_holding_card_numbers_are_masked() {
    let (provider, memory, counters) = pipeline(|e| e);
    let mut span = provider.tracer("redaction-test").start("s");
    span.set_attributes([
        KeyValue::new("order.ref", 4111111111111111_i64),
        KeyValue::new(
            "order.refs",
            Value::Array(Array::I64(vec![7, 5555555555554444])),
        ),
        KeyValue::new("order.amount", 4242424242424242.0_f64),
        KeyValue::new("order.timestamp", 1_700_000_000_i64),
        KeyValue::new("order.ratio", 0.25_f64),
        KeyValue::new("order.paid", true),
        KeyValue::new("order.refs_clean", Value::Array(Array::I64(vec![1, 2]))),
    ]);
    span.end();

    let spans = memory.get_finished_spans().unwrap();
    let a = &spans[0].attributes;
    assert_eq!(attr(a, "order.ref"), Some(&string(CARD_MASK)));
    assert_eq!(
        attr(a, "order.refs"),
        Some(&Value::Array(Array::String(vec![
            StringValue::from("7"),
            StringValue::from(CARD_MASK),
        ])))
    );
    assert_eq!(attr(a, "order.amount"), Some(&string(CARD_MASK)));
    assert_eq!(attr(a, "order.timestamp"), Some(&Value::I64(1_700_000_000)));
    assert_eq!(attr(a, "order.ratio"), Some(&Value::F64(0.25)));
    assert_eq!(attr(a, "order.paid"), Some(&Value::Bool(true)));
    assert_eq!(
        attr(a, "order.refs_clean"),
        Some(&Value::Array(Array::I64(vec![1, 2])))
    );
    assert_eq!(counters.cards(), 3);
    assert_eq!(counters.masked_values(), 3);
}

const KEY: &str = "raw:a shared secret of at least thirty-two bytes";

fn hash_of(customer_id: &str) -> String {
    UserHasher::parse(KEY)
        .expect("key")
        .hash(customer_id)
        .hash()
        .to_owned()
}

#[test]
fn identity_keys_become_user_hash_with_the_given_hasher() {
    let (provider, memory, counters) =
        pipeline(|e| e.with_user_hasher(UserHasher::parse(KEY).expect("key")));
    let tracer = provider.tracer("redaction-test");
    let mut span = tracer.start("s");
    span.set_attributes([
        KeyValue::new("user.id", "customer-42"),
        KeyValue::new("cart.id", "c-1"),
        KeyValue::new("enduser.id", "customer-42"),
    ]);
    span.add_event("login", vec![KeyValue::new("customer.id", 42_i64)]);
    span.end();
    let mut typed = tracer.start("t");
    typed.set_attributes([
        KeyValue::new("user.hash", hash_of("customer-7")),
        KeyValue::new("user.id", "customer-7"),
    ]);
    typed.end();

    let spans = memory.get_finished_spans().unwrap();
    let s = span_named(&spans, "s");
    assert_eq!(
        s.attributes,
        vec![
            KeyValue::new("user.hash", hash_of("customer-42")),
            KeyValue::new("cart.id", "c-1"),
        ],
        "the first identity is hashed in its place, the second removed"
    );
    assert_eq!(
        s.events.events[0].attributes,
        vec![KeyValue::new("user.hash", hash_of("42"))]
    );
    let t = span_named(&spans, "t");
    assert_eq!(
        t.attributes,
        vec![KeyValue::new("user.hash", hash_of("customer-7"))],
        "a typed user.hash wins; the raw id only goes"
    );
    assert!(!format!("{spans:?}").contains("customer-"));
    assert_eq!(counters.identities(), 4);
    assert_eq!(counters.dropped_keys(), 0);
}

#[test]
fn strict_mode_still_hashes_identities() {
    let (provider, memory, counters) = pipeline(|e| e.strict(Vec::<String>::new()));
    let mut span = provider.tracer("redaction-test").start("s");
    span.set_attributes([
        KeyValue::new("enduser.id", "customer-42"),
        KeyValue::new("note", "x"),
    ]);
    span.end();
    let spans = memory.get_finished_spans().unwrap();
    let keys: Vec<&str> = spans[0]
        .attributes
        .iter()
        .map(|kv| kv.key.as_str())
        .collect();
    assert_eq!(keys, ["user.hash"]);
    assert_eq!((counters.identities(), counters.dropped_keys()), (1, 1));
}

/// Remembers the resource it was given and the spans it exported.
#[derive(Debug, Clone, Default)]
struct Probe {
    resource: Arc<Mutex<Option<Resource>>>,
    spans: Arc<Mutex<Vec<SpanData>>>,
}

impl SpanExporter for Probe {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.spans.lock().unwrap().extend(batch);
        Ok(())
    }

    fn set_resource(&mut self, resource: &Resource) {
        *self.resource.lock().unwrap() = Some(resource.clone());
    }
}

fn resource_map(resource: &Resource) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = resource
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    pairs.sort();
    pairs
}

#[test]
fn resource_and_scope_are_checked() {
    let probe = Probe::default();
    let exporter = RedactingExporter::new(probe.clone());
    let counters = exporter.counters();
    let provider = SdkTracerProvider::builder()
        .with_resource(
            Resource::builder_empty()
                .with_service_name("checkout")
                .with_attributes([
                    KeyValue::new("owner", "jane@example.com"),
                    KeyValue::new("db.password", "hunter2"),
                    KeyValue::new("build", 4111111111111111_i64),
                ])
                .build(),
        )
        .with_simple_exporter(exporter)
        .build();
    let scope = InstrumentationScope::builder("lib for bob@example.org")
        .with_version("1.2.3")
        .with_attributes([KeyValue::new("maintainer", "carl@example.net")])
        .build();
    provider.tracer_with_scope(scope).start("s").end();

    let resource = probe
        .resource
        .lock()
        .unwrap()
        .clone()
        .expect("set_resource");
    assert_eq!(
        resource_map(&resource),
        [
            ("build".to_owned(), CARD_MASK.to_owned()),
            ("db.password".to_owned(), SENSITIVE_VALUE_MASK.to_owned()),
            ("owner".to_owned(), EMAIL_MASK.to_owned()),
            ("service.name".to_owned(), "checkout".to_owned()),
        ]
    );
    let spans = probe.spans.lock().unwrap();
    let scope = &spans[0].instrumentation_scope;
    assert_eq!(scope.name(), format!("lib for {EMAIL_MASK}"));
    assert_eq!(scope.version(), Some("1.2.3"));
    assert_eq!(
        scope.attributes().cloned().collect::<Vec<_>>(),
        vec![KeyValue::new("maintainer", EMAIL_MASK)]
    );
    assert_eq!(counters.emails(), 3);
    assert_eq!(counters.cards(), 1);
    assert_eq!(counters.sensitive_keys(), 1);
}

// ---------------------------------------------------------------------------
// tracestate
// ---------------------------------------------------------------------------

fn remote_parent(state: &[(&str, &str)]) -> Context {
    Context::new().with_remote_span_context(SpanContext::new(
        TraceId::from(0x4bf92f3577b34da6a3ce929d0e0e4736_u128),
        SpanId::from(0x00f067aa0ba902b7_u64),
        TraceFlags::SAMPLED,
        true,
        TraceState::from_key_value(state.iter().copied()).expect("valid tracestate"),
    ))
}

/// A span under a remote parent carrying `tracestate`, linked to a second
/// context carrying one too.
fn span_under_partner_tracestate(telemetry: &TestTelemetry) -> SpanData {
    let partner = [("partner", "jane@example.com"), ("vendor", "abc")];
    let parent = remote_parent(&partner);
    let tracer = telemetry.sdk_tracer();
    let mut span = tracer.start_with_context("payment.process", &parent);
    let linked = remote_parent(&[("other", "1")]);
    span.add_link(linked.span().span_context().clone(), Vec::new());
    span.end();
    telemetry.spans().one("payment.process").data().clone()
}

fn kit(builder: TelemetryBuilder) -> TestTelemetry {
    TestTelemetry::from_builder(builder.with_env(Vec::<(String, String)>::new())).expect("kit")
}

#[test]
fn tracestate_is_removed_by_default_keeping_ids_and_flags() {
    let telemetry = kit(Telemetry::builder("checkout"));
    let span = span_under_partner_tracestate(&telemetry);
    assert_eq!(*span.span_context.trace_state(), TraceState::NONE);
    assert_eq!(
        span.span_context.trace_id(),
        TraceId::from(0x4bf92f3577b34da6a3ce929d0e0e4736_u128)
    );
    assert_eq!(span.parent_span_id, SpanId::from(0x00f067aa0ba902b7_u64));
    assert!(span.span_context.is_sampled());
    let link = &span.links.links[0].span_context;
    assert_eq!(*link.trace_state(), TraceState::NONE);
    assert!(link.is_remote());
    let counters = telemetry
        .guard()
        .redaction_counters()
        .expect("redaction on");
    assert_eq!(counters.trace_states(), 2);
}

#[test]
fn tracestate_is_removed_with_redaction_off_too() {
    let telemetry = kit(Telemetry::builder("checkout").redaction(false));
    let span = span_under_partner_tracestate(&telemetry);
    assert_eq!(*span.span_context.trace_state(), TraceState::NONE);
    assert_eq!(
        *span.links.links[0].span_context.trace_state(),
        TraceState::NONE
    );
}

#[test]
fn tracestate_is_exported_checked_when_the_service_opts_in() {
    let telemetry = kit(Telemetry::builder("checkout").export_tracestate(true));
    assert!(telemetry.guard().config().exports_tracestate());
    let span = span_under_partner_tracestate(&telemetry);
    assert_eq!(
        span.span_context.trace_state().header(),
        format!("partner={EMAIL_MASK},vendor=abc")
    );
    assert_eq!(
        span.links.links[0].span_context.trace_state().header(),
        "other=1"
    );
}

// ---------------------------------------------------------------------------
// The set-up's pipeline: identities, the tracing bridge, metrics
// ---------------------------------------------------------------------------

#[test]
fn identity_keys_are_hashed_with_the_configured_key() {
    let telemetry = kit(Telemetry::builder("checkout").user_hash_key(KEY));
    let mut span = telemetry.sdk_tracer().start("checkout.process");
    span.set_attribute(KeyValue::new("enduser.id", "customer-42"));
    span.end();

    let spans = telemetry.spans();
    let span = spans.one("checkout.process");
    assert_eq!(
        span.attr_str("user.hash"),
        Some(hash_of("customer-42").as_str())
    );
    assert!(!span.has_attr("enduser.id"));
    // The same hash the guard's typed helpers record.
    assert_eq!(
        span.attr_str("user.hash"),
        Some(telemetry.guard().user_hasher().hash("customer-42").hash())
    );
}

#[test]
fn tracing_bridge_events_reach_the_exporter_masked() {
    use tracing_subscriber::layer::SubscriberExt as _;

    let telemetry = kit(Telemetry::builder("checkout"));
    let subscriber = tracing_subscriber::registry().with(telemetry.guard().tracing_layer());
    tracing::subscriber::with_default(subscriber, || {
        let span = tracing::info_span!("payment.gateway_call");
        let _entered = span.enter();
        tracing::info!(email = "jane@example.com", "card 4111 1111 1111 1111");
    });

    let spans = telemetry.spans();
    let span = spans.one("payment.gateway_call");
    let event = span.event(&format!("card {CARD_MASK}"));
    assert_eq!(event.attr_str("level"), Some("INFO"));
    assert_eq!(event.attr_str("target"), Some(module_path!()));
    // `email` is masked in place, or (when the key counts as an identity)
    // replaced by user.hash: never exported raw either way.
    match event.attr_str("email") {
        Some(masked) => assert_eq!(masked, EMAIL_MASK),
        None => assert!(event.has_attr("user.hash")),
    }
    let dump = format!("{:?}", span.data());
    assert!(
        !dump.contains("jane@example.com") && !dump.contains("4111 1111"),
        "{dump}"
    );
}

#[test]
fn metric_attributes_and_scopes_are_checked_on_the_way_out() {
    let telemetry = kit(Telemetry::builder("checkout"));
    let counter = telemetry
        .guard()
        .meter()
        .u64_counter("checkout.notes")
        .build();
    counter.add(
        2,
        &[KeyValue::new("customer.note", "mail jane@example.com")],
    );
    counter.add(3, &[KeyValue::new("customer.note", "mail bob@example.org")]);
    counter.add(5, &[KeyValue::new("customer.note", "none")]);
    // The provider used directly, with a scope of its own: checked as well.
    let raw_meter = telemetry
        .meter_provider()
        .meter_with_scope(InstrumentationScope::builder("lib carl@example.net").build());
    raw_meter
        .f64_histogram("lookup.duration")
        .build()
        .record(0.5, &[KeyValue::new("card", 4111111111111111_i64)]);

    let metrics = telemetry.metrics();
    let notes = metrics.points("checkout.notes");
    assert_eq!(notes.len(), 2, "the masked series are one: {notes:?}");
    let masked = format!("mail {EMAIL_MASK}");
    assert_eq!(
        metrics.counter_sum("checkout.notes", &[("customer.note", masked.as_str())]),
        5.0
    );
    assert_eq!(
        metrics.counter_sum("checkout.notes", &[("customer.note", "none")]),
        5.0
    );
    let lookup = metrics.metric("lookup.duration");
    assert_eq!(lookup.scope, format!("lib {EMAIL_MASK}"));
    assert_eq!(
        lookup.points[0].attributes,
        vec![KeyValue::new("card", CARD_MASK)]
    );
    let dump = format!("{metrics:?}");
    for raw in [
        "jane@example.com",
        "bob@example.org",
        "carl@example.net",
        "4111111111111111",
    ] {
        assert!(!dump.contains(raw), "{raw} exported: {dump}");
    }
}

#[test]
fn strict_mode_keeps_the_checkout_metrics_and_merges_what_it_drops() {
    use checkout_otel::attributes::{CheckoutStatus, CheckoutStep, StepStatus};

    let telemetry = kit(Telemetry::builder("checkout").strict_redaction(["tenant.id"]));
    let checkout = telemetry.guard().metrics();
    checkout.record_checkout(CheckoutStatus::Success, 3, Duration::from_millis(120), None);
    checkout.record_step(
        CheckoutStep::ValidatingCart,
        StepStatus::Ok,
        Duration::from_millis(20),
    );
    let counter = telemetry.guard().meter().u64_counter("shop.visits").build();
    counter.add(
        1,
        &[
            KeyValue::new("tenant.id", "acme"),
            KeyValue::new("page", "/a"),
        ],
    );
    counter.add(
        2,
        &[
            KeyValue::new("tenant.id", "acme"),
            KeyValue::new("page", "/b"),
        ],
    );

    let metrics = telemetry.metrics();
    let completed = metrics.points("checkout.completed");
    assert_eq!(completed.len(), 1);
    assert_eq!(completed[0].attr_str("checkout.status"), Some("success"));
    let duration = metrics.points("checkout.duration");
    assert_eq!(
        duration[0].attr_str("checkout.item_count_bucket"),
        Some("small")
    );
    let step = metrics.points("checkout.step.duration");
    assert_eq!(step[0].attr_str("checkout.step"), Some("validating_cart"));
    assert_eq!(step[0].attr_str("step.status"), Some("ok"));
    // `page` is outside the contract and the allow-list: dropped, and the
    // two series it told apart are one.
    let visits = metrics.points("shop.visits");
    assert_eq!(visits.len(), 1, "{visits:?}");
    assert_eq!(
        visits[0].attributes,
        vec![KeyValue::new("tenant.id", "acme")]
    );
    assert_eq!(visits[0].number(), Some(3.0));
}

// ---------------------------------------------------------------------------
// Over the wire: what a real OTLP receiver gets
// ---------------------------------------------------------------------------

const WAIT: Duration = Duration::from_secs(10);

/// Spans and metrics with PII on every path a service might put it, through
/// the OTLP exporter of `protocol`; returns what the receiver got.
fn export_over(protocol: Protocol) -> Received {
    let receiver = match protocol {
        Protocol::Grpc => Receiver::grpc(),
        _ => Receiver::http(),
    };
    let guard = Telemetry::builder("checkout-pii")
        .endpoint(receiver.endpoint())
        .protocol(protocol)
        .timeout(Duration::from_secs(5))
        .resource_attribute("owner", "ops jane@example.com")
        .resource_attribute("user.id", "customer-42")
        .with_env([(
            "OTEL_RESOURCE_ATTRIBUTES",
            "team.lead=bob%40example.org,build=4111111111111111",
        )])
        .build()
        .expect("build");
    // What the guard reports is what the providers carry: checked.
    assert_eq!(
        guard
            .resource()
            .get(&checkout_otel::opentelemetry::Key::from_static_str("owner")),
        Some(Value::from(format!("ops {EMAIL_MASK}")))
    );
    let parent = remote_parent(&[("partner", "x")]);
    let mut span = guard
        .sdk_tracer()
        .start_with_context("checkout.process", &parent);
    span.set_attribute(KeyValue::new("customer.note", "mail carl@example.net"));
    span.end();
    guard.meter().u64_counter("checkout.notes").build().add(
        1,
        &[KeyValue::new("customer.note", "mail dave@example.com")],
    );
    guard.force_flush().expect("flush");
    let received = receiver.wait_for(WAIT, |r| !r.traces.is_empty() && !r.metrics.is_empty());
    guard.shutdown().expect("shutdown");
    received
}

fn assert_nothing_raw_arrived(protocol: Protocol) {
    let r = export_over(protocol);
    let dump = format!("{:?} {:?}", r.traces, r.metrics);
    for raw in [
        "jane@example.com",
        "bob@example.org",
        "bob%40example.org",
        "4111111111111111",
        "carl@example.net",
        "dave@example.com",
        "customer-42",
    ] {
        assert!(!dump.contains(raw), "{protocol}: {raw} arrived");
    }

    let span = r.span("checkout.process").expect("span received");
    assert_eq!(
        span.attr("customer.note").as_deref(),
        Some(format!("mail {EMAIL_MASK}").as_str())
    );
    assert_eq!(span.span.trace_state, "", "{protocol}: tracestate exported");
    for resource in [span.resource.clone()]
        .into_iter()
        .chain(r.metric_resources())
    {
        assert_eq!(resource["service.name"], "checkout-pii");
        assert_eq!(resource["owner"], format!("ops {EMAIL_MASK}"));
        assert_eq!(resource["team.lead"], EMAIL_MASK);
        assert_eq!(resource["build"], CARD_MASK);
        assert_eq!(resource["user.hash"].len(), 64, "{protocol}: {resource:?}");
        assert!(!resource.contains_key("user.id"), "{protocol}");
    }

    let points: Vec<_> = r
        .metrics
        .iter()
        .flat_map(|m| &m.resource_metrics)
        .flat_map(|rm| &rm.scope_metrics)
        .flat_map(|sm| &sm.metrics)
        .filter(|m| m.name == "checkout.notes")
        .collect();
    assert!(!points.is_empty(), "{protocol}: metric received");
    let masked = format!("{:?}", points[0]);
    assert!(masked.contains(EMAIL_MASK), "{protocol}: {masked}");
}

#[test]
fn nothing_raw_reaches_a_grpc_receiver() {
    assert_nothing_raw_arrived(Protocol::Grpc);
}

#[test]
fn nothing_raw_reaches_an_http_receiver() {
    assert_nothing_raw_arrived(Protocol::HttpProtobuf);
}
