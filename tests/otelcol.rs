//! The article's collector pipeline (`deploy/otel-collector-config.yaml`)
//! and the tail-sampling overlay (`deploy/otel-collector-tail-sampling.yaml`)
//! loaded and run by the reference OpenTelemetry Collector: `otelcol-checkout`,
//! built from pinned upstream modules by `tools/otelcol/build.sh`. The test
//! shop exports through it to an in-process OTLP receiver standing in for the
//! backend, and the tests assert on what arrives there.
//!
//! Finding the binary: `OTELCOL_BIN`, else where `tools/otelcol/build.sh`
//! puts it in this target directory. When it is missing the tests fail under
//! CI (`CI` set) and are skipped with a message locally.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use checkout_otel::attributes::{
    CHECKOUT_PROCESS, CONTRACT_ATTRIBUTE_KEYS, CONTRACT_RESOURCE_KEYS, USER_HASH,
};
use checkout_otel::init::{Protocol, TelemetryBuilder};
use common::receiver::{Received, ReceivedSpan, Receiver};
use common::rotel::{free_port, in_ci};
use common::shop::{self, CARD_NUMBER, Kind, SERVICES, Shop, customer_email};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

/// The collector release `tools/otelcol/go.mod` pins (core and contrib).
const OTELCOL_VERSION: &str = "v0.161.0";

/// `CHECKOUT_OTEL_USER_HASH_SECRET` for the collector; the services get it
/// as `raw:<text>`, as deploy/otel-collector-config.yaml says.
const HASH_SECRET: &str = "a shared secret of at least thirty-two bytes";

/// How long the collector may take to listen, and to shut down.
const PROCESS_LIMIT: Duration = Duration::from_secs(30);

const PIPELINE: &str = "deploy/otel-collector-config.yaml";
const TAIL_SAMPLING: &str = "deploy/otel-collector-tail-sampling.yaml";

/// Attributes the redaction processor adds itself (`summary: info`).
fn is_redaction_summary(key: &str) -> bool {
    key.starts_with("redaction.")
}

fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// The collector binary, if it can be found.
fn otelcol_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("OTELCOL_BIN").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    // CARGO_TARGET_TMPDIR is <target dir>/tmp; build.sh writes to
    // <target dir>/otelcol/.
    let built = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()?
        .join("otelcol/otelcol-checkout");
    built.is_file().then_some(built)
}

/// The collector binary; `None` (after saying so) when it is missing and
/// this is not CI. Under CI a missing binary fails the test.
fn otelcol_or_skip(test: &str) -> Option<PathBuf> {
    match otelcol_binary() {
        Some(path) => Some(path),
        None if in_ci() => panic!(
            "{test}: the reference collector is required in CI but was not found: run \
             tools/otelcol/build.sh and set OTELCOL_BIN to the path it prints"
        ),
        None => {
            eprintln!(
                "SKIPPED {test}: otelcol-checkout not found (run tools/otelcol/build.sh, or set \
                 OTELCOL_BIN)"
            );
            None
        }
    }
}

/// The environment deploy/otel-collector-config.yaml reads, exporting to
/// `backend` in plaintext.
fn pipeline_env(backend: &Receiver) -> Vec<(&'static str, String)> {
    let endpoint = backend.endpoint();
    vec![
        ("CHECKOUT_OTEL_USER_HASH_SECRET", HASH_SECRET.to_owned()),
        (
            "BACKEND_OTLP_ENDPOINT",
            endpoint
                .strip_prefix("http://")
                .unwrap_or(&endpoint)
                .to_owned(),
        ),
        ("BACKEND_OTLP_INSECURE", "true".to_owned()),
    ]
}

fn validate(binary: &Path, configs: &[PathBuf], env: &[(&str, String)]) -> Output {
    let mut cmd = Command::new(binary);
    cmd.arg("validate");
    for config in configs {
        cmd.arg("--config").arg(config);
    }
    cmd.envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .output()
        .expect("run otelcol-checkout validate")
}

