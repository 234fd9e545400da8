//! What happens to the shop (`tests/common/shop.rs`, six services) when the
//! collector misbehaves, against a real collector (rotel): down at start and
//! started mid-run, killed mid-run, hung (accepts and never answers), and a
//! burst that overflows the export queue.
//!
//! Each test prints its figures (`FIGURE ...`, run with `--nocapture`); the
//! README's Reliability section quotes them. The only time assertions are
//! generous upper bounds on shutdown (3x the configured bound). The tests run
//! one at a time (a lock) so that memory figures are this test's own.
//!
//! Without rotel these tests fail under CI and are skipped locally.

mod common;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use checkout_otel::attributes::{CHECKOUT_PROCESS, CheckoutStatus};
use checkout_otel::init::{Protocol, SpanExportStats, TelemetryBuilder};
use common::rotel::{Collected, Rotel, Verbosity, free_port, rotel_or_skip};
use common::rss_kib;
use common::shop::{self, Kind, Outcome, Shop};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

const WAIT: Duration = Duration::from_secs(30);
const SHUTDOWN_BOUND: Duration = Duration::from_secs(1);

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner())
}

/// Short export timeout so that failures surface quickly, 3 s bound.
fn settings(b: TelemetryBuilder) -> TelemetryBuilder {
    b.timeout(Duration::from_millis(500))
        .shutdown_timeout(Duration::from_secs(3))
        .metric_export_interval(Duration::from_millis(500))
}

fn endpoint(rotel_grpc: u16, rotel_http: u16, protocol: Protocol) -> String {
    let port = if protocol == Protocol::Grpc {
        rotel_grpc
    } else {
        rotel_http
    };
    format!("http://127.0.0.1:{port}")
}

/// Runs checkouts `range`, returning their outcomes and the mean latency.
fn run(shop: &Shop, range: std::ops::Range<u64>) -> (Vec<(u64, Outcome)>, Duration) {
    let start = Instant::now();
    let outcomes: Vec<_> = shop::block_on(async {
        let mut v = Vec::new();
        for n in range.clone() {
            v.push((n, shop.checkout(n).await));
        }
        v
    });
    let mean = start.elapsed() / outcomes.len().max(1) as u32;
    (outcomes, mean)
}

/// The business outcome is what the cart and card say, whatever telemetry did.
fn assert_unaffected(outcomes: &[(u64, Outcome)]) {
    for (n, o) in outcomes {
        let expected = match Kind::of(*n) {
            Kind::Success => CheckoutStatus::Success,
            _ => CheckoutStatus::Rejected,
        };
        assert_eq!(o.status, expected, "checkout {n}");
    }
}

fn spans_of(c: &Collected, outcomes: &[(u64, Outcome)]) -> usize {
    c.spans
        .iter()
        .filter(|s| outcomes.iter().any(|(_, o)| o.trace_id == s.trace_id))
        .count()
}

fn expected_spans(outcomes: &[(u64, Outcome)]) -> usize {
    outcomes.iter().map(|(n, _)| Kind::of(*n).spans()).sum()
}

/// Checkouts one at a time, each flushed, until one reaches the collector:
/// how long export took to resume, and the next checkout number. The
/// figures say how many attempts that took (1: the very first export after
/// the collector came back got through).
fn wait_until_export_resumes(shop: &Shop, rotel: &Rotel, first: u64) -> (Duration, u64) {
    let start = Instant::now();
    let mut n = first;
    loop {
        let (outcomes, _) = run(shop, n..n + 1);
        let _ = shop.flush();
        let c = rotel.wait_for(Duration::from_millis(500), |c| spans_of(c, &outcomes) > 0);
        n += 1;
        if spans_of(&c, &outcomes) > 0 {
            return (start.elapsed(), n);
        }
        assert!(
            start.elapsed() < WAIT,
            "export did not resume within {WAIT:?}"
        );
    }
}

fn print_stats(label: &str, s: &SpanExportStats) {
    eprintln!(
        "FIGURE {label}: queued {} exported {} failed {} dropped {} pending {}",
        s.queued,
        s.exported,
        s.failed,
        s.dropped,
        s.pending()
    );
}

