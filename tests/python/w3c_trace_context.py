"""Both directions of W3C Trace Context with the OpenTelemetry Python API's
own propagator (`TraceContextTextMapPropagator`). Used by
tests/trace_context_w3c.rs.

Usage:
  w3c_trace_context.py extract HEADERS_JSON
      HEADERS_JSON: {"name": ["value", ...]}, what the Rust side injected.
      Prints what Python read: {"trace_id", "span_id", "flags", "tracestate"}
      (null fields when it found no valid parent).
  w3c_trace_context.py inject TRACE_ID SPAN_ID FLAGS TRACESTATE
      Prints the headers Python injects for that span context, as JSON.
"""

import json
import sys

from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, TraceState
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator


def extract(headers: dict) -> dict:
    cx = TraceContextTextMapPropagator().extract(headers)
    sc = trace.get_current_span(cx).get_span_context()
    if not sc.is_valid:
        return {"trace_id": None, "span_id": None, "flags": None, "tracestate": None}
    return {
        "trace_id": format(sc.trace_id, "032x"),
        "span_id": format(sc.span_id, "016x"),
        "flags": int(sc.trace_flags),
        "tracestate": sc.trace_state.to_header(),
    }


def inject(trace_id: str, span_id: str, flags: str, tracestate: str) -> dict:
    sc = SpanContext(
        trace_id=int(trace_id, 16),
        span_id=int(span_id, 16),
        is_remote=False,
        trace_flags=TraceFlags(int(flags, 16)),
        trace_state=TraceState.from_header([tracestate]),
    )
    cx = trace.set_span_in_context(NonRecordingSpan(sc))
    headers: dict = {}
    TraceContextTextMapPropagator().inject(headers, cx)
    return headers


def main() -> int:
    if sys.argv[1] == "extract":
        print(json.dumps(extract(json.loads(sys.argv[2]))))
    else:
        print(json.dumps(inject(*sys.argv[2:6])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
