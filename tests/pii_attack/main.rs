//! The attacker's suite: PII generated in every spelling (`common::pii_gen`)
//! is put on every path of the README's threat model and exported through
//! the crate's real OTLP exporter (gRPC and HTTP/protobuf) to an in-process
//! receiver, where a matcher written independently of the crate's scrubber
//! (`common::pii_match`) looks at everything that arrived, decoded every way
//! it can be. Nothing planted may arrive, in any form; and known-benign
//! checkout data placed beside it (amounts, ids, dates, codes, the
//! contract's attributes) must arrive unchanged, so over-masking fails too.
//!
//! The paths, each tagged on its span or data point with `attack.path`:
//!
//! - raw OpenTelemetry calls on the guard's SDK tracer: span names,
//!   attribute keys and values (string, string array, integer, integer
//!   array, double), events, links, status, `trace_state` (of the span and of
//!   a link), a scope of the service's own;
//! - the typed helpers: decline messages, gateway and HTTP client URLs,
//!   identifiers, failures, a customer id that is PII;
//! - `tracing` spans and events through the guard's layer: fields, late
//!   records, `otel.name`, status description, messages, error fields;
//! - real axum servers on loopback, under `http_server::OtelServerLayer`,
//!   tower-http's default `TraceLayer` and `OtelAxumLayer`, called with the
//!   value in path and query and in incoming `tracestate` and `baggage`; the
//!   handlers call a third party through `OtelMiddleware`, which must not
//!   forward `baggage` or `tracestate` to a host that is not allow-listed;
//! - metric attributes through `guard.meter()`;
//! - log records: `tracing` events through the guard's logs layer (body and
//!   fields), and records made with the OpenTelemetry logs API on the
//!   guard's logger provider (body, target, attribute keys, and values as
//!   text, integer, double, bytes, list and map);
//! - resource attributes from the builder and `OTEL_RESOURCE_ATTRIBUTES`;
//! - the local log and console output `init` installs (in a child process);
//! - `Debug` of builder, configuration and guard, and errors, given
//!   credentials and PII.
//!
//! One case puts one sample of every spelling family on every path, so a
//! failing case lists every leaking (path, spelling) at once; shrinking is
//! off because each step would rebuild the whole pipeline.
//!
//! Here the pipeline properties and the report; `placements` (where each
//! sample goes), `servers` (the loopback services and the attacker's
//! requests), `benign` (what must arrive unchanged), `config_leaks`
//! (`Debug` and errors), `local_output` (the child process).
#![cfg(feature = "reqwest")]

#[path = "../common/mod.rs"]
mod common;

mod benign;
mod config_leaks;
mod local_output;
mod placements;
mod servers;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use checkout_otel::init::{Protocol, Telemetry, TelemetryBuilder, TelemetryGuard};
use common::pii_gen::{self, Kind, Sample, percent_encode};
use common::pii_match::{self, Hit};
use common::pii_scan::luhn;
use common::received_text::{self, Field};
use common::receiver::{Received, Receiver};
use opentelemetry_proto::tonic::common::v1::KeyValue as ProtoKeyValue;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use proptest::prelude::*;
use tracing_subscriber::layer::SubscriberExt as _;

use benign::{EPOCH_MILLIS, ISO_DATE, benign_problems, benign_texts, place_benign};
use placements::{attack_url, place_logs, place_metrics, place_raw, place_tracing, place_typed};
use servers::{LAYERS, attack_request, attacker_trace_id, benign_request, start_servers};

pub(crate) const SERVICE: &str = "checkout-attacked";
pub(crate) const USER_HASH_KEY: &str = "raw:the attack suite's user-hash key, 32 bytes or more";
const WAIT: Duration = Duration::from_secs(20);

/// Cases per transport: each runs the whole pipeline once with one sample
/// of every family (about 40) on every path. `PROPTEST_CASES` raises it for
/// a deeper run.
const PIPELINE_CASES: u32 = 4;

fn pipeline_config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(PIPELINE_CASES),
        max_shrink_iters: 0,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// What the attack saw besides the exported telemetry.
struct Outcome {
    statuses: Vec<(String, StatusCode)>,
    provider_seen: Vec<HeaderMap>,
}

fn builder(endpoint: &str, protocol: Protocol, samples: &[Sample]) -> TelemetryBuilder {
    let mut env_resource = String::from("team=payments,region=eu-west%201");
    let mut b = Telemetry::builder(SERVICE)
        .service_version("2.3.4")
        .environment("staging")
        .endpoint(endpoint)
        .protocol(protocol)
        .user_hash_key(USER_HASH_KEY)
        .metric_export_interval(Duration::from_secs(3600))
        // tower-http's request spans (DEBUG) carry the attacked URIs and
        // headers: exported too, so the attack reaches them.
        .tracing_filter("trace")
        .resource_attribute("build.date", ISO_DATE);
    for (i, s) in samples.iter().enumerate() {
        b = b
            .resource_attribute(format!("attack.r{i}"), s.in_text())
            .resource_attribute(s.text.clone(), "x");
        env_resource.push_str(&format!(
            ",attack.e{i}={}",
            percent_encode(&s.in_text(), |c| c.is_ascii_alphanumeric())
        ));
    }
    b.with_env([("OTEL_RESOURCE_ATTRIBUTES", env_resource)])
}

