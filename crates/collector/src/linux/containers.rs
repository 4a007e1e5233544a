//! Containers from cgroup v2 (`<sysfs>/fs/cgroup`): Kubernetes pods'
//! containers, Docker and Podman containers, systemd machines.
//!
//! Every cycle lists the few directories where container cgroups live (no
//! walk of the whole tree) and reads five small files per container:
//! `cpu.stat`, `memory.current`, `memory.stat`, `memory.max` and
//! `memory.events`. Names never come from an API server:
//!
//! - Kubernetes (`kubepods.slice/[kubepods-<qos>.slice/]kubepods-[<qos>-]pod<uid>.slice/<runtime>-<id>.scope`
//!   with the systemd cgroup driver, `kubepods/[<qos>/]pod<uid>/<id>` with
//!   cgroupfs): the kubelet links `<log_path>/containers/<pod>_<namespace>_<container>-<id>.log`
//!   to `<log_path>/pods/<namespace>_<pod>_<uid>/<container>/<n>.log`; the
//!   link's target gives namespace, pod, pod uid and container name. A
//!   container without such a link (the pod's sandbox, "pause") is not
//!   reported. The links are re-read only when their directory changes.
//! - Docker (`system.slice/docker-<id>.scope`, `docker/<id>`): the `Name` in
//!   `<rootfs>/var/lib/docker/containers/<id>/config.v2.json`.
//! - Podman (`machine.slice/libpod-<id>.scope`): the first of its `names` in
//!   `<rootfs>/var/lib/containers/storage/overlay-containers/containers.json`.
//! - systemd machines (`machine.slice/machine-<name>.scope`,
//!   `machine.slice/systemd-nspawn@<name>.service`): the unit's name.
//!
//! Containers that cannot be named are skipped rather than labelled by a
//! random id, which would create a series per restart.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use oxmon_common::metric::{
    CONTAINER_CPU_THROTTLED_SECONDS, CONTAINER_CPU_USAGE, CONTAINER_MEMORY_LIMIT, CONTAINER_MEMORY_WORKING_SET,
    CONTAINER_OOM_KILLS, LABEL_CONTAINER, LABEL_NAMESPACE, LABEL_POD, Labels, Metric,
};

use super::read_into;
use crate::{Collection, ContainerConfig, Error};

/// Prefixes of a container's scope unit below a pod's cgroup, by runtime.
const RUNTIME_PREFIXES: &[&str] = &["cri-containerd-", "crio-", "docker-"];

/// A Kubernetes container as its log link names it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct K8sName {
    namespace: String,
    pod: String,
    uid: String,
    container: String,
}

/// A container found this cycle.
#[derive(Debug)]
struct Found {
    dir: PathBuf,
    labels: Labels,
}

/// One reading of a container's files.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Reading {
    pub(super) usage_usec: u64,
    pub(super) throttled_usec: Option<u64>,
    /// `memory.current - inactive_file`, as cAdvisor and the kubelet count
    /// the working set; `None` without the memory controller.
    pub(super) working_set: Option<u64>,
    /// `None` when unlimited (`max`) or without the memory controller.
    pub(super) limit: Option<u64>,
    pub(super) oom_kills: Option<u64>,
}

/// What rates need of the previous reading.
#[derive(Clone, Copy, Debug)]
struct Previous {
    usage_usec: u64,
    throttled_usec: Option<u64>,
    at: Instant,
}

/// The container sub-collector.
pub(super) struct Containers {
    cgroup: PathBuf,
    rootfs: PathBuf,
    config: ContainerConfig,
    /// Kubernetes names by container id, from `<log_path>/containers`.
    k8s_names: HashMap<String, K8sName>,
    /// The modification time of `<log_path>/containers` when it was read.
    k8s_listed: Option<SystemTime>,
    /// Docker and Podman names by container id (`None`: not named), for
    /// the containers still running.
    names: HashMap<String, Option<String>>,
    previous: HashMap<PathBuf, Previous>,
    found: Vec<Found>,
    buf: Vec<u8>,
}

impl Containers {
    pub(super) fn new(sysfs: &Path, rootfs: &Path, config: ContainerConfig) -> Self {
        Self {
            cgroup: sysfs.join("fs/cgroup"),
            rootfs: rootfs.to_owned(),
            config,
            k8s_names: HashMap::new(),
            k8s_listed: None,
            names: HashMap::new(),
            previous: HashMap::new(),
            found: Vec::new(),
            buf: Vec::new(),
        }
    }

    /// Number of containers reported last cycle.
    pub(super) fn containers(&self) -> usize {
        self.found.len()
    }

