//! The API gateway: `POST /checkout` assembles the checkout from the other
//! services, one step at a time, inside `checkout.process`.
//!
//! ```text
//! checkout.process (SERVER)
//!   validating_cart      -> cart service
//!   reserving_inventory  -> inventory service
//!   processing_payment   payment.process (CLIENT) -> payment service (gRPC) -> external gateway
//!     (on failure: release the reservation -> inventory service)
//!   creating_order       -> order service
//!   notification.send (PRODUCER, not awaited) -> notification service
//! ```

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use checkout_otel::attributes::{
    CheckoutStatus, CheckoutStep, DeclineCode, ErrorType, FailureKind, NotificationChannel,
};
use checkout_otel::pii::{self, Currency, Money, PaymentMethod};
use checkout_otel::spans::{
    CheckoutProcess, CheckoutProcessSpan, CheckoutTracer, ClassifyError, NotificationSend,
    PaymentProcess,
};
use serde::{Deserialize, Serialize};
use tokio::task::JoinSet;
use tonic::{Code, Status};
use tracing::instrument::WithSubscriber as _;

use checkout_otel::http_server::OtelServerLayer;

use crate::grpc::TracedChannel;
use crate::net::{CallError, ServiceClient, TraceParent};
use crate::services::cart::ValidatedCart;
use crate::services::inventory::{
    ReleaseRequest, Released, Reservation, ReserveLine, ReserveRequest,
};
use crate::services::notification::{Notification, Sent};
use crate::services::order::{NewOrder, Order};
use crate::services::payment_grpc::{AuthorizeRequest, AuthorizeResponse, Outcome, PaymentClient};

/// What the storefront sends to check out a cart.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckoutRequest {
    pub cart_id: String,
    /// Number of items, as the storefront shows it on the checkout button.
    pub item_count: usize,
    pub customer_id: String,
    pub email: String,
    pub card_number: String,
}

/// The gateway's answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckoutResponse {
    pub status: String,
    pub trace_id: String,
    pub order_id: Option<String>,
    pub failure_step: Option<String>,
    pub error_type: Option<String>,
    /// The failure, scrubbed of card numbers and emails.
    pub message: Option<String>,
    pub duration_ms: u64,
}

/// Why a checkout did not complete.
#[derive(Debug, thiserror::Error)]
pub enum CheckoutError {
    #[error("cart is invalid: {0}")]
    InvalidCart(String),
    #[error("prices changed: {0}")]
    StalePrices(String),
    #[error("out of stock: {0}")]
    OutOfStock(String),
    #[error("card rejected: {0}")]
    InvalidCard(checkout_otel::ValueError),
    #[error("payment declined ({code}): {message}")]
    Declined { code: DeclineCode, message: String },
    #[error("{0} timed out")]
    Timeout(&'static str),
    #[error("{service} failed: {message}")]
    Upstream {
        service: &'static str,
        message: String,
    },
    #[error("{service} unreachable: {reason}")]
    Unavailable {
        service: &'static str,
        reason: String,
    },
}

impl ClassifyError for CheckoutError {
    fn error_type(&self) -> ErrorType {
        match self {
            CheckoutError::InvalidCart(_) => ErrorType::INVALID_CART,
            CheckoutError::StalePrices(_) => ErrorType::PRICE_MISMATCH,
            CheckoutError::OutOfStock(_) => ErrorType::INSUFFICIENT_STOCK,
            CheckoutError::InvalidCard(_) => ErrorType::INVALID_REQUEST,
            CheckoutError::Declined { .. } => ErrorType::CARD_DECLINED,
            CheckoutError::Timeout(_) => ErrorType::TIMEOUT,
            CheckoutError::Upstream { .. } => ErrorType::UPSTREAM_ERROR,
            CheckoutError::Unavailable { .. } => ErrorType::UNAVAILABLE,
        }
    }

