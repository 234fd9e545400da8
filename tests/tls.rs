//! OTLP over TLS (feature `tls`): spans and metrics reach an in-process
//! receiver over `https://`, gRPC and HTTP/protobuf, with a self-signed
//! certificate generated per run and trusted through the builder or
//! `OTEL_EXPORTER_OTLP_CERTIFICATE`; an untrusted certificate makes the export
//! fail, counted and reported; a bad CA bundle is an error naming its source.
#![cfg(feature = "tls")]

mod common;

use std::time::Duration;

use checkout_otel::attributes::{
    CHECKOUT_PROCESS, CHECKOUT_STATUS, METRIC_CHECKOUT_COMPLETED, SERVICE_NAME,
};
use checkout_otel::error::{ConfigError, ConfigSource};
use checkout_otel::init::{Protocol, Telemetry, TelemetryBuilder, TelemetryGuard};
use common::receiver::Receiver;
use opentelemetry::KeyValue;
use opentelemetry::trace::{Span, Tracer};

const WAIT: Duration = Duration::from_secs(10);
const PROTOCOLS: [Protocol; 2] = [Protocol::Grpc, Protocol::HttpProtobuf];

/// A self-signed certificate for 127.0.0.1 with its own subject name (so
/// that another one is an unknown issuer, not a look-alike): (certificate
/// PEM, key PEM).
fn self_signed(name: &str) -> (String, String) {
    let mut params =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()]).expect("certificate params");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    let key = rcgen::KeyPair::generate().expect("key pair");
    let cert = params.self_signed(&key).expect("self-sign");
    (cert.pem(), key.serialize_pem())
}

fn receiver(protocol: Protocol, cert: &str, key: &str) -> Receiver {
    match protocol {
        Protocol::Grpc => Receiver::grpc_tls(cert, key),
        _ => Receiver::http_tls(cert, key),
    }
}

fn builder(service: &str, receiver: &Receiver, protocol: Protocol) -> TelemetryBuilder {
    Telemetry::builder(service)
        .endpoint(receiver.https_endpoint())
        .protocol(protocol)
        .timeout(Duration::from_secs(2))
        .shutdown_timeout(Duration::from_secs(8))
}

fn emit(guard: &TelemetryGuard) {
    let mut span = guard.sdk_tracer().start(CHECKOUT_PROCESS);
    span.set_attribute(KeyValue::new(CHECKOUT_STATUS, "success"));
    span.end();
    guard
        .meter()
        .u64_counter(METRIC_CHECKOUT_COMPLETED)
        .build()
        .add(1, &[KeyValue::new(CHECKOUT_STATUS, "success")]);
}

/// Emits and flushes, then asserts the span and the metric arrived over
/// TLS, intact.
fn assert_exported(guard: &TelemetryGuard, receiver: &Receiver, service: &str, protocol: Protocol) {
    emit(guard);
    guard.force_flush().expect("flush over TLS");
    let r = receiver.wait_for(WAIT, |r| {
        !r.spans().is_empty() && !r.metric_names().is_empty()
    });
    let span = r
        .span(CHECKOUT_PROCESS)
        .unwrap_or_else(|| panic!("{protocol}: span received"));
    assert_eq!(span.resource[SERVICE_NAME], service, "{protocol}");
    assert_eq!(
        span.attr(CHECKOUT_STATUS).as_deref(),
        Some("success"),
        "{protocol}"
    );
    assert_eq!(r.spans().len(), 1, "{protocol}");
    assert!(
        r.metric_names()
            .contains(&METRIC_CHECKOUT_COMPLETED.to_owned()),
        "{protocol}: {:?}",
        r.metric_names()
    );
    if protocol == Protocol::HttpProtobuf {
        assert!(r.paths.contains(&"/v1/traces".to_owned()), "{:?}", r.paths);
        assert_eq!(r.tls_handshake_failures, 0);
    }
    let stats = guard.span_export_stats();
    assert_eq!(
        (stats.exported, stats.failed),
        (1, 0),
        "{protocol}: {stats:?}"
    );
}

