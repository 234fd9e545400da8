//! The `tracing` filters: which spans and events reach the OpenTelemetry
//! layer and which the log output prints.
//!
//! The OpenTelemetry layer's level comes from the builder
//! ([`tracing_filter`](super::TelemetryBuilder::tracing_filter)), else
//! `OTEL_LOG_LEVEL`, else `RUST_LOG`, else [`DEFAULT_TRACING_FILTER`]; the
//! log output's from `RUST_LOG`, else [`DEFAULT_LOG_FILTER`]. Both are parsed
//! strictly when the configuration is resolved: a directive that does not
//! parse is [`ConfigError::InvalidLogFilter`] naming its source, never
//! dropped. Both filters are per-layer filters with level hints, so a
//! callsite below both levels is disabled for good (`Interest::never`) and
//! a `debug!` costs one cached-interest check.

use tracing_subscriber::filter::{EnvFilter, FilterExt as _, LevelFilter, Targets};
use tracing_subscriber::layer::Filter;
use tracing_subscriber::registry::LookupSpan;

use super::env::{Env, OTEL_LOG_LEVEL, RUST_LOG, out_of_range};
use super::limits::MAX_LOG_FILTER_BYTES;
use crate::error::{ConfigError, ConfigSource, echo};

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

/// The target of the crate's WARN lines about failing telemetry export:
/// failed span and metric exports and spans dropped from a full queue, at
/// most one line per signal per minute, with the counts since the previous
/// line. Logged on the exporter's threads and never exported.
pub const EXPORT_LOG_TARGET: &str = "checkout_otel::export";

/// The target of the crate's lines about its set-up, logged by `build` and
/// `init` (e.g. the WARN that no user-hash key is configured). Never
/// exported.
pub const INIT_LOG_TARGET: &str = "checkout_otel::init";

/// The log output's filter when `RUST_LOG` is unset.
pub const DEFAULT_LOG_FILTER: &str =
    "info,opentelemetry=warn,h2=warn,hyper=warn,tonic=warn,tower=warn";

/// The OpenTelemetry layer's filter when neither the builder, nor
/// `OTEL_LOG_LEVEL`, nor `RUST_LOG` sets one.
pub const DEFAULT_TRACING_FILTER: &str = "info";

/// The target of the request spans of the `tracing-opentelemetry-instrumentation-sdk`
/// family (axum-tracing-opentelemetry's `OtelAxumLayer`, ...), at TRACE.
const REQUEST_SPAN_TARGET: &str = "otel::tracing";

/// Added to the OpenTelemetry layer's filter unless it names
/// `otel::tracing` itself or is `off`, so those request spans are exported
/// at any level (as init-tracing-opentelemetry does).
pub const REQUEST_SPAN_DIRECTIVE: &str = "otel::tracing=trace";

/// The resolved filters, as directive strings already checked to parse.
pub(crate) struct LogFilters {
    /// The OpenTelemetry layer's directives.
    pub(crate) tracing: String,
    /// `RUST_LOG`, for the log output.
    pub(crate) rust_log: Option<String>,
}

/// Builder > `OTEL_LOG_LEVEL` > `RUST_LOG` > default for the OpenTelemetry
/// layer; every one present is checked, even when a higher one wins.
pub(crate) fn resolve(builder: Option<&str>, env: &Env<'_>) -> Result<LogFilters, ConfigError> {
    let rust_log = env.get(RUST_LOG)?;
    if let Some(directives) = &rust_log {
        parse(directives, ConfigSource::Env(RUST_LOG))?;
    }
    let level = env.parse(OTEL_LOG_LEVEL, parse_level)?;
    if let Some(directives) = builder {
        parse(directives, ConfigSource::Builder("tracing_filter"))?;
    }
    let tracing = builder
        .map(str::to_owned)
        .or(level)
        .or_else(|| rust_log.clone())
        .unwrap_or_else(|| DEFAULT_TRACING_FILTER.to_owned());
    Ok(LogFilters {
        tracing: with_request_spans(tracing),
        rust_log,
    })
}

/// `directives`, plus [`REQUEST_SPAN_DIRECTIVE`] unless they name its target
/// or turn everything off: the request spans of axum-tracing-opentelemetry's
/// `OtelAxumLayer` (and its tonic and reqwest siblings) are TRACE spans under
/// `otel::tracing`, and a service's server spans must not vanish because its
/// `RUST_LOG` says `info`.
fn with_request_spans(directives: String) -> String {
    let trimmed = directives.trim();
    if trimmed.contains(REQUEST_SPAN_TARGET) || trimmed == "off" || trimmed.is_empty() {
        directives
    } else {
        format!("{trimmed},{REQUEST_SPAN_DIRECTIVE}")
    }
}

/// `directives` as an [`EnvFilter`] (bare targets at INFO), or the error
/// naming `source_of`.
fn parse(directives: &str, source_of: ConfigSource) -> Result<EnvFilter, ConfigError> {
    if directives.len() > MAX_LOG_FILTER_BYTES {
        return Err(out_of_range(
            directives,
            source_of,
            format!("a filter of at most {MAX_LOG_FILTER_BYTES} bytes"),
        ));
    }
    EnvFilter::builder()
        .with_default_directive(LevelFilter::INFO.into())
        .parse(directives)
        .map_err(|e| ConfigError::InvalidLogFilter {
            value: echo(directives),
            source_of,
            reason: e.to_string(),
        })
}

