//! `checkout.process`: the root of a checkout, with step tracking.

use std::borrow::Cow;
use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use opentelemetry::KeyValue;
use opentelemetry::trace::{FutureExt, SpanKind};

use super::handle::forward_span_methods;
use super::spec::saturating_i64;
use super::{Attrs, CheckoutTracer, ClassifyError, SpanSpec, TypedSpan};
use crate::attributes::{
    self as attr, CheckoutStatus, CheckoutStep, ErrorType, FailureKind, StepStatus,
};
use crate::metrics::CheckoutMetrics;
use crate::pii::{Money, UserRef};

/// Starts `checkout.process`, the root span of one checkout.
///
/// ```
/// # async fn demo() -> Result<(), checkout_otel::spans::Failure> {
/// use checkout_otel::attributes::{CheckoutStep, ErrorType};
/// use checkout_otel::pii::{Currency, Money};
/// use checkout_otel::spans::{CheckoutProcess, CheckoutTracer, Failure};
///
/// let tracer = CheckoutTracer::global();
/// let checkout = tracer.start(
///     CheckoutProcess::new("cart-1")
///         .item_count(2)
///         .total(Money::from_minor(4_998, Currency::USD)),
/// );
/// let result = async {
///     checkout.step(CheckoutStep::ValidatingCart, async { Ok::<_, Failure>(()) }).await?;
///     checkout
///         .step(CheckoutStep::ProcessingPayment, async {
///             Err::<(), _>(Failure::rejection(ErrorType::CARD_DECLINED, "insufficient funds"))
///         })
///         .await?;
///     Ok::<(), Failure>(())
/// }
/// .await;
/// let outcome = checkout.finish(&result);
/// assert_eq!(outcome.failure_step, Some(CheckoutStep::ProcessingPayment));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "a span spec does nothing until it is started with `tracer.start(..)`"]
pub struct CheckoutProcess<'a> {
    cart_id: &'a str,
    user: Option<&'a UserRef>,
    total: Option<Money>,
    item_count: Option<u64>,
    kind: SpanKind,
}

impl<'a> CheckoutProcess<'a> {
    /// A checkout of cart `cart_id`.
    pub fn new(cart_id: &'a str) -> Self {
        CheckoutProcess {
            cart_id,
            user: None,
            total: None,
            item_count: None,
            kind: SpanKind::Internal,
        }
    }

    /// The customer, recorded only as `user.hash`.
    pub fn user(mut self, user: &'a UserRef) -> Self {
        self.user = Some(user);
        self
    }

    /// The order total (`checkout.total`, `checkout.total_minor`, `checkout.currency`).
    pub fn total(mut self, total: Money) -> Self {
        self.total = Some(total);
        self
    }

    /// Number of items (`checkout.item_count`, and the metrics' size
    /// bucket). When it is known only later, use [`CheckoutProcessSpan::set_item_count`].
    pub fn item_count(mut self, item_count: usize) -> Self {
        self.item_count = Some(item_count as u64);
        self
    }

    /// Makes the span `SERVER`: use it when `checkout.process` is the entry
    /// point of the request (no HTTP server span above it).
    pub fn server(mut self) -> Self {
        self.kind = SpanKind::Server;
        self
    }
}

impl SpanSpec for CheckoutProcess<'_> {
    type Span = CheckoutProcessSpan;

    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed(attr::CHECKOUT_PROCESS)
    }

    /// `INTERNAL`, or `SERVER` after [`CheckoutProcess::server`].
    fn kind(&self) -> SpanKind {
        self.kind.clone()
    }

    fn attributes(&self, attrs: &mut Attrs<'_>) {
        attrs.str(attr::CART_ID, self.cart_id.to_owned());
        if let Some(user) = self.user {
            attrs.push(user.key_value());
        }
        if let Some(total) = self.total {
            attrs.extend(total_attributes(total));
        }
    }

    fn wrap(self, span: TypedSpan, tracer: &CheckoutTracer) -> CheckoutProcessSpan {
        CheckoutProcessSpan {
            span,
            started: Instant::now(),
            item_count: AtomicU64::new(self.item_count.unwrap_or(ITEM_COUNT_UNSET)),
            metrics: tracer.metrics().clone(),
            state: Mutex::new(State {
                current: CheckoutStep::Initiated,
                failure: None,
                steps: Vec::with_capacity(4),
                finished: false,
            }),
        }
    }
}

fn total_attributes(total: Money) -> [KeyValue; 3] {
    [
        KeyValue::new(attr::CHECKOUT_TOTAL, total.to_decimal_string()),
        KeyValue::new(attr::CHECKOUT_TOTAL_MINOR, total.minor_units()),
        KeyValue::new(attr::CHECKOUT_CURRENCY, total.currency().code()),
    ]
}

