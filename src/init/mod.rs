//! One-call OpenTelemetry set-up for a service, with a bounded shutdown.
//!
//! [`Telemetry::builder`] takes the service name; [`TelemetryBuilder::init`]
//! installs everything globally (tracer and meter providers, W3C propagators,
//! a `tracing` subscriber bridged to OpenTelemetry) and returns a
//! [`TelemetryGuard`]. Keep the guard alive for the life of the service: on
//! drop, or on [`TelemetryGuard::shutdown`], it flushes and shuts down within
//! [`TelemetryBuilder::shutdown_timeout`], even when the collector hangs and
//! on a current-thread tokio runtime.
//!
//! ```
//! use checkout_otel::init::Telemetry;
//! use opentelemetry::trace::{Tracer, TracerProvider};
//!
//! # fn main() -> checkout_otel::Result<()> {
//! // `build` touches no global; `init` would also install them.
//! let telemetry = Telemetry::builder("checkout-api")
//!     .service_version("1.4.2")
//!     .environment("staging")
//!     .console_output(false)
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
//! # Where spans go
//!
//! * **No endpoint configured** (neither [`TelemetryBuilder::endpoint`] nor
//!   an `OTEL_EXPORTER_OTLP_*ENDPOINT` variable): each trace is printed on
//!   stderr as a [waterfall](crate::waterfall) when its local root span
//!   ends (PII redacted like any export), and metrics are aggregated
//!   in-process only. Nothing touches the network.
//! * **Endpoint configured**: traces and metrics go over OTLP, gRPC by
//!   default (collector port 4317) or HTTP/protobuf (port 4318), through a
//!   batch span processor and a periodic metric reader.
//! * **`OTEL_SDK_DISABLED=true`**: a no-op set-up. Spans are not recorded,
//!   nothing is exported, no propagator is installed; the log output (if on)
//!   still works.
//!
//! # Precedence: builder > environment > default
//!
//! Every setting is taken from the builder if set there, else from its
//! environment variable, else from the default. An invalid value is an
//! [`Error`] from `init`/`build` naming the variable or builder
//! method, never a panic or a silent default; environment variables are
//! validated even when the builder overrides them.
//!
//! | Setting | Builder | Environment | Default |
//! |---|---|---|---|
//! | `service.name` | [`Telemetry::builder`] (wins if not empty) | `OTEL_SERVICE_NAME`, then `service.name` in `OTEL_RESOURCE_ATTRIBUTES` | error [`MissingServiceName`](crate::Error::MissingServiceName) |
//! | resource | [`service_version`](TelemetryBuilder::service_version), [`environment`](TelemetryBuilder::environment), [`namespace`](TelemetryBuilder::namespace), [`resource_attribute`](TelemetryBuilder::resource_attribute) | `OTEL_RESOURCE_ATTRIBUTES` (`k=v,…`, percent-decoded) | `service.instance.id` = random UUID v4 per process; `telemetry.sdk.*` |
//! | endpoint | [`endpoint`](TelemetryBuilder::endpoint) (base URL) | `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` / `_METRICS_ENDPOINT` (used as-is), then `OTEL_EXPORTER_OTLP_ENDPOINT` (base URL) | none: local console output |
//! | protocol | [`protocol`](TelemetryBuilder::protocol) | `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL` / `_METRICS_PROTOCOL`, then `OTEL_EXPORTER_OTLP_PROTOCOL` | `grpc` |
//! | headers | [`header`](TelemetryBuilder::header) (wins per name) | `OTEL_EXPORTER_OTLP_TRACES_HEADERS` / `_METRICS_HEADERS`, else `OTEL_EXPORTER_OTLP_HEADERS` | none |
//! | TLS CA bundle (feature `tls`) | `tls_ca_file`, `tls_ca_certificate_pem` | `OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE` / `_METRICS_CERTIFICATE`, then `OTEL_EXPORTER_OTLP_CERTIFICATE` (a path) | the system's trust store |
//! | timeout | [`timeout`](TelemetryBuilder::timeout) | `OTEL_EXPORTER_OTLP_TRACES_TIMEOUT` / `_METRICS_TIMEOUT`, then `OTEL_EXPORTER_OTLP_TIMEOUT` (ms) | 10 s |
//! | sampler | [`sampler`](TelemetryBuilder::sampler) | `OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG` | `parentbased_always_on` |
//! | span queue | [`span_queue_size`](TelemetryBuilder::span_queue_size) | `OTEL_BSP_MAX_QUEUE_SIZE` | [`DEFAULT_SPAN_QUEUE_SIZE`] (2048) |
//! | metric interval | [`metric_export_interval`](TelemetryBuilder::metric_export_interval) | `OTEL_METRIC_EXPORT_INTERVAL` (ms) | 60 s |
//! | propagators | — | `OTEL_PROPAGATORS` (`tracecontext`, `baggage`, `none`) | `tracecontext,baggage` |
//! | disabled | — | `OTEL_SDK_DISABLED` (`true`/`false`) | `false` |
//! | log filter | — | `RUST_LOG` | [`DEFAULT_LOG_FILTER`] (`info`, the exporter's crates from `warn`) |
//!
//! With HTTP/protobuf, a base URL gets `/v1/traces` or `/v1/metrics`
//! appended; a per-signal variable is used exactly as given, as the
//! OpenTelemetry specification says. Endpoints are `http://` URLs, or
//! `https://` with the cargo feature `tls` (the system's trust store, or only
//! the CA bundle from `tls_ca_file` /
//! `OTEL_EXPORTER_OTLP_CERTIFICATE`); without it, `https` is an
//! [`InvalidEndpoint`](crate::Error::InvalidEndpoint) error. A gRPC endpoint
//! without scheme (`host:port`) is `https://` unless
//! `OTEL_EXPORTER_OTLP_INSECURE` is `true`.
//! The other `OTEL_BSP_*` batch settings are read by the SDK itself.
//!
//! # When the collector cannot keep up
//!
//! Finished spans wait in a bounded queue ([`span_queue_size`](TelemetryBuilder::span_queue_size))
//! for the exporter's thread; the request path never waits for export. When
//! the queue is full, new spans are dropped, never buffered without bound.
//! Every span is accounted for in [`TelemetryGuard::span_export_stats`]
//! (queued, dropped, exported, failed), and spans dropped since the previous
//! report make [`TelemetryGuard::force_flush`] and
//! [`TelemetryGuard::shutdown`] return an error that says how many.
//!
//! # The tracing bridge
//!
//! With [`tracing_bridge`](TelemetryBuilder::tracing_bridge) on (default),
//! `init` installs a `tracing` registry with the tracing-opentelemetry layer
//! over the same tracer provider (context activation on; source location,
//! thread and busy-time attributes off unless
//! [`tracing_span_details`](TelemetryBuilder::tracing_span_details);
//! spans and events of the exporter's own crates, [`EXPORTER_INTERNAL_TARGETS`],
//! filtered out so the exporter never traces itself), plus a fmt layer
//! filtered by `RUST_LOG` when [`log_output`](TelemetryBuilder::log_output)
//! is on. A `tracing` span and a span from [`TelemetryGuard::sdk_tracer`]
//! nest both ways in one trace.
//!
//! If a global subscriber already exists, `init` returns
//! [`Error::SubscriberAlreadySet`]
//! rather than fighting it: turn the bridge off and add
//! [`TelemetryGuard::tracing_layer`] to your own subscriber.

