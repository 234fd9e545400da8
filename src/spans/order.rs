//! `order.create`, and `notification.send`: fire-and-forget, still in the
//! checkout's trace, never failing the checkout.

use std::borrow::Cow;

use opentelemetry::trace::SpanKind;

use super::handle::span_handle;
use super::{Attrs, CheckoutTracer, SpanSpec, TypedSpan};
use crate::attributes::{self as attr, NotificationChannel};

/// Starts `order.create`: creating the order record.
#[derive(Debug, Clone, Copy)]
#[must_use = "a span spec does nothing until it is started with `tracer.start(..)`"]
pub struct OrderCreate<'a> {
    order_id: &'a str,
}

impl<'a> OrderCreate<'a> {
    /// Creating order `order_id`.
    pub fn new(order_id: &'a str) -> Self {
        OrderCreate { order_id }
    }
}

impl SpanSpec for OrderCreate<'_> {
    type Span = OrderCreateSpan;
    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed(attr::ORDER_CREATE)
    }
    fn kind(&self) -> SpanKind {
        SpanKind::Internal
    }
    fn attributes(&self, attrs: &mut Attrs<'_>) {
        attrs.str(attr::ORDER_ID, self.order_id.to_owned());
    }
    fn wrap(self, span: TypedSpan, _: &CheckoutTracer) -> OrderCreateSpan {
        OrderCreateSpan { span }
    }
}

span_handle! {
    /// The `order.create` span.
    OrderCreateSpan {}
}

/// Starts `notification.send` (`PRODUCER`: the checkout does not wait for it).
///
/// Spawn the work with the span moved into it, so the span ends when the
/// notification is done, not when the checkout returns; a failure is recorded
/// on this span only.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use checkout_otel::attributes::{ErrorType, NotificationChannel};
/// use checkout_otel::spans::{CheckoutTracer, Failure, NotificationSend};
///
/// let tracer = CheckoutTracer::global();
/// let span = tracer.start(NotificationSend::new("order-1", NotificationChannel::Email));
/// let task = tokio::spawn(span.instrument_result(async {
///     // send the email; on error record it on the notification span:
///     Err::<(), _>(Failure::fault(ErrorType::UNAVAILABLE, "smtp down"))
/// }));
/// # let _ = task.await;
/// # }
/// ```
#[derive(Debug, Clone, Copy)]
#[must_use = "a span spec does nothing until it is started with `tracer.start(..)`"]
pub struct NotificationSend<'a> {
    order_id: &'a str,
    channel: NotificationChannel,
}

impl<'a> NotificationSend<'a> {
    /// Sending the confirmation of `order_id` over `channel`.
    pub fn new(order_id: &'a str, channel: NotificationChannel) -> Self {
        NotificationSend { order_id, channel }
    }
}

impl SpanSpec for NotificationSend<'_> {
    type Span = NotificationSendSpan;
    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed(attr::NOTIFICATION_SEND)
    }
    fn kind(&self) -> SpanKind {
        SpanKind::Producer
    }
    fn attributes(&self, attrs: &mut Attrs<'_>) {
        attrs.str(attr::ORDER_ID, self.order_id.to_owned());
        attrs.str(attr::NOTIFICATION_CHANNEL, self.channel.as_str());
    }
    fn wrap(self, span: TypedSpan, _: &CheckoutTracer) -> NotificationSendSpan {
        NotificationSendSpan { span }
    }
}

span_handle! {
    /// The `notification.send` span. Move it into the work with
    /// [`NotificationSendSpan::instrument`] or
    /// [`NotificationSendSpan::instrument_result`] so it ends when the
    /// notification is done.
    NotificationSendSpan {}
}
