//! Every typed span helper, checked from exported span data: exact names,
//! kinds, parents, attributes, events and status.

use checkout_otel::attributes::{
    self as attr, CheckoutStatus, CheckoutStep, DeclineCode, ErrorType, FailureKind,
    NotificationChannel, StepStatus,
};
use checkout_otel::opentelemetry::trace::{SpanKind, Status};
use checkout_otel::opentelemetry::{Context, Value};
use checkout_otel::opentelemetry_sdk::metrics::SdkMeterProvider;
use checkout_otel::opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use checkout_otel::pii::{Currency, Money, PaymentMethod, UserHasher, UserRef};
use checkout_otel::spans::*;

struct Harness {
    exporter: InMemorySpanExporter,
    _provider: SdkTracerProvider,
    tracer: CheckoutTracer,
}

fn harness() -> Harness {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let tracer = CheckoutTracer::from_providers(&provider, &SdkMeterProvider::default());
    Harness {
        exporter,
        _provider: provider,
        tracer,
    }
}

impl Harness {
    fn spans(&self) -> Vec<SpanData> {
        self.exporter.get_finished_spans().unwrap()
    }
    fn one(&self, name: &str) -> SpanData {
        let spans = self.spans();
        let mut found: Vec<_> = spans.iter().filter(|s| s.name == name).cloned().collect();
        assert_eq!(
            found.len(),
            1,
            "expected one {name}, have {:?}",
            spans.iter().map(|s| s.name.to_string()).collect::<Vec<_>>()
        );
        found.pop().unwrap()
    }
}

fn attr<'a>(span: &'a SpanData, key: &str) -> Option<&'a Value> {
    let mut it = span.attributes.iter().filter(|kv| kv.key.as_str() == key);
    let first = it.next().map(|kv| &kv.value);
    assert!(
        it.next().is_none(),
        "attribute {key} set twice on {}",
        span.name
    );
    first
}

fn s(span: &SpanData, key: &str) -> String {
    match attr(span, key) {
        Some(Value::String(v)) => v.as_str().to_owned(),
        other => panic!("{key} on {} is {other:?}", span.name),
    }
}

fn i(span: &SpanData, key: &str) -> i64 {
    match attr(span, key) {
        Some(Value::I64(v)) => *v,
        other => panic!("{key} on {} is {other:?}", span.name),
    }
}

fn event<'a>(span: &'a SpanData, name: &str) -> &'a checkout_otel::opentelemetry::trace::Event {
    span.events
        .iter()
        .find(|e| e.name == name)
        .unwrap_or_else(|| panic!("no {name} event on {}", span.name))
}

fn event_attr(e: &checkout_otel::opentelemetry::trace::Event, key: &str) -> Value {
    e.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.clone())
        .unwrap_or_else(|| panic!("no {key} on event {}", e.name))
}

fn usd(minor: i64) -> Money {
    Money::from_minor(minor, Currency::USD)
}

#[test]
fn cart_spans_nest_and_carry_their_attributes() {
    let h = harness();
    {
        let validate = h.tracer.start(CartValidate::new("cart-9"));
        let _g = validate.enter();
        let fetch = h.tracer.start(CartFetchContents::new("cart-9"));
        fetch.item_count(3);
        drop(fetch);
        let verify = h.tracer.start(CartVerifyPrices::new(3));
        verify.price_mismatch("sku-1", usd(1_000), usd(1_250));
        verify.price_mismatch("sku-2", usd(500), usd(450));
    }
    let validate = h.one(attr::CART_VALIDATE);
    let fetch = h.one(attr::CART_FETCH_CONTENTS);
    let verify = h.one(attr::CART_VERIFY_PRICES);
    assert_eq!(validate.span_kind, SpanKind::Internal);
    assert_eq!(s(&validate, attr::CART_ID), "cart-9");
    assert_eq!(fetch.parent_span_id, validate.span_context.span_id());
    assert_eq!(verify.parent_span_id, validate.span_context.span_id());
    assert_eq!(i(&fetch, attr::CART_ITEM_COUNT), 3);
    assert_eq!(i(&verify, attr::CART_ITEM_COUNT), 3);
    assert_eq!(i(&verify, attr::CART_STALE_PRICES), 2);
    let mismatches: Vec<_> = verify
        .events
        .iter()
        .filter(|e| e.name == attr::EVENT_PRICE_MISMATCH)
        .collect();
    assert_eq!(mismatches.len(), 2);
    assert_eq!(
        event_attr(mismatches[0], attr::PRODUCT_ID),
        Value::from("sku-1")
    );
    assert_eq!(
        event_attr(mismatches[0], attr::PRICE_EXPECTED),
        Value::I64(1_000)
    );
    assert_eq!(
        event_attr(mismatches[0], attr::PRICE_ACTUAL),
        Value::I64(1_250)
    );
    assert_eq!(validate.status, Status::Unset);
}

