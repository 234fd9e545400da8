//! The checkout meter read back from an in-memory exporter: every data point
//! of a metric with its scope and attributes, to count what was recorded.

use std::collections::BTreeMap;
use std::time::Duration;

use checkout_otel::opentelemetry::InstrumentationScope;
use checkout_otel::opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use checkout_otel::opentelemetry_sdk::metrics::{
    InMemoryMetricExporter, PeriodicReader, SdkMeterProvider,
};

/// A meter provider exporting (cumulatively) into memory.
pub struct MeterProbe {
    provider: SdkMeterProvider,
    exporter: InMemoryMetricExporter,
}

/// One data point: its scope, its attributes, and its count (histograms) or
/// value (counters).
#[derive(Debug, Clone)]
pub struct Point {
    pub scope: InstrumentationScope,
    pub attributes: BTreeMap<String, String>,
    pub value: u64,
}

impl MeterProbe {
    pub fn new() -> Self {
        let exporter = InMemoryMetricExporter::default();
        let provider = SdkMeterProvider::builder()
            .with_reader(
                // Exported only when flushed.
                PeriodicReader::builder(exporter.clone())
                    .with_interval(Duration::from_secs(3600))
                    .build(),
            )
            .build();
        MeterProbe { provider, exporter }
    }

    pub fn provider(&self) -> &SdkMeterProvider {
        &self.provider
    }

    /// Every point of metric `name` recorded so far.
    pub fn points(&self, name: &str) -> Vec<Point> {
        self.provider.force_flush().expect("flush metrics");
        let exports = self.exporter.get_finished_metrics().expect("metrics");
        // Cumulative: the last export holds everything.
        let Some(last) = exports.last() else {
            return Vec::new();
        };
        let mut points = Vec::new();
        for scope in last.scope_metrics() {
            for metric in scope.metrics().filter(|m| m.name() == name) {
                let mut push = |attributes: BTreeMap<String, String>, value: u64| {
                    points.push(Point {
                        scope: scope.scope().clone(),
                        attributes,
                        value,
                    })
                };
                let attrs =
                    |kvs: &mut dyn Iterator<Item = &checkout_otel::opentelemetry::KeyValue>| {
                        kvs.map(|kv| (kv.key.to_string(), kv.value.to_string()))
                            .collect::<BTreeMap<_, _>>()
                    };
                match metric.data() {
                    AggregatedMetrics::F64(MetricData::Histogram(h)) => {
                        for p in h.data_points() {
                            push(attrs(&mut p.attributes()), p.count());
                        }
                    }
                    AggregatedMetrics::U64(MetricData::Sum(s)) => {
                        for p in s.data_points() {
                            push(attrs(&mut p.attributes()), p.value());
                        }
                    }
                    other => panic!("unexpected data for {name}: {other:?}"),
                }
            }
        }
        points
    }

    /// The count (histograms) or sum (counters) of metric `name` over the
    /// points whose attributes include every pair of `filter`.
    pub fn total(&self, name: &str, filter: &[(&str, &str)]) -> u64 {
        self.points(name)
            .iter()
            .filter(|p| {
                filter
                    .iter()
                    .all(|(k, v)| p.attributes.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|p| p.value)
            .sum()
    }
}