mod config;
mod exporters;
mod queue;
mod shutdown;

use std::collections::HashMap;
use std::fmt;
use std::io::Write as _;
use std::sync::Arc;
use std::time::Duration;

use opentelemetry::metrics::{Meter, MeterProvider as _};
use opentelemetry::propagation::{TextMapCompositePropagator, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry::{Key, KeyValue, Value};

use crate::scope::instrumentation_scope;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::{MeterProviderBuilder, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use opentelemetry_sdk::trace::{
    SdkTracer, SdkTracerProvider, SimpleSpanProcessor, SpanExporter, SpanProcessor,
    TracerProviderBuilder,
};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{EnvFilter, LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::registry::LookupSpan;

pub use config::{
    DEFAULT_EXPORT_TIMEOUT, DEFAULT_METRIC_EXPORT_INTERVAL, DEFAULT_SHUTDOWN_TIMEOUT,
    DEFAULT_SPAN_QUEUE_SIZE, OtlpSignalConfig, Propagator, Protocol, Sampler, TelemetryConfig,
};
pub use queue::SpanExportStats;

use crate::error::{Error, Result};
use crate::metrics::CheckoutMetrics;
use crate::pii::{RedactingExporter, RedactionCounters};
use crate::spans::CheckoutTracer;
use crate::waterfall::WaterfallExporter;
use config::{BuilderValues, EnvSource};
use exporters::{ExportHealth, ExportRuntime, Tracked};
use queue::QueueCounters;

/// Targets whose spans and events never reach the OpenTelemetry layer: the
/// exporter's own stack, which would otherwise trace its own exports.
pub const EXPORTER_INTERNAL_TARGETS: &[&str] = &[
    "h2",
    "hyper",
    "hyper_util",
    "tonic",
    "tower",
    "reqwest",
    "opentelemetry",
    "opentelemetry_sdk",
    "opentelemetry_otlp",
    "opentelemetry_http",
];

/// The log filter when `RUST_LOG` is unset.
pub const DEFAULT_LOG_FILTER: &str =
    "info,opentelemetry=warn,h2=warn,hyper=warn,tonic=warn,tower=warn";

/// Entry point of the set-up: `Telemetry::builder("my-service")`.
#[derive(Debug, Clone, Copy)]
pub struct Telemetry;

impl Telemetry {
    /// Starts a set-up for the service `service_name` (the resource's
    /// `service.name`; it wins over `OTEL_SERVICE_NAME`, which is used only
    /// when this is empty).
    pub fn builder(service_name: impl Into<String>) -> TelemetryBuilder {
        TelemetryBuilder {
            service_name: service_name.into(),
            service_version: None,
            environment: None,
            namespace: None,
            resource_attributes: Vec::new(),
            endpoint: None,
            protocol: None,
            headers: Vec::new(),
            timeout: None,
            sampler: None,
            metric_export_interval: None,
            shutdown_timeout: None,
            span_queue_size: None,
            tracing_bridge: true,
            log_output: true,
            span_details: false,
            console_output: true,
            redaction: None,
            redaction_on: true,
            user_hash_key: None,
            span_processors: Vec::new(),
            metric_readers: Vec::new(),
            #[cfg(feature = "tls")]
            tls_ca: None,
            env: config::process_env(),
        }
    }
}

type AddProcessor = Box<dyn FnOnce(TracerProviderBuilder) -> TracerProviderBuilder + Send>;
type AddReader = Box<dyn FnOnce(MeterProviderBuilder) -> MeterProviderBuilder + Send>;

/// Configures and starts telemetry. See the [module docs](self) for the
/// precedence of builder, environment and defaults.
#[must_use = "call .init() or .build() to start telemetry"]
pub struct TelemetryBuilder {
    service_name: String,
    service_version: Option<String>,
    environment: Option<String>,
    namespace: Option<String>,
    resource_attributes: Vec<KeyValue>,
    endpoint: Option<String>,
    protocol: Option<Protocol>,
    headers: Vec<(String, String)>,
    timeout: Option<Duration>,
    sampler: Option<Sampler>,
    metric_export_interval: Option<Duration>,
    shutdown_timeout: Option<Duration>,
    span_queue_size: Option<usize>,
    tracing_bridge: bool,
    log_output: bool,
    span_details: bool,
    console_output: bool,
    // `Some(allow-list)`: strict redaction, dropping keys outside the contract.
    redaction: Option<Vec<String>>,
    redaction_on: bool,
    user_hash_key: Option<String>,
    span_processors: Vec<AddProcessor>,
    metric_readers: Vec<AddReader>,
    #[cfg(feature = "tls")]
    tls_ca: Option<config::TlsCa>,
    env: EnvSource,
}

impl fmt::Debug for TelemetryBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("TelemetryBuilder");
        d.field("service_name", &self.service_name)
            .field("service_version", &self.service_version)
            .field("environment", &self.environment)
            .field("namespace", &self.namespace)
            .field("resource_attributes", &self.resource_attributes)
            .field("endpoint", &self.endpoint)
            .field("protocol", &self.protocol)
            // Header values are credentials.
            .field(
                "header_names",
                &self.headers.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field("timeout", &self.timeout)
            .field("sampler", &self.sampler)
            .field("metric_export_interval", &self.metric_export_interval)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .field("span_queue_size", &self.span_queue_size)
            .field("tracing_bridge", &self.tracing_bridge)
            .field("log_output", &self.log_output)
            .field("tracing_span_details", &self.span_details)
            .field("console_output", &self.console_output)
            .field("extra_span_processors", &self.span_processors.len())
            .field("extra_metric_readers", &self.metric_readers.len());
        #[cfg(feature = "tls")]
        d.field("tls_ca", &self.tls_ca);
        d.finish_non_exhaustive()
    }
}

impl TelemetryBuilder {
    /// `service.version`, e.g. a release tag or git sha.
    pub fn service_version(mut self, version: impl Into<String>) -> Self {
        self.service_version = Some(version.into());
        self
    }

    /// `deployment.environment.name`, e.g. `production`, `staging`.
    pub fn environment(mut self, environment: impl Into<String>) -> Self {
        self.environment = Some(environment.into());
        self
    }

    /// `service.namespace`, e.g. `shop`.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    /// Any other resource attribute. Wins over the same key in
    /// `OTEL_RESOURCE_ATTRIBUTES`; `service.name` always comes from the name
    /// given to [`Telemetry::builder`].
    pub fn resource_attribute(mut self, key: impl Into<Key>, value: impl Into<Value>) -> Self {
        self.resource_attributes
            .push(KeyValue::new(key.into(), value.into()));
        self
    }

    /// The collector's base URL, e.g. `http://localhost:4317` (gRPC) or
    /// `http://localhost:4318` (HTTP/protobuf, which appends `/v1/traces` and
    /// `/v1/metrics`). Setting it turns OTLP export on for both signals.
    /// `https://` needs the cargo feature `tls`.
    pub fn endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// The OTLP transport for both signals.
    pub fn protocol(mut self, protocol: Protocol) -> Self {
        self.protocol = Some(protocol);
        self
    }

    /// A header sent with every export request, e.g. an API key. Wins over a
    /// header of the same name from the environment.
    pub fn header(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((key.into(), value.into()));
        self
    }

    /// The timeout of one export request (and of connecting). Must not be zero.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Trusts exactly these PEM-encoded CA certificates (one or more
    /// `CERTIFICATE` blocks) for `https://` endpoints, instead of the system's
    /// trust store; e.g. the private CA in front of your collector. Replaces
    /// `OTEL_EXPORTER_OTLP_CERTIFICATE` (and its per-signal variants) and
    /// [`tls_ca_file`](Self::tls_ca_file). Checked by `init`: bytes without a
    /// well-formed certificate are [`Error::InvalidCertificate`].
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn tls_ca_certificate_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.tls_ca = Some(config::TlsCa::Pem(pem.into().into()));
        self
    }

    /// Like [`tls_ca_certificate_pem`](Self::tls_ca_certificate_pem), with the
    /// PEM bundle read from `path` by `init` (a missing or unreadable file is
    /// [`Error::InvalidCertificate`]).
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn tls_ca_file(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.tls_ca = Some(config::TlsCa::File(path.into()));
        self
    }

    /// The sampler; replaces `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG`.
    pub fn sampler(mut self, sampler: Sampler) -> Self {
        self.sampler = Some(sampler);
        self
    }

    /// How often metrics are exported. Must not be zero.
    pub fn metric_export_interval(mut self, interval: Duration) -> Self {
        self.metric_export_interval = Some(interval);
        self
    }

    /// Whether `init` installs a global `tracing` subscriber bridged to
    /// OpenTelemetry (default `true`). Turn it off when you install your own
    /// subscriber, and add [`TelemetryGuard::tracing_layer`] to it.
    pub fn tracing_bridge(mut self, on: bool) -> Self {
        self.tracing_bridge = on;
        self
    }

    /// Whether the subscriber installed by `init` also prints logs (a fmt
    /// layer filtered by `RUST_LOG`, default [`DEFAULT_LOG_FILTER`]). Default `true`; has
    /// effect only with the tracing bridge on.
    pub fn log_output(mut self, on: bool) -> Self {
        self.log_output = on;
        self
    }

    /// Whether spans from `tracing` carry source location, thread and
    /// busy/idle-time attributes (default `false`: they cost time and size).
    pub fn tracing_span_details(mut self, on: bool) -> Self {
        self.span_details = on;
        self
    }

    /// Whether each finished trace is printed to stderr as a waterfall when
    /// no endpoint is configured (default `true`). Ignored when exporting
    /// over OTLP.
    pub fn console_output(mut self, on: bool) -> Self {
        self.console_output = on;
        self
    }

    /// The bound on [`TelemetryGuard::shutdown`], [`TelemetryGuard::force_flush`]
    /// and drop of the guard (default 5 s). Must not be zero.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = Some(timeout);
        self
    }

    /// How many finished spans may wait for the OTLP exporter (default 2048,
    /// or `OTEL_BSP_MAX_QUEUE_SIZE`). When the queue is full, new spans are
    /// dropped and counted, never waited for. Must not be zero.
    pub fn span_queue_size(mut self, spans: usize) -> Self {
        self.span_queue_size = Some(spans);
        self
    }

    /// PII redaction of every exported span (on by default): string values,
    /// event attributes and status messages are scrubbed of card numbers,
    /// emails and phone numbers before they leave the process, by a
    /// [`RedactingExporter`] around every span
    /// exporter the set-up creates. Turn it off only when a collector does the
    /// same (see the README).
    pub fn redaction(mut self, on: bool) -> Self {
        self.redaction_on = on;
        self
    }

    /// Strict redaction: also drop every attribute whose key is outside the
    /// telemetry contract and `extra_allowed`.
    pub fn strict_redaction(
        mut self,
        extra_allowed: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.redaction_on = true;
        self.redaction = Some(extra_allowed.into_iter().map(Into::into).collect());
        self
    }

    /// The key of the `user.hash` pseudonymisation (HMAC-SHA256), in any
    /// spelling [`UserHasher::parse`](crate::pii::UserHasher::parse) accepts.
    /// Overrides `CHECKOUT_OTEL_USER_HASH_KEY`. [`init`](Self::init) installs
    /// it process-wide; every service of a shop must use the same key so a
    /// customer's hashes correlate across them.
    pub fn user_hash_key(mut self, key: impl Into<String>) -> Self {
        self.user_hash_key = Some(key.into());
        self
    }

    /// Adds a span processor after the exporting one, e.g. an in-memory
    /// exporter for tests. Not added in a disabled (`OTEL_SDK_DISABLED`) set-up.
    pub fn with_span_processor(mut self, processor: impl SpanProcessor + 'static) -> Self {
        self.span_processors
            .push(Box::new(move |b| b.with_span_processor(processor)));
        self
    }

    /// Adds a metric reader next to the exporting one, e.g. a
    /// [`PeriodicReader`] over an in-memory exporter, to read the metrics
    /// back in-process (a test, a summary at exit); [`TelemetryGuard::force_flush`]
    /// makes it export. Not added in a disabled (`OTEL_SDK_DISABLED`) set-up.
    pub fn with_metric_reader<E: PushMetricExporter>(mut self, reader: PeriodicReader<E>) -> Self {
        self.metric_readers
            .push(Box::new(move |b| b.with_reader(reader)));
        self
    }

    /// Reads environment variables through `lookup` instead of the process
    /// environment: for tests (setting process variables is racy across
    /// parallel tests) and for hosts that keep configuration elsewhere.
    pub fn env_source(
        mut self,
        lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.env = Arc::new(lookup);
        self
    }

    /// Reads environment variables from exactly these pairs instead of the
    /// process environment (see [`env_source`](Self::env_source)).
    pub fn with_env<K: Into<String>, V: Into<String>>(
        self,
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        let map: HashMap<String, String> = vars
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        let env = config::map_env(map);
        Self { env, ..self }
    }

    /// Resolves the configuration (builder > environment > default) without
    /// starting anything: what `init` would use.
    pub fn resolve(&self) -> Result<TelemetryConfig> {
        config::resolve(
            &BuilderValues {
                service_name: &self.service_name,
                service_version: self.service_version.as_deref(),
                environment: self.environment.as_deref(),
                namespace: self.namespace.as_deref(),
                resource_attributes: &self.resource_attributes,
                endpoint: self.endpoint.as_deref(),
                protocol: self.protocol,
                headers: &self.headers,
                timeout: self.timeout,
                sampler: self.sampler,
                metric_export_interval: self.metric_export_interval,
                shutdown_timeout: self.shutdown_timeout,
                span_queue_size: self.span_queue_size,
                tracing_bridge: self.tracing_bridge,
                log_output: self.log_output,
                span_details: self.span_details,
                console_output: self.console_output,
                user_hash_key: self.user_hash_key.as_deref(),
                #[cfg(feature = "tls")]
                tls_ca: self.tls_ca.as_ref(),
            },
            &self.env,
        )
    }

    /// Starts telemetry and installs it globally: tracer provider, meter
    /// provider, text-map propagator and, with the tracing bridge on, the
    /// global `tracing` subscriber. Works from a plain `fn main` and inside
    /// any tokio runtime.
    ///
    /// # Errors
    /// Any invalid setting (see [`Error`]);
    /// [`Error::SubscriberAlreadySet`] if the bridge is on and a global
    /// subscriber exists (no global is changed then).
    pub fn init(self) -> Result<TelemetryGuard> {
        let guard = self.start()?;
        if let Some(hasher) = &guard.config.user_hasher {
            crate::pii::install_user_hasher(hasher.clone());
        }
        if guard.config.tracing_bridge {
            // First, so that a refusal leaves every other global untouched.
            guard.install_subscriber()?;
        }
        if !guard.config.disabled {
            opentelemetry::global::set_tracer_provider(guard.tracer_provider.clone());
            opentelemetry::global::set_meter_provider(guard.meter_provider.clone());
            opentelemetry::global::set_text_map_propagator(guard.propagator());
        }
        Ok(guard)
    }

    /// Starts telemetry without touching any global: for hosting several
    /// services (each with its own `service.name`) in one process, and for
    /// tests. Use the guard's tracer, meter, layer and propagator explicitly.
    ///
    /// # Errors
    /// Any invalid setting (see [`Error`]).
    pub fn build(self) -> Result<TelemetryGuard> {
        self.start()
    }

    fn start(self) -> Result<TelemetryGuard> {
        let config = self.resolve()?;
        let trace_health = Arc::new(ExportHealth::default());
        let metric_health = Arc::new(ExportHealth::default());
        // Replaced by the real queue's counters when spans go over OTLP.
        #[cfg_attr(not(any(feature = "grpc", feature = "http-proto")), allow(unused_mut))]
        let mut span_queue = Arc::new(QueueCounters::default());

        if config.disabled {
            let tracer_provider = SdkTracerProvider::builder()
                .with_sampler(opentelemetry_sdk::trace::Sampler::AlwaysOff)
                .with_resource(config.resource.clone())
                .build();
            let meter_provider = SdkMeterProvider::builder()
                .with_resource(config.resource.clone())
                .build();
            let metrics = CheckoutMetrics::from_provider(&meter_provider);
            return Ok(TelemetryGuard {
                config,
                tracer_provider,
                meter_provider,
                metrics,
                redaction: None,
                trace_health,
                metric_health,
                span_queue,
                done: false,
            });
        }

        let runtime = start_runtime_if_needed(&config)?;
        let redaction = self.redaction_on.then(|| Redaction {
            allow: self.redaction.clone(),
            counters: RedactionCounters::default(),
        });

        let mut tracer_builder = SdkTracerProvider::builder()
            .with_sampler(config.sampler.to_sdk())
            .with_resource(config.resource.clone());
        let mut meter_builder = SdkMeterProvider::builder().with_resource(config.resource.clone());

        #[cfg(any(feature = "grpc", feature = "http-proto"))]
        {
            use opentelemetry_sdk::trace::{BatchConfigBuilder, BatchSpanProcessor};
            // Both exporters first, so a failure leaves no processor thread behind.
            let span_exporter = match &config.traces {
                Some(cfg) => Some(exporters::span_exporter(
                    cfg,
                    runtime.as_ref(),
                    &trace_health,
                )?),
                None => None,
            };
            let metric_exporter = match &config.metrics {
                Some(cfg) => Some(exporters::metric_exporter(
                    cfg,
                    runtime.as_ref(),
                    &metric_health,
                )?),
                None => None,
            };
            if let Some(exporter) = span_exporter {
                let exporter =
                    wrap_exporter(exporter, redaction.as_ref(), &trace_health, runtime.clone());
                // The SDK's queue gets the same capacity as ours, so only
                // `Bounded` ever drops, and counts it.
                span_queue = Arc::new(QueueCounters::new(config.span_queue_size));
                let batch = BatchConfigBuilder::default()
                    .with_max_queue_size(config.span_queue_size)
                    .build();
                let processor = BatchSpanProcessor::new(
                    queue::Dequeue::new(exporter, span_queue.clone()),
                    batch,
                );
                tracer_builder = tracer_builder
                    .with_span_processor(queue::Bounded::new(processor, span_queue.clone()));
            }
            if let Some(exporter) = metric_exporter {
                let exporter = Tracked::new(exporter, metric_health.clone(), runtime.clone());
                meter_builder = meter_builder.with_reader(
                    PeriodicReader::builder(exporter)
                        .with_interval(config.metric_export_interval)
                        .build(),
                );
            }
        }
        // Without transports `resolve` already refused any endpoint.
        #[cfg(not(any(feature = "grpc", feature = "http-proto")))]
        let _ = (&runtime, &metric_health);

        if config.traces.is_none() && config.console_output {
            let exporter = wrap_exporter(
                WaterfallExporter::new(),
                redaction.as_ref(),
                &trace_health,
                None,
            );
            tracer_builder = tracer_builder.with_span_processor(SimpleSpanProcessor::new(exporter));
        }
        for add in self.span_processors {
            tracer_builder = add(tracer_builder);
        }
        for add in self.metric_readers {
            meter_builder = add(meter_builder);
        }

        let meter_provider = meter_builder.build();
        Ok(TelemetryGuard {
            config,
            tracer_provider: tracer_builder.build(),
            metrics: CheckoutMetrics::from_provider(&meter_provider),
            meter_provider,
            redaction: redaction.map(|r| r.counters),
            trace_health,
            metric_health,
            span_queue,
            done: false,
        })
    }
}

