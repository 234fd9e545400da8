//! The environment: variable names, where they are read from, and the
//! parsers that turn a value into a setting or an error naming the variable.

use std::collections::HashMap;
use std::ffi::OsString;
use std::sync::Arc;
use std::time::Duration;

use super::config::{Compression, Exporter, Propagator, Protocol, Sampler};
use super::limits::MAX_SPAN_QUEUE_SIZE;
use crate::error::{ConfigError, ConfigSource, echo};

pub(crate) use super::env_lists::{check_headers, parse_headers, parse_key_values, set_header};

pub(crate) const OTEL_SERVICE_NAME: &str = "OTEL_SERVICE_NAME";
pub(crate) const OTEL_RESOURCE_ATTRIBUTES: &str = "OTEL_RESOURCE_ATTRIBUTES";
pub(crate) const OTEL_SDK_DISABLED: &str = "OTEL_SDK_DISABLED";
pub(crate) const OTEL_EXPORTER_OTLP_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
pub(crate) const OTEL_EXPORTER_OTLP_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_PROTOCOL";
pub(crate) const OTEL_EXPORTER_OTLP_HEADERS: &str = "OTEL_EXPORTER_OTLP_HEADERS";
pub(crate) const OTEL_EXPORTER_OTLP_TIMEOUT: &str = "OTEL_EXPORTER_OTLP_TIMEOUT";
/// A path to a PEM bundle of the CA certificates trusted for `https://`
/// endpoints (feature `tls`).
#[cfg_attr(not(feature = "tls"), allow(dead_code))]
pub(crate) const OTEL_EXPORTER_OTLP_CERTIFICATE: &str = "OTEL_EXPORTER_OTLP_CERTIFICATE";
/// `true` makes a gRPC endpoint without scheme plaintext (`http://`)
/// instead of TLS (`https://`).
pub(crate) const OTEL_EXPORTER_OTLP_INSECURE: &str = "OTEL_EXPORTER_OTLP_INSECURE";
/// `gzip` or `none`.
pub(crate) const OTEL_EXPORTER_OTLP_COMPRESSION: &str = "OTEL_EXPORTER_OTLP_COMPRESSION";
/// A path to the PEM private key of the client certificate (feature `tls`).
#[cfg_attr(not(feature = "tls"), allow(dead_code))]
pub(crate) const OTEL_EXPORTER_OTLP_CLIENT_KEY: &str = "OTEL_EXPORTER_OTLP_CLIENT_KEY";
/// A path to the PEM client certificate chain (feature `tls`).
#[cfg_attr(not(feature = "tls"), allow(dead_code))]
pub(crate) const OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: &str =
    "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE";
