//! The environment: variable names, where they are read from, and the
//! parsers that turn a value into a setting or an error naming the variable.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderName, HeaderValue};

use super::config::{Propagator, Protocol, Sampler};
use crate::error::{ConfigError, ConfigSource, echo};

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
pub(crate) const OTEL_TRACES_SAMPLER: &str = "OTEL_TRACES_SAMPLER";
pub(crate) const OTEL_TRACES_SAMPLER_ARG: &str = "OTEL_TRACES_SAMPLER_ARG";
pub(crate) const OTEL_PROPAGATORS: &str = "OTEL_PROPAGATORS";
pub(crate) const OTEL_METRIC_EXPORT_INTERVAL: &str = "OTEL_METRIC_EXPORT_INTERVAL";
/// The span export queue's capacity.
pub(crate) const OTEL_BSP_MAX_QUEUE_SIZE: &str = "OTEL_BSP_MAX_QUEUE_SIZE";
/// The filter of the log output.
pub(crate) const RUST_LOG: &str = "RUST_LOG";

/// The variables of one signal, which win over the generic `OTEL_EXPORTER_OTLP_*`.
pub(crate) struct SignalVars {
    pub(crate) endpoint: &'static str,
    pub(crate) protocol: &'static str,
    pub(crate) headers: &'static str,
    pub(crate) timeout: &'static str,
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    pub(crate) certificate: &'static str,
    pub(crate) insecure: &'static str,
    /// Appended to a base URL for HTTP/protobuf.
    pub(crate) http_path: &'static str,
}

pub(crate) const TRACES: SignalVars = SignalVars {
    endpoint: "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    protocol: "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    headers: "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
    timeout: "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
    certificate: "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
    insecure: "OTEL_EXPORTER_OTLP_TRACES_INSECURE",
    http_path: "v1/traces",
};

pub(crate) const METRICS: SignalVars = SignalVars {
    endpoint: "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    protocol: "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
    headers: "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
    timeout: "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT",
    certificate: "OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE",
    insecure: "OTEL_EXPORTER_OTLP_METRICS_INSECURE",
    http_path: "v1/metrics",
};

/// Where the set-up reads environment variables from.
pub(crate) type EnvSource = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// The process environment. A value that is not UTF-8 is passed on lossily so
/// that parsing rejects it with a clear error instead of ignoring it.
pub(crate) fn process_env() -> EnvSource {
    Arc::new(|name| match std::env::var(name) {
        Ok(v) => Some(v),
        Err(std::env::VarError::NotPresent) => None,
        Err(std::env::VarError::NotUnicode(v)) => Some(v.to_string_lossy().into_owned()),
    })
}

/// An environment of exactly these pairs (`TelemetryBuilder::with_env`).
pub(crate) fn map_env(map: HashMap<String, String>) -> EnvSource {
    Arc::new(move |k| map.get(k).cloned())
}

/// Reads an [`EnvSource`] the way the specification asks.
pub(crate) struct Env<'a>(pub(crate) &'a EnvSource);

impl Env<'_> {
    /// A variable's value; unset and empty (after trimming) are the same.
    pub(crate) fn get(&self, name: &str) -> Option<String> {
        (self.0)(name).filter(|v| !v.trim().is_empty())
    }

    /// `var` parsed by `parse`, `None` when unset.
    pub(crate) fn parse<T>(
        &self,
        var: &'static str,
        parse: impl FnOnce(&str, ConfigSource) -> Result<T, ConfigError>,
    ) -> Result<Option<T>, ConfigError> {
        self.get(var)
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

pub(crate) fn parse_millis(value: &str, source_of: ConfigSource) -> Result<Duration, ConfigError> {
    match value.trim().parse::<u64>() {
        Ok(ms) if ms > 0 => Ok(Duration::from_millis(ms)),
        _ => Err(ConfigError::InvalidDuration {
            value: echo(value),
            source_of,
        }),
    }
}

pub(crate) fn parse_queue_size(value: &str, source_of: ConfigSource) -> Result<usize, ConfigError> {
    match value.trim().parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(ConfigError::InvalidQueueSize {
            value: echo(value),
            source_of,
        }),
    }
}

