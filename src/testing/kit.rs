//! The kit itself: providers that export into memory, and the handles a
//! test passes to the code under test.

use std::fmt;
use std::sync::Mutex;

use opentelemetry::metrics::Meter;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};

use super::logs::{LogSet, LogStore};
use super::metrics::{MetricRequests, MetricSet};
use super::spans::SpanSet;
use crate::error::ConfigError;
use crate::init::{Telemetry, TelemetryBuilder, TelemetryGuard};
use crate::spans::CheckoutTracer;
use crate::waterfall::SpanCollector;

/// Tests rarely make this many spans; beyond it the oldest are evicted.
const MAX_TEST_SPANS: usize = 1_000_000;

/// In-memory telemetry for a test: the production pipeline of
/// [`Telemetry::builder`] (resource, sampler, PII redaction at the exit, the
/// crate's one instrumentation scope, the guard's propagator and user
/// hasher) with in-memory exporters at its end, so what a test sees is what
/// a collector would receive. Each instance is independent, so tests can run
/// in parallel; nothing is installed globally.
///
/// Spans are kept after the providers shut down (unlike the SDK's
/// `InMemorySpanExporter`, which clears them).
pub struct TestTelemetry {
    service: String,
    collector: SpanCollector,
    guard: TelemetryGuard,
    /// The checked OTLP metric requests.
    metric_requests: MetricRequests,
    /// The checked log records.
    logs: LogStore,
    /// Further services exporting into the same span store
    /// ([`TestTelemetry::tracer_provider_for`]), kept alive with the kit.
    others: Mutex<Vec<TelemetryGuard>>,
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
    /// The default pipeline for a service named `service_name`, ignoring the
    /// process environment (`OTEL_*` variables), so tests do not depend on
    /// where they run.
    ///
    /// # Panics
    /// If `service_name` is empty: a test kit without a service is a bug in
    /// the test. Use [`TestTelemetry::from_builder`] to get the error instead.
    pub fn new(service_name: &str) -> Self {
        match Self::from_builder(hermetic(service_name)) {
            Ok(kit) => kit,
            Err(e) => panic!("TestTelemetry::new({service_name:?}): {e}"),
        }
    }

    /// The pipeline `builder` configures (your service's production
    /// set-up: strict redaction, user-hash key, sampler, resource), with
    /// in-memory exporters at its end instead of OTLP or the console. Use
    /// `builder.with_env(..)` to keep the process environment out.
    ///
    /// ```
    /// use checkout_otel::Telemetry;
    /// use checkout_otel::testing::TestTelemetry;
    ///
    /// let key = "ab".repeat(32);
    /// let telemetry = TestTelemetry::from_builder(
    ///     Telemetry::builder("checkout")
    ///         .with_env([("CHECKOUT_OTEL_USER_HASH_KEY", key.as_str())]),
    /// )
    /// .unwrap();
    /// let user = telemetry.tracer().user("customer-42");
    /// assert_eq!(user.hash().len(), 64);
    /// ```
    ///
    /// # Errors
    /// Any [`ConfigError`] of the builder's settings.
    pub fn from_builder(builder: TelemetryBuilder) -> Result<Self, ConfigError> {
        let collector = SpanCollector::with_max_spans(MAX_TEST_SPANS);
        let metric_requests = MetricRequests::default();
        let logs = LogStore::default();
        let guard = builder
            .with_test_exporters(collector.exporter(), metric_requests.clone(), logs.clone())
            .build()?;
        Ok(TestTelemetry {
            service: guard.config().service_name().to_owned(),
            collector,
            guard,
            metric_requests,
            logs,
            others: Mutex::new(Vec::new()),
        })
    }

    /// The service name given to [`TestTelemetry::new`].
    pub fn service_name(&self) -> &str {
        &self.service
    }

    /// The guard of the pipeline under test: what `build()` hands a service
    /// (propagator, user hasher, tracing layer, counters).
    pub fn guard(&self) -> &TelemetryGuard {
        &self.guard
    }

    /// The tracer provider; pass it (or a tracer from it) to the code under test.
    pub fn tracer_provider(&self) -> &SdkTracerProvider {
        self.guard.tracer_provider()
    }

    /// The crate's tracer for the span helpers, exactly as
    /// [`TelemetryGuard::tracer`] hands it out: spans started from it record
    /// the checkout metrics too.
    pub fn tracer(&self) -> CheckoutTracer {
        self.guard.tracer()
    }

    /// A raw SDK tracer from [`Self::tracer_provider`], with the crate's one
    /// instrumentation scope ([`SCOPE_NAME`](crate::SCOPE_NAME)).
    pub fn sdk_tracer(&self) -> SdkTracer {
        self.guard.sdk_tracer()
    }