pub(crate) const OTEL_TRACES_SAMPLER: &str = "OTEL_TRACES_SAMPLER";
pub(crate) const OTEL_TRACES_SAMPLER_ARG: &str = "OTEL_TRACES_SAMPLER_ARG";
pub(crate) const OTEL_PROPAGATORS: &str = "OTEL_PROPAGATORS";
pub(crate) const OTEL_METRIC_EXPORT_INTERVAL: &str = "OTEL_METRIC_EXPORT_INTERVAL";
/// Never used by the SDK's exporters; checked so that a typo is an error.
pub(crate) const OTEL_METRIC_EXPORT_TIMEOUT: &str = "OTEL_METRIC_EXPORT_TIMEOUT";
/// The span export queue's capacity.
pub(crate) const OTEL_BSP_MAX_QUEUE_SIZE: &str = "OTEL_BSP_MAX_QUEUE_SIZE";
/// The most spans per export request.
pub(crate) const OTEL_BSP_MAX_EXPORT_BATCH_SIZE: &str = "OTEL_BSP_MAX_EXPORT_BATCH_SIZE";
/// The delay between two scheduled span exports.
pub(crate) const OTEL_BSP_SCHEDULE_DELAY: &str = "OTEL_BSP_SCHEDULE_DELAY";
/// Ignored by the SDK's thread-based batch processor; checked so that a typo is an error.
pub(crate) const OTEL_BSP_EXPORT_TIMEOUT: &str = "OTEL_BSP_EXPORT_TIMEOUT";
/// Ignored by the SDK's thread-based batch processor; checked so that a typo is an error.
pub(crate) const OTEL_BSP_MAX_CONCURRENT_EXPORTS: &str = "OTEL_BSP_MAX_CONCURRENT_EXPORTS";
/// The general attribute count limit, for spans, events and links alike.
pub(crate) const OTEL_ATTRIBUTE_COUNT_LIMIT: &str = "OTEL_ATTRIBUTE_COUNT_LIMIT";
pub(crate) const OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT: &str = "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT";
pub(crate) const OTEL_SPAN_EVENT_COUNT_LIMIT: &str = "OTEL_SPAN_EVENT_COUNT_LIMIT";
pub(crate) const OTEL_SPAN_LINK_COUNT_LIMIT: &str = "OTEL_SPAN_LINK_COUNT_LIMIT";
pub(crate) const OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT: &str = "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT";
pub(crate) const OTEL_LINK_ATTRIBUTE_COUNT_LIMIT: &str = "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT";
/// The filter of the log output.
pub(crate) const RUST_LOG: &str = "RUST_LOG";
/// The level of the `tracing` events and spans exported.
pub(crate) const OTEL_LOG_LEVEL: &str = "OTEL_LOG_LEVEL";

/// The variables of one signal, which win over the generic `OTEL_EXPORTER_OTLP_*`.
pub(crate) struct SignalVars {
    /// The signal as error messages name it.
    pub(crate) signal: &'static str,
    /// `OTEL_{SIGNAL}_EXPORTER`: `otlp`, `console` or `none`.
    pub(crate) exporter: &'static str,
    pub(crate) endpoint: &'static str,
    pub(crate) protocol: &'static str,
    pub(crate) headers: &'static str,
    pub(crate) timeout: &'static str,
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    pub(crate) certificate: &'static str,
    pub(crate) insecure: &'static str,
    pub(crate) compression: &'static str,
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    pub(crate) client_key: &'static str,
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    pub(crate) client_certificate: &'static str,
    /// Appended to a base URL for HTTP/protobuf.
    pub(crate) http_path: &'static str,
}

pub(crate) const TRACES: SignalVars = SignalVars {
    signal: "traces",
    exporter: "OTEL_TRACES_EXPORTER",
    endpoint: "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    protocol: "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    headers: "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
    timeout: "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
    certificate: "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
    insecure: "OTEL_EXPORTER_OTLP_TRACES_INSECURE",
    compression: "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
    client_key: "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY",
    client_certificate: "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE",
    http_path: "v1/traces",
};

pub(crate) const METRICS: SignalVars = SignalVars {
    signal: "metrics",
    exporter: "OTEL_METRICS_EXPORTER",
    endpoint: "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    protocol: "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
    headers: "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
    timeout: "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT",
    certificate: "OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE",
    insecure: "OTEL_EXPORTER_OTLP_METRICS_INSECURE",
    compression: "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION",
    client_key: "OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY",
    client_certificate: "OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE",
    http_path: "v1/metrics",
};

/// Logs: the same rules as the other signals.
pub(crate) const LOGS: SignalVars = SignalVars {
    signal: "logs",
    exporter: "OTEL_LOGS_EXPORTER",
    endpoint: "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
    protocol: "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL",
    headers: "OTEL_EXPORTER_OTLP_LOGS_HEADERS",
    timeout: "OTEL_EXPORTER_OTLP_LOGS_TIMEOUT",
    certificate: "OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE",
    insecure: "OTEL_EXPORTER_OTLP_LOGS_INSECURE",
    compression: "OTEL_EXPORTER_OTLP_LOGS_COMPRESSION",
    client_key: "OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY",
    client_certificate: "OTEL_EXPORTER_OTLP_LOGS_CLIENT_CERTIFICATE",
    http_path: "v1/logs",
};

