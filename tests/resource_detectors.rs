//! Resource detectors, fed a fake filesystem root and environment: what
//! each finds, the precedence (builder > `OTEL_RESOURCE_ATTRIBUTES` >
//! detectors), how detection is chosen or turned off, and that files that
//! are missing, unreadable or malformed add nothing and never fail init.

use std::path::Path;

use checkout_otel::error::{ConfigError, ConfigSource};
use checkout_otel::init::{Detector, Exporter, RESOURCE_DETECTORS_ENV, ResourceDetection};
use checkout_otel::opentelemetry::{Key, Value};
use checkout_otel::{Telemetry, TelemetryBuilder};

const CONTAINER_ID: &str = "3c8a3c4e7a1f5d6b9e0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6a";

/// A root with `files` (path below the root, content).
fn root(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (path, content) in files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, content).expect("write");
    }
    dir
}

/// A linux container on Kubernetes, as the files show it.
fn pod_root() -> tempfile::TempDir {
    root(&[
        ("proc/sys/kernel/hostname", "checkout-7d9f-x2k\n"),
        ("etc/hostname", "not-this-one\n"),
        (
            "etc/os-release",
            "NAME=\"Alpine Linux\"\nVERSION_ID=3.20.3\nPRETTY_NAME=\"Alpine Linux v3.20\"\n",
        ),
        (
            "proc/self/cgroup",
            &format!("12:pids:/kubepods/burstable/pod0c2e/{CONTAINER_ID}\n11:cpu:/kubepods\n"),
        ),
        (
            "var/run/secrets/kubernetes.io/serviceaccount/namespace",
            "shop-from-file",
        ),
    ])
}

fn builder(root: &Path, env: &[(&str, &str)]) -> TelemetryBuilder {
    Telemetry::builder("checkout-api")
        .resource_detection(ResourceDetection::default().with_root(root))
        .with_env(env.iter().map(|(k, v)| (k.to_string(), v.to_string())))
}

/// The resource `builder` resolves to, as `key -> value` strings.
fn resource(builder: TelemetryBuilder) -> Vec<(String, String)> {
    let config = builder.resolve().expect("resolve");
    let mut attrs: Vec<_> = config
        .resource()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.as_str().into_owned()))
        .collect();
    attrs.sort();
    attrs
}

fn get<'a>(attrs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    attrs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

const K8S_ENV: &[(&str, &str)] = &[
    ("KUBERNETES_SERVICE_HOST", "10.96.0.1"),
    ("POD_NAME", "checkout-7d9f-x2k"),
    ("POD_NAMESPACE", "shop"),
    ("NODE_NAME", "node-eu-1"),
    ("POD_UID", "0c2e0c2e-1111-2222-3333-444455556666"),
];

#[test]
fn every_detector_reads_its_files_and_variables() {
    let dir = pod_root();
    let attrs = resource(builder(dir.path(), K8S_ENV));
    let expected_arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    assert_eq!(get(&attrs, "host.name"), Some("checkout-7d9f-x2k"));
    assert_eq!(get(&attrs, "host.arch"), Some(expected_arch));
    assert_eq!(
        get(&attrs, "os.type"),
        Some(if cfg!(target_os = "macos") {
            "darwin"
        } else {
            std::env::consts::OS
        })
    );
    assert_eq!(get(&attrs, "os.name"), Some("Alpine Linux"));
    assert_eq!(get(&attrs, "os.version"), Some("3.20.3"));
    assert_eq!(get(&attrs, "os.description"), Some("Alpine Linux v3.20"));
    assert_eq!(
        get(&attrs, "process.pid"),
        Some(std::process::id().to_string().as_str())
    );
    let exe = std::env::current_exe().unwrap();
    assert_eq!(
        get(&attrs, "process.executable.name"),
        exe.file_name().and_then(|n| n.to_str())
    );
    assert_eq!(get(&attrs, "process.runtime.name"), Some("rustc"));
    assert!(
        get(&attrs, "process.command_args").is_none(),
        "never the command line"
    );
    assert_eq!(get(&attrs, "container.id"), Some(CONTAINER_ID));
    assert_eq!(get(&attrs, "k8s.pod.name"), Some("checkout-7d9f-x2k"));
    assert_eq!(get(&attrs, "k8s.namespace.name"), Some("shop"));
    assert_eq!(get(&attrs, "k8s.node.name"), Some("node-eu-1"));
    assert_eq!(
        get(&attrs, "k8s.pod.uid"),
        Some("0c2e0c2e-1111-2222-3333-444455556666")
    );
    // Configured attributes are still there.
    assert_eq!(get(&attrs, "service.name"), Some("checkout-api"));
    assert_eq!(get(&attrs, "service.instance.id").map(str::len), Some(36));
}

