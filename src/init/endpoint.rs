//! Where exports go and whom they trust: endpoint URLs and, with feature
//! `tls`, the CA bundle, checked at resolution.

use super::config::Protocol;
#[cfg(feature = "tls")]
use super::config::{ClientIdentity, TrustedCa};
use super::env::OTEL_EXPORTER_OTLP_INSECURE;
#[cfg(feature = "tls")]
use super::env::{
    Env, OTEL_EXPORTER_OTLP_CERTIFICATE, OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE,
    OTEL_EXPORTER_OTLP_CLIENT_KEY, SignalVars,
};
#[cfg(feature = "tls")]
use super::limits::MAX_CA_BUNDLE_BYTES;
#[cfg(feature = "tls")]
use super::settings::{Settings, TlsCa, TlsClient};
#[cfg(feature = "tls")]
use crate::error::echo;
use crate::error::{ConfigError, ConfigSource, echo_endpoint};
#[cfg(feature = "tls")]
use std::sync::Arc;

#[cfg(feature = "tls")]
const SCHEMES: &str = "the scheme must be http:// or https://";
#[cfg(not(feature = "tls"))]
const SCHEMES: &str = "the scheme must be http://";
#[cfg(feature = "tls")]
const MISSING_SCHEME: &str = "missing scheme http:// or https://";
#[cfg(not(feature = "tls"))]
const MISSING_SCHEME: &str = "missing scheme http://";

/// The endpoint `value` as exports will use it. A gRPC endpoint without
/// scheme (`host:port`) gets `https://`, or `http://` when `insecure`.
pub(crate) fn checked_endpoint(
    value: &str,
    protocol: Protocol,
    insecure: bool,
    source_of: ConfigSource,
) -> Result<String, ConfigError> {
    let v = value.trim();
    if protocol != Protocol::Grpc || has_scheme(v) {
        return validate_endpoint(v, source_of).map(|()| v.to_owned());
    }
    // Schemeless means `host:port` here; anything else is judged as the URL
    // it was probably meant to be.
    let scheme = if insecure { "http" } else { "https" };
    let full = format!("{scheme}://{v}");
    let invalid = |reason: String| ConfigError::InvalidEndpoint {
        value: echo_endpoint(v),
        source_of: source_of.clone(),
        reason,
    };
    let uri: http::Uri = full
        .parse()
        .map_err(|_| invalid("not a valid URL".to_owned()))?;
    check_port(&uri).map_err(invalid)?;
    if uri.port().is_none() {
        return Err(invalid(MISSING_SCHEME.to_owned()));
    }
    if !insecure && !cfg!(feature = "tls") {
        return Err(invalid(format!(
            "a gRPC endpoint without scheme means https, which needs the cargo feature \"tls\" of checkout-otel; write http://{} or set {OTEL_EXPORTER_OTLP_INSECURE}=true",
            echo_endpoint(v)
        )));
    }
    validate_endpoint(&full, source_of.clone())
        .map(|()| full)
        .map_err(|e| match e {
            // Quote what the user wrote.
            ConfigError::InvalidEndpoint { reason, .. } => invalid(reason),
            other => other,
        })
}

/// An absolute `http://host[:port][/path]` URL, or `https://` with feature
/// `tls`. Without it `https` is refused: a clear error beats exports that
/// fail later.
fn validate_endpoint(value: &str, source_of: ConfigSource) -> Result<(), ConfigError> {
    let invalid = |reason: &str| ConfigError::InvalidEndpoint {
        value: echo_endpoint(value),
        source_of: source_of.clone(),
        reason: reason.to_owned(),
    };
    let uri: http::Uri = value
        .trim()
        .parse()
        .map_err(|_| invalid("not a valid URL"))?;
    match uri.scheme_str() {
        Some("http") => {}
        #[cfg(feature = "tls")]
        Some("https") => {}
        #[cfg(not(feature = "tls"))]
        Some("https") => {
            return Err(invalid(
                "https needs TLS: enable the cargo feature \"tls\" of checkout-otel, or use http:// to a local collector or agent",
            ));
        }
        Some(_) => return Err(invalid(SCHEMES)),
        None => return Err(invalid(MISSING_SCHEME)),
    }
    match uri.host() {
        Some(h) if !h.is_empty() => {}
        _ => return Err(invalid("missing host")),
    }
    check_port(&uri).map_err(|reason| invalid(&reason))
}

