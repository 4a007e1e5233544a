//! Container metrics from cgroup v2 on a fixture Kubernetes node (40 pods,
//! `fixtures/k8s/generate.py` gives the formulas of its values), a cgroupfs
//! node with CRI-O built here, and the fixture VM (no cgroup files at all).

#![cfg(target_os = "linux")]
// clippy only exempts #[test] functions, not the helpers here.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use oxmon_collector::{Collection, Collector, CollectorConfig, Collectors, ContainerConfig, Error};
use oxmon_common::metric::*;
use support::*;

const MIB: f64 = 1_048_576.0;
const NAMESPACES: [&str; 4] = ["default", "shop", "kube-system", "monitoring"];

/// `(metric, "namespace/pod/container", value)` of the container metrics.
fn containers(c: &Collection) -> Vec<(String, String, f64)> {
    c.metrics
        .iter()
        .filter(|m| m.name.starts_with("container."))
        .map(|m| {
            let label = |key| m.labels.get(key).unwrap_or("").to_owned();
            let who = format!("{}/{}/{}", label(LABEL_NAMESPACE), label(LABEL_POD), label(LABEL_CONTAINER));
            assert!(m.labels.len() == 3 || m.labels.len() == 1, "{m:?}");
            (m.name.to_owned(), who, m.value)
        })
        .collect()
}

fn of(c: &Collection, metric: &str) -> Vec<(String, f64)> {
    containers(c).into_iter().filter(|s| s.0 == metric).map(|s| (s.1, s.2)).collect()
}

const ONLY_CONTAINERS: Collectors = Collectors { containers: true, ..Collectors::NONE };

/// The committed Kubernetes node, used in place (it is large and read only):
/// `sysfs` is a link to its `sys`, moved to `sys-10s-later` by [`K8sNode::advance`].
struct K8sNode {
    dir: tempfile::TempDir,
}

impl K8sNode {
    fn new() -> Self {
        let node = Self { dir: tempfile::tempdir().unwrap() };
        std::os::unix::fs::symlink(fixture().join("sys"), node.dir.path().join("sys")).unwrap();
        node
    }

    fn config(&self) -> CollectorConfig {
        CollectorConfig {
            sysfs: self.dir.path().join("sys"),
            rootfs: fixture().join("root"),
            containers: ContainerConfig { log_path: fixture().join("root/var/log"), ..ContainerConfig::default() },
            collectors: ONLY_CONTAINERS,
            ..CollectorConfig::default()
        }
    }

    fn advance(&self) {
        let link = self.dir.path().join("sys");
        fs::remove_file(&link).unwrap();
        std::os::unix::fs::symlink(fixture().join("sys-10s-later"), link).unwrap();
    }

    /// Two cycles ten seconds apart.
    fn two_cycles(&self, config: CollectorConfig) -> (Collection, Collection) {
        let mut collector = Collector::new(config);
        let t0 = Instant::now();
        let first = collector.collect(t0);
        self.advance();
        (first, collector.collect(t0 + TEN_SECONDS))
    }
}

fn fixture() -> PathBuf {
    Path::new(FIXTURES).join("k8s")
}

/// A small node written in a temp dir, for tests that change files: the
/// systemd cgroup driver and containerd, pod `p` (0..pods) in namespace
/// `ns` named `pod-p` with container `c`.
struct SmallNode {
    dir: tempfile::TempDir,
}

impl SmallNode {
    fn new(pods: usize) -> Self {
        let node = Self { dir: tempfile::tempdir().unwrap() };
        fs::create_dir_all(node.dir.path().join("log/containers")).unwrap();
        for p in 0..pods {
            node.cpu_stat(p, 1_000_000, 0);
            fs::write(node.scope(p).join("memory.current"), "1000\n").unwrap();
            std::os::unix::fs::symlink(
                format!("/var/log/pods/ns_pod-{p}_{}/c/0.log", Self::uid(p)),
                node.dir.path().join(format!("log/containers/pod-{p}_ns_c-{}.log", Self::id(p))),
            )
            .unwrap();
        }
        node
    }