#[test]
fn builder_wins_over_the_environment_which_wins_over_detectors() {
    let dir = pod_root();
    let mut env = K8S_ENV.to_vec();
    env.push((
        "OTEL_RESOURCE_ATTRIBUTES",
        "host.name=from-env,k8s.pod.name=pod-from-env,container.id=cid-from-env",
    ));
    let attrs = resource(
        builder(dir.path(), &env)
            .resource_attribute("host.name", "from-builder")
            .resource_attribute("k8s.node.name", "node-from-builder"),
    );
    assert_eq!(get(&attrs, "host.name"), Some("from-builder"));
    assert_eq!(get(&attrs, "k8s.node.name"), Some("node-from-builder"));
    assert_eq!(get(&attrs, "k8s.pod.name"), Some("pod-from-env"));
    assert_eq!(get(&attrs, "container.id"), Some("cid-from-env"));
    // Not overridden: detected.
    assert_eq!(get(&attrs, "k8s.namespace.name"), Some("shop"));
    assert_eq!(get(&attrs, "os.name"), Some("Alpine Linux"));
}

#[test]
fn kubernetes_attributes_only_inside_kubernetes_and_from_the_usual_variables() {
    let dir = root(&[(
        "var/run/secrets/kubernetes.io/serviceaccount/namespace",
        "shop-from-file\n",
    )]);
    // Outside a cluster, a stray POD_NAME is not a pod.
    let attrs = resource(builder(dir.path(), &[("POD_NAME", "p")]));
    assert!(
        attrs.iter().all(|(k, _)| !k.starts_with("k8s.")),
        "{attrs:?}"
    );

    // The OpenTelemetry Operator's variables win over the usual ones; the
    // namespace comes from the service account when no variable has it.
    let attrs = resource(builder(
        dir.path(),
        &[
            ("KUBERNETES_SERVICE_HOST", "10.96.0.1"),
            ("OTEL_RESOURCE_ATTRIBUTES_POD_NAME", "pod-operator"),
            ("POD_NAME", "pod-usual"),
            ("OTEL_RESOURCE_ATTRIBUTES_NODE_NAME", "node-operator"),
            ("OTEL_RESOURCE_ATTRIBUTES_POD_UID", "uid-operator"),
        ],
    ));
    assert_eq!(get(&attrs, "k8s.pod.name"), Some("pod-operator"));
    assert_eq!(get(&attrs, "k8s.node.name"), Some("node-operator"));
    assert_eq!(get(&attrs, "k8s.pod.uid"), Some("uid-operator"));
    assert_eq!(get(&attrs, "k8s.namespace.name"), Some("shop-from-file"));

    // With nothing but the hostname, the pod name is the hostname (which
    // Kubernetes sets to it), and host.name falls back to it too.
    let empty = root(&[]);
    let attrs = resource(builder(
        empty.path(),
        &[
            ("KUBERNETES_SERVICE_HOST", "10.96.0.1"),
            ("HOSTNAME", "checkout-5c6d-abc"),
        ],
    ));
    assert_eq!(get(&attrs, "k8s.pod.name"), Some("checkout-5c6d-abc"));
    assert_eq!(get(&attrs, "host.name"), Some("checkout-5c6d-abc"));
    assert_eq!(get(&attrs, "k8s.node.name"), None);
    assert_eq!(get(&attrs, "k8s.namespace.name"), None);
}

#[test]
fn container_id_from_mountinfo_under_cgroup_v2() {
    let dir = root(&[
        ("proc/self/cgroup", "0::/\n"),
        (
            "proc/self/mountinfo",
            &format!(
                "600 500 0:40 / / rw,relatime - overlay overlay rw\n\
                 610 600 254:1 /var/lib/docker/containers/{CONTAINER_ID}/resolv.conf /etc/resolv.conf rw - ext4 /dev/vda1 rw\n\
                 611 600 254:1 /var/lib/docker/containers/{CONTAINER_ID}/hostname /etc/hostname rw - ext4 /dev/vda1 rw\n"
            ),
        ),
    ]);
    let attrs = resource(builder(dir.path(), &[]));
    assert_eq!(get(&attrs, "container.id"), Some(CONTAINER_ID));

    // cgroup v2 seen from the host's namespace names the scope.
    let dir = root(&[(
        "proc/self/cgroup",
        &format!("0::/system.slice/docker-{CONTAINER_ID}.scope\n"),
    )]);
    let attrs = resource(builder(dir.path(), &[]));
    assert_eq!(get(&attrs, "container.id"), Some(CONTAINER_ID));
}

