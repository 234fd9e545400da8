//! Resolution of the set-up: builder, then environment, then default.
//!
//! Everything the SDK could read from the environment is read here, checked,
//! and handed to the SDK builders as explicit values, so an invalid value is an
//! error from `init` and the SDK's own environment reading never overrides us.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use http::{HeaderName, HeaderValue};
use opentelemetry::{Key, KeyValue, Value};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::resource::TelemetryResourceDetector;

use crate::attributes::{
    DEPLOYMENT_ENVIRONMENT_NAME, SERVICE_INSTANCE_ID, SERVICE_NAME, SERVICE_NAMESPACE,
    SERVICE_VERSION,
};
use crate::error::{ConfigSource, Error, Result};

/// `OTEL_SERVICE_NAME`.
pub const OTEL_SERVICE_NAME: &str = "OTEL_SERVICE_NAME";
/// `OTEL_RESOURCE_ATTRIBUTES`.
pub const OTEL_RESOURCE_ATTRIBUTES: &str = "OTEL_RESOURCE_ATTRIBUTES";
/// `OTEL_SDK_DISABLED`.
pub const OTEL_SDK_DISABLED: &str = "OTEL_SDK_DISABLED";
/// `OTEL_EXPORTER_OTLP_ENDPOINT`.
pub const OTEL_EXPORTER_OTLP_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
/// `OTEL_EXPORTER_OTLP_PROTOCOL`.
pub const OTEL_EXPORTER_OTLP_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_PROTOCOL";
/// `OTEL_EXPORTER_OTLP_HEADERS`.
pub const OTEL_EXPORTER_OTLP_HEADERS: &str = "OTEL_EXPORTER_OTLP_HEADERS";
/// `OTEL_EXPORTER_OTLP_TIMEOUT`.
pub const OTEL_EXPORTER_OTLP_TIMEOUT: &str = "OTEL_EXPORTER_OTLP_TIMEOUT";
/// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`.
pub const OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
/// `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`.
pub const OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL";
/// `OTEL_EXPORTER_OTLP_TRACES_HEADERS`.
pub const OTEL_EXPORTER_OTLP_TRACES_HEADERS: &str = "OTEL_EXPORTER_OTLP_TRACES_HEADERS";
/// `OTEL_EXPORTER_OTLP_TRACES_TIMEOUT`.
pub const OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: &str = "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT";
/// `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`.
pub const OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT";
/// `OTEL_EXPORTER_OTLP_METRICS_PROTOCOL`.
pub const OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL";
/// `OTEL_EXPORTER_OTLP_METRICS_HEADERS`.
pub const OTEL_EXPORTER_OTLP_METRICS_HEADERS: &str = "OTEL_EXPORTER_OTLP_METRICS_HEADERS";
/// `OTEL_EXPORTER_OTLP_METRICS_TIMEOUT`.
pub const OTEL_EXPORTER_OTLP_METRICS_TIMEOUT: &str = "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT";
/// `OTEL_EXPORTER_OTLP_CERTIFICATE`: path to a PEM bundle of the CA
/// certificates to trust for `https://` endpoints (feature `tls`).
#[cfg_attr(not(feature = "tls"), allow(dead_code))]
pub const OTEL_EXPORTER_OTLP_CERTIFICATE: &str = "OTEL_EXPORTER_OTLP_CERTIFICATE";
/// `OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE`.
pub const OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE: &str = "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE";
/// `OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE`.
pub const OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE: &str = "OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE";
/// `OTEL_EXPORTER_OTLP_INSECURE`: `true` makes a gRPC endpoint without
/// scheme plaintext (`http://`) instead of TLS (`https://`).
pub const OTEL_EXPORTER_OTLP_INSECURE: &str = "OTEL_EXPORTER_OTLP_INSECURE";
/// `OTEL_EXPORTER_OTLP_TRACES_INSECURE`.
pub const OTEL_EXPORTER_OTLP_TRACES_INSECURE: &str = "OTEL_EXPORTER_OTLP_TRACES_INSECURE";
/// `OTEL_EXPORTER_OTLP_METRICS_INSECURE`.
pub const OTEL_EXPORTER_OTLP_METRICS_INSECURE: &str = "OTEL_EXPORTER_OTLP_METRICS_INSECURE";
/// `OTEL_TRACES_SAMPLER`.
pub const OTEL_TRACES_SAMPLER: &str = "OTEL_TRACES_SAMPLER";
/// `OTEL_TRACES_SAMPLER_ARG`.
pub const OTEL_TRACES_SAMPLER_ARG: &str = "OTEL_TRACES_SAMPLER_ARG";
/// `OTEL_PROPAGATORS`.
pub const OTEL_PROPAGATORS: &str = "OTEL_PROPAGATORS";
/// `OTEL_METRIC_EXPORT_INTERVAL`.
pub const OTEL_METRIC_EXPORT_INTERVAL: &str = "OTEL_METRIC_EXPORT_INTERVAL";
/// `OTEL_BSP_MAX_QUEUE_SIZE`, the span export queue's capacity.
pub const OTEL_BSP_MAX_QUEUE_SIZE: &str = "OTEL_BSP_MAX_QUEUE_SIZE";
/// `RUST_LOG`, the filter of the log output.
pub const RUST_LOG: &str = "RUST_LOG";