/// The redaction every span exporter of one guard shares (one set of counters).
struct Redaction {
    allow: Option<Vec<String>>,
    counters: RedactionCounters,
}

/// Every span exporter the set-up creates passes through here: PII redaction
/// inside `Tracked`, so failure accounting sees the export that really happens.
fn wrap_exporter<E: SpanExporter + 'static>(
    exporter: E,
    redaction: Option<&Redaction>,
    health: &Arc<ExportHealth>,
    runtime: Option<Arc<ExportRuntime>>,
) -> impl SpanExporter + 'static {
    let exporter = match redaction {
        Some(r) => {
            let mut redacting = RedactingExporter::new(exporter).with_counters(r.counters.clone());
            if let Some(allow) = &r.allow {
                redacting = redacting.strict(allow.iter().cloned());
            }
            MaybeRedacted::On(redacting)
        }
        None => MaybeRedacted::Off(exporter),
    };
    Tracked::new(exporter, health.clone(), runtime)
}

#[derive(Debug)]
enum MaybeRedacted<E> {
    On(RedactingExporter<E>),
    Off(E),
}

impl<E: SpanExporter> SpanExporter for MaybeRedacted<E> {
    async fn export(
        &self,
        batch: Vec<opentelemetry_sdk::trace::SpanData>,
    ) -> opentelemetry_sdk::error::OTelSdkResult {
        match self {
            MaybeRedacted::On(e) => e.export(batch).await,
            MaybeRedacted::Off(e) => e.export(batch).await,
        }
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> opentelemetry_sdk::error::OTelSdkResult {
        match self {
            MaybeRedacted::On(e) => e.shutdown_with_timeout(timeout),
            MaybeRedacted::Off(e) => e.shutdown_with_timeout(timeout),
        }
    }

    fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
        match self {
            MaybeRedacted::On(e) => e.force_flush(),
            MaybeRedacted::Off(e) => e.force_flush(),
        }
    }

