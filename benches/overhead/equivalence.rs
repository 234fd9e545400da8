//! Before anything is timed: every side of a group must emit the same
//! telemetry, or the comparison means nothing. Each side runs once into an
//! in-memory exporter and the results are compared field by field.

use std::collections::HashMap;
use std::time::Duration;

use checkout_otel::opentelemetry::{KeyValue, Value};
use checkout_otel::opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use checkout_otel::opentelemetry_sdk::metrics::{
    InMemoryMetricExporter, PeriodicReader, SdkMeterProvider,
};
use checkout_otel::opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};

use crate::setup::{
    DEFAULT_LAYER_EXTRAS, block_on, crate_tracer, crate_tracer_with_meter, sdk_tracer, subscriber,
    subscriber_with_defaults,
};
use crate::{checkout, grpc, logs, meter, pii, span};

/// A span reduced to what a backend shows: scope, name, kind, parent's name, sorted
/// attributes and events (with typed values).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Shape {
    /// Instrumentation scope: name, version, schema URL.
    scope: String,
    name: String,
    kind: String,
    parent: String,
    attributes: Vec<(String, String)>,
    events: Vec<(String, Vec<(String, String)>)>,
}

/// Totals of one side's trace, for the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub spans: usize,
    pub attributes: usize,
    pub events: usize,
}

fn value(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{:?}", s.as_str()),
        other => format!("{other:?}"),
    }
}

fn attrs<'a>(kvs: impl IntoIterator<Item = &'a KeyValue>) -> Vec<(String, String)> {
    let mut out: Vec<_> = kvs
        .into_iter()
        // tracing-opentelemetry adds these two to every event; they are the
        // price of the tracing side, not a difference in what was recorded.
        .filter(|kv| !matches!(kv.key.as_str(), "level" | "target"))
        .map(|kv| (kv.key.to_string(), value(&kv.value)))
        .collect();
    out.sort();
    out
}

fn capture(run: impl FnOnce(&SdkTracerProvider)) -> Vec<Shape> {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    run(&provider);
    let spans = exporter.get_finished_spans().expect("in-memory spans");
    let names: HashMap<_, _> = spans
        .iter()
        .map(|s| (s.span_context.span_id(), s.name.to_string()))
        .collect();
    let mut shapes: Vec<Shape> = spans
        .iter()
        .map(|s| Shape {
            scope: format!(
                "{} {:?} {:?}",
                s.instrumentation_scope.name(),
                s.instrumentation_scope.version(),
                s.instrumentation_scope.schema_url()
            ),
            name: s.name.to_string(),
            kind: format!("{:?}", s.span_kind),
            parent: names
                .get(&s.parent_span_id)
                .cloned()
                .unwrap_or_else(|| "-".to_owned()),
            attributes: attrs(&s.attributes),
            events: s
                .events
                .iter()
                .map(|e| (e.name.to_string(), attrs(&e.attributes)))
                .collect(),
        })
        .collect();
    shapes.sort();
    shapes
}

fn same(group: &str, reference: &[Shape], side: &str, other: &[Shape]) {
    if reference != other {
        let diff: Vec<_> = reference
            .iter()
            .zip(other)
            .filter(|(a, b)| a != b)
            .map(|(a, b)| format!("  crate: {a:?}\n  {side}: {b:?}"))
            .collect();
        panic!(
            "{group}: `{side}` does not record what the crate records ({} vs {} spans)\n{}",
            reference.len(),
            other.len(),
            diff.join("\n")
        );
    }
}

fn counts(shapes: &[Shape]) -> Counts {
    Counts {
        spans: shapes.len(),
        attributes: shapes.iter().map(|s| s.attributes.len()).sum(),
        events: shapes.iter().map(|s| s.events.len()).sum(),
    }
}