/// Default OTLP request timeout (the OpenTelemetry specification's 10 s).
pub const DEFAULT_EXPORT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default metric export interval (the OpenTelemetry specification's 60 s).
pub const DEFAULT_METRIC_EXPORT_INTERVAL: Duration = Duration::from_secs(60);
/// Default upper bound on `shutdown()`, `force_flush()` and drop of the guard.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);
/// Default capacity of the span export queue (the specification's 2048).
pub const DEFAULT_SPAN_QUEUE_SIZE: usize = 2048;

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

/// The CA certificates to trust for `https://` endpoints, as the builder
/// was given them (feature `tls`).
#[cfg(feature = "tls")]
#[derive(Clone)]
pub(crate) enum TlsCa {
    /// PEM bytes from `tls_ca_certificate_pem`.
    Pem(Arc<[u8]>),
    /// A PEM file from `tls_ca_file`.
    File(std::path::PathBuf),
}

#[cfg(feature = "tls")]
impl fmt::Debug for TlsCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsCa::Pem(pem) => write!(f, "Pem({} bytes)", pem.len()),
            TlsCa::File(path) => f.debug_tuple("File").field(path).finish(),
        }
    }
}

/// A CA bundle checked at resolution: PEM with at least one certificate.
#[cfg(feature = "tls")]
#[derive(Clone)]
pub(crate) struct TrustedCa {
    #[cfg_attr(not(any(feature = "grpc", feature = "http-proto")), allow(dead_code))]
    pub(crate) pem: Arc<[u8]>,
    pub(crate) source_of: ConfigSource,
}

/// OTLP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Protocol {
    /// OTLP over gRPC (`grpc`), conventionally port 4317. Needs feature `grpc`.
    Grpc,
    /// OTLP over HTTP with protobuf bodies (`http/protobuf`), conventionally
    /// port 4318. Needs feature `http-proto`.
    HttpProtobuf,
}