#[test]
fn inventory_spans_record_reservations_shortfalls_and_release() {
    let h = harness();
    {
        let batch = h.tracer.start(InventoryReserveBatch::new(2));
        let _g = batch.enter();
        let ok = h.tracer.start(InventoryReserveItem::new("sku-1", 2));
        ok.reserved("res-1");
        drop(ok);
        let short = h.tracer.start(InventoryReserveItem::new("sku-2", 5));
        short.insufficient_stock(1);
        batch.reserved("batch-1", 1);
        let release = h.tracer.start(InventoryRelease::new("batch-1"));
        release.released(1);
        drop(release);
    }
    let batch = h.one(attr::INVENTORY_RESERVE_BATCH);
    assert_eq!(i(&batch, attr::INVENTORY_ITEM_COUNT), 2);
    assert_eq!(i(&batch, attr::INVENTORY_RESERVATIONS_CREATED), 1);
    assert_eq!(s(&batch, attr::INVENTORY_RESERVATION_ID), "batch-1");

    let items: Vec<_> = h
        .spans()
        .into_iter()
        .filter(|s| s.name == attr::INVENTORY_RESERVE_ITEM)
        .collect();
    assert_eq!(items.len(), 2);
    let ok = items
        .iter()
        .find(|s| {
            s.attributes
                .iter()
                .any(|kv| kv.value == Value::from("sku-1"))
        })
        .unwrap();
    let short = items
        .iter()
        .find(|s| {
            s.attributes
                .iter()
                .any(|kv| kv.value == Value::from("sku-2"))
        })
        .unwrap();
    assert_eq!(ok.parent_span_id, batch.span_context.span_id());
    assert_eq!(s(ok, attr::RESERVATION_ID), "res-1");
    assert_eq!(i(ok, attr::QUANTITY_REQUESTED), 2);
    assert_eq!(ok.status, Status::Unset);
    assert!(attr(ok, attr::ERROR_TYPE).is_none());

    let ev = event(short, attr::EVENT_INSUFFICIENT_STOCK);
    assert_eq!(event_attr(ev, attr::QUANTITY_AVAILABLE), Value::I64(1));
    assert_eq!(event_attr(ev, attr::QUANTITY_REQUESTED), Value::I64(5));
    assert_eq!(s(short, attr::ERROR_TYPE), "insufficient_stock");
    assert_eq!(s(short, attr::FAILURE_KIND), "rejection");
    assert!(matches!(short.status, Status::Error { .. }));

    let release = h.one(attr::INVENTORY_RELEASE);
    assert_eq!(release.parent_span_id, batch.span_context.span_id());
    assert_eq!(s(&release, attr::INVENTORY_RESERVATION_ID), "batch-1");
    assert_eq!(i(&release, attr::INVENTORY_RESERVATIONS_RELEASED), 1);
}

#[test]
fn payment_spans_are_clients_with_safe_attributes() {
    let h = harness();
    let card = PaymentMethod::card_from_number("4111 1111 1111 1111").unwrap();
    {
        let payment = h
            .tracer
            .start(PaymentProcess::new("order-1", usd(12_345)).method(&card));
        let _g = payment.enter();
        let call = h.tracer.start(
            PaymentGatewayCall::new(
                "stripe",
                "post",
                "https://user:pw@gw.example:8443/v1/charges?email=a@b.c",
            )
            .attempt(2),
        );
        call.response_status(200);
        call.succeeded("ch_1");
        payment.succeeded("ch_1");
    }
    let payment = h.one(attr::PAYMENT_PROCESS);
    let call = h.one(attr::PAYMENT_GATEWAY_CALL);
    assert_eq!(payment.span_kind, SpanKind::Client);
    assert_eq!(call.span_kind, SpanKind::Client);
    assert_eq!(call.parent_span_id, payment.span_context.span_id());
    assert_eq!(s(&payment, attr::ORDER_ID), "order-1");
    assert_eq!(s(&payment, attr::PAYMENT_AMOUNT), "123.45");
    assert_eq!(i(&payment, attr::PAYMENT_AMOUNT_MINOR), 12_345);
    assert_eq!(s(&payment, attr::PAYMENT_CURRENCY), "USD");
    assert_eq!(s(&payment, attr::PAYMENT_METHOD_TYPE), "card");
    assert_eq!(s(&payment, attr::PAYMENT_STATUS), "succeeded");
    assert_eq!(s(&payment, attr::PAYMENT_CHARGE_ID), "ch_1");
    let all = format!("{:?}", payment.attributes);
    assert!(
        !all.contains("4111111111111111") && !all.contains("4111 1111"),
        "{all}"
    );

    assert_eq!(s(&call, attr::PEER_SERVICE), "stripe");
    assert_eq!(s(&call, attr::HTTP_REQUEST_METHOD), "POST");
    assert_eq!(
        s(&call, attr::URL_FULL),
        "https://gw.example:8443/v1/charges"
    );
    assert_eq!(s(&call, attr::SERVER_ADDRESS), "gw.example");
    assert_eq!(i(&call, attr::SERVER_PORT), 8443);
    assert_eq!(i(&call, attr::HTTP_RESPONSE_STATUS_CODE), 200);
    assert_eq!(i(&call, attr::PAYMENT_ATTEMPT), 2);
    assert_eq!(s(&call, attr::PAYMENT_STATUS), "succeeded");
    assert!(i(&call, attr::PAYMENT_GATEWAY_LATENCY_MS) >= 0);
    assert_eq!(call.status, Status::Unset);
}

