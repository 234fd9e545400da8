//! Every accepted input is safe: each number, size and list has a bound, a
//! value just over it (and the extremes: `u64::MAX`, `Duration::MAX`, 10 MB
//! strings) is a typed `ConfigError` naming its variable or builder method,
//! a value at the bound works; values that are not UTF-8 are errors, never
//! lossy (Unix: non-UTF-8 values are built with `OsStringExt`); a refused
//! `init` changes no global.
//!
//! The environment is injected with `with_env` (no `set_var`); the process
//! environment's own path (`var_os`) is checked in child processes. This
//! binary's one `init` test is the only one that touches globals.

use std::time::Duration;

use checkout_otel::TelemetryBuilder;
use checkout_otel::error::{ConfigError, ConfigSource};
use checkout_otel::init::Exporter;
use checkout_otel::init::limits::{
    MAX_CONCURRENT_EXPORTS, MAX_EXPORT_HEADER_BYTES, MAX_EXPORT_HEADERS, MAX_EXPORT_TIMEOUT,
    MAX_LOG_FILTER_BYTES, MAX_METRIC_EXPORT_INTERVAL, MAX_PROPAGATION_HOSTS,
    MAX_RESOURCE_ATTRIBUTES, MAX_RESOURCE_KEY_BYTES, MAX_RESOURCE_VALUE_BYTES,
    MAX_SHUTDOWN_TIMEOUT, MAX_SPAN_LIMIT, MAX_SPAN_QUEUE_SIZE, MAX_SPAN_SCHEDULE_DELAY,
};
use checkout_otel::init::{Sampler, Telemetry, TelemetryConfig};
use checkout_otel::opentelemetry::trace::{Span as _, Tracer as _};
use checkout_otel::opentelemetry::{KeyValue, StringValue, Value};
use checkout_otel::opentelemetry_sdk::trace::{InMemorySpanExporter, SimpleSpanProcessor};
use checkout_otel::pii::{UserHasher, user_hasher};

const TEN_MB: usize = 10 * 1024 * 1024;

fn b() -> TelemetryBuilder {
    Telemetry::builder("checkout-api").with_env(Vec::<(String, String)>::new())
}

fn env(pairs: &[(&str, &str)]) -> TelemetryBuilder {
    Telemetry::builder("checkout-api").with_env(pairs.iter().map(|(k, v)| (*k, *v)))
}

fn ok(builder: TelemetryBuilder) -> TelemetryConfig {
    builder.resolve().expect("within the bounds")
}

fn err(builder: TelemetryBuilder) -> ConfigError {
    let e = builder.resolve().expect_err("beyond a bound");
    // Whatever the input, an error quotes a short prefix of it at most.
    assert!(
        e.to_string().len() < 600,
        "{} bytes: {e}",
        e.to_string().len()
    );
    e
}

/// `e` is `OutOfRange` from `source`.
#[track_caller]
fn assert_out_of_range(e: &ConfigError, source: ConfigSource) {
    match e {
        ConfigError::OutOfRange { source_of, .. } if *source_of == source => {}
        other => panic!("expected OutOfRange from {source}, got {other:?}"),
    }
}

fn env_source(var: &'static str) -> ConfigSource {
    ConfigSource::Env(var)
}

fn ms(d: Duration) -> String {
    d.as_millis().to_string()
}

// ---------- span queue ----------

#[test]
fn span_queue_size_is_bounded_from_the_builder() {
    let method = ConfigSource::Builder("span_queue_size");
    assert_eq!(
        ok(b().span_queue_size(MAX_SPAN_QUEUE_SIZE)).span_queue_size(),
        MAX_SPAN_QUEUE_SIZE
    );
    for over in [MAX_SPAN_QUEUE_SIZE + 1, 20_000_000, usize::MAX] {
        assert_out_of_range(&err(b().span_queue_size(over)), method.clone());
    }
    assert!(matches!(
        err(b().span_queue_size(0)),
        ConfigError::InvalidQueueSize { source_of, .. } if source_of == method
    ));
}

