//! Metric queries: a snapshot of every metric, its points and their values.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry::{Array, KeyValue, StringValue, Value};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{self as proto, any_value};
use opentelemetry_proto::tonic::metrics::v1::NumberDataPoint;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value as Number;
use opentelemetry_sdk::error::OTelSdkResult;

use crate::init::MetricSink;

use super::attrs::{attr_getters, distinct};

/// What kind of instrument a metric came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MetricKind {
    /// A monotonic sum (counter, observable counter).
    Counter,
    /// A non-monotonic sum (up-down counter).
    UpDownCounter,
    /// A gauge.
    Gauge,
    /// An explicit-bucket histogram.
    Histogram,
    /// An exponential histogram (its points carry no bucket bounds here).
    ExponentialHistogram,
}

/// The value of a histogram point (or several merged, see [`MetricSet::histogram`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct HistogramValue {
    /// Number of recorded values.
    pub count: u64,
    /// Sum of recorded values.
    pub sum: f64,
    /// Smallest recorded value.
    pub min: Option<f64>,
    /// Largest recorded value.
    pub max: Option<f64>,
    /// Upper bucket bounds (the `+Inf` bucket is implied).
    pub bounds: Vec<f64>,
    /// Count per bucket, one more than `bounds`.
    pub bucket_counts: Vec<u64>,
}

/// The value of one metric point.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum PointValue {
    /// A sum or gauge value (integers converted to `f64`).
    Number(f64),
    /// A histogram.
    Histogram(HistogramValue),
}

/// One time series of a metric: its attributes and current value.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct MetricPoint {
    /// The point's attributes.
    pub attributes: Vec<KeyValue>,
    /// The point's value.
    pub value: PointValue,
}

impl MetricPoint {
    fn attrs(&self) -> &[KeyValue] {
        &self.attributes
    }

    attr_getters!('_);

    /// The value of a sum or gauge point.
    pub fn number(&self) -> Option<f64> {
        match self.value {
            PointValue::Number(v) => Some(v),
            PointValue::Histogram(_) => None,
        }
    }

    /// The value of a histogram point.
    pub fn histogram(&self) -> Option<&HistogramValue> {
        match &self.value {
            PointValue::Histogram(h) => Some(h),
            PointValue::Number(_) => None,
        }
    }

    /// Whether every `(key, value)` pair is among the point's attributes
    /// (values compared as text, so `("http.response.status_code", "200")`
    /// matches an integer 200). An empty filter matches every point.
    pub fn matches(&self, filter: &[(&str, &str)]) -> bool {
        filter
            .iter()
            .all(|(k, v)| self.attr(k).is_some_and(|actual| actual.as_str() == *v))
    }
}

/// One metric: name, description, unit, kind and points.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct MetricView {
    /// Instrument name.
    pub name: String,
    /// Instrument description.
    pub description: String,
    /// Instrument unit.
    pub unit: String,
    /// Name of the meter (instrumentation scope) that recorded it.
    pub scope: String,
    /// Instrument kind.
    pub kind: MetricKind,
    /// One point per attribute set.
    pub points: Vec<MetricPoint>,
}

/// A snapshot of every metric, with queries. Get one from
/// [`TestTelemetry::metrics`](super::TestTelemetry::metrics).
#[derive(Debug, Clone, Default)]
pub struct MetricSet {
    metrics: Vec<MetricView>,
}

impl MetricSet {
    /// The metrics of an OTLP request, as the collector would receive them.
    pub(super) fn from_request(request: Option<&ExportMetricsServiceRequest>) -> Self {
        let mut metrics = Vec::new();
        let scopes = request
            .into_iter()
            .flat_map(|r| &r.resource_metrics)
            .flat_map(|rm| &rm.scope_metrics);
        for scope in scopes {
            let scope_name = scope.scope.as_ref().map(|s| s.name.as_str());
            for metric in &scope.metrics {
                let Some((kind, points)) = metric.data.as_ref().and_then(convert) else {
                    continue;
                };
                metrics.push(MetricView {
                    name: metric.name.clone(),
                    description: metric.description.clone(),
                    unit: metric.unit.clone(),
                    scope: scope_name.unwrap_or_default().to_owned(),
                    kind,
                    points,
                });
            }
        }
        MetricSet { metrics }
    }

