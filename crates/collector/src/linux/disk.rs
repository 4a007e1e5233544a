//! Disks: the host's mount table, filtered, then `statvfs` below rootfs for
//! capacity and inodes.

use std::borrow::Cow;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::ProcFile;
use crate::disk::SkipReason;
use crate::{Collection, Error, FsStats};

/// One entry of a mount table, with the mount point unescaped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Mount<'a> {
    pub(super) device: &'a [u8],
    pub(super) mount_point: Cow<'a, [u8]>,
    pub(super) fs_type: &'a [u8],
}

/// Parses a `/proc/<pid>/mounts` table (`device mountpoint type options 0 0`
/// per line), skipping lines with fewer than three fields.
///
/// Works on bytes: a mount point may hold any byte except NUL and `/proc`
/// does not promise UTF-8.
pub(super) fn parse_mounts(table: &[u8]) -> impl Iterator<Item = Mount<'_>> {
    table.split(|&b| b == b'\n').filter_map(|line| {
        let mut fields = line.split(|&b| b == b' ').filter(|f| !f.is_empty());
        let device = fields.next()?;
        let mount_point = unescape(fields.next()?);
        let fs_type = fields.next()?;
        Some(Mount { device, mount_point, fs_type })
    })
}

/// Undoes the kernel's escaping of mount table fields: space, tab, newline
/// and backslash are written as three octal digits (`\040`, `\011`, `\012`,
/// `\134`). A backslash not followed by three octal digits is kept as is.
pub(super) fn unescape(field: &[u8]) -> Cow<'_, [u8]> {
    if !field.contains(&b'\\') {
        return Cow::Borrowed(field);
    }
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while let Some(&b) = field.get(i) {
        let escaped = if b == b'\\' { field.get(i + 1..i + 4).and_then(octal_byte) } else { None };
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 4;
            }
            None => {
                out.push(b);
                i += 1;
            }
        }
    }
    Cow::Owned(out)
}

/// `b"040"` → 0o40; `None` unless three octal digits fitting a byte.
fn octal_byte(digits: &[u8]) -> Option<u8> {
    let value =
        digits.iter().try_fold(0u16, |acc, &d| matches!(d, b'0'..=b'7').then(|| acc * 8 + u16::from(d - b'0')))?;
    u8::try_from(value).ok()
}

/// The mounts that count as disks before `statvfs`: rules 1–4 of the crate
/// documentation, in table order.
pub(super) fn select_mounts<'a>(mounts: impl Iterator<Item = Mount<'a>>) -> Vec<Mount<'a>> {
    let mut kept: Vec<Mount<'a>> = Vec::new();
    for mount in mounts {
        if let Some(reason) = SkipReason::of(mount.device, &mount.mount_point, mount.fs_type) {
            tracing::trace!(
                mount = %String::from_utf8_lossy(&mount.mount_point),
                ?reason,
                "skipping mount"
            );
            continue;
        }
        match kept.iter_mut().find(|k| k.device == mount.device) {
            // Same filesystem seen again (a bind mount or another subvolume):
            // keep the shortest mount point, as df does.
            Some(k) if mount.mount_point.len() < k.mount_point.len() => *k = mount,
            Some(_) => {}
            None => kept.push(mount),
        }
    }
    kept
}

/// Replaces `buf` with `mount_point` as seen below `rootfs`.
///
/// `Path::join` would discard `rootfs` for an absolute mount point, so the
/// leading slashes are stripped first; a rootfs of `/` yields the mount point
/// itself.
pub(super) fn host_path<'b>(buf: &'b mut PathBuf, rootfs: &Path, mount_point: &[u8]) -> &'b Path {
    buf.as_mut_os_string().clear();
    buf.push(rootfs);
    let relative = mount_point.iter().position(|&b| b != b'/').map_or(&[][..], |i| &mount_point[i..]);
    if !relative.is_empty() {
        buf.push(OsStr::from_bytes(relative));
    }
    buf
}

/// The disk sub-collector.
pub(super) struct Disks {
    /// The host's mount table is that of its PID 1; `self/mounts` is the
    /// agent's own, right when it is not in a separate mount namespace or
    /// when PID 1's table is not readable.
    table: ProcFile,
    rootfs: PathBuf,
    fs_stats: Box<dyn FsStats>,
    /// Reused for every mount's `rootfs`-relative path.
    path: PathBuf,
    reported: usize,
}

impl Disks {
    pub(super) fn new(procfs: &Path, rootfs: &Path, fs_stats: Box<dyn FsStats>) -> Self {
        Self {
            table: ProcFile::with_fallback(procfs.join("1/mounts"), procfs.join("self/mounts")),
            rootfs: rootfs.to_owned(),
            fs_stats,
            path: PathBuf::new(),
            reported: 0,
        }
    }

    /// Number of mounts reported last cycle.
    pub(super) fn mounts(&self) -> usize {
        self.reported
    }

