//! [`ConfigError`]: a setting that cannot work, naming where it came from.

use super::ConfigSource;

/// A setting that cannot work, from [`TelemetryBuilder::resolve`](crate::TelemetryBuilder::resolve),
/// [`init`](crate::TelemetryBuilder::init) or [`build`](crate::TelemetryBuilder::build).
///
/// Every variant about a value names its source ([`ConfigSource`]): the
/// environment variable or builder method. Environment variables are checked
/// even when the builder overrides them, so a typo never goes unnoticed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No service name: set it in `Telemetry::builder(name)` or `OTEL_SERVICE_NAME`.
    #[error("service name is empty: pass a name to Telemetry::builder or set OTEL_SERVICE_NAME")]
    MissingServiceName,

    /// An OTLP endpoint that is not an absolute http(s) URL.
    #[error(
        "invalid OTLP endpoint {value:?} from {source_of}: {reason} (expected e.g. http://localhost:4317)"
    )]
    InvalidEndpoint {
        /// The rejected value, credentials masked, cut at [`MAX_ECHO_CHARS`](super::MAX_ECHO_CHARS).
        value: String,
        /// Where it came from.
        source_of: ConfigSource,
        /// What is wrong with it.
        reason: String,
    },

    /// An OTLP protocol other than `grpc` or `http/protobuf`.
    #[error(
        "invalid OTLP protocol {value:?} from {source_of}: expected \"grpc\" or \"http/protobuf\""
    )]
    InvalidProtocol {
        /// The rejected value, cut at [`MAX_ECHO_CHARS`](super::MAX_ECHO_CHARS).
        value: String,
        /// Where it came from.
        source_of: ConfigSource,
    },

    /// The transport for the requested protocol was compiled out.
    #[error("OTLP protocol {protocol} needs the cargo feature \"{feature}\" of checkout-otel")]
    TransportDisabled {
        /// The protocol asked for.
        protocol: &'static str,
        /// The feature that enables it.
        feature: &'static str,
    },

    /// An `OTEL_TRACES_EXPORTER` / `OTEL_METRICS_EXPORTER` /
    /// `OTEL_LOGS_EXPORTER` value other than `otlp`, `console` or `none`, or
    /// a list naming two of them.
    #[error("invalid exporter {value:?} from {source_of}: {reason}")]
    InvalidExporter {
        /// The rejected value, cut at [`MAX_ECHO_CHARS`](super::MAX_ECHO_CHARS).
        value: String,
        /// Where it came from.
        source_of: ConfigSource,
        /// What is wrong with it.
        reason: String,
    },

    /// An OTLP compression other than `gzip` or `none`.
    #[error("invalid OTLP compression {value:?} from {source_of}: expected \"gzip\" or \"none\"")]
    InvalidCompression {
        /// The rejected value, cut at [`MAX_ECHO_CHARS`](super::MAX_ECHO_CHARS).
        value: String,
        /// Where it came from.
        source_of: ConfigSource,
    },

    /// A setting that needs a cargo feature this build was compiled without.
    #[error("{what} from {source_of} needs the cargo feature \"{feature}\" of checkout-otel")]
    FeatureDisabled {
        /// What was asked for.
        what: &'static str,
        /// Where it came from.
        source_of: ConfigSource,
        /// The feature that enables it.
        feature: &'static str,
    },

    /// A header list that is not `key=value,key2=value2` with valid header
    /// names and values. The value itself is not shown: it may hold a token.
    #[error(
        "invalid OTLP headers from {source_of}: {reason} (expected key=value pairs separated by commas)"
    )]
    InvalidHeaders {
        /// Where it came from.
        source_of: ConfigSource,
        /// What is wrong (never includes a header value).
        reason: String,
    },

    /// A timeout or interval that is not a whole number of milliseconds, or is zero.
    #[error(
        "invalid duration {value:?} from {source_of}: expected a positive whole number of milliseconds"
    )]
    InvalidDuration {
        /// The rejected value, cut at [`MAX_ECHO_CHARS`](super::MAX_ECHO_CHARS).
        value: String,
        /// Where it came from.
        source_of: ConfigSource,
    },

    /// A number (or duration, or size) beyond its documented bound: see
    /// [`init::limits`](crate::init::limits) for every bound and where it applies.
    #[error("{value:?} from {source_of} is out of range: expected {expected}")]
    OutOfRange {
        /// The rejected value, cut at [`MAX_ECHO_CHARS`](super::MAX_ECHO_CHARS).
        value: String,
        /// Where it came from.
        source_of: ConfigSource,
        /// The accepted range, with its unit, e.g. `1 to 100000 spans`.
        expected: String,
    },

    /// A variable that should hold a whole number and does not, e.g.
    /// `OTEL_BSP_MAX_EXPORT_BATCH_SIZE=many`.
    #[error("invalid number {value:?} from {source_of}: expected {expected}")]
    InvalidNumber {
        /// The rejected value, cut at [`MAX_ECHO_CHARS`](super::MAX_ECHO_CHARS).
        value: String,
        /// Where it came from.
        source_of: ConfigSource,
        /// The accepted range, with its unit, e.g. `1 to 64 exports`.
        expected: String,
    },

    /// An environment variable whose value is not valid UTF-8. It is refused
    /// rather than converted lossily: a credential or key with a replaced
    /// byte would be a different secret.
    #[error("{source_of} is not valid UTF-8")]
    NotUnicode {
        /// The variable.
        source_of: ConfigSource,
    },

    /// A host of the propagation allow-list
    /// ([`propagate_context_to`](crate::TelemetryBuilder::propagate_context_to),
    /// `CHECKOUT_OTEL_PROPAGATION_ALLOWED_HOSTS`) that is not a host name, an
    /// IP address or a `*.suffix` wildcard.
    #[error(
        "invalid propagation host {value:?} from {source_of}: {reason} (expected e.g. payments.example.com or *.internal.example.com)"
    )]
    InvalidPropagationHost {
        /// The rejected entry, cut at [`MAX_ECHO_CHARS`](super::MAX_ECHO_CHARS).
        value: String,
        /// Where it came from.
        source_of: ConfigSource,
        /// What is wrong with it.
        reason: String,
    },

    /// An export queue size that is not a positive whole number of spans.
    #[error(
        "invalid span queue size {value:?} from {source_of}: expected a positive whole number of spans"
    )]
    InvalidQueueSize {
        /// The rejected value, cut at [`MAX_ECHO_CHARS`](super::MAX_ECHO_CHARS).
        value: String,
        /// Where it came from.
        source_of: ConfigSource,
    },

    /// An unknown sampler name.
    #[error(
        "invalid sampler {value:?} from {source_of}: expected one of always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio"
    )]
    InvalidSampler {
        /// The rejected value, cut at [`MAX_ECHO_CHARS`](super::MAX_ECHO_CHARS).
        value: String,
        /// Where it came from.
        source_of: ConfigSource,
    },

    /// A sampler argument that is not a ratio between 0 and 1.
    #[error(
        "invalid sampler argument {value:?} from {source_of}: expected a number between 0.0 and 1.0"
    )]
    InvalidSamplerArg {
        /// The rejected value, cut at [`MAX_ECHO_CHARS`](super::MAX_ECHO_CHARS).
        value: String,
        /// Where it came from.
        source_of: ConfigSource,
    },

    /// An unknown or unsupported propagator name.
    #[error(
        "invalid propagator {value:?} from {source_of}: supported are tracecontext, baggage, none"
    )]
    InvalidPropagator {
        /// The rejected value, cut at [`MAX_ECHO_CHARS`](super::MAX_ECHO_CHARS).
        value: String,
        /// Where it came from.
        source_of: ConfigSource,
    },

    /// A boolean variable that is neither `true` nor `false`.
    #[error("invalid boolean {value:?} from {source_of}: expected true or false")]
    InvalidBool {
        /// The rejected value, cut at [`MAX_ECHO_CHARS`](super::MAX_ECHO_CHARS).
        value: String,
        /// Where it came from.
        source_of: ConfigSource,
    },

    /// Resource attributes that are not `key=value` pairs.
    #[error(
        "invalid resource attributes from {source_of}: {reason} (expected key1=value1,key2=value2)"
    )]
    InvalidResourceAttributes {
        /// Where it came from.
        source_of: ConfigSource,
        /// What is wrong.
        reason: String,
    },

    /// A resource detector name that is not one of the crate's.
    #[error(
        "unknown resource detector {value:?} from {source_of}: expected host, os, process, container, k8s, all or none"
    )]
    InvalidResourceDetector {
        /// The name, as given (at most 64 characters, scrubbed).
        value: String,
        /// Where it came from.
        source_of: ConfigSource,
    },

    /// A CA certificate bundle for TLS (feature `tls`) that cannot be read or
    /// holds no well-formed PEM certificate.
    #[error(
        "invalid TLS CA certificate from {source_of}: {reason} (expected a PEM file with at least one CERTIFICATE block)"
    )]
    InvalidCertificate {
        /// Where it came from: `OTEL_EXPORTER_OTLP_CERTIFICATE` (or a
        /// per-signal variant), `tls_ca_file` or `tls_ca_certificate_pem`.
        source_of: ConfigSource,
        /// What is wrong, with the file's path when there is one.
        reason: String,
    },

    /// A TLS client certificate or its private key (feature `tls`) that
    /// cannot be read, is not well-formed PEM, or is given without the other.
    #[error(
        "invalid TLS client identity from {source_of}: {reason} (expected a PEM certificate chain and its PEM private key)"
    )]
    InvalidClientIdentity {
        /// Where it came from: `OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE`,
        /// `OTEL_EXPORTER_OTLP_CLIENT_KEY` (or a per-signal variant),
        /// `tls_client_identity_files` or `tls_client_identity_pem`.
        source_of: ConfigSource,
        /// What is wrong, with the file's path when there is one.
        reason: String,
    },

    /// A `user.hash` key (builder [`user_hash_key`](crate::TelemetryBuilder::user_hash_key)
    /// or `CHECKOUT_OTEL_USER_HASH_KEY`) that is malformed or too short.
    #[error(
        "invalid pseudonymisation key from {source_of}: {reason} (expected at least 32 bytes, hex or base64)"
    )]
    InvalidKey {
        /// Where it came from.
        source_of: ConfigSource,
        /// What is wrong (never includes the key).
        reason: String,
    },

    /// The OTLP exporter (or the private runtime it runs on) could not be built.
    #[error("could not build the OTLP {signal} exporter: {source}")]
    Exporter {
        /// `traces`, `metrics`, or `traces and metrics` for what both share.
        signal: &'static str,
        /// The exporter's own error.
        #[source]
        source: opentelemetry_otlp::ExporterBuildError,
    },

    /// A `tracing` filter that does not parse: `RUST_LOG`, `OTEL_LOG_LEVEL`
    /// or `TelemetryBuilder::tracing_filter`. Never dropped silently: a
    /// directive lost would export (or hide) what its author did not mean.
    #[error("invalid tracing filter {value:?} from {source_of}: {reason}")]
    InvalidLogFilter {
        /// The rejected value, cut at [`MAX_ECHO_CHARS`](super::MAX_ECHO_CHARS).
        value: String,
        /// Where it came from.
        source_of: ConfigSource,
        /// What the parser said, or the values expected.
        reason: String,
    },

    /// [`init`](crate::TelemetryBuilder::init) found a global `tracing`
    /// subscriber already installed, and changed no global. Either turn the
    /// bridge off (`TelemetryBuilder::tracing_bridge(false)`) and add
    /// `TelemetryGuard::tracing_layer()` to your own subscriber, or let
    /// checkout-otel install the subscriber.
    #[error(
        "a global tracing subscriber is already set: call .tracing_bridge(false) and compose TelemetryGuard::tracing_layer() into your subscriber"
    )]
    SubscriberAlreadySet,
}
