//! Golden tests of rendered waterfalls (injected timings, fixed width, no
//! colour), and tests of the development exporter and the span collector
//! through real SDK tracer providers.
//!
//! Expected pictures live in `tests/golden/*.txt`. After an intended change
//! of the layout, regenerate them with `UPDATE_GOLDEN=1 cargo test --test
//! waterfall_golden` and review the diff.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use checkout_otel::attributes::{
    CART_FETCH_CONTENTS, CART_VALIDATE, CART_VERIFY_PRICES, CHECKOUT_PROCESS, ERROR_TYPE,
    INVENTORY_RESERVE_BATCH, INVENTORY_RESERVE_ITEM, NOTIFICATION_SEND, ORDER_CREATE,
    PAYMENT_GATEWAY_CALL, PAYMENT_PROCESS,
};
use checkout_otel::waterfall::{
    ColorChoice, PrintAt, SpanCollector, WaterfallExporter, WaterfallOptions, WaterfallSpan, render,
};
use opentelemetry::trace::{
    Span as _, SpanContext, SpanId, Status, TraceContextExt, TraceFlags, TraceId, TraceState,
    Tracer as _, TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;

const TRACE: u128 = 0x4bf92f3577b34da6a3ce929d0e0e4736;

fn t(ms: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000) + Duration::from_millis(ms)
}

/// A span of trace `TRACE`; `parent` 0 means root.
fn span(id: u64, parent: u64, name: &str, service: &str, start: u64, end: u64) -> WaterfallSpan {
    let s = WaterfallSpan::new(
        TraceId::from(TRACE),
        SpanId::from(id),
        name,
        service,
        t(start),
        t(end),
    );
    if parent == 0 {
        s
    } else {
        s.with_parent(SpanId::from(parent))
    }
}

fn plain(width: usize) -> WaterfallOptions {
    WaterfallOptions::default()
        .with_width(width)
        .with_color(ColorChoice::Never)
}

/// Compares with `tests/golden/{name}.txt` (or writes it with UPDATE_GOLDEN=1).
fn golden(name: &str, actual: &str) {
    let path = format!("{}/tests/golden/{name}.txt", env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e} (run with UPDATE_GOLDEN=1 to create it)"));
    assert!(
        actual == expected,
        "waterfall {name} differs from {path}\n--- expected\n{expected}--- actual\n{actual}"
    );
}

/// The article's slow checkout: 9.2 s, of which the payment gateway 6.9 s,
/// across six services. A service's first span continues the trace from
/// the checkout service (remote parent, present in the set).
fn slow_checkout() -> Vec<WaterfallSpan> {
    let remote = |s: WaterfallSpan| {
        let parent = s.parent_span_id;
        s.with_remote_parent(parent)
    };
    vec![
        span(1, 0, CHECKOUT_PROCESS, "checkout", 0, 9200),
        remote(span(2, 1, CART_VALIDATE, "cart", 10, 420)),
        span(3, 2, CART_FETCH_CONTENTS, "cart", 15, 210),
        span(4, 2, CART_VERIFY_PRICES, "cart", 215, 410),
        remote(span(5, 1, INVENTORY_RESERVE_BATCH, "inventory", 430, 1480)),
        span(6, 5, INVENTORY_RESERVE_ITEM, "inventory", 440, 1200),
        span(7, 5, INVENTORY_RESERVE_ITEM, "inventory", 440, 1470),
        remote(span(8, 1, PAYMENT_PROCESS, "payment", 1500, 8600)),
        span(9, 8, PAYMENT_GATEWAY_CALL, "payment", 1600, 8500),
        remote(span(10, 1, ORDER_CREATE, "order", 8610, 8990)),
        remote(span(11, 1, NOTIFICATION_SEND, "notification", 9000, 9190)),
    ]
}

#[test]
fn multi_service_trace() {
    let out = render(&slow_checkout(), &plain(100));
    golden("multi_service", &out);
    // The point of the picture, spelled out.
    assert!(
        out.starts_with("trace 4bf92f3577b34da6a3ce929d0e0e4736 · 9.20s · 6 services · 11 spans\n")
    );
    let gateway = out
        .lines()
        .find(|l| l.contains("payment.gateway_call"))
        .unwrap();
    assert!(
        gateway.starts_with("    payment.gateway_call "),
        "{gateway}"
    );
    assert!(gateway.contains("│  6.90s  payment"), "{gateway}");
    assert!(
        !out.contains('↑'),
        "no span should be marked orphan:\n{out}"
    );
}

