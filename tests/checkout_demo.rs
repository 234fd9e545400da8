//! The checkout demo's pipeline, in-process: six services over loopback
//! HTTP, each scenario's outcome as the gateway answers it and as its trace
//! records it, one trace per checkout across every service, no oversell in
//! the race, no email or card number in any exported span, and the same
//! traces over OTLP.

// The example's own modules, compiled into this test as they are. Parts of
// them only `main.rs` uses.
#![allow(dead_code)]

#[path = "../examples/checkout_demo/cli.rs"]
mod cli;
mod common;
#[path = "../examples/checkout_demo/grpc.rs"]
mod grpc;
#[path = "../examples/checkout_demo/net.rs"]
mod net;
#[path = "../examples/checkout_demo/pipeline.rs"]
mod pipeline;
#[path = "../examples/checkout_demo/report.rs"]
mod report;
#[path = "../examples/checkout_demo/scenarios.rs"]
mod scenarios;
#[path = "../examples/checkout_demo/services/mod.rs"]
mod services;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::Duration;

use checkout_otel::attributes as attr;
use checkout_otel::opentelemetry::trace::{SpanId, SpanKind, Status};
use checkout_otel::opentelemetry::{KeyValue, Value};
use checkout_otel::opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use checkout_otel::opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData};
use common::receiver::Receiver;
use pipeline::{Pipeline, PipelineConfig};
use scenarios::{
    CUSTOMER_EMAIL, CUSTOMER_ID, RACE_BUYERS, RACE_SKU, RACE_UNITS, Run, Scenario, ScenarioResult,
};
use services::psp::cards;

const ALL_SERVICES: [&str; 6] = [
    "gateway",
    "cart",
    "inventory",
    "payment",
    "order",
    "notification",
];

/// The gateway's request span (`OtelServerLayer`), the root of a checkout.
const GATEWAY_SERVER_SPAN: &str = "POST /checkout";
/// The gateway -> payment hop is gRPC: both its spans are named after the method.
const AUTHORIZE: &str = "checkout.payment.v1.PaymentService/Authorize";

/// What a scenario must end with: status, and for a failure the step and
/// `error.type`.
fn expected(s: Scenario) -> (&'static str, Option<(&'static str, &'static str)>) {
    match s {
        Scenario::HappyPath | Scenario::SlowGateway | Scenario::NotificationFailure => {
            ("success", None)
        }
        Scenario::StalePrice => ("rejected", Some(("validating_cart", "price_mismatch"))),
        Scenario::OutOfStock => (
            "rejected",
            Some(("reserving_inventory", "insufficient_stock")),
        ),
        Scenario::SoftDecline | Scenario::HardDecline => {
            ("rejected", Some(("processing_payment", "card_declined")))
        }
        Scenario::GatewayTimeout => ("failed", Some(("processing_payment", "timeout"))),
        Scenario::GatewayError => ("failed", Some(("processing_payment", "upstream_error"))),
        Scenario::Race => unreachable!("the race has its own test"),
    }
}

async fn start(capture: &InMemorySpanExporter) -> Pipeline {
    let config = PipelineConfig {
        span_capture: Some(capture.clone()),
        ..PipelineConfig::fast()
    };
    Pipeline::start(config).await.expect("pipeline starts")
}

/// A finished span's full data with the service it came from.
struct Exported<'a> {
    data: &'a SpanData,
    service: &'a str,
}

impl Exported<'_> {
    fn name(&self) -> &str {
        &self.data.name
    }
    fn attr(&self, key: &str) -> Option<String> {
        self.data
            .attributes
            .iter()
            .rev()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| kv.value.as_str().into_owned())
    }
    fn is_error(&self) -> bool {
        matches!(self.data.status, Status::Error { .. })
    }
}

/// The spans of one run, joined with the service each came from.
fn exported<'a>(run: &'a Run, all: &'a [SpanData]) -> Vec<Exported<'a>> {
    let services: HashMap<SpanId, &str> = run
        .spans
        .iter()
        .map(|s| (s.span_id, s.service.as_str()))
        .collect();
    all.iter()
        .filter(|d| d.span_context.trace_id() == run.trace_id)
        .map(|data| Exported {
            data,
            service: services
                .get(&data.span_context.span_id())
                .copied()
                .unwrap_or("?"),
        })
        .collect()
}

