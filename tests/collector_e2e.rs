//! End to end against a real OpenTelemetry collector (rotel, see
//! `tests/common/rotel.rs`): what the collector printed that it received is
//! parsed and checked. Spans from every service with one trace id per
//! checkout, the contract's names and attributes, the checkout metrics, and
//! no card number or email anywhere in the collector's output.
//!
//! Without rotel these tests fail under CI and are skipped locally.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use checkout_otel::attributes::{
    CHECKOUT_PROCESS, CHECKOUT_STATUS, CONTRACT_ATTRIBUTE_KEYS, CONTRACT_EVENT_NAMES,
    CONTRACT_METRIC_ATTRIBUTE_KEYS, CONTRACT_METRIC_NAMES, CONTRACT_RESOURCE_KEYS,
    CONTRACT_SPAN_NAMES, CheckoutStatus, DB_SYSTEM_NAME, HTTP_REQUEST_METHOD,
    HTTP_RESPONSE_STATUS_CODE, HTTP_ROUTE, METRIC_CHECKOUT_COMPLETED, METRIC_CHECKOUT_DURATION,
    METRIC_CHECKOUT_STEP_DURATION, METRIC_INVENTORY_SHORTFALLS, METRIC_PAYMENT_DECLINES,
    METRIC_PAYMENT_GATEWAY_DURATION, RPC_METHOD, RPC_RESPONSE_STATUS_CODE, RPC_SYSTEM_NAME,
    URL_PATH, URL_SCHEME, USER_HASH,
};
use checkout_otel::init::Protocol;
use checkout_otel::spans::{EXCEPTION_LOG_TARGET, ExceptionSignal};
use common::pii_match;
use common::pii_scan::{card_numbers, emails, find_pii};
use common::rotel::{Collected, CollectedLog, CollectedSpan, Rotel, Verbosity, rotel_or_skip};
use common::shop::{self, CARD_NUMBER, Kind, SERVICES, Shop};

const WAIT: Duration = Duration::from_secs(30);
/// The gRPC method of the gateway -> payment hop: the name of both its spans.
const AUTHORIZE: &str = "checkout.payment.v1.PaymentService/Authorize";

/// Spans grouped by trace id.
fn traces(spans: &[CollectedSpan]) -> BTreeMap<&str, Vec<&CollectedSpan>> {
    let mut by_trace: BTreeMap<&str, Vec<&CollectedSpan>> = BTreeMap::new();
    for s in spans {
        by_trace.entry(&s.trace_id).or_default().push(s);
    }
    by_trace
}

/// Every trace holds exactly one `checkout.process`, and every span's
/// parent but the root's is in the same trace: context crossed every service
/// boundary. The root is `root` when given (the demo's gateway server span),
/// else `checkout.process`.
fn assert_one_trace_per_checkout(c: &Collected, root: Option<&str>) -> usize {
    let root = root.unwrap_or(CHECKOUT_PROCESS);
    let by_trace = traces(&c.spans);
    for (trace_id, spans) in &by_trace {
        let checkouts = spans.iter().filter(|s| s.name == CHECKOUT_PROCESS).count();
        assert_eq!(
            checkouts, 1,
            "trace {trace_id}: {checkouts} checkout.process spans"
        );
        let roots: Vec<_> = spans.iter().filter(|s| s.parent_id.is_empty()).collect();
        assert_eq!(roots.len(), 1, "trace {trace_id}: roots {roots:?}");
        assert_eq!(roots[0].name, root, "trace {trace_id}");
        let ids: BTreeSet<&str> = spans.iter().map(|s| s.span_id.as_str()).collect();
        for s in spans {
            if s.parent_id.is_empty() {
                continue;
            }
            assert!(
                ids.contains(s.parent_id.as_str()),
                "trace {trace_id}: {} ({}) has parent {:?} outside the trace",
                s.name,
                s.service(),
                s.parent_id
            );
        }
    }
    by_trace.len()
}

