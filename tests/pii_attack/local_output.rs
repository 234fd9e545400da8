//! The local output `init` installs (the log output and the console
//! waterfall) and the warnings of failing exports, checked in a child
//! process: `init` installs process-wide state, which the other tests of
//! this binary must not share.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::Duration;

use checkout_otel::attributes::{DeclineCode, ErrorType};
use checkout_otel::init::{Protocol, Telemetry};
use checkout_otel::opentelemetry::trace::{Span as _, Status, Tracer as _};
use checkout_otel::spans::{CheckoutProcess, Failure, PaymentGatewayCall};
use proptest::strategy::{Strategy, ValueTree as _};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use crate::benign::LOG_MESSAGE;
use crate::common::pii_gen::{self, Sample};
use crate::common::pii_match;
use crate::config_leaks::{HEADER_SECRET, PASSWORD, assert_no_secret};
use crate::placements::{attack_url, place_tracing};
use crate::{USER_HASH_KEY, describe, report};

/// Set in the child process that runs `init` (which installs process-wide
/// state): which scenario to run.
const CHILD_ENV: &str = "CHECKOUT_OTEL_ATTACK_CHILD";

/// The samples of the local-output scenarios: fixed, so the parent knows
/// what the child printed around.
fn fixed_samples() -> Vec<Sample> {
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::deterministic_rng(RngAlgorithm::ChaCha),
    );
    pii_gen::every_family()
        .new_tree(&mut runner)
        .expect("samples")
        .current()
}

/// Not a test of its own: the body of the child process the local-output
/// tests start (it does nothing without `CHECKOUT_OTEL_ATTACK_CHILD`).
#[test]
fn local_output_child() {
    let Ok(scenario) = std::env::var(CHILD_ENV) else {
        return;
    };
    match scenario.as_str() {
        "console" => child_console(),
        "credentials" => child_credentials(),
        other => panic!("unknown scenario {other}"),
    }
}

/// `init` with the console exporter: the log output on stdout and the
/// trace waterfall on stderr, with every sample logged and traced.
fn child_console() {
    let guard = Telemetry::builder("checkout-local")
        .user_hash_key(USER_HASH_KEY)
        .with_env([
            ("OTEL_TRACES_EXPORTER", "console"),
            ("OTEL_METRICS_EXPORTER", "none"),
        ])
        .init()
        .expect("init");
    let tracer = guard.tracer();
    for (i, s) in fixed_samples().iter().enumerate() {
        place_tracing(i, s);
        let text = s.in_text();
        tracing::warn!(customer = %text, "payment declined: {text}");
        let checkout = tracer.start(CheckoutProcess::new(&text));
        {
            let _in_checkout = checkout.enter();
            let call = tracer.start(PaymentGatewayCall::new(
                "stripe",
                "POST",
                &attack_url("https://pay.example.com/v1/charges", s),
            ));
            call.declined(DeclineCode::DoNotHonor, &text);
            let mut raw = guard.sdk_tracer().start(text.clone());
            raw.set_status(Status::error(text.clone()));
            raw.end();
        }
        checkout.finish(&Err::<(), _>(Failure::rejection(
            ErrorType::new("card_declined"),
            text.clone(),
        )));
    }
    tracing::info!("{LOG_MESSAGE}");
    let _ = guard.shutdown();
}

/// `init` with a credentialed endpoint nothing listens at: the warnings and
/// errors the failing exports produce.
fn child_credentials() {
    let closed = crate::common::receiver::closed_endpoint();
    let endpoint = closed.replace("http://", &format!("http://user:{PASSWORD}@"));
    let guard = Telemetry::builder("checkout-credentials")
        .endpoint(endpoint.clone())
        .protocol(Protocol::HttpProtobuf)
        .header("authorization", format!("Bearer {HEADER_SECRET}"))
        .timeout(Duration::from_millis(500))
        .shutdown_timeout(Duration::from_secs(3))
        .with_env(Vec::<(String, String)>::new())
        .init()
        .expect("init");
    let grpc = Telemetry::builder("checkout-credentials-grpc")
        .endpoint(endpoint)
        .header("authorization", format!("Bearer {HEADER_SECRET}"))
        .timeout(Duration::from_millis(500))
        .shutdown_timeout(Duration::from_secs(3))
        .with_env(Vec::<(String, String)>::new())
        .build()
        .expect("build");
    for g in [&guard, &grpc] {
        let mut span = g.sdk_tracer().start("checkout.process");
        span.end();
        match g.force_flush() {
            Ok(()) => println!("flush: ok"),
            Err(e) => println!("flush: {e}\nflush: {e:?}"),
        }
    }
    println!("shutdown: {:?}", grpc.shutdown());
    println!("shutdown: {:?}", guard.shutdown());
}

/// Runs the child scenario and returns its stdout and stderr, escapes of
/// colours removed.
fn run_child(scenario: &str) -> String {
    let exe = std::env::current_exe().expect("test binary");
    let out = Command::new(exe)
        .args([
            "--exact",
            "local_output::local_output_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, scenario)
        .env_remove("RUST_LOG")
        .output()
        .expect("child process");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "child {scenario} failed:\n{text}");
    let ansi = regex::Regex::new("\x1b\\[[0-9;]*m").expect("ansi pattern");
    ansi.replace_all(&text, "").into_owned()
}

/// The log output and the console waterfall `init` installs print no PII:
/// the same exit check as the exporters.
#[test]
fn local_output_prints_no_pii() {
    let output = run_child("console");
    assert!(
        output.contains(LOG_MESSAGE),
        "the log output printed nothing: {output}"
    );
    assert!(
        output.contains("checkout.process"),
        "the waterfall printed nothing: {output}"
    );
    let samples = fixed_samples();
    // Only planted values count here: log lines carry timestamps and ids of
    // their own, which are not the suite's to judge.
    let mut found: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in output.lines() {
        for hit in pii_match::scan(line, &samples) {
            if hit.sample.is_some() {
                let what = if line.contains('│') || line.starts_with("trace ") {
                    "console waterfall (stderr)"
                } else {
                    "log output"
                };
                found
                    .entry(what.to_owned())
                    .or_default()
                    .insert(describe(&hit, &samples, line));
            }
        }
    }
    assert!(
        found.is_empty(),
        "{}",
        report("PII in the local output", &found)
    );
}

/// Failing exports to a credentialed endpoint: neither the warnings the
/// set-up prints nor the errors show the credentials.
#[test]
fn local_output_shows_no_credentials() {
    let output = run_child("credentials");
    assert!(output.contains("flush: "), "{output}");
    assert_no_secret("the local output", &output);
}