fn collector_down_at_start_then_started(protocol: Protocol) {
    let Some(bin) = rotel_or_skip("collector_down_at_start") else {
        return;
    };
    let _serial = serial();
    let (grpc, http) = (free_port(), free_port());
    let shop = Shop::start(&endpoint(grpc, http, protocol), protocol, settings);

    // Nothing listens: checkouts go on, export fails and says so.
    let (down, down_latency) = run(&shop, 0..20);
    assert_unaffected(&down);
    let errors = shop.flush();
    assert!(
        errors.iter().any(|(_, e)| e.failed_exports() > 0),
        "{protocol}: failures not reported: {errors:?}"
    );
    let during_outage = shop.stats();
    assert!(during_outage.failed > 0, "{during_outage:?}");
    assert_eq!(during_outage.exported, 0, "{during_outage:?}");

    // The collector comes up on the configured port: export resumes.
    let rotel = Rotel::start_on(&bin, Verbosity::Detailed, grpc, http);
    let (resumed_after, next) = wait_until_export_resumes(&shop, &rotel, 1_000);
    let attempts = next - 1_000;
    let (up, up_latency) = run(&shop, next..next + 20);
    assert_unaffected(&up);
    assert!(shop.flush().is_empty(), "{protocol}: {:?}", shop.flush());
    let c = rotel.wait_for(WAIT, |c| spans_of(c, &up) == expected_spans(&up));
    assert_eq!(
        spans_of(&c, &up),
        expected_spans(&up),
        "{protocol}: spans after start-up"
    );
    let roots = c
        .spans
        .iter()
        .filter(|s| s.name == CHECKOUT_PROCESS)
        .count();
    assert!(roots >= up.len(), "{roots}");
    let after = shop.stats();
    assert_eq!(after.dropped, 0, "{after:?}");

    eprintln!(
        "FIGURE down-at-start/{protocol}: mean checkout {down_latency:?} while down, {up_latency:?} after start; \
         export resumed {resumed_after:?} after the collector started (checkout {attempts} after it was up was the first exported); \
         every span of the next 20 checkouts arrived"
    );
    print_stats(&format!("down-at-start/{protocol}"), &after);
    assert!(shop.shutdown().is_empty());
}

#[test]
fn collector_down_at_start_then_started_grpc() {
    collector_down_at_start_then_started(Protocol::Grpc);
}

#[test]
fn collector_down_at_start_then_started_http() {
    collector_down_at_start_then_started(Protocol::HttpProtobuf);
}

fn collector_killed_mid_run(protocol: Protocol) {
    let Some(bin) = rotel_or_skip("collector_killed_mid_run") else {
        return;
    };
    let _serial = serial();
    let mut rotel = Rotel::start(&bin, Verbosity::Detailed);
    let shop = Shop::start(
        &endpoint(rotel.grpc_port, rotel.http_port, protocol),
        protocol,
        settings,
    );

    let (before, healthy_latency) = run(&shop, 0..20);
    assert!(shop.flush().is_empty());
    let c = rotel.wait_for(WAIT, |c| spans_of(c, &before) == expected_spans(&before));
    assert_eq!(spans_of(&c, &before), expected_spans(&before));

    rotel.kill();
    let (during, outage_latency) = run(&shop, 100..120);
    assert_unaffected(&during);
    let errors = shop.flush();
    assert!(
        errors.iter().any(|(_, e)| e.failed_exports() > 0),
        "{protocol}: failures not reported: {errors:?}"
    );
    let outage = shop.stats();
    assert!(outage.failed > 0, "{outage:?}");

    rotel.restart();
    let (resumed_after, next) = wait_until_export_resumes(&shop, &rotel, 1_000);
    let attempts = next - 1_000;
    let (after, _) = run(&shop, next..next + 20);
    assert_unaffected(&after);
    assert!(shop.flush().is_empty(), "{protocol}: {:?}", shop.flush());
    let c = rotel.wait_for(WAIT, |c| spans_of(c, &after) == expected_spans(&after));
    assert_eq!(
        spans_of(&c, &after),
        expected_spans(&after),
        "{protocol}: after restart"
    );
    // Spans of the outage were not buffered for later: they failed, counted.
    assert_eq!(spans_of(&c, &during), 0);
    let stats = shop.stats();
    assert_eq!(stats.dropped, 0, "{stats:?}");

    eprintln!(
        "FIGURE killed/{protocol}: mean checkout {healthy_latency:?} healthy, {outage_latency:?} with the collector dead; \
         {} spans failed (counted, reported by flush); export resumed {resumed_after:?} after restart \
         (checkout {attempts} after it was up was the first exported)",
        outage.failed
    );
    print_stats(&format!("killed/{protocol}"), &stats);
    assert!(shop.shutdown().is_empty());
}

#[test]
fn collector_killed_mid_run_grpc() {
    collector_killed_mid_run(Protocol::Grpc);
}

#[test]
fn collector_killed_mid_run_http() {
    collector_killed_mid_run(Protocol::HttpProtobuf);
}

