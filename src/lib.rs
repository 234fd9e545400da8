//! Complete, fast and PII-safe OpenTelemetry instrumentation of an
//! e-commerce checkout.
//!
//! A Rust checkout service adds `checkout-otel` and gets:
//!
//! - **One call that sets up OpenTelemetry** ([`Telemetry::builder`]): the
//!   resource (`service.name`, version, environment, instance id), OTLP export
//!   of traces and metrics over gRPC or HTTP/protobuf, the sampler, W3C
//!   propagation, a `tracing` bridge, PII redaction at the exit, and a
//!   shutdown that returns within a bound even when the collector hangs. It
//!   honours the standard `OTEL_*` variables (builder > environment > default).
//! - **Typed span helpers** for every checkout step ([`spans`]): the contract's
//!   names, kinds, attributes and events, failures recorded as status +
//!   `error.type` + scrubbed exception, one trace per checkout across services
//!   ([`propagation`]).
//! - **Step tracking** ([`spans::CheckoutProcessSpan`]): which step a checkout is in,
//!   which step it failed in, how long each step took.
//! - **PII-safe values** ([`pii`]): users as `user.hash` (keyed HMAC-SHA256),
//!   payment methods as type/brand/last four, money as integer minor units,
//!   free text scrubbed, and a [`RedactingExporter`](pii::RedactingExporter)
//!   as the last line of defence.
//! - **A prewired meter** ([`metrics`]): checkout counters and duration
//!   histograms per checkout and per step, with bounded attributes only.
//! - **Both ends of HTTP** ([`http_server`], `http_client`): the request span
//!   of an axum / tower-http server continues the caller's `traceparent`, and
//!   a reqwest middleware (feature `reqwest`) traces outgoing calls as HTTP
//!   `CLIENT` spans and propagates the trace.
//! - **A waterfall of each trace in the terminal** ([`waterfall`]) and a test
//!   kit for your own instrumentation (module `testing`, feature `testing`).
//!
//! Every name emitted is a constant in [`attributes`], the telemetry contract.
//!
//! # Quick start
//!
//! ```
//! use checkout_otel::Telemetry;
//! use checkout_otel::attributes::CheckoutStep;
//! use checkout_otel::pii::{Currency, Money};
//! use checkout_otel::spans::{CheckoutProcess, Failure, OrderCreate};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), checkout_otel::Error> {
//! // In `main`: `.init()` also installs the globals (provider, propagator,
//! // tracing subscriber). `.build()` touches no global.
//! let telemetry = Telemetry::builder("checkout-api")
//!     .service_version("1.4.2")
//!     .environment("production")
//! #   .with_env([("OTEL_SDK_DISABLED", "false")])
//! #   .console_output(false)
//!     .build()?;
//!
//! // In a request handler.
//! let tracer = telemetry.tracer();
//! let checkout = tracer.start(
//!     CheckoutProcess::new("cart-7f3a")
//!         .item_count(2)
//!         .total(Money::parse("49.98", Currency::EUR)?),
//! );
//! let result = checkout
//!     .step(CheckoutStep::CreatingOrder, async {
//!         let order = tracer.start(OrderCreate::new("ord-1"));
//!         order.end();
//!         Ok::<_, Failure>("ord-1")
//!     })
//!     .await;
//! let outcome = checkout.finish(&result);
//! assert_eq!(outcome.steps.len(), 1);
//!
//! telemetry.shutdown()?; // or drop it: bounded either way
//! # Ok(())
//! # }
//! ```
//!
#![doc = include_str!("../docs/adoption-rustdoc.md")]
//!
//! # Feature flags
//!
//! - `grpc` (default): OTLP over gRPC (tonic).
//! - `http-proto` (default): OTLP over HTTP/protobuf.
//! - `testing`: `testing::TestTelemetry` and span/metric queries for tests.
//! - `reqwest`: `http_client::OtelMiddleware`, traced and propagating
//!   reqwest calls (reqwest-middleware).
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod attributes;
pub mod error;
#[cfg(feature = "reqwest")]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest")))]
pub mod http_client;
pub mod http_server;
pub mod init;
pub mod metrics;
pub mod pii;
pub mod propagation;
mod scope;
pub mod spans;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;
pub mod waterfall;

pub use error::{ConfigError, Error, Result, ShutdownError, ValueError};
pub use scope::SCOPE_NAME;

/// The names a checkout service uses most, in one import:
/// `use checkout_otel::prelude::*;`.
///
/// ```
/// use checkout_otel::prelude::*;
///
/// let tracer = CheckoutTracer::global();
/// let total = Money::parse("12.50", Currency::EUR).unwrap();
/// let checkout = tracer.start(CheckoutProcess::new("cart-1").total(total));
/// checkout.finish(&Ok::<(), Failure>(()));
/// ```
pub mod prelude {
    pub use crate::attributes::{
        CheckoutStep, DeclineCode, ErrorType, FailureKind, NotificationChannel,
    };
    pub use crate::init::{Telemetry, TelemetryGuard};
    pub use crate::pii::{Currency, Money, PaymentMethod, UserRef};
    pub use crate::spans::{
        CartFetchContents, CartValidate, CartVerifyPrices, CheckoutProcess, CheckoutTracer,
        ClassifyError, DbQuery, Failure, InventoryRelease, InventoryReserveBatch,
        InventoryReserveItem, NotificationSend, OrderCreate, PaymentGatewayCall, PaymentProcess,
        SpanSpec, TypedSpan,
    };
}
pub use init::{Telemetry, TelemetryBuilder, TelemetryGuard};
pub use spans::CheckoutTracer;

/// The OpenTelemetry API crate this crate is built on. Use it rather than
/// adding your own dependency, so your graph holds one copy.
pub use opentelemetry;
/// The OpenTelemetry OTLP exporter crate this crate is built on.
pub use opentelemetry_otlp;
/// The OpenTelemetry SDK crate this crate is built on.
pub use opentelemetry_sdk;
/// The semantic conventions crate this crate takes standard names from.
pub use opentelemetry_semantic_conventions;
/// The tracing bridge this crate installs.
pub use tracing_opentelemetry;