/// Every variable the set-up reads. Each one present is checked for UTF-8
/// first, even where the builder or a more specific variable overrides it.
pub(crate) const ALL_VARS: &[&str] = &[
    OTEL_SERVICE_NAME,
    OTEL_RESOURCE_ATTRIBUTES,
    OTEL_SDK_DISABLED,
    OTEL_EXPORTER_OTLP_ENDPOINT,
    OTEL_EXPORTER_OTLP_PROTOCOL,
    OTEL_EXPORTER_OTLP_HEADERS,
    OTEL_EXPORTER_OTLP_TIMEOUT,
    OTEL_EXPORTER_OTLP_CERTIFICATE,
    OTEL_EXPORTER_OTLP_INSECURE,
    OTEL_EXPORTER_OTLP_COMPRESSION,
    OTEL_EXPORTER_OTLP_CLIENT_KEY,
    OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE,
    TRACES.exporter,
    TRACES.endpoint,
    TRACES.protocol,
    TRACES.headers,
    TRACES.timeout,
    TRACES.certificate,
    TRACES.insecure,
    TRACES.compression,
    TRACES.client_key,
    TRACES.client_certificate,
    METRICS.exporter,
    METRICS.endpoint,
    METRICS.protocol,
    METRICS.headers,
    METRICS.timeout,
    METRICS.certificate,
    METRICS.insecure,
    METRICS.compression,
    METRICS.client_key,
    METRICS.client_certificate,
    LOGS.exporter,
    LOGS.endpoint,
    LOGS.protocol,
    LOGS.headers,
    LOGS.timeout,
    LOGS.certificate,
    LOGS.insecure,
    LOGS.compression,
    LOGS.client_key,
    LOGS.client_certificate,
    OTEL_TRACES_SAMPLER,
    OTEL_TRACES_SAMPLER_ARG,
    OTEL_PROPAGATORS,
    OTEL_METRIC_EXPORT_INTERVAL,
    OTEL_METRIC_EXPORT_TIMEOUT,
    OTEL_BSP_MAX_QUEUE_SIZE,
    OTEL_BSP_MAX_EXPORT_BATCH_SIZE,
    OTEL_BSP_SCHEDULE_DELAY,
    OTEL_BSP_EXPORT_TIMEOUT,
    OTEL_BSP_MAX_CONCURRENT_EXPORTS,
    super::batch::OTEL_BLRP_MAX_QUEUE_SIZE,
    super::batch::OTEL_BLRP_MAX_EXPORT_BATCH_SIZE,
    super::batch::OTEL_BLRP_SCHEDULE_DELAY,
    super::batch::OTEL_BLRP_EXPORT_TIMEOUT,
    OTEL_ATTRIBUTE_COUNT_LIMIT,
    OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT,
    OTEL_SPAN_EVENT_COUNT_LIMIT,
    OTEL_SPAN_LINK_COUNT_LIMIT,
    OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT,
    OTEL_LINK_ATTRIBUTE_COUNT_LIMIT,
    RUST_LOG,
    OTEL_LOG_LEVEL,
    crate::pii::USER_HASH_KEY_ENV,
    crate::propagation::PROPAGATION_ALLOWED_HOSTS_ENV,
];

/// Where the set-up reads environment variables from: raw values, so that
/// one that is not UTF-8 is an error rather than a lossy copy.
pub(crate) type EnvSource = Arc<dyn Fn(&str) -> Option<OsString> + Send + Sync>;

/// The process environment, read with `var_os`.
pub(crate) fn process_env() -> EnvSource {
    Arc::new(|name| std::env::var_os(name))
}

/// An environment of exactly these pairs (`TelemetryBuilder::with_env`).
pub(crate) fn map_env(map: HashMap<String, OsString>) -> EnvSource {
    Arc::new(move |k| map.get(k).cloned())
}