/// A running collector on free loopback ports; killed on drop.
struct Otelcol {
    child: Option<Child>,
    grpc_port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Otelcol {
    /// Runs the collector with `configs` (merged in order), the receiver on
    /// free loopback ports instead of the files' 0.0.0.0:4317/4318, its own
    /// metrics off (they would listen on :8888), `sets` applied last.
    fn start(binary: &Path, configs: &[&str], env: &[(&str, String)], sets: &[&str]) -> Otelcol {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("otelcol.log");
        let (grpc_port, http_port) = (free_port(), free_port());
        let mut cmd = Command::new(binary);
        for config in configs {
            cmd.arg("--config").arg(repo_path(config));
        }
        let ports = [
            format!("receivers.otlp.protocols.grpc.endpoint=127.0.0.1:{grpc_port}"),
            format!("receivers.otlp.protocols.http.endpoint=127.0.0.1:{http_port}"),
            "service.telemetry.metrics.level=none".to_owned(),
        ];
        for set in ports.iter().map(String::as_str).chain(sets.iter().copied()) {
            cmd.arg("--set").arg(set);
        }
        let child = cmd
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(File::create(dir.path().join("stdout.txt")).expect("stdout file"))
            .stderr(File::create(&log).expect("log file"))
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {}: {e}", binary.display()));
        let mut collector = Otelcol {
            child: Some(child),
            grpc_port,
            log,
            _dir: dir,
        };
        collector.wait_listening([grpc_port, http_port]);
        collector
    }

    fn wait_listening(&mut self, ports: [u16; 2]) {
        let start = Instant::now();
        loop {
            let listening = ports.iter().all(|p| {
                TcpStream::connect_timeout(
                    &SocketAddr::from(([127, 0, 0, 1], *p)),
                    Duration::from_millis(200),
                )
                .is_ok()
            });
            if listening {
                return;
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "otelcol-checkout exited during start-up ({status}):\n{}",
                    self.log()
                );
            }
            assert!(
                start.elapsed() < PROCESS_LIMIT,
                "otelcol-checkout did not listen on {ports:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn grpc_endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.grpc_port)
    }

    /// The collector's own log (stderr).
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Graceful shutdown (SIGTERM), as an orchestrator stops it: the
    /// processors and exporters flush what they hold. Asserts a clean exit.
    fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
        let start = Instant::now();
        let exit = loop {
            if let Some(exit) = child.try_wait().expect("wait for otelcol-checkout") {
                break exit;
            }
            if start.elapsed() > PROCESS_LIMIT {
                let _ = child.kill();
                let _ = child.wait();
                panic!("otelcol-checkout did not shut down:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(
            exit.success(),
            "otelcol-checkout exited {exit}:\n{}",
            self.log()
        );
    }
}

impl Drop for Otelcol {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The shop's services exporting over gRPC to `endpoint`, hashing customers
/// with the collector's key.
fn shop_to(endpoint: &str) -> Shop {
    Shop::start(endpoint, Protocol::Grpc, |b: TelemetryBuilder| {
        shop::test_settings(b).user_hash_key(format!("raw:{HASH_SECRET}"))
    })
}

/// The shop's spans (its six services), by trace id.
fn shop_traces(received: &Received) -> BTreeMap<String, Vec<ReceivedSpan>> {
    let mut by_trace: BTreeMap<String, Vec<ReceivedSpan>> = BTreeMap::new();
    for span in received.spans() {
        let service = span.resource.get("service.name").cloned();
        if service.is_some_and(|s| SERVICES.contains(&s.as_str())) {
            by_trace.entry(span.trace_id()).or_default().push(span);
        }
    }
    by_trace
}

/// Checkout number of each trace (from its root's `cart.id`, `cart-<n>`),
/// after checking the trace is one whole checkout: one `checkout.process`,
/// the root, every other span's parent in the trace, as many spans as that
/// kind of checkout creates.
fn checkouts(received: &Received) -> BTreeMap<u64, Vec<ReceivedSpan>> {
    let mut out = BTreeMap::new();
    for (trace_id, spans) in shop_traces(received) {
        let roots: Vec<&ReceivedSpan> = spans.iter().filter(|s| s.parent_id().is_empty()).collect();
        assert_eq!(roots.len(), 1, "trace {trace_id}: one root");
        assert_eq!(roots[0].span.name, CHECKOUT_PROCESS, "trace {trace_id}");
        assert_eq!(
            spans
                .iter()
                .filter(|s| s.span.name == CHECKOUT_PROCESS)
                .count(),
            1,
            "trace {trace_id}: one checkout.process"
        );
        let ids: BTreeSet<String> = spans.iter().map(ReceivedSpan::span_id).collect();
        for s in spans.iter().filter(|s| !s.parent_id().is_empty()) {
            assert!(
                ids.contains(&s.parent_id()),
                "trace {trace_id}: parent of {} missing",
                s.span.name
            );
        }
        let n: u64 = roots[0]
            .attr("cart.id")
            .and_then(|c| c.strip_prefix("cart-").and_then(|n| n.parse().ok()))
            .unwrap_or_else(|| panic!("trace {trace_id}: root without cart.id"));
        assert_eq!(spans.len(), Kind::of(n).spans(), "checkout {n}: span count");
        assert!(out.insert(n, spans).is_none(), "checkout {n} in two traces");
    }
    out
}

/// Attribute keys seen on each span name.
fn keys_by_span_name(received: &Received) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for s in received.spans() {
        let keys = out.entry(s.span.name.clone()).or_default();
        keys.extend(
            s.span
                .attributes
                .iter()
                .map(|kv| kv.key.clone())
                .filter(|k| !is_redaction_summary(k)),
        );
    }
    out
}

/// Resource attribute keys of each shop service.
fn resource_keys(received: &Received) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for s in received.spans() {
        let service = s.resource.get("service.name").cloned().unwrap_or_default();
        out.entry(service)
            .or_default()
            .extend(s.resource.keys().cloned());
    }
    out
}

/// No card number (Luhn-valid, 13-19 digits) or email in any text the
/// backend got (scanner independent of the crate's scrubber), and none of
/// the shop's known ones.
fn assert_no_pii(received: &Received) {
    for field in common::received_text::fields(received) {
        let found = common::pii_scan::find_pii(&field.text);
        assert!(found.is_empty(), "PII at {}: {found:?}", field.location);
        for known in [CARD_NUMBER, "4111111111111111", "@example.com"] {
            assert!(!field.text.contains(known), "{known} at {}", field.location);
        }
    }
}

fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_owned())),
        }),
        ..Default::default()
    }
}

