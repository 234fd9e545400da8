//! Payment spans: `payment.process` and `payment.gateway_call`, both `CLIENT`.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use opentelemetry::KeyValue;
use opentelemetry::trace::SpanKind;

use super::core::{Attrs, CheckoutTracer, SpanSpec, TypedSpan, span_handle};
use super::http::recordable_url;
use crate::attributes::{self as attr, DeclineCode, ErrorType, FailureKind, PaymentStatus};
use crate::metrics::CheckoutMetrics;
use crate::pii::{Money, PaymentMethod};

/// Starts `payment.process`: charging the customer for an order.
///
/// The amount is recorded from [`Money`] (exact decimal `payment.amount`,
/// integer `payment.amount_minor`, `payment.currency`), the method only as
/// its type, and for cards brand and last four.
#[derive(Debug, Clone, Copy)]
pub struct PaymentProcess<'a> {
    order_id: &'a str,
    amount: Money,
    method: Option<&'a PaymentMethod>,
}

impl<'a> PaymentProcess<'a> {
    /// Charging `amount` for order `order_id`.
    pub fn new(order_id: &'a str, amount: Money) -> Self {
        PaymentProcess {
            order_id,
            amount,
            method: None,
        }
    }

    /// The payment method (recorded as type, brand and last four only).
    pub fn method(mut self, method: &'a PaymentMethod) -> Self {
        self.method = Some(method);
        self
    }
}

impl SpanSpec for PaymentProcess<'_> {
    type Span = PaymentSpan;
    const NAME: &'static str = attr::PAYMENT_PROCESS;
    const KIND: SpanKind = SpanKind::Client;
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
    }
    fn wrap(self, span: TypedSpan, _: &CheckoutTracer) -> PaymentSpan {
        PaymentSpan { span }
    }
}

span_handle! {
    /// The `payment.process` span.
    PaymentSpan {}
}

impl PaymentSpan {
    /// The charge went through (`payment.status` = `succeeded`, `payment.charge_id`).
    pub fn succeeded(&self, charge_id: &str) {
        record_success(&self.span, charge_id);
    }

    /// The charge was declined: `payment.status` = `declined`, the bounded
    /// decline code and its soft/hard class, and a rejection with
    /// `error.type` `card_declined` whose message is scrubbed.
    pub fn declined(&self, code: DeclineCode, message: &str) {
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
    type Span = GatewayCallSpan;
    const NAME: &'static str = attr::PAYMENT_GATEWAY_CALL;
    const KIND: SpanKind = SpanKind::Client;
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
    fn wrap(self, span: TypedSpan, tracer: &CheckoutTracer) -> GatewayCallSpan {
        GatewayCallSpan {
            span,
            started: Instant::now(),
            metrics: tracer.metrics().cloned(),
            outcome: Mutex::new(None),
            closed: AtomicBool::new(false),
        }
    }
}

span_handle! {
    /// The `payment.gateway_call` span. On end it records
    /// `payment.gateway_latency_ms` and, with a meter attached, the gateway
    /// latency histogram by outcome.
    GatewayCallSpan {
        started: Instant,
        metrics: Option<CheckoutMetrics>,
        outcome: Mutex<Option<PaymentStatus>>,
        closed: AtomicBool,
    }
}

impl GatewayCallSpan {
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

    /// The charge went through (`payment.status`, `payment.charge_id`).
    pub fn succeeded(&self, charge_id: &str) {
        self.set_outcome(PaymentStatus::Succeeded);
        record_success(&self.span, charge_id);
    }

    /// The gateway declined the charge (see [`PaymentSpan::declined`]).
    /// Counts the decline on the meter, by class and code.
    pub fn declined(&self, code: DeclineCode, message: &str) {
        self.set_outcome(PaymentStatus::Declined);
        if let Some(metrics) = &self.metrics {
            metrics.record_decline(code);
        }
        record_decline(&self.span, code, message);
    }

    /// The call timed out: a fault with `error.type` `timeout`.
    pub fn timed_out(&self) {
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

    /// Ends the span, recording the gateway latency.
    pub fn end(&self) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        let elapsed = self.started.elapsed();
        self.span.set_attribute(KeyValue::new(
            attr::PAYMENT_GATEWAY_LATENCY_MS,
            i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX),
        ));
        if let Some(metrics) = &self.metrics {
            let outcome = self.outcome.lock().map(|o| *o).unwrap_or(None).unwrap_or(
                if self.span.has_failed() {
                    PaymentStatus::Failed
                } else {
                    PaymentStatus::Succeeded
                },
            );
            metrics.record_gateway_call(elapsed, outcome);
        }
        self.span.end();
    }

    fn set_outcome(&self, status: PaymentStatus) {
        if let Ok(mut outcome) = self.outcome.lock() {
            outcome.get_or_insert(status);
        }
    }
}

impl Drop for GatewayCallSpan {
    fn drop(&mut self) {
        self.end();
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
