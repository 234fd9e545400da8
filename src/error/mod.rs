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

mod config;
mod shutdown;

pub use config::ConfigError;
pub(crate) use shutdown::ShutdownReport;
pub use shutdown::{ShutdownError, ShutdownOperation, SignalReport};

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
    use std::time::Duration;

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
