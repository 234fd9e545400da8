//! The OTLP log exporter, built from the resolved configuration like the
//! span exporter (see [`otlp`](super::otlp)): the same channel, interceptor,
//! HTTP client, endpoint, headers, TLS and timeout rules.

use std::sync::Arc;

use opentelemetry_otlp::WithExportConfig;

use super::accounted::ExportHealth;
use super::config::{OtlpSignalConfig, Protocol};
use super::otlp::feature_of;
use super::runtime::ExportRuntime;
use crate::error::ConfigError;

/// The OTLP log exporter for `cfg`.
pub(crate) fn log_exporter(
    cfg: &OtlpSignalConfig,
    runtime: Option<&Arc<ExportRuntime>>,
    health: &Arc<ExportHealth>,
) -> Result<opentelemetry_otlp::LogExporter, ConfigError> {
    let builder = opentelemetry_otlp::LogExporter::builder();
    let result = match cfg.protocol {
        #[cfg(feature = "grpc")]
        Protocol::Grpc => {
            use opentelemetry_otlp::WithTonicConfig;
            let _ = health;
            let (channel, interceptor) = super::otlp::grpc_parts(cfg, runtime, "logs")?;
            builder
                .with_tonic()
                .with_channel(channel)
                .with_interceptor(interceptor)
                .with_timeout(cfg.timeout)
                .build()
        }
        #[cfg(feature = "http-proto")]
        Protocol::HttpProtobuf => {
            use opentelemetry_otlp::WithHttpConfig;
            let _ = runtime;
            builder
                .with_http()
                .with_http_client(super::otlp::http_client(cfg, "logs", health)?)
                .with_endpoint(cfg.endpoint.clone())
                .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                .with_timeout(cfg.timeout)
                .build()
        }
        #[allow(unreachable_patterns)]
        _ => {
            return Err(ConfigError::TransportDisabled {
                protocol: cfg.protocol.as_str(),
                feature: feature_of(cfg.protocol),
            });
        }
    };
    result.map_err(|source| ConfigError::Exporter {
        signal: "logs",
        source,
    })
}
