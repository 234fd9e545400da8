//! The log output `init` installs (a fmt layer on stdout), with the exit
//! check: the line a service prints must not show what its export masks.
//!
//! Two steps, both skipped when redaction is off:
//! - [`CheckedFields`] formats the fields of events and spans, each checked
//!   by its key like an exported attribute (a `password` field masked, a
//!   `url.full` field checked component by component, any other scrubbed);
//! - [`ScrubbedLines`] scrubs each formatted line before it is written, for
//!   what is not a field: span names, targets, the SDK's own messages.
//!
//! Both are cheap when there is nothing to mask: the scrubber returns its
//! input without copying.
//!
//! A line written while a trace is active ends with ` trace_id=<hex>` (unless
//! turned off), appended by the line writer, which knows the context the
//! event was emitted in: the fmt layer asks for a writer on that thread.

use std::fmt;
use std::io;

use opentelemetry::Context;
use opentelemetry::trace::{TraceContextExt as _, TraceId};
use tracing::field::{Field, Visit};
use tracing_subscriber::field::{MakeVisitor, VisitFmt, VisitOutput};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::format::{DefaultVisitor, Writer};

use crate::pii::{check_log_field, scrub_with_stats};

/// The fmt layer's log output: fields checked, lines scrubbed (when `on`),
/// the trace id appended (when `trace_ids`), written by `make_writer`.
pub(crate) fn fmt_layer<S, M>(
    on: bool,
    trace_ids: bool,
    make_writer: M,
) -> tracing_subscriber::fmt::Layer<
    S,
    CheckedFields,
    tracing_subscriber::fmt::format::Format,
    ScrubbedLines<M>,
>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    M: for<'w> MakeWriter<'w> + 'static,
{
    tracing_subscriber::fmt::layer()
        .fmt_fields(CheckedFields { on })
        .with_writer(ScrubbedLines {
            inner: make_writer,
            on,
            trace_ids,
        })
}

/// Formats fields as the fmt layer's default does, each value checked by its
/// key first.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CheckedFields {
    on: bool,
}

impl<'a> MakeVisitor<Writer<'a>> for CheckedFields {
    type Visitor = CheckedVisitor<'a>;

    fn make_visitor(&self, target: Writer<'a>) -> Self::Visitor {
        CheckedVisitor {
            inner: DefaultVisitor::new(target, true),
            on: self.on,
        }
    }
}

/// The default visitor behind the field check.
pub(crate) struct CheckedVisitor<'a> {
    inner: DefaultVisitor<'a>,
    on: bool,
}

impl Visit for CheckedVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        match self
            .on
            .then(|| check_log_field(field.name(), value))
            .flatten()
        {
            Some(checked) => self.inner.record_str(field, &checked),
            None => self.inner.record_str(field, value),
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        if self.on {
            let mut text = value.to_string();
            let mut source = value.source();
            while let Some(cause) = source {
                text.push_str(": ");
                text.push_str(&cause.to_string());
                source = cause.source();
            }
            if let Some(checked) = check_log_field(field.name(), &text) {
                self.inner.record_debug(field, &Verbatim(&checked));
                return;
            }
        }
        self.inner.record_error(field, value);
    }

    // Every other kind (numbers, booleans, `Debug` values, the message)
    // arrives here: numbers too, so a card number logged as an integer is
    // masked.
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.on {
            let text = format!("{value:?}");
            if let Some(checked) = check_log_field(field.name(), &text) {
                self.inner.record_debug(field, &Verbatim(&checked));
                return;
            }
        }
        self.inner.record_debug(field, value);
    }
}

impl VisitOutput<fmt::Result> for CheckedVisitor<'_> {
    fn finish(self) -> fmt::Result {
        self.inner.finish()
    }
}

impl VisitFmt for CheckedVisitor<'_> {
    fn writer(&mut self) -> &mut dyn fmt::Write {
        self.inner.writer()
    }
}

/// Text that already is the `Debug` form of a value: printed as is.
struct Verbatim<'a>(&'a str);

impl fmt::Debug for Verbatim<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// A [`MakeWriter`] whose writers scrub each line before writing it, and
/// end it with the current trace id.
#[derive(Debug)]
pub(crate) struct ScrubbedLines<M> {
    inner: M,
    on: bool,
    trace_ids: bool,
}

impl<M> ScrubbedLines<M> {
    /// The trace current on this thread, if any and if asked for.
    fn trace_id(&self) -> Option<TraceId> {
        if !self.trace_ids {
            return None;
        }
        Context::map_current(|cx| {
            let span = cx.span();
            let context = span.span_context();
            context.is_valid().then(|| context.trace_id())
        })
    }
}

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for ScrubbedLines<M> {
    type Writer = ScrubbedLine<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        ScrubbedLine::new(self.inner.make_writer(), self.on).with_trace_id(self.trace_id())
    }

    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> Self::Writer {
        ScrubbedLine::new(self.inner.make_writer_for(meta), self.on).with_trace_id(self.trace_id())
    }
}

/// Buffers what is written up to a line end, then writes it scrubbed: the
/// fmt layer writes one event in one call, but a card number split over two
/// writes must not pass either.
pub(crate) struct ScrubbedLine<W: io::Write> {
    inner: W,
    on: bool,
    /// Appended to the line: the trace it was emitted in.
    trace_id: Option<TraceId>,
    pending: Vec<u8>,
}

impl<W: io::Write> ScrubbedLine<W> {
    fn new(inner: W, on: bool) -> Self {
        ScrubbedLine {
            inner,
            on,
            trace_id: None,
            pending: Vec::new(),
        }
    }

    fn with_trace_id(mut self, trace_id: Option<TraceId>) -> Self {
        self.trace_id = trace_id;
        self
    }