/// One step of a checkout, as [`CheckoutProcessSpan::step`] measured it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepRecord {
    /// The step.
    pub step: CheckoutStep,
    /// How it ended.
    pub status: StepStatus,
    /// How long it took.
    pub duration: Duration,
}

/// How a checkout ended, returned by [`CheckoutProcessSpan::finish`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutOutcome {
    /// Success, rejected or failed.
    pub status: CheckoutStatus,
    /// The step it failed in, if it failed.
    pub failure_step: Option<CheckoutStep>,
    /// The failure's `error.type`, if it failed.
    pub error_type: Option<ErrorType>,
    /// Wall time from start to finish.
    pub duration: Duration,
    /// Every step run, in order.
    pub steps: Vec<StepRecord>,
}

#[derive(Debug, Clone, Copy)]
struct StepFailure {
    step: CheckoutStep,
    error_type: ErrorType,
    kind: FailureKind,
}

#[derive(Debug)]
struct State {
    current: CheckoutStep,
    failure: Option<StepFailure>,
    steps: Vec<StepRecord>,
    finished: bool,
}

/// The `checkout.process` span, tracking which step the checkout is in.
///
/// Run each step through [`CheckoutProcessSpan::step`], then call
/// [`CheckoutProcessSpan::finish`] with the checkout's result. The span then carries
/// `checkout.step` (the last step reached, `complete` on success),
/// `checkout.status`, and on failure `checkout.failure_step`, `error.type`,
/// `failure.kind` and status `Error`; each successful step adds its milestone
/// event (`cart_validated`, `inventory_reserved`, `payment_processed`,
/// `order_created`). Step durations and the checkout's outcome are recorded
/// on the tracer's checkout meter too.
///
/// `finish` is the only way to end a checkout, and it consumes the handle:
/// there is no `end` or `fail` that could record a failure the metrics do not
/// see, and no way to finish a failed checkout as a success (see the
/// [module docs](super#ending-a-span)). Dropped without `finish` (for example
/// when the request is cancelled), the checkout is recorded as failed in its
/// current step with `error.type` `cancelled`, or with the failure of a step
/// that failed.
#[derive(Debug)]
#[must_use = "a checkout is recorded as cancelled when its handle is dropped: bind it and call `finish` with the checkout's result"]
pub struct CheckoutProcessSpan {
    span: TypedSpan,
    started: Instant,
    // Recorded when the checkout ends, so it can be learnt mid-checkout.
    item_count: AtomicU64,
    metrics: CheckoutMetrics,
    state: Mutex<State>,
}

forward_span_methods!(CheckoutProcessSpan);

impl CheckoutProcessSpan {
    /// The step the checkout is in now.
    pub fn current_step(&self) -> CheckoutStep {
        self.lock().current
    }

    /// The steps run so far, with their outcome and duration.
    pub fn steps(&self) -> Vec<StepRecord> {
        self.lock().steps.clone()
    }

    /// Runs one step inside the checkout span: marks it current, times it,
    /// records its outcome, and on success adds the step's milestone event.
    /// On error the failure (step, `error.type`, kind) is remembered for
    /// [`CheckoutProcessSpan::finish`]; the error is returned unchanged.
    pub async fn step<T, E, F>(&self, step: CheckoutStep, fut: F) -> Result<T, E>
    where
        F: Future<Output = Result<T, E>>,
        E: ClassifyError,
    {
        self.lock().current = step;
        let started = Instant::now();
        let result = fut.with_context(self.span.context().clone()).await;
        let duration = started.elapsed();
        let status = match &result {
            Ok(_) => StepStatus::Ok,
            Err(e) => match e.failure_kind() {
                FailureKind::Rejection => StepStatus::Rejected,
                _ => StepStatus::Failed,
            },
        };
        {
            let mut state = self.lock();
            state.steps.push(StepRecord {
                step,
                status,
                duration,
            });
            if let Err(e) = &result {
                state.failure.get_or_insert(StepFailure {
                    step,
                    error_type: e.error_type(),
                    kind: e.failure_kind(),
                });
            }
        }
        self.metrics.record_step(step, status, duration);
        if result.is_ok() {
            if let Some(event) = milestone(step) {
                self.span.add_event(event, Vec::new());
            }
        }
        result
    }

    /// Sets the number of items when it is known only after the span
    /// started (for example after the cart was validated). Recorded as
    /// `checkout.item_count` when the checkout ends, and used for the
    /// metrics' size bucket.
    pub fn set_item_count(&self, item_count: usize) {
        self.item_count.store(item_count as u64, Ordering::Relaxed);
    }

