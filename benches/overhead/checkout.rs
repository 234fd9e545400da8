//! The full checkout trace: `checkout.process` and its ten descendants
//! (cart validation with fetch and price check, an inventory batch of two
//! items, payment with its gateway call, order creation, notification), the
//! four milestone events, every attribute of the contract; all succeeding.

use std::time::Instant;

use checkout_otel::attributes::{self as attr, CheckoutStep, NotificationChannel};
use checkout_otel::opentelemetry::trace::{Span as _, SpanKind, TraceContextExt as _, Tracer as _};
use checkout_otel::opentelemetry::{Context, KeyValue};
use checkout_otel::opentelemetry_sdk::trace::SdkTracer;
use checkout_otel::pii::{Currency, Money, PaymentMethod, UserRef};
use checkout_otel::spans::{
    CartFetchContents, CartValidate, CartVerifyPrices, CheckoutProcess, CheckoutTracer, Failure,
    InventoryReserveBatch, InventoryReserveItem, NotificationSend, OrderCreate, PaymentGatewayCall,
    PaymentProcess,
};
use tracing::Instrument as _;
use tracing::field::Empty;

use crate::meter::{self, RawInstruments};
use crate::span::{Decimal, decimal};

pub struct Line {
    pub product_id: String,
    pub quantity: u32,
    pub reservation_id: String,
}

/// What the handler has at hand (typed for the crate, plain for the others).
pub struct Inputs {
    pub cart_id: String,
    pub order_id: String,
    pub user: UserRef,
    pub user_hash: String,
    pub total: Money,
    pub total_minor: i64,
    pub card: PaymentMethod,
    pub card_last4: String,
    pub lines: Vec<Line>,
    pub batch_reservation_id: String,
    pub gateway_url: String,
    pub gateway_host: String,
    pub charge_id: String,
}

impl Inputs {
    pub fn new() -> Self {
        let user = UserRef::new("customer-42");
        Inputs {
            cart_id: "cart-3b9d41e7".to_owned(),
            order_id: "order-7f3a9c21".to_owned(),
            user_hash: user.hash().to_owned(),
            user,
            total: Money::from_minor(4_998, Currency::USD),
            total_minor: 4_998,
            card: PaymentMethod::card_from_number("4242 4242 4242 4242")
                .expect("a valid test card"),
            card_last4: "4242".to_owned(),
            lines: vec![
                Line {
                    product_id: "sku-1001".to_owned(),
                    quantity: 1,
                    reservation_id: "res-51c2".to_owned(),
                },
                Line {
                    product_id: "sku-2002".to_owned(),
                    quantity: 2,
                    reservation_id: "res-51c3".to_owned(),
                },
            ],
            batch_reservation_id: "batch-51c1".to_owned(),
            gateway_url: "https://api.stripe.example/v1/charges".to_owned(),
            gateway_host: "api.stripe.example".to_owned(),
            charge_id: "ch_3MmlLrLkdIwHu7ix0snN0B15".to_owned(),
        }
    }

    fn item_count(&self) -> usize {
        self.lines.len()
    }
}

/// The crate's helpers, with step tracking.
pub async fn with_crate(t: &CheckoutTracer, i: &Inputs) {
    let n = i.item_count();
    let checkout = t.start(
        CheckoutProcess::new(&i.cart_id)
            .user(&i.user)
            .item_count(n)
            .total(i.total),
    );
    let result: Result<(), Failure> = async {
        checkout
            .step(CheckoutStep::ValidatingCart, async {
                let validate = t.start(CartValidate::new(&i.cart_id));
                validate
                    .run(async {
                        let fetch = t.start(CartFetchContents::new(&i.cart_id));
                        fetch.item_count(n);
                        fetch.end();
                        let verify = t.start(CartVerifyPrices::new(n));
                        verify.end();
                    })
                    .await;
                validate.end();
                Ok(())
            })
            .await?;
        checkout
            .step(CheckoutStep::ReservingInventory, async {
                let batch = t.start(InventoryReserveBatch::new(n));
                batch
                    .run(async {
                        for line in &i.lines {
                            let item =
                                t.start(InventoryReserveItem::new(&line.product_id, line.quantity));
                            item.reserved(&line.reservation_id);
                            item.end();
                        }
                    })
                    .await;
                batch.reserved(&i.batch_reservation_id, n);
                batch.end();
                Ok(())
            })
            .await?;
        checkout
            .step(CheckoutStep::ProcessingPayment, async {
                let payment = t.start(PaymentProcess::new(&i.order_id, i.total).method(&i.card));
                payment
                    .run(async {
                        let call =
                            t.start(PaymentGatewayCall::new("stripe", "POST", &i.gateway_url));
                        call.response_status(200);
                        call.succeeded(&i.charge_id);
                    })
                    .await;
                payment.succeeded(&i.charge_id);
                Ok(())
            })
            .await?;
        checkout
            .step(CheckoutStep::CreatingOrder, async {
                let order = t.start(OrderCreate::new(&i.order_id));
                order.end();
                Ok(())
            })
            .await?;
        checkout.set_order_id(&i.order_id);
        let notify = t.start_in(
            NotificationSend::new(&i.order_id, NotificationChannel::Email),
            checkout.context(),
        );
        notify.end();
        Ok(())
    }
    .await;
    checkout.finish(&result);
}

