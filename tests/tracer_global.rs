//! `CheckoutTracer::global()` records the same spans and checkout metrics as
//! a guard's tracer, under the crate's one instrumentation scope. Its own
//! binary: it installs the global tracer and meter providers.

mod common;

use checkout_otel::attributes::{self as attr, CheckoutStep, DeclineCode};
use checkout_otel::opentelemetry::global;
use checkout_otel::opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use checkout_otel::spans::{CheckoutProcess, CheckoutTracer, Failure, PaymentGatewayCall};
use common::meter::MeterProbe;

#[tokio::test]
async fn global_tracer_records_spans_and_the_checkout_metrics_under_one_scope() {
    let exporter = InMemorySpanExporter::default();
    let tracer_provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let meter = MeterProbe::new();
    global::set_tracer_provider(tracer_provider.clone());
    global::set_meter_provider(meter.provider().clone());

    let tracer = CheckoutTracer::global();
    let checkout = tracer.start(CheckoutProcess::new("cart-1").item_count(2));
    let result = checkout
        .step(CheckoutStep::ProcessingPayment, async {
            let call = tracer.start(PaymentGatewayCall::new(
                "psp",
                "POST",
                "https://psp.example/v1/charges",
            ));
            call.declined(DeclineCode::InsufficientFunds, "insufficient funds");
            Err::<(), _>(Failure::rejection(
                checkout_otel::attributes::ErrorType::CARD_DECLINED,
                "declined",
            ))
        })
        .await;
    let outcome = checkout.finish(&result);
    assert_eq!(outcome.failure_step, Some(CheckoutStep::ProcessingPayment));

    let spans = exporter.get_finished_spans().unwrap();
    let mut names: Vec<_> = spans.iter().map(|s| s.name.to_string()).collect();
    names.sort();
    assert_eq!(names, [attr::CHECKOUT_PROCESS, attr::PAYMENT_GATEWAY_CALL]);

    assert_eq!(
        meter.total(
            attr::METRIC_CHECKOUT_COMPLETED,
            &[
                (attr::CHECKOUT_STATUS, "rejected"),
                (attr::ERROR_TYPE, "card_declined")
            ]
        ),
        1
    );
    assert_eq!(meter.total(attr::METRIC_CHECKOUT_DURATION, &[]), 1);
    assert_eq!(
        meter.total(
            attr::METRIC_CHECKOUT_STEP_DURATION,
            &[
                (attr::CHECKOUT_STEP, "processing_payment"),
                (attr::STEP_STATUS, "rejected")
            ]
        ),
        1
    );
    assert_eq!(
        meter.total(
            attr::METRIC_PAYMENT_GATEWAY_DURATION,
            &[(attr::PAYMENT_STATUS, "declined")]
        ),
        1
    );
    assert_eq!(meter.total(attr::METRIC_PAYMENT_DECLINES, &[]), 1);

    // One scope, name, version and schema URL, for the spans and the meter.
    let points = meter.points(attr::METRIC_CHECKOUT_COMPLETED);
    let metric_scope = &points[0].scope;
    for span in &spans {
        assert_eq!(&span.instrumentation_scope, metric_scope);
    }
    assert_eq!(metric_scope.name(), checkout_otel::SCOPE_NAME);
    assert_eq!(metric_scope.version(), Some(env!("CARGO_PKG_VERSION")));
    assert!(metric_scope.schema_url().is_some());
}
