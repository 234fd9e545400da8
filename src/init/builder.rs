//! The builder: [`Telemetry::builder`] and the methods that fill in its
//! one [`Settings`] struct, then `resolve`, `build` or `init`.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fmt;
use std::time::Duration;

use opentelemetry::{Key, KeyValue, Value};
use opentelemetry_sdk::metrics::PeriodicReader;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::trace::SpanProcessor;

use super::config::{Compression, Exporter, Protocol, Sampler, TelemetryConfig};
use super::env::{self, EnvSource};
use super::guard::TelemetryGuard;
use super::pipeline::{self, Extras};
use super::resolve::resolve;
use super::settings::{Endpoint, Secret, Settings};
#[cfg(feature = "tls")]
use super::settings::{TlsCa, TlsClient};
use crate::error::ConfigError;

/// Entry point of the set-up: `Telemetry::builder("my-service")`.
#[derive(Debug, Clone, Copy)]
pub struct Telemetry;

impl Telemetry {
    /// Starts a set-up for the service `service_name` (the resource's
    /// `service.name`; it wins over `OTEL_SERVICE_NAME`, which is used only
    /// when this is empty).
    pub fn builder(service_name: impl Into<String>) -> TelemetryBuilder {
        TelemetryBuilder {
            settings: Settings::new(service_name.into()),
            extras: Extras::default(),
            env: env::process_env(),
        }
    }
}

/// Configures and starts telemetry. See the [module docs](super) for the
/// precedence of builder, environment and defaults.
#[must_use = "call .init() or .build() to start telemetry"]
pub struct TelemetryBuilder {
    settings: Settings,
    extras: Extras,
    env: EnvSource,
}

impl fmt::Debug for TelemetryBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TelemetryBuilder")
            .field("settings", &self.settings)
            .field("extra_span_processors", &self.extras.span_processors.len())
            .field("extra_metric_readers", &self.extras.metric_readers.len())
            .field("extra_log_processors", &self.extras.log_processors.len())
            .finish_non_exhaustive()
    }
}

impl TelemetryBuilder {
    /// `service.version`, e.g. a release tag or git sha.
    pub fn service_version(mut self, version: impl Into<String>) -> Self {
        self.settings.service_version = Some(version.into());
        self
    }

    /// `deployment.environment.name`, e.g. `production`, `staging`.
    pub fn environment(mut self, environment: impl Into<String>) -> Self {
        self.settings.environment = Some(environment.into());
        self
    }

