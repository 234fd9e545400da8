//! checkout_demo: for now, sets up telemetry in one call and emits one small
//! checkout trace and a metric. Later issues grow it into the full
//! multi-service pipeline.
//!
//! ```text
//! cargo run --example checkout_demo
//! ```
//! prints one compact line per span on stderr (nothing touches the network).
//! With `OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4317` (and optionally
//! `OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf` with port 4318) the trace goes
//! to that collector instead. Exit never waits longer than the shutdown bound,
//! even when nothing listens there.

use std::time::Duration;

use checkout_otel::attributes::{
    CART_ID, CART_ITEM_COUNT, CART_VALIDATE, CHECKOUT_PROCESS, CHECKOUT_STATUS, CheckoutStatus,
    INVENTORY_RESERVE_BATCH, METRIC_CHECKOUT_COMPLETED, ORDER_CREATE, PAYMENT_PROCESS,
};
use checkout_otel::init::Telemetry;
use opentelemetry::KeyValue;
use opentelemetry::trace::{Span, SpanKind, Status, TraceContextExt, Tracer};

fn main() -> Result<(), checkout_otel::Error> {
    let telemetry = Telemetry::builder("checkout-demo")
        .service_version(env!("CARGO_PKG_VERSION"))
        .environment("demo")
        .shutdown_timeout(Duration::from_secs(3))
        .init()?;
    let tracer = telemetry.sdk_tracer();

    tracing::info!("starting a demo checkout");
    tracer.in_span(CHECKOUT_PROCESS, |cx| {
        let root = cx.span();
        root.set_attribute(KeyValue::new(CART_ID, "cart-42"));
        root.set_attribute(KeyValue::new(CART_ITEM_COUNT, 3_i64));
        tracer.in_span(CART_VALIDATE, |_| {
            std::thread::sleep(Duration::from_millis(3))
        });
        tracer.in_span(INVENTORY_RESERVE_BATCH, |_| {
            std::thread::sleep(Duration::from_millis(5))
        });
        // A `tracing` span inside the checkout joins the same trace.
        tracing::info_span!("payment.fraud_check")
            .in_scope(|| std::thread::sleep(Duration::from_millis(2)));
        tracer
            .span_builder(PAYMENT_PROCESS)
            .with_kind(SpanKind::Client)
            .start(&tracer)
            .end();
        tracer.in_span(ORDER_CREATE, |_| {
            std::thread::sleep(Duration::from_millis(2))
        });
        root.set_status(Status::Ok);
    });
    telemetry
        .meter()
        .u64_counter(METRIC_CHECKOUT_COMPLETED)
        .build()
        .add(
            1,
            &[KeyValue::new(CHECKOUT_STATUS, CheckoutStatus::Success)],
        );
    tracing::info!("demo checkout done");

    // Bounded: returns within 3 s even if the collector hangs or is absent.
    if let Err(e) = telemetry.shutdown() {
        eprintln!("warning: {e}");
    }
    Ok(())
}