    fn set_resource(&mut self, resource: &Resource) {
        match self {
            MaybeRedacted::On(e) => e.set_resource(resource),
            MaybeRedacted::Off(e) => e.set_resource(resource),
        }
    }
}

/// The private gRPC runtime, used only when a signal exports over gRPC.
fn start_runtime_if_needed(config: &TelemetryConfig) -> Result<Option<Arc<ExportRuntime>>> {
    let grpc = [&config.traces, &config.metrics]
        .into_iter()
        .flatten()
        .any(|s| s.protocol == Protocol::Grpc);
    #[cfg(feature = "grpc")]
    if grpc {
        return ExportRuntime::shared().map(Some);
    }
    let _ = grpc;
    Ok(None)
}

/// Owns the tracer and meter providers; flushes and shuts them down within
/// the configured bound on [`shutdown`](Self::shutdown) or drop.
pub struct TelemetryGuard {
    config: TelemetryConfig,
    tracer_provider: SdkTracerProvider,
    meter_provider: SdkMeterProvider,
    metrics: CheckoutMetrics,
    redaction: Option<RedactionCounters>,
    trace_health: Arc<ExportHealth>,
    metric_health: Arc<ExportHealth>,
    span_queue: Arc<QueueCounters>,
    done: bool,
}

impl fmt::Debug for TelemetryGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TelemetryGuard")
            .field("config", &self.config)
            .field("shut_down", &self.done)
            .finish_non_exhaustive()
    }
}