/// Puts every sample on every path, then returns what the servers saw.
fn attack(guard: &TelemetryGuard, samples: &[Sample]) -> Outcome {
    let benign_card = samples
        .iter()
        .find(|s| s.kind == Kind::Card)
        .map(|s| s.canonical.clone())
        .expect("a card family");
    let subscriber = tracing_subscriber::registry()
        .with(guard.tracing_layer())
        .with(guard.logs_layer());
    tracing::subscriber::with_default(subscriber, || {
        // One thread: the scoped subscriber sees the servers' tasks too.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let outcome = runtime.block_on(async {
            let shared = Arc::new(samples.to_vec());
            let servers = start_servers(guard, shared).await;
            let tracer = guard.tracer();
            let attacker = reqwest::Client::new();
            let mut statuses = Vec::new();
            for (i, s) in samples.iter().enumerate() {
                place_raw(guard, i, s);
                place_typed(&tracer, i, s);
                place_tracing(i, s);
                place_metrics(guard, i, s);
                place_logs(guard, i, s);
                for (layer, addr) in servers.service.iter().enumerate() {
                    let status = attack_request(&attacker, *addr, layer, i, s).await;
                    statuses.push((format!("{} {}", LAYERS[layer].1, s.family), status));
                }
            }
            place_benign(guard, &benign_card);
            statuses.push((
                "benign request".to_owned(),
                benign_request(&attacker, servers.service[0]).await,
            ));
            let provider_seen = servers.seen.lock().expect("seen").clone();
            Outcome {
                statuses,
                provider_seen,
            }
        });
        // Dropping the runtime ends the servers' request spans while the
        // subscriber is still in place.
        drop(runtime);
        outcome
    })
}

/// Every placement that must have arrived, as (path tag, sample).
fn expected_tags(samples: &[Sample]) -> BTreeSet<(String, i64)> {
    let mut out = BTreeSet::new();
    for (i, s) in samples.iter().enumerate() {
        let mut paths = vec![
            "raw.span",
            "raw.trace_state",
            "raw.scope",
            "typed.payment_declined",
            "typed.gateway_call",
            "typed.http_client",
            "typed.order",
            "typed.checkout",
            "tracing.span",
            "metric.counter",
            "logs.api",
            "logs.tracing",
            "metric.counter_key",
            "metric.histogram",
        ];
        if s.as_i64().is_some() {
            paths.push("metric.counter_i64");
        }
        for p in paths {
            out.insert((p.to_owned(), i as i64));
        }
    }
    out
}

fn arrived_tags(r: &Received) -> BTreeSet<(String, i64)> {
    let mut out = BTreeSet::new();
    let mut note = |attrs: &[ProtoKeyValue]| {
        if let (Some(t), Some(i)) = (received_text::tag(attrs), received_text::sample_of(attrs)) {
            out.insert((t, i));
        }
    };
    for s in r.spans() {
        note(&s.span.attributes);
    }
    for_each_point(r, |_, attrs, _| note(attrs));
    for record in r
        .logs
        .iter()
        .flat_map(|req| &req.resource_logs)
        .flat_map(|rl| &rl.scope_logs)
        .flat_map(|sl| &sl.log_records)
    {
        note(&record.attributes);
    }
    out
}

/// Calls `f(metric name, attributes, value)` for every data point (value:
/// the sum or count as an integer).
pub(crate) fn for_each_point(r: &Received, mut f: impl FnMut(&str, &[ProtoKeyValue], i64)) {
    use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value as Number;
    for m in r
        .metrics
        .iter()
        .flat_map(|req| &req.resource_metrics)
        .flat_map(|rm| &rm.scope_metrics)
        .flat_map(|sm| &sm.metrics)
    {
        match &m.data {
            Some(Data::Sum(s)) => {
                for p in &s.data_points {
                    let v = match p.value {
                        Some(Number::AsInt(i)) => i,
                        Some(Number::AsDouble(d)) => d as i64,
                        None => 0,
                    };
                    f(&m.name, &p.attributes, v);
                }
            }
            Some(Data::Histogram(h)) => {
                for p in &h.data_points {
                    f(&m.name, &p.attributes, p.count as i64);
                }
            }
            _ => {}
        }
    }
}

