//! Errors, by operation.
//!
//! Each operation returns its own error type, so a caller matches only what
//! that operation can do:
//!
//! | Operation | Error |
//! |---|---|
//! | [`TelemetryBuilder::resolve`](crate::TelemetryBuilder::resolve), [`init`](crate::TelemetryBuilder::init), [`build`](crate::TelemetryBuilder::build), [`UserHasher::from_env`](crate::pii::UserHasher::from_env) | [`ConfigError`]: a setting that cannot work, naming the variable or builder method it came from |
//! | [`Money::parse`](crate::pii::Money::parse), [`Currency::from_code`](crate::pii::Currency::from_code), money arithmetic, [`PaymentMethod::card_from_number`](crate::pii::PaymentMethod::card_from_number), the [`UserHasher`](crate::pii::UserHasher) constructors | [`ValueError`]: a value that is not what it claims to be |
//! | [`TelemetryGuard::force_flush`](crate::TelemetryGuard::force_flush), [`shutdown`](crate::TelemetryGuard::shutdown) | [`ShutdownError`]: what did not get out, with counts |
//!
//! [`Error`] gathers the three for a `main` (or any function) that does
//! several of these with `?`:
//!
//! ```
//! use checkout_otel::pii::{Currency, Money};
//! use checkout_otel::Telemetry;
//!
//! fn main() -> Result<(), checkout_otel::Error> {
//!     let telemetry = Telemetry::builder("checkout-api")
//! #       .with_env([("OTEL_TRACES_EXPORTER", "none"), ("OTEL_METRICS_EXPORTER", "none")])
//!         .build()?; // ConfigError
//!     let total = Money::parse("12.50", Currency::EUR)?; // ValueError
//!     assert_eq!(total.minor_units(), 1250);
//!     telemetry.shutdown()?; // ShutdownError
//!     Ok(())
//! }
//! ```
//!
//! Values that may hold secrets (header values, keys, card numbers,
//! credentials in an endpoint URL) never appear in messages, and an echoed
//! input is cut at [`MAX_ECHO_CHARS`] characters.

use std::fmt;
use std::time::Duration;

/// Where a configuration value came from, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSource {
    /// A builder method, e.g. `TelemetryBuilder::endpoint`.
    Builder(&'static str),
    /// An environment variable, e.g. `OTEL_EXPORTER_OTLP_ENDPOINT`.
    Env(&'static str),
}

impl fmt::Display for ConfigSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigSource::Builder(m) => write!(f, "builder method `{m}`"),
            ConfigSource::Env(v) => write!(f, "environment variable {v}"),
        }
    }
}

/// The longest input, in characters, an error quotes; longer input is cut
/// and ends with `…`.
pub const MAX_ECHO_CHARS: usize = 64;

/// `value` as an error may quote it: PII masked, at most [`MAX_ECHO_CHARS`]
/// characters.
pub(crate) fn echo(value: &str) -> String {
    // Scrubbed before the cut, so PII straddling the cut is still found; the
    // scan itself is bounded, whatever the input's length.
    let scrubbed = crate::pii::scrub_with_limit(value, 2 * MAX_ECHO_CHARS);
    match scrubbed.char_indices().nth(MAX_ECHO_CHARS) {
        Some((cut, _)) => format!("{}…", &scrubbed[..cut]),
        None => scrubbed.into_owned(),
    }
}

/// The longest export error text a log line quotes, in characters.
const MAX_ERROR_ECHO_CHARS: usize = 256;

/// An export error's text as a log line may show it: each URL in it as
/// [`echo_endpoint`] shows one (user info and query masked), PII masked, at
/// most [`MAX_ERROR_ECHO_CHARS`] characters.
pub(crate) fn echo_error(text: &str) -> String {
    let masked: Vec<String> = text
        .split(' ')
        .map(|word| {
            if word.contains("://") {
                echo_endpoint(word)
            } else {
                word.to_owned()
            }
        })
        .collect();
    let masked = masked.join(" ");
    let scrubbed = crate::pii::scrub_with_limit(&masked, 2 * MAX_ERROR_ECHO_CHARS);
    match scrubbed.char_indices().nth(MAX_ERROR_ECHO_CHARS) {
        Some((cut, _)) => format!("{}…", &scrubbed[..cut]),
        None => scrubbed.into_owned(),
    }
}

