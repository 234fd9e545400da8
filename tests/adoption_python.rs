//! The adoption guide, checked as a user would: an existing axum payment
//! service (`examples/adoption/before.rs`: its own subscriber with an
//! `EnvFilter` on the registry, tower-http's `TraceLayer`, a JSON `POST /pay`)
//! adopts the crate (`examples/adoption/after.rs`), keeping its filter as it
//! was.
//!
//! - The adoption is counted: the lines the service adds.
//! - The adopted service runs as its own process, exporting over OTLP/gRPC to
//!   a receiver, and a caller instrumented with the OpenTelemetry Python SDK
//!   (`tests/python/otel_client.py`) sends it `traceparent` and `baggage`:
//!   the payment joins the caller's trace, under a server span with the HTTP
//!   semantic conventions' attributes, and no card number or customer id
//!   arrives.
//!
//! The Python SDK (`opentelemetry-sdk`, installed by `.ci/run`) and the
//! example's binary (built by `cargo test`, which builds the examples) are
//! required under CI; locally the second test says what is missing and skips.
#![cfg(feature = "grpc")]

mod common;

use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use checkout_otel::attributes as attr;
use common::receiver::Receiver;
use common::rotel::in_ci;

const BEFORE: &str = include_str!("../examples/adoption/before.rs");
const AFTER: &str = include_str!("../examples/adoption/after.rs");
const WAIT: Duration = Duration::from_secs(15);

/// Code lines: the module's doc header is prose about the file, not code.
fn code_lines(source: &str) -> Vec<&str> {
    source
        .lines()
        .filter(|l| !l.trim_start().starts_with("//!"))
        .collect()
}

/// Lines of `after` not matched in `before` by their longest common
/// subsequence: what `git diff` counts as insertions.
fn inserted_lines(before: &[&str], after: &[&str]) -> Vec<String> {
    let (n, m) = (before.len(), after.len());
    let mut lcs = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if before[i] == after[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut inserted) = (0, 0, Vec::new());
    while j < m {
        if i < n && before[i] == after[j] {
            i += 1;
            j += 1;
        } else if i < n && lcs[i + 1][j] >= lcs[i][j + 1] {
            i += 1;
        } else {
            inserted.push(after[j].to_owned());
            j += 1;
        }
    }
    inserted
}

#[test]
fn adoption_adds_at_most_30_lines_and_keeps_the_services_filter() {
    let inserted = inserted_lines(&code_lines(BEFORE), &code_lines(AFTER));
    println!("{} lines added:\n{}", inserted.len(), inserted.join("\n"));
    assert!(
        inserted.len() <= 30,
        "adoption takes {} added lines",
        inserted.len()
    );
    // The service's own subscriber set-up is kept line for line: the filter
    // on the registry, its fmt layer, tower-http's TraceLayer.
    for kept in [
        "tracing_subscriber::registry()",
        ".with(EnvFilter::try_from_default_env().unwrap_or_else(|_| \"info,tower_http=debug\".into()))",
        ".with(tracing_subscriber::fmt::layer())",
        ".layer(TraceLayer::new_for_http())",
    ] {
        for (name, source) in [("before", BEFORE), ("after", AFTER)] {
            assert!(
                source
                    .lines()
                    .any(|l| l.trim().trim_end_matches(';') == kept),
                "{name} lacks {kept}"
            );
        }
    }
    assert!(inserted.len() >= 10, "the count looks at the wrong files");
}

/// The example's binary, built by `cargo test` next to this test's.
fn example_binary() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let binary = exe
        .parent()?
        .parent()?
        .join("examples")
        .join("adoption_after");
    binary.is_file().then_some(binary)
}