/// A service not (yet) on checkout-otel: it sends raw OTLP, with a
/// non-contract resource key, a span carrying every contract key plus a
/// non-contract one, and a span with the semantic conventions' raw
/// `user.id` and a message holding a card number and an email.
fn send_legacy_spans(endpoint: &str, customer: &str) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_nanos() as u64;
    let span = |name: &str, span_id: u8, attributes: Vec<KeyValue>| Span {
        trace_id: vec![0x7e; 16],
        span_id: vec![span_id; 8],
        name: name.to_owned(),
        start_time_unix_nano: now,
        end_time_unix_nano: now + 1_000_000,
        attributes,
        ..Default::default()
    };
    let mut probe: Vec<KeyValue> = CONTRACT_ATTRIBUTE_KEYS
        .iter()
        .filter(|k| **k != USER_HASH)
        .map(|k| kv(k, "probe"))
        .collect();
    probe.push(kv("debug.note", "not in the contract"));
    let legacy = vec![
        kv("user.id", customer),
        kv(
            "exception.message",
            &format!("card {CARD_NUMBER} of {customer} declined"),
        ),
    ];
    let request = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", "legacy"),
                    kv("legacy.team", "not in the contract"),
                ],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: vec![
                    span("contract.probe", 1, probe),
                    span("legacy.charge", 2, legacy),
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    shop::block_on(async {
        let mut client = TraceServiceClient::connect(endpoint.to_owned())
            .await
            .expect("connect to the collector");
        client
            .export(request)
            .await
            .expect("export to the collector");
    });
}

