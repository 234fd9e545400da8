//! The guard: owns everything `build` set up, hands it out, and shuts it
//! down within a bound.

use std::fmt;
use std::io::Write as _;
use std::sync::Arc;

use opentelemetry::metrics::{Meter, MeterProvider as _};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use tracing_subscriber::Layer;
use tracing_subscriber::registry::LookupSpan;

use super::config::TelemetryConfig;
use super::pipeline::Pipeline;
use super::propagator::SharedPropagator;
use super::queue::SpanExportStats;
use super::shutdown;
use super::{bridge, logs};
use crate::error::{ConfigError, ShutdownError, ShutdownOperation};
use crate::metrics::CheckoutMetrics;
use crate::pii::{self, RedactionCounters, UserHasher};
use crate::scope::instrumentation_scope;
use crate::spans::CheckoutTracer;

/// Owns the providers, propagator, user hasher and checkout meter that
/// [`build`](super::TelemetryBuilder::build) or
/// [`init`](super::TelemetryBuilder::init) set up, hands them out, and
/// flushes and shuts them down within the configured bound on
/// [`shutdown`](Self::shutdown) or drop.
#[must_use = "dropping the guard shuts telemetry down at once: keep it for the life of the service with `let _telemetry = ...` (not `let _ = ...`)"]
pub struct TelemetryGuard {
    config: TelemetryConfig,
    pipeline: Pipeline,
    metrics: CheckoutMetrics,
    /// The configured key's hasher; `None`: the process-wide one.
    user_hasher: Option<Arc<UserHasher>>,
    done: bool,
}

impl fmt::Debug for TelemetryGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TelemetryGuard")
            .field("config", &self.config)
            .field("shut_down", &self.done)
            .finish_non_exhaustive()
    }
}

impl TelemetryGuard {
    pub(crate) fn new(config: TelemetryConfig, pipeline: Pipeline) -> Self {
        // Said at set-up, where a service reads it, rather than in the
        // first customer's span.
        if config.user_hasher.is_none() && !config.disabled {
            pii::report_random_key_at_init();
        }
        TelemetryGuard {
            metrics: CheckoutMetrics::from_provider(&pipeline.meter_provider),
            user_hasher: config.user_hasher.clone().map(Arc::new),
            config,
            pipeline,
            done: false,
        }
    }

    /// The tracer for the span helpers, with everything of this guard
    /// attached: the checkout meter (spans also record the checkout
    /// metrics), the propagator and the user hasher.
    pub fn tracer(&self) -> CheckoutTracer {
        CheckoutTracer::from_parts(
            self.sdk_tracer(),
            self.metrics.clone(),
            self.propagator().into(),
            self.user_hasher(),
            self.config.propagation_allowed_hosts.clone(),
            self.config.exception_signal,
        )
    }

    /// The propagator built once from `OTEL_PROPAGATORS` (default W3C
    /// trace-context + baggage; empty for `none` and in a disabled set-up):
    /// the one [`tracer`](Self::tracer) uses and `init` installs globally.
    pub fn propagator(&self) -> SharedPropagator {
        self.pipeline.propagator.clone()
    }

    /// The `user.hash` hasher: the configured key's
    /// ([`user_hash_key`](super::TelemetryBuilder::user_hash_key) or
    /// `CHECKOUT_OTEL_USER_HASH_KEY`), else the process-wide
    /// [`pii::user_hasher`], so [`tracer`](Self::tracer) and
    /// [`UserRef::new`](crate::pii::UserRef::new) agree.
    pub fn user_hasher(&self) -> Arc<UserHasher> {
        match &self.user_hasher {
            Some(hasher) => hasher.clone(),
            None => pii::user_hasher(),
        }
    }

    /// The checkout meter over this guard's meter provider, for recording by hand.
    pub fn metrics(&self) -> &CheckoutMetrics {
        &self.metrics
    }

    /// What became of the spans sent to the OTLP exporter so far: queued,
    /// dropped because the queue was full, exported, failed. All zero when
    /// spans are not exported over OTLP.
    pub fn span_export_stats(&self) -> SpanExportStats {
        self.pipeline.accounts.span_queue.stats()
    }