#[test]
fn otel_bsp_max_queue_size_is_bounded() {
    let var = "OTEL_BSP_MAX_QUEUE_SIZE";
    let at = MAX_SPAN_QUEUE_SIZE.to_string();
    assert_eq!(
        ok(env(&[(var, &at)])).span_queue_size(),
        MAX_SPAN_QUEUE_SIZE
    );
    let over = (MAX_SPAN_QUEUE_SIZE + 1).to_string();
    let u64_max = u64::MAX.to_string();
    for value in [
        over.as_str(),
        "20000000",
        "1000000000000",
        &u64_max,
        "340282366920938463463374607431768211456",
    ] {
        assert_out_of_range(&err(env(&[(var, value)])), env_source(var));
    }
    for value in ["0", "-1", "1e6", "many", "+5"] {
        assert!(
            matches!(
                err(env(&[(var, value)])),
                ConfigError::InvalidQueueSize { .. }
            ),
            "{value}"
        );
    }
    // Checked even when the builder overrides it.
    assert_out_of_range(
        &err(env(&[(var, "1000000000000")]).span_queue_size(16)),
        env_source(var),
    );
}

#[test]
fn a_queue_at_the_bound_is_built_and_accounted() {
    // The SDK allocates the whole queue here: at the bound this must work.
    let guard = b()
        .endpoint("http://127.0.0.1:4317")
        .span_queue_size(MAX_SPAN_QUEUE_SIZE)
        .tracing_bridge(false)
        .shutdown_timeout(Duration::from_secs(1))
        .build()
        .expect("build");
    assert_eq!(
        guard.span_export_stats().capacity,
        MAX_SPAN_QUEUE_SIZE as u64
    );
    drop(guard);
}

#[test]
fn export_batch_size_is_bounded_by_the_queue() {
    let var = "OTEL_BSP_MAX_EXPORT_BATCH_SIZE";
    assert_eq!(ok(b()).span_export_batch_size(), 512);
    assert_eq!(ok(b().span_queue_size(100)).span_export_batch_size(), 100);
    assert_eq!(
        ok(env(&[(var, "256")]).span_queue_size(256)).span_export_batch_size(),
        256
    );
    for value in [
        "257",
        "0",
        "18446744073709551615",
        "99999999999999999999999",
    ] {
        assert_out_of_range(
            &err(env(&[(var, value)]).span_queue_size(256)),
            env_source(var),
        );
    }
    assert!(matches!(
        err(env(&[(var, "lots")])),
        ConfigError::InvalidNumber { source_of, .. } if source_of == env_source(var)
    ));
}

#[test]
fn schedule_delay_and_the_checked_only_variables_are_bounded() {
    let delay = "OTEL_BSP_SCHEDULE_DELAY";
    assert_eq!(
        ok(env(&[(delay, &ms(MAX_SPAN_SCHEDULE_DELAY))])).span_schedule_delay(),
        MAX_SPAN_SCHEDULE_DELAY
    );
    assert_eq!(ok(b()).span_schedule_delay(), Duration::from_secs(5));
    for (var, max) in [
        (delay, MAX_SPAN_SCHEDULE_DELAY),
        ("OTEL_BSP_EXPORT_TIMEOUT", MAX_EXPORT_TIMEOUT),
        ("OTEL_METRIC_EXPORT_TIMEOUT", MAX_EXPORT_TIMEOUT),
    ] {
        ok(env(&[(var, &ms(max))]));
        let over = (max.as_millis() + 1).to_string();
        assert_out_of_range(&err(env(&[(var, &over)])), env_source(var));
        assert_out_of_range(&err(env(&[(var, &u64::MAX.to_string())])), env_source(var));
        // A zero delay would make the export thread spin.
        assert!(
            matches!(err(env(&[(var, "0")])), ConfigError::InvalidDuration { .. }),
            "{var}"
        );
    }
    let concurrent = "OTEL_BSP_MAX_CONCURRENT_EXPORTS";
    ok(env(&[(concurrent, &MAX_CONCURRENT_EXPORTS.to_string())]));
    for value in [(MAX_CONCURRENT_EXPORTS + 1).to_string(), "0".into()] {
        assert_out_of_range(&err(env(&[(concurrent, &value)])), env_source(concurrent));
    }
    assert!(matches!(
        err(env(&[(concurrent, "two")])),
        ConfigError::InvalidNumber { .. }
    ));
}

// ---------- durations ----------