#[test]
fn nesting() {
    let spans = vec![
        span(1, 0, "root", "svc", 0, 1000),
        span(2, 1, "level1", "svc", 100, 900),
        span(3, 2, "level2", "svc", 200, 800),
        span(4, 3, "level3", "svc", 300, 700),
        span(5, 1, "level1.sibling", "svc", 920, 990),
    ];
    let out = render(&spans, &plain(80));
    golden("nesting", &out);
    let names: Vec<&str> = out
        .lines()
        .skip(1)
        .map(|l| l.split(" │").next().unwrap().trim_end())
        .collect();
    assert_eq!(
        names,
        [
            "root",
            "  level1",
            "    level2",
            "      level3",
            "  level1.sibling"
        ]
    );
}

#[test]
fn ordering_by_start_time_whatever_the_input_order() {
    // Ended (and so exported) in the reverse of their start order.
    let spans = vec![
        span(4, 1, "third", "svc", 600, 700),
        span(3, 1, "second", "svc", 300, 800),
        span(2, 1, "first", "svc", 100, 200),
        span(1, 0, "root", "svc", 0, 1000),
    ];
    let out = render(&spans, &plain(80));
    golden("ordering", &out);
    let mut reversed = spans.clone();
    reversed.reverse();
    assert_eq!(render(&reversed, &plain(80)), out);
}

#[test]
fn concurrent_siblings() {
    // Three reservations started together; ties broken by span id.
    let spans = vec![
        span(1, 0, INVENTORY_RESERVE_BATCH, "inventory", 0, 400),
        span(0x30, 1, "reserve sku-c", "inventory", 10, 390),
        span(0x10, 1, "reserve sku-a", "inventory", 10, 120),
        span(0x20, 1, "reserve sku-b", "inventory", 10, 250),
    ];
    let out = render(&spans, &plain(80));
    golden("concurrent_siblings", &out);
    let names: Vec<&str> = out
        .lines()
        .skip(1)
        .map(|l| l.split(" │").next().unwrap().trim())
        .collect();
    assert_eq!(
        names,
        [
            INVENTORY_RESERVE_BATCH,
            "reserve sku-a",
            "reserve sku-b",
            "reserve sku-c"
        ]
    );
}

#[test]
fn error_span() {
    let spans = vec![
        span(1, 0, CHECKOUT_PROCESS, "checkout", 0, 3100).with_error("payment_failed"),
        span(2, 1, PAYMENT_PROCESS, "checkout", 50, 3050).with_error("payment_failed"),
        span(3, 2, PAYMENT_GATEWAY_CALL, "checkout", 60, 3060).with_error("timeout"),
        span(4, 1, "inventory.release", "checkout", 3060, 3090),
    ];
    let out = render(&spans, &plain(90));
    golden("error_span", &out);
    let gateway = out
        .lines()
        .find(|l| l.contains(PAYMENT_GATEWAY_CALL))
        .unwrap();
    assert!(gateway.ends_with("checkout  ✗ timeout"), "{gateway}");
    let release = out
        .lines()
        .find(|l| l.contains("inventory.release"))
        .unwrap();
    assert!(!release.contains('✗'));
}

#[test]
fn missing_parent() {
    let spans = vec![
        span(1, 0, CHECKOUT_PROCESS, "checkout", 0, 1000),
        span(2, 1, CART_VALIDATE, "checkout", 100, 300),
        // Its parent (0xdead) was never exported.
        span(3, 0xdead, ORDER_CREATE, "checkout", 500, 900),
        span(4, 3, "order.insert", "checkout", 550, 850),
        // Continues a trace from another process whose spans we don't have.
        WaterfallSpan::new(
            TraceId::from(TRACE),
            SpanId::from(5),
            "payment.process",
            "payment",
            t(400),
            t(480),
        )
        .with_remote_parent(SpanId::from(0xbeef)),
    ];
    let out = render(&spans, &plain(90));
    golden("missing_parent", &out);
    let order = out.lines().find(|l| l.contains(ORDER_CREATE)).unwrap();
    assert!(
        order.starts_with(ORDER_CREATE),
        "orphan at top level: {order}"
    );
    assert!(
        order.ends_with("↑ parent 000000000000dead not in trace"),
        "{order}"
    );
    let insert = out.lines().find(|l| l.contains("order.insert")).unwrap();
    assert!(
        insert.starts_with("  order.insert"),
        "orphan keeps its children: {insert}"
    );
    let payment = out.lines().find(|l| l.contains("payment.process")).unwrap();
    assert!(
        payment.ends_with("↑ remote parent 000000000000beef"),
        "{payment}"
    );
    assert_eq!(out.lines().count(), 6, "header + every span:\n{out}");
}

