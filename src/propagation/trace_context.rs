//! [`TraceContextPropagator`]: W3C Trace Context, level 1 and level 2.

use std::sync::LazyLock;

use opentelemetry::Context;
use opentelemetry::propagation::text_map_propagator::FieldIter;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};

use super::tracestate;

const TRACEPARENT: &str = "traceparent";
const TRACESTATE: &str = "tracestate";

static FIELDS: LazyLock<[String; 2]> =
    LazyLock::new(|| [TRACEPARENT.to_owned(), TRACESTATE.to_owned()]);

/// The `sampled` flag.
const SAMPLED: u8 = 0x01;
/// Level 2's `random-trace-id` flag: at least the right-most 7 bytes of the
/// trace id are random.
const RANDOM: u8 = 0x02;
/// The flags this version defines; every other bit is sent as zero.
const KNOWN_FLAGS: u8 = SAMPLED | RANDOM;

/// A `traceparent` of version `00` is exactly this long; a later version at
/// least this long, with its own fields after a `-`.
const TRACEPARENT_LEN: usize = 55;

const HEX: &[u8; 16] = b"0123456789abcdef";

/// The W3C Trace Context propagator: `traceparent` and `tracestate`
/// (Recommendation level 1, and the level 2 `tracestate` key grammar and
/// `random-trace-id` flag), checked against the W3C test harness (see the
/// README's "W3C Trace Context conformance").
///
/// Every propagation path of the crate uses it: the guard's propagator for
/// `OTEL_PROPAGATORS=tracecontext` (the default), the tracers, the server
/// layer and the client middleware. It is a [`TextMapPropagator`], so it
/// composes with the baggage propagator and your own in a
/// [`TextMapCompositePropagator`](opentelemetry::propagation::TextMapCompositePropagator).
///
/// Extracting:
/// - `traceparent` must appear once: two or more fields make a new trace.
///   Version `00` is exactly `00-{32 hex}-{16 hex}-{2 hex}`, lowercase hex,
///   trace and parent ids not all zero; version `ff` is invalid; a later
///   version is read by its first 55 characters when the next one is `-`.
///   Of the flags, `sampled` and `random-trace-id` are kept, the others
///   cleared.
/// - Several `tracestate` fields are joined in order. A list that breaks the
///   grammar or holds more than 32 members is discarded whole; a repeated key
///   keeps its first value; an invalid `tracestate` never invalidates
///   `traceparent`, and without a valid `traceparent` it is not read.
///
/// Injecting writes `traceparent` version `00` with the `sampled` flag of
/// the span context and the `random-trace-id` flag when the trace id is
/// known to be random: it came with that flag, or a tracer of this crate
/// over the crate's own pipeline started the trace (the SDK's id generator
/// is random). A trace started elsewhere (the SDK tracer directly, a
/// `tracing` span, a tracer over providers you built) is sent without it.
/// `tracestate` is written only when the list is not empty.
///
/// ```
/// use checkout_otel::opentelemetry::propagation::TextMapPropagator;
/// use checkout_otel::opentelemetry::trace::TraceContextExt;
/// use checkout_otel::propagation::{self, TraceContextPropagator};
///
/// let mut inbound = http::HeaderMap::new();
/// inbound.insert("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03".parse()?);
/// inbound.append("tracestate", "congo=t61rcWkgMzE".parse()?);
/// inbound.append("tracestate", "rojo=00f067aa0ba902b7".parse()?);
///
/// let propagator = TraceContextPropagator::new();
/// let cx = propagation::extract_with(&propagator, &inbound);
/// let parent = cx.span().span_context().clone();
/// assert_eq!(parent.trace_id().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
/// assert!(parent.is_sampled());
///
/// let mut outbound = http::HeaderMap::new();
/// propagation::inject_with(&propagator, &cx, &mut outbound);
/// assert_eq!(outbound["traceparent"], "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03");
/// assert_eq!(outbound["tracestate"], "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct TraceContextPropagator {
    _private: (),
}

impl TraceContextPropagator {
    /// The propagator.
    pub fn new() -> Self {
        Self::default()
    }
}

/// In a [`Context`]: this trace id is known to be random, so its
/// `traceparent` carries the `random-trace-id` flag even where the span
/// context's flags lost it (the SDK clears every flag of a span it drops).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RandomTraceId(pub(crate) TraceId);

/// In a [`Context`]: an extracted `tracestate` whose keys the opentelemetry
/// [`TraceState`] could not all hold. While the span context's trace state
/// is still `held` (nothing in the service changed it), the whole list is
/// forwarded unchanged.
#[derive(Debug)]
struct ExtractedTraceState {
    trace_id: TraceId,
    held: TraceState,
    header: String,
}

