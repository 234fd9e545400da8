//! The exit check of metrics, on the OTLP request.
//!
//! The SDK hands a metric exporter its data by shared reference, in types
//! whose fields are private to the SDK and that have no constructor: an
//! exporter cannot change a single attribute of them. So every metric
//! exporter the set-up creates receives the OTLP request instead (the same
//! conversion the OTLP exporter does), checked here: resource, scope, metric
//! names, descriptions and units, every data point's and exemplar's
//! attributes, with the rule spans have (see
//! [`RedactingExporter`](super::RedactingExporter)).
//!
//! Masking, hashing or dropping an attribute can give two points of a
//! metric the same attribute set; they are merged as the SDK would have
//! aggregated them had the value never been there (sums added, histograms
//! with the same buckets combined, the latest gauge kept), so a collector
//! never sees two series with one identity.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value as Number;
use opentelemetry_proto::tonic::metrics::v1::{Exemplar, HistogramDataPoint, NumberDataPoint};
use std::borrow::Cow;

use super::exit::{Attribute, Filter, Redactor, ValueCheck};
use super::redact::Tally;
use crate::attributes::USER_HASH;

impl Redactor {
    /// Checks an OTLP metrics request in place and counts what changed.
    pub(crate) fn redact_metrics(&self, request: &mut ExportMetricsServiceRequest) {
        let mut tally = Tally::default();
        for resource_metrics in &mut request.resource_metrics {
            if let Some(resource) = &mut resource_metrics.resource {
                self.redact_list(&mut resource.attributes, Filter::Keep, &mut tally);
            }
            self.redact_url(&mut resource_metrics.schema_url, &mut tally);
            for scope_metrics in &mut resource_metrics.scope_metrics {
                if let Some(scope) = &mut scope_metrics.scope {
                    self.redact_proto_scope(scope, &mut tally);
                }
                self.redact_url(&mut scope_metrics.schema_url, &mut tally);
                for metric in &mut scope_metrics.metrics {
                    for text in [&mut metric.name, &mut metric.description, &mut metric.unit] {
                        self.redact_text(text, &mut tally);
                    }
                    self.redact_list(&mut metric.metadata, Filter::Keep, &mut tally);
                    if let Some(data) = &mut metric.data {
                        self.redact_data(data, &mut tally);
                    }
                }
            }
        }
        self.counters.add(&tally);
    }

    fn redact_proto_scope(&self, scope: &mut InstrumentationScope, tally: &mut Tally) {
        self.redact_text(&mut scope.name, tally);
        self.redact_text(&mut scope.version, tally);
        self.redact_list(&mut scope.attributes, Filter::Keep, tally);
    }

    fn redact_text(&self, text: &mut String, tally: &mut Tally) {
        if let Some(checked) = self.check_text(text, self.config_limit(), tally) {
            *text = checked;
        }
    }

    fn redact_url(&self, text: &mut String, tally: &mut Tally) {
        if let Some(checked) = self.check_url(text, self.config_limit(), tally) {
            *text = checked;
        }
    }

    /// Checks every point's and exemplar's attributes; merges the points
    /// whose attribute sets became equal.
    fn redact_data(&self, data: &mut Data, tally: &mut Tally) {
        let mut changed = false;
        let mut check = |attributes: &mut Vec<KeyValue>, exemplars: &mut Vec<Exemplar>| {
            changed |= self.redact_list(attributes, Filter::Metrics, tally);
            for exemplar in exemplars {
                self.redact_list(&mut exemplar.filtered_attributes, Filter::Metrics, tally);
            }
        };
        match data {
            Data::Gauge(g) => {
                for p in &mut g.data_points {
                    check(&mut p.attributes, &mut p.exemplars);
                }
            }
            Data::Sum(s) => {
                for p in &mut s.data_points {
                    check(&mut p.attributes, &mut p.exemplars);
                }
            }
            Data::Histogram(h) => {
                for p in &mut h.data_points {
                    check(&mut p.attributes, &mut p.exemplars);
                }
            }
            Data::ExponentialHistogram(h) => {
                for p in &mut h.data_points {
                    check(&mut p.attributes, &mut p.exemplars);
                }
            }
            Data::Summary(s) => {
                for p in &mut s.data_points {
                    check(&mut p.attributes, &mut Vec::new());
                }
            }
        }
        if changed {
            merge_points(data);
        }
    }
}

