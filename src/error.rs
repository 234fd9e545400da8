//! The crate's one error type.
//!
//! Every variant says what was wrong and what to change. Configuration errors
//! name the environment variable or builder method the bad value came from.
//! Values that may carry secrets (header values, keys) are never included in
//! messages.

/// Where a configuration value came from, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSource {
    /// A builder method, e.g. `TelemetryBuilder::endpoint`.
    Builder(&'static str),
    /// An environment variable, e.g. `OTEL_EXPORTER_OTLP_ENDPOINT`.
    Env(&'static str),
}

impl std::fmt::Display for ConfigSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfigSource::Builder(m) => write!(f, "builder method `{m}`"),
            ConfigSource::Env(v) => write!(f, "environment variable {v}"),
        }
    }
}

/// Everything that can go wrong in `checkout-otel`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No service name: set it in `Telemetry::builder(name)` or `OTEL_SERVICE_NAME`.
    #[error("service name is empty: pass a name to Telemetry::builder or set OTEL_SERVICE_NAME")]
    MissingServiceName,

    /// An OTLP endpoint that is not an absolute http(s) URL.
    #[error(
        "invalid OTLP endpoint {value:?} from {source_of}: {reason} (expected e.g. http://localhost:4317)"
    )]
    InvalidEndpoint {
        /// The rejected value.
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
        /// The rejected value.
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
        /// The rejected value.
        value: String,
        /// Where it came from.
        source_of: ConfigSource,
    },

    /// An export queue size that is not a positive whole number of spans.
    #[error(
        "invalid span queue size {value:?} from {source_of}: expected a positive whole number of spans"
    )]
    InvalidQueueSize {
        /// The rejected value.
        value: String,
        /// Where it came from.
        source_of: ConfigSource,
    },

    /// An unknown sampler name.
    #[error(
        "invalid sampler {value:?} from {source_of}: expected one of always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio"
    )]
    InvalidSampler {
        /// The rejected value.
        value: String,
        /// Where it came from.
        source_of: ConfigSource,
    },

    /// A sampler argument that is not a ratio between 0 and 1.
    #[error(
        "invalid sampler argument {value:?} from {source_of}: expected a number between 0.0 and 1.0"
    )]
    InvalidSamplerArg {
        /// The rejected value.
        value: String,
        /// Where it came from.
        source_of: ConfigSource,
    },

    /// An unknown or unsupported propagator name.
    #[error(
        "invalid propagator {value:?} from {source_of}: supported are tracecontext, baggage, none"
    )]
    InvalidPropagator {
        /// The rejected value.
        value: String,
        /// Where it came from.
        source_of: ConfigSource,
    },

    /// A boolean variable that is neither `true` nor `false`.
    #[error("invalid boolean {value:?} from {source_of}: expected true or false")]
    InvalidBool {
        /// The rejected value.
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

    /// The OTLP exporter could not be built.
    #[error("could not build the OTLP {signal} exporter: {source}")]
    Exporter {
        /// `traces` or `metrics`.
        signal: &'static str,
        /// The exporter's own error.
        #[source]
        source: opentelemetry_otlp::ExporterBuildError,
    },

    /// A global `tracing` subscriber is already installed. Either turn the
    /// bridge off (`TelemetryBuilder::tracing_bridge(false)`) and add
    /// `TelemetryGuard::tracing_layer()` to your own subscriber, or let
    /// checkout-otel install the subscriber.
    #[error(
        "a global tracing subscriber is already set: call .tracing_bridge(false) and compose TelemetryGuard::tracing_layer() into your subscriber"
    )]
    SubscriberAlreadySet,

    /// Flushing or shutting down the providers failed or did not finish in time.
    #[error("telemetry shutdown: {0}")]
    Shutdown(String),

    /// A pseudonymisation key that is malformed or too short.
    #[error(
        "invalid pseudonymisation key from {source_of}: {reason} (expected at least 32 bytes, hex or base64)"
    )]
    InvalidKey {
        /// Where it came from.
        source_of: ConfigSource,
        /// What is wrong (never includes the key).
        reason: String,
    },

    /// A currency code that is not an active ISO 4217 code.
    #[error("unknown currency {0:?}: expected an ISO 4217 code such as USD, EUR, JPY")]
    InvalidCurrency(String),

    /// Arithmetic on money that would overflow.
    #[error("amount overflow: the result does not fit in 64-bit minor units")]
    AmountOverflow,

    /// Arithmetic between two currencies.
    #[error("currency mismatch: {left} and {right}")]
    CurrencyMismatch {
        /// Left operand's currency.
        left: &'static str,
        /// Right operand's currency.
        right: &'static str,
    },

    /// A decimal amount that cannot be parsed exactly.
    #[error("invalid amount {value:?}: {reason}")]
    InvalidAmount {
        /// The rejected text.
        value: String,
        /// What is wrong.
        reason: &'static str,
    },

    /// A card number that is not 12-19 digits. The number is never shown.
    #[error("invalid card number: {0}")]
    InvalidCardNumber(&'static str),
}

/// `Result` with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
