//! A small in-process shop for the collector, fault and load tests: six
//! services, each with its own telemetry (its own `service.name` and OTLP
//! exporter), passing the checkout's trace context to each other in W3C
//! headers as they would over HTTP, each with its own guard's propagator
//! (`build()` installs no global one). One checkout is a root and 11 child spans
//! across all six services, plus the checkout metrics.
//!
//! The business work is plain code shared by [`Shop::checkout`] and
//! [`Shop::checkout_bare`], so the same workload runs with and without
//! instrumentation. Every 10th checkout (n % 10 == 7) is declined with a
//! gateway message carrying a card number and an email; every 10th
//! (n % 10 == 3) asks for more than is in stock.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use checkout_otel::ShutdownError;
use checkout_otel::attributes::{
    CheckoutStatus, CheckoutStep, DeclineCode, ErrorType, NotificationChannel,
};
use checkout_otel::init::Exporter;
use checkout_otel::init::{Protocol, SpanExportStats, Telemetry, TelemetryBuilder, TelemetryGuard};
use checkout_otel::opentelemetry::Context;
use checkout_otel::pii::{Currency, Money, PaymentMethod, UserRef};
use checkout_otel::spans::{
    CartFetchContents, CartValidate, CartVerifyPrices, CheckoutProcess, CheckoutTracer, DbQuery,
    Failure, InventoryReserveBatch, InventoryReserveItem, NotificationSend, OrderCreate,
    PaymentGatewayCall, PaymentProcess,
};
use http::HeaderMap;

/// The services, in the order of [`Shop::guards`].
pub const SERVICES: [&str; 6] = [
    "gateway",
    "cart",
    "inventory",
    "payment",
    "order",
    "notification",
];

/// Spans of one checkout that succeeds.
pub const SPANS_PER_SUCCESS: usize = 12;

/// The card every customer pays with, and what must never reach telemetry.
pub const CARD_NUMBER: &str = "4111 1111 1111 1111";

const CATALOG: [(&str, i64); 3] = [
    ("sku-mug", 1_250),
    ("sku-beans", 1_999),
    ("sku-grinder", 8_900),
];

/// What a checkout asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Success,
    Declined,
    OutOfStock,
}

impl Kind {
    pub fn of(n: u64) -> Kind {
        match n % 10 {
            7 => Kind::Declined,
            3 => Kind::OutOfStock,
            _ => Kind::Success,
        }
    }

    /// Spans a checkout of this kind creates.
    pub fn spans(self) -> usize {
        match self {
            Kind::Success => SPANS_PER_SUCCESS,
            // root, cart x3, inventory x3, payment.process, gateway_call
            Kind::Declined => 9,
            // root, cart x3, reserve_batch, reserve_item x2 (one short), UPDATE
            Kind::OutOfStock => 8,
        }
    }
}

/// The customer id of checkout `n`: an email, which only `user.hash` may carry.
pub fn customer_email(n: u64) -> String {
    format!("customer.{n}@example.com")
}

/// The outcome of one checkout.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub status: CheckoutStatus,
    /// Hex trace id (empty for a bare checkout).
    pub trace_id: String,
}

/// The shop's data: stock levels.
#[derive(Debug)]
struct Store {
    stock: Mutex<HashMap<&'static str, u64>>,
}

/// A "request body" crossing a service boundary: serialised and parsed, as
/// over HTTP, with or without instrumentation.
#[derive(serde::Serialize, serde::Deserialize)]
struct Wire {
    cart_id: String,
    lines: Vec<(String, u32, i64)>,
}