    /// `service.namespace`, e.g. `shop`.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.settings.namespace = Some(namespace.into());
        self
    }

    /// Any other resource attribute. Wins over the same key in
    /// `OTEL_RESOURCE_ATTRIBUTES`; `service.name` always comes from the name
    /// given to [`Telemetry::builder`].
    pub fn resource_attribute(mut self, key: impl Into<Key>, value: impl Into<Value>) -> Self {
        self.settings
            .resource_attributes
            .push(KeyValue::new(key.into(), value.into()));
        self
    }

    /// Which resource detectors run (host, OS, process, container,
    /// Kubernetes): by default those `OTEL_EXPERIMENTAL_RESOURCE_DETECTORS`
    /// lists, all when it is unset. `ResourceDetection::none()` turns
    /// detection off. Detected attributes have the lowest precedence:
    /// `OTEL_RESOURCE_ATTRIBUTES` and [`resource_attribute`](Self::resource_attribute)
    /// replace them per key.
    pub fn resource_detection(mut self, detection: super::ResourceDetection) -> Self {
        self.settings.resource_detection = detection;
        self
    }

    /// The collector's base URL, e.g. `http://localhost:4317` (gRPC) or
    /// `http://localhost:4318` (HTTP/protobuf, which appends `/v1/traces` and
    /// `/v1/metrics`). Without it, OTLP export goes to the specification's
    /// default: `http://localhost:4317`, or `http://localhost:4318` for
    /// HTTP/protobuf.
    /// `https://` needs the cargo feature `tls`.
    pub fn endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.settings.endpoint = Some(Endpoint(endpoint.into()));
        self
    }

    /// The OTLP transport for both signals.
    pub fn protocol(mut self, protocol: Protocol) -> Self {
        self.settings.protocol = Some(protocol);
        self
    }

    /// A header sent with every export request, e.g. an API key. Wins over a
    /// header of the same name from the environment. At most
    /// [`MAX_EXPORT_HEADERS`](super::limits::MAX_EXPORT_HEADERS) headers of
    /// [`MAX_EXPORT_HEADER_BYTES`](super::limits::MAX_EXPORT_HEADER_BYTES) together.
    pub fn header(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.settings.headers.0.push((key.into(), value.into()));
        self
    }

    /// The timeout of one export request (and of connecting). More than zero
    /// and at most [`MAX_EXPORT_TIMEOUT`](super::limits::MAX_EXPORT_TIMEOUT) (10 min).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.settings.timeout = Some(timeout);
        self
    }

    /// Trusts exactly these PEM-encoded CA certificates (one or more
    /// `CERTIFICATE` blocks) for `https://` endpoints, instead of the system's
    /// trust store; e.g. the private CA in front of your collector. Replaces
    /// `OTEL_EXPORTER_OTLP_CERTIFICATE` (and its per-signal variants) and
    /// [`tls_ca_file`](Self::tls_ca_file). Checked by `init`: bytes without a
    /// well-formed certificate are [`ConfigError::InvalidCertificate`].
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn tls_ca_certificate_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.settings.tls_ca = Some(TlsCa::Pem(pem.into().into()));
        self
    }

    /// Like [`tls_ca_certificate_pem`](Self::tls_ca_certificate_pem), with the
    /// PEM bundle read from `path` by `init` (a missing or unreadable file is
    /// [`ConfigError::InvalidCertificate`]).
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn tls_ca_file(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.settings.tls_ca = Some(TlsCa::File(path.into()));
        self
    }

    /// Presents this client certificate chain and private key (PEM) to the
    /// collector, for collectors that require mutual TLS. Replaces
    /// `OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE` / `OTEL_EXPORTER_OTLP_CLIENT_KEY`
    /// (and their per-signal variants). Checked by `init`: bytes without a
    /// well-formed certificate or key are [`ConfigError::InvalidClientIdentity`].
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn tls_client_identity_pem(
        mut self,
        certificate: impl Into<Vec<u8>>,
        key: impl Into<Vec<u8>>,
    ) -> Self {
        self.settings.tls_client = Some(TlsClient::Pem {
            certificate: certificate.into().into(),
            key: Secret(key.into().into()),
        });
        self
    }

    /// Like [`tls_client_identity_pem`](Self::tls_client_identity_pem), with
    /// both read from PEM files by `init` (a missing or unreadable file is
    /// [`ConfigError::InvalidClientIdentity`] naming this method).
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn tls_client_identity_files(
        mut self,
        certificate: impl Into<std::path::PathBuf>,
        key: impl Into<std::path::PathBuf>,
    ) -> Self {
        self.settings.tls_client = Some(TlsClient::Files {
            certificate: certificate.into(),
            key: key.into(),
        });
        self
    }

    /// The sampler; replaces `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG`.
    pub fn sampler(mut self, sampler: Sampler) -> Self {
        self.settings.sampler = Some(sampler);
        self
    }

    /// How often metrics are exported. More than zero and at most
    /// [`MAX_METRIC_EXPORT_INTERVAL`](super::limits::MAX_METRIC_EXPORT_INTERVAL) (24 h).
    pub fn metric_export_interval(mut self, interval: Duration) -> Self {
        self.settings.metric_export_interval = Some(interval);
        self
    }

    /// Whether `init` installs a global `tracing` subscriber bridged to
    /// OpenTelemetry (default `true`). Turn it off when you install your own
    /// subscriber, and add [`TelemetryGuard::tracing_layer`] to it.
    pub fn tracing_bridge(mut self, on: bool) -> Self {
        self.settings.tracing_bridge = on;
        self
    }

    /// Whether the subscriber installed by `init` also prints logs (a fmt
    /// layer filtered by `RUST_LOG`, default [`DEFAULT_LOG_FILTER`](super::DEFAULT_LOG_FILTER)). Default `true`; has
    /// effect only with the tracing bridge on. With [`redaction`](Self::redaction)
    /// on, each field is checked by its key like an exported attribute and
    /// each line scrubbed before it is printed.
    pub fn log_output(mut self, on: bool) -> Self {
        self.settings.log_output = on;
        self
    }

    /// Whether each line of the [log output](Self::log_output) emitted while
    /// a trace is active ends with ` trace_id=<32 hex digits>`, so a line
    /// found in a terminal or a log store leads to its trace. Default
    /// `true`. The trace is the OpenTelemetry context's current one: a typed
    /// span entered or run, or a `tracing` span (the bridge activates it).
    pub fn log_trace_ids(mut self, on: bool) -> Self {
        self.settings.log_trace_ids = on;
        self
    }

    /// Where the span helpers record a failure's exception: a span event
    /// (default), a log record, or both (see [`ExceptionSignal`](crate::spans::ExceptionSignal)).
    /// Wins over `OTEL_SEMCONV_EXCEPTION_SIGNAL_OPT_IN` (`logs`, `logs/dup`).
    pub fn exception_signal(mut self, signal: crate::spans::ExceptionSignal) -> Self {
        self.settings.exception_signal = Some(signal);
        self
    }

    /// Whether spans from `tracing` carry source location, thread and
    /// busy/idle-time attributes (default `false`: they cost time and size).
    pub fn tracing_span_details(mut self, on: bool) -> Self {
        self.settings.span_details = on;
        self
    }

    /// Which `tracing` spans and events the OpenTelemetry layer exports, as
    /// `RUST_LOG`-style directives (`"warn"`, `"info,my_service=debug"`).
    /// Replaces `OTEL_LOG_LEVEL` (one level: `trace` ... `error`, `none`),
    /// which replaces `RUST_LOG`; default
    /// [`DEFAULT_TRACING_FILTER`](super::DEFAULT_TRACING_FILTER) (`info`).
    /// Spans and events below it are neither exported nor, when the log
    /// output is below it too, evaluated at all. Applies to
    /// [`TelemetryGuard::tracing_layer`] as well. Checked by `init`: a
    /// directive that does not parse is [`ConfigError::InvalidLogFilter`].
    /// The crate's own typed spans are not `tracing` spans: no filter
    /// applies to them.
    pub fn tracing_filter(mut self, directives: impl Into<String>) -> Self {
        self.settings.tracing_filter = Some(directives.into());
        self
    }

    /// The 0.1 switch of the waterfall, kept for upgrades: for a signal
    /// without a configured endpoint, `true` prints traces as a waterfall
    /// and `false` exports them nowhere; metrics then go nowhere either.
    /// With an endpoint it has no effect. The exporter methods win over it.
    #[deprecated(
        since = "0.2.0",
        note = "use .traces_exporter(Exporter::Console) for the waterfall, or Exporter::None for \
                traces_exporter and metrics_exporter to export nothing"
    )]
    pub fn console_output(mut self, on: bool) -> Self {
        self.settings.console_output = Some(on);
        self
    }

    /// Where spans go: [`Exporter::Otlp`] (the default), [`Exporter::Console`]
    /// (each trace printed to stderr as a [waterfall](crate::waterfall)) or
    /// [`Exporter::None`]. Replaces `OTEL_TRACES_EXPORTER`.
    pub fn traces_exporter(mut self, exporter: Exporter) -> Self {
        self.settings.traces_exporter = Some(exporter);
        self
    }

    /// Where metrics go: [`Exporter::Otlp`] (the default), [`Exporter::Console`]
    /// (a text line per data point on stderr at each export) or
    /// [`Exporter::None`] (aggregated for your own readers only). Replaces
    /// `OTEL_METRICS_EXPORTER`.
    pub fn metrics_exporter(mut self, exporter: Exporter) -> Self {
        self.settings.metrics_exporter = Some(exporter);
        self
    }

    /// Where log records will go; replaces `OTEL_LOGS_EXPORTER`. The crate
    /// does not export logs yet: the choice is checked and kept in
    /// [`TelemetryConfig::logs_exporter`] for the logs pipeline.
    pub fn logs_exporter(mut self, exporter: Exporter) -> Self {
        self.settings.logs_exporter = Some(exporter);
        self
    }

    /// Compression of OTLP request bodies for every signal; replaces
    /// `OTEL_EXPORTER_OTLP_COMPRESSION` and its per-signal variants.
    /// [`Compression::Gzip`] needs the cargo feature `gzip` (without it,
    /// `init` returns [`ConfigError::FeatureDisabled`]).
    pub fn compression(mut self, compression: Compression) -> Self {
        self.settings.compression = Some(compression);
        self
    }

    /// The bound on [`TelemetryGuard::shutdown`], [`TelemetryGuard::force_flush`]
    /// and drop of the guard (default 5 s). More than zero and at most
    /// [`MAX_SHUTDOWN_TIMEOUT`](super::limits::MAX_SHUTDOWN_TIMEOUT) (10 min).
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.settings.shutdown_timeout = Some(timeout);
        self
    }

    /// How many finished spans may wait for the OTLP exporter (default 2048,
    /// or `OTEL_BSP_MAX_QUEUE_SIZE`). When the queue is full, new spans are
    /// dropped and counted, never waited for. From 1 to
    /// [`MAX_SPAN_QUEUE_SIZE`](super::limits::MAX_SPAN_QUEUE_SIZE) (100 000):
    /// the SDK allocates the whole queue up front.
    pub fn span_queue_size(mut self, spans: usize) -> Self {
        self.settings.span_queue_size = Some(spans);
        self
    }

    /// The exit check of everything exported (on by default): every span
    /// passes the check [`RedactingExporter`](crate::pii::RedactingExporter)
    /// describes (names, keys and values of every type, events, links,
    /// status, resource, scope; identity keys hashed into `user.hash` with
    /// this set-up's [user hasher](TelemetryGuard::user_hasher)), in front of
    /// every span exporter the set-up creates; every metric export gets the
    /// same check on its OTLP request (resource, scope, point attributes);
    /// and the log output `init` installs is scrubbed line by line. Turn it
    /// off only when a collector does the same (see the README).
    pub fn redaction(mut self, on: bool) -> Self {
        self.settings.redaction = on;
        self
    }

    /// Whether exported spans and links keep their W3C `tracestate` (default
    /// `false`: it is removed, trace and span ids and flags kept). The
    /// `tracestate` of a request's trace comes from whoever called the
    /// service, a browser or a partner, and is otherwise exported on every
    /// span of the trace. When on, its values are checked like any text.
    /// Applies with redaction off too.
    pub fn export_tracestate(mut self, on: bool) -> Self {
        self.settings.export_tracestate = on;
        self
    }

    /// Strict redaction: also drop every attribute whose key is outside the
    /// telemetry contract and `extra_allowed`.
    pub fn strict_redaction(
        mut self,
        extra_allowed: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.settings.redaction = true;
        self.settings.strict_allow = Some(extra_allowed.into_iter().map(Into::into).collect());
        self
    }

    /// The key of the `user.hash` pseudonymisation (HMAC-SHA256), in any
    /// spelling [`UserHasher::parse`](crate::pii::UserHasher::parse) accepts.
    /// Overrides `CHECKOUT_OTEL_USER_HASH_KEY`. [`init`](Self::init) installs
    /// it process-wide; every service of a shop must use the same key so a
    /// customer's hashes correlate across them.
    pub fn user_hash_key(mut self, key: impl Into<String>) -> Self {
        self.settings.user_hash_key = Some(Secret(key.into()));
        self
    }

    /// The hosts outgoing requests may carry inbound `baggage` and
    /// `tracestate` to (replaces `CHECKOUT_OTEL_PROPAGATION_ALLOWED_HOSTS`):
    /// exact host names or IP addresses, or `*.domain` for any host below a
    /// domain (see [`AllowedHosts`](crate::propagation::AllowedHosts)). Every
    /// other host gets `traceparent` only. Empty by default: those headers
    /// come from the service's own caller (a browser, a partner) and are not
    /// forwarded to anyone until listed.
    ///
    /// Used by the guard's [`tracer`](TelemetryGuard::tracer) in
    /// [`CheckoutTracer::inject_for`](crate::CheckoutTracer::inject_for) and
    /// the HTTP client middleware. Checked by `init`: a malformed entry or
    /// more than [`MAX_PROPAGATION_HOSTS`](super::limits::MAX_PROPAGATION_HOSTS)
    /// entries is [`ConfigError::InvalidPropagationHost`].
    pub fn propagate_context_to(
        mut self,
        hosts: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.settings.propagation_allowed_hosts = Some(hosts.into_iter().map(Into::into).collect());
        self
    }

    /// Adds a span processor after the exporting one, e.g. an in-memory
    /// exporter for tests. Not added in a disabled (`OTEL_SDK_DISABLED`) set-up.
    pub fn with_span_processor(mut self, processor: impl SpanProcessor + 'static) -> Self {
        self.extras
            .span_processors
            .push(Box::new(move |b| b.with_span_processor(processor)));
        self
    }

    /// Adds a log processor after the exporting one, e.g. a
    /// [`SimpleLogProcessor`](opentelemetry_sdk::logs::SimpleLogProcessor)
    /// over an exporter of your own. It sees each record of the
    /// [`logs_layer`](super::TelemetryGuard::logs_layer) after the exit check
    /// (redacted, unless redaction is off). Not added in a disabled
    /// (`OTEL_SDK_DISABLED`) set-up.
    pub fn with_log_processor(
        mut self,
        processor: impl opentelemetry_sdk::logs::LogProcessor + 'static,
    ) -> Self {
        self.extras
            .log_processors
            .push(Box::new(move |b| b.with_log_processor(processor)));
        self
    }

    /// Adds a metric reader next to the exporting one, e.g. a
    /// [`PeriodicReader`] over an in-memory exporter, to read the metrics
    /// back in-process (a test, a summary at exit); [`TelemetryGuard::force_flush`]
    /// makes it export. Not added in a disabled (`OTEL_SDK_DISABLED`) set-up.
    pub fn with_metric_reader<E: PushMetricExporter>(mut self, reader: PeriodicReader<E>) -> Self {
        self.extras
            .metric_readers
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
        self.env = env::fn_env(lookup);
        self
    }

    /// Reads environment variables from exactly these pairs instead of the
    /// process environment (see [`env_source`](Self::env_source)). Values
    /// are `OsString`s as in the process environment (any `&str` or
    /// `String` converts), so a test can give one that is not UTF-8: like
    /// such a process variable, it is [`ConfigError::NotUnicode`].
    pub fn with_env<K: Into<String>, V: Into<OsString>>(
        self,
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        let map: HashMap<String, OsString> = vars
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        let env = env::map_env(map);
        Self { env, ..self }
    }

    /// Resolves the configuration (builder > environment > default) without
    /// starting anything: what `init` and `build` would use.
    ///
    /// # Errors
    /// The first setting that cannot work, naming the variable or builder
    /// method it came from (see [`ConfigError`]).
    pub fn resolve(&self) -> Result<TelemetryConfig, ConfigError> {
        resolve(&self.settings, &self.env)
    }

    /// Starts telemetry and installs it globally: the same tracer provider,
    /// meter provider, propagator and user hasher the guard hands out and,
    /// with the tracing bridge on, the global `tracing` subscriber. Works from
    /// a plain `fn main` and inside any tokio runtime.
    ///
    /// # Errors
    /// Any setting that cannot work (see [`ConfigError`]);
    /// [`ConfigError::SubscriberAlreadySet`] if the bridge is on and a global
    /// subscriber exists: then no global is changed at all.
    pub fn init(self) -> Result<TelemetryGuard, ConfigError> {
        let guard = self.build()?;
        guard.install_globals()?;
        Ok(guard)
    }

    /// Starts telemetry without touching any global: for hosting several
    /// services (each with its own `service.name`) in one process, and for
    /// tests. Everything it sets up is reachable from the guard: its tracer
    /// (with the meter, propagator and user hasher attached), layer and
    /// propagator.
    ///
    /// # Errors
    /// Any setting that cannot work (see [`ConfigError`]).
    pub fn build(self) -> Result<TelemetryGuard, ConfigError> {
        let config = self.resolve()?;
        let pipeline = pipeline::assemble(&config, self.extras)?;
        Ok(TelemetryGuard::new(config, pipeline))
    }

    /// Appends the test kit's exporters at the end of this pipeline, behind
    /// the same accounting and redaction as any exporter: `spans` on a simple
    /// processor (visible as each span ends), `metrics` on a reader read by
    /// an explicit flush, `logs` on a simple processor. Traces, metrics
    /// and logs are then exported nowhere else unless the builder's exporter
    /// methods ask for it (the environment's `OTEL_*_EXPORTER` variables are
    /// still checked).
    // The test kit moves onto this in a later step.
    #[cfg(feature = "testing")]
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn with_test_exporters<S, M, L>(mut self, spans: S, metrics: M, logs: L) -> Self
    where
        S: opentelemetry_sdk::trace::SpanExporter + 'static,
        M: super::accounted::MetricSink,
        L: opentelemetry_sdk::logs::LogExporter + 'static,
    {
        self.settings.traces_exporter.get_or_insert(Exporter::None);
        self.settings.metrics_exporter.get_or_insert(Exporter::None);
        self.settings.logs_exporter.get_or_insert(Exporter::None);
        let (spans, metrics, logs) = pipeline::test_exporters(spans, metrics, logs);
        self.extras.span_exporters.push(spans);
        self.extras.metric_exporters.push(metrics);
        self.extras.log_exporters.push(logs);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_can_move_across_threads() {
        fn send<T: Send>() {}
        send::<TelemetryBuilder>();
    }

    #[cfg(feature = "testing")]
    #[test]
    fn test_exporters_receive_the_pipelines_redacted_spans_and_flushed_metrics() {
        use crate::pii::EMAIL_MASK;
        use opentelemetry::trace::{Span as _, Tracer as _};
        use opentelemetry_sdk::trace::InMemorySpanExporter;

        let spans = InMemorySpanExporter::default();
        let metrics = Requests::default();
        let guard = Telemetry::builder("checkout-api")
            .with_env(Vec::<(String, String)>::new())
            .with_test_exporters(
                spans.clone(),
                metrics.clone(),
                opentelemetry_sdk::logs::InMemoryLogExporter::default(),
            )
            .build()
            .expect("build");
        assert_eq!(guard.config().traces_exporter(), Exporter::None);
        assert_eq!(guard.config().metrics_exporter(), Exporter::None);
        assert!(guard.config().traces().is_none(), "nothing on the network");

        let mut span = guard.sdk_tracer().start("checkout.process");
        span.set_attribute(KeyValue::new("customer.note", "mail jane.doe@example.com"));
        span.end();
        let exported = spans.get_finished_spans().expect("spans");
        assert_eq!(exported.len(), 1, "visible as soon as the span ends");
        assert_eq!(
            exported[0].attributes[0].value.as_str(),
            format!("mail {EMAIL_MASK}")
        );
        assert_eq!(exported[0].instrumentation_scope.name(), crate::SCOPE_NAME);
        assert_eq!(guard.redaction_counters().map(|c| c.emails()), Some(1));

        guard
            .meter()
            .u64_counter("checkout.completed")
            .build()
            .add(1, &[]);
        assert!(metrics.0.lock().unwrap().is_empty());
        guard.force_flush().expect("flush");
        let requests = metrics.0.lock().unwrap();
        assert_eq!(requests.len(), 1);
        let names: Vec<&str> = requests[0]
            .resource_metrics
            .iter()
            .flat_map(|rm| &rm.scope_metrics)
            .flat_map(|sm| &sm.metrics)
            .map(|m| m.name.as_str())
            .collect();
        assert_eq!(names, ["checkout.completed"]);
    }

    /// Keeps every metric request.
    #[cfg(feature = "testing")]
    #[derive(Clone, Default)]
    struct Requests(
        std::sync::Arc<
            std::sync::Mutex<
                Vec<
                    opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest,
                >,
            >,
        >,
    );

    #[cfg(feature = "testing")]
    impl super::super::accounted::MetricSink for Requests {
        async fn export(
            &self,
            request: opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest,
        ) -> opentelemetry_sdk::error::OTelSdkResult {
            self.0.lock().unwrap().push(request);
            Ok(())
        }

        fn shutdown_with_timeout(&self, _: Duration) -> opentelemetry_sdk::error::OTelSdkResult {
            Ok(())
        }
    }
}