    pub(super) fn collect(&mut self, now: Instant, out: &mut Collection) {
        let mut error = None;
        self.discover(&mut error);
        if self.found.len() > self.config.max_containers {
            self.found.truncate(self.config.max_containers);
            out.errors.push(Error::TooManyContainers { max: self.config.max_containers });
        }
        let mut previous = HashMap::with_capacity(self.found.len());
        for found in &self.found {
            let reading = match read_container(&found.dir, &mut self.buf) {
                Ok(Some(reading)) => reading,
                // Gone between listing and reading: it stopped.
                Ok(None) => continue,
                Err(e) => {
                    error.get_or_insert(e);
                    continue;
                }
            };
            let earlier = self.previous.get(&found.dir);
            emit(&found.labels, reading, earlier, now, &mut out.metrics);
            previous.insert(
                found.dir.clone(),
                Previous { usage_usec: reading.usage_usec, throttled_usec: reading.throttled_usec, at: now },
            );
        }
        // Containers that are gone are forgotten: they produce no series.
        self.previous = previous;
        out.errors.extend(error);
    }

    /// Fills `found` with this cycle's containers, in a stable order:
    /// Kubernetes pods, then Docker, Podman and systemd machines.
    fn discover(&mut self, error: &mut Option<Error>) {
        self.found.clear();
        for (root, systemd) in [("kubepods.slice", true), ("kubepods", false)] {
            let root = self.cgroup.join(root);
            let Some(entries) = list_dirs(&root, error) else { continue };
            self.refresh_k8s_names(error);
            for entry in entries {
                if let Some(uid) = pod_uid(&entry, systemd) {
                    self.pod(&root.join(&entry), &uid, error);
                } else if is_qos_class(&entry, systemd) {
                    let qos = root.join(&entry);
                    for pod in list_dirs(&qos, error).unwrap_or_default() {
                        if let Some(uid) = pod_uid(&pod, systemd) {
                            self.pod(&qos.join(&pod), &uid, error);
                        }
                    }
                }
            }
        }
        let mut running = HashSet::new();
        for (parent, prefix, suffix) in [("system.slice", "docker-", ".scope"), ("docker", "", "")] {
            let parent = self.cgroup.join(parent);
            for entry in list_dirs(&parent, error).unwrap_or_default() {
                let Some(id) = entry.strip_prefix(prefix).and_then(|e| e.strip_suffix(suffix)).filter(|id| is_id(id))
                else {
                    continue;
                };
                let rootfs = &self.rootfs;
                let name = self.names.entry(id.to_owned()).or_insert_with(|| docker_name(rootfs, id));
                running.insert(id.to_owned());
                if let Some(name) = name {
                    let labels = Labels::one(LABEL_CONTAINER, name.as_str());
                    self.found.push(Found { dir: parent.join(&entry), labels });
                }
            }
        }
        let machines = self.cgroup.join("machine.slice");
        for entry in list_dirs(&machines, error).unwrap_or_default() {
            let name = if let Some(id) = entry.strip_prefix("libpod-").and_then(|e| e.strip_suffix(".scope")) {
                if !is_id(id) {
                    continue;
                }
                running.insert(id.to_owned());
                let rootfs = &self.rootfs;
                self.names.entry(id.to_owned()).or_insert_with(|| podman_name(rootfs, id)).clone()
            } else if let Some(name) = entry.strip_prefix("machine-").and_then(|e| e.strip_suffix(".scope")) {
                Some(unescape_unit(name))
            } else {
                entry.strip_prefix("systemd-nspawn@").and_then(|e| e.strip_suffix(".service")).map(unescape_unit)
            };
            if let Some(name) = name {
                self.found.push(Found { dir: machines.join(&entry), labels: Labels::one(LABEL_CONTAINER, name) });
            }
        }
        self.names.retain(|id, _| running.contains(id));
    }

    /// The containers of one pod's cgroup `dir`, named by the kubelet's log
    /// links; the sandbox and containers of other namespaces are skipped.
    fn pod(&mut self, dir: &Path, uid: &str, error: &mut Option<Error>) {
        for entry in list_dirs(dir, error).unwrap_or_default() {
            let Some(id) = container_id(&entry) else { continue };
            let Some(name) = self.k8s_names.get(id) else { continue };
            if name.uid != uid || !self.config.reports_namespace(&name.namespace) {
                continue;
            }
            let labels = Labels::from_pairs([
                (LABEL_NAMESPACE, name.namespace.as_str()),
                (LABEL_POD, name.pod.as_str()),
                (LABEL_CONTAINER, name.container.as_str()),
            ]);
            self.found.push(Found { dir: dir.join(&entry), labels });
        }
    }