/// An environment read through `lookup` (`TelemetryBuilder::env_source`).
pub(crate) fn fn_env(lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> EnvSource {
    Arc::new(move |k| lookup(k).map(OsString::from))
}

/// Reads an [`EnvSource`] the way the specification asks.
pub(crate) struct Env<'a>(pub(crate) &'a EnvSource);

impl Env<'_> {
    /// A variable's value; unset and empty (after trimming) are the same.
    ///
    /// # Errors
    /// [`ConfigError::NotUnicode`] naming `name` if the value is not UTF-8.
    pub(crate) fn get(&self, name: &'static str) -> Result<Option<String>, ConfigError> {
        match (self.0)(name).map(OsString::into_string) {
            None => Ok(None),
            Some(Ok(v)) => Ok(Some(v).filter(|v| !v.trim().is_empty())),
            Some(Err(_)) => Err(ConfigError::NotUnicode {
                source_of: ConfigSource::Env(name),
            }),
        }
    }

    /// Checks that every variable of [`ALL_VARS`] that is set is UTF-8.
    pub(crate) fn check_unicode(&self) -> Result<(), ConfigError> {
        ALL_VARS.iter().try_for_each(|var| self.get(var).map(drop))
    }

    /// `var` parsed by `parse`, `None` when unset.
    pub(crate) fn parse<T>(
        &self,
        var: &'static str,
        parse: impl FnOnce(&str, ConfigSource) -> Result<T, ConfigError>,
    ) -> Result<Option<T>, ConfigError> {
        self.get(var)?
            .map(|v| parse(&v, ConfigSource::Env(var)))
            .transpose()
    }
}

pub(crate) fn parse_protocol(
    value: &str,
    source_of: ConfigSource,
) -> Result<Protocol, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "grpc" => Ok(Protocol::Grpc),
        "http/protobuf" => Ok(Protocol::HttpProtobuf),
        _ => Err(ConfigError::InvalidProtocol {
            value: echo(value),
            source_of,
        }),
    }
}

/// `OTEL_{SIGNAL}_EXPORTER`: one of `otlp`, `console`, `none`. The
/// specification allows a comma-separated list; one exporter per signal is
/// supported, so a list naming two is refused (repeats are one).
pub(crate) fn parse_exporter(
    value: &str,
    source_of: ConfigSource,
) -> Result<Exporter, ConfigError> {
    let invalid = |reason: String| ConfigError::InvalidExporter {
        value: echo(value),
        source_of: source_of.clone(),
        reason,
    };
    let mut chosen: Option<Exporter> = None;
    for name in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let exporter = match name.to_ascii_lowercase().as_str() {
            "otlp" => Exporter::Otlp,
            "console" => Exporter::Console,
            "none" => Exporter::None,
            _ => {
                return Err(invalid(format!(
                    "unknown exporter {:?}: expected \"otlp\", \"console\" or \"none\"",
                    echo(name)
                )));
            }
        };
        match chosen {
            Some(first) if first != exporter => {
                return Err(invalid(
                    "one exporter per signal is supported: choose one of the list".to_owned(),
                ));
            }
            _ => chosen = Some(exporter),
        }
    }
    chosen.ok_or_else(|| invalid("no exporter named".to_owned()))
}

/// `OTEL_EXPORTER_OTLP_*COMPRESSION`: `gzip` or `none`. Gzip without the
/// cargo feature `gzip` is refused here, naming the feature.
pub(crate) fn parse_compression(
    value: &str,
    source_of: ConfigSource,
) -> Result<Compression, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "none" => Ok(Compression::None),
        "gzip" => check_compression(Compression::Gzip, source_of),
        _ => Err(ConfigError::InvalidCompression {
            value: echo(value),
            source_of,
        }),
    }
}

