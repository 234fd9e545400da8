//! Resource detection: what the process can learn about where it runs
//! (host, OS, process, container, Kubernetes pod), as resource attributes of
//! the lowest precedence: `OTEL_RESOURCE_ATTRIBUTES` replaces any of them per
//! key, and the builder replaces both.
//!
//! Each detector reads the environment through the builder's env source
//! (`with_env` / `env_source`) and files below a root directory (`/` unless
//! [`ResourceDetection::with_root`] says otherwise), so tests can give fake
//! `/proc` files. A detector that finds nothing adds nothing: an unreadable
//! or malformed file, a variable that is not UTF-8, a value over
//! [`MAX_RESOURCE_VALUE_BYTES`] are skipped, never an error or a panic.
//!
//! Written here rather than taken from `opentelemetry-resource-detectors`
//! (0.13, which does fit opentelemetry 0.33): its detectors read the process
//! environment and fixed paths (no hermetic tests, and `with_env` would not
//! apply to them), its process detector exports `process.command_args` (a
//! command line may hold secrets), its host detector starts a `hostname`
//! process at start-up, and its Kubernetes detector knows only `HOSTNAME` and
//! `NODE_NAME`.
//!
//! ```
//! use checkout_otel::Telemetry;
//! use checkout_otel::init::{Detector, ResourceDetection};
//!
//! let config = Telemetry::builder("checkout-api")
//!     .resource_detection(ResourceDetection::only([Detector::Host, Detector::Os]))
//!     .with_env([("KUBERNETES_SERVICE_HOST", "10.0.0.1"), ("POD_NAME", "checkout-7d9f")])
//!     .resolve()?;
//! let keys: Vec<_> = config.resource().iter().map(|(k, _)| k.as_str().to_owned()).collect();
//! assert!(keys.contains(&"host.arch".to_owned()) && keys.contains(&"os.type".to_owned()));
//! assert!(!keys.contains(&"k8s.pod.name".to_owned())); // the Kubernetes detector is off
//! # Ok::<(), checkout_otel::ConfigError>(())
//! ```

use std::ffi::OsString;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use opentelemetry::{KeyValue, Value};

use super::env::Env;
use super::limits::MAX_RESOURCE_VALUE_BYTES;
use crate::attributes::{self as attr, string_enum};
use crate::error::{ConfigError, ConfigSource};

/// The variable choosing the detectors: a comma-separated list of `host`,
/// `os`, `process`, `container`, `k8s`, or `all` / `none`. The name is the
/// one OpenTelemetry Python reads for the same purpose (the specification
/// has no variable for it yet, hence `EXPERIMENTAL`).
pub const RESOURCE_DETECTORS_ENV: &str = "OTEL_EXPERIMENTAL_RESOURCE_DETECTORS";

/// The most bytes read from one file (`/proc/self/mountinfo` is the largest).
const MAX_FILE_BYTES: u64 = 1 << 20;

string_enum! {
    /// One resource detector.
    pub enum Detector {
        /// `host.name` (from `/proc/sys/kernel/hostname`, then
        /// `/etc/hostname`, then `HOSTNAME`) and `host.arch`.
        Host => "host",
        /// `os.type`, and from `/etc/os-release` (or
        /// `/usr/lib/os-release`) `os.name`, `os.version`, `os.description`.
        Os => "os",
        /// `process.pid`, `process.executable.name`, `process.runtime.name`
        /// (`rustc`). Never the command line.
        Process => "process",
        /// `container.id`, from `/proc/self/cgroup` (cgroup v1, and v2 as
        /// seen from the host's namespace), else `/proc/self/mountinfo`
        /// (cgroup v2 in a private namespace: Docker, Podman).
        Container => "container",
        /// Inside Kubernetes (`KUBERNETES_SERVICE_HOST` set): `k8s.pod.name`,
        /// `k8s.namespace.name`, `k8s.node.name`, `k8s.pod.uid` from the
        /// downward-API variables (see the README's resource section).
        Kubernetes => "k8s",
    }
}

/// Which resource detectors run, and where they read files from.
///
/// The default: the detectors `OTEL_EXPERIMENTAL_RESOURCE_DETECTORS` lists,
/// all of them when it is unset. Set with
/// [`TelemetryBuilder::resource_detection`](crate::TelemetryBuilder::resource_detection),
/// a list given here wins over the variable (which is still checked).
#[derive(Clone, PartialEq, Eq)]
pub struct ResourceDetection {
    detectors: Option<Vec<Detector>>,
    root: PathBuf,
}

impl Default for ResourceDetection {
    fn default() -> Self {
        ResourceDetection {
            detectors: None,
            root: PathBuf::from("/"),
        }
    }
}