/// Merges the points of `data` whose attribute sets are equal (in any
/// order): sums added, the latest gauge kept, histograms with the same
/// bucket bounds combined. Exponential histograms and summaries, and
/// histograms with different bounds, stay separate points.
fn merge_points(data: &mut Data) {
    match data {
        Data::Sum(s) => merge(&mut s.data_points, |p| &p.attributes, add_numbers),
        Data::Gauge(g) => merge(&mut g.data_points, |p| &p.attributes, keep_latest),
        Data::Histogram(h) => merge(&mut h.data_points, |p| &p.attributes, add_histograms),
        Data::ExponentialHistogram(_) | Data::Summary(_) => {}
    }
}

/// Folds each point into the first earlier point with the same attribute
/// set, when `fold` can combine them (it gives the point back otherwise).
fn merge<P>(
    points: &mut Vec<P>,
    attributes: impl Fn(&P) -> &Vec<KeyValue>,
    fold: impl Fn(&mut P, P) -> Option<P>,
) {
    let mut first: HashMap<String, usize> = HashMap::new();
    let mut merged: Vec<P> = Vec::with_capacity(points.len());
    for point in points.drain(..) {
        match first.entry(identity(attributes(&point))) {
            Entry::Occupied(at) => {
                if let Some(separate) = fold(&mut merged[*at.get()], point) {
                    merged.push(separate);
                }
            }
            Entry::Vacant(slot) => {
                slot.insert(merged.len());
                merged.push(point);
            }
        }
    }
    *points = merged;
}

/// The attribute set as a comparable text, independent of order.
fn identity(attributes: &[KeyValue]) -> String {
    let mut sorted: Vec<&KeyValue> = attributes.iter().collect();
    sorted.sort_by(|a, b| a.key.cmp(&b.key));
    format!("{sorted:?}")
}

fn add_numbers(into: &mut NumberDataPoint, other: NumberDataPoint) -> Option<NumberDataPoint> {
    let sum = match (into.value, other.value) {
        (Some(Number::AsInt(a)), Some(Number::AsInt(b))) => Number::AsInt(a.saturating_add(b)),
        (Some(Number::AsDouble(a)), Some(Number::AsDouble(b))) => Number::AsDouble(a + b),
        _ => return Some(other),
    };
    into.value = Some(sum);
    into.start_time_unix_nano = into.start_time_unix_nano.min(other.start_time_unix_nano);
    into.time_unix_nano = into.time_unix_nano.max(other.time_unix_nano);
    into.exemplars.extend(other.exemplars);
    None
}

fn keep_latest(into: &mut NumberDataPoint, other: NumberDataPoint) -> Option<NumberDataPoint> {
    if other.time_unix_nano >= into.time_unix_nano {
        *into = other;
    }
    None
}

fn add_histograms(
    into: &mut HistogramDataPoint,
    other: HistogramDataPoint,
) -> Option<HistogramDataPoint> {
    if into.explicit_bounds != other.explicit_bounds
        || into.bucket_counts.len() != other.bucket_counts.len()
    {
        return Some(other);
    }
    into.count = into.count.saturating_add(other.count);
    into.sum = match (into.sum, other.sum) {
        (Some(a), Some(b)) => Some(a + b),
        (a, b) => a.or(b),
    };
    for (a, b) in into.bucket_counts.iter_mut().zip(&other.bucket_counts) {
        *a = a.saturating_add(*b);
    }
    into.min = pick(into.min, other.min, f64::min);
    into.max = pick(into.max, other.max, f64::max);
    into.start_time_unix_nano = into.start_time_unix_nano.min(other.start_time_unix_nano);
    into.time_unix_nano = into.time_unix_nano.max(other.time_unix_nano);
    into.exemplars.extend(other.exemplars);
    None
}

