//! Payment spans: `payment.process` and `payment.gateway_call`, both `CLIENT`.

use std::borrow::Cow;
use std::sync::OnceLock;
use std::time::Instant;

use opentelemetry::KeyValue;
use opentelemetry::trace::SpanKind;

use super::handle::span_handle;
use super::http::recordable_url;
use super::{Attrs, CheckoutTracer, SpanSpec, TypedSpan};
use crate::attributes::{self as attr, DeclineCode, ErrorType, FailureKind, PaymentStatus};
use crate::metrics::CheckoutMetrics;
use crate::pii::{Money, PaymentMethod, UserRef};

/// Starts `payment.process`: charging the customer for an order.
///
/// The amount is recorded from [`Money`] (exact decimal `payment.amount`,
/// integer `payment.amount_minor`, `payment.currency`), the method only as
/// its type, and for cards brand and last four, the customer only as
/// `user.hash`.
///
/// ```
/// use checkout_otel::pii::{Currency, Money, PaymentMethod};
/// use checkout_otel::spans::{CheckoutTracer, PaymentProcess};
///
/// # fn charge(tracer: &CheckoutTracer, card_number: &str) -> Result<(), checkout_otel::Error> {
/// let card = PaymentMethod::card_from_number(card_number)?; // borrowed: the gateway still needs it
/// let customer = tracer.user("customer-8812"); // hashed with the tracer's key
/// let payment = tracer.start(
///     PaymentProcess::new("ord-1", Money::from_minor(4998, Currency::EUR))
///         .method(&card)
///         .user(&customer),
/// );
/// payment.succeeded("ch_1");
/// # Ok(()) }
/// # charge(&CheckoutTracer::global(), "4242 4242 4242 4242").unwrap();
/// ```
#[derive(Debug, Clone, Copy)]
#[must_use = "a span spec does nothing until it is started with `tracer.start(..)`"]
pub struct PaymentProcess<'a> {
    order_id: &'a str,
    amount: Money,
    method: Option<&'a PaymentMethod>,
    user: Option<&'a UserRef>,
}

impl<'a> PaymentProcess<'a> {
    /// Charging `amount` for order `order_id`.
    pub fn new(order_id: &'a str, amount: Money) -> Self {
        PaymentProcess {
            order_id,
            amount,
            method: None,
            user: None,
        }
    }

    /// The customer, recorded only as `user.hash`: get it from
    /// [`CheckoutTracer::user`], which hashes the customer id with the
    /// tracer's key, so the id itself never reaches the span.
    pub fn user(mut self, user: &'a UserRef) -> Self {
        self.user = Some(user);
        self
    }

    /// The payment method (recorded as type, brand and last four only).
    pub fn method(mut self, method: &'a PaymentMethod) -> Self {
        self.method = Some(method);
        self
    }
}

impl SpanSpec for PaymentProcess<'_> {
    type Span = PaymentProcessSpan;
    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed(attr::PAYMENT_PROCESS)
    }
    fn kind(&self) -> SpanKind {
        SpanKind::Client
    }
    fn attributes(&self, attrs: &mut Attrs<'_>) {
        attrs.str(attr::ORDER_ID, self.order_id.to_owned());
        attrs.str(attr::PAYMENT_AMOUNT, self.amount.to_decimal_string());
        attrs.push(KeyValue::new(
            attr::PAYMENT_AMOUNT_MINOR,
            self.amount.minor_units(),
        ));
        attrs.str(attr::PAYMENT_CURRENCY, self.amount.currency().code());
        if let Some(method) = self.method {
            attrs.extend(method.key_values());
        }
        if let Some(user) = self.user {
            attrs.push(user.key_value());
        }
    }
    fn wrap(self, span: TypedSpan, _: &CheckoutTracer) -> PaymentProcessSpan {
        PaymentProcessSpan { span }
    }
}

span_handle! {
    /// The `payment.process` span.
    PaymentProcessSpan {}
}

impl PaymentProcessSpan {
    /// The charge went through, and the span ends (`payment.status` =
    /// `succeeded`, `payment.charge_id`).
    // Inlined: a by-value handle would otherwise be copied into the call.
    #[inline]
    pub fn succeeded(self, charge_id: &str) {
        record_success(&self.span, charge_id);
    }