    /// Re-reads `<log_path>/containers` when it changed since last read.
    fn refresh_k8s_names(&mut self, error: &mut Option<Error>) {
        let links = self.config.log_path.join("containers");
        let modified = match fs::metadata(&links).and_then(|m| m.modified()) {
            Ok(modified) => Some(modified),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => {
                error.get_or_insert(Error::Read { path: links, error: e });
                return;
            }
        };
        if modified.is_some() && modified == self.k8s_listed {
            return;
        }
        self.k8s_names.clear();
        self.k8s_listed = modified;
        let Ok(entries) = fs::read_dir(&links) else { return };
        for entry in entries.flatten() {
            let file = entry.file_name();
            let Some(id) = file.to_str().and_then(log_link_id) else { continue };
            let Ok(target) = fs::read_link(entry.path()) else { continue };
            if let Some(name) = parse_log_target(&target) {
                self.k8s_names.insert(id.to_owned(), name);
            }
        }
    }
}

/// Pushes the metrics of one reading; rates only against an earlier reading
/// whose counters did not go down (a container restarted in the same cgroup
/// starts a new baseline).
fn emit(labels: &Labels, now: Reading, earlier: Option<&Previous>, at: Instant, out: &mut Vec<Metric>) {
    let mut push = |name: &'static str, value: f64| out.push(Metric { name, labels: labels.clone(), value });
    if let Some(earlier) = earlier {
        let seconds = at.saturating_duration_since(earlier.at).as_secs_f64();
        if seconds > 0.0 {
            if let Some(used) = now.usage_usec.checked_sub(earlier.usage_usec) {
                push(CONTAINER_CPU_USAGE, used as f64 / 1e6 / seconds);
            }
            if let (Some(now), Some(then)) = (now.throttled_usec, earlier.throttled_usec)
                && let Some(throttled) = now.checked_sub(then)
            {
                push(CONTAINER_CPU_THROTTLED_SECONDS, throttled as f64 / 1e6 / seconds);
            }
        }
    }
    if let Some(bytes) = now.working_set {
        push(CONTAINER_MEMORY_WORKING_SET, bytes as f64);
    }
    if let Some(bytes) = now.limit {
        push(CONTAINER_MEMORY_LIMIT, bytes as f64);
    }
    if let Some(kills) = now.oom_kills {
        push(CONTAINER_OOM_KILLS, kills as f64);
    }
}

/// Reads one container's files; `Ok(None)` when its `cpu.stat` is gone
/// (the container stopped). The memory files are optional: without the
/// memory controller only CPU is reported.
fn read_container(dir: &Path, buf: &mut Vec<u8>) -> Result<Option<Reading>, Error> {
    let mut reading = Reading::default();
    let cpu_stat = dir.join("cpu.stat");
    match read_into(&cpu_stat, buf) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(Error::Read { path: cpu_stat, error }),
    }
    let malformed = |path: PathBuf, reason| Error::Malformed { path, reason };
    let text = String::from_utf8_lossy(buf);
    reading.usage_usec = keyed(&text, "usage_usec").ok_or_else(|| malformed(cpu_stat.clone(), "no usage_usec"))?;
    reading.throttled_usec = keyed(&text, "throttled_usec");

    let Some(current) = read_optional(&dir.join("memory.current"), buf)? else { return Ok(Some(reading)) };
    let current = single(&current).ok_or_else(|| malformed(dir.join("memory.current"), "not a number"))?;
    let inactive_file = read_optional(&dir.join("memory.stat"), buf)?.and_then(|t| keyed(&t, "inactive_file"));
    reading.working_set = Some(current.saturating_sub(inactive_file.unwrap_or(0)));
    reading.limit = match read_optional(&dir.join("memory.max"), buf)? {
        Some(text) if text.trim() == "max" => None,
        Some(text) => Some(single(&text).ok_or_else(|| malformed(dir.join("memory.max"), "not a number"))?),
        None => None,
    };
    reading.oom_kills = read_optional(&dir.join("memory.events"), buf)?.and_then(|t| keyed(&t, "oom_kill"));
    Ok(Some(reading))
}