    /// Every metric.
    pub fn all(&self) -> &[MetricView] {
        &self.metrics
    }

    /// Distinct metric names.
    pub fn names(&self) -> Vec<&str> {
        distinct(self.metrics.iter().map(|m| m.name.as_str()))
    }

    /// The metric named `name`, if recorded.
    pub fn get(&self, name: &str) -> Option<&MetricView> {
        self.metrics.iter().find(|m| m.name == name)
    }

    /// The metric named `name`.
    ///
    /// # Panics
    /// When it was not recorded, listing the metrics present.
    pub fn metric(&self, name: &str) -> &MetricView {
        self.get(name).unwrap_or_else(|| {
            panic!(
                "no metric named {name:?}; metrics present: {:?}",
                self.names()
            )
        })
    }

    /// Every point of `name` (of every meter), empty if not recorded.
    pub fn points(&self, name: &str) -> Vec<&MetricPoint> {
        self.metrics
            .iter()
            .filter(|m| m.name == name)
            .flat_map(|m| &m.points)
            .collect()
    }

    /// Sum of the values of `name`'s points matching `filter` (see
    /// [`MetricPoint::matches`]); 0 when nothing matches or the metric was
    /// never recorded. For counters, up-down counters and gauges.
    pub fn counter_sum(&self, name: &str, filter: &[(&str, &str)]) -> f64 {
        self.points(name)
            .into_iter()
            .filter(|p| p.matches(filter))
            .filter_map(MetricPoint::number)
            .sum()
    }

    /// `name`'s histogram points matching `filter`, merged (counts, sums and
    /// buckets added, min and max combined); `None` when no point matches.
    /// Points with different bucket bounds cannot be merged: the buckets of
    /// the first are kept and the others only add to count and sum.
    pub fn histogram(&self, name: &str, filter: &[(&str, &str)]) -> Option<HistogramValue> {
        let mut merged: Option<HistogramValue> = None;
        for h in self
            .points(name)
            .into_iter()
            .filter(|p| p.matches(filter))
            .filter_map(MetricPoint::histogram)
        {
            match &mut merged {
                None => merged = Some(h.clone()),
                Some(m) => {
                    m.count += h.count;
                    m.sum += h.sum;
                    m.min = min_opt(m.min, h.min, f64::min);
                    m.max = min_opt(m.max, h.max, f64::max);
                    if m.bounds == h.bounds {
                        for (a, b) in m.bucket_counts.iter_mut().zip(&h.bucket_counts) {
                            *a += b;
                        }
                    }
                }
            }
        }
        merged
    }

    /// The unit of `name`, if recorded.
    pub fn unit(&self, name: &str) -> Option<&str> {
        self.get(name).map(|m| m.unit.as_str())
    }

    /// The description of `name`, if recorded.
    pub fn description(&self, name: &str) -> Option<&str> {
        self.get(name).map(|m| m.description.as_str())
    }

    /// The kind of `name`, if recorded.
    pub fn kind(&self, name: &str) -> Option<MetricKind> {
        self.get(name).map(|m| m.kind)
    }

    /// The bucket bounds of histogram `name` (from its first point).
    pub fn boundaries(&self, name: &str) -> Option<Vec<f64>> {
        self.points(name)
            .into_iter()
            .find_map(MetricPoint::histogram)
            .map(|h| h.bounds.clone())
    }
}

fn min_opt(a: Option<f64>, b: Option<f64>, pick: fn(f64, f64) -> f64) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(pick(a, b)),
        (a, b) => a.or(b),
    }
}

