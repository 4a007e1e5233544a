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
//! Rates (CPU usage, network throughput) need two readings: the first cycle
//! emits none of them, rather than a made-up zero or a since-boot average.
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
//! filesystem and never for a skipped one.
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

pub use config::{CollectorConfig, DEFAULT_EXCLUDED_INTERFACES};
#[cfg(target_os = "linux")]
pub use disk::Statvfs;
pub use disk::{FsStats, FsUsage, SKIPPED_FS_TYPES, SKIPPED_MOUNT_POINTS};
pub use error::Error;
#[cfg(not(target_os = "linux"))]
pub use fallback::Collector;
#[cfg(target_os = "linux")]
pub use linux::Collector;

/// What one collection cycle produced.
#[derive(Debug, Default)]
pub struct Collection {
    pub metrics: Vec<Metric>,
    /// One entry per sub-collector, file or mount that could not be read.
    pub errors: Vec<Error>,
}
