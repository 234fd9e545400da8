//! The `tracing` bridge: the tracing-opentelemetry layer over the guard's
//! tracer, and the global subscriber `init` installs with it.

use opentelemetry_sdk::trace::SdkTracer;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::registry::LookupSpan;

use super::config::{RedactionPolicy, TelemetryConfig};
use super::{filter, log_output};
use crate::error::ConfigError;

/// The tracing-opentelemetry layer over `tracer`, filtered by the
/// configured level (see [`filter`]) and without the exporter's own targets
/// or the crate's log lines.
pub(crate) fn layer<S>(tracer: SdkTracer, config: &TelemetryConfig) -> impl Layer<S> + use<S>
where
    S: tracing::Subscriber + for<'span> LookupSpan<'span>,
{
    let span_details = config.span_details;
    tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_context_activation(true)
        // `target` is not in the contract: with the location, a detail.
        .with_target(span_details)
        .with_location(span_details)
        .with_threads(span_details)
        .with_tracked_inactivity(span_details)
        .with_filter(filter::otel_layer_filter(&config.tracing_filter))
}

/// Installs the global subscriber: `otel` (the layer, unless disabled) and,
/// with log output on, a fmt layer filtered by `RUST_LOG` whose lines pass
/// the exit check (see [`log_output`]) unless redaction is off. Refused,
/// changing nothing, when a global subscriber exists.
pub(crate) fn install_subscriber<L>(
    otel: Option<L>,
    config: &TelemetryConfig,
) -> Result<(), ConfigError>
where
    L: Layer<tracing_subscriber::Registry> + Send + Sync + 'static,
{
    let fmt = config.log_output.then(|| {
        let filter = filter::log_output_filter(config.rust_log.as_deref());
        let checked = config.redaction != RedactionPolicy::Off;
        log_output::fmt_layer(checked, config.log_trace_ids, std::io::stdout).with_filter(filter)
    });
    let subscriber = tracing_subscriber::registry().with(otel).with(fmt);
    tracing::subscriber::set_global_default(subscriber)
        .map_err(|_| ConfigError::SubscriberAlreadySet)
}
