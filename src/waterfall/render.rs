//! Drawing: the header, the name column, the bar on the trace's time line,
//! the duration, the service and the error and parent notes of each row.

use std::io::IsTerminal;
use std::time::{Duration, SystemTime};

use super::layout::{TopMark, group_by_trace, layout_rows};
use super::model::{WaterfallLog, WaterfallSpan};
use super::options::WaterfallOptions;

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

/// Renders spans as waterfalls, one per trace (traces ordered by start time,
/// separated by a blank line), each under a header line with the trace id,
/// total duration, number of services and number of spans.
///
/// [`ColorChoice::Auto`](super::ColorChoice::Auto) colours when standard
/// output is a terminal (the usual destination of a rendered string is
/// `print!`).
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

/// Appends the picture of one trace (its header, then a line per span) to
/// `out`; `note` goes at the end of the header.
pub(super) fn render_trace(
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
        for log in &s.logs {
            push_log(out, log, 2 * (row.depth + 1), width, color);
        }
    }
}

/// One log line under its span: `· SEVERITY body`, the body scrubbed (the
/// local output never shows what the export masks) and cut to the width.
fn push_log(out: &mut String, log: &WaterfallLog, indent: usize, width: usize, color: bool) {
    let indent = indent.min(width / 2);
    let severity = clean(&log.severity);
    let body = clean(&crate::pii::scrub(&log.body));
    let text = truncate(
        &format!("· {severity} {body}"),
        width.saturating_sub(indent).max(MIN_BAR_CELLS),
    );
    out.push_str(&" ".repeat(indent));
    let sgr = match severity.as_str() {
        "ERROR" | "FATAL" => RED,
        "WARN" => "33",
        _ => "2",
    };
    push_styled(out, text.trim_end(), sgr, color);
    out.push('\n');
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
}
