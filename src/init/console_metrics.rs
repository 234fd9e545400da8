//! The `console` metrics exporter (`OTEL_METRICS_EXPORTER=console`): at each
//! export, one text line per data point on stderr, after the same exit check
//! as an OTLP export. Meant for a developer's terminal, not for parsing.

use std::fmt::Write as _;
use std::io::Write as _;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{metric::Data, number_data_point};
use opentelemetry_sdk::error::OTelSdkResult;

use super::accounted::MetricSink;

/// Prints each metric export to stderr.
#[derive(Debug, Default)]
pub(crate) struct ConsoleMetrics;

impl ConsoleMetrics {
    pub(crate) fn stderr() -> Self {
        ConsoleMetrics
    }
}

impl MetricSink for ConsoleMetrics {
    async fn export(&self, request: ExportMetricsServiceRequest) -> OTelSdkResult {
        let text = render(&request);
        if !text.is_empty() {
            // A closed stderr is not worth failing the export for.
            let _ = std::io::stderr().lock().write_all(text.as_bytes());
        }
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}

/// `metric <name>{<attributes>} <kind> <values> [<unit>]`, one line per data point.
fn render(request: &ExportMetricsServiceRequest) -> String {
    let mut out = String::new();
    let metrics = request
        .resource_metrics
        .iter()
        .flat_map(|rm| &rm.scope_metrics)
        .flat_map(|sm| &sm.metrics);
    for metric in metrics {
        let unit = if metric.unit.is_empty() {
            String::new()
        } else {
            format!(" {}", metric.unit)
        };
        let mut line = |attributes: &[KeyValue], values: String| {
            let _ = writeln!(
                out,
                "metric {}{{{}}} {values}{unit}",
                metric.name,
                attributes_text(attributes)
            );
        };
        match &metric.data {
            Some(Data::Sum(sum)) => {
                for p in &sum.data_points {
                    line(&p.attributes, format!("sum {}", number(p.value)));
                }
            }
            Some(Data::Gauge(gauge)) => {
                for p in &gauge.data_points {
                    line(&p.attributes, format!("gauge {}", number(p.value)));
                }
            }
            Some(Data::Histogram(h)) => {
                for p in &h.data_points {
                    let buckets = p
                        .explicit_bounds
                        .iter()
                        .map(|b| format!("le {b}"))
                        .chain(std::iter::once("le +Inf".to_owned()))
                        .zip(&p.bucket_counts)
                        .map(|(le, n)| format!("{le}: {n}"))
                        .collect::<Vec<_>>()
                        .join(", ");
                    line(
                        &p.attributes,
                        format!(
                            "histogram count {} sum {} [{buckets}]",
                            p.count,
                            p.sum.unwrap_or_default()
                        ),
                    );
                }
            }
            Some(Data::ExponentialHistogram(h)) => {
                for p in &h.data_points {
                    line(
                        &p.attributes,
                        format!(
                            "exponential_histogram count {} sum {}",
                            p.count,
                            p.sum.unwrap_or_default()
                        ),
                    );
                }
            }
            Some(Data::Summary(s)) => {
                for p in &s.data_points {
                    line(
                        &p.attributes,
                        format!("summary count {} sum {}", p.count, p.sum),
                    );
                }
            }
            None => {}
        }
    }
    out
}

fn number(value: Option<number_data_point::Value>) -> String {
    match value {
        Some(number_data_point::Value::AsInt(i)) => i.to_string(),
        Some(number_data_point::Value::AsDouble(d)) => d.to_string(),
        None => "-".to_owned(),
    }
}

fn attributes_text(attributes: &[KeyValue]) -> String {
    attributes
        .iter()
        .map(|kv| {
            let value = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(any_value::Value::StringValue(s)) => format!("{s:?}"),
                Some(any_value::Value::IntValue(i)) => i.to_string(),
                Some(any_value::Value::DoubleValue(d)) => d.to_string(),
                Some(any_value::Value::BoolValue(b)) => b.to_string(),
                Some(other) => format!("{other:?}"),
                None => String::new(),
            };
            format!("{}={value}", kv.key)
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use opentelemetry::KeyValue;
    use opentelemetry::metrics::MeterProvider as _;
    use opentelemetry_sdk::metrics::data::ResourceMetrics;
    use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};

    use super::*;

    fn exported(record: impl FnOnce(&opentelemetry::metrics::Meter)) -> ResourceMetrics {
        let exporter = InMemoryMetricExporter::default();
        let provider = SdkMeterProvider::builder()
            .with_reader(PeriodicReader::builder(exporter.clone()).build())
            .build();
        record(&provider.meter("test"));
        provider.force_flush().unwrap();
        exporter.get_finished_metrics().unwrap().remove(0)
    }

    #[test]
    fn one_line_per_data_point_with_attributes_values_and_unit() {
        let metrics = exported(|meter| {
            let c = meter.u64_counter("checkout.completed").build();
            c.add(2, &[KeyValue::new("checkout.outcome", "success")]);
            c.add(1, &[KeyValue::new("checkout.outcome", "failure")]);
            meter
                .f64_histogram("checkout.duration")
                .with_unit("s")
                .with_boundaries(vec![0.5, 1.0])
                .build()
                .record(0.7, &[]);
        });
        let text = render(&ExportMetricsServiceRequest::from(&metrics));
        let mut lines: Vec<&str> = text.lines().collect();
        lines.sort_unstable();
        assert_eq!(
            lines,
            [
                "metric checkout.completed{checkout.outcome=\"failure\"} sum 1",
                "metric checkout.completed{checkout.outcome=\"success\"} sum 2",
                "metric checkout.duration{} histogram count 1 sum 0.7 [le 0.5: 0, le 1: 1, le +Inf: 0] s",
            ]
        );
    }
}