impl fmt::Debug for ResourceDetection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResourceDetection")
            .field("detectors", &self.detectors)
            .field("root", &self.root)
            .finish()
    }
}

impl ResourceDetection {
    /// No detection: the resource holds only what is configured.
    pub fn none() -> Self {
        Self::only([])
    }

    /// Exactly these detectors, whatever the environment says.
    pub fn only(detectors: impl IntoIterator<Item = Detector>) -> Self {
        ResourceDetection {
            detectors: Some(detectors.into_iter().collect()),
            ..Self::default()
        }
    }

    /// Reads `/proc`, `/etc` and `/var/run` below `root` instead of `/`: for
    /// tests, or a host mounted elsewhere.
    pub fn with_root(mut self, root: impl Into<PathBuf>) -> Self {
        self.root = root.into();
        self
    }
}

/// The detected attributes, in detector order. Fails only on an invalid
/// `OTEL_EXPERIMENTAL_RESOURCE_DETECTORS`, checked even when `detection`
/// overrides it.
pub(crate) fn detect(
    detection: &ResourceDetection,
    env: &Env<'_>,
) -> Result<Vec<KeyValue>, ConfigError> {
    let from_env = env.parse(RESOURCE_DETECTORS_ENV, parse_detectors)?;
    let detectors = match (&detection.detectors, from_env) {
        (Some(given), _) => given.clone(),
        (None, Some(listed)) => listed,
        (None, None) => Detector::ALL.to_vec(),
    };
    let sources = Sources {
        env,
        root: &detection.root,
    };
    let mut attrs = Vec::new();
    // In declaration order, whatever the order listed.
    for &detector in Detector::ALL {
        if detectors.contains(&detector) {
            let found = match detector {
                Detector::Host => sources.host(),
                Detector::Os => sources.os(),
                Detector::Process => process(),
                Detector::Container => sources.container(),
                Detector::Kubernetes => sources.kubernetes(),
            };
            attrs.extend(found.into_iter().filter(|kv| {
                kv.value.as_str().len() <= MAX_RESOURCE_VALUE_BYTES
                    && !kv.value.as_str().trim().is_empty()
            }));
        }
    }
    Ok(attrs)
}

fn parse_detectors(value: &str, source_of: ConfigSource) -> Result<Vec<Detector>, ConfigError> {
    let mut detectors = Vec::new();
    for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        match name.to_ascii_lowercase().as_str() {
            "all" => detectors.extend(Detector::ALL),
            "none" => {}
            "kubernetes" => detectors.push(Detector::Kubernetes),
            other => match Detector::ALL.iter().find(|d| d.as_str() == other) {
                Some(d) => detectors.push(*d),
                None => {
                    return Err(ConfigError::InvalidResourceDetector {
                        value: crate::error::echo(name),
                        source_of,
                    });
                }
            },
        }
    }
    Ok(detectors)
}

/// Where the detectors read from.
struct Sources<'a> {
    env: &'a Env<'a>,
    root: &'a Path,
}