/// Names, attribute keys, events and resource keys all come from the contract.
fn assert_contract(c: &Collected, extra_span_names: &[&str]) {
    for s in &c.spans {
        let is_db = s.attributes.contains_key(DB_SYSTEM_NAME);
        assert!(
            CONTRACT_SPAN_NAMES.contains(&s.name.as_str())
                || is_db
                || extra_span_names.contains(&s.name.as_str()),
            "span name {:?} is not in the contract",
            s.name
        );
        if !CONTRACT_SPAN_NAMES.contains(&s.name.as_str()) {
            continue;
        }
        assert_eq!(s.scope, "checkout-otel", "{}", s.name);
        for key in s.attributes.keys() {
            assert!(
                CONTRACT_ATTRIBUTE_KEYS.contains(&key.as_str()),
                "{}: attribute {key:?} is not in the contract",
                s.name
            );
        }
        for (event, attrs) in &s.events {
            assert!(
                CONTRACT_EVENT_NAMES.contains(&event.as_str()),
                "{}: event {event:?} is not in the contract",
                s.name
            );
            for key in attrs.keys() {
                assert!(
                    CONTRACT_ATTRIBUTE_KEYS.contains(&key.as_str()),
                    "{}: event {event} attribute {key:?} is not in the contract",
                    s.name
                );
            }
        }
        for key in s.resource.keys() {
            assert!(
                CONTRACT_RESOURCE_KEYS.contains(&key.as_str()) || key.starts_with("telemetry.sdk."),
                "resource attribute {key:?} is not in the contract"
            );
        }
    }
    for p in &c.points {
        assert!(
            CONTRACT_METRIC_NAMES.contains(&p.metric.as_str()),
            "metric {:?} is not in the contract",
            p.metric
        );
        for key in p.attributes.keys() {
            assert!(
                CONTRACT_METRIC_ATTRIBUTE_KEYS.contains(&key.as_str()),
                "{}: metric attribute {key:?} is not in the contract",
                p.metric
            );
        }
    }
}

fn assert_no_pii(output: &str, known: &[&str]) {
    let found = find_pii(output);
    assert!(
        found.is_empty(),
        "PII in the collector's output:\n{}",
        found.join("\n")
    );
    for secret in known {
        assert!(!output.contains(secret), "{secret:?} reached the collector");
    }
}

