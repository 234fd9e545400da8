//! Failures of telemetry are visible in the service's own log without noise:
//! a WARN line per signal under `checkout_otel::export` with the counts,
//! not one per failure; and the missing user-hash key is said at `build`,
//! under `checkout_otel::init`, never inside a customer's span.
//!
//! The lines are logged on the exporter's threads, so this binary installs a
//! global subscriber that captures them (the only test binary doing so for
//! these targets).

mod common;

use std::io;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use checkout_otel::attributes::{CHECKOUT_PROCESS, METRIC_CHECKOUT_COMPLETED};
use checkout_otel::init::{EXPORT_LOG_TARGET, Exporter, INIT_LOG_TARGET, Protocol, Telemetry};
use common::receiver::closed_endpoint;
use opentelemetry::trace::{Span, Tracer};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SimpleSpanProcessor};

/// Everything the global subscriber printed.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The captured log, installing the global subscriber on first use.
fn log() -> String {
    static CAPTURE: OnceLock<Capture> = OnceLock::new();
    let capture = CAPTURE.get_or_init(|| {
        let capture = Capture::default();
        let writer = capture.clone();
        tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .init();
        capture
    });
    String::from_utf8_lossy(&capture.0.lock().unwrap()).into_owned()
}

const KEY: &str = "raw:a user hash key of at least 32 bytes";

#[test]
fn failing_exports_are_one_warn_line_per_signal_with_counts() {
    for (protocol, service) in [
        (Protocol::Grpc, "checkout-warn-grpc"),
        (Protocol::HttpProtobuf, "checkout-warn-http"),
    ] {
        let before = log().len();
        let endpoint = closed_endpoint();
        let guard = Telemetry::builder(service)
            .endpoint(&endpoint)
            .protocol(protocol)
            .timeout(Duration::from_millis(300))
            .shutdown_timeout(Duration::from_secs(10))
            .user_hash_key(KEY)
            .with_env(Vec::<(String, String)>::new())
            .build()
            .expect("build");
        let counter = guard.meter().u64_counter(METRIC_CHECKOUT_COMPLETED).build();
        // Many failures: each flush fails one span batch and one metric export.
        for _ in 0..5 {
            guard.sdk_tracer().start(CHECKOUT_PROCESS).end();
            counter.add(1, &[]);
            let err = guard.force_flush().expect_err("the collector is down");
            assert_eq!(err.traces().failed_exports, 1, "{protocol}: {err}");
        }
        let printed = log();
        let new = &printed[before..];
        let lines = |signal: &str| -> Vec<&str> {
            let prefix = format!("WARN {EXPORT_LOG_TARGET}: {signal} export failing");
            new.lines().filter(|l| l.contains(&prefix)).collect()
        };
        // The first failure is said at once, with its counts; the next four
        // within the minute are counted for the next line, not printed.
        let traces = lines("traces");
        assert_eq!(traces.len(), 1, "{protocol}: {new}");
        for field in ["failed_exports=1", "failed_spans=1", "dropped_spans=0"] {
            assert!(
                traces[0].contains(field),
                "{protocol}: {field}: {}",
                traces[0]
            );
        }
        assert!(traces[0].contains("last_error="), "{}", traces[0]);
        let metrics = lines("metrics");
        assert_eq!(metrics.len(), 1, "{protocol}: {new}");
        assert!(metrics[0].contains("failed_exports=1"), "{}", metrics[0]);
        drop(guard);
    }
}

#[test]
fn the_missing_key_is_said_at_build_and_never_in_a_customers_span() {
    log();
    let spans = InMemorySpanExporter::default();
    let guard = Telemetry::builder("checkout-no-key")
        .traces_exporter(Exporter::None)
        .metrics_exporter(Exporter::None)
        .with_span_processor(SimpleSpanProcessor::new(spans.clone()))
        .with_env(Vec::<(String, String)>::new())
        .build()
        .expect("build");
    let at_build = log();
    let warning = at_build
        .lines()
        .find(|l| l.contains("no user hash key configured"))
        .unwrap_or_else(|| panic!("no warning at build: {at_build}"));
    assert!(warning.contains(" WARN "), "{warning}");
    assert!(warning.contains(INIT_LOG_TARGET), "{warning}");
    assert!(
        warning.contains("CHECKOUT_OTEL_USER_HASH_KEY"),
        "says the fix: {warning}"
    );

    // The first customer: hashed with the random key, and nothing more said.
    let mut span = guard.sdk_tracer().start(CHECKOUT_PROCESS);
    span.set_attribute(guard.tracer().user("customer-42").key_value());
    span.end();
    let exported = spans.get_finished_spans().unwrap();
    assert_eq!(exported.len(), 1);
    assert!(exported[0].events.is_empty(), "{:?}", exported[0].events);
    assert_eq!(
        log().matches("no user hash key configured").count(),
        at_build.matches("no user hash key configured").count(),
        "no second warning at the first customer"
    );
}
