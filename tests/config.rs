//! Configuration: builder > environment > default, and a specific error for
//! every invalid value. The environment is injected: no `set_var`.

use std::time::Duration;

use checkout_otel::TelemetryBuilder;
use checkout_otel::attributes::{
    DEPLOYMENT_ENVIRONMENT_NAME, SERVICE_INSTANCE_ID, SERVICE_NAME, SERVICE_NAMESPACE,
    SERVICE_VERSION,
};
use checkout_otel::error::{ConfigError, ConfigSource};
use checkout_otel::init::{
    Compression, Exporter, Propagator, Protocol, Sampler, Telemetry, TelemetryConfig,
};
use opentelemetry::trace::{Span, Tracer};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SimpleSpanProcessor};

fn b() -> TelemetryBuilder {
    Telemetry::builder("checkout-api").with_env(Vec::<(String, String)>::new())
}

fn env(pairs: &[(&str, &str)]) -> TelemetryBuilder {
    Telemetry::builder("checkout-api").with_env(pairs.iter().map(|(k, v)| (*k, *v)))
}

fn sorted(mut v: Vec<&str>) -> Vec<&str> {
    v.sort_unstable();
    v
}

fn res(c: &TelemetryConfig, key: &str) -> Option<String> {
    c.resource()
        .get(&opentelemetry::Key::from(key.to_owned()))
        .map(|v| v.as_str().into_owned())
}

// ---------- defaults ----------

#[test]
fn defaults_are_the_specifications() {
    let c = b().resolve().unwrap();
    assert!(!c.is_disabled());
    assert_eq!(c.service_name(), "checkout-api");
    // No endpoint: OTLP over gRPC to the specification's default.
    assert_eq!(c.traces_exporter(), Exporter::Otlp);
    assert_eq!(c.metrics_exporter(), Exporter::Otlp);
    assert_eq!(c.logs_exporter(), Exporter::Otlp);
    for signal in [c.traces().unwrap(), c.metrics().unwrap()] {
        assert_eq!(signal.endpoint(), "http://localhost:4317");
        assert_eq!(signal.protocol(), Protocol::Grpc);
        assert_eq!(signal.compression(), Compression::None);
    }
    assert_eq!(c.sampler(), Sampler::ParentBasedAlwaysOn);
    assert_eq!(
        c.propagators(),
        &[Propagator::TraceContext, Propagator::Baggage]
    );
    assert_eq!(c.metric_export_interval(), Duration::from_secs(60));
    assert_eq!(c.shutdown_timeout(), Duration::from_secs(5));
    assert_eq!(res(&c, SERVICE_NAME).as_deref(), Some("checkout-api"));
    assert_eq!(res(&c, SERVICE_INSTANCE_ID).map(|s| s.len()), Some(36));
    assert_eq!(res(&c, "telemetry.sdk.language").as_deref(), Some("rust"));
    assert_eq!(res(&c, SERVICE_VERSION), None);
}

#[test]
fn endpoint_alone_gives_grpc_with_default_timeout() {
    let c = b().endpoint("http://collector:4317").resolve().unwrap();
    let t = c.traces().unwrap();
    assert_eq!(t.protocol(), Protocol::Grpc);
    assert_eq!(t.endpoint(), "http://collector:4317");
    assert_eq!(t.timeout(), Duration::from_secs(10));
    assert_eq!(c.metrics().unwrap().endpoint(), "http://collector:4317");
}

// ---------- service name and resource ----------

#[test]
fn builder_name_wins_over_otel_service_name() {
    let c = env(&[("OTEL_SERVICE_NAME", "from-env")]).resolve().unwrap();
    assert_eq!(c.service_name(), "checkout-api");
}

#[test]
fn empty_builder_name_falls_back_to_env_then_resource_attributes() {
    let c = Telemetry::builder("")
        .with_env([
            ("OTEL_SERVICE_NAME", "from-env"),
            ("OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attrs"),
        ])
        .resolve()
        .unwrap();
    assert_eq!(c.service_name(), "from-env");
    assert_eq!(res(&c, SERVICE_NAME).as_deref(), Some("from-env"));

    let c = Telemetry::builder(" ")
        .with_env([("OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attrs")])
        .resolve()
        .unwrap();
    assert_eq!(c.service_name(), "from-attrs");

    let err = Telemetry::builder("")
        .with_env(Vec::<(String, String)>::new())
        .resolve()
        .unwrap_err();
    assert!(matches!(err, ConfigError::MissingServiceName), "{err:?}");
}