/// `compression` if this build can send it.
pub(crate) fn check_compression(
    compression: Compression,
    source_of: ConfigSource,
) -> Result<Compression, ConfigError> {
    if compression == Compression::Gzip && !cfg!(feature = "gzip") {
        return Err(ConfigError::FeatureDisabled {
            what: "gzip compression",
            source_of,
            feature: "gzip",
        });
    }
    Ok(compression)
}

pub(crate) fn parse_bool(value: &str, source_of: ConfigSource) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(ConfigError::InvalidBool {
            value: echo(value),
            source_of,
        }),
    }
}

/// What a variable holding a whole number says.
enum Number {
    /// Not a whole number written in decimal digits.
    Malformed,
    /// Digits, but more than `u64` holds.
    TooLarge,
    Value(u64),
}

fn number(value: &str) -> Number {
    let v = value.trim();
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Number::Malformed;
    }
    v.parse().map_or(Number::TooLarge, Number::Value)
}

/// The error of a value beyond its bound.
pub(crate) fn out_of_range(value: &str, source_of: ConfigSource, expected: String) -> ConfigError {
    ConfigError::OutOfRange {
        value: echo(value),
        source_of,
        expected,
    }
}

/// A parser of milliseconds in `1..=max`: zero or not a number is
/// [`ConfigError::InvalidDuration`], more than `max` is
/// [`ConfigError::OutOfRange`].
pub(crate) fn millis(
    max: Duration,
) -> impl Fn(&str, ConfigSource) -> Result<Duration, ConfigError> {
    move |value, source_of| {
        let max_ms = u64::try_from(max.as_millis()).unwrap_or(u64::MAX);
        match number(value) {
            Number::Value(ms @ 1..) if ms <= max_ms => Ok(Duration::from_millis(ms)),
            Number::Value(1..) | Number::TooLarge => Err(out_of_range(
                value,
                source_of,
                format!("1 to {max_ms} milliseconds"),
            )),
            Number::Value(0) | Number::Malformed => Err(ConfigError::InvalidDuration {
                value: echo(value),
                source_of,
            }),
        }
    }
}

/// A parser of a whole number in `min..=max` (`unit` says of what): not a
/// number is [`ConfigError::InvalidNumber`], outside the range
/// [`ConfigError::OutOfRange`].
pub(crate) fn count(
    min: u64,
    max: u64,
    unit: &'static str,
) -> impl Fn(&str, ConfigSource) -> Result<u64, ConfigError> {
    move |value, source_of| {
        let expected = || format!("{min} to {max} {unit}");
        match number(value) {
            Number::Value(n) if (min..=max).contains(&n) => Ok(n),
            Number::Value(_) | Number::TooLarge => Err(out_of_range(value, source_of, expected())),
            Number::Malformed => Err(ConfigError::InvalidNumber {
                value: echo(value),
                source_of,
                expected: expected(),
            }),
        }
    }
}

/// `OTEL_BSP_MAX_QUEUE_SIZE`: 1 to [`MAX_SPAN_QUEUE_SIZE`] spans.
pub(crate) fn parse_queue_size(value: &str, source_of: ConfigSource) -> Result<usize, ConfigError> {
    match number(value) {
        Number::Value(0) | Number::Malformed => Err(ConfigError::InvalidQueueSize {
            value: echo(value),
            source_of,
        }),
        Number::Value(n) => check_queue_size(n, value, source_of),
        Number::TooLarge => check_queue_size(u64::MAX, value, source_of),
    }
}

/// A queue size of `n` spans (`text` as the user wrote it), within the bound.
pub(crate) fn check_queue_size(
    n: u64,
    text: &str,
    source_of: ConfigSource,
) -> Result<usize, ConfigError> {
    match usize::try_from(n) {
        Ok(n @ 1..=MAX_SPAN_QUEUE_SIZE) => Ok(n),
        Ok(0) => Err(ConfigError::InvalidQueueSize {
            value: echo(text),
            source_of,
        }),
        _ => Err(out_of_range(
            text,
            source_of,
            format!("1 to {MAX_SPAN_QUEUE_SIZE} spans"),
        )),
    }
}

