//! An in-process OTLP receiver, over the wire: a tonic gRPC server
//! implementing the collector's trace and metrics services, or an axum
//! HTTP/protobuf endpoint. Everything received is kept for assertions.
//!
//! Each receiver runs on its own runtime thread, so it works from plain
//! `#[test]`s and from any tokio flavour, and stops when dropped.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;

/// Everything a receiver got.
#[derive(Debug, Default, Clone)]
pub struct Received {
    /// Trace export requests, in arrival order.
    pub traces: Vec<ExportTraceServiceRequest>,
    /// Metric export requests, in arrival order.
    pub metrics: Vec<ExportMetricsServiceRequest>,
    /// Log export requests, in arrival order.
    pub logs: Vec<ExportLogsServiceRequest>,
    /// Request headers (gRPC metadata), one map per request.
    pub headers: Vec<http::HeaderMap>,
    /// Request paths (HTTP receiver only).
    pub paths: Vec<String>,
    /// TLS handshakes the HTTP TLS receiver refused or that failed.
    pub tls_handshake_failures: usize,
}

/// One received span with its resource and scope.
#[derive(Debug, Clone)]
pub struct ReceivedSpan {
    /// Resource attributes, values rendered as strings.
    pub resource: HashMap<String, String>,
    /// Instrumentation scope name.
    pub scope: String,
    /// The span.
    pub span: Span,
}

impl ReceivedSpan {
    /// Span attribute as a string.
    pub fn attr(&self, key: &str) -> Option<String> {
        attrs_to_map(&self.span.attributes).remove(key)
    }
    /// Hex trace id.
    pub fn trace_id(&self) -> String {
        hex(&self.span.trace_id)
    }
    /// Hex span id.
    pub fn span_id(&self) -> String {
        hex(&self.span.span_id)
    }
    /// Hex parent span id, empty for a root.
    pub fn parent_id(&self) -> String {
        hex(&self.span.parent_span_id)
    }
}

impl Received {
    /// All spans, flattened.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        let mut out = Vec::new();
        for req in &self.traces {
            for rs in &req.resource_spans {
                let resource = rs
                    .resource
                    .as_ref()
                    .map(|r| attrs_to_map(&r.attributes))
                    .unwrap_or_default();
                for ss in &rs.scope_spans {
                    let scope = ss
                        .scope
                        .as_ref()
                        .map(|s| s.name.clone())
                        .unwrap_or_default();
                    for span in &ss.spans {
                        out.push(ReceivedSpan {
                            resource: resource.clone(),
                            scope: scope.clone(),
                            span: span.clone(),
                        });
                    }
                }
            }
        }
        out
    }

    /// The span named `name`, if received.
    pub fn span(&self, name: &str) -> Option<ReceivedSpan> {
        self.spans().into_iter().find(|s| s.span.name == name)
    }

    /// Names of all metrics received.
    pub fn metric_names(&self) -> Vec<String> {
        self.metrics
            .iter()
            .flat_map(|r| &r.resource_metrics)
            .flat_map(|rm| &rm.scope_metrics)
            .flat_map(|sm| &sm.metrics)
            .map(|m| m.name.clone())
            .collect()
    }

    /// Resource attributes of every metric batch.
    pub fn metric_resources(&self) -> Vec<HashMap<String, String>> {
        self.metrics
            .iter()
            .flat_map(|r| &r.resource_metrics)
            .map(|rm| {
                rm.resource
                    .as_ref()
                    .map(|r| attrs_to_map(&r.attributes))
                    .unwrap_or_default()
            })
            .collect()
    }
}

/// Attributes as `key -> value rendered as string`.
pub fn attrs_to_map(attrs: &[KeyValue]) -> HashMap<String, String> {
    attrs
        .iter()
        .map(|kv| (kv.key.clone(), any_to_string(kv.value.as_ref())))
        .collect()
}