    /// Another tracer provider, for a second service (its own `service.name`,
    /// the same default pipeline) exporting into the same store: for tests of
    /// a trace that crosses services in one process. It lives as long as the
    /// kit. Its metrics are not collected.
    pub fn tracer_provider_for(&self, service_name: &str) -> SdkTracerProvider {
        let guard = match hermetic(service_name)
            .with_test_exporters(
                self.collector.exporter(),
                MetricRequests::default(),
                self.logs.clone(),
            )
            .build()
        {
            Ok(guard) => guard,
            Err(e) => panic!("TestTelemetry::tracer_provider_for({service_name:?}): {e}"),
        };
        let provider = guard.tracer_provider().clone();
        self.others
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(guard);
        provider
    }

    /// The meter provider; pass it to the code under test.
    pub fn meter_provider(&self) -> &SdkMeterProvider {
        self.guard.meter_provider()
    }

    /// A meter from [`Self::meter_provider`], with the crate's one
    /// instrumentation scope ([`SCOPE_NAME`](crate::SCOPE_NAME)).
    pub fn meter(&self) -> Meter {
        self.guard.meter()
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
    /// metric (cumulative since the start of the test), as a collector would
    /// receive it: after the exit check. Empty when nothing was recorded.
    pub fn metrics(&self) -> MetricSet {
        // An error here means the provider was shut down: nothing new to read.
        let _ = self.guard.meter_provider().force_flush();
        MetricSet::from_request(self.metric_requests.take_latest().as_ref())
    }

    /// A snapshot of every log record exported so far (after the exit
    /// check), of every service, in emission order.
    pub fn logs(&self) -> LogSet {
        LogSet::new(self.logs.snapshot())
    }

    /// Forgets the log records exported so far.
    pub fn clear_logs(&self) {
        self.logs.clear();
    }

    /// A `tracing` subscriber over this kit's pipeline: the tracing bridge
    /// ([`TelemetryGuard::tracing_layer`]) and the logs bridge
    /// ([`TelemetryGuard::logs_layer`]), as `init` installs them. Use it
    /// with `tracing::subscriber::with_default` (or `set_default`) for the
    /// code under test.
    pub fn subscriber(&self) -> impl tracing::Subscriber + Send + Sync + use<> {
        use tracing_subscriber::layer::SubscriberExt as _;
        tracing_subscriber::registry()
            .with(self.guard.tracing_layer())
            .with(self.guard.logs_layer())
    }
}

/// The default set-up of `service_name`, blind to the process environment.
fn hermetic(service_name: &str) -> TelemetryBuilder {
    Telemetry::builder(service_name).with_env(Vec::<(String, String)>::new())
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::Tracer as _;

    use super::*;
    use crate::attributes::DeclineCode;
    use crate::metrics::CheckoutMetrics;
    use crate::scope::instrumentation_scope;

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

        telemetry.meter_provider().force_flush().unwrap();
        let exported = telemetry.metric_requests.take_latest().expect("exported");
        let scopes: Vec<_> = exported
            .resource_metrics
            .iter()
            .flat_map(|rm| &rm.scope_metrics)
            .map(|sm| {
                let scope = sm.scope.clone().unwrap_or_default();
                (scope.name, scope.version, sm.schema_url.clone())
            })
            .collect();
        // One scope: the kit's meter and the checkout meter are the same meter.
        let crate_scope = instrumentation_scope();
        assert_eq!(
            scopes,
            vec![(
                crate_scope.name().to_owned(),
                crate_scope.version().unwrap_or_default().to_owned(),
                crate_scope.schema_url().unwrap_or_default().to_owned()
            )]
        );
    }

    #[test]
    fn spans_pass_the_production_exit_check() {
        use opentelemetry::KeyValue;
        use opentelemetry::trace::Span as _;

        let telemetry = TestTelemetry::new("checkout");
        let mut span = telemetry.sdk_tracer().start("checkout.process");
        span.set_attribute(KeyValue::new("customer.note", "mail jane.doe@example.com"));
        span.end();

        let spans = telemetry.spans();
        let span = spans.one("checkout.process");
        assert_eq!(
            span.attr_str("customer.note"),
            Some(format!("mail {}", crate::pii::EMAIL_MASK).as_str())
        );
        assert_eq!(span.service(), "checkout");
        assert_eq!(
            telemetry.guard().redaction_counters().map(|c| c.emails()),
            Some(1)
        );
    }

    #[test]
    fn a_second_service_exports_into_the_same_store() {
        use opentelemetry::trace::TracerProvider as _;

        let telemetry = TestTelemetry::new("gateway");
        let payment = telemetry.tracer_provider_for("payment");
        telemetry.sdk_tracer().in_span("POST /checkout", |cx| {
            let _ = opentelemetry::trace::Tracer::start_with_context(
                &payment.tracer("payment"),
                "payment.process",
                &cx,
            );
        });
        let spans = telemetry.spans();
        let child = spans.one("payment.process");
        assert_eq!(child.service(), "payment");
        assert_eq!(child.parent().map(|p| p.service()), Some("gateway"));
    }
}
