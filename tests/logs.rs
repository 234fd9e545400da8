//! The logs signal through the real pipeline (the test kit): `tracing`
//! events become log records with severity, body, attributes, `event.name`
//! where given and the trace context of the span they were emitted in, after
//! the exit check.

use checkout_otel::opentelemetry::logs::Severity;
use checkout_otel::pii::{CARD_MASK, EMAIL_MASK, SENSITIVE_VALUE_MASK};
use checkout_otel::spans::OrderCreate;
use checkout_otel::testing::TestTelemetry;

#[test]
fn events_become_log_records_with_severity_body_attributes_and_event_name() {
    let telemetry = TestTelemetry::new("checkout");
    tracing::subscriber::with_default(telemetry.subscriber(), || {
        tracing::info!(name: "order.placed", items = 3_i64, paid = true, "order placed");
        tracing::warn!(sku = "sku-42", "stock short");
        tracing::debug!("details");
    });

    let logs = telemetry.logs();
    let placed = logs.one("order placed");
    assert_eq!(placed.severity(), Some(Severity::Info));
    assert_eq!(placed.severity_text(), Some("INFO"));
    assert_eq!(placed.event_name(), Some("order.placed"));
    assert_eq!(placed.attr_i64("items"), Some(3));
    assert_eq!(placed.attr_bool("paid"), Some(true));
    assert_eq!(placed.target(), Some(module_path!()));
    assert_eq!(placed.service(), "checkout");
    assert_eq!(placed.scope().name(), checkout_otel::SCOPE_NAME);
    assert_eq!(placed.trace_id(), None, "emitted outside any span");

    let short = logs.one("stock short");
    assert_eq!(short.severity(), Some(Severity::Warn));
    assert_eq!(short.attr_str("sku"), Some("sku-42"));
    // `tracing` names an event without `name:` after its file and line:
    // that is not an event name.
    assert_eq!(short.event_name(), None);
    assert_eq!(logs.by_event_name("order.placed").len(), 1);
    assert_eq!(logs.at_least(Severity::Warn).len(), 1);
}

#[test]
fn records_carry_the_tracing_span_they_were_emitted_in() {
    let telemetry = TestTelemetry::new("checkout");
    tracing::subscriber::with_default(telemetry.subscriber(), || {
        tracing::info_span!("POST /checkout").in_scope(|| {
            tracing::info!("inside the request");
            tracing::info_span!("cart.validate").in_scope(|| tracing::info!("cart checked"));
        });
    });

    let spans = telemetry.spans();
    let logs = telemetry.logs();
    let request = spans.one("POST /checkout");
    let cart = spans.one("cart.validate");
    let inside = logs.one("inside the request");
    assert_eq!(inside.trace_id(), Some(request.trace_id()));
    assert_eq!(inside.span_id(), Some(request.span_id()));
    let checked = logs.one("cart checked");
    assert_eq!(checked.span_id(), Some(cart.span_id()));
    assert_eq!(logs.in_trace(request.trace_id()).len(), 2);
    assert_eq!(logs.in_span(cart.span_id()).len(), 1);
}

#[test]
fn records_carry_the_typed_span_they_were_emitted_in() {
    let telemetry = TestTelemetry::new("checkout");
    let tracer = telemetry.tracer();
    tracing::subscriber::with_default(telemetry.subscriber(), || {
        let order = tracer.start(OrderCreate::new("ord-1"));
        {
            let _entered = order.enter();
            tracing::info!("first order stored");
        }
        order.end();
        // A typed span inside a tracing span: the record takes the typed one.
        tracing::info_span!("POST /orders").in_scope(|| {
            let order = tracer.start(OrderCreate::new("ord-2"));
            let _entered = order.enter();
            tracing::info!("second order stored");
        });
    });

    let spans = telemetry.spans();
    let logs = telemetry.logs();
    let orders = spans.by_name("order.create");
    assert_eq!(orders.len(), 2);
    assert_eq!(
        logs.one("first order stored").span_id(),
        Some(orders[0].span_id())
    );
    assert_eq!(
        logs.one("second order stored").span_id(),
        Some(orders[1].span_id())
    );
    assert_eq!(
        orders[1].parent().map(|p| p.name()),
        Some("POST /orders"),
        "{}",
        spans.waterfall()
    );
}

