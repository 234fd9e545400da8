//! The instrumentation's cost on the hot path, side by side with what a user
//! would otherwise write, in one run.
//!
//! Each group measures the crate's helper (`crate`), the same telemetry
//! hand-written on the raw OpenTelemetry API (`raw`) and, where it applies,
//! the same through `tracing` + tracing-opentelemetry (`tracing`). Before
//! anything is timed, every side runs once into an in-memory exporter and
//! must record exactly what the crate records.
//!
//! Run with `cargo bench --bench overhead`, then turn the results into the
//! ratio table with `python3 tools/bench_ratios.py`.
//!
//! Two modes skip criterion:
//! - `OVERHEAD_PROFILE=<group>/<side>:<iterations>` runs one case that many
//!   times and exits (for `valgrind --tool=callgrind` or `perf record`);
//! - `OVERHEAD_AB=<group>` alternates the sides of a group in short rounds
//!   and prints each side's fastest and median round: a quick comparison that
//!   holds up on a busy machine, since every side sees the same interference.

mod checkout;
mod debug_event;
mod equivalence;
mod grpc;
mod logs;
mod meter;
mod pii;
mod propagation;
mod setup;
mod span;

use std::hint::black_box;
use std::time::{Duration, Instant};

use checkout_otel::opentelemetry_sdk::trace::SpanData;
use criterion::{BatchSize, Criterion};

use crate::setup::{
    Mode, block_on, crate_tracer, crate_tracer_with_meter, provider, sdk_tracer, subscriber,
    subscriber_with_defaults,
};

/// How a case runs.
enum Run {
    /// The closure is the measured work.
    Plain(Box<dyn FnMut()>),
    /// `setup` makes the input outside the measurement; `routine` consumes it.
    Batched(
        Box<dyn FnMut() -> Vec<SpanData>>,
        Box<dyn FnMut(Vec<SpanData>)>,
    ),
}

/// One measured side of a group.
struct Case {
    group: &'static str,
    side: &'static str,
    run: Run,
    /// The subscriber a `tracing` side runs under, made the default for the
    /// thread around the measurement (not inside it).
    dispatch: Option<tracing::Dispatch>,
}

impl Case {
    /// Runs `iterations` times; returns the time spent in the measured part.
    fn time(&mut self, iterations: u32) -> Duration {
        let _default = self.dispatch.as_ref().map(tracing::dispatcher::set_default);
        match &mut self.run {
            Run::Plain(f) => {
                let start = Instant::now();
                for _ in 0..iterations {
                    f();
                }
                start.elapsed()
            }
            Run::Batched(setup, routine) => {
                let mut total = Duration::ZERO;
                for _ in 0..iterations {
                    let input = setup();
                    let start = Instant::now();
                    routine(input);
                    total += start.elapsed();
                }
                total
            }
        }
    }
}

struct Cases(Vec<Case>);

impl Cases {
    fn plain(&mut self, group: &'static str, side: &'static str, f: impl FnMut() + 'static) {
        self.0.push(Case {
            group,
            side,
            run: Run::Plain(Box::new(f)),
            dispatch: None,
        });
    }

    fn traced(
        &mut self,
        group: &'static str,
        side: &'static str,
        subscriber: impl tracing::Subscriber + Send + Sync + 'static,
        f: impl FnMut() + 'static,
    ) {
        self.0.push(Case {
            group,
            side,
            run: Run::Plain(Box::new(f)),
            dispatch: Some(tracing::Dispatch::new(subscriber)),
        });
    }

    fn batched(
        &mut self,
        group: &'static str,
        side: &'static str,
        setup: impl FnMut() -> Vec<SpanData> + 'static,
        routine: impl FnMut(Vec<SpanData>) + 'static,
    ) {
        self.0.push(Case {
            group,
            side,
            run: Run::Batched(Box::new(setup), Box::new(routine)),
            dispatch: None,
        });
    }
}

