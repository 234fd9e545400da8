"""A caller instrumented with the OpenTelemetry Python SDK.

Starts a CLIENT span, sets baggage, injects both with the SDK's global
propagator (W3C Trace Context + W3C Baggage, the SDK's defaults) into the
headers of one HTTP request, sends it, and prints one JSON line: the trace id
and span id it sent, the headers it injected, and the response status and
body. Used by tests/python_client.rs.

Usage: otel_client.py URL JSON_BODY [BAGGAGE_KEY=VALUE ...]
"""

import json
import sys
import urllib.error
import urllib.request

from opentelemetry import baggage, context, propagate, trace
from opentelemetry.sdk.trace import TracerProvider


def main() -> int:
    url, body = sys.argv[1], sys.argv[2].encode()
    trace.set_tracer_provider(TracerProvider())
    tracer = trace.get_tracer("python-caller")
    ctx = context.get_current()
    for pair in sys.argv[3:]:
        key, value = pair.split("=", 1)
        ctx = baggage.set_baggage(key, value, context=ctx)
    token = context.attach(ctx)
    try:
        with tracer.start_as_current_span("checkout", kind=trace.SpanKind.CLIENT) as span:
            headers = {"content-type": "application/json"}
            propagate.inject(headers)
            sc = span.get_span_context()
            request = urllib.request.Request(url, data=body, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    status, text = response.status, response.read().decode()
            except urllib.error.HTTPError as error:
                status, text = error.code, error.read().decode()
    finally:
        context.detach(token)
    print(json.dumps({
        "trace_id": format(sc.trace_id, "032x"),
        "span_id": format(sc.span_id, "016x"),
        "headers": headers,
        "status": status,
        "body": text,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
