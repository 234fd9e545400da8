//! The span export queue: its size (builder > `OTEL_BSP_MAX_QUEUE_SIZE` >
//! 2048), and the accounting of every span (`span_export_stats`): queued,
//! dropped when full (reported once by flush or shutdown), exported, failed.
//! Runs against the in-process receivers, without rotel.

mod common;

use std::time::Duration;

use checkout_otel::attributes::CHECKOUT_PROCESS;
use checkout_otel::error::{ConfigError, ConfigSource, ShutdownOperation};
use checkout_otel::init::{DEFAULT_SPAN_QUEUE_SIZE, Protocol, Telemetry, TelemetryBuilder};
use common::receiver::{Receiver, closed_endpoint, hung_collector};
use opentelemetry::trace::{Span, Tracer};

fn builder(env: &[(&str, &str)]) -> TelemetryBuilder {
    Telemetry::builder("checkout-queue")
        .with_env(env.iter().map(|(k, v)| (k.to_string(), v.to_string())))
}

#[test]
fn queue_size_comes_from_builder_then_environment_then_default() {
    let size = |b: TelemetryBuilder| b.resolve().expect("resolve").span_queue_size();
    assert_eq!(size(builder(&[])), DEFAULT_SPAN_QUEUE_SIZE);
    assert_eq!(DEFAULT_SPAN_QUEUE_SIZE, 2048);
    assert_eq!(size(builder(&[("OTEL_BSP_MAX_QUEUE_SIZE", " 100 ")])), 100);
    assert_eq!(
        size(builder(&[("OTEL_BSP_MAX_QUEUE_SIZE", "100")]).span_queue_size(10)),
        10
    );
}

#[test]
fn invalid_queue_sizes_are_errors_naming_their_source() {
    for bad in ["0", "-1", "lots", "1.5"] {
        match builder(&[("OTEL_BSP_MAX_QUEUE_SIZE", bad)]).resolve() {
            Err(ConfigError::InvalidQueueSize { value, source_of }) => {
                assert_eq!(value, bad);
                assert_eq!(source_of, ConfigSource::Env("OTEL_BSP_MAX_QUEUE_SIZE"));
            }
            other => panic!("{bad:?}: {other:?}"),
        }
    }
    // Checked even when the builder overrides it, like every variable.
    assert!(matches!(
        builder(&[("OTEL_BSP_MAX_QUEUE_SIZE", "lots")])
            .span_queue_size(10)
            .resolve(),
        Err(ConfigError::InvalidQueueSize { .. })
    ));
    match builder(&[]).span_queue_size(0).resolve() {
        Err(ConfigError::InvalidQueueSize { source_of, .. }) => {
            assert_eq!(source_of, ConfigSource::Builder("span_queue_size"))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn overflow_is_counted_exactly_and_reported_once() {
    let (endpoint, _accepted) = hung_collector();
    let guard = Telemetry::builder("checkout-queue")
        .endpoint(endpoint)
        .protocol(Protocol::Grpc)
        .timeout(Duration::from_secs(5))
        .shutdown_timeout(Duration::from_millis(500))
        .span_queue_size(16)
        .with_env(Vec::<(String, String)>::new())
        .build()
        .expect("build");
    let tracer = guard.sdk_tracer();
    for _ in 0..100 {
        tracer.start(CHECKOUT_PROCESS).end();
    }
    let s = guard.span_export_stats();
    assert_eq!(s.capacity, 16);
    assert_eq!(s.queued + s.dropped, 100, "{s:?}");
    // A full queue, plus at most the one batch (16) handed to the exporter.
    assert!(s.queued >= 16 && s.queued <= 32, "{s:?}");
    assert_eq!(
        s.pending(),
        s.queued,
        "nothing can have been exported: {s:?}"
    );

    match guard.force_flush() {
        Err(e) => {
            assert_eq!(e.operation(), ShutdownOperation::Flush);
            assert_eq!(
                (e.traces().dropped_spans, e.traces().queue_capacity),
                (s.dropped, 16)
            );
            assert_eq!(e.metrics().dropped_spans, 0);
            assert!(
                e.to_string().contains(&format!(
                    "traces: {} span(s) dropped because the export queue (16 spans) was full",
                    s.dropped
                )),
                "{e}"
            );
        }
        other => panic!("expected the drops reported, got {other:?}"),
    }
    // Reported once: the next report has only the hung export to say.
    match guard.shutdown() {
        Err(e) => {
            assert_eq!(e.operation(), ShutdownOperation::Shutdown);
            assert!(e.timed_out() || e.failed_exports() > 0, "{e:?}");
            assert_eq!(e.dropped_spans(), 0, "{e:?}");
            assert!(!e.to_string().contains("dropped"), "{e}");
        }
        other => panic!("expected the overrun reported, got {other:?}"),
    }
}

#[test]
fn every_span_exported_is_counted_and_received() {
    for protocol in [Protocol::Grpc, Protocol::HttpProtobuf] {
        let receiver = match protocol {
            Protocol::Grpc => Receiver::grpc(),
            _ => Receiver::http(),
        };
        let guard = Telemetry::builder("checkout-queue")
            .endpoint(receiver.endpoint())
            .protocol(protocol)
            .span_queue_size(4_096)
            .with_env(Vec::<(String, String)>::new())
            .build()
            .expect("build");
        let tracer = guard.sdk_tracer();
        for _ in 0..3_000 {
            tracer.start(CHECKOUT_PROCESS).end();
        }
        guard.force_flush().expect("flush");
        let s = guard.span_export_stats();
        assert_eq!(
            (s.queued, s.exported, s.failed, s.dropped),
            (3_000, 3_000, 0, 0),
            "{protocol}"
        );
        let received = receiver.wait_for(Duration::from_secs(10), |r| r.spans().len() >= 3_000);
        assert_eq!(received.spans().len(), 3_000, "{protocol}");
        guard.shutdown().expect("shutdown");
    }
}

#[test]
fn failed_exports_are_counted_in_spans() {
    let guard = Telemetry::builder("checkout-queue")
        .endpoint(closed_endpoint())
        .protocol(Protocol::HttpProtobuf)
        .timeout(Duration::from_millis(300))
        .shutdown_timeout(Duration::from_secs(3))
        .with_env(Vec::<(String, String)>::new())
        .build()
        .expect("build");
    let tracer = guard.sdk_tracer();
    for _ in 0..7 {
        let mut span = tracer.start(CHECKOUT_PROCESS);
        span.end();
    }
    assert!(guard.force_flush().is_err());
    let s = guard.span_export_stats();
    assert_eq!(
        (s.queued, s.failed, s.exported, s.dropped),
        (7, 7, 0, 0),
        "{s:?}"
    );
    // Console-only and disabled set-ups have no queue: all zero.
    let local = builder(&[
        ("OTEL_TRACES_EXPORTER", "console"),
        ("OTEL_METRICS_EXPORTER", "none"),
    ])
    .build()
    .expect("build");
    local.sdk_tracer().start(CHECKOUT_PROCESS).end();
    assert_eq!(local.span_export_stats(), Default::default());
}