fn python_sdk_available() -> bool {
    Command::new("python3")
        .args([
            "-c",
            "import opentelemetry.sdk.trace, opentelemetry.baggage",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Kills the service when the test ends, however it ends.
struct Service(Child);

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn interrupt(child: &Child) {
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
}

#[test]
fn a_python_callers_trace_continues_through_the_adopted_service() {
    let (Some(binary), true) = (example_binary(), python_sdk_available()) else {
        let why = "needs the adoption_after example (built by `cargo test`) and the Python \
                   OpenTelemetry SDK (`pip install opentelemetry-sdk`)";
        assert!(!in_ci(), "{why}");
        eprintln!("skipped: {why}");
        return;
    };
    let receiver = Receiver::grpc();
    let mut child = Command::new(binary)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("PORT", "0")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint())
        .env(
            "CHECKOUT_OTEL_USER_HASH_KEY",
            "raw:a key of at least thirty-two bytes, shared",
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the adopted service");
    let stdout = child.stdout.take().expect("stdout");
    let service = Service(child);
    let mut lines = BufReader::new(stdout).lines();
    let addr = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| l.strip_prefix("listening on ").map(str::to_owned))
        .expect("the service says where it listens");

    let output = Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/otel_client.py"))
        .arg(format!("http://{addr}/pay"))
        .arg(
            r#"{"order_id":"order-7f3a","customer_id":"customer-42","amount_minor":4998,"card_number":"4242 4242 4242 4242"}"#,
        )
        .arg("tenant=eu-shop")
        .output()
        .expect("run the Python caller");
    assert!(
        output.status.success(),
        "python: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let caller: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("the caller prints JSON");
    assert_eq!(caller["status"], 200, "{caller}");
    assert!(caller["headers"]["traceparent"].is_string(), "{caller}");
    assert_eq!(caller["headers"]["baggage"], "tenant=eu-shop", "{caller}");
    let trace_id = caller["trace_id"].as_str().unwrap().to_owned();
    let caller_span = caller["span_id"].as_str().unwrap().to_owned();

    // Ctrl-C: the service stops and its shutdown flushes every signal.
    interrupt(&service.0);
    let received = receiver.wait_for(WAIT, |r| {
        r.span("POST /pay").is_some()
            && r.span(attr::PAYMENT_PROCESS).is_some()
            && !r.logs.is_empty()
    });

    let server = received.span("POST /pay").expect("the server span");
    let payment = received
        .span(attr::PAYMENT_PROCESS)
        .expect("payment.process");
    assert_eq!(server.trace_id(), trace_id, "the caller's trace continues");
    assert_eq!(server.parent_id(), caller_span);
    assert_eq!(server.span.kind, 2, "SERVER");
    assert_eq!(payment.trace_id(), trace_id);
    assert_eq!(payment.parent_id(), server.span_id());
    assert_eq!(server.resource[attr::SERVICE_NAME], "payment-api");
    for (key, value) in [
        (attr::HTTP_REQUEST_METHOD, "POST"),
        (attr::URL_PATH, "/pay"),
        (attr::URL_SCHEME, "http"),
        (attr::HTTP_ROUTE, "/pay"),
        (attr::HTTP_RESPONSE_STATUS_CODE, "200"),
        (attr::SERVER_ADDRESS, "127.0.0.1"),
        (attr::NETWORK_PROTOCOL_VERSION, "1.1"),
    ] {
        assert_eq!(server.attr(key).as_deref(), Some(value), "{key}");
    }
    assert!(server.attr(attr::SERVER_PORT).is_some());
    assert!(server.attr(attr::USER_AGENT_ORIGINAL).is_some());
    assert_eq!(
        payment.attr(attr::PAYMENT_STATUS).as_deref(),
        Some("succeeded")
    );
    assert_eq!(
        payment.attr(attr::PAYMENT_CARD_LAST4).as_deref(),
        Some("4242")
    );
    let user_hash = payment.attr(attr::USER_HASH).expect("user.hash");
    assert_eq!(user_hash.len(), 64, "an HMAC-SHA256 in hex");

    // The service's own log line, exported in the caller's trace, its
    // customer id turned into `user.hash` by the exit check.
    let charging = received
        .logs
        .iter()
        .flat_map(|r| &r.resource_logs)
        .flat_map(|r| &r.scope_logs)
        .flat_map(|s| &s.log_records)
        .find(|l| format!("{:?}", l.body).contains("charging"))
        .expect("the service's `charging` log record");
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    assert_eq!(
        hex(&charging.trace_id),
        trace_id,
        "the log line is in the trace"
    );
    assert_eq!(hex(&charging.span_id), server.span_id());
    let keys: Vec<&str> = charging
        .attributes
        .iter()
        .map(|kv| kv.key.as_str())
        .collect();
    assert!(keys.contains(&attr::USER_HASH), "{keys:?}");
    assert!(!keys.contains(&"customer_id"), "{keys:?}");

    // Nothing identifying arrives, on any signal: not the card number, not
    // the customer id the service logs.
    let everything = format!("{:?}", received);
    for secret in ["4242 4242 4242 4242", "4242424242424242", "customer-42"] {
        assert!(!everything.contains(secret), "{secret} arrived");
    }
    drop(service);
}
