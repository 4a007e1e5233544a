//! Filesystem usage: the `statvfs` seam, which mounts count as disks (the
//! rules are listed in the crate documentation) and the `disk.*` capacity
//! and inode metrics of one mount.

use std::fmt;
use std::io;
use std::path::Path;

use oxmon_common::metric::{
    DISK_AVAILABLE, DISK_INODES_TOTAL, DISK_INODES_USED, DISK_INODES_USED_PERCENT, DISK_TOTAL, DISK_USED,
    DISK_USED_PERCENT, LABEL_MOUNT, Metric,
};

/// Filesystem types that never produce `disk.*` metrics.
///
/// node_exporter's default `--collector.filesystem.fs-types-exclude` list,
/// plus in-memory filesystems (`tmpfs`, `ramfs`), container plumbing
/// (`aufs`, `fuse.lxcfs`, `nsfs`), desktop FUSE helpers (`fuse.gvfsd-fuse`,
/// `fuse.portal`) and a few kernel-internal ones (`efivarfs`, `nfsd`,
/// `rootfs`, `xenfs`): none of them is storage an operator can run out of.
pub const SKIPPED_FS_TYPES: &[&str] = &[
    "aufs",
    "autofs",
    "binfmt_misc",
    "bpf",
    "cgroup",
    "cgroup2",
    "configfs",
    "debugfs",
    "devfs",
    "devpts",
    "devtmpfs",
    "efivarfs",
    "erofs",
    "fuse.gvfsd-fuse",
    "fuse.lxcfs",
    "fuse.portal",
    "fuse.snapfuse",
    "fusectl",
    "hugetlbfs",
    "iso9660",
    "mqueue",
    "nfsd",
    "nsfs",
    "overlay",
    "proc",
    "procfs",
    "pstore",
    "ramfs",
    "rootfs",
    "rpc_pipefs",
    "securityfs",
    "selinuxfs",
    "squashfs",
    "sysfs",
    "tmpfs",
    "tracefs",
    "xenfs",
];

/// Mount points skipped together with everything below them.
///
/// An entry without a trailing `/` also skips the mount point itself
/// (`/proc`, `/proc/sys/fs/binfmt_misc`); one with a trailing `/` skips only
/// what is strictly below it, so a dedicated disk mounted at
/// `/var/lib/docker` is reported while the per-container mounts under it are
/// not. `/run` and `/snap` hold runtime state and snap squashfs images;
/// the `/var/lib/...` entries are container layers and volumes, which churn
/// with every container and repeat the filesystem they live on.
pub const SKIPPED_MOUNT_POINTS: &[&str] =
    &["/proc", "/sys", "/dev", "/run", "/snap", "/var/lib/docker/", "/var/lib/containers/", "/var/lib/kubelet/pods/"];

/// Why a mount table entry produces no `disk.*` metrics (rules 1–3 of the
/// crate documentation; the others need more than one entry or `statvfs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SkipReason {
    FsType,
    LoopDevice,
    MountPoint,
}

impl SkipReason {
    /// The rule that skips a mount with these fields, if any.
    pub(crate) fn of(device: &[u8], mount_point: &[u8], fs_type: &[u8]) -> Option<Self> {
        if SKIPPED_FS_TYPES.iter().any(|t| t.as_bytes() == fs_type) {
            Some(Self::FsType)
        } else if device.starts_with(b"/dev/loop") {
            Some(Self::LoopDevice)
        } else if SKIPPED_MOUNT_POINTS.iter().any(|p| is_at_or_under(mount_point, p.as_bytes())) {
            Some(Self::MountPoint)
        } else {
            None
        }
    }
}

/// Whether `path` matches a [`SKIPPED_MOUNT_POINTS`] entry.
fn is_at_or_under(path: &[u8], entry: &[u8]) -> bool {
    match path.strip_prefix(entry) {
        None => false,
        Some(rest) if entry.ends_with(b"/") => !rest.is_empty(),
        // "/proc" must not match "/processing".
        Some(rest) => rest.is_empty() || rest.starts_with(b"/"),
    }
}

/// Capacity of one filesystem in bytes, and its inodes, as `statvfs`
/// reports them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FsUsage {
    /// Size of the filesystem.
    pub total: u64,
    /// Free space, including the blocks reserved for root.
    pub free: u64,
    /// Free space unprivileged users can use.
    pub available: u64,
    /// Number of inodes (`f_files`); 0 for filesystems without a fixed
    /// inode table (btrfs, vfat, ...), which then get no inode metrics.
    pub inodes_total: u64,
    /// Free inodes (`f_ffree`).
    pub inodes_free: u64,
}