    fn emit(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.pending);
        let text = String::from_utf8_lossy(&pending);
        let text = if self.on {
            scrub_with_stats(&text, usize::MAX).0
        } else {
            text
        };
        let Some(trace_id) = self.trace_id else {
            return self.inner.write_all(text.as_bytes());
        };
        // Before the line end, so the id stays on the line it belongs to.
        let (line, end) = match text.strip_suffix('\n') {
            Some(line) => (line, "\n"),
            None => (text.as_ref(), ""),
        };
        io::Write::write_fmt(
            &mut self.inner,
            format_args!("{line} trace_id={trace_id}{end}"),
        )
    }
}

impl<W: io::Write> io::Write for ScrubbedLine<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if !self.on && self.trace_id.is_none() {
            return self.inner.write(buf);
        }
        self.pending.extend_from_slice(buf);
        if buf.ends_with(b"\n") {
            self.emit()?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.emit()?;
        self.inner.flush()
    }
}

impl<W: io::Write> Drop for ScrubbedLine<W> {
    fn drop(&mut self) {
        // A last line without its end: written now, or lost with the error
        // Drop cannot report.
        let _ = self.emit();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::layer::SubscriberExt as _;

    use super::*;

    /// Everything written, for assertions.
    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl Capture {
        fn text(&self) -> String {
            String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
        }
    }

    impl io::Write for Capture {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn log(on: bool, emit: impl FnOnce()) -> String {
        let capture = Capture::default();
        let writer = capture.clone();
        let layer = fmt_layer(on, false, move || writer.clone()).with_ansi(false);
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, emit);
        capture.text()
    }

    fn checkout_logs() {
        let span = tracing::info_span!("checkout.process", note = "bob@example.org");
        let _entered = span.enter();
        tracing::info!(
            email = "jane@example.com",
            password = "hunter2",
            url.full = "https://shop.example/pay?email=ann%40example.com",
            order.total = 4111111111111111_i64,
            "card 4111 1111 1111 1111 declined"
        );
        tracing::warn!(
            "mail from {} about {:?}",
            "carl@example.net",
            "5555 5555 5555 4444"
        );
    }

    #[test]
    fn log_lines_never_show_what_the_export_masks() {
        let out = log(true, checkout_logs);
        for raw in [
            "bob@example.org",
            "jane@example.com",
            "hunter2",
            "4111 1111 1111 1111",
            "4111111111111111",
            "carl@example.net",
            "5555 5555 5555 4444",
        ] {
            assert!(!out.contains(raw), "{raw:?} printed: {out}");
        }
        assert!(out.contains("card [REDACTED:card] declined"), "{out}");
        assert!(out.contains("password=\"[REDACTED]\""), "{out}");
        // An identity key's value is never printed, whatever it holds.
        assert!(out.contains("email=\"[REDACTED]\""), "{out}");
        assert!(
            out.contains("checkout.process{note=\"[REDACTED:email]\"}"),
            "{out}"
        );
        assert!(out.contains("order.total=[REDACTED:card]"), "{out}");
        assert!(
            out.contains("mail from [REDACTED:email] about \"[REDACTED:card]\""),
            "{out}"
        );
        assert_eq!(out.lines().count(), 2, "{out}");
    }

    #[test]
    fn redaction_off_prints_the_lines_as_they_are() {
        let out = log(false, checkout_logs);
        assert!(out.contains("email=\"jane@example.com\""), "{out}");
        assert!(out.contains("card 4111 1111 1111 1111 declined"), "{out}");
    }

    #[test]
    fn lines_in_a_trace_end_with_its_trace_id() {
        use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceState};
        let trace_id = TraceId::from(0x4bf92f3577b34da6a3ce929d0e0e4736_u128);
        let in_trace = |on: bool, trace_ids: bool| {
            let capture = Capture::default();
            let writer = capture.clone();
            let layer = fmt_layer(on, trace_ids, move || writer.clone())
                .with_ansi(false)
                .without_time();
            let subscriber = tracing_subscriber::registry().with(layer);
            tracing::subscriber::with_default(subscriber, || {
                tracing::info!("before");
                let cx = Context::new().with_remote_span_context(SpanContext::new(
                    trace_id,
                    SpanId::from(1_u64),
                    TraceFlags::SAMPLED,
                    true,
                    TraceState::NONE,
                ));
                let _attached = cx.attach();
                tracing::info!("mail jane@example.com");
            });
            capture.text()
        };
        for on in [true, false] {
            let out = in_trace(on, true);
            let lines: Vec<&str> = out.lines().collect();
            assert_eq!(lines.len(), 2, "{out}");
            assert!(!lines[0].contains("trace_id="), "no trace: {out}");
            assert!(
                lines[1].ends_with(" trace_id=4bf92f3577b34da6a3ce929d0e0e4736"),
                "{out}"
            );
            assert_eq!(lines[1].contains("jane@example.com"), !on, "{out}");
        }
        assert!(!in_trace(true, false).contains("trace_id="));
    }

    #[test]
    fn a_line_written_in_pieces_is_scrubbed_whole() {
        let capture = Capture::default();
        let mut line = ScrubbedLine::new(capture.clone(), true);
        io::Write::write_all(&mut line, b"card 4111 1111 ").unwrap();
        io::Write::write_all(&mut line, b"1111 1111 then\nrest jane@exa").unwrap();
        assert_eq!(capture.text(), "", "nothing before the line ends");
        io::Write::write_all(&mut line, b"mple.com").unwrap();
        drop(line);
        assert_eq!(
            capture.text(),
            "card [REDACTED:card] then\nrest [REDACTED:email]"
        );
    }
}