impl Protocol {
    /// The value used in `OTEL_EXPORTER_OTLP_PROTOCOL`.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Grpc => "grpc",
            Protocol::HttpProtobuf => "http/protobuf",
        }
    }

    /// The conventional collector port for this transport.
    pub fn default_port(self) -> u16 {
        match self {
            Protocol::Grpc => 4317,
            Protocol::HttpProtobuf => 4318,
        }
    }

    fn parse(value: &str, source_of: ConfigSource) -> Result<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "grpc" => Ok(Protocol::Grpc),
            "http/protobuf" => Ok(Protocol::HttpProtobuf),
            _ => Err(Error::InvalidProtocol {
                value: value.to_owned(),
                source_of,
            }),
        }
    }

    /// The error if this transport was compiled out.
    fn check_enabled(self) -> Result<()> {
        match self {
            #[cfg(not(feature = "grpc"))]
            Protocol::Grpc => Err(Error::TransportDisabled {
                protocol: "grpc",
                feature: "grpc",
            }),
            #[cfg(not(feature = "http-proto"))]
            Protocol::HttpProtobuf => Err(Error::TransportDisabled {
                protocol: "http/protobuf",
                feature: "http-proto",
            }),
            #[allow(unreachable_patterns)]
            _ => Ok(()),
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which traces are recorded, mirroring the values of `OTEL_TRACES_SAMPLER`.
///
/// Ratios must lie in `0.0..=1.0`; anything else is
/// [`Error::InvalidSamplerArg`] from `init`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[non_exhaustive]
pub enum Sampler {
    /// `always_on`: record every trace.
    AlwaysOn,
    /// `always_off`: record nothing.
    AlwaysOff,
    /// `traceidratio`: record this fraction of traces, by trace id.
    TraceIdRatio(f64),
    /// `parentbased_always_on` (the default): follow the caller's decision,
    /// record every new trace.
    #[default]
    ParentBasedAlwaysOn,
    /// `parentbased_always_off`: follow the caller's decision, record no new trace.
    ParentBasedAlwaysOff,
    /// `parentbased_traceidratio`: follow the caller's decision, record this
    /// fraction of new traces.
    ParentBasedTraceIdRatio(f64),
}

impl Sampler {
    fn ratio(self) -> Option<f64> {
        match self {
            Sampler::TraceIdRatio(r) | Sampler::ParentBasedTraceIdRatio(r) => Some(r),
            _ => None,
        }
    }

    pub(crate) fn to_sdk(self) -> opentelemetry_sdk::trace::Sampler {
        use opentelemetry_sdk::trace::Sampler as S;
        match self {
            Sampler::AlwaysOn => S::AlwaysOn,
            Sampler::AlwaysOff => S::AlwaysOff,
            Sampler::TraceIdRatio(r) => S::TraceIdRatioBased(r),
            Sampler::ParentBasedAlwaysOn => S::ParentBased(Box::new(S::AlwaysOn)),
            Sampler::ParentBasedAlwaysOff => S::ParentBased(Box::new(S::AlwaysOff)),
            Sampler::ParentBasedTraceIdRatio(r) => {
                S::ParentBased(Box::new(S::TraceIdRatioBased(r)))
            }
        }
    }
}

/// A context propagator named in `OTEL_PROPAGATORS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Propagator {
    /// `tracecontext`: W3C `traceparent` / `tracestate`.
    TraceContext,
    /// `baggage`: W3C `baggage`.
    Baggage,
}

/// The resolved OTLP settings of one signal (traces or metrics).
#[derive(Clone)]
pub struct OtlpSignalConfig {
    pub(crate) endpoint: String,
    pub(crate) protocol: Protocol,
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    pub(crate) timeout: Duration,
    /// `None`: the system's trust store.
    #[cfg(feature = "tls")]
    pub(crate) ca: Option<TrustedCa>,
}

impl OtlpSignalConfig {
    /// The exact URL requests go to (for HTTP, including `/v1/traces` or
    /// `/v1/metrics` where the specification says to append it).
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The transport.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// The per-request timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Where the CA certificates trusted for an `https://` endpoint come from
    /// (builder method or variable); `None` means the system's trust store.
    /// Unused for `http://` endpoints.
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn tls_ca_source(&self) -> Option<&ConfigSource> {
        self.ca.as_ref().map(|ca| &ca.source_of)
    }

    /// Names of the headers sent with every request (values are not exposed:
    /// they usually hold credentials).
    pub fn header_names(&self) -> Vec<&str> {
        self.headers.iter().map(|(k, _)| k.as_str()).collect()
    }

    /// Whether a header has exactly this value, for tests and diagnostics
    /// that must not print the value.
    pub fn header_equals(&self, name: &str, value: &str) -> bool {
        self.headers
            .iter()
            .any(|(k, v)| k.as_str().eq_ignore_ascii_case(name) && v.as_bytes() == value.as_bytes())
    }
}

impl fmt::Debug for OtlpSignalConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("OtlpSignalConfig");
        d.field("endpoint", &self.endpoint)
            .field("protocol", &self.protocol)
            .field("header_names", &self.header_names())
            .field("timeout", &self.timeout);
        #[cfg(feature = "tls")]
        d.field("tls_ca_source", &self.tls_ca_source());
        d.finish()
    }
}

/// The effective configuration after applying builder > environment > default.
///
/// Obtain it without side effects from
/// [`TelemetryBuilder::resolve`](super::TelemetryBuilder::resolve), or from a
/// running guard with [`TelemetryGuard::config`](super::TelemetryGuard::config).
/// Its `Debug` output never contains header values.
#[derive(Debug, Clone)]
pub struct TelemetryConfig {
    pub(crate) disabled: bool,
    pub(crate) service_name: String,
    pub(crate) resource: Resource,
    pub(crate) traces: Option<OtlpSignalConfig>,
    pub(crate) metrics: Option<OtlpSignalConfig>,
    pub(crate) sampler: Sampler,
    pub(crate) propagators: Vec<Propagator>,
    pub(crate) metric_export_interval: Duration,
    pub(crate) shutdown_timeout: Duration,
    pub(crate) span_queue_size: usize,
    pub(crate) tracing_bridge: bool,
    pub(crate) log_output: bool,
    pub(crate) span_details: bool,
    pub(crate) console_output: bool,
    pub(crate) rust_log: Option<String>,
    pub(crate) user_hasher: Option<crate::pii::UserHasher>,
}

impl TelemetryConfig {
    /// `OTEL_SDK_DISABLED=true`: a no-op set-up.
    pub fn is_disabled(&self) -> bool {
        self.disabled
    }

    /// The `service.name` on the resource.
    pub fn service_name(&self) -> &str {
        &self.service_name
    }

    /// The resource every span and metric carries.
    pub fn resource(&self) -> &Resource {
        &self.resource
    }

    /// OTLP settings for traces; `None` when no endpoint is configured (spans
    /// then go to the local console output, never to the network).
    pub fn traces(&self) -> Option<&OtlpSignalConfig> {
        self.traces.as_ref()
    }