#[test]
fn several_traces_render_one_after_the_other() {
    let other = |id: u64, parent: u64, name: &str, start: u64, end: u64| {
        let s = WaterfallSpan::new(
            TraceId::from(0x11u128),
            SpanId::from(id),
            name,
            "checkout",
            t(start),
            t(end),
        );
        if parent == 0 {
            s
        } else {
            s.with_parent(SpanId::from(parent))
        }
    };
    // Interleaved input; the later-starting trace comes second.
    let spans = vec![
        other(0x21, 0x20, CART_VALIDATE, 2100, 2200),
        span(1, 0, CHECKOUT_PROCESS, "checkout", 0, 500),
        other(0x20, 0, CHECKOUT_PROCESS, 2000, 2812),
        span(2, 1, CART_VALIDATE, "cart", 20, 80).with_remote_parent(SpanId::from(1)),
    ];
    let out = render(&spans, &plain(80));
    golden("several_traces", &out);
    let headers: Vec<&str> = out.lines().filter(|l| l.starts_with("trace ")).collect();
    assert_eq!(
        headers,
        [
            "trace 4bf92f3577b34da6a3ce929d0e0e4736 · 500ms · 2 services · 2 spans",
            "trace 00000000000000000000000000000011 · 812ms · 1 service · 2 spans",
        ]
    );
}

#[test]
fn narrow_width_truncates_names_and_keeps_a_minimum_bar() {
    let spans = vec![
        span(
            1,
            0,
            "checkout.process.with.a.very.long.name",
            "checkout",
            0,
            100,
        ),
        span(2, 1, "child", "checkout", 0, 50),
    ];
    let out = render(&spans, &plain(20));
    golden("narrow", &out);
    assert!(out.contains("\ncheckout.proces… │██████████│"), "{out}");
}

#[test]
fn huge_width_is_capped() {
    let spans = vec![span(1, 0, "root", "svc", 0, 100)];
    let out = render(&spans, &plain(usize::MAX));
    assert_eq!(out.lines().nth(1).unwrap().chars().count(), 1000);
}

#[test]
fn parent_loops_and_deep_chains_are_drawn_not_lost() {
    // A's parent is B and B's is A: malformed, but both rows appear.
    let looped = vec![span(1, 2, "a", "svc", 0, 10), span(2, 1, "b", "svc", 1, 9)];
    let out = render(&looped, &plain(60));
    assert_eq!(out.lines().count(), 3, "{out}");
    assert!(
        out.lines().nth(1).unwrap().ends_with("↑ parent loop"),
        "{out}"
    );
    assert!(out.lines().nth(2).unwrap().starts_with("  b "), "{out}");

    // 20 000 levels: no recursion, no stack overflow.
    let deep: Vec<_> = (1..=20_000u64)
        .map(|i| span(i, i - 1, "level", "svc", i, 40_000 - i))
        .collect();
    let out = render(&deep, &plain(60));
    assert_eq!(out.lines().count(), 20_001);
}

#[test]
fn untrusted_names_cannot_break_lines_or_restyle_the_terminal() {
    let spans = vec![span(1, 0, "evil\n\x1b[2Jname", "svc\r", 0, 10).with_error("x\ny")];
    let out = render(&spans, &plain(60));
    assert!(!out.contains('\x1b'));
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(out.contains("evil  [2Jname"), "{out}");
    assert!(out.ends_with("✗ x y\n"), "{out:?}");
}