#[test]
fn builder_durations_are_bounded() {
    type Set = fn(TelemetryBuilder, Duration) -> TelemetryBuilder;
    let cases: [(&str, Duration, Set); 3] = [
        ("timeout", MAX_EXPORT_TIMEOUT, |b, d| {
            b.endpoint("http://collector:4317").timeout(d)
        }),
        (
            "metric_export_interval",
            MAX_METRIC_EXPORT_INTERVAL,
            |b, d| b.metric_export_interval(d),
        ),
        ("shutdown_timeout", MAX_SHUTDOWN_TIMEOUT, |b, d| {
            b.shutdown_timeout(d)
        }),
    ];
    for (method, max, set) in cases {
        ok(set(b(), max));
        for over in [
            max + Duration::from_nanos(1),
            Duration::from_secs(u64::MAX),
            Duration::MAX,
        ] {
            assert_out_of_range(&err(set(b(), over)), ConfigSource::Builder(method));
        }
    }
}

#[test]
fn duration_variables_are_bounded() {
    for (var, max) in [
        ("OTEL_EXPORTER_OTLP_TIMEOUT", MAX_EXPORT_TIMEOUT),
        ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", MAX_EXPORT_TIMEOUT),
        ("OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", MAX_EXPORT_TIMEOUT),
        ("OTEL_METRIC_EXPORT_INTERVAL", MAX_METRIC_EXPORT_INTERVAL),
    ] {
        ok(env(&[(var, &ms(max))]));
        let over = (max.as_millis() + 1).to_string();
        for value in [
            over.as_str(),
            "18446744073709551615",
            "99999999999999999999999999999",
        ] {
            assert_out_of_range(&err(env(&[(var, value)])), env_source(var));
        }
    }
    let c = ok(
        env(&[("OTEL_EXPORTER_OTLP_TIMEOUT", &ms(MAX_EXPORT_TIMEOUT))])
            .endpoint("http://collector:4317"),
    );
    assert_eq!(c.traces().unwrap().timeout(), MAX_EXPORT_TIMEOUT);
}

#[test]
fn shutdown_at_the_longest_bound_returns_and_drop_does_not_panic() {
    // Before the bound existed, Duration::MAX panicked here (Instant + Duration).
    let guard = b()
        .tracing_bridge(false)
        .traces_exporter(Exporter::None)
        .metrics_exporter(Exporter::None)
        .shutdown_timeout(MAX_SHUTDOWN_TIMEOUT)
        .build()
        .expect("build");
    guard.force_flush().expect("flush");
    guard.shutdown().expect("shutdown");
    let dropped = b()
        .tracing_bridge(false)
        .traces_exporter(Exporter::None)
        .metrics_exporter(Exporter::None)
        .shutdown_timeout(MAX_SHUTDOWN_TIMEOUT)
        .build()
        .expect("build");
    drop(dropped);
}

// ---------- span limits ----------

