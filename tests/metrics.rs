//! The prewired checkout meter, checked from exported data: after a scripted
//! mix of checkouts, the in-memory exporter must hold exactly the expected
//! names, units, descriptions, boundaries, attribute sets and counts.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use checkout_otel::SCOPE_NAME as METER_NAME;
use checkout_otel::attributes::{
    self as attr, CheckoutStatus, CheckoutStep, DeclineClass, DeclineCode, ErrorType,
    ItemCountBucket, PaymentStatus, StepStatus,
};
use checkout_otel::metrics::{CheckoutMetrics, DURATION_BOUNDARIES_SECONDS};
use checkout_otel::opentelemetry::KeyValue;
use checkout_otel::opentelemetry::metrics::MeterProvider as _;
use checkout_otel::opentelemetry_sdk::metrics::data::{
    AggregatedMetrics, Metric, MetricData, ResourceMetrics, ScopeMetrics,
};
use checkout_otel::opentelemetry_sdk::metrics::{
    InMemoryMetricExporter, PeriodicReader, SdkMeterProvider, Temporality,
};

// ---------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------

fn provider() -> (SdkMeterProvider, InMemoryMetricExporter) {
    let exporter = InMemoryMetricExporter::default();
    let provider = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(exporter.clone()).build())
        .build();
    (provider, exporter)
}

/// Flushes and returns the last export (cumulative, so it holds everything).
fn collect(provider: &SdkMeterProvider, exporter: &InMemoryMetricExporter) -> ResourceMetrics {
    provider.force_flush().unwrap();
    exporter.get_finished_metrics().unwrap().pop().unwrap()
}

fn scope<'a>(rm: &'a ResourceMetrics, name: &str) -> &'a ScopeMetrics {
    rm.scope_metrics()
        .find(|s| s.scope().name() == name)
        .unwrap_or_else(|| panic!("no scope {name}"))
}

fn metric<'a>(scope: &'a ScopeMetrics, name: &str) -> &'a Metric {
    scope
        .metrics()
        .find(|m| m.name() == name)
        .unwrap_or_else(|| panic!("no metric {name}"))
}

type Attrs = BTreeMap<String, String>;

fn attrs<'a>(kvs: impl Iterator<Item = &'a KeyValue>) -> Attrs {
    kvs.map(|kv| (kv.key.to_string(), kv.value.to_string()))
        .collect()
}

