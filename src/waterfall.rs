//! A text waterfall of a trace: the picture that shows at a glance where a
//! slow checkout spent its time, without a tracing backend.
//!
//! ```text
//! trace 4bf92f3577b34da6a3ce929d0e0e4736 · 9.20s · 6 services · 11 spans
//! checkout.process           │██████████████████████████████│  9.20s  checkout
//!   cart.validate            │█▌                            │  410ms  cart
//!     cart.fetch_contents    │█                             │  195ms  cart
//!     cart.verify_prices     │▐▌                            │  195ms  cart
//!   inventory.reserve_batch  │ ████                         │  1.05s  inventory
//!     inventory.reserve_item │ ███                          │  760ms  inventory
//!     inventory.reserve_item │ ████                         │  1.03s  inventory
//!   payment.process          │    ▐███████████████████████▌ │  7.10s  payment
//!     payment.gateway_call   │     ███████████████████████  │  6.90s  payment
//!   order.create             │                            █▌│  380ms  order
//!   notification.send        │                             █│  190ms  notification
//! ```
//!
//! One row per span, children under their parent (indented two columns per
//! level) and ordered by start time; the bar is placed and scaled on the
//! trace's own time line; then the duration, the service and, for a failed
//! span, `✗` and its `error.type`. A span whose parent is not in the set
//! (lost, sampled out, or in a service whose spans you do not have) is shown
//! at top level with a `↑ parent … not in trace` note instead of vanishing.
//!
//! The renderer takes [`WaterfallSpan`] rows, a small owned type you can
//! build from the SDK's [`SpanData`] ([`WaterfallSpan::from_span_data`]),
//! from an OTLP receiver, or by hand. Three ways to get a picture:
//!
//! - [`render`] a slice of spans (one or several traces) to a `String`;
//! - [`WaterfallExporter`], a development [`SpanExporter`] that prints each
//!   trace as soon as its local root span ends;
//! - [`SpanCollector`], a shared in-memory store that several providers (one
//!   per service, in one process) export into, so a trace that crosses
//!   services can be rendered as one picture.
//!
//! Colour (ANSI) is used only when the output is a terminal and `NO_COLOR`
//! is not set, unless forced with [`ColorChoice::Always`].
//!
//! # Example
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use checkout_otel::opentelemetry::trace::{SpanId, TraceId};
//! use checkout_otel::waterfall::{render, ColorChoice, WaterfallOptions, WaterfallSpan};
//!
//! let trace = TraceId::from(0x4bf92f3577b34da6a3ce929d0e0e4736_u128);
//! let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
//! let ms = |n: u64| t0 + Duration::from_millis(n);
//!
//! let spans = vec![
//!     WaterfallSpan::new(trace, SpanId::from(1), "checkout.process", "checkout", ms(0), ms(9200)),
//!     WaterfallSpan::new(trace, SpanId::from(2), "payment.gateway_call", "payment", ms(2000), ms(8900))
//!         .with_parent(SpanId::from(1))
//!         .with_error("timeout"),
//! ];
//! let picture = render(&spans, &WaterfallOptions::default().with_width(80).with_color(ColorChoice::Never));
//! assert!(picture.starts_with("trace 4bf92f3577b34da6a3ce929d0e0e4736 · 9.20s · 2 services · 2 spans\n"));
//! assert!(picture.contains("  payment.gateway_call"));
//! assert!(picture.contains("6.90s  payment   ✗ timeout"));
//! ```
//!
//! As a development exporter (prints to stderr when each trace's root ends):
//!
//! ```
//! use checkout_otel::opentelemetry_sdk::trace::SdkTracerProvider;
//! use checkout_otel::waterfall::WaterfallExporter;
//!
//! let provider = SdkTracerProvider::builder()
//!     .with_simple_exporter(WaterfallExporter::new())
//!     .build();
//! # drop(provider);
//! ```

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use opentelemetry::trace::{SpanId, SpanKind, Status, TraceId};
use opentelemetry::{Key, KeyValue, Value};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

use crate::attributes::{ERROR_TYPE, SERVICE_NAME};

/// Service name used before an exporter has been given a resource, and for
/// resources without `service.name` (the SDK's own fallback spelling).
const UNKNOWN_SERVICE: &str = "unknown_service";
/// Longest error text shown after `✗`; the rest is cut with `…`.
const MAX_ERROR_CHARS: usize = 60;
/// Widest service column; longer names are cut with `…`.
const MAX_SERVICE_CHARS: usize = 24;
/// The bar never gets narrower than this, whatever the width.
const MIN_BAR_CELLS: usize = 10;
/// Wider requests are drawn at this width (keeps arithmetic and memory small).
const MAX_WIDTH: usize = 1000;
/// Colours for services, in order of first appearance in a trace.
const SERVICE_COLORS: [&str; 6] = ["36", "35", "34", "33", "32", "96"];
const RED: &str = "31";

// ---------------------------------------------------------------------------
// Input rows
// ---------------------------------------------------------------------------

