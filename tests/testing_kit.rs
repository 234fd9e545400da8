//! Tests of the test kit itself (feature `testing`): finding spans, walking
//! the tree, reading attributes, events, status and metric points.
#![cfg(feature = "testing")]

use std::panic::{AssertUnwindSafe, catch_unwind};

use checkout_otel::attributes::{
    CART_VALIDATE, CHECKOUT_PROCESS, CHECKOUT_STATUS, ERROR_TYPE, EVENT_INSUFFICIENT_STOCK,
    INVENTORY_RESERVE_BATCH, INVENTORY_RESERVE_ITEM, METRIC_CHECKOUT_COMPLETED,
    METRIC_CHECKOUT_DURATION, PAYMENT_GATEWAY_CALL, PAYMENT_PROCESS, PRODUCT_ID,
    QUANTITY_AVAILABLE, QUANTITY_REQUESTED,
};
use checkout_otel::testing::{MetricKind, PointValue, TestTelemetry};
use opentelemetry::KeyValue;
use opentelemetry::trace::{
    Span as _, SpanKind, Status, TraceContextExt, Tracer as _, TracerProvider as _,
};

fn panic_message(f: impl FnOnce()) -> String {
    let err = catch_unwind(AssertUnwindSafe(f)).expect_err("should panic");
    err.downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

/// checkout.process
///   cart.validate
///   inventory.reserve_batch
///     inventory.reserve_item (sku-1)
///     inventory.reserve_item (sku-2, insufficient stock)
///   payment.process (error)
///     payment.gateway_call (client)
fn record_checkout(telemetry: &TestTelemetry) {
    let tracer = telemetry.sdk_tracer();
    tracer.in_span(CHECKOUT_PROCESS, |_| {
        tracer.in_span(CART_VALIDATE, |cx| {
            cx.span().set_attribute(KeyValue::new("cart.item_count", 2));
        });
        tracer.in_span(INVENTORY_RESERVE_BATCH, |_| {
            for (sku, available) in [("sku-1", 5), ("sku-2", 0)] {
                tracer.in_span(INVENTORY_RESERVE_ITEM, |cx| {
                    let span = cx.span();
                    span.set_attribute(KeyValue::new(PRODUCT_ID, sku));
                    if available == 0 {
                        span.add_event(
                            EVENT_INSUFFICIENT_STOCK,
                            vec![
                                KeyValue::new(QUANTITY_REQUESTED, 1),
                                KeyValue::new(QUANTITY_AVAILABLE, available),
                            ],
                        );
                    }
                });
            }
        });
        tracer.in_span(PAYMENT_PROCESS, |cx| {
            let span = cx.span();
            span.set_attribute(KeyValue::new("payment.amount", 12.5));
            span.set_attribute(KeyValue::new("payment.retried", true));
            span.set_attribute(KeyValue::new("payment.attempt", 1));
            span.set_attribute(KeyValue::new("payment.attempt", 2));
            let mut gateway = tracer
                .span_builder(PAYMENT_GATEWAY_CALL)
                .with_kind(SpanKind::Client)
                .start(&tracer);
            gateway.set_attribute(KeyValue::new(ERROR_TYPE, "timeout"));
            gateway.set_status(Status::error("gateway timed out"));
            gateway.end();
            span.set_attribute(KeyValue::new(ERROR_TYPE, "timeout"));
            span.set_status(Status::error("payment failed"));
        });
    });
}

#[test]
fn finds_spans_by_name() {
    let telemetry = TestTelemetry::new("checkout");
    record_checkout(&telemetry);
    let spans = telemetry.spans();

    assert_eq!(spans.len(), 7);
    assert_eq!(spans.by_name(INVENTORY_RESERVE_ITEM).len(), 2);
    assert_eq!(spans.one(CART_VALIDATE).name(), CART_VALIDATE);
    assert!(spans.find("nope").is_none());
    assert_eq!(
        spans.names(),
        [
            CHECKOUT_PROCESS,
            CART_VALIDATE,
            INVENTORY_RESERVE_BATCH,
            INVENTORY_RESERVE_ITEM,
            PAYMENT_PROCESS,
            PAYMENT_GATEWAY_CALL
        ],
        "names in start order"
    );

    let missing = panic_message(|| {
        spans.one("cart.valdate");
    });
    assert!(
        missing.contains("expected exactly one span named \"cart.valdate\", found 0"),
        "{missing}"
    );
    assert!(
        missing.contains("\"cart.validate\""),
        "lists names present: {missing}"
    );
    let several = panic_message(|| {
        spans.one(INVENTORY_RESERVE_ITEM);
    });
    assert!(several.contains("found 2"), "{several}");
}

#[test]
fn walks_parents_and_children() {
    let telemetry = TestTelemetry::new("checkout");
    record_checkout(&telemetry);
    let spans = telemetry.spans();

    let root = spans.one(CHECKOUT_PROCESS);
    assert!(root.parent().is_none());
    assert_eq!(spans.roots().len(), 1);
    assert_eq!(spans.roots()[0].span_id(), root.span_id());
    let children: Vec<&str> = root.children().iter().map(|c| c.name()).collect();
    assert_eq!(
        children,
        [CART_VALIDATE, INVENTORY_RESERVE_BATCH, PAYMENT_PROCESS]
    );

    let items = root.child(INVENTORY_RESERVE_BATCH).children();
    let skus: Vec<_> = items.iter().map(|i| i.attr_str(PRODUCT_ID)).collect();
    assert_eq!(
        skus,
        [Some("sku-1"), Some("sku-2")],
        "children by start time"
    );

    let gateway = root.child(PAYMENT_PROCESS).child(PAYMENT_GATEWAY_CALL);
    assert_eq!(gateway.parent().unwrap().name(), PAYMENT_PROCESS);
    assert!(gateway.is_descendant_of(&root));
    assert!(!root.is_descendant_of(&gateway));
    assert_eq!(gateway.kind(), SpanKind::Client);
    assert_eq!(root.kind(), SpanKind::Internal);
    assert_eq!(gateway.trace_id(), root.trace_id());
    assert_eq!(spans.trace_ids(), [root.trace_id()]);
    assert_eq!(spans.trace(root.trace_id()).len(), 7);

    let wrong = panic_message(|| {
        root.child(PAYMENT_GATEWAY_CALL);
    });
    assert!(
        wrong.contains("found 0; children: [\"cart.validate\", \"inventory.reserve_batch\", \"payment.process\"]"),
        "{wrong}"
    );
}

#[test]
fn reads_attributes_events_and_status() {
    let telemetry = TestTelemetry::new("checkout");
    record_checkout(&telemetry);
    let spans = telemetry.spans();

    let payment = spans.one(PAYMENT_PROCESS);
    assert_eq!(payment.attr_f64("payment.amount"), Some(12.5));
    assert_eq!(payment.attr_bool("payment.retried"), Some(true));
    assert_eq!(
        payment.attr_i64("payment.attempt"),
        Some(2),
        "last write wins"
    );
    assert_eq!(payment.attr_str("payment.amount"), None, "wrong type");
    assert!(payment.has_attr(ERROR_TYPE));
    assert!(!payment.has_attr(PRODUCT_ID));
    assert!(payment.is_error());
    assert_eq!(payment.status_message(), Some("payment failed"));
    assert_eq!(payment.error_type(), Some("timeout"));
    assert_eq!(
        *payment.status(),
        Status::Error {
            description: "payment failed".into()
        }
    );
    assert!(!spans.one(CART_VALIDATE).is_error());
    assert_eq!(spans.one(CART_VALIDATE).status_message(), None);

    let items = spans.by_name(INVENTORY_RESERVE_ITEM);
    assert!(items[0].events().is_empty());
    let shortfall = items[1].event(EVENT_INSUFFICIENT_STOCK);
    assert_eq!(shortfall.name(), EVENT_INSUFFICIENT_STOCK);
    assert_eq!(shortfall.attr_i64(QUANTITY_REQUESTED), Some(1));
    assert_eq!(shortfall.attr_i64(QUANTITY_AVAILABLE), Some(0));
    assert_eq!(items[1].events().len(), 1);
    assert!(items[0].find_event(EVENT_INSUFFICIENT_STOCK).is_none());
    let no_event = panic_message(|| {
        items[1].event("stock_reserved");
    });
    assert!(
        no_event.contains("events: [\"insufficient_stock\"]"),
        "{no_event}"
    );
}

#[test]
fn several_services_share_one_store() {
    let telemetry = TestTelemetry::new("checkout");
    let payment_provider = telemetry.tracer_provider_for("payment");
    let (checkout, payment) = (telemetry.sdk_tracer(), payment_provider.tracer("test"));
    checkout.in_span(CHECKOUT_PROCESS, |_| {
        payment.in_span(PAYMENT_PROCESS, |_| {});
    });
    let spans = telemetry.spans();
    assert_eq!(spans.one(CHECKOUT_PROCESS).service(), "checkout");
    let pay = spans.one(PAYMENT_PROCESS);
    assert_eq!(pay.service(), "payment");
    assert_eq!(pay.parent().unwrap().name(), CHECKOUT_PROCESS);
    assert_eq!(telemetry.service_name(), "checkout");

    let picture = spans.waterfall();
    assert!(picture.contains(" · 2 services · 2 spans\n"), "{picture}");
    assert!(!picture.contains('\x1b'));
}

#[test]
fn spans_are_isolated_per_instance_kept_after_shutdown_and_clearable() {
    let a = TestTelemetry::new("a");
    let b = TestTelemetry::new("b");
    a.sdk_tracer().in_span("in.a", |_| {});
    assert_eq!(a.spans().names(), ["in.a"]);
    assert!(b.spans().is_empty());

    a.tracer_provider().shutdown().unwrap();
    assert_eq!(a.spans().names(), ["in.a"], "kept after shutdown");
    a.clear_spans();
    assert!(a.spans().is_empty());
}

#[test]
fn reads_metric_points() {
    let telemetry = TestTelemetry::new("checkout");
    let meter = telemetry.meter();
    let completed = meter
        .u64_counter(METRIC_CHECKOUT_COMPLETED)
        .with_description("Checkouts finished")
        .build();
    completed.add(2, &[KeyValue::new(CHECKOUT_STATUS, "completed")]);
    completed.add(1, &[KeyValue::new(CHECKOUT_STATUS, "failed")]);
    let duration = meter
        .f64_histogram(METRIC_CHECKOUT_DURATION)
        .with_unit("s")
        .with_boundaries(vec![1.0, 5.0])
        .build();
    duration.record(0.5, &[KeyValue::new(CHECKOUT_STATUS, "completed")]);
    duration.record(9.2, &[KeyValue::new(CHECKOUT_STATUS, "completed")]);
    duration.record(3.0, &[KeyValue::new(CHECKOUT_STATUS, "failed")]);
    let in_flight = meter.i64_up_down_counter("checkout.in_flight").build();
    in_flight.add(3, &[]);
    in_flight.add(-1, &[]);
    let status = meter.u64_counter("http.responses").build();
    status.add(1, &[KeyValue::new("http.response.status_code", 200)]);

    let metrics = telemetry.metrics();
    assert_eq!(
        metrics.counter_sum(METRIC_CHECKOUT_COMPLETED, &[(CHECKOUT_STATUS, "completed")]),
        2.0
    );
    assert_eq!(metrics.counter_sum(METRIC_CHECKOUT_COMPLETED, &[]), 3.0);
    assert_eq!(
        metrics.counter_sum("http.responses", &[("http.response.status_code", "200")]),
        1.0
    );
    assert_eq!(metrics.counter_sum("checkout.in_flight", &[]), 2.0);
    assert_eq!(
        metrics.kind(METRIC_CHECKOUT_COMPLETED),
        Some(MetricKind::Counter)
    );
    assert_eq!(
        metrics.kind("checkout.in_flight"),
        Some(MetricKind::UpDownCounter)
    );
    assert_eq!(
        metrics.kind(METRIC_CHECKOUT_DURATION),
        Some(MetricKind::Histogram)
    );
    assert_eq!(
        metrics.description(METRIC_CHECKOUT_COMPLETED),
        Some("Checkouts finished")
    );
    assert_eq!(metrics.unit(METRIC_CHECKOUT_DURATION), Some("s"));
    assert_eq!(
        metrics.boundaries(METRIC_CHECKOUT_DURATION),
        Some(vec![1.0, 5.0])
    );

    let ok = metrics
        .histogram(METRIC_CHECKOUT_DURATION, &[(CHECKOUT_STATUS, "completed")])
        .unwrap();
    assert_eq!(
        (ok.count, ok.sum, ok.min, ok.max),
        (2, 9.7, Some(0.5), Some(9.2))
    );
    assert_eq!(ok.bucket_counts, [1, 0, 1]);
    let all = metrics.histogram(METRIC_CHECKOUT_DURATION, &[]).unwrap();
    assert_eq!((all.count, all.min, all.max), (3, Some(0.5), Some(9.2)));
    assert_eq!(all.bucket_counts, [1, 1, 1], "merged across attribute sets");
    assert!(
        metrics
            .histogram(METRIC_CHECKOUT_DURATION, &[(CHECKOUT_STATUS, "x")])
            .is_none()
    );

    let points = metrics.points(METRIC_CHECKOUT_COMPLETED);
    assert_eq!(points.len(), 2);
    let failed = points
        .iter()
        .find(|p| p.attr_str(CHECKOUT_STATUS) == Some("failed"))
        .unwrap();
    assert_eq!(failed.value, PointValue::Number(1.0));
    assert_eq!(failed.number(), Some(1.0));

    // Reads are snapshots of cumulative values: reading twice does not double.
    completed.add(1, &[KeyValue::new(CHECKOUT_STATUS, "completed")]);
    let again = telemetry.metrics();
    assert_eq!(
        again.counter_sum(METRIC_CHECKOUT_COMPLETED, &[(CHECKOUT_STATUS, "completed")]),
        3.0
    );
    assert_eq!(
        again
            .histogram(METRIC_CHECKOUT_DURATION, &[])
            .unwrap()
            .count,
        3
    );

    // Absent metrics.
    assert!(again.get("checkout.nope").is_none());
    assert_eq!(again.counter_sum("checkout.nope", &[]), 0.0);
    assert!(again.points("checkout.nope").is_empty());
    let msg = panic_message(|| {
        again.metric("checkout.nope");
    });
    assert!(
        msg.contains("no metric named \"checkout.nope\"")
            && msg.contains(METRIC_CHECKOUT_COMPLETED),
        "{msg}"
    );
}

#[test]
fn no_metrics_recorded_reads_empty() {
    let telemetry = TestTelemetry::new("checkout");
    let metrics = telemetry.metrics();
    assert!(metrics.all().is_empty());
    assert!(metrics.names().is_empty());
}
