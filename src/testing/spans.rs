//! Span queries: a snapshot of finished spans, one span, one event.

use std::collections::HashMap;
use std::fmt;
use std::time::{Duration, SystemTime};

use opentelemetry::KeyValue;
use opentelemetry::trace::{Event, SpanId, SpanKind, Status, TraceId};
use opentelemetry_sdk::trace::SpanData;

use super::attrs::{attr_getters, distinct};
use crate::attributes::ERROR_TYPE;
use crate::waterfall::{self, CollectedSpan, ColorChoice, WaterfallOptions};

/// A snapshot of finished spans, ordered by start time (then span id), with
/// queries. Get one from
/// [`TestTelemetry::spans`](super::TestTelemetry::spans).
#[derive(Clone)]
pub struct SpanSet {
    spans: Vec<CollectedSpan>,
    by_id: HashMap<(TraceId, SpanId), usize>,
}

impl fmt::Debug for SpanSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl SpanSet {
    pub(super) fn new(mut spans: Vec<CollectedSpan>) -> Self {
        spans.sort_by_key(|s| (s.data.start_time, s.data.span_context.span_id().to_bytes()));
        let mut by_id = HashMap::new();
        for (i, s) in spans.iter().enumerate() {
            let ctx = &s.data.span_context;
            by_id.entry((ctx.trace_id(), ctx.span_id())).or_insert(i);
        }
        SpanSet { spans, by_id }
    }

    fn view(&self, index: usize) -> SpanView<'_> {
        SpanView { set: self, index }
    }

    /// Number of spans.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// True when there is no span.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Every span, by start time.
    pub fn iter(&self) -> impl Iterator<Item = SpanView<'_>> {
        (0..self.spans.len()).map(|i| self.view(i))
    }

    /// Distinct span names, in order of first start.
    pub fn names(&self) -> Vec<&str> {
        distinct(self.spans.iter().map(|s| s.data.name.as_ref()))
    }

    /// Every span named `name`, by start time (empty if none).
    pub fn by_name(&self, name: &str) -> Vec<SpanView<'_>> {
        self.iter().filter(|s| s.name() == name).collect()
    }

    /// The first span (by start time) named `name`, if any.
    pub fn find(&self, name: &str) -> Option<SpanView<'_>> {
        self.iter().find(|s| s.name() == name)
    }

    /// The one span named `name`.
    ///
    /// # Panics
    /// When there is no such span or more than one, listing the names present.
    pub fn one(&self, name: &str) -> SpanView<'_> {
        let found = self.by_name(name);
        match found.as_slice() {
            [one] => *one,
            _ => panic!(
                "expected exactly one span named {name:?}, found {}; spans present: {:?}",
                found.len(),
                self.names()
            ),
        }
    }

    /// Spans without a parent in this set (trace roots, and spans whose
    /// parent was not captured), by start time.
    pub fn roots(&self) -> Vec<SpanView<'_>> {
        self.iter().filter(|s| s.parent().is_none()).collect()
    }

    /// Distinct trace ids, in order of first start.
    pub fn trace_ids(&self) -> Vec<TraceId> {
        let mut ids = Vec::new();
        for s in &self.spans {
            let id = s.data.span_context.trace_id();
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        ids
    }

    /// The spans of one trace.
    pub fn trace(&self, trace_id: TraceId) -> SpanSet {
        SpanSet::new(
            self.spans
                .iter()
                .filter(|s| s.data.span_context.trace_id() == trace_id)
                .cloned()
                .collect(),
        )
    }

    /// The spans as a waterfall (100 columns, no colour), for a failing
    /// test's output.
    pub fn waterfall(&self) -> String {
        let rows: Vec<_> = self.spans.iter().map(CollectedSpan::to_waterfall).collect();
        let options = WaterfallOptions::default().with_color(ColorChoice::Never);
        waterfall::render(&rows, &options)
    }
}

/// One span of a [`SpanSet`]; cheap to copy. Walk to its parent and
/// children, read its attributes, events and status.
#[derive(Clone, Copy)]
pub struct SpanView<'a> {
    set: &'a SpanSet,
    index: usize,
}

impl fmt::Debug for SpanView<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpanView")
            .field("name", &self.name())
            .field("service", &self.service())
            .field("span_id", &self.span_id())
            .field("parent_span_id", &self.data().parent_span_id)
            .finish()
    }
}

