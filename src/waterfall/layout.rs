//! Where each span goes: traces apart, then one row per span, children under
//! their parent and siblings by start time.

use std::collections::HashMap;
use std::time::SystemTime;

use opentelemetry::trace::{SpanId, TraceId};

use super::model::WaterfallSpan;

/// Groups spans by trace id; traces ordered by earliest start, then id.
pub(super) fn group_by_trace<'a>(
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
pub(super) enum TopMark {
    /// A true root: no parent at all.
    Root,
    /// The parent id is not among the spans (local or remote parent).
    MissingParent { parent: SpanId, remote: bool },
    /// The parent is present but the parent chain loops back (malformed data).
    Loop,
}

/// One line to draw, in order.
pub(super) struct Row<'a> {
    pub(super) span: &'a WaterfallSpan,
    pub(super) depth: usize,
    pub(super) mark: TopMark,
}

/// Sort key: start time, then span id, then input position, so equal
/// starts (concurrent siblings) always come out in the same order.
fn order_key(span: &WaterfallSpan, i: usize) -> (SystemTime, [u8; 8], usize) {
    (span.start, span.span_id.to_bytes(), i)
}

/// Puts the spans of one trace in drawing order: a depth-first walk from the
/// roots and orphans, siblings by start time. Iterative, so a very deep or
/// malformed (looping) parent chain cannot overflow the stack.
pub(super) fn layout_rows<'a>(spans: &[&'a WaterfallSpan]) -> Vec<Row<'a>> {
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
