//! Cart spans: `cart.validate`, `cart.fetch_contents`, `cart.verify_prices`.

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};

use opentelemetry::KeyValue;
use opentelemetry::trace::SpanKind;

use super::handle::span_handle;
use super::spec::saturating_i64;
use super::{Attrs, CheckoutTracer, SpanSpec, TypedSpan};
use crate::attributes as attr;
use crate::pii::Money;

/// Starts `cart.validate`: the parent of fetching the cart and verifying its prices.
#[derive(Debug, Clone, Copy)]
#[must_use = "a span spec does nothing until it is started with `tracer.start(..)`"]
pub struct CartValidate<'a> {
    cart_id: &'a str,
}

impl<'a> CartValidate<'a> {
    /// Validation of cart `cart_id`.
    pub fn new(cart_id: &'a str) -> Self {
        CartValidate { cart_id }
    }
}

impl SpanSpec for CartValidate<'_> {
    type Span = CartValidateSpan;
    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed(attr::CART_VALIDATE)
    }
    fn kind(&self) -> SpanKind {
        SpanKind::Internal
    }
    fn attributes(&self, attrs: &mut Attrs<'_>) {
        attrs.str(attr::CART_ID, self.cart_id.to_owned());
    }
    fn wrap(self, span: TypedSpan, _: &CheckoutTracer) -> CartValidateSpan {
        CartValidateSpan { span }
    }
}

span_handle! {
    /// The `cart.validate` span.
    CartValidateSpan {}
}

/// Starts `cart.fetch_contents`: loading the cart's lines.
#[derive(Debug, Clone, Copy)]
#[must_use = "a span spec does nothing until it is started with `tracer.start(..)`"]
pub struct CartFetchContents<'a> {
    cart_id: &'a str,
}

impl<'a> CartFetchContents<'a> {
    /// Loading cart `cart_id`.
    pub fn new(cart_id: &'a str) -> Self {
        CartFetchContents { cart_id }
    }
}

impl SpanSpec for CartFetchContents<'_> {
    type Span = CartFetchContentsSpan;
    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed(attr::CART_FETCH_CONTENTS)
    }
    fn kind(&self) -> SpanKind {
        SpanKind::Internal
    }
    fn attributes(&self, attrs: &mut Attrs<'_>) {
        attrs.str(attr::CART_ID, self.cart_id.to_owned());
    }
    fn wrap(self, span: TypedSpan, _: &CheckoutTracer) -> CartFetchContentsSpan {
        CartFetchContentsSpan { span }
    }
}

span_handle! {
    /// The `cart.fetch_contents` span.
    CartFetchContentsSpan {}
}

impl CartFetchContentsSpan {
    /// Records how many lines the cart has (`cart.item_count`). Call once.
    pub fn item_count(&self, count: usize) {
        self.span
            .set_attribute(KeyValue::new(attr::CART_ITEM_COUNT, count as i64));
    }
}

/// Starts `cart.verify_prices`: comparing the cart's prices with the catalogue.
#[derive(Debug, Clone, Copy)]
#[must_use = "a span spec does nothing until it is started with `tracer.start(..)`"]
pub struct CartVerifyPrices {
    item_count: u64,
}

impl CartVerifyPrices {
    /// Verifying `item_count` lines.
    pub fn new(item_count: usize) -> Self {
        CartVerifyPrices {
            item_count: item_count as u64,
        }
    }
}

impl SpanSpec for CartVerifyPrices {
    type Span = CartVerifyPricesSpan;
    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed(attr::CART_VERIFY_PRICES)
    }
    fn kind(&self) -> SpanKind {
        SpanKind::Internal
    }
    fn attributes(&self, attrs: &mut Attrs<'_>) {
        attrs.int(attr::CART_ITEM_COUNT, self.item_count);
    }
    fn wrap(self, span: TypedSpan, _: &CheckoutTracer) -> CartVerifyPricesSpan {
        CartVerifyPricesSpan {
            span,
            stale: AtomicU64::new(0),
        }
    }
}

span_handle! {
    /// The `cart.verify_prices` span. However it ends, it carries
    /// `cart.stale_prices`: the number of [`CartVerifyPricesSpan::price_mismatch`] calls.
    CartVerifyPricesSpan { stale: AtomicU64 }
}

impl CartVerifyPricesSpan {
    /// Records a line whose price differs from the catalogue: a
    /// `price_mismatch` event with `product.id`, `price.expected` and
    /// `price.actual` (integer minor units).
    pub fn price_mismatch(&self, product_id: &str, expected: Money, actual: Money) {
        self.stale.fetch_add(1, Ordering::Relaxed);
        if self.span.is_recording() {
            self.span.add_event(
                attr::EVENT_PRICE_MISMATCH,
                vec![
                    KeyValue::new(attr::PRODUCT_ID, product_id.to_owned()),
                    KeyValue::new(attr::PRICE_EXPECTED, expected.minor_units()),
                    KeyValue::new(attr::PRICE_ACTUAL, actual.minor_units()),
                ],
            );
        }
    }

    /// Number of mismatches recorded so far.
    pub fn stale_prices(&self) -> u64 {
        self.stale.load(Ordering::Relaxed)
    }
}

impl Drop for CartVerifyPricesSpan {
    /// The handle's ending: `cart.stale_prices`, then the span's end.
    fn drop(&mut self) {
        self.span.set_attribute(KeyValue::new(
            attr::CART_STALE_PRICES,
            saturating_i64(self.stale_prices()),
        ));
    }
}