/// Every case, in report order. What a case needs (providers, subscribers,
/// inputs) is built here, outside the measurement.
fn cases() -> Vec<Case> {
    let mut c = Cases(Vec::new());

    for (group, mode) in [
        ("span_sampled", Mode::Sampled),
        ("span_unsampled", Mode::Unsampled),
        ("span_disabled", Mode::Disabled),
    ] {
        let provider = provider(mode);
        let tracer = sdk_tracer(&provider);
        let typed = crate_tracer(&provider);
        let i = span::Inputs::new();
        c.plain(group, "crate", move || {
            span::with_crate(black_box(&typed), black_box(&i))
        });
        let (t, i) = (tracer.clone(), span::Inputs::new());
        // Each group's raw side is the expert's code for its situation.
        let raw = match mode {
            Mode::Sampled => span::raw,
            Mode::Unsampled | Mode::Disabled => span::raw_recording_first,
        };
        c.plain(group, "raw", move || raw(black_box(&t), black_box(&i)));
        let i = span::Inputs::new();
        c.traced(group, "tracing", subscriber(tracer), move || {
            span::via_tracing(black_box(&i))
        });
    }

    let provider = provider(Mode::Sampled);
    let tracer = sdk_tracer(&provider);
    // The crate and raw sides record the checkout's metrics, each into a
    // meter provider of its own with a reader (the `tracing` sides record
    // none: tracing-opentelemetry cannot set the histograms' buckets).
    let meters = meter::provider();
    let typed = crate_tracer_with_meter(&provider, &meters);
    let i = checkout::Inputs::new();
    c.plain("checkout_trace", "crate", move || {
        let _ = &meters;
        block_on(checkout::with_crate(black_box(&typed), black_box(&i)))
    });
    let meters = meter::provider();
    let raw = meter::raw_instruments(&meters);
    let (t, i) = (tracer.clone(), checkout::Inputs::new());
    c.plain("checkout_trace", "raw", move || {
        let _ = &meters;
        block_on(checkout::raw(black_box(&t), black_box(&raw), black_box(&i)))
    });
    let i = checkout::Inputs::new();
    c.traced(
        "checkout_trace",
        "tracing",
        subscriber(tracer.clone()),
        move || block_on(checkout::via_tracing(black_box(&i))),
    );
    // Not a like-for-like side (it records more): shows what the layer's
    // defaults cost.
    let i = checkout::Inputs::new();
    c.traced(
        "checkout_trace",
        "tracing_defaults",
        subscriber_with_defaults(tracer),
        move || block_on(checkout::via_tracing(black_box(&i))),
    );

    // Each side has its own meter provider, kept alive by its closure.
    let (p, d) = (meter::provider(), meter::Durations::new());
    let metrics = meter::crate_metrics(&p);
    c.plain("meter_checkout", "crate", move || {
        let _ = &p;
        meter::with_crate(black_box(&metrics), black_box(&d))
    });
    let (p, d) = (meter::provider(), meter::Durations::new());
    let raw = meter::raw_instruments(&p);
    c.plain("meter_checkout", "raw", move || {
        let _ = &p;
        meter::raw(black_box(&raw), black_box(&d))
    });
    let d = meter::Durations::new();
    c.traced(
        "meter_checkout",
        "tracing",
        meter::subscriber(meter::provider()),
        move || meter::via_tracing(black_box(&d)),
    );

    // One unary call through the gRPC server layer, against the same span
    // by hand around the same in-process routes.
    let traces = setup::provider(Mode::Sampled);
    let mut call = grpc::with_crate(&crate_tracer(&traces));
    c.plain("grpc_server_call", "crate", move || {
        black_box(call());
    });
    let mut call = grpc::raw(sdk_tracer(&traces), grpc::propagator());
    c.plain("grpc_server_call", "raw", move || {
        black_box(call());
    });
    let mut call = grpc::client_with_crate(&crate_tracer(&traces));
    c.plain("grpc_client_call", "crate", move || {
        black_box(call());
    });
    let mut call = grpc::client_raw(sdk_tracer(&traces), grpc::propagator());
    c.plain("grpc_client_call", "raw", move || {
        black_box(call());
    });

    let hasher = pii::hasher();
    c.plain("pseudonymise", "crate", move || {
        drop(pii::pseudonymise(
            black_box(&hasher),
            black_box(pii::CUSTOMER_ID),
        ))
    });
    let raw = pii::RawHasher::new();
    c.plain("pseudonymise", "raw", move || {
        drop(raw.hash(black_box(pii::CUSTOMER_ID)))
    });

    c.plain("scrub_200", "clean", || {
        drop(checkout_otel::pii::scrub(black_box(pii::CLEAN_200)))
    });
    c.plain("scrub_200", "with_pii", || {
        drop(checkout_otel::pii::scrub(black_box(pii::WITH_PII_200)))
    });

    let batch = pii::span_batch();
    let exporter = pii::redacting();
    let input = batch.clone();
    c.batched(
        "redacting_exporter",
        "crate",
        move || input.clone(),
        move |b| pii::export(&exporter, b),
    );
    c.batched(
        "redacting_exporter",
        "raw",
        move || batch.clone(),
        |b| pii::export(&setup::NoopExporter, b),
    );

    // One export of a busy service's checkout meter, with and without the
    // exit check (both read back by the test kit: the difference is the
    // check's cost per export). Each export waits for the periodic reader's
    // thread, so wall time here is mostly its wake-up: compare the two sides
    // under callgrind (`OVERHEAD_PROFILE=metric_export/<side>:<n>`).
    for (side, redaction) in [("exit_check", true), ("unchecked", false)] {
        let kit = meter::export_kit(redaction);
        c.plain("metric_export", side, move || {
            black_box(meter::export(black_box(&kit)));
        });
    }

    // One hop of W3C trace context: the crate's propagator against the SDK's.
    let (p, h) = (propagation::crate_propagator(), propagation::inbound());
    c.plain("trace_context_hop", "crate", move || {
        drop(propagation::hop(black_box(&p), black_box(&h)))
    });
    let (p, h) = (propagation::sdk_propagator(), propagation::inbound());
    c.plain("trace_context_hop", "sdk", move || {
        drop(propagation::hop(black_box(&p), black_box(&h)))
    });

    // One `tracing` log record: the crate's bridge (exit check included)
    // against the appender's bridge alone, both over a no-op exporter.
    let cx = logs::context();
    c.traced(
        "log_record",
        "crate",
        logs::with_crate(logs::noop(), true),
        move || logs::emit(black_box(&cx)),
    );
    // The same without the exit check: the difference is its cost per record.
    let cx = logs::context();
    c.traced(
        "log_record",
        "crate_unchecked",
        logs::with_crate(logs::noop(), false),
        move || logs::emit(black_box(&cx)),
    );
    let cx = logs::context();
    c.traced(
        "log_record",
        "appender",
        logs::appender(logs::noop()),
        move || logs::emit(black_box(&cx)),
    );

    // A DEBUG event below the default level: the crate's layers installed
    // against no subscriber at all.
    c.traced(
        "debug_event",
        "crate",
        debug_event::with_crate(),
        move || debug_event::emit(black_box("cart-3b9d41e7"), black_box(2)),
    );
    c.traced(
        "debug_event",
        "no_subscriber",
        tracing::subscriber::NoSubscriber::default(),
        move || debug_event::emit(black_box("cart-3b9d41e7"), black_box(2)),
    );

    c.0
}