impl<'a> SpanView<'a> {
    fn collected(&self) -> &'a CollectedSpan {
        &self.set.spans[self.index]
    }

    fn attrs(&self) -> &'a [KeyValue] {
        &self.data().attributes
    }

    /// The full exported span data, for anything the queries do not cover.
    pub fn data(&self) -> &'a SpanData {
        &self.collected().data
    }

    /// The span name.
    pub fn name(&self) -> &'a str {
        &self.data().name
    }

    /// The `service.name` of the provider that exported the span.
    pub fn service(&self) -> &'a str {
        &self.collected().service
    }

    /// The span kind.
    pub fn kind(&self) -> SpanKind {
        self.data().span_kind.clone()
    }

    /// The trace id.
    pub fn trace_id(&self) -> TraceId {
        self.data().span_context.trace_id()
    }

    /// The span id.
    pub fn span_id(&self) -> SpanId {
        self.data().span_context.span_id()
    }

    /// The parent span id ([`SpanId::INVALID`] for a root).
    pub fn parent_span_id(&self) -> SpanId {
        self.data().parent_span_id
    }

    /// The parent, if it is in the set.
    pub fn parent(&self) -> Option<SpanView<'a>> {
        let parent = self.data().parent_span_id;
        if parent == SpanId::INVALID {
            return None;
        }
        self.set
            .by_id
            .get(&(self.trace_id(), parent))
            .map(|&index| SpanView {
                set: self.set,
                index,
            })
    }

    /// Direct children, by start time.
    pub fn children(&self) -> Vec<SpanView<'a>> {
        let (trace, id) = (self.trace_id(), self.span_id());
        let set = self.set;
        (0..set.spans.len())
            .map(|index| SpanView { set, index })
            .filter(|c| c.trace_id() == trace && c.parent_span_id() == id)
            .collect()
    }

    /// The one direct child named `name`.
    ///
    /// # Panics
    /// When there is no such child or more than one, listing the children.
    pub fn child(&self, name: &str) -> SpanView<'a> {
        let children = self.children();
        let named: Vec<_> = children.iter().filter(|c| c.name() == name).collect();
        match named.as_slice() {
            [one] => **one,
            _ => panic!(
                "expected exactly one child named {name:?} under {:?}, found {}; children: {:?}",
                self.name(),
                named.len(),
                distinct(children.iter().map(|c| c.name()))
            ),
        }
    }

    /// Whether `ancestor` is this span's parent, grandparent, ...
    pub fn is_descendant_of(&self, ancestor: &SpanView<'_>) -> bool {
        let mut current = self.parent();
        // Bounded by the set size, in case of malformed parent loops.
        for _ in 0..self.set.len() {
            match current {
                Some(p)
                    if p.trace_id() == ancestor.trace_id() && p.span_id() == ancestor.span_id() =>
                {
                    return true;
                }
                Some(p) => current = p.parent(),
                None => return false,
            }
        }
        false
    }

    attr_getters!('a);

    /// All attributes, in the order they were set.
    pub fn attributes(&self) -> &'a [KeyValue] {
        self.attrs()
    }

    /// All events, in the order they were added.
    pub fn events(&self) -> Vec<EventView<'a>> {
        self.data()
            .events
            .iter()
            .map(|event| EventView { event })
            .collect()
    }

    /// The first event named `name`.
    ///
    /// # Panics
    /// When there is none, listing the span's events.
    pub fn event(&self, name: &str) -> EventView<'a> {
        self.find_event(name).unwrap_or_else(|| {
            panic!(
                "span {:?} has no event named {name:?}; events: {:?}",
                self.name(),
                distinct(self.data().events.iter().map(|e| e.name.as_ref()))
            )
        })
    }

    /// The first event named `name`, if any.
    pub fn find_event(&self, name: &str) -> Option<EventView<'a>> {
        self.data()
            .events
            .iter()
            .find(|e| e.name == name)
            .map(|event| EventView { event })
    }

    /// The status.
    pub fn status(&self) -> &'a Status {
        &self.data().status
    }

    /// Whether the status is `Error`.
    pub fn is_error(&self) -> bool {
        matches!(self.data().status, Status::Error { .. })
    }

    /// The status description when the status is `Error`.
    pub fn status_message(&self) -> Option<&'a str> {
        match &self.data().status {
            Status::Error { description } => Some(description.as_ref()),
            _ => None,
        }
    }

    /// The `error.type` attribute, if it is a string.
    pub fn error_type(&self) -> Option<&'a str> {
        self.attr_str(ERROR_TYPE)
    }

    /// Start time.
    pub fn start_time(&self) -> SystemTime {
        self.data().start_time
    }

    /// End time.
    pub fn end_time(&self) -> SystemTime {
        self.data().end_time
    }

    /// `end - start`.
    pub fn duration(&self) -> Duration {
        self.data()
            .end_time
            .duration_since(self.data().start_time)
            .unwrap_or_default()
    }
}

/// One event of a span.
#[derive(Clone, Copy, Debug)]
pub struct EventView<'a> {
    event: &'a Event,
}

impl<'a> EventView<'a> {
    fn attrs(&self) -> &'a [KeyValue] {
        &self.event.attributes
    }

    /// The event name.
    pub fn name(&self) -> &'a str {
        &self.event.name
    }

    /// When the event was added.
    pub fn timestamp(&self) -> SystemTime {
        self.event.timestamp
    }

    /// All attributes.
    pub fn attributes(&self) -> &'a [KeyValue] {
        self.attrs()
    }

    attr_getters!('a);
}
