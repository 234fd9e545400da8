//! A text waterfall of a trace: the picture that shows at a glance where a
//! slow checkout spent its time, without a tracing backend.
//!
//! ```text
//! trace 4bf92f3577b34da6a3ce929d0e0e4736 · 9.20s · 6 services · 11 spans
//! checkout.process           │██████████████████████████████│  9.20s  checkout
//!   cart.validate            │█▌                            │  410ms  cart
//!     cart.fetch_contents    │█                             │  195ms  cart
//!     cart.verify_prices     │▐▌                            │  195ms  cart
//!   inventory.reserve_batch  │ ████                         │  1.05s  inventory
//!     inventory.reserve_item │ ███                          │  760ms  inventory
//!     inventory.reserve_item │ ████                         │  1.03s  inventory
//!   payment.process          │    ▐███████████████████████▌ │  7.10s  payment
//!     payment.gateway_call   │     ███████████████████████  │  6.90s  payment
//!   order.create             │                            █▌│  380ms  order
//!   notification.send        │                             █│  190ms  notification
//! ```
//!
//! One row per span, children under their parent (indented two columns per
//! level) and ordered by start time; the bar is placed and scaled on the
//! trace's own time line; then the duration, the service and, for a failed
//! span, `✗` and its `error.type`. A span whose parent is not in the set
//! (lost, sampled out, or in a service whose spans you do not have) is shown
//! at top level with a `↑ parent … not in trace` note instead of vanishing.
//!
//! The renderer takes [`WaterfallSpan`] rows, a small owned type you can
//! build from the SDK's [`SpanData`] ([`WaterfallSpan::from_span_data`]),
//! from an OTLP receiver, or by hand. Three ways to get a picture:
//!
//! - [`render`] a slice of spans (one or several traces) to a `String`;
//! - [`WaterfallExporter`], a development [`SpanExporter`] that prints each
//!   trace as soon as its local root span ends;
//! - [`SpanCollector`], a shared in-memory store that several providers (one
//!   per service, in one process) export into, so a trace that crosses
//!   services can be rendered as one picture.
//!
//! [`SpanData`]: opentelemetry_sdk::trace::SpanData
//! [`SpanExporter`]: opentelemetry_sdk::trace::SpanExporter
//!
//! Colour (ANSI) is used only when the output is a terminal and `NO_COLOR`
//! is not set, unless forced with [`ColorChoice::Always`].
//!
//! # Example
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use checkout_otel::opentelemetry::trace::{SpanId, TraceId};
//! use checkout_otel::waterfall::{render, ColorChoice, WaterfallOptions, WaterfallSpan};
//!
//! let trace = TraceId::from(0x4bf92f3577b34da6a3ce929d0e0e4736_u128);
//! let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
//! let ms = |n: u64| t0 + Duration::from_millis(n);
//!
//! let spans = vec![
//!     WaterfallSpan::new(trace, SpanId::from(1), "checkout.process", "checkout", ms(0), ms(9200)),
//!     WaterfallSpan::new(trace, SpanId::from(2), "payment.gateway_call", "payment", ms(2000), ms(8900))
//!         .with_parent(SpanId::from(1))
//!         .with_error("timeout"),
//! ];
//! let picture = render(&spans, &WaterfallOptions::default().with_width(80).with_color(ColorChoice::Never));
//! assert!(picture.starts_with("trace 4bf92f3577b34da6a3ce929d0e0e4736 · 9.20s · 2 services · 2 spans\n"));
//! assert!(picture.contains("  payment.gateway_call"));
//! assert!(picture.contains("6.90s  payment   ✗ timeout"));
//! ```
//!
//! As a development exporter (prints to stderr when each trace's root ends):
//!
//! ```
//! use checkout_otel::opentelemetry_sdk::trace::SdkTracerProvider;
//! use checkout_otel::waterfall::WaterfallExporter;
//!
//! let provider = SdkTracerProvider::builder()
//!     .with_simple_exporter(WaterfallExporter::new())
//!     .build();
//! # drop(provider);
//! ```

use std::sync::{Mutex, MutexGuard, PoisonError};

mod collector;
mod exporter;
mod layout;
mod model;
mod options;
mod render;

pub use collector::{CollectorExporter, SpanCollector};
pub use exporter::{PrintAt, WaterfallExporter};
pub use model::{WaterfallLog, WaterfallSpan};
pub use options::{ColorChoice, WaterfallOptions};
pub use render::{format_duration, render};

// For the test kit's span queries.
#[cfg(feature = "testing")]
pub(crate) use collector::CollectedSpan;
#[cfg(feature = "testing")]
pub(crate) use model::last_attr;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere while holding the lock leaves plain data behind;
    // telemetry keeps working rather than panicking in turn.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