    fn uid(p: usize) -> String {
        format!("aaaaaaaa-0000-0000-0000-{p:012}")
    }

    fn id(p: usize) -> String {
        format!("{p:064}")
    }

    fn pod(&self, p: usize) -> PathBuf {
        let uid = Self::uid(p).replace('-', "_");
        self.dir
            .path()
            .join(format!("sys/fs/cgroup/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{uid}.slice"))
    }

    fn scope(&self, p: usize) -> PathBuf {
        self.pod(p).join(format!("cri-containerd-{}.scope", Self::id(p)))
    }

    fn cpu_stat(&self, p: usize, usage: u64, throttled: u64) {
        fs::create_dir_all(self.scope(p)).unwrap();
        fs::write(self.scope(p).join("cpu.stat"), format!("usage_usec {usage}\nthrottled_usec {throttled}\n")).unwrap();
    }

    fn config(&self) -> CollectorConfig {
        CollectorConfig {
            sysfs: self.dir.path().join("sys"),
            rootfs: self.dir.path().join("root"),
            containers: ContainerConfig { log_path: self.dir.path().join("log"), ..ContainerConfig::default() },
            collectors: ONLY_CONTAINERS,
            ..CollectorConfig::default()
        }
    }
}

/// Pods of the fixture in the order the collector finds them: guaranteed
/// pods directly below `kubepods.slice` sort after the QoS slices
/// (`kubepods-besteffort.slice`, `kubepods-burstable.slice`, `kubepods-pod…`).
fn pod_order() -> Vec<usize> {
    let besteffort = [39];
    let burstable = (0..39).filter(|i| i % 4 != 0);
    let guaranteed = (0..40).filter(|i| i % 4 == 0);
    besteffort.into_iter().chain(burstable).chain(guaranteed).collect()
}

/// `(pod index, container index, "namespace/pod/container")` of every
/// reported Kubernetes container, in order.
fn k8s_containers() -> Vec<(usize, usize, String)> {
    let mut out = Vec::new();
    for i in pod_order() {
        let names: &[&str] = if i % 5 == 0 { &["app", "sidecar"] } else { &["app"] };
        for (c, name) in names.iter().enumerate() {
            out.push((i, c, format!("{}/app-{i:02}-7d4b9/{name}", NAMESPACES[i % 4])));
        }
    }
    out
}

const OTHERS: [&str; 3] = ["//registry", "//grafana", "//build-host"];

#[test]
fn every_pod_container_is_named_from_the_kubelets_log_links() {
    let node = K8sNode::new();
    let mut collector = Collector::new(node.config());
    let first = collector.collect(Instant::now());
    assert!(first.errors.is_empty(), "{:?}", first.errors);
    // The first reading has no rates.
    assert!(of(&first, CONTAINER_CPU_USAGE).is_empty());
    assert!(of(&first, CONTAINER_CPU_THROTTLED_SECONDS).is_empty());

    let expected: Vec<(String, f64)> = k8s_containers()
        .into_iter()
        .map(|(i, c, who)| (who, (9 * (i + 1) + c) as f64 * MIB))
        .chain(
            [("//registry", 60.0 * MIB), ("//grafana", 32.0 * MIB), ("//build-host", 15.0 * MIB)]
                .map(|(w, v)| (w.to_owned(), v)),
        )
        .collect();
    // 40 pods, 8 with a sidecar; no sandbox, no pod that is gone, no service.
    assert_eq!(expected.len(), 48 + 3);
    assert_eq!(of(&first, CONTAINER_MEMORY_WORKING_SET), expected);

    // Limits: guaranteed 256 MiB, every fourth burstable 512 MiB, Podman's
    // 128 MiB; the rest have none and report none.
    let limits = of(&first, CONTAINER_MEMORY_LIMIT);
    let expected_limits: Vec<(String, f64)> = k8s_containers()
        .into_iter()
        .filter_map(|(i, _, who)| match i {
            39 => None,
            i if i % 4 == 0 => Some((who, 256.0 * MIB)),
            i if i % 4 == 1 => Some((who, 512.0 * MIB)),
            _ => None,
        })
        .chain([("//grafana".to_owned(), 128.0 * MIB)])
        .collect();
    assert_eq!(limits, expected_limits);

    let kills: Vec<(String, f64)> = of(&first, CONTAINER_OOM_KILLS).into_iter().filter(|k| k.1 > 0.0).collect();
    let expected_kills: Vec<(String, f64)> = k8s_containers()
        .into_iter()
        .filter(|(i, ..)| i % 7 == 3)
        .map(|(_, _, who)| (who, 1.0))
        .chain([("//grafana".to_owned(), 2.0)])
        .collect();
    assert_eq!(kills, expected_kills);
    assert_eq!(of(&first, CONTAINER_OOM_KILLS).len(), 51);

    // Exact labels of one burstable pod with a sidecar.
    let pod5: BTreeSet<String> = containers(&first).into_iter().map(|s| s.1).filter(|w| w.contains("app-05")).collect();
    assert_eq!(pod5, BTreeSet::from(["shop/app-05-7d4b9/app".to_owned(), "shop/app-05-7d4b9/sidecar".to_owned()]));
    let m = first.metrics.iter().find(|m| m.name == CONTAINER_MEMORY_WORKING_SET).unwrap();
    assert_eq!(
        m.labels.iter().collect::<Vec<_>>(),
        [(LABEL_CONTAINER, "app"), (LABEL_NAMESPACE, "monitoring"), (LABEL_POD, "app-39-7d4b9")]
    );
}

