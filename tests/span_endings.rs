//! Every way to end a span handle goes through the handle's own ending: what
//! it records at its end (the gateway latency, `cart.stale_prices`, the
//! checkout's status and metrics, a shortfall) is recorded exactly once,
//! whichever way the span ends, and the span itself ends once.

mod common;

use checkout_otel::attributes::{self as attr, DeclineCode, ErrorType};
use checkout_otel::opentelemetry::Value;
use checkout_otel::opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use checkout_otel::pii::{Currency, Money};
use checkout_otel::spans::{
    CartVerifyPrices, CheckoutProcess, CheckoutTracer, Failure, InventoryReserveItem,
    PaymentGatewayCall, PaymentProcess,
};
use common::meter::MeterProbe;

struct Harness {
    exporter: InMemorySpanExporter,
    _provider: SdkTracerProvider,
    meter: MeterProbe,
    tracer: CheckoutTracer,
}

fn harness() -> Harness {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let meter = MeterProbe::new();
    let tracer = CheckoutTracer::from_providers(&provider, meter.provider());
    Harness {
        exporter,
        _provider: provider,
        meter,
        tracer,
    }
}

impl Harness {
    fn spans(&self, name: &str) -> Vec<SpanData> {
        let spans = self.exporter.get_finished_spans().unwrap();
        spans.into_iter().filter(|s| s.name == name).collect()
    }
}

/// The values `key` has on `span`, in the order they were set.
fn values(span: &SpanData, key: &str) -> Vec<Value> {
    span.attributes
        .iter()
        .filter(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.clone())
        .collect()
}

/// How many `name` events `span` has.
fn events(span: &SpanData, name: &str) -> usize {
    span.events.iter().filter(|e| e.name == name).count()
}

fn fault(message: &'static str) -> Failure {
    Failure::fault(ErrorType::TIMEOUT, message)
}

#[tokio::test]
async fn gateway_latency_is_recorded_once_whichever_way_the_call_ends() {
    let h = harness();
    let call = || {
        h.tracer.start(PaymentGatewayCall::new(
            "psp",
            "POST",
            "https://psp.example/v1/charges",
        ))
    };
    // Succeeded: nothing failed.
    call().end();
    drop(call());
    let _ = call().record(Ok::<_, Failure>(()));
    call().instrument(async {}).await;
    call().succeeded("ch_1");
    // Failed.
    call().fail(&fault("fail"));
    let _ = call().record(Err::<(), _>(fault("record")));
    let _ = call()
        .instrument_result(async { Err::<(), _>(fault("instrument_result")) })
        .await;
    call().timed_out();
    let upstream = call();
    upstream.response_status(503);
    upstream.end();
    // Declined, alone and together with its payment.
    call().declined(DeclineCode::InsufficientFunds, "insufficient funds");
    let payment = h.tracer.start(PaymentProcess::new(
        "ord-1",
        Money::from_minor(4_998, Currency::EUR),
    ));
    payment.declined_by(call(), DeclineCode::DoNotHonor, "do not honor");

    let payments = h.spans(attr::PAYMENT_PROCESS);
    assert_eq!(payments.len(), 1, "the payment ends exactly once");
    assert_eq!(
        values(&payments[0], attr::PAYMENT_DECLINE_CODE),
        [Value::from("do_not_honor")]
    );
    assert_eq!(events(&payments[0], attr::EXCEPTION_EVENT), 1);
    let spans = h.spans(attr::PAYMENT_GATEWAY_CALL);
    assert_eq!(spans.len(), 12, "each call ends exactly once");
    for span in &spans {
        assert_eq!(
            values(span, attr::PAYMENT_GATEWAY_LATENCY_MS).len(),
            1,
            "{:?}",
            span.attributes
        );
        assert!(
            events(span, attr::EXCEPTION_EVENT) <= 1,
            "{:?}",
            span.events
        );
    }
    let gateway = attr::METRIC_PAYMENT_GATEWAY_DURATION;
    assert_eq!(h.meter.total(gateway, &[]), 12);
    assert_eq!(
        h.meter
            .total(gateway, &[(attr::PAYMENT_STATUS, "succeeded")]),
        5
    );
    assert_eq!(
        h.meter.total(gateway, &[(attr::PAYMENT_STATUS, "failed")]),
        5
    );
    assert_eq!(
        h.meter
            .total(gateway, &[(attr::PAYMENT_STATUS, "declined")]),
        2
    );
    assert_eq!(h.meter.total(attr::METRIC_PAYMENT_DECLINES, &[]), 2);
}

