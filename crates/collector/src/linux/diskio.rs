//! Disk I/O per whole device from `/proc/diskstats`: which devices count
//! (the rules are in the crate documentation), and rates across readings.

use std::path::Path;
use std::time::Instant;

use oxmon_common::metric::{
    DISK_IO_UTIL, DISK_READ_BYTES, DISK_READ_OPS, DISK_WRITE_BYTES, DISK_WRITE_OPS, LABEL_DEVICE, Metric,
};

use super::ProcFile;
use crate::Collection;

/// `/proc/diskstats` counts sectors of 512 bytes whatever the device's
/// own sector size (the kernel's `SECTOR_SHIFT`).
const SECTOR_BYTES: f64 = 512.0;

/// Device-name prefixes that are never reported when followed by a digit:
/// memory and file backed devices (`loop`, `ram`, `zram`), floppies (`fd`),
/// as node_exporter's default `device-exclude` has them, and devices
/// stacked on other block devices (`dm-` for LVM, LUKS and multipath, `md`
/// software RAID, `zd` ZFS volumes, `drbd`, `bcache`), whose I/O is already
/// counted on the disks below them.
pub const SKIPPED_DEVICE_PREFIXES: &[&str] = &["loop", "ram", "zram", "fd", "dm-", "md", "zd", "drbd", "bcache"];

/// Prefixes of the classic disk names (`sda`, `hdb`, `vdc`, `xvdd`) whose
/// partitions are the disk name followed by digits (`sda1`).
const LETTERED_DISKS: &[&str] = &["sd", "hd", "vd", "xvd"];

/// Whether `/proc/diskstats` device `name` is reported: a whole disk, not a
/// partition nor a [`SKIPPED_DEVICE_PREFIXES`] device.
pub(super) fn is_whole_disk(name: &[u8]) -> bool {
    let followed_by_digit =
        |prefix: &str| name.strip_prefix(prefix.as_bytes()).and_then(<[u8]>::first).is_some_and(u8::is_ascii_digit);
    !(name.is_empty() || SKIPPED_DEVICE_PREFIXES.iter().any(|p| followed_by_digit(p)) || is_partition(name))
}

/// `sda1`, `xvdb12`, `sdaa3` (a lettered disk and digits) and `nvme0n1p2`,
/// `mmcblk0p1` (a name ending in a digit, then `p` and digits).
fn is_partition(name: &[u8]) -> bool {
    let digits = name.iter().rev().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 {
        return false;
    }
    let stem = &name[..name.len() - digits];
    let lettered = LETTERED_DISKS.iter().any(|prefix| {
        stem.strip_prefix(prefix.as_bytes())
            .is_some_and(|letters| !letters.is_empty() && letters.iter().all(u8::is_ascii_lowercase))
    });
    lettered || stem.strip_suffix(b"p").and_then(<[u8]>::last).is_some_and(u8::is_ascii_digit)
}

/// Cumulative counters of one device, in `/proc/diskstats` units.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct DiskCounters {
    pub(super) reads: u64,
    pub(super) sectors_read: u64,
    pub(super) writes: u64,
    pub(super) sectors_written: u64,
    /// Milliseconds the device had I/O in flight.
    pub(super) io_ms: u64,
}

/// Field positions after the device name: reads completed, reads merged,
/// sectors read, ms reading, writes completed, writes merged, sectors
/// written, ms writing, I/Os in flight, ms doing I/O, weighted ms, then
/// (newer kernels) discard and flush fields.
const READS: usize = 0;
const SECTORS_READ: usize = 2;
const WRITES: usize = 4;
const SECTORS_WRITTEN: usize = 6;
const IO_MS: usize = 9;

/// `   8       0 sda 1 2 3 ...` → the device name and its counters; `None`
/// for lines with fewer than the 11 fields of a whole device (kernels before
/// 2.6.25 wrote 4 for partitions).
pub(super) fn parse_diskstats_line(line: &[u8]) -> Option<(&[u8], DiskCounters)> {
    let mut fields = line.split(u8::is_ascii_whitespace).filter(|f| !f.is_empty());
    let _major = fields.next()?;
    let _minor = fields.next()?;
    let name = fields.next()?;
    let mut values = [0u64; IO_MS + 1];
    for slot in &mut values {
        *slot = parse_u64(fields.next()?)?;
    }
    let counters = DiskCounters {
        reads: values[READS],
        sectors_read: values[SECTORS_READ],
        writes: values[WRITES],
        sectors_written: values[SECTORS_WRITTEN],
        io_ms: values[IO_MS],
    };
    Some((name, counters))
}

/// A decimal `u64` from bytes, without going through `str`.
fn parse_u64(field: &[u8]) -> Option<u64> {
    if field.is_empty() {
        return None;
    }
    field.iter().try_fold(0u64, |acc, &b| {
        b.is_ascii_digit().then_some(())?;
        acc.checked_mul(10)?.checked_add(u64::from(b - b'0'))
    })
}

