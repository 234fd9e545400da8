//! Cart spans: `cart.validate`, `cart.fetch_contents`, `cart.verify_prices`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use opentelemetry::KeyValue;
use opentelemetry::trace::SpanKind;

use super::core::{Attrs, CheckoutTracer, SpanSpec, TypedSpan, saturating_i64, span_handle};
use crate::attributes as attr;
use crate::pii::Money;

/// Starts `cart.validate`: the parent of fetching the cart and verifying its prices.
#[derive(Debug, Clone, Copy)]
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
    type Span = TypedSpan;
    const NAME: &'static str = attr::CART_VALIDATE;
    const KIND: SpanKind = SpanKind::Internal;
    fn attributes(&self, attrs: &mut Attrs<'_>) {
        attrs.str(attr::CART_ID, self.cart_id.to_owned());
    }
    fn wrap(self, span: TypedSpan, _: &CheckoutTracer) -> TypedSpan {
        span
    }
}

/// Starts `cart.fetch_contents`: loading the cart's lines.
#[derive(Debug, Clone, Copy)]
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
    type Span = FetchContentsSpan;
    const NAME: &'static str = attr::CART_FETCH_CONTENTS;
    const KIND: SpanKind = SpanKind::Internal;
    fn attributes(&self, attrs: &mut Attrs<'_>) {
        attrs.str(attr::CART_ID, self.cart_id.to_owned());
    }
    fn wrap(self, span: TypedSpan, _: &CheckoutTracer) -> FetchContentsSpan {
        FetchContentsSpan { span }
    }
}

span_handle! {
    /// The `cart.fetch_contents` span.
    FetchContentsSpan {}
}

impl FetchContentsSpan {
    /// Records how many lines the cart has (`cart.item_count`). Call once.
    pub fn item_count(&self, count: usize) {
        self.span
            .set_attribute(KeyValue::new(attr::CART_ITEM_COUNT, count as i64));
    }
}

/// Starts `cart.verify_prices`: comparing the cart's prices with the catalogue.
#[derive(Debug, Clone, Copy)]
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
    type Span = VerifyPricesSpan;
    const NAME: &'static str = attr::CART_VERIFY_PRICES;
    const KIND: SpanKind = SpanKind::Internal;
    fn attributes(&self, attrs: &mut Attrs<'_>) {
        attrs.int(attr::CART_ITEM_COUNT, self.item_count);
    }
    fn wrap(self, span: TypedSpan, _: &CheckoutTracer) -> VerifyPricesSpan {
        VerifyPricesSpan {
            span,
            stale: AtomicU64::new(0),
            closed: AtomicBool::new(false),
        }
    }
}

span_handle! {
    /// The `cart.verify_prices` span. When it ends it carries
    /// `cart.stale_prices`: the number of [`VerifyPricesSpan::price_mismatch`] calls.
    VerifyPricesSpan { stale: AtomicU64, closed: AtomicBool }
}

impl VerifyPricesSpan {
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

    /// Ends the span, recording `cart.stale_prices`.
    pub fn end(&self) {
        if !self.closed.swap(true, Ordering::AcqRel) {
            self.span.set_attribute(KeyValue::new(
                attr::CART_STALE_PRICES,
                saturating_i64(self.stale_prices()),
            ));
            self.span.end();
        }
    }
}

impl Drop for VerifyPricesSpan {
    fn drop(&mut self) {
        self.end();
    }
}