impl TelemetryGuard {
    /// The tracer for the span helpers, with this guard's checkout meter
    /// attached: spans started from it also record the checkout metrics.
    pub fn tracer(&self) -> CheckoutTracer {
        let tracer = CheckoutTracer::from_parts(self.sdk_tracer(), self.metrics.clone())
            .with_propagator(Arc::new(self.propagator()));
        match &self.config.user_hasher {
            Some(hasher) => tracer.with_user_hasher(Arc::new(hasher.clone())),
            None => tracer,
        }
    }

    /// The checkout meter over this guard's meter provider, for recording by hand.
    pub fn metrics(&self) -> &CheckoutMetrics {
        &self.metrics
    }

    /// What became of the spans sent to the OTLP exporter so far: queued,
    /// dropped because the queue was full, exported, failed. All zero when
    /// spans are not exported over OTLP.
    pub fn span_export_stats(&self) -> SpanExportStats {
        self.span_queue.stats()
    }

    /// What PII redaction masked so far in this guard's exported spans;
    /// `None` when redaction is off.
    pub fn redaction_counters(&self) -> Option<&RedactionCounters> {
        self.redaction.as_ref()
    }

    /// A tracer with this crate's instrumentation scope (`checkout-otel`,
    /// crate version), from this guard's provider.
    pub fn sdk_tracer(&self) -> SdkTracer {
        self.tracer_provider
            .tracer_with_scope(instrumentation_scope())
    }