#[test]
fn the_collector_validates_the_deploy_configurations() {
    let Some(binary) = otelcol_or_skip("the_collector_validates_the_deploy_configurations") else {
        return;
    };
    let version = Command::new(&binary)
        .arg("--version")
        .output()
        .expect("run --version");
    assert!(
        String::from_utf8_lossy(&version.stdout).contains(OTELCOL_VERSION),
        "{}: not the pinned release {OTELCOL_VERSION}",
        String::from_utf8_lossy(&version.stdout)
    );
    let backend = Receiver::grpc();
    let env = pipeline_env(&backend);
    for configs in [vec![PIPELINE], vec![PIPELINE, TAIL_SAMPLING]] {
        let paths: Vec<PathBuf> = configs.iter().map(|c| repo_path(c)).collect();
        let out = validate(&binary, &paths, &env);
        assert!(
            out.status.success(),
            "{configs:?} rejected:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // The check has teeth: a misspelt field, and the HMAC key the file
    // requires missing, are refused.
    let dir = tempfile::tempdir().expect("tempdir");
    let text = std::fs::read_to_string(repo_path(PIPELINE)).expect("read config");
    let misspelt = dir.path().join("misspelt.yaml");
    std::fs::write(
        &misspelt,
        text.replace("send_batch_size:", "send_batch_sise:"),
    )
    .expect("write");
    let out = validate(&binary, std::slice::from_ref(&misspelt), &env);
    assert!(!out.status.success(), "a misspelt field was accepted");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("send_batch_sise"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let without_key: Vec<_> = env
        .iter()
        .filter(|(k, _)| *k != "CHECKOUT_OTEL_USER_HASH_SECRET")
        .cloned()
        .collect();
    let out = validate(&binary, &[repo_path(PIPELINE)], &without_key);
    assert!(!out.status.success(), "an empty hmac_key was accepted");
}

/// The article's pipeline, run: every service, one trace per checkout,
/// `platform=ecommerce` on every resource, what the batch processor holds
/// delivered at shutdown, the allow-list keeping every key the crate sends
/// and dropping others, raw customer ids hashed like the crate hashes them,
/// no card number or email reaching the backend.
#[test]
fn the_article_pipeline_runs_in_the_reference_collector() {
    let Some(binary) = otelcol_or_skip("the_article_pipeline_runs_in_the_reference_collector")
    else {
        return;
    };
    let backend = Receiver::grpc();
    // A batch timeout the test never reaches: whatever the backend gets, it
    // gets because shutting the collector down flushed the batch.
    let mut collector = Otelcol::start(
        &binary,
        &[PIPELINE],
        &pipeline_env(&backend),
        &["processors.batch.timeout=1h"],
    );
    // The same checkouts straight to a receiver: what the services send.
    let direct = Receiver::grpc();

    const CHECKOUTS: u64 = 20;
    let via_collector = shop_to(&collector.grpc_endpoint());
    let straight = shop_to(&direct.endpoint());
    shop::block_on(async {
        for n in 0..CHECKOUTS {
            via_collector.checkout(n).await;
            straight.checkout(n).await;
        }
    });
    let customer = customer_email(1);
    let expected_hash = via_collector.guards[0]
        .user_hasher()
        .hash(&customer)
        .hash()
        .to_owned();
    let card_hash = via_collector.guards[0]
        .user_hasher()
        .hash(CARD_NUMBER)
        .hash()
        .to_owned();
    assert!(via_collector.shutdown().is_empty(), "shop export failed");
    assert!(straight.shutdown().is_empty(), "direct export failed");
    send_legacy_spans(&collector.grpc_endpoint(), &customer);

    let before_shutdown = backend.received();
    assert!(
        before_shutdown.traces.is_empty() && before_shutdown.metrics.is_empty(),
        "the batch processor let data through before its timeout or size"
    );
    collector.stop();
    let received = backend.received();
    let sent = direct.received();

    // Every service, one whole trace per checkout, every checkout.
    let by_checkout = checkouts(&received);
    assert_eq!(
        by_checkout.keys().copied().collect::<Vec<_>>(),
        (0..CHECKOUTS).collect::<Vec<_>>()
    );
    let services: BTreeSet<String> = received
        .spans()
        .iter()
        .filter_map(|s| s.resource.get("service.name").cloned())
        .collect();
    for service in SERVICES {
        assert!(services.contains(service), "no spans from {service}");
    }
    assert!(!received.metrics.is_empty(), "no metrics arrived");

    // platform=ecommerce on every resource; the services did not set it.
    for span in received.spans() {
        assert_eq!(
            span.resource.get("platform").map(String::as_str),
            Some("ecommerce"),
            "{}",
            span.span.name
        );
    }
    for resource in received.metric_resources() {
        assert_eq!(
            resource.get("platform").map(String::as_str),
            Some("ecommerce")
        );
    }
    assert!(
        sent.spans()
            .iter()
            .all(|s| !s.resource.contains_key("platform"))
    );

    // The allow-list keeps every key the crate sends, on spans and resources.
    let mut arrived = keys_by_span_name(&received);
    arrived.remove("contract.probe");
    arrived.remove("legacy.charge");
    assert_eq!(arrived, keys_by_span_name(&sent));
    let mut arrived = resource_keys(&received);
    arrived.remove("legacy");
    for keys in arrived.values_mut() {
        keys.retain(|k| k != "platform" && !is_redaction_summary(k));
    }
    assert_eq!(arrived, resource_keys(&sent));

    // The legacy service: every contract key kept unchanged, the others
    // dropped (span and resource).
    let probe = received
        .span("contract.probe")
        .expect("contract.probe arrived");
    let attrs = common::receiver::attrs_to_map(&probe.span.attributes);
    for key in CONTRACT_ATTRIBUTE_KEYS.iter().filter(|k| **k != USER_HASH) {
        assert_eq!(
            attrs.get(*key).map(String::as_str),
            Some("probe"),
            "contract key {key}"
        );
    }
    assert!(!attrs.contains_key("debug.note"), "{attrs:?}");
    assert_eq!(
        attrs.get("redaction.redacted.count").map(String::as_str),
        Some("1")
    );
    assert!(!probe.resource.contains_key("legacy.team"));
    for key in probe.resource.keys() {
        assert!(
            CONTRACT_RESOURCE_KEYS.contains(&key.as_str())
                || key == "platform"
                || is_redaction_summary(key),
            "resource key {key}"
        );
    }

    // A raw customer id becomes the crate's user.hash for the same key, and
    // a card number and an email in an allowed value are replaced by theirs.
    let legacy = received
        .span("legacy.charge")
        .expect("legacy.charge arrived");
    assert_eq!(legacy.attr("user.id"), None);
    assert_eq!(legacy.attr(USER_HASH), Some(expected_hash.clone()));
    assert_eq!(
        legacy.attr("exception.message"),
        Some(format!("card {card_hash} of {expected_hash} declined"))
    );

    // No card number or email anywhere the backend got.
    assert_no_pii(&received);
    // The services' own spans arrive with only contract keys.
    for span in received.spans() {
        for kv in &span.span.attributes {
            assert!(
                CONTRACT_ATTRIBUTE_KEYS.contains(&kv.key.as_str()) || is_redaction_summary(&kv.key),
                "{}: {}",
                span.span.name,
                kv.key
            );
        }
    }
}

/// deploy/otel-collector-tail-sampling.yaml: every failed and every slow
/// checkout kept, about its share of the others.
#[test]
fn tail_sampling_keeps_every_failed_and_slow_checkout() {
    let Some(binary) = otelcol_or_skip("tail_sampling_keeps_every_failed_and_slow_checkout") else {
        return;
    };
    let backend = Receiver::grpc();
    let mut collector = Otelcol::start(
        &binary,
        &[PIPELINE, TAIL_SAMPLING],
        &pipeline_env(&backend),
        &[],
    );
    const CHECKOUTS: u64 = 500;
    // Successful checkouts whose gateway answers after 2.5 s, past the
    // policy's 2 s.
    const SLOW: [u64; 4] = [1_000, 1_010, 1_020, 1_030];
    const SLOW_GATEWAY: Duration = Duration::from_millis(2_500);
    const SHARE: f64 = 0.10;

    let shop = shop_to(&collector.grpc_endpoint());
    shop::block_on(async {
        for n in 0..CHECKOUTS {
            shop.checkout(n).await;
            if n % 50 == 49 {
                assert!(shop.flush().is_empty(), "shop export failed");
            }
        }
        let slow = |n| shop.checkout_with_gateway_delay(n, SLOW_GATEWAY);
        tokio::join!(slow(SLOW[0]), slow(SLOW[1]), slow(SLOW[2]), slow(SLOW[3]));
    });
    assert!(SLOW.iter().all(|n| Kind::of(*n) == Kind::Success));
    assert!(shop.shutdown().is_empty(), "shop export failed");
    // Shutdown decides the traces still waiting and flushes the batch.
    collector.stop();

    let kept = checkouts(&backend.received());
    let failed: Vec<u64> = (0..CHECKOUTS)
        .filter(|n| Kind::of(*n) != Kind::Success)
        .collect();
    for n in &failed {
        let spans = kept
            .get(n)
            .unwrap_or_else(|| panic!("failed checkout {n} was not kept"));
        let root = spans
            .iter()
            .find(|s| s.span.name == CHECKOUT_PROCESS)
            .expect("root");
        assert_eq!(
            root.span.status.as_ref().map(|s| s.code),
            Some(2),
            "checkout {n}: status Error"
        );
    }
    for n in SLOW {
        assert!(kept.contains_key(&n), "slow checkout {n} was not kept");
    }
    let others = (0..CHECKOUTS).filter(|n| Kind::of(*n) == Kind::Success);
    let others_total = others.clone().count();
    let others_kept = others.filter(|n| kept.contains_key(n)).count();
    // Binomial(400, 0.1): mean 40, standard deviation 6; the bounds are 5
    // standard deviations out.
    println!(
        "FIGURE tail sampling: kept {} of {} failed, {} of {} slow, {others_kept} of \
         {others_total} other checkouts",
        failed.iter().filter(|n| kept.contains_key(n)).count(),
        failed.len(),
        SLOW.iter().filter(|n| kept.contains_key(n)).count(),
        SLOW.len(),
    );
    let expected = others_total as f64 * SHARE;
    let spread = 5.0 * (others_total as f64 * SHARE * (1.0 - SHARE)).sqrt();
    assert!(
        (others_kept as f64 - expected).abs() <= spread,
        "{others_kept} of {others_total} successful checkouts kept, expected about {expected}"
    );
}

/// The checkout demo's binary: `CHECKOUT_DEMO_BIN`, else next to this test
/// binary (`target/<profile>/examples/`), where `cargo test` builds it.
fn demo_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CHECKOUT_DEMO_BIN").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    let exe = std::env::current_exe().ok()?;
    let path = exe
        .parent()?
        .parent()?
        .join("examples")
        .join(format!("checkout_demo{}", std::env::consts::EXE_SUFFIX));
    path.is_file().then_some(path)
}

/// The checkout demo (six services on loopback) exporting through the
/// article's pipeline: every trace it printed arrives whole at the backend,
/// from every service, with `platform=ecommerce`, only contract keys, and no
/// card number or email.
#[test]
fn the_checkout_demo_exports_through_the_article_pipeline() {
    let Some(binary) = otelcol_or_skip("the_checkout_demo_exports_through_the_article_pipeline")
    else {
        return;
    };
    let Some(demo) = demo_binary() else {
        assert!(
            !in_ci(),
            "checkout_demo binary not found: `cargo test` builds it (or set CHECKOUT_DEMO_BIN)"
        );
        eprintln!("SKIPPED: build it with `cargo build --example checkout_demo --all-features`");
        return;
    };
    let backend = Receiver::grpc();
    let mut collector = Otelcol::start(&binary, &[PIPELINE], &pipeline_env(&backend), &[]);
    let out = Command::new(&demo)
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", collector.grpc_endpoint())
        .env("CHECKOUT_OTEL_USER_HASH_KEY", format!("raw:{HASH_SECRET}"))
        .env("OTEL_METRIC_EXPORT_INTERVAL", "500")
        .env_remove("OTEL_EXPORTER_OTLP_PROTOCOL")
        .env_remove("OTEL_SDK_DISABLED")
        .stdin(Stdio::null())
        .output()
        .expect("run checkout_demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "checkout_demo failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    collector.stop();

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
    let received = backend.received();
    let spans = received.spans();
    let trace_ids: BTreeSet<String> = spans.iter().map(ReceivedSpan::trace_id).collect();
    for id in &printed {
        assert!(trace_ids.contains(id), "trace {id} did not arrive");
    }
    let services: BTreeSet<String> = spans
        .iter()
        .filter_map(|s| s.resource.get("service.name").cloned())
        .collect();
    for service in SERVICES {
        assert!(services.contains(service), "no spans from {service}");
    }
    for span in &spans {
        assert_eq!(
            span.resource.get("platform").map(String::as_str),
            Some("ecommerce"),
            "{}",
            span.span.name
        );
        for key in span.resource.keys() {
            assert!(
                CONTRACT_RESOURCE_KEYS.contains(&key.as_str())
                    || key.starts_with("telemetry.sdk.")
                    || key == "platform"
                    || is_redaction_summary(key),
                "resource key {key}"
            );
        }
        for kv in &span.span.attributes {
            assert!(
                CONTRACT_ATTRIBUTE_KEYS.contains(&kv.key.as_str()) || is_redaction_summary(&kv.key),
                "{}: {}",
                span.span.name,
                kv.key
            );
        }
    }
    for resource in received.metric_resources() {
        assert_eq!(
            resource.get("platform").map(String::as_str),
            Some("ecommerce")
        );
    }
    // The services' log records pass the same pipeline: every one in a
    // trace the demo printed, its resource stamped, from most services.
    let mut log_services = BTreeSet::new();
    let mut records = 0;
    for resource_logs in received.logs.iter().flat_map(|r| &r.resource_logs) {
        let resource = resource_logs
            .resource
            .as_ref()
            .map(|r| common::receiver::attrs_to_map(&r.attributes))
            .unwrap_or_default();
        assert_eq!(
            resource.get("platform").map(String::as_str),
            Some("ecommerce")
        );
        if let Some(service) = resource.get("service.name") {
            log_services.insert(service.clone());
        }
        for record in resource_logs.scope_logs.iter().flat_map(|s| &s.log_records) {
            records += 1;
            let trace: String = record.trace_id.iter().map(|b| format!("{b:02x}")).collect();
            assert!(
                trace.is_empty() || trace_ids.contains(&trace),
                "a log record of an unknown trace {trace}"
            );
            // The allow-list applies to log records too: a service's own
            // fields (`sku`, `requested`, ...) stop at the collector.
            for kv in &record.attributes {
                assert!(
                    CONTRACT_ATTRIBUTE_KEYS.contains(&kv.key.as_str())
                        || is_redaction_summary(&kv.key),
                    "log attribute {}",
                    kv.key
                );
            }
        }
    }
    assert!(records > 0, "no log record went through the collector");
    assert!(log_services.len() >= 5, "log records from {log_services:?}");
    assert_no_pii(&received);
}
