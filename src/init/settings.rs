//! What the builder was told, in one struct: the builder writes it and
//! resolution reads it. `None` means "not set here": the environment or the
//! default decides.

use std::fmt;
#[cfg(feature = "tls")]
use std::sync::Arc;
use std::time::Duration;

use opentelemetry::KeyValue;

use super::config::{Compression, Exporter, Protocol, Sampler};
use crate::error::echo_endpoint;

/// Every builder setting. Its `Debug` hides secrets: header values, the
/// user-hash key and credentials in the endpoint are never shown.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) service_name: String,
    pub(crate) service_version: Option<String>,
    pub(crate) environment: Option<String>,
    pub(crate) namespace: Option<String>,
    pub(crate) resource_attributes: Vec<KeyValue>,
    pub(crate) endpoint: Option<Endpoint>,
    pub(crate) protocol: Option<Protocol>,
    pub(crate) headers: Headers,
    pub(crate) timeout: Option<Duration>,
    pub(crate) compression: Option<Compression>,
    #[cfg(feature = "tls")]
    pub(crate) tls_ca: Option<TlsCa>,
    #[cfg(feature = "tls")]
    pub(crate) tls_client: Option<TlsClient>,
    pub(crate) traces_exporter: Option<Exporter>,
    pub(crate) metrics_exporter: Option<Exporter>,
    pub(crate) logs_exporter: Option<Exporter>,
    pub(crate) sampler: Option<Sampler>,
    pub(crate) metric_export_interval: Option<Duration>,
    pub(crate) shutdown_timeout: Option<Duration>,
    pub(crate) span_queue_size: Option<usize>,
    pub(crate) tracing_bridge: bool,
    pub(crate) log_output: bool,
    pub(crate) log_trace_ids: bool,
    pub(crate) exception_signal: Option<crate::spans::ExceptionSignal>,
    pub(crate) span_details: bool,
    /// The OpenTelemetry layer's `tracing` directives.
    pub(crate) tracing_filter: Option<String>,
    /// The deprecated `console_output`: for a signal without a configured
    /// endpoint, the 0.1 behaviour (traces to the waterfall or nowhere,
    /// metrics nowhere).
    pub(crate) console_output: Option<bool>,
    pub(crate) redaction: bool,
    /// `Some`: strict redaction, with these keys allowed beside the contract.
    pub(crate) strict_allow: Option<Vec<String>>,
    pub(crate) user_hash_key: Option<Secret>,
    /// `Some`: the hosts given inbound baggage and tracestate, replacing
    /// the environment's list.
    pub(crate) propagation_allowed_hosts: Option<Vec<String>>,
    /// Whether spans and links keep their `tracestate` on export.
    pub(crate) export_tracestate: bool,
    pub(crate) resource_detection: super::resource::ResourceDetection,
}

impl Settings {
    /// The defaults: nothing set but the name, bridge and log output on,
    /// redaction on.
    pub(crate) fn new(service_name: String) -> Self {
        Settings {
            service_name,
            service_version: None,
            environment: None,
            namespace: None,
            resource_attributes: Vec::new(),
            endpoint: None,
            protocol: None,
            headers: Headers::default(),
            timeout: None,
            compression: None,
            #[cfg(feature = "tls")]
            tls_ca: None,
            #[cfg(feature = "tls")]
            tls_client: None,
            traces_exporter: None,
            metrics_exporter: None,
            logs_exporter: None,
            sampler: None,
            metric_export_interval: None,
            shutdown_timeout: None,
            span_queue_size: None,
            tracing_bridge: true,
            log_output: true,
            log_trace_ids: true,
            exception_signal: None,
            span_details: false,
            tracing_filter: None,
            console_output: None,
            redaction: true,
            strict_allow: None,
            user_hash_key: None,
            propagation_allowed_hosts: None,
            export_tracestate: false,
            resource_detection: Default::default(),
        }
    }
}

/// An endpoint URL as given; `Debug` masks user info and query.
#[derive(Clone)]
pub(crate) struct Endpoint(pub(crate) String);

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&echo_endpoint(&self.0))
    }
}

/// Export headers in the order given; `Debug` shows the names only (the
/// values are usually credentials).
#[derive(Clone, Default)]
pub(crate) struct Headers(pub(crate) Vec<(String, String)>);

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(name, _)| name))
            .finish()
    }
}

/// A secret as given; `Debug` never shows it.
#[derive(Clone)]
pub(crate) struct Secret<T = String>(pub(crate) T);

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// The CA certificates to trust for `https://` endpoints, as the builder
/// was given them (feature `tls`).
#[cfg(feature = "tls")]
#[derive(Clone)]
pub(crate) enum TlsCa {
    /// PEM bytes from `tls_ca_certificate_pem`.
    Pem(Arc<[u8]>),
    /// A PEM file from `tls_ca_file`.
    File(std::path::PathBuf),
}

/// The client certificate chain and private key presented to the collector
/// (mutual TLS, feature `tls`), as the builder was given them.
#[cfg(feature = "tls")]
#[derive(Clone)]
pub(crate) enum TlsClient {
    /// PEM bytes from `tls_client_identity_pem`.
    Pem {
        certificate: Arc<[u8]>,
        key: Secret<Arc<[u8]>>,
    },
    /// PEM files from `tls_client_identity_files`.
    Files {
        certificate: std::path::PathBuf,
        key: std::path::PathBuf,
    },
}

#[cfg(feature = "tls")]
impl fmt::Debug for TlsClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsClient::Pem { certificate, .. } => {
                write!(f, "Pem({} bytes, key <redacted>)", certificate.len())
            }
            TlsClient::Files { certificate, key } => f
                .debug_struct("Files")
                .field("certificate", certificate)
                .field("key", key)
                .finish(),
        }
    }
}

#[cfg(feature = "tls")]
impl fmt::Debug for TlsCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsCa::Pem(pem) => write!(f, "Pem({} bytes)", pem.len()),
            TlsCa::File(path) => f.debug_tuple("File").field(path).finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_secrets() {
        let mut s = Settings::new("svc".into());
        s.endpoint = Some(Endpoint(
            "https://ops:hunter2@collector:4318?key=abc".into(),
        ));
        s.headers.0.push(("x-api-key".into(), "tok-123".into()));
        s.user_hash_key = Some(Secret("raw:my very secret user hash key...".into()));
        let shown = format!("{s:?}");
        for secret in ["hunter2", "abc", "tok-123", "very secret"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(shown.contains("x-api-key") && shown.contains("collector:4318"));
    }
}
