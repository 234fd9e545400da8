//! Resolution: builder settings, then environment, then default, into a
//! [`TelemetryConfig`].
//!
//! Everything the SDK could read from the environment is read here, checked,
//! and handed to the SDK builders as explicit values, so an invalid value is
//! an error naming its source and the SDK's own environment reading never
//! overrides us. Every variable present is checked, even when the builder or
//! a more specific variable overrides it, so a typo never goes unnoticed.

use std::collections::HashSet;
use std::sync::OnceLock;

use http::{HeaderName, HeaderValue};
use opentelemetry::{Array, Key, KeyValue, Value};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::resource::TelemetryResourceDetector;

use super::batch::span_export;
use super::config::{
    DEFAULT_EXPORT_TIMEOUT, DEFAULT_METRIC_EXPORT_INTERVAL, DEFAULT_SHUTDOWN_TIMEOUT, Exporter,
    OtlpSignalConfig, Propagator, Protocol, RedactionPolicy, TelemetryConfig,
};
use super::endpoint::checked_endpoint;
use super::env::{
    Env, EnvSource, LOGS, METRICS, OTEL_EXPORTER_OTLP_COMPRESSION, OTEL_EXPORTER_OTLP_ENDPOINT,
    OTEL_EXPORTER_OTLP_HEADERS, OTEL_EXPORTER_OTLP_INSECURE, OTEL_EXPORTER_OTLP_PROTOCOL,
    OTEL_EXPORTER_OTLP_TIMEOUT, OTEL_METRIC_EXPORT_INTERVAL, OTEL_PROPAGATORS,
    OTEL_RESOURCE_ATTRIBUTES, OTEL_SDK_DISABLED, OTEL_SERVICE_NAME, SignalVars, TRACES,
    check_compression, check_duration, check_headers, check_ratio, millis, out_of_range,
    parse_bool, parse_compression, parse_exporter, parse_headers, parse_key_values,
    parse_propagators, parse_protocol, sampler_from_env, set_header,
};
use super::limits::{
    MAX_EXPORT_HEADERS, MAX_EXPORT_TIMEOUT, MAX_METRIC_EXPORT_INTERVAL, MAX_RESOURCE_ATTRIBUTES,
    MAX_RESOURCE_KEY_BYTES, MAX_RESOURCE_VALUE_BYTES, MAX_SHUTDOWN_TIMEOUT,
};
use super::settings::Settings;
use crate::attributes::{
    DEPLOYMENT_ENVIRONMENT_NAME, SERVICE_INSTANCE_ID, SERVICE_NAME, SERVICE_NAMESPACE,
    SERVICE_VERSION,
};
use crate::error::{ConfigError, ConfigSource};
use crate::pii::{USER_HASH_KEY_ENV, UserHasher};
use crate::propagation::{AllowedHosts, PROPAGATION_ALLOWED_HOSTS_ENV};
use crate::spans::ExceptionSignal;

