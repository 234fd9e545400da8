//! OTLP exporters built from the resolved configuration, and the wrapper that
//! every exporter goes through (failure accounting, runtime lifetime).
//!
//! Threads: the SDK's batch span processor and periodic metric reader each
//! run on their own OS thread and drive `export` with a plain
//! `futures_executor::block_on`. The HTTP exporter's blocking client needs
//! nothing more. The gRPC exporter's tonic channel, however, spawns its
//! connection tasks with `tokio::spawn` when it is built and needs a running
//! reactor and timer afterwards. Borrowing the application's runtime would
//! panic outside one (plain `fn main`) and deadlock on a current-thread
//! runtime whose only thread is blocked in `shutdown()`. So gRPC export gets a
//! private current-thread runtime on its own thread, alive exactly as long as
//! an exporter holds it.

use std::fmt;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

#[cfg(any(feature = "grpc", feature = "http-proto"))]
use super::config::{OtlpSignalConfig, Protocol};
#[cfg(any(feature = "grpc", feature = "http-proto"))]
use crate::error::{Error, Result};

/// Export failures of one signal, shared between its exporter and the guard
/// so that flush and shutdown can report what the SDK swallows.
#[derive(Debug, Default)]
pub(crate) struct ExportHealth {
    failures: AtomicU64,
    last_error: Mutex<Option<String>>,
    /// Why the HTTP client's last request failed: the OTLP HTTP exporter
    /// reports every transport failure as "network error", which hides the
    /// cause (connection refused, an untrusted certificate, ...).
    transport_error: Mutex<Option<String>>,
}

impl ExportHealth {
    fn record(&self, result: &OTelSdkResult) {
        let detail = self.transport_error.lock().ok().and_then(|mut d| d.take());
        if let Err(e) = result {
            self.failures.fetch_add(1, Ordering::Relaxed);
            if let Ok(mut last) = self.last_error.lock() {
                *last = Some(match detail {
                    Some(detail) => format!("{e} ({detail})"),
                    None => e.to_string(),
                });
            }
        }
    }

    #[cfg(feature = "http-proto")]
    fn note_transport_error(&self, error: String) {
        if let Ok(mut d) = self.transport_error.lock() {
            *d = Some(error);
        }
    }

    pub(crate) fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    pub(crate) fn last_error(&self) -> Option<String> {
        self.last_error.lock().ok().and_then(|l| l.clone())
    }
}

/// The private runtime that drives gRPC connections. Dropping the last
/// handle stops it; the runtime itself is dropped on its own thread, never
/// inside the application's async context.
pub(crate) struct ExportRuntime {
    #[cfg(feature = "grpc")]
    handle: tokio::runtime::Handle,
    #[cfg(feature = "grpc")]
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl fmt::Debug for ExportRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ExportRuntime")
    }
}

#[cfg(feature = "grpc")]
impl ExportRuntime {
    /// The process's export runtime, started on first use and shared by
    /// every guard (a process hosting several services needs one thread,
    /// not one per service). It stops when the last exporter using it is gone.
    pub(crate) fn shared() -> Result<Arc<Self>> {
        static SHARED: Mutex<std::sync::Weak<ExportRuntime>> = Mutex::new(std::sync::Weak::new());
        let mut slot = SHARED
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(runtime) = slot.upgrade() {
            return Ok(runtime);
        }
        let runtime = Self::start()?;
        *slot = Arc::downgrade(&runtime);
        Ok(runtime)
    }

    fn start() -> Result<Arc<Self>> {
        let fail = |reason: String| Error::Exporter {
            signal: "traces and metrics",
            source: opentelemetry_otlp::ExporterBuildError::InternalFailure(reason),
        };
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("checkout-otel-export".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
                if ready_tx.send(Ok((rt.handle().clone(), stop_tx))).is_err() {
                    return;
                }
                // Resolves when the last ExportRuntime is dropped.
                rt.block_on(async {
                    let _ = stop_rx.await;
                });
            })
            .map_err(|e| fail(format!("could not start the export thread: {e}")))?;
        let (handle, stop) = ready_rx
            .recv()
            .map_err(|_| fail("the export thread stopped during start-up".into()))?
            .map_err(|e| fail(format!("could not build the export runtime: {e}")))?;
        Ok(Arc::new(ExportRuntime {
            handle,
            _stop: stop,
        }))
    }
}

