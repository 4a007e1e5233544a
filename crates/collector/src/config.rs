//! Where the collector reads from and what it leaves out.

use std::path::PathBuf;

/// Interface-name prefixes skipped by default.
///
/// Every entry matches as a prefix except `lo`, which matches only the
/// loopback interface itself: `lo`, or `lo` followed by digits only (the
/// BSD/macOS `lo0`), so that e.g. `lowpan0` is still reported.
///
/// Loopback traffic says nothing about the host's network. The others are
/// per-container or per-pod virtual devices (`veth*`, `cali*`, `lxc*`,
/// `cni*`, ...) and bridges/tunnels in front of them: they appear and vanish
/// with every container, which would explode the number of series while
/// double counting traffic already seen on the physical interface.
pub const DEFAULT_EXCLUDED_INTERFACES: &[&str] = &[
    "lo",
    "veth",
    "cali",
    "lxc",
    "cni",
    "flannel",
    "cilium",
    "kube-ipvs",
    "docker",
    "br-",
    "virbr",
    "tunl",
    "vxlan",
    "genev",
    "nodelocaldns",
];

/// The entry of [`DEFAULT_EXCLUDED_INTERFACES`] that matches exactly.
const LOOPBACK: &str = "lo";

/// Where to find the host's pseudo filesystems and root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CollectorConfig {
    /// The host's procfs; `/host/proc` when the agent runs in a container.
    pub procfs: PathBuf,
    /// The host's sysfs; temperatures come from `<sysfs>/class/hwmon`.
    pub sysfs: PathBuf,
    /// The host's root filesystem; mount points are `statvfs`ed below it.
    pub rootfs: PathBuf,
    /// Interface-name prefixes to skip, matched as described on
    /// [`DEFAULT_EXCLUDED_INTERFACES`] (including the exact match of `lo`).
    pub exclude_interfaces: Vec<String>,
    /// Which collectors run; all of them by default.
    pub collectors: Collectors,
    /// Which containers the container collector reports and how names are
    /// found.
    pub containers: ContainerConfig,
}

/// The default [`ContainerConfig::max_containers`]: a node's default pod
/// limit (kubelet's `maxPods`, 110) with two containers each, rounded up.
pub const DEFAULT_MAX_CONTAINERS: usize = 250;

/// What the container collector reports (Linux, cgroup v2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerConfig {
    /// The host's `/var/log`: Kubernetes containers are named from its
    /// `containers/*.log` links into `pods/<namespace>_<pod>_<uid>/<container>/`
    /// (`/host/var/log` in the Helm chart).
    pub log_path: PathBuf,
    /// Kubernetes namespaces to report; empty means all.
    pub include_namespaces: Vec<String>,
    /// Kubernetes namespaces never reported (applied after the include list).
    pub exclude_namespaces: Vec<String>,
    /// At most this many containers are reported per cycle (in the order
    /// they are found); the rest are skipped and reported as an error.
    pub max_containers: usize,
}

impl Default for ContainerConfig {
    fn default() -> Self {
        Self {
            log_path: PathBuf::from("/var/log"),
            include_namespaces: Vec::new(),
            exclude_namespaces: Vec::new(),
            max_containers: DEFAULT_MAX_CONTAINERS,
        }
    }
}

impl ContainerConfig {
    /// Whether containers of Kubernetes namespace `namespace` are reported.
    pub(crate) fn reports_namespace(&self, namespace: &str) -> bool {
        (self.include_namespaces.is_empty() || self.include_namespaces.iter().any(|n| n == namespace))
            && !self.exclude_namespaces.iter().any(|n| n == namespace)
    }
}

/// One switch per collector; a collector that is off reads nothing and
/// emits nothing. All are on by default ([`Collectors::ALL`]).
///
/// The fields are the names the agent's configuration uses for them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Collectors {
    /// `cpu.usage`, `cpu.core_usage`.
    pub cpu: bool,
    /// `memory.*`.
    pub memory: bool,
    /// `disk.total`, `disk.used`, `disk.available`, `disk.used_percent`.
    pub disk: bool,
    /// `disk.inodes_*`.
    pub inodes: bool,
    /// `disk.read_bytes`, `disk.write_bytes`, `disk.read_ops`,
    /// `disk.write_ops`, `disk.io_util` (Linux only).
    pub disk_io: bool,
    /// `network.bytes_*`, `network.packets_*`.
    pub network: bool,
    /// `network.tcp_connections` (Linux only).
    pub tcp: bool,
    /// `load.*`.
    pub load: bool,
    /// `system.processes`, `system.context_switches` (Linux only).
    pub processes: bool,
    /// `sensors.temperature` (Linux only).
    pub sensors: bool,
    /// `container.*` (Linux with cgroup v2 only).
    pub containers: bool,
}

impl Collectors {
    /// Every collector on.
    pub const ALL: Self = Self {
        cpu: true,
        memory: true,
        disk: true,
        inodes: true,
        disk_io: true,
        network: true,
        tcp: true,
        load: true,
        processes: true,
        sensors: true,
        containers: true,
    };

