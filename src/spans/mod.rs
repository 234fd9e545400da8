//! Typed span helpers for every checkout step.
//!
//! Each helper is a [`SpanSpec`]: a small value naming the step's typed
//! inputs, started with [`CheckoutTracer::start`] (child of the current
//! context) or [`CheckoutTracer::start_in`] (child of an explicit context,
//! such as one extracted from incoming headers). It returns a handle that
//! derefs to [`TypedSpan`], the shared core, plus methods for that step's
//! outcomes (`declined`, `insufficient_stock`, `price_mismatch`, ...).
//!
//! | helper | span | kind |
//! |---|---|---|
//! | [`CheckoutProcess`] | `checkout.process` (with step tracking) | INTERNAL, or SERVER |
//! | [`CartValidate`] | `cart.validate` | INTERNAL |
//! | [`CartFetchContents`] | `cart.fetch_contents` | INTERNAL |
//! | [`CartVerifyPrices`] | `cart.verify_prices` | INTERNAL |
//! | [`InventoryReserveBatch`] | `inventory.reserve_batch` | INTERNAL |
//! | [`InventoryReserveItem`] | `inventory.reserve_item` | INTERNAL |
//! | [`InventoryRelease`] | `inventory.release` | INTERNAL |
//! | [`PaymentProcess`] | `payment.process` | CLIENT |
//! | [`PaymentGatewayCall`] | `payment.gateway_call` | CLIENT |
//! | [`OrderCreate`] | `order.create` | INTERNAL |
//! | [`NotificationSend`] | `notification.send` | PRODUCER |
//! | [`DbQuery`] | `{operation} {table}` | CLIENT |
//! | [`HttpClientCall`] | `{method}` (`GET`, `POST`) | CLIENT |
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
//! let tracer = CheckoutTracer::global(); // or guard.tracer()
//! let card = PaymentMethod::card_from_number("4242 4242 4242 4242".to_owned()).unwrap();
//! let amount = Money::parse("49.98", Currency::USD).unwrap();
//!
//! let payment = tracer.start(PaymentProcess::new("order-7", amount).method(&card));
//! payment
//!     .run(async {
//!         let call = tracer.start(PaymentGatewayCall::new(
//!             "stripe",
//!             "POST",
//!             "https://api.stripe.example/v1/charges",
//!         ));
//!         call.response_status(402);
//!         call.declined(DeclineCode::InsufficientFunds, "Your card has insufficient funds.");
//!     })
//!     .await;
//! payment.declined(DeclineCode::InsufficientFunds, "insufficient funds");
//! # }
//! ```

mod cart;
mod checkout;
mod core;
pub mod db;
pub(crate) mod http;
mod inventory;
mod order;
mod payment;

pub use self::cart::{
    CartFetchContents, CartValidate, CartVerifyPrices, FetchContentsSpan, VerifyPricesSpan,
};
pub use self::checkout::{CheckoutOutcome, CheckoutProcess, CheckoutSpan, StepRecord};
pub use self::core::{
    Attrs, CheckoutTracer, ClassifyError, Failure, Instrumented, SCOPE_NAME, SpanSpec, TypedSpan,
};
pub use self::db::DbQuery;
pub use self::http::{HttpClientCall, HttpClientSpan};
pub use self::inventory::{
    InventoryRelease, InventoryReserveBatch, InventoryReserveItem, ReleaseSpan, ReserveBatchSpan,
    ReserveItemSpan,
};
pub use self::order::{NotificationSend, OrderCreate};
pub use self::payment::{GatewayCallSpan, PaymentGatewayCall, PaymentProcess, PaymentSpan};