/// An endpoint URL as an error or `Debug` may show it: user info and query
/// masked (either may hold credentials), at most [`MAX_ECHO_CHARS`] characters.
pub(crate) fn echo_endpoint(value: &str) -> String {
    let (scheme, rest) = match value.find("://") {
        Some(i) => value.split_at(i + 3),
        None => ("", value),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let host = match authority.rfind('@') {
        Some(at) => format!("***@{}", &authority[at + 1..]),
        None => authority.to_owned(),
    };
    let tail = match tail.find('?') {
        Some(q) => format!("{}?***", &tail[..q]),
        None => tail.to_owned(),
    };
    echo(&format!("{scheme}{host}{tail}"))
}

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
        /// The rejected value, credentials masked, cut at [`MAX_ECHO_CHARS`].
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
        /// The rejected value, cut at [`MAX_ECHO_CHARS`].
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
        /// The rejected value, cut at [`MAX_ECHO_CHARS`].
        value: String,
        /// Where it came from.
        source_of: ConfigSource,
        /// What is wrong with it.
        reason: String,
    },

    /// An OTLP compression other than `gzip` or `none`.
    #[error("invalid OTLP compression {value:?} from {source_of}: expected \"gzip\" or \"none\"")]
    InvalidCompression {
        /// The rejected value, cut at [`MAX_ECHO_CHARS`].
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
        /// The rejected value, cut at [`MAX_ECHO_CHARS`].
        value: String,
        /// Where it came from.
        source_of: ConfigSource,
    },

    /// A number (or duration, or size) beyond its documented bound: see
    /// [`init::limits`](crate::init::limits) for every bound and where it applies.
    #[error("{value:?} from {source_of} is out of range: expected {expected}")]
    OutOfRange {
        /// The rejected value, cut at [`MAX_ECHO_CHARS`].
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
        /// The rejected value, cut at [`MAX_ECHO_CHARS`].
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
        /// The rejected entry, cut at [`MAX_ECHO_CHARS`].
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
        /// The rejected value, cut at [`MAX_ECHO_CHARS`].
        value: String,
        /// Where it came from.
        source_of: ConfigSource,
    },

    /// An unknown sampler name.
    #[error(
        "invalid sampler {value:?} from {source_of}: expected one of always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio"
    )]
    InvalidSampler {
        /// The rejected value, cut at [`MAX_ECHO_CHARS`].
        value: String,
        /// Where it came from.
        source_of: ConfigSource,
    },

    /// A sampler argument that is not a ratio between 0 and 1.
    #[error(
        "invalid sampler argument {value:?} from {source_of}: expected a number between 0.0 and 1.0"
    )]
    InvalidSamplerArg {
        /// The rejected value, cut at [`MAX_ECHO_CHARS`].
        value: String,
        /// Where it came from.
        source_of: ConfigSource,
    },

    /// An unknown or unsupported propagator name.
    #[error(
        "invalid propagator {value:?} from {source_of}: supported are tracecontext, baggage, none"
    )]
    InvalidPropagator {
        /// The rejected value, cut at [`MAX_ECHO_CHARS`].
        value: String,
        /// Where it came from.
        source_of: ConfigSource,
    },

    /// A boolean variable that is neither `true` nor `false`.
    #[error("invalid boolean {value:?} from {source_of}: expected true or false")]
    InvalidBool {
        /// The rejected value, cut at [`MAX_ECHO_CHARS`].
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
        /// The rejected value, cut at [`MAX_ECHO_CHARS`].
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

/// A value that is not what it claims to be: money, a card number, a key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValueError {
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
        /// The rejected text, scrubbed and cut short.
        value: String,
        /// What is wrong.
        reason: &'static str,
    },

    /// A card number that is not 12-19 digits passing the Luhn check. The
    /// number is never shown.
    #[error("invalid card number: {0}")]
    InvalidCardNumber(&'static str),

    /// A pseudonymisation key that is malformed or shorter than
    /// [`MIN_KEY_BYTES`](crate::pii::MIN_KEY_BYTES).
    #[error(
        "invalid pseudonymisation key given to {parser}: {reason} (expected at least 32 bytes, hex or base64)"
    )]
    InvalidKey {
        /// The constructor given it, e.g. `UserHasher::from_hex`.
        parser: &'static str,
        /// What is wrong (never includes the key).
        reason: String,
    },
}

/// Which guard operation a [`ShutdownError`] comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ShutdownOperation {
    /// [`TelemetryGuard::force_flush`](crate::TelemetryGuard::force_flush).
    Flush,
    /// [`TelemetryGuard::shutdown`](crate::TelemetryGuard::shutdown), or drop of the guard.
    Shutdown,
}

impl ShutdownOperation {
    fn verb(self) -> &'static str {
        match self {
            ShutdownOperation::Flush => "flush",
            ShutdownOperation::Shutdown => "shutdown",
        }
    }
}

impl fmt::Display for ShutdownOperation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.verb())
    }
}