fn named<'a, 'b>(spans: &'b [Exported<'a>], name: &str) -> Vec<&'b Exported<'a>> {
    spans.iter().filter(|s| s.name() == name).collect()
}

fn one<'a, 'b>(spans: &'b [Exported<'a>], name: &str) -> &'b Exported<'a> {
    let found = named(spans, name);
    let names: Vec<&str> = spans.iter().map(|s| s.name()).collect();
    assert_eq!(found.len(), 1, "exactly one {name} in {names:?}");
    found[0]
}

/// One trace per checkout: every span the run produced, in every service,
/// carries the trace id the gateway answered with, hangs off a parent in
/// that trace (only the gateway's `POST /checkout` server span is a root),
/// and nothing was left in the collector under another trace id.
fn assert_one_connected_trace(p: &Pipeline, run: &Run, services: &[&str]) {
    let ids: HashSet<SpanId> = run.spans.iter().map(|s| s.span_id).collect();
    for span in &run.spans {
        assert_eq!(
            span.trace_id, run.trace_id,
            "{} in another trace",
            span.name
        );
        if span.name == GATEWAY_SERVER_SPAN && span.service == "gateway" {
            assert_eq!(
                span.parent_span_id,
                SpanId::INVALID,
                "the gateway's server span is the root"
            );
        } else {
            assert!(
                ids.contains(&span.parent_span_id),
                "{} ({}) has a parent outside the trace",
                span.name,
                span.service
            );
        }
    }
    let seen: BTreeSet<&str> = run.spans.iter().map(|s| s.service.as_str()).collect();
    let want: BTreeSet<&str> = services.iter().copied().collect();
    assert_eq!(seen, want, "services in the trace");
    assert!(
        p.collector.is_empty(),
        "spans outside the checkout's trace: {:?}",
        p.collector
            .spans()
            .iter()
            .map(|s| &s.name)
            .collect::<Vec<_>>()
    );
}

/// Every string an exporter would send: names, attribute values, event
/// names and attributes, status descriptions.
fn exported_strings(spans: &[SpanData]) -> Vec<String> {
    let value = |kv: &KeyValue| match &kv.value {
        Value::String(s) => Some(s.as_str().to_owned()),
        _ => None,
    };
    let mut out = Vec::new();
    for s in spans {
        out.push(s.name.to_string());
        out.extend(s.attributes.iter().filter_map(value));
        for e in s.events.iter() {
            out.push(e.name.to_string());
            out.extend(e.attributes.iter().filter_map(value));
        }
        if let Status::Error { description } = &s.status {
            out.push(description.to_string());
        }
    }
    out
}

