//! Test kit: capture your service's spans and metrics in memory and query
//! them in a few lines (cargo feature `testing`).
//!
//! [`TestTelemetry`] sets up a tracer provider and a meter provider that
//! export into memory: spans are visible the moment they end (simple span
//! processor), metrics whenever you read them (a flush on demand). Queries
//! find spans by name, walk parents and children, read attributes, events
//! and status ([`SpanSet`], [`SpanView`]) and read metric points
//! ([`MetricSet`]). Lookups that expect exactly one thing panic with a
//! message listing what is there, which is what you want in a test.
//!
//! Add the feature to your dev-dependencies:
//!
//! ```toml
//! [dev-dependencies]
//! checkout-otel = { version = "0.2", features = ["testing"] }
//! ```
//!
//! # A test
//!
//! ```
//! use checkout_otel::attributes::{ERROR_TYPE, PAYMENT_CURRENCY};
//! use checkout_otel::opentelemetry::trace::{Span, Status, TraceContextExt, Tracer};
//! use checkout_otel::opentelemetry::KeyValue;
//! use checkout_otel::testing::TestTelemetry;
//!
//! let telemetry = TestTelemetry::new("checkout");
//! let tracer = telemetry.sdk_tracer();
//!
//! // The code under test.
//! tracer.in_span("checkout.process", |_| {
//!     tracer.in_span("payment.process", |cx| {
//!         let span = cx.span();
//!         span.set_attribute(KeyValue::new(PAYMENT_CURRENCY, "EUR"));
//!         span.add_event("payment_declined", vec![KeyValue::new("attempt", 1)]);
//!         span.set_attribute(KeyValue::new(ERROR_TYPE, "card_declined"));
//!         span.set_status(Status::error("card declined"));
//!     });
//! });
//!
//! // The assertions.
//! let spans = telemetry.spans();
//! let payment = spans.one("payment.process");
//! assert_eq!(payment.parent().map(|p| p.name()), Some("checkout.process"));
//! assert_eq!(payment.attr_str(PAYMENT_CURRENCY), Some("EUR"));
//! assert_eq!(payment.event("payment_declined").attr_i64("attempt"), Some(1));
//! assert!(payment.is_error());
//! assert_eq!(payment.error_type(), Some("card_declined"));
//! assert_eq!(spans.one("checkout.process").children().len(), 1);
//! ```
//!
//! # Metrics
//!
//! ```
//! use checkout_otel::opentelemetry::KeyValue;
//! use checkout_otel::testing::TestTelemetry;
//!
//! let telemetry = TestTelemetry::new("checkout");
//! let meter = telemetry.meter();
//! let completed = meter.u64_counter("checkout.completed").build();
//! completed.add(1, &[KeyValue::new("checkout.status", "success")]);
//! completed.add(1, &[KeyValue::new("checkout.status", "failed")]);
//! let duration = meter.f64_histogram("checkout.duration").with_unit("s")
//!     .with_boundaries(vec![0.5, 1.0, 5.0]).build();
//! duration.record(0.8, &[KeyValue::new("checkout.status", "success")]);
//!
//! let metrics = telemetry.metrics();
//! assert_eq!(metrics.counter_sum("checkout.completed", &[("checkout.status", "success")]), 1.0);
//! assert_eq!(metrics.counter_sum("checkout.completed", &[]), 2.0);
//! let histogram = metrics.histogram("checkout.duration", &[]).unwrap();
//! assert_eq!((histogram.count, histogram.bucket_counts.as_slice()), (1, &[0, 1, 0, 0][..]));
//! assert_eq!(metrics.unit("checkout.duration"), Some("s"));
//! assert_eq!(metrics.boundaries("checkout.duration"), Some(vec![0.5, 1.0, 5.0]));
//! ```
//!
//! # Code instrumented with `tracing`
//!
//! Route `tracing` spans to the test providers with the bridge, for the
//! duration of the test only:
//!
//! ```
//! use checkout_otel::testing::TestTelemetry;
//! use tracing_subscriber::layer::SubscriberExt;
//!
//! let telemetry = TestTelemetry::new("checkout");
//! let subscriber = tracing_subscriber::registry()
//!     .with(checkout_otel::tracing_opentelemetry::layer().with_tracer(telemetry.sdk_tracer()));
//! tracing::subscriber::with_default(subscriber, || {
//!     let _request = tracing::info_span!("POST /checkout").entered();
//!     tracing::info_span!("cart.validate").in_scope(|| {});
//! });
//!
//! let spans = telemetry.spans();
//! assert_eq!(spans.one("cart.validate").parent().map(|p| p.name()), Some("POST /checkout"));
//! ```
//!
//! # Logs
//!
//! The `tracing` events of the code under test become log records through
//! the kit's [`subscriber`](TestTelemetry::subscriber), exactly as `init`
//! exports them: checked at the exit, with the trace context of their span.
//!
//! ```
//! use checkout_otel::opentelemetry::logs::Severity;
//! use checkout_otel::testing::TestTelemetry;
//!
//! let telemetry = TestTelemetry::new("checkout");
//! tracing::subscriber::with_default(telemetry.subscriber(), || {
//!     tracing::info_span!("inventory.reserve_item").in_scope(|| {
//!         tracing::warn!(sku = "sku-42", "stock short for jane@example.com");
//!     });
//! });
//!
//! let logs = telemetry.logs();
//! let short = logs.one("stock short");
//! assert_eq!(short.severity(), Some(Severity::Warn));
//! assert_eq!(short.body(), Some("stock short for [REDACTED:email]"));
//! assert_eq!(short.attr_str("sku"), Some("sku-42"));
//! let span = telemetry.spans().one("inventory.reserve_item").span_id();
//! assert_eq!(short.span_id(), Some(span));
//! ```
//!
//! When a test fails, `println!("{}", telemetry.spans().waterfall())` shows
//! what was recorded as a [waterfall](crate::waterfall) (see [`SpanSet::waterfall`]).

mod attrs;
mod kit;
mod logs;
mod metrics;
mod spans;

pub use kit::TestTelemetry;
pub use logs::{LogSet, LogView};
pub use metrics::{HistogramValue, MetricKind, MetricPoint, MetricSet, MetricView, PointValue};
pub use spans::{EventView, SpanSet, SpanView};