#[test]
fn missing_unreadable_or_malformed_files_add_nothing_and_never_fail() {
    let long_name = "h".repeat(5000);
    let dir = root(&[
        // Too long for a resource value: skipped, not an error.
        ("proc/sys/kernel/hostname", long_name.as_str()),
        ("etc/os-release", "\u{0}\u{1}garbage without fields\n=\n"),
        ("proc/self/cgroup", "not a cgroup line\n::\n"),
        ("proc/self/mountinfo", "1 2\n"),
    ]);
    // A directory where a file is expected cannot be read.
    std::fs::create_dir_all(dir.path().join("etc/hostname")).unwrap();
    std::fs::write(dir.path().join("bad-utf8"), [0xff, 0xfe]).unwrap();
    let attrs = resource(builder(dir.path(), &[]));
    for key in [
        "host.name",
        "os.name",
        "os.version",
        "os.description",
        "container.id",
    ] {
        assert_eq!(get(&attrs, key), None, "{key}: {attrs:?}");
    }
    // What needs no file is still there.
    assert!(get(&attrs, "host.arch").is_some());
    assert!(get(&attrs, "os.type").is_some());
    assert!(get(&attrs, "process.pid").is_some());

    // A root that does not exist at all.
    let attrs = resource(builder(Path::new("/nonexistent/checkout-otel-root"), &[]));
    assert_eq!(get(&attrs, "host.name"), None);
    assert!(get(&attrs, "host.arch").is_some());

    // A hostname variable that is not UTF-8 is skipped, not NotUnicode.
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStringExt as _;
        let config = Telemetry::builder("checkout-api")
            .resource_detection(ResourceDetection::default().with_root("/nonexistent"))
            .with_env([(
                "HOSTNAME".to_owned(),
                std::ffi::OsString::from_vec(vec![0x66, 0xff]),
            )])
            .resolve()
            .expect("a bad detector input never fails init");
        assert!(
            config
                .resource()
                .get(&Key::from_static_str("host.name"))
                .is_none()
        );
    }
}

#[test]
fn detection_is_chosen_by_the_variable_and_the_builder_wins() {
    let dir = pod_root();
    let keys = |b: TelemetryBuilder| -> Vec<String> {
        let mut keys: Vec<_> = resource(b)
            .into_iter()
            .map(|(k, _)| k)
            .filter(|k| !k.starts_with("service.") && !k.starts_with("telemetry."))
            .collect();
        keys.dedup();
        keys
    };
    let env = |detectors: &'static str| {
        let mut env = K8S_ENV.to_vec();
        env.push((RESOURCE_DETECTORS_ENV, detectors));
        env
    };
    assert_eq!(
        keys(builder(dir.path(), &env("none"))),
        Vec::<String>::new()
    );
    assert_eq!(
        keys(builder(dir.path(), &env("host, k8s"))),
        [
            "host.arch",
            "host.name",
            "k8s.namespace.name",
            "k8s.node.name",
            "k8s.pod.name",
            "k8s.pod.uid"
        ]
    );
    assert_eq!(
        keys(builder(dir.path(), &env("container"))),
        ["container.id"]
    );

    // The builder's choice wins over the variable.
    let only_os = builder(dir.path(), &env("all"))
        .resource_detection(ResourceDetection::only([Detector::Os]).with_root(dir.path()));
    assert_eq!(
        keys(only_os),
        ["os.description", "os.name", "os.type", "os.version"]
    );
    let off = builder(dir.path(), &env("all")).resource_detection(ResourceDetection::none());
    assert_eq!(keys(off), Vec::<String>::new());

    // An unknown name is an error naming the variable, even when the
    // builder overrides it.
    let err = builder(dir.path(), &env("host,gcp"))
        .resource_detection(ResourceDetection::none())
        .resolve()
        .unwrap_err();
    match &err {
        ConfigError::InvalidResourceDetector { value, source_of } => {
            assert_eq!(value, "gcp");
            assert_eq!(source_of, &ConfigSource::Env(RESOURCE_DETECTORS_ENV));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn detected_attributes_reach_the_guards_resource_through_the_exit_check() {
    let dir = root(&[
        ("proc/sys/kernel/hostname", "checkout-host-1"),
        // A host named after a person's e-mail address is PII: the exit
        // check applies to resource values too.
        (
            "etc/os-release",
            "PRETTY_NAME=\"built by jane.doe@example.com\"\n",
        ),
    ]);
    let guard = builder(dir.path(), &[])
        .traces_exporter(Exporter::None)
        .metrics_exporter(Exporter::None)
        .tracing_bridge(false)
        .build()
        .expect("build");
    let resource = guard.resource();
    let value = |key: &'static str| {
        resource
            .get(&Key::from_static_str(key))
            .map(|v: Value| v.as_str().into_owned())
    };
    assert_eq!(value("host.name").as_deref(), Some("checkout-host-1"));
    let description = value("os.description").expect("os.description");
    assert!(!description.contains("jane.doe@"), "{description}");
    assert!(description.starts_with("built by "), "{description}");
}