/// Checks the span groups; returns the checkout trace's totals.
pub fn check_spans() -> Counts {
    let i = span::Inputs::new();
    let with_crate = capture(|p| span::with_crate(&crate_tracer(p), &i));
    let raw = capture(|p| span::raw(&sdk_tracer(p), &i));
    let traced = capture(|p| {
        tracing::subscriber::with_default(subscriber(sdk_tracer(p)), || span::via_tracing(&i))
    });
    same("span", &with_crate, "raw", &raw);
    let raw_recording_first = capture(|p| span::raw_recording_first(&sdk_tracer(p), &i));
    same(
        "span",
        &with_crate,
        "raw_recording_first",
        &raw_recording_first,
    );
    same("span", &with_crate, "tracing", &traced);

    let i = checkout::Inputs::new();
    let mut crate_metrics = Vec::new();
    let with_crate = capture(|p| {
        crate_metrics =
            capture_metrics(|m| block_on(checkout::with_crate(&crate_tracer_with_meter(p, m), &i)));
    });
    let mut raw_metrics = Vec::new();
    let raw = capture(|p| {
        raw_metrics = capture_metrics(|m| {
            block_on(checkout::raw(
                &sdk_tracer(p),
                &meter::raw_instruments(m),
                &i,
            ))
        });
    });
    assert_eq!(
        crate_metrics, raw_metrics,
        "checkout_trace: raw records other metrics"
    );
    // Four steps, the gateway round trip, the checkout's duration and count.
    assert_eq!(
        crate_metrics.len(),
        7,
        "checkout_trace metrics: {crate_metrics:?}"
    );
    let traced = capture(|p| {
        tracing::subscriber::with_default(subscriber(sdk_tracer(p)), || {
            block_on(checkout::via_tracing(&i))
        })
    });
    same("checkout_trace", &with_crate, "raw", &raw);
    same("checkout_trace", &with_crate, "tracing", &traced);
    // With the layer's defaults, the same plus location, thread and timing.
    let mut defaults = capture(|p| {
        tracing::subscriber::with_default(subscriber_with_defaults(sdk_tracer(p)), || {
            block_on(checkout::via_tracing(&i))
        })
    });
    let extra = |kv: &(String, String)| DEFAULT_LAYER_EXTRAS.contains(&kv.0.as_str());
    let mut extras = 0;
    for shape in &mut defaults {
        extras += shape.attributes.iter().filter(|kv| extra(kv)).count();
        shape.attributes.retain(|kv| !extra(kv));
        for (_, attributes) in &mut shape.events {
            extras += attributes.iter().filter(|kv| extra(kv)).count();
            attributes.retain(|kv| !extra(kv));
        }
    }
    assert!(extras > 0, "the layer's defaults add attributes");
    same("checkout_trace", &with_crate, "tracing_defaults", &defaults);
    counts(&with_crate)
}

/// A data point: metric name, sorted attributes, count (or sum for counters).
type Point = (String, Vec<(String, String)>, u64);

/// Every data point a side recorded.
fn capture_metrics(run: impl FnOnce(&SdkMeterProvider)) -> Vec<Point> {
    let exporter = InMemoryMetricExporter::default();
    let provider = SdkMeterProvider::builder()
        .with_reader(
            PeriodicReader::builder(exporter.clone())
                .with_interval(Duration::from_secs(3600))
                .build(),
        )
        .build();
    run(&provider);
    provider.force_flush().expect("flush metrics");
    let mut points = Vec::new();
    for rm in exporter.get_finished_metrics().expect("in-memory metrics") {
        for sm in rm.scope_metrics() {
            for m in sm.metrics() {
                let name = m.name().to_owned();
                match m.data() {
                    AggregatedMetrics::F64(MetricData::Histogram(h)) => {
                        for p in h.data_points() {
                            points.push((name.clone(), attrs(p.attributes()), p.count()));
                        }
                    }
                    AggregatedMetrics::U64(MetricData::Sum(s)) => {
                        for p in s.data_points() {
                            points.push((name.clone(), attrs(p.attributes()), p.value()));
                        }
                    }
                    other => panic!("unexpected metric data for {name}: {other:?}"),
                }
            }
        }
    }
    points.sort();
    points
}

/// Checks the meter group.
pub fn check_meter() {
    let d = meter::Durations::new();
    let with_crate = capture_metrics(|p| meter::with_crate(&meter::crate_metrics(p), &d));
    let raw = capture_metrics(|p| meter::raw(&meter::raw_instruments(p), &d));
    let traced = capture_metrics(|p| {
        tracing::subscriber::with_default(meter::subscriber(p.clone()), || meter::via_tracing(&d))
    });
    assert_eq!(with_crate, raw, "meter: raw records something else");
    assert_eq!(with_crate, traced, "meter: tracing records something else");
    assert_eq!(with_crate.len(), 7);
}