/// By hand on the OpenTelemetry API: explicit parent contexts for the four
/// spans that have children, the attributes, milestone events and metrics
/// (each step's duration, the gateway round trip, the checkout's duration
/// and count) the crate records, nothing more.
pub async fn raw(t: &SdkTracer, m: &RawInstruments, i: &Inputs) {
    let n = i.lines.len() as i64;
    let checkout_started = Instant::now();
    let root = t
        .span_builder(attr::CHECKOUT_PROCESS)
        .with_kind(SpanKind::Internal)
        .with_attributes(vec![
            KeyValue::new(attr::CART_ID, i.cart_id.clone()),
            KeyValue::new(attr::CHECKOUT_ITEM_COUNT, n),
            KeyValue::new(attr::USER_HASH, i.user_hash.clone()),
            KeyValue::new(attr::CHECKOUT_TOTAL, decimal(i.total_minor)),
            KeyValue::new(attr::CHECKOUT_TOTAL_MINOR, i.total_minor),
            KeyValue::new(attr::CHECKOUT_CURRENCY, "USD"),
        ])
        .start(t);
    let cx = Context::current_with_span(root);

    let step_started = Instant::now();
    async {
        let validate = t
            .span_builder(attr::CART_VALIDATE)
            .with_kind(SpanKind::Internal)
            .with_attributes(vec![KeyValue::new(attr::CART_ID, i.cart_id.clone())])
            .start_with_context(t, &cx);
        let vcx = cx.with_span(validate);
        let mut fetch = t
            .span_builder(attr::CART_FETCH_CONTENTS)
            .with_kind(SpanKind::Internal)
            .with_attributes(vec![KeyValue::new(attr::CART_ID, i.cart_id.clone())])
            .start_with_context(t, &vcx);
        fetch.set_attribute(KeyValue::new(attr::CART_ITEM_COUNT, n));
        fetch.end();
        let mut verify = t
            .span_builder(attr::CART_VERIFY_PRICES)
            .with_kind(SpanKind::Internal)
            .with_attributes(vec![KeyValue::new(attr::CART_ITEM_COUNT, n)])
            .start_with_context(t, &vcx);
        verify.set_attribute(KeyValue::new(attr::CART_STALE_PRICES, 0_i64));
        verify.end();
        vcx.span().end();
    }
    .await;
    meter::raw_step(m, "validating_cart", step_started.elapsed());
    cx.span().add_event(attr::EVENT_CART_VALIDATED, Vec::new());

    let step_started = Instant::now();
    async {
        let batch = t
            .span_builder(attr::INVENTORY_RESERVE_BATCH)
            .with_kind(SpanKind::Internal)
            .with_attributes(vec![KeyValue::new(attr::INVENTORY_ITEM_COUNT, n)])
            .start_with_context(t, &cx);
        let bcx = cx.with_span(batch);
        for line in &i.lines {
            let mut item = t
                .span_builder(attr::INVENTORY_RESERVE_ITEM)
                .with_kind(SpanKind::Internal)
                .with_attributes(vec![
                    KeyValue::new(attr::PRODUCT_ID, line.product_id.clone()),
                    KeyValue::new(attr::QUANTITY_REQUESTED, i64::from(line.quantity)),
                ])
                .start_with_context(t, &bcx);
            item.set_attribute(KeyValue::new(
                attr::RESERVATION_ID,
                line.reservation_id.clone(),
            ));
            item.end();
        }
        let batch = bcx.span();
        batch.set_attribute(KeyValue::new(
            attr::INVENTORY_RESERVATION_ID,
            i.batch_reservation_id.clone(),
        ));
        batch.set_attribute(KeyValue::new(attr::INVENTORY_RESERVATIONS_CREATED, n));
        batch.end();
    }
    .await;
    meter::raw_step(m, "reserving_inventory", step_started.elapsed());
    cx.span()
        .add_event(attr::EVENT_INVENTORY_RESERVED, Vec::new());

    let step_started = Instant::now();
    async {
        let payment = t
            .span_builder(attr::PAYMENT_PROCESS)
            .with_kind(SpanKind::Client)
            .with_attributes(vec![
                KeyValue::new(attr::ORDER_ID, i.order_id.clone()),
                KeyValue::new(attr::PAYMENT_AMOUNT, decimal(i.total_minor)),
                KeyValue::new(attr::PAYMENT_AMOUNT_MINOR, i.total_minor),
                KeyValue::new(attr::PAYMENT_CURRENCY, "USD"),
                KeyValue::new(attr::PAYMENT_METHOD_TYPE, "card"),
                KeyValue::new(attr::PAYMENT_CARD_BRAND, "visa"),
                KeyValue::new(attr::PAYMENT_CARD_LAST4, i.card_last4.clone()),
            ])
            .start_with_context(t, &cx);
        let pcx = cx.with_span(payment);
        let started = Instant::now();
        let mut call = t
            .span_builder(attr::PAYMENT_GATEWAY_CALL)
            .with_kind(SpanKind::Client)
            .with_attributes(vec![
                KeyValue::new(attr::PEER_SERVICE, "stripe"),
                KeyValue::new(attr::HTTP_REQUEST_METHOD, "POST"),
                KeyValue::new(attr::SERVER_ADDRESS, i.gateway_host.clone()),
                KeyValue::new(attr::SERVER_PORT, 443_i64),
                KeyValue::new(attr::URL_FULL, i.gateway_url.clone()),
                KeyValue::new(attr::PAYMENT_ATTEMPT, 1_i64),
            ])
            .start_with_context(t, &pcx);
        call.set_attribute(KeyValue::new(attr::HTTP_RESPONSE_STATUS_CODE, 200_i64));
        call.set_attribute(KeyValue::new(attr::PAYMENT_STATUS, "succeeded"));
        call.set_attribute(KeyValue::new(attr::PAYMENT_CHARGE_ID, i.charge_id.clone()));
        let latency = started.elapsed();
        call.set_attribute(KeyValue::new(
            attr::PAYMENT_GATEWAY_LATENCY_MS,
            latency.as_millis() as i64,
        ));
        call.end();
        meter::raw_gateway(m, latency);
        let payment = pcx.span();
        payment.set_attribute(KeyValue::new(attr::PAYMENT_STATUS, "succeeded"));
        payment.set_attribute(KeyValue::new(attr::PAYMENT_CHARGE_ID, i.charge_id.clone()));
        payment.end();
    }
    .await;
    meter::raw_step(m, "processing_payment", step_started.elapsed());
    cx.span()
        .add_event(attr::EVENT_PAYMENT_PROCESSED, Vec::new());

    let step_started = Instant::now();
    async {
        let mut order = t
            .span_builder(attr::ORDER_CREATE)
            .with_kind(SpanKind::Internal)
            .with_attributes(vec![KeyValue::new(attr::ORDER_ID, i.order_id.clone())])
            .start_with_context(t, &cx);
        order.end();
    }
    .await;
    meter::raw_step(m, "creating_order", step_started.elapsed());
    let root = cx.span();
    root.add_event(attr::EVENT_ORDER_CREATED, Vec::new());
    root.set_attribute(KeyValue::new(attr::ORDER_ID, i.order_id.clone()));

    let mut notify = t
        .span_builder(attr::NOTIFICATION_SEND)
        .with_kind(SpanKind::Producer)
        .with_attributes(vec![
            KeyValue::new(attr::ORDER_ID, i.order_id.clone()),
            KeyValue::new(attr::NOTIFICATION_CHANNEL, "email"),
        ])
        .start_with_context(t, &cx);
    notify.end();

    root.set_attribute(KeyValue::new(attr::CHECKOUT_STEP, "complete"));
    root.set_attribute(KeyValue::new(attr::CHECKOUT_STATUS, "success"));
    root.end();
    meter::raw_checkout(m, i.lines.len() as u64, checkout_started.elapsed());
}

