//! Where the attack puts each sample: raw OpenTelemetry calls, the typed
//! helpers, `tracing` spans and events, metric attributes. Every span and
//! data point carries `attack.path` and `attack.sample`, so the suite can
//! tell that each placement arrived and report where a value leaked.

use checkout_otel::attributes::{DeclineCode, ErrorType};
use checkout_otel::init::TelemetryGuard;
use checkout_otel::opentelemetry::trace::{
    Span as _, SpanContext, SpanId, Status, TraceContextExt as _, TraceFlags, TraceId, TraceState,
    Tracer as _, TracerProvider as _,
};
use checkout_otel::opentelemetry::{Array, Context, InstrumentationScope, KeyValue, Value};
use checkout_otel::pii::{Currency, Money};
use checkout_otel::spans::{
    CheckoutProcess, CheckoutTracer, Failure, HttpClientCall, OrderCreate, PaymentGatewayCall,
    PaymentProcess,
};

use crate::benign::ORDER_ID;
use crate::common::pii_gen::Sample;
use crate::common::received_text::{PATH_TAG, SAMPLE_TAG};

/// The placement tag and sample index every carrier of a sample gets.
fn tags(path: &'static str, sample: usize) -> [KeyValue; 2] {
    [
        KeyValue::new(PATH_TAG, path),
        KeyValue::new(SAMPLE_TAG, sample as i64),
    ]
}

/// Raw OpenTelemetry calls: every field a span has.
pub(crate) fn place_raw(guard: &TelemetryGuard, i: usize, s: &Sample) {
    let tracer = guard.sdk_tracer();
    let text = s.in_text();
    let remote = remote_context(0xa77a_c000 + i as u128, &s.tracestate_value());

    let mut span = tracer.start(text.clone());
    span.set_attributes(tags("raw.span", i));
    span.set_attribute(KeyValue::new("customer.note", text.clone()));
    span.set_attribute(KeyValue::new(s.text.clone(), "x"));
    span.set_attribute(KeyValue::new(
        "customer.notes",
        Value::Array(Array::String(vec!["ok".into(), text.clone().into()])),
    ));
    if let Some(number) = s.as_i64() {
        span.set_attribute(KeyValue::new("order.reference", number));
        span.set_attribute(KeyValue::new(
            "order.references",
            Value::Array(Array::I64(vec![7, number])),
        ));
        if number < (1 << 53) {
            span.set_attribute(KeyValue::new("order.reference_f64", number as f64));
        }
    }
    span.add_event(
        text.clone(),
        vec![
            KeyValue::new("customer.note", text.clone()),
            KeyValue::new(s.text.clone(), "x"),
        ],
    );
    span.add_link(
        remote.clone(),
        vec![
            KeyValue::new("customer.note", text.clone()),
            KeyValue::new(s.text.clone(), "x"),
        ],
    );
    span.set_status(Status::error(text.clone()));
    span.end();

    // A span continuing a caller whose tracestate carries the value.
    let parent = Context::new().with_remote_span_context(remote);
    let mut child = tracer.start_with_context("attack.trace_state", &parent);
    child.set_attributes(tags("raw.trace_state", i));
    child.end();

    // A scope of the service's own, named and attributed with the value.
    let scoped = guard.tracer_provider().tracer_with_scope(
        InstrumentationScope::builder(format!("attack {text}"))
            .with_attributes([KeyValue::new("customer.note", text.clone())])
            .build(),
    );
    let mut span = scoped.start("attack.scope");
    span.set_attributes(tags("raw.scope", i));
    span.end();
}

fn remote_context(trace: u128, tracestate_value: &str) -> SpanContext {
    let state = TraceState::from_key_value([("shop", tracestate_value)]).unwrap_or_else(|e| {
        panic!("generator made an invalid tracestate {tracestate_value:?}: {e}")
    });
    SpanContext::new(
        TraceId::from(trace),
        SpanId::from(0x00f0_67aa_0ba9_02b7),
        TraceFlags::SAMPLED,
        true,
        state,
    )
}

/// A URL with the value in a path segment, a form-encoded query value, a
/// hand-written query value and the fragment.
pub(crate) fn attack_url(base: &str, s: &Sample) -> String {
    format!(
        "{base}/{}?email={}&q={}&page=2#{}",
        s.url_path(),
        s.url_form(),
        s.url_query_raw(),
        s.url_path()
    )
}

pub(crate) fn total() -> Money {
    Money::parse("129.99", Currency::EUR).expect("valid amount")
}

