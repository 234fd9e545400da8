//! The OTLP metric exporter: it sends the request the metric exit check
//! produced (see [`MetricSink`]), over the same channel, client, headers and
//! timeout as the span exporter.
//!
//! The crate sends metric requests itself because the exit check can only
//! change the OTLP request, not the SDK's metric data, which
//! `opentelemetry-otlp`'s exporter takes. The request is the one that
//! exporter would build (`opentelemetry-proto`'s conversion); one difference:
//! a failed export is not retried. Metrics are exported with cumulative
//! temporality, so the next export carries everything the failed one had.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};

use super::accounted::{ExportHealth, MetricSink};
#[cfg(any(feature = "http-proto", feature = "gzip"))]
use super::config::Compression;
use super::config::{OtlpSignalConfig, Protocol};
use super::runtime::ExportRuntime;
use crate::error::ConfigError;

/// The OTLP metric exporter of one transport.
pub(crate) enum OtlpMetrics {
    /// gRPC, on the private export runtime's channel.
    #[cfg(feature = "grpc")]
    Grpc(GrpcMetrics),
    /// HTTP/protobuf, on the blocking client.
    #[cfg(feature = "http-proto")]
    Http(HttpMetrics),
}

impl fmt::Debug for OtlpMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OtlpMetrics")
    }
}

/// The OTLP metric exporter for `cfg`.
pub(crate) fn metric_exporter(
    cfg: &OtlpSignalConfig,
    runtime: Option<&Arc<ExportRuntime>>,
    health: &Arc<ExportHealth>,
) -> Result<OtlpMetrics, ConfigError> {
    match cfg.protocol {
        #[cfg(feature = "grpc")]
        Protocol::Grpc => {
            let (channel, interceptor) = super::otlp::grpc_parts(cfg, runtime, "metrics")?;
            let service = MetricsServiceClient::new(channel);
            #[cfg(feature = "gzip")]
            let service = match cfg.compression {
                Compression::Gzip => {
                    service.send_compressed(tonic::codec::CompressionEncoding::Gzip)
                }
                Compression::None => service,
            };
            Ok(OtlpMetrics::Grpc(GrpcMetrics {
                client: Mutex::new(Some(Client {
                    service,
                    interceptor: Box::new(interceptor),
                })),
            }))
        }
        #[cfg(feature = "http-proto")]
        Protocol::HttpProtobuf => {
            let _ = runtime;
            let uri = cfg
                .endpoint
                .parse::<http::Uri>()
                .map_err(|e| ConfigError::Exporter {
                    signal: "metrics",
                    source: opentelemetry_otlp::ExporterBuildError::InternalFailure(format!(
                        "invalid endpoint: {e}"
                    )),
                })?;
            Ok(OtlpMetrics::Http(HttpMetrics {
                client: Mutex::new(Some(Arc::new(super::otlp::http_client(
                    cfg, "metrics", health,
                )?))),
                uri,
                compression: cfg.compression,
            }))
        }
        #[allow(unreachable_patterns)]
        _ => {
            let _ = (runtime, health);
            Err(ConfigError::TransportDisabled {
                protocol: cfg.protocol.as_str(),
                feature: super::otlp::feature_of(cfg.protocol),
            })
        }
    }
}

impl MetricSink for OtlpMetrics {
    async fn export(&self, request: ExportMetricsServiceRequest) -> OTelSdkResult {
        match self {
            #[cfg(feature = "grpc")]
            OtlpMetrics::Grpc(grpc) => grpc.export(request).await,
            #[cfg(feature = "http-proto")]
            OtlpMetrics::Http(http) => http.export(request).await,
        }
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        match self {
            #[cfg(feature = "grpc")]
            OtlpMetrics::Grpc(grpc) => take(&grpc.client),
            #[cfg(feature = "http-proto")]
            OtlpMetrics::Http(http) => take(&http.client),
        }
    }
}

/// Drops the client: later exports fail as shut down.
fn take<T>(client: &Mutex<Option<T>>) -> OTelSdkResult {
    client
        .lock()
        .map_err(|_| OTelSdkError::InternalFailure("metric exporter lock poisoned".into()))?
        .take();
    Ok(())
}

#[cfg(feature = "grpc")]
use grpc::{Client, GrpcMetrics, MetricsServiceClient};