#[test]
fn color_only_when_asked() {
    let spans = vec![
        span(1, 0, CHECKOUT_PROCESS, "checkout", 0, 100),
        span(2, 1, PAYMENT_GATEWAY_CALL, "payment", 10, 90).with_error("timeout"),
    ];
    let never = render(&spans, &plain(80));
    assert!(!never.contains('\x1b'));
    let always = render(&spans, &plain(80).with_color(ColorChoice::Always));
    // Error bar and marker in red; the checkout service's bar in its colour.
    assert!(always.contains("\x1b[31m✗ timeout\x1b[0m"), "{always:?}");
    assert!(always.contains("\x1b[31m▐████"), "{always:?}");
    assert!(always.contains("\x1b[36m████"), "{always:?}");
    // Same text once the escapes are removed.
    let stripped = strip_ansi(&always);
    assert_eq!(stripped, never);
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

// ---------------------------------------------------------------------------
// From SDK span data
// ---------------------------------------------------------------------------

#[test]
fn error_marker_prefers_error_type_then_status_message() {
    let collector = SpanCollector::new();
    let provider = SdkTracerProvider::builder()
        .with_resource(
            Resource::builder_empty()
                .with_service_name("payment")
                .build(),
        )
        .with_simple_exporter(collector.exporter())
        .build();
    let tracer = provider.tracer("test");
    let end = |name: &'static str, attrs: Vec<KeyValue>, status: Status| {
        let mut span = tracer.start(name);
        span.set_attributes(attrs);
        span.set_status(status);
        span.end();
    };
    end(
        "typed",
        vec![KeyValue::new(ERROR_TYPE, "card_declined")],
        Status::error("Your card was declined"),
    );
    end("message_only", vec![], Status::error("gateway said no"));
    end("empty_message", vec![], Status::error(""));
    end("ok", vec![], Status::Ok);
    end(
        "type_without_status",
        vec![KeyValue::new(ERROR_TYPE, "timeout")],
        Status::Unset,
    );

    let rows = collector.spans();
    let error_of = |name: &str| {
        rows.iter()
            .find(|r| r.name == name)
            .unwrap_or_else(|| panic!("{name} missing"))
            .error
            .clone()
    };
    assert_eq!(error_of("typed").as_deref(), Some("card_declined"));
    assert_eq!(error_of("message_only").as_deref(), Some("gateway said no"));
    assert_eq!(error_of("empty_message").as_deref(), Some("error"));
    assert_eq!(error_of("ok"), None);
    assert_eq!(error_of("type_without_status").as_deref(), Some("timeout"));
    assert!(rows.iter().all(|r| r.service == "payment"));
}

// ---------------------------------------------------------------------------
// The development exporter
// ---------------------------------------------------------------------------

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Buffer {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

fn dev_provider(buffer: &Buffer, exporter: WaterfallExporter) -> SdkTracerProvider {
    SdkTracerProvider::builder()
        .with_resource(
            Resource::builder_empty()
                .with_service_name("checkout")
                .build(),
        )
        .with_simple_exporter(exporter.with_writer(buffer.clone()).with_options(plain(80)))
        .build()
}

/// The name column of each non-header line.
fn row_names(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.starts_with("trace ") && !l.is_empty())
        .map(|l| l.split(" │").next().unwrap().trim_end().to_owned())
        .collect()
}

#[test]
fn exporter_prints_each_trace_once_when_its_local_root_ends() {
    let buffer = Buffer::default();
    let provider = dev_provider(&buffer, WaterfallExporter::new());
    let tracer = provider.tracer("test");

    let root = tracer.start(CHECKOUT_PROCESS);
    let cx = Context::current_with_span(root);
    let trace_id = cx.span().span_context().trace_id();
    {
        let validate = cx.with_span(tracer.start_with_context(CART_VALIDATE, &cx));
        tracer
            .start_with_context(CART_FETCH_CONTENTS, &validate)
            .end();
        validate.span().end();
    }
    let mut pay = tracer.start_with_context(PAYMENT_PROCESS, &cx);
    pay.set_attribute(KeyValue::new(ERROR_TYPE, "card_declined"));
    pay.set_status(Status::error("declined"));
    pay.end();
    assert_eq!(buffer.text(), "", "nothing printed before the root ends");

    cx.span().end();
    let printed = buffer.text();
    let header = printed.lines().next().unwrap();
    assert!(
        header.starts_with(&format!("trace {trace_id} · "))
            && header.ends_with(" · 1 service · 4 spans"),
        "{header}"
    );
    assert_eq!(
        row_names(&printed),
        [
            CHECKOUT_PROCESS,
            "  cart.validate",
            "    cart.fetch_contents",
            "  payment.process"
        ]
    );
    assert!(
        printed
            .lines()
            .nth(4)
            .unwrap()
            .ends_with("checkout  ✗ card_declined")
    );

    // A second trace prints separately; the first is not printed again.
    tracer.in_span(ORDER_CREATE, |_| {});
    let printed = buffer.text();
    assert_eq!(printed.matches("trace ").count(), 2);
    assert_eq!(printed.matches(CHECKOUT_PROCESS).count(), 1);
    assert_eq!(
        row_names(&printed),
        [
            CHECKOUT_PROCESS,
            "  cart.validate",
            "    cart.fetch_contents",
            "  payment.process",
            ORDER_CREATE
        ]
    );
}