fn pick(a: Option<f64>, b: Option<f64>, choose: fn(f64, f64) -> f64) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(choose(a, b)),
        (a, b) => a.or(b),
    }
}

impl Attribute for KeyValue {
    fn key(&self) -> &str {
        &self.key
    }

    fn set_key(&mut self, key: String) {
        self.key = key;
    }

    fn value_text(&self) -> Cow<'_, str> {
        match self.value.as_ref().and_then(|v| v.value.as_ref()) {
            Some(any_value::Value::StringValue(s)) => Cow::Borrowed(s),
            Some(any_value::Value::IntValue(i)) => Cow::Owned(i.to_string()),
            Some(any_value::Value::DoubleValue(d)) => Cow::Owned(d.to_string()),
            Some(any_value::Value::BoolValue(b)) => Cow::Owned(b.to_string()),
            Some(any_value::Value::BytesValue(b)) => String::from_utf8_lossy(b),
            Some(other) => Cow::Owned(format!("{other:?}")),
            None => Cow::Borrowed(""),
        }
    }

    fn set_text(&mut self, text: String) {
        self.value = Some(string_value(text));
    }

    fn user_hash(hash: String) -> Self {
        KeyValue {
            key: USER_HASH.to_owned(),
            value: Some(string_value(hash)),
            ..KeyValue::default()
        }
    }

    fn check_value(&mut self, check: &ValueCheck<'_>, tally: &mut Tally) -> bool {
        match &mut self.value {
            Some(value) => check_any(value, check, tally),
            None => false,
        }
    }
}

fn string_value(text: String) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::StringValue(text)),
    }
}

