//! The set-up's one propagator, built once from `OTEL_PROPAGATORS`.

use std::fmt;
use std::sync::Arc;

use opentelemetry::Context;
use opentelemetry::propagation::text_map_propagator::FieldIter;
use opentelemetry::propagation::{
    Extractor, Injector, TextMapCompositePropagator, TextMapPropagator,
};
use opentelemetry_sdk::propagation::BaggagePropagator;

use super::config::{Propagator, TelemetryConfig};
use crate::propagation::TraceContextPropagator;

/// The propagator a guard owns ([`TelemetryGuard::propagator`](super::TelemetryGuard::propagator)):
/// built once from `OTEL_PROPAGATORS` (W3C trace-context, with the crate's
/// [`TraceContextPropagator`], and baggage by default), shared by the
/// guard's tracers and, after `init`, installed as the global one. Cheap to
/// clone: every clone is the same propagator.
///
/// It is a [`TextMapPropagator`], and converts into the
/// `Arc<dyn TextMapPropagator + Send + Sync>` the span helpers take.
///
/// ```
/// use checkout_otel::opentelemetry::propagation::TextMapPropagator;
/// use checkout_otel::opentelemetry::trace::{TraceContextExt, Tracer};
/// use checkout_otel::opentelemetry::Context;
/// use checkout_otel::propagation;
/// # fn main() -> Result<(), checkout_otel::Error> {
/// let telemetry = checkout_otel::Telemetry::builder("checkout-api")
///     .with_env([
///         ("OTEL_PROPAGATORS", "tracecontext"),
///         ("OTEL_TRACES_EXPORTER", "none"),
///         ("OTEL_METRICS_EXPORTER", "none"),
///     ])
///     .build()?;
/// let propagator = telemetry.propagator();
/// let mut fields: Vec<&str> = propagator.fields().collect();
/// fields.sort();
/// assert_eq!(fields, ["traceparent", "tracestate"]);
///
/// // Explicitly, where a helper takes a propagator.
/// let span = telemetry.sdk_tracer().start("checkout.process");
/// let cx = Context::current_with_span(span);
/// let mut headers = http::HeaderMap::new();
/// propagation::inject_with(&propagator, &cx, &mut headers);
/// assert!(headers.contains_key("traceparent"));
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct SharedPropagator(Arc<dyn TextMapPropagator + Send + Sync>);

impl SharedPropagator {
    /// What `config` names; nothing in a disabled set-up.
    pub(crate) fn for_config(config: &TelemetryConfig) -> Self {
        let list: Vec<Box<dyn TextMapPropagator + Send + Sync>> = if config.disabled {
            Vec::new()
        } else {
            config
                .propagators
                .iter()
                .map(|p| -> Box<dyn TextMapPropagator + Send + Sync> {
                    match p {
                        Propagator::TraceContext => Box::new(TraceContextPropagator::new()),
                        Propagator::Baggage => Box::new(BaggagePropagator::new()),
                    }
                })
                .collect()
        };
        SharedPropagator(Arc::new(TextMapCompositePropagator::new(list)))
    }
}

impl fmt::Debug for SharedPropagator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SharedPropagator")
            .field(&self.fields().collect::<Vec<_>>())
            .finish()
    }
}

impl TextMapPropagator for SharedPropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        self.0.inject_context(cx, injector);
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        self.0.extract_with_context(cx, extractor)
    }

    fn fields(&self) -> FieldIter<'_> {
        self.0.fields()
    }
}

impl From<SharedPropagator> for Arc<dyn TextMapPropagator + Send + Sync> {
    fn from(propagator: SharedPropagator) -> Self {
        propagator.0
    }
}