/// A location with per-sample numbers folded, for grouping.
fn path_of(location: &str) -> String {
    let mut out = String::new();
    let mut chars = location.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if (out.ends_with("attack.r") || out.ends_with("attack.e"))
            && chars.peek().is_some_and(char::is_ascii_digit)
        {
            while chars.peek().is_some_and(char::is_ascii_digit) {
                chars.next();
            }
            out.push('N');
        }
    }
    out
}

/// Every planted value found in `fields`, grouped by path: `path <- family
/// (spelling) [detector/decoding]`.
fn leaks(fields: &[Field], samples: &[Sample]) -> BTreeMap<String, BTreeSet<String>> {
    let mut by_path: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    // Resources and repeated values arrive many times: scan each text once.
    let mut scanned: std::collections::HashMap<&str, Vec<Hit>> = std::collections::HashMap::new();
    for field in fields {
        let hits = scanned
            .entry(field.text.as_str())
            .or_insert_with(|| pii_match::scan(&field.text, samples));
        for hit in hits.iter() {
            by_path
                .entry(path_of(&field.location))
                .or_default()
                .insert(describe(hit, samples, &field.text));
        }
    }
    by_path
}

pub(crate) fn describe(hit: &Hit, samples: &[Sample], text: &str) -> String {
    let shown: String = text.chars().take(90).collect();
    match hit.sample.and_then(|i| samples.get(i)) {
        Some(s) => format!(
            "{} {:?} [{}/{}] arrived as {shown:?}",
            s.family, s.text, hit.detector, hit.decoding
        ),
        None => format!(
            "unplanted {:?} {:?} [{}/{}] in {shown:?}",
            hit.kind, hit.found, hit.detector, hit.decoding
        ),
    }
}

pub(crate) fn report(title: &str, leaks: &BTreeMap<String, BTreeSet<String>>) -> String {
    let mut out = format!("{title}: {} paths\n", leaks.len());
    for (path, found) in leaks {
        let families: BTreeSet<&str> = found
            .iter()
            .map(|f| f.split(' ').next().unwrap_or_default())
            .collect();
        out.push_str(&format!("  {path}  <- {}\n", family_list(&families)));
        // A few examples, and every find the suite did not plant: those
        // are the surprises.
        let unplanted = found.iter().filter(|f| f.starts_with("unplanted"));
        let planted = found.iter().filter(|f| !f.starts_with("unplanted"));
        for f in planted.take(3).chain(unplanted.take(10)) {
            out.push_str(&format!("      {f}\n"));
        }
    }
    out
}

/// Families, a kind whose every family is there written `card/*`.
fn family_list(families: &BTreeSet<&str>) -> String {
    let all = pii_gen::family_names();
    let mut out = Vec::new();
    for kind in ["card", "iban", "email", "phone", "unplanted"] {
        let of_kind: Vec<&str> = all
            .iter()
            .copied()
            .filter(|f| f.starts_with(kind))
            .collect();
        let here: Vec<&str> = families
            .iter()
            .copied()
            .filter(|f| f.starts_with(kind))
            .collect();
        if !of_kind.is_empty() && here.len() == of_kind.len() {
            out.push(format!("{kind}/* (all {})", here.len()));
        } else {
            out.extend(here.into_iter().map(str::to_owned));
        }
    }
    out.join(", ")
}