/// The fields of a valid `traceparent`.
#[derive(Debug, PartialEq, Eq)]
struct Traceparent {
    trace_id: TraceId,
    span_id: SpanId,
    flags: u8,
}

impl TextMapPropagator for TraceContextPropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        let span = cx.span();
        let sc = span.span_context();
        if !sc.is_valid() {
            return;
        }
        let mut flags = sc.trace_flags().to_u8() & KNOWN_FLAGS;
        if cx
            .get::<RandomTraceId>()
            .is_some_and(|random| random.0 == sc.trace_id())
        {
            flags |= RANDOM;
        }
        injector.set(
            TRACEPARENT,
            traceparent_header(sc.trace_id(), sc.span_id(), flags),
        );
        let state = match cx.get::<ExtractedTraceState>() {
            Some(extracted)
                if extracted.trace_id == sc.trace_id() && &extracted.held == sc.trace_state() =>
            {
                extracted.header.clone()
            }
            _ => tracestate::header(sc.trace_state()),
        };
        if !state.is_empty() {
            injector.set(TRACESTATE, state);
        }
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        let Some(parent) =
            extractor
                .get_all(TRACEPARENT)
                .and_then(|values| match values.as_slice() {
                    [one] => parse_traceparent(one),
                    _ => None,
                })
        else {
            return cx.clone();
        };
        let (state, unheld) = extract_tracestate(extractor);
        let span_context = SpanContext::new(
            parent.trace_id,
            parent.span_id,
            TraceFlags::new(parent.flags),
            true,
            state.clone(),
        );
        let mut cx = cx.clone();
        if parent.flags & RANDOM != 0 {
            cx = cx.with_value(RandomTraceId(parent.trace_id));
        }
        if let Some(header) = unheld {
            cx = cx.with_value(ExtractedTraceState {
                trace_id: parent.trace_id,
                held: state,
                header,
            });
        }
        cx.with_remote_span_context(span_context)
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(FIELDS.as_slice())
    }
}

/// The `tracestate` of the request, its fields joined; empty when absent
/// or discarded.
fn extract_tracestate(extractor: &dyn Extractor) -> (TraceState, Option<String>) {
    let Some(values) = extractor.get_all(TRACESTATE) else {
        return (TraceState::NONE, None);
    };
    let joined;
    let list = match values.as_slice() {
        [one] => *one,
        many => {
            joined = many.join(",");
            joined.as_str()
        }
    };
    match tracestate::parse(list) {
        Some(members) if !members.is_empty() => tracestate::to_trace_state(&members),
        _ => (TraceState::NONE, None),
    }
}

/// A `traceparent` value's fields, or `None` when it must be ignored.
fn parse_traceparent(value: &str) -> Option<Traceparent> {
    let bytes = value.trim_matches([' ', '\t']).as_bytes();
    if bytes.len() < TRACEPARENT_LEN {
        return None;
    }
    let version = hex_u8(bytes.get(0..2)?)?;
    let fits_version = match version {
        0xff => false,
        0x00 => bytes.len() == TRACEPARENT_LEN,
        // A later version: its own fields follow ours after a dash, and are
        // not read.
        _ => bytes.get(TRACEPARENT_LEN).is_none_or(|&b| b == b'-'),
    };
    if !fits_version || [2, 35, 52].iter().any(|&i| bytes.get(i) != Some(&b'-')) {
        return None;
    }
    let trace_id = hex_u128(bytes.get(3..35)?)?;
    let span_id = hex_u64(bytes.get(36..52)?)?;
    let flags = hex_u8(bytes.get(53..55)?)?;
    if trace_id == 0 || span_id == 0 {
        return None;
    }
    Some(Traceparent {
        trace_id: TraceId::from(trace_id),
        span_id: SpanId::from(span_id),
        flags: flags & KNOWN_FLAGS,
    })
}

/// `00-{trace id}-{span id}-{flags}`.
fn traceparent_header(trace_id: TraceId, span_id: SpanId, flags: u8) -> String {
    let mut header = String::with_capacity(TRACEPARENT_LEN);
    header.push_str("00-");
    push_hex(&mut header, &trace_id.to_bytes());
    header.push('-');
    push_hex(&mut header, &span_id.to_bytes());
    header.push('-');
    push_hex(&mut header, &[flags]);
    header
}

fn push_hex(out: &mut String, bytes: &[u8]) {
    for &b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
}