/// Wraps every exporter the set-up creates: records failures and keeps the
/// export runtime alive while the exporter exists.
#[derive(Debug)]
pub(crate) struct Tracked<E> {
    inner: E,
    health: Arc<ExportHealth>,
    _runtime: Option<Arc<ExportRuntime>>,
}

impl<E> Tracked<E> {
    pub(crate) fn new(
        inner: E,
        health: Arc<ExportHealth>,
        runtime: Option<Arc<ExportRuntime>>,
    ) -> Self {
        Tracked {
            inner,
            health,
            _runtime: runtime,
        }
    }
}

impl<E: SpanExporter> SpanExporter for Tracked<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let result = self.inner.export(batch).await;
        self.health.record(&result);
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    // The OTLP exporter takes the resource from here: forwarding is essential.
    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

impl<E: PushMetricExporter> PushMetricExporter for Tracked<E> {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        let result = self.inner.export(metrics).await;
        self.health.record(&result);
        result
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn temporality(&self) -> Temporality {
        self.inner.temporality()
    }
}

/// Builds one signal's OTLP exporter from `cfg` over its protocol: the span
/// and metric builders share no trait, so one macro spells the set-up once.
/// `$extra` are builder calls both transports get (e.g. temporality).
#[cfg(any(feature = "grpc", feature = "http-proto"))]
macro_rules! otlp_exporter {
    ($builder:expr, $cfg:expr, $runtime:expr, $health:expr, $signal:literal $(, $extra:ident($arg:expr))*) => {{
        let (cfg, runtime, health) = ($cfg, $runtime, $health);
        let result = match cfg.protocol {
            #[cfg(feature = "grpc")]
            Protocol::Grpc => {
                use opentelemetry_otlp::WithTonicConfig;
                let _ = health;
                let (channel, interceptor) = grpc_parts(cfg, runtime, $signal)?;
                $builder
                    .with_tonic()
                    .with_channel(channel)
                    .with_interceptor(interceptor)
                    .with_timeout(cfg.timeout)
                    $(.$extra($arg))*
                    .build()
            }
            #[cfg(feature = "http-proto")]
            Protocol::HttpProtobuf => {
                use opentelemetry_otlp::WithHttpConfig;
                let _ = runtime;
                $builder
                    .with_http()
                    .with_http_client(http_client(cfg, $signal, health)?)
                    .with_endpoint(cfg.endpoint.clone())
                    .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                    .with_timeout(cfg.timeout)
                    $(.$extra($arg))*
                    .build()
            }
            #[allow(unreachable_patterns)]
            _ => {
                return Err(Error::TransportDisabled {
                    protocol: cfg.protocol.as_str(),
                    feature: feature_of(cfg.protocol),
                });
            }
        };
        result.map_err(|source| Error::Exporter {
            signal: $signal,
            source,
        })
    }};
}

/// The OTLP span exporter for `cfg`.
#[cfg(any(feature = "grpc", feature = "http-proto"))]
pub(crate) fn span_exporter(
    cfg: &OtlpSignalConfig,
    runtime: Option<&Arc<ExportRuntime>>,
    health: &Arc<ExportHealth>,
) -> Result<opentelemetry_otlp::SpanExporter> {
    otlp_exporter!(
        opentelemetry_otlp::SpanExporter::builder(),
        cfg,
        runtime,
        health,
        "traces"
    )
}

/// The OTLP metric exporter for `cfg` (cumulative temporality).
#[cfg(any(feature = "grpc", feature = "http-proto"))]
pub(crate) fn metric_exporter(
    cfg: &OtlpSignalConfig,
    runtime: Option<&Arc<ExportRuntime>>,
    health: &Arc<ExportHealth>,
) -> Result<opentelemetry_otlp::MetricExporter> {
    otlp_exporter!(
        opentelemetry_otlp::MetricExporter::builder(),
        cfg,
        runtime,
        health,
        "metrics",
        with_temporality(Temporality::Cumulative)
    )
}

#[cfg(any(feature = "grpc", feature = "http-proto"))]
#[allow(dead_code)]
fn feature_of(p: Protocol) -> &'static str {
    match p {
        Protocol::Grpc => "grpc",
        Protocol::HttpProtobuf => "http-proto",
    }
}

