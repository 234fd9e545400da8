//! The prewired checkout meter: the instruments a checkout team dashboards and
//! alerts on, created once, with bounded attributes.
//!
//! [`CheckoutMetrics`] holds six instruments (see the README's metrics table):
//!
//! | name | instrument | unit | attributes |
//! |---|---|---|---|
//! | `checkout.completed` | counter | `{checkout}` | `checkout.status`, `error.type` (failures only) |
//! | `checkout.duration` | histogram | `s` | `checkout.status`, `checkout.item_count_bucket` |
//! | `checkout.step.duration` | histogram | `s` | `checkout.step`, `step.status` |
//! | `checkout.payment.declines` | counter | `{decline}` | `payment.decline_class`, `payment.decline_code` |
//! | `checkout.payment.gateway.duration` | histogram | `s` | `payment.status` |
//! | `checkout.inventory.shortfalls` | counter | `{item}` | none |
//!
//! Every attribute value comes from a typed enum of [`crate::attributes`] (or
//! an [`ErrorType`], which can only hold a `&'static str`), so no id, amount or
//! free text can reach a metric and the number of series is bounded by
//! construction. Histograms use [`DURATION_BOUNDARIES_SECONDS`] rather than
//! the SDK's millisecond-shaped defaults.
//!
//! The span helpers record all of this automatically; a service that only
//! wants metrics records by hand:
//!
//! ```
//! use std::time::Duration;
//! use checkout_otel::attributes::{
//!     CheckoutStatus, CheckoutStep, DeclineCode, ErrorType, PaymentStatus, StepStatus,
//! };
//! use checkout_otel::metrics::CheckoutMetrics;
//! use checkout_otel::opentelemetry::metrics::MeterProvider as _;
//! use checkout_otel::opentelemetry_sdk::metrics::SdkMeterProvider;
//!
//! let provider = SdkMeterProvider::builder().build();
//! let metrics = CheckoutMetrics::new(&provider.meter("my-checkout-service"));
//!
//! metrics.record_step(CheckoutStep::ValidatingCart, StepStatus::Ok, Duration::from_millis(8));
//! metrics.record_gateway_call(Duration::from_millis(640), PaymentStatus::Declined);
//! // A gateway's raw code is mapped to the bounded set (unknown codes become `other`).
//! metrics.record_decline(DeclineCode::from_gateway_code("insufficient_funds"));
//! metrics.record_step(CheckoutStep::ProcessingPayment, StepStatus::Rejected, Duration::from_millis(650));
//! metrics.record_checkout(
//!     CheckoutStatus::Rejected,
//!     3,
//!     Duration::from_millis(700),
//!     Some(ErrorType::CARD_DECLINED),
//! );
//! # provider.shutdown().unwrap();
//! ```

use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::metrics::{
    BoundCounter, BoundHistogram, Counter, Histogram, Meter, MeterProvider,
};

use crate::attributes::{
    self as attr, CheckoutStatus, CheckoutStep, DeclineClass, DeclineCode, ErrorType,
    ItemCountBucket, PaymentStatus, StepStatus,
};

/// Bucket boundaries, in seconds, of every duration histogram.
///
/// From 1 ms to 30 s: 1-10 ms resolves fast steps (a cache hit, a local
/// database write), 1-3 s in half-second steps resolves a slow payment gateway
/// around the usual 2 s alert threshold, and 30 s is where clients time out.
/// Values above 30 s land in the overflow bucket.
pub const DURATION_BOUNDARIES_SECONDS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0,
    2.5, 3.0, 5.0, 7.5, 10.0, 15.0, 20.0, 30.0,
];

const STATUSES: usize = CheckoutStatus::ALL.len();
const BUCKETS: usize = ItemCountBucket::ALL.len();
const STEPS: usize = CheckoutStep::ALL.len();
const STEP_STATUSES: usize = StepStatus::ALL.len();
const CLASSES: usize = DeclineClass::ALL.len();
const CODES: usize = DeclineCode::ALL.len();
const PAYMENT_STATUSES: usize = PaymentStatus::ALL.len();