fn convert(data: &Data) -> Option<(MetricKind, Vec<MetricPoint>)> {
    let numbers = |points: &[NumberDataPoint]| {
        points
            .iter()
            .map(|p| {
                let value = match p.value {
                    Some(Number::AsInt(v)) => v as f64,
                    Some(Number::AsDouble(v)) => v,
                    None => 0.0,
                };
                point(&p.attributes, PointValue::Number(value))
            })
            .collect()
    };
    Some(match data {
        Data::Gauge(g) => (MetricKind::Gauge, numbers(&g.data_points)),
        Data::Sum(s) => (
            if s.is_monotonic {
                MetricKind::Counter
            } else {
                MetricKind::UpDownCounter
            },
            numbers(&s.data_points),
        ),
        Data::Histogram(h) => (
            MetricKind::Histogram,
            h.data_points
                .iter()
                .map(|p| {
                    let value = HistogramValue {
                        bounds: p.explicit_bounds.clone(),
                        bucket_counts: p.bucket_counts.clone(),
                        ..summary(p.count, p.sum, p.min, p.max)
                    };
                    point(&p.attributes, PointValue::Histogram(value))
                })
                .collect(),
        ),
        Data::ExponentialHistogram(h) => (
            MetricKind::ExponentialHistogram,
            h.data_points
                .iter()
                .map(|p| {
                    let value = summary(p.count, p.sum, p.min, p.max);
                    point(&p.attributes, PointValue::Histogram(value))
                })
                .collect(),
        ),
        // The SDK makes no summaries.
        Data::Summary(_) => return None,
    })
}

fn point(attributes: &[proto::KeyValue], value: PointValue) -> MetricPoint {
    MetricPoint {
        attributes: attributes
            .iter()
            .map(|kv| KeyValue::new(kv.key.clone(), value_of(kv.value.as_ref())))
            .collect(),
        value,
    }
}

/// An OTLP attribute value as the API's value (the conversion the SDK's
/// export made, undone).
fn value_of(value: Option<&proto::AnyValue>) -> Value {
    match value.and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => Value::from(s.clone()),
        Some(any_value::Value::IntValue(i)) => Value::I64(*i),
        Some(any_value::Value::DoubleValue(d)) => Value::F64(*d),
        Some(any_value::Value::BoolValue(b)) => Value::Bool(*b),
        Some(any_value::Value::ArrayValue(array)) => {
            let items: Vec<Value> = array.values.iter().map(|v| value_of(Some(v))).collect();
            array_of(items)
        }
        Some(other) => Value::from(format!("{other:?}")),
        None => Value::from(""),
    }
}

/// A homogeneous array of `items` (the API has no other kind); mixed items
/// become strings.
fn array_of(items: Vec<Value>) -> Value {
    let all = |f: fn(&Value) -> bool| items.iter().all(f);
    if all(|v| matches!(v, Value::I64(_))) {
        let ints = items.iter().filter_map(|v| match v {
            Value::I64(i) => Some(*i),
            _ => None,
        });
        Value::Array(Array::I64(ints.collect()))
    } else if all(|v| matches!(v, Value::F64(_))) {
        let floats = items.iter().filter_map(|v| match v {
            Value::F64(f) => Some(*f),
            _ => None,
        });
        Value::Array(Array::F64(floats.collect()))
    } else if all(|v| matches!(v, Value::Bool(_))) {
        let bools = items.iter().filter_map(|v| match v {
            Value::Bool(b) => Some(*b),
            _ => None,
        });
        Value::Array(Array::Bool(bools.collect()))
    } else {
        let strings = items
            .iter()
            .map(|v| StringValue::from(v.as_str().into_owned()));
        Value::Array(Array::String(strings.collect()))
    }
}

/// A histogram value without buckets: what an exponential histogram point
/// shows here, and the base an explicit-bucket point adds its buckets to.
fn summary(count: u64, sum: Option<f64>, min: Option<f64>, max: Option<f64>) -> HistogramValue {
    HistogramValue {
        count,
        sum: sum.unwrap_or_default(),
        min,
        max,
        bounds: Vec::new(),
        bucket_counts: Vec::new(),
    }
}

/// The test kit's end of the metric pipeline: it keeps the OTLP requests
/// the exit check let through, exactly what a collector would receive.
#[derive(Debug, Clone, Default)]
pub(super) struct MetricRequests(Arc<Mutex<Vec<ExportMetricsServiceRequest>>>);

impl MetricRequests {
    /// The latest request; the earlier ones are dropped (cumulative
    /// temporality: the latest holds everything), so memory stays flat over
    /// many reads.
    pub(super) fn take_latest(&self) -> Option<ExportMetricsServiceRequest> {
        let mut requests = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let latest = requests.pop();
        requests.clear();
        latest
    }
}

impl MetricSink for MetricRequests {
    async fn export(&self, request: ExportMetricsServiceRequest) -> OTelSdkResult {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(request);
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}
