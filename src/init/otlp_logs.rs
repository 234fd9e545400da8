//! The OTLP log exporter, built from the resolved configuration like the
//! span exporter (see [`otlp`](super::otlp)): the same channel, interceptor,
//! HTTP client, endpoint, headers, TLS, timeout and compression rules.

use std::sync::Arc;

use super::accounted::ExportHealth;
use super::config::{OtlpSignalConfig, Protocol};
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
            let _ = health;
            super::otlp::tonic_configured(builder.with_tonic(), cfg, runtime, "logs")?.build()
        }
        #[cfg(feature = "http-proto")]
        Protocol::HttpProtobuf => {
            let _ = runtime;
            super::otlp::http_configured(builder.with_http(), cfg, health, "logs")?.build()
        }
        #[allow(unreachable_patterns)]
        _ => return Err(super::otlp::transport_disabled(cfg)),
    };
    result.map_err(|source| ConfigError::Exporter {
        signal: "logs",
        source,
    })
}
