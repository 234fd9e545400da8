//! Nothing per request that need not be: getting the tracer and the checkout
//! meter in a handler allocates nothing. Counted with a global allocator that
//! counts the calling thread's allocations only (the exporters' threads
//! allocate on their own schedule), so the counts are exact, not timings.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use checkout_otel::CheckoutTracer;
use checkout_otel::init::Exporter;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator; the counter is a thread-local
// `Cell` with a const initialiser, which itself never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: the caller's contract is the system allocator's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc` above, with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: as for `alloc` and `dealloc`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations `f` makes on this thread.
fn allocations(f: impl FnOnce()) -> u64 {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

#[test]
fn getting_the_tracer_and_meter_in_a_handler_allocates_nothing() {
    // The counter can fail: a `Box` is one allocation.
    assert_eq!(allocations(|| drop(Box::new(42_u64))), 1);

    let telemetry = checkout_otel::Telemetry::builder("checkout-api")
        .traces_exporter(Exporter::None)
        .metrics_exporter(Exporter::None)
        .logs_exporter(Exporter::None)
        .tracing_bridge(false)
        .with_env(Vec::<(String, String)>::new())
        .init()
        .expect("init");
    // What a service keeps in its state, built once at start.
    let state = telemetry.tracer();

    // What a handler does per request.
    let n = allocations(|| {
        let tracer = state.clone();
        let metrics = tracer.metrics();
        std::hint::black_box((&tracer, metrics));
        drop(tracer);
    });
    assert_eq!(n, 0, "cloning the state's tracer and taking its meter");

    let n = allocations(|| {
        let tracer = CheckoutTracer::global();
        std::hint::black_box(tracer.metrics());
        drop(tracer);
    });
    assert_eq!(n, 0, "CheckoutTracer::global() after init");

    let n = allocations(|| {
        std::hint::black_box(telemetry.metrics());
    });
    assert_eq!(n, 0, "the guard's checkout meter");
    drop(telemetry);
}