    /// Every collector off.
    pub const NONE: Self = Self {
        cpu: false,
        memory: false,
        disk: false,
        inodes: false,
        disk_io: false,
        network: false,
        tcp: false,
        load: false,
        processes: false,
        sensors: false,
        containers: false,
    };
}

impl Collectors {
    /// The collectors' names, as the agent's `disabled_collectors` spells them.
    pub const NAMES: &[&str] =
        &["cpu", "memory", "disk", "inodes", "disk_io", "network", "tcp", "load", "processes", "sensors", "containers"];

    /// The switch of the collector called `name` (one of [`Self::NAMES`]).
    pub fn switch(&mut self, name: &str) -> Option<&mut bool> {
        Some(match name {
            "cpu" => &mut self.cpu,
            "memory" => &mut self.memory,
            "disk" => &mut self.disk,
            "inodes" => &mut self.inodes,
            "disk_io" => &mut self.disk_io,
            "network" => &mut self.network,
            "tcp" => &mut self.tcp,
            "load" => &mut self.load,
            "processes" => &mut self.processes,
            "sensors" => &mut self.sensors,
            "containers" => &mut self.containers,
            _ => return None,
        })
    }
}

impl Default for Collectors {
    fn default() -> Self {
        Self::ALL
    }
}

impl Default for CollectorConfig {
    fn default() -> Self {
        Self {
            procfs: PathBuf::from("/proc"),
            sysfs: PathBuf::from("/sys"),
            rootfs: PathBuf::from("/"),
            exclude_interfaces: DEFAULT_EXCLUDED_INTERFACES.iter().map(|&prefix| prefix.to_owned()).collect(),
            collectors: Collectors::ALL,
            containers: ContainerConfig::default(),
        }
    }
}

impl CollectorConfig {
    /// Whether `interface` matches one of [`Self::exclude_interfaces`].
    pub(crate) fn excludes_interface(&self, interface: &str) -> bool {
        self.exclude_interfaces.iter().any(|entry| {
            if entry == LOOPBACK {
                interface.strip_prefix(LOOPBACK).is_some_and(|rest| rest.bytes().all(|b| b.is_ascii_digit()))
            } else {
                interface.starts_with(entry.as_str())
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(interface: &str, excluded: bool) {
        let config = CollectorConfig::default();
        assert_eq!(config.excludes_interface(interface), excluded, "interface {interface:?}");
    }

    #[test]
    fn default_exclusions_match_lo_exactly_and_the_rest_as_prefixes() {
        check("lo", true);
        check("lo0", true);
        check("lowpan0", false);
        check("eth0", false);
        check("ens3", false);
        check("wlp2s0", false);
        check("bond0", false);
        check("veth1a2b3c", true);
        check("cali0123456789a", true);
        check("docker0", true);
        check("br-5f2e8c1d9a3b", true);
        check("br0", false);
        check("virbr0", true);
        check("flannel.1", true);
        check("cilium_host", true);
        check("kube-ipvs0", true);
        check("vxlan.calico", true);
        check("genev_sys_6081", true);
        check("tunl0", true);
        check("nodelocaldns", true);
    }

    #[test]
    fn every_name_switches_its_own_collector() {
        let mut all = Collectors::ALL;
        assert!(Collectors::NAMES.iter().all(|n| *all.switch(n).unwrap()));
        let mut seen = Vec::new();
        for name in Collectors::NAMES {
            let mut only = Collectors::NONE;
            *only.switch(name).unwrap() = true;
            let on: Vec<&str> = Collectors::NAMES.iter().copied().filter(|n| *only.switch(n).unwrap()).collect();
            assert_eq!(on, [*name]);
            assert!(!seen.contains(&only), "{name} switches another collector");
            seen.push(only);
        }
        assert!(all.switch("gpu").is_none());
    }

    #[test]
    fn namespaces_are_included_then_excluded() {
        let all = ContainerConfig::default();
        assert!(all.reports_namespace("default") && all.reports_namespace("kube-system"));
        let only = ContainerConfig { include_namespaces: vec!["shop".into(), "kube-system".into()], ..all.clone() };
        assert!(only.reports_namespace("shop") && !only.reports_namespace("default"));
        let both = ContainerConfig { exclude_namespaces: vec!["kube-system".into()], ..only };
        assert!(both.reports_namespace("shop") && !both.reports_namespace("kube-system"));
        let except = ContainerConfig { exclude_namespaces: vec!["kube-system".into()], ..all };
        assert!(except.reports_namespace("default") && !except.reports_namespace("kube-system"));
    }

    #[test]
    fn an_empty_exclusion_list_keeps_everything() {
        let config = CollectorConfig { exclude_interfaces: Vec::new(), ..CollectorConfig::default() };
        assert!(!config.excludes_interface("lo"));
        assert!(!config.excludes_interface("veth0"));
    }
}