    /// A meter with this crate's instrumentation scope, from this guard's provider.
    pub fn meter(&self) -> Meter {
        self.meter_provider
            .meter_with_scope(instrumentation_scope())
    }

    /// The tracer provider.
    pub fn tracer_provider(&self) -> &SdkTracerProvider {
        &self.tracer_provider
    }

    /// The meter provider.
    pub fn meter_provider(&self) -> &SdkMeterProvider {
        &self.meter_provider
    }

    /// The resource on every span and metric.
    pub fn resource(&self) -> &Resource {
        &self.config.resource
    }

    /// The effective configuration.
    pub fn config(&self) -> &TelemetryConfig {
        &self.config
    }

    /// `false` for a disabled (`OTEL_SDK_DISABLED=true`) set-up.
    pub fn is_enabled(&self) -> bool {
        !self.config.disabled
    }

    /// The propagator `init` installs globally (from `OTEL_PROPAGATORS`,
    /// default W3C trace-context + baggage; empty for `none`).
    pub fn propagator(&self) -> TextMapCompositePropagator {
        let list: Vec<Box<dyn TextMapPropagator + Send + Sync>> = if self.config.disabled {
            Vec::new()
        } else {
            self.config
                .propagators
                .iter()
                .map(|p| -> Box<dyn TextMapPropagator + Send + Sync> {
                    match p {
                        Propagator::TraceContext => Box::new(TraceContextPropagator::new()),
                        Propagator::Baggage => Box::new(BaggagePropagator::new()),
                    }
                })
                .collect()
        };
        TextMapCompositePropagator::new(list)
    }