/// A builder duration: more than zero and at most `max`.
pub(crate) fn check_duration(
    d: Duration,
    method: &'static str,
    max: Duration,
) -> Result<Duration, ConfigError> {
    if d.is_zero() {
        Err(ConfigError::InvalidDuration {
            value: format!("{d:?}"),
            source_of: ConfigSource::Builder(method),
        })
    } else if d > max {
        Err(out_of_range(
            &format!("{d:?}"),
            ConfigSource::Builder(method),
            format!("more than zero and at most {max:?}"),
        ))
    } else {
        Ok(d)
    }
}

/// `OTEL_TRACES_SAMPLER` with `OTEL_TRACES_SAMPLER_ARG`; the argument is
/// checked whenever present, though only ratios use it.
pub(crate) fn sampler_from_env(env: &Env<'_>) -> Result<Sampler, ConfigError> {
    let arg = env
        .parse(OTEL_TRACES_SAMPLER_ARG, |v, source_of| {
            let invalid = || ConfigError::InvalidSamplerArg {
                value: echo(v),
                source_of: source_of.clone(),
            };
            let r: f64 = v.trim().parse().map_err(|_| invalid())?;
            check_ratio(r, v, source_of.clone())
        })?
        .unwrap_or(1.0);
    let Some(name) = env.get(OTEL_TRACES_SAMPLER)? else {
        return Ok(Sampler::default());
    };
    match name.trim().to_ascii_lowercase().as_str() {
        "always_on" => Ok(Sampler::AlwaysOn),
        "always_off" => Ok(Sampler::AlwaysOff),
        "traceidratio" => Ok(Sampler::TraceIdRatio(arg)),
        "parentbased_always_on" => Ok(Sampler::ParentBasedAlwaysOn),
        "parentbased_always_off" => Ok(Sampler::ParentBasedAlwaysOff),
        "parentbased_traceidratio" => Ok(Sampler::ParentBasedTraceIdRatio(arg)),
        _ => Err(ConfigError::InvalidSampler {
            value: echo(&name),
            source_of: ConfigSource::Env(OTEL_TRACES_SAMPLER),
        }),
    }
}

/// `r` if it is a ratio in `0.0..=1.0`; `text` is how the user wrote it.
pub(crate) fn check_ratio(r: f64, text: &str, source_of: ConfigSource) -> Result<f64, ConfigError> {
    if (0.0..=1.0).contains(&r) {
        Ok(r)
    } else {
        Err(ConfigError::InvalidSamplerArg {
            value: echo(text),
            source_of,
        })
    }
}