#[test]
fn exporter_treats_a_span_with_a_remote_parent_as_the_local_root() {
    let buffer = Buffer::default();
    let provider = dev_provider(&buffer, WaterfallExporter::new());
    let tracer = provider.tracer("test");
    let upstream = SpanContext::new(
        TraceId::from(TRACE),
        SpanId::from(0xbeef),
        TraceFlags::SAMPLED,
        true,
        TraceState::NONE,
    );
    {
        let _upstream = Context::new().with_remote_span_context(upstream).attach();
        tracer.in_span(PAYMENT_PROCESS, |_| {
            tracer.in_span(PAYMENT_GATEWAY_CALL, |_| {});
        });
    }
    let printed = buffer.text();
    assert_eq!(printed.matches("trace ").count(), 1, "{printed}");
    assert_eq!(
        row_names(&printed),
        [PAYMENT_PROCESS, "  payment.gateway_call"]
    );
    assert!(
        printed
            .lines()
            .nth(1)
            .unwrap()
            .ends_with("↑ remote parent 000000000000beef"),
        "{printed}"
    );
}

#[test]
fn exporter_buffers_are_bounded_and_leftovers_print_at_shutdown() {
    let buffer = Buffer::default();
    let provider = dev_provider(&buffer, WaterfallExporter::new().with_limits(1, 2));
    let tracer = provider.tracer("test");

    // Trace A: root held open, three children end (limit 2 per trace).
    let root_a = Context::current_with_span(tracer.start("a.root"));
    for name in ["a.1", "a.2", "a.3"] {
        tracer.start_with_context(name, &root_a).end();
    }
    // Trace B: root held open, one child; only one trace is kept, so A's
    // buffered children are evicted.
    let root_b = Context::current_with_span(tracer.start("b.root"));
    tracer.start_with_context("b.1", &root_b).end();
    assert_eq!(buffer.text(), "");

    // A's root ends: printed alone (its children were evicted).
    root_a.span().end();
    assert_eq!(row_names(&buffer.text()), ["a.root"]);

    // Shutdown prints B's child, marked incomplete (its root never ended).
    provider.shutdown().unwrap();
    let printed = buffer.text();
    let last_header = printed.lines().rfind(|l| l.starts_with("trace ")).unwrap();
    assert!(
        last_header.ends_with(" · 1 service · 1 span · incomplete: root span not ended"),
        "{printed}"
    );
    assert_eq!(row_names(&printed), ["a.root", "b.1"]);
    drop(root_b);
}

#[test]
fn exporter_counts_spans_over_the_per_trace_limit() {
    let buffer = Buffer::default();
    let provider = dev_provider(&buffer, WaterfallExporter::new().with_limits(4, 2));
    let tracer = provider.tracer("test");
    tracer.in_span(CHECKOUT_PROCESS, |cx| {
        for name in ["one", "two", "three", "four"] {
            tracer.start_with_context(name, &cx).end();
        }
    });
    let printed = buffer.text();
    assert!(
        printed
            .lines()
            .next()
            .unwrap()
            .ends_with(" · 1 service · 3 spans · 2 spans dropped"),
        "{printed}"
    );
    assert_eq!(row_names(&printed), [CHECKOUT_PROCESS, "  one", "  two"]);
}