/// Through `tracing` and tracing-opentelemetry: spans with their fields,
/// futures instrumented with their span, milestones as `info!` events.
pub async fn via_tracing(i: &Inputs) {
    let n = i.lines.len() as i64;
    let root = tracing::info_span!(
        "checkout.process",
        cart.id = %i.cart_id,
        checkout.item_count = n,
        user.hash = %i.user_hash,
        checkout.total = %Decimal(i.total_minor),
        checkout.total_minor = i.total_minor,
        checkout.currency = "USD",
        order.id = Empty,
        checkout.step = Empty,
        checkout.status = Empty,
    );
    async {
        async {
            let fetch = tracing::info_span!(
                "cart.fetch_contents",
                cart.id = %i.cart_id,
                cart.item_count = Empty,
            );
            fetch.record("cart.item_count", n);
            drop(fetch);
            let verify = tracing::info_span!(
                "cart.verify_prices",
                cart.item_count = n,
                cart.stale_prices = Empty,
            );
            verify.record("cart.stale_prices", 0_i64);
            drop(verify);
        }
        .instrument(tracing::info_span!("cart.validate", cart.id = %i.cart_id))
        .await;
        tracing::info!("cart_validated");

        let batch = tracing::info_span!(
            "inventory.reserve_batch",
            inventory.item_count = n,
            inventory.reservation_id = Empty,
            inventory.reservations_created = Empty,
        );
        async {
            for line in &i.lines {
                let item = tracing::info_span!(
                    "inventory.reserve_item",
                    product.id = %line.product_id,
                    quantity.requested = i64::from(line.quantity),
                    reservation.id = Empty,
                );
                item.record("reservation.id", line.reservation_id.as_str());
                drop(item);
            }
        }
        .instrument(batch.clone())
        .await;
        batch.record("inventory.reservation_id", i.batch_reservation_id.as_str());
        batch.record("inventory.reservations_created", n);
        drop(batch);
        tracing::info!("inventory_reserved");

        let payment = tracing::info_span!(
            "payment.process",
            otel.kind = "client",
            order.id = %i.order_id,
            payment.amount = %Decimal(i.total_minor),
            payment.amount_minor = i.total_minor,
            payment.currency = "USD",
            payment.method_type = "card",
            payment.card.brand = "visa",
            payment.card.last4 = %i.card_last4,
            payment.status = Empty,
            payment.charge_id = Empty,
        );
        async {
            let started = Instant::now();
            let call = tracing::info_span!(
                "payment.gateway_call",
                otel.kind = "client",
                peer.service = "stripe",
                http.request.method = "POST",
                server.address = %i.gateway_host,
                server.port = 443_i64,
                url.full = %i.gateway_url,
                payment.attempt = 1_i64,
                http.response.status_code = Empty,
                payment.status = Empty,
                payment.charge_id = Empty,
                payment.gateway_latency_ms = Empty,
            );
            call.record("http.response.status_code", 200_i64);
            call.record("payment.status", "succeeded");
            call.record("payment.charge_id", i.charge_id.as_str());
            call.record(
                "payment.gateway_latency_ms",
                started.elapsed().as_millis() as i64,
            );
            drop(call);
        }
        .instrument(payment.clone())
        .await;
        payment.record("payment.status", "succeeded");
        payment.record("payment.charge_id", i.charge_id.as_str());
        drop(payment);
        tracing::info!("payment_processed");

        async {}
            .instrument(tracing::info_span!("order.create", order.id = %i.order_id))
            .await;
        tracing::info!("order_created");
        tracing::Span::current().record("order.id", i.order_id.as_str());

        let notify = tracing::info_span!(
            "notification.send",
            otel.kind = "producer",
            order.id = %i.order_id,
            notification.channel = "email",
        );
        drop(notify);
    }
    .instrument(root.clone())
    .await;
    root.record("checkout.step", "complete");
    root.record("checkout.status", "success");
}