impl Sources<'_> {
    /// A variable's trimmed value; not set, empty or not UTF-8 is `None`.
    fn var(&self, name: &str) -> Option<String> {
        (self.env.0)(name)
            .map(OsString::into_string)
            .and_then(Result::ok)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    /// The first of `names` that is set.
    fn first_var(&self, names: &[&str]) -> Option<String> {
        names.iter().find_map(|name| self.var(name))
    }

    /// A file below the root, at most [`MAX_FILE_BYTES`], lossily decoded.
    fn file(&self, path: &str) -> Option<String> {
        let path = self.root.join(path.trim_start_matches('/'));
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .and_then(|f| f.take(MAX_FILE_BYTES).read_to_end(&mut bytes))
            .ok()?;
        Some(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// A one-line file's trimmed content, if not empty.
    fn line(&self, path: &str) -> Option<String> {
        let content = self.file(path)?;
        let line = content.lines().next()?.trim();
        (!line.is_empty()).then(|| line.to_owned())
    }

    fn host(&self) -> Vec<KeyValue> {
        let name = self
            .line("/proc/sys/kernel/hostname")
            .or_else(|| self.line("/etc/hostname"))
            .or_else(|| self.var("HOSTNAME"));
        let mut attrs = vec![KeyValue::new(attr::HOST_ARCH, host_arch())];
        attrs.extend(name.map(|n| KeyValue::new(attr::HOST_NAME, n)));
        attrs
    }

    fn os(&self) -> Vec<KeyValue> {
        let mut attrs = vec![KeyValue::new(attr::OS_TYPE, os_type())];
        let release = self
            .file("/etc/os-release")
            .or_else(|| self.file("/usr/lib/os-release"));
        if let Some(release) = release {
            for (field, key) in [
                ("NAME", attr::OS_NAME),
                ("VERSION_ID", attr::OS_VERSION),
                ("PRETTY_NAME", attr::OS_DESCRIPTION),
            ] {
                if let Some(value) = os_release_field(&release, field) {
                    attrs.push(KeyValue::new(key, value));
                }
            }
        }
        attrs
    }

    fn container(&self) -> Vec<KeyValue> {
        let from_cgroup = self.file("/proc/self/cgroup").and_then(|c| {
            c.lines()
                .find_map(container_id_in_cgroup)
                .map(str::to_owned)
        });
        let id = from_cgroup.or_else(|| {
            self.file("/proc/self/mountinfo").and_then(|m| {
                m.lines()
                    .find_map(container_id_in_mountinfo)
                    .map(str::to_owned)
            })
        });
        id.map(|id| KeyValue::new(attr::CONTAINER_ID, id))
            .into_iter()
            .collect()
    }

    fn kubernetes(&self) -> Vec<KeyValue> {
        if self.var("KUBERNETES_SERVICE_HOST").is_none() {
            return Vec::new();
        }
        // The OpenTelemetry Operator's names first, then the usual ones; a
        // pod's hostname is its name unless the pod spec sets another.
        let pod_name = self.first_var(&[
            "OTEL_RESOURCE_ATTRIBUTES_POD_NAME",
            "POD_NAME",
            "K8S_POD_NAME",
            "HOSTNAME",
        ]);
        let namespace = self
            .first_var(&["POD_NAMESPACE", "K8S_NAMESPACE_NAME"])
            .or_else(|| self.line("/var/run/secrets/kubernetes.io/serviceaccount/namespace"));
        let node = self.first_var(&[
            "OTEL_RESOURCE_ATTRIBUTES_NODE_NAME",
            "NODE_NAME",
            "K8S_NODE_NAME",
        ]);
        let uid = self.first_var(&["OTEL_RESOURCE_ATTRIBUTES_POD_UID", "POD_UID", "K8S_POD_UID"]);
        [
            (attr::K8S_POD_NAME, pod_name),
            (attr::K8S_NAMESPACE_NAME, namespace),
            (attr::K8S_NODE_NAME, node),
            (attr::K8S_POD_UID, uid),
        ]
        .into_iter()
        .filter_map(|(key, value)| value.map(|v| KeyValue::new(key, v)))
        .collect()
    }
}

fn process() -> Vec<KeyValue> {
    let mut attrs = vec![
        KeyValue::new(attr::PROCESS_PID, i64::from(std::process::id())),
        KeyValue::new(attr::PROCESS_RUNTIME_NAME, "rustc"),
    ];
    let executable = std::env::current_exe().ok().and_then(|path| {
        path.file_name()
            .and_then(|name| name.to_str())
            .map(str::to_owned)
    });
    attrs.extend(executable.map(|name| KeyValue::new(attr::PROCESS_EXECUTABLE_NAME, name)));
    attrs
}

/// `host.arch` in the semantic conventions' values.
fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "arm" => "arm32",
        "powerpc" => "ppc32",
        "powerpc64" => "ppc64",
        other => other, // x86, s390x as named there; anything else as Rust names it
    }
}

/// `os.type` in the semantic conventions' values.
fn os_type() -> &'static str {
    match std::env::consts::OS {
        "macos" | "ios" => "darwin",
        "dragonfly" => "dragonflybsd",
        "illumos" => "solaris",
        other => other,
    }
}

/// `FIELD=value` or `FIELD="value"` from an os-release file.
fn os_release_field(content: &str, field: &str) -> Option<String> {
    content.lines().find_map(|line| {
        let value = line.trim().strip_prefix(field)?.strip_prefix('=')?;
        let value = value.trim().trim_matches(|c| c == '"' || c == '\'').trim();
        (!value.is_empty()).then(|| value.to_owned())
    })
}

