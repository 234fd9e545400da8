//! Load: 10,000 checkouts through the instrumented shop (six services, 12
//! spans per successful checkout, the checkout metrics), exporting over
//! OTLP/gRPC to a real collector (rotel, which counts what it receives).
//!
//! Measured and printed (`FIGURE ...`): throughput of the same workload
//! without instrumentation, with it compiled in but disabled
//! (`OTEL_SDK_DISABLED`), and instrumented (the ratio to the bare run is the
//! instrumentation's cost on the request path); peak memory (VmHWM) of each
//! run; and that no span is lost while the collector keeps up. "Keeps up":
//! the checkout loop yields while more than half of a service's export queue
//! is waiting (read from `TelemetryGuard::span_export_stats`), the
//! back-pressure a real service gets from its own request rate. A last run at
//! full speed shows what happens when it does not: drops, counted.
//!
//! It runs with the other tests (about 8 s in a debug build); the figures in
//! the README come from the release build:
//! `cargo test --release --all-features --test load -- --nocapture`.

mod common;

use std::time::{Duration, Instant};

use checkout_otel::attributes::CheckoutStatus;
use checkout_otel::init::Protocol;
use common::rotel::{Rotel, Verbosity, rotel_or_skip};
use common::rss_kib;
use common::shop::{self, Kind, Shop};

const CHECKOUTS: u64 = 10_000;

/// CPU time this thread has run, from `/proc/thread-self/schedstat`: the
/// request path's own cost, apart from the exporter threads and the
/// collector, which share the machine's cores.
fn thread_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    let ns = stat
        .split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    Duration::from_nanos(ns)
}

/// Resets the peak (VmHWM) to the current RSS, so each run's peak is its own.
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

struct Run {
    label: &'static str,
    per_sec: f64,
    /// CPU time of the checkout thread per checkout.
    cpu_per_checkout: Duration,
    peak_mib: f64,
    successes: u64,
}

fn measure(label: &'static str, f: impl FnOnce() -> u64) -> Run {
    reset_peak();
    let cpu = thread_cpu();
    let start = Instant::now();
    let successes = f();
    let took = start.elapsed();
    let cpu = thread_cpu().saturating_sub(cpu);
    let (_, peak) = rss_kib();
    let run = Run {
        label,
        per_sec: CHECKOUTS as f64 / took.as_secs_f64(),
        cpu_per_checkout: cpu / CHECKOUTS as u32,
        peak_mib: peak as f64 / 1024.0,
        successes,
    };
    eprintln!(
        "FIGURE load/{label}: {CHECKOUTS} checkouts in {took:.2?} = {:.0} checkouts/s, \
         {:.1?} CPU per checkout on the request thread, peak RSS {:.1} MiB",
        run.per_sec, run.cpu_per_checkout, run.peak_mib
    );
    run
}

fn successes(statuses: impl Iterator<Item = CheckoutStatus>) -> u64 {
    statuses.filter(|s| *s == CheckoutStatus::Success).count() as u64
}