#[test]
fn shared_exporter_draws_a_cross_service_trace_once_at_the_trace_root() {
    for (print_at, expected_pictures) in [(PrintAt::TraceRoot, 1), (PrintAt::LocalRoot, 2)] {
        let buffer = Buffer::default();
        let exporter = WaterfallExporter::new()
            .with_writer(buffer.clone())
            .with_options(plain(80))
            .print_at(print_at);
        let provider = |service: &'static str| {
            SdkTracerProvider::builder()
                .with_resource(Resource::builder_empty().with_service_name(service).build())
                .with_simple_exporter(exporter.clone())
                .build()
        };
        let (checkout, payment) = (provider("checkout"), provider("payment"));
        let (ct, pt) = (checkout.tracer("t"), payment.tracer("t"));

        // The payment service continues the trace through propagation, as
        // it would over HTTP: its first span has a remote parent.
        ct.in_span(CHECKOUT_PROCESS, |cx| {
            let upstream = cx.span().span_context().clone();
            let remote = SpanContext::new(
                upstream.trace_id(),
                upstream.span_id(),
                upstream.trace_flags(),
                true,
                upstream.trace_state().clone(),
            );
            let _payment_cx = Context::new().with_remote_span_context(remote).attach();
            pt.in_span(PAYMENT_PROCESS, |_| {
                pt.in_span(PAYMENT_GATEWAY_CALL, |_| {})
            });
        });

        let printed = buffer.text();
        assert_eq!(
            printed.matches("trace ").count(),
            expected_pictures,
            "{print_at:?}:\n{printed}"
        );
        assert!(printed.ends_with("\n\n"), "a blank line after each picture");
        if print_at == PrintAt::TraceRoot {
            assert!(
                printed
                    .lines()
                    .next()
                    .unwrap()
                    .ends_with(" · 2 services · 3 spans")
            );
            assert_eq!(
                row_names(&printed),
                [
                    CHECKOUT_PROCESS,
                    "  payment.process",
                    "    payment.gateway_call"
                ]
            );
            assert!(!printed.contains('↑'), "no orphan marks:\n{printed}");
        } else {
            // Each service prints its own part, the payment part first.
            assert_eq!(
                row_names(&printed),
                [PAYMENT_PROCESS, "  payment.gateway_call", CHECKOUT_PROCESS]
            );
        }
    }
}

// ---------------------------------------------------------------------------
// The shared collector
// ---------------------------------------------------------------------------

#[test]
fn collector_gathers_several_services_into_one_trace() {
    let collector = SpanCollector::new();
    let provider = |service: &'static str| {
        SdkTracerProvider::builder()
            .with_resource(Resource::builder_empty().with_service_name(service).build())
            .with_simple_exporter(collector.exporter())
            .build()
    };
    let (checkout, payment) = (provider("checkout"), provider("payment"));
    let (ct, pt) = (checkout.tracer("t"), payment.tracer("t"));

    let trace_id = ct.in_span(CHECKOUT_PROCESS, |cx| {
        pt.in_span(PAYMENT_PROCESS, |_| {
            pt.in_span(PAYMENT_GATEWAY_CALL, |_| {})
        });
        ct.in_span(ORDER_CREATE, |_| {});
        cx.span().span_context().trace_id()
    });
    ct.in_span("another.trace", |_| {});

    assert_eq!(collector.len(), 5);
    assert_eq!(collector.trace_ids().len(), 2);
    let spans = collector.take_trace(trace_id);
    assert_eq!(collector.len(), 1, "the other trace stays");
    let services: Vec<(&str, &str)> = spans
        .iter()
        .map(|s| (s.name.as_str(), s.service.as_str()))
        .collect();
    assert_eq!(
        services,
        [
            (PAYMENT_GATEWAY_CALL, "payment"),
            (PAYMENT_PROCESS, "payment"),
            (ORDER_CREATE, "checkout"),
            (CHECKOUT_PROCESS, "checkout"),
        ]
    );
    let out = render(&spans, &plain(80));
    assert!(
        out.lines()
            .next()
            .unwrap()
            .ends_with(" · 2 services · 4 spans"),
        "{out}"
    );
    assert_eq!(
        row_names(&out),
        [
            CHECKOUT_PROCESS,
            "  payment.process",
            "    payment.gateway_call",
            "  order.create"
        ]
    );
    assert_eq!(collector.take_all().len(), 1);
    assert!(collector.is_empty());
}

#[test]
fn collector_is_bounded_and_survives_provider_shutdown() {
    let collector = SpanCollector::with_max_spans(2);
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(collector.exporter())
        .build();
    let tracer = provider.tracer("t");
    for name in ["first", "second", "third"] {
        tracer.in_span(name, |_| {});
    }
    provider.shutdown().unwrap();
    let names: Vec<String> = collector.spans().into_iter().map(|s| s.name).collect();
    assert_eq!(names, ["second", "third"]);
    assert_eq!(collector.evicted(), 1);
    // The SDK's default resource names the service after the executable.
    assert!(collector.spans()[0].service.starts_with("unknown_service"));
}