/// One span, reduced to what the waterfall shows. Build it from the SDK's
/// [`SpanData`] with [`WaterfallSpan::from_span_data`], or by hand with
/// [`WaterfallSpan::new`] and the `with_*` methods (for spans from another
/// source, or for tests with fixed timings).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct WaterfallSpan {
    /// The trace the span belongs to.
    pub trace_id: TraceId,
    /// The span's own id.
    pub span_id: SpanId,
    /// The parent's id, [`SpanId::INVALID`] for a trace's root.
    pub parent_span_id: SpanId,
    /// Whether the parent was in another process (propagated context).
    pub parent_is_remote: bool,
    /// The span name.
    pub name: String,
    /// The `service.name` of the process that produced the span.
    pub service: String,
    /// The span kind (not drawn; kept for callers that filter on it).
    pub kind: SpanKind,
    /// Start time.
    pub start: SystemTime,
    /// End time.
    pub end: SystemTime,
    /// `Some(error.type)` (or the status message when `error.type` is
    /// missing) when the span failed; drawn as `✗ …`.
    pub error: Option<String>,
}

impl WaterfallSpan {
    /// A span without a parent (a root), of kind `Internal`, without error.
    pub fn new(
        trace_id: TraceId,
        span_id: SpanId,
        name: impl Into<String>,
        service: impl Into<String>,
        start: SystemTime,
        end: SystemTime,
    ) -> Self {
        WaterfallSpan {
            trace_id,
            span_id,
            parent_span_id: SpanId::INVALID,
            parent_is_remote: false,
            name: name.into(),
            service: service.into(),
            kind: SpanKind::Internal,
            start,
            end,
            error: None,
        }
    }

    /// Sets a parent in the same process.
    pub fn with_parent(mut self, parent: SpanId) -> Self {
        self.parent_span_id = parent;
        self.parent_is_remote = false;
        self
    }

    /// Sets a parent in another process (the span continues a propagated trace).
    pub fn with_remote_parent(mut self, parent: SpanId) -> Self {
        self.parent_span_id = parent;
        self.parent_is_remote = true;
        self
    }

    /// Marks the span failed with this `error.type`.
    pub fn with_error(mut self, error_type: impl Into<String>) -> Self {
        self.error = Some(error_type.into());
        self
    }

    /// Sets the span kind.
    pub fn with_kind(mut self, kind: SpanKind) -> Self {
        self.kind = kind;
        self
    }

    /// Builds a row from exported span data. `SpanData` does not carry the
    /// resource, so the service name is passed in (an exporter gets it from
    /// [`SpanExporter::set_resource`]).
    ///
    /// The span counts as failed when its status is `Error` or it carries
    /// `error.type`; the marker shows `error.type`, else the status message,
    /// else `error`.
    pub fn from_span_data(data: &SpanData, service: &str) -> Self {
        let error_type = last_attr(&data.attributes, ERROR_TYPE).map(|v| v.as_str().into_owned());
        let error = match (&data.status, error_type) {
            (_, Some(t)) if !t.is_empty() => Some(t),
            (Status::Error { description }, _) if !description.is_empty() => {
                Some(description.to_string())
            }
            (Status::Error { .. }, _) => Some("error".to_owned()),
            _ => None,
        };
        WaterfallSpan {
            trace_id: data.span_context.trace_id(),
            span_id: data.span_context.span_id(),
            parent_span_id: data.parent_span_id,
            parent_is_remote: data.parent_span_is_remote,
            name: data.name.to_string(),
            service: service.to_owned(),
            kind: data.span_kind.clone(),
            start: data.start_time,
            end: data.end_time,
            error,
        }
    }

    /// `end - start`, zero if the clock went backwards.
    pub fn duration(&self) -> Duration {
        self.end.duration_since(self.start).unwrap_or_default()
    }

    /// True for the first span of a trace in this process: no parent, or a
    /// parent in another process.
    pub fn is_local_root(&self) -> bool {
        self.parent_span_id == SpanId::INVALID || self.parent_is_remote
    }
}

/// The last value of `key`: the SDK does not de-duplicate attributes, and the
/// last write is the one the code meant.
pub(crate) fn last_attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a Value> {
    attrs
        .iter()
        .rev()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| &kv.value)
}

/// The `service.name` of a resource, or `unknown_service`.
fn service_name_of(resource: &Resource) -> String {
    resource
        .get(&Key::from_static_str(SERVICE_NAME))
        .map(|v| v.as_str().into_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| UNKNOWN_SERVICE.to_owned())
}

// ---------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------

/// When to use ANSI colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ColorChoice {
    /// Colour when the output is a terminal, `NO_COLOR` is unset or empty
    /// (<https://no-color.org>) and `TERM` is not `dumb`.
    #[default]
    Auto,
    /// Always colour, whatever the output and environment.
    Always,
    /// Never colour.
    Never,
}

impl ColorChoice {
    /// Whether to colour output going to a stream that is (or is not) a terminal.
    pub fn enabled_for(self, stream_is_terminal: bool) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
                let dumb = std::env::var_os("TERM").is_some_and(|v| v == "dumb");
                stream_is_terminal && !no_color && !dumb
            }
        }
    }
}

/// How to draw a waterfall.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WaterfallOptions {
    /// Line width in columns, without the trailing `✗ error` / `↑ parent`
    /// notes. The bar takes what the name, duration and service columns
    /// leave, but never less than 10 columns. At most 1000. Default 100.
    pub width: usize,
    /// When to colour. Default [`ColorChoice::Auto`].
    pub color: ColorChoice,
}

