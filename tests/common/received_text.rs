//! Every piece of text an OTLP receiver got, with where it was: resource
//! and scope, span names, `trace_state`, attribute keys and values of every
//! type (integers and doubles as their decimal text, array elements and map
//! entries one by one), events, links, status messages, metric names and
//! data-point attributes, exemplars, log record bodies, event names and
//! attributes. What the attacker's matcher scans.

use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::{Exemplar, Metric};
use opentelemetry_proto::tonic::trace::v1::Span;

use super::receiver::Received;

/// The attribute that names which placement a span or data point carries.
pub const PATH_TAG: &str = "attack.path";
/// The attribute that names which sample a span or data point carries.
pub const SAMPLE_TAG: &str = "attack.sample";

/// One piece of received text.
#[derive(Debug, Clone)]
pub struct Field {
    /// Where it was: `span[raw.attrs] attr customer.note`,
    /// `span "request" attr uri`, `resource attr key`, ...
    pub location: String,
    pub text: String,
}

/// Every piece of text in `received`.
pub fn fields(received: &Received) -> Vec<Field> {
    let mut out = Vec::new();
    for req in &received.traces {
        for rs in &req.resource_spans {
            if let Some(r) = &rs.resource {
                attributes(&mut out, "trace resource", &r.attributes);
            }
            for ss in &rs.scope_spans {
                scope(&mut out, "trace scope", ss.scope.as_ref());
                for span in &ss.spans {
                    span_fields(&mut out, span);
                }
            }
        }
    }
    for req in &received.metrics {
        for rm in &req.resource_metrics {
            if let Some(r) = &rm.resource {
                attributes(&mut out, "metric resource", &r.attributes);
            }
            for sm in &rm.scope_metrics {
                scope(&mut out, "metric scope", sm.scope.as_ref());
                for metric in &sm.metrics {
                    metric_fields(&mut out, metric);
                }
            }
        }
    }
    for req in &received.logs {
        for rl in &req.resource_logs {
            if let Some(r) = &rl.resource {
                attributes(&mut out, "log resource", &r.attributes);
            }
            for sl in &rl.scope_logs {
                scope(&mut out, "log scope", sl.scope.as_ref());
                for record in &sl.log_records {
                    log_fields(&mut out, record);
                }
            }
        }
    }
    out
}

/// `log[path]` for a tagged record, else `log "body"` (cut short).
pub fn log_carrier(record: &LogRecord) -> String {
    carrier("log", &render(record.body.as_ref()), &record.attributes)
}

fn log_fields(out: &mut Vec<Field>, record: &LogRecord) {
    let at = log_carrier(record);
    value(out, &format!("{at} body"), record.body.as_ref());
    push(out, format!("{at} event name"), &record.event_name);
    push(out, format!("{at} severity"), &record.severity_text);
    attributes(out, &at, &record.attributes);
}

/// `span[path]` for a tagged span, else `span "name"` (cut short).
pub fn span_carrier(span: &Span) -> String {
    carrier("span", &span.name, &span.attributes)
}

fn carrier(what: &str, name: &str, attrs: &[KeyValue]) -> String {
    match tag(attrs) {
        Some(path) => format!("{what}[{path}]"),
        None => format!("{what} {:?}", name.chars().take(48).collect::<String>()),
    }
}

/// The placement tag of a span or data point.
pub fn tag(attrs: &[KeyValue]) -> Option<String> {
    attrs
        .iter()
        .find(|kv| kv.key == PATH_TAG)
        .map(|kv| render(kv.value.as_ref()))
}

/// The sample index of a span or data point.
pub fn sample_of(attrs: &[KeyValue]) -> Option<i64> {
    attrs.iter().find(|kv| kv.key == SAMPLE_TAG).and_then(|kv| {
        match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
            Some(any_value::Value::IntValue(i)) => Some(*i),
            _ => None,
        }
    })
}

fn span_fields(out: &mut Vec<Field>, span: &Span) {
    let at = span_carrier(span);
    push(out, format!("{at} name"), &span.name);
    push(out, format!("{at} trace_state"), &span.trace_state);
    attributes(out, &at, &span.attributes);
    for event in &span.events {
        push(out, format!("{at} event name"), &event.name);
        attributes(out, &format!("{at} event"), &event.attributes);
    }
    for link in &span.links {
        push(out, format!("{at} link trace_state"), &link.trace_state);
        attributes(out, &format!("{at} link"), &link.attributes);
    }
    if let Some(status) = &span.status {
        push(out, format!("{at} status message"), &status.message);
    }
}

fn metric_fields(out: &mut Vec<Field>, metric: &Metric) {
    let at = format!("metric {}", metric.name);
    push(out, format!("{at} name"), &metric.name);
    push(out, format!("{at} description"), &metric.description);
    push(out, format!("{at} unit"), &metric.unit);
    let mut point = |attrs: &[KeyValue], exemplars: &[Exemplar]| {
        let at = carrier(&at, "", attrs);
        attributes(out, &format!("{at} point"), attrs);
        for e in exemplars {
            attributes(out, &format!("{at} exemplar"), &e.filtered_attributes);
        }
    };
    match &metric.data {
        Some(Data::Sum(s)) => s
            .data_points
            .iter()
            .for_each(|p| point(&p.attributes, &p.exemplars)),
        Some(Data::Gauge(g)) => g
            .data_points
            .iter()
            .for_each(|p| point(&p.attributes, &p.exemplars)),
        Some(Data::Histogram(h)) => h
            .data_points
            .iter()
            .for_each(|p| point(&p.attributes, &p.exemplars)),
        Some(Data::ExponentialHistogram(h)) => h
            .data_points
            .iter()
            .for_each(|p| point(&p.attributes, &p.exemplars)),
        Some(Data::Summary(s)) => s.data_points.iter().for_each(|p| point(&p.attributes, &[])),
        None => {}
    }
}

fn scope(out: &mut Vec<Field>, at: &str, scope: Option<&InstrumentationScope>) {
    if let Some(s) = scope {
        push(out, format!("{at} name"), &s.name);
        push(out, format!("{at} version"), &s.version);
        attributes(out, at, &s.attributes);
    }
}

fn attributes(out: &mut Vec<Field>, at: &str, attrs: &[KeyValue]) {
    for kv in attrs {
        push(out, format!("{at} attr key"), &kv.key);
        value(
            out,
            &format!("{at} attr {}", short(&kv.key)),
            kv.value.as_ref(),
        );
    }
}

fn value(out: &mut Vec<Field>, at: &str, v: Option<&AnyValue>) {
    match v.and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::ArrayValue(a)) => {
            for (i, element) in a.values.iter().enumerate() {
                value(out, &format!("{at}[{i}]"), Some(element));
            }
        }
        Some(any_value::Value::KvlistValue(kvs)) => attributes(out, at, &kvs.values),
        _ => push(out, at.to_owned(), &render(v)),
    }
}

/// A scalar value as text: strings as they are, numbers in decimal, bytes
/// as (lossy) UTF-8.
pub fn render(v: Option<&AnyValue>) -> String {
    match v.and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::BytesValue(b)) => String::from_utf8_lossy(b).into_owned(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

/// A key as a location shows it: keys that are themselves PII are not
/// repeated in every line of a report.
fn short(key: &str) -> String {
    if key.len() <= 40
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    {
        key.to_owned()
    } else {
        "<odd key>".to_owned()
    }
}

fn push(out: &mut Vec<Field>, location: String, text: &str) {
    if !text.is_empty() {
        out.push(Field {
            location,
            text: text.to_owned(),
        });
    }
}