/// Checks one OTLP value in place (arrays and key-value lists to any depth);
/// whether it changed.
fn check_any(value: &mut AnyValue, check: &ValueCheck<'_>, tally: &mut Tally) -> bool {
    let r = check.redactor;
    let replacement = match &mut value.value {
        Some(any_value::Value::StringValue(s)) => check.text(s, tally),
        Some(any_value::Value::IntValue(v)) => r.check_int(*v, tally),
        Some(any_value::Value::DoubleValue(v)) => r.check_float(*v, tally),
        Some(any_value::Value::BytesValue(b)) => check.text(&String::from_utf8_lossy(b), tally),
        Some(any_value::Value::ArrayValue(array)) => {
            let mut changed = false;
            for item in &mut array.values {
                changed |= check_any(item, check, tally);
            }
            return changed;
        }
        Some(any_value::Value::KvlistValue(list)) => {
            return r.redact_list(&mut list.values, Filter::Keep, tally);
        }
        // An index into a string table (profiles only): no text here.
        Some(any_value::Value::BoolValue(_) | any_value::Value::StringValueStrindex(_)) | None => {
            None
        }
    };
    match replacement {
        Some(text) => {
            *value = string_value(text);
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pii::{EMAIL_MASK, RedactionCounters};
    use opentelemetry_proto::tonic::metrics::v1::{Gauge, Histogram, Sum};

    fn kv(key: &str, value: &str) -> KeyValue {
        KeyValue {
            key: key.to_owned(),
            value: Some(string_value(value.to_owned())),
            ..KeyValue::default()
        }
    }

    fn number(attributes: Vec<KeyValue>, value: i64, time: u64) -> NumberDataPoint {
        NumberDataPoint {
            attributes,
            value: Some(Number::AsInt(value)),
            start_time_unix_nano: time,
            time_unix_nano: time,
            ..NumberDataPoint::default()
        }
    }

    #[test]
    fn masked_points_merge_into_one_series() {
        let r = Redactor::new(RedactionCounters::default());
        let mut data = Data::Sum(Sum {
            data_points: vec![
                number(vec![kv("note", "jane@example.com"), kv("k", "a")], 2, 10),
                number(vec![kv("k", "a"), kv("note", "bob@example.org")], 3, 20),
                number(vec![kv("note", "none"), kv("k", "a")], 5, 30),
            ],
            ..Sum::default()
        });
        let mut tally = Tally::default();
        r.redact_data(&mut data, &mut tally);
        let Data::Sum(sum) = data else { unreachable!() };
        assert_eq!(sum.data_points.len(), 2);
        let merged = &sum.data_points[0];
        assert_eq!(merged.attributes[0], kv("note", EMAIL_MASK));
        assert_eq!(merged.value, Some(Number::AsInt(5)));
        assert_eq!(
            (merged.start_time_unix_nano, merged.time_unix_nano),
            (10, 20)
        );
        assert_eq!(sum.data_points[1].value, Some(Number::AsInt(5)));
        assert_eq!(tally.emails, 2);
    }

    #[test]
    fn gauges_keep_the_latest_and_histograms_combine() {
        let mut gauge = Data::Gauge(Gauge {
            data_points: vec![
                number(vec![kv("a", "1")], 7, 20),
                number(vec![kv("a", "1")], 3, 10),
            ],
        });
        merge_points(&mut gauge);
        let Data::Gauge(g) = gauge else {
            unreachable!()
        };
        assert_eq!(g.data_points.len(), 1);
        assert_eq!(g.data_points[0].value, Some(Number::AsInt(7)));

        let histogram = |bounds: Vec<f64>, counts: Vec<u64>, min: f64| HistogramDataPoint {
            attributes: vec![kv("a", "1")],
            count: counts.iter().sum(),
            sum: Some(min),
            min: Some(min),
            max: Some(min),
            explicit_bounds: bounds,
            bucket_counts: counts,
            ..HistogramDataPoint::default()
        };
        let mut data = Data::Histogram(Histogram {
            data_points: vec![
                histogram(vec![1.0], vec![1, 0], 0.5),
                histogram(vec![1.0], vec![0, 2], 2.0),
                histogram(vec![5.0], vec![1, 0], 3.0),
            ],
            ..Histogram::default()
        });
        merge_points(&mut data);
        let Data::Histogram(h) = data else {
            unreachable!()
        };
        assert_eq!(h.data_points.len(), 2, "other bounds stay separate");
        let p = &h.data_points[0];
        assert_eq!((p.count, p.bucket_counts.clone()), (3, vec![1, 2]));
        assert_eq!((p.min, p.max, p.sum), (Some(0.5), Some(2.0), Some(2.5)));
    }

    #[test]
    fn nested_values_numbers_and_bytes_are_checked() {
        let r = Redactor::new(RedactionCounters::default());
        let mut attributes = vec![
            KeyValue {
                key: "list".into(),
                value: Some(AnyValue {
                    value: Some(any_value::Value::ArrayValue(
                        opentelemetry_proto::tonic::common::v1::ArrayValue {
                            values: vec![
                                string_value("jane@example.com".into()),
                                AnyValue {
                                    value: Some(any_value::Value::IntValue(4111111111111111)),
                                },
                            ],
                        },
                    )),
                }),
                ..KeyValue::default()
            },
            KeyValue {
                key: "raw".into(),
                value: Some(AnyValue {
                    value: Some(any_value::Value::BytesValue(b"to bob@example.org".to_vec())),
                }),
                ..KeyValue::default()
            },
        ];
        let mut tally = Tally::default();
        assert!(r.redact_list(&mut attributes, Filter::Metrics, &mut tally));
        let text = format!("{attributes:?}");
        for raw in ["jane@example.com", "4111111111111111", "bob@example.org"] {
            assert!(!text.contains(raw), "{raw} in {text}");
        }
        assert_eq!((tally.emails, tally.cards), (2, 1));
    }
}