impl Default for WaterfallOptions {
    fn default() -> Self {
        WaterfallOptions {
            width: 100,
            color: ColorChoice::Auto,
        }
    }
}

impl WaterfallOptions {
    /// Sets the line width.
    pub fn with_width(mut self, width: usize) -> Self {
        self.width = width;
        self
    }

    /// Sets when to colour.
    pub fn with_color(mut self, color: ColorChoice) -> Self {
        self.color = color;
        self
    }

    /// Renders `spans` with these options; same as [`render`].
    pub fn render(&self, spans: &[WaterfallSpan]) -> String {
        render(spans, self)
    }
}

// ---------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------

/// Renders spans as waterfalls, one per trace (traces ordered by start time,
/// separated by a blank line), each under a header line with the trace id,
/// total duration, number of services and number of spans.
///
/// [`ColorChoice::Auto`] colours when standard output is a terminal (the
/// usual destination of a rendered string is `print!`).
pub fn render(spans: &[WaterfallSpan], options: &WaterfallOptions) -> String {
    let color = options.color.enabled_for(std::io::stdout().is_terminal());
    render_traces(spans, options.width, color)
}

fn render_traces(spans: &[WaterfallSpan], width: usize, color: bool) -> String {
    let mut out = String::new();
    for (i, trace) in group_by_trace(spans.iter()).iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        render_trace(&mut out, trace, width, color, None);
    }
    out
}

/// Groups spans by trace id; traces ordered by earliest start, then id.
fn group_by_trace<'a>(
    spans: impl Iterator<Item = &'a WaterfallSpan>,
) -> Vec<Vec<&'a WaterfallSpan>> {
    let mut index: HashMap<TraceId, usize> = HashMap::new();
    let mut traces: Vec<Vec<&WaterfallSpan>> = Vec::new();
    for span in spans {
        let i = *index.entry(span.trace_id).or_insert_with(|| {
            traces.push(Vec::new());
            traces.len() - 1
        });
        traces[i].push(span);
    }
    traces.sort_by_key(|t| {
        let start = t.iter().map(|s| s.start).min();
        (start, t.first().map(|s| s.trace_id.to_bytes()))
    });
    traces
}

/// Why a span is drawn at top level.
#[derive(Clone, Copy)]
enum TopMark {
    /// A true root: no parent at all.
    Root,
    /// The parent id is not among the spans (local or remote parent).
    MissingParent { parent: SpanId, remote: bool },
    /// The parent is present but the parent chain loops back (malformed data).
    Loop,
}

/// One line to draw, in order.
struct Row<'a> {
    span: &'a WaterfallSpan,
    depth: usize,
    mark: TopMark,
}

/// Sort key: start time, then span id, then input position, so equal
/// starts (concurrent siblings) always come out in the same order.
fn order_key(span: &WaterfallSpan, i: usize) -> (SystemTime, [u8; 8], usize) {
    (span.start, span.span_id.to_bytes(), i)
}

/// Puts the spans of one trace in drawing order: a depth-first walk from the
/// roots and orphans, siblings by start time. Iterative, so a very deep or
/// malformed (looping) parent chain cannot overflow the stack.
fn layout_rows<'a>(spans: &[&'a WaterfallSpan]) -> Vec<Row<'a>> {
    let mut by_id: HashMap<SpanId, usize> = HashMap::new();
    for (i, s) in spans.iter().enumerate() {
        by_id.entry(s.span_id).or_insert(i);
    }
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); spans.len()];
    let mut top: Vec<(usize, TopMark)> = Vec::new();
    for (i, s) in spans.iter().enumerate() {
        if s.parent_span_id == SpanId::INVALID {
            top.push((i, TopMark::Root));
            continue;
        }
        match by_id.get(&s.parent_span_id) {
            Some(&p) if p != i => children[p].push(i),
            _ => top.push((
                i,
                TopMark::MissingParent {
                    parent: s.parent_span_id,
                    remote: s.parent_is_remote,
                },
            )),
        }
    }
    for list in &mut children {
        list.sort_by_key(|&c| order_key(spans[c], c));
    }
    top.sort_by_key(|&(i, _)| order_key(spans[i], i));

    let mut rows = Vec::with_capacity(spans.len());
    let mut visited = vec![false; spans.len()];
    let walk = |start: usize, mark: TopMark, rows: &mut Vec<Row<'a>>, visited: &mut [bool]| {
        let mut stack = vec![(start, 0usize)];
        while let Some((i, depth)) = stack.pop() {
            if std::mem::replace(&mut visited[i], true) {
                continue;
            }
            let mark = if depth == 0 { mark } else { TopMark::Root };
            rows.push(Row {
                span: spans[i],
                depth,
                mark,
            });
            stack.extend(children[i].iter().rev().map(|&c| (c, depth + 1)));
        }
    };
    for &(i, mark) in &top {
        walk(i, mark, &mut rows, &mut visited);
    }
    // Whatever is left sits on a parent loop (A's parent is B, B's is A):
    // show it rather than lose it.
    let mut rest: Vec<usize> = (0..spans.len()).filter(|&i| !visited[i]).collect();
    rest.sort_by_key(|&i| order_key(spans[i], i));
    for i in rest {
        walk(i, TopMark::Loop, &mut rows, &mut visited);
    }
    rows
}