impl FsUsage {
    /// Converts `statvfs` block counts (`f_blocks`, `f_bfree`, `f_bavail`)
    /// using the fragment size `f_frsize`, which is the unit they are in.
    pub fn from_blocks(blocks: u64, free: u64, available: u64, fragment_size: u64) -> Self {
        Self {
            total: blocks.saturating_mul(fragment_size),
            free: free.saturating_mul(fragment_size),
            available: available.saturating_mul(fragment_size),
            inodes_total: 0,
            inodes_free: 0,
        }
    }

    /// The same capacity with `statvfs`'s inode counts (`f_files`, `f_ffree`).
    pub fn with_inodes(self, total: u64, free: u64) -> Self {
        Self { inodes_total: total, inodes_free: free, ..self }
    }

    /// Appends the `disk.*` metrics of the filesystem mounted at `mount`.
    ///
    /// Used is what is neither free nor reserved, and the percentage is
    /// `used / (used + available)`, as `df` computes it: the root-reserved
    /// blocks count as neither, so a filesystem reads 100% when unprivileged
    /// users cannot write any more.
    pub(crate) fn push_metrics(&self, mount: &str, out: &mut Vec<Metric>) {
        let used = self.total.saturating_sub(self.free);
        let usable = used.saturating_add(self.available);
        // Multiplying before dividing keeps round shares exact (600 of 800 is 75.0).
        let percent = if usable == 0 { 0.0 } else { used as f64 * 100.0 / usable as f64 };
        for (name, value) in [
            (DISK_TOTAL, self.total as f64),
            (DISK_USED, used as f64),
            (DISK_AVAILABLE, self.available as f64),
            (DISK_USED_PERCENT, percent),
        ] {
            out.push(Metric::labelled(name, LABEL_MOUNT, mount, value));
        }
    }

    /// Appends the `disk.inodes_*` metrics of the filesystem mounted at
    /// `mount`, unless it has no inode table (`inodes_total` 0).
    ///
    /// Used is total minus free and the percentage is `used / total`, as
    /// `df -i` computes them (inodes have no root reserve).
    pub(crate) fn push_inode_metrics(&self, mount: &str, out: &mut Vec<Metric>) {
        if self.inodes_total == 0 {
            return;
        }
        let used = self.inodes_total.saturating_sub(self.inodes_free);
        let percent = used as f64 * 100.0 / self.inodes_total as f64;
        for (name, value) in [
            (DISK_INODES_TOTAL, self.inodes_total as f64),
            (DISK_INODES_USED, used as f64),
            (DISK_INODES_USED_PERCENT, percent),
        ] {
            out.push(Metric::labelled(name, LABEL_MOUNT, mount, value));
        }
    }
}

/// Source of filesystem capacity; the seam tests replace `statvfs` through.
pub trait FsStats: Send {
    /// Capacity of the filesystem containing `path`.
    fn stat(&self, path: &Path) -> io::Result<FsUsage>;
}

impl fmt::Debug for dyn FsStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("dyn FsStats")
    }
}

/// The real [`FsStats`]: the `statvfs` system call.
#[cfg(target_os = "linux")]
#[derive(Clone, Copy, Debug, Default)]
pub struct Statvfs;