/// The typed helpers, given the value where a service would pass it.
pub(crate) fn place_typed(tracer: &CheckoutTracer, i: usize, s: &Sample) {
    let text = s.in_text();

    let payment = tracer.start(PaymentProcess::new(ORDER_ID, total()));
    for kv in tags("typed.payment_declined", i) {
        payment.set_attribute(kv);
    }
    payment.declined(DeclineCode::DoNotHonor, &format!("gateway says: {text}"));

    let url = attack_url("https://pay.example.com/v1/charges", s);
    let call = tracer.start(PaymentGatewayCall::new("stripe", "POST", &url));
    for kv in tags("typed.gateway_call", i) {
        call.set_attribute(kv);
    }
    call.response_status(402);
    call.declined(DeclineCode::GenericDecline, &text);

    let url = attack_url("https://api.example.com/customers", s);
    let call = tracer.start(HttpClientCall::new("GET", &url));
    for kv in tags("typed.http_client", i) {
        call.set_attribute(kv);
    }
    call.transport_error(ErrorType::TIMEOUT, &text, "io");

    let order = tracer.start(OrderCreate::new(&text));
    for kv in tags("typed.order", i) {
        order.set_attribute(kv);
    }
    order.set_attribute(KeyValue::new("customer.note", text.clone()));
    order.add_event(
        "order_created",
        vec![KeyValue::new("customer.note", text.clone())],
    );
    order.fail(&Failure::rejection(
        ErrorType::new("card_declined"),
        text.clone(),
    ));

    // A customer id that is itself PII: only its hash may leave.
    let user = tracer.user(&s.text);
    let checkout = tracer.start(CheckoutProcess::new(&text).user(&user));
    for kv in tags("typed.checkout", i) {
        checkout.set_attribute(kv);
    }
    checkout.finish(&Ok::<(), Failure>(()));
}

/// `tracing` spans and events through the bridge.
pub(crate) fn place_tracing(i: usize, s: &Sample) {
    let text = s.in_text();
    let span = tracing::info_span!(
        "attack.tracing",
        attack.path = "tracing.span",
        attack.sample = i as i64,
        customer = %text,
        note = text.as_str(),
        otel.name = %format!("lookup {text}"),
        otel.status_code = "ERROR",
        otel.status_description = %text,
        late = tracing::field::Empty,
    );
    span.record("late", text.as_str());
    span.in_scope(|| {
        tracing::warn!(card = %text, "declined {text}");
        tracing::error!(error = %text, "charge failed");
        tracing::info!(customer.email = text.as_str(), "customer noted");
        tracing::warn!(
            attack.path = "logs.tracing",
            attack.sample = i as i64,
            note = text.as_str(),
            amount = s.as_i64().unwrap_or_default(),
            "lookup for {text} failed"
        );
    });
}

/// Log records through the OpenTelemetry logs API on the guard's logger
/// provider: the sample as the body, as attribute keys and as values of
/// every type (text, integer, double, bytes, list, map).
pub(crate) fn place_logs(guard: &TelemetryGuard, i: usize, s: &Sample) {
    use checkout_otel::opentelemetry::Key;
    use checkout_otel::opentelemetry::logs::{
        AnyValue, LogRecord as _, Logger as _, LoggerProvider as _, Severity,
    };
    let text = s.in_text();
    let logger = guard.logger_provider().logger("attack");
    let mut record = logger.create_log_record();
    record.set_severity_number(Severity::Warn);
    record.set_body(AnyValue::from(format!("declined {text}")));
    record.set_target(format!("svc::{}", s.text));
    record.add_attribute(PATH_TAG, "logs.api");
    record.add_attribute(SAMPLE_TAG, i as i64);
    record.add_attribute("note", text.clone());
    record.add_attribute(s.text.clone(), "key holds it");
    if let Some(n) = s.as_i64() {
        record.add_attribute("reference", n);
        // Only where the double holds the number exactly.
        if n < (1 << 53) {
            record.add_attribute("amount", n as f64);
        }
    }
    record.add_attribute("raw", AnyValue::Bytes(Box::new(text.clone().into_bytes())));
    record.add_attribute(
        "list",
        AnyValue::ListAny(Box::new(vec![AnyValue::from(text.clone())])),
    );
    record.add_attribute(
        "map",
        AnyValue::Map(Box::new(
            [
                (Key::from("contact"), AnyValue::from(text.clone())),
                (Key::from(s.text.clone()), AnyValue::from("x")),
            ]
            .into_iter()
            .collect(),
        )),
    );
    logger.emit(record);
}

/// Metric attributes through the guard's meter.
pub(crate) fn place_metrics(guard: &TelemetryGuard, i: usize, s: &Sample) {
    let meter = guard.meter();
    let counter = meter.u64_counter("attack.hits").build();
    let histogram = meter.f64_histogram("attack.latency").build();
    let with = |path: &'static str, kv: KeyValue| {
        let [p, n] = tags(path, i);
        [p, n, kv]
    };
    counter.add(
        1,
        &with(
            "metric.counter",
            KeyValue::new("customer.note", s.in_text()),
        ),
    );
    counter.add(
        1,
        &with("metric.counter_key", KeyValue::new(s.text.clone(), "x")),
    );
    histogram.record(
        0.25,
        &with(
            "metric.histogram",
            KeyValue::new("customer.note", s.in_text()),
        ),
    );
    if let Some(number) = s.as_i64() {
        counter.add(
            1,
            &with(
                "metric.counter_i64",
                KeyValue::new("order.reference", number),
            ),
        );
    }
}