fn render_trace(
    out: &mut String,
    spans: &[&WaterfallSpan],
    width: usize,
    color: bool,
    note: Option<&str>,
) {
    let Some(t0) = spans.iter().map(|s| s.start).min() else {
        return;
    };
    let width = width.min(MAX_WIDTH);
    let t1 = spans.iter().map(|s| s.end.max(s.start)).max().unwrap_or(t0);
    let total = nanos_between(t0, t1);
    let rows = layout_rows(spans);

    // Services in order of first appearance, for the header and colours.
    let mut services: Vec<&str> = Vec::new();
    for row in &rows {
        if !services.contains(&row.span.service.as_str()) {
            services.push(&row.span.service);
        }
    }

    // Header.
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let mut header = format!(
        "trace {} · {} · {} · {}",
        spans[0].trace_id,
        format_duration(Duration::from_nanos(
            u64::try_from(total).unwrap_or(u64::MAX)
        )),
        plural(services.len(), "service", "services"),
        plural(rows.len(), "span", "spans"),
    );
    if let Some(note) = note {
        header.push_str(" · ");
        header.push_str(note);
    }
    push_styled(out, &header, "1", color);
    out.push('\n');

    // Column widths: the name column fits the longest indented name, up to
    // two fifths of the line; the bar takes the rest.
    let name_w = rows
        .iter()
        .map(|r| 2 * r.depth + clean(&r.span.name).chars().count())
        .max()
        .unwrap_or(0)
        .clamp(8, (width * 2 / 5).max(16));
    let svc_w = services
        .iter()
        .map(|s| clean(s).chars().count())
        .max()
        .unwrap_or(0)
        .min(MAX_SERVICE_CHARS);
    // name " │" bar "│ " duration(6) "  " service
    let bar_w = width.saturating_sub(name_w + svc_w + 12).max(MIN_BAR_CELLS);

    for row in &rows {
        let s = row.span;
        let mut line = String::new();

        // Deep nesting gives up indentation before the name's first 8 characters.
        let name = clean(&s.name);
        let indent = (2 * row.depth).min(name_w.saturating_sub(name.chars().count().min(8)));
        let name = truncate(&name, name_w - indent);
        line.push_str(&format!("{:indent$}{name:<w$} │", "", w = name_w - indent));

        let start = nanos_between(t0, s.start);
        let end = nanos_between(t0, s.end.max(s.start));
        let (before, filled, after) = bar_cells(start, end, total, bar_w);
        line.push_str(&" ".repeat(before));
        let bar_color = match s.error {
            Some(_) => RED,
            None => service_color(&services, &s.service),
        };
        push_styled(&mut line, &filled, bar_color, color);
        line.push_str(&" ".repeat(after));

        line.push_str(&format!("│ {:>6}  ", format_duration(s.duration())));
        let service = truncate(&clean(&s.service), svc_w);
        push_styled(
            &mut line,
            &service,
            service_color(&services, &s.service),
            color,
        );
        line.push_str(&" ".repeat(svc_w - service.chars().count()));

        if let Some(err) = &s.error {
            line.push_str("  ");
            push_styled(
                &mut line,
                &format!("✗ {}", truncate(&clean(err), MAX_ERROR_CHARS)),
                RED,
                color,
            );
        }
        let mark = match row.mark {
            TopMark::Root => None,
            TopMark::MissingParent {
                parent,
                remote: false,
            } => Some(format!("↑ parent {parent} not in trace")),
            TopMark::MissingParent {
                parent,
                remote: true,
            } => Some(format!("↑ remote parent {parent}")),
            TopMark::Loop => Some("↑ parent loop".to_owned()),
        };
        if let Some(mark) = mark {
            line.push_str("  ");
            push_styled(&mut line, &mark, "2", color);
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
}

fn service_color(services: &[&str], service: &str) -> &'static str {
    let i = services.iter().position(|s| *s == service).unwrap_or(0);
    SERVICE_COLORS[i % SERVICE_COLORS.len()]
}

fn push_styled(out: &mut String, text: &str, sgr: &str, color: bool) {
    if color && !text.is_empty() {
        out.push_str("\x1b[");
        out.push_str(sgr);
        out.push('m');
        out.push_str(text);
        out.push_str("\x1b[0m");
    } else {
        out.push_str(text);
    }
}

fn nanos_between(from: SystemTime, to: SystemTime) -> u128 {
    to.duration_since(from).map(|d| d.as_nanos()).unwrap_or(0)
}

/// The bar for a span from `start` to `end` (nanoseconds from the trace's
/// start) on a time line of `total` nanoseconds drawn in `cells` columns:
/// blank columns before, the filled part, blank columns after. Each column
/// holds two half-blocks (`▌`, `▐`, `█`), doubling the resolution; every
/// span gets at least one half-block so instant spans stay visible.
fn bar_cells(start: u128, end: u128, total: u128, cells: usize) -> (usize, String, usize) {
    let cells = cells.max(1);
    let halves = 2 * cells as u128;
    // A zero-length trace (all spans instant) draws each span at the start.
    let hs = (start * halves)
        .checked_div(total)
        .unwrap_or(0)
        .min(halves - 1);
    let he = match total {
        0 => hs + 1,
        _ => (end * halves).div_ceil(total).clamp(hs + 1, halves),
    };
    let first = (hs / 2) as usize;
    let last = ((he - 1) / 2) as usize;
    let mut filled = String::new();
    for cell in first..=last {
        let (l, r) = (2 * cell as u128, 2 * cell as u128 + 1);
        let left = hs <= l && l < he;
        let right = hs <= r && r < he;
        filled.push(match (left, right) {
            (true, true) => '█',
            (true, false) => '▌',
            (false, true) => '▐',
            (false, false) => ' ',
        });
    }
    (first, filled, cells - 1 - last)
}

/// Human-friendly duration with three significant digits: `812ns`, `812µs`,
/// `1.23ms`, `12.3ms`, `123ms`, `2.04s`, `16.7m`, `2.50h`.
pub fn format_duration(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns < 1_000 {
        return format!("{ns}ns");
    }
    const UNITS: [(f64, &str); 5] = [
        (1e3, "µs"),
        (1e6, "ms"),
        (1e9, "s"),
        (60e9, "m"),
        (3600e9, "h"),
    ];
    let ns = ns as f64;
    // The first unit that prints below 1000 after rounding (seconds go on
    // to minutes only past 999s); hours for anything longer.
    let (scale, unit) = UNITS
        .iter()
        .find(|(scale, _)| ns / scale < 999.5)
        .unwrap_or(&UNITS[UNITS.len() - 1]);
    let v = ns / scale;
    if v < 9.995 {
        format!("{v:.2}{unit}")
    } else if v < 99.95 {
        format!("{v:.1}{unit}")
    } else {
        format!("{v:.0}{unit}")
    }
}

/// Replaces control characters (newlines, ANSI escapes from untrusted span
/// names) so one span is one line and cannot restyle the terminal.
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Cuts `s` to `max` characters, ending with `…` when cut.
fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    if max == 0 {
        return String::new();
    }
    let mut cut: String = s.chars().take(max - 1).collect();
    cut.push('…');
    cut
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere while holding the lock leaves plain data behind;
    // telemetry keeps working rather than panicking in turn.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

// ---------------------------------------------------------------------------
// Development exporter
// ---------------------------------------------------------------------------

enum Sink {
    Stderr,
    Writer(Box<dyn Write + Send>),
}

struct Pending {
    spans: Vec<WaterfallSpan>,
    dropped: usize,
}

#[derive(Default)]
struct ExporterState {
    traces: HashMap<TraceId, Pending>,
    /// Arrival order of the traces in `traces`, oldest first, for eviction.
    order: VecDeque<TraceId>,
}

impl ExporterState {
    fn remove(&mut self, trace_id: TraceId) -> Option<Pending> {
        let pending = self.traces.remove(&trace_id)?;
        self.order.retain(|t| *t != trace_id);
        Some(pending)
    }
}

/// When [`WaterfallExporter`] prints a trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PrintAt {
    /// When the trace's first span in this process ends: a span without
    /// parent, or whose parent is in another process. Right for a service
    /// that exports its own spans (the default).
    #[default]
    LocalRoot,
    /// Only when the span without any parent ends. Right for one process
    /// hosting every service of a trace, each with its own provider and a
    /// clone of one exporter: the picture then covers all services.
    TraceRoot,
}

