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
//! For a profiler, `OVERHEAD_PROFILE=<group>/<side>:<iterations>` runs one
//! case that many times and exits, without criterion (for example under
//! `valgrind --tool=callgrind`).

mod checkout;
mod equivalence;
mod meter;
mod setup;
mod span;

use std::hint::black_box;

use checkout_otel::spans::CheckoutTracer;
use criterion::Criterion;

use crate::setup::{Mode, block_on, provider, sdk_tracer, subscriber};

/// One measured side of a group.
struct Case {
    group: &'static str,
    side: &'static str,
    run: Box<dyn FnMut()>,
}

/// Every case, in report order. What a case needs (providers, subscribers,
/// inputs) is built here, outside the measured closure.
fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    let mut add = |group, side, run: Box<dyn FnMut()>| cases.push(Case { group, side, run });

    for (group, mode) in [
        ("span_sampled", Mode::Sampled),
        ("span_unsampled", Mode::Unsampled),
        ("span_disabled", Mode::Disabled),
    ] {
        let provider = provider(mode);
        let tracer = sdk_tracer(&provider);
        let typed = CheckoutTracer::new(tracer.clone());
        let i = span::Inputs::new();
        add(
            group,
            "crate",
            Box::new(move || span::with_crate(black_box(&typed), black_box(&i))),
        );
        let (t, i) = (tracer.clone(), span::Inputs::new());
        add(
            group,
            "raw",
            Box::new(move || span::raw(black_box(&t), black_box(&i))),
        );
        let (dispatch, i) = (tracing_dispatch(subscriber(tracer)), span::Inputs::new());
        add(
            group,
            "tracing",
            Box::new(move || {
                tracing::dispatcher::with_default(&dispatch, || span::via_tracing(black_box(&i)))
            }),
        );
    }

    let provider = provider(Mode::Sampled);
    let tracer = sdk_tracer(&provider);
    let typed = CheckoutTracer::new(tracer.clone());
    let i = checkout::Inputs::new();
    add(
        "checkout_trace",
        "crate",
        Box::new(move || block_on(checkout::with_crate(black_box(&typed), black_box(&i)))),
    );
    let (t, i) = (tracer.clone(), checkout::Inputs::new());
    add(
        "checkout_trace",
        "raw",
        Box::new(move || block_on(checkout::raw(black_box(&t), black_box(&i)))),
    );
    let (dispatch, i) = (
        tracing_dispatch(subscriber(tracer)),
        checkout::Inputs::new(),
    );
    add(
        "checkout_trace",
        "tracing",
        Box::new(move || {
            tracing::dispatcher::with_default(&dispatch, || {
                block_on(checkout::via_tracing(black_box(&i)))
            })
        }),
    );

    // Each side has its own meter provider, kept alive by its closure.
    let p = meter::provider();
    let metrics = meter::crate_metrics(&p);
    let d = meter::Durations::new();
    add(
        "meter_checkout",
        "crate",
        Box::new(move || {
            let _ = &p;
            meter::with_crate(black_box(&metrics), black_box(&d))
        }),
    );
    let p = meter::provider();
    let raw = meter::raw_instruments(&p);
    let d = meter::Durations::new();
    add(
        "meter_checkout",
        "raw",
        Box::new(move || {
            let _ = &p;
            meter::raw(black_box(&raw), black_box(&d))
        }),
    );
    let (dispatch, d) = (
        tracing_dispatch(meter::subscriber(meter::provider())),
        meter::Durations::new(),
    );
    add(
        "meter_checkout",
        "tracing",
        Box::new(move || {
            tracing::dispatcher::with_default(&dispatch, || meter::via_tracing(black_box(&d)))
        }),
    );

    cases
}

fn tracing_dispatch(
    subscriber: impl tracing::Subscriber + Send + Sync + 'static,
) -> tracing::Dispatch {
    tracing::Dispatch::new(subscriber)
}

/// `OVERHEAD_PROFILE=<group>/<side>:<iterations>`: run one case, no criterion.
fn profile(spec: &str, cases: &mut [Case]) {
    let (id, n) = spec.rsplit_once(':').unwrap_or((spec, "100000"));
    let n: u64 = n.parse().expect("OVERHEAD_PROFILE iterations");
    let case = cases
        .iter_mut()
        .find(|c| format!("{}/{}", c.group, c.side) == id)
        .unwrap_or_else(|| panic!("no case {id}"));
    for _ in 0..n {
        (case.run)();
    }
}

/// `OVERHEAD_AB=<group>`: alternate the sides of a group in short rounds and
/// print each side's fastest and median round, a quick comparison that holds
/// up on a busy machine (every side sees the same interference).
fn alternate(group: &str, cases: &mut [Case]) {
    const ROUNDS: usize = 41;
    const ITERS: u32 = 2_000;
    let mut sides: Vec<&mut Case> = cases.iter_mut().filter(|c| c.group == group).collect();
    assert!(!sides.is_empty(), "no group {group}");
    let mut times = vec![Vec::with_capacity(ROUNDS); sides.len()];
    for _ in 0..ROUNDS {
        for (case, times) in sides.iter_mut().zip(&mut times) {
            let start = std::time::Instant::now();
            for _ in 0..ITERS {
                (case.run)();
            }
            times.push(start.elapsed().as_nanos() as f64 / f64::from(ITERS));
        }
    }
    for (case, times) in sides.iter().zip(&mut times) {
        times.sort_by(f64::total_cmp);
        println!(
            "{}/{}: min {:.0} ns, median {:.0} ns",
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
            g.bench_function(case.side, |b| b.iter(&mut case.run));
        }
        g.finish();
        rest = later;
    }
    c.final_summary();
}