    fn failure_kind(&self) -> FailureKind {
        match self {
            CheckoutError::InvalidCart(_)
            | CheckoutError::StalePrices(_)
            | CheckoutError::OutOfStock(_)
            | CheckoutError::InvalidCard(_)
            | CheckoutError::Declined { .. } => FailureKind::Rejection,
            _ => FailureKind::Fault,
        }
    }
}

impl CheckoutError {
    /// Maps a failed call to `service` by the `error_type` it answered with.
    fn from_call(service: &'static str, e: CallError) -> Self {
        let body = match e {
            CallError::Timeout => return CheckoutError::Timeout(service),
            CallError::Unreachable(reason) => {
                return CheckoutError::Unavailable { service, reason };
            }
            CallError::Status { body, .. } => body,
        };
        match body.error_type.as_str() {
            "invalid_cart" => CheckoutError::InvalidCart(body.message),
            "price_mismatch" => CheckoutError::StalePrices(body.message),
            "insufficient_stock" => CheckoutError::OutOfStock(body.message),
            "card_declined" => CheckoutError::Declined {
                code: DeclineCode::from_gateway_code(body.decline_code.as_deref().unwrap_or("")),
                message: body.message,
            },
            "timeout" => CheckoutError::Timeout("payment gateway"),
            "unavailable" => CheckoutError::Unavailable {
                service,
                reason: body.message,
            },
            _ => CheckoutError::Upstream {
                service,
                message: body.message,
            },
        }
    }
}

impl CheckoutError {
    /// The payment service's answer: the charge id, or the decline.
    fn from_payment(response: AuthorizeResponse) -> Result<String, Self> {
        match response.outcome {
            Some(Outcome::ChargeId(charge_id)) => Ok(charge_id),
            Some(Outcome::Declined(decline)) => Err(CheckoutError::Declined {
                code: DeclineCode::from_gateway_code(&decline.code),
                message: decline.message,
            }),
            None => Err(CheckoutError::Upstream {
                service: "payment",
                message: "answered with no outcome".to_owned(),
            }),
        }
    }

    /// Maps the status a payment call failed with (see `payment.rs`).
    fn from_payment_status(status: Status) -> Self {
        match status.code() {
            Code::DeadlineExceeded => CheckoutError::Timeout("payment gateway"),
            // tonic's own timeout on the call to the payment service.
            Code::Cancelled => CheckoutError::Timeout("payment"),
            Code::Unavailable => CheckoutError::Unavailable {
                service: "payment",
                reason: status.message().to_owned(),
            },
            _ => CheckoutError::Upstream {
                service: "payment",
                message: status.message().to_owned(),
            },
        }
    }
}

/// The downstream services.
#[derive(Debug, Clone)]
pub struct Downstream {
    pub cart: ServiceClient,
    pub inventory: ServiceClient,
    pub payment: PaymentClient<TracedChannel>,
    pub orders: ServiceClient,
    pub notifications: ServiceClient,
}

pub struct Gateway {
    tracer: CheckoutTracer,
    services: Downstream,
    background: Background,
    next_order: AtomicU64,
}

impl Gateway {
    pub fn new(tracer: CheckoutTracer, services: Downstream) -> Arc<Self> {
        Arc::new(Gateway {
            tracer,
            services,
            background: Background::default(),
            next_order: AtomicU64::new(1),
        })
    }