#[test]
fn card_number_is_borrowed_and_left_as_it_was_for_the_gateway() {
    let number = String::from("4111-1111-1111-1111");
    let card = PaymentMethod::card_from_number(&number).unwrap();
    assert_eq!(number, "4111-1111-1111-1111");
    assert_eq!(card.to_string(), "card visa ****1111");
}

#[test]
fn payment_records_the_customer_only_as_the_tracers_user_hash() {
    let h = harness();
    let hasher = std::sync::Arc::new(
        UserHasher::from_text("payment-test-key-of-at-least-32-bytes").unwrap(),
    );
    let tracer = h.tracer.clone().with_user_hasher(hasher.clone());
    let customer = tracer.user("customer-8812");
    tracer
        .start(PaymentProcess::new("order-1", usd(100)).user(&customer))
        .succeeded("ch_1");
    let payment = h.one(attr::PAYMENT_PROCESS);
    let expected = hasher.hash("customer-8812");
    assert_eq!(s(&payment, attr::USER_HASH), expected.hash());
    // Not the process-wide hasher's value: the tracer's key was used.
    assert_ne!(
        s(&payment, attr::USER_HASH),
        UserRef::new("customer-8812").hash()
    );
    let all = format!("{:?}", payment.attributes);
    assert!(!all.contains("customer-8812"), "{all}");
}

#[test]
fn one_decline_call_records_it_on_the_call_and_the_payment() {
    let h = harness();
    {
        let payment = h.tracer.start(PaymentProcess::new("order-1", usd(4_998)));
        let call = h.tracer.start_in(
            PaymentGatewayCall::new("stripe", "POST", "https://gw/c"),
            payment.context(),
        );
        call.response_status(402);
        payment.declined_by(
            call,
            DeclineCode::from_gateway_code("insufficient_funds"),
            "Insufficient funds on card 4111 1111 1111 1111",
        );
    }
    let spans = h.spans();
    assert_eq!(spans.len(), 2, "each span ends once");
    // The call, a child, ends first.
    assert_eq!(spans[0].name, attr::PAYMENT_GATEWAY_CALL);
    let (call, payment) = (&spans[0], &spans[1]);
    assert_eq!(call.parent_span_id, payment.span_context.span_id());
    for span in [call, payment] {
        assert_eq!(s(span, attr::PAYMENT_STATUS), "declined", "{}", span.name);
        assert_eq!(s(span, attr::PAYMENT_DECLINE_CODE), "insufficient_funds");
        assert_eq!(s(span, attr::PAYMENT_DECLINE_CLASS), "soft");
        assert_eq!(s(span, attr::ERROR_TYPE), "card_declined");
        assert_eq!(s(span, attr::FAILURE_KIND), "rejection");
        let Status::Error { description } = &span.status else {
            panic!("{:?}", span.status)
        };
        assert!(description.starts_with("Insufficient funds on card "));
        assert!(!description.contains("4111"), "{description}");
    }
    assert_eq!(i(call, attr::HTTP_RESPONSE_STATUS_CODE), 402);
    assert!(i(call, attr::PAYMENT_GATEWAY_LATENCY_MS) >= 0);
    assert!(attr(payment, attr::PAYMENT_GATEWAY_LATENCY_MS).is_none());
}

/// The one-line case: every method defaulted.
#[derive(Debug, thiserror::Error)]
#[error("ledger unavailable for jane@example.com")]
struct LedgerError;

impl ClassifyError for LedgerError {}

#[test]
fn a_one_line_classify_error_is_a_fault_named_after_its_type() {
    assert_eq!(LedgerError.error_type().as_str(), "spans::LedgerError");
    assert_eq!(LedgerError.failure_kind(), FailureKind::Fault);
    assert_eq!(LedgerError.exception_type(), "spans::LedgerError");
    let h = harness();
    h.tracer
        .start(OrderCreate::new("order-1"))
        .fail(&LedgerError);
    let order = h.one(attr::ORDER_CREATE);
    assert_eq!(s(&order, attr::ERROR_TYPE), "spans::LedgerError");
    assert_eq!(s(&order, attr::FAILURE_KIND), "fault");
    let exc = event(&order, attr::EXCEPTION_EVENT);
    assert_eq!(
        event_attr(exc, attr::EXCEPTION_TYPE).as_str(),
        "spans::LedgerError"
    );
    let msg = event_attr(exc, attr::EXCEPTION_MESSAGE)
        .as_str()
        .into_owned();
    assert!(msg.starts_with("ledger unavailable for "), "{msg}");
    assert!(!msg.contains("jane@"), "{msg}");
}

