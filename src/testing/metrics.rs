//! Metric queries: a snapshot of every metric, its points and their values.

use opentelemetry::KeyValue;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData, ResourceMetrics};

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
    pub(super) fn from_resource_metrics(rm: Option<&ResourceMetrics>) -> Self {
        let mut metrics = Vec::new();
        for scope in rm.into_iter().flat_map(|rm| rm.scope_metrics()) {
            for metric in scope.metrics() {
                let (kind, points) = match metric.data() {
                    AggregatedMetrics::F64(d) => convert(d),
                    AggregatedMetrics::U64(d) => convert(d),
                    AggregatedMetrics::I64(d) => convert(d),
                };
                metrics.push(MetricView {
                    name: metric.name().to_owned(),
                    description: metric.description().to_owned(),
                    unit: metric.unit().to_owned(),
                    scope: scope.scope().name().to_owned(),
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

/// The three number types metric data comes in.
trait ToF64: Copy {
    fn to_f64(self) -> f64;
}
impl ToF64 for f64 {
    fn to_f64(self) -> f64 {
        self
    }
}
impl ToF64 for u64 {
    fn to_f64(self) -> f64 {
        self as f64
    }
}
impl ToF64 for i64 {
    fn to_f64(self) -> f64 {
        self as f64
    }
}

fn convert<T: ToF64>(data: &MetricData<T>) -> (MetricKind, Vec<MetricPoint>) {
    match data {
        MetricData::Gauge(g) => (
            MetricKind::Gauge,
            g.data_points()
                .map(|p| point(p.attributes(), number(p.value())))
                .collect(),
        ),
        MetricData::Sum(s) => (
            if s.is_monotonic() {
                MetricKind::Counter
            } else {
                MetricKind::UpDownCounter
            },
            s.data_points()
                .map(|p| point(p.attributes(), number(p.value())))
                .collect(),
        ),
        MetricData::Histogram(h) => (
            MetricKind::Histogram,
            h.data_points()
                .map(|p| {
                    let value = HistogramValue {
                        bounds: p.bounds().collect(),
                        bucket_counts: p.bucket_counts().collect(),
                        ..summary(p.count(), p.sum(), p.min(), p.max())
                    };
                    point(p.attributes(), PointValue::Histogram(value))
                })
                .collect(),
        ),
        MetricData::ExponentialHistogram(h) => (
            MetricKind::ExponentialHistogram,
            h.data_points()
                .map(|p| {
                    let value = summary(p.count() as u64, p.sum(), p.min(), p.max());
                    point(p.attributes(), PointValue::Histogram(value))
                })
                .collect(),
        ),
    }
}

fn point<'a>(attributes: impl Iterator<Item = &'a KeyValue>, value: PointValue) -> MetricPoint {
    MetricPoint {
        attributes: attributes.cloned().collect(),
        value,
    }
}

fn number<T: ToF64>(value: T) -> PointValue {
    PointValue::Number(value.to_f64())
}

/// A histogram value without buckets: what an exponential histogram point
/// shows here, and the base an explicit-bucket point adds its buckets to.
fn summary<T: ToF64>(count: u64, sum: T, min: Option<T>, max: Option<T>) -> HistogramValue {
    HistogramValue {
        count,
        sum: sum.to_f64(),
        min: min.map(ToF64::to_f64),
        max: max.map(ToF64::to_f64),
        bounds: Vec::new(),
        bucket_counts: Vec::new(),
    }
}