/// A builder duration: anything but zero.
pub(crate) fn check_duration(d: Duration, method: &'static str) -> Result<Duration, ConfigError> {
    if d.is_zero() {
        Err(ConfigError::InvalidDuration {
            value: format!("{d:?}"),
            source_of: ConfigSource::Builder(method),
        })
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
    let Some(name) = env.get(OTEL_TRACES_SAMPLER) else {
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

/// Headers from `var` (`k=v,...`, percent-decoded); `None` when unset.
pub(crate) fn parse_headers(
    env: &Env<'_>,
    var: &'static str,
) -> Result<Option<Vec<(HeaderName, HeaderValue)>>, ConfigError> {
    env.parse(var, |value, source_of| {
        let pairs = parse_key_values(value).map_err(|reason| ConfigError::InvalidHeaders {
            source_of: source_of.clone(),
            reason,
        })?;
        let mut headers = Vec::new();
        for (k, v) in pairs {
            set_header(&mut headers, &k, &v, source_of.clone())?;
        }
        Ok(headers)
    })
}

/// Sets header `key` (replacing one of the same name). Errors never quote the value.
pub(crate) fn set_header(
    headers: &mut Vec<(HeaderName, HeaderValue)>,
    key: &str,
    value: &str,
    source_of: ConfigSource,
) -> Result<(), ConfigError> {
    let key = key.trim();
    let name = HeaderName::from_bytes(key.as_bytes()).map_err(|_| ConfigError::InvalidHeaders {
        source_of: source_of.clone(),
        reason: format!("{:?} is not a valid header name", echo(key)),
    })?;
    let value = HeaderValue::from_str(value.trim()).map_err(|_| ConfigError::InvalidHeaders {
        source_of,
        reason: format!(
            "the value of header {:?} is not a valid header value",
            echo(key)
        ),
    })?;
    headers.retain(|(k, _)| *k != name);
    headers.push((name, value));
    Ok(())
}

/// Parses `key1=value1,key2=value2` with percent-encoded values (the W3C
/// baggage octet rules used by `OTEL_RESOURCE_ATTRIBUTES` and
/// `OTEL_EXPORTER_OTLP_HEADERS`). Errors never quote a value.
pub(crate) fn parse_key_values(input: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for (i, entry) in input.split(',').enumerate() {
        let entry = entry.trim();
        if entry.is_empty() {
            continue;
        }
        let Some((key, value)) = entry.split_once('=') else {
            return Err(format!("entry {} has no '='", i + 1));
        };
        let key = key.trim();
        if key.is_empty() {
            return Err(format!("entry {} has an empty key", i + 1));
        }
        let value = percent_decode(value.trim())
            .ok_or_else(|| format!("the value of {:?} has invalid percent-encoding", echo(key)))?;
        out.push((key.to_owned(), value));
    }
    Ok(out)
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_values_decode_percent_and_reject_malformed() {
        assert_eq!(
            parse_key_values("a=1, b = x%2Cy ,,c=%C3%A9").unwrap(),
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "x,y".into()),
                ("c".into(), "é".into())
            ]
        );
        assert_eq!(parse_key_values("a").unwrap_err(), "entry 1 has no '='");
        assert_eq!(
            parse_key_values("=1").unwrap_err(),
            "entry 1 has an empty key"
        );
        assert!(parse_key_values("k=%zz").unwrap_err().contains("\"k\""));
    }

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
    fn a_huge_value_is_not_echoed_whole() {
        let huge = "x".repeat(10 * 1024 * 1024);
        match parse_millis(&huge, ConfigSource::Env(OTEL_EXPORTER_OTLP_TIMEOUT)) {
            Err(e @ ConfigError::InvalidDuration { .. }) => {
                assert!(e.to_string().len() < 300, "{} bytes", e.to_string().len());
            }
            other => panic!("{other:?}"),
        }
    }
}