#[test]
fn records_pass_the_exit_check() {
    let telemetry = TestTelemetry::new("checkout");
    tracing::subscriber::with_default(telemetry.subscriber(), || {
        tracing::warn!(
            note = "mail jane@example.com",
            password = "hunter2",
            reference = 4111111111111111_u64,
            "card 4111 1111 1111 1111 declined"
        );
    });
    let logs = telemetry.logs();
    let record = logs.one("declined");
    assert_eq!(
        record.body(),
        Some(format!("card {CARD_MASK} declined").as_str())
    );
    assert_eq!(
        record.attr_str("note"),
        Some(format!("mail {EMAIL_MASK}").as_str())
    );
    assert_eq!(record.attr_str("password"), Some(SENSITIVE_VALUE_MASK));
    assert_eq!(record.attr_str("reference"), Some(CARD_MASK));
    let counters = telemetry
        .guard()
        .redaction_counters()
        .expect("redaction on");
    assert_eq!(counters.cards(), 2);
    assert_eq!(counters.emails(), 1);
}

/// A log processor added with `with_log_processor` runs after the exit
/// check: it gets the redacted record, with its trace context.
#[test]
fn an_added_log_processor_sees_the_checked_record() {
    use checkout_otel::opentelemetry::logs::AnyValue;
    use checkout_otel::opentelemetry::trace::TraceContextExt as _;
    use checkout_otel::opentelemetry_sdk::logs::{InMemoryLogExporter, SimpleLogProcessor};
    use tracing_subscriber::layer::SubscriberExt as _;

    let exporter = InMemoryLogExporter::default();
    let guard = checkout_otel::Telemetry::builder("checkout")
        .with_env(Vec::<(String, String)>::new())
        .traces_exporter(checkout_otel::init::Exporter::None)
        .metrics_exporter(checkout_otel::init::Exporter::None)
        .logs_exporter(checkout_otel::init::Exporter::None)
        .with_log_processor(SimpleLogProcessor::new(exporter.clone()))
        .build()
        .expect("build");
    let subscriber = tracing_subscriber::registry().with(guard.logs_layer());
    let order = guard.tracer().start(OrderCreate::new("ord-1"));
    tracing::subscriber::with_default(subscriber, || {
        let _in = order.enter();
        tracing::warn!(name: "payment.declined", note = "mail jane@example.com", "declined");
    });
    let records = exporter.get_emitted_logs().expect("logs");
    assert_eq!(records.len(), 1);
    let record = &records[0].record;
    assert_eq!(record.event_name(), Some("payment.declined"));
    assert_eq!(record.severity_number(), Some(Severity::Warn));
    let note = record
        .attributes_iter()
        .find(|(k, _)| k.as_str() == "note")
        .and_then(|(_, v)| match v {
            AnyValue::String(s) => Some(s.to_string()),
            _ => None,
        });
    assert_eq!(note, Some(format!("mail {EMAIL_MASK}")));
    assert_eq!(
        record.trace_context().map(|t| t.span_id),
        Some(order.context().span().span_context().span_id())
    );
    assert_eq!(
        guard.redaction_counters().map(|c| c.emails()),
        Some(1),
        "the exit check ran first"
    );
}

#[test]
fn the_exporters_own_targets_never_become_records() {
    let telemetry = TestTelemetry::new("checkout");
    tracing::subscriber::with_default(telemetry.subscriber(), || {
        for target in checkout_otel::init::EXPORTER_INTERNAL_TARGETS {
            // `target:` must be a constant: one event per known internal target.
            let _ = target;
        }
        tracing::warn!(target: "opentelemetry_sdk", "export failed");
        tracing::warn!(target: "hyper_util::client", "connection reset");
        tracing::warn!(target: "tonic::transport", "unavailable");
        tracing::info!(target: "tower_http::trace", "request started");
    });
    let logs = telemetry.logs();
    assert_eq!(logs.bodies(), vec!["request started"]);
}

mod exceptions {
    use super::*;
    use checkout_otel::Telemetry;
    use checkout_otel::attributes::ErrorType;
    use checkout_otel::spans::{EXCEPTION_LOG_TARGET, ExceptionSignal, Failure};

    fn kit(signal: Option<&str>) -> TestTelemetry {
        let env: Vec<(&str, &str)> = signal
            .map(|s| vec![(ExceptionSignal::ENV, s)])
            .unwrap_or_default();
        TestTelemetry::from_builder(Telemetry::builder("payment").with_env(env)).expect("kit")
    }

    fn fail_two(telemetry: &TestTelemetry) {
        let tracer = telemetry.tracer();
        tracing::subscriber::with_default(telemetry.subscriber(), || {
            tracer
                .start(OrderCreate::new("ord-1"))
                .fail(&Failure::fault(
                    ErrorType::TIMEOUT,
                    "gateway timed out for jane@example.com",
                ));
            tracer
                .start(OrderCreate::new("ord-2"))
                .fail(&Failure::rejection(
                    ErrorType::INSUFFICIENT_STOCK,
                    "only 1 left",
                ));
        });
    }

    fn exception_events(telemetry: &TestTelemetry) -> usize {
        telemetry
            .spans()
            .iter()
            .filter(|s| s.events().iter().any(|e| e.name() == "exception"))
            .count()
    }