/// One lowercase hex digit (`HEXDIGLC`): uppercase is not hex here.
fn hex_digit(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    }
}

fn hex_u128(digits: &[u8]) -> Option<u128> {
    digits
        .iter()
        .try_fold(0u128, |acc, &b| Some(acc << 4 | u128::from(hex_digit(b)?)))
}

fn hex_u64(digits: &[u8]) -> Option<u64> {
    digits
        .iter()
        .try_fold(0u64, |acc, &b| Some(acc << 4 | u64::from(hex_digit(b)?)))
}

fn hex_u8(digits: &[u8]) -> Option<u8> {
    digits
        .iter()
        .try_fold(0u8, |acc, &b| Some(acc << 4 | hex_digit(b)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const SPAN: &str = "00f067aa0ba902b7";

    fn parsed(value: &str) -> Option<(String, String, u8)> {
        parse_traceparent(value).map(|p| (p.trace_id.to_string(), p.span_id.to_string(), p.flags))
    }

    #[test]
    fn version_00_is_exactly_its_four_fields() {
        assert_eq!(
            parsed(&format!("00-{TRACE}-{SPAN}-01")),
            Some((TRACE.into(), SPAN.into(), 1))
        );
        assert_eq!(
            parsed(&format!(" \t00-{TRACE}-{SPAN}-01\t ")).map(|p| p.2),
            Some(1)
        );
        for value in [
            format!("00-{TRACE}-{SPAN}-01-"),
            format!("00-{TRACE}-{SPAN}-01."),
            format!("00-{TRACE}-{SPAN}-1"),
            format!("00-{TRACE}-{SPAN}-001"),
            format!("00-{}-{SPAN}-01", &TRACE[1..]),
            format!("00-0{TRACE}-{SPAN}-01"),
            format!("00-{TRACE}-{}-01", &SPAN[1..]),
            format!("00-{TRACE}-0{SPAN}-01"),
            format!("0-{TRACE}-{SPAN}-01"),
            format!("000-{TRACE}-{SPAN}-01"),
        ] {
            assert_eq!(parsed(&value), None, "{value}");
        }
    }

    #[test]
    fn hex_is_lowercase_only() {
        for value in [
            format!("00-{}-{SPAN}-01", TRACE.to_uppercase()),
            format!("00-{TRACE}-{}-01", "00F067AA0BA902B7"),
            format!("00-{TRACE}-{SPAN}-0A"),
            format!("0A-{TRACE}-{SPAN}-01"),
            format!("00-+bf92f3577b34da6a3ce929d0e0e4736-{SPAN}-01"),
            format!("00-{TRACE}-{SPAN}-0g"),
        ] {
            assert_eq!(parsed(&value), None, "{value}");
        }
    }

    #[test]
    fn all_zero_ids_and_version_ff_are_invalid() {
        assert_eq!(parsed(&format!("00-{}-{SPAN}-01", "0".repeat(32))), None);
        assert_eq!(parsed(&format!("00-{TRACE}-{}-01", "0".repeat(16))), None);
        assert_eq!(parsed(&format!("ff-{TRACE}-{SPAN}-01")), None);
    }

    #[test]
    fn a_later_version_is_read_by_its_first_55_characters() {
        assert_eq!(
            parsed(&format!("cc-{TRACE}-{SPAN}-01")).map(|p| p.2),
            Some(1)
        );
        assert_eq!(
            parsed(&format!("cc-{TRACE}-{SPAN}-01-what-the-future-holds")).map(|p| p.0),
            Some(TRACE.into())
        );
        assert_eq!(parsed(&format!("cc-{TRACE}-{SPAN}-01.what")), None);
        assert_eq!(parsed(&format!("cc-{TRACE}-{SPAN}-1")), None);
    }

    #[test]
    fn only_known_flags_are_kept() {
        assert_eq!(
            parsed(&format!("00-{TRACE}-{SPAN}-ff")).map(|p| p.2),
            Some(0x03)
        );
        assert_eq!(
            parsed(&format!("00-{TRACE}-{SPAN}-04")).map(|p| p.2),
            Some(0x00)
        );
        assert_eq!(
            parsed(&format!("00-{TRACE}-{SPAN}-02")).map(|p| p.2),
            Some(0x02)
        );
    }

    #[test]
    fn header_is_version_00_lowercase() {
        let header = traceparent_header(
            TraceId::from_hex(TRACE).unwrap(),
            SpanId::from_hex(SPAN).unwrap(),
            0x03,
        );
        assert_eq!(header, format!("00-{TRACE}-{SPAN}-03"));
    }
}