/// The configuration `settings` and `env` make, or the first thing wrong.
pub(crate) fn resolve(s: &Settings, env: &EnvSource) -> Result<TelemetryConfig, ConfigError> {
    let env = Env(env);
    // Before anything else: a value that is not UTF-8 is refused whether or
    // not it would be used.
    env.check_unicode()?;

    let disabled = env.parse(OTEL_SDK_DISABLED, parse_bool)?.unwrap_or(false);
    let (service_name, resource) = resource(s, &env)?;

    // A builder sampler replaces both sampler variables (still checked).
    let env_sampler = sampler_from_env(&env)?;
    let sampler = match s.sampler {
        Some(sampler) => {
            if let Some(r) = sampler.ratio() {
                check_ratio(r, &r.to_string(), ConfigSource::Builder("sampler"))?;
            }
            sampler
        }
        None => env_sampler,
    };

    let propagators = match env.get(OTEL_PROPAGATORS)? {
        Some(v) => parse_propagators(&v)?,
        None => vec![Propagator::TraceContext, Propagator::Baggage],
    };
    let env_hosts = env.parse(PROPAGATION_ALLOWED_HOSTS_ENV, AllowedHosts::parse_list)?;
    let propagation_allowed_hosts = match &s.propagation_allowed_hosts {
        Some(hosts) => AllowedHosts::parse(hosts, ConfigSource::Builder("propagate_context_to"))?,
        None => env_hosts.unwrap_or_default(),
    };

    let env_interval = env.parse(
        OTEL_METRIC_EXPORT_INTERVAL,
        millis(MAX_METRIC_EXPORT_INTERVAL),
    )?;
    let metric_export_interval = match s.metric_export_interval {
        Some(d) => check_duration(d, "metric_export_interval", MAX_METRIC_EXPORT_INTERVAL)?,
        None => env_interval.unwrap_or(DEFAULT_METRIC_EXPORT_INTERVAL),
    };
    let shutdown_timeout = match s.shutdown_timeout {
        Some(d) => check_duration(d, "shutdown_timeout", MAX_SHUTDOWN_TIMEOUT)?,
        None => DEFAULT_SHUTDOWN_TIMEOUT,
    };
    let span_export = span_export(s, &env)?;

    let traces_exporter = select_exporter(s, &env, &TRACES, s.traces_exporter)?;
    let metrics_exporter = select_exporter(s, &env, &METRICS, s.metrics_exporter)?;
    let logs_exporter = select_exporter(s, &env, &LOGS, s.logs_exporter)?;
    // Every signal's variables are checked, whichever exporter is chosen;
    // a transport compiled out matters only where OTLP is used.
    let otlp = |exporter: Exporter, vars: &SignalVars| {
        let config = resolve_signal(s, &env, vars)?;
        if exporter != Exporter::Otlp {
            return Ok(None);
        }
        if !disabled {
            config.protocol.check_enabled()?;
        }
        Ok::<_, ConfigError>(Some(config))
    };
    let traces = otlp(traces_exporter, &TRACES)?;
    let metrics = otlp(metrics_exporter, &METRICS)?;
    let logs = otlp(logs_exporter, &LOGS)?;

    let user_hasher = match (&s.user_hash_key, env.get(USER_HASH_KEY_ENV)?) {
        (Some(key), _) => Some(UserHasher::parse_config(
            &key.0,
            ConfigSource::Builder("user_hash_key"),
        )?),
        (None, Some(key)) => Some(UserHasher::parse_config(
            &key,
            ConfigSource::Env(USER_HASH_KEY_ENV),
        )?),
        (None, None) => None,
    };
    let redaction = match (s.redaction, &s.strict_allow) {
        (false, _) => RedactionPolicy::Off,
        (true, None) => RedactionPolicy::Scrub,
        (true, Some(allow)) => RedactionPolicy::Strict(allow.clone()),
    };
    let env_exception_signal = env.parse(ExceptionSignal::ENV, |value, source_of| {
        ExceptionSignal::parse(value)
            .ok_or_else(|| out_of_range(value, source_of, "`logs`, `logs/dup` or empty".to_owned()))
    })?;
    let exception_signal = s
        .exception_signal
        .or(env_exception_signal)
        .unwrap_or_default();
    let filters = super::filter::resolve(s.tracing_filter.as_deref(), &env)?;

    Ok(TelemetryConfig {
        disabled,
        service_name,
        resource,
        traces_exporter,
        metrics_exporter,
        logs_exporter,
        traces,
        metrics,
        logs,
        sampler,
        propagators,
        metric_export_interval,
        shutdown_timeout,
        span_queue_size: span_export.queue_size,
        span_export_batch_size: span_export.batch_size,
        span_schedule_delay: span_export.schedule_delay,
        span_limits: span_export.span_limits,
        log_export: super::batch::log_export(&env)?,
        propagation_allowed_hosts,
        tracing_bridge: s.tracing_bridge,
        log_output: s.log_output,
        log_trace_ids: s.log_trace_ids,
        exception_signal,
        span_details: s.span_details,
        rust_log: filters.rust_log,
        tracing_filter: filters.tracing,
        user_hasher,
        redaction,
        export_tracestate: s.export_tracestate,
    })
}