    /// The tracing-opentelemetry layer over this guard's provider, with the
    /// exporter-internal target filter: add it to your own subscriber when
    /// the bridge is off.
    ///
    /// ```
    /// use tracing_subscriber::layer::SubscriberExt;
    /// # fn main() -> checkout_otel::Result<()> {
    /// let telemetry = checkout_otel::init::Telemetry::builder("svc")
    ///     .tracing_bridge(false)
    ///     .console_output(false)
    ///     .build()?;
    /// let subscriber = tracing_subscriber::registry().with(telemetry.tracing_layer());
    /// tracing::subscriber::with_default(subscriber, || {
    ///     tracing::info_span!("cart.validate").in_scope(|| {});
    /// });
    /// # Ok(())
    /// # }
    /// ```
    pub fn tracing_layer<S>(&self) -> impl Layer<S> + use<S>
    where
        S: tracing::Subscriber + for<'span> LookupSpan<'span>,
    {
        let details = self.config.span_details;
        tracing_opentelemetry::layer()
            .with_tracer(self.sdk_tracer())
            .with_context_activation(true)
            .with_location(details)
            .with_threads(details)
            .with_tracked_inactivity(details)
            .with_filter(internal_targets_filter())
    }

    /// Exports everything buffered, within the shutdown bound.
    ///
    /// # Errors
    /// [`Error::Shutdown`] if the bound was exceeded, an export failed (the
    /// SDK alone would report success for some failed exports), or spans were
    /// dropped from a full queue since the previous flush or shutdown.
    pub fn force_flush(&self) -> Result<()> {
        self.bounded(shutdown::Op::Flush)
    }