fn run_shop_against_rotel(protocol: Protocol) {
    let Some(bin) = rotel_or_skip("collector_e2e") else {
        return;
    };
    let rotel = Rotel::start(&bin, Verbosity::Detailed);
    let endpoint = if protocol == Protocol::Grpc {
        rotel.grpc_endpoint()
    } else {
        rotel.http_endpoint()
    };
    let shop = Shop::start(&endpoint, protocol, shop::test_settings);
    let checkouts = 20;
    let outcomes: Vec<_> = shop::block_on(async {
        let mut v = Vec::new();
        for n in 0..checkouts {
            v.push((n, shop.checkout(n).await));
        }
        v
    });
    let expected_spans: usize = (0..checkouts).map(|n| Kind::of(n).spans()).sum();
    assert!(shop.flush().is_empty(), "{:?}", shop.flush());

    let c = rotel.wait_for(WAIT, |c| {
        c.spans.len() >= expected_spans
            && c.latest_sum("gateway", METRIC_CHECKOUT_COMPLETED) >= checkouts as f64
    });
    let output = rotel.output();

    // Every span the shop made arrived, from every service.
    if c.spans.len() != expected_spans {
        for (n, o) in &outcomes {
            let names: Vec<_> = c
                .spans
                .iter()
                .filter(|s| s.trace_id == o.trace_id)
                .map(|s| s.name.clone())
                .collect();
            eprintln!("{n} {:?} {} {names:?}", Kind::of(*n), names.len());
        }
    }
    assert_eq!(c.spans.len(), expected_spans, "{protocol}: spans received");
    let services: BTreeSet<&str> = c.spans.iter().map(CollectedSpan::service).collect();
    assert_eq!(services, SERVICES.into_iter().collect(), "{protocol}");

    // One trace per checkout, with the checkout's spans and nothing else.
    assert_eq!(
        assert_one_trace_per_checkout(&c, None),
        checkouts as usize,
        "{protocol}"
    );
    let by_trace = traces(&c.spans);
    for (n, outcome) in &outcomes {
        let spans = &by_trace[outcome.trace_id.as_str()];
        assert_eq!(spans.len(), Kind::of(*n).spans(), "checkout {n}");
        let root = spans
            .iter()
            .find(|s| s.name == CHECKOUT_PROCESS)
            .expect("root");
        assert_eq!(root.service(), "gateway");
        assert_eq!(root.kind, "SPAN_KIND_SERVER");
        assert_eq!(root.attributes["cart.id"], format!("cart-{n}"));
        assert_eq!(root.attributes[CHECKOUT_STATUS], outcome.status.as_str());
        let hash = &root.attributes[USER_HASH];
        assert!(
            hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()),
            "{hash}"
        );
        let expected = match Kind::of(*n) {
            Kind::Success => CheckoutStatus::Success,
            Kind::Declined | Kind::OutOfStock => CheckoutStatus::Rejected,
        };
        assert_eq!(outcome.status, expected, "checkout {n}");
        if Kind::of(*n) == Kind::Declined {
            let call = spans
                .iter()
                .find(|s| s.name == "payment.gateway_call")
                .expect("call");
            assert_eq!(call.service(), "payment");
            assert_eq!(
                call.attributes["payment.decline_code"],
                "insufficient_funds"
            );
            assert_eq!(call.attributes["peer.service"], "psp");
            assert_eq!(call.status_code, "STATUS_CODE_ERROR");
        }
    }
    assert_contract(&c, &[]);

    // The checkout metrics, from the services that own them.
    let names = c.metric_names();
    for name in [
        METRIC_CHECKOUT_COMPLETED,
        METRIC_CHECKOUT_DURATION,
        METRIC_CHECKOUT_STEP_DURATION,
    ] {
        assert!(
            c.points
                .iter()
                .any(|p| p.metric == name && p.service == "gateway"),
            "{name}: {names:?}"
        );
    }
    assert!(
        c.points
            .iter()
            .any(|p| p.metric == METRIC_PAYMENT_DECLINES && p.service == "payment"),
        "{names:?}"
    );
    assert!(
        c.points
            .iter()
            .any(|p| p.metric == METRIC_PAYMENT_GATEWAY_DURATION && p.service == "payment"),
        "{names:?}"
    );
    assert!(
        c.points
            .iter()
            .any(|p| p.metric == METRIC_INVENTORY_SHORTFALLS && p.service == "inventory"),
        "{names:?}"
    );
    assert_eq!(
        c.latest_sum("gateway", METRIC_CHECKOUT_COMPLETED),
        checkouts as f64
    );
    let declined = (0..checkouts)
        .filter(|n| Kind::of(*n) == Kind::Declined)
        .count();
    assert_eq!(
        c.latest_sum("payment", METRIC_PAYMENT_DECLINES),
        declined as f64
    );

    // The decline messages carried a card number and an email; customers
    // are identified by email. None of it left the process.
    let compact: String = CARD_NUMBER.split(' ').collect();
    assert_no_pii(&output, &[CARD_NUMBER, &compact, "@example.com"]);

    let stats = shop.stats();
    assert_eq!((stats.dropped, stats.failed), (0, 0), "{stats:?}");
    assert_eq!(stats.exported, expected_spans as u64, "{stats:?}");
    assert!(shop.shutdown().is_empty());
    eprintln!(
        "{protocol}: rotel received {} spans in {} traces from {} services, {} metric points",
        c.spans.len(),
        by_trace.len(),
        services.len(),
        c.points.len()
    );
}

#[test]
fn shop_exports_to_rotel_over_grpc() {
    run_shop_against_rotel(Protocol::Grpc);
}

#[test]
fn shop_exports_to_rotel_over_http() {
    run_shop_against_rotel(Protocol::HttpProtobuf);
}

/// The checkout demo's binary: `CHECKOUT_DEMO_BIN`, else next to this test
/// binary (`target/<profile>/examples/`), where `cargo test` builds it.
fn demo_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CHECKOUT_DEMO_BIN").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    let exe = std::env::current_exe().ok()?;
    let profile_dir = exe.parent()?.parent()?;
    let path = profile_dir
        .join("examples")
        .join(format!("checkout_demo{}", std::env::consts::EXE_SUFFIX));
    path.is_file().then_some(path)
}

