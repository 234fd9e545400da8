//! The span and log pipelines' sizes and limits: the variables the SDK would
//! read itself (`OTEL_BSP_*`, `OTEL_BLRP_*`, `OTEL_*_COUNT_LIMIT`), read through the set-up's
//! environment, checked against [`limits`](super::limits) and handed to the
//! SDK as explicit values.
//!
//! The SDK parses these from the process environment on its own, ignoring
//! what it cannot parse and trusting the rest: a queue of 10^12 spans is
//! allocated up front (and aborts the process), a batch size of 0 or a
//! schedule delay of 0 spins. Every value it reads is therefore replaced by
//! ours, and ours are bounded.

use std::time::Duration;

use opentelemetry_sdk::trace::SpanLimits;

use super::config::{
    DEFAULT_SPAN_EXPORT_BATCH_SIZE, DEFAULT_SPAN_QUEUE_SIZE, DEFAULT_SPAN_SCHEDULE_DELAY,
};
use super::env::{
    Env, OTEL_ATTRIBUTE_COUNT_LIMIT, OTEL_BSP_EXPORT_TIMEOUT, OTEL_BSP_MAX_CONCURRENT_EXPORTS,
    OTEL_BSP_MAX_EXPORT_BATCH_SIZE, OTEL_BSP_MAX_QUEUE_SIZE, OTEL_BSP_SCHEDULE_DELAY,
    OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT, OTEL_LINK_ATTRIBUTE_COUNT_LIMIT, OTEL_METRIC_EXPORT_TIMEOUT,
    OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT, OTEL_SPAN_EVENT_COUNT_LIMIT, OTEL_SPAN_LINK_COUNT_LIMIT,
    check_queue_size, count, millis, out_of_range, parse_queue_size,
};
use super::limits::{
    MAX_CONCURRENT_EXPORTS, MAX_EXPORT_TIMEOUT, MAX_SPAN_LIMIT, MAX_SPAN_QUEUE_SIZE,
    MAX_SPAN_SCHEDULE_DELAY,
};
use super::settings::Settings;
use crate::error::{ConfigError, ConfigSource};

/// The log record queue's capacity (the SDK's default 2048).
pub(crate) const OTEL_BLRP_MAX_QUEUE_SIZE: &str = "OTEL_BLRP_MAX_QUEUE_SIZE";
/// The most log records per export request (512).
pub(crate) const OTEL_BLRP_MAX_EXPORT_BATCH_SIZE: &str = "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE";
/// The delay between two scheduled log exports (1 s).
pub(crate) const OTEL_BLRP_SCHEDULE_DELAY: &str = "OTEL_BLRP_SCHEDULE_DELAY";
/// Each export is bounded by the OTLP timeout; checked so that a typo is an error.
pub(crate) const OTEL_BLRP_EXPORT_TIMEOUT: &str = "OTEL_BLRP_EXPORT_TIMEOUT";

/// The specification's default delay between scheduled log exports.
const DEFAULT_LOG_SCHEDULE_DELAY: Duration = Duration::from_secs(1);

/// How finished log records wait for export (`OTEL_BLRP_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LogExport {
    pub(crate) queue_size: usize,
    pub(crate) batch_size: usize,
    pub(crate) schedule_delay: Duration,
}

/// The variables of one batch processor.
struct BatchVars {
    queue: &'static str,
    batch: &'static str,
    delay: &'static str,
    /// What is queued, for error messages.
    unit: &'static str,
}

/// The batch size from `vars.batch` (at most `queue_size`, the
/// specification's rule), else `default` capped by the queue.
fn batch_size(
    env: &Env<'_>,
    vars: &BatchVars,
    queue_size: usize,
    default: usize,
) -> Result<usize, ConfigError> {
    let env_batch = env.parse(vars.batch, count(1, MAX_SPAN_QUEUE_SIZE as u64, vars.unit))?;
    match env_batch.map(usize::try_from) {
        Some(Ok(batch)) if batch <= queue_size => Ok(batch),
        Some(_) => Err(out_of_range(
            &env_batch.unwrap_or_default().to_string(),
            ConfigSource::Env(vars.batch),
            format!("1 to {queue_size} {} (at most the queue size)", vars.unit),
        )),
        None => Ok(default.min(queue_size)),
    }
}