#[tokio::test]
async fn stale_prices_are_recorded_once_whichever_way_verification_ends() {
    let h = harness();
    let usd = |minor| Money::from_minor(minor, Currency::USD);
    let verify = || {
        let span = h.tracer.start(CartVerifyPrices::new(2));
        span.price_mismatch("sku-1", usd(1_000), usd(1_250));
        span.price_mismatch("sku-2", usd(500), usd(450));
        span
    };
    verify().end();
    drop(verify());
    verify().fail(&Failure::rejection(ErrorType::PRICE_MISMATCH, "stale"));
    let _ = verify().record(Err::<(), _>(Failure::rejection(
        ErrorType::PRICE_MISMATCH,
        "stale",
    )));
    verify().instrument(async {}).await;
    let _ = verify()
        .instrument_result(async { Ok::<_, Failure>(()) })
        .await;

    let spans = h.spans(attr::CART_VERIFY_PRICES);
    assert_eq!(spans.len(), 6, "each verification ends exactly once");
    for span in &spans {
        assert_eq!(values(span, attr::CART_STALE_PRICES), [Value::I64(2)]);
        assert_eq!(events(span, attr::EVENT_PRICE_MISMATCH), 2);
    }
}

#[tokio::test]
async fn a_checkout_records_its_outcome_once_however_it_ends() {
    let h = harness();
    let succeeded = h
        .tracer
        .start(CheckoutProcess::new("cart-ok").item_count(1));
    succeeded.finish(&Ok::<(), Failure>(()));
    let rejected = h
        .tracer
        .start(CheckoutProcess::new("cart-rejected").item_count(1));
    rejected.finish(&Err::<(), _>(Failure::rejection(
        ErrorType::CARD_DECLINED,
        "declined",
    )));
    // A cancelled request drops its checkout unfinished.
    drop(
        h.tracer
            .start(CheckoutProcess::new("cart-cancelled").item_count(1)),
    );

    let roots = h.spans(attr::CHECKOUT_PROCESS);
    assert_eq!(roots.len(), 3, "each checkout ends exactly once");
    let status = |cart: &str| {
        let root = roots
            .iter()
            .find(|s| values(s, attr::CART_ID) == [Value::from(cart.to_owned())])
            .unwrap();
        assert!(
            events(root, attr::EXCEPTION_EVENT) <= 1,
            "{:?}",
            root.events
        );
        let status = values(root, attr::CHECKOUT_STATUS);
        assert_eq!(status.len(), 1, "{:?}", root.attributes);
        assert_eq!(values(root, attr::CHECKOUT_STEP).len(), 1);
        status[0].as_str().into_owned()
    };
    assert_eq!(status("cart-ok"), "success");
    assert_eq!(status("cart-rejected"), "rejected");
    assert_eq!(status("cart-cancelled"), "failed");

    let completed = attr::METRIC_CHECKOUT_COMPLETED;
    assert_eq!(h.meter.total(completed, &[]), 3);
    assert_eq!(
        h.meter
            .total(completed, &[(attr::CHECKOUT_STATUS, "success")]),
        1
    );
    assert_eq!(
        h.meter.total(
            completed,
            &[
                (attr::CHECKOUT_STATUS, "rejected"),
                (attr::ERROR_TYPE, "card_declined")
            ]
        ),
        1
    );
    assert_eq!(
        h.meter.total(
            completed,
            &[
                (attr::CHECKOUT_STATUS, "failed"),
                (attr::ERROR_TYPE, "cancelled")
            ]
        ),
        1
    );
    assert_eq!(h.meter.total(attr::METRIC_CHECKOUT_DURATION, &[]), 3);
}

#[test]
fn a_shortfall_concludes_the_item_and_is_counted_once() {
    let h = harness();
    let item = h.tracer.start(InventoryReserveItem::new("sku-9", 5));
    item.insufficient_stock(1);

    let spans = h.spans(attr::INVENTORY_RESERVE_ITEM);
    assert_eq!(spans.len(), 1);
    assert_eq!(values(&spans[0], attr::ERROR_TYPE).len(), 1);
    assert_eq!(events(&spans[0], attr::EXCEPTION_EVENT), 1);
    assert_eq!(h.meter.total(attr::METRIC_INVENTORY_SHORTFALLS, &[]), 1);
}
