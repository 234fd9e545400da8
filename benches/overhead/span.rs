//! One span with its attributes: `payment.process` (CLIENT) with its seven
//! start attributes, started as a root and ended at once.

use checkout_otel::attributes as attr;
use checkout_otel::opentelemetry::KeyValue;
use checkout_otel::opentelemetry::trace::{Span as _, SpanKind, Tracer as _};
use checkout_otel::opentelemetry_sdk::trace::SdkTracer;
use checkout_otel::pii::{Currency, Money, PaymentMethod};
use checkout_otel::spans::{CheckoutTracer, PaymentProcess};

/// What the caller has at hand: the crate's typed values...
pub struct Inputs {
    pub order_id: String,
    pub amount: Money,
    pub card: PaymentMethod,
    /// ... and the plain values a hand-written version works from.
    pub amount_minor: i64,
    pub currency: &'static str,
    pub card_brand: &'static str,
    pub card_last4: String,
}

impl Inputs {
    pub fn new() -> Self {
        Inputs {
            order_id: "order-7f3a9c21".to_owned(),
            amount: Money::from_minor(4_998, Currency::USD),
            card: PaymentMethod::card_from_number("4242 4242 4242 4242")
                .expect("a valid test card"),
            amount_minor: 4_998,
            currency: "USD",
            card_brand: "visa",
            card_last4: "4242".to_owned(),
        }
    }
}

/// The crate's helper.
pub fn with_crate(tracer: &CheckoutTracer, i: &Inputs) {
    let span = tracer.start(PaymentProcess::new(&i.order_id, i.amount).method(&i.card));
    span.end();
}

/// The same span by hand on the OpenTelemetry API, its attributes given at
/// the start (where a sampler could read them): the sampled group's raw side.
pub fn raw(tracer: &SdkTracer, i: &Inputs) {
    let mut span = tracer
        .span_builder(attr::PAYMENT_PROCESS)
        .with_kind(SpanKind::Client)
        .with_attributes(attributes(i))
        .start(tracer);
    span.end();
}

/// The same span as an expert writes it where most spans are not sampled
/// (and as the SDK's own benches do): started first, its attributes built
/// only when it records. The raw side of the unsampled and disabled groups.
pub fn raw_recording_first(tracer: &SdkTracer, i: &Inputs) {
    let mut span = tracer
        .span_builder(attr::PAYMENT_PROCESS)
        .with_kind(SpanKind::Client)
        .start(tracer);
    if span.is_recording() {
        span.set_attributes(attributes(i));
    }
    span.end();
}

/// The span's seven start attributes, from the plain values.
fn attributes(i: &Inputs) -> [KeyValue; 7] {
    [
        KeyValue::new(attr::ORDER_ID, i.order_id.clone()),
        KeyValue::new(attr::PAYMENT_AMOUNT, decimal(i.amount_minor)),
        KeyValue::new(attr::PAYMENT_AMOUNT_MINOR, i.amount_minor),
        KeyValue::new(attr::PAYMENT_CURRENCY, i.currency),
        KeyValue::new(attr::PAYMENT_METHOD_TYPE, "card"),
        KeyValue::new(attr::PAYMENT_CARD_BRAND, i.card_brand),
        KeyValue::new(attr::PAYMENT_CARD_LAST4, i.card_last4.clone()),
    ]
}

/// The same span through `tracing` and tracing-opentelemetry.
pub fn via_tracing(i: &Inputs) {
    let span = tracing::info_span!(
        "payment.process",
        otel.kind = "client",
        order.id = %i.order_id,
        payment.amount = %Decimal(i.amount_minor),
        payment.amount_minor = i.amount_minor,
        payment.currency = i.currency,
        payment.method_type = "card",
        payment.card.brand = i.card_brand,
        payment.card.last4 = %i.card_last4,
    );
    drop(span);
}

/// A hand-written decimal amount (two decimals, as for USD).
pub fn decimal(minor: i64) -> String {
    Decimal(minor).to_string()
}

/// Formats minor units as a two-decimal amount without a temporary string.
pub struct Decimal(pub i64);

impl std::fmt::Display for Decimal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", abs / 100, abs % 100)
    }
}