#[cfg(any(feature = "grpc", feature = "http-proto"))]
use opentelemetry_otlp::WithExportConfig;

/// The tonic channel (built on the private runtime, with a connect timeout
/// so a black-holed collector cannot stall an export) and an interceptor
/// that sets our headers last, so they win over anything the SDK read from
/// the process environment.
#[cfg(feature = "grpc")]
fn grpc_parts(
    cfg: &OtlpSignalConfig,
    runtime: Option<&Arc<ExportRuntime>>,
    signal: &'static str,
) -> Result<(
    tonic::transport::Channel,
    impl tonic::service::Interceptor + Clone + Send + Sync + 'static,
)> {
    use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};

    let Some(runtime) = runtime else {
        return Err(Error::Exporter {
            signal,
            source: opentelemetry_otlp::ExporterBuildError::InternalFailure(
                "the gRPC exporter needs the export runtime".into(),
            ),
        });
    };
    let endpoint = tonic::transport::Endpoint::from_shared(cfg.endpoint.clone())
        .map_err(|e| Error::InvalidEndpoint {
            value: cfg.endpoint.clone(),
            source_of: crate::error::ConfigSource::Builder("endpoint"),
            reason: e.to_string(),
        })?
        .timeout(cfg.timeout)
        .connect_timeout(cfg.timeout);
    #[cfg(feature = "tls")]
    let endpoint = if endpoint.uri().scheme_str() == Some("https") {
        grpc_tls(endpoint, cfg, signal)?
    } else {
        endpoint
    };
    let channel = {
        let _enter = runtime.handle.enter();
        endpoint.connect_lazy()
    };

    let mut metadata = MetadataMap::new();
    for (name, value) in &cfg.headers {
        // Names and values were validated as HTTP headers; gRPC metadata
        // accepts the same ASCII names and visible-ASCII values.
        let key = MetadataKey::from_bytes(name.as_str().as_bytes());
        let val = value
            .to_str()
            .ok()
            .and_then(|v| MetadataValue::try_from(v).ok());
        let (Ok(key), Some(val)) = (key, val) else {
            return Err(Error::InvalidHeaders {
                source_of: crate::error::ConfigSource::Builder("header"),
                reason: format!("{:?} cannot be sent as gRPC metadata", name.as_str()),
            });
        };
        metadata.insert(key, val);
    }
    let interceptor = move |mut req: tonic::Request<()>| -> std::result::Result<
        tonic::Request<()>,
        tonic::Status,
    > {
        let md = req.metadata_mut();
        for kv in metadata.iter() {
            if let tonic::metadata::KeyAndValueRef::Ascii(k, v) = kv {
                md.insert(k.clone(), v.clone());
            }
        }
        Ok(req)
    };
    Ok((channel, interceptor))
}

/// TLS for an `https://` gRPC endpoint: rustls, trusting the configured CA
/// bundle or else the system's trust store (loaded here, once, so a system
/// without any root certificate is an error from `init`).
#[cfg(all(feature = "grpc", feature = "tls"))]
fn grpc_tls(
    endpoint: tonic::transport::Endpoint,
    cfg: &OtlpSignalConfig,
    signal: &'static str,
) -> Result<tonic::transport::Endpoint> {
    use tonic::transport::{Certificate, ClientTlsConfig};
    let tls = ClientTlsConfig::new().timeout(cfg.timeout);
    let tls = match &cfg.ca {
        Some(ca) => tls.ca_certificate(Certificate::from_pem(&ca.pem)),
        None => tls.with_native_roots(),
    };
    endpoint.tls_config(tls).map_err(|e| Error::Exporter {
        signal,
        source: opentelemetry_otlp::ExporterBuildError::InternalFailure(format!(
            "could not configure TLS: {}",
            error_chain(&e)
        )),
    })
}