    /// What became of the log records sent to the OTLP exporter so far, in
    /// the same counters as [`span_export_stats`](Self::span_export_stats)
    /// (each field counts log records): queued, dropped because the log
    /// queue was full, exported, failed. All zero when logs are not exported
    /// over OTLP.
    pub fn log_export_stats(&self) -> SpanExportStats {
        self.pipeline.accounts.log_queue.stats()
    }

    /// What the exit check masked, hashed and dropped so far in everything
    /// this guard exported (spans, log records, the resource, metric
    /// requests); `None`
    /// when redaction is off.
    pub fn redaction_counters(&self) -> Option<&RedactionCounters> {
        self.pipeline.redaction.as_ref()
    }

    /// A tracer with this crate's instrumentation scope (`checkout-otel`,
    /// crate version, schema URL), from this guard's provider.
    pub fn sdk_tracer(&self) -> SdkTracer {
        self.pipeline
            .tracer_provider
            .tracer_with_scope(instrumentation_scope())
    }

    /// A meter with this crate's instrumentation scope, from this guard's provider.
    pub fn meter(&self) -> Meter {
        self.pipeline
            .meter_provider
            .meter_with_scope(instrumentation_scope())
    }

    /// The tracer provider.
    pub fn tracer_provider(&self) -> &SdkTracerProvider {
        &self.pipeline.tracer_provider
    }

    /// The meter provider.
    pub fn meter_provider(&self) -> &SdkMeterProvider {
        &self.pipeline.meter_provider
    }

    /// The logger provider: its first processor is the exit check, so every
    /// record emitted through it (by the [`logs_layer`](Self::logs_layer) or
    /// the `opentelemetry` logs API) is checked before it is queued.
    pub fn logger_provider(&self) -> &SdkLoggerProvider {
        &self.pipeline.logger_provider
    }

    /// The resource on every span and metric: the configured one
    /// ([`TelemetryConfig::resource`]) after the exit check.
    pub fn resource(&self) -> &Resource {
        &self.pipeline.resource
    }

    /// The effective configuration.
    pub fn config(&self) -> &TelemetryConfig {
        &self.config
    }

    /// `false` for a disabled (`OTEL_SDK_DISABLED=true`) set-up.
    pub fn is_enabled(&self) -> bool {
        !self.config.disabled
    }

    /// The tracing-opentelemetry layer over this guard's provider, filtered
    /// by the configured level ([`TelemetryConfig::tracing_filter`]: the
    /// builder's `tracing_filter`, else `OTEL_LOG_LEVEL`, else `RUST_LOG`,
    /// else `info`) and without the exporter's own targets and the crate's
    /// log lines: add it to your own subscriber when the bridge is off. The
    /// filter is the layer's own, so your other layers keep theirs.
    ///
    /// ```
    /// use tracing_subscriber::layer::SubscriberExt;
    /// # fn main() -> Result<(), checkout_otel::error::ConfigError> {
    /// let telemetry = checkout_otel::init::Telemetry::builder("svc")
    ///     .tracing_bridge(false)
    /// #   .traces_exporter(checkout_otel::init::Exporter::None)
    /// #   .metrics_exporter(checkout_otel::init::Exporter::None)
    ///     .build()?;
    /// let subscriber = tracing_subscriber::registry().with(telemetry.tracing_layer());
    /// tracing::subscriber::with_default(subscriber, || {
    ///     tracing::info_span!("cart.validate").in_scope(|| {});
    /// });
    /// # Ok(())
    /// # }
    /// ```
    pub fn tracing_layer<S>(&self) -> impl Layer<S> + use<S>
    where
        S: tracing::Subscriber + for<'span> LookupSpan<'span>,
    {
        bridge::layer(self.sdk_tracer(), &self.config)
    }