/// How far a counter that went down may have travelled through a 32-bit
/// wrap and still count as one.
///
/// The kernel prints the time fields (`io_ms`) as 32-bit values on every
/// kernel, wrapping after 49.7 days of busy time, and all counters as
/// 32-bit on 32-bit kernels. A counter that went down is taken as wrapped
/// only if it was a 32-bit value and the wrapped increase is plausible: at
/// most twice the elapsed time plus a second for `io_ms`, at most half the
/// 32-bit range for the others. Anything else is a reset (the device was
/// replaced): its reading becomes the new baseline and it reports nothing
/// that cycle, rather than a spike.
fn increase(earlier: u64, now: u64, max_wrapped: u64) -> Option<u64> {
    if now >= earlier {
        return Some(now - earlier);
    }
    let range = 1u64 << 32;
    if earlier >= range {
        return None;
    }
    let wrapped = range - earlier + now;
    (wrapped <= max_wrapped).then_some(wrapped)
}

impl DiskCounters {
    /// Per-field increases since `earlier` over `elapsed_ms`, or `None` if
    /// the device was reset (see [`increase`]).
    fn since(&self, earlier: &Self, elapsed_ms: u64) -> Option<Self> {
        let half_range = 1u64 << 31;
        Some(Self {
            reads: increase(earlier.reads, self.reads, half_range)?,
            sectors_read: increase(earlier.sectors_read, self.sectors_read, half_range)?,
            writes: increase(earlier.writes, self.writes, half_range)?,
            sectors_written: increase(earlier.sectors_written, self.sectors_written, half_range)?,
            io_ms: increase(earlier.io_ms, self.io_ms, elapsed_ms.saturating_mul(2).saturating_add(1000))?,
        })
    }
}

/// The previous reading of one device.
#[derive(Debug)]
struct Device {
    name: String,
    counters: DiskCounters,
    /// Whether the current cycle saw the device; unseen ones are forgotten.
    seen: bool,
}

/// The disk I/O sub-collector.
pub(super) struct DiskIo {
    diskstats: ProcFile,
    devices: Vec<Device>,
    /// When `devices` was read; every device in it was read then.
    read_at: Option<Instant>,
}

impl DiskIo {
    pub(super) fn new(procfs: &Path) -> Self {
        Self { diskstats: ProcFile::new(procfs.join("diskstats")), devices: Vec::new(), read_at: None }
    }

    /// Number of devices tracked.
    pub(super) fn devices(&self) -> usize {
        self.devices.len()
    }