/// A port, if the URL has one, in 1..=65535. The URL parser accepts any
/// digits there (and then reports no port at all).
fn check_port(uri: &http::Uri) -> Result<(), String> {
    let Some(authority) = uri.authority() else {
        return Ok(());
    };
    let host_port = authority.as_str().rsplit('@').next().unwrap_or_default();
    // An IPv6 literal holds colons of its own: only what follows `]` counts.
    let after_host = match host_port.rfind(']') {
        Some(end) => &host_port[end + 1..],
        None => host_port,
    };
    let Some((_, port)) = after_host.rsplit_once(':') else {
        return Ok(());
    };
    if port.is_empty() {
        return Ok(());
    }
    match port.parse::<u16>() {
        Ok(1..) => Ok(()),
        _ => Err(format!(
            "port {} is out of range (1 to 65535)",
            crate::error::echo(port)
        )),
    }
}

/// Whether `endpoint` starts with a scheme (`x://`), as opentelemetry-otlp decides it.
fn has_scheme(endpoint: &str) -> bool {
    endpoint
        .split_once("://")
        .is_some_and(|(scheme, _)| !scheme.contains(['/', '?', '#']))
}

/// The CA bundle of one signal: builder, then the signal variable, then the
/// generic one; every file named is read and checked, so a wrong path is an
/// error. `None`: the system's trust store.
#[cfg(feature = "tls")]
pub(crate) fn trusted_ca(
    s: &Settings,
    env: &Env<'_>,
    vars: &SignalVars,
) -> Result<Option<TrustedCa>, ConfigError> {
    let from_env = |var: &'static str| {
        env.parse(var, |path, source_of| {
            read_ca_file(std::path::Path::new(path.trim()), source_of)
        })
    };
    let signal_ca = from_env(vars.certificate)?;
    let generic_ca = from_env(OTEL_EXPORTER_OTLP_CERTIFICATE)?;
    let builder_ca = match &s.tls_ca {
        Some(TlsCa::Pem(pem)) => Some(check_ca(
            pem.clone(),
            ConfigSource::Builder("tls_ca_certificate_pem"),
        )?),
        Some(TlsCa::File(path)) => Some(read_ca_file(path, ConfigSource::Builder("tls_ca_file"))?),
        None => None,
    };
    Ok(builder_ca.or(signal_ca).or(generic_ca))
}

/// The client certificate and key of one signal (mutual TLS): the
/// builder's pair, else each file from its signal variable, then the
/// generic one. Both or neither; every file named is read and checked, even
/// when the builder's pair overrides it.
#[cfg(feature = "tls")]
pub(crate) fn client_identity(
    s: &Settings,
    env: &Env<'_>,
    vars: &SignalVars,
) -> Result<Option<ClientIdentity>, ConfigError> {
    let part = |var: &'static str, check: CheckPart| {
        env.parse(var, |path, source_of| {
            let path = std::path::Path::new(path.trim());
            let pem = read_pem_file(path, |reason| ConfigError::InvalidClientIdentity {
                source_of: source_of.clone(),
                reason,
            })?;
            check(&pem, &source_of, &path.display().to_string())?;
            Ok((pem, source_of))
        })
    };
    let env_cert = part(vars.client_certificate, check_certificates)?.or(part(
        OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE,
        check_certificates,
    )?);
    let env_key =
        part(vars.client_key, check_key)?.or(part(OTEL_EXPORTER_OTLP_CLIENT_KEY, check_key)?);
    let env_identity = match (env_cert, env_key) {
        (Some((certificate, source_of)), Some((key, _))) => Some(ClientIdentity {
            certificate,
            key,
            source_of,
        }),
        (None, None) => None,
        (Some((_, source_of)), None) => {
            return Err(ConfigError::InvalidClientIdentity {
                source_of,
                reason: format!(
                    "a client certificate without its key: set {} or {OTEL_EXPORTER_OTLP_CLIENT_KEY} too",
                    vars.client_key
                ),
            });
        }
        (None, Some((_, source_of))) => {
            return Err(ConfigError::InvalidClientIdentity {
                source_of,
                reason: format!(
                    "a client key without its certificate: set {} or {OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE} too",
                    vars.client_certificate
                ),
            });
        }
    };
    let builder_identity = match &s.tls_client {
        Some(TlsClient::Pem { certificate, key }) => {
            let source_of = ConfigSource::Builder("tls_client_identity_pem");
            check_certificates(certificate, &source_of, "the certificate")?;
            check_key(&key.0, &source_of, "the key")?;
            Some(ClientIdentity {
                certificate: certificate.clone(),
                key: key.0.clone(),
                source_of,
            })
        }
        Some(TlsClient::Files { certificate, key }) => {
            let source_of = ConfigSource::Builder("tls_client_identity_files");
            let read = |path: &std::path::Path, check: CheckPart| {
                let pem = read_pem_file(path, |reason| ConfigError::InvalidClientIdentity {
                    source_of: source_of.clone(),
                    reason,
                })?;
                check(&pem, &source_of, &path.display().to_string()).map(|()| pem)
            };
            Some(ClientIdentity {
                certificate: read(certificate, check_certificates)?,
                key: read(key, check_key)?,
                source_of: source_of.clone(),
            })
        }
        None => None,
    };
    Ok(builder_identity.or(env_identity))
}

