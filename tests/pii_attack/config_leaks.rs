//! Credentials and PII in configuration: never in the `Debug` of the
//! builder, the resolved configuration or the guard, nor in errors, which
//! quote at most a short, masked prefix of what they refuse.

use std::time::Duration;

use checkout_otel::init::Exporter;
use checkout_otel::init::{Protocol, Telemetry, TelemetryBuilder};
use checkout_otel::opentelemetry::trace::{Span as _, Tracer as _};
use proptest::prelude::*;

use crate::USER_HASH_KEY;
use crate::common::pii_gen;
use crate::common::pii_match;

pub(crate) const PASSWORD: &str = "s3cr3tpass";
pub(crate) const HEADER_SECRET: &str = "hdr-s3cr3t-token";
const ENV_HEADER_SECRET: &str = "env-s3cr3t-val";
const METRICS_PASSWORD: &str = "m3tr1cpass";

pub(crate) fn assert_no_secret(what: &str, text: &str) {
    for secret in [
        PASSWORD,
        HEADER_SECRET,
        ENV_HEADER_SECRET,
        METRICS_PASSWORD,
        "user-hash key",
    ] {
        assert!(
            !text.contains(secret),
            "{what} shows the secret {secret:?}: {text}"
        );
    }
}

/// Credentials in endpoints and headers never appear in `Debug` of the
/// builder, the resolved configuration, the guard, nor in errors.
#[test]
fn credentials_never_show_in_debug_or_errors() {
    let closed = crate::common::receiver::closed_endpoint();
    let with_credentials = closed.replace("http://", &format!("http://user:{PASSWORD}@"));
    let builder = Telemetry::builder("checkout-credentials")
        .endpoint(with_credentials.clone())
        .protocol(Protocol::HttpProtobuf)
        .header("authorization", format!("Bearer {HEADER_SECRET}"))
        .header("x-api-key", HEADER_SECRET)
        .user_hash_key(USER_HASH_KEY)
        .timeout(Duration::from_millis(500))
        .shutdown_timeout(Duration::from_secs(3))
        .with_env([
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                format!("x-env-token={ENV_HEADER_SECRET}"),
            ),
            (
                "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
                closed.replace("http://", &format!("http://muser:{METRICS_PASSWORD}@")),
            ),
        ]);
    assert_no_secret("builder Debug", &format!("{builder:?}"));
    assert_no_secret("builder Debug (pretty)", &format!("{builder:#?}"));
    let config = builder.resolve().expect("a valid configuration");
    assert_no_secret("config Debug", &format!("{config:?}"));
    assert_no_secret("config Debug (pretty)", &format!("{config:#?}"));
    let guard = builder.build().expect("build");
    assert_no_secret("guard Debug", &format!("{guard:?}"));
    assert_no_secret("guard Debug (pretty)", &format!("{guard:#?}"));

    // A failed export to the credentialed endpoint: the error says why
    // without the URL's credentials.
    let mut span = guard.sdk_tracer().start("checkout.process");
    span.end();
    let flushed = guard.force_flush();
    let error = flushed.expect_err("nothing listens at the endpoint");
    assert_no_secret("ShutdownError Display", &error.to_string());
    assert_no_secret("ShutdownError Debug", &format!("{error:?}"));
    let _ = guard.shutdown();

    // Refused endpoints, from the builder and from the environment.
    let refused = [
        format!("ftp://user:{PASSWORD}@collector:4317"),
        format!("http://user:{PASSWORD}@collector:99999"),
        format!("http://user:{PASSWORD}@coll ector:4317"),
        format!("http://user:{PASSWORD}@collector:4317/%zz"),
        format!("user:{PASSWORD}@collector:4317"),
        format!("http://user:{PASSWORD}@"),
    ];
    let mut errors = 0;
    for endpoint in &refused {
        for builder in [
            Telemetry::builder("svc").endpoint(endpoint.clone()),
            Telemetry::builder("svc").with_env([("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.clone())]),
            Telemetry::builder("svc")
                .with_env([("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", endpoint.clone())]),
        ] {
            let builder = builder;
            assert_no_secret("builder Debug", &format!("{builder:?}"));
            if let Err(e) = builder.resolve() {
                errors += 1;
                assert_no_secret("ConfigError Display", &e.to_string());
                assert_no_secret("ConfigError Debug", &format!("{e:?}"));
                let e = checkout_otel::Error::from(e);
                assert_no_secret("Error Display", &e.to_string());
                assert_no_secret("Error Debug", &format!("{e:?}"));
            }
        }
    }
    assert!(
        errors >= 9,
        "only {errors} of the malformed endpoints were refused"
    );

    // Header lists with a malformed entry: the values stay out of the error.
    let e = Telemetry::builder("svc")
        .with_env([(
            "OTEL_EXPORTER_OTLP_HEADERS",
            format!("authorization=Bearer%20{HEADER_SECRET},bad header={ENV_HEADER_SECRET}"),
        )])
        .resolve()
        .expect_err("a header name with a space is refused");
    assert_no_secret("InvalidHeaders Display", &e.to_string());
    assert_no_secret("InvalidHeaders Debug", &format!("{e:?}"));
}

/// The variables and builder inputs a malformed value can reach an error
/// through, with the value in them.
fn refused_inputs(value: &str, path: &str) -> Vec<(&'static str, TelemetryBuilder)> {
    let env = |var: &'static str, v: String| {
        (
            var,
            Telemetry::builder("svc")
                .traces_exporter(Exporter::None)
                .metrics_exporter(Exporter::None)
                .with_env([(var, v)]),
        )
    };
    vec![
        env("OTEL_EXPORTER_OTLP_PROTOCOL", value.to_owned()),
        env("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", value.to_owned()),
        env("OTEL_TRACES_SAMPLER", value.to_owned()),
        env("OTEL_TRACES_SAMPLER_ARG", value.to_owned()),
        env("OTEL_EXPORTER_OTLP_TIMEOUT", value.to_owned()),
        env("OTEL_METRIC_EXPORT_INTERVAL", value.to_owned()),
        env("OTEL_BSP_MAX_QUEUE_SIZE", value.to_owned()),
        env("OTEL_PROPAGATORS", value.to_owned()),
        env("OTEL_SDK_DISABLED", value.to_owned()),
        env("OTEL_EXPORTER_OTLP_INSECURE", value.to_owned()),
        env("CHECKOUT_OTEL_USER_HASH_KEY", value.to_owned()),
        env(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("ftp://collector/{path}"),
        ),
        env(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("http://{value}:4317"),
        ),
        env("OTEL_EXPORTER_OTLP_HEADERS", format!("x-note={path},=x")),
        env("OTEL_RESOURCE_ATTRIBUTES", format!("note=%zz{path}")),
        (
            "TelemetryBuilder::endpoint",
            Telemetry::builder("svc")
                .traces_exporter(Exporter::None)
                .metrics_exporter(Exporter::None)
                .endpoint(format!("ftp://collector/{path}")),
        ),
        (
            "TelemetryBuilder::user_hash_key",
            Telemetry::builder("svc")
                .traces_exporter(Exporter::None)
                .metrics_exporter(Exporter::None)
                .user_hash_key(value),
        ),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    /// An error quotes at most a short, scrubbed prefix of what it refuses:
    /// no PII of any spelling in `Display` or `Debug`.
    #[test]
    fn config_errors_quote_no_pii(
        sample in proptest::strategy::Union::new(pii_gen::families()),
    ) {
        let samples = [sample];
        let s = &samples[0];
        let mut quoted = Vec::new();
        for (source, builder) in refused_inputs(&s.in_text(), &s.url_path()) {
            let Err(e) = builder.resolve() else { continue };
            for (how, text) in [("Display", e.to_string()), ("Debug", format!("{e:?}"))] {
                if !pii_match::scan(&text, &samples).is_empty() {
                    quoted.push(format!("{source} ({how}): {text}"));
                }
            }
        }
        prop_assert!(
            quoted.is_empty(),
            "errors quote {} {:?}:\n  {}",
            s.family, s.text, quoted.join("\n  ")
        );
    }
}

/// However long the refused input, the error stays short.
#[test]
fn errors_quote_a_bounded_prefix() {
    let long = "x".repeat(100_000);
    for (source, builder) in refused_inputs(&long, &long) {
        if let Err(e) = builder.resolve() {
            let shown = e.to_string();
            assert!(
                shown.len() < 600,
                "error from {source} is {} bytes long",
                shown.len()
            );
        }
    }
}