/// Checks the PII inputs: both hashers agree, the messages are 200
/// characters, one needs nothing and the other has three things to mask, and
/// the batch goes through the redacting exporter unchanged but for nothing.
pub fn check_pii() {
    use checkout_otel::pii::{DEFAULT_MAX_CHARS, scrub, scrub_with_stats};
    use std::borrow::Cow;

    let crate_hash = pii::pseudonymise(&pii::hasher(), pii::CUSTOMER_ID);
    assert_eq!(
        crate_hash.hash(),
        pii::RawHasher::new().hash(pii::CUSTOMER_ID)
    );

    assert_eq!(pii::CLEAN_200.chars().count(), 200);
    assert_eq!(pii::WITH_PII_200.chars().count(), 200);
    assert!(matches!(scrub(pii::CLEAN_200), Cow::Borrowed(_)));
    let (_, stats) = scrub_with_stats(pii::WITH_PII_200, DEFAULT_MAX_CHARS);
    assert_eq!((stats.cards, stats.emails, stats.phones), (1, 1, 1));

    let mut batch = pii::span_batch();
    assert_eq!(batch.len(), 512);
    let before = batch.clone();
    pii::redacting().redact_batch(&mut batch);
    assert!(
        batch
            .iter()
            .zip(&before)
            .all(|(a, b)| a.attributes == b.attributes),
        "the checkout trace is PII-free by construction: redaction changes nothing"
    );
}

/// Checks the log group: both sides export one record with the same body,
/// severity, event name, attributes (typed) and trace context.
pub fn check_logs() {
    use checkout_otel::opentelemetry::logs::AnyValue;
    use checkout_otel::opentelemetry_sdk::logs::{InMemoryLogExporter, SimpleLogProcessor};

    fn any(v: &AnyValue) -> String {
        match v {
            AnyValue::String(s) => format!("{:?}", s.as_str()),
            other => format!("{other:?}"),
        }
    }
    fn capture(
        subscriber: impl tracing::Subscriber + Send + Sync,
        exporter: &InMemoryLogExporter,
    ) -> String {
        tracing::subscriber::with_default(subscriber, || logs::emit(&logs::context()));
        let records = exporter.get_emitted_logs().expect("in-memory logs");
        assert_eq!(records.len(), 1, "one record per event");
        let r = &records[0].record;
        let mut attributes: Vec<(String, String)> = r
            .attributes_iter()
            .map(|(k, v)| (k.to_string(), any(v)))
            .collect();
        attributes.sort();
        assert_eq!(
            attributes.len(),
            4,
            "the event's four fields: {attributes:?}"
        );
        let trace = r.trace_context().map(|t| (t.trace_id, t.span_id));
        assert!(trace.is_some(), "the record carries its span's ids");
        format!(
            "body {:?}, severity {:?} {:?}, event {:?}, attributes {attributes:?}, trace {trace:?}",
            r.body().map(any),
            r.severity_number(),
            r.severity_text(),
            r.event_name(),
        )
    }

    let exporter = InMemoryLogExporter::default();
    let with_crate = capture(
        logs::with_crate(SimpleLogProcessor::new(exporter.clone()), true),
        &exporter,
    );
    let exporter = InMemoryLogExporter::default();
    let appender = capture(
        logs::appender(SimpleLogProcessor::new(exporter.clone())),
        &exporter,
    );
    assert_eq!(
        with_crate, appender,
        "log_record: the appender side does not export what the crate exports"
    );
}

/// Both propagators forward the same headers for the bench's inbound ones.
pub fn check_propagation() {
    let inbound = crate::propagation::inbound();
    let ours = crate::propagation::hop(&crate::propagation::crate_propagator(), &inbound);
    let sdk = crate::propagation::hop(&crate::propagation::sdk_propagator(), &inbound);
    assert_eq!(
        ours, sdk,
        "trace_context_hop: the sides forward different headers"
    );
    assert_eq!(
        ours, inbound,
        "trace_context_hop: the hop changed the headers"
    );
}

/// Checks the gRPC groups: each layer and its hand-written span record the
/// same `SERVER` (`CLIENT`) span, and every call is answered `OK`.
pub fn check_grpc() {
    let mut answers = Vec::new();
    let with_crate = capture(|p| answers.push(grpc::with_crate(&crate_tracer(p))()));
    let raw = capture(|p| answers.push(grpc::raw(sdk_tracer(p), grpc::propagator())()));
    assert_eq!(with_crate.len(), 1, "grpc_server_call: {with_crate:?}");
    same("grpc_server_call", &with_crate, "raw", &raw);
    assert!(answers.iter().all(|a| a.as_ref().is_some_and(|s| s == "0")));

    let mut answers = Vec::new();
    let with_crate = capture(|p| answers.push(grpc::client_with_crate(&crate_tracer(p))()));
    let raw = capture(|p| answers.push(grpc::client_raw(sdk_tracer(p), grpc::propagator())()));
    assert_eq!(with_crate.len(), 1, "grpc_client_call: {with_crate:?}");
    same("grpc_client_call", &with_crate, "raw", &raw);
    assert!(answers.iter().all(|a| a.as_ref().is_some_and(|s| s == "0")));
}