/// Runs the demo against `rotel` over gRPC with `env` added; returns the
/// trace ids it printed, or `None` (after saying so) when the demo binary is
/// not there outside CI.
fn run_demo(rotel: &Rotel, env: &[(&str, &str)]) -> Option<BTreeSet<String>> {
    let Some(demo) = demo_binary() else {
        assert!(
            !common::rotel::in_ci(),
            "checkout_demo binary not found: `cargo test` builds it (or set CHECKOUT_DEMO_BIN)"
        );
        eprintln!("SKIPPED: build it with `cargo build --example checkout_demo --all-features`");
        return None;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let stdout_path = dir.path().join("demo.out");
    let mut child = Command::new(&demo)
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", rotel.grpc_endpoint())
        .env_remove("OTEL_EXPORTER_OTLP_PROTOCOL")
        .env_remove("OTEL_SDK_DISABLED")
        .env_remove(ExceptionSignal::ENV)
        .env("OTEL_METRIC_EXPORT_INTERVAL", "500")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout_path).expect("demo stdout"))
        .stderr(Stdio::piped())
        .spawn()
        .expect("start checkout_demo");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait demo") {
            break status;
        }
        if started.elapsed() > Duration::from_secs(180) {
            let _ = child.kill();
            panic!("checkout_demo did not finish within 180 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let stdout = std::fs::read_to_string(&stdout_path).unwrap_or_default();
    assert!(
        status.success(),
        "checkout_demo failed ({status}):\n{stdout}"
    );

    // The demo prints `trace    <id>` for each checkout it shows.
    let printed: BTreeSet<String> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("trace    "))
        .map(|id| id.trim().to_owned())
        .collect();
    assert!(
        !printed.is_empty(),
        "the demo printed no trace ids:\n{stdout}"
    );
    Some(printed)
}

/// The demo, exporting to rotel over gRPC.
#[test]
fn checkout_demo_exports_to_rotel() {
    let Some(bin) = rotel_or_skip("checkout_demo_exports_to_rotel") else {
        return;
    };
    let rotel = Rotel::start(&bin, Verbosity::Detailed);
    let Some(printed) = run_demo(&rotel, &[]) else {
        return;
    };

    // The demo shut its telemetry down (flushed) before exiting; allow the
    // collector a moment to print.
    let c = rotel.wait_for(WAIT, |c| {
        demo_arrived(c, &printed) && c.latest_sum("gateway", METRIC_CHECKOUT_COMPLETED) > 0.0
    });
    let output = rotel.output();

    let services: BTreeSet<&str> = c.spans.iter().map(CollectedSpan::service).collect();
    assert_eq!(
        services,
        SERVICES.into_iter().collect(),
        "services seen by the collector"
    );
    let traces_seen = assert_one_trace_per_checkout(&c, Some("POST /checkout"));
    // The gateway -> payment hop is gRPC: every payment SERVER span is an
    // RPC span, the child (across the hop) of a gateway RPC CLIENT span of
    // the same trace, both with the `rpc.*` attributes.
    let rpc_servers: Vec<&CollectedSpan> = c
        .spans
        .iter()
        .filter(|s| s.kind == "SPAN_KIND_SERVER" && s.service() == "payment")
        .collect();
    assert!(!rpc_servers.is_empty(), "no payment SERVER span received");
    for server in rpc_servers {
        assert_eq!(server.name, AUTHORIZE);
        let client = c
            .spans
            .iter()
            .find(|s| s.span_id == server.parent_id && s.trace_id == server.trace_id)
            .expect("the payment SERVER span's parent reached the collector");
        assert_eq!(
            (client.name.as_str(), client.kind.as_str(), client.service()),
            (AUTHORIZE, "SPAN_KIND_CLIENT", "gateway")
        );
        for span in [server, client] {
            assert_eq!(span.attributes[RPC_SYSTEM_NAME], "grpc");
            assert_eq!(span.attributes[RPC_METHOD], AUTHORIZE);
            assert!(span.attributes.contains_key(RPC_RESPONSE_STATUS_CODE));
        }
    }
    // Every other service's requests: a SERVER span with the HTTP attributes
    // the semantic conventions require.
    let http_services: BTreeSet<&str> = SERVICES.into_iter().filter(|s| *s != "payment").collect();
    let mut served = BTreeSet::new();
    for server in c
        .spans
        .iter()
        .filter(|s| s.kind == "SPAN_KIND_SERVER" && s.service() != "payment")
    {
        served.insert(server.service());
        for key in [
            HTTP_REQUEST_METHOD,
            URL_PATH,
            URL_SCHEME,
            HTTP_ROUTE,
            HTTP_RESPONSE_STATUS_CODE,
        ] {
            assert!(
                server.attributes.contains_key(key),
                "{} ({}) lacks {key}: {:?}",
                server.name,
                server.service(),
                server.attributes
            );
        }
        assert_eq!(server.attributes[URL_SCHEME], "http");
        assert_eq!(
            server.name,
            format!("POST {}", server.attributes[HTTP_ROUTE])
        );
    }
    assert_eq!(served, http_services, "services with HTTP server spans");
    for id in &printed {
        assert!(
            c.spans.iter().any(|s| &s.trace_id == id),
            "trace {id} never reached the collector"
        );
    }
    // As many checkouts counted by the gateway's meter as traces received.
    assert_eq!(
        c.latest_sum("gateway", METRIC_CHECKOUT_COMPLETED),
        traces_seen as f64
    );

    let names: BTreeSet<&str> = c.spans.iter().map(|s| s.name.as_str()).collect();
    for name in CONTRACT_SPAN_NAMES {
        // `inventory.release` happens only when a payment fails after a
        // reservation, which the demo's scenarios do include.
        assert!(names.contains(name), "no {name} span received: {names:?}");
    }
    // The demo's own spans (e.g. the email relay's) are outside the contract;
    // everything the crate's helpers emit is checked.
    let own: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| !CONTRACT_SPAN_NAMES.contains(n))
        .collect();
    assert_contract(&c, &own);
    for name in [
        METRIC_CHECKOUT_COMPLETED,
        METRIC_CHECKOUT_DURATION,
        METRIC_CHECKOUT_STEP_DURATION,
    ] {
        assert!(c.metric_names().contains(name), "no {name} metric received");
    }
    assert_no_pii(&output, &[]);
    let log_services = assert_demo_logs(&c);
    // Without `OTEL_SEMCONV_EXCEPTION_SIGNAL_OPT_IN`, exceptions stay span
    // events only.
    assert!(
        c.logs.iter().all(
            |l| l.scope != EXCEPTION_LOG_TARGET && !l.attributes.contains_key("exception.type")
        ),
        "exception log records without the opt-in"
    );
    assert!(
        c.spans
            .iter()
            .any(|s| s.events.iter().any(|(name, _)| name == "exception")),
        "no exception span events"
    );
    eprintln!(
        "checkout_demo: rotel received {} spans in {traces_seen} traces from {} services, {} log \
         records from {} services",
        c.spans.len(),
        services.len(),
        c.logs.len(),
        log_services.len()
    );
}