    /// Waits for fire-and-forget work (notifications) started so far.
    pub async fn background_idle(&self) {
        self.background.idle().await
    }
}

pub fn router(gateway: Arc<Gateway>) -> Router {
    Router::new()
        .route("/checkout", post(checkout))
        .layer(OtelServerLayer::new(&gateway.tracer))
        .with_state(gateway)
}

async fn checkout(
    State(gw): State<Arc<Gateway>>,
    TraceParent(parent): TraceParent,
    Json(req): Json<CheckoutRequest>,
) -> (StatusCode, Json<CheckoutResponse>) {
    let order_id = format!("ord-{:04}", gw.next_order.fetch_add(1, Ordering::Relaxed));
    let user = gw.tracer.user(&req.customer_id);
    let checkout = gw.tracer.start_in(
        CheckoutProcess::new(&req.cart_id)
            .user(&user)
            .item_count(req.item_count),
        &parent,
    );
    checkout.set_order_id(&order_id);
    let trace_id = checkout.trace_id().to_string();

    let result = gw.place_order(&checkout, &order_id, &req).await;
    let checkout_context = checkout.context().clone();
    let outcome = checkout.finish(&result);
    log_outcome(&checkout_context, &order_id, &outcome);

    let status = match outcome.status {
        CheckoutStatus::Success => StatusCode::CREATED,
        _ => match &result {
            Err(CheckoutError::Declined { .. }) => StatusCode::PAYMENT_REQUIRED,
            Err(CheckoutError::Timeout(_)) => StatusCode::GATEWAY_TIMEOUT,
            Err(e) if e.failure_kind() == FailureKind::Rejection => StatusCode::CONFLICT,
            _ => StatusCode::BAD_GATEWAY,
        },
    };
    let response = CheckoutResponse {
        status: outcome.status.as_str().to_owned(),
        trace_id,
        order_id: result.is_ok().then_some(order_id),
        failure_step: outcome.failure_step.map(|s| s.as_str().to_owned()),
        error_type: outcome.error_type.map(|t| t.as_str().to_owned()),
        message: result
            .err()
            .map(|e| pii::scrub(&e.to_string()).into_owned()),
        duration_ms: u64::try_from(outcome.duration.as_millis()).unwrap_or(u64::MAX),
    };
    (status, Json(response))
}

/// The checkout's outcome as the gateway's log line, under the checkout's
/// span: a rejection (decline, stock, prices) is the business working as
/// intended (INFO), a fault is an ERROR.
fn log_outcome(
    checkout: &checkout_otel::opentelemetry::Context,
    order_id: &str,
    outcome: &checkout_otel::spans::CheckoutOutcome,
) {
    let _in = checkout.clone().attach();
    let duration_ms = u64::try_from(outcome.duration.as_millis()).unwrap_or(u64::MAX);
    let step = outcome.failure_step.map_or("", |s| s.as_str());
    let error_type = outcome.error_type.as_ref().map_or("", |t| t.as_str());
    match outcome.status {
        CheckoutStatus::Success => tracing::info!(
            name: "checkout.completed",
            {
                "order.id" = order_id,
                duration_ms,
            },
            "checkout completed"
        ),
        CheckoutStatus::Rejected => tracing::info!(
            name: "checkout.rejected",
            {
                "checkout.failure_step" = step,
                "error.type" = error_type,
                duration_ms,
            },
            "checkout rejected"
        ),
        _ => tracing::error!(
            name: "checkout.failed",
            {
                "checkout.failure_step" = step,
                "error.type" = error_type,
                duration_ms,
            },
            "checkout failed"
        ),
    }
}

impl Gateway {
    /// The checkout itself: each step runs inside `checkout.process`, so the
    /// calls it makes carry its trace context to the next service.
    async fn place_order(
        &self,
        checkout: &CheckoutProcessSpan,
        order_id: &str,
        req: &CheckoutRequest,
    ) -> Result<(), CheckoutError> {
        let (cart, total) = checkout
            .step(
                CheckoutStep::ValidatingCart,
                self.validate_cart(&req.cart_id),
            )
            .await?;
        checkout.set_total(total);

        let reservation = checkout
            .step(CheckoutStep::ReservingInventory, self.reserve(&cart))
            .await?;

        let paid = checkout
            .step(
                CheckoutStep::ProcessingPayment,
                self.pay(order_id, total, req),
            )
            .await;
        let charge_id = match paid {
            Ok(charge_id) => charge_id,
            Err(e) => {
                // Compensation: give the stock back now rather than when the
                // reservation expires. Traced under the checkout.
                checkout.run(self.release(&reservation)).await;
                return Err(e);
            }
        };

        let order = NewOrder {
            order_id: order_id.to_owned(),
            cart_id: req.cart_id.clone(),
            reservation_id: reservation.reservation_id,
            charge_id,
            total_minor: total.minor_units(),
            currency: total.currency().code().to_owned(),
        };
        checkout
            .step(CheckoutStep::CreatingOrder, self.create_order(&order))
            .await?;

        self.notify(checkout, order_id, &req.email);
        Ok(())
    }

    async fn validate_cart(&self, cart_id: &str) -> Result<(ValidatedCart, Money), CheckoutError> {
        let path = format!("/carts/{cart_id}/validate");
        let cart: ValidatedCart = self
            .services
            .cart
            .post(&path, &())
            .await
            .map_err(|e| CheckoutError::from_call("cart", e))?;
        let currency = Currency::from_code(&cart.currency)
            .map_err(|e| CheckoutError::InvalidCart(e.to_string()))?;
        let total = Money::from_minor(cart.total_minor, currency);
        Ok((cart, total))
    }