/// `OVERHEAD_PROFILE=<group>/<side>:<iterations>`: run one case, no criterion.
fn profile(spec: &str, cases: &mut [Case]) {
    let (id, n) = spec.rsplit_once(':').unwrap_or((spec, "100000"));
    let n: u32 = n.parse().expect("OVERHEAD_PROFILE iterations");
    let case = cases
        .iter_mut()
        .find(|c| format!("{}/{}", c.group, c.side) == id)
        .unwrap_or_else(|| panic!("no case {id}"));
    case.time(n);
}

/// `OVERHEAD_AB=<group>`: alternate the sides of a group, 41 rounds.
fn alternate(group: &str, cases: &mut [Case]) {
    const ROUNDS: usize = 41;
    let mut sides: Vec<&mut Case> = cases.iter_mut().filter(|c| c.group == group).collect();
    assert!(!sides.is_empty(), "no group {group}");
    // About 2 ms per side and round.
    let iterations: Vec<u32> = sides
        .iter_mut()
        .map(|c| {
            let once = c.time(10).as_nanos().max(1) / 10;
            (2_000_000 / once).clamp(1, 100_000) as u32
        })
        .collect();
    let mut times = vec![Vec::with_capacity(ROUNDS); sides.len()];
    for _ in 0..ROUNDS {
        for ((case, n), times) in sides.iter_mut().zip(&iterations).zip(&mut times) {
            times.push(case.time(*n).as_nanos() as f64 / f64::from(*n));
        }
    }
    for (case, times) in sides.iter().zip(&mut times) {
        times.sort_by(f64::total_cmp);
        println!(
            "{}/{}: fastest {:.0} ns, median {:.0} ns",
            case.group,
            case.side,
            times[0],
            times[ROUNDS / 2]
        );
    }
}

fn main() {
    let mut cases = cases();
    if let Ok(spec) = std::env::var("OVERHEAD_PROFILE") {
        profile(&spec, &mut cases);
        return;
    }
    if let Ok(group) = std::env::var("OVERHEAD_AB") {
        alternate(&group, &mut cases);
        return;
    }

    let trace = equivalence::check_spans();
    equivalence::check_meter();
    equivalence::check_pii();
    equivalence::check_logs();
    equivalence::check_propagation();
    equivalence::check_grpc();
    eprintln!(
        "equivalence checked: checkout trace of {} spans, {} attributes, {} events on every side",
        trace.spans, trace.attributes, trace.events
    );

    let mut c = Criterion::default().configure_from_args();
    let mut rest = cases.as_mut_slice();
    while let Some(first) = rest.first() {
        let group = first.group;
        let len = rest.iter().take_while(|c| c.group == group).count();
        let (now, later) = rest.split_at_mut(len);
        let mut g = c.benchmark_group(group);
        for case in now {
            let _default = case.dispatch.as_ref().map(tracing::dispatcher::set_default);
            match &mut case.run {
                Run::Plain(f) => g.bench_function(case.side, |b| b.iter(&mut *f)),
                Run::Batched(setup, routine) => g.bench_function(case.side, |b| {
                    b.iter_batched(&mut *setup, &mut *routine, BatchSize::LargeInput)
                }),
            };
        }
        g.finish();
        rest = later;
    }
    c.final_summary();
}