#[test]
fn exports_over_tls_with_the_ca_from_the_builder() {
    let (cert, key) = self_signed("checkout-otel test receiver");
    for protocol in PROTOCOLS {
        let receiver = receiver(protocol, &cert, &key);
        let guard = builder("checkout-tls", &receiver, protocol)
            .tls_ca_certificate_pem(cert.clone())
            .with_env(Vec::<(String, String)>::new())
            .build()
            .expect("build");
        assert_eq!(
            guard.config().traces().unwrap().tls_ca_source(),
            Some(&ConfigSource::Builder("tls_ca_certificate_pem"))
        );
        assert_exported(&guard, &receiver, "checkout-tls", protocol);
        guard.shutdown().expect("clean shutdown");
    }
}

#[test]
fn exports_over_tls_with_the_ca_from_a_file() {
    let (cert, key) = self_signed("checkout-otel test receiver");
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("ca.pem");
    std::fs::write(&path, &cert).expect("write CA");
    let path = path.to_str().expect("UTF-8 path").to_owned();

    for protocol in PROTOCOLS {
        // The generic variable, the per-signal variables, and the builder's file.
        let setups: [(&str, TelemetryBuilder, ConfigSource); 3] = [
            (
                "env",
                Telemetry::builder("").with_env([
                    ("OTEL_SERVICE_NAME", "checkout-tls-env"),
                    ("OTEL_EXPORTER_OTLP_CERTIFICATE", path.as_str()),
                ]),
                ConfigSource::Env("OTEL_EXPORTER_OTLP_CERTIFICATE"),
            ),
            (
                "signal env",
                Telemetry::builder("").with_env([
                    ("OTEL_SERVICE_NAME", "checkout-tls-signal-env"),
                    ("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", path.as_str()),
                    ("OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE", path.as_str()),
                ]),
                ConfigSource::Env("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE"),
            ),
            (
                "file",
                Telemetry::builder("checkout-tls-file")
                    .tls_ca_file(&path)
                    .with_env(Vec::<(String, String)>::new()),
                ConfigSource::Builder("tls_ca_file"),
            ),
        ];
        for (what, b, source) in setups {
            let receiver = receiver(protocol, &cert, &key);
            let guard = b
                .endpoint(receiver.https_endpoint())
                .protocol(protocol)
                .timeout(Duration::from_secs(2))
                .shutdown_timeout(Duration::from_secs(8))
                .build()
                .unwrap_or_else(|e| panic!("{protocol} {what}: {e}"));
            assert_eq!(
                guard.config().traces().unwrap().tls_ca_source(),
                Some(&source),
                "{protocol} {what}"
            );
            let service = guard.config().service_name().to_owned();
            assert_exported(&guard, &receiver, &service, protocol);
            guard.shutdown().expect("clean shutdown");
        }
    }
}

#[test]
fn an_untrusted_certificate_fails_the_export_and_is_reported() {
    let (cert, key) = self_signed("checkout-otel test receiver");
    // The exporter trusts another self-signed certificate, not the server's.
    let (other_ca, _) = self_signed("another test CA");
    for protocol in PROTOCOLS {
        let receiver = receiver(protocol, &cert, &key);
        let guard = builder("checkout-untrusted", &receiver, protocol)
            .tls_ca_certificate_pem(other_ca.clone())
            .with_env(Vec::<(String, String)>::new())
            .build()
            .expect("build");
        emit(&guard);
        match guard.force_flush() {
            Err(e) => {
                assert_eq!(e.traces().failed_exports, 1, "{protocol}: {e:?}");
                assert!(!e.metrics().is_ok(), "{protocol}: {e:?}");
                let msg = e.to_string();
                assert!(
                    msg.contains("traces: 1 export(s) failed during flush"),
                    "{protocol}: {msg}"
                );
                assert!(msg.contains("metrics: "), "{protocol}: {msg}");
                // Why, not just "network error".
                assert!(msg.contains("UnknownIssuer"), "{protocol}: {msg}");
            }
            other => panic!("{protocol}: expected the failed export reported, got {other:?}"),
        }
        let stats = guard.span_export_stats();
        assert_eq!(
            (stats.exported, stats.failed),
            (0, 1),
            "{protocol}: {stats:?}"
        );
        let r = receiver.received();
        assert!(r.traces.is_empty() && r.metrics.is_empty(), "{protocol}");
        if protocol == Protocol::HttpProtobuf {
            // The server saw the client abort the handshake.
            assert!(r.tls_handshake_failures >= 1, "{r:?}");
        }
        drop(guard);
    }
}

