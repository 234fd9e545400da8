//! Inventory spans: `inventory.reserve_batch`, `inventory.reserve_item`, and
//! `inventory.release` for reservations undone after a later step failed.

use std::borrow::Cow;

use opentelemetry::KeyValue;
use opentelemetry::trace::SpanKind;

use super::handle::span_handle;
use super::spec::saturating_i64;
use super::{Attrs, CheckoutTracer, SpanSpec, TypedSpan};
use crate::attributes::{self as attr, ErrorType, FailureKind};
use crate::metrics::CheckoutMetrics;

/// Starts `inventory.reserve_batch`: reserving stock for every line of a cart.
#[derive(Debug, Clone, Copy)]
#[must_use = "a span spec does nothing until it is started with `tracer.start(..)`"]
pub struct InventoryReserveBatch {
    item_count: u64,
}

impl InventoryReserveBatch {
    /// A batch of `item_count` lines.
    pub fn new(item_count: usize) -> Self {
        InventoryReserveBatch {
            item_count: item_count as u64,
        }
    }
}

impl SpanSpec for InventoryReserveBatch {
    type Span = InventoryReserveBatchSpan;
    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed(attr::INVENTORY_RESERVE_BATCH)
    }
    fn kind(&self) -> SpanKind {
        SpanKind::Internal
    }
    fn attributes(&self, attrs: &mut Attrs<'_>) {
        attrs.int(attr::INVENTORY_ITEM_COUNT, self.item_count);
    }
    fn wrap(self, span: TypedSpan, _: &CheckoutTracer) -> InventoryReserveBatchSpan {
        InventoryReserveBatchSpan { span }
    }
}

span_handle! {
    /// The `inventory.reserve_batch` span.
    InventoryReserveBatchSpan {}
}

impl InventoryReserveBatchSpan {
    /// Records the outcome: the batch's reservation id
    /// (`inventory.reservation_id`) and how many lines were reserved
    /// (`inventory.reservations_created`). Call once.
    pub fn reserved(&self, reservation_id: &str, reservations_created: usize) {
        if self.span.is_recording() {
            self.span.set_attribute(KeyValue::new(
                attr::INVENTORY_RESERVATION_ID,
                reservation_id.to_owned(),
            ));
            self.span.set_attribute(KeyValue::new(
                attr::INVENTORY_RESERVATIONS_CREATED,
                reservations_created as i64,
            ));
        }
    }
}

/// Starts `inventory.reserve_item`: reserving stock for one line.
#[derive(Debug, Clone, Copy)]
#[must_use = "a span spec does nothing until it is started with `tracer.start(..)`"]
pub struct InventoryReserveItem<'a> {
    product_id: &'a str,
    quantity: u64,
}

impl<'a> InventoryReserveItem<'a> {
    /// Reserving `quantity` units of `product_id`.
    pub fn new(product_id: &'a str, quantity: u32) -> Self {
        InventoryReserveItem {
            product_id,
            quantity: u64::from(quantity),
        }
    }
}

impl SpanSpec for InventoryReserveItem<'_> {
    type Span = InventoryReserveItemSpan;
    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed(attr::INVENTORY_RESERVE_ITEM)
    }
    fn kind(&self) -> SpanKind {
        SpanKind::Internal
    }
    fn attributes(&self, attrs: &mut Attrs<'_>) {
        attrs.str(attr::PRODUCT_ID, self.product_id.to_owned());
        attrs.int(attr::QUANTITY_REQUESTED, self.quantity);
    }
    fn wrap(self, span: TypedSpan, tracer: &CheckoutTracer) -> InventoryReserveItemSpan {
        InventoryReserveItemSpan {
            span,
            requested: self.quantity,
            metrics: tracer.metrics().clone(),
        }
    }
}

span_handle! {
    /// The `inventory.reserve_item` span.
    InventoryReserveItemSpan { requested: u64, metrics: CheckoutMetrics }
}

impl InventoryReserveItemSpan {
    /// Records the reservation made (`reservation.id`).
    pub fn reserved(&self, reservation_id: &str) {
        self.span.set_attribute(KeyValue::new(
            attr::RESERVATION_ID,
            reservation_id.to_owned(),
        ));
    }

    /// Records that only `available` units were in stock, and ends the span:
    /// an `insufficient_stock` event with `quantity.available` and
    /// `quantity.requested`, and a rejection with `error.type`
    /// `insufficient_stock`. Counts a shortfall on the meter.
    // Inlined: a by-value handle would otherwise be copied into the call.
    #[inline]
    pub fn insufficient_stock(self, available: u64) {
        self.metrics.record_inventory_shortfall(1);
        self.span.add_event(
            attr::EVENT_INSUFFICIENT_STOCK,
            vec![
                KeyValue::new(attr::QUANTITY_AVAILABLE, saturating_i64(available)),
                KeyValue::new(attr::QUANTITY_REQUESTED, saturating_i64(self.requested)),
            ],
        );
        self.span.fail_with(
            ErrorType::INSUFFICIENT_STOCK,
            FailureKind::Rejection,
            &format!(
                "insufficient stock: {available} available, {} requested",
                self.requested
            ),
            ErrorType::INSUFFICIENT_STOCK.as_str(),
        );
    }
}

/// Starts `inventory.release`: undoing a reservation after a later step
/// (usually the payment) failed. The compensation is visible in the trace;
/// record how many lines it returned with [`InventoryReleaseSpan::released`].
#[derive(Debug, Clone, Copy)]
#[must_use = "a span spec does nothing until it is started with `tracer.start(..)`"]
pub struct InventoryRelease<'a> {
    reservation_id: &'a str,
}

impl<'a> InventoryRelease<'a> {
    /// Releasing reservation `reservation_id`.
    pub fn new(reservation_id: &'a str) -> Self {
        InventoryRelease { reservation_id }
    }
}

impl SpanSpec for InventoryRelease<'_> {
    type Span = InventoryReleaseSpan;
    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed(attr::INVENTORY_RELEASE)
    }
    fn kind(&self) -> SpanKind {
        SpanKind::Internal
    }
    fn attributes(&self, attrs: &mut Attrs<'_>) {
        attrs.str(
            attr::INVENTORY_RESERVATION_ID,
            self.reservation_id.to_owned(),
        );
    }
    fn wrap(self, span: TypedSpan, _: &CheckoutTracer) -> InventoryReleaseSpan {
        InventoryReleaseSpan { span }
    }
}

span_handle! {
    /// The `inventory.release` span.
    InventoryReleaseSpan {}
}

impl InventoryReleaseSpan {
    /// Records how many lines went back to stock
    /// (`inventory.reservations_released`). Call once.
    pub fn released(&self, lines: usize) {
        self.span.set_attribute(KeyValue::new(
            attr::INVENTORY_RESERVATIONS_RELEASED,
            saturating_i64(lines as u64),
        ));
    }
}
