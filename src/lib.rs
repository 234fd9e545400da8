//! checkout-otel: OpenTelemetry instrumentation for e-commerce checkouts.
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod attributes;
pub mod error;
pub mod init;
pub mod metrics;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;
pub mod waterfall;

pub use error::{Error, Result};
pub use init::{Telemetry, TelemetryBuilder, TelemetryGuard};

/// The OpenTelemetry API crate this crate is built on. Use it rather than
/// adding your own dependency, so your graph holds one copy.
pub use opentelemetry;
/// The OpenTelemetry OTLP exporter crate this crate is built on.
pub use opentelemetry_otlp;
/// The OpenTelemetry SDK crate this crate is built on.
pub use opentelemetry_sdk;
/// The semantic conventions crate this crate takes standard names from.
pub use opentelemetry_semantic_conventions;
/// The tracing bridge this crate installs.
pub use tracing_opentelemetry;
pub mod pii;
pub mod propagation;
pub mod spans;