    /// The logs bridge over this guard's logger provider: each `tracing`
    /// event becomes an OpenTelemetry log record with its severity, message
    /// (the body), fields (attributes), `event.name` when the event has one
    /// (`info!(name: "order.placed", ..)`), and the trace and span id of the
    /// span it was emitted in, a `tracing` span or a typed one. Events of the
    /// exporter's own crates ([`EXPORTER_INTERNAL_TARGETS`](super::EXPORTER_INTERNAL_TARGETS))
    /// are left out. `init` installs it; add it to your own subscriber
    /// beside [`tracing_layer`](Self::tracing_layer) when the bridge is off.
    ///
    /// ```
    /// use tracing_subscriber::layer::SubscriberExt;
    /// # fn main() -> Result<(), checkout_otel::error::ConfigError> {
    /// let telemetry = checkout_otel::init::Telemetry::builder("svc")
    ///     .tracing_bridge(false)
    ///     .console_output(false)
    ///     .build()?;
    /// let subscriber = tracing_subscriber::registry()
    ///     .with(telemetry.tracing_layer())
    ///     .with(telemetry.logs_layer());
    /// tracing::subscriber::with_default(subscriber, || {
    ///     tracing::info_span!("checkout.process").in_scope(|| {
    ///         tracing::info!(name: "order.placed", items = 3, "order placed");
    ///     });
    /// });
    /// # Ok(())
    /// # }
    /// ```
    pub fn logs_layer<S>(&self) -> impl Layer<S> + use<S>
    where
        S: tracing::Subscriber + for<'span> LookupSpan<'span>,
    {
        logs::layer(&self.pipeline.logger_provider, &self.config.tracing_filter)
    }

    /// Exports everything buffered, within the shutdown bound.
    ///
    /// # Errors
    /// A [`ShutdownError`] if the bound was exceeded, an export failed (the
    /// SDK alone would report success for some failed exports), or spans were
    /// dropped from a full queue since the previous flush or shutdown, with
    /// the counts per signal.
    pub fn force_flush(&self) -> Result<(), ShutdownError> {
        self.bounded(ShutdownOperation::Flush)
    }

    /// Flushes and shuts down both providers, returning within the shutdown
    /// bound whatever the collector does.
    ///
    /// # Errors
    /// A [`ShutdownError`] saying, per signal, whether it overran the bound,
    /// how many exports failed and how many spans were dropped from a full
    /// queue since the previous flush.
    pub fn shutdown(mut self) -> Result<(), ShutdownError> {
        self.done = true;
        self.bounded(ShutdownOperation::Shutdown)
    }

    fn bounded(&self, op: ShutdownOperation) -> Result<(), ShutdownError> {
        let providers = shutdown::Providers {
            tracer: &self.pipeline.tracer_provider,
            meter: &self.pipeline.meter_provider,
            logger: &self.pipeline.logger_provider,
        };
        shutdown::run(
            op,
            self.config.shutdown_timeout,
            providers,
            &self.pipeline.accounts,
        )
    }

    /// Installs what this guard owns as the process's globals: the
    /// subscriber first, so that its refusal leaves every global untouched.
    pub(crate) fn install_globals(&self) -> Result<(), ConfigError> {
        if self.config.tracing_bridge {
            let otel =
                (!self.config.disabled).then(|| self.tracing_layer().and_then(self.logs_layer()));
            bridge::install_subscriber(otel, &self.config)?;
        }
        if let Some(hasher) = &self.user_hasher {
            pii::install_user_hasher(UserHasher::clone(hasher));
        }
        crate::spans::install_exception_signal(self.config.exception_signal);
        if !self.config.disabled {
            opentelemetry::global::set_tracer_provider(self.pipeline.tracer_provider.clone());
            opentelemetry::global::set_meter_provider(self.pipeline.meter_provider.clone());
            opentelemetry::global::set_text_map_propagator(self.propagator());
            crate::spans::CheckoutTracer::install_global();
        }
        Ok(())
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        self.done = true;
        if let Err(e) = self.bounded(ShutdownOperation::Shutdown) {
            // Drop cannot return the error; stderr is the one place left.
            let _ = writeln!(std::io::stderr(), "checkout-otel: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guard_can_be_shared_across_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<TelemetryGuard>();
        send_sync::<TelemetryConfig>();
    }
}