#[test]
fn cpu_usage_and_throttling_are_rates_across_two_readings() {
    let node = K8sNode::new();
    let (_, second) = node.two_cycles(node.config());
    assert!(second.errors.is_empty(), "{:?}", second.errors);
    let seconds = TEN_SECONDS.as_secs_f64();
    let usage: Vec<(String, f64)> = k8s_containers()
        .into_iter()
        .map(|(i, _, who)| (who, (100_000 * (i + 1)) as f64 / 1e6 / seconds))
        .chain(OTHERS.map(|w| (w.to_owned(), 1_000_000.0 / 1e6 / seconds)))
        .collect();
    assert_eq!(of(&second, CONTAINER_CPU_USAGE), usage);
    // e.g. pod 9 used one second of CPU in ten: 0.1 cores.
    assert!(of(&second, CONTAINER_CPU_USAGE).contains(&("shop/app-09-7d4b9/app".to_owned(), 0.1)));
    let throttled: Vec<(String, f64)> = k8s_containers()
        .into_iter()
        .map(|(i, _, who)| (who, (50_000 * (i % 3)) as f64 / 1e6 / seconds))
        .chain(OTHERS.map(|w| (w.to_owned(), 0.0)))
        .collect();
    assert_eq!(of(&second, CONTAINER_CPU_THROTTLED_SECONDS), throttled);
    // Pod 11 (i % 3 == 2) was throttled for 0.1 s in ten seconds.
    let pod11 = of(&second, CONTAINER_CPU_THROTTLED_SECONDS).into_iter().find(|s| s.0.contains("app-11")).unwrap();
    assert!((pod11.1 - 0.01).abs() < 1e-12, "{pod11:?}");
}

#[test]
fn a_counter_that_goes_down_starts_a_new_baseline() {
    let node = SmallNode::new(1);
    let mut collector = Collector::new(node.config());
    let t0 = Instant::now();
    let app = "ns/pod-0/c".to_owned();
    node.cpu_stat(0, u64::MAX - 500_000, 1000);
    collector.collect(t0);
    // The cgroup was recreated (a systemd machine restarted under its name,
    // or a 64-bit counter wrapped): its counters are lower than before.
    node.cpu_stat(0, 1_000_000, 0);
    let second = collector.collect(t0 + TEN_SECONDS);
    assert!(!of(&second, CONTAINER_CPU_USAGE).iter().any(|s| s.0 == app), "no rate through a reset");
    assert!(!of(&second, CONTAINER_CPU_THROTTLED_SECONDS).iter().any(|s| s.0 == app));
    assert!(of(&second, CONTAINER_MEMORY_WORKING_SET).iter().any(|s| s.0 == app), "memory still reported");
    node.cpu_stat(0, 3_000_000, 500_000);
    let third = collector.collect(t0 + 2 * TEN_SECONDS);
    assert!(of(&third, CONTAINER_CPU_USAGE).contains(&(app.clone(), 2.0 / 10.0)));
    assert!(of(&third, CONTAINER_CPU_THROTTLED_SECONDS).contains(&(app, 500_000.0 / 1e6 / 10.0)));
}