fn set(pairs: &[(&str, &str)]) -> Attrs {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A counter's points: attribute set -> value. Also checks it is a
/// monotonic cumulative sum.
fn counter_points(m: &Metric) -> BTreeMap<Attrs, u64> {
    let AggregatedMetrics::U64(MetricData::Sum(sum)) = m.data() else {
        panic!("{} is not a u64 sum: {:?}", m.name(), m.data());
    };
    assert!(sum.is_monotonic(), "{}", m.name());
    assert_eq!(sum.temporality(), Temporality::Cumulative);
    let mut points = BTreeMap::new();
    for p in sum.data_points() {
        assert!(points.insert(attrs(p.attributes()), p.value()).is_none());
    }
    points
}

#[derive(Debug, PartialEq)]
struct HistPoint {
    count: u64,
    sum: f64,
    buckets: Vec<u64>,
}

/// A histogram's points: attribute set -> (count, sum, bucket counts).
/// Also checks every point has exactly [`DURATION_BOUNDARIES_SECONDS`].
fn histogram_points(m: &Metric) -> BTreeMap<Attrs, HistPoint> {
    let AggregatedMetrics::F64(MetricData::Histogram(h)) = m.data() else {
        panic!("{} is not an f64 histogram: {:?}", m.name(), m.data());
    };
    let mut points = BTreeMap::new();
    for p in h.data_points() {
        assert_eq!(
            p.bounds().collect::<Vec<_>>(),
            DURATION_BOUNDARIES_SECONDS,
            "{}",
            m.name()
        );
        let point = HistPoint {
            count: p.count(),
            sum: p.sum(),
            buckets: p.bucket_counts().collect(),
        };
        assert!(points.insert(attrs(p.attributes()), point).is_none());
    }
    points
}

/// Bucket counts with `n` observations in the bucket whose upper bound is
/// `le` (`f64::INFINITY` for the overflow bucket).
fn buckets(observations: &[(f64, u64)]) -> Vec<u64> {
    let mut b = vec![0; DURATION_BOUNDARIES_SECONDS.len() + 1];
    for &(le, n) in observations {
        let i = if le.is_infinite() {
            DURATION_BOUNDARIES_SECONDS.len()
        } else {
            DURATION_BOUNDARIES_SECONDS
                .iter()
                .position(|&x| x == le)
                .unwrap_or_else(|| panic!("{le} is not a boundary"))
        };
        b[i] += n;
    }
    b
}

fn assert_hist(points: &BTreeMap<Attrs, HistPoint>, key: &Attrs, count: u64, sum: f64) {
    let p = points
        .get(key)
        .unwrap_or_else(|| panic!("no point {key:?}"));
    assert_eq!(p.count, count, "{key:?}");
    assert!(
        (p.sum - sum).abs() < 1e-9,
        "{key:?}: sum {} != {sum}",
        p.sum
    );
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

// ---------------------------------------------------------------------------
// The scripted mix
// ---------------------------------------------------------------------------

const FRAUD_SUSPECTED: ErrorType = ErrorType::new("fraud_suspected");

fn record_scripted_mix(m: &CheckoutMetrics) {
    use CheckoutStatus::{Failed, Rejected, Success};

    // Checkouts: status, items, duration, error type.
    let checkouts: &[(CheckoutStatus, u64, Duration, Option<ErrorType>)] = &[
        (Success, 3, ms(800), None),
        (Success, 12, ms(1_600), None),
        (Success, 10, ms(500), None),
        // An error type on a success is ignored.
        (Success, 2, ms(400), Some(ErrorType::TIMEOUT)),
        (Rejected, 2, ms(300), Some(ErrorType::INSUFFICIENT_STOCK)),
        (Rejected, 5, ms(200), Some(ErrorType::PRICE_MISMATCH)),
        (Rejected, 1, ms(50), Some(ErrorType::INVALID_CART)),
        (Rejected, 4, ms(700), Some(ErrorType::CARD_DECLINED)),
        (Rejected, 4, ms(900), Some(ErrorType::CARD_DECLINED)),
        (Rejected, 3, ms(100), Some(FRAUD_SUSPECTED)),
        (Failed, 15, ms(31_000), Some(ErrorType::TIMEOUT)),
        (Failed, 3, ms(1_200), Some(ErrorType::UPSTREAM_ERROR)),
        (Failed, 3, ms(100), Some(ErrorType::UNAVAILABLE)),
        (Failed, 3, ms(100), Some(ErrorType::DATABASE)),
        (Failed, 3, ms(100), Some(ErrorType::INVALID_REQUEST)),
        // A failure without an error type is `_OTHER`.
        (Failed, 3, ms(100), None),
    ];
    for &(status, items, duration, error_type) in checkouts {
        m.record_checkout(status, items, duration, error_type);
    }

    let steps: &[(CheckoutStep, StepStatus, Duration)] = &[
        (CheckoutStep::ValidatingCart, StepStatus::Ok, ms(8)),
        (CheckoutStep::ValidatingCart, StepStatus::Rejected, ms(4)),
        (CheckoutStep::ReservingInventory, StepStatus::Ok, ms(20)),
        (
            CheckoutStep::ReservingInventory,
            StepStatus::Rejected,
            ms(30),
        ),
        (CheckoutStep::ProcessingPayment, StepStatus::Ok, ms(700)),
        (CheckoutStep::ProcessingPayment, StepStatus::Ok, ms(2_000)),
        (
            CheckoutStep::ProcessingPayment,
            StepStatus::Rejected,
            ms(650),
        ),
        (
            CheckoutStep::ProcessingPayment,
            StepStatus::Failed,
            ms(2_100),
        ),
        (CheckoutStep::CreatingOrder, StepStatus::Ok, ms(5)),
        (CheckoutStep::CreatingOrder, StepStatus::Failed, ms(2)),
    ];
    for &(step, status, duration) in steps {
        m.record_step(step, status, duration);
    }

    m.record_decline(DeclineCode::from_gateway_code("insufficient_funds"));
    m.record_decline(DeclineCode::from_gateway_code("Do-Not-Honor"));
    m.record_decline(DeclineCode::from_gateway_code("card_velocity_exceeded"));
    m.record_decline(DeclineCode::from_gateway_code("4111 1111 1111 1111"));
    m.record_decline_with_class(DeclineCode::GenericDecline, DeclineClass::Hard);

    m.record_inventory_shortfall(2);
    m.record_inventory_shortfall(1);

    m.record_gateway_call(ms(350), PaymentStatus::Succeeded);
    m.record_gateway_call(ms(2_000), PaymentStatus::Succeeded);
    m.record_gateway_call(ms(2_100), PaymentStatus::Succeeded);
    m.record_gateway_call(ms(600), PaymentStatus::Declined);
    m.record_gateway_call(ms(5_000), PaymentStatus::Failed);
}

fn scripted() -> ResourceMetrics {
    let (provider, exporter) = provider();
    record_scripted_mix(&CheckoutMetrics::from_provider(&provider));
    collect(&provider, &exporter)
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[test]
fn scope_and_instruments_are_exactly_the_contract() {
    let rm = scripted();
    let s = scope(&rm, METER_NAME);
    assert_eq!(s.scope().version(), Some(env!("CARGO_PKG_VERSION")));
    assert_eq!(
        s.scope().schema_url(),
        Some(checkout_otel::opentelemetry_semantic_conventions::SCHEMA_URL)
    );

    let got: BTreeSet<(&str, &str, &str)> = s
        .metrics()
        .map(|m| (m.name(), m.unit(), m.description()))
        .collect();
    let want: BTreeSet<(&str, &str, &str)> = [
        (
            "checkout.completed",
            "{checkout}",
            "Finished checkouts, by outcome.",
        ),
        (
            "checkout.duration",
            "s",
            "Duration of a whole checkout, from start to outcome.",
        ),
        (
            "checkout.step.duration",
            "s",
            "Duration of one checkout step.",
        ),
        (
            "checkout.payment.declines",
            "{decline}",
            "Payment declines, by soft/hard class and decline code.",
        ),
        (
            "checkout.payment.gateway.duration",
            "s",
            "Round trip of calls to the payment gateway.",
        ),
        (
            "checkout.inventory.shortfalls",
            "{item}",
            "Items that could not be reserved for lack of stock.",
        ),
    ]
    .into_iter()
    .collect();
    assert_eq!(got, want);
    // And the constants agree with the literal names above.
    let names: BTreeSet<&str> = want.iter().map(|(n, _, _)| *n).collect();
    assert_eq!(
        names,
        attr::CONTRACT_METRIC_NAMES
            .iter()
            .copied()
            .collect::<BTreeSet<_>>()
    );
}

#[test]
fn boundaries_run_from_1ms_to_30s() {
    assert_eq!(
        DURATION_BOUNDARIES_SECONDS,
        &[
            0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5,
            2.0, 2.5, 3.0, 5.0, 7.5, 10.0, 15.0, 20.0, 30.0
        ]
    );
}

#[test]
fn checkout_completed_counts_by_status_and_error_type() {
    let rm = scripted();
    let points = counter_points(metric(scope(&rm, METER_NAME), "checkout.completed"));
    let rejected = |e: &str| set(&[("checkout.status", "rejected"), ("error.type", e)]);
    let failed = |e: &str| set(&[("checkout.status", "failed"), ("error.type", e)]);
    let want: BTreeMap<Attrs, u64> = [
        (set(&[("checkout.status", "success")]), 4),
        (rejected("insufficient_stock"), 1),
        (rejected("price_mismatch"), 1),
        (rejected("invalid_cart"), 1),
        (rejected("card_declined"), 2),
        (rejected("fraud_suspected"), 1),
        (failed("timeout"), 1),
        (failed("upstream_error"), 1),
        (failed("unavailable"), 1),
        (failed("database"), 1),
        (failed("invalid_request"), 1),
        (failed("_OTHER"), 1),
    ]
    .into_iter()
    .collect();
    assert_eq!(points, want);
}

#[test]
fn checkout_duration_by_status_and_item_count_bucket() {
    let rm = scripted();
    let points = histogram_points(metric(scope(&rm, METER_NAME), "checkout.duration"));
    let key = |s: &str, b: &str| set(&[("checkout.status", s), ("checkout.item_count_bucket", b)]);
    assert_eq!(
        points.keys().cloned().collect::<BTreeSet<_>>(),
        [
            key("success", "small"),
            key("success", "large"),
            key("rejected", "small"),
            key("failed", "small"),
            key("failed", "large"),
        ]
        .into_iter()
        .collect()
    );
    // 10 items is still small; 12 and 15 are large.
    assert_hist(&points, &key("success", "small"), 3, 0.8 + 0.5 + 0.4);
    assert_hist(&points, &key("success", "large"), 1, 1.6);
    assert_hist(
        &points,
        &key("rejected", "small"),
        6,
        0.3 + 0.2 + 0.05 + 0.7 + 0.9 + 0.1,
    );
    assert_hist(&points, &key("failed", "small"), 5, 1.2 + 0.4);
    assert_hist(&points, &key("failed", "large"), 1, 31.0);

    // Buckets are upper-inclusive seconds: 0.4 and 0.5 in (0.25, 0.5], 0.8 in (0.75, 1].
    assert_eq!(
        points[&key("success", "small")].buckets,
        buckets(&[(0.5, 2), (1.0, 1)])
    );
    assert_eq!(
        points[&key("success", "large")].buckets,
        buckets(&[(2.0, 1)])
    );
    // Beyond 30 s: the overflow bucket.
    assert_eq!(
        points[&key("failed", "large")].buckets,
        buckets(&[(f64::INFINITY, 1)])
    );
}

#[test]
fn step_duration_by_step_and_status_resolves_milliseconds_and_seconds() {
    let rm = scripted();
    let points = histogram_points(metric(scope(&rm, METER_NAME), "checkout.step.duration"));
    let key = |s: &str, st: &str| set(&[("checkout.step", s), ("step.status", st)]);
    // step, status, count, sum, (bucket upper bound, observations)
    type Case = (&'static str, &'static str, u64, f64, &'static [(f64, u64)]);
    let cases: &[Case] = &[
        ("validating_cart", "ok", 1, 0.008, &[(0.01, 1)]),
        ("validating_cart", "rejected", 1, 0.004, &[(0.005, 1)]),
        ("reserving_inventory", "ok", 1, 0.02, &[(0.025, 1)]),
        ("reserving_inventory", "rejected", 1, 0.03, &[(0.05, 1)]),
        // A 2 s payment and a 2.1 s one fall on either side of the 2 s bound.
        ("processing_payment", "ok", 2, 2.7, &[(0.75, 1), (2.0, 1)]),
        ("processing_payment", "rejected", 1, 0.65, &[(0.75, 1)]),
        ("processing_payment", "failed", 1, 2.1, &[(2.5, 1)]),
        ("creating_order", "ok", 1, 0.005, &[(0.005, 1)]),
        ("creating_order", "failed", 1, 0.002, &[(0.0025, 1)]),
    ];
    assert_eq!(points.len(), cases.len());
    for &(step, status, count, sum, obs) in cases {
        let k = key(step, status);
        assert_hist(&points, &k, count, sum);
        assert_eq!(points[&k].buckets, buckets(obs), "{k:?}");
    }
}

#[test]
fn declines_by_class_and_bounded_code() {
    let rm = scripted();
    let points = counter_points(metric(scope(&rm, METER_NAME), "checkout.payment.declines"));
    let key = |c: &str, d: &str| set(&[("payment.decline_class", c), ("payment.decline_code", d)]);
    let want: BTreeMap<Attrs, u64> = [
        (key("soft", "insufficient_funds"), 1),
        (key("hard", "do_not_honor"), 1),
        // Unknown codes, even one that looks like a card number, become `other`.
        (key("hard", "other"), 2),
        // An explicit class wins over the code's default (generic_decline is soft).
        (key("hard", "generic_decline"), 1),
    ]
    .into_iter()
    .collect();
    assert_eq!(points, want);
}

#[test]
fn inventory_shortfalls_count_items_without_attributes() {
    let rm = scripted();
    let points = counter_points(metric(
        scope(&rm, METER_NAME),
        "checkout.inventory.shortfalls",
    ));
    assert_eq!(points, [(Attrs::new(), 3)].into_iter().collect());
}

#[test]
fn gateway_duration_by_payment_status() {
    let rm = scripted();
    let points = histogram_points(metric(
        scope(&rm, METER_NAME),
        "checkout.payment.gateway.duration",
    ));
    let key = |s: &str| set(&[("payment.status", s)]);
    assert_eq!(points.len(), 3);
    assert_hist(&points, &key("succeeded"), 3, 0.35 + 2.0 + 2.1);
    assert_hist(&points, &key("declined"), 1, 0.6);
    assert_hist(&points, &key("failed"), 1, 5.0);
    assert_eq!(
        points[&key("succeeded")].buckets,
        buckets(&[(0.5, 1), (2.0, 1), (2.5, 1)])
    );
    assert_eq!(points[&key("failed")].buckets, buckets(&[(5.0, 1)]));
}

/// Every combination of every enum, on a meter of the user's choosing: each
/// lands in its own series, and no key or value outside the bounded enums
/// appears anywhere.
#[test]
fn every_combination_is_its_own_series_and_nothing_unbounded_gets_through() {
    let (provider, exporter) = provider();
    let m = CheckoutMetrics::new(&provider.meter("my-service"));
    // Every error type the crate defines (`cancelled` included).
    let error_types = ErrorType::KNOWN;
    for &status in CheckoutStatus::ALL {
        for items in [1, 10, 11, 1_000_000] {
            for &e in error_types {
                m.record_checkout(status, items, ms(10), Some(e));
            }
        }
    }
    for &step in CheckoutStep::ALL {
        for &status in StepStatus::ALL {
            m.record_step(step, status, ms(1));
        }
    }
    for &class in DeclineClass::ALL {
        for &code in DeclineCode::ALL {
            m.record_decline_with_class(code, class);
        }
    }
    for &code in DeclineCode::ALL {
        m.record_decline(code);
    }
    for &status in PaymentStatus::ALL {
        m.record_gateway_call(ms(1), status);
    }
    m.record_inventory_shortfall(1);

    let rm = collect(&provider, &exporter);
    let s = scope(&rm, "my-service");
    let n = |name| match metric(s, name).data() {
        AggregatedMetrics::U64(MetricData::Sum(x)) => x.data_points().count(),
        AggregatedMetrics::F64(MetricData::Histogram(x)) => x.data_points().count(),
        other => panic!("{name}: {other:?}"),
    };
    assert_eq!(
        n(attr::METRIC_CHECKOUT_COMPLETED),
        1 + 2 * error_types.len()
    );
    assert_eq!(
        n(attr::METRIC_CHECKOUT_DURATION),
        CheckoutStatus::ALL.len() * ItemCountBucket::ALL.len()
    );
    assert_eq!(
        n(attr::METRIC_CHECKOUT_STEP_DURATION),
        CheckoutStep::ALL.len() * StepStatus::ALL.len()
    );
    assert_eq!(
        n(attr::METRIC_PAYMENT_DECLINES),
        DeclineClass::ALL.len() * DeclineCode::ALL.len()
    );
    assert_eq!(
        n(attr::METRIC_PAYMENT_GATEWAY_DURATION),
        PaymentStatus::ALL.len()
    );
    assert_eq!(n(attr::METRIC_INVENTORY_SHORTFALLS), 1);

    // The allowed values of every metric attribute key.
    fn strs<T: Copy + std::fmt::Display>(all: &[T]) -> BTreeSet<String> {
        all.iter().map(|v| v.to_string()).collect()
    }
    let allowed: BTreeMap<&str, BTreeSet<String>> = [
        (attr::CHECKOUT_STATUS, strs(CheckoutStatus::ALL)),
        (attr::CHECKOUT_ITEM_COUNT_BUCKET, strs(ItemCountBucket::ALL)),
        (attr::CHECKOUT_STEP, strs(CheckoutStep::ALL)),
        (attr::STEP_STATUS, strs(StepStatus::ALL)),
        (attr::ERROR_TYPE, strs(error_types)),
        (attr::PAYMENT_DECLINE_CLASS, strs(DeclineClass::ALL)),
        (attr::PAYMENT_DECLINE_CODE, strs(DeclineCode::ALL)),
        (attr::PAYMENT_STATUS, strs(PaymentStatus::ALL)),
    ]
    .into_iter()
    .collect();
    assert_eq!(
        allowed.keys().copied().collect::<BTreeSet<_>>(),
        attr::CONTRACT_METRIC_ATTRIBUTE_KEYS
            .iter()
            .copied()
            .collect::<BTreeSet<_>>()
    );

    let mut seen = 0;
    for metric in s.metrics() {
        let sets: Vec<Attrs> = match metric.data() {
            AggregatedMetrics::U64(MetricData::Sum(x)) => {
                x.data_points().map(|p| attrs(p.attributes())).collect()
            }
            AggregatedMetrics::F64(MetricData::Histogram(x)) => {
                x.data_points().map(|p| attrs(p.attributes())).collect()
            }
            other => panic!("{}: {other:?}", metric.name()),
        };
        for set in sets {
            for (k, v) in &set {
                let values = allowed
                    .get(k.as_str())
                    .unwrap_or_else(|| panic!("{}: key {k} is not a contract key", metric.name()));
                assert!(
                    values.contains(v),
                    "{}: {k}={v} is unbounded",
                    metric.name()
                );
                seen += 1;
            }
        }
    }
    assert!(seen > 0);
}

#[test]
fn global_uses_the_provider_installed_before_it() {
    let (provider, exporter) = provider();
    checkout_otel::opentelemetry::global::set_meter_provider(provider.clone());
    let m = CheckoutMetrics::global();
    m.clone().record_inventory_shortfall(4);
    m.record_inventory_shortfall(1);
    let rm = collect(&provider, &exporter);
    let points = counter_points(metric(
        scope(&rm, METER_NAME),
        attr::METRIC_INVENTORY_SHORTFALLS,
    ));
    assert_eq!(points, [(Attrs::new(), 5)].into_iter().collect());
}

/// The meter records through instruments bound to their attribute sets on
/// first use. Under delta temporality each export must still hold exactly
/// what was recorded since the previous one: no stale series, no carried-over
/// counts, and never a point for a set that was never recorded.
#[test]
fn bound_recording_under_delta_temporality_exports_only_the_interval() {
    use checkout_otel::opentelemetry_sdk::metrics::InMemoryMetricExporterBuilder;
    let exporter = InMemoryMetricExporterBuilder::new()
        .with_temporality(Temporality::Delta)
        .build();
    let provider = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(exporter.clone()).build())
        .build();
    let m = CheckoutMetrics::from_provider(&provider);
    let step = |s: &str| set(&[("checkout.step", s), ("step.status", "ok")]);
    let points = |provider: &SdkMeterProvider| {
        let rm = collect(provider, &exporter);
        histogram_points(metric(scope(&rm, METER_NAME), "checkout.step.duration"))
    };

    m.record_step(CheckoutStep::ValidatingCart, StepStatus::Ok, ms(8));
    m.record_step(CheckoutStep::ValidatingCart, StepStatus::Ok, ms(12));
    let first = points(&provider);
    assert_eq!(first.len(), 1);
    assert_hist(&first, &step("validating_cart"), 2, 0.02);

    m.record_step(CheckoutStep::ReservingInventory, StepStatus::Ok, ms(30));
    let second = points(&provider);
    assert_eq!(second.len(), 1, "{second:?}");
    assert_hist(&second, &step("reserving_inventory"), 1, 0.03);

    m.record_step(CheckoutStep::ValidatingCart, StepStatus::Ok, ms(5));
    let third = points(&provider);
    assert_eq!(third.len(), 1, "{third:?}");
    assert_hist(&third, &step("validating_cart"), 1, 0.005);
    provider.shutdown().unwrap();
}
