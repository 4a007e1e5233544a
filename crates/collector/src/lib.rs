//! Host metric collection for the oxmon agent.
//!
//! [`Collector::collect`] runs one synchronous collection cycle and returns
//! every metric it could read plus one [`Error`] per sub-collector (or mount)
//! that failed; a failure in one never stops the others.
//!
//! On Linux the metrics come straight from procfs and `statvfs`, under
//! configurable roots ([`CollectorConfig`]) so an agent in a container can
//! report the host it runs on, the way node_exporter's
//! `--path.procfs/--path.sysfs/--path.rootfs` do. Elsewhere the same API is
//! backed by `sysinfo`.
//!
//! Rates (CPU usage, network throughput, disk I/O, context switches) need
//! two readings: the first cycle emits none of them, rather than a made-up
//! zero or a since-boot average.
//!
//! Every collector can be switched off ([`Collectors`], all on by default).
//! A collector that is off reads nothing.
//!
//! # Which mounts are disks
//!
//! A mount produces `disk.*` metrics (labelled with its mount point as the
//! host sees it) unless one of these rules skips it. They mirror
//! node_exporter's defaults, plus `df`'s deduplication:
//!
//! 1. its filesystem type is in [`SKIPPED_FS_TYPES`] (pseudo, virtual,
//!    in-memory or read-only image filesystems);
//! 2. its device is a loop device (`/dev/loop*`: snap packages, images);
//! 3. its mount point is in or under [`SKIPPED_MOUNT_POINTS`];
//! 4. another kept mount has the same device and a shorter mount point (or
//!    the same length and comes first): bind mounts and btrfs subvolumes
//!    share one filesystem and would otherwise be counted twice;
//! 5. `statvfs` reports zero blocks;
//! 6. `statvfs` fails (permissions, a stale NFS handle, ...): the mount is
//!    reported in [`Collection::errors`] and the other mounts are still
//!    collected.
//!
//! Rules 1–4 need only the mount table, so `statvfs` runs once per kept
//! filesystem and never for a skipped one. The same call gives the inode
//! metrics, which are left out for filesystems without an inode table
//! (`statvfs` reports 0 inodes: btrfs, vfat, ...).
//!
//! # Which block devices are disks (Linux)
//!
//! `disk.read_bytes`, `disk.write_bytes`, `disk.read_ops`, `disk.write_ops`
//! and `disk.io_util` (labelled `device`) come from `<procfs>/diskstats`,
//! one set per whole device. Following node_exporter's default
//! `--collector.diskstats.device-exclude`
//! (`^(z?ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$`), without a regex,
//! a device is skipped when
//!
//! 1. it is a partition: a lettered disk name followed by digits (`sda1`,
//!    `vdb2`, `xvdf1`, also `sdaa1`, which node_exporter's rule misses) or a
//!    name ending in a digit, `p` and digits (`nvme0n1p1`, and `mmcblk0p1`,
//!    which node_exporter keeps);
//! 2. its name is one of [`SKIPPED_DEVICE_PREFIXES`] followed by a digit:
//!    `loop`, `ram`, `zram`, `fd` as in node_exporter, plus the devices
//!    node_exporter keeps that are stacked on other block devices (`dm-`:
//!    LVM, LUKS, multipath; `md`: software RAID; `zd`: ZFS volumes; `drbd`;
//!    `bcache`), whose I/O is already counted on the disks below them.
//!
//! Everything else is reported (`sda`, `vda`, `nvme0n1`, `mmcblk0`, `sr0`,
//! network block devices such as `nbd0` and `rbd0`). Sectors are 512 bytes
//! whatever the device's sector size, as the kernel counts them;
//! `disk.io_util` is the share of the interval the device had I/O in flight,
//! at most 100.
//!
//! A counter that went down wrapped if it was a 32-bit value (the time
//! fields always are; all fields on 32-bit kernels) and the increase through
//! the wrap is plausible (for the I/O time: at most twice the interval plus
//! a second; for the rest: less than half the 32-bit range). Otherwise the
//! device was reset (replaced under the same name): its reading is the new
//! baseline and it reports nothing that cycle, rather than a spike.
//!
//! # Temperatures (Linux)
//!
//! `sensors.temperature` (degrees Celsius) has one series per `tempN_input`
//! of every `<sysfs>/class/hwmon/hwmonN`, labelled `chip` (the `name` file;
//! `name/device` when several chips share a name, `device` being the
//! basename of the `device` link, e.g. `nvme/nvme0`) and `sensor`
//! (`tempN_label`, else `tempN`). A host without hwmon (a VM) emits none and
//! reports no error; an unreadable sensor is one error per cycle.
//!
//! # Processes and connections (Linux)
//!
//! `system.processes` counts tasks (threads, as the kernel schedules them):
//! `running` and `blocked` (uninterruptible I/O wait) from `/proc/stat`'s
//! `procs_running` and `procs_blocked`, `total` from `/proc/loadavg`'s fourth
//! field, so that running and blocked are parts of total.
//! `system.context_switches` is the rate of `/proc/stat`'s `ctxt`.
//! `network.tcp_connections` counts the host's IPv4 and IPv6 sockets per
//! state (all eleven states, zeros included) from `<procfs>/1/net/tcp` and
//! `tcp6` (the host's network namespace), or the agent's own
//! `<procfs>/net/tcp` and `tcp6` when PID 1's are unreadable; a missing
//! `tcp6` means IPv6 is off. When the socket tables cannot be read, that is
//! an error and only `established` is reported, from `net/snmp`'s
//! `CurrEstab`.
//!
//! # Containers (Linux, cgroup v2)
//!
//! `container.cpu_usage` (cores), `container.cpu_throttled_seconds` (per
//! second), `container.memory_working_set` (`memory.current` minus
//! `inactive_file`), `container.memory_limit` (none when unlimited) and
//! `container.oom_kills`, per container found below `<sysfs>/fs/cgroup`:
//! Kubernetes containers labelled `namespace`, `pod`, `container` (named by
//! the kubelet's log links under [`ContainerConfig::log_path`]; the pod's
//! sandbox has none and is skipped), Docker and Podman containers and
//! systemd machines labelled `container` (named from the runtime's files
//! under the rootfs, or the unit). Where they are looked for and how they
//! are named: `linux/containers.rs`. A container that stops is forgotten;
//! counters that go down start a new baseline. [`ContainerConfig`] filters
//! namespaces and caps the number of containers
//! ([`Error::TooManyContainers`]).
//!
//! # Which interfaces are reported
//!
//! All but those matching [`CollectorConfig::exclude_interfaces`], by default
//! [`DEFAULT_EXCLUDED_INTERFACES`].

#![forbid(unsafe_code)]

mod config;
mod disk;
mod error;
mod memory;
mod network;

#[cfg(not(target_os = "linux"))]
mod fallback;
#[cfg(target_os = "linux")]
mod linux;

use oxmon_common::metric::Metric;

pub use config::{CollectorConfig, Collectors, ContainerConfig, DEFAULT_EXCLUDED_INTERFACES, DEFAULT_MAX_CONTAINERS};
#[cfg(target_os = "linux")]
pub use disk::Statvfs;
pub use disk::{FsStats, FsUsage, SKIPPED_FS_TYPES, SKIPPED_MOUNT_POINTS};
pub use error::Error;
#[cfg(not(target_os = "linux"))]
pub use fallback::Collector;
#[cfg(target_os = "linux")]
pub use linux::{Collector, SKIPPED_DEVICE_PREFIXES};

/// What one collection cycle produced.
#[derive(Debug, Default)]
pub struct Collection {
    pub metrics: Vec<Metric>,
    /// One entry per sub-collector, file or mount that could not be read.
    pub errors: Vec<Error>,
}
