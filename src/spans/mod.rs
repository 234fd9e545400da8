//! Typed span helpers for every checkout step.
//!
//! Each helper is a [`SpanSpec`]: a small value naming the step's typed
//! inputs, started with [`CheckoutTracer::start`] (child of the current
//! context) or [`CheckoutTracer::start_in`] (child of an explicit context,
//! such as one extracted from incoming headers). It returns the handle named
//! after it, `{Spec}Span`, with the methods every handle shares (`context`,
//! `trace_id`, `span_id`, `is_recording`, `set_attribute`, `add_event`,
//! `run`, `enter`) and those of that step's outcomes (`declined`,
//! `insufficient_stock`, `price_mismatch`, ...).
//!
//! | spec | handle | span | kind |
//! |---|---|---|---|
//! | [`CheckoutProcess`] | [`CheckoutProcessSpan`] | `checkout.process` (with step tracking) | INTERNAL, or SERVER |
//! | [`CartValidate`] | [`CartValidateSpan`] | `cart.validate` | INTERNAL |
//! | [`CartFetchContents`] | [`CartFetchContentsSpan`] | `cart.fetch_contents` | INTERNAL |
//! | [`CartVerifyPrices`] | [`CartVerifyPricesSpan`] | `cart.verify_prices` | INTERNAL |
//! | [`InventoryReserveBatch`] | [`InventoryReserveBatchSpan`] | `inventory.reserve_batch` | INTERNAL |
//! | [`InventoryReserveItem`] | [`InventoryReserveItemSpan`] | `inventory.reserve_item` | INTERNAL |
//! | [`InventoryRelease`] | [`InventoryReleaseSpan`] | `inventory.release` | INTERNAL |
//! | [`PaymentProcess`] | [`PaymentProcessSpan`] | `payment.process` | CLIENT |
//! | [`PaymentGatewayCall`] | [`PaymentGatewayCallSpan`] | `payment.gateway_call` | CLIENT |
//! | [`OrderCreate`] | [`OrderCreateSpan`] | `order.create` | INTERNAL |
//! | [`NotificationSend`] | [`NotificationSendSpan`] | `notification.send` | PRODUCER |
//! | [`DbQuery`] | [`DbQuerySpan`] | `{operation} {table}` | CLIENT |
//! | [`HttpClientCall`] | [`HttpClientCallSpan`] | `{method}` (`GET`, `POST`) | CLIENT |
//!
//! # Ending a span
//!
//! Every way to end a span consumes its handle and goes through the
//! handle's own ending, so what the handle records when it ends (metrics,
//! `payment.gateway_latency_ms`, `cart.stale_prices`, the checkout's status
//! and step) is recorded exactly once, whichever way it ends:
//!
//! - `end()`, or dropping the handle;
//! - `fail(&error)`: records the failure, then ends;
//! - `record(result)`: records an `Err`, ends, and returns `result`;
//! - `instrument(fut)` / `instrument_result(fut)`: the span ends when the
//!   future completes (recording an `Err` for the latter);
//! - the outcomes that conclude a step: [`PaymentProcessSpan::succeeded`],
//!   `declined` and `declined_by` (which ends the gateway call it is given
//!   through that call's own `declined`), [`PaymentGatewayCallSpan::succeeded`], `declined` and
//!   `timed_out`, [`InventoryReserveItemSpan::insufficient_stock`],
//!   [`HttpClientCallSpan::transport_error`].
//!
//! Recorders that do not conclude (`response_status`, `price_mismatch`,
//! `reserved`, `item_count`, `released`, ...) take `&self`. A checkout ends
//! only through [`CheckoutProcessSpan::finish`] with its result (or is
//! recorded as cancelled when dropped), so it cannot be failed and then
//! finished as a success:
//!
//! ```compile_fail,E0382
//! use checkout_otel::attributes::ErrorType;
//! use checkout_otel::spans::{CheckoutProcess, CheckoutTracer, Failure};
//!
//! let tracer = CheckoutTracer::global();
//! let checkout = tracer.start(CheckoutProcess::new("cart-1"));
//! checkout.finish(&Err::<(), _>(Failure::fault(ErrorType::TIMEOUT, "timed out")));
//! checkout.finish(&Ok::<(), Failure>(())); // error: `checkout` was moved by `finish`
//! ```
//!
//! A handle is not a [`TypedSpan`] (there is no `Deref`), so the core's own
//! ending cannot bypass the handle's:
//!
//! ```compile_fail,E0308
//! use checkout_otel::spans::{CheckoutTracer, PaymentGatewayCall, TypedSpan};
//!
//! let tracer = CheckoutTracer::global();
//! let call = tracer.start(PaymentGatewayCall::new("stripe", "POST", "https://gw/charges"));
//! let core: &TypedSpan = &call; // error: mismatched types
//! ```
//!
//! ```compile_fail,E0599
//! use checkout_otel::attributes::ErrorType;
//! use checkout_otel::spans::{CheckoutProcess, CheckoutTracer, Failure};
//!
//! let tracer = CheckoutTracer::global();
//! let checkout = tracer.start(CheckoutProcess::new("cart-1"));
//! // error: no method `fail` (nor `end`): a checkout ends with `finish`
//! checkout.fail(&Failure::fault(ErrorType::TIMEOUT, "timed out"));
//! ```
//!
//! Values reach spans only through the PII types: users as `user.hash`
//! ([`UserRef`](crate::pii::UserRef)), payment methods as type, brand and last
//! four ([`PaymentMethod`](crate::pii::PaymentMethod)), amounts as
//! [`Money`](crate::pii::Money), and failure messages scrubbed.
//!
//! Each helper can be adopted alone. Payment spans in an existing handler:
//!
//! ```
//! # async fn demo() {
//! use checkout_otel::attributes::DeclineCode;
//! use checkout_otel::pii::{Currency, Money, PaymentMethod};
//! use checkout_otel::spans::{CheckoutTracer, PaymentGatewayCall, PaymentProcess};
//!
//! let tracer = CheckoutTracer::global(); // or telemetry.tracer()
//! let card = PaymentMethod::card_from_number("4242 4242 4242 4242").unwrap();
//! let amount = Money::parse("49.98", Currency::USD).unwrap();
//!
//! let customer = tracer.user("customer-8812"); // recorded only as user.hash
//! let payment = tracer.start(
//!     PaymentProcess::new("order-7", amount)
//!         .method(&card)
//!         .user(&customer),
//! );
//! let call = tracer.start_in(
//!     PaymentGatewayCall::new("stripe", "POST", "https://api.stripe.example/v1/charges"),
//!     payment.context(),
//! );
//! call.response_status(402);
//! // One call records the decline on both spans and ends them, the call first.
//! payment.declined_by(call, DeclineCode::InsufficientFunds, "Your card has insufficient funds.");
//! # }
//! ```