/// Every attribute set the enum-typed attributes can form, built once.
///
/// Tables are indexed by `value as usize`: the enums of
/// [`crate::attributes`] have no explicit discriminants, so a value's
/// discriminant is its position in `ALL`, which is what the tables are built
/// from (a unit test checks it).
struct AttributeSets {
    completed: [[KeyValue; 1]; STATUSES],
    duration: [[[KeyValue; 2]; BUCKETS]; STATUSES],
    step: [[[KeyValue; 2]; STEP_STATUSES]; STEPS],
    decline: [[[KeyValue; 2]; CODES]; CLASSES],
    gateway: [[KeyValue; 1]; PAYMENT_STATUSES],
}

impl AttributeSets {
    fn new() -> Self {
        use std::array::from_fn;
        AttributeSets {
            completed: from_fn(|s| [KeyValue::new(attr::CHECKOUT_STATUS, CheckoutStatus::ALL[s])]),
            duration: from_fn(|s| {
                from_fn(|b| {
                    [
                        KeyValue::new(attr::CHECKOUT_STATUS, CheckoutStatus::ALL[s]),
                        KeyValue::new(attr::CHECKOUT_ITEM_COUNT_BUCKET, ItemCountBucket::ALL[b]),
                    ]
                })
            }),
            step: from_fn(|s| {
                from_fn(|t| {
                    [
                        KeyValue::new(attr::CHECKOUT_STEP, CheckoutStep::ALL[s]),
                        KeyValue::new(attr::STEP_STATUS, StepStatus::ALL[t]),
                    ]
                })
            }),
            decline: from_fn(|c| {
                from_fn(|d| {
                    [
                        KeyValue::new(attr::PAYMENT_DECLINE_CLASS, DeclineClass::ALL[c]),
                        KeyValue::new(attr::PAYMENT_DECLINE_CODE, DeclineCode::ALL[d]),
                    ]
                })
            }),
            gateway: from_fn(|s| [KeyValue::new(attr::PAYMENT_STATUS, PaymentStatus::ALL[s])]),
        }
    }
}

/// The instruments bound to each attribute set, bound on first use.
///
/// A bound instrument records straight into its data point: no hashing and
/// comparing of the attribute set on every call, which is most of what an
/// unbound `record` costs. Binding lazily keeps the exported data identical
/// to unbound recording: a set that was never recorded has no data point.
struct BoundSets {
    completed: [OnceLock<BoundCounter<u64>>; STATUSES],
    duration: [[OnceLock<BoundHistogram<f64>>; BUCKETS]; STATUSES],
    step: [[OnceLock<BoundHistogram<f64>>; STEP_STATUSES]; STEPS],
    decline: [[OnceLock<BoundCounter<u64>>; CODES]; CLASSES],
    gateway: [OnceLock<BoundHistogram<f64>>; PAYMENT_STATUSES],
    shortfalls: OnceLock<BoundCounter<u64>>,
}

impl BoundSets {
    fn new() -> Self {
        use std::array::from_fn;
        BoundSets {
            completed: from_fn(|_| OnceLock::new()),
            duration: from_fn(|_| from_fn(|_| OnceLock::new())),
            step: from_fn(|_| from_fn(|_| OnceLock::new())),
            decline: from_fn(|_| from_fn(|_| OnceLock::new())),
            gateway: from_fn(|_| OnceLock::new()),
            shortfalls: OnceLock::new(),
        }
    }
}

struct Instruments {
    completed: Counter<u64>,
    duration: Histogram<f64>,
    step_duration: Histogram<f64>,
    declines: Counter<u64>,
    gateway_duration: Histogram<f64>,
    shortfalls: Counter<u64>,
    attrs: AttributeSets,
    bound: BoundSets,
}

/// The checkout instruments, created once from a [`Meter`].
///
/// Cloning is cheap (one `Arc`): create it once at start-up and share it.
/// Recording is an array lookup and one `add`/`record` on an instrument
/// already bound to its attribute set (bound on first use): no allocation, no
/// string formatting, no hashing of attributes. With a no-op meter provider
/// every call is a no-op.
#[derive(Clone)]
pub struct CheckoutMetrics {
    inner: Arc<Instruments>,
}

