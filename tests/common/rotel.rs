//! A real OpenTelemetry collector for the tests: `rotel`, the Rust collector
//! shipped in the PyPI package `rotel` (`.ci/run` installs it and sets
//! `ROTEL_BIN`). It runs as a child process on free loopback ports with the
//! blackhole exporter and its debug log on stdout (written to a file), which
//! [`Rotel::collected`] parses back into spans, metrics and log records.
//!
//! Finding the binary: `ROTEL_BIN`, else `rotel-agent` on `PATH`, else the
//! installed Python package. When it is missing, [`rotel_or_skip`] fails the
//! test under CI (`CI` set) and skips it with a message locally.

use std::collections::BTreeMap;
use std::fs::File;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The version `.ci/run` installs.
pub const ROTEL_VERSION: &str = "0.0.1a15";

/// How long rotel may take to listen.
const READY_LIMIT: Duration = Duration::from_secs(15);

/// The rotel binary, if it can be found.
pub fn rotel_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("ROTEL_BIN").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    if let Some(paths) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&paths) {
            let candidate = dir.join("rotel-agent");
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    // `pip install rotel` puts the binary inside the package directory.
    let out = Command::new("python3")
        .args([
            "-c",
            "import os, rotel; print(os.path.join(os.path.dirname(rotel.__file__), 'rotel-agent'))",
        ])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    (out.status.success() && path.is_file()).then_some(path)
}

/// Whether this is a CI run, where a missing collector is a failure.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// The rotel binary; `None` (after saying so) when it is missing and this is
/// not CI. Under CI a missing binary fails the test.
pub fn rotel_or_skip(test: &str) -> Option<PathBuf> {
    match rotel_binary() {
        Some(path) => Some(path),
        None if in_ci() => panic!(
            "{test}: the rotel collector is required in CI but was not found: set ROTEL_BIN, or \
             `python3 -m pip install --pre rotel=={ROTEL_VERSION}`"
        ),
        None => {
            eprintln!(
                "SKIPPED {test}: rotel not found (set ROTEL_BIN or `python3 -m pip install --pre \
                 rotel=={ROTEL_VERSION}`)"
            );
            None
        }
    }
}

/// A port nothing listens on right now (bound, read, released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// What rotel prints for each batch it receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verbosity {
    /// One line per batch with its span count (cheap: for load).
    Basic,
    /// Every span and metric with all attributes.
    Detailed,
}

/// A running rotel; killed (and reaped) on drop.
pub struct Rotel {
    child: Option<Child>,
    binary: PathBuf,
    verbosity: Verbosity,
    pub grpc_port: u16,
    pub http_port: u16,
    dir: tempfile::TempDir,
    /// Output files of every run so far (one per start), oldest first.
    outputs: Vec<PathBuf>,
    paused: bool,
}

impl Rotel {
    /// Starts rotel on free ports and waits until it listens.
    pub fn start(binary: &Path, verbosity: Verbosity) -> Rotel {
        Self::start_on(binary, verbosity, free_port(), free_port())
    }

    /// Starts rotel on the given ports and waits until it listens.
    pub fn start_on(binary: &Path, verbosity: Verbosity, grpc_port: u16, http_port: u16) -> Rotel {
        let mut rotel = Rotel {
            child: None,
            binary: binary.to_owned(),
            verbosity,
            grpc_port,
            http_port,
            dir: tempfile::tempdir().expect("tempdir"),
            outputs: Vec::new(),
            paused: false,
        };
        rotel.restart();
        rotel
    }

