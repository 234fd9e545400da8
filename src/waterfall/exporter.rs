//! The development exporter: prints each trace as a waterfall when its root
//! span ends.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::logs::{LogBatch, LogExporter};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

use super::lock;
use super::model::{UNKNOWN_SERVICE, WaterfallLog, WaterfallSpan, service_name_of};
use super::options::WaterfallOptions;
use super::render::render_trace;

enum Sink {
    Stderr,
    Writer(Box<dyn Write + Send>),
}

#[derive(Default)]
struct Pending {
    spans: Vec<WaterfallSpan>,
    dropped: usize,
    /// Log records emitted in the trace's spans, by span, in order.
    logs: Vec<(SpanId, WaterfallLog)>,
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
    /// [`ColorChoice::Auto`](super::ColorChoice::Auto) a writer gets no
    /// colour. Configure before cloning: clones made earlier keep the
    /// previous output.
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
                let mut pending = state.remove(trace_id).unwrap_or_default();
                pending.spans.push(span);
                self.push_rendered(&mut out, &pending, color, None);
                continue;
            }
            let pending = self.pending(&mut state, trace_id);
            if pending.spans.len() < self.max_spans_per_trace {
                pending.spans.push(span);
            } else {
                pending.dropped += 1;
            }
        }
        out
    }

    /// The buffer of `trace_id`, made (evicting the oldest when full) if new.
    fn pending<'s>(&self, state: &'s mut ExporterState, trace_id: TraceId) -> &'s mut Pending {
        if !state.traces.contains_key(&trace_id) {
            while state.traces.len() >= self.max_traces {
                let Some(oldest) = state.order.pop_front() else {
                    break;
                };
                state.traces.remove(&oldest);
            }
            state.order.push_back(trace_id);
        }
        state.traces.entry(trace_id).or_default()
    }

    /// Keeps the log records of a batch with their traces, to be drawn under
    /// their spans; records outside a trace have no place in the picture.
    fn accept_logs(&self, batch: &LogBatch<'_>) {
        let mut state = lock(&self.state);
        for (record, _) in batch.iter() {
            let Some(tc) = record.trace_context() else {
                continue;
            };
            let pending = self.pending(&mut state, tc.trace_id);
            // Bounded like the spans: a chatty trace cannot grow the buffer.
            if pending.logs.len() < self.max_spans_per_trace {
                pending
                    .logs
                    .push((tc.span_id, WaterfallLog::from_record(record)));
            }
        }
    }

    /// Appends one trace's picture and a blank line, so successive traces
    /// on a terminal stay apart.
    fn push_rendered(&self, out: &mut String, pending: &Pending, color: bool, note: Option<&str>) {
        if pending.spans.is_empty() {
            return;
        }
        let mut spans = pending.spans.clone();
        for (span_id, log) in &pending.logs {
            if let Some(span) = spans.iter_mut().find(|s| s.span_id == *span_id) {
                span.logs.push(log.clone());
            }
        }
        let refs: Vec<&WaterfallSpan> = spans.iter().collect();
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

/// The log side: records wait with their trace and are drawn under their
/// span when the trace is printed.
impl LogExporter for WaterfallExporter {
    fn export(&self, batch: LogBatch<'_>) -> impl Future<Output = OTelSdkResult> + Send {
        self.accept_logs(&batch);
        std::future::ready(Ok(()))
    }
}