    /// Appends the capacity metrics of every disk if `capacity`, and their
    /// inode metrics if `inodes`; one `statvfs` per disk serves both.
    pub(super) fn collect(&mut self, capacity: bool, inodes: bool, out: &mut Collection) {
        if let Err(e) = self.table.read() {
            out.errors.push(e);
            return;
        }
        self.reported = 0;
        for mount in select_mounts(parse_mounts(self.table.bytes())) {
            let path = host_path(&mut self.path, &self.rootfs, &mount.mount_point);
            let label = String::from_utf8_lossy(&mount.mount_point);
            match self.fs_stats.stat(path) {
                Ok(usage) if usage.total == 0 => {
                    tracing::trace!(mount = %label, "skipping zero-size filesystem");
                }
                Ok(usage) => {
                    if capacity {
                        usage.push_metrics(&label, &mut out.metrics);
                    }
                    if inodes {
                        usage.push_inode_metrics(&label, &mut out.metrics);
                    }
                    self.reported += 1;
                }
                Err(error) => {
                    out.errors.push(Error::Statvfs { mount: label.into_owned(), path: path.to_owned(), error })
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[track_caller]
    fn check_unescape(field: &str, expected: &[u8]) {
        assert_eq!(&*unescape(field.as_bytes()), expected, "unescaping {field:?}");
    }

    #[test]
    fn octal_escapes_in_mount_fields_are_decoded() {
        check_unescape("/mnt/backup\\040drive", b"/mnt/backup drive");
        check_unescape("/a\\011b\\012c\\134d", b"/a\tb\nc\\d");
        check_unescape("/plain", b"/plain");
        check_unescape("/latin\\351", b"/latin\xe9");
    }

    #[test]
    fn backslashes_without_three_octal_digits_are_kept() {
        check_unescape("/a\\", b"/a\\");
        check_unescape("/a\\04", b"/a\\04");
        check_unescape("/a\\089", b"/a\\089");
        check_unescape("/a\\400", b"/a\\400");
    }

    fn mounts(table: &str) -> Vec<(String, String, String)> {
        let lossy = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        parse_mounts(table.as_bytes()).map(|m| (lossy(m.device), lossy(&m.mount_point), lossy(m.fs_type))).collect()
    }

    fn owned(device: &str, mount_point: &str, fs_type: &str) -> (String, String, String) {
        (device.to_owned(), mount_point.to_owned(), fs_type.to_owned())
    }

    #[test]
    fn mount_table_lines_yield_device_mount_point_and_type() {
        assert_eq!(
            mounts(
                "/dev/sda1 / ext4 rw,relatime 0 0\n\
                 server:/x /mnt/my\\040nfs nfs4 rw 0 0\n\n\
                 bad-line\n\
                 only two\n"
            ),
            [owned("/dev/sda1", "/", "ext4"), owned("server:/x", "/mnt/my nfs", "nfs4")]
        );
    }

    fn selected(table: &str) -> Vec<String> {
        select_mounts(parse_mounts(table.as_bytes()))
            .into_iter()
            .map(|m| String::from_utf8_lossy(&m.mount_point).into_owned())
            .collect()
    }

    #[test]
    fn duplicate_devices_keep_the_shortest_mount_point() {
        let table = "/dev/sdb1 /srv/data/exports ext4 rw 0 0\n\
                     /dev/sda1 / ext4 rw 0 0\n\
                     /dev/sdb1 /srv/data ext4 rw 0 0\n\
                     /dev/sda1 /srv/www ext4 rw 0 0\n\
                     /dev/sdb1 /srv/data2 ext4 rw 0 0\n";
        assert_eq!(selected(table), ["/srv/data", "/"]);
    }

    #[test]
    fn a_skipped_mount_does_not_hide_a_kept_mount_of_the_same_device() {
        let table = "/dev/sdc1 /var/lib/docker/volumes/x xfs rw 0 0\n\
                     /dev/sdc1 /mnt/containers xfs rw 0 0\n";
        assert_eq!(selected(table), ["/mnt/containers"]);
    }

    #[track_caller]
    fn check_host_path(rootfs: &str, mount_point: &str, expected: &str) {
        let mut buf = PathBuf::from("/stale");
        assert_eq!(host_path(&mut buf, Path::new(rootfs), mount_point.as_bytes()), Path::new(expected));
    }

    #[test]
    fn mount_points_are_joined_below_rootfs() {
        check_host_path("/", "/", "/");
        check_host_path("/", "/home", "/home");
        check_host_path("/host/root", "/", "/host/root");
        check_host_path("/host/root", "/home", "/host/root/home");
        check_host_path("/host/root/", "//srv/a b", "/host/root/srv/a b");
    }

    proptest! {
        #[test]
        fn parsing_arbitrary_bytes_never_panics(
            table in proptest::collection::vec(any::<u8>(), 0..512),
        ) {
            let _ = select_mounts(parse_mounts(&table));
        }

        #[test]
        fn unescaping_arbitrary_escapes_never_panics(field in "(/|[a-z]|\\\\[0-9]{0,3})*") {
            let _ = unescape(field.as_bytes());
        }
    }
}