/// The demo's services that log: every one but the external gateway.
const DEMO_LOG_SERVICES: [&str; 6] = [
    "cart",
    "gateway",
    "inventory",
    "notification",
    "order",
    "payment",
];

/// Every printed trace and the log records of every logging service arrived.
fn demo_arrived(c: &Collected, printed: &BTreeSet<String>) -> bool {
    let ids: BTreeSet<&str> = c.spans.iter().map(|s| s.trace_id.as_str()).collect();
    let log_services: BTreeSet<&str> = c.logs.iter().map(CollectedLog::service).collect();
    printed.iter().all(|id| ids.contains(id.as_str()))
        && DEMO_LOG_SERVICES.iter().all(|s| log_services.contains(s))
}

/// The one record named `event` (the demo's `name:`), from `service`.
fn demo_log<'a>(c: &'a Collected, service: &str, event: &str) -> &'a CollectedLog {
    let record = c
        .logs
        .iter()
        .find(|l| l.event_name == event)
        .unwrap_or_else(|| panic!("no {event} log record from {service}"));
    assert_eq!(
        record.service(),
        service,
        "{event} logged by the wrong service"
    );
    record
}

/// The demo's log records as rotel received them (issue 16): from at least
/// five services, at least 80% in a trace, every trace and span id one of a
/// received span, every record with a severity, no PII in any record (the
/// independent matcher on body, event name, attribute keys and values), and
/// the lines a real service writes at their levels. Returns the services.
fn assert_demo_logs(c: &Collected) -> BTreeSet<&str> {
    let services: BTreeSet<&str> = c.logs.iter().map(CollectedLog::service).collect();
    assert!(
        services.len() >= 5,
        "log records from {services:?} only ({} records)",
        c.logs.len()
    );
    let in_trace = c.logs.iter().filter(|l| !l.trace_id.is_empty()).count();
    assert!(
        in_trace * 5 >= c.logs.len() * 4,
        "{in_trace} of {} log records carry a trace id",
        c.logs.len()
    );
    let span_ids: BTreeSet<(&str, &str)> = c
        .spans
        .iter()
        .map(|s| (s.trace_id.as_str(), s.span_id.as_str()))
        .collect();
    for l in &c.logs {
        let what = format!(
            "{} log record {:?} ({:?})",
            l.service(),
            l.event_name,
            l.body
        );
        if !l.trace_id.is_empty() {
            assert!(
                span_ids.contains(&(l.trace_id.as_str(), l.span_id.as_str())),
                "{what}: trace {} span {} is not a received span",
                l.trace_id,
                l.span_id
            );
        }
        assert!(
            !l.severity_text.is_empty() && l.severity_number > 0,
            "{what}: no severity"
        );
        let texts = [&l.body, &l.event_name]
            .into_iter()
            .chain(l.attributes.keys())
            .chain(l.attributes.values());
        for text in texts {
            let hits = pii_match::scan(text, &[]);
            assert!(hits.is_empty(), "{what}: PII in {text:?}: {hits:?}");
            // The demo's customer, planted in every scenario.
            assert!(
                !text.to_lowercase().contains("jane.doe"),
                "{what}: {text:?}"
            );
        }
    }

    // What each service says, at the level a real one would.
    const INFO: u8 = 9;
    const WARN: u8 = 13;
    const ERROR: u8 = 17;
    assert_eq!(demo_log(c, "order", "order.placed").severity_number, INFO);
    assert_eq!(demo_log(c, "cart", "cart.validated").severity_number, INFO);
    assert_eq!(
        demo_log(c, "cart", "cart.price_mismatch").severity_number,
        WARN
    );
    assert_eq!(
        demo_log(c, "notification", "notification.sent").severity_number,
        INFO
    );
    let short = demo_log(c, "inventory", "inventory.stock_short");
    assert_eq!(short.severity_number, WARN);
    for key in ["sku", "requested", "available"] {
        assert!(
            short.attributes.contains_key(key),
            "stock short without {key}: {short:?}"
        );
    }
    let declined = demo_log(c, "payment", "payment.declined");
    assert_eq!(declined.severity_number, WARN, "a decline is not an ERROR");
    assert!(
        matches!(
            declined
                .attributes
                .get("payment.decline_class")
                .map(String::as_str),
            Some("soft" | "hard")
        ),
        "decline without its class: {declined:?}"
    );
    assert_eq!(
        demo_log(c, "payment", "payment.gateway_timeout").severity_number,
        ERROR
    );
    assert_eq!(
        demo_log(c, "gateway", "checkout.completed").severity_number,
        INFO
    );
    services
}