fn hung_collector(protocol: Protocol) {
    let Some(bin) = rotel_or_skip("hung_collector") else {
        return;
    };
    let _serial = serial();
    let mut rotel = Rotel::start(&bin, Verbosity::Basic);
    // The export timeout (5 s) outlasts the shutdown bound (1 s): the bound,
    // not the exporter giving up, must end the wait.
    let shop = Shop::start(
        &endpoint(rotel.grpc_port, rotel.http_port, protocol),
        protocol,
        |b| {
            b.timeout(Duration::from_secs(5))
                .shutdown_timeout(SHUTDOWN_BOUND)
                .metric_export_interval(Duration::from_millis(500))
        },
    );
    let (warm, _) = run(&shop, 0..5);
    assert_unaffected(&warm);
    assert!(shop.flush().is_empty());

    rotel.pause();
    let (hung, hung_latency) = run(&shop, 100..300);
    assert_unaffected(&hung);

    let start = Instant::now();
    let errors = shop.shutdown();
    let took = start.elapsed();
    eprintln!(
        "FIGURE hung/{protocol}: mean checkout {hung_latency:?} with the collector frozen; \
         shutdown of six services took {took:?} (bound {SHUTDOWN_BOUND:?} each, in parallel)"
    );
    assert!(
        took < SHUTDOWN_BOUND * 3,
        "{protocol}: shutdown took {took:?}"
    );
    assert!(
        errors
            .iter()
            .any(|(_, e)| e.timed_out() && e.bound() == SHUTDOWN_BOUND),
        "{protocol}: the overrun was not reported: {errors:?}"
    );
}

#[test]
fn hung_collector_shutdown_is_bounded_grpc() {
    hung_collector(Protocol::Grpc);
}

#[test]
fn hung_collector_shutdown_is_bounded_http() {
    hung_collector(Protocol::HttpProtobuf);
}

#[test]
fn burst_overflowing_the_queue_drops_counts_and_stays_bounded() {
    let Some(bin) = rotel_or_skip("burst_overflow") else {
        return;
    };
    let _serial = serial();
    let mut rotel = Rotel::start(&bin, Verbosity::Basic);
    let shop = Shop::start(&rotel.grpc_endpoint(), Protocol::Grpc, |b| {
        b.timeout(Duration::from_secs(5))
            .shutdown_timeout(SHUTDOWN_BOUND)
    });
    // Nothing drains: every export waits for a collector that never answers.
    rotel.pause();

    let burst = 5_000;
    let (first, _) = run(&shop, 0..burst);
    assert_unaffected(&first);
    let (rss_after_first, _) = rss_kib();
    let start = Instant::now();
    let (second, _) = run(&shop, burst..2 * burst);
    let second_took = start.elapsed();
    assert_unaffected(&second);
    let (rss_after_second, peak) = rss_kib();

    let created: u64 = (0..2 * burst).map(|n| Kind::of(n).spans() as u64).sum();
    let s = shop.stats();
    // Every span is accounted for: admitted to a queue or dropped, and
    // admitted ones are exported, failed or still pending.
    assert_eq!(s.queued + s.dropped, created, "{s:?}");
    assert_eq!(s.exported + s.failed + s.pending(), s.queued, "{s:?}");
    assert!(s.dropped > 0, "the burst did not overflow: {s:?}");
    // Bounded: at most a full queue plus the batch being exported, per service.
    let services = shop.guards.len() as u64;
    assert!(s.pending() <= s.capacity + 512 * services, "{s:?}");
    // Memory: the second burst's spans were all dropped, not kept. Keeping
    // 60,000 spans would take tens of MiB; allow 16 MiB of allocator noise.
    let growth = rss_after_second.saturating_sub(rss_after_first);
    assert!(
        growth < 16 * 1024,
        "RSS grew {growth} KiB during a fully dropped burst"
    );

    let errors = shop.flush();
    assert!(
        errors.iter().any(|(_, e)| e.dropped_spans() > 0),
        "drops not reported: {errors:?}"
    );
    let start = Instant::now();
    let _ = shop.shutdown();
    let shutdown_took = start.elapsed();
    assert!(
        shutdown_took < SHUTDOWN_BOUND * 3,
        "shutdown took {shutdown_took:?}"
    );

    eprintln!(
        "FIGURE overflow: {} checkouts ({created} spans) against a frozen collector: {} queued, {} dropped \
         and counted, {} pending at most {} (6 queues of {}); RSS {} MiB after the first {burst} checkouts, \
         {} MiB after the second {burst} (growth {growth} KiB), peak {} MiB; second burst ran at {:.0} checkouts/s; \
         shutdown {shutdown_took:?}",
        2 * burst,
        s.queued,
        s.dropped,
        s.pending(),
        s.capacity + 512 * services,
        s.capacity / services,
        rss_after_first / 1024,
        rss_after_second / 1024,
        peak / 1024,
        burst as f64 / second_took.as_secs_f64(),
    );
}