    /// The charge was declined, and the span ends: `payment.status` =
    /// `declined`, the bounded decline code and its soft/hard class, and a
    /// rejection with `error.type` `card_declined` whose message is scrubbed.
    // Inlined: a by-value handle would otherwise be copied into the call.
    #[inline]
    pub fn declined(self, code: DeclineCode, message: &str) {
        record_decline(&self.span, code, message);
    }

    /// The gateway call `call` was declined, and both spans end: the decline
    /// is recorded on the call (with its decline count and latency, through
    /// [`PaymentGatewayCallSpan::declined`]) and on this payment (as
    /// [`PaymentProcessSpan::declined`] does), from one set of arguments.
    /// The call ends first, as a child does.
    ///
    /// Use it when the payment's last gateway call is in the same service;
    /// an earlier attempt that is retried ends with `call.declined(..)` alone.
    // Inlined: by-value handles would otherwise be copied into the call.
    #[inline]
    pub fn declined_by(self, call: PaymentGatewayCallSpan, code: DeclineCode, message: &str) {
        call.declined(code, message);
        record_decline(&self.span, code, message);
    }
}

/// Starts `payment.gateway_call`: the HTTP call to the external payment gateway.
///
/// Records `peer.service`, `http.request.method`, `url.full` (without
/// credentials, query or fragment), `server.address` and `server.port`; on
/// end, `payment.gateway_latency_ms`. `peer.service` is deprecated in favour
/// of `service.peer.name`, still in development; service-graph backends key
/// on `peer.service`, so it is what we emit.
#[derive(Debug, Clone, Copy)]
#[must_use = "a span spec does nothing until it is started with `tracer.start(..)`"]
pub struct PaymentGatewayCall<'a> {
    peer_service: &'a str,
    method: &'a str,
    url: &'a str,
    attempt: u32,
}

impl<'a> PaymentGatewayCall<'a> {
    /// A `method` request (`"POST"`) to `url` at gateway `peer_service` (`"stripe"`).
    pub fn new(peer_service: &'a str, method: &'a str, url: &'a str) -> Self {
        PaymentGatewayCall {
            peer_service,
            method,
            url,
            attempt: 1,
        }
    }

    /// The 1-based attempt number, for retried calls (`payment.attempt`).
    pub fn attempt(mut self, attempt: u32) -> Self {
        self.attempt = attempt;
        self
    }
}

impl SpanSpec for PaymentGatewayCall<'_> {
    type Span = PaymentGatewayCallSpan;
    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed(attr::PAYMENT_GATEWAY_CALL)
    }
    fn kind(&self) -> SpanKind {
        SpanKind::Client
    }
    fn attributes(&self, attrs: &mut Attrs<'_>) {
        attrs.str(attr::PEER_SERVICE, self.peer_service.to_owned());
        attrs.str(
            attr::HTTP_REQUEST_METHOD,
            super::http::request_method(self.method),
        );
        if let Some(url) = recordable_url(self.url) {
            attrs.str(attr::SERVER_ADDRESS, url.host.to_owned());
            if let Some(port) = url.port {
                attrs.int(attr::SERVER_PORT, u64::from(port));
            }
            attrs.str(attr::URL_FULL, url.full);
        }
        attrs.int(attr::PAYMENT_ATTEMPT, u64::from(self.attempt));
    }
    fn wrap(self, span: TypedSpan, tracer: &CheckoutTracer) -> PaymentGatewayCallSpan {
        PaymentGatewayCallSpan {
            span,
            started: Instant::now(),
            metrics: tracer.metrics().clone(),
            outcome: OnceLock::new(),
        }
    }
}

span_handle! {
    /// The `payment.gateway_call` span. However it ends, it records
    /// `payment.gateway_latency_ms` and the gateway latency histogram by
    /// outcome (`checkout.payment.gateway.duration`).
    PaymentGatewayCallSpan {
        started: Instant,
        metrics: CheckoutMetrics,
        // The first outcome recorded: what the latency histogram is split by.
        outcome: OnceLock<PaymentStatus>,
    }
}