#[test]
fn ten_thousand_checkouts() {
    let Some(bin) = rotel_or_skip("load") else {
        return;
    };
    let created: u64 = (0..CHECKOUTS).map(|n| Kind::of(n).spans() as u64).sum();
    let expected_successes = (0..CHECKOUTS)
        .filter(|n| Kind::of(*n) == Kind::Success)
        .count() as u64;

    // Without instrumentation: the same business work, no telemetry calls.
    let shop = Shop::disabled();
    let bare = measure("bare", || {
        shop::block_on(async {
            let mut out = Vec::new();
            for n in 0..CHECKOUTS {
                out.push(shop.checkout_bare(n).await.status);
            }
            successes(out.into_iter())
        })
    });
    // Instrumented, with telemetry turned off.
    let disabled = measure("disabled", || {
        shop::block_on(async {
            let mut out = Vec::new();
            for n in 0..CHECKOUTS {
                out.push(shop.checkout(n).await.status);
            }
            successes(out.into_iter())
        })
    });
    drop(shop);

    // Instrumented, exporting to rotel, paced so that the collector keeps up.
    let rotel = Rotel::start(&bin, Verbosity::Basic);
    let shop = Shop::start(&rotel.grpc_endpoint(), Protocol::Grpc, |b| {
        b.timeout(Duration::from_secs(10))
            .shutdown_timeout(Duration::from_secs(10))
            .metric_export_interval(Duration::from_secs(1))
    });
    let mut yields = 0u64;
    let exported = measure("instrumented", || {
        shop::block_on(async {
            let mut out = Vec::new();
            for n in 0..CHECKOUTS {
                out.push(shop.checkout(n).await.status);
                while shop
                    .guards
                    .iter()
                    .map(|g| g.span_export_stats())
                    .any(|s| s.pending() > s.capacity / 2)
                {
                    yields += 1;
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
            successes(out.into_iter())
        })
    });
    let flush_errors = shop.flush();
    let stats = shop.stats();
    let c = rotel.wait_for(Duration::from_secs(60), |c| c.basic_span_count >= created);
    assert!(flush_errors.is_empty(), "{flush_errors:?}");
    assert_eq!(stats.dropped, 0, "{stats:?}");
    assert_eq!(stats.failed, 0, "{stats:?}");
    assert_eq!(stats.queued, created, "{stats:?}");
    assert_eq!(stats.exported, created, "{stats:?}");
    assert_eq!(
        c.basic_span_count, created,
        "spans received by the collector"
    );
    assert!(shop.shutdown().is_empty());
    drop(rotel);

    // Full speed, default queues: the collector cannot keep up; what is
    // dropped is counted, and the request path never waits.
    let rotel = Rotel::start(&bin, Verbosity::Basic);
    let shop = Shop::start(&rotel.grpc_endpoint(), Protocol::Grpc, |b| {
        b.timeout(Duration::from_secs(10))
            .shutdown_timeout(Duration::from_secs(10))
    });
    let full = measure("instrumented-unpaced", || {
        shop::block_on(async {
            let mut out = Vec::new();
            for n in 0..CHECKOUTS {
                out.push(shop.checkout(n).await.status);
            }
            successes(out.into_iter())
        })
    });
    let _ = shop.flush();
    let unpaced = shop.stats();
    let c = rotel.wait_for(Duration::from_secs(60), |c| {
        c.basic_span_count >= unpaced.exported
    });
    assert_eq!(unpaced.queued + unpaced.dropped, created, "{unpaced:?}");
    assert_eq!(c.basic_span_count, unpaced.exported, "{unpaced:?}");
    let _ = shop.shutdown();

    for run in [&bare, &disabled, &exported, &full] {
        assert_eq!(run.successes, expected_successes, "{}", run.label);
    }
    eprintln!(
        "FIGURE load: {created} spans created, {} received by rotel, 0 lost ({yields} 1-ms yields to let export keep up)",
        c.basic_span_count.max(stats.exported)
    );
    eprintln!(
        "FIGURE load: throughput instrumented/bare = {:.2} (paced, exporting), {:.2} (full speed), disabled/bare = {:.2}",
        exported.per_sec / bare.per_sec,
        full.per_sec / bare.per_sec,
        disabled.per_sec / bare.per_sec
    );
    eprintln!(
        "FIGURE load: request-thread CPU per checkout: bare {:.1?}, disabled {:.1?}, instrumented {:.1?} (+{:.1?} for 12 spans and the metrics)",
        bare.cpu_per_checkout,
        disabled.cpu_per_checkout,
        full.cpu_per_checkout,
        full.cpu_per_checkout.saturating_sub(bare.cpu_per_checkout)
    );
    eprintln!(
        "FIGURE load/unpaced: queued {} dropped {} (counted) exported {} of {created}",
        unpaced.queued, unpaced.dropped, unpaced.exported
    );
}