fn run_case(protocol: Protocol, samples: &[Sample]) -> Result<(), TestCaseError> {
    let receiver = match protocol {
        Protocol::Grpc => Receiver::grpc(),
        _ => Receiver::http(),
    };
    let guard = builder(&receiver.endpoint(), protocol, samples)
        .build()
        .map_err(|e| TestCaseError::fail(format!("build: {e}")))?;
    let outcome = attack(&guard, samples);
    let flushed = guard.force_flush();
    let expected = expected_tags(samples);
    let received = receiver.wait_for(WAIT, |r| expected.is_subset(&arrived_tags(r)));
    let benign_card = samples
        .iter()
        .find(|s| s.kind == Kind::Card)
        .map(|s| s.canonical.clone())
        .unwrap_or_default();

    let mut failures = Vec::new();
    if let Err(e) = &flushed {
        failures.push(format!("force_flush: {e}"));
    }

    // Coverage: every placement arrived, so "nothing found" means something.
    let arrived = arrived_tags(&received);
    let missing: Vec<_> = expected.difference(&arrived).collect();
    if !missing.is_empty() {
        failures.push(format!("placements that never arrived: {missing:?}"));
    }
    let spans = received.spans();
    let n = samples.len();
    for (name, want) in [
        ("POST /a/checkout/{cart}", n + 1),
        ("request", n),
        ("POST /c/checkout/{cart}", n),
        ("POST", 3 * n + 1),
    ] {
        let got = spans.iter().filter(|s| s.span.name == name).count();
        if got != want {
            failures.push(format!(
                "{want} spans named {name:?} expected, {got} arrived"
            ));
        }
    }
    let refused: Vec<_> = outcome
        .statuses
        .iter()
        .filter(|(_, status)| *status != StatusCode::OK)
        .collect();
    if !refused.is_empty() {
        failures.push(format!("requests that failed: {refused:?}"));
    }

    // Leaks at the receiver.
    let fields = received_text::fields(&received);
    let found = leaks(&fields, samples);
    if !found.is_empty() {
        failures.push(report("PII reached the receiver", &found));
    }

    // Propagation to a third party that is not allow-listed.
    let mut forwarded = BTreeSet::new();
    let mut header_leaks: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut traces_continued = BTreeSet::new();
    for headers in &outcome.provider_seen {
        for name in ["baggage", "tracestate"] {
            if headers.contains_key(name) {
                forwarded.insert(name);
            }
        }
        for (name, value) in headers {
            let text = String::from_utf8_lossy(value.as_bytes());
            for hit in pii_match::scan(&text, samples) {
                header_leaks
                    .entry(format!("third-party request header {name}"))
                    .or_default()
                    .insert(describe(&hit, samples, &text));
            }
        }
        if let Some(tp) = headers.get("traceparent").and_then(|v| v.to_str().ok()) {
            traces_continued.insert(tp.split('-').nth(1).unwrap_or_default().to_owned());
        }
    }
    if !forwarded.is_empty() {
        failures.push(format!(
            "OtelMiddleware forwarded inbound {forwarded:?} to 127.0.0.1, which no allow-list names"
        ));
    }
    if !header_leaks.is_empty() {
        failures.push(report(
            "PII reached the third party in headers",
            &header_leaks,
        ));
    }
    for layer in [0, 2] {
        for i in 0..n {
            let id = attacker_trace_id(layer, i);
            if !traces_continued.contains(&id) {
                failures.push(format!(
                    "{}: the third party's traceparent does not continue the caller's trace {id}",
                    LAYERS[layer].1
                ));
                break;
            }
        }
    }

    // Over-masking.
    let benign = benign_problems(&received, &guard, &benign_card);
    if !benign.is_empty() {
        failures.push(format!(
            "benign data did not arrive unchanged:\n  {}",
            benign.join("\n  ")
        ));
    }
    let _ = guard.shutdown();
    prop_assert!(
        failures.is_empty(),
        "{protocol}: {}\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    Ok(())
}

proptest! {
    #![proptest_config(pipeline_config())]

    #[test]
    fn nothing_planted_arrives_over_grpc(samples in pii_gen::every_family()) {
        run_case(Protocol::Grpc, &samples)?;
    }

    #[test]
    fn nothing_planted_arrives_over_http_protobuf(samples in pii_gen::every_family()) {
        run_case(Protocol::HttpProtobuf, &samples)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    /// The matcher is only worth its silence if it finds every spelling, in
    /// every encoding the suite uses, with the generic detectors alone as
    /// well as by the planted value; and finds nothing in the benign data.
    #[test]
    fn the_matcher_finds_every_spelling(samples in pii_gen::every_family()) {
        prop_assert_eq!(samples.len(), pii_gen::family_count());
        for s in &samples {
            for (how, text) in [
                ("as spelled", s.text.clone()),
                ("in a sentence", s.in_text()),
                ("in a path", s.url_path()),
                ("form-encoded", s.url_form()),
                ("in a query", s.url_query_raw()),
                ("in tracestate", s.tracestate_value()),
                ("in baggage", s.baggage_value()),
                ("Debug-escaped", format!("{:?}", s.in_text())),
                ("attack URL", attack_url("https://pay.example.com/v1", s)),
            ] {
                let hits = pii_match::scan(&text, std::slice::from_ref(s));
                prop_assert!(
                    hits.iter().any(|h| h.detector == "planted"),
                    "{} {:?} not found {how}: {:?}", s.family, s.text, text
                );
                let generic = hits.iter().any(|h| h.detector == "generic" && h.sample == Some(0));
                prop_assert!(
                    generic,
                    "{} {:?}: generic detectors miss it {how}: {:?} -> {:?}",
                    s.family, s.text, text, hits
                );
            }
            if let Some(n) = s.as_i64() {
                prop_assert!(!pii_match::cards(&n.to_string()).is_empty());
            }
        }
        for text in benign_texts() {
            let hits = pii_match::scan(text, &samples);
            prop_assert!(hits.is_empty(), "benign {:?} flagged: {:?}", text, hits);
        }
        prop_assert!(!luhn(&EPOCH_MILLIS.to_string()));
        prop_assert!(pii_match::scan(&EPOCH_MILLIS.to_string(), &[]).is_empty());
    }
}