impl PaymentGatewayCallSpan {
    /// Records the HTTP status code (`http.response.status_code`); a 5xx is
    /// recorded as a fault with `error.type` `upstream_error`.
    pub fn response_status(&self, status_code: u16) {
        self.span.set_attribute(KeyValue::new(
            attr::HTTP_RESPONSE_STATUS_CODE,
            i64::from(status_code),
        ));
        if status_code >= 500 {
            self.set_outcome(PaymentStatus::Failed);
            self.span.fail_with(
                ErrorType::UPSTREAM_ERROR,
                FailureKind::Fault,
                &format!("payment gateway answered HTTP {status_code}"),
                ErrorType::UPSTREAM_ERROR.as_str(),
            );
        }
    }

    /// The charge went through, and the span ends (`payment.status`,
    /// `payment.charge_id`).
    // Inlined: a by-value handle would otherwise be copied into the call.
    #[inline]
    pub fn succeeded(self, charge_id: &str) {
        self.set_outcome(PaymentStatus::Succeeded);
        record_success(&self.span, charge_id);
    }

    /// The gateway declined the charge, and the span ends (see
    /// [`PaymentProcessSpan::declined`]). Counts the decline on the meter, by
    /// class and code. To record the same decline on the payment span as
    /// well, hand the call to [`PaymentProcessSpan::declined_by`] instead.
    // Inlined: a by-value handle would otherwise be copied into the call.
    #[inline]
    pub fn declined(self, code: DeclineCode, message: &str) {
        self.set_outcome(PaymentStatus::Declined);
        self.metrics.record_decline(code);
        record_decline(&self.span, code, message);
    }

    /// The call timed out, and the span ends: a fault with `error.type`
    /// `timeout`.
    // Inlined: a by-value handle would otherwise be copied into the call.
    #[inline]
    pub fn timed_out(self) {
        self.set_outcome(PaymentStatus::Failed);
        self.span.set_attribute(KeyValue::new(
            attr::PAYMENT_STATUS,
            PaymentStatus::Failed.as_str(),
        ));
        self.span.fail_with(
            ErrorType::TIMEOUT,
            FailureKind::Fault,
            "payment gateway did not answer in time",
            ErrorType::TIMEOUT.as_str(),
        );
    }

    fn set_outcome(&self, status: PaymentStatus) {
        // The first outcome stands, as the first failure does.
        let _ = self.outcome.set(status);
    }
}

impl Drop for PaymentGatewayCallSpan {
    /// The handle's ending: the latency, as an attribute and on the meter by
    /// outcome, then the span's end.
    fn drop(&mut self) {
        let elapsed = self.started.elapsed();
        self.span.set_attribute(KeyValue::new(
            attr::PAYMENT_GATEWAY_LATENCY_MS,
            i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX),
        ));
        let outcome = match self.outcome.get() {
            Some(outcome) => *outcome,
            None if self.span.has_failed() => PaymentStatus::Failed,
            None => PaymentStatus::Succeeded,
        };
        self.metrics.record_gateway_call(elapsed, outcome);
    }
}

fn record_success(span: &TypedSpan, charge_id: &str) {
    if span.is_recording() {
        span.set_attribute(KeyValue::new(
            attr::PAYMENT_STATUS,
            PaymentStatus::Succeeded.as_str(),
        ));
        span.set_attribute(KeyValue::new(attr::PAYMENT_CHARGE_ID, charge_id.to_owned()));
    }
}

fn record_decline(span: &TypedSpan, code: DeclineCode, message: &str) {
    if span.is_recording() {
        span.set_attribute(KeyValue::new(
            attr::PAYMENT_STATUS,
            PaymentStatus::Declined.as_str(),
        ));
        span.set_attribute(KeyValue::new(attr::PAYMENT_DECLINE_CODE, code.as_str()));
        span.set_attribute(KeyValue::new(
            attr::PAYMENT_DECLINE_CLASS,
            code.class().as_str(),
        ));
    }
    span.fail_with(
        ErrorType::CARD_DECLINED,
        FailureKind::Rejection,
        message,
        ErrorType::CARD_DECLINED.as_str(),
    );
}
