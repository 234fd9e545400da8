//! One-call OpenTelemetry set-up for a service, with a bounded shutdown.
//!
//! [`Telemetry::builder`] takes the service name; [`TelemetryBuilder::init`]
//! installs everything globally (tracer and meter providers, W3C propagators,
//! the `user.hash` key, a `tracing` subscriber bridged to OpenTelemetry) and
//! returns a
//! [`TelemetryGuard`]. Keep the guard alive for the life of the service: on
//! drop, or on [`TelemetryGuard::shutdown`], it flushes and shuts down within
//! [`TelemetryBuilder::shutdown_timeout`], even when the collector hangs and
//! on a current-thread tokio runtime.
//!
//! ```
//! use checkout_otel::init::{Exporter, Telemetry};
//! use opentelemetry::trace::{Tracer, TracerProvider};
//!
//! # fn main() -> Result<(), checkout_otel::Error> {
//! // `build` touches no global; `init` would also install them.
//! let telemetry = Telemetry::builder("checkout-api")
//!     .service_version("1.4.2")
//!     .environment("staging")
//!     // No collector here: each trace as a waterfall on stderr, no metrics
//!     // export. Without these, both go over OTLP to localhost:4317.
//!     .traces_exporter(Exporter::Console)
//!     .metrics_exporter(Exporter::None)
//!     .build()?;
//!
//! telemetry.sdk_tracer().in_span("checkout.process", |_cx| {
//!     // ... the checkout ...
//! });
//! telemetry.shutdown()?;
//! # Ok(())
//! # }
//! ```
//!
//! # The guard owns what it set up
//!
//! [`build`](TelemetryBuilder::build) touches no global. Its guard hands out
//! everything it configured: the tracer for the span helpers
//! ([`tracer`](TelemetryGuard::tracer), with the checkout meter, the
//! propagator and the user hasher attached), the one
//! [`propagator`](TelemetryGuard::propagator) built from `OTEL_PROPAGATORS`,
//! the [`user_hasher`](TelemetryGuard::user_hasher), the
//! [`tracing_layer`](TelemetryGuard::tracing_layer), the
//! [`meter`](TelemetryGuard::meter) and the providers.
//! [`init`](TelemetryBuilder::init) installs those same objects as the
//! process's globals, or, refused, changes none.
//!
//! # Where spans and metrics go
//!
//! Each signal has an [`Exporter`], chosen by
//! [`traces_exporter`](TelemetryBuilder::traces_exporter) /
//! [`metrics_exporter`](TelemetryBuilder::metrics_exporter), else
//! `OTEL_TRACES_EXPORTER` / `OTEL_METRICS_EXPORTER`, as the OpenTelemetry
//! specification says:
//!
//! * **`otlp`** (the default): over OTLP, gRPC by default, through a batch
//!   span processor and a periodic metric reader, to the configured endpoint
//!   or else the specification's default (`http://localhost:4317`, or
//!   `http://localhost:4318/v1/traces` and `/v1/metrics` for HTTP/protobuf).
//! * **`console`**: each trace is printed on stderr as a
//!   [waterfall](crate::waterfall) when its local root span ends; metrics
//!   as one line per data point at each export. PII is redacted like any
//!   export; nothing touches the network.
//! * **`none`**: not exported; your own processors and readers still see
//!   everything.
//!
//! `OTEL_LOGS_EXPORTER` ([`logs_exporter`](TelemetryBuilder::logs_exporter))
//! is checked the same way and kept in the configuration; log export
//! arrives with the logs pipeline.
//!
//! **`OTEL_SDK_DISABLED=true`** disables every signal: spans are not
//! recorded, nothing is exported, no propagator is installed, and every API
//! (the guard, its tracer, meter, layer and propagator, the span helpers)
//! still works as a no-op. The variables are still checked. The log output
//! (if on) still works.
//!
//! # Precedence: builder > environment > default
//!
//! Every setting is taken from the builder if set there, else from its
//! environment variable, else from the default. An invalid value is an
//! [`ConfigError`](crate::error::ConfigError) from `resolve`/`init`/`build` naming the variable or builder
//! method, never a panic or a silent default; environment variables are
//! validated even when the builder overrides them. Every number, size and
//! list has an upper bound, a public constant in [`limits`]; beyond it the
//! value is an error too. A variable whose value is not UTF-8 is
//! [`NotUnicode`](crate::error::ConfigError::NotUnicode), never converted lossily.
//!
//! | Setting | Builder | Environment | Default |
//! |---|---|---|---|
//! | `service.name` | [`Telemetry::builder`] (wins if not empty) | `OTEL_SERVICE_NAME`, then `service.name` in `OTEL_RESOURCE_ATTRIBUTES` | error [`MissingServiceName`](crate::error::ConfigError::MissingServiceName) |
//! | resource | [`service_version`](TelemetryBuilder::service_version), [`environment`](TelemetryBuilder::environment), [`namespace`](TelemetryBuilder::namespace), [`resource_attribute`](TelemetryBuilder::resource_attribute) | `OTEL_RESOURCE_ATTRIBUTES` (`k=v,…`, percent-decoded; at most [`MAX_RESOURCE_ATTRIBUTES`](limits::MAX_RESOURCE_ATTRIBUTES) per list) | `service.instance.id` = random UUID v4 per process; `telemetry.sdk.*` |
//! | exporters | [`traces_exporter`](TelemetryBuilder::traces_exporter), [`metrics_exporter`](TelemetryBuilder::metrics_exporter), [`logs_exporter`](TelemetryBuilder::logs_exporter) | `OTEL_TRACES_EXPORTER`, `OTEL_METRICS_EXPORTER`, `OTEL_LOGS_EXPORTER` (`otlp`, `console`, `none`; one per signal) | `otlp` |
//! | endpoint | [`endpoint`](TelemetryBuilder::endpoint) (base URL) | `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` / `_METRICS_ENDPOINT` / `_LOGS_ENDPOINT` (used as-is), then `OTEL_EXPORTER_OTLP_ENDPOINT` (base URL) | `http://localhost:4317` (gRPC), `http://localhost:4318` (HTTP/protobuf) |
//! | protocol | [`protocol`](TelemetryBuilder::protocol) | `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL` / `_METRICS_PROTOCOL`, then `OTEL_EXPORTER_OTLP_PROTOCOL` | `grpc` (`http/protobuf` when only feature `http-proto` is on) |
//! | headers | [`header`](TelemetryBuilder::header) (wins per name) | `OTEL_EXPORTER_OTLP_TRACES_HEADERS` / `_METRICS_HEADERS`, else `OTEL_EXPORTER_OTLP_HEADERS` (at most [`MAX_EXPORT_HEADERS`](limits::MAX_EXPORT_HEADERS)) | none |
//! | compression | [`compression`](TelemetryBuilder::compression) | `OTEL_EXPORTER_OTLP_TRACES_COMPRESSION` / `_METRICS_COMPRESSION` / `_LOGS_COMPRESSION`, then `OTEL_EXPORTER_OTLP_COMPRESSION` (`gzip` needs feature `gzip`, `none`) | `none` |
//! | TLS client certificate (feature `tls`) | `tls_client_identity_files`, `tls_client_identity_pem` | `OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE` + `_CLIENT_KEY` (and `_METRICS_`, `_LOGS_`), then `OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE` + `OTEL_EXPORTER_OTLP_CLIENT_KEY` (paths; both or neither) | none |
//! | TLS CA bundle (feature `tls`) | `tls_ca_file`, `tls_ca_certificate_pem` | `OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE` / `_METRICS_CERTIFICATE`, then `OTEL_EXPORTER_OTLP_CERTIFICATE` (a path) | the system's trust store |
//! | timeout | [`timeout`](TelemetryBuilder::timeout) | `OTEL_EXPORTER_OTLP_TRACES_TIMEOUT` / `_METRICS_TIMEOUT`, then `OTEL_EXPORTER_OTLP_TIMEOUT` (ms, at most [`MAX_EXPORT_TIMEOUT`](limits::MAX_EXPORT_TIMEOUT)) | 10 s |
//! | sampler | [`sampler`](TelemetryBuilder::sampler) | `OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG` | `parentbased_always_on` |
//! | span queue | [`span_queue_size`](TelemetryBuilder::span_queue_size) | `OTEL_BSP_MAX_QUEUE_SIZE` (at most [`MAX_SPAN_QUEUE_SIZE`](limits::MAX_SPAN_QUEUE_SIZE)) | [`DEFAULT_SPAN_QUEUE_SIZE`] (2048) |
//! | span batches | — | `OTEL_BSP_MAX_EXPORT_BATCH_SIZE` (at most the queue), `OTEL_BSP_SCHEDULE_DELAY` (ms) | [`DEFAULT_SPAN_EXPORT_BATCH_SIZE`] (512), [`DEFAULT_SPAN_SCHEDULE_DELAY`] (5 s) |
//! | span limits | — | `OTEL_ATTRIBUTE_COUNT_LIMIT`, `OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT`, `OTEL_SPAN_EVENT_COUNT_LIMIT`, `OTEL_SPAN_LINK_COUNT_LIMIT`, `OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT`, `OTEL_LINK_ATTRIBUTE_COUNT_LIMIT` (at most [`MAX_SPAN_LIMIT`](limits::MAX_SPAN_LIMIT)) | 128 each |
//! | metric interval | [`metric_export_interval`](TelemetryBuilder::metric_export_interval) | `OTEL_METRIC_EXPORT_INTERVAL` (ms, at most [`MAX_METRIC_EXPORT_INTERVAL`](limits::MAX_METRIC_EXPORT_INTERVAL)) | 60 s |
//! | propagators | — | `OTEL_PROPAGATORS` (`tracecontext`, `baggage`, `none`) | `tracecontext,baggage` |
//! | hosts given inbound `baggage`/`tracestate` | [`propagate_context_to`](TelemetryBuilder::propagate_context_to) | `CHECKOUT_OTEL_PROPAGATION_ALLOWED_HOSTS` (`host,*.domain,…`) | none: `traceparent` only |
//! | disabled | — | `OTEL_SDK_DISABLED` (`true`/`false`) | `false` |
//! | resource detectors (see [`ResourceDetection`]) | [`resource_detection`](TelemetryBuilder::resource_detection) | `OTEL_EXPERIMENTAL_RESOURCE_DETECTORS` (`host,os,process,container,k8s`, `all`, `none`) | all |
//! | log filter | — | `RUST_LOG` | [`DEFAULT_LOG_FILTER`] (`info`, the exporter's crates from `warn`) |
//! | exported `tracing` events and spans | [`tracing_filter`](TelemetryBuilder::tracing_filter) | `OTEL_LOG_LEVEL` (one level), then `RUST_LOG` | [`DEFAULT_TRACING_FILTER`] (`info`) |
//!
//! With HTTP/protobuf, a base URL gets `/v1/traces` or `/v1/metrics`
//! appended; a per-signal variable is used exactly as given, as the
//! OpenTelemetry specification says. Endpoints are `http://` URLs, or
//! `https://` with the cargo feature `tls` (the system's trust store, or only
//! the CA bundle from `tls_ca_file` /
//! `OTEL_EXPORTER_OTLP_CERTIFICATE`); without it, `https` is an
//! [`InvalidEndpoint`](crate::error::ConfigError::InvalidEndpoint) error. A gRPC endpoint
//! without scheme (`host:port`) is `https://` unless
//! `OTEL_EXPORTER_OTLP_INSECURE` is `true`.
//! The SDK would read the `OTEL_BSP_*` and `OTEL_*_COUNT_LIMIT` variables
//! itself, unchecked: they are read and bounded here instead and handed to
//! it as explicit values. `OTEL_BSP_EXPORT_TIMEOUT`,
//! `OTEL_METRIC_EXPORT_TIMEOUT` and `OTEL_BSP_MAX_CONCURRENT_EXPORTS` are
//! checked but have no effect: the SDK's processors export one batch at a
//! time, each bounded by the OTLP timeout.
//!
//! # When the collector cannot keep up
//!
//! Finished spans wait in a bounded queue ([`span_queue_size`](TelemetryBuilder::span_queue_size))
//! for the exporter's thread; the request path never waits for export. When
//! the queue is full, new spans are dropped, never buffered without bound.
//! Every span is accounted for in [`TelemetryGuard::span_export_stats`]
//! (queued, dropped, exported, failed), and spans dropped since the previous
//! report make [`TelemetryGuard::force_flush`] and
//! [`TelemetryGuard::shutdown`] return a
//! [`ShutdownError`](crate::error::ShutdownError) that says how many.
//!
//! # The tracing bridge
//!
//! With [`tracing_bridge`](TelemetryBuilder::tracing_bridge) on (default),
//! `init` installs a `tracing` registry with the tracing-opentelemetry layer
//! over the same tracer provider (context activation on; source location,
//! thread and busy-time attributes off unless
//! [`tracing_span_details`](TelemetryBuilder::tracing_span_details);
//! spans and events below [`tracing_filter`](TelemetryBuilder::tracing_filter)
//! (else `OTEL_LOG_LEVEL`, else `RUST_LOG`, else `info`) not exported;
//! spans and events of the exporter's own crates, [`EXPORTER_INTERNAL_TARGETS`],
//! and the crate's own log lines ([`EXPORT_LOG_TARGET`], [`INIT_LOG_TARGET`])
//! filtered out so the exporter never traces itself), plus a fmt layer
//! filtered by `RUST_LOG` when [`log_output`](TelemetryBuilder::log_output)
//! is on (its fields and lines pass the exit check unless
//! [`redaction`](TelemetryBuilder::redaction) is off). A `tracing` span and a span from [`TelemetryGuard::sdk_tracer`]
//! nest both ways in one trace.
//!
//! The subscriber also carries the logs bridge
//! ([`TelemetryGuard::logs_layer`]): `tracing` events become OpenTelemetry
//! log records with the trace context of their span, checked like spans and
//! exported over OTLP with the `OTEL_EXPORTER_OTLP_LOGS_*` variables (or
//! drawn under their spans by the console waterfall), counted in
//! [`TelemetryGuard::log_export_stats`]. Log lines emitted in a trace end
//! with ` trace_id=<hex>` ([`log_trace_ids`](TelemetryBuilder::log_trace_ids)).
//!
//! If a global subscriber already exists, `init` returns
//! [`ConfigError::SubscriberAlreadySet`](crate::error::ConfigError::SubscriberAlreadySet)
//! and changes no global, rather than fighting it: turn the bridge off and add
//! [`TelemetryGuard::tracing_layer`] to your own subscriber.

