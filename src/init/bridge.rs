//! The `tracing` bridge: the tracing-opentelemetry layer over the guard's
//! tracer, and the global subscriber `init` installs with it.

use opentelemetry_sdk::trace::SdkTracer;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{EnvFilter, LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::registry::LookupSpan;

use super::config::{RedactionPolicy, TelemetryConfig};
use super::log_output;
use crate::error::ConfigError;

/// Targets whose spans and events never reach the OpenTelemetry layer: the
/// exporter's own stack, which would otherwise trace its own exports.
pub const EXPORTER_INTERNAL_TARGETS: &[&str] = &[
    "h2",
    "hyper",
    "hyper_util",
    "tonic",
    "tower",
    "reqwest",
    "opentelemetry",
    "opentelemetry_sdk",
    "opentelemetry_otlp",
    "opentelemetry_http",
];

/// The log filter when `RUST_LOG` is unset.
pub const DEFAULT_LOG_FILTER: &str =
    "info,opentelemetry=warn,h2=warn,hyper=warn,tonic=warn,tower=warn";

/// The tracing-opentelemetry layer over `tracer`, without the exporter's
/// own targets.
pub(crate) fn layer<S>(tracer: SdkTracer, span_details: bool) -> impl Layer<S> + use<S>
where
    S: tracing::Subscriber + for<'span> LookupSpan<'span>,
{
    tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_context_activation(true)
        .with_location(span_details)
        .with_threads(span_details)
        .with_tracked_inactivity(span_details)
        .with_filter(internal_targets_filter())
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
        // Without RUST_LOG: info, but the SDK's own chatter only from warn.
        let directives = config.rust_log.as_deref().unwrap_or(DEFAULT_LOG_FILTER);
        let filter = EnvFilter::builder()
            .with_default_directive(LevelFilter::INFO.into())
            .parse_lossy(directives);
        let checked = config.redaction != RedactionPolicy::Off;
        log_output::fmt_layer(checked, config.log_trace_ids, std::io::stdout).with_filter(filter)
    });
    let subscriber = tracing_subscriber::registry().with(otel).with(fmt);
    tracing::subscriber::set_global_default(subscriber)
        .map_err(|_| ConfigError::SubscriberAlreadySet)
}

pub(super) fn internal_targets_filter() -> Targets {
    Targets::new()
        .with_default(LevelFilter::TRACE)
        .with_targets(
            EXPORTER_INTERNAL_TARGETS
                .iter()
                .map(|t| (*t, LevelFilter::OFF)),
        )
        // Targets match by prefix, so `tower` alone would also silence
        // tower-http's request spans (`tower_http::trace`): the service's own
        // server spans, which must stay the parents of its typed spans.
        .with_target("tower_http", LevelFilter::TRACE)
}