#[test]
fn resource_builder_wins_over_env_attributes_which_win_over_defaults() {
    let c = env(&[(
        "OTEL_RESOURCE_ATTRIBUTES",
        "service.version=0.0.1,deployment.environment.name=dev,team=payments,service.instance.id=pod-7,k8s.pod.name=a%3Db",
    )])
    .service_version("1.2.3")
    .namespace("shop")
    .resource_attribute("team", "checkout")
    .resource_attribute("build.number", 42_i64)
    .resolve()
    .unwrap();
    assert_eq!(res(&c, SERVICE_VERSION).as_deref(), Some("1.2.3"));
    assert_eq!(res(&c, DEPLOYMENT_ENVIRONMENT_NAME).as_deref(), Some("dev"));
    assert_eq!(res(&c, SERVICE_NAMESPACE).as_deref(), Some("shop"));
    assert_eq!(res(&c, "team").as_deref(), Some("checkout"));
    assert_eq!(res(&c, "build.number").as_deref(), Some("42"));
    assert_eq!(res(&c, SERVICE_INSTANCE_ID).as_deref(), Some("pod-7"));
    assert_eq!(res(&c, "k8s.pod.name").as_deref(), Some("a=b"));
}

#[test]
fn builder_environment_wins_over_env() {
    let c = env(&[(
        "OTEL_RESOURCE_ATTRIBUTES",
        "deployment.environment.name=dev",
    )])
    .environment("production")
    .resolve()
    .unwrap();
    assert_eq!(
        res(&c, DEPLOYMENT_ENVIRONMENT_NAME).as_deref(),
        Some("production")
    );
}

// ---------- endpoint ----------

#[test]
fn endpoint_precedence_builder_then_signal_var_then_generic() {
    let vars = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://generic:4317"),
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://traces:4317"),
    ];
    let c = env(&vars).resolve().unwrap();
    assert_eq!(c.traces().unwrap().endpoint(), "http://traces:4317");
    assert_eq!(c.metrics().unwrap().endpoint(), "http://generic:4317");

    let c = env(&vars)
        .endpoint("http://builder:4317")
        .resolve()
        .unwrap();
    assert_eq!(c.traces().unwrap().endpoint(), "http://builder:4317");
    assert_eq!(c.metrics().unwrap().endpoint(), "http://builder:4317");
}

#[test]
fn only_a_metrics_endpoint_leaves_traces_at_the_default() {
    let c = env(&[("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://m:4317")])
        .resolve()
        .unwrap();
    assert_eq!(c.traces().unwrap().endpoint(), "http://localhost:4317");
    assert_eq!(c.metrics().unwrap().endpoint(), "http://m:4317");
}