/// With `OTEL_SEMCONV_EXCEPTION_SIGNAL_OPT_IN=logs/dup`, each failure the
/// demo records arrives twice: as an exception log record (its type, its
/// scrubbed message, the failed span's ids, ERROR for a fault and INFO for a
/// rejection) and as the `exception` event on that span.
#[test]
fn checkout_demo_exports_exception_logs_to_rotel_with_logs_dup() {
    let Some(bin) = rotel_or_skip("checkout_demo_exports_exception_logs_to_rotel_with_logs_dup")
    else {
        return;
    };
    let rotel = Rotel::start(&bin, Verbosity::Detailed);
    let Some(printed) = run_demo(&rotel, &[(ExceptionSignal::ENV, "logs/dup")]) else {
        return;
    };
    let c = rotel.wait_for(WAIT, |c| demo_arrived(c, &printed));
    assert_demo_logs(&c);
    assert_no_pii(&rotel.output(), &[]);

    let exceptions: Vec<&CollectedLog> = c
        .logs
        .iter()
        .filter(|l| l.attributes.contains_key("exception.type"))
        .collect();
    let mut kinds = BTreeSet::new();
    for e in &exceptions {
        assert_eq!(e.scope, EXCEPTION_LOG_TARGET, "{e:?}");
        assert!(e.attributes.contains_key("exception.message"), "{e:?}");
        let kind = e.attributes.get("failure.kind").map_or("", String::as_str);
        kinds.insert(kind);
        let expected = if kind == "fault" { 17 } else { 9 };
        assert_eq!(e.severity_number, expected, "{kind}: {e:?}");
        let span = c
            .spans
            .iter()
            .find(|s| s.trace_id == e.trace_id && s.span_id == e.span_id)
            .unwrap_or_else(|| panic!("the span of {e:?} was not received"));
        assert!(
            span.events.iter().any(|(name, attrs)| name == "exception"
                && attrs.get("exception.type") == e.attributes.get("exception.type")),
            "{} lost its exception event: {:?}",
            span.name,
            span.events
        );
    }
    assert_eq!(
        kinds,
        BTreeSet::from(["fault", "rejection"]),
        "exception log records of both kinds"
    );
    eprintln!(
        "checkout_demo (logs/dup): {} exception log records, each also a span event",
        exceptions.len()
    );
}