    #[test]
    fn unset_records_span_events_only() {
        let telemetry = kit(None);
        fail_two(&telemetry);
        assert_eq!(exception_events(&telemetry), 2);
        assert!(telemetry.logs().is_empty(), "{:?}", telemetry.logs());
    }

    #[test]
    fn logs_moves_the_exception_to_a_log_record_in_the_span() {
        let telemetry = kit(Some("logs"));
        fail_two(&telemetry);
        assert_eq!(exception_events(&telemetry), 0);
        let spans = telemetry.spans();
        let orders = spans.by_name("order.create");
        let logs = telemetry.logs();
        assert_eq!(logs.len(), 2, "{logs:?}");

        let fault = logs.one("gateway timed out");
        assert_eq!(fault.severity(), Some(Severity::Error));
        assert_eq!(fault.target(), Some(EXCEPTION_LOG_TARGET));
        assert_eq!(fault.attr_str("exception.type"), Some("timeout"));
        assert_eq!(
            fault.attr_str("exception.message"),
            Some(format!("gateway timed out for {EMAIL_MASK}").as_str())
        );
        assert_eq!(fault.attr_str("error.type"), Some("timeout"));
        assert_eq!(fault.attr_str("failure.kind"), Some("fault"));
        assert_eq!(fault.trace_id(), Some(orders[0].trace_id()));
        assert_eq!(fault.span_id(), Some(orders[0].span_id()));

        let rejection = logs.one("only 1 left");
        assert_eq!(rejection.severity(), Some(Severity::Info));
        assert_eq!(rejection.attr_str("failure.kind"), Some("rejection"));
        assert_eq!(rejection.span_id(), Some(orders[1].span_id()));
        // The span still fails the way backends read it.
        assert!(orders[0].is_error());
        assert_eq!(orders[0].error_type(), Some("timeout"));
    }

    #[test]
    fn logs_dup_records_both() {
        let telemetry = kit(Some("logs/dup"));
        fail_two(&telemetry);
        assert_eq!(exception_events(&telemetry), 2);
        assert_eq!(telemetry.logs().len(), 2);
    }

    #[test]
    fn an_unknown_value_is_an_error_naming_the_variable() {
        let err = TestTelemetry::from_builder(
            Telemetry::builder("payment").with_env([(ExceptionSignal::ENV, "spans")]),
        )
        .expect_err("refused");
        assert!(err.to_string().contains(ExceptionSignal::ENV), "{err}");
    }
}

#[test]
fn the_waterfall_draws_log_records_under_their_span() {
    use checkout_otel::opentelemetry::trace::{Tracer as _, TracerProvider as _};
    use checkout_otel::opentelemetry_sdk::logs::{SdkLoggerProvider, SimpleLogProcessor};
    use checkout_otel::opentelemetry_sdk::trace::SdkTracerProvider;
    use checkout_otel::waterfall::{ColorChoice, WaterfallExporter, WaterfallOptions};
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::layer::SubscriberExt as _;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buffer {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    let buffer = Buffer::default();
    let waterfall = WaterfallExporter::new()
        .with_writer(buffer.clone())
        .with_options(
            WaterfallOptions::default()
                .with_width(100)
                .with_color(ColorChoice::Never),
        );
    let tracer_provider = SdkTracerProvider::builder()
        .with_simple_exporter(waterfall.clone())
        .build();
    let logger_provider = SdkLoggerProvider::builder()
        .with_log_processor(SimpleLogProcessor::new(waterfall))
        .build();
    let bridge = opentelemetry_appender_tracing_layer(&logger_provider);
    let subscriber = tracing_subscriber::registry().with(bridge);
    let tracer = tracer_provider.tracer("t");
    tracing::subscriber::with_default(subscriber, || {
        tracer.in_span("checkout.process", |_| {
            tracing::info!("order placed");
            tracer.in_span("inventory.reserve_item", |_| {
                tracing::warn!("stock short for jane@example.com");
            });
        });
    });
    let printed = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = printed.lines().collect();
    assert!(lines[1].starts_with("checkout.process"), "{printed}");
    assert_eq!(lines[2], "  · INFO order placed", "{printed}");
    assert!(
        lines[3].starts_with("  inventory.reserve_item"),
        "{printed}"
    );
    assert_eq!(
        lines[4],
        format!("    · WARN stock short for {EMAIL_MASK}"),
        "{printed}"
    );

    fn opentelemetry_appender_tracing_layer<S>(
        provider: &SdkLoggerProvider,
    ) -> impl tracing_subscriber::Layer<S>
    where
        S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    {
        checkout_otel::opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge::new(
            provider,
        )
    }
}