/// `service.name` and the resource, lowest precedence first: later entries
/// replace earlier keys. Every list and attribute is bounded (see
/// [`limits`](super::limits)).
fn resource(s: &Settings, env: &Env<'_>) -> Result<(String, Resource), ConfigError> {
    let mut attrs = AttrList::default();
    let env_attrs = env
        .parse(OTEL_RESOURCE_ATTRIBUTES, |v, source_of| {
            let pairs = parse_key_values(v, MAX_RESOURCE_ATTRIBUTES).map_err(|reason| {
                ConfigError::InvalidResourceAttributes {
                    source_of: source_of.clone(),
                    reason,
                }
            })?;
            let attrs: Vec<KeyValue> = pairs
                .into_iter()
                .map(|(k, v)| KeyValue::new(k, v))
                .collect();
            attrs
                .iter()
                .try_for_each(|kv| check_attribute(kv, &source_of))?;
            Ok(attrs)
        })?
        .unwrap_or_default();
    attrs.set(KeyValue::new(SERVICE_INSTANCE_ID, process_instance_id()));
    attrs.extend(super::resource::detect(&s.resource_detection, env)?);
    attrs.extend(env_attrs);
    let builder_source = ConfigSource::Builder("resource_attribute");
    // Distinct keys, counted before merging (a merge per attribute).
    let mut keys = HashSet::new();
    for kv in &s.resource_attributes {
        if keys.insert(&kv.key) && keys.len() > MAX_RESOURCE_ATTRIBUTES {
            return Err(ConfigError::InvalidResourceAttributes {
                source_of: builder_source,
                reason: format!("more than {MAX_RESOURCE_ATTRIBUTES} attributes"),
            });
        }
    }
    for kv in &s.resource_attributes {
        if kv.key.as_str().trim().is_empty() {
            return Err(ConfigError::InvalidResourceAttributes {
                source_of: builder_source,
                reason: "empty key".to_owned(),
            });
        }
        check_attribute(kv, &builder_source)?;
        attrs.set(kv.clone());
    }
    for (key, value, method) in [
        (SERVICE_NAMESPACE, &s.namespace, "namespace"),
        (DEPLOYMENT_ENVIRONMENT_NAME, &s.environment, "environment"),
        (SERVICE_VERSION, &s.service_version, "service_version"),
    ] {
        if let Some(value) = value {
            let kv = KeyValue::new(key, value.clone());
            check_attribute(&kv, &ConfigSource::Builder(method))?;
            attrs.set(kv);
        }
    }
    // service.name: builder, then OTEL_SERVICE_NAME, then OTEL_RESOURCE_ATTRIBUTES.
    let env_name = env.get(OTEL_SERVICE_NAME)?;
    let (service_name, source_of) = if !s.service_name.trim().is_empty() {
        (
            s.service_name.trim().to_owned(),
            ConfigSource::Builder("Telemetry::builder"),
        )
    } else if let Some(name) = env_name {
        (name.trim().to_owned(), ConfigSource::Env(OTEL_SERVICE_NAME))
    } else {
        match attrs.get(SERVICE_NAME) {
            Some(Value::String(v)) if !v.as_str().trim().is_empty() => (
                v.as_str().to_owned(),
                ConfigSource::Env(OTEL_RESOURCE_ATTRIBUTES),
            ),
            _ => return Err(ConfigError::MissingServiceName),
        }
    };
    let name = KeyValue::new(SERVICE_NAME, service_name.clone());
    check_attribute(&name, &source_of)?;
    attrs.set(name);
    let resource = Resource::builder_empty()
        .with_detector(Box::new(TelemetryResourceDetector))
        .with_attributes(attrs.0)
        .build();
    Ok((service_name, resource))
}

/// A resource attribute within [`MAX_RESOURCE_KEY_BYTES`] and
/// [`MAX_RESOURCE_VALUE_BYTES`]. The error names the key, never the value.
fn check_attribute(kv: &KeyValue, source_of: &ConfigSource) -> Result<(), ConfigError> {
    let key = kv.key.as_str();
    let reason = if key.len() > MAX_RESOURCE_KEY_BYTES {
        format!(
            "a key of {} bytes, at most {MAX_RESOURCE_KEY_BYTES} are allowed",
            key.len()
        )
    } else if value_bytes(&kv.value) > MAX_RESOURCE_VALUE_BYTES {
        format!(
            "the value of {:?} has {} bytes, at most {MAX_RESOURCE_VALUE_BYTES} are allowed",
            crate::error::echo(key),
            value_bytes(&kv.value)
        )
    } else {
        return Ok(());
    };
    Err(ConfigError::InvalidResourceAttributes {
        source_of: source_of.clone(),
        reason,
    })
}