/// The parser reads rotel's log records (captured from rotel 0.0.1a15
/// receiving the demo's logs).
#[test]
fn rotel_log_output_is_parsed() {
    let sample = "\
ResourceLog #0
Resource SchemaURL: 
Resource attributes:
     -> service.name: Str(cart)
ScopeLogs #0
ScopeLogs SchemaURL: https://opentelemetry.io/schemas/1.42.0
InstrumentationScope checkout_demo::services::cart 0.1.0
LogRecord #0
ObservedTimestamp: 1795862929451203186
Timestamp: 0
SeverityText: WARN
SeverityNumber: SEVERITY_NUMBER_WARN(13)
EventName: cart.price_mismatch
Body: Str(price changed: since the item was added to the cart)
Attributes:
     -> sku: Str(sku-beans)
     -> seen_minor: Int(1999)
    Trace ID       : dc56a5cfff721568d20ee12bbcf3c744
    Span ID        : f9a53c74c1424c33
Flags: 1
ScopeLogs #1
InstrumentationScope checkout_otel::exception 0.1.0
LogRecord #0
SeverityText: INFO
SeverityNumber: SEVERITY_NUMBER_INFO(9)
Body: Str(1 price(s) changed)
Attributes:
     -> exception.type: Str(CartError)
    Trace ID       : 
    Span ID        : 
Flags: 0
ResourceSpans #0
Resource attributes:
     -> service.name: Str(cart)
ScopeSpans #0
InstrumentationScope checkout-otel 0.1.0
Span #0
    Trace ID       : dc56a5cfff721568d20ee12bbcf3c744
    ID             : f9a53c74c1424c33
    Name           : cart.verify_prices
Attributes:
     -> cart.item_count: Int(2)
";
    let c = Collected::parse(sample);
    assert_eq!(c.logs.len(), 2, "{:?}", c.logs);
    assert_eq!(c.spans.len(), 1);
    let l = &c.logs[0];
    assert_eq!(l.service(), "cart");
    assert_eq!(l.scope, "checkout_demo::services::cart");
    assert_eq!(l.severity_text, "WARN");
    assert_eq!(l.severity_number, 13);
    assert_eq!(l.event_name, "cart.price_mismatch");
    assert_eq!(
        l.body,
        "price changed: since the item was added to the cart"
    );
    assert_eq!(l.attributes["sku"], "sku-beans");
    assert_eq!(l.attributes["seen_minor"], "1999");
    assert_eq!(l.trace_id, "dc56a5cfff721568d20ee12bbcf3c744");
    assert_eq!(l.span_id, "f9a53c74c1424c33");
    let e = &c.logs[1];
    assert_eq!(e.scope, EXCEPTION_LOG_TARGET);
    assert_eq!(e.severity_number, 9);
    assert_eq!(e.event_name, "");
    assert_eq!(e.attributes["exception.type"], "CartError");
    assert_eq!((e.trace_id.as_str(), e.span_id.as_str()), ("", ""));
    assert_eq!(c.spans[0].attributes["cart.item_count"], "2");
    assert!(
        c.spans[0].attributes.len() == 1,
        "no log attribute on the span"
    );
}