#[test]
fn declines_and_gateway_faults_are_classified() {
    let h = harness();
    {
        let soft = h
            .tracer
            .start(PaymentGatewayCall::new("stripe", "POST", "https://gw/c"));
        soft.response_status(402);
        soft.declined(
            DeclineCode::from_gateway_code("insufficient-funds"),
            "Insufficient funds on card 4111 1111 1111 1111 for jane@example.com",
        );
        let hard = h
            .tracer
            .start(PaymentGatewayCall::new("stripe", "POST", "https://gw/c"));
        hard.declined(DeclineCode::from_gateway_code("weird_new_code"), "nope");
        let down = h
            .tracer
            .start(PaymentGatewayCall::new("stripe", "POST", "https://gw/c"));
        down.response_status(503);
        drop(down);
        let slow = h
            .tracer
            .start(PaymentGatewayCall::new("stripe", "POST", "https://gw/c"));
        slow.timed_out();
    }
    let calls = h.spans();
    assert_eq!(calls.len(), 4);
    let (soft, hard, down, slow) = (&calls[0], &calls[1], &calls[2], &calls[3]);

    assert_eq!(s(soft, attr::PAYMENT_STATUS), "declined");
    assert_eq!(s(soft, attr::PAYMENT_DECLINE_CODE), "insufficient_funds");
    assert_eq!(s(soft, attr::PAYMENT_DECLINE_CLASS), "soft");
    assert_eq!(s(soft, attr::ERROR_TYPE), "card_declined");
    assert_eq!(s(soft, attr::FAILURE_KIND), "rejection");
    let Status::Error { description } = &soft.status else {
        panic!("{:?}", soft.status)
    };
    assert!(
        !description.contains("4111") && !description.contains("jane@"),
        "{description}"
    );
    let exc = event(soft, attr::EXCEPTION_EVENT);
    let msg = event_attr(exc, attr::EXCEPTION_MESSAGE)
        .as_str()
        .into_owned();
    assert!(msg.starts_with("Insufficient funds on card "), "{msg}");
    assert!(!msg.contains("4111") && !msg.contains("jane@"), "{msg}");

    assert_eq!(s(hard, attr::PAYMENT_DECLINE_CODE), "other");
    assert_eq!(s(hard, attr::PAYMENT_DECLINE_CLASS), "hard");

    assert_eq!(s(down, attr::ERROR_TYPE), "upstream_error");
    assert_eq!(s(down, attr::FAILURE_KIND), "fault");
    assert_eq!(i(down, attr::HTTP_RESPONSE_STATUS_CODE), 503);

    assert_eq!(s(slow, attr::ERROR_TYPE), "timeout");
    assert_eq!(s(slow, attr::PAYMENT_STATUS), "failed");
    assert!(matches!(slow.status, Status::Error { .. }));
}

#[test]
fn order_notification_and_db_spans() {
    let h = harness();
    {
        let order = h.tracer.start(OrderCreate::new("order-5"));
        let _g = order.enter();
        let q = h.tracer.start(
            DbQuery::new(db::SQLITE, "INSERT", "orders")
                .query("INSERT INTO orders (id, total) VALUES (?1, ?2)"),
        );
        drop(q);
        let n = h
            .tracer
            .start(NotificationSend::new("order-5", NotificationChannel::Sms));
        n.fail(&Failure::fault(ErrorType::UNAVAILABLE, "sms provider down"));
    }
    let order = h.one(attr::ORDER_CREATE);
    assert_eq!(s(&order, attr::ORDER_ID), "order-5");
    let q = h.one("INSERT orders");
    assert_eq!(q.span_kind, SpanKind::Client);
    assert_eq!(q.parent_span_id, order.span_context.span_id());
    assert_eq!(s(&q, attr::DB_SYSTEM_NAME), "sqlite");
    assert_eq!(s(&q, attr::DB_OPERATION_NAME), "INSERT");
    assert_eq!(s(&q, attr::DB_COLLECTION_NAME), "orders");
    assert_eq!(
        s(&q, attr::DB_QUERY_TEXT),
        "INSERT INTO orders (id, total) VALUES (?1, ?2)"
    );
    let n = h.one(attr::NOTIFICATION_SEND);
    assert_eq!(n.span_kind, SpanKind::Producer);
    assert_eq!(s(&n, attr::NOTIFICATION_CHANNEL), "sms");
    assert_eq!(s(&n, attr::ERROR_TYPE), "unavailable");
    assert_eq!(order.status, Status::Unset);
}