    /// Records the order id once it is known (`order.id`).
    pub fn set_order_id(&self, order_id: &str) {
        self.span
            .set_attribute(KeyValue::new(attr::ORDER_ID, order_id.to_owned()));
    }

    /// Records the total when it is known only after the span started.
    pub fn set_total(&self, total: Money) {
        if self.span.is_recording() {
            for kv in total_attributes(total) {
                self.span.set_attribute(kv);
            }
        }
    }

    /// Ends the checkout with its result and returns what was recorded.
    /// With an `Err`, the first step that failed (or the current one, for an
    /// error raised outside any step) is recorded as the failure step.
    // Inlined: a by-value handle would otherwise be copied into the call.
    #[inline]
    pub fn finish<T, E: ClassifyError>(self, result: &Result<T, E>) -> CheckoutOutcome {
        let error = result.as_ref().err().map(|e| {
            (
                e.error_type(),
                e.failure_kind(),
                e.to_string(),
                e.exception_type(),
            )
        });
        self.conclude(error)
    }

    fn conclude(
        &self,
        error: Option<(ErrorType, FailureKind, String, &'static str)>,
    ) -> CheckoutOutcome {
        let duration = self.started.elapsed();
        let (status, failure_step, error_type, steps) = {
            let mut state = self.lock();
            state.finished = true;
            match error {
                None => {
                    state.current = CheckoutStep::Complete;
                    // Concluded once: the steps move into the outcome.
                    let steps = std::mem::take(&mut state.steps);
                    (CheckoutStatus::Success, None, None, steps)
                }
                Some((error_type, kind, message, exception_type)) => {
                    // The step that failed first explains the checkout; an
                    // error raised outside any step belongs to the current one.
                    let failure = state.failure.unwrap_or(StepFailure {
                        step: state.current,
                        error_type,
                        kind,
                    });
                    let status = match failure.kind {
                        FailureKind::Rejection => CheckoutStatus::Rejected,
                        _ => CheckoutStatus::Failed,
                    };
                    self.span
                        .fail_with(failure.error_type, failure.kind, &message, exception_type);
                    (
                        status,
                        Some(failure.step),
                        Some(failure.error_type),
                        std::mem::take(&mut state.steps),
                    )
                }
            }
        };
        let item_count = match self.item_count.load(Ordering::Relaxed) {
            ITEM_COUNT_UNSET => None,
            n => Some(n),
        };
        if self.span.is_recording() {
            if let Some(n) = item_count {
                self.span
                    .set_attribute(KeyValue::new(attr::CHECKOUT_ITEM_COUNT, saturating_i64(n)));
            }
            let step = failure_step.unwrap_or(CheckoutStep::Complete);
            self.span
                .set_attribute(KeyValue::new(attr::CHECKOUT_STEP, step.as_str()));
            self.span
                .set_attribute(KeyValue::new(attr::CHECKOUT_STATUS, status.as_str()));
            if let Some(step) = failure_step {
                self.span
                    .set_attribute(KeyValue::new(attr::CHECKOUT_FAILURE_STEP, step.as_str()));
            }
        }
        self.metrics
            .record_checkout(status, item_count.unwrap_or(0), duration, error_type);
        CheckoutOutcome {
            status,
            failure_step,
            error_type,
            duration,
            steps,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic in user code while the lock is held must not take telemetry down.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for CheckoutProcessSpan {
    fn drop(&mut self) {
        let (finished, failure) = {
            let state = self.lock();
            (state.finished, state.failure)
        };
        if finished {
            return;
        }
        let error = match failure {
            Some(f) => (
                f.error_type,
                f.kind,
                format!("checkout abandoned after {} failed", f.step),
                f.error_type.as_str(),
            ),
            None => (
                ErrorType::CANCELLED,
                FailureKind::Fault,
                "checkout dropped before it finished".to_owned(),
                ErrorType::CANCELLED.as_str(),
            ),
        };
        self.conclude(Some(error));
    }
}

const ITEM_COUNT_UNSET: u64 = u64::MAX;

fn milestone(step: CheckoutStep) -> Option<&'static str> {
    match step {
        CheckoutStep::ValidatingCart => Some(attr::EVENT_CART_VALIDATED),
        CheckoutStep::ReservingInventory => Some(attr::EVENT_INVENTORY_RESERVED),
        CheckoutStep::ProcessingPayment => Some(attr::EVENT_PAYMENT_PROCESSED),
        CheckoutStep::CreatingOrder => Some(attr::EVENT_ORDER_CREATED),
        _ => None,
    }
}