mod cart;
mod checkout;
pub mod db;
mod exception;
mod failure;
mod handle;
pub(crate) mod http;
mod instrumented;
mod inventory;
mod order;
mod payment;
mod span;
mod spec;
mod tracer;

pub use self::cart::{
    CartFetchContents, CartFetchContentsSpan, CartValidate, CartValidateSpan, CartVerifyPrices,
    CartVerifyPricesSpan,
};
pub use self::checkout::{CheckoutOutcome, CheckoutProcess, CheckoutProcessSpan, StepRecord};
pub use self::db::{DbQuery, DbQuerySpan};
pub(crate) use self::exception::install as install_exception_signal;
pub use self::exception::{EXCEPTION_LOG_TARGET, ExceptionSignal};
pub use self::failure::{ClassifyError, Failure};
pub use self::http::{HttpClientCall, HttpClientCallSpan};
pub use self::instrumented::Instrumented;
pub use self::inventory::{
    InventoryRelease, InventoryReleaseSpan, InventoryReserveBatch, InventoryReserveBatchSpan,
    InventoryReserveItem, InventoryReserveItemSpan,
};
pub use self::order::{NotificationSend, NotificationSendSpan, OrderCreate, OrderCreateSpan};
pub use self::payment::{
    PaymentGatewayCall, PaymentGatewayCallSpan, PaymentProcess, PaymentProcessSpan,
};
pub use self::span::TypedSpan;
pub use self::spec::{Attrs, SpanSpec};
pub use self::tracer::CheckoutTracer;