/// What went wrong for one signal (traces, metrics or logs) in a flush or shutdown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SignalReport {
    /// The signal did not finish within the bound
    /// ([`ShutdownError::bound`]); it keeps going in the background until the
    /// exporter's own timeout. A collector slow, hung or unreachable.
    pub timed_out: bool,
    /// Exports that failed during the operation (the SDK alone would report
    /// success for some of them).
    pub failed_exports: u64,
    /// Why the last failed export failed (no header values, no URL).
    pub last_export_error: Option<String>,
    /// Spans dropped because the export queue was full, since the previous
    /// flush or shutdown (each drop is reported once). Always 0 for metrics and logs.
    pub dropped_spans: u64,
    /// Log records dropped because the log export queue was full, since the
    /// previous flush or shutdown. Always 0 for traces and metrics.
    pub dropped_log_records: u64,
    /// The capacity of the queue that dropped them, in spans or log records.
    pub queue_capacity: u64,
    /// An error the provider reported that no counted export explains.
    pub provider_error: Option<String>,
}

impl SignalReport {
    /// Whether nothing went wrong for this signal.
    pub fn is_ok(&self) -> bool {
        *self
            == SignalReport {
                queue_capacity: self.queue_capacity,
                ..SignalReport::default()
            }
    }

    fn describe(&self, signal: &str, op: ShutdownOperation, bound: Duration) -> Vec<String> {
        let mut out = Vec::new();
        if self.timed_out {
            out.push(format!(
                "{signal}: {op} did not finish within {bound:?} (collector slow, hung or unreachable?)"
            ));
        }
        if self.failed_exports > 0 {
            out.push(format!(
                "{signal}: {} export(s) failed during {op}: {}",
                self.failed_exports,
                self.last_export_error.as_deref().unwrap_or("unknown error")
            ));
        } else if let Some(e) = &self.provider_error {
            out.push(format!("{signal}: {op} failed: {e}"));
        }
        if self.dropped_spans > 0 {
            out.push(format!(
                "{signal}: {} span(s) dropped because the export queue ({} spans) was full (collector slow or unreachable?)",
                self.dropped_spans, self.queue_capacity
            ));
        }
        if self.dropped_log_records > 0 {
            out.push(format!(
                "{signal}: {} log record(s) dropped because the export queue ({} records) was full (collector slow or unreachable?)",
                self.dropped_log_records, self.queue_capacity
            ));
        }
        out
    }
}

/// A flush or shutdown that did not get everything out, from
/// [`TelemetryGuard::force_flush`](crate::TelemetryGuard::force_flush) or
/// [`shutdown`](crate::TelemetryGuard::shutdown): per signal, whether it
/// timed out, how many exports failed and how many spans were dropped.
///
/// ```
/// # use checkout_otel::error::ShutdownError;
/// fn on_shutdown(result: Result<(), ShutdownError>) {
///     if let Err(e) = result {
///         if e.timed_out() {
///             eprintln!("collector hung: {e}");
///         }
///         if e.dropped_spans() > 0 {
///             eprintln!("raise span_queue_size: {} spans lost", e.dropped_spans());
///         }
///         if e.metrics().failed_exports > 0 {
///             eprintln!("metrics lost: {:?}", e.metrics().last_export_error);
///         }
///     }
/// }
/// # on_shutdown(Ok(()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShutdownError(Box<ShutdownReport>);

/// The content of a [`ShutdownError`], boxed: errors stay one pointer wide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ShutdownReport {
    pub(crate) operation: ShutdownOperation,
    pub(crate) bound: Duration,
    pub(crate) traces: SignalReport,
    pub(crate) metrics: SignalReport,
    pub(crate) logs: SignalReport,
}

impl ShutdownError {
    pub(crate) fn new(report: ShutdownReport) -> Self {
        ShutdownError(Box::new(report))
    }

    /// Flush or shutdown.
    pub fn operation(&self) -> ShutdownOperation {
        self.0.operation
    }

    /// The bound the operation had
    /// ([`shutdown_timeout`](crate::TelemetryBuilder::shutdown_timeout)).
    pub fn bound(&self) -> Duration {
        self.0.bound
    }

    /// What happened to traces.
    pub fn traces(&self) -> &SignalReport {
        &self.0.traces
    }

    /// What happened to metrics.
    pub fn metrics(&self) -> &SignalReport {
        &self.0.metrics
    }

    /// What happened to logs.
    pub fn logs(&self) -> &SignalReport {
        &self.0.logs
    }