#[test]
fn only_the_first_failure_is_recorded_and_each_span_ends_once() {
    let h = harness();
    {
        // An HTTP 5xx fails the call in place; a later failure keeps it.
        let call = h
            .tracer
            .start(PaymentGatewayCall::new("stripe", "POST", "https://gw/c"));
        call.response_status(503);
        call.fail(&Failure::fault(ErrorType::TIMEOUT, "second"));
        // Every ending consumes its handle: the drop does not end it again.
        h.tracer.start(OrderCreate::new("o")).end();
        let failed = h.tracer.start(OrderCreate::new("o"));
        let _ = failed.record(Err::<(), _>(Failure::rejection(
            ErrorType::PRICE_MISMATCH,
            "first",
        )));
    }
    let spans = h.spans();
    assert_eq!(spans.len(), 3, "a span ended more than once");
    let call = h.one(attr::PAYMENT_GATEWAY_CALL);
    assert_eq!(s(&call, attr::ERROR_TYPE), "upstream_error");
    assert_eq!(
        call.status,
        Status::error("payment gateway answered HTTP 503")
    );
    assert_eq!(
        call.events
            .iter()
            .filter(|e| e.name == attr::EXCEPTION_EVENT)
            .count(),
        1
    );
    let orders: Vec<_> = spans
        .iter()
        .filter(|s| s.name == attr::ORDER_CREATE)
        .collect();
    assert_eq!(orders[0].status, Status::Unset);
    assert_eq!(s(orders[1], attr::ERROR_TYPE), "price_mismatch");
    assert_eq!(orders[1].status, Status::error("first"));
}

#[test]
fn unsampled_spans_record_nothing_and_cost_no_attributes() {
    use checkout_otel::opentelemetry_sdk::trace::Sampler;
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_sampler(Sampler::AlwaysOff)
        .with_simple_exporter(exporter.clone())
        .build();
    let tracer = CheckoutTracer::from_providers(&provider, &SdkMeterProvider::default());
    let user = UserRef::new("customer-1");
    let checkout = tracer.start(CheckoutProcess::new("c").user(&user).item_count(1));
    assert!(!checkout.is_recording());
    let outcome = checkout.finish(&Ok::<(), Failure>(()));
    assert_eq!(outcome.status, CheckoutStatus::Success);
    assert!(exporter.get_finished_spans().unwrap().is_empty());
}

/// Roots are started with their attributes in the builder while the
/// tracer's last root was sampled, and bare (attributes set afterwards, only
/// if recording) after an unsampled one. Whatever the guess, a recorded span
/// carries all its attributes and an unsampled one none, and a child of an
/// unsampled root is not recorded.
#[test]
fn sampling_guesses_never_lose_or_leak_attributes() {
    use checkout_otel::opentelemetry::KeyValue;
    use checkout_otel::opentelemetry::trace::{Link, TraceId, TraceState};
    use checkout_otel::opentelemetry_sdk::trace::{SamplingDecision, SamplingResult, ShouldSample};
    use std::sync::{Arc, Mutex};

    /// Samples roots by a script, children like their parent; remembers how
    /// many attributes each root decision saw.
    #[derive(Debug, Clone)]
    struct Script(Arc<Mutex<(Vec<bool>, Vec<usize>)>>);
    impl ShouldSample for Script {
        fn should_sample(
            &self,
            parent: Option<&Context>,
            _: TraceId,
            _: &str,
            _: &SpanKind,
            attributes: &[KeyValue],
            _: &[Link],
        ) -> SamplingResult {
            use checkout_otel::opentelemetry::trace::TraceContextExt as _;
            let parent_sc = parent.map(|cx| cx.span().span_context().clone());
            let sample = match parent_sc.filter(|sc| sc.is_valid()) {
                Some(sc) => sc.is_sampled(),
                None => {
                    let mut state = self.0.lock().unwrap();
                    state.1.push(attributes.len());
                    state.0.remove(0)
                }
            };
            SamplingResult {
                decision: if sample {
                    SamplingDecision::RecordAndSample
                } else {
                    SamplingDecision::Drop
                },
                attributes: Vec::new(),
                trace_state: TraceState::default(),
            }
        }
    }

    let script = Script(Arc::new(Mutex::new((
        vec![true, false, true, true],
        Vec::new(),
    ))));
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_sampler(script.clone())
        .with_simple_exporter(exporter.clone())
        .build();
    let tracer = CheckoutTracer::from_providers(&provider, &SdkMeterProvider::default());
    for order in ["o-1", "o-2", "o-3", "o-4"] {
        let span = tracer.start(PaymentProcess::new(order, usd(4_998)));
        let _in = span.enter();
        tracer.start(OrderCreate::new(order)).end();
        drop(_in);
        span.end();
    }
    let spans = exporter.get_finished_spans().unwrap();
    let mut recorded: Vec<(String, String)> = spans
        .iter()
        .map(|span| (span.name.to_string(), s(span, attr::ORDER_ID)))
        .collect();
    recorded.sort();
    assert_eq!(
        recorded,
        [
            ("order.create", "o-1"),
            ("order.create", "o-3"),
            ("order.create", "o-4"),
            ("payment.process", "o-1"),
            ("payment.process", "o-3"),
            ("payment.process", "o-4"),
        ]
        .map(|(n, o)| (n.to_owned(), o.to_owned()))
    );
    for span in spans.iter().filter(|s| s.name == attr::PAYMENT_PROCESS) {
        assert_eq!(span.attributes.len(), 4, "{:?}", span.attributes);
        assert_eq!(s(span, attr::PAYMENT_AMOUNT), "49.98");
    }
    // The guess: with the builder after a sampled root, bare after the
    // unsampled one, with the builder again once a root was sampled.
    assert_eq!(script.0.lock().unwrap().1, [4, 4, 0, 4]);
}

