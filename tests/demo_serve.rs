//! `checkout_demo --serve`: the demo's binary keeps the shop up, answers
//! `POST /checkout` on the loopback address it prints, and stops cleanly on
//! SIGINT (exit status 0, after shutting its telemetry down).
#![cfg(unix)]

mod common;

use std::io::{BufRead as _, BufReader, Read as _};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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
        .join("checkout_demo");
    path.is_file().then_some(path)
}

fn demo_or_skip(test: &str) -> Option<PathBuf> {
    let demo = demo_binary();
    if demo.is_none() {
        assert!(
            !common::rotel::in_ci(),
            "{test}: checkout_demo binary not found: `cargo test` builds it (or set CHECKOUT_DEMO_BIN)"
        );
        eprintln!(
            "SKIPPED {test}: build it with `cargo build --example checkout_demo --all-features`"
        );
    }
    demo
}

/// The demo with no exporter configured: whatever the environment says.
fn demo(bin: &PathBuf) -> Command {
    let mut command = Command::new(bin);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("OTEL_") {
            command.env_remove(name);
        }
    }
    command
}

/// Waits for the child to exit, killing it after `limit`.
fn wait_at_most(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if let Some(status) = child.try_wait().expect("wait for the demo") {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_checkouts_until_sigint_then_exits_cleanly() {
    let Some(bin) = demo_or_skip("serves_checkouts_until_sigint_then_exits_cleanly") else {
        return;
    };
    let mut child = demo(&bin)
        .args(["--serve", "127.0.0.1:0", "--psp-latency", "5"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start checkout_demo --serve");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));

    // The first line names the address; a port of 0 became a real one.
    let mut first = String::new();
    stdout.read_line(&mut first).expect("read the first line");
    let url = first
        .trim()
        .strip_prefix("serving POST /checkout on ")
        .unwrap_or_else(|| panic!("unexpected first line: {first:?}"))
        .to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert!(!url.ends_with(":0"), "{url}");
    // The rest of the banner, up to the example request, which must work.
    let mut banner = String::new();
    let example_body = loop {
        let mut line = String::new();
        assert!(stdout.read_line(&mut line).expect("read") > 0, "{banner}");
        banner.push_str(&line);
        if let Some((_, body)) = line.split_once(" -d '") {
            break body.trim_end().trim_end_matches('\'').to_owned();
        }
    };
    assert!(banner.contains("curl -sS -X POST"), "{banner}");

    let client = reqwest::Client::new();
    let mut trace_ids = Vec::new();
    for cart in ["cart-0001", "cart-0002", "cart-0999"] {
        let mut body: serde_json::Value =
            serde_json::from_str(&example_body).expect("the printed body is JSON");
        body["cart_id"] = cart.into();
        let response = client
            .post(format!("{url}/checkout"))
            .json(&body)
            .send()
            .await
            .expect("the gateway answers");
        assert_eq!(response.status().as_u16(), 201, "{cart}");
        let answer: serde_json::Value = response.json().await.expect("a JSON answer");
        assert_eq!(answer["status"], "success", "{cart}: {answer}");
        trace_ids.push(answer["trace_id"].as_str().unwrap_or_default().to_owned());
    }
    trace_ids.sort();
    trace_ids.dedup();
    assert_eq!(trace_ids.len(), 3, "one trace per checkout: {trace_ids:?}");

    let pid = child.id().to_string();
    let sent = Command::new("kill").args(["-INT", &pid]).status();
    assert!(sent.is_ok_and(|s| s.success()), "kill -INT {pid}");
    // Generous: the bound is 3 s per service, in parallel.
    let status = wait_at_most(&mut child, Duration::from_secs(30))
        .expect("checkout_demo --serve exits within 30 s of SIGINT");
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).expect("read the rest");
    assert!(status.success(), "exit status {status}:\n{rest}");
    assert!(rest.contains("telemetry shut down in "), "{rest}");
    // The gateway's own count of what it served.
    let completed = rest
        .lines()
        .find(|l| l.trim_start().starts_with("success"))
        .unwrap_or_default();
    assert_eq!(
        completed.split_whitespace().collect::<Vec<_>>(),
        ["success", "3"],
        "{rest}"
    );
}

#[test]
fn refuses_to_serve_beyond_loopback() {
    let Some(bin) = demo_or_skip("refuses_to_serve_beyond_loopback") else {
        return;
    };
    let output = demo(&bin)
        .args(["--serve", "0.0.0.0:8080"])
        .stdin(Stdio::null())
        .output()
        .expect("run checkout_demo");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("refusing 0.0.0.0"), "{stderr}");
    assert!(stderr.contains("loopback only"), "{stderr}");
}