    /// Starts the process again (after [`kill`](Self::kill)) on the same
    /// ports, and waits until it listens.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "rotel is already running");
        let run = self.outputs.len();
        let out_path = self.dir.path().join(format!("stdout-{run}.txt"));
        let err_path = self.dir.path().join(format!("stderr-{run}.txt"));
        let verbosity = match self.verbosity {
            Verbosity::Basic => "basic",
            Verbosity::Detailed => "detailed",
        };
        let child = Command::new(&self.binary)
            .arg("start")
            .args(["--exporter", "blackhole"])
            .args(["--debug-log", "traces", "--debug-log", "metrics"])
            .args(["--debug-log", "logs"])
            .args(["--debug-log-verbosity", verbosity])
            .args([
                "--otlp-grpc-endpoint",
                &format!("127.0.0.1:{}", self.grpc_port),
            ])
            .args([
                "--otlp-http-endpoint",
                &format!("127.0.0.1:{}", self.http_port),
            ])
            // Its own pid and log files, so parallel tests never share one.
            .arg("--pid-file")
            .arg(self.dir.path().join(format!("rotel-{run}.pid")))
            .arg("--log-file")
            .arg(self.dir.path().join(format!("rotel-{run}.log")))
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(File::create(&out_path).expect("stdout file"))
            .stderr(File::create(&err_path).expect("stderr file"))
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {}: {e}", self.binary.display()));
        self.child = Some(child);
        self.outputs.push(out_path);
        self.wait_listening(&err_path);
    }

    fn wait_listening(&mut self, err_path: &Path) {
        let start = Instant::now();
        let ports = [self.grpc_port, self.http_port];
        loop {
            if ports.iter().all(|p| {
                TcpStream::connect_timeout(
                    &SocketAddr::from(([127, 0, 0, 1], *p)),
                    Duration::from_millis(200),
                )
                .is_ok()
            }) {
                return;
            }
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    let err = std::fs::read_to_string(err_path).unwrap_or_default();
                    panic!("rotel exited during start-up ({status}): {err}");
                }
            }
            if start.elapsed() > READY_LIMIT {
                let err = std::fs::read_to_string(err_path).unwrap_or_default();
                panic!("rotel did not listen on {ports:?} within {READY_LIMIT:?}: {err}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `http://127.0.0.1:PORT` of the OTLP/gRPC receiver.
    pub fn grpc_endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.grpc_port)
    }

    /// `http://127.0.0.1:PORT` of the OTLP/HTTP receiver.
    pub fn http_endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    /// The process id, while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Kills the collector (SIGKILL: no goodbye to open connections).
    pub fn kill(&mut self) {
        self.resume();
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Freezes the collector (SIGSTOP): the kernel still accepts
    /// connections, nothing ever answers. A hung collector.
    pub fn pause(&mut self) {
        if let Some(pid) = self.pid() {
            signal("-STOP", pid);
            self.paused = true;
        }
    }

    /// Thaws a paused collector (SIGCONT).
    pub fn resume(&mut self) {
        if let (true, Some(pid)) = (self.paused, self.pid()) {
            signal("-CONT", pid);
        }
        self.paused = false;
    }

    /// Everything printed on stdout by every run so far.
    pub fn output(&self) -> String {
        self.outputs
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// What the collector received so far, parsed from its output.
    pub fn collected(&self) -> Collected {
        Collected::parse(&self.output())
    }

    /// Polls until `done` holds or `limit` passes; returns the last parse.
    /// Callers assert on it.
    pub fn wait_for(&self, limit: Duration, done: impl Fn(&Collected) -> bool) -> Collected {
        let start = Instant::now();
        loop {
            let c = self.collected();
            if done(&c) || start.elapsed() > limit {
                return c;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Rotel {
    fn drop(&mut self) {
        self.kill();
    }
}

fn signal(sig: &str, pid: u32) {
    let status = Command::new("kill")
        .arg(sig)
        .arg(pid.to_string())
        .status()
        .expect("run kill");
    assert!(status.success(), "kill {sig} {pid} failed");
}

/// One span as rotel printed it.
#[derive(Debug, Clone, Default)]
pub struct CollectedSpan {
    /// Resource attributes (values without their type wrapper).
    pub resource: BTreeMap<String, String>,
    /// Instrumentation scope name.
    pub scope: String,
    pub trace_id: String,
    pub parent_id: String,
    pub span_id: String,
    pub name: String,
    pub kind: String,
    pub status_code: String,
    pub status_message: String,
    pub attributes: BTreeMap<String, String>,
    /// Event names with their attributes.
    pub events: Vec<(String, BTreeMap<String, String>)>,
}

impl CollectedSpan {
    /// `service.name` of the span's resource.
    pub fn service(&self) -> &str {
        self.resource.get("service.name").map_or("", String::as_str)
    }
}

/// One log record as rotel printed it.
#[derive(Debug, Clone, Default)]
pub struct CollectedLog {
    /// Resource attributes (values without their type wrapper).
    pub resource: BTreeMap<String, String>,
    /// Instrumentation scope name.
    pub scope: String,
    pub severity_text: String,
    /// `SEVERITY_NUMBER_INFO(9)` -> 9; 0 when unspecified or missing.
    pub severity_number: u8,
    pub event_name: String,
    pub body: String,
    pub attributes: BTreeMap<String, String>,
    /// Empty when the record has no trace context.
    pub trace_id: String,
    pub span_id: String,
}

impl CollectedLog {
    /// `service.name` of the record's resource.
    pub fn service(&self) -> &str {
        self.resource.get("service.name").map_or("", String::as_str)
    }
}

/// One metric data point as rotel printed it.
#[derive(Debug, Clone, Default)]
pub struct CollectedPoint {
    pub service: String,
    pub metric: String,
    pub unit: String,
    pub data_type: String,
    pub attributes: BTreeMap<String, String>,
    /// `Value` of a sum or gauge, `Count` of a histogram.
    pub value: f64,
}

/// Everything parsed from rotel's output.
#[derive(Debug, Clone, Default)]
pub struct Collected {
    pub spans: Vec<CollectedSpan>,
    pub logs: Vec<CollectedLog>,
    pub points: Vec<CollectedPoint>,
    /// Sum of `spans=N` over "Received traces" lines (basic verbosity).
    pub basic_span_count: u64,
}

#[derive(Clone, Copy, PartialEq)]
enum Section {
    None,
    Resource,
    SpanAttributes,
    LogAttributes,
    Event,
    PointAttributes,
}

impl Collected {
    /// Parses rotel's debug log (the OpenTelemetry collector's debug
    /// exporter format; ANSI colour codes are ignored).
    pub fn parse(output: &str) -> Collected {
        let mut out = Collected::default();
        let mut resource = BTreeMap::new();
        let mut scope = String::new();
        let mut section = Section::None;
        let mut span: Option<CollectedSpan> = None;
        let mut log: Option<CollectedLog> = None;
        let mut point: Option<CollectedPoint> = None;
        let mut metric = (String::new(), String::new(), String::new()); // name, unit, type

        let finish_span = |span: &mut Option<CollectedSpan>, out: &mut Collected| {
            if let Some(s) = span.take() {
                out.spans.push(s);
            }
        };
        for raw in output.lines() {
            let line = strip_ansi(raw);
            let trimmed = line.trim();
            if line.contains("Received traces.") {
                out.basic_span_count += field(&line, "spans=").unwrap_or(0);
                continue;
            }
            if trimmed.starts_with("ResourceSpans #")
                || trimmed.starts_with("ResourceMetrics #")
                || trimmed.starts_with("ResourceLog #")
            {
                finish_span(&mut span, &mut out);
                out.logs.extend(log.take());
                if let Some(p) = point.take() {
                    out.points.push(p);
                }
                resource = BTreeMap::new();
                section = Section::None;
            } else if trimmed == "Resource attributes:" {
                section = Section::Resource;
            } else if let Some(rest) = trimmed.strip_prefix("InstrumentationScope ") {
                scope = rest.split_whitespace().next().unwrap_or("").to_owned();
                section = Section::None;
            } else if trimmed.starts_with("ScopeSpans #")
                || trimmed.starts_with("ScopeMetrics #")
                || trimmed.starts_with("ScopeLogs #")
            {
                out.logs.extend(log.take());
                section = Section::None;
            } else if trimmed.starts_with("LogRecord #") {
                out.logs.extend(log.take());
                log = Some(CollectedLog {
                    resource: resource.clone(),
                    scope: scope.clone(),
                    ..CollectedLog::default()
                });
                section = Section::None;
            } else if let (Some(l), Some((key, value))) = (log.as_mut(), log_header(trimmed)) {
                match key {
                    "SeverityText" => l.severity_text = value.to_owned(),
                    "SeverityNumber" => l.severity_number = severity_number(value),
                    "EventName" => l.event_name = value.to_owned(),
                    "Body" => l.body = unwrap_value(value),
                    "Trace ID" => l.trace_id = value.to_owned(),
                    "Span ID" => l.span_id = value.to_owned(),
                    _ => {}
                }
            } else if trimmed == "Attributes:" && log.is_some() {
                section = Section::LogAttributes;
            } else if trimmed.starts_with("Span #") {
                finish_span(&mut span, &mut out);
                span = Some(CollectedSpan {
                    resource: resource.clone(),
                    scope: scope.clone(),
                    ..CollectedSpan::default()
                });
                section = Section::None;
            } else if let (Some(s), Some((key, value))) = (span.as_mut(), header(trimmed)) {
                match key {
                    "Trace ID" => s.trace_id = value.to_owned(),
                    "Parent ID" => s.parent_id = value.to_owned(),
                    "ID" => s.span_id = value.to_owned(),
                    "Name" => s.name = value.to_owned(),
                    "Kind" => s.kind = value.to_owned(),
                    "Status code" => s.status_code = value.to_owned(),
                    "Status message" => s.status_message = value.to_owned(),
                    _ => {}
                }
            } else if trimmed == "Attributes:" && span.is_some() {
                section = Section::SpanAttributes;
            } else if trimmed.starts_with("SpanEvent #") {
                if let Some(s) = span.as_mut() {
                    s.events.push((String::new(), BTreeMap::new()));
                }
                section = Section::Event;
            } else if trimmed.starts_with("Metric #") {
                finish_span(&mut span, &mut out);
                if let Some(p) = point.take() {
                    out.points.push(p);
                }
                section = Section::None;
            } else if trimmed.starts_with("NumberDataPoints #")
                || trimmed.starts_with("HistogramDataPoints #")
            {
                if let Some(p) = point.take() {
                    out.points.push(p);
                }
                point = Some(CollectedPoint {
                    service: resource.get("service.name").cloned().unwrap_or_default(),
                    metric: metric.0.clone(),
                    unit: metric.1.clone(),
                    data_type: metric.2.clone(),
                    ..CollectedPoint::default()
                });
                section = Section::None;
            } else if trimmed == "Data point attributes:" {
                section = Section::PointAttributes;
            } else if let (Some(p), Some(v)) = (
                point.as_mut(),
                trimmed
                    .strip_prefix("Value: ")
                    .or_else(|| trimmed.strip_prefix("Count: ")),
            ) {
                p.value = v.trim().parse().unwrap_or(f64::NAN);
            } else if let Some(kv) = trimmed.strip_prefix("-> ") {
                let Some((key, value)) = kv.split_once(": ") else {
                    continue;
                };
                let value = unwrap_value(value);
                match section {
                    Section::Resource => {
                        resource.insert(key.to_owned(), value);
                    }
                    Section::SpanAttributes => {
                        if let Some(s) = span.as_mut() {
                            s.attributes.insert(key.to_owned(), value);
                        }
                    }
                    Section::LogAttributes => {
                        if let Some(l) = log.as_mut() {
                            l.attributes.insert(key.to_owned(), value);
                        }
                    }
                    Section::Event => {
                        if let Some((name, attrs)) = span.as_mut().and_then(|s| s.events.last_mut())
                        {
                            match key {
                                "Name" => *name = value,
                                "Timestamp" | "DroppedAttributesCount" | "Attributes:" => {}
                                _ => {
                                    attrs.insert(key.to_owned(), value);
                                }
                            }
                        }
                    }
                    Section::PointAttributes => {
                        if let Some(p) = point.as_mut() {
                            p.attributes.insert(key.to_owned(), value);
                        }
                    }
                    Section::None => match key {
                        "Name" => metric.0 = value,
                        "Unit" => metric.1 = value,
                        "DataType" => metric.2 = value,
                        _ => {}
                    },
                }
            }
        }
        finish_span(&mut span, &mut out);
        out.logs.extend(log.take());
        if let Some(p) = point.take() {
            out.points.push(p);
        }
        out
    }

    /// Names of every metric received.
    pub fn metric_names(&self) -> std::collections::BTreeSet<String> {
        self.points.iter().map(|p| p.metric.clone()).collect()
    }

    /// The latest (cumulative) total of sum metric `name` from `service`:
    /// the sum over attribute sets of each set's last value.
    pub fn latest_sum(&self, service: &str, name: &str) -> f64 {
        let mut last: BTreeMap<Vec<(String, String)>, f64> = BTreeMap::new();
        for p in self
            .points
            .iter()
            .filter(|p| p.service == service && p.metric == name)
        {
            let key = p.attributes.clone().into_iter().collect();
            last.insert(key, p.value);
        }
        last.values().sum()
    }
}

/// `    Trace ID       : abc` -> ("Trace ID", "abc").
fn header(line: &str) -> Option<(&str, &str)> {
    if line.starts_with("->") {
        return None;
    }
    let (k, v) = line.split_once(" : ").or_else(|| line.split_once(": "))?;
    let k = k.trim();
    matches!(
        k,
        "Trace ID" | "Parent ID" | "ID" | "Name" | "Kind" | "Status code" | "Status message"
    )
    .then(|| (k, v.trim()))
}

/// The header lines of a log record: `SeverityText: INFO`,
/// `    Trace ID       : abc` (an empty value when the record has none).
fn log_header(line: &str) -> Option<(&str, &str)> {
    if line.starts_with("->") {
        return None;
    }
    let (k, v) = line.split_once(':')?;
    let k = k.trim();
    matches!(
        k,
        "SeverityText" | "SeverityNumber" | "EventName" | "Body" | "Trace ID" | "Span ID"
    )
    .then(|| (k, v.trim()))
}

/// `SEVERITY_NUMBER_WARN(13)` -> 13.
fn severity_number(v: &str) -> u8 {
    v.rsplit_once('(')
        .and_then(|(_, n)| n.strip_suffix(')'))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// `Str(abc)` -> `abc`, `Int(3)` -> `3`.
fn unwrap_value(v: &str) -> String {
    for prefix in [
        "Str(", "Int(", "Double(", "Bool(", "Bytes(", "Slice(", "Map(",
    ] {
        if let Some(inner) = v.strip_prefix(prefix).and_then(|r| r.strip_suffix(')')) {
            return inner.to_owned();
        }
    }
    v.to_owned()
}

fn field(line: &str, name: &str) -> Option<u64> {
    // `spans=3`, not `resource_spans=1`.
    let mut rest = line;
    while let Some(i) = rest.find(name) {
        let before = rest[..i].chars().last();
        rest = &rest[i + name.len()..];
        if before.is_none_or(|c| !c.is_alphanumeric() && c != '_') {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            return digits.parse().ok();
        }
    }
    None
}

/// Removes ANSI escape sequences (`ESC [ ... letter`).
pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