#[test]
fn span_count_limits_are_bounded_and_reach_the_sdk() {
    let vars = [
        "OTEL_ATTRIBUTE_COUNT_LIMIT",
        "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT",
        "OTEL_SPAN_EVENT_COUNT_LIMIT",
        "OTEL_SPAN_LINK_COUNT_LIMIT",
        "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT",
        "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT",
    ];
    for var in vars {
        ok(env(&[(var, &MAX_SPAN_LIMIT.to_string())]));
        ok(env(&[(var, "0")]));
        for value in [
            (MAX_SPAN_LIMIT + 1).to_string(),
            u32::MAX.to_string(),
            u64::MAX.to_string(),
        ] {
            assert_out_of_range(&err(env(&[(var, &value)])), env_source(var));
        }
        assert!(matches!(
            err(env(&[(var, "-1")])),
            ConfigError::InvalidNumber { .. }
        ));
    }
    // The general limit is the default of the three attribute limits.
    let limits = ok(env(&[
        ("OTEL_ATTRIBUTE_COUNT_LIMIT", "7"),
        ("OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", "3"),
        ("OTEL_SPAN_EVENT_COUNT_LIMIT", "5"),
    ]))
    .span_limits();
    assert_eq!(limits.max_attributes_per_span, 7);
    assert_eq!(limits.max_attributes_per_link, 7);
    assert_eq!(limits.max_attributes_per_event, 3);
    assert_eq!(limits.max_events_per_span, 5);
    assert_eq!(limits.max_links_per_span, 128);

    // And the SDK applies them to exported spans.
    let exporter = InMemorySpanExporter::default();
    let guard = env(&[("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "2")])
        .tracing_bridge(false)
        .traces_exporter(Exporter::None)
        .metrics_exporter(Exporter::None)
        .with_span_processor(SimpleSpanProcessor::new(exporter.clone()))
        .build()
        .expect("build");
    let mut span = guard.sdk_tracer().start("checkout.process");
    for i in 0..3 {
        span.set_attribute(KeyValue::new(format!("a{i}"), i));
    }
    span.end();
    let spans = exporter.get_finished_spans().unwrap();
    assert_eq!(spans[0].attributes.len(), 2);
    assert_eq!(spans[0].dropped_attributes_count, 1);
}

// ---------- endpoints ----------

#[test]
fn ports_in_endpoints_must_lie_in_1_to_65535() {
    for good in [
        "http://collector:65535",
        "http://collector:1",
        "http://[::1]:4317",
        "http://[::1]",
        "http://user:pw@collector:4317",
    ] {
        ok(b().endpoint(good));
    }
    for bad in [
        "http://collector:65536",
        "http://collector:70000",
        "http://collector:0",
        "http://collector:99999999999999999999999",
        "http://[::1]:65536",
        "http://user:pw@collector:65536",
    ] {
        match err(b().endpoint(bad)) {
            ConfigError::InvalidEndpoint {
                source_of, reason, ..
            } => {
                assert_eq!(source_of, ConfigSource::Builder("endpoint"));
                assert!(reason.contains("port"), "{bad}: {reason}");
            }
            other => panic!("{bad}: {other:?}"),
        }
    }
    // Schemeless gRPC (`host:port`) and every endpoint variable alike.
    let e = err(env(&[("OTEL_EXPORTER_OTLP_INSECURE", "true")]).endpoint("collector:65536"));
    assert!(e.to_string().contains("port"), "{e}");
    for var in [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    ] {
        assert!(matches!(
            err(env(&[(var, "http://collector:65536")])),
            ConfigError::InvalidEndpoint { source_of, .. } if source_of == env_source(var)
        ));
    }
    let huge = format!("http://collector:4317/{}", "p".repeat(TEN_MB));
    assert!(matches!(
        err(b().endpoint(huge)),
        ConfigError::InvalidEndpoint { .. }
    ));
}

// ---------- key=value lists ----------

#[test]
fn malformed_percent_escapes_are_errors() {
    for value in ["%+1", "%-1", "%1", "%", "%zz", "%e9", "ok%2", "%+f%+f"] {
        let attrs = format!("k={value}");
        assert!(
            matches!(
                err(env(&[("OTEL_RESOURCE_ATTRIBUTES", &attrs)])),
                ConfigError::InvalidResourceAttributes { .. }
            ),
            "{attrs}"
        );
        let headers = format!("x-key={value}");
        assert!(
            matches!(
                err(env(&[("OTEL_EXPORTER_OTLP_HEADERS", &headers)])),
                ConfigError::InvalidHeaders { .. }
            ),
            "{headers}"
        );
    }
    let c = ok(env(&[("OTEL_RESOURCE_ATTRIBUTES", "k=a%2Cb%C3%A9")]));
    let value = c
        .resource()
        .get(&checkout_otel::opentelemetry::Key::from_static_str("k"));
    assert_eq!(value, Some(Value::from("a,bé")));
}

fn headers_var(n: usize) -> String {
    (0..n)
        .map(|i| format!("x-h{i}=v"))
        .collect::<Vec<_>>()
        .join(",")
}

#[test]
fn export_headers_are_bounded_in_count_and_bytes() {
    let var = "OTEL_EXPORTER_OTLP_HEADERS";
    let endpoint = "http://collector:4317";
    let c = ok(env(&[(var, &headers_var(MAX_EXPORT_HEADERS))]).endpoint(endpoint));
    assert_eq!(c.traces().unwrap().header_names().len(), MAX_EXPORT_HEADERS);
    for n in [MAX_EXPORT_HEADERS + 1, 100_000] {
        match err(env(&[(var, &headers_var(n))])) {
            ConfigError::InvalidHeaders { source_of, reason } => {
                assert_eq!(source_of, env_source(var));
                assert!(reason.contains(&MAX_EXPORT_HEADERS.to_string()), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }
    // Bytes: names and values together.
    let at_bound = format!(
        "x-key={}",
        "v".repeat(MAX_EXPORT_HEADER_BYTES - "x-key".len())
    );
    ok(env(&[(var, &at_bound)]).endpoint(endpoint));
    let over = format!("x-key={}", "v".repeat(MAX_EXPORT_HEADER_BYTES - 4));
    let e = err(env(&[(var, &over)]));
    assert!(matches!(e, ConfigError::InvalidHeaders { .. }), "{e:?}");
    let ten_mb = format!("x-key={}", "v".repeat(TEN_MB));
    let e = err(env(&[("OTEL_EXPORTER_OTLP_TRACES_HEADERS", &ten_mb)]));
    assert!(!e.to_string().contains("vvvv"), "never the value: {e}");

    // From the builder: the list, and the list merged with the environment's.
    let builder = ConfigSource::Builder("header");
    let mut many = b().endpoint(endpoint);
    for i in 0..=MAX_EXPORT_HEADERS {
        many = many.header(format!("x-b{i}"), "v");
    }
    assert!(
        matches!(err(many), ConfigError::InvalidHeaders { source_of, .. } if source_of == builder)
    );
    let merged = env(&[(var, &headers_var(MAX_EXPORT_HEADERS))])
        .endpoint(endpoint)
        .header("x-one-more", "v");
    assert!(
        matches!(err(merged), ConfigError::InvalidHeaders { source_of, .. } if source_of == builder)
    );
    let e = err(b().endpoint(endpoint).header("x-key", "v".repeat(TEN_MB)));
    assert!(matches!(e, ConfigError::InvalidHeaders { .. }), "{e:?}");
}

fn attrs_var(n: usize) -> String {
    (0..n)
        .map(|i| format!("k{i}=v"))
        .collect::<Vec<_>>()
        .join(",")
}

#[test]
fn resource_attributes_are_bounded_in_count_key_and_value() {
    let var = "OTEL_RESOURCE_ATTRIBUTES";
    let c = ok(env(&[(var, &attrs_var(MAX_RESOURCE_ATTRIBUTES))]));
    assert!(c.resource().len() > MAX_RESOURCE_ATTRIBUTES);
    for value in [
        attrs_var(MAX_RESOURCE_ATTRIBUTES + 1),
        // 10 MB of tiny entries: refused at entry 129, not collected.
        "a=1,".repeat(TEN_MB / 4),
        format!("{}=v", "k".repeat(MAX_RESOURCE_KEY_BYTES + 1)),
        format!("k={}", "v".repeat(MAX_RESOURCE_VALUE_BYTES + 1)),
        format!("k={}", "v".repeat(TEN_MB)),
    ] {
        assert!(matches!(
            err(env(&[(var, &value)])),
            ConfigError::InvalidResourceAttributes { source_of, .. } if source_of == env_source(var)
        ));
    }
    ok(env(&[(
        var,
        &format!(
            "{}={}",
            "k".repeat(MAX_RESOURCE_KEY_BYTES),
            "v".repeat(MAX_RESOURCE_VALUE_BYTES)
        ),
    )]));

    let method = ConfigSource::Builder("resource_attribute");
    let mut builder = b();
    for i in 0..MAX_RESOURCE_ATTRIBUTES {
        builder = builder.resource_attribute(format!("k{i}"), "v");
    }
    ok(builder.resource_attribute("k0", "replaced"));
    let mut builder = b();
    for i in 0..=MAX_RESOURCE_ATTRIBUTES {
        builder = builder.resource_attribute(format!("k{i}"), "v");
    }
    assert!(
        matches!(err(builder), ConfigError::InvalidResourceAttributes { source_of, .. } if source_of == method)
    );
    let big_array = Value::Array(vec![StringValue::from("v".repeat(100)); 100_000].into());
    for builder in [
        b().resource_attribute("k".repeat(MAX_RESOURCE_KEY_BYTES + 1), "v"),
        b().resource_attribute("k", "v".repeat(TEN_MB)),
        b().resource_attribute("k", big_array),
    ] {
        assert!(
            matches!(err(builder), ConfigError::InvalidResourceAttributes { source_of, .. } if source_of == method)
        );
    }
    ok(b().resource_attribute("k", "v".repeat(MAX_RESOURCE_VALUE_BYTES)));

    // The service's own attributes and its name.
    let ten_mb = "v".repeat(TEN_MB);
    for (builder, source) in [
        (
            b().service_version(ten_mb.clone()),
            ConfigSource::Builder("service_version"),
        ),
        (
            b().environment(ten_mb.clone()),
            ConfigSource::Builder("environment"),
        ),
        (
            b().namespace(ten_mb.clone()),
            ConfigSource::Builder("namespace"),
        ),
        (
            Telemetry::builder(ten_mb.clone()).with_env(Vec::<(String, String)>::new()),
            ConfigSource::Builder("Telemetry::builder"),
        ),
        (
            Telemetry::builder("").with_env([("OTEL_SERVICE_NAME", ten_mb.as_str())]),
            env_source("OTEL_SERVICE_NAME"),
        ),
    ] {
        assert!(matches!(
            err(builder),
            ConfigError::InvalidResourceAttributes { source_of, .. } if source_of == source
        ));
    }
}

// ---------- other text ----------

#[test]
fn rust_log_and_the_propagation_allow_list_are_bounded() {
    ok(env(&[("RUST_LOG", &"a".repeat(MAX_LOG_FILTER_BYTES))]));
    assert_out_of_range(
        &err(env(&[("RUST_LOG", &"a".repeat(MAX_LOG_FILTER_BYTES + 1))])),
        env_source("RUST_LOG"),
    );
    assert_out_of_range(
        &err(env(&[("RUST_LOG", &"info,".repeat(TEN_MB / 5))])),
        env_source("RUST_LOG"),
    );

    let var = "CHECKOUT_OTEL_PROPAGATION_ALLOWED_HOSTS";
    let hosts = |n: usize| (0..n).map(|i| format!("h{i}.example")).collect::<Vec<_>>();
    let c = ok(env(&[(var, &hosts(MAX_PROPAGATION_HOSTS).join(","))]));
    assert_eq!(
        c.propagation_allowed_hosts().iter().count(),
        MAX_PROPAGATION_HOSTS
    );
    // Repeating one host is one entry, however long the list.
    let c = ok(env(&[(var, &"h.example,".repeat(TEN_MB / 10))]));
    assert_eq!(c.propagation_allowed_hosts().iter().count(), 1);
    for value in [
        hosts(MAX_PROPAGATION_HOSTS + 1).join(","),
        hosts(TEN_MB / 10).join(","),
    ] {
        assert!(matches!(
            err(env(&[(var, &value)])),
            ConfigError::InvalidPropagationHost { source_of, .. } if source_of == env_source(var)
        ));
    }
    assert!(matches!(
        err(b().propagate_context_to(hosts(MAX_PROPAGATION_HOSTS + 1))),
        ConfigError::InvalidPropagationHost { source_of, .. }
            if source_of == ConfigSource::Builder("propagate_context_to")
    ));
}

#[test]
fn sampler_ratios_stay_within_0_and_1() {
    for r in [f64::NAN, f64::INFINITY, -0.1, 1.000_001, f64::MAX] {
        assert!(matches!(
            err(b().sampler(Sampler::TraceIdRatio(r))),
            ConfigError::InvalidSamplerArg { .. }
        ));
    }
    for arg in ["NaN", "inf", "1e309", "-1e-300", "1.0000001"] {
        assert!(matches!(
            err(env(&[
                ("OTEL_TRACES_SAMPLER", "traceidratio"),
                ("OTEL_TRACES_SAMPLER_ARG", arg),
            ])),
            ConfigError::InvalidSamplerArg { .. }
        ));
    }
}

#[cfg(all(feature = "tls", unix))]
#[test]
fn ca_bundles_are_bounded_and_never_read_beyond_the_bound() {
    use checkout_otel::init::limits::MAX_CA_BUNDLE_BYTES;
    let too_big = vec![b'A'; MAX_CA_BUNDLE_BYTES + 1];
    match err(b().tls_ca_certificate_pem(too_big)) {
        ConfigError::InvalidCertificate { source_of, reason } => {
            assert_eq!(source_of, ConfigSource::Builder("tls_ca_certificate_pem"));
            assert!(reason.contains("larger than"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    // An endless file: read up to the bound, then refused.
    for builder in [
        b().tls_ca_file("/dev/zero"),
        env(&[("OTEL_EXPORTER_OTLP_CERTIFICATE", "/dev/zero")]),
    ] {
        match err(builder) {
            ConfigError::InvalidCertificate { reason, .. } => {
                assert!(reason.contains("larger than"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
    }
}

// ---------- not UTF-8 ----------

/// Every variable the crate reads, written out here independently of the
/// crate's own list.
#[cfg(unix)]
const VARIABLES: &[&str] = &[
    "OTEL_SERVICE_NAME",
    "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_SDK_DISABLED",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
    "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
    "OTEL_EXPORTER_OTLP_TIMEOUT",
    "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
    "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT",
    "OTEL_EXPORTER_OTLP_CERTIFICATE",
    "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
    "OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE",
    "OTEL_EXPORTER_OTLP_INSECURE",
    "OTEL_EXPORTER_OTLP_TRACES_INSECURE",
    "OTEL_EXPORTER_OTLP_METRICS_INSECURE",
    "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_SAMPLER_ARG",
    "OTEL_PROPAGATORS",
    "OTEL_METRIC_EXPORT_INTERVAL",
    "OTEL_METRIC_EXPORT_TIMEOUT",
    "OTEL_BSP_MAX_QUEUE_SIZE",
    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
    "OTEL_BSP_SCHEDULE_DELAY",
    "OTEL_BSP_EXPORT_TIMEOUT",
    "OTEL_BSP_MAX_CONCURRENT_EXPORTS",
    "OTEL_ATTRIBUTE_COUNT_LIMIT",
    "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT",
    "OTEL_SPAN_EVENT_COUNT_LIMIT",
    "OTEL_SPAN_LINK_COUNT_LIMIT",
    "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT",
    "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT",
    "RUST_LOG",
    "CHECKOUT_OTEL_USER_HASH_KEY",
    "CHECKOUT_OTEL_PROPAGATION_ALLOWED_HOSTS",
];

/// A value that is valid text but for one byte: lossy conversion would
/// turn it into something else that parses.
#[cfg(unix)]
fn not_utf8(valid: &str) -> std::ffi::OsString {
    use std::os::unix::ffi::OsStringExt as _;
    let mut bytes = valid.as_bytes().to_vec();
    bytes.push(0xff);
    std::ffi::OsString::from_vec(bytes)
}

#[cfg(unix)]
#[test]
fn a_value_that_is_not_utf8_is_an_error_naming_the_variable() {
    for var in VARIABLES {
        // Also where the builder overrides the variable.
        let builder = Telemetry::builder("checkout-api")
            .with_env([(*var, not_utf8("x"))])
            .endpoint("http://collector:4317")
            .user_hash_key("ab".repeat(32))
            .propagate_context_to(["inventory"]);
        match builder.resolve() {
            Err(ConfigError::NotUnicode { source_of }) => assert_eq!(source_of, env_source(var)),
            other => panic!("{var}: {other:?}"),
        }
    }
    // A key or header credential with a bad byte is not another secret.
    for (var, valid) in [
        (
            "CHECKOUT_OTEL_USER_HASH_KEY",
            "raw:a shared secret of at least thirty-two bytes",
        ),
        ("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer%20token"),
    ] {
        let e = Telemetry::builder("checkout-api")
            .with_env([(var, not_utf8(valid))])
            .build()
            .unwrap_err();
        assert!(matches!(e, ConfigError::NotUnicode { .. }), "{var}: {e:?}");
        assert!(!e.to_string().contains("secret") && !e.to_string().contains("token"));
    }
}

#[cfg(unix)]
const CHILD: &str = "CHECKOUT_OTEL_BOUNDS_CHILD";

/// Run by [`the_process_environment_is_read_without_lossy_conversion`] in a
/// child process whose environment holds one variable that is not UTF-8;
/// does nothing in the parent.
#[cfg(unix)]
#[test]
fn child_resolves_the_process_environment() {
    let Some(var) = std::env::var_os(CHILD) else {
        return;
    };
    let var = var.into_string().expect("the variable's name");
    match Telemetry::builder("checkout-api").resolve() {
        Err(ConfigError::NotUnicode {
            source_of: ConfigSource::Env(named),
        }) if named == var => {}
        other => panic!("{var}: {other:?}"),
    }
    if var == "CHECKOUT_OTEL_USER_HASH_KEY" {
        match UserHasher::from_env() {
            Err(ConfigError::NotUnicode { source_of }) => {
                assert_eq!(source_of, env_source("CHECKOUT_OTEL_USER_HASH_KEY"))
            }
            other => panic!("{other:?}"),
        }
    }
    println!("child checked {var}");
}

#[cfg(unix)]
#[test]
fn the_process_environment_is_read_without_lossy_conversion() {
    use std::process::Command;
    let exe = std::env::current_exe().expect("test binary");
    for var in [
        "CHECKOUT_OTEL_USER_HASH_KEY",
        "OTEL_EXPORTER_OTLP_HEADERS",
        "OTEL_SERVICE_NAME",
        "OTEL_BSP_MAX_QUEUE_SIZE",
        "RUST_LOG",
    ] {
        let output = Command::new(&exe)
            .args([
                "--exact",
                "child_resolves_the_process_environment",
                "--test-threads=1",
                "--nocapture",
            ])
            .env_clear()
            .env(CHILD, var)
            .env(
                var,
                not_utf8("raw:a shared secret of at least thirty-two bytes"),
            )
            .output()
            .expect("child process");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && stdout.contains(&format!("child checked {var}")),
            "{var}: {stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

// ---------- globals ----------

#[test]
fn a_refused_init_leaves_every_global_of_the_first() {
    use checkout_otel::opentelemetry::global;
    use checkout_otel::opentelemetry::trace::TracerProvider as _;
    use checkout_otel::opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader};

    let propagator_fields = || {
        let mut fields: Vec<String> = global::get_text_map_propagator(|p| {
            checkout_otel::opentelemetry::propagation::TextMapPropagator::fields(p)
                .map(str::to_owned)
                .collect()
        });
        fields.sort();
        fields
    };
    let spans = InMemorySpanExporter::default();
    let metrics = InMemoryMetricExporter::default();
    let first = Telemetry::builder("first")
        .with_env([
            ("CHECKOUT_OTEL_USER_HASH_KEY", "ab".repeat(32).as_str()),
            ("OTEL_PROPAGATORS", "tracecontext"),
        ])
        .traces_exporter(Exporter::None)
        .metrics_exporter(Exporter::None)
        .log_output(false)
        .with_span_processor(SimpleSpanProcessor::new(spans.clone()))
        .with_metric_reader(PeriodicReader::builder(metrics.clone()).build())
        .init()
        .expect("first init");
    let key = user_hasher().fingerprint();
    assert_eq!(key, first.user_hasher().fingerprint());
    assert_eq!(propagator_fields(), ["traceparent", "tracestate"]);

    let other_spans = InMemorySpanExporter::default();
    let refused = Telemetry::builder("second")
        .with_env([
            ("CHECKOUT_OTEL_USER_HASH_KEY", "cd".repeat(32).as_str()),
            ("OTEL_PROPAGATORS", "baggage"),
        ])
        .traces_exporter(Exporter::None)
        .metrics_exporter(Exporter::None)
        .log_output(false)
        .with_span_processor(SimpleSpanProcessor::new(other_spans.clone()))
        .init();
    assert!(matches!(refused, Err(ConfigError::SubscriberAlreadySet)));

    // The user hasher, propagator and both providers are still the first's.
    assert_eq!(user_hasher().fingerprint(), key);
    assert_eq!(propagator_fields(), ["traceparent", "tracestate"]);
    global::tracer_provider()
        .tracer("after-refusal")
        .start("after.refusal")
        .end();
    assert!(
        spans
            .get_finished_spans()
            .unwrap()
            .iter()
            .any(|s| s.name == "after.refusal")
    );
    assert!(other_spans.get_finished_spans().unwrap().is_empty());
    global::meter_provider()
        .meter("after-refusal")
        .u64_counter("after.refusal")
        .build()
        .add(1, &[]);
    first.force_flush().expect("flush");
    let exported = metrics.get_finished_metrics().unwrap();
    assert!(
        exported.iter().any(|rm| rm
            .scope_metrics()
            .any(|sm| sm.metrics().any(|m| m.name() == "after.refusal"))),
        "the global meter provider is the first's"
    );
    first.shutdown().expect("shutdown");
}