#[test]
fn a_pod_that_disappears_stops_producing_series() {
    let node = SmallNode::new(3);
    let mut collector = Collector::new(node.config());
    let t0 = Instant::now();
    collector.collect(t0);
    fs::remove_dir_all(node.pod(1)).unwrap();
    let second = collector.collect(t0 + TEN_SECONDS);
    assert!(second.errors.is_empty(), "{:?}", second.errors);
    assert_eq!(
        containers(&second),
        [
            (CONTAINER_CPU_USAGE.to_owned(), "ns/pod-0/c".to_owned(), 0.0),
            (CONTAINER_CPU_THROTTLED_SECONDS.to_owned(), "ns/pod-0/c".to_owned(), 0.0),
            (CONTAINER_MEMORY_WORKING_SET.to_owned(), "ns/pod-0/c".to_owned(), 1000.0),
            (CONTAINER_CPU_USAGE.to_owned(), "ns/pod-2/c".to_owned(), 0.0),
            (CONTAINER_CPU_THROTTLED_SECONDS.to_owned(), "ns/pod-2/c".to_owned(), 0.0),
            (CONTAINER_MEMORY_WORKING_SET.to_owned(), "ns/pod-2/c".to_owned(), 1000.0),
        ]
    );
    // When it comes back it starts over: no rate from a reading before it left.
    node.cpu_stat(1, 9_000_000, 0);
    fs::write(node.scope(1).join("memory.current"), "1000\n").unwrap();
    let third = collector.collect(t0 + 2 * TEN_SECONDS);
    assert_eq!(of(&third, CONTAINER_CPU_USAGE).len(), 2);
    assert_eq!(of(&third, CONTAINER_MEMORY_WORKING_SET).len(), 3);
}

#[test]
fn namespaces_are_filtered_and_containers_capped() {
    let node = K8sNode::new();
    let mut config = node.config();
    config.containers.include_namespaces = vec!["shop".into(), "kube-system".into()];
    config.containers.exclude_namespaces = vec!["kube-system".into()];
    let c = Collector::new(config.clone()).collect(Instant::now());
    let who: BTreeSet<String> = of(&c, CONTAINER_MEMORY_WORKING_SET).into_iter().map(|s| s.0).collect();
    let shop: BTreeSet<String> = k8s_containers().into_iter().filter(|(i, ..)| i % 4 == 1).map(|s| s.2).collect();
    // Only shop's pods, and the containers outside Kubernetes.
    assert_eq!(who, shop.into_iter().chain(OTHERS.map(str::to_owned)).collect());

    config.containers.max_containers = 4;
    let c = Collector::new(config).collect(Instant::now());
    let who: Vec<String> = of(&c, CONTAINER_MEMORY_WORKING_SET).into_iter().map(|s| s.0).collect();
    assert_eq!(
        who,
        ["shop/app-01-7d4b9/app", "shop/app-05-7d4b9/app", "shop/app-05-7d4b9/sidecar", "shop/app-09-7d4b9/app"]
    );
    assert!(matches!(c.errors[..], [Error::TooManyContainers { max: 4 }]), "{:?}", c.errors);
    assert_eq!(
        c.errors[0].to_string(),
        "more than 4 containers: the others are not reported (raise max_containers to report them)"
    );
}