/// The text of `path`, `None` when it does not exist.
fn read_optional(path: &Path, buf: &mut Vec<u8>) -> Result<Option<String>, Error> {
    match read_into(path, buf) {
        Ok(()) => Ok(Some(String::from_utf8_lossy(buf).into_owned())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(Error::Read { path: path.to_owned(), error }),
    }
}

/// The value of `key` in a flat-keyed cgroup file (`key value` lines).
pub(super) fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

/// A single-value cgroup file.
fn single(text: &str) -> Option<u64> {
    text.trim().parse().ok()
}

/// The sorted names of the directories in `dir`; `None` when it does not
/// exist (no such runtime on this host), or, recorded in `error`, cannot be
/// read.
fn list_dirs(dir: &Path, error: &mut Option<Error>) -> Option<Vec<String>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return None,
        Err(e) => {
            error.get_or_insert(Error::Read { path: dir.to_owned(), error: e });
            return None;
        }
    };
    let mut names: Vec<String> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort_unstable();
    Some(names)
}

/// The pod uid of a pod cgroup's name: `kubepods-burstable-pod<uid>.slice`
/// or `kubepods-pod<uid>.slice` (systemd, which escapes the uid's `-` as
/// `_`), `pod<uid>` (cgroupfs).
pub(super) fn pod_uid(name: &str, systemd: bool) -> Option<String> {
    let uid = if systemd {
        let stem = name.strip_prefix("kubepods-")?.strip_suffix(".slice")?;
        let (_, uid) = stem.rsplit_once("pod")?;
        uid.replace('_', "-")
    } else {
        name.strip_prefix("pod")?.to_owned()
    };
    (!uid.is_empty() && uid.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')).then_some(uid)
}

/// Whether `name` is a QoS class's cgroup (burstable and best-effort pods
/// live below one; guaranteed pods directly below `kubepods`).
fn is_qos_class(name: &str, systemd: bool) -> bool {
    if systemd {
        matches!(name, "kubepods-burstable.slice" | "kubepods-besteffort.slice")
    } else {
        matches!(name, "burstable" | "besteffort")
    }
}

/// The container id of a container cgroup below a pod:
/// `cri-containerd-<id>.scope`, `crio-<id>.scope`, `docker-<id>.scope`
/// (systemd) or `<id>` (cgroupfs). CRI-O's `crio-conmon-<id>.scope` is its
/// monitor process, not a container.
pub(super) fn container_id(name: &str) -> Option<&str> {
    let id = match name.strip_suffix(".scope") {
        Some(unit) => RUNTIME_PREFIXES.iter().find_map(|prefix| unit.strip_prefix(prefix))?,
        None => name,
    };
    is_id(id).then_some(id)
}

/// A runtime's container id: hex digits (64 for containerd, CRI-O, Docker
/// and Podman; at least 12 accepted).
fn is_id(id: &str) -> bool {
    id.len() >= 12 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The container id of a kubelet log link `<pod>_<namespace>_<container>-<id>.log`.
pub(super) fn log_link_id(file: &str) -> Option<&str> {
    let (_, id) = file.strip_suffix(".log")?.rsplit_once('-')?;
    is_id(id).then_some(id)
}

/// Namespace, pod, uid and container of a log link's target
/// `…/pods/<namespace>_<pod>_<uid>/<container>/<n>.log`. Namespaces and pod
/// names are DNS names, which hold no `_`.
fn parse_log_target(target: &Path) -> Option<K8sName> {
    let mut parts = target.iter().rev().skip(1);
    let container = parts.next()?.to_str()?;
    let pod_dir = parts.next()?.to_str()?;
    let mut fields = pod_dir.splitn(3, '_');
    let (namespace, pod, uid) = (fields.next()?, fields.next()?, fields.next()?);
    if [namespace, pod, uid, container].iter().any(|s| s.is_empty()) || uid.contains('_') {
        return None;
    }
    Some(K8sName {
        namespace: namespace.to_owned(),
        pod: pod.to_owned(),
        uid: uid.to_owned(),
        container: container.to_owned(),
    })
}

/// A unit name with systemd's `\x2d`-style escapes undone.
fn unescape_unit(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(at) = rest.find("\\x") {
        out.push_str(&rest[..at]);
        let escaped = rest.get(at + 2..at + 4).and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) if byte.is_ascii() => {
                out.push(char::from(byte));
                rest = &rest[at + 4..];
            }
            _ => {
                out.push_str("\\x");
                rest = &rest[at + 2..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The string value following `"key":"` in JSON text (no escapes in names).
fn json_string_after<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let start = text.find(key)? + key.len();
    let value = &text[start..];
    let end = value.find('"')?;
    Some(&value[..end])
}

/// A Docker container's name, from its `config.v2.json` (`"Name":"/web"`).
fn docker_name(rootfs: &Path, id: &str) -> Option<String> {
    let config = rootfs.join("var/lib/docker/containers").join(id).join("config.v2.json");
    let text = fs::read_to_string(config).ok()?;
    let name = json_string_after(&text, "\"Name\":\"")?.trim_start_matches('/');
    (!name.is_empty()).then(|| name.to_owned())
}

/// A Podman container's first name, from containers/storage's
/// `containers.json` (`[{"id":"<id>","names":["web"],…}]`).
fn podman_name(rootfs: &Path, id: &str) -> Option<String> {
    let list = rootfs.join("var/lib/containers/storage/overlay-containers/containers.json");
    let text = fs::read_to_string(list).ok()?;
    let at = text.find(&format!("\"id\":\"{id}\""))?;
    let entry = &text[at..];
    let entry = &entry[..entry.find('}').unwrap_or(entry.len())];
    let name = json_string_after(entry, "\"names\":[\"")?;
    (!name.is_empty()).then(|| name.to_owned())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn pod_cgroups_give_the_pod_uid() {
        let uid = "0b1c2d3e-0000-4000-8000-00000000000a";
        assert_eq!(pod_uid("kubepods-burstable-pod0b1c2d3e_0000_4000_8000_00000000000a.slice", true).unwrap(), uid);
        assert_eq!(pod_uid("kubepods-besteffort-pod0b1c2d3e_0000_4000_8000_00000000000a.slice", true).unwrap(), uid);
        assert_eq!(pod_uid("kubepods-pod0b1c2d3e_0000_4000_8000_00000000000a.slice", true).unwrap(), uid);
        assert_eq!(pod_uid(&format!("pod{uid}"), false).unwrap(), uid);
        for other in ["kubepods-burstable.slice", "kubepods-besteffort.slice", "cri-containerd-ab.scope", "pod"] {
            assert_eq!(pod_uid(other, true), None, "{other}");
        }
        assert_eq!(pod_uid("burstable", false), None);
    }

    #[test]
    fn container_cgroups_give_the_container_id() {
        let id = "a".repeat(64);
        for runtime in ["cri-containerd-", "crio-", "docker-"] {
            assert_eq!(container_id(&format!("{runtime}{id}.scope")), Some(id.as_str()), "{runtime}");
        }
        assert_eq!(container_id(&id), Some(id.as_str()));
        assert_eq!(container_id(&format!("crio-conmon-{id}.scope")), None);
        assert_eq!(container_id("init.scope"), None);
        assert_eq!(container_id("abc"), None);
    }

    #[test]
    fn log_links_name_the_container() {
        let id = "0123456789abcdef".repeat(4);
        assert_eq!(log_link_id(&format!("web-7d4b9_shop_nginx-{id}.log")), Some(id.as_str()));
        assert_eq!(log_link_id("web_shop_nginx.log"), None);
        let target = Path::new("/var/log/pods/shop_web-7d4b9_0b1c2d3e-0000-4000-8000-00000000000a/nginx/0.log");
        assert_eq!(
            parse_log_target(target),
            Some(K8sName {
                namespace: "shop".into(),
                pod: "web-7d4b9".into(),
                uid: "0b1c2d3e-0000-4000-8000-00000000000a".into(),
                container: "nginx".into(),
            })
        );
        assert_eq!(parse_log_target(Path::new("/var/log/pods/nounderscore/nginx/0.log")), None);
    }

    #[test]
    fn unit_names_are_unescaped() {
        assert_eq!(unescape_unit(r"build\x2dhost"), "build-host");
        assert_eq!(unescape_unit(r"odd\xzz"), r"odd\xzz");
        assert_eq!(unescape_unit("plain"), "plain");
    }

    #[test]
    fn runtime_files_name_containers() {
        let json = r#"{"ID":"x","Name":"/web","State":{}}"#;
        assert_eq!(json_string_after(json, "\"Name\":\"").map(|n| n.trim_start_matches('/')), Some("web"));
        assert_eq!(keyed("usage_usec 12\nuser_usec 5\n", "usage_usec"), Some(12));
        assert_eq!(keyed("usage_usec 12\n", "user_usec"), None);
    }

    proptest! {
        #[test]
        fn parsing_arbitrary_names_never_panics(name in ".{0,80}") {
            let _ = pod_uid(&name, true);
            let _ = pod_uid(&name, false);
            let _ = container_id(&name);
            let _ = log_link_id(&name);
            let _ = unescape_unit(&name);
            let _ = parse_log_target(Path::new(&name));
        }
    }
}
