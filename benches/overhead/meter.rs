//! The meter for one checkout: its four step durations, the gateway round
//! trip, the checkout's duration and its completion count.

use std::time::Duration;

use checkout_otel::attributes::{
    self as attr, CheckoutStatus, CheckoutStep, DeclineCode, ErrorType, PaymentStatus, StepStatus,
};
use checkout_otel::init::Telemetry;
use checkout_otel::metrics::{CheckoutMetrics, DURATION_BOUNDARIES_SECONDS};
use checkout_otel::opentelemetry::KeyValue;
use checkout_otel::opentelemetry::metrics::{Counter, Histogram, Meter, MeterProvider as _};
use checkout_otel::opentelemetry_sdk::metrics::{
    InMemoryMetricExporter, PeriodicReader, SdkMeterProvider,
};
use checkout_otel::testing::TestTelemetry;
use tracing_subscriber::layer::SubscriberExt as _;

/// A meter provider whose reader never fires during a run (the aggregation
/// on the recording path is what is measured, not the export).
pub fn provider() -> SdkMeterProvider {
    let reader = PeriodicReader::builder(InMemoryMetricExporter::default())
        .with_interval(Duration::from_secs(3600))
        .build();
    SdkMeterProvider::builder().with_reader(reader).build()
}

/// The durations of one checkout.
pub struct Durations {
    pub validate: Duration,
    pub reserve: Duration,
    pub payment: Duration,
    pub gateway: Duration,
    pub order: Duration,
    pub total: Duration,
    pub item_count: u64,
}

impl Durations {
    pub fn new() -> Self {
        Durations {
            validate: Duration::from_millis(8),
            reserve: Duration::from_millis(31),
            payment: Duration::from_millis(640),
            gateway: Duration::from_millis(610),
            order: Duration::from_millis(12),
            total: Duration::from_millis(705),
            item_count: 2,
        }
    }
}

/// The crate's meter.
pub fn with_crate(m: &CheckoutMetrics, d: &Durations) {
    m.record_step(CheckoutStep::ValidatingCart, StepStatus::Ok, d.validate);
    m.record_step(CheckoutStep::ReservingInventory, StepStatus::Ok, d.reserve);
    m.record_gateway_call(d.gateway, PaymentStatus::Succeeded);
    m.record_step(CheckoutStep::ProcessingPayment, StepStatus::Ok, d.payment);
    m.record_step(CheckoutStep::CreatingOrder, StepStatus::Ok, d.order);
    m.record_checkout(CheckoutStatus::Success, d.item_count, d.total, None);
}

/// The same instruments by hand: same names, units and buckets.
pub struct RawInstruments {
    completed: Counter<u64>,
    duration: Histogram<f64>,
    step_duration: Histogram<f64>,
    gateway_duration: Histogram<f64>,
}

impl RawInstruments {
    pub fn new(meter: &Meter) -> Self {
        let histogram = |name: &'static str| {
            meter
                .f64_histogram(name)
                .with_unit("s")
                .with_boundaries(DURATION_BOUNDARIES_SECONDS.to_vec())
                .build()
        };
        RawInstruments {
            completed: meter
                .u64_counter(attr::METRIC_CHECKOUT_COMPLETED)
                .with_unit("{checkout}")
                .build(),
            duration: histogram(attr::METRIC_CHECKOUT_DURATION),
            step_duration: histogram(attr::METRIC_CHECKOUT_STEP_DURATION),
            gateway_duration: histogram(attr::METRIC_PAYMENT_GATEWAY_DURATION),
        }
    }
}

/// One step's duration, recorded by hand.
pub fn raw_step(r: &RawInstruments, step: &'static str, d: Duration) {
    r.step_duration.record(
        d.as_secs_f64(),
        &[
            KeyValue::new(attr::CHECKOUT_STEP, step),
            KeyValue::new(attr::STEP_STATUS, "ok"),
        ],
    );
}

/// The gateway round trip, recorded by hand.
pub fn raw_gateway(r: &RawInstruments, d: Duration) {
    r.gateway_duration.record(
        d.as_secs_f64(),
        &[KeyValue::new(attr::PAYMENT_STATUS, "succeeded")],
    );
}