fn any_to_string(v: Option<&AnyValue>) -> String {
    match v.and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

type State = Arc<Mutex<Received>>;

/// A running receiver; stops when dropped.
pub struct Receiver {
    addr: SocketAddr,
    state: State,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Receiver {
    /// A gRPC receiver (trace and metrics services) on 127.0.0.1, random port.
    pub fn grpc() -> Self {
        Self::start(|listener, state, stop| async move {
            let incoming = tonic::transport::server::TcpIncoming::from(listener);
            tonic::transport::Server::builder()
                .add_service(trace_service(&state))
                .add_service(logs_service(&state))
                .add_service(metrics_service(&state))
                .serve_with_incoming_shutdown(incoming, async {
                    let _ = stop.await;
                })
                .await
                .expect("gRPC receiver failed");
        })
    }

    /// An HTTP/protobuf receiver on 127.0.0.1, random port. Every POST is
    /// recorded with its path and decoded as traces or metrics by whether
    /// the path contains "metrics".
    pub fn http() -> Self {
        Self::start(|listener, state, stop| async move {
            let app = axum::Router::new().fallback(http_handler).with_state(state);
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stop.await;
                })
                .await
                .expect("HTTP receiver failed");
        })
    }

    /// A gRPC receiver over TLS, presenting `cert_pem` (signed for
    /// 127.0.0.1) with its private key `key_pem`.
    #[cfg(feature = "tls")]
    pub fn grpc_tls(cert_pem: &str, key_pem: &str) -> Self {
        Self::grpc_tls_config(
            tonic::transport::ServerTlsConfig::new()
                .identity(tonic::transport::Identity::from_pem(cert_pem, key_pem)),
        )
    }

    /// A gRPC receiver over mutual TLS: like [`Receiver::grpc_tls`], and
    /// every client must present a certificate signed by `client_ca_pem`.
    #[cfg(feature = "tls")]
    pub fn grpc_mtls(cert_pem: &str, key_pem: &str, client_ca_pem: &str) -> Self {
        Self::grpc_tls_config(
            tonic::transport::ServerTlsConfig::new()
                .identity(tonic::transport::Identity::from_pem(cert_pem, key_pem))
                .client_ca_root(tonic::transport::Certificate::from_pem(client_ca_pem)),
        )
    }

    #[cfg(feature = "tls")]
    fn grpc_tls_config(config: tonic::transport::ServerTlsConfig) -> Self {
        Self::start(|listener, state, stop| async move {
            let incoming = tonic::transport::server::TcpIncoming::from(listener);
            tonic::transport::Server::builder()
                .tls_config(config)
                .expect("server TLS config")
                .add_service(trace_service(&state))
                .add_service(logs_service(&state))
                .add_service(metrics_service(&state))
                .serve_with_incoming_shutdown(incoming, async {
                    let _ = stop.await;
                })
                .await
                .expect("gRPC TLS receiver failed");
        })
    }

    /// An HTTP/protobuf receiver over TLS (axum behind a rustls acceptor),
    /// presenting `cert_pem` with its private key `key_pem`. Failed
    /// handshakes are counted in [`Received::tls_handshake_failures`].
    #[cfg(feature = "tls")]
    pub fn http_tls(cert_pem: &str, key_pem: &str) -> Self {
        Self::http_tls_with(cert_pem, key_pem, None)
    }

    /// An HTTP/protobuf receiver over mutual TLS: like
    /// [`Receiver::http_tls`], and every client must present a certificate
    /// signed by `client_ca_pem` (refused handshakes are counted).
    #[cfg(feature = "tls")]
    pub fn http_mtls(cert_pem: &str, key_pem: &str, client_ca_pem: &str) -> Self {
        Self::http_tls_with(cert_pem, key_pem, Some(client_ca_pem))
    }

    #[cfg(feature = "tls")]
    fn http_tls_with(cert_pem: &str, key_pem: &str, client_ca_pem: Option<&str>) -> Self {
        use tokio_rustls::rustls;
        use tokio_rustls::rustls::pki_types::pem::PemObject;
        use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let certs = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .expect("certificate PEM");
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).expect("key PEM");
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .expect("TLS versions");
        let builder = match client_ca_pem {
            None => builder.with_no_client_auth(),
            Some(ca) => {
                let mut roots = rustls::RootCertStore::empty();
                for cert in CertificateDer::pem_slice_iter(ca.as_bytes()) {
                    roots.add(cert.expect("client CA PEM")).expect("client CA");
                }
                let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                    Arc::new(roots),
                    provider,
                )
                .build()
                .expect("client verifier");
                builder.with_client_cert_verifier(verifier)
            }
        };
        let config = builder
            .with_single_cert(certs, key)
            .expect("server certificate");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        Self::start(|listener, state, stop| async move {
            let app = axum::Router::new()
                .fallback(http_handler)
                .with_state(state.clone());
            let listener = TlsListener {
                tcp: listener,
                acceptor,
                state,
            };
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stop.await;
                })
                .await
                .expect("HTTP TLS receiver failed");
        })
    }

    fn start<F, Fut>(serve: F) -> Self
    where
        F: FnOnce(tokio::net::TcpListener, State, tokio::sync::oneshot::Receiver<()>) -> Fut
            + Send
            + 'static,
        Fut: std::future::Future<Output = ()>,
    {
        let state = State::default();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let st = state.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("receiver runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind receiver");
                addr_tx
                    .send(listener.local_addr().expect("addr"))
                    .expect("send addr");
                serve(listener, st, stop_rx).await;
            });
        });
        let addr = addr_rx.recv().expect("receiver started");
        Receiver {
            addr,
            state,
            _stop: stop_tx,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `https://127.0.0.1:PORT`, for the TLS receivers.
    pub fn https_endpoint(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// What has arrived so far.
    pub fn received(&self) -> Received {
        self.state.lock().expect("receiver state").clone()
    }

    /// Waits (polling) until `done` holds or `limit` passes, then returns
    /// what has arrived. Callers assert on the result.
    pub fn wait_for(&self, limit: Duration, done: impl Fn(&Received) -> bool) -> Received {
        let start = Instant::now();
        loop {
            let r = self.received();
            if done(&r) || start.elapsed() > limit {
                return r;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A TCP listener that completes the TLS handshake before axum sees the
/// connection; failed handshakes are counted and skipped.
#[cfg(feature = "tls")]
struct TlsListener {
    tcp: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    state: State,
}

#[cfg(feature = "tls")]
impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((tcp, addr)) = self.tcp.accept().await else {
                continue;
            };
            match self.acceptor.accept(tcp).await {
                Ok(tls) => return (tls, addr),
                Err(_) => self.state.lock().expect("state").tls_handshake_failures += 1,
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

#[derive(Clone)]
struct Grpc(State);

/// The trace service, accepting gzip-compressed requests.
fn trace_service(state: &State) -> TraceServiceServer<Grpc> {
    TraceServiceServer::new(Grpc(state.clone()))
        .accept_compressed(tonic::codec::CompressionEncoding::Gzip)
}

/// The logs service, accepting gzip-compressed requests.
fn logs_service(state: &State) -> LogsServiceServer<Grpc> {
    LogsServiceServer::new(Grpc(state.clone()))
        .accept_compressed(tonic::codec::CompressionEncoding::Gzip)
}

/// The metrics service, accepting gzip-compressed requests.
fn metrics_service(state: &State) -> MetricsServiceServer<Grpc> {
    MetricsServiceServer::new(Grpc(state.clone()))
        .accept_compressed(tonic::codec::CompressionEncoding::Gzip)
}

#[tonic::async_trait]
impl TraceService for Grpc {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let headers = request.metadata().clone().into_headers();
        let mut s = self.0.lock().expect("state");
        s.headers.push(headers);
        s.traces.push(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl LogsService for Grpc {
    async fn export(
        &self,
        request: tonic::Request<ExportLogsServiceRequest>,
    ) -> Result<tonic::Response<ExportLogsServiceResponse>, tonic::Status> {
        let headers = request.metadata().clone().into_headers();
        let mut s = self.0.lock().expect("state");
        s.headers.push(headers);
        s.logs.push(request.into_inner());
        Ok(tonic::Response::new(ExportLogsServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl MetricsService for Grpc {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        let headers = request.metadata().clone().into_headers();
        let mut s = self.0.lock().expect("state");
        s.headers.push(headers);
        s.metrics.push(request.into_inner());
        Ok(tonic::Response::new(ExportMetricsServiceResponse::default()))
    }
}

async fn http_handler(
    axum::extract::State(state): axum::extract::State<State>,
    uri: http::Uri,
    headers: http::HeaderMap,
    body: axum::body::Bytes,
) -> impl axum::response::IntoResponse {
    let path = uri.path().to_owned();
    let body = match headers.get(http::header::CONTENT_ENCODING) {
        Some(encoding) if encoding == "gzip" => {
            use std::io::Read as _;
            let mut plain = Vec::new();
            if flate2::read::GzDecoder::new(&body[..])
                .read_to_end(&mut plain)
                .is_err()
            {
                return (http::StatusCode::BAD_REQUEST, Vec::new());
            }
            axum::body::Bytes::from(plain)
        }
        _ => body,
    };
    let mut s = state.lock().expect("state");
    s.paths.push(path.clone());
    s.headers.push(headers);
    let response = if path.contains("logs") {
        match ExportLogsServiceRequest::decode(body) {
            Ok(req) => {
                s.logs.push(req);
                ExportLogsServiceResponse::default().encode_to_vec()
            }
            Err(_) => return (http::StatusCode::BAD_REQUEST, Vec::new()),
        }
    } else if path.contains("metrics") {
        match ExportMetricsServiceRequest::decode(body) {
            Ok(req) => {
                s.metrics.push(req);
                ExportMetricsServiceResponse::default().encode_to_vec()
            }
            Err(_) => return (http::StatusCode::BAD_REQUEST, Vec::new()),
        }
    } else {
        match ExportTraceServiceRequest::decode(body) {
            Ok(req) => {
                s.traces.push(req);
                ExportTraceServiceResponse::default().encode_to_vec()
            }
            Err(_) => return (http::StatusCode::BAD_REQUEST, Vec::new()),
        }
    };
    (http::StatusCode::OK, response)
}

/// A TCP listener that accepts connections and never reads or answers: a
/// hung collector. Connections are held open for the life of the process.
pub fn hung_collector() -> (String, Arc<Mutex<usize>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let accepted = Arc::new(Mutex::new(0usize));
    let count = accepted.clone();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming().flatten() {
            held.push(conn);
            *count.lock().expect("count") += 1;
        }
    });
    (format!("http://{addr}"), accepted)
}

/// An address where nothing listens (bound, then released).
pub fn closed_endpoint() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    format!("http://{addr}")
}

/// Requests a refusing collector answered, per signal.
#[derive(Debug, Default)]
pub struct Refusals {
    pub traces: std::sync::atomic::AtomicUsize,
    pub metrics: std::sync::atomic::AtomicUsize,
}

impl Refusals {
    fn count(&self, metrics: bool) {
        let counter = if metrics { &self.metrics } else { &self.traces };
        counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn traces(&self) -> usize {
        self.traces.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// A collector that answers every export "unavailable, try again": gRPC
/// status `UNAVAILABLE`, HTTP `503` (both retryable for the OTLP exporter),
/// counting the requests. Stops when the receiver is dropped.
pub fn unavailable_collector(grpc: bool) -> (Receiver, Arc<Refusals>) {
    let refusals = Arc::new(Refusals::default());
    let counted = refusals.clone();
    let receiver = if grpc {
        Receiver::start(move |listener, _state, stop| async move {
            let incoming = tonic::transport::server::TcpIncoming::from(listener);
            tonic::transport::Server::builder()
                .add_service(TraceServiceServer::new(Unavailable(counted.clone())))
                .add_service(MetricsServiceServer::new(Unavailable(counted)))
                .serve_with_incoming_shutdown(incoming, async {
                    let _ = stop.await;
                })
                .await
                .expect("gRPC refusing collector failed");
        })
    } else {
        Receiver::start(move |listener, _state, stop| async move {
            let app = axum::Router::new().fallback(move |uri: http::Uri| {
                let counted = counted.clone();
                async move {
                    counted.count(uri.path().contains("metrics"));
                    http::StatusCode::SERVICE_UNAVAILABLE
                }
            });
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stop.await;
                })
                .await
                .expect("HTTP refusing collector failed");
        })
    };
    (receiver, refusals)
}

struct Unavailable(Arc<Refusals>);

#[tonic::async_trait]
impl TraceService for Unavailable {
    async fn export(
        &self,
        _request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.0.count(false);
        Err(tonic::Status::unavailable("collector overloaded"))
    }
}

#[tonic::async_trait]
impl MetricsService for Unavailable {
    async fn export(
        &self,
        _request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        self.0.count(true);
        Err(tonic::Status::unavailable("collector overloaded"))
    }
}
