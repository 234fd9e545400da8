//! The OTLP exporters, built from the resolved configuration over gRPC
//! (on the private [export runtime](super::runtime)) or HTTP/protobuf.

#[cfg(feature = "http-proto")]
use std::fmt;
use std::sync::Arc;

use opentelemetry_otlp::WithExportConfig;

use super::accounted::ExportHealth;
use super::config::{Compression, OtlpSignalConfig, Protocol};
use super::runtime::ExportRuntime;
use crate::error::ConfigError;
#[cfg(feature = "grpc")]
use crate::error::{ConfigSource, echo_endpoint};

/// The OTLP span exporter for `cfg` (metrics: see
/// [`otlp_metrics`](super::otlp_metrics)).
pub(crate) fn span_exporter(
    cfg: &OtlpSignalConfig,
    runtime: Option<&Arc<ExportRuntime>>,
    health: &Arc<ExportHealth>,
) -> Result<opentelemetry_otlp::SpanExporter, ConfigError> {
    let builder = opentelemetry_otlp::SpanExporter::builder();
    let result = match cfg.protocol {
        #[cfg(feature = "grpc")]
        Protocol::Grpc => {
            let _ = health;
            tonic_configured(builder.with_tonic(), cfg, runtime, "traces")?.build()
        }
        #[cfg(feature = "http-proto")]
        Protocol::HttpProtobuf => {
            let _ = runtime;
            http_configured(builder.with_http(), cfg, health, "traces")?.build()
        }
        #[allow(unreachable_patterns)]
        _ => return Err(transport_disabled(cfg)),
    };
    result.map_err(|source| ConfigError::Exporter {
        signal: "traces",
        source,
    })
}

/// A tonic exporter builder of any signal with the crate's channel (our
/// runtime, connect timeout, TLS), header interceptor, timeout and
/// compression: one rule for every signal.
#[cfg(feature = "grpc")]
pub(super) fn tonic_configured<B>(
    builder: B,
    cfg: &OtlpSignalConfig,
    runtime: Option<&Arc<ExportRuntime>>,
    signal: &'static str,
) -> Result<B, ConfigError>
where
    B: opentelemetry_otlp::WithTonicConfig + WithExportConfig,
{
    let (channel, interceptor) = grpc_parts(cfg, runtime, signal)?;
    let builder = builder
        .with_channel(channel)
        .with_interceptor(interceptor)
        .with_timeout(cfg.timeout);
    Ok(match otlp_compression(cfg.compression) {
        Some(c) => builder.with_compression(c),
        None => builder,
    })
}

/// An HTTP/protobuf exporter builder of any signal with the crate's client
/// (builder headers winning), endpoint, timeout and compression.
#[cfg(feature = "http-proto")]
pub(super) fn http_configured<B>(
    builder: B,
    cfg: &OtlpSignalConfig,
    health: &Arc<ExportHealth>,
    signal: &'static str,
) -> Result<B, ConfigError>
where
    B: opentelemetry_otlp::WithHttpConfig + WithExportConfig,
{
    let builder = builder
        .with_http_client(http_client(cfg, signal, health)?)
        .with_endpoint(cfg.endpoint.clone())
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .with_timeout(cfg.timeout);
    Ok(match otlp_compression(cfg.compression) {
        Some(c) => builder.with_compression(c),
        None => builder,
    })
}

/// The error for a protocol whose transport feature is off.
pub(super) fn transport_disabled(cfg: &OtlpSignalConfig) -> ConfigError {
    ConfigError::TransportDisabled {
        protocol: cfg.protocol.as_str(),
        feature: feature_of(cfg.protocol),
    }
}

/// The exporter's compression setting; `None` sends bodies as they are.
/// Gzip is refused at resolution unless feature `gzip` enabled it here.
fn otlp_compression(c: Compression) -> Option<opentelemetry_otlp::Compression> {
    match c {
        Compression::Gzip => Some(opentelemetry_otlp::Compression::Gzip),
        Compression::None => None,
    }
}

#[allow(dead_code)]
pub(super) fn feature_of(p: Protocol) -> &'static str {
    match p {
        Protocol::Grpc => "grpc",
        Protocol::HttpProtobuf => "http-proto",
    }
}

/// The tonic channel (built on the private runtime, with a connect timeout
/// so a black-holed collector cannot stall an export) and an interceptor
/// that sets our headers last, so they win over anything the SDK read from
/// the process environment.
#[cfg(feature = "grpc")]
pub(super) fn grpc_parts(
    cfg: &OtlpSignalConfig,
    runtime: Option<&Arc<ExportRuntime>>,
    signal: &'static str,
) -> Result<
    (
        tonic::transport::Channel,
        impl tonic::service::Interceptor + Clone + Send + Sync + 'static,
    ),
    ConfigError,
> {
    use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};

    let Some(runtime) = runtime else {
        return Err(ConfigError::Exporter {
            signal,
            source: opentelemetry_otlp::ExporterBuildError::InternalFailure(
                "the gRPC exporter needs the export runtime".into(),
            ),
        });
    };
    let endpoint = tonic::transport::Endpoint::from_shared(cfg.endpoint.clone())
        .map_err(|e| ConfigError::InvalidEndpoint {
            value: echo_endpoint(&cfg.endpoint),
            source_of: ConfigSource::Builder("endpoint"),
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
            return Err(ConfigError::InvalidHeaders {
                source_of: ConfigSource::Builder("header"),
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
) -> Result<tonic::transport::Endpoint, ConfigError> {
    use tonic::transport::{Certificate, ClientTlsConfig};
    let tls = ClientTlsConfig::new().timeout(cfg.timeout);
    let tls = match &cfg.ca {
        Some(ca) => tls.ca_certificate(Certificate::from_pem(&ca.pem)),
        None => tls.with_native_roots(),
    };
    let tls = match &cfg.client_identity {
        Some(id) => tls.identity(tonic::transport::Identity::from_pem(
            &id.certificate,
            &id.key,
        )),
        None => tls,
    };
    endpoint.tls_config(tls).map_err(|e| ConfigError::Exporter {
        signal,
        source: opentelemetry_otlp::ExporterBuildError::InternalFailure(format!(
            "could not configure TLS: {}",
            error_chain(&e)
        )),
    })
}

/// An error and its sources, `: `-separated (transport errors say little at
/// the top level).
pub(super) fn error_chain(e: &dyn std::error::Error) -> String {
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
pub(super) fn http_client(
    cfg: &OtlpSignalConfig,
    signal: &'static str,
    health: &Arc<ExportHealth>,
) -> Result<HeaderOverrideClient, ConfigError> {
    let timeout = cfg.timeout;
    let fail = |reason: String| ConfigError::Exporter {
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
            ConfigError::InvalidCertificate {
                source_of: ca.source_of.clone(),
                reason: e.to_string(),
            }
        })?),
        None => None,
    };
    #[cfg(feature = "tls")]
    let identity = match &cfg.client_identity {
        Some(id) => {
            let pem = [&id.certificate[..], b"\n", &id.key[..]].concat();
            Some(reqwest::Identity::from_pem(&pem).map_err(|e| {
                ConfigError::InvalidClientIdentity {
                    source_of: id.source_of.clone(),
                    reason: e.to_string(),
                }
            })?)
        }
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
            #[cfg(feature = "tls")]
            let builder = match identity {
                Some(identity) => builder.identity(identity),
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
pub(super) struct HeaderOverrideClient {
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
