//! The resolved configuration: what `resolve` returns and the guard runs on.

use std::fmt;
#[cfg(feature = "tls")]
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderName, HeaderValue};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SpanLimits;

#[cfg(feature = "tls")]
use crate::error::ConfigSource;
use crate::error::{ConfigError, echo_endpoint};
use crate::pii::UserHasher;
use crate::propagation::AllowedHosts;

/// Default OTLP request timeout (the OpenTelemetry specification's 10 s).
pub const DEFAULT_EXPORT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default metric export interval (the OpenTelemetry specification's 60 s).
pub const DEFAULT_METRIC_EXPORT_INTERVAL: Duration = Duration::from_secs(60);
/// Default upper bound on `shutdown()`, `force_flush()` and drop of the guard.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);
/// Default capacity of the span export queue (the specification's 2048).
pub const DEFAULT_SPAN_QUEUE_SIZE: usize = 2048;
/// Default most spans per export request (the specification's 512; never
/// more than the queue size).
pub const DEFAULT_SPAN_EXPORT_BATCH_SIZE: usize = 512;
/// Default delay between two scheduled span exports (the specification's 5 s).
pub const DEFAULT_SPAN_SCHEDULE_DELAY: Duration = Duration::from_secs(5);

/// A CA bundle checked at resolution: PEM with at least one certificate.
#[cfg(feature = "tls")]
#[derive(Clone)]
pub(crate) struct TrustedCa {
    #[cfg_attr(not(any(feature = "grpc", feature = "http-proto")), allow(dead_code))]
    pub(crate) pem: Arc<[u8]>,
    pub(crate) source_of: ConfigSource,
}

/// A client certificate chain and its private key, checked at resolution
/// (mutual TLS). Never shown by `Debug`.
#[cfg(feature = "tls")]
#[derive(Clone)]
pub(crate) struct ClientIdentity {
    #[cfg_attr(not(any(feature = "grpc", feature = "http-proto")), allow(dead_code))]
    pub(crate) certificate: Arc<[u8]>,
    #[cfg_attr(not(any(feature = "grpc", feature = "http-proto")), allow(dead_code))]
    pub(crate) key: Arc<[u8]>,
    pub(crate) source_of: ConfigSource,
}

/// What redaction every span exporter of the set-up applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RedactionPolicy {
    /// No redaction (a collector does it).
    Off,
    /// Scrub values; keep every key.
    Scrub,
    /// Scrub values; drop keys outside the contract and this allow-list.
    Strict(Vec<String>),
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

    /// The transport used when none is configured: gRPC when compiled in,
    /// else HTTP/protobuf.
    pub(crate) fn default_enabled() -> Protocol {
        if cfg!(feature = "grpc") || !cfg!(feature = "http-proto") {
            Protocol::Grpc
        } else {
            Protocol::HttpProtobuf
        }
    }

    /// The specification's default endpoint: a base URL for HTTP/protobuf,
    /// to which the signal's path is appended.
    pub(crate) fn default_endpoint(self) -> &'static str {
        match self {
            Protocol::Grpc => "http://localhost:4317",
            Protocol::HttpProtobuf => "http://localhost:4318",
        }
    }

    /// The error if this transport was compiled out.
    pub(crate) fn check_enabled(self) -> Result<(), ConfigError> {
        match self {
            #[cfg(not(feature = "grpc"))]
            Protocol::Grpc => Err(ConfigError::TransportDisabled {
                protocol: "grpc",
                feature: "grpc",
            }),
            #[cfg(not(feature = "http-proto"))]
            Protocol::HttpProtobuf => Err(ConfigError::TransportDisabled {
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

/// Where a signal goes: the values of `OTEL_TRACES_EXPORTER`,
/// `OTEL_METRICS_EXPORTER` and `OTEL_LOGS_EXPORTER`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Exporter {
    /// `otlp` (the default): OTLP to the configured endpoint, else to the
    /// specification's default (`http://localhost:4317` for gRPC,
    /// `http://localhost:4318/v1/{signal}` for HTTP/protobuf).
    #[default]
    Otlp,
    /// `console`: traces as a [waterfall](crate::waterfall) on stderr when
    /// their local root span ends; metrics as one text line per data point on
    /// stderr at each export. Nothing touches the network.
    Console,
    /// `none`: the signal is not exported (spans are still recorded and
    /// metrics still aggregated, for processors and readers of your own).
    None,
}

impl Exporter {
    /// The value used in the `OTEL_*_EXPORTER` variables.
    pub fn as_str(self) -> &'static str {
        match self {
            Exporter::Otlp => "otlp",
            Exporter::Console => "console",
            Exporter::None => "none",
        }
    }
}

impl fmt::Display for Exporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Compression of OTLP request bodies: the values of
/// `OTEL_EXPORTER_OTLP_COMPRESSION` and its per-signal variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Compression {
    /// `none` (the default): bodies sent as they are.
    #[default]
    None,
    /// `gzip`: `grpc-encoding: gzip` over gRPC, `Content-Encoding: gzip`
    /// over HTTP/protobuf. Needs the cargo feature `gzip`.
    Gzip,
}

impl Compression {
    /// The value used in `OTEL_EXPORTER_OTLP_COMPRESSION`.
    pub fn as_str(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which traces are recorded, mirroring the values of `OTEL_TRACES_SAMPLER`.
///
/// Ratios must lie in `0.0..=1.0`; anything else is
/// [`ConfigError::InvalidSamplerArg`] from `init`.
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
    pub(crate) fn ratio(self) -> Option<f64> {
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
    pub(crate) compression: Compression,
    /// `None`: the system's trust store.
    #[cfg(feature = "tls")]
    pub(crate) ca: Option<TrustedCa>,
    /// `None`: no client certificate is presented.
    #[cfg(feature = "tls")]
    pub(crate) client_identity: Option<ClientIdentity>,
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

    /// The compression of request bodies.
    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// Where the client certificate presented to the collector (mutual
    /// TLS) comes from: the builder method or the variable naming the
    /// certificate; `None` when none is presented.
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn tls_client_identity_source(&self) -> Option<&ConfigSource> {
        self.client_identity.as_ref().map(|id| &id.source_of)
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
        // The URL may carry credentials (user info, a token in the query).
        d.field("endpoint", &echo_endpoint(&self.endpoint))
            .field("protocol", &self.protocol)
            .field("header_names", &self.header_names())
            .field("timeout", &self.timeout)
            .field("compression", &self.compression);
        #[cfg(feature = "tls")]
        d.field("tls_ca_source", &self.tls_ca_source()).field(
            "tls_client_identity_source",
            &self.tls_client_identity_source(),
        );
        d.finish()
    }
}

/// The effective configuration after applying builder > environment > default.
///
/// Obtain it without side effects from
/// [`TelemetryBuilder::resolve`](super::TelemetryBuilder::resolve), or from a
/// running guard with [`TelemetryGuard::config`](super::TelemetryGuard::config).
/// Its `Debug` output never contains header values, the user-hash key or
/// credentials in an endpoint.
#[derive(Debug, Clone)]
pub struct TelemetryConfig {
    pub(crate) disabled: bool,
    pub(crate) service_name: String,
    pub(crate) resource: Resource,
    pub(crate) traces_exporter: Exporter,
    pub(crate) metrics_exporter: Exporter,
    pub(crate) logs_exporter: Exporter,
    /// `Some` exactly when the exporter is OTLP.
    pub(crate) traces: Option<OtlpSignalConfig>,
    pub(crate) metrics: Option<OtlpSignalConfig>,
    // Read only by the OTLP transports.
    #[cfg_attr(not(any(feature = "grpc", feature = "http-proto")), allow(dead_code))]
    pub(crate) logs: Option<OtlpSignalConfig>,
    pub(crate) sampler: Sampler,
    pub(crate) propagators: Vec<Propagator>,
    pub(crate) metric_export_interval: Duration,
    pub(crate) shutdown_timeout: Duration,
    pub(crate) span_queue_size: usize,
    pub(crate) span_export_batch_size: usize,
    pub(crate) span_schedule_delay: Duration,
    pub(crate) span_limits: SpanLimits,
    pub(crate) log_export: super::batch::LogExport,
    pub(crate) propagation_allowed_hosts: AllowedHosts,
    pub(crate) tracing_bridge: bool,
    pub(crate) log_output: bool,
    pub(crate) log_trace_ids: bool,
    pub(crate) exception_signal: crate::spans::ExceptionSignal,
    pub(crate) span_details: bool,
    pub(crate) rust_log: Option<String>,
    /// The OpenTelemetry layer's directives, checked to parse.
    pub(crate) tracing_filter: String,
    pub(crate) user_hasher: Option<UserHasher>,
    pub(crate) redaction: RedactionPolicy,
    pub(crate) export_tracestate: bool,
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

    /// The resource as configured; spans and metrics carry it after the
    /// exit check ([`TelemetryGuard::resource`](super::TelemetryGuard::resource)).
    pub fn resource(&self) -> &Resource {
        &self.resource
    }

    /// Where spans go (`OTEL_TRACES_EXPORTER`, default [`Exporter::Otlp`]).
    pub fn traces_exporter(&self) -> Exporter {
        self.traces_exporter
    }

    /// Where metrics go (`OTEL_METRICS_EXPORTER`, default [`Exporter::Otlp`]).
    pub fn metrics_exporter(&self) -> Exporter {
        self.metrics_exporter
    }

    /// Where log records will go (`OTEL_LOGS_EXPORTER`, default
    /// [`Exporter::Otlp`]): parsed and checked now, used once the crate
    /// exports logs.
    pub fn logs_exporter(&self) -> Exporter {
        self.logs_exporter
    }

    /// OTLP settings for traces; `None` unless the traces exporter is
    /// [`Exporter::Otlp`]. Without a configured endpoint, the
    /// specification's default one.
    pub fn traces(&self) -> Option<&OtlpSignalConfig> {
        self.traces.as_ref()
    }

    /// OTLP settings for metrics; `None` unless the metrics exporter is
    /// [`Exporter::Otlp`].
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

    /// Whether exported spans and links keep their `tracestate` (see
    /// [`TelemetryBuilder::export_tracestate`](super::TelemetryBuilder::export_tracestate)).
    pub fn exports_tracestate(&self) -> bool {
        self.export_tracestate
    }

    /// How many finished spans may wait for export; beyond that they are
    /// dropped and counted (see
    /// [`TelemetryGuard::span_export_stats`](super::TelemetryGuard::span_export_stats)).
    pub fn span_queue_size(&self) -> usize {
        self.span_queue_size
    }

    /// The most spans per export request (`OTEL_BSP_MAX_EXPORT_BATCH_SIZE`,
    /// default [`DEFAULT_SPAN_EXPORT_BATCH_SIZE`] or the queue size if smaller).
    pub fn span_export_batch_size(&self) -> usize {
        self.span_export_batch_size
    }

    /// The delay between two scheduled span exports (`OTEL_BSP_SCHEDULE_DELAY`,
    /// default [`DEFAULT_SPAN_SCHEDULE_DELAY`]).
    pub fn span_schedule_delay(&self) -> Duration {
        self.span_schedule_delay
    }

    /// The log records that may wait for export, the most per export
    /// request and the delay between scheduled exports
    /// (`OTEL_BLRP_MAX_QUEUE_SIZE`, `OTEL_BLRP_MAX_EXPORT_BATCH_SIZE`,
    /// `OTEL_BLRP_SCHEDULE_DELAY`; default 2048, 512, 1 s). Records beyond
    /// the queue are dropped and counted (see
    /// [`TelemetryGuard::log_export_stats`](super::TelemetryGuard::log_export_stats)).
    pub fn log_batching(&self) -> (usize, usize, Duration) {
        let l = &self.log_export;
        (l.queue_size, l.batch_size, l.schedule_delay)
    }

    /// The attributes, events and links kept per span (the
    /// `OTEL_*_COUNT_LIMIT` variables, each at most
    /// [`MAX_SPAN_LIMIT`](super::limits::MAX_SPAN_LIMIT); default 128 each).
    pub fn span_limits(&self) -> SpanLimits {
        self.span_limits
    }

    /// The hosts outgoing requests may carry inbound `baggage` and
    /// `tracestate` to ([`propagate_context_to`](super::TelemetryBuilder::propagate_context_to),
    /// `CHECKOUT_OTEL_PROPAGATION_ALLOWED_HOSTS`; default none).
    pub fn propagation_allowed_hosts(&self) -> &AllowedHosts {
        &self.propagation_allowed_hosts
    }

    /// The filter of the `tracing` spans and events the OpenTelemetry layer
    /// exports, as `RUST_LOG`-style directives
    /// ([`tracing_filter`](super::TelemetryBuilder::tracing_filter), else
    /// `OTEL_LOG_LEVEL`, else `RUST_LOG`, else
    /// [`DEFAULT_TRACING_FILTER`](super::DEFAULT_TRACING_FILTER)).
    pub fn tracing_filter(&self) -> &str {
        &self.tracing_filter
    }
}
