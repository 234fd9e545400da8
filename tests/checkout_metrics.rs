//! A checkout instrumented with the span helpers records the checkout metrics
//! by itself, and what the meter says agrees with the spans.

use std::time::Duration;

use checkout_otel::attributes::{self as attr, CheckoutStep, DeclineCode, ErrorType, FailureKind};
use checkout_otel::spans::{
    CheckoutProcess, ClassifyError, InventoryReserveItem, PaymentGatewayCall,
};
use checkout_otel::testing::TestTelemetry;

#[derive(Debug)]
struct StepError(ErrorType, FailureKind);

impl std::fmt::Display for StepError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl ClassifyError for StepError {
    fn error_type(&self) -> ErrorType {
        self.0
    }
    fn failure_kind(&self) -> FailureKind {
        self.1
    }
}

/// Runs the four steps, sleeping `pause` in each, failing at `fail_at`.
async fn checkout(
    telemetry: &TestTelemetry,
    items: usize,
    pause: Duration,
    fail_at: Option<(CheckoutStep, StepError)>,
) {
    let tracer = telemetry.tracer();
    let root = tracer.start(CheckoutProcess::new("cart").item_count(items));
    let mut fail_at = fail_at;
    let result = async {
        for step in [
            CheckoutStep::ValidatingCart,
            CheckoutStep::ReservingInventory,
            CheckoutStep::ProcessingPayment,
            CheckoutStep::CreatingOrder,
        ] {
            let outcome = match &fail_at {
                Some((s, _)) if *s == step => Err(fail_at.take().unwrap().1),
                _ => Ok(()),
            };
            root.step(step, async {
                tokio::time::sleep(pause).await;
                outcome
            })
            .await?;
        }
        Ok::<(), StepError>(())
    }
    .await;
    root.finish(&result);
}

#[tokio::test]
async fn span_helpers_feed_the_meter_consistently_with_the_spans() {
    let telemetry = TestTelemetry::new("gateway");
    let pause = Duration::from_millis(3);
    checkout(&telemetry, 2, pause, None).await;
    checkout(&telemetry, 12, pause, None).await;
    checkout(
        &telemetry,
        1,
        pause,
        Some((
            CheckoutStep::ReservingInventory,
            StepError(ErrorType::INSUFFICIENT_STOCK, FailureKind::Rejection),
        )),
    )
    .await;
    checkout(
        &telemetry,
        1,
        pause,
        Some((
            CheckoutStep::ProcessingPayment,
            StepError(ErrorType::TIMEOUT, FailureKind::Fault),
        )),
    )
    .await;
    {
        // Domain spans record their own metrics.
        let tracer = telemetry.tracer();
        let item = tracer.start(InventoryReserveItem::new("sku", 3));
        item.insufficient_stock(1);
        let call = tracer.start(PaymentGatewayCall::new("psp", "POST", "http://psp/charge"));
        call.declined(DeclineCode::from_gateway_code("stolen_card"), "stolen");
    }

    let m = telemetry.metrics();
    let completed = attr::METRIC_CHECKOUT_COMPLETED;
    assert_eq!(
        m.counter_sum(completed, &[(attr::CHECKOUT_STATUS, "success")]),
        2.0
    );
    assert_eq!(
        m.counter_sum(
            completed,
            &[
                (attr::CHECKOUT_STATUS, "rejected"),
                (attr::ERROR_TYPE, "insufficient_stock")
            ]
        ),
        1.0
    );
    assert_eq!(
        m.counter_sum(
            completed,
            &[
                (attr::CHECKOUT_STATUS, "failed"),
                (attr::ERROR_TYPE, "timeout")
            ]
        ),
        1.0
    );
    let large = m
        .histogram(
            attr::METRIC_CHECKOUT_DURATION,
            &[(attr::CHECKOUT_ITEM_COUNT_BUCKET, "large")],
        )
        .expect("large checkout recorded");
    assert_eq!(large.count, 1);

    // Step histograms: 4 + 4 + 2 + 3 steps, by step and status.
    let steps = m
        .histogram(attr::METRIC_CHECKOUT_STEP_DURATION, &[])
        .expect("steps recorded");
    assert_eq!(steps.count, 13);
    let rejected = m
        .histogram(
            attr::METRIC_CHECKOUT_STEP_DURATION,
            &[
                (attr::CHECKOUT_STEP, "reserving_inventory"),
                (attr::STEP_STATUS, "rejected"),
            ],
        )
        .unwrap();
    assert_eq!(rejected.count, 1);
    let failed = m
        .histogram(
            attr::METRIC_CHECKOUT_STEP_DURATION,
            &[
                (attr::CHECKOUT_STEP, "processing_payment"),
                (attr::STEP_STATUS, "failed"),
            ],
        )
        .unwrap();
    assert_eq!(failed.count, 1);
    // Every step slept at least `pause`.
    assert!(steps.min.unwrap() >= pause.as_secs_f64());

    // The checkout durations on the meter agree with the root spans: each is
    // at least the sum of its steps, and at most the span's own duration
    // (the span starts before the meter's clock and ends after it).
    let spans = telemetry.spans();
    let roots = spans.by_name(attr::CHECKOUT_PROCESS);
    assert_eq!(roots.len(), 4);
    let span_total: f64 = roots.iter().map(|s| s.duration().as_secs_f64()).sum();
    let checkout_hist = m.histogram(attr::METRIC_CHECKOUT_DURATION, &[]).unwrap();
    assert_eq!(checkout_hist.count, 4);
    assert!(
        checkout_hist.sum >= steps.sum,
        "{} < {}",
        checkout_hist.sum,
        steps.sum
    );
    assert!(
        checkout_hist.sum <= span_total,
        "meter {} > spans {}",
        checkout_hist.sum,
        span_total
    );

    assert_eq!(m.counter_sum(attr::METRIC_INVENTORY_SHORTFALLS, &[]), 1.0);
    assert_eq!(
        m.counter_sum(
            attr::METRIC_PAYMENT_DECLINES,
            &[
                (attr::PAYMENT_DECLINE_CLASS, "hard"),
                (attr::PAYMENT_DECLINE_CODE, "stolen_card")
            ]
        ),
        1.0
    );
    let gateway = m
        .histogram(
            attr::METRIC_PAYMENT_GATEWAY_DURATION,
            &[(attr::PAYMENT_STATUS, "declined")],
        )
        .expect("gateway latency recorded on end");
    assert_eq!(gateway.count, 1);
}