    pub(super) fn collect(&mut self, now: Instant, out: &mut Collection) {
        if let Err(e) = self.diskstats.read() {
            out.errors.push(e);
            return;
        }
        let elapsed = self.read_at.map(|then| now.saturating_duration_since(then));
        self.read_at = Some(now);
        for device in &mut self.devices {
            device.seen = false;
        }
        let mut position = 0;
        for line in self.diskstats.bytes().split(|&b| b == b'\n') {
            let Some((name, counters)) = parse_diskstats_line(line) else { continue };
            if !is_whole_disk(name) {
                continue;
            }
            // Devices keep their order between readings, so try the next
            // position before searching.
            let found = match self.devices.get(position) {
                Some(d) if d.name.as_bytes() == name => Some(position),
                _ => self.devices.iter().position(|d| d.name.as_bytes() == name),
            };
            let Some(i) = found else {
                let name = String::from_utf8_lossy(name).into_owned();
                self.devices.push(Device { name, counters, seen: true });
                continue;
            };
            position = i + 1;
            let device = &mut self.devices[i];
            let earlier = std::mem::replace(&mut device.counters, counters);
            device.seen = true;
            let Some(elapsed) = elapsed.filter(|e| !e.is_zero()) else { continue };
            let elapsed_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
            let Some(delta) = counters.since(&earlier, elapsed_ms) else {
                tracing::debug!(device = %device.name, "disk counters went back; new baseline");
                continue;
            };
            let seconds = elapsed.as_secs_f64();
            let util = (delta.io_ms as f64 / 10.0 / seconds).min(100.0);
            for (metric, value) in [
                (DISK_READ_BYTES, delta.sectors_read as f64 * SECTOR_BYTES / seconds),
                (DISK_WRITE_BYTES, delta.sectors_written as f64 * SECTOR_BYTES / seconds),
                (DISK_READ_OPS, delta.reads as f64 / seconds),
                (DISK_WRITE_OPS, delta.writes as f64 / seconds),
                (DISK_IO_UTIL, util),
            ] {
                out.metrics.push(Metric::labelled(metric, LABEL_DEVICE, device.name.as_str(), value));
            }
        }
        self.devices.retain(|d| d.seen);
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[track_caller]
    fn check_device(name: &str, reported: bool) {
        assert_eq!(is_whole_disk(name.as_bytes()), reported, "device {name:?}");
    }

    #[test]
    fn whole_disks_are_reported_and_partitions_are_not() {
        for disk in ["sda", "sdaa", "hdb", "vda", "xvdf", "nvme0n1", "nvme12n3", "mmcblk0", "sr0", "nbd0", "rbd0"] {
            check_device(disk, true);
        }
        for partition in ["sda1", "sdaa12", "hdb3", "vda15", "xvdf1", "nvme0n1p1", "nvme12n3p14", "mmcblk0p2"] {
            check_device(partition, false);
        }
    }

    #[test]
    fn memory_file_and_stacked_devices_are_skipped() {
        for virtual_device in
            ["loop0", "loop12", "ram0", "zram0", "fd0", "dm-0", "dm-12", "md0", "md127", "zd0", "drbd1", "bcache0"]
        {
            check_device(virtual_device, false);
        }
        // The prefixes only match when a number follows.
        for disk in ["mdisk", "fdx", "dm-x", "ramdisk", "loopback", "zdx"] {
            check_device(disk, true);
        }
        check_device("", false);
    }

    #[test]
    fn a_diskstats_line_yields_name_and_the_five_counters() {
        let line =
            b"   8       0 sda 18040 6118 2804922 24923 4424 46820 4654072 49973 0 10524 78663 4636 52 115960 2888";
        assert_eq!(
            parse_diskstats_line(line),
            Some((
                &b"sda"[..],
                DiskCounters {
                    reads: 18040,
                    sectors_read: 2804922,
                    writes: 4424,
                    sectors_written: 4654072,
                    io_ms: 10524
                }
            ))
        );
        // Kernels before 4.18 have no discard fields.
        assert!(parse_diskstats_line(b" 259 0 nvme0n1 1 2 3 4 5 6 7 8 9 10 11").is_some());
    }

    #[test]
    fn short_or_malformed_diskstats_lines_are_skipped() {
        assert_eq!(parse_diskstats_line(b"   8    1 sda1 100 200 300 400"), None);
        assert_eq!(parse_diskstats_line(b"   8    0 sda 1 2 3 4 5 6 7 8 9 x 11"), None);
        assert_eq!(parse_diskstats_line(b"   8    0 sda 1 2 3 4 5 6 7 8 9 -1 11"), None);
        assert_eq!(parse_diskstats_line(b"   8    0 sda 1 2 3 4 5 6 7 8 9 18446744073709551616 11"), None);
        assert_eq!(parse_diskstats_line(b""), None);
    }

    #[test]
    fn a_counter_that_went_up_increases_by_the_difference() {
        assert_eq!(increase(100, 250, 0), Some(150));
        assert_eq!(increase(u64::MAX - 1, u64::MAX, 0), Some(1));
    }

    #[test]
    fn a_32_bit_counter_that_wrapped_increases_through_the_wrap() {
        let range = 1u64 << 32;
        // io_ms 1.5 s before the wrap, 2.5 s after it: 4 s busy.
        assert_eq!(increase(range - 1500, 2500, 21_000), Some(4000));
        assert_eq!(increase(range - 1, 0, 1), Some(1));
    }

    #[test]
    fn an_implausible_wrap_or_a_64_bit_counter_going_back_is_a_reset() {
        let range = 1u64 << 32;
        // A device replaced after 1000 ms of I/O: a wrap would be ~49 days.
        assert_eq!(increase(1000, 10, 21_000), None);
        assert_eq!(increase(range - 30_000, 10, 21_000), None);
        assert_eq!(increase(range, 10, u64::MAX), None);
        assert_eq!(increase(u64::MAX, 0, u64::MAX), None);
    }

    #[test]
    fn a_reset_device_is_caught_by_its_io_time_even_when_its_ops_could_have_wrapped() {
        let earlier =
            DiskCounters { reads: 3_000_000_000, sectors_read: 10, writes: 5, sectors_written: 10, io_ms: 500_000 };
        let now = DiskCounters { reads: 100, sectors_read: 10, writes: 5, sectors_written: 10, io_ms: 20 };
        assert_eq!(now.since(&earlier, 10_000), None);
    }

    proptest! {
        #[test]
        fn parsing_arbitrary_bytes_never_panics(
            text in proptest::collection::vec(any::<u8>(), 0..256),
            line in "[ 0-9]{0,12}[a-z0-9-]{0,8}( [0-9]{0,21}){0,18}",
        ) {
            let _ = parse_diskstats_line(&text);
            let _ = is_whole_disk(&text);
            if let Some((name, _)) = parse_diskstats_line(line.as_bytes()) {
                let _ = is_whole_disk(name);
            }
        }

        #[test]
        fn increases_never_exceed_their_bound_after_going_back(earlier in any::<u64>(), now in any::<u64>(), max in any::<u64>()) {
            if let Some(delta) = increase(earlier, now, max) {
                prop_assert!(now >= earlier || delta <= max);
            }
        }
    }
}