    /// Whether any signal did not finish within the bound.
    pub fn timed_out(&self) -> bool {
        self.0.traces.timed_out || self.0.metrics.timed_out || self.0.logs.timed_out
    }

    /// Spans dropped from a full export queue since the previous report.
    pub fn dropped_spans(&self) -> u64 {
        self.0.traces.dropped_spans
    }

    /// Log records dropped from a full export queue since the previous report.
    pub fn dropped_log_records(&self) -> u64 {
        self.0.logs.dropped_log_records
    }

    /// Failed exports of every signal.
    pub fn failed_exports(&self) -> u64 {
        self.0.traces.failed_exports + self.0.metrics.failed_exports + self.0.logs.failed_exports
    }
}

impl fmt::Display for ShutdownError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.0;
        let problems: Vec<String> = [
            ("traces", &r.traces),
            ("metrics", &r.metrics),
            ("logs", &r.logs),
        ]
        .into_iter()
        .flat_map(|(signal, report)| report.describe(signal, r.operation, r.bound))
        .collect();
        write!(f, "telemetry {}: {}", r.operation, problems.join("; "))
    }
}

impl std::error::Error for ShutdownError {}

/// Any error of this crate, for a function that does several operations
/// with `?` (see the [module docs](self)).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// From resolving the configuration or starting telemetry.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// From a value type: money, a card number, a key.
    #[error(transparent)]
    Value(#[from] ValueError),
    /// From a flush or shutdown.
    #[error(transparent)]
    Shutdown(#[from] ShutdownError),
}

/// `Result` with the crate's umbrella [`Error`] by default.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_cuts_long_input() {
        assert_eq!(echo("short"), "short");
        let long = "é".repeat(10_000);
        let shown = echo(&long);
        assert_eq!(shown.chars().count(), MAX_ECHO_CHARS + 1);
        assert!(shown.ends_with('…'));
    }

    #[test]
    fn echo_masks_pii_even_across_the_cut() {
        let shown = echo("grpc for jane.doe@example.com");
        assert!(!shown.contains("jane.doe"), "{shown}");
        let card_at_cut = format!("{}4111 1111 1111 1111", "x".repeat(MAX_ECHO_CHARS - 8));
        let shown = echo(&card_at_cut);
        assert!(!shown.contains("4111 111"), "{shown}");
    }

    #[test]
    fn export_errors_are_quoted_without_credentials_or_pii() {
        let shown = echo_error(
            "error sending request for url (http://ops:hunter2@collector:4318/v1/traces?key=abc): mail jane@example.com",
        );
        for secret in ["hunter2", "abc", "jane@example.com"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(
            shown.contains("(http://***@collector:4318/v1/traces?***"),
            "{shown}"
        );
        assert_eq!(echo_error(&"x".repeat(1000)).chars().count(), 257);
    }

    #[test]
    fn endpoints_are_shown_without_credentials() {
        assert_eq!(
            echo_endpoint("https://user:s3cret@collector:4318/v1/traces?token=abc"),
            "https://***@collector:4318/v1/traces?***"
        );
        assert_eq!(
            echo_endpoint("user:pw@collector:4317"),
            "***@collector:4317"
        );
        assert_eq!(
            echo_endpoint("http://collector:4317"),
            "http://collector:4317"
        );
    }

    #[test]
    fn shutdown_error_says_what_happened() {
        let e = ShutdownError::new(ShutdownReport {
            operation: ShutdownOperation::Flush,
            bound: Duration::from_secs(1),
            traces: SignalReport {
                timed_out: true,
                dropped_spans: 3,
                queue_capacity: 16,
                ..SignalReport::default()
            },
            metrics: SignalReport {
                failed_exports: 2,
                last_export_error: Some("connection refused".into()),
                ..SignalReport::default()
            },
            logs: SignalReport {
                dropped_log_records: 5,
                queue_capacity: 8,
                ..SignalReport::default()
            },
        });
        assert_eq!(
            e.to_string(),
            "telemetry flush: traces: flush did not finish within 1s (collector slow, hung or unreachable?); \
             traces: 3 span(s) dropped because the export queue (16 spans) was full (collector slow or unreachable?); \
             metrics: 2 export(s) failed during flush: connection refused; \
             logs: 5 log record(s) dropped because the export queue (8 records) was full (collector slow or unreachable?)"
        );
        assert!(e.timed_out());
        assert_eq!((e.dropped_spans(), e.failed_exports()), (3, 2));
        assert_eq!(e.dropped_log_records(), 5);
        assert!(!e.traces().is_ok() && !e.metrics().is_ok());
        assert_eq!(std::mem::size_of::<ShutdownError>(), 8);
        assert!(SignalReport::default().is_ok());
    }
}
