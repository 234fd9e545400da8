//! The redacting exporter in front of the SDK's in-memory exporter: PII in
//! span names, attributes (strings and string arrays), events, links and
//! status descriptions never reaches the wrapped exporter, and the counters
//! say exactly what was done.

use checkout_otel::opentelemetry::trace::{Span, Status, Tracer, TracerProvider};
use checkout_otel::opentelemetry::{Array, KeyValue, StringValue, Value};
use checkout_otel::opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use checkout_otel::pii::{
    CARD_MASK, DEFAULT_EXPORT_MAX_CHARS, EMAIL_MASK, PHONE_MASK, RedactingExporter,
    RedactionCounters, SENSITIVE_VALUE_MASK, TRUNCATION_MARKER,
};

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
    assert_eq!(counters.dropped_keys(), 5);
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
        let span = tracing::info_span!("payment.gateway_call", customer = "jane@example.com");
        let _entered = span.enter();
        // The bridge turns the message into the event name.
        tracing::warn!(
            card = "4111-1111-1111-1111",
            "card 4111111111111111 declined, call +1 415 555 0123"
        );
    });

    let spans = memory.get_finished_spans().unwrap();
    let span = span_named(&spans, "payment.gateway_call");
    assert_eq!(
        attr(&span.attributes, "customer"),
        Some(&string(EMAIL_MASK))
    );
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