#[test]
fn a_cgroupfs_node_with_cri_o_is_read_the_same_way() {
    let dir = tempfile::tempdir().unwrap();
    let cgroup = dir.path().join("sys/fs/cgroup/kubepods");
    let id = "f".repeat(64);
    let uid = "11112222-3333-4444-5555-666677778888";
    let container = cgroup.join(format!("burstable/pod{uid}/{id}"));
    fs::create_dir_all(&container).unwrap();
    fs::write(container.join("cpu.stat"), "usage_usec 2000000\n").unwrap();
    // Without the memory controller there is only CPU.
    fs::create_dir_all(cgroup.join(format!("burstable/pod{uid}/crio-conmon-{id}.scope"))).unwrap();
    let links = dir.path().join("log/containers");
    fs::create_dir_all(&links).unwrap();
    std::os::unix::fs::symlink(
        format!("/var/log/pods/batch_job-x_{uid}/worker/0.log"),
        links.join(format!("job-x_batch_worker-{id}.log")),
    )
    .unwrap();
    let config = CollectorConfig {
        sysfs: dir.path().join("sys"),
        rootfs: dir.path().join("root"),
        containers: ContainerConfig { log_path: dir.path().join("log"), ..ContainerConfig::default() },
        collectors: Collectors { containers: true, ..Collectors::NONE },
        ..CollectorConfig::default()
    };
    let mut collector = Collector::new(config);
    let t0 = Instant::now();
    assert!(collector.collect(t0).metrics.is_empty());
    fs::write(container.join("cpu.stat"), "usage_usec 7000000\n").unwrap();
    let second = collector.collect(t0 + TEN_SECONDS);
    assert!(second.errors.is_empty(), "{:?}", second.errors);
    assert_eq!(containers(&second), [(CONTAINER_CPU_USAGE.to_owned(), "batch/job-x/worker".to_owned(), 0.5)]);
}

#[test]
fn a_link_to_another_pod_does_not_name_a_container() {
    let node = SmallNode::new(2);
    // Pod 0's link now claims pod 1's uid: the cgroup of pod 0 does not
    // match it and the container is not reported under a wrong pod.
    let link = node.dir.path().join(format!("log/containers/pod-0_ns_c-{}.log", SmallNode::id(0)));
    fs::remove_file(&link).unwrap();
    std::os::unix::fs::symlink(format!("/var/log/pods/ns_pod-0_{}/c/0.log", SmallNode::uid(1)), &link).unwrap();
    let c = Collector::new(node.config()).collect(Instant::now());
    assert_eq!(of(&c, CONTAINER_MEMORY_WORKING_SET), [("ns/pod-1/c".to_owned(), 1000.0)]);
}

#[test]
fn a_vm_without_cgroup_files_reports_no_containers_and_no_errors() {
    let host = Host::vm();
    let config = CollectorConfig { collectors: ONLY_CONTAINERS, ..host.config() };
    let (first, second) = two_cycles_with(&host, config, FakeFs::default());
    assert!(first.metrics.is_empty() && second.metrics.is_empty(), "{:?}", second.metrics);
    assert!(first.errors.is_empty() && second.errors.is_empty(), "{:?}", second.errors);
}

#[test]
fn an_unreadable_container_is_one_error_and_the_others_are_still_read() {
    let node = SmallNode::new(4);
    let mut collector = Collector::new(node.config());
    // A directory where a file should be: reading it fails (as EACCES
    // would, which root in a test cannot provoke).
    for p in [1, 2] {
        fs::remove_file(node.scope(p).join("memory.current")).unwrap();
        fs::create_dir(node.scope(p).join("memory.current")).unwrap();
    }
    let c = collector.collect(Instant::now());
    assert_eq!(c.errors.len(), 1, "{:?}", c.errors);
    let expected = node.scope(1).join("memory.current");
    assert!(c.errors[0].to_string().starts_with(&format!("cannot read {}", expected.display())), "{}", c.errors[0]);
    let who: Vec<String> = of(&c, CONTAINER_MEMORY_WORKING_SET).into_iter().map(|s| s.0).collect();
    assert_eq!(who, ["ns/pod-0/c", "ns/pod-3/c"]);
}