#[test]
fn a_bad_ca_bundle_is_an_error_naming_its_source() {
    let (cert, key) = self_signed("checkout-otel test receiver");
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("missing.pem");
    let missing = missing.to_str().expect("UTF-8 path");
    let key_only = dir.path().join("key.pem");
    std::fs::write(&key_only, &key).expect("write key");
    let key_only = key_only.to_str().expect("UTF-8 path");
    let garbage = "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n";

    let cases: Vec<(TelemetryBuilder, ConfigSource, &str)> = vec![
        (
            Telemetry::builder("s").with_env([("OTEL_EXPORTER_OTLP_CERTIFICATE", missing)]),
            ConfigSource::Env("OTEL_EXPORTER_OTLP_CERTIFICATE"),
            "cannot read",
        ),
        (
            Telemetry::builder("s")
                .with_env([("OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE", key_only)]),
            ConfigSource::Env("OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE"),
            "no PEM CERTIFICATE block",
        ),
        (
            Telemetry::builder("s")
                .tls_ca_certificate_pem(garbage)
                .with_env(Vec::<(String, String)>::new()),
            ConfigSource::Builder("tls_ca_certificate_pem"),
            "malformed PEM",
        ),
        (
            Telemetry::builder("s")
                .tls_ca_file(missing)
                .with_env(Vec::<(String, String)>::new()),
            ConfigSource::Builder("tls_ca_file"),
            "missing.pem",
        ),
        // A bad variable is reported even when the builder's CA overrides it.
        (
            Telemetry::builder("s")
                .tls_ca_certificate_pem(cert.clone())
                .with_env([("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", key_only)]),
            ConfigSource::Env("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE"),
            "key.pem",
        ),
    ];
    for (b, expected_source, why) in cases {
        let b = b.endpoint("https://127.0.0.1:4317");
        match b.resolve().unwrap_err() {
            ConfigError::InvalidCertificate { source_of, reason } => {
                assert_eq!(source_of, expected_source);
                assert!(reason.contains(why), "{expected_source:?}: {reason}");
            }
            other => panic!("{expected_source:?}: {other:?}"),
        }
    }
}

#[test]
fn the_signal_variable_wins_over_the_generic_one_per_signal() {
    let (cert, _) = self_signed("checkout-otel test receiver");
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("ca.pem");
    std::fs::write(&path, &cert).expect("write CA");
    let path = path.to_str().expect("UTF-8 path");
    let config = Telemetry::builder("s")
        .endpoint("https://collector.example:4317")
        .with_env([
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", path),
            ("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", path),
        ])
        .resolve()
        .expect("resolve");
    assert_eq!(
        config.traces().unwrap().tls_ca_source(),
        Some(&ConfigSource::Env("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE"))
    );
    assert_eq!(
        config.metrics().unwrap().tls_ca_source(),
        Some(&ConfigSource::Env("OTEL_EXPORTER_OTLP_CERTIFICATE"))
    );
    // Without any, the system's trust store.
    let config = Telemetry::builder("s")
        .endpoint("https://collector.example:4317")
        .with_env(Vec::<(String, String)>::new())
        .resolve()
        .expect("resolve");
    assert_eq!(config.traces().unwrap().tls_ca_source(), None);
    assert_eq!(
        config.traces().unwrap().endpoint(),
        "https://collector.example:4317"
    );
}