/// `OTEL_PROPAGATORS`: a de-duplicated list, empty for `none`.
pub(crate) fn parse_propagators(value: &str) -> Result<Vec<Propagator>, ConfigError> {
    let invalid = |value: &str| ConfigError::InvalidPropagator {
        value: echo(value),
        source_of: ConfigSource::Env(OTEL_PROPAGATORS),
    };
    let mut out = Vec::new();
    let mut none = false;
    for name in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let p = match name.to_ascii_lowercase().as_str() {
            "tracecontext" => Propagator::TraceContext,
            "baggage" => Propagator::Baggage,
            "none" => {
                none = true;
                continue;
            }
            _ => return Err(invalid(name)),
        };
        if !out.contains(&p) {
            out.push(p);
        }
    }
    // `none` alongside real propagators is contradictory: refuse it.
    if none && !out.is_empty() {
        return Err(invalid(value));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn propagators_parse() {
        assert_eq!(
            parse_propagators("baggage, tracecontext").unwrap(),
            vec![Propagator::Baggage, Propagator::TraceContext]
        );
        assert!(parse_propagators("none").unwrap().is_empty());
        assert!(matches!(
            parse_propagators("b3"),
            Err(ConfigError::InvalidPropagator { .. })
        ));
    }

    #[test]
    fn exporters_parse_one_per_signal() {
        let src = || ConfigSource::Env(TRACES.exporter);
        for (value, expected) in [
            ("otlp", Exporter::Otlp),
            (" Console ", Exporter::Console),
            ("none", Exporter::None),
            ("otlp, otlp", Exporter::Otlp),
        ] {
            assert_eq!(parse_exporter(value, src()).unwrap(), expected, "{value}");
        }
        for value in ["otlp,console", "prometheus", " , "] {
            match parse_exporter(value, src()) {
                Err(ConfigError::InvalidExporter { source_of, .. }) => {
                    assert_eq!(source_of, src());
                }
                other => panic!("{value}: {other:?}"),
            }
        }
    }

    #[test]
    fn compression_parses_and_gzip_needs_its_feature() {
        let src = || ConfigSource::Env(OTEL_EXPORTER_OTLP_COMPRESSION);
        assert_eq!(
            parse_compression(" NONE", src()).unwrap(),
            Compression::None
        );
        let gzip = parse_compression("gzip", src());
        if cfg!(feature = "gzip") {
            assert_eq!(gzip.unwrap(), Compression::Gzip);
        } else {
            assert!(matches!(
                gzip,
                Err(ConfigError::FeatureDisabled {
                    feature: "gzip",
                    ..
                })
            ));
        }
        assert!(matches!(
            parse_compression("zstd", src()),
            Err(ConfigError::InvalidCompression { .. })
        ));
    }

    #[test]
    fn every_signal_variable_is_checked_for_unicode() {
        for vars in [&TRACES, &METRICS, &LOGS] {
            for var in [
                vars.exporter,
                vars.endpoint,
                vars.protocol,
                vars.headers,
                vars.timeout,
                vars.certificate,
                vars.insecure,
                vars.compression,
                vars.client_key,
                vars.client_certificate,
            ] {
                assert!(ALL_VARS.contains(&var), "{var}");
            }
        }
    }

    /// The README's configuration table documents every variable read: by
    /// name, or a per-signal one by its generic name's row naming the
    /// signal's variant (`_LOGS_`) or "per-signal".
    #[test]
    fn the_readme_documents_every_variable() {
        let readme = include_str!("../../README.md");
        let rows: Vec<&str> = readme.lines().filter(|l| l.starts_with("| `")).collect();
        let mut vars: Vec<&str> = ALL_VARS.to_vec();
        vars.extend([
            crate::pii::USER_HASH_KEY_ENV,
            crate::propagation::PROPAGATION_ALLOWED_HOSTS_ENV,
            super::super::RESOURCE_DETECTORS_ENV,
            crate::spans::ExceptionSignal::ENV,
        ]);
        let mut missing = Vec::new();
        for var in vars {
            let named = |row: &&str| row.contains(&format!("`{var}`"));
            if rows.iter().any(named) {
                continue;
            }
            let generic = [&TRACES, &METRICS, &LOGS].iter().find_map(|signal| {
                let infix = format!("_{}_", signal.signal.to_ascii_uppercase());
                var.contains(&infix)
                    .then(|| (var.replacen(&infix[..infix.len() - 1], "", 1), infix))
            });
            let documented = generic.is_some_and(|(generic, infix)| {
                rows.iter().any(|row| {
                    row.contains(&format!("`{generic}`"))
                        && (row.contains(&format!("`{infix}`")) || row.contains("per-signal"))
                })
            });
            if !documented {
                missing.push(var);
            }
        }
        assert!(missing.is_empty(), "README lacks {missing:?}");
    }

    #[test]
    fn a_huge_value_is_not_echoed_whole() {
        let huge = "x".repeat(10 * 1024 * 1024);
        match millis(Duration::MAX)(&huge, ConfigSource::Env(OTEL_EXPORTER_OTLP_TIMEOUT)) {
            Err(e @ ConfigError::InvalidDuration { .. }) => {
                assert!(e.to_string().len() < 300, "{} bytes", e.to_string().len());
            }
            other => panic!("{other:?}"),
        }
    }
}