fn hop(cart_id: &str, lines: &[(&'static str, u32, i64)]) -> Wire {
    let wire = Wire {
        cart_id: cart_id.to_owned(),
        lines: lines
            .iter()
            .map(|(p, q, c)| ((*p).to_owned(), *q, *c))
            .collect(),
    };
    let bytes = serde_json::to_vec(&wire).expect("serialise");
    serde_json::from_slice(&bytes).expect("parse")
}

fn cart_lines(n: u64, kind: Kind) -> Vec<(&'static str, u32, i64)> {
    let (mug, mug_price) = CATALOG[0];
    let (beans, beans_price) = CATALOG[1];
    let (grinder, grinder_price) = CATALOG[2];
    let big = if kind == Kind::OutOfStock {
        2_000_000_000
    } else {
        1
    };
    vec![
        (mug, 1 + (n % 2) as u32, mug_price),
        (beans, 1, beans_price),
        (grinder, big, grinder_price),
    ]
}

fn total(lines: &[(&'static str, u32, i64)]) -> Money {
    let minor: i64 = lines.iter().map(|(_, q, c)| i64::from(*q) * c).sum();
    Money::from_minor(minor, Currency::USD)
}

impl Store {
    fn new() -> Store {
        Store {
            stock: Mutex::new(CATALOG.iter().map(|(p, _)| (*p, 1_000_000_000)).collect()),
        }
    }

    fn prices_ok(lines: &[(String, u32, i64)]) -> bool {
        lines
            .iter()
            .all(|(p, _, c)| CATALOG.iter().any(|(q, price)| q == p && price == c))
    }

    /// Reserves every line or nothing; `Err((product, available, requested))`.
    fn reserve(&self, lines: &[(String, u32, i64)]) -> Result<(), (String, u64, u64)> {
        let mut stock = self.stock.lock().expect("stock");
        for (p, q, _) in lines {
            let have = stock.get(p.as_str()).copied().unwrap_or(0);
            if have < u64::from(*q) {
                return Err((p.clone(), have, u64::from(*q)));
            }
        }
        for (p, q, _) in lines {
            if let Some(have) = stock.get_mut(p.as_str()) {
                *have -= u64::from(*q);
            }
        }
        Ok(())
    }
}

fn decline_message(n: u64) -> String {
    format!(
        "card {CARD_NUMBER} of {} declined: insufficient funds",
        customer_email(n)
    )
}

/// The running shop.
pub struct Shop {
    /// One guard per service, in [`SERVICES`] order.
    pub guards: Vec<TelemetryGuard>,
    gateway: CheckoutTracer,
    cart: CheckoutTracer,
    inventory: CheckoutTracer,
    payment: CheckoutTracer,
    order: CheckoutTracer,
    notification: CheckoutTracer,
    store: Store,
    card: PaymentMethod,
}

impl Shop {
    /// Every service exporting to `endpoint`; `tune` adjusts each builder
    /// (timeouts, queue size). The process environment is not read.
    pub fn start(
        endpoint: &str,
        protocol: Protocol,
        tune: impl Fn(TelemetryBuilder) -> TelemetryBuilder,
    ) -> Shop {
        Self::with_builders(|name| {
            tune(
                Telemetry::builder(name)
                    .endpoint(endpoint)
                    .protocol(protocol)
                    .with_env(Vec::<(String, String)>::new()),
            )
        })
    }

    /// Every service with `OTEL_SDK_DISABLED=true`: instrumentation compiled
    /// in, turned off.
    pub fn disabled() -> Shop {
        Self::with_builders(|name| {
            Telemetry::builder(name)
                .traces_exporter(Exporter::None)
                .metrics_exporter(Exporter::None)
                .with_env([("OTEL_SDK_DISABLED", "true")])
        })
    }

    fn with_builders(builder: impl Fn(&'static str) -> TelemetryBuilder) -> Shop {
        let guards: Vec<TelemetryGuard> = SERVICES
            .iter()
            .map(|name| builder(name).build().expect("telemetry"))
            .collect();
        let t = |i: usize| guards[i].tracer();
        Shop {
            gateway: t(0),
            cart: t(1),
            inventory: t(2),
            payment: t(3),
            order: t(4),
            notification: t(5),
            guards,
            store: Store::new(),
            card: PaymentMethod::card_from_number(CARD_NUMBER).expect("card"),
        }
    }

    /// Export statistics summed over every service.
    pub fn stats(&self) -> SpanExportStats {
        let mut sum = SpanExportStats::default();
        for g in &self.guards {
            let s = g.span_export_stats();
            sum.capacity += s.capacity;
            sum.queued += s.queued;
            sum.dropped += s.dropped;
            sum.exported += s.exported;
            sum.failed += s.failed;
        }
        sum
    }

    /// Flushes every service; the errors, by service.
    pub fn flush(&self) -> Vec<(&'static str, ShutdownError)> {
        SERVICES
            .iter()
            .zip(&self.guards)
            .filter_map(|(name, g)| g.force_flush().err().map(|e| (*name, e)))
            .collect()
    }

    /// Shuts every service down, in parallel (each within its own bound);
    /// the errors, by service.
    pub fn shutdown(self) -> Vec<(&'static str, ShutdownError)> {
        let handles: Vec<_> = SERVICES
            .iter()
            .zip(self.guards)
            .map(|(name, g)| std::thread::spawn(move || g.shutdown().err().map(|e| (*name, e))))
            .collect();
        handles
            .into_iter()
            .filter_map(|h| h.join().expect("shutdown thread"))
            .collect()
    }

    /// Checkout number `n`, instrumented.
    pub async fn checkout(&self, n: u64) -> Outcome {
        self.checkout_with_gateway_delay(n, Duration::ZERO).await
    }

    /// Checkout number `n`, instrumented, whose payment gateway answers
    /// after `gateway_delay`: a slow checkout (its `checkout.process` lasts
    /// at least that long).
    pub async fn checkout_with_gateway_delay(&self, n: u64, gateway_delay: Duration) -> Outcome {
        let kind = Kind::of(n);
        let cart_id = format!("cart-{n}");
        let order_id = format!("ord-{n}");
        let user = UserRef::new(&customer_email(n));
        let lines = cart_lines(n, kind);
        let amount = total(&lines);
        let items: usize = lines.len();

        let root = self.gateway.start_in(
            CheckoutProcess::new(&cart_id)
                .user(&user)
                .item_count(items)
                .total(amount)
                .server(),
            &Context::new(),
        );
        let trace_id = root.trace_id().to_string();
        let result: Result<(), Failure> = async {
            let body = root
                .step(CheckoutStep::ValidatingCart, async {
                    let (headers, body) = self.call(&cart_id, &lines);
                    self.cart_validate(&headers, body)
                })
                .await?;
            root.step(CheckoutStep::ReservingInventory, async {
                let (headers, body) = self.call(&body.cart_id, &lines);
                self.reserve(&headers, body, n)
            })
            .await?;
            root.step(CheckoutStep::ProcessingPayment, async {
                let payment = self
                    .gateway
                    .start(PaymentProcess::new(&order_id, amount).method(&self.card));
                let mut headers = HeaderMap::new();
                self.gateway.inject(payment.context(), &mut headers);
                if !gateway_delay.is_zero() {
                    tokio::time::sleep(gateway_delay).await;
                }
                let result = self.charge(&headers, n, kind);
                match &result {
                    Ok(charge) => payment.succeeded(charge),
                    Err(_) => payment.declined(DeclineCode::InsufficientFunds, &decline_message(n)),
                }
                result.map(drop)
            })
            .await?;
            root.step(CheckoutStep::CreatingOrder, async {
                let (headers, _) = self.call(&cart_id, &lines);
                self.create_order(&headers, &order_id);
                Ok::<_, Failure>(())
            })
            .await?;
            root.set_order_id(&order_id);
            let mut headers = HeaderMap::new();
            self.gateway.inject(root.context(), &mut headers);
            self.notify(&headers, &order_id);
            Ok(())
        }
        .await;
        let outcome = root.finish(&result);
        Outcome {
            status: outcome.status,
            trace_id,
        }
    }

    /// Checkout number `n` without any instrumentation: the same work.
    pub async fn checkout_bare(&self, n: u64) -> Outcome {
        let kind = Kind::of(n);
        let cart_id = format!("cart-{n}");
        let order_id = format!("ord-{n}");
        let lines = cart_lines(n, kind);
        let _amount = total(&lines);
        let result: Result<(), Failure> = async {
            let body = hop(&cart_id, &lines);
            if !Store::prices_ok(&body.lines) {
                return Err(Failure::rejection(
                    ErrorType::PRICE_MISMATCH,
                    "prices changed",
                ));
            }
            let body = hop(&body.cart_id, &lines);
            if self.store.reserve(&body.lines).is_err() {
                return Err(Failure::rejection(
                    ErrorType::INSUFFICIENT_STOCK,
                    "out of stock",
                ));
            }
            if kind == Kind::Declined {
                return Err(Failure::rejection(
                    ErrorType::CARD_DECLINED,
                    decline_message(n),
                ));
            }
            let _charge = format!("ch_{n:08}");
            let _ = hop(&cart_id, &lines);
            let _ = std::hint::black_box(&order_id);
            Ok(())
        }
        .await;
        Outcome {
            status: match result {
                Ok(()) => CheckoutStatus::Success,
                Err(_) => CheckoutStatus::Rejected,
            },
            trace_id: String::new(),
        }
    }

    fn cart_validate(&self, headers: &HeaderMap, body: Wire) -> Result<Wire, Failure> {
        let parent = self.cart.extract(headers);
        let validate = self
            .cart
            .start_in(CartValidate::new(&body.cart_id), &parent);
        let fetch = self
            .cart
            .start_in(CartFetchContents::new(&body.cart_id), validate.context());
        fetch.item_count(body.lines.len());
        drop(fetch);
        let verify = self
            .cart
            .start_in(CartVerifyPrices::new(body.lines.len()), validate.context());
        let ok = Store::prices_ok(&body.lines);
        verify.end();
        if ok {
            Ok(body)
        } else {
            let failure = Failure::rejection(ErrorType::PRICE_MISMATCH, "prices changed");
            validate.fail(&failure);
            Err(failure)
        }
    }

    fn reserve(&self, headers: &HeaderMap, body: Wire, n: u64) -> Result<(), Failure> {
        let parent = self.inventory.extract(headers);
        let batch = self
            .inventory
            .start_in(InventoryReserveBatch::new(body.lines.len()), &parent);
        // The first line's item span stands for the per-item work; the store
        // reserves all lines in one transaction.
        let (product, quantity, _) = &body.lines[0];
        let item = self.inventory.start_in(
            InventoryReserveItem::new(product, *quantity),
            batch.context(),
        );
        let query = self.inventory.start_in(
            DbQuery::new("sqlite", "UPDATE", "stock")
                .query("UPDATE stock SET quantity = quantity - ? WHERE product_id = ?"),
            item.context(),
        );
        let result = self.store.reserve(&body.lines);
        drop(query);
        match result {
            Ok(()) => {
                let reservation = format!("res-{n}");
                item.reserved(&reservation);
                batch.reserved(&reservation, body.lines.len());
                Ok(())
            }
            Err((product, available, requested)) => {
                let shortfall = self.inventory.start_in(
                    InventoryReserveItem::new(&product, requested as u32),
                    batch.context(),
                );
                shortfall.insufficient_stock(available);
                drop(item);
                let failure = Failure::rejection(
                    ErrorType::INSUFFICIENT_STOCK,
                    format!("{product}: {available} available, {requested} requested"),
                );
                batch.fail(&failure);
                Err(failure)
            }
        }
    }

    fn charge(&self, headers: &HeaderMap, n: u64, kind: Kind) -> Result<String, Failure> {
        let parent = self.payment.extract(headers);
        let call = self.payment.start_in(
            PaymentGatewayCall::new("psp", "POST", "https://psp.example/v1/charges"),
            &parent,
        );
        if kind == Kind::Declined {
            call.response_status(402);
            call.declined(DeclineCode::InsufficientFunds, &decline_message(n));
            return Err(Failure::rejection(
                ErrorType::CARD_DECLINED,
                decline_message(n),
            ));
        }
        call.response_status(200);
        let charge = format!("ch_{n:08}");
        call.succeeded(&charge);
        Ok(charge)
    }

    fn create_order(&self, headers: &HeaderMap, order_id: &str) {
        let parent = self.order.extract(headers);
        let order = self.order.start_in(OrderCreate::new(order_id), &parent);
        let _insert = self.order.start_in(
            DbQuery::new("sqlite", "INSERT", "orders")
                .query("INSERT INTO orders (id, total_minor) VALUES (?, ?)"),
            order.context(),
        );
    }

    fn notify(&self, headers: &HeaderMap, order_id: &str) {
        let parent = self.notification.extract(headers);
        let _send = self.notification.start_in(
            NotificationSend::new(order_id, NotificationChannel::Email),
            &parent,
        );
    }
}

impl Shop {
    /// A call from the gateway to another service: the current context in
    /// W3C headers, the body over the wire.
    fn call(&self, cart_id: &str, lines: &[(&'static str, u32, i64)]) -> (HeaderMap, Wire) {
        let mut headers = HeaderMap::new();
        self.gateway.inject(&Context::current(), &mut headers);
        (headers, hop(cart_id, lines))
    }
}

/// Runs `f` on a fresh current-thread runtime.
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

/// Generous export settings for tests: 2 s export timeout, 3 s shutdown
/// bound, metrics every 500 ms.
pub fn test_settings(b: TelemetryBuilder) -> TelemetryBuilder {
    b.timeout(Duration::from_secs(2))
        .shutdown_timeout(Duration::from_secs(3))
        .metric_export_interval(Duration::from_millis(500))
}