    /// OTLP settings for metrics; `None` when no endpoint is configured
    /// (metrics are then aggregated in-process and not exported).
    pub fn metrics(&self) -> Option<&OtlpSignalConfig> {
        self.metrics.as_ref()
    }

    /// The sampler.
    pub fn sampler(&self) -> Sampler {
        self.sampler
    }

    /// The propagators installed by `init`, in order (empty for `none`).
    pub fn propagators(&self) -> &[Propagator] {
        &self.propagators
    }

    /// How often metrics are exported.
    pub fn metric_export_interval(&self) -> Duration {
        self.metric_export_interval
    }

    /// The upper bound on `shutdown()`, `force_flush()` and drop of the guard.
    pub fn shutdown_timeout(&self) -> Duration {
        self.shutdown_timeout
    }

    /// How many finished spans may wait for export; beyond that they are
    /// dropped and counted (see
    /// [`TelemetryGuard::span_export_stats`](super::TelemetryGuard::span_export_stats)).
    pub fn span_queue_size(&self) -> usize {
        self.span_queue_size
    }
}

/// What the builder holds, as seen by resolution.
pub(crate) struct BuilderValues<'a> {
    pub service_name: &'a str,
    pub service_version: Option<&'a str>,
    pub environment: Option<&'a str>,
    pub namespace: Option<&'a str>,
    pub resource_attributes: &'a [KeyValue],
    pub endpoint: Option<&'a str>,
    pub protocol: Option<Protocol>,
    pub headers: &'a [(String, String)],
    pub timeout: Option<Duration>,
    pub sampler: Option<Sampler>,
    pub metric_export_interval: Option<Duration>,
    pub shutdown_timeout: Option<Duration>,
    pub span_queue_size: Option<usize>,
    pub tracing_bridge: bool,
    pub log_output: bool,
    pub span_details: bool,
    pub console_output: bool,
    pub user_hash_key: Option<&'a str>,
    #[cfg(feature = "tls")]
    pub tls_ca: Option<&'a TlsCa>,
}

struct Env<'a>(&'a EnvSource);

impl Env<'_> {
    /// A variable's value; unset and empty (after trimming) are the same, as
    /// the specification asks.
    fn get(&self, name: &str) -> Option<String> {
        (self.0)(name).filter(|v| !v.trim().is_empty())
    }
}

/// Signal-specific variable names.
struct SignalVars {
    endpoint: &'static str,
    protocol: &'static str,
    headers: &'static str,
    timeout: &'static str,
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    certificate: &'static str,
    insecure: &'static str,
    http_path: &'static str,
}

const TRACES: SignalVars = SignalVars {
    endpoint: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
    protocol: OTEL_EXPORTER_OTLP_TRACES_PROTOCOL,
    headers: OTEL_EXPORTER_OTLP_TRACES_HEADERS,
    timeout: OTEL_EXPORTER_OTLP_TRACES_TIMEOUT,
    certificate: OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE,
    insecure: OTEL_EXPORTER_OTLP_TRACES_INSECURE,
    http_path: "v1/traces",
};

const METRICS: SignalVars = SignalVars {
    endpoint: OTEL_EXPORTER_OTLP_METRICS_ENDPOINT,
    protocol: OTEL_EXPORTER_OTLP_METRICS_PROTOCOL,
    headers: OTEL_EXPORTER_OTLP_METRICS_HEADERS,
    timeout: OTEL_EXPORTER_OTLP_METRICS_TIMEOUT,
    certificate: OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE,
    insecure: OTEL_EXPORTER_OTLP_METRICS_INSECURE,
    http_path: "v1/metrics",
};