/// The size of a value as exported: string bytes, 8 per number or bool.
fn value_bytes(value: &Value) -> usize {
    match value {
        Value::String(s) => s.as_str().len(),
        Value::Array(Array::String(items)) => items.iter().map(|s| s.as_str().len()).sum(),
        Value::Array(Array::Bool(items)) => items.len().saturating_mul(8),
        Value::Array(Array::I64(items)) => items.len().saturating_mul(8),
        Value::Array(Array::F64(items)) => items.len().saturating_mul(8),
        // Scalars, and kinds added to the API later (measured as printed).
        Value::Bool(_) | Value::I64(_) | Value::F64(_) => 8,
        other => other.to_string().len(),
    }
}

/// One signal's exporter: the builder's, else the deprecated
/// `console_output` for a signal without a configured endpoint (the 0.1
/// behaviour: traces to the waterfall or nowhere, the others nowhere), else
/// `OTEL_{SIGNAL}_EXPORTER`, else OTLP. The variable is checked in any case.
fn select_exporter(
    s: &Settings,
    env: &Env<'_>,
    vars: &SignalVars,
    builder: Option<Exporter>,
) -> Result<Exporter, ConfigError> {
    let from_env = env.parse(vars.exporter, parse_exporter)?;
    if let Some(exporter) = builder {
        return Ok(exporter);
    }
    if let Some(on) = s.console_output {
        let endpoint_configured = s.endpoint.is_some()
            || env.get(vars.endpoint)?.is_some()
            || env.get(OTEL_EXPORTER_OTLP_ENDPOINT)?.is_some();
        if !endpoint_configured {
            return Ok(if on && vars.signal == TRACES.signal {
                Exporter::Console
            } else {
                Exporter::None
            });
        }
    }
    Ok(from_env.unwrap_or_default())
}

/// One signal's OTLP settings; without a configured endpoint, the
/// specification's default for the protocol.
fn resolve_signal(
    s: &Settings,
    env: &Env<'_>,
    vars: &SignalVars,
) -> Result<OtlpSignalConfig, ConfigError> {
    let signal_protocol = env.parse(vars.protocol, parse_protocol)?;
    let generic_protocol = env.parse(OTEL_EXPORTER_OTLP_PROTOCOL, parse_protocol)?;
    let protocol = s
        .protocol
        .or(signal_protocol)
        .or(generic_protocol)
        .unwrap_or_else(Protocol::default_enabled);

    let signal_compression = env.parse(vars.compression, parse_compression)?;
    let generic_compression = env.parse(OTEL_EXPORTER_OTLP_COMPRESSION, parse_compression)?;
    let builder_compression = s
        .compression
        .map(|c| check_compression(c, ConfigSource::Builder("compression")))
        .transpose()?;
    let compression = builder_compression
        .or(signal_compression)
        .or(generic_compression)
        .unwrap_or_default();

    let headers = headers(s, env, vars)?;

    let signal_timeout = env.parse(vars.timeout, millis(MAX_EXPORT_TIMEOUT))?;
    let generic_timeout = env.parse(OTEL_EXPORTER_OTLP_TIMEOUT, millis(MAX_EXPORT_TIMEOUT))?;
    let builder_timeout = s
        .timeout
        .map(|d| check_duration(d, "timeout", MAX_EXPORT_TIMEOUT))
        .transpose()?;
    let timeout = builder_timeout
        .or(signal_timeout)
        .or(generic_timeout)
        .unwrap_or(DEFAULT_EXPORT_TIMEOUT);

    #[cfg(feature = "tls")]
    let ca = super::endpoint::trusted_ca(s, env, vars)?;
    #[cfg(feature = "tls")]
    let client_identity = super::endpoint::client_identity(s, env, vars)?;

    // A gRPC endpoint without scheme is https, or http when the INSECURE
    // variable says `true` (the specification's rule); checked whenever set.
    let signal_insecure = env.parse(vars.insecure, parse_bool)?;
    let generic_insecure = env.parse(OTEL_EXPORTER_OTLP_INSECURE, parse_bool)?;
    let insecure = signal_insecure.or(generic_insecure).unwrap_or(false);
    let checked = |value: Option<String>, source_of: ConfigSource| {
        value
            .map(|v| checked_endpoint(&v, protocol, insecure, source_of))
            .transpose()
    };
    // Builder and generic variable are a base URL to which HTTP appends the
    // signal path; the signal variable is used as-is (the specification).
    let builder_endpoint = checked(
        s.endpoint.as_ref().map(|e| e.0.clone()),
        ConfigSource::Builder("endpoint"),
    )?;
    let signal_endpoint = checked(env.get(vars.endpoint)?, ConfigSource::Env(vars.endpoint))?;
    let generic_endpoint = checked(
        env.get(OTEL_EXPORTER_OTLP_ENDPOINT)?,
        ConfigSource::Env(OTEL_EXPORTER_OTLP_ENDPOINT),
    )?;
    let (base, as_is) = match (builder_endpoint, signal_endpoint, generic_endpoint) {
        (Some(e), _, _) => (e, false),
        (None, Some(e), _) => (e, true),
        (None, None, Some(e)) => (e, false),
        (None, None, None) => (protocol.default_endpoint().to_owned(), false),
    };
    let endpoint = match protocol {
        Protocol::HttpProtobuf if !as_is => {
            format!("{}/{}", base.trim_end_matches('/'), vars.http_path)
        }
        _ => base,
    };
    Ok(OtlpSignalConfig {
        endpoint,
        protocol,
        headers,
        timeout,
        compression,
        #[cfg(feature = "tls")]
        ca,
        #[cfg(feature = "tls")]
        client_identity,
    })
}