/// Checks one half of a client identity; `name` is how errors show it.
#[cfg(feature = "tls")]
type CheckPart = fn(&[u8], &ConfigSource, &str) -> Result<(), ConfigError>;

/// At least one certificate, every block well-formed. Errors name the file.
#[cfg(feature = "tls")]
fn check_certificates(pem: &[u8], source_of: &ConfigSource, name: &str) -> Result<(), ConfigError> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let invalid = |reason: String| ConfigError::InvalidClientIdentity {
        source_of: source_of.clone(),
        reason: format!("{}: {reason}", echo(name)),
    };
    let mut count = 0;
    for cert in CertificateDer::pem_slice_iter(pem) {
        cert.map_err(|e| invalid(format!("malformed PEM ({e})")))?;
        count += 1;
    }
    if count == 0 {
        return Err(invalid("no PEM CERTIFICATE block found".to_owned()));
    }
    Ok(())
}

/// A well-formed private key; errors name the file, never quote the key.
#[cfg(feature = "tls")]
fn check_key(pem: &[u8], source_of: &ConfigSource, name: &str) -> Result<(), ConfigError> {
    use rustls_pki_types::PrivateKeyDer;
    use rustls_pki_types::pem::PemObject;
    PrivateKeyDer::from_pem_slice(pem)
        .map(drop)
        .map_err(|_| ConfigError::InvalidClientIdentity {
            source_of: source_of.clone(),
            reason: format!(
                "{}: no well-formed PEM private key found (PKCS#8, PKCS#1 or SEC1)",
                echo(name)
            ),
        })
}

/// Reads at most [`MAX_CA_BUNDLE_BYTES`] + 1 bytes of a PEM file (the path
/// may name a device or a pipe); more is an error.
#[cfg(feature = "tls")]
fn read_pem_file(
    path: &std::path::Path,
    invalid: impl Fn(String) -> ConfigError,
) -> Result<Arc<[u8]>, ConfigError> {
    use std::io::Read as _;
    let shown = echo(&path.display().to_string());
    let mut pem = Vec::new();
    std::fs::File::open(path)
        .and_then(|file| {
            file.take(MAX_CA_BUNDLE_BYTES as u64 + 1)
                .read_to_end(&mut pem)
        })
        .map_err(|e| invalid(format!("cannot read {shown}: {e}")))?;
    if pem.len() > MAX_CA_BUNDLE_BYTES {
        return Err(invalid(format!(
            "{shown}: larger than {MAX_CA_BUNDLE_BYTES} bytes (MAX_CA_BUNDLE_BYTES)"
        )));
    }
    Ok(pem.into())
}

/// Reads and checks a PEM CA bundle.
#[cfg(feature = "tls")]
fn read_ca_file(path: &std::path::Path, source_of: ConfigSource) -> Result<TrustedCa, ConfigError> {
    let pem = read_pem_file(path, |reason| ConfigError::InvalidCertificate {
        source_of: source_of.clone(),
        reason,
    })?;
    check_ca(pem, source_of).map_err(|e| match e {
        ConfigError::InvalidCertificate { source_of, reason } => ConfigError::InvalidCertificate {
            source_of,
            reason: format!("{}: {reason}", echo(&path.display().to_string())),
        },
        other => other,
    })
}

/// A bundle must hold at least one well-formed PEM `CERTIFICATE` block
/// (other blocks, such as a private key, are ignored).
#[cfg(feature = "tls")]
fn check_ca(pem: Arc<[u8]>, source_of: ConfigSource) -> Result<TrustedCa, ConfigError> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let invalid = |reason: String| ConfigError::InvalidCertificate {
        source_of: source_of.clone(),
        reason,
    };
    if pem.len() > MAX_CA_BUNDLE_BYTES {
        return Err(invalid(format!(
            "larger than {MAX_CA_BUNDLE_BYTES} bytes (MAX_CA_BUNDLE_BYTES)"
        )));
    }
    let mut count = 0;
    for cert in CertificateDer::pem_slice_iter(&pem) {
        cert.map_err(|e| invalid(format!("malformed PEM ({e})")))?;
        count += 1;
    }
    if count == 0 {
        return Err(invalid("no PEM CERTIFICATE block found".to_owned()));
    }
    Ok(TrustedCa { pem, source_of })
}