/// A development [`SpanExporter`] that prints each trace as a waterfall when
/// its root span ends.
///
/// Spans that end before their root are buffered by trace id. The buffer is
/// bounded: at most `max_traces` traces (the oldest unfinished trace is
/// dropped when a new one arrives) and at most `max_spans_per_trace` spans
/// per trace (more are counted and reported in the header); see
/// [`with_limits`](Self::with_limits). At shutdown, traces whose root never
/// ended are printed, marked incomplete. A span ending after its root (a
/// fire-and-forget child) is printed with the trace's next root, or at
/// shutdown.
///
/// Use it with a simple span processor to see each trace the moment it ends;
/// with a batch processor it prints when the batch is exported.
///
/// Clones share the buffer and the output but each takes its own service
/// name from its provider's resource: to draw traces that cross several
/// services hosted in one process, give each service's provider a clone and
/// set [`PrintAt::TraceRoot`].
///
/// ```
/// use std::io::Write;
/// use std::sync::{Arc, Mutex};
/// use checkout_otel::opentelemetry::trace::{Tracer, TracerProvider};
/// use checkout_otel::opentelemetry_sdk::{trace::SdkTracerProvider, Resource};
/// use checkout_otel::waterfall::{ColorChoice, PrintAt, WaterfallExporter, WaterfallOptions};
///
/// #[derive(Clone, Default)]
/// struct Buffer(Arc<Mutex<Vec<u8>>>);
/// impl Write for Buffer {
///     fn write(&mut self, b: &[u8]) -> std::io::Result<usize> { self.0.lock().unwrap().write(b) }
///     fn flush(&mut self) -> std::io::Result<()> { Ok(()) }
/// }
///
/// let buffer = Buffer::default();
/// let exporter = WaterfallExporter::new()
///     .with_writer(buffer.clone())
///     .with_options(WaterfallOptions::default().with_width(80).with_color(ColorChoice::Never))
///     .print_at(PrintAt::TraceRoot);
/// let provider = |service: &'static str| {
///     SdkTracerProvider::builder()
///         .with_resource(Resource::builder_empty().with_service_name(service).build())
///         .with_simple_exporter(exporter.clone())
///         .build()
/// };
/// let (checkout, payment) = (provider("checkout"), provider("payment"));
/// let (checkout, payment) = (checkout.tracer("example"), payment.tracer("example"));
/// checkout.in_span("checkout.process", |_| payment.in_span("payment.process", |_| {}));
///
/// let printed = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
/// assert!(printed.contains(" · 2 services · 2 spans\n"));
/// assert!(printed.contains("\n  payment.process"));
/// ```
#[derive(Clone)]
pub struct WaterfallExporter {
    state: Arc<Mutex<ExporterState>>,
    sink: Arc<Mutex<Sink>>,
    service: Arc<str>,
    options: WaterfallOptions,
    print_at: PrintAt,
    max_traces: usize,
    max_spans_per_trace: usize,
}

