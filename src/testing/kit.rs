//! The kit itself: providers that export into memory, and the handles a
//! test passes to the code under test.

use std::fmt;
use std::time::Duration;

use opentelemetry::metrics::{Meter, MeterProvider as _};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};

use super::metrics::MetricSet;
use super::spans::SpanSet;
use crate::scope::instrumentation_scope;
use crate::waterfall::SpanCollector;

/// Tests rarely make this many spans; beyond it the oldest are evicted.
const MAX_TEST_SPANS: usize = 1_000_000;

/// In-memory telemetry for a test: a tracer provider and a meter provider
/// whose exports you can query. Each instance is independent, so tests can
/// run in parallel; nothing is installed globally.
///
/// Spans are kept after the providers shut down (unlike the SDK's
/// `InMemorySpanExporter`, which clears them).
pub struct TestTelemetry {
    service: String,
    collector: SpanCollector,
    tracer_provider: SdkTracerProvider,
    meter_provider: SdkMeterProvider,
    metric_exporter: InMemoryMetricExporter,
}

impl fmt::Debug for TestTelemetry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestTelemetry")
            .field("service", &self.service)
            .field("spans", &self.collector.len())
            .finish_non_exhaustive()
    }
}

impl TestTelemetry {
    /// Providers for a service named `service_name` (the resource holds only
    /// `service.name`, so tests do not depend on the environment).
    pub fn new(service_name: &str) -> Self {
        let collector = SpanCollector::with_max_spans(MAX_TEST_SPANS);
        let tracer_provider = tracer_provider_into(&collector, service_name);
        let metric_exporter = InMemoryMetricExporter::default();
        // A long interval: metrics are read by an explicit flush, not on a timer.
        let reader = PeriodicReader::builder(metric_exporter.clone())
            .with_interval(Duration::from_secs(24 * 3600))
            .build();
        let meter_provider = SdkMeterProvider::builder()
            .with_resource(resource(service_name))
            .with_reader(reader)
            .build();
        TestTelemetry {
            service: service_name.to_owned(),
            collector,
            tracer_provider,
            meter_provider,
            metric_exporter,
        }
    }

    /// The service name given to [`TestTelemetry::new`].
    pub fn service_name(&self) -> &str {
        &self.service
    }

    /// The tracer provider; pass it (or a tracer from it) to the code under test.
    pub fn tracer_provider(&self) -> &SdkTracerProvider {
        &self.tracer_provider
    }

    /// The crate's tracer for the span helpers, with the checkout meter of
    /// [`Self::meter_provider`] attached: spans started from it record the
    /// checkout metrics too.
    pub fn tracer(&self) -> crate::spans::CheckoutTracer {
        crate::spans::CheckoutTracer::new(self.sdk_tracer()).with_metrics(
            crate::metrics::CheckoutMetrics::from_provider(&self.meter_provider),
        )
    }

    /// A raw SDK tracer from [`Self::tracer_provider`], with the crate's one
    /// instrumentation scope ([`SCOPE_NAME`](crate::SCOPE_NAME)).
    pub fn sdk_tracer(&self) -> SdkTracer {
        self.tracer_provider
            .tracer_with_scope(instrumentation_scope())
    }

    /// Another tracer provider, for a second service (its own `service.name`)
    /// exporting into the same store: for tests of a trace that crosses
    /// services in one process. Keep it alive while the test runs.
    pub fn tracer_provider_for(&self, service_name: &str) -> SdkTracerProvider {
        tracer_provider_into(&self.collector, service_name)
    }

    /// The meter provider; pass it to the code under test.
    pub fn meter_provider(&self) -> &SdkMeterProvider {
        &self.meter_provider
    }

    /// A meter from [`Self::meter_provider`], with the crate's one
    /// instrumentation scope ([`SCOPE_NAME`](crate::SCOPE_NAME)).
    pub fn meter(&self) -> Meter {
        self.meter_provider
            .meter_with_scope(instrumentation_scope())
    }

    /// A snapshot of every span ended so far, of every service.
    pub fn spans(&self) -> SpanSet {
        SpanSet::new(self.collector.snapshot())
    }

    /// Forgets the spans recorded so far (metrics are cumulative and stay).
    pub fn clear_spans(&self) {
        self.collector.clear();
    }

    /// Flushes the meter provider and returns the current value of every
    /// metric (cumulative since the start of the test). Empty when nothing
    /// was recorded.
    pub fn metrics(&self) -> MetricSet {
        // An error here means the provider was shut down: nothing new to read.
        let _ = self.meter_provider.force_flush();
        let exported = self
            .metric_exporter
            .get_finished_metrics()
            .unwrap_or_default();
        // Cumulative temporality: the last export holds everything; the
        // earlier ones are dropped so memory stays flat over many reads.
        self.metric_exporter.reset();
        MetricSet::from_resource_metrics(exported.last())
    }
}

fn resource(service_name: &str) -> Resource {
    Resource::builder_empty()
        .with_service_name(service_name.to_owned())
        .build()
}

fn tracer_provider_into(collector: &SpanCollector, service_name: &str) -> SdkTracerProvider {
    SdkTracerProvider::builder()
        .with_resource(resource(service_name))
        .with_simple_exporter(collector.exporter())
        .build()
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::Tracer as _;

    use super::*;
    use crate::attributes::DeclineCode;
    use crate::metrics::CheckoutMetrics;

    #[test]
    fn tracer_and_meters_share_the_crate_scope() {
        let telemetry = TestTelemetry::new("checkout");
        telemetry.sdk_tracer().in_span("cart.validate", |_| {});
        telemetry
            .meter()
            .u64_counter("test.counter")
            .build()
            .add(1, &[]);
        CheckoutMetrics::from_provider(telemetry.meter_provider())
            .record_decline(DeclineCode::InsufficientFunds);

        let spans = telemetry.spans();
        let span_scope = &spans.one("cart.validate").data().instrumentation_scope;
        assert_eq!(*span_scope, instrumentation_scope());
        assert_eq!(span_scope.version(), Some(env!("CARGO_PKG_VERSION")));

        telemetry.meter_provider.force_flush().unwrap();
        let exported = telemetry.metric_exporter.get_finished_metrics().unwrap();
        let scopes: Vec<_> = exported
            .last()
            .into_iter()
            .flat_map(|rm| rm.scope_metrics())
            .map(|sm| sm.scope().clone())
            .collect();
        // One scope: the kit's meter and the checkout meter are the same meter.
        assert_eq!(scopes, vec![instrumentation_scope()]);
    }
}