#[test]
fn a_grpc_endpoint_without_scheme_uses_tls() {
    let (cert, key) = self_signed("checkout-otel test receiver");
    let receiver = Receiver::grpc_tls(&cert, &key);
    let host_port = receiver
        .https_endpoint()
        .trim_start_matches("https://")
        .to_owned();
    let guard = Telemetry::builder("checkout-tls-schemeless")
        .endpoint(&host_port)
        .timeout(Duration::from_secs(2))
        .shutdown_timeout(Duration::from_secs(8))
        .tls_ca_certificate_pem(cert.clone())
        .with_env([("OTEL_EXPORTER_OTLP_INSECURE", "false")])
        .build()
        .expect("build");
    assert_eq!(
        guard.config().traces().unwrap().endpoint(),
        receiver.https_endpoint()
    );
    assert_exported(&guard, &receiver, "checkout-tls-schemeless", Protocol::Grpc);
    guard.shutdown().expect("clean shutdown");
}

// ---------- mutual TLS: client certificates ----------

/// A client CA and a client certificate it signed: (CA PEM, certificate
/// PEM, key PEM).
fn client_identity() -> (String, String, String) {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "checkout-otel test client CA");
    ca_params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let ca =
        rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate().expect("CA key"))
            .expect("CA");
    let mut params =
        rcgen::CertificateParams::new(vec!["checkout-api".to_owned()]).expect("client params");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "checkout-api");
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let key = rcgen::KeyPair::generate().expect("client key");
    let cert = params.signed_by(&key, &ca).expect("client certificate");
    (ca.pem(), cert.pem(), key.serialize_pem())
}

fn mtls_receiver(protocol: Protocol, cert: &str, key: &str, client_ca: &str) -> Receiver {
    match protocol {
        Protocol::Grpc => Receiver::grpc_mtls(cert, key, client_ca),
        _ => Receiver::http_mtls(cert, key, client_ca),
    }
}

#[test]
fn mutual_tls_exports_with_a_client_certificate_from_the_builder_or_files() {
    let (cert, key) = self_signed("checkout-otel test receiver");
    let (client_ca, client_cert, client_key) = client_identity();
    let dir = tempfile::tempdir().expect("temp dir");
    let cert_file = dir.path().join("client.pem");
    let key_file = dir.path().join("client-key.pem");
    std::fs::write(&cert_file, &client_cert).expect("write");
    std::fs::write(&key_file, &client_key).expect("write");
    for protocol in PROTOCOLS {
        let receiver = mtls_receiver(protocol, &cert, &key, &client_ca);
        let guard = builder("checkout-mtls", &receiver, protocol)
            .tls_ca_certificate_pem(cert.clone())
            .tls_client_identity_pem(client_cert.clone(), client_key.clone())
            .with_env(Vec::<(String, String)>::new())
            .build()
            .expect("build");
        assert_eq!(
            guard
                .config()
                .traces()
                .unwrap()
                .tls_client_identity_source(),
            Some(&ConfigSource::Builder("tls_client_identity_pem"))
        );
        assert_exported(&guard, &receiver, "checkout-mtls", protocol);
        guard.shutdown().expect("clean shutdown");

        // The same from the specification's variables.
        let receiver = mtls_receiver(protocol, &cert, &key, &client_ca);
        let guard = builder("checkout-mtls-env", &receiver, protocol)
            .tls_ca_certificate_pem(cert.clone())
            .with_env([
                (
                    "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
                    cert_file.to_str().expect("UTF-8"),
                ),
                (
                    "OTEL_EXPORTER_OTLP_CLIENT_KEY",
                    key_file.to_str().expect("UTF-8"),
                ),
            ])
            .build()
            .expect("build");
        assert_eq!(
            guard
                .config()
                .metrics()
                .unwrap()
                .tls_client_identity_source(),
            Some(&ConfigSource::Env("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE"))
        );
        assert_exported(&guard, &receiver, "checkout-mtls-env", protocol);
        guard.shutdown().expect("clean shutdown");
    }
}

