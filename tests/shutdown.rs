//! Bounded shutdown against a collector that accepts connections and never
//! answers, from every kind of caller; and a collector that is down.
//!
//! The export timeout (5 s) is longer than the shutdown bound (1 s), so it is
//! the bound, not the exporter giving up, that ends the wait. Assertions
//! allow 3x the bound so the tests hold on a loaded 2-core machine.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use checkout_otel::attributes::{CHECKOUT_PROCESS, METRIC_CHECKOUT_COMPLETED};
use checkout_otel::error::ShutdownOperation;
use checkout_otel::init::{Protocol, Telemetry, TelemetryGuard};
use common::receiver::{closed_endpoint, hung_collector};
use opentelemetry::trace::{Span, Tracer};

const EXPORT_TIMEOUT: Duration = Duration::from_secs(5);
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(1);
const BOUND: Duration = Duration::from_secs(3);

fn guard(endpoint: &str, protocol: Protocol) -> TelemetryGuard {
    Telemetry::builder("checkout-shutdown")
        .endpoint(endpoint)
        .protocol(protocol)
        .timeout(EXPORT_TIMEOUT)
        .shutdown_timeout(SHUTDOWN_TIMEOUT)
        .with_env(Vec::<(String, String)>::new())
        .build()
        .expect("build")
}

fn emit(guard: &TelemetryGuard) {
    let tracer = guard.sdk_tracer();
    for _ in 0..10 {
        tracer.start(CHECKOUT_PROCESS).end();
    }
    guard
        .meter()
        .u64_counter(METRIC_CHECKOUT_COMPLETED)
        .build()
        .add(1, &[]);
}

/// Drops a guard exporting to a hung collector; returns how long drop took.
fn drop_against_hung(protocol: Protocol) -> (Duration, Arc<Mutex<usize>>) {
    let (endpoint, accepted) = hung_collector();
    let g = guard(&endpoint, protocol);
    emit(&g);
    let start = Instant::now();
    drop(g);
    (start.elapsed(), accepted)
}

fn assert_bounded(label: &str, took: Duration, accepted: &Arc<Mutex<usize>>) {
    eprintln!("{label}: drop against a hung collector took {took:?}");
    assert!(took < BOUND, "{label}: drop took {took:?}, bound {BOUND:?}");
    // The exporter really reached the hung collector: the bound held while
    // a request was stuck, not because nothing was sent.
    assert!(
        *accepted.lock().unwrap() >= 1,
        "{label}: no connection made"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_drop_is_bounded_on_a_multi_thread_runtime() {
    let (took, accepted) = drop_against_hung(Protocol::Grpc);
    assert_bounded("grpc/multi-thread", took, &accepted);
}

#[tokio::test(flavor = "current_thread")]
async fn grpc_drop_is_bounded_on_a_current_thread_runtime() {
    let (took, accepted) = drop_against_hung(Protocol::Grpc);
    assert_bounded("grpc/current-thread", took, &accepted);
}

#[test]
fn grpc_drop_is_bounded_without_a_runtime() {
    let (took, accepted) = drop_against_hung(Protocol::Grpc);
    assert_bounded("grpc/no-runtime", took, &accepted);
}

#[tokio::test(flavor = "current_thread")]
async fn http_drop_is_bounded_on_a_current_thread_runtime() {
    let (took, accepted) = drop_against_hung(Protocol::HttpProtobuf);
    assert_bounded("http/current-thread", took, &accepted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_drop_is_bounded_on_a_multi_thread_runtime() {
    let (took, accepted) = drop_against_hung(Protocol::HttpProtobuf);
    assert_bounded("http/multi-thread", took, &accepted);
}

#[tokio::test(flavor = "current_thread")]
async fn explicit_shutdown_reports_the_overrun_within_the_bound() {
    let (endpoint, _accepted) = hung_collector();
    let g = guard(&endpoint, Protocol::Grpc);
    emit(&g);
    let start = Instant::now();
    let result = g.shutdown();
    let took = start.elapsed();
    assert!(took < BOUND, "shutdown took {took:?}");
    match result {
        Err(e) => {
            assert_eq!(e.operation(), ShutdownOperation::Shutdown);
            assert_eq!(e.bound(), SHUTDOWN_TIMEOUT);
            assert!(e.traces().timed_out, "{e:?}");
            let msg = e.to_string();
            assert!(
                msg.contains("traces: shutdown did not finish within 1s"),
                "{msg}"
            );
        }
        other => panic!("expected a reported overrun, got {other:?}"),
    }
}

#[test]
fn force_flush_is_bounded_against_a_hung_collector() {
    let (endpoint, _accepted) = hung_collector();
    let g = guard(&endpoint, Protocol::Grpc);
    emit(&g);
    let start = Instant::now();
    let result = g.force_flush();
    let took = start.elapsed();
    assert!(took < BOUND, "flush took {took:?}");
    match result {
        Err(e) => {
            assert_eq!(e.operation(), ShutdownOperation::Flush);
            assert!(e.timed_out(), "{e:?}");
        }
        Ok(()) => panic!("expected the overrun reported"),
    }
}

#[test]
fn collector_down_neither_errors_nor_blocks_the_caller() {
    for protocol in [Protocol::Grpc, Protocol::HttpProtobuf] {
        let g = guard(&closed_endpoint(), protocol);
        let tracer = g.sdk_tracer();
        // More spans than the batch queue holds (2048): overflow is dropped,
        // never waited for. Emitting happens on its own thread so a block
        // shows up as a timeout here instead of a hung test.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut recorded = 0;
            for _ in 0..5_000 {
                let mut span = tracer.start(CHECKOUT_PROCESS);
                recorded += usize::from(span.is_recording());
                span.end();
            }
            let _ = tx.send(recorded);
        });
        let recorded = rx
            .recv_timeout(BOUND)
            .expect("emitting spans blocked with the collector down");
        assert_eq!(recorded, 5_000, "{protocol}");

        let start = Instant::now();
        drop(g);
        assert!(start.elapsed() < BOUND, "{protocol}: drop took too long");
    }
}

#[test]
fn collector_down_failures_are_reported_by_flush_not_hidden() {
    for protocol in [Protocol::Grpc, Protocol::HttpProtobuf] {
        // A short export timeout (retries stop at it) and a roomy bound, so
        // the failed export completes inside the flush and is counted.
        let g = Telemetry::builder("checkout-down")
            .endpoint(closed_endpoint())
            .protocol(protocol)
            .timeout(Duration::from_millis(300))
            .shutdown_timeout(BOUND)
            .with_env(Vec::<(String, String)>::new())
            .build()
            .expect("build");
        g.sdk_tracer().start(CHECKOUT_PROCESS).end();
        match g.force_flush() {
            Err(e) => {
                assert_eq!(e.traces().failed_exports, 1, "{protocol}: {e:?}");
                assert!(e.traces().last_export_error.is_some(), "{protocol}: {e:?}");
                assert!(!e.timed_out(), "{protocol}: {e:?}");
                let msg = e.to_string();
                assert!(
                    msg.contains("traces: 1 export(s) failed during flush"),
                    "{protocol}: {msg}"
                );
            }
            other => panic!("{protocol}: expected reported failures, got {other:?}"),
        }
    }
}