impl fmt::Debug for CheckoutMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckoutMetrics").finish_non_exhaustive()
    }
}

impl CheckoutMetrics {
    /// Creates the instruments on `meter`.
    ///
    /// Use the meter of your telemetry guard, or any [`Meter`]. Creating the
    /// instruments twice on the same meter is allowed (the SDK returns the
    /// same streams) but wasteful: clone one `CheckoutMetrics` instead.
    pub fn new(meter: &Meter) -> Self {
        let boundaries = DURATION_BOUNDARIES_SECONDS.to_vec();
        let seconds_histogram = |name: &'static str, description: &'static str| {
            meter
                .f64_histogram(name)
                .with_description(description)
                .with_unit("s")
                .with_boundaries(boundaries.clone())
                .build()
        };
        let counter = |name: &'static str, description: &'static str, unit: &'static str| {
            meter
                .u64_counter(name)
                .with_description(description)
                .with_unit(unit)
                .build()
        };
        CheckoutMetrics {
            inner: Arc::new(Instruments {
                completed: counter(
                    attr::METRIC_CHECKOUT_COMPLETED,
                    "Finished checkouts, by outcome.",
                    "{checkout}",
                ),
                duration: seconds_histogram(
                    attr::METRIC_CHECKOUT_DURATION,
                    "Duration of a whole checkout, from start to outcome.",
                ),
                step_duration: seconds_histogram(
                    attr::METRIC_CHECKOUT_STEP_DURATION,
                    "Duration of one checkout step.",
                ),
                declines: counter(
                    attr::METRIC_PAYMENT_DECLINES,
                    "Payment declines, by soft/hard class and decline code.",
                    "{decline}",
                ),
                gateway_duration: seconds_histogram(
                    attr::METRIC_PAYMENT_GATEWAY_DURATION,
                    "Round trip of calls to the payment gateway.",
                ),
                shortfalls: counter(
                    attr::METRIC_INVENTORY_SHORTFALLS,
                    "Items that could not be reserved for lack of stock.",
                    "{item}",
                ),
                attrs: AttributeSets::new(),
                bound: BoundSets::new(),
            }),
        }
    }

    /// Creates the instruments on `provider`'s meter named [`SCOPE_NAME`](crate::SCOPE_NAME),
    /// versioned with this crate's version.
    pub fn from_provider<P: MeterProvider + ?Sized>(provider: &P) -> Self {
        Self::new(&provider.meter_with_scope(crate::scope::instrumentation_scope()))
    }

    /// Creates the instruments on the global meter provider's meter named
    /// [`SCOPE_NAME`](crate::SCOPE_NAME).
    ///
    /// The meter is bound to the provider that is global *now*: call this
    /// after installing the provider (after `init`), not in a `static`
    /// initialised before it.
    pub fn global() -> Self {
        Self::new(&opentelemetry::global::meter_with_scope(
            crate::scope::instrumentation_scope(),
        ))
    }

    /// Records one finished checkout: `checkout.completed` +1 and its
    /// duration in `checkout.duration`.
    ///
    /// `error_type` is recorded on `checkout.completed` for a rejected or
    /// failed checkout (`_OTHER` when `None`, so every failure series carries
    /// `error.type`); it is ignored for a success. `item_count` only selects
    /// the `checkout.item_count_bucket` (`small` up to 10 items, `large`
    /// above).
    pub fn record_checkout(
        &self,
        status: CheckoutStatus,
        item_count: u64,
        duration: Duration,
        error_type: Option<ErrorType>,
    ) {
        let i = &*self.inner;
        let (s, b) = (status as usize, ItemCountBucket::of(item_count) as usize);
        i.bound.duration[s][b]
            .get_or_init(|| i.duration.bind(&i.attrs.duration[s][b]))
            .record(duration.as_secs_f64());
        if status == CheckoutStatus::Success {
            i.bound.completed[s]
                .get_or_init(|| i.completed.bind(&i.attrs.completed[s]))
                .add(1);
        } else {
            // `error.type` is an open set of `&'static str`, so it cannot be
            // tabled. Both keys and values are static strings, so this
            // builds the set on the stack without allocating or touching a
            // reference count: the same cost as a hand-written `add`.
            let error_type = error_type.unwrap_or(ErrorType::OTHER);
            i.completed.add(
                1,
                &[
                    KeyValue::new(attr::CHECKOUT_STATUS, status),
                    KeyValue::new(attr::ERROR_TYPE, error_type),
                ],
            );
        }
    }

    /// Records the duration of one checkout step in `checkout.step.duration`.
    pub fn record_step(&self, step: CheckoutStep, status: StepStatus, duration: Duration) {
        let i = &*self.inner;
        let (s, t) = (step as usize, status as usize);
        i.bound.step[s][t]
            .get_or_init(|| i.step_duration.bind(&i.attrs.step[s][t]))
            .record(duration.as_secs_f64());
    }

    /// Counts one payment decline in `checkout.payment.declines`, classed by
    /// [`DeclineCode::class`].
    ///
    /// Map a gateway's raw code with [`DeclineCode::from_gateway_code`]; an
    /// unknown code becomes `other`.
    pub fn record_decline(&self, code: DeclineCode) {
        self.record_decline_with_class(code, code.class());
    }

    /// Counts one payment decline with an explicit class, for gateways that
    /// say themselves whether a decline may be retried.
    pub fn record_decline_with_class(&self, code: DeclineCode, class: DeclineClass) {
        let i = &*self.inner;
        let (c, d) = (class as usize, code as usize);
        i.bound.decline[c][d]
            .get_or_init(|| i.declines.bind(&i.attrs.decline[c][d]))
            .add(1);
    }

    /// Adds `items` to `checkout.inventory.shortfalls`: the number of items
    /// of a checkout that could not be reserved for lack of stock.
    pub fn record_inventory_shortfall(&self, items: u64) {
        let i = &*self.inner;
        i.bound
            .shortfalls
            .get_or_init(|| i.shortfalls.bind(&[]))
            .add(items);
    }

    /// Records one payment gateway round trip in
    /// `checkout.payment.gateway.duration`.
    pub fn record_gateway_call(&self, duration: Duration, status: PaymentStatus) {
        let i = &*self.inner;
        let s = status as usize;
        i.bound.gateway[s]
            .get_or_init(|| i.gateway_duration.bind(&i.attrs.gateway[s]))
            .record(duration.as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The attribute tables are indexed by discriminant; that is only right
    /// while each enum's discriminants follow its `ALL` order.
    #[test]
    fn discriminants_follow_all_order() {
        fn check<T: Copy + fmt::Debug>(all: &[T], index: impl Fn(T) -> usize) {
            for (i, v) in all.iter().enumerate() {
                assert_eq!(index(*v), i, "{v:?}");
            }
        }
        check(CheckoutStatus::ALL, |v| v as usize);
        check(ItemCountBucket::ALL, |v| v as usize);
        check(CheckoutStep::ALL, |v| v as usize);
        check(StepStatus::ALL, |v| v as usize);
        check(DeclineClass::ALL, |v| v as usize);
        check(DeclineCode::ALL, |v| v as usize);
        check(PaymentStatus::ALL, |v| v as usize);
    }

    #[test]
    fn tables_hold_the_value_they_are_indexed_by() {
        let t = AttributeSets::new();
        let v = |kv: &KeyValue| kv.value.as_str().into_owned();
        for &s in CheckoutStep::ALL {
            for &st in StepStatus::ALL {
                let set = &t.step[s as usize][st as usize];
                assert_eq!((v(&set[0]), v(&set[1])), (s.to_string(), st.to_string()));
            }
        }
        for &c in DeclineClass::ALL {
            for &d in DeclineCode::ALL {
                let set = &t.decline[c as usize][d as usize];
                assert_eq!((v(&set[0]), v(&set[1])), (c.to_string(), d.to_string()));
            }
        }
    }

    #[test]
    fn boundaries_are_valid_and_span_1ms_to_30s() {
        let b = DURATION_BOUNDARIES_SECONDS;
        assert!(b.windows(2).all(|w| w[0] < w[1]));
        assert_eq!((b[0], b[b.len() - 1]), (0.001, 30.0));
        assert!(b.contains(&0.01) && b.contains(&2.0));
    }
}
