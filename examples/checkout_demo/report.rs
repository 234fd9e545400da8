//! What the demo prints: per scenario the outcome, the trace id and the
//! trace's waterfall; at the end a summary of the gateway's checkout metrics.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use checkout_otel::attributes::{
    CHECKOUT_STATUS, CHECKOUT_STEP, CheckoutStep, ERROR_TYPE, METRIC_CHECKOUT_COMPLETED,
    METRIC_CHECKOUT_STEP_DURATION,
};
use checkout_otel::opentelemetry::KeyValue;
use checkout_otel::opentelemetry_sdk::metrics::data::{
    AggregatedMetrics, HistogramDataPoint, MetricData, ResourceMetrics,
};
use checkout_otel::waterfall::{WaterfallOptions, format_duration, render};

use crate::scenarios::{Run, ScenarioResult};

const WIDTH: usize = 100;

/// The report of one scenario.
pub fn scenario(result: &ScenarioResult) -> String {
    let s = result.scenario;
    let mut out = heading(&format!("{}: {}", s.name(), s.description()));
    if let Some(race) = &result.race {
        let _ = writeln!(
            out,
            "{} concurrent checkouts for the last {} units: {} succeeded, {} rejected (insufficient_stock)",
            race.buyers, race.units, race.succeeded, race.out_of_stock
        );
        let _ = writeln!(
            out,
            "stock left: {}   oversold: {}",
            race.stock_left, race.oversold
        );
        // One trace says it all: a buyer who lost the race.
        let loser = result
            .runs
            .iter()
            .find(|r| r.response.status != "success")
            .or(result.runs.first());
        if let Some(run) = loser {
            out.push_str("\none of the rejected checkouts:\n");
            out.push_str(&checkout(run));
        }
        return out;
    }
    for run in &result.runs {
        out.push_str(&checkout(run));
    }
    out
}

fn checkout(run: &Run) -> String {
    let r = &run.response;
    let mut out = String::new();
    let duration = format_duration(std::time::Duration::from_millis(r.duration_ms));
    match (&r.failure_step, &r.error_type) {
        (Some(step), Some(error_type)) => {
            let _ = writeln!(
                out,
                "outcome  {} in {step}: {error_type} ({duration})",
                r.status
            );
        }
        _ => {
            let order = r.order_id.as_deref().unwrap_or("-");
            let _ = writeln!(out, "outcome  {}: order {order} ({duration})", r.status);
        }
    }
    if let Some(message) = &r.message {
        let _ = writeln!(out, "message  {message}");
    }
    let _ = writeln!(out, "trace    {}", run.trace_id);
    out.push('\n');
    out.push_str(&render(
        &run.spans,
        &WaterfallOptions::default().with_width(WIDTH),
    ));
    out
}

fn heading(title: &str) -> String {
    let rule = "━".repeat(WIDTH.saturating_sub(title.chars().count() + 4));
    format!("\n━━ {title} {rule}\n")
}

/// The metrics summary: checkouts by outcome, and step latencies estimated
/// from the `checkout.step.duration` histogram's buckets, as a backend would.
pub fn metrics(metrics: Option<&ResourceMetrics>) -> String {
    let mut out = heading("metrics (the gateway's meter)");
    let Some(metrics) = metrics else {
        out.push_str("no metrics recorded\n");
        return out;
    };
    let mut completed: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut steps: BTreeMap<String, Merged> = BTreeMap::new();
    for m in metrics.scope_metrics().flat_map(|s| s.metrics()) {
        match (m.name(), m.data()) {
            (METRIC_CHECKOUT_COMPLETED, AggregatedMetrics::U64(MetricData::Sum(sum))) => {
                for p in sum.data_points() {
                    let status = attr(p.attributes(), CHECKOUT_STATUS);
                    let error_type = attr(p.attributes(), ERROR_TYPE);
                    *completed.entry((status, error_type)).or_default() += p.value();
                }
            }
            (METRIC_CHECKOUT_STEP_DURATION, AggregatedMetrics::F64(MetricData::Histogram(h))) => {
                for p in h.data_points() {
                    let step = attr(p.attributes(), CHECKOUT_STEP);
                    steps.entry(step).or_default().add(p);
                }
            }
            _ => {}
        }
    }

    let _ = writeln!(out, "{METRIC_CHECKOUT_COMPLETED}");
    for ((status, error_type), count) in &completed {
        let _ = writeln!(out, "  {status:<10}{error_type:<22}{count:>5}");
    }
    let _ = writeln!(
        out,
        "\n{METRIC_CHECKOUT_STEP_DURATION:<32}{:>7}{:>10}{:>10}",
        "count", "p50", "p99"
    );
    // In the order a checkout runs them.
    for step in CheckoutStep::ALL {
        if let Some(m) = steps.get(step.as_str()) {
            let _ = writeln!(
                out,
                "  {:<30}{:>7}{:>10}{:>10}",
                step.as_str(),
                m.count,
                seconds(m.quantile(0.50)),
                seconds(m.quantile(0.99)),
            );
        }
    }
    out.push_str("  (p50/p99 interpolated within histogram buckets)\n");
    out
}

fn attr<'a>(attrs: impl Iterator<Item = &'a KeyValue>, key: &str) -> String {
    attrs
        .filter(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.to_string())
        .last()
        .unwrap_or_default()
}

fn seconds(s: f64) -> String {
    format_duration(std::time::Duration::from_secs_f64(s.max(0.0)))
}

/// One step's histogram points (one per `step.status`) merged.
#[derive(Debug, Default)]
struct Merged {
    bounds: Vec<f64>,
    counts: Vec<u64>,
    count: u64,
    min: f64,
    max: f64,
}

impl Merged {
    fn add(&mut self, p: &HistogramDataPoint<f64>) {
        if self.counts.is_empty() {
            self.bounds = p.bounds().collect();
            self.counts = vec![0; self.bounds.len() + 1];
            self.min = f64::INFINITY;
        }
        for (total, c) in self.counts.iter_mut().zip(p.bucket_counts()) {
            *total += c;
        }
        self.count += p.count();
        self.min = self.min.min(p.min().unwrap_or(f64::INFINITY));
        self.max = self.max.max(p.max().unwrap_or(0.0));
    }

    /// The `q` quantile, interpolated linearly inside the bucket holding it
    /// (the first and last buckets are bounded by the observed min and max).
    fn quantile(&self, q: f64) -> f64 {
        let rank = q * self.count as f64;
        let mut seen = 0.0;
        for (i, &c) in self.counts.iter().enumerate() {
            if c == 0 {
                continue;
            }
            let upto = seen + c as f64;
            if upto >= rank {
                let lo = if i == 0 {
                    self.min
                } else {
                    self.bounds[i - 1].max(self.min)
                };
                let hi = self.bounds.get(i).map_or(self.max, |b| b.min(self.max));
                return lo + (hi - lo) * ((rank - seen) / c as f64);
            }
            seen = upto;
        }
        self.max
    }
}