#[test]
fn mutual_tls_without_a_client_certificate_fails_the_export() {
    let (cert, key) = self_signed("checkout-otel test receiver");
    let (client_ca, _, _) = client_identity();
    // A certificate the receiver's client CA did not sign is refused too.
    let (stranger_cert, stranger_key) = self_signed("a stranger");
    for protocol in PROTOCOLS {
        for identity in [None, Some((&stranger_cert, &stranger_key))] {
            let receiver = mtls_receiver(protocol, &cert, &key, &client_ca);
            let mut b = builder("checkout-no-client-cert", &receiver, protocol)
                .tls_ca_certificate_pem(cert.clone())
                .with_env(Vec::<(String, String)>::new());
            if let Some((c, k)) = identity {
                b = b.tls_client_identity_pem(c.clone(), k.clone());
            }
            let guard = b.build().expect("build");
            assert_eq!(
                guard
                    .config()
                    .traces()
                    .unwrap()
                    .tls_client_identity_source(),
                identity.map(|_| &ConfigSource::Builder("tls_client_identity_pem"))
            );
            emit(&guard);
            let e = guard
                .force_flush()
                .expect_err("the receiver requires a client certificate");
            assert_eq!(e.traces().failed_exports, 1, "{protocol}: {e:?}");
            assert!(!e.metrics().is_ok(), "{protocol}: {e:?}");
            let stats = guard.span_export_stats();
            assert_eq!((stats.exported, stats.failed), (0, 1), "{protocol}");
            let r = receiver.received();
            assert!(r.traces.is_empty() && r.metrics.is_empty(), "{protocol}");
            drop(guard);
        }
    }
}

#[test]
fn a_bad_client_identity_is_an_error_naming_its_source() {
    let (_, client_cert, client_key) = client_identity();
    let dir = tempfile::tempdir().expect("temp dir");
    let cert_file = dir.path().join("client.pem");
    let key_file = dir.path().join("client-key.pem");
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&cert_file, &client_cert).expect("write");
    std::fs::write(&key_file, &client_key).expect("write");
    std::fs::write(&garbage, "not PEM at all").expect("write");
    let path = |p: &std::path::Path| p.to_str().expect("UTF-8").to_owned();
    let missing = dir.path().join("missing.pem");
    let cases: Vec<(TelemetryBuilder, ConfigSource, &str)> = vec![
        (
            Telemetry::builder("s")
                .with_env([("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", path(&cert_file))]),
            ConfigSource::Env("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE"),
            "without its key",
        ),
        (
            Telemetry::builder("s")
                .with_env([("OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY", path(&key_file))]),
            ConfigSource::Env("OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY"),
            "without its certificate",
        ),
        (
            Telemetry::builder("s").with_env([
                ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", path(&cert_file)),
                ("OTEL_EXPORTER_OTLP_CLIENT_KEY", path(&missing)),
            ]),
            ConfigSource::Env("OTEL_EXPORTER_OTLP_CLIENT_KEY"),
            "missing.pem",
        ),
        (
            Telemetry::builder("s").with_env([
                ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", path(&garbage)),
                ("OTEL_EXPORTER_OTLP_CLIENT_KEY", path(&key_file)),
            ]),
            ConfigSource::Env("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE"),
            "no PEM CERTIFICATE",
        ),
        (
            // A certificate where the key should be.
            Telemetry::builder("s")
                .tls_client_identity_pem(client_cert.clone(), client_cert.clone())
                .with_env(Vec::<(String, String)>::new()),
            ConfigSource::Builder("tls_client_identity_pem"),
            "private key",
        ),
        (
            Telemetry::builder("s")
                .tls_client_identity_files(&cert_file, &missing)
                .with_env(Vec::<(String, String)>::new()),
            ConfigSource::Builder("tls_client_identity_files"),
            "missing.pem",
        ),
        // A bad variable is reported even when the builder's identity overrides it.
        (
            Telemetry::builder("s")
                .tls_client_identity_pem(client_cert.clone(), client_key.clone())
                .with_env([("OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY", path(&garbage))]),
            ConfigSource::Env("OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY"),
            "garbage.pem",
        ),
    ];
    for (b, expected_source, why) in cases {
        match b.endpoint("https://127.0.0.1:4317").resolve().unwrap_err() {
            ConfigError::InvalidClientIdentity { source_of, reason } => {
                assert_eq!(source_of, expected_source, "{why}");
                assert!(reason.contains(why), "{why}: {reason}");
                assert!(!reason.contains("PRIVATE KEY-----"), "{reason}");
            }
            other => panic!("{why}: {other:?}"),
        }
    }
}
