//! A `tracing::debug!` below the default level with the crate's layers as
//! the process's *global* subscriber, as in a service: the callsite's
//! interest is cached as `never` at its first use, so each later call is a
//! level check and one load. (The `debug_event` group of the `overhead` bench
//! measures the same call site under a scoped subscriber, where tracing
//! cannot cache the interest and asks the filters every time.) A separate
//! binary because a global subscriber can be set once per process.
//!
//! `cargo bench --bench debug_event`; `-- --test` runs each case once.

use std::hint::black_box;

use criterion::Criterion;

// The same call site and subscriber as the `overhead` bench's group.
#[path = "overhead/debug_event.rs"]
mod shared;

fn main() {
    tracing::subscriber::set_global_default(shared::with_crate()).expect("the only subscriber");
    assert!(
        !tracing::enabled!(tracing::Level::DEBUG),
        "DEBUG is below the default level"
    );

    let mut c = Criterion::default().configure_from_args();
    c.bench_function("debug_event_global/crate", |b| {
        b.iter(|| {
            shared::emit(black_box("cart-3b9d41e7"), black_box(2));
        })
    });
    c.bench_function("debug_event_global/empty", |b| b.iter(|| black_box(2_i64)));
    c.final_summary();
}