/// A container id: 32 to 64 hex digits.
fn is_container_id(candidate: &str) -> bool {
    (32..=64).contains(&candidate.len()) && candidate.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The container id in one `/proc/self/cgroup` line (`hierarchy:controllers:path`):
/// the path's last segment, without a runtime prefix (`docker-`,
/// `cri-containerd-`, `crio-`, `libpod-`) or a `.scope` suffix.
/// `12:pids:/docker/<id>`, `0::/system.slice/docker-<id>.scope`,
/// `1:name=systemd:/kubepods/burstable/pod<uid>/<id>`.
fn container_id_in_cgroup(line: &str) -> Option<&str> {
    let path = line.splitn(3, ':').nth(2)?;
    let last = path.trim().rsplit('/').next()?;
    let last = last.split_once('.').map_or(last, |(id, _)| id);
    let id = last.rsplit([':', '-']).next()?;
    is_container_id(id).then_some(id)
}

/// The container id in one `/proc/self/mountinfo` line: the runtime
/// bind-mounts the container's own `hostname` file on `/etc/hostname` from
/// `…/containers/<id>/hostname` (Docker) or
/// `…/overlay-containers/<id>/userdata/hostname` (Podman).
fn container_id_in_mountinfo(line: &str) -> Option<&str> {
    let mut fields = line.split_whitespace();
    let root = fields.nth(3)?;
    if fields.next()? != "/etc/hostname" {
        return None;
    }
    let mut segments = root.split('/');
    while let Some(segment) = segments.next() {
        if segment == "containers" || segment == "overlay-containers" {
            match segments.next() {
                Some(id) if is_container_id(id) => return Some(id),
                _ => {}
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "3c8a3c4e7a1f5d6b9e0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6a";

    #[test]
    fn container_ids_from_cgroup_lines_of_each_runtime() {
        for line in [
            format!("12:pids:/docker/{ID}"),
            format!("0::/system.slice/docker-{ID}.scope"),
            format!("1:name=systemd:/kubepods/burstable/pod1a2b/{ID}"),
            format!("0::/kubepods.slice/kubepods-pod1a2b.slice/cri-containerd-{ID}.scope"),
            format!("11:devices:/kubepods/besteffort/pod1a2b/crio-{ID}"),
            format!("0::/machine.slice/libpod-{ID}.scope/container"),
        ] {
            let found = container_id_in_cgroup(&line);
            // Podman's nested `container` cgroup hides the id in the line:
            // the mountinfo fallback finds it.
            if line.ends_with("/container") {
                assert_eq!(found, None, "{line}");
            } else {
                assert_eq!(found, Some(ID), "{line}");
            }
        }
        for line in ["0::/", "0::/init.scope", "3:cpu:/user.slice", "garbage", ""] {
            assert_eq!(container_id_in_cgroup(line), None, "{line}");
        }
    }

    #[test]
    fn container_ids_from_mountinfo_lines() {
        let docker = format!(
            "2304 1573 254:1 /var/lib/docker/containers/{ID}/hostname /etc/hostname rw,relatime - ext4 /dev/vda1 rw"
        );
        let podman = format!(
            "1000 900 0:50 /containers/storage/overlay-containers/{ID}/userdata/hostname /etc/hostname rw - tmpfs tmpfs rw"
        );
        assert_eq!(container_id_in_mountinfo(&docker), Some(ID));
        assert_eq!(container_id_in_mountinfo(&podman), Some(ID));
        // Another mount point, a sandbox (not the container), no id.
        let hosts = format!("1 2 0:1 /var/lib/docker/containers/{ID}/hosts /etc/hosts rw - x y rw");
        let sandbox = format!(
            "1 2 0:1 /var/lib/containerd/sandboxes/{ID}/hostname /etc/hostname rw - x y rw"
        );
        for line in [
            hosts.as_str(),
            sandbox.as_str(),
            "1 2 0:1 / / rw - x y",
            "short",
        ] {
            assert_eq!(container_id_in_mountinfo(line), None, "{line}");
        }
    }

    #[test]
    fn os_release_values_unquoted() {
        let release = "NAME=\"Debian GNU/Linux\"\nVERSION_ID='12'\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\n";
        assert_eq!(
            os_release_field(release, "NAME").as_deref(),
            Some("Debian GNU/Linux")
        );
        assert_eq!(
            os_release_field(release, "VERSION_ID").as_deref(),
            Some("12")
        );
        assert_eq!(os_release_field(release, "ID").as_deref(), Some("debian"));
        assert_eq!(os_release_field(release, "VERSION"), None);
    }

    #[test]
    fn detector_names_and_errors() {
        let parse = |v: &str| parse_detectors(v, ConfigSource::Env(RESOURCE_DETECTORS_ENV));
        assert_eq!(
            parse(" host, K8S ,").unwrap(),
            [Detector::Host, Detector::Kubernetes]
        );
        assert_eq!(parse("all").unwrap(), Detector::ALL);
        assert_eq!(parse("none").unwrap(), []);
        let err = parse("host,gcp").unwrap_err().to_string();
        assert!(
            err.contains("\"gcp\"") && err.contains(RESOURCE_DETECTORS_ENV),
            "{err}"
        );
    }
}
