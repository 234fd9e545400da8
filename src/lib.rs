#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod attributes;
pub mod error;
#[cfg(feature = "tonic")]
#[cfg_attr(docsrs, doc(cfg(feature = "tonic")))]
pub mod grpc;
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
    pub use crate::http_server::OtelServerLayer;
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
/// The `tracing` → OpenTelemetry logs bridge this crate installs.
pub use opentelemetry_appender_tracing;
/// The OpenTelemetry OTLP exporter crate this crate is built on.
pub use opentelemetry_otlp;
/// The OpenTelemetry SDK crate this crate is built on.
pub use opentelemetry_sdk;
/// The semantic conventions crate this crate takes standard names from.
pub use opentelemetry_semantic_conventions;
/// The tracing bridge this crate installs.
pub use tracing_opentelemetry;