pub(crate) fn resolve(b: &BuilderValues<'_>, env: &EnvSource) -> Result<TelemetryConfig> {
    let env = Env(env);

    let disabled = match env.get(OTEL_SDK_DISABLED) {
        Some(v) => parse_bool(&v, ConfigSource::Env(OTEL_SDK_DISABLED))?,
        None => false,
    };

    // Resource, lowest precedence first; later entries replace earlier keys.
    let mut attrs = AttrList::default();
    let env_attrs = match env.get(OTEL_RESOURCE_ATTRIBUTES) {
        Some(v) => parse_key_values(&v)
            .map_err(|reason| Error::InvalidResourceAttributes {
                source_of: ConfigSource::Env(OTEL_RESOURCE_ATTRIBUTES),
                reason,
            })?
            .into_iter()
            .map(|(k, v)| KeyValue::new(k, v))
            .collect(),
        None => Vec::new(),
    };
    attrs.set(KeyValue::new(SERVICE_INSTANCE_ID, process_instance_id()));
    attrs.extend(env_attrs);
    for kv in b.resource_attributes {
        if kv.key.as_str().trim().is_empty() {
            return Err(Error::InvalidResourceAttributes {
                source_of: ConfigSource::Builder("resource_attribute"),
                reason: "empty key".to_owned(),
            });
        }
        attrs.set(kv.clone());
    }
    for (key, value) in [
        (SERVICE_NAMESPACE, b.namespace),
        (DEPLOYMENT_ENVIRONMENT_NAME, b.environment),
        (SERVICE_VERSION, b.service_version),
    ] {
        if let Some(value) = value {
            attrs.set(KeyValue::new(key, value.to_owned()));
        }
    }
    // service.name: builder, then OTEL_SERVICE_NAME, then OTEL_RESOURCE_ATTRIBUTES.
    let service_name = if !b.service_name.trim().is_empty() {
        b.service_name.trim().to_owned()
    } else if let Some(name) = env.get(OTEL_SERVICE_NAME) {
        name.trim().to_owned()
    } else {
        match attrs.get(SERVICE_NAME) {
            Some(Value::String(s)) if !s.as_str().trim().is_empty() => s.as_str().to_owned(),
            _ => return Err(Error::MissingServiceName),
        }
    };
    attrs.set(KeyValue::new(SERVICE_NAME, service_name.clone()));
    let resource = Resource::builder_empty()
        .with_detector(Box::new(TelemetryResourceDetector))
        .with_attributes(attrs.0)
        .build();

    // Sampler: a builder sampler replaces both sampler variables (which are
    // still validated).
    let env_sampler = sampler_from_env(&env)?;
    let sampler = match b.sampler {
        Some(s) => {
            if let Some(r) = s.ratio() {
                check_ratio(r, &r.to_string(), ConfigSource::Builder("sampler"))?;
            }
            s
        }
        None => env_sampler,
    };

    let propagators = match env.get(OTEL_PROPAGATORS) {
        Some(v) => parse_propagators(&v)?,
        None => vec![Propagator::TraceContext, Propagator::Baggage],
    };

    let env_interval = env
        .get(OTEL_METRIC_EXPORT_INTERVAL)
        .map(|v| parse_millis(&v, ConfigSource::Env(OTEL_METRIC_EXPORT_INTERVAL)))
        .transpose()?;
    let metric_export_interval = match b.metric_export_interval {
        Some(d) => check_duration(d, "metric_export_interval")?,
        None => env_interval.unwrap_or(DEFAULT_METRIC_EXPORT_INTERVAL),
    };
    let shutdown_timeout = match b.shutdown_timeout {
        Some(d) => check_duration(d, "shutdown_timeout")?,
        None => DEFAULT_SHUTDOWN_TIMEOUT,
    };

    let env_queue = env
        .get(OTEL_BSP_MAX_QUEUE_SIZE)
        .map(|v| parse_queue_size(&v, ConfigSource::Env(OTEL_BSP_MAX_QUEUE_SIZE)))
        .transpose()?;
    let span_queue_size = match b.span_queue_size {
        Some(0) => {
            return Err(Error::InvalidQueueSize {
                value: "0".to_owned(),
                source_of: ConfigSource::Builder("span_queue_size"),
            });
        }
        Some(n) => n,
        None => env_queue.unwrap_or(DEFAULT_SPAN_QUEUE_SIZE),
    };

    let traces = resolve_signal(b, &env, &TRACES)?;
    let metrics = resolve_signal(b, &env, &METRICS)?;

    Ok(TelemetryConfig {
        disabled,
        service_name,
        resource,
        traces,
        metrics,
        sampler,
        propagators,
        metric_export_interval,
        shutdown_timeout,
        span_queue_size,
        tracing_bridge: b.tracing_bridge,
        log_output: b.log_output,
        span_details: b.span_details,
        console_output: b.console_output,
        rust_log: env.get(RUST_LOG),
        user_hasher: match (b.user_hash_key, env.get(crate::pii::USER_HASH_KEY_ENV)) {
            (Some(key), _) => Some(crate::pii::UserHasher::parse_from(
                key,
                ConfigSource::Builder("user_hash_key"),
            )?),
            (None, Some(key)) => Some(crate::pii::UserHasher::parse_from(
                &key,
                ConfigSource::Env(crate::pii::USER_HASH_KEY_ENV),
            )?),
            (None, None) => None,
        },
    })
}