/// The signal variable replaces the generic one; builder headers then win per name.
fn headers(
    s: &Settings,
    env: &Env<'_>,
    vars: &SignalVars,
) -> Result<Vec<(HeaderName, HeaderValue)>, ConfigError> {
    let signal_headers = parse_headers(env, vars.headers)?;
    let generic_headers = parse_headers(env, OTEL_EXPORTER_OTLP_HEADERS)?;
    let mut headers = signal_headers.or(generic_headers).unwrap_or_default();
    if s.headers.0.is_empty() {
        return Ok(headers);
    }
    let source_of = ConfigSource::Builder("header");
    // Checked before merging: the merge is quadratic in the builder's list.
    if s.headers.0.len() > MAX_EXPORT_HEADERS {
        return Err(ConfigError::InvalidHeaders {
            source_of,
            reason: format!(
                "{} headers, at most {MAX_EXPORT_HEADERS} are allowed",
                s.headers.0.len()
            ),
        });
    }
    for (k, v) in &s.headers.0 {
        set_header(&mut headers, k, v, source_of.clone())?;
    }
    check_headers(&headers, source_of)?;
    Ok(headers)
}

/// Attributes with replace-by-key semantics and stable order.
#[derive(Default)]
struct AttrList(Vec<KeyValue>);

impl AttrList {
    fn set(&mut self, kv: KeyValue) {
        self.0.retain(|e| e.key != kv.key);
        self.0.push(kv);
    }

    fn extend(&mut self, kvs: impl IntoIterator<Item = KeyValue>) {
        for kv in kvs {
            self.set(kv);
        }
    }

    fn get(&self, key: &str) -> Option<&Value> {
        let key = Key::from(key.to_owned());
        self.0.iter().find(|kv| kv.key == key).map(|kv| &kv.value)
    }
}

/// A random UUID v4, one per process, for `service.instance.id`.
fn process_instance_id() -> String {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        let mut b = [0u8; 16];
        if getrandom::fill(&mut b).is_err() {
            // No OS randomness: still unique enough per process and time.
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default();
            b = (nanos ^ (u128::from(std::process::id()) << 64)).to_le_bytes();
        }
        b[6] = (b[6] & 0x0f) | 0x40; // version 4
        b[8] = (b[8] & 0x3f) | 0x80; // RFC 4122 variant
        let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
        format!(
            "{}-{}-{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        )
    })
    .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_id_is_uuid_v4_and_stable() {
        let id = process_instance_id();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"));
        assert_eq!(id, process_instance_id());
    }
}
