//! The one instrumentation scope of every tracer, meter and logger the
//! crate creates.

use opentelemetry::InstrumentationScope;

/// The instrumentation scope name of every span, instrument and log record
/// this crate emits.
pub const SCOPE_NAME: &str = "checkout-otel";

/// The crate's instrumentation scope: [`SCOPE_NAME`], the crate version and
/// the semantic-conventions schema URL.
pub(crate) fn instrumentation_scope() -> InstrumentationScope {
    InstrumentationScope::builder(SCOPE_NAME)
        .with_version(env!("CARGO_PKG_VERSION"))
        .with_schema_url(opentelemetry_semantic_conventions::SCHEMA_URL)
        .build()
}