#[derive(Debug, thiserror::Error)]
enum CheckoutError {
    #[error("price changed for {0}")]
    StalePrice(String),
    #[error("out of stock")]
    OutOfStock,
    #[error("declined: {0}")]
    Declined(String),
    #[error("gateway timeout")]
    GatewayTimeout,
    #[error("order db down")]
    Database,
}

impl ClassifyError for CheckoutError {
    fn error_type(&self) -> ErrorType {
        match self {
            CheckoutError::StalePrice(_) => ErrorType::PRICE_MISMATCH,
            CheckoutError::OutOfStock => ErrorType::INSUFFICIENT_STOCK,
            CheckoutError::Declined(_) => ErrorType::CARD_DECLINED,
            CheckoutError::GatewayTimeout => ErrorType::TIMEOUT,
            CheckoutError::Database => ErrorType::DATABASE,
        }
    }
    fn failure_kind(&self) -> FailureKind {
        match self {
            CheckoutError::GatewayTimeout | CheckoutError::Database => FailureKind::Fault,
            _ => FailureKind::Rejection,
        }
    }
}

async fn run_checkout(
    tracer: &CheckoutTracer,
    fail_at: Option<(CheckoutStep, CheckoutError)>,
) -> CheckoutOutcome {
    let user = UserRef::new("customer-42");
    let checkout = tracer.start(
        CheckoutProcess::new("cart-1")
            .user(&user)
            .item_count(2)
            .total(usd(2_500))
            .server(),
    );
    let mut fail_at = fail_at;
    let mut step_result = |step: CheckoutStep| match &fail_at {
        Some((s, _)) if *s == step => Err(fail_at.take().unwrap().1),
        _ => Ok(()),
    };
    let r1 = step_result(CheckoutStep::ValidatingCart);
    let r2 = step_result(CheckoutStep::ReservingInventory);
    let r3 = step_result(CheckoutStep::ProcessingPayment);
    let r4 = step_result(CheckoutStep::CreatingOrder);
    let result = async {
        checkout
            .step(CheckoutStep::ValidatingCart, async {
                let span = tracer.start(CartValidate::new("cart-1"));
                span.record(r1)
            })
            .await?;
        checkout
            .step(CheckoutStep::ReservingInventory, async { r2 })
            .await?;
        checkout
            .step(CheckoutStep::ProcessingPayment, async { r3 })
            .await?;
        checkout
            .step(CheckoutStep::CreatingOrder, async { r4 })
            .await?;
        checkout.set_order_id("order-1");
        Ok::<_, CheckoutError>(())
    }
    .await;
    checkout.finish(&result)
}