/// The parser reads rotel's real output format (captured from rotel
/// 0.0.1a15 receiving this crate's export).
#[test]
fn rotel_output_is_parsed() {
    let sample = "\
\u{1b}[2m2026-11-21T19:48:40.009710Z\u{1b}[0m \u{1b}[32m INFO\u{1b}[0m Starting Rotel.
ResourceSpans #0
Resource SchemaURL: 
Resource attributes:
     -> service.name: Str(cart)
     -> service.version: Str(0.1.0)
ScopeSpans #0
ScopeSpans SchemaURL: https://opentelemetry.io/schemas/1.42.0
InstrumentationScope checkout-otel 0.1.0
Span #0
    Trace ID       : ddf479dc03da307af3ff4e00cc9db9e9
    Parent ID      : 71e1d52e27b0256d
    ID             : acfcd1609fd5a6fc
    Name           : cart.verify_prices
    Kind           : SPAN_KIND_INTERNAL
Start time: 1795290524355600498
End time: 1795290524360024736
    Status code    : STATUS_CODE_ERROR
    Status message : 1 price(s) changed
Attributes:
     -> cart.item_count: Int(2)
     -> error.type: Str(price_mismatch)
Events:
SpanEvent #0
     -> Name: price_mismatch
     -> Timestamp: 1795290524359972739
     -> DroppedAttributesCount: 0
     -> Attributes::
          -> product.id: Str(sku-beans)
          -> price.expected: Int(1999)
ResourceMetrics #0
Resource SchemaURL: 
Resource attributes:
     -> service.name: Str(gateway)
ScopeMetrics #0
InstrumentationScope checkout-otel 0.1.0
Metric #0
Descriptor:
     -> Name: checkout.completed
     -> Unit: {checkout}
     -> DataType: Sum
NumberDataPoints #0
Data point attributes:
     -> checkout.status: Str(rejected)
StartTimestamp: 1795290524143494587
Timestamp: 1795290530197005533
Value: 2
NumberDataPoints #1
Data point attributes:
     -> checkout.status: Str(success)
Value: 6
Metric #1
Descriptor:
     -> Name: checkout.duration
     -> Unit: s
     -> DataType: Histogram
HistogramDataPoints #0
Data point attributes:
     -> checkout.status: Str(rejected)
Count: 9
Sum: 0.6514323449999999
Buckets #0, Count: 0
\u{1b}[2m2026\u{1b}[0m INFO Received traces. data_type=\"traces\" resource_spans=1 spans=3
INFO Received traces. \u{1b}[3mdata_type\u{1b}[0m\u{1b}[2m=\u{1b}[0m\"traces\" \u{1b}[3mresource_spans\u{1b}[0m\u{1b}[2m=\u{1b}[0m1 \u{1b}[3mspans\u{1b}[0m\u{1b}[2m=\u{1b}[0m7
";
    let c = Collected::parse(sample);
    assert_eq!(c.spans.len(), 1);
    let s = &c.spans[0];
    assert_eq!(s.service(), "cart");
    assert_eq!(s.scope, "checkout-otel");
    assert_eq!(s.trace_id, "ddf479dc03da307af3ff4e00cc9db9e9");
    assert_eq!(s.parent_id, "71e1d52e27b0256d");
    assert_eq!(s.span_id, "acfcd1609fd5a6fc");
    assert_eq!(s.name, "cart.verify_prices");
    assert_eq!(s.kind, "SPAN_KIND_INTERNAL");
    assert_eq!(s.status_code, "STATUS_CODE_ERROR");
    assert_eq!(s.status_message, "1 price(s) changed");
    assert_eq!(s.attributes["cart.item_count"], "2");
    assert_eq!(s.attributes["error.type"], "price_mismatch");
    assert_eq!(s.events.len(), 1);
    assert_eq!(s.events[0].0, "price_mismatch");
    assert_eq!(s.events[0].1["product.id"], "sku-beans");
    assert_eq!(s.events[0].1.len(), 2);

    assert_eq!(c.points.len(), 3);
    assert_eq!(c.latest_sum("gateway", "checkout.completed"), 8.0);
    let h = &c.points[2];
    assert_eq!(
        (h.metric.as_str(), h.unit.as_str(), h.data_type.as_str()),
        ("checkout.duration", "s", "Histogram")
    );
    assert_eq!(h.value, 9.0);
    assert_eq!(c.basic_span_count, 10);
    // Timestamps and the histogram's sum are numbers, not card numbers.
    assert!(find_pii(sample).is_empty(), "{:?}", find_pii(sample));
}

#[test]
fn pii_scan_finds_cards_and_emails_and_nothing_else() {
    assert_eq!(
        card_numbers("card 4111 1111 1111 1111 declined"),
        ["4111111111111111"]
    );
    assert_eq!(card_numbers("x=5555-5555-5555-4444."), ["5555555555554444"]);
    assert_eq!(card_numbers("amex 378282246310005"), ["378282246310005"]);
    // Not Luhn-valid, too short, inside a hex id or a decimal number.
    assert!(card_numbers("4111 1111 1111 1112").is_empty());
    assert!(card_numbers("order 123456789012").is_empty());
    assert!(card_numbers("id a4111111111111111b").is_empty());
    assert!(card_numbers("Double(0.4111111111111111)").is_empty());
    assert_eq!(
        emails("to jane.doe+x@shop.example.com, ok"),
        ["jane.doe+x@shop.example.com"]
    );
    assert!(emails("user@localhost and @handle and a@b.c1").is_empty());
    assert_eq!(find_pii("Start time: 4111111111111111").len(), 0);
    assert_eq!(
        find_pii("     -> exception.message: Str(card 4111111111111111)").len(),
        1
    );
}