    /// Flushes and shuts down both providers, returning within the shutdown
    /// bound whatever the collector does.
    ///
    /// # Errors
    /// [`Error::Shutdown`] naming each signal that failed or overran, and
    /// how many spans were dropped from a full queue since the previous flush.
    pub fn shutdown(mut self) -> Result<()> {
        self.done = true;
        self.bounded(shutdown::Op::Shutdown)
    }

    fn bounded(&self, op: shutdown::Op) -> Result<()> {
        shutdown::run(
            op,
            self.config.shutdown_timeout,
            &self.tracer_provider,
            &self.meter_provider,
            &self.trace_health,
            &self.metric_health,
            &self.span_queue,
        )
    }

    fn install_subscriber(&self) -> Result<()> {
        let otel = (!self.config.disabled).then(|| self.tracing_layer());
        let fmt = self.config.log_output.then(|| {
            // Without RUST_LOG: info, but the SDK's own chatter only from warn.
            let directives = self
                .config
                .rust_log
                .as_deref()
                .unwrap_or(DEFAULT_LOG_FILTER);
            let filter = EnvFilter::builder()
                .with_default_directive(LevelFilter::INFO.into())
                .parse_lossy(directives);
            tracing_subscriber::fmt::layer().with_filter(filter)
        });
        let subscriber = tracing_subscriber::registry().with(otel).with(fmt);
        tracing::subscriber::set_global_default(subscriber).map_err(|_| Error::SubscriberAlreadySet)
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        self.done = true;
        if let Err(e) = self.bounded(shutdown::Op::Shutdown) {
            // Drop cannot return the error; stderr is the one place left.
            let _ = writeln!(std::io::stderr(), "checkout-otel: {e}");
        }
    }
}

fn internal_targets_filter() -> Targets {
    Targets::new()
        .with_default(LevelFilter::TRACE)
        .with_targets(
            EXPORTER_INTERNAL_TARGETS
                .iter()
                .map(|t| (*t, LevelFilter::OFF)),
        )
        // Targets match by prefix, so `tower` alone would also silence
        // tower-http's request spans (`tower_http::trace`): the service's own
        // server spans, which must stay the parents of its typed spans.
        .with_target("tower_http", LevelFilter::TRACE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guard_can_be_shared_across_threads() {
        fn send_sync<T: Send + Sync>() {}
        fn send<T: Send>() {}
        send_sync::<TelemetryGuard>();
        send_sync::<TelemetryConfig>();
        send::<TelemetryBuilder>();
    }
}