#[tokio::test]
async fn step_tracking_records_failure_step_and_error_type_for_each_failure() {
    let cases = [
        (None, CheckoutStatus::Success, None, None),
        (
            Some((
                CheckoutStep::ValidatingCart,
                CheckoutError::StalePrice("sku-1".into()),
            )),
            CheckoutStatus::Rejected,
            Some(CheckoutStep::ValidatingCart),
            Some("price_mismatch"),
        ),
        (
            Some((CheckoutStep::ReservingInventory, CheckoutError::OutOfStock)),
            CheckoutStatus::Rejected,
            Some(CheckoutStep::ReservingInventory),
            Some("insufficient_stock"),
        ),
        (
            Some((
                CheckoutStep::ProcessingPayment,
                CheckoutError::Declined("card 4000 0000 0000 0002 declined".into()),
            )),
            CheckoutStatus::Rejected,
            Some(CheckoutStep::ProcessingPayment),
            Some("card_declined"),
        ),
        (
            Some((
                CheckoutStep::ProcessingPayment,
                CheckoutError::GatewayTimeout,
            )),
            CheckoutStatus::Failed,
            Some(CheckoutStep::ProcessingPayment),
            Some("timeout"),
        ),
        (
            Some((CheckoutStep::CreatingOrder, CheckoutError::Database)),
            CheckoutStatus::Failed,
            Some(CheckoutStep::CreatingOrder),
            Some("database"),
        ),
    ];
    for (fail_at, status, failure_step, error_type) in cases {
        let h = harness();
        let outcome = run_checkout(&h.tracer, fail_at).await;
        assert_eq!(outcome.status, status);
        assert_eq!(outcome.failure_step, failure_step);
        assert_eq!(outcome.error_type.map(|e| e.as_str()), error_type);

        let root = h.one(attr::CHECKOUT_PROCESS);
        assert_eq!(root.span_kind, SpanKind::Server);
        assert_eq!(s(&root, attr::CART_ID), "cart-1");
        assert_eq!(i(&root, attr::CHECKOUT_ITEM_COUNT), 2);
        assert_eq!(s(&root, attr::CHECKOUT_TOTAL), "25.00");
        assert_eq!(i(&root, attr::CHECKOUT_TOTAL_MINOR), 2_500);
        assert_eq!(s(&root, attr::CHECKOUT_CURRENCY), "USD");
        assert!(attr(&root, attr::USER_HASH).is_some());
        assert_eq!(s(&root, attr::CHECKOUT_STATUS), status.as_str());
        let cart = h.one(attr::CART_VALIDATE);
        assert_eq!(cart.parent_span_id, root.span_context.span_id());
        match failure_step {
            None => {
                assert_eq!(s(&root, attr::CHECKOUT_STEP), "complete");
                assert!(attr(&root, attr::CHECKOUT_FAILURE_STEP).is_none());
                assert!(attr(&root, attr::ERROR_TYPE).is_none());
                assert_eq!(root.status, Status::Unset);
                assert_eq!(s(&root, attr::ORDER_ID), "order-1");
                let names: Vec<_> = root.events.iter().map(|e| e.name.to_string()).collect();
                assert_eq!(
                    names,
                    [
                        attr::EVENT_CART_VALIDATED,
                        attr::EVENT_INVENTORY_RESERVED,
                        attr::EVENT_PAYMENT_PROCESSED,
                        attr::EVENT_ORDER_CREATED
                    ]
                );
                assert!(outcome.steps.iter().all(|r| r.status == StepStatus::Ok));
                assert_eq!(outcome.steps.len(), 4);
            }
            Some(step) => {
                assert_eq!(s(&root, attr::CHECKOUT_FAILURE_STEP), step.as_str());
                assert_eq!(s(&root, attr::CHECKOUT_STEP), step.as_str());
                assert_eq!(s(&root, attr::ERROR_TYPE), error_type.unwrap());
                let Status::Error { description } = &root.status else {
                    panic!("{:?}", root.status)
                };
                assert!(!description.contains("4000 0000"), "{description}");
                let last = outcome.steps.last().unwrap();
                assert_eq!(last.step, step);
                let expected = if status == CheckoutStatus::Rejected {
                    StepStatus::Rejected
                } else {
                    StepStatus::Failed
                };
                assert_eq!(last.status, expected);
                // A milestone for each step before the failed one, none after.
                let milestones = root
                    .events
                    .iter()
                    .filter(|e| e.name != attr::EXCEPTION_EVENT)
                    .count();
                assert_eq!(milestones, outcome.steps.len() - 1, "{:?}", root.events);
                assert_eq!(
                    root.events
                        .iter()
                        .filter(|e| e.name == attr::EXCEPTION_EVENT)
                        .count(),
                    1
                );
            }
        }
    }
}