    async fn reserve(&self, cart: &ValidatedCart) -> Result<Reservation, CheckoutError> {
        let lines = cart
            .lines
            .iter()
            .map(|l| ReserveLine {
                sku: l.sku.clone(),
                quantity: l.quantity,
            })
            .collect();
        self.services
            .inventory
            .post("/reservations", &ReserveRequest { lines })
            .await
            .map_err(|e| CheckoutError::from_call("inventory", e))
    }

    async fn pay(
        &self,
        order_id: &str,
        total: Money,
        req: &CheckoutRequest,
    ) -> Result<String, CheckoutError> {
        // Borrowed: the payment service still needs the number.
        let card = PaymentMethod::card_from_number(&req.card_number)
            .map_err(CheckoutError::InvalidCard)?;
        let customer = self.tracer.user(&req.customer_id);
        let payment = self.tracer.start(
            PaymentProcess::new(order_id, total)
                .method(&card)
                .user(&customer),
        );
        let request = AuthorizeRequest {
            order_id: order_id.to_owned(),
            amount_minor: total.minor_units(),
            currency: total.currency().code().to_owned(),
            card_number: req.card_number.clone(),
            customer_email: req.email.clone(),
        };
        let mut client = self.services.payment.clone();
        let result = match payment.run(client.authorize(request)).await {
            Ok(response) => CheckoutError::from_payment(response),
            Err(status) => Err(CheckoutError::from_payment_status(status)),
        };
        // The gateway call that declined ran in the payment service, so the
        // decline is recorded here on the payment span alone.
        match &result {
            Ok(charge_id) => payment.succeeded(charge_id),
            Err(CheckoutError::Declined { code, message }) => payment.declined(*code, message),
            Err(e) => payment.fail(e),
        }
        result
    }

    async fn release(&self, reservation: &Reservation) {
        let path = format!("/reservations/{}/release", reservation.reservation_id);
        let request = ReleaseRequest {};
        // If this fails the reservation expires on its own; the inventory
        // service recorded the error on its `inventory.release` span.
        let _ = self
            .services
            .inventory
            .post::<_, Released>(&path, &request)
            .await;
    }

    async fn create_order(&self, order: &NewOrder) -> Result<Order, CheckoutError> {
        self.services
            .orders
            .post("/orders", order)
            .await
            .map_err(|e| CheckoutError::from_call("order", e))
    }

    /// Sends the confirmation without waiting for it: `notification.send`
    /// is a child of the checkout that ends after it, and its failure is
    /// recorded on it alone; the order is placed either way.
    fn notify(&self, checkout: &CheckoutProcessSpan, order_id: &str, email: &str) {
        let span = self.tracer.start_in(
            NotificationSend::new(order_id, NotificationChannel::Email),
            checkout.context(),
        );
        let client = self.services.notifications.clone();
        let notification = Notification {
            order_id: order_id.to_owned(),
            email: email.to_owned(),
        };
        self.background.spawn(span.instrument_result(async move {
            client
                .post::<_, Sent>("/notifications", &notification)
                .await
                .map_err(|e| CheckoutError::from_call("notification", e))
        }));
    }
}

/// Fire-and-forget tasks, tracked so the demo can wait for them to finish
/// (and their spans to be exported) before drawing a trace.
#[derive(Default)]
struct Background(Mutex<JoinSet<()>>);

impl Background {
    fn spawn<T: Send + 'static>(&self, task: impl Future<Output = T> + Send + 'static) {
        let mut tasks = self.0.lock().unwrap();
        // Reap finished tasks so the set does not grow without bound.
        while tasks.try_join_next().is_some() {}
        // With the gateway's subscriber: the task outlives the request.
        tasks.spawn(
            async move {
                task.await;
            }
            .with_current_subscriber(),
        );
    }

    async fn idle(&self) {
        let mut tasks = std::mem::take(&mut *self.0.lock().unwrap());
        while tasks.join_next().await.is_some() {}
    }
}