impl fmt::Debug for WaterfallExporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sink = match *lock(&self.sink) {
            Sink::Stderr => "stderr",
            Sink::Writer(_) => "writer",
        };
        f.debug_struct("WaterfallExporter")
            .field("sink", &sink)
            .field("service", &self.service)
            .field("options", &self.options)
            .field("print_at", &self.print_at)
            .field("max_traces", &self.max_traces)
            .field("max_spans_per_trace", &self.max_spans_per_trace)
            .finish_non_exhaustive()
    }
}

impl Default for WaterfallExporter {
    fn default() -> Self {
        Self::new()
    }
}

impl WaterfallExporter {
    /// Default number of unfinished traces buffered.
    pub const DEFAULT_MAX_TRACES: usize = 64;
    /// Default number of spans buffered per trace.
    pub const DEFAULT_MAX_SPANS_PER_TRACE: usize = 512;

    /// Prints to standard error at each local root, default options and limits.
    pub fn new() -> Self {
        WaterfallExporter {
            state: Arc::default(),
            sink: Arc::new(Mutex::new(Sink::Stderr)),
            service: Arc::from(UNKNOWN_SERVICE),
            options: WaterfallOptions::default(),
            print_at: PrintAt::LocalRoot,
            max_traces: Self::DEFAULT_MAX_TRACES,
            max_spans_per_trace: Self::DEFAULT_MAX_SPANS_PER_TRACE,
        }
    }

    /// Prints to `writer` instead of standard error. With
    /// [`ColorChoice::Auto`] a writer gets no colour. Configure before
    /// cloning: clones made earlier keep the previous output.
    pub fn with_writer(mut self, writer: impl Write + Send + 'static) -> Self {
        self.sink = Arc::new(Mutex::new(Sink::Writer(Box::new(writer))));
        self
    }

    /// Sets width and colour.
    pub fn with_options(mut self, options: WaterfallOptions) -> Self {
        self.options = options;
        self
    }

    /// Sets when a trace is printed.
    pub fn print_at(mut self, print_at: PrintAt) -> Self {
        self.print_at = print_at;
        self
    }

    /// Bounds the buffer of unfinished traces (each limit at least 1).
    pub fn with_limits(mut self, max_traces: usize, max_spans_per_trace: usize) -> Self {
        self.max_traces = max_traces.max(1);
        self.max_spans_per_trace = max_spans_per_trace.max(1);
        self
    }

    fn completes_trace(&self, span: &WaterfallSpan) -> bool {
        match self.print_at {
            PrintAt::LocalRoot => span.is_local_root(),
            PrintAt::TraceRoot => span.parent_span_id == SpanId::INVALID,
        }
    }

    /// Handles one batch; returns the rendered traces to print.
    fn accept(&self, batch: Vec<SpanData>) -> String {
        let color = self.color();
        let mut state = lock(&self.state);
        let mut out = String::new();
        for data in &batch {
            let span = WaterfallSpan::from_span_data(data, &self.service);
            let trace_id = span.trace_id;
            if self.completes_trace(&span) {
                let mut pending = state.remove(trace_id).unwrap_or(Pending {
                    spans: Vec::new(),
                    dropped: 0,
                });
                pending.spans.push(span);
                self.push_rendered(&mut out, &pending, color, None);
                continue;
            }
            if !state.traces.contains_key(&trace_id) {
                while state.traces.len() >= self.max_traces {
                    let Some(oldest) = state.order.pop_front() else {
                        break;
                    };
                    state.traces.remove(&oldest);
                }
                state.order.push_back(trace_id);
            }
            let pending = state.traces.entry(trace_id).or_insert(Pending {
                spans: Vec::new(),
                dropped: 0,
            });
            if pending.spans.len() < self.max_spans_per_trace {
                pending.spans.push(span);
            } else {
                pending.dropped += 1;
            }
        }
        out
    }

    /// Appends one trace's picture and a blank line, so successive traces
    /// on a terminal stay apart.
    fn push_rendered(&self, out: &mut String, pending: &Pending, color: bool, note: Option<&str>) {
        let refs: Vec<&WaterfallSpan> = pending.spans.iter().collect();
        let dropped = (pending.dropped > 0).then(|| format!("{} spans dropped", pending.dropped));
        let note = match (note, dropped) {
            (Some(n), Some(d)) => Some(format!("{n} · {d}")),
            (n, d) => n.map(str::to_owned).or(d),
        };
        render_trace(out, &refs, self.options.width, color, note.as_deref());
        out.push('\n');
    }