/// `OTEL_LOG_LEVEL`: one level, as the specification has it (`none` is off).
fn parse_level(value: &str, source_of: ConfigSource) -> Result<String, ConfigError> {
    let level = value.trim().to_ascii_lowercase();
    match level.as_str() {
        "trace" | "debug" | "info" | "warn" | "error" | "off" => Ok(level),
        "none" => Ok("off".to_owned()),
        _ => Err(ConfigError::InvalidLogFilter {
            value: echo(value),
            source_of,
            reason: "expected one of trace, debug, info, warn, error, none".to_owned(),
        }),
    }
}

/// An already checked filter; should it fail after all, the default.
fn checked(directives: &str, default: &str) -> EnvFilter {
    parse(directives, ConfigSource::Builder("tracing_filter"))
        .unwrap_or_else(|_| EnvFilter::new(default))
}

/// The OpenTelemetry layer's filter: `directives`, and never the exporter's
/// own targets or the crate's own log lines (which would feed back).
pub(crate) fn otel_layer_filter<S>(directives: &str) -> impl Filter<S> + use<S>
where
    S: tracing::Subscriber + for<'span> LookupSpan<'span>,
{
    checked(directives, DEFAULT_TRACING_FILTER).and(internal_targets())
}

/// The log output's filter: `RUST_LOG`, else [`DEFAULT_LOG_FILTER`].
pub(crate) fn log_output_filter(rust_log: Option<&str>) -> EnvFilter {
    checked(rust_log.unwrap_or(DEFAULT_LOG_FILTER), DEFAULT_LOG_FILTER)
}

fn internal_targets() -> Targets {
    Targets::new()
        .with_default(LevelFilter::TRACE)
        .with_targets(
            EXPORTER_INTERNAL_TARGETS
                .iter()
                .chain(&[EXPORT_LOG_TARGET, INIT_LOG_TARGET])
                .map(|t| (*t, LevelFilter::OFF)),
        )
        // Targets match by prefix, so `tower` alone would also silence
        // tower-http's request spans (`tower_http::trace`): the service's own
        // server spans, which must stay the parents of its typed spans.
        .with_target("tower_http", LevelFilter::TRACE)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::ffi::OsString;

    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;

    use super::*;
    use crate::init::env::map_env;

    fn resolved(builder: Option<&str>, vars: &[(&str, &str)]) -> Result<String, ConfigError> {
        let map: HashMap<String, OsString> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), OsString::from(*v)))
            .collect();
        resolve(builder, &Env(&map_env(map))).map(|f| f.tracing)
    }

    #[test]
    fn builder_then_otel_log_level_then_rust_log_then_info() {
        let all = [(OTEL_LOG_LEVEL, "WARN"), (RUST_LOG, "debug")];
        let with = |d: &str| format!("{d},{REQUEST_SPAN_DIRECTIVE}");
        assert_eq!(resolved(Some("error"), &all).unwrap(), with("error"));
        assert_eq!(resolved(None, &all).unwrap(), with("warn"));
        assert_eq!(resolved(None, &all[1..]).unwrap(), with("debug"));
        assert_eq!(resolved(None, &[]).unwrap(), with(DEFAULT_TRACING_FILTER));
        assert_eq!(resolved(None, &[(OTEL_LOG_LEVEL, "none")]).unwrap(), "off");
    }

    #[test]
    fn request_spans_of_otel_axum_layer_pass_unless_named() {
        assert_eq!(
            resolved(Some("info,otel::tracing=off"), &[]).unwrap(),
            "info,otel::tracing=off"
        );
        let subscriber = tracing_subscriber::registry().with(
            tracing_subscriber::layer::Identity::new()
                .with_filter(otel_layer_filter(&resolved(Some("warn"), &[]).unwrap())),
        );
        let axum_layer_span = tracing::trace_span!(target: "otel::tracing", "HTTP request")
            .metadata()
            .expect("metadata");
        let debug = tracing::debug_span!("started processing request")
            .metadata()
            .expect("metadata");
        use tracing::Subscriber as _;
        assert!(subscriber.register_callsite(axum_layer_span).is_always());
        assert!(subscriber.register_callsite(debug).is_never());
    }

    #[test]
    fn an_invalid_filter_is_an_error_naming_its_source_even_when_overridden() {
        type Case<'a> = (Option<&'a str>, &'a [(&'a str, &'a str)], ConfigSource);
        let cases: [Case<'_>; 3] = [
            (
                Some("info"),
                &[(RUST_LOG, "checkout=verbose")],
                ConfigSource::Env(RUST_LOG),
            ),
            (
                None,
                &[(OTEL_LOG_LEVEL, "loud")],
                ConfigSource::Env(OTEL_LOG_LEVEL),
            ),
            (
                Some("svc=[span{=}"),
                &[],
                ConfigSource::Builder("tracing_filter"),
            ),
        ];
        for (builder, vars, expected) in cases {
            match resolved(builder, vars) {
                Err(ConfigError::InvalidLogFilter { source_of, .. }) => {
                    assert_eq!(source_of, expected);
                }
                other => panic!("{builder:?} {vars:?}: {other:?}"),
            }
        }
    }
}
