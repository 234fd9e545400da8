//! A `tracing::debug!` below the configured level (the default `info`),
//! inside a span, with the crate's layers installed as a service composes
//! them (`tracing_layer()` and `logs_layer()` of a built guard), against the
//! same call site with no subscriber at all: the level check is all it may
//! cost.

use checkout_otel::init::{Exporter, Telemetry};
use tracing_subscriber::layer::SubscriberExt as _;

/// The call site: what a handler logs at DEBUG, with fields to format if it
/// were enabled.
pub fn emit(cart_id: &str, items: i64) {
    tracing::debug!(cart.id = %cart_id, items, "validating cart");
}

/// The crate's two layers at their default level, in a registry.
pub fn with_crate() -> impl tracing::Subscriber + Send + Sync {
    let guard = Telemetry::builder("bench")
        .with_env(Vec::<(String, String)>::new())
        .traces_exporter(Exporter::None)
        .metrics_exporter(Exporter::None)
        .logs_exporter(Exporter::None)
        .tracing_bridge(false)
        .build()
        .expect("a bench set-up");
    let subscriber = tracing_subscriber::registry()
        .with(guard.tracing_layer())
        .with(guard.logs_layer());
    // Dropping the guard would shut the providers down: it lives for the run.
    std::mem::forget(guard);
    subscriber
}