    fn color(&self) -> bool {
        match *lock(&self.sink) {
            Sink::Stderr => self
                .options
                .color
                .enabled_for(std::io::stderr().is_terminal()),
            Sink::Writer(_) => self.options.color.enabled_for(false),
        }
    }

    fn write(&self, text: &str) -> OTelSdkResult {
        if text.is_empty() {
            return Ok(());
        }
        let result = match &mut *lock(&self.sink) {
            Sink::Stderr => {
                let mut err = std::io::stderr().lock();
                err.write_all(text.as_bytes()).and_then(|_| err.flush())
            }
            Sink::Writer(w) => w.write_all(text.as_bytes()).and_then(|_| w.flush()),
        };
        result.map_err(|e| OTelSdkError::InternalFailure(format!("waterfall output: {e}")))
    }
}

impl SpanExporter for WaterfallExporter {
    fn export(&self, batch: Vec<SpanData>) -> impl Future<Output = OTelSdkResult> + Send {
        // The work is synchronous and bounded; the future is already done.
        let text = self.accept(batch);
        std::future::ready(self.write(&text))
    }

    /// Prints the traces still buffered (their root never ended), marked
    /// incomplete. With clones, the first to shut down prints them.
    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        let color = self.color();
        let mut state = lock(&self.state);
        let mut out = String::new();
        while let Some(trace_id) = state.order.pop_front() {
            if let Some(pending) = state.traces.remove(&trace_id) {
                let note = Some("incomplete: root span not ended");
                self.push_rendered(&mut out, &pending, color, note);
            }
        }
        drop(state);
        self.write(&out)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.service = Arc::from(service_name_of(resource));
    }
}

// ---------------------------------------------------------------------------
// Shared collector
// ---------------------------------------------------------------------------

/// A span as stored by [`SpanCollector`]: the full exported data plus the
/// service that exported it.
#[derive(Debug, Clone)]
pub(crate) struct CollectedSpan {
    pub(crate) service: Arc<str>,
    pub(crate) data: SpanData,
}

impl CollectedSpan {
    fn to_waterfall(&self) -> WaterfallSpan {
        WaterfallSpan::from_span_data(&self.data, &self.service)
    }
}

struct CollectorState {
    spans: VecDeque<CollectedSpan>,
    max_spans: usize,
    evicted: u64,
}

/// A shared in-memory span store that several tracer providers export into,
/// each through its own [`CollectorExporter`] that remembers its provider's
/// `service.name`. Use it to draw one waterfall for a trace that crosses
/// several services hosted in one process (a demo, an integration test).
///
/// Cloning shares the store. It holds at most `max_spans` spans (default
/// 10 000); when full, the oldest span is evicted and counted.
///
/// ```
/// use checkout_otel::opentelemetry::trace::{TraceContextExt, Tracer, TracerProvider};
/// use checkout_otel::opentelemetry::Context;
/// use checkout_otel::opentelemetry_sdk::{trace::SdkTracerProvider, Resource};
/// use checkout_otel::waterfall::{render, ColorChoice, SpanCollector, WaterfallOptions};
///
/// let collector = SpanCollector::new();
/// let provider = |service: &'static str| {
///     SdkTracerProvider::builder()
///         .with_resource(Resource::builder_empty().with_service_name(service).build())
///         .with_simple_exporter(collector.exporter())
///         .build()
/// };
/// let (checkout, payment) = (provider("checkout"), provider("payment"));
///
/// let trace_id = checkout.tracer("demo").in_span("checkout.process", |cx| {
///     payment.tracer("demo").in_span("payment.process", |_| {});
///     cx.span().span_context().trace_id()
/// });
///
/// let spans = collector.take_trace(trace_id);
/// let picture = render(&spans, &WaterfallOptions::default().with_color(ColorChoice::Never));
/// assert!(picture.contains(" · 2 services · 2 spans"));
/// assert!(collector.is_empty());
/// ```
#[derive(Clone)]
pub struct SpanCollector {
    inner: Arc<Mutex<CollectorState>>,
}

impl fmt::Debug for SpanCollector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = lock(&self.inner);
        f.debug_struct("SpanCollector")
            .field("spans", &state.spans.len())
            .field("max_spans", &state.max_spans)
            .field("evicted", &state.evicted)
            .finish()
    }
}

impl Default for SpanCollector {
    fn default() -> Self {
        Self::new()
    }
}

impl SpanCollector {
    /// Default capacity in spans.
    pub const DEFAULT_MAX_SPANS: usize = 10_000;

    /// An empty collector holding up to [`Self::DEFAULT_MAX_SPANS`] spans.
    pub fn new() -> Self {
        Self::with_max_spans(Self::DEFAULT_MAX_SPANS)
    }

    /// An empty collector holding up to `max_spans` spans (at least 1).
    pub fn with_max_spans(max_spans: usize) -> Self {
        SpanCollector {
            inner: Arc::new(Mutex::new(CollectorState {
                spans: VecDeque::new(),
                max_spans: max_spans.max(1),
                evicted: 0,
            })),
        }
    }

    /// A new exporter into this collector, for one tracer provider. It takes
    /// its service name from the provider's resource.
    pub fn exporter(&self) -> CollectorExporter {
        CollectorExporter {
            collector: self.clone(),
            service: Arc::from(UNKNOWN_SERVICE),
        }
    }