/// An error and its sources, `: `-separated (transport errors say little at
/// the top level).
#[cfg(any(feature = "http-proto", all(feature = "grpc", feature = "tls")))]
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        // Wrappers often repeat their source's text: say it once.
        let text = s.to_string();
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// A blocking reqwest client that sets our headers on every request, after
/// the SDK has added whatever it read from the process environment.
#[cfg(feature = "http-proto")]
fn http_client(
    cfg: &OtlpSignalConfig,
    signal: &'static str,
    health: &Arc<ExportHealth>,
) -> Result<HeaderOverrideClient> {
    let timeout = cfg.timeout;
    let fail = |reason: String| Error::Exporter {
        signal,
        source: opentelemetry_otlp::ExporterBuildError::InternalFailure(reason),
    };
    // reqwest's blocking client must not be created inside an async context,
    // and `init` may be called from one: build it on a short-lived thread.
    // With `tls`, an `https://` endpoint uses reqwest's rustls, trusting
    // exactly the configured CA bundle, else the system's trust store.
    #[cfg(feature = "tls")]
    let ca = match &cfg.ca {
        Some(ca) => Some(reqwest::Certificate::from_pem_bundle(&ca.pem).map_err(|e| {
            Error::InvalidCertificate {
                source_of: ca.source_of.clone(),
                reason: e.to_string(),
            }
        })?),
        None => None,
    };
    let client = std::thread::Builder::new()
        .name("checkout-otel-http-client".into())
        .spawn(move || {
            let builder = reqwest::blocking::Client::builder()
                .timeout(timeout)
                .connect_timeout(timeout);
            #[cfg(feature = "tls")]
            let builder = match ca {
                Some(certs) => builder.tls_certs_only(certs),
                None => builder,
            };
            builder.build()
        })
        .map_err(|e| fail(format!("could not spawn a thread: {e}")))?
        .join()
        .map_err(|_| fail("building the HTTP client panicked".into()))?
        .map_err(|e| fail(format!("could not build the HTTP client: {e}")))?;
    let mut headers = http::HeaderMap::new();
    for (k, v) in &cfg.headers {
        headers.insert(k.clone(), v.clone());
    }
    Ok(HeaderOverrideClient {
        inner: client,
        headers,
        health: health.clone(),
    })
}

#[cfg(feature = "http-proto")]
struct HeaderOverrideClient {
    inner: reqwest::blocking::Client,
    headers: http::HeaderMap,
    health: Arc<ExportHealth>,
}

#[cfg(feature = "http-proto")]
impl fmt::Debug for HeaderOverrideClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Header values are credentials: names only.
        f.debug_struct("HeaderOverrideClient")
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .finish()
    }
}

#[cfg(feature = "http-proto")]
#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for HeaderOverrideClient {
    async fn send_bytes(
        &self,
        mut request: opentelemetry_http::Request<opentelemetry_http::Bytes>,
    ) -> std::result::Result<
        opentelemetry_http::Response<opentelemetry_http::Bytes>,
        opentelemetry_http::HttpError,
    > {
        for (k, v) in &self.headers {
            request.headers_mut().insert(k.clone(), v.clone());
        }
        self.inner.send_bytes(request).await.inspect_err(|e| {
            // reqwest's own message quotes the URL, which may carry
            // credentials: its causes say enough.
            let detail = match (e.downcast_ref::<reqwest::Error>(), e.source()) {
                (Some(_), Some(cause)) => error_chain(cause),
                _ => error_chain(&**e),
            };
            self.health.note_transport_error(detail);
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_sdk::error::OTelSdkError;

    #[derive(Debug)]
    struct Failing;
    impl SpanExporter for Failing {
        async fn export(&self, _batch: Vec<SpanData>) -> OTelSdkResult {
            Err(OTelSdkError::InternalFailure(
                "collector unreachable".into(),
            ))
        }
    }

    #[test]
    fn tracked_counts_failures_and_keeps_last_error() {
        let health = Arc::new(ExportHealth::default());
        let exporter = Tracked::new(Failing, health.clone(), None);
        let r = futures_block_on(exporter.export(vec![]));
        assert!(r.is_err());
        assert_eq!(health.failures(), 1);
        assert!(
            health
                .last_error()
                .unwrap()
                .contains("collector unreachable")
        );
    }

    fn futures_block_on<F: std::future::Future>(f: F) -> F::Output {
        // The exporter future never pends: poll it once with a no-op waker.
        let mut f = std::pin::pin!(f);
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        match f.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(v) => v,
            std::task::Poll::Pending => panic!("pending"),
        }
    }
}