/// Resolves one signal. Every variable present is validated, even when the
/// builder or a more specific variable overrides it, so a typo never goes
/// unnoticed.
fn resolve_signal(
    b: &BuilderValues<'_>,
    env: &Env<'_>,
    vars: &SignalVars,
) -> Result<Option<OtlpSignalConfig>> {
    let parse_protocol = |var: &'static str| -> Result<Option<Protocol>> {
        env.get(var)
            .map(|v| Protocol::parse(&v, ConfigSource::Env(var)))
            .transpose()
    };
    let signal_protocol = parse_protocol(vars.protocol)?;
    let generic_protocol = parse_protocol(OTEL_EXPORTER_OTLP_PROTOCOL)?;
    let protocol = b
        .protocol
        .or(signal_protocol)
        .or(generic_protocol)
        .unwrap_or(Protocol::Grpc);

    // The signal variable replaces the generic one; builder headers then win per name.
    let signal_headers = parse_headers(env, vars.headers)?;
    let generic_headers = parse_headers(env, OTEL_EXPORTER_OTLP_HEADERS)?;
    let mut headers = signal_headers.or(generic_headers).unwrap_or_default();
    for (k, v) in b.headers {
        set_header(&mut headers, k, v, ConfigSource::Builder("header"))?;
    }

    let parse_timeout = |var: &'static str| -> Result<Option<Duration>> {
        env.get(var)
            .map(|v| parse_millis(&v, ConfigSource::Env(var)))
            .transpose()
    };
    let signal_timeout = parse_timeout(vars.timeout)?;
    let generic_timeout = parse_timeout(OTEL_EXPORTER_OTLP_TIMEOUT)?;
    let builder_timeout = b
        .timeout
        .map(|d| check_duration(d, "timeout"))
        .transpose()?;
    let timeout = builder_timeout
        .or(signal_timeout)
        .or(generic_timeout)
        .unwrap_or(DEFAULT_EXPORT_TIMEOUT);

    // CA bundle: builder, then the signal variable, then the generic one;
    // every file named is read and checked, so a wrong path is an error.
    #[cfg(feature = "tls")]
    let ca = {
        let from_env = |var: &'static str| -> Result<Option<TrustedCa>> {
            env.get(var)
                .map(|path| read_ca_file(std::path::Path::new(path.trim()), ConfigSource::Env(var)))
                .transpose()
        };
        let signal_ca = from_env(vars.certificate)?;
        let generic_ca = from_env(OTEL_EXPORTER_OTLP_CERTIFICATE)?;
        let builder_ca = match b.tls_ca {
            Some(TlsCa::Pem(pem)) => Some(check_ca(
                pem.clone(),
                ConfigSource::Builder("tls_ca_certificate_pem"),
            )?),
            Some(TlsCa::File(path)) => {
                Some(read_ca_file(path, ConfigSource::Builder("tls_ca_file"))?)
            }
            None => None,
        };
        builder_ca.or(signal_ca).or(generic_ca)
    };

    // Endpoint. Builder and generic variable are a base URL to which HTTP
    // appends the signal path; the signal variable is used as-is (spec).
    // A gRPC endpoint without scheme is https, or http when the INSECURE
    // variable says `true` (the specification's rule); validated whenever set.
    let parse_insecure = |var: &'static str| -> Result<Option<bool>> {
        env.get(var)
            .map(|v| parse_bool(&v, ConfigSource::Env(var)))
            .transpose()
    };
    let signal_insecure = parse_insecure(vars.insecure)?;
    let generic_insecure = parse_insecure(OTEL_EXPORTER_OTLP_INSECURE)?;
    let insecure = signal_insecure.or(generic_insecure).unwrap_or(false);
    let checked = |value: Option<String>, source_of: ConfigSource| -> Result<Option<String>> {
        value
            .map(|v| {
                let v = v.trim();
                if protocol != Protocol::Grpc || has_scheme(v) {
                    return validate_endpoint(v, source_of).map(|()| v.to_owned());
                }
                // Schemeless means `host:port` here; anything else is
                // judged as the URL it was probably meant to be.
                let scheme = if insecure { "http" } else { "https" };
                let full = format!("{scheme}://{v}");
                let invalid = |reason: String| Error::InvalidEndpoint {
                    value: v.to_owned(),
                    source_of: source_of.clone(),
                    reason,
                };
                let uri: http::Uri = full
                    .parse()
                    .map_err(|_| invalid("not a valid URL".to_owned()))?;
                if uri.port().is_none() {
                    return Err(invalid(MISSING_SCHEME.to_owned()));
                }
                if !insecure && !cfg!(feature = "tls") {
                    return Err(invalid(format!(
                        "a gRPC endpoint without scheme means https, which needs the cargo feature \"tls\" of checkout-otel; write http://{v} or set {OTEL_EXPORTER_OTLP_INSECURE}=true"
                    )));
                }
                validate_endpoint(&full, source_of.clone())
                    .map(|()| full)
                    .map_err(|e| match e {
                        // Quote what the user wrote.
                        Error::InvalidEndpoint { reason, .. } => invalid(reason),
                        other => other,
                    })
            })
            .transpose()
    };
    let builder_endpoint = checked(
        b.endpoint.map(str::to_owned),
        ConfigSource::Builder("endpoint"),
    )?;
    let signal_endpoint = checked(env.get(vars.endpoint), ConfigSource::Env(vars.endpoint))?;
    let generic_endpoint = checked(
        env.get(OTEL_EXPORTER_OTLP_ENDPOINT),
        ConfigSource::Env(OTEL_EXPORTER_OTLP_ENDPOINT),
    )?;
    let (base, as_is) = match (builder_endpoint, signal_endpoint, generic_endpoint) {
        (Some(e), _, _) => (e, false),
        (None, Some(e), _) => (e, true),
        (None, None, Some(e)) => (e, false),
        (None, None, None) => return Ok(None),
    };
    protocol.check_enabled()?;
    let endpoint = match protocol {
        Protocol::HttpProtobuf if !as_is => {
            format!("{}/{}", base.trim_end_matches('/'), vars.http_path)
        }
        _ => base,
    };
    Ok(Some(OtlpSignalConfig {
        endpoint,
        protocol,
        headers,
        timeout,
        #[cfg(feature = "tls")]
        ca,
    }))
}