#[test]
fn http_protobuf_defaults_to_localhost_4318_with_signal_paths() {
    let c = env(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")])
        .resolve()
        .unwrap();
    assert_eq!(
        c.traces().unwrap().endpoint(),
        "http://localhost:4318/v1/traces"
    );
    assert_eq!(
        c.metrics().unwrap().endpoint(),
        "http://localhost:4318/v1/metrics"
    );
}

// ---------- exporter selectors ----------

#[test]
fn exporters_from_env_and_builder_wins() {
    let c = env(&[
        ("OTEL_TRACES_EXPORTER", "console"),
        ("OTEL_METRICS_EXPORTER", " NONE "),
        ("OTEL_LOGS_EXPORTER", "none"),
    ])
    .resolve()
    .unwrap();
    assert_eq!(c.traces_exporter(), Exporter::Console);
    assert_eq!(c.metrics_exporter(), Exporter::None);
    assert_eq!(c.logs_exporter(), Exporter::None);
    assert!(c.traces().is_none() && c.metrics().is_none(), "no OTLP");

    let c = env(&[
        ("OTEL_TRACES_EXPORTER", "console"),
        ("OTEL_METRICS_EXPORTER", "none"),
    ])
    .traces_exporter(Exporter::Otlp)
    .metrics_exporter(Exporter::Console)
    .logs_exporter(Exporter::Console)
    .endpoint("http://collector:4317")
    .resolve()
    .unwrap();
    assert_eq!(c.traces_exporter(), Exporter::Otlp);
    assert_eq!(c.traces().unwrap().endpoint(), "http://collector:4317");
    assert_eq!(c.metrics_exporter(), Exporter::Console);
    assert!(c.metrics().is_none());
    assert_eq!(c.logs_exporter(), Exporter::Console);

    // A repeated name is one exporter; empty entries are skipped.
    let c = env(&[("OTEL_TRACES_EXPORTER", "otlp,,otlp")])
        .resolve()
        .unwrap();
    assert_eq!(c.traces_exporter(), Exporter::Otlp);
}

#[test]
fn invalid_exporters_are_errors_naming_the_variable() {
    for var in [
        "OTEL_TRACES_EXPORTER",
        "OTEL_METRICS_EXPORTER",
        "OTEL_LOGS_EXPORTER",
    ] {
        for (value, says) in [
            ("jaeger", "unknown exporter \"jaeger\""),
            ("zipkin,otlp", "unknown exporter \"zipkin\""),
            ("otlp,console", "one exporter per signal"),
            ("none,otlp", "one exporter per signal"),
            (",", "no exporter named"),
        ] {
            // Refused even when the builder chooses the exporter.
            let e = env(&[(var, value)])
                .traces_exporter(Exporter::None)
                .metrics_exporter(Exporter::None)
                .logs_exporter(Exporter::None)
                .resolve()
                .unwrap_err();
            match &e {
                ConfigError::InvalidExporter {
                    source_of, reason, ..
                } => {
                    assert_eq!(*source_of, ConfigSource::Env(var));
                    assert!(reason.contains(says), "{value}: {reason}");
                }
                other => panic!("{var}={value}: {other:?}"),
            }
            assert!(e.to_string().contains(var), "{e}");
        }
    }
}

#[test]
#[allow(deprecated)]
fn deprecated_console_output_keeps_the_0_1_behaviour() {
    // No endpoint: traces to the waterfall or nowhere, metrics nowhere.
    let c = b().console_output(true).resolve().unwrap();
    assert_eq!(c.traces_exporter(), Exporter::Console);
    assert_eq!(c.metrics_exporter(), Exporter::None);
    let c = b().console_output(false).resolve().unwrap();
    assert_eq!(c.traces_exporter(), Exporter::None);
    assert_eq!(c.metrics_exporter(), Exporter::None);
    // An endpoint from anywhere: OTLP, as in 0.1.
    let c = env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317")])
        .console_output(false)
        .resolve()
        .unwrap();
    assert_eq!(c.traces().unwrap().endpoint(), "http://c:4317");
    assert_eq!(c.metrics().unwrap().endpoint(), "http://c:4317");
    // The exporter methods win over it.
    let c = b()
        .console_output(false)
        .traces_exporter(Exporter::Otlp)
        .resolve()
        .unwrap();
    assert_eq!(c.traces_exporter(), Exporter::Otlp);
    assert_eq!(c.metrics_exporter(), Exporter::None);
}

// ---------- compression ----------

#[cfg(feature = "gzip")]
#[test]
fn compression_builder_then_signal_var_then_generic_then_none() {
    let c = env(&[
        ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
        ("OTEL_EXPORTER_OTLP_METRICS_COMPRESSION", "none"),
    ])
    .resolve()
    .unwrap();
    assert_eq!(c.traces().unwrap().compression(), Compression::Gzip);
    assert_eq!(c.metrics().unwrap().compression(), Compression::None);

    let c = env(&[("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "GZIP")])
        .resolve()
        .unwrap();
    assert_eq!(c.traces().unwrap().compression(), Compression::Gzip);
    assert_eq!(c.metrics().unwrap().compression(), Compression::None);

    let c = env(&[("OTEL_EXPORTER_OTLP_COMPRESSION", "none")])
        .compression(Compression::Gzip)
        .resolve()
        .unwrap();
    assert_eq!(c.traces().unwrap().compression(), Compression::Gzip);
    assert_eq!(c.metrics().unwrap().compression(), Compression::Gzip);
}

#[cfg(not(feature = "gzip"))]
#[test]
fn gzip_without_the_feature_is_an_error_naming_it() {
    for (builder, source) in [
        (
            env(&[("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")]),
            ConfigSource::Env("OTEL_EXPORTER_OTLP_COMPRESSION"),
        ),
        (
            b().compression(Compression::Gzip),
            ConfigSource::Builder("compression"),
        ),
    ] {
        match builder.resolve().unwrap_err() {
            ConfigError::FeatureDisabled {
                feature, source_of, ..
            } => {
                assert_eq!(feature, "gzip");
                assert_eq!(source_of, source);
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn invalid_compression_is_an_error_naming_the_variable() {
    for var in [
        "OTEL_EXPORTER_OTLP_COMPRESSION",
        "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
        "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION",
        "OTEL_EXPORTER_OTLP_LOGS_COMPRESSION",
    ] {
        match env(&[(var, "zstd")])
            .compression(Compression::None)
            .resolve()
            .unwrap_err()
        {
            ConfigError::InvalidCompression { value, source_of } => {
                assert_eq!(value, "zstd");
                assert_eq!(source_of, ConfigSource::Env(var));
            }
            other => panic!("{var}: {other:?}"),
        }
    }
}

#[test]
fn http_appends_signal_paths_to_base_but_uses_signal_vars_as_is() {
    let c = env(&[
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/otlp/"),
        (
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
            "http://m:4318/custom",
        ),
    ])
    .resolve()
    .unwrap();
    assert_eq!(
        c.traces().unwrap().endpoint(),
        "http://collector:4318/otlp/v1/traces"
    );
    assert_eq!(c.metrics().unwrap().endpoint(), "http://m:4318/custom");

    let c = b()
        .endpoint("http://collector:4318")
        .protocol(Protocol::HttpProtobuf)
        .resolve()
        .unwrap();
    assert_eq!(
        c.traces().unwrap().endpoint(),
        "http://collector:4318/v1/traces"
    );
    assert_eq!(
        c.metrics().unwrap().endpoint(),
        "http://collector:4318/v1/metrics"
    );
}

// ---------- protocol, headers, timeout ----------

#[test]
fn protocol_precedence_builder_then_signal_var_then_generic_then_grpc() {
    let vars = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "grpc"),
    ];
    let c = env(&vars).resolve().unwrap();
    assert_eq!(c.traces().unwrap().protocol(), Protocol::HttpProtobuf);
    assert_eq!(c.metrics().unwrap().protocol(), Protocol::Grpc);

    let c = env(&vars).protocol(Protocol::Grpc).resolve().unwrap();
    assert_eq!(c.traces().unwrap().protocol(), Protocol::Grpc);
    assert_eq!(c.metrics().unwrap().protocol(), Protocol::Grpc);
}

#[test]
fn headers_signal_var_replaces_generic_and_builder_wins_per_name() {
    let c = env(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317"),
        ("OTEL_EXPORTER_OTLP_HEADERS", "api-key=generic,x-org=acme"),
        (
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
            "api-key=traces%3Dsecret",
        ),
    ])
    .header("x-team", "checkout")
    .header("Api-Key", "builder")
    .resolve()
    .unwrap();
    let t = c.traces().unwrap();
    assert_eq!(sorted(t.header_names()), vec!["api-key", "x-team"]);
    assert!(t.header_equals("api-key", "builder"));
    let m = c.metrics().unwrap();
    assert_eq!(sorted(m.header_names()), vec!["api-key", "x-org", "x-team"]);
    assert!(m.header_equals("x-org", "acme"));

    // Without the builder header, the percent-decoded env value stands.
    let c = env(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317"),
        (
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
            "api-key=traces%3Dsecret",
        ),
    ])
    .resolve()
    .unwrap();
    assert!(
        c.traces()
            .unwrap()
            .header_equals("api-key", "traces=secret")
    );
    // Debug output never shows header values.
    assert!(!format!("{c:?}").contains("secret"));
}

#[test]
fn timeout_precedence_builder_then_signal_var_then_generic_then_default() {
    let vars = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
        ("OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", "700"),
    ];
    let c = env(&vars).resolve().unwrap();
    assert_eq!(c.traces().unwrap().timeout(), Duration::from_millis(2500));
    assert_eq!(c.metrics().unwrap().timeout(), Duration::from_millis(700));
    let c = env(&vars)
        .timeout(Duration::from_secs(3))
        .resolve()
        .unwrap();
    assert_eq!(c.traces().unwrap().timeout(), Duration::from_secs(3));
    assert_eq!(c.metrics().unwrap().timeout(), Duration::from_secs(3));
}

// ---------- sampler, interval, propagators, disabled ----------

#[test]
fn sampler_from_env_with_arg_and_builder_override() {
    let vars = [
        ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
        ("OTEL_TRACES_SAMPLER_ARG", "0.25"),
    ];
    assert_eq!(
        env(&vars).resolve().unwrap().sampler(),
        Sampler::ParentBasedTraceIdRatio(0.25)
    );
    assert_eq!(
        env(&[("OTEL_TRACES_SAMPLER", "traceidratio")])
            .resolve()
            .unwrap()
            .sampler(),
        Sampler::TraceIdRatio(1.0),
        "missing arg defaults to 1.0"
    );
    assert_eq!(
        env(&[("OTEL_TRACES_SAMPLER", "ALWAYS_OFF")])
            .resolve()
            .unwrap()
            .sampler(),
        Sampler::AlwaysOff
    );
    assert_eq!(
        env(&vars)
            .sampler(Sampler::AlwaysOn)
            .resolve()
            .unwrap()
            .sampler(),
        Sampler::AlwaysOn
    );
}

#[test]
fn metric_interval_builder_then_env_then_default() {
    let vars = [("OTEL_METRIC_EXPORT_INTERVAL", "1500")];
    assert_eq!(
        env(&vars).resolve().unwrap().metric_export_interval(),
        Duration::from_millis(1500)
    );
    assert_eq!(
        env(&vars)
            .metric_export_interval(Duration::from_secs(7))
            .resolve()
            .unwrap()
            .metric_export_interval(),
        Duration::from_secs(7)
    );
}

#[test]
fn propagators_from_env() {
    assert_eq!(
        env(&[("OTEL_PROPAGATORS", "baggage")])
            .resolve()
            .unwrap()
            .propagators(),
        &[Propagator::Baggage]
    );
    assert!(
        env(&[("OTEL_PROPAGATORS", "none")])
            .resolve()
            .unwrap()
            .propagators()
            .is_empty()
    );
}

#[test]
fn installed_propagator_fields_follow_otel_propagators() {
    use opentelemetry::propagation::TextMapPropagator;
    let guard = env(&[("OTEL_PROPAGATORS", "tracecontext")])
        .traces_exporter(Exporter::None)
        .metrics_exporter(Exporter::None)
        .build()
        .unwrap();
    let fields = |g: &checkout_otel::TelemetryGuard| {
        let mut f: Vec<_> = g.propagator().fields().map(str::to_owned).collect();
        f.sort();
        f
    };
    assert_eq!(fields(&guard), vec!["traceparent", "tracestate"]);
    let guard = b()
        .traces_exporter(Exporter::None)
        .metrics_exporter(Exporter::None)
        .build()
        .unwrap();
    assert_eq!(fields(&guard), vec!["baggage", "traceparent", "tracestate"]);
}

#[test]
fn propagation_allow_list_builder_then_env_then_none() {
    const VAR: &str = "CHECKOUT_OTEL_PROPAGATION_ALLOWED_HOSTS";
    let hosts = |c: &TelemetryConfig| -> Vec<String> {
        c.propagation_allowed_hosts()
            .iter()
            .map(str::to_owned)
            .collect()
    };
    assert!(hosts(&b().resolve().unwrap()).is_empty());
    let c = env(&[(VAR, " Inventory , *.Internal.Example ,,")])
        .resolve()
        .unwrap();
    assert_eq!(hosts(&c), ["inventory", "*.internal.example"]);
    let c = env(&[(VAR, "inventory")])
        .propagate_context_to(["cart"])
        .resolve()
        .unwrap();
    assert_eq!(hosts(&c), ["cart"]);
    // An empty builder list is a decision too: nobody.
    let c = env(&[(VAR, "inventory")])
        .propagate_context_to(Vec::<String>::new())
        .resolve()
        .unwrap();
    assert!(hosts(&c).is_empty());
    // The variable is checked even when the builder overrides it.
    match env(&[(VAR, "*")])
        .propagate_context_to(["cart"])
        .resolve()
        .unwrap_err()
    {
        ConfigError::InvalidPropagationHost { source_of, .. } => {
            assert_eq!(source_of, ConfigSource::Env(VAR))
        }
        other => panic!("{other:?}"),
    }
    // The guard's tracer carries the list.
    let guard = env(&[(VAR, "*.internal.example")])
        .traces_exporter(Exporter::None)
        .metrics_exporter(Exporter::None)
        .build()
        .unwrap();
    assert!(
        guard
            .tracer()
            .allowed_hosts()
            .allows("cart.internal.example")
    );
    assert!(!guard.tracer().allowed_hosts().allows("payments.example"));
}

#[test]
fn empty_env_values_count_as_unset() {
    let c = env(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", ""),
        ("OTEL_TRACES_SAMPLER", "  "),
    ])
    .resolve()
    .unwrap();
    assert_eq!(c.traces().unwrap().endpoint(), "http://localhost:4317");
    assert_eq!(c.sampler(), Sampler::ParentBasedAlwaysOn);
}

#[test]
fn sdk_disabled_gives_a_noop_setup() {
    let exporter = InMemorySpanExporter::default();
    let guard = env(&[
        ("OTEL_SDK_DISABLED", "TRUE"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317"),
    ])
    .with_span_processor(SimpleSpanProcessor::new(exporter.clone()))
    .build()
    .unwrap();
    assert!(!guard.is_enabled());
    assert!(guard.config().is_disabled());
    let mut span = guard.sdk_tracer().start("checkout.process");
    assert!(!span.is_recording());
    span.end();
    // Every API stays usable: the meter records into nothing.
    guard
        .meter()
        .u64_counter("checkout.completed")
        .build()
        .add(1, &[]);
    guard.force_flush().unwrap();
    assert!(exporter.get_finished_spans().unwrap().is_empty());
    assert_eq!(
        opentelemetry::propagation::TextMapPropagator::fields(&guard.propagator()).count(),
        0
    );
    guard.shutdown().unwrap();

    let c = env(&[("OTEL_SDK_DISABLED", "false")]).resolve().unwrap();
    assert!(!c.is_disabled());

    // Disabled with the default exporters: nothing is built for them, so
    // flush and shutdown succeed whether or not a collector listens on
    // localhost:4317.
    let guard = env(&[("OTEL_SDK_DISABLED", "true")]).build().unwrap();
    assert_eq!(guard.config().traces_exporter(), Exporter::Otlp);
    guard.force_flush().unwrap();
    guard.shutdown().unwrap();
}

// ---------- errors ----------

fn env_err(pairs: &[(&str, &str)]) -> ConfigError {
    // `build` goes through the same resolution: check both agree.
    let via_build = env(pairs)
        .traces_exporter(Exporter::None)
        .metrics_exporter(Exporter::None)
        .build()
        .unwrap_err();
    let via_resolve = env(pairs).resolve().unwrap_err();
    assert_eq!(via_build.to_string(), via_resolve.to_string());
    via_resolve
}

#[test]
fn invalid_endpoints_are_errors_naming_their_source() {
    for (value, why) in [
        // Without `tls` a gRPC endpoint without scheme (https) is refused.
        #[cfg(not(feature = "tls"))]
        ("localhost:4317", "OTEL_EXPORTER_OTLP_INSECURE=true"),
        ("ftp://collector:21", "scheme"),
        ("http://", "not a valid URL"),
        ("not a url", "not a valid URL"),
        // With feature `tls`, https is accepted (tests/tls.rs).
        #[cfg(not(feature = "tls"))]
        ("https://collector:4317", "feature \"tls\""),
    ] {
        match env_err(&[("OTEL_EXPORTER_OTLP_ENDPOINT", value)]) {
            ConfigError::InvalidEndpoint {
                value: v,
                source_of,
                reason,
            } => {
                assert_eq!(v, value);
                assert_eq!(source_of, ConfigSource::Env("OTEL_EXPORTER_OTLP_ENDPOINT"));
                assert!(reason.contains(why), "{value}: {reason}");
            }
            other => panic!("{value}: {other:?}"),
        }
    }
    // HTTP needs a scheme.
    match b()
        .endpoint("collector:4318")
        .protocol(Protocol::HttpProtobuf)
        .resolve()
        .unwrap_err()
    {
        ConfigError::InvalidEndpoint { source_of, .. } => {
            assert_eq!(source_of, ConfigSource::Builder("endpoint"))
        }
        other => panic!("{other:?}"),
    }
    // A bad per-signal variable is reported even when the builder overrides it.
    match env(&[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "nope")])
        .endpoint("http://ok:4317")
        .resolve()
        .unwrap_err()
    {
        ConfigError::InvalidEndpoint { source_of, .. } => assert_eq!(
            source_of,
            ConfigSource::Env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_grpc_endpoint_without_scheme_follows_otel_exporter_otlp_insecure() {
    let endpoint = |pairs: &[(&str, &str)]| -> (String, String) {
        let c = env(pairs).endpoint("collector:4317").resolve().unwrap();
        (
            c.traces().unwrap().endpoint().to_owned(),
            c.metrics().unwrap().endpoint().to_owned(),
        )
    };
    assert_eq!(
        endpoint(&[("OTEL_EXPORTER_OTLP_INSECURE", "true")]),
        (
            "http://collector:4317".to_owned(),
            "http://collector:4317".to_owned()
        )
    );
    // The per-signal variable wins for its signal; unset means https.
    #[cfg(feature = "tls")]
    {
        assert_eq!(
            endpoint(&[
                ("OTEL_EXPORTER_OTLP_INSECURE", "true"),
                ("OTEL_EXPORTER_OTLP_METRICS_INSECURE", "false"),
            ]),
            (
                "http://collector:4317".to_owned(),
                "https://collector:4317".to_owned()
            )
        );
        assert_eq!(endpoint(&[]).0, "https://collector:4317");
    }
    // `host:port` only: a bare name is still a missing scheme.
    match env(&[("OTEL_EXPORTER_OTLP_INSECURE", "true")])
        .endpoint("collector")
        .resolve()
        .unwrap_err()
    {
        ConfigError::InvalidEndpoint { value, reason, .. } => {
            assert_eq!(value, "collector");
            assert!(reason.contains("missing scheme"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    // An explicit scheme always wins.
    let c = env(&[("OTEL_EXPORTER_OTLP_INSECURE", "false")])
        .endpoint("http://collector:4317")
        .resolve()
        .unwrap();
    assert_eq!(c.traces().unwrap().endpoint(), "http://collector:4317");
    // Validated even when unused.
    match env_err(&[
        ("OTEL_EXPORTER_OTLP_TRACES_INSECURE", "yes"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317"),
    ]) {
        ConfigError::InvalidBool { source_of, .. } => assert_eq!(
            source_of,
            ConfigSource::Env("OTEL_EXPORTER_OTLP_TRACES_INSECURE")
        ),
        other => panic!("{other:?}"),
    }
}

#[cfg(not(feature = "tls"))]
#[test]
fn without_tls_a_secure_grpc_endpoint_without_scheme_is_refused() {
    match b().endpoint("collector:4317").resolve().unwrap_err() {
        ConfigError::InvalidEndpoint {
            value,
            source_of,
            reason,
        } => {
            assert_eq!(value, "collector:4317");
            assert_eq!(source_of, ConfigSource::Builder("endpoint"));
            assert!(reason.contains("feature \"tls\""), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn invalid_protocol_is_an_error() {
    for value in ["http/json", "udp", "GRPCC"] {
        match env_err(&[("OTEL_EXPORTER_OTLP_PROTOCOL", value)]) {
            ConfigError::InvalidProtocol {
                value: v,
                source_of,
            } => {
                assert_eq!(v, value);
                assert_eq!(source_of, ConfigSource::Env("OTEL_EXPORTER_OTLP_PROTOCOL"));
            }
            other => panic!("{value}: {other:?}"),
        }
    }
    match env_err(&[("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "thrift")]) {
        ConfigError::InvalidProtocol { source_of, .. } => assert_eq!(
            source_of,
            ConfigSource::Env("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn invalid_headers_are_errors_that_never_show_the_value() {
    for (value, why) in [
        ("authorization", "no '='"),
        ("=token", "empty key"),
        ("bad key=secret-token", "not a valid header name"),
        ("x-key=secret%ZZtoken", "percent-encoding"),
        ("x-key=secret%0Atoken", "not a valid header value"),
    ] {
        let err = env_err(&[("OTEL_EXPORTER_OTLP_HEADERS", value)]);
        match &err {
            ConfigError::InvalidHeaders { source_of, reason } => {
                assert_eq!(*source_of, ConfigSource::Env("OTEL_EXPORTER_OTLP_HEADERS"));
                assert!(reason.contains(why), "{value}: {reason}");
            }
            other => panic!("{value}: {other:?}"),
        }
        assert!(!err.to_string().contains("secret"), "{err}");
    }
    match b().header("x-key", "line\nbreak").resolve().unwrap_err() {
        ConfigError::InvalidHeaders { source_of, .. } => {
            assert_eq!(source_of, ConfigSource::Builder("header"))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn invalid_timeouts_and_intervals_are_errors() {
    for var in [
        "OTEL_EXPORTER_OTLP_TIMEOUT",
        "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
        "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT",
        "OTEL_METRIC_EXPORT_INTERVAL",
    ] {
        for value in ["abc", "0", "-5", "1.5", "10s"] {
            match env_err(&[(var, value)]) {
                ConfigError::InvalidDuration {
                    value: v,
                    source_of,
                } => {
                    assert_eq!(v, value);
                    assert_eq!(source_of, ConfigSource::Env(var));
                }
                other => panic!("{var}={value}: {other:?}"),
            }
        }
    }
    for (builder, method) in [
        (b().timeout(Duration::ZERO), "timeout"),
        (
            b().metric_export_interval(Duration::ZERO),
            "metric_export_interval",
        ),
        (b().shutdown_timeout(Duration::ZERO), "shutdown_timeout"),
    ] {
        match builder.resolve().unwrap_err() {
            ConfigError::InvalidDuration { source_of, .. } => {
                assert_eq!(source_of, ConfigSource::Builder(method))
            }
            other => panic!("{method}: {other:?}"),
        }
    }
}

#[test]
fn invalid_sampler_and_sampler_arg_are_errors() {
    for value in ["jaeger_remote", "xray", "sometimes"] {
        match env_err(&[("OTEL_TRACES_SAMPLER", value)]) {
            ConfigError::InvalidSampler {
                value: v,
                source_of,
            } => {
                assert_eq!(v, value);
                assert_eq!(source_of, ConfigSource::Env("OTEL_TRACES_SAMPLER"));
            }
            other => panic!("{value}: {other:?}"),
        }
    }
    for value in ["1.5", "-0.1", "abc", "NaN"] {
        match env_err(&[
            ("OTEL_TRACES_SAMPLER", "traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", value),
        ]) {
            ConfigError::InvalidSamplerArg {
                value: v,
                source_of,
            } => {
                assert_eq!(v, value);
                assert_eq!(source_of, ConfigSource::Env("OTEL_TRACES_SAMPLER_ARG"));
            }
            other => panic!("{value}: {other:?}"),
        }
    }
    for s in [
        Sampler::TraceIdRatio(2.0),
        Sampler::ParentBasedTraceIdRatio(-1.0),
        Sampler::TraceIdRatio(f64::NAN),
    ] {
        match b().sampler(s).resolve().unwrap_err() {
            ConfigError::InvalidSamplerArg { source_of, .. } => {
                assert_eq!(source_of, ConfigSource::Builder("sampler"))
            }
            other => panic!("{s:?}: {other:?}"),
        }
    }
}

#[test]
fn invalid_propagator_bool_and_resource_attributes_are_errors() {
    for value in ["b3", "tracecontext,jaeger", "none,baggage"] {
        assert!(
            matches!(
                env_err(&[("OTEL_PROPAGATORS", value)]),
                ConfigError::InvalidPropagator { .. }
            ),
            "{value}"
        );
    }
    for value in ["yes", "1", "on"] {
        match env_err(&[("OTEL_SDK_DISABLED", value)]) {
            ConfigError::InvalidBool {
                value: v,
                source_of,
            } => {
                assert_eq!(v, value);
                assert_eq!(source_of, ConfigSource::Env("OTEL_SDK_DISABLED"));
            }
            other => panic!("{value}: {other:?}"),
        }
    }
    for value in ["team", "=x", "k=%G1"] {
        match env_err(&[("OTEL_RESOURCE_ATTRIBUTES", value)]) {
            ConfigError::InvalidResourceAttributes { source_of, .. } => {
                assert_eq!(source_of, ConfigSource::Env("OTEL_RESOURCE_ATTRIBUTES"))
            }
            other => panic!("{value}: {other:?}"),
        }
    }
    match b().resource_attribute("", "x").resolve().unwrap_err() {
        ConfigError::InvalidResourceAttributes { source_of, .. } => {
            assert_eq!(source_of, ConfigSource::Builder("resource_attribute"))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn user_hash_key_from_builder_or_env_and_bad_keys_are_typed_errors() {
    let short = "0011";
    match env(&[("CHECKOUT_OTEL_USER_HASH_KEY", short)]).resolve() {
        Err(ConfigError::InvalidKey { source_of, reason }) => {
            assert_eq!(source_of, ConfigSource::Env("CHECKOUT_OTEL_USER_HASH_KEY"));
            assert!(
                !reason.contains(short),
                "the key must not be echoed: {reason}"
            );
        }
        other => panic!("expected InvalidKey, got {other:?}"),
    }
    // The builder wins over the environment, so a bad env key is not consulted.
    let good = "ab".repeat(32);
    let b = env(&[("CHECKOUT_OTEL_USER_HASH_KEY", "not base64 !!")]).user_hash_key(good.clone());
    assert!(b.resolve().is_ok());
    match b.user_hash_key("short").resolve() {
        Err(ConfigError::InvalidKey { source_of, .. }) => {
            assert_eq!(source_of, ConfigSource::Builder("user_hash_key"))
        }
        other => panic!("expected InvalidKey, got {other:?}"),
    }
}

#[test]
fn errors_quote_input_briefly_and_never_credentials() {
    // A 10 MB variable is quoted as its first 64 characters and an ellipsis.
    let huge = "9".repeat(10 * 1024 * 1024) + "x";
    match env_err(&[("OTEL_EXPORTER_OTLP_TIMEOUT", &huge)]) {
        ConfigError::InvalidDuration { value, source_of } => {
            assert_eq!(source_of, ConfigSource::Env("OTEL_EXPORTER_OTLP_TIMEOUT"));
            assert_eq!(value, format!("{}…", "9".repeat(64)));
        }
        other => panic!("{other:?}"),
    }
    // User info and query of an endpoint may be credentials.
    let err = b()
        .endpoint("ftp://ops:hunter2@collector:21/?token=abc123")
        .resolve()
        .unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(err, ConfigError::InvalidEndpoint { .. }),
        "{err:?}"
    );
    assert!(message.contains("ftp://***@collector:21/?***"), "{message}");
    assert!(
        !message.contains("hunter2") && !message.contains("abc123"),
        "{message}"
    );
}

#[test]
fn debug_output_never_shows_secrets() {
    let builder = env(&[("OTEL_EXPORTER_OTLP_HEADERS", "x-env-key=env-secret-1")])
        .endpoint("http://ops:hunter2@collector:4317")
        .header("x-api-key", "builder-secret-2")
        .user_hash_key(format!("raw:{}", "k".repeat(40)));
    let config = builder.resolve().unwrap();
    for shown in [format!("{builder:?}"), format!("{config:?}")] {
        for secret in [
            "env-secret-1",
            "builder-secret-2",
            "hunter2",
            &"k".repeat(40),
        ] {
            assert!(!shown.contains(secret), "{secret} shown in {shown}");
        }
        assert!(shown.contains("x-api-key"), "{shown}");
        assert!(shown.contains("collector:4317"), "{shown}");
    }
    assert!(
        config
            .traces()
            .unwrap()
            .header_equals("x-api-key", "builder-secret-2")
    );
}

#[test]
fn log_batching_follows_otel_blrp() {
    assert_eq!(
        b().resolve().unwrap().log_batching(),
        (2048, 512, Duration::from_secs(1)),
        "the specification's defaults"
    );
    let c = env(&[
        ("OTEL_BLRP_MAX_QUEUE_SIZE", "4096"),
        ("OTEL_BLRP_MAX_EXPORT_BATCH_SIZE", "256"),
        ("OTEL_BLRP_SCHEDULE_DELAY", "250"),
        ("OTEL_BLRP_EXPORT_TIMEOUT", "30000"),
    ])
    .resolve()
    .unwrap();
    assert_eq!(c.log_batching(), (4096, 256, Duration::from_millis(250)));
    // A small queue caps the default batch, as for spans.
    let c = env(&[("OTEL_BLRP_MAX_QUEUE_SIZE", "100")])
        .resolve()
        .unwrap();
    assert_eq!(c.log_batching().1, 100);
    for (var, value) in [
        ("OTEL_BLRP_MAX_QUEUE_SIZE", "0"),
        ("OTEL_BLRP_MAX_QUEUE_SIZE", "1000000000000"),
        ("OTEL_BLRP_MAX_EXPORT_BATCH_SIZE", "4096"),
        ("OTEL_BLRP_SCHEDULE_DELAY", "soon"),
        ("OTEL_BLRP_EXPORT_TIMEOUT", "-1"),
    ] {
        let err = env(&[(var, value)]).resolve().unwrap_err();
        assert!(err.to_string().contains(var), "{var}={value}: {err}");
    }
}