fn assert_no_pii(spans: &[SpanData]) {
    let mut forbidden = vec![
        CUSTOMER_EMAIL.to_owned(),
        CUSTOMER_ID.to_owned(),
        "@example.com".to_owned(),
    ];
    for card in [
        cards::OK,
        cards::SOFT_DECLINE,
        cards::HARD_DECLINE,
        cards::TIMEOUT,
        cards::SERVER_ERROR,
    ] {
        forbidden.push(card.to_owned());
        forbidden.push(card.replace(' ', ""));
    }
    for text in exported_strings(spans) {
        for f in &forbidden {
            assert!(!text.contains(f.as_str()), "{f:?} exported in {text:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_scenario_ends_as_expected_in_one_trace_across_the_services() {
    let capture = InMemorySpanExporter::default();
    let p = start(&capture).await;
    let mut results: Vec<ScenarioResult> = Vec::new();
    for scenario in Scenario::ALL.into_iter().filter(|s| *s != Scenario::Race) {
        let result = scenarios::run(&p, scenario).await.expect("scenario runs");
        assert_eq!(result.runs.len(), 1, "{scenario:?}");
        let run = &result.runs[0];
        // Checked now: the next scenario must find the collector empty.
        let services: &[&str] = match scenario {
            Scenario::StalePrice => &["gateway", "cart"],
            Scenario::OutOfStock => &["gateway", "cart", "inventory"],
            s if expected(s).1.is_some() => &["gateway", "cart", "inventory", "payment"],
            _ => &ALL_SERVICES,
        };
        assert_one_connected_trace(&p, run, services);
        results.push(result);
    }
    let all = capture.get_finished_spans().expect("captured spans");

    for result in &results {
        let s = result.scenario;
        let run = &result.runs[0];
        let spans = exported(run, &all);
        let (status, failure) = expected(s);
        let response = &run.response;
        assert_eq!(response.status, status, "{s:?}: {response:?}");
        assert_eq!(
            response.failure_step.as_deref(),
            failure.map(|f| f.0),
            "{s:?}"
        );
        assert_eq!(
            response.error_type.as_deref(),
            failure.map(|f| f.1),
            "{s:?}"
        );

        let checkout = one(&spans, attr::CHECKOUT_PROCESS);
        assert_eq!(checkout.service, "gateway");
        assert_eq!(checkout.data.span_kind, SpanKind::Internal);
        let server = one(&spans, GATEWAY_SERVER_SPAN);
        assert_eq!(server.service, "gateway");
        assert_eq!(
            checkout.data.parent_span_id,
            server.data.span_context.span_id()
        );
        assert_eq!(server.attr(attr::HTTP_ROUTE).as_deref(), Some("/checkout"));
        let code: u16 = server
            .attr(attr::HTTP_RESPONSE_STATUS_CODE)
            .and_then(|c| c.parse().ok())
            .expect("status code");
        assert_eq!(server.is_error(), code >= 500, "{s:?}: HTTP {code}");
        // Every service's requests: a SERVER span, with the RPC attributes
        // on the payment service (gRPC), the HTTP ones everywhere else.
        let mut served = BTreeSet::new();
        for server in spans
            .iter()
            .filter(|sp| sp.data.span_kind == SpanKind::Server)
        {
            served.insert(server.service);
            if server.service == "payment" {
                assert_eq!(server.name(), AUTHORIZE);
                assert_eq!(server.attr(attr::RPC_SYSTEM_NAME).as_deref(), Some("grpc"));
                assert_eq!(server.attr(attr::RPC_METHOD).as_deref(), Some(AUTHORIZE));
                assert!(server.attr(attr::RPC_RESPONSE_STATUS_CODE).is_some());
                assert!(server.attr(attr::HTTP_REQUEST_METHOD).is_none());
                continue;
            }
            assert_eq!(server.attr(attr::URL_SCHEME).as_deref(), Some("http"));
            assert_eq!(
                server.attr(attr::HTTP_REQUEST_METHOD).as_deref(),
                Some("POST")
            );
            let route = server.attr(attr::HTTP_ROUTE).expect("http.route");
            assert_eq!(server.name(), format!("POST {route}"));
            let path = server.attr(attr::URL_PATH).expect("url.path");
            assert!(path.starts_with('/'), "{path}");
            assert!(server.attr(attr::HTTP_RESPONSE_STATUS_CODE).is_some());
        }
        let in_trace: BTreeSet<&str> = spans.iter().map(|sp| sp.service).collect();
        assert_eq!(served, in_trace, "{s:?}: services without a server span");
        assert_eq!(
            checkout.attr(attr::CHECKOUT_STATUS).as_deref(),
            Some(status),
            "{s:?}"
        );
        assert_eq!(
            checkout.attr(attr::CHECKOUT_FAILURE_STEP).as_deref(),
            failure.map(|f| f.0),
            "{s:?}"
        );
        assert_eq!(
            checkout.attr(attr::ERROR_TYPE).as_deref(),
            failure.map(|f| f.1),
            "{s:?}"
        );
        assert_eq!(checkout.is_error(), failure.is_some(), "{s:?}");
        assert!(checkout.attr(attr::USER_HASH).is_some(), "{s:?}: user.hash");

        // Compensation: exactly the payment failures give their stock back.
        let releases = named(&spans, attr::INVENTORY_RELEASE);
        let payment_failed = failure.is_some_and(|f| f.0 == "processing_payment");
        assert_eq!(
            releases.len(),
            usize::from(payment_failed),
            "{s:?}: inventory.release"
        );
        for release in releases {
            assert_eq!(release.service, "inventory");
            assert_eq!(
                release
                    .attr(attr::INVENTORY_RESERVATIONS_RELEASED)
                    .as_deref(),
                Some("2")
            );
            assert!(!release.is_error());
        }
    }

    let by = |s: Scenario| {
        let r = results.iter().find(|r| r.scenario == s).expect("ran");
        exported(&r.runs[0], &all)
    };

    // Where each failure was recorded, in the service that saw it.
    let stale = by(Scenario::StalePrice);
    let verify = one(&stale, attr::CART_VERIFY_PRICES);
    assert_eq!(
        (
            verify.service,
            verify.attr(attr::CART_STALE_PRICES).as_deref()
        ),
        ("cart", Some("1"))
    );
    let mismatch = verify
        .data
        .events
        .iter()
        .find(|e| e.name == attr::EVENT_PRICE_MISMATCH)
        .expect("price_mismatch event");
    let ev = |k: &str| {
        mismatch
            .attributes
            .iter()
            .find(|kv| kv.key.as_str() == k)
            .map(|kv| kv.value.clone())
    };
    assert_eq!(ev(attr::PRODUCT_ID), Some(Value::from("sku-beans")));
    assert_eq!(
        (ev(attr::PRICE_EXPECTED), ev(attr::PRICE_ACTUAL)),
        (Some(Value::I64(1_999)), Some(Value::I64(2_499)))
    );

    let oos = by(Scenario::OutOfStock);
    let items = named(&oos, attr::INVENTORY_RESERVE_ITEM);
    assert_eq!(
        items.len(),
        2,
        "the first line is reserved, the second is short"
    );
    let short = items.iter().find(|i| i.is_error()).expect("a short item");
    assert_eq!(short.attr(attr::PRODUCT_ID).as_deref(), Some("sku-grinder"));
    assert_eq!(
        short.attr(attr::ERROR_TYPE).as_deref(),
        Some("insufficient_stock")
    );
    let update = named(&oos, "UPDATE stock");
    assert!(
        update
            .iter()
            .all(|u| u.attr(attr::DB_SYSTEM_NAME).as_deref() == Some("sqlite"))
    );
    assert_eq!(
        update[0].attr(attr::DB_QUERY_TEXT).as_deref(),
        Some("UPDATE stock SET available = available - ?1 WHERE sku = ?2 AND available >= ?1")
    );

    // A soft decline is retried once; a hard one is not.
    for (s, attempts, code) in [
        (Scenario::SoftDecline, 2, "insufficient_funds"),
        (Scenario::HardDecline, 1, "stolen_card"),
        (Scenario::GatewayError, 2, ""),
        (Scenario::GatewayTimeout, 1, ""),
    ] {
        let spans = by(s);
        let calls = named(&spans, attr::PAYMENT_GATEWAY_CALL);
        assert_eq!(calls.len(), attempts, "{s:?}: gateway calls");
        let payment = one(&spans, attr::PAYMENT_PROCESS);
        assert_eq!(payment.service, "gateway");
        // The customer, as the checkout records it: hashed, never the id.
        let checkout = one(&spans, attr::CHECKOUT_PROCESS);
        assert!(payment.attr(attr::USER_HASH).is_some(), "{s:?}: user.hash");
        assert_eq!(
            payment.attr(attr::USER_HASH),
            checkout.attr(attr::USER_HASH)
        );
        for (i, call) in calls.iter().enumerate() {
            assert_eq!(call.service, "payment");
            // The gateway's payment.process -> the payment service's gateway
            // call, across the gRPC hop: the payment service ran the call in
            // the trace context the gateway sent in the request's metadata.
            let parent_of = |child: &Exported<'_>| {
                spans
                    .iter()
                    .find(|sp| sp.data.span_context.span_id() == child.data.parent_span_id)
                    .expect("the parent is in the trace")
            };
            let mut hop = Vec::new();
            let mut ancestor = parent_of(call);
            while ancestor.data.span_context != payment.data.span_context {
                hop.push((ancestor.name().to_owned(), ancestor.service));
                ancestor = parent_of(ancestor);
            }
            // The hop records two spans: the payment service's RPC SERVER
            // span under the gateway's RPC CLIENT span.
            assert_eq!(
                hop,
                [
                    (AUTHORIZE.to_owned(), "payment"),
                    (AUTHORIZE.to_owned(), "gateway")
                ],
                "{s:?}: between payment.process and the call"
            );
            let server = parent_of(call);
            let client = parent_of(server);
            assert_eq!(server.data.span_kind, SpanKind::Server);
            assert_eq!(client.data.span_kind, SpanKind::Client);
            assert!(server.data.parent_span_is_remote);
            for rpc in [server, client] {
                assert_eq!(rpc.attr(attr::RPC_SYSTEM_NAME).as_deref(), Some("grpc"));
                assert_eq!(rpc.attr(attr::RPC_METHOD).as_deref(), Some(AUTHORIZE));
            }
            assert_eq!(
                client.attr(attr::SERVER_ADDRESS).as_deref(),
                Some("127.0.0.1")
            );
            // Both ends saw the same status; the payment's failures are
            // statuses that are errors on a server too.
            let status = server.attr(attr::RPC_RESPONSE_STATUS_CODE);
            assert_eq!(status, client.attr(attr::RPC_RESPONSE_STATUS_CODE));
            let status = status.expect("rpc.response.status_code");
            assert_eq!(server.is_error(), status != "OK", "{s:?}: {status}");
            assert_eq!(client.is_error(), status != "OK", "{s:?}: {status}");
            assert_eq!(call.attr(attr::PAYMENT_ATTEMPT), Some((i + 1).to_string()));
            assert_eq!(
                call.attr(attr::PEER_SERVICE).as_deref(),
                Some("acme-payments")
            );
            assert!(call.is_error(), "{s:?}: attempt {}", i + 1);
        }
        if !code.is_empty() {
            assert_eq!(
                payment.attr(attr::PAYMENT_DECLINE_CODE).as_deref(),
                Some(code)
            );
        }
        assert_eq!(payment.attr(attr::ERROR_TYPE), checkout_error_type(&spans));
    }

    // The article's story: the time went to the payment gateway.
    let slow = by(Scenario::SlowGateway);
    let call = one(&slow, attr::PAYMENT_GATEWAY_CALL);
    let took = call
        .data
        .end_time
        .duration_since(call.data.start_time)
        .unwrap_or_default();
    assert!(
        took >= p.config.slow_psp_latency,
        "gateway call took {took:?}"
    );

    // The relay being down fails the notification, not the checkout.
    let notified = by(Scenario::NotificationFailure);
    let send = one(&notified, attr::NOTIFICATION_SEND);
    assert_eq!(
        (send.service, send.attr(attr::ERROR_TYPE).as_deref()),
        ("gateway", Some("unavailable"))
    );
    let deliver = one(&notified, "email.deliver");
    assert_eq!(
        (deliver.service, deliver.attr(attr::ERROR_TYPE).as_deref()),
        ("notification", Some("unavailable"))
    );
    assert!(!one(&notified, attr::CHECKOUT_PROCESS).is_error());
    assert!(!one(&by(Scenario::HappyPath), attr::NOTIFICATION_SEND).is_error());

    // The payment gateway's and the mail relay's messages quoted the card
    // number and the email: they reached the spans masked, not at all raw.
    assert_no_pii(&all);
    let strings = exported_strings(&all);
    for mask in [
        checkout_otel::pii::CARD_MASK,
        checkout_otel::pii::EMAIL_MASK,
    ] {
        assert!(
            strings.iter().any(|t| t.contains(mask)),
            "{mask} in some message"
        );
    }

    // The gateway's meter counted every checkout by outcome.
    let metrics = p.gateway_metrics().expect("gateway metrics");
    let mut completed: HashMap<String, u64> = HashMap::new();
    let mut step_counts: HashMap<String, u64> = HashMap::new();
    for m in metrics.scope_metrics().flat_map(|s| s.metrics()) {
        match (m.name(), m.data()) {
            (attr::METRIC_CHECKOUT_COMPLETED, AggregatedMetrics::U64(MetricData::Sum(sum))) => {
                for point in sum.data_points() {
                    let status = point
                        .attributes()
                        .find(|kv| kv.key.as_str() == attr::CHECKOUT_STATUS)
                        .map(|kv| kv.value.to_string())
                        .unwrap_or_default();
                    *completed.entry(status).or_default() += point.value();
                }
            }
            (
                attr::METRIC_CHECKOUT_STEP_DURATION,
                AggregatedMetrics::F64(MetricData::Histogram(h)),
            ) => {
                for point in h.data_points() {
                    let step = point
                        .attributes()
                        .find(|kv| kv.key.as_str() == attr::CHECKOUT_STEP)
                        .map(|kv| kv.value.to_string())
                        .unwrap_or_default();
                    *step_counts.entry(step).or_default() += point.count();
                }
            }
            _ => {}
        }
    }
    let want: HashMap<String, u64> = [("success", 3), ("rejected", 4), ("failed", 2)]
        .map(|(k, v)| (k.to_owned(), v))
        .into();
    assert_eq!(completed, want);
    let want: HashMap<String, u64> = [
        ("validating_cart", 9),
        ("reserving_inventory", 8),
        ("processing_payment", 7),
        ("creating_order", 3),
    ]
    .map(|(k, v)| (k.to_owned(), v))
    .into();
    assert_eq!(step_counts, want);
    let summary = report::metrics(Some(&metrics));
    let line = format!("  {:<30}{:>7}", "processing_payment", 7);
    assert!(summary.contains(&line), "{summary}");

    p.shutdown().await;
}

fn checkout_error_type(spans: &[Exported<'_>]) -> Option<String> {
    one(spans, attr::CHECKOUT_PROCESS).attr(attr::ERROR_TYPE)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_race_for_the_last_units_never_oversells() {
    let capture = InMemorySpanExporter::default();
    let p = start(&capture).await;
    let result = scenarios::run(&p, Scenario::Race).await.expect("race runs");
    let race = result.race.as_ref().expect("race summary");

    assert_eq!(result.runs.len(), RACE_BUYERS);
    assert_eq!((race.buyers, race.units), (RACE_BUYERS, RACE_UNITS));
    assert_eq!(
        race.succeeded, RACE_UNITS as usize,
        "exactly as many as there were units"
    );
    assert_eq!(race.out_of_stock, RACE_BUYERS - RACE_UNITS as usize);
    assert_eq!((race.oversold, race.stock_left), (0, 0));
    let level = p.storefront.stock(RACE_SKU).await.expect("stock level");
    assert_eq!((level.available, level.reserved), (0, RACE_UNITS));

    // Eight checkouts, eight traces, none sharing spans with another.
    let ids: HashSet<_> = result.runs.iter().map(|r| r.trace_id).collect();
    assert_eq!(ids.len(), RACE_BUYERS);
    let all = capture.get_finished_spans().expect("captured spans");
    for run in &result.runs {
        let spans = exported(run, &all);
        assert_eq!(
            spans.len(),
            run.spans.len(),
            "every captured span of the trace was collected"
        );
        let checkout = one(&spans, attr::CHECKOUT_PROCESS);
        if run.response.status == "success" {
            assert_eq!(
                checkout.attr(attr::CHECKOUT_STATUS).as_deref(),
                Some("success")
            );
            assert_eq!(named(&spans, attr::ORDER_CREATE).len(), 1);
        } else {
            assert_eq!(run.response.status, "rejected");
            assert_eq!(
                checkout.attr(attr::CHECKOUT_FAILURE_STEP).as_deref(),
                Some("reserving_inventory")
            );
            assert_eq!(
                checkout.attr(attr::ERROR_TYPE).as_deref(),
                Some("insufficient_stock")
            );
            let item = one(&spans, attr::INVENTORY_RESERVE_ITEM);
            let event = item
                .data
                .events
                .iter()
                .find(|e| e.name == attr::EVENT_INSUFFICIENT_STOCK)
                .expect("insufficient_stock event");
            assert!(
                event
                    .attributes
                    .contains(&KeyValue::new(attr::QUANTITY_AVAILABLE, 0_i64))
            );
            assert!(
                named(&spans, attr::PAYMENT_PROCESS).is_empty(),
                "no charge without stock"
            );
        }
    }
    assert!(p.collector.is_empty());
    assert_no_pii(&all);
    p.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_an_otlp_endpoint_every_service_exports_the_same_trace() {
    let receiver = Receiver::grpc();
    let config = PipelineConfig {
        otlp_endpoint: Some(receiver.endpoint()),
        ..PipelineConfig::fast()
    };
    let p = Pipeline::start(config).await.expect("pipeline starts");
    let result = scenarios::run(&p, Scenario::HappyPath)
        .await
        .expect("happy path");
    let trace_id = result.runs[0].trace_id.to_string();
    let collected = result.runs[0].spans.len();
    // Shutdown flushes the batch processors and the metric readers.
    p.shutdown().await;

    let received = receiver.wait_for(Duration::from_secs(10), |r| {
        r.spans().len() >= collected
            && r.metric_names()
                .iter()
                .any(|n| n == attr::METRIC_CHECKOUT_COMPLETED)
    });
    let spans = received.spans();
    assert_eq!(spans.len(), collected, "the same spans as the waterfall");
    assert!(spans.iter().all(|s| s.trace_id() == trace_id));
    let services: BTreeSet<&str> = spans
        .iter()
        .filter_map(|s| s.resource.get(attr::SERVICE_NAME).map(String::as_str))
        .collect();
    assert_eq!(services, ALL_SERVICES.into_iter().collect::<BTreeSet<_>>());
    assert!(
        received
            .metric_names()
            .iter()
            .any(|n| n == attr::METRIC_CHECKOUT_COMPLETED)
    );
}

#[test]
fn bad_arguments_are_usage_errors() {
    let parse = |args: &[&str]| cli::parse(args.iter().map(|a| a.to_string()));
    assert_eq!(parse(&[]), Ok(cli::Command::Run(Scenario::ALL.to_vec())));
    assert_eq!(
        parse(&["--scenario", "race", "--scenario=happy-path"]),
        Ok(cli::Command::Run(vec![Scenario::Race, Scenario::HappyPath]))
    );
    assert_eq!(parse(&["--list"]), Ok(cli::Command::List));
    assert_eq!(
        parse(&["--scenario", "nope"]),
        Err("unknown scenario 'nope'".to_owned())
    );
    assert_eq!(
        parse(&["--verbose"]),
        Err("unknown argument '--verbose'".to_owned())
    );
    assert_eq!(
        parse(&["--scenario"]),
        Err("--scenario needs a scenario name".to_owned())
    );
    for s in Scenario::ALL {
        assert!(cli::usage().contains(s.name()));
        assert_eq!(Scenario::from_name(s.name()), Some(s));
    }
}

#[test]
fn serve_takes_a_loopback_address() {
    let parse = |args: &[&str]| cli::parse(args.iter().map(|a| a.to_string()));
    let serve = |addr: &str, psp_latency: Option<u64>| {
        Ok(cli::Command::Serve(cli::ServeOptions {
            addr: addr.parse().expect("an address"),
            psp_latency: psp_latency.map(Duration::from_millis),
        }))
    };
    assert_eq!(parse(&["--serve"]), serve(cli::DEFAULT_SERVE_ADDR, None));
    assert_eq!(
        parse(&["--serve", "127.0.0.1:0"]),
        serve("127.0.0.1:0", None)
    );
    assert_eq!(
        parse(&["--serve=[::1]:9000", "--psp-latency", "5"]),
        serve("[::1]:9000", Some(5))
    );
    assert_eq!(
        parse(&["--serve", "--psp-latency", "0"]),
        serve(cli::DEFAULT_SERVE_ADDR, Some(0))
    );
    for refused in ["0.0.0.0:8080", "192.0.2.7:80", "[::]:8080"] {
        let error = parse(&["--serve", refused]).expect_err(refused);
        assert!(error.contains("loopback only"), "{refused}: {error}");
    }
    assert!(parse(&["--serve", "localhost"]).is_err());
    assert!(parse(&["--serve", "--scenario", "race"]).is_err());
    assert!(parse(&["--psp-latency", "5"]).is_err());
}