/// Reads and checks a PEM CA bundle.
#[cfg(feature = "tls")]
fn read_ca_file(path: &std::path::Path, source_of: ConfigSource) -> Result<TrustedCa> {
    let pem = std::fs::read(path).map_err(|e| Error::InvalidCertificate {
        source_of: source_of.clone(),
        reason: format!("cannot read {}: {e}", path.display()),
    })?;
    check_ca(pem.into(), source_of).map_err(|e| match e {
        Error::InvalidCertificate { source_of, reason } => Error::InvalidCertificate {
            source_of,
            reason: format!("{}: {reason}", path.display()),
        },
        other => other,
    })
}

/// A bundle must hold at least one well-formed PEM `CERTIFICATE` block
/// (other blocks, such as a private key, are ignored).
#[cfg(feature = "tls")]
fn check_ca(pem: Arc<[u8]>, source_of: ConfigSource) -> Result<TrustedCa> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let invalid = |reason: String| Error::InvalidCertificate {
        source_of: source_of.clone(),
        reason,
    };
    let mut count = 0;
    for cert in CertificateDer::pem_slice_iter(&pem) {
        cert.map_err(|e| invalid(format!("malformed PEM ({e})")))?;
        count += 1;
    }
    if count == 0 {
        return Err(invalid("no PEM CERTIFICATE block found".to_owned()));
    }
    Ok(TrustedCa { pem, source_of })
}

fn parse_headers(
    env: &Env<'_>,
    var: &'static str,
) -> Result<Option<Vec<(HeaderName, HeaderValue)>>> {
    let Some(value) = env.get(var) else {
        return Ok(None);
    };
    let pairs = parse_key_values(&value).map_err(|reason| Error::InvalidHeaders {
        source_of: ConfigSource::Env(var),
        reason,
    })?;
    let mut headers = Vec::new();
    for (k, v) in pairs {
        set_header(&mut headers, &k, &v, ConfigSource::Env(var))?;
    }
    Ok(Some(headers))
}

fn set_header(
    headers: &mut Vec<(HeaderName, HeaderValue)>,
    key: &str,
    value: &str,
    source_of: ConfigSource,
) -> Result<()> {
    let key = key.trim();
    let name = HeaderName::from_bytes(key.as_bytes()).map_err(|_| Error::InvalidHeaders {
        source_of: source_of.clone(),
        reason: format!("{key:?} is not a valid header name"),
    })?;
    let value = HeaderValue::from_str(value.trim()).map_err(|_| Error::InvalidHeaders {
        source_of,
        reason: format!("the value of header {key:?} is not a valid header value"),
    })?;
    headers.retain(|(k, _)| *k != name);
    headers.push((name, value));
    Ok(())
}

/// An absolute `http://host[:port][/path]` URL, or `https://` with feature
/// `tls`. Without it `https` is refused: a clear error beats exports that
/// fail later.
fn validate_endpoint(value: &str, source_of: ConfigSource) -> Result<()> {
    let invalid = |reason: &str| Error::InvalidEndpoint {
        value: value.to_owned(),
        source_of: source_of.clone(),
        reason: reason.to_owned(),
    };
    let uri: http::Uri = value
        .trim()
        .parse()
        .map_err(|_| invalid("not a valid URL"))?;
    match uri.scheme_str() {
        Some("http") => {}
        #[cfg(feature = "tls")]
        Some("https") => {}
        #[cfg(not(feature = "tls"))]
        Some("https") => {
            return Err(invalid(
                "https needs TLS: enable the cargo feature \"tls\" of checkout-otel, or use http:// to a local collector or agent",
            ));
        }
        Some(_) => return Err(invalid(SCHEMES)),
        None => return Err(invalid(MISSING_SCHEME)),
    }
    match uri.host() {
        Some(h) if !h.is_empty() => Ok(()),
        _ => Err(invalid("missing host")),
    }
}