/// The log export settings of `env` (environment > default; the same
/// bounds as the span queue's).
pub(crate) fn log_export(env: &Env<'_>) -> Result<LogExport, ConfigError> {
    let vars = BatchVars {
        queue: OTEL_BLRP_MAX_QUEUE_SIZE,
        batch: OTEL_BLRP_MAX_EXPORT_BATCH_SIZE,
        delay: OTEL_BLRP_SCHEDULE_DELAY,
        unit: "log records",
    };
    let queue_size = env
        .parse(vars.queue, parse_queue_size)?
        .unwrap_or(DEFAULT_SPAN_QUEUE_SIZE);
    let batch_size = batch_size(env, &vars, queue_size, DEFAULT_SPAN_EXPORT_BATCH_SIZE)?;
    let schedule_delay = env
        .parse(vars.delay, millis(MAX_SPAN_SCHEDULE_DELAY))?
        .unwrap_or(DEFAULT_LOG_SCHEDULE_DELAY);
    env.parse(OTEL_BLRP_EXPORT_TIMEOUT, millis(MAX_EXPORT_TIMEOUT))?;
    Ok(LogExport {
        queue_size,
        batch_size,
        schedule_delay,
    })
}

/// How finished spans wait for export, and what a span keeps.
pub(crate) struct SpanExport {
    pub(crate) queue_size: usize,
    pub(crate) batch_size: usize,
    pub(crate) schedule_delay: Duration,
    pub(crate) span_limits: SpanLimits,
}

/// The span export settings of `s` and `env` (builder > environment > default).
pub(crate) fn span_export(s: &Settings, env: &Env<'_>) -> Result<SpanExport, ConfigError> {
    let env_queue = env.parse(OTEL_BSP_MAX_QUEUE_SIZE, parse_queue_size)?;
    let queue_size = match s.span_queue_size {
        Some(n) => check_queue_size(
            u64::try_from(n).unwrap_or(u64::MAX),
            &n.to_string(),
            ConfigSource::Builder("span_queue_size"),
        )?,
        None => env_queue.unwrap_or(DEFAULT_SPAN_QUEUE_SIZE),
    };

    let vars = BatchVars {
        queue: OTEL_BSP_MAX_QUEUE_SIZE,
        batch: OTEL_BSP_MAX_EXPORT_BATCH_SIZE,
        delay: OTEL_BSP_SCHEDULE_DELAY,
        unit: "spans",
    };
    let batch_size = batch_size(env, &vars, queue_size, DEFAULT_SPAN_EXPORT_BATCH_SIZE)?;
    let schedule_delay = env
        .parse(vars.delay, millis(MAX_SPAN_SCHEDULE_DELAY))?
        .unwrap_or(DEFAULT_SPAN_SCHEDULE_DELAY);
    // Read by no processor or reader this crate builds; checked so that a
    // malformed value is still an error, as for every variable.
    env.parse(OTEL_BSP_EXPORT_TIMEOUT, millis(MAX_EXPORT_TIMEOUT))?;
    env.parse(OTEL_METRIC_EXPORT_TIMEOUT, millis(MAX_EXPORT_TIMEOUT))?;
    env.parse(
        OTEL_BSP_MAX_CONCURRENT_EXPORTS,
        count(1, MAX_CONCURRENT_EXPORTS as u64, "exports"),
    )?;

    Ok(SpanExport {
        queue_size,
        batch_size,
        schedule_delay,
        span_limits: span_limits(env)?,
    })
}

/// The `OTEL_*_COUNT_LIMIT` variables; `OTEL_ATTRIBUTE_COUNT_LIMIT` is the
/// default of the three attribute limits (the specification's rule).
fn span_limits(env: &Env<'_>) -> Result<SpanLimits, ConfigError> {
    let limit = |var: &'static str| -> Result<Option<u32>, ConfigError> {
        let value = env.parse(var, count(0, u64::from(MAX_SPAN_LIMIT), "per span"))?;
        // Within MAX_SPAN_LIMIT, so within u32.
        Ok(value.map(|n| u32::try_from(n).unwrap_or(MAX_SPAN_LIMIT)))
    };
    let attributes = limit(OTEL_ATTRIBUTE_COUNT_LIMIT)?;
    let mut limits = SpanLimits::default();
    if let Some(n) = limit(OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT)?.or(attributes) {
        limits.max_attributes_per_span = n;
    }
    if let Some(n) = limit(OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT)?.or(attributes) {
        limits.max_attributes_per_event = n;
    }
    if let Some(n) = limit(OTEL_LINK_ATTRIBUTE_COUNT_LIMIT)?.or(attributes) {
        limits.max_attributes_per_link = n;
    }
    if let Some(n) = limit(OTEL_SPAN_EVENT_COUNT_LIMIT)? {
        limits.max_events_per_span = n;
    }
    if let Some(n) = limit(OTEL_SPAN_LINK_COUNT_LIMIT)? {
        limits.max_links_per_span = n;
    }
    Ok(limits)
}