#[cfg(target_os = "linux")]
impl FsStats for Statvfs {
    fn stat(&self, path: &Path) -> io::Result<FsUsage> {
        let st = rustix::fs::statvfs(path)?;
        Ok(FsUsage::from_blocks(st.f_blocks, st.f_bfree, st.f_bavail, st.f_frsize).with_inodes(st.f_files, st.f_ffree))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(device: &str, mount_point: &str, fs_type: &str, expected: Option<SkipReason>) {
        let got = SkipReason::of(device.as_bytes(), mount_point.as_bytes(), fs_type.as_bytes());
        assert_eq!(got, expected, "{device} on {mount_point} type {fs_type}");
    }

    #[test]
    fn pseudo_filesystems_loop_devices_and_system_paths_are_skipped() {
        use SkipReason::*;
        check("/dev/sda1", "/", "ext4", None);
        check("/dev/nvme0n1p2", "/home", "btrfs", None);
        check("server:/export", "/mnt/nfs", "nfs4", None);
        check("rpool/data", "/data", "zfs", None);
        check("proc", "/proc", "proc", Some(FsType));
        check("tmpfs", "/tmp", "tmpfs", Some(FsType));
        check("overlay", "/", "overlay", Some(FsType));
        check("lxcfs", "/proc/cpuinfo", "fuse.lxcfs", Some(FsType));
        check("cgroup2", "/sys/fs/cgroup", "cgroup2", Some(FsType));
        check("/dev/loop3", "/mnt/image", "ext4", Some(LoopDevice));
        check("/dev/sdb1", "/proc/fake", "ext4", Some(MountPoint));
        check("/dev/sdb1", "/dev", "ext4", Some(MountPoint));
        check("/dev/sdb1", "/run/media/usb", "vfat", Some(MountPoint));
        check("/dev/sdb1", "/snap/core/1", "ext4", Some(MountPoint));
        check("/dev/sdb1", "/var/lib/kubelet/pods/x/volumes/y", "ext4", Some(MountPoint));
    }

    #[test]
    fn skipped_mount_points_match_whole_path_components() {
        check("/dev/sdb1", "/processing", "ext4", None);
        check("/dev/sdb1", "/system", "ext4", None);
        check("/dev/sdb1", "/devel", "ext4", None);
        check("/dev/sdb1", "/runner", "ext4", None);
    }

    #[test]
    fn a_dedicated_container_disk_is_kept_but_not_what_is_mounted_below_it() {
        check("/dev/sdb1", "/var/lib/docker", "xfs", None);
        check("/dev/sdb1", "/var/lib/docker/volumes/x", "xfs", Some(SkipReason::MountPoint));
        check("/dev/sdc1", "/var/lib/containers", "xfs", None);
        check("/dev/sdc1", "/var/lib/containers/storage", "xfs", Some(SkipReason::MountPoint));
        check("/dev/sdd1", "/var/lib/kubelet", "xfs", None);
    }

    #[test]
    fn block_counts_are_in_fragment_size_units() {
        assert_eq!(
            FsUsage::from_blocks(1000, 400, 350, 4096),
            FsUsage { total: 4_096_000, free: 1_638_400, available: 1_433_600, inodes_total: 0, inodes_free: 0 }
        );
        assert_eq!(FsUsage::from_blocks(u64::MAX, 1, 1, 4096).total, u64::MAX);
    }

    #[test]
    fn used_percent_leaves_out_root_reserved_space_like_df() {
        // 1000 total, 400 free of which 350 available: 50 reserved for root.
        let mut out = Vec::new();
        FsUsage { total: 1000, free: 400, available: 350, ..FsUsage::default() }.push_metrics("/data", &mut out);
        let values: Vec<(&str, f64)> = out.iter().map(|m| (m.name, m.value)).collect();
        assert_eq!(
            values,
            [(DISK_TOTAL, 1000.0), (DISK_USED, 600.0), (DISK_AVAILABLE, 350.0), (DISK_USED_PERCENT, 60_000.0 / 950.0)]
        );
        assert!(out.iter().all(|m| m.labels.get(LABEL_MOUNT) == Some("/data")));
    }

    #[test]
    fn inode_use_is_a_share_of_all_inodes_like_df_i() {
        let mut out = Vec::new();
        FsUsage::from_blocks(8, 4, 4, 4096).with_inodes(1_000_000, 750_000).push_inode_metrics("/data", &mut out);
        let values: Vec<(&str, f64)> = out.iter().map(|m| (m.name, m.value)).collect();
        assert_eq!(
            values,
            [(DISK_INODES_TOTAL, 1_000_000.0), (DISK_INODES_USED, 250_000.0), (DISK_INODES_USED_PERCENT, 25.0)]
        );
        assert!(out.iter().all(|m| m.labels.get(LABEL_MOUNT) == Some("/data")));
    }

    #[test]
    fn filesystems_without_an_inode_table_get_no_inode_metrics() {
        let mut out = Vec::new();
        FsUsage::from_blocks(8, 4, 4, 4096).push_inode_metrics("/boot/efi", &mut out);
        assert!(out.is_empty(), "{out:?}");
        // More free than total (a filesystem adding inodes between the two
        // reads) is clamped to none used, never negative.
        FsUsage::default().with_inodes(10, 12).push_inode_metrics("/x", &mut out);
        assert_eq!(out.iter().map(|m| m.value).collect::<Vec<_>>(), [10.0, 0.0, 0.0]);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn real_statvfs_of_the_root_reports_a_nonzero_size() {
        let usage = Statvfs.stat(Path::new("/")).unwrap();
        assert!(usage.total > 0 && usage.free <= usage.total && usage.available <= usage.free);
        assert!(usage.inodes_free <= usage.inodes_total, "{usage:?}");
    }
}