#[cfg(feature = "grpc")]
mod grpc {
    use std::sync::Mutex;

    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    pub(super) use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
    use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
    use tonic::service::Interceptor;
    use tonic::transport::Channel;

    /// The gRPC client and the interceptor that sets the configured headers.
    pub(crate) struct Client {
        pub(super) service: MetricsServiceClient<Channel>,
        pub(super) interceptor: Box<dyn Interceptor + Send>,
    }

    /// Metric export over gRPC; `None` after shutdown.
    pub(crate) struct GrpcMetrics {
        pub(super) client: Mutex<Option<Client>>,
    }

    impl GrpcMetrics {
        pub(super) async fn export(&self, request: ExportMetricsServiceRequest) -> OTelSdkResult {
            let (mut service, metadata, extensions) = {
                let mut guard = self.client.lock().map_err(|_| {
                    OTelSdkError::InternalFailure("metric exporter lock poisoned".into())
                })?;
                let client = guard.as_mut().ok_or(OTelSdkError::AlreadyShutdown)?;
                let (metadata, extensions, ()) = client
                    .interceptor
                    .call(tonic::Request::new(()))
                    .map_err(|status| failure(&status))?
                    .into_parts();
                (client.service.clone(), metadata, extensions)
            };
            service
                .export(tonic::Request::from_parts(metadata, extensions, request))
                .await
                .map(|_| ())
                .map_err(|status| failure(&status))
        }
    }

    /// The gRPC code and, for a locally generated status (connection
    /// refused, TLS), its causes; never the server's message, which may
    /// echo credentials.
    fn failure(status: &tonic::Status) -> OTelSdkError {
        let mut message = format!("metrics export failed with gRPC code: {:?}", status.code());
        if let Some(source) = std::error::Error::source(status) {
            message.push_str(": ");
            message.push_str(&super::super::otlp::error_chain(source));
        }
        OTelSdkError::InternalFailure(message)
    }
}

/// Metric export over HTTP/protobuf; the client is `None` after shutdown.
#[cfg(feature = "http-proto")]
pub(crate) struct HttpMetrics {
    client: Mutex<Option<Arc<super::otlp::HeaderOverrideClient>>>,
    uri: http::Uri,
    compression: Compression,
}

#[cfg(feature = "http-proto")]
impl HttpMetrics {
    async fn export(&self, request: ExportMetricsServiceRequest) -> OTelSdkResult {
        use opentelemetry_http::HttpClient as _;
        use prost::Message as _;

        let client = self
            .client
            .lock()
            .map_err(|_| OTelSdkError::InternalFailure("metric exporter lock poisoned".into()))?
            .clone()
            .ok_or(OTelSdkError::AlreadyShutdown)?;
        let body = request.encode_to_vec();
        let builder = http::Request::builder()
            .method(http::Method::POST)
            .uri(self.uri.clone())
            .header(http::header::CONTENT_TYPE, "application/x-protobuf");
        let (builder, body) = match self.compression {
            #[cfg(feature = "gzip")]
            Compression::Gzip => (
                builder.header(http::header::CONTENT_ENCODING, "gzip"),
                gzip(&body)?,
            ),
            // Refused at resolution without feature `gzip`.
            _ => (builder, body),
        };
        let request = builder
            .body(opentelemetry_http::Bytes::from(body))
            .map_err(|e| OTelSdkError::InternalFailure(format!("metrics export request: {e}")))?;
        // The client notes the transport's cause in the export health.
        let response = client
            .send_bytes(request)
            .await
            .map_err(|_| OTelSdkError::InternalFailure("metrics export: network error".into()))?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(OTelSdkError::InternalFailure(format!(
                "metrics export failed with HTTP status {}",
                response.status()
            )))
        }
    }
}

/// `body` gzip-compressed, as opentelemetry-otlp's HTTP exporter sends it.
#[cfg(all(feature = "http-proto", feature = "gzip"))]
fn gzip(body: &[u8]) -> Result<Vec<u8>, OTelSdkError> {
    use std::io::Write as _;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder
        .write_all(body)
        .and_then(|()| encoder.finish())
        .map_err(|e| OTelSdkError::InternalFailure(format!("metrics export: gzip: {e}")))
}