mod accounted;
mod batch;
mod bridge;
mod builder;
mod config;
mod console_metrics;
mod endpoint;
mod env;
mod env_lists;
mod filter;
mod guard;
pub mod limits;
mod log_output;
mod logs;
#[cfg(any(feature = "grpc", feature = "http-proto"))]
mod otlp;
#[cfg(any(feature = "grpc", feature = "http-proto"))]
mod otlp_logs;
#[cfg(any(feature = "grpc", feature = "http-proto"))]
mod otlp_metrics;
mod pipeline;
mod propagator;
mod queue;
mod rate_limit;
mod resolve;
mod resource;
mod runtime;
mod settings;
mod shutdown;

#[cfg(feature = "testing")]
pub(crate) use accounted::MetricSink;
pub use builder::{Telemetry, TelemetryBuilder};
pub use config::{
    Compression, DEFAULT_EXPORT_TIMEOUT, DEFAULT_METRIC_EXPORT_INTERVAL, DEFAULT_SHUTDOWN_TIMEOUT,
    DEFAULT_SPAN_EXPORT_BATCH_SIZE, DEFAULT_SPAN_QUEUE_SIZE, DEFAULT_SPAN_SCHEDULE_DELAY, Exporter,
    OtlpSignalConfig, Propagator, Protocol, Sampler, TelemetryConfig,
};
pub use filter::{
    DEFAULT_LOG_FILTER, DEFAULT_TRACING_FILTER, EXPORT_LOG_TARGET, EXPORTER_INTERNAL_TARGETS,
    INIT_LOG_TARGET, REQUEST_SPAN_DIRECTIVE,
};
pub use guard::TelemetryGuard;
pub use propagator::SharedPropagator;
pub use queue::SpanExportStats;
pub use resource::{Detector, RESOURCE_DETECTORS_ENV, ResourceDetection};