    /// All stored spans, in arrival order, as waterfall rows (kept in the store).
    pub fn spans(&self) -> Vec<WaterfallSpan> {
        lock(&self.inner)
            .spans
            .iter()
            .map(CollectedSpan::to_waterfall)
            .collect()
    }

    /// The trace ids present, in order of first arrival.
    pub fn trace_ids(&self) -> Vec<TraceId> {
        let mut ids = Vec::new();
        for s in &lock(&self.inner).spans {
            let id = s.data.span_context.trace_id();
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        ids
    }

    /// Removes and returns the spans of one trace, in arrival order.
    pub fn take_trace(&self, trace_id: TraceId) -> Vec<WaterfallSpan> {
        let mut state = lock(&self.inner);
        let mut taken = Vec::new();
        state.spans.retain(|s| {
            let keep = s.data.span_context.trace_id() != trace_id;
            if !keep {
                taken.push(s.to_waterfall());
            }
            keep
        });
        taken
    }

    /// Removes and returns every stored span, in arrival order.
    pub fn take_all(&self) -> Vec<WaterfallSpan> {
        lock(&self.inner)
            .spans
            .drain(..)
            .map(|s| s.to_waterfall())
            .collect()
    }

    /// Number of stored spans.
    pub fn len(&self) -> usize {
        lock(&self.inner).spans.len()
    }

    /// True when no span is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Spans evicted so far because the collector was full.
    pub fn evicted(&self) -> u64 {
        lock(&self.inner).evicted
    }

    /// Drops every stored span.
    pub fn clear(&self) {
        lock(&self.inner).spans.clear();
    }

    /// A copy of the stored spans with their full data (for the test kit).
    #[cfg_attr(not(feature = "testing"), allow(dead_code))]
    pub(crate) fn snapshot(&self) -> Vec<CollectedSpan> {
        lock(&self.inner).spans.iter().cloned().collect()
    }

    fn push(&self, service: &Arc<str>, batch: Vec<SpanData>) {
        let mut state = lock(&self.inner);
        for data in batch {
            if state.spans.len() >= state.max_spans {
                state.spans.pop_front();
                state.evicted += 1;
            }
            state.spans.push_back(CollectedSpan {
                service: Arc::clone(service),
                data,
            });
        }
    }
}

/// The [`SpanExporter`] of one provider into a [`SpanCollector`]; made by
/// [`SpanCollector::exporter`]. Shutting it down keeps the collected spans.
#[derive(Debug, Clone)]
pub struct CollectorExporter {
    collector: SpanCollector,
    service: Arc<str>,
}

impl CollectorExporter {
    /// The service name spans are stored under (from the provider's resource).
    pub fn service(&self) -> &str {
        &self.service
    }
}

impl SpanExporter for CollectorExporter {
    fn export(&self, batch: Vec<SpanData>) -> impl Future<Output = OTelSdkResult> + Send {
        self.collector.push(&self.service, batch);
        std::future::ready(Ok(()))
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.service = Arc::from(service_name_of(resource));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_have_three_significant_digits() {
        let cases = [
            (Duration::from_nanos(812), "812ns"),
            (Duration::from_nanos(8_120), "8.12µs"),
            (Duration::from_micros(812), "812µs"),
            (Duration::from_nanos(999_600), "1.00ms"),
            (Duration::from_micros(12_340), "12.3ms"),
            (Duration::from_millis(412), "412ms"),
            (Duration::from_millis(2_040), "2.04s"),
            (Duration::from_millis(6_900), "6.90s"),
            (Duration::from_secs(120), "120s"),
            (Duration::from_secs(1_000), "16.7m"),
            (Duration::from_secs(9_000), "150m"),
            (Duration::from_secs(90_000), "25.0h"),
            (Duration::from_secs(0), "0ns"),
        ];
        for (d, want) in cases {
            assert_eq!(format_duration(d), want, "{d:?}");
        }
    }

    #[test]
    fn bars_use_half_blocks_and_never_vanish() {
        // Whole time line.
        assert_eq!(bar_cells(0, 100, 100, 10), (0, "█".repeat(10), 0));
        // Second half.
        assert_eq!(bar_cells(50, 100, 100, 10), (5, "█".repeat(5), 0));
        // 25%..75% of 10 cells = half-blocks 5..15.
        assert_eq!(bar_cells(25, 75, 100, 10), (2, "▐████▌".to_owned(), 2));
        // An instant span at the very end still gets a half-block.
        assert_eq!(bar_cells(100, 100, 100, 10), (9, "▐".to_owned(), 0));
        // Zero-length trace.
        assert_eq!(bar_cells(0, 0, 0, 4), (0, "▌".to_owned(), 3));
    }

    #[test]
    fn truncation_and_cleaning() {
        assert_eq!(truncate("payment.gateway_call", 10), "payment.g…");
        assert_eq!(truncate("short", 10), "short");
        assert_eq!(clean("a\nb\x1b[31m"), "a b [31m");
    }

    #[test]
    fn color_choice_respects_terminal_and_force() {
        assert!(ColorChoice::Always.enabled_for(false));
        assert!(!ColorChoice::Never.enabled_for(true));
        assert!(!ColorChoice::Auto.enabled_for(false));
    }
}
