//! The upper bound of every number, size and list the set-up accepts.
//!
//! A value beyond its bound is a [`ConfigError`](crate::error::ConfigError)
//! from `resolve`/`build`/`init` naming the variable or builder method
//! ([`OutOfRange`](crate::error::ConfigError::OutOfRange) for numbers and
//! durations, the setting's own error for lists and text), never a panic,
//! an abort or an allocation the value chose. The bounds are far above any
//! working configuration; they exist so that a typo or a hostile value
//! cannot take the service down.
//!
//! | Bound | Value | Applies to |
//! |---|---|---|
//! | [`MAX_SPAN_QUEUE_SIZE`] | 100 000 spans | `span_queue_size`, `OTEL_BSP_MAX_QUEUE_SIZE`, and `OTEL_BSP_MAX_EXPORT_BATCH_SIZE` (which must not exceed the queue) |
//! | [`MAX_EXPORT_TIMEOUT`] | 10 min | `timeout`, `OTEL_EXPORTER_OTLP_TIMEOUT` (+ per signal), `OTEL_BSP_EXPORT_TIMEOUT`, `OTEL_METRIC_EXPORT_TIMEOUT` |
//! | [`MAX_SHUTDOWN_TIMEOUT`] | 10 min | `shutdown_timeout` |
//! | [`MAX_METRIC_EXPORT_INTERVAL`] | 24 h | `metric_export_interval`, `OTEL_METRIC_EXPORT_INTERVAL` |
//! | [`MAX_SPAN_SCHEDULE_DELAY`] | 1 h | `OTEL_BSP_SCHEDULE_DELAY` |
//! | [`MAX_CONCURRENT_EXPORTS`] | 64 | `OTEL_BSP_MAX_CONCURRENT_EXPORTS` |
//! | [`MAX_SPAN_LIMIT`] | 1024 | `OTEL_ATTRIBUTE_COUNT_LIMIT`, `OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT`, `OTEL_SPAN_EVENT_COUNT_LIMIT`, `OTEL_SPAN_LINK_COUNT_LIMIT`, `OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT`, `OTEL_LINK_ATTRIBUTE_COUNT_LIMIT` |
//! | [`MAX_EXPORT_HEADERS`] | 64 headers | `header`, `OTEL_EXPORTER_OTLP_HEADERS` (+ per signal) |
//! | [`MAX_EXPORT_HEADER_BYTES`] | 16 KiB | the same headers: names and values together |
//! | [`MAX_RESOURCE_ATTRIBUTES`] | 128 attributes | `resource_attribute`, `OTEL_RESOURCE_ATTRIBUTES` (each list, and the resource) |
//! | [`MAX_RESOURCE_KEY_BYTES`] | 256 bytes | every resource attribute key |
//! | [`MAX_RESOURCE_VALUE_BYTES`] | 4096 bytes | every resource attribute value, the service name, version, environment and namespace |
//! | [`MAX_CA_BUNDLE_BYTES`] | 1 MiB | `tls_ca_certificate_pem`, `tls_ca_file`, `OTEL_EXPORTER_OTLP_CERTIFICATE` (+ per signal) (feature `tls`) |
//! | [`MAX_PROPAGATION_HOSTS`] | 256 hosts | `propagate_context_to`, `CHECKOUT_OTEL_PROPAGATION_ALLOWED_HOSTS` |
//! | [`MAX_LOG_FILTER_BYTES`] | 4096 bytes | `RUST_LOG` |
//!
//! Ports in endpoints must lie in 1..=65535, sampler ratios in 0.0..=1.0,
//! and every duration and size above must be positive (the span limits may
//! be 0: nothing of that kind is recorded).
//!
//! ```
//! use checkout_otel::error::ConfigError;
//! use checkout_otel::init::{Telemetry, limits::MAX_SPAN_QUEUE_SIZE};
//!
//! let too_big = Telemetry::builder("checkout-api")
//!     .with_env([("OTEL_BSP_MAX_QUEUE_SIZE", "1000000000000")])
//!     .resolve();
//! assert!(matches!(too_big, Err(ConfigError::OutOfRange { .. })));
//!
//! let at_the_bound = Telemetry::builder("checkout-api")
//!     .with_env(Vec::<(String, String)>::new())
//!     .span_queue_size(MAX_SPAN_QUEUE_SIZE)
//!     .resolve()
//!     .unwrap();
//! assert_eq!(at_the_bound.span_queue_size(), MAX_SPAN_QUEUE_SIZE);
//! ```

use std::time::Duration;

/// The largest span export queue, in spans.
///
/// The SDK's batch span processor allocates its whole queue when the
/// pipeline is built (about 360 bytes per span on 64-bit targets), so this
/// bound is also a bound on that allocation: about 36 MB.
pub const MAX_SPAN_QUEUE_SIZE: usize = 100_000;

/// The longest timeout of one export request.
pub const MAX_EXPORT_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// The longest bound on `shutdown()`, `force_flush()` and drop of the guard.
pub const MAX_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// The longest interval between two metric exports.
pub const MAX_METRIC_EXPORT_INTERVAL: Duration = Duration::from_secs(24 * 60 * 60);

/// The longest delay between two span batch exports (`OTEL_BSP_SCHEDULE_DELAY`).
pub const MAX_SPAN_SCHEDULE_DELAY: Duration = Duration::from_secs(60 * 60);

/// The largest `OTEL_BSP_MAX_CONCURRENT_EXPORTS`. The SDK's batch span
/// processor of this version exports one batch at a time whatever the
/// value; it is checked so that a typo is still an error.
pub const MAX_CONCURRENT_EXPORTS: usize = 64;

/// The largest value of an `OTEL_*_COUNT_LIMIT` variable: attributes,
/// events or links kept per span (beyond the limit they are dropped and
/// counted by the SDK).
pub const MAX_SPAN_LIMIT: u32 = 1024;

/// The most export headers, builder and environment together.
pub const MAX_EXPORT_HEADERS: usize = 64;

/// The most bytes of export header names and values together (HTTP servers
/// and gRPC commonly refuse larger header blocks).
pub const MAX_EXPORT_HEADER_BYTES: usize = 16 * 1024;

/// The most resource attributes, in `OTEL_RESOURCE_ATTRIBUTES`, from the
/// builder, and on the resulting resource.
pub const MAX_RESOURCE_ATTRIBUTES: usize = 128;

/// The longest resource attribute key, in bytes.
pub const MAX_RESOURCE_KEY_BYTES: usize = 256;

/// The longest resource attribute value, in bytes (for an array, its
/// elements together).
pub const MAX_RESOURCE_VALUE_BYTES: usize = 4096;

/// The largest PEM bundle of trusted CA certificates, in bytes. A file is
/// never read beyond this bound.
pub const MAX_CA_BUNDLE_BYTES: usize = 1024 * 1024;

/// The most entries in the propagation allow-list.
pub const MAX_PROPAGATION_HOSTS: usize = 256;

/// The longest `RUST_LOG` filter, in bytes.
pub const MAX_LOG_FILTER_BYTES: usize = 4096;