/// A successful checkout's duration and count, recorded by hand.
pub fn raw_checkout(r: &RawInstruments, item_count: u64, d: Duration) {
    let bucket = if item_count > 10 { "large" } else { "small" };
    r.duration.record(
        d.as_secs_f64(),
        &[
            KeyValue::new(attr::CHECKOUT_STATUS, "success"),
            KeyValue::new(attr::CHECKOUT_ITEM_COUNT_BUCKET, bucket),
        ],
    );
    r.completed
        .add(1, &[KeyValue::new(attr::CHECKOUT_STATUS, "success")]);
}

/// Hand-written recording on the raw instruments.
pub fn raw(r: &RawInstruments, d: &Durations) {
    raw_step(r, "validating_cart", d.validate);
    raw_step(r, "reserving_inventory", d.reserve);
    raw_gateway(r, d.gateway);
    raw_step(r, "processing_payment", d.payment);
    raw_step(r, "creating_order", d.order);
    raw_checkout(r, d.item_count, d.total);
}

/// The subscriber a `tracing` user records metrics through.
pub fn subscriber(provider: SdkMeterProvider) -> impl tracing::Subscriber + Send + Sync {
    tracing_subscriber::registry().with(tracing_opentelemetry::MetricsLayer::new(provider))
}

/// The same measurements as tracing-opentelemetry metric events (it cannot
/// set units or bucket boundaries: its histograms use the SDK's defaults).
pub fn via_tracing(d: &Durations) {
    tracing::info!(
        histogram.checkout.step.duration = d.validate.as_secs_f64(),
        checkout.step = "validating_cart",
        step.status = "ok"
    );
    tracing::info!(
        histogram.checkout.step.duration = d.reserve.as_secs_f64(),
        checkout.step = "reserving_inventory",
        step.status = "ok"
    );
    tracing::info!(
        histogram.checkout.payment.gateway.duration = d.gateway.as_secs_f64(),
        payment.status = "succeeded"
    );
    tracing::info!(
        histogram.checkout.step.duration = d.payment.as_secs_f64(),
        checkout.step = "processing_payment",
        step.status = "ok"
    );
    tracing::info!(
        histogram.checkout.step.duration = d.order.as_secs_f64(),
        checkout.step = "creating_order",
        step.status = "ok"
    );
    let bucket = if d.item_count > 10 { "large" } else { "small" };
    tracing::info!(
        histogram.checkout.duration = d.total.as_secs_f64(),
        checkout.status = "success",
        checkout.item_count_bucket = bucket
    );
    tracing::info!(
        monotonic_counter.checkout.completed = 1_u64,
        checkout.status = "success"
    );
}

/// The crate's meter on its own provider.
pub fn crate_metrics(provider: &SdkMeterProvider) -> CheckoutMetrics {
    CheckoutMetrics::from_provider(provider)
}

/// Raw instruments on their own provider.
pub fn raw_instruments(provider: &SdkMeterProvider) -> RawInstruments {
    RawInstruments::new(&provider.meter("bench-raw"))
}

/// A test kit whose meter holds what a busy service exports: every step with
/// every status, every checkout outcome in both item-count buckets, every
/// gateway status and every decline code. `redaction` switches the exit
/// check, the only difference between the two sides of `metric_export`.
pub fn export_kit(redaction: bool) -> TestTelemetry {
    let kit = TestTelemetry::from_builder(
        Telemetry::builder("bench")
            .with_env(Vec::<(String, String)>::new())
            .redaction(redaction),
    )
    .expect("a bench set-up");
    let m = kit.tracer().metrics().clone();
    let d = Duration::from_millis(12);
    for &step in CheckoutStep::ALL {
        for &status in StepStatus::ALL {
            m.record_step(step, status, d);
        }
    }
    for &status in CheckoutStatus::ALL {
        for items in [2, 20] {
            m.record_checkout(status, items, d, Some(ErrorType::CARD_DECLINED));
        }
    }
    for &status in PaymentStatus::ALL {
        m.record_gateway_call(d, status);
    }
    for &code in DeclineCode::ALL {
        m.record_decline(code);
    }
    m.record_inventory_shortfall(1);
    kit
}

/// One export of everything `kit` holds (cumulative: every export carries
/// every point), read back as a collector would receive it.
pub fn export(kit: &TestTelemetry) -> usize {
    kit.metrics().all().len()
}