/// Whether `endpoint` starts with a scheme (`x://`), as opentelemetry-otlp decides it.
fn has_scheme(endpoint: &str) -> bool {
    endpoint
        .split_once("://")
        .is_some_and(|(scheme, _)| !scheme.contains(['/', '?', '#']))
}

#[cfg(feature = "tls")]
const SCHEMES: &str = "the scheme must be http:// or https://";
#[cfg(not(feature = "tls"))]
const SCHEMES: &str = "the scheme must be http://";
#[cfg(feature = "tls")]
const MISSING_SCHEME: &str = "missing scheme http:// or https://";
#[cfg(not(feature = "tls"))]
const MISSING_SCHEME: &str = "missing scheme http://";

fn sampler_from_env(env: &Env<'_>) -> Result<Sampler> {
    // The argument is checked whenever present; it only matters for ratios.
    let arg = match env.get(OTEL_TRACES_SAMPLER_ARG) {
        None => 1.0,
        Some(v) => {
            let source = ConfigSource::Env(OTEL_TRACES_SAMPLER_ARG);
            let r: f64 = v.trim().parse().map_err(|_| Error::InvalidSamplerArg {
                value: v.clone(),
                source_of: source.clone(),
            })?;
            check_ratio(r, &v, source)?;
            r
        }
    };
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
        _ => Err(Error::InvalidSampler {
            value: name,
            source_of: ConfigSource::Env(OTEL_TRACES_SAMPLER),
        }),
    }
}

fn check_ratio(r: f64, text: &str, source_of: ConfigSource) -> Result<()> {
    if (0.0..=1.0).contains(&r) {
        Ok(())
    } else {
        Err(Error::InvalidSamplerArg {
            value: text.to_owned(),
            source_of,
        })
    }
}

fn parse_propagators(value: &str) -> Result<Vec<Propagator>> {
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
            _ => {
                return Err(Error::InvalidPropagator {
                    value: name.to_owned(),
                    source_of: ConfigSource::Env(OTEL_PROPAGATORS),
                });
            }
        };
        if !out.contains(&p) {
            out.push(p);
        }
    }
    // `none` alongside real propagators is contradictory: refuse it.
    if none && !out.is_empty() {
        return Err(Error::InvalidPropagator {
            value: value.to_owned(),
            source_of: ConfigSource::Env(OTEL_PROPAGATORS),
        });
    }
    Ok(out)
}

fn parse_bool(value: &str, source_of: ConfigSource) -> Result<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(Error::InvalidBool {
            value: value.to_owned(),
            source_of,
        }),
    }
}

fn parse_millis(value: &str, source_of: ConfigSource) -> Result<Duration> {
    match value.trim().parse::<u64>() {
        Ok(ms) if ms > 0 => Ok(Duration::from_millis(ms)),
        _ => Err(Error::InvalidDuration {
            value: value.to_owned(),
            source_of,
        }),
    }
}

fn parse_queue_size(value: &str, source_of: ConfigSource) -> Result<usize> {
    match value.trim().parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(Error::InvalidQueueSize {
            value: value.to_owned(),
            source_of,
        }),
    }
}

fn check_duration(d: Duration, method: &'static str) -> Result<Duration> {
    if d.is_zero() {
        Err(Error::InvalidDuration {
            value: format!("{d:?}"),
            source_of: ConfigSource::Builder(method),
        })
    } else {
        Ok(d)
    }
}

/// Parses `key1=value1,key2=value2` with percent-encoded values (the W3C
/// baggage octet rules used by `OTEL_RESOURCE_ATTRIBUTES` and
/// `OTEL_EXPORTER_OTLP_HEADERS`). Errors never quote a value.
pub(crate) fn parse_key_values(input: &str) -> std::result::Result<Vec<(String, String)>, String> {
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
            .ok_or_else(|| format!("the value of {key:?} has invalid percent-encoding"))?;
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

/// Attributes with replace-by-key semantics and stable order.
#[derive(Default)]
struct AttrList(Vec<KeyValue>);

impl AttrList {
    fn set(&mut self, kv: KeyValue) {
        self.0.retain(|e| e.key != kv.key);
        self.0.push(kv);
    }
    fn extend(&mut self, kvs: Vec<KeyValue>) {
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
pub(crate) fn process_instance_id() -> String {
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

/// An environment from a map, for tests: `TelemetryBuilder::with_env`.
pub(crate) fn map_env(map: HashMap<String, String>) -> EnvSource {
    Arc::new(move |k| map.get(k).cloned())
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
    fn instance_id_is_uuid_v4_and_stable() {
        let id = process_instance_id();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"));
        assert_eq!(id, process_instance_id());
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
            Err(Error::InvalidPropagator { .. })
        ));
    }
}