#[tokio::test]
async fn dropped_checkout_is_recorded_as_cancelled_in_its_step() {
    let h = harness();
    {
        let checkout = h.tracer.start(CheckoutProcess::new("cart-x"));
        checkout
            .step(CheckoutStep::ValidatingCart, async { Ok::<_, Failure>(()) })
            .await
            .unwrap();
        let never = checkout.step(
            CheckoutStep::ProcessingPayment,
            std::future::pending::<Result<(), Failure>>(),
        );
        // The request is cancelled while the payment step runs.
        let _ = tokio::time::timeout(std::time::Duration::from_millis(5), never).await;
        assert_eq!(checkout.current_step(), CheckoutStep::ProcessingPayment);
    }
    let root = h.one(attr::CHECKOUT_PROCESS);
    assert_eq!(s(&root, attr::ERROR_TYPE), "cancelled");
    assert_eq!(s(&root, attr::CHECKOUT_FAILURE_STEP), "processing_payment");
    assert_eq!(s(&root, attr::CHECKOUT_STATUS), "failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_checkouts_keep_their_own_traces() {
    let h = harness();
    let mut tasks = Vec::new();
    for n in 0..100 {
        let tracer = h.tracer.clone();
        tasks.push(tokio::spawn(async move {
            let cart_id = format!("cart-{n}");
            let checkout = tracer.start(CheckoutProcess::new(&cart_id).item_count(1));
            let result = checkout
                .step(CheckoutStep::ReservingInventory, async {
                    let batch = tracer.start(InventoryReserveBatch::new(1));
                    let batch_cx = batch.context().clone();
                    batch
                        .run(async {
                            tokio::task::yield_now().await;
                            // A spawned task continues the trace through its context.
                            let t = tracer.clone();
                            tokio::spawn(
                                async move {
                                    tokio::task::yield_now().await;
                                    let item = t.start(InventoryReserveItem::new("sku", 1));
                                    tokio::task::yield_now().await;
                                    item.reserved("r");
                                }
                                .with_parent(batch_cx),
                            )
                            .await
                            .unwrap();
                        })
                        .await;
                    Ok::<_, Failure>(())
                })
                .await;
            let trace = checkout.trace_id();
            checkout.finish(&result);
            (cart_id, trace)
        }));
    }
    let mut expected = std::collections::HashMap::new();
    for t in tasks {
        let (cart, trace) = t.await.unwrap();
        expected.insert(trace, cart);
    }
    assert_eq!(expected.len(), 100, "trace ids must be distinct");
    let spans = h.spans();
    assert_eq!(spans.len(), 300);
    let by_id: std::collections::HashMap<_, _> = spans
        .iter()
        .map(|s| (s.span_context.span_id(), s))
        .collect();
    for span in &spans {
        let trace = span.span_context.trace_id();
        assert!(expected.contains_key(&trace));
        match span.name.as_ref() {
            attr::CHECKOUT_PROCESS => assert_eq!(s(span, attr::CART_ID), expected[&trace]),
            attr::INVENTORY_RESERVE_BATCH => {
                let parent = by_id[&span.parent_span_id];
                assert_eq!(parent.name, attr::CHECKOUT_PROCESS);
                assert_eq!(parent.span_context.trace_id(), trace);
            }
            attr::INVENTORY_RESERVE_ITEM => {
                let parent = by_id[&span.parent_span_id];
                assert_eq!(parent.name, attr::INVENTORY_RESERVE_BATCH);
                assert_eq!(parent.span_context.trace_id(), trace);
            }
            other => panic!("unexpected span {other}"),
        }
    }
}

trait WithParent: Sized {
    fn with_parent(self, cx: Context) -> checkout_otel::opentelemetry::trace::WithContext<Self>;
}
impl<F: std::future::Future> WithParent for F {
    fn with_parent(self, cx: Context) -> checkout_otel::opentelemetry::trace::WithContext<Self> {
        use checkout_otel::opentelemetry::trace::FutureExt;
        self.with_context(cx)
    }
}

#[tokio::test]
async fn instrumented_notification_ends_when_its_work_ends() {
    let h = harness();
    let checkout = h.tracer.start(CheckoutProcess::new("c"));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = {
        let _g = checkout.enter();
        let span = h
            .tracer
            .start(NotificationSend::new("o", NotificationChannel::Email));
        tokio::spawn(span.instrument_result(async move {
            rx.await.ok();
            Err::<(), _>(Failure::fault(
                ErrorType::UNAVAILABLE,
                "smtp down for bob@example.com",
            ))
        }))
    };
    let outcome = checkout.finish(&Ok::<(), Failure>(()));
    assert_eq!(outcome.status, CheckoutStatus::Success);
    assert!(
        h.spans().iter().all(|s| s.name != attr::NOTIFICATION_SEND),
        "notification span ended before its work"
    );
    tx.send(()).unwrap();
    let _ = task.await.unwrap();
    let n = h.one(attr::NOTIFICATION_SEND);
    let root = h.one(attr::CHECKOUT_PROCESS);
    assert_eq!(n.parent_span_id, root.span_context.span_id());
    assert_eq!(n.span_context.trace_id(), root.span_context.trace_id());
    assert_eq!(
        root.status,
        Status::Unset,
        "notification must not fail the checkout"
    );
}

#[test]
fn item_count_learnt_mid_checkout_is_recorded_once_at_the_end() {
    let h = harness();
    let checkout = h.tracer.start(CheckoutProcess::new("cart-late"));
    checkout.set_item_count(12);
    checkout.finish(&Ok::<(), Failure>(()));
    let root = h.one(attr::CHECKOUT_PROCESS);
    assert_eq!(i(&root, attr::CHECKOUT_ITEM_COUNT), 12);

    let h = harness();
    let checkout = h.tracer.start(CheckoutProcess::new("cart-unknown"));
    checkout.finish(&Ok::<(), Failure>(()));
    assert!(attr(&h.one(attr::CHECKOUT_PROCESS), attr::CHECKOUT_ITEM_COUNT).is_none());
}
