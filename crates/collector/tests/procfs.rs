//! The Linux collector against fixture procfs trees copied into a temp dir.

#![cfg(target_os = "linux")]
// clippy only exempts #[test] functions, not the fixture helpers here.
#![allow(clippy::unwrap_used)]

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use oxmon_collector::{Collector, CollectorConfig, Collectors, Error, FsUsage};
use oxmon_common::metric::*;
use support::*;

#[test]
fn the_first_cycle_reports_gauges_but_no_rates() {
    let (first, _) = two_cycles(&Host::new());
    check(&first, "cpu.", &[]);
    for rate in [
        NETWORK_BYTES_RECV,
        NETWORK_BYTES_SENT,
        NETWORK_PACKETS_RECV,
        NETWORK_PACKETS_SENT,
        DISK_READ_BYTES,
        DISK_WRITE_BYTES,
        DISK_READ_OPS,
        DISK_WRITE_OPS,
        DISK_IO_UTIL,
        SYSTEM_CONTEXT_SWITCHES,
    ] {
        check(&first, rate, &[]);
    }
    assert_eq!(series(&first, "memory.").len(), 7);
    assert_eq!(series(&first, "load.").len(), 4);
    assert_eq!(series(&first, "disk.").len(), 4 * 6);
    assert_eq!(series(&first, NETWORK_TCP_CONNECTIONS).len(), 11);
    assert_eq!(series(&first, SYSTEM_PROCESSES).len(), 3);
    assert_eq!(series(&first, SENSORS_TEMPERATURE).len(), 9);
}

/// The fixture host's config without the TCP collector, whose
/// `network.tcp_connections` the interface-rate tests leave out.
fn without_tcp(host: &Host) -> CollectorConfig {
    CollectorConfig { collectors: Collectors { tcp: false, ..Collectors::ALL }, ..host.config() }
}

#[test]
fn cpu_usage_is_busy_share_of_jiffies_over_the_interval() {
    let (_, second) = two_cycles(&Host::new());
    // Aggregate: 1610 busy of 4000 jiffies. cpu0's 200 guest jiffies are
    // already in its user time and must not count twice; cpu1's steal is busy.
    check(
        &second,
        "cpu.",
        &[
            (CPU_USAGE, "", 40.25),
            (CPU_CORE_USAGE, "0", 42.0),
            (CPU_CORE_USAGE, "1", 19.0),
            (CPU_CORE_USAGE, "2", 0.0),
            (CPU_CORE_USAGE, "3", 100.0),
        ],
    );
}

#[test]
fn a_cpu_that_appears_needs_a_second_reading() {
    let host = Host::new();
    let mut collector = Collector::with_fs_stats(host.config(), Box::new(fixture_disks(&host.rootfs())));
    let t0 = Instant::now();
    collector.collect(t0);
    host.advance();
    let stat = fs::read_to_string(host.procfs().join("stat")).unwrap();
    let hotplugged = stat.replacen("intr ", "cpu4 10 0 10 100 0 0 0 0 0 0\nintr ", 1);
    host.write("stat", &hotplugged);
    let second = collector.collect(t0 + TEN_SECONDS);
    let cores: Vec<String> = series(&second, CPU_CORE_USAGE).into_iter().map(|s| s.1).collect();
    assert_eq!(cores, ["0", "1", "2", "3"]);
}

#[test]
fn network_rates_are_per_second_from_the_host_namespace() {
    let host = Host::new();
    let (_, second) = two_cycles_with(&host, without_tcp(&host), fixture_disks(&host.rootfs()));
    // lo, docker0, veth*, br-*, cali* are excluded; wlp2s0's counters went
    // back (the interface was recreated); wg0 is new; tun0 is gone; the
    // container's own eth0 (in <procfs>/net/dev) is not the host's.
    check(
        &second,
        "network.",
        &[
            (NETWORK_BYTES_RECV, "enp3s0", 1_250_000.0),
            (NETWORK_BYTES_SENT, "enp3s0", 250_000.0),
            (NETWORK_PACKETS_RECV, "enp3s0", 1000.0),
            (NETWORK_PACKETS_SENT, "enp3s0", 500.0),
        ],
    );
}

#[test]
fn network_falls_back_to_the_own_namespace_without_pid_1() {
    let host = Host::new();
    host.remove("1/net/dev");
    let mut collector = Collector::with_fs_stats(without_tcp(&host), Box::new(fixture_disks(&host.rootfs())));
    let t0 = Instant::now();
    collector.collect(t0);
    host.advance();
    host.remove("1/net/dev");
    let second = collector.collect(t0 + TEN_SECONDS);
    check(
        &second,
        "network.",
        &[
            (NETWORK_BYTES_RECV, "eth0", 10_000.0),
            (NETWORK_BYTES_SENT, "eth0", 5000.0),
            (NETWORK_PACKETS_RECV, "eth0", 50.0),
            (NETWORK_PACKETS_SENT, "eth0", 50.0),
        ],
    );
    assert!(second.errors.iter().all(|e| !matches!(e, Error::Read { .. })), "{:?}", second.errors);
}

#[test]
fn wrapped_counters_rebaseline_and_vanished_interfaces_start_over() {
    let host = Host::new();
    let mut collector = Collector::with_fs_stats(host.config(), Box::new(fixture_disks(&host.rootfs())));
    let t0 = Instant::now();
    collector.collect(t0);
    host.advance();
    collector.collect(t0 + TEN_SECONDS);
    // Third cycle: wlp2s0 counts on from its new baseline, wg0 has one now,
    // and tun0 returns with higher counters than before it vanished but was
    // forgotten, so it needs a new baseline.
    let later = fs::read_to_string(host.procfs().join("1/net/dev")).unwrap();
    let third = later.replace("wlp2s0:     1024       8", "wlp2s0:    11024      18")
        + "  tun0:  9200000    9000    0    0    0     0          0         0  9600000    9800    0    0    0     0       0          0\n";
    host.write("1/net/dev", &third);
    let c = collector.collect(t0 + 2 * TEN_SECONDS);
    check(
        &c,
        NETWORK_BYTES_RECV,
        &[
            (NETWORK_BYTES_RECV, "enp3s0", 0.0),
            (NETWORK_BYTES_RECV, "wlp2s0", 1000.0),
            (NETWORK_BYTES_RECV, "wg0", 0.0),
        ],
    );
}

#[test]
fn memory_is_reported_in_bytes() {
    let (first, _) = two_cycles(&Host::new());
    const KIB: f64 = 1024.0;
    check(
        &first,
        "memory.",
        &[
            (MEMORY_TOTAL, "", 16_318_540.0 * KIB),
            (MEMORY_USED, "", 4_079_635.0 * KIB),
            (MEMORY_AVAILABLE, "", 12_238_905.0 * KIB),
            (MEMORY_USED_PERCENT, "", 25.0),
            (MEMORY_SWAP_TOTAL, "", 4_194_300.0 * KIB),
            (MEMORY_SWAP_USED, "", 1_048_575.0 * KIB),
            (MEMORY_SWAP_PERCENT, "", 25.0),
        ],
    );
}

#[test]
fn memory_available_is_estimated_on_kernels_without_memavailable() {
    let host = Host::new();
    fs::copy(Path::new(FIXTURES).join("meminfo-without-memavailable"), host.procfs().join("meminfo")).unwrap();
    let c = Collector::with_fs_stats(host.config(), Box::new(fixture_disks(&host.rootfs()))).collect(Instant::now());
    const KIB: f64 = 1024.0;
    // MemFree + Buffers + Cached = 123456 + 234567 + 345678 kB.
    check(
        &c,
        "memory.",
        &[
            (MEMORY_TOTAL, "", 2_055_920.0 * KIB),
            (MEMORY_USED, "", 1_352_219.0 * KIB),
            (MEMORY_AVAILABLE, "", 703_701.0 * KIB),
            (MEMORY_USED_PERCENT, "", 1_352_219.0 * 100.0 / 2_055_920.0),
            (MEMORY_SWAP_TOTAL, "", 0.0),
            (MEMORY_SWAP_USED, "", 0.0),
            (MEMORY_SWAP_PERCENT, "", 0.0),
        ],
    );
}

#[test]
fn disks_are_statvfsed_below_rootfs_once_per_filesystem() {
    let host = Host::new();
    let fs_stats = fixture_disks(&host.rootfs());
    let c = Collector::with_fs_stats(host.config(), Box::new(fs_stats.clone())).collect(Instant::now());
    // Skipped before statvfs: pseudo filesystems (sysfs, proc, tmpfs,
    // overlay, nsfs, fuse.lxcfs, ...), the loop devices of /snap/core20 and
    // /mnt/image, the kubelet pod volume and /srv/www (a bind mount of /),
    // and /srv/data/exports (the same device as the shorter /srv/data).
    let root = host.rootfs();
    let expected_calls: Vec<PathBuf> =
        ["", "boot/efi", "srv/data", "mnt/backup drive", "var/lib/docker", "home", "mnt/stale", "mnt/empty\tcard\\raw"]
            .iter()
            .map(|m| if m.is_empty() { root.clone() } else { root.join(m) })
            .collect();
    assert_eq!(fs_stats.calls(), expected_calls);

    // /mnt/stale fails and /mnt/empty... is zero-sized: neither is reported.
    const PAGE: f64 = 4096.0;
    check(
        &c,
        "disk.",
        &[
            (DISK_TOTAL, "/", 105_000_000.0 * PAGE),
            (DISK_USED, "/", 75_000_000.0 * PAGE),
            (DISK_AVAILABLE, "/", 25_000_000.0 * PAGE),
            (DISK_USED_PERCENT, "/", 75.0),
            (DISK_TOTAL, "/boot/efi", 262_144.0 * 512.0),
            (DISK_USED, "/boot/efi", 65_536.0 * 512.0),
            (DISK_AVAILABLE, "/boot/efi", 196_608.0 * 512.0),
            (DISK_USED_PERCENT, "/boot/efi", 25.0),
            (DISK_TOTAL, "/srv/data", 2_000_000.0 * PAGE),
            (DISK_USED, "/srv/data", 1_000_000.0 * PAGE),
            (DISK_AVAILABLE, "/srv/data", 900_000.0 * PAGE),
            (DISK_USED_PERCENT, "/srv/data", 100_000_000.0 / 1_900_000.0),
            (DISK_TOTAL, "/mnt/backup drive", 1000.0 * PAGE),
            (DISK_USED, "/mnt/backup drive", 0.0),
            (DISK_AVAILABLE, "/mnt/backup drive", 950.0 * PAGE),
            (DISK_USED_PERCENT, "/mnt/backup drive", 0.0),
            (DISK_TOTAL, "/var/lib/docker", 4_000_000.0 * PAGE),
            (DISK_USED, "/var/lib/docker", 3_000_000.0 * PAGE),
            (DISK_AVAILABLE, "/var/lib/docker", 1_000_000.0 * PAGE),
            (DISK_USED_PERCENT, "/var/lib/docker", 75.0),
            (DISK_TOTAL, "/home", 1000.0 * 1_048_576.0),
            (DISK_USED, "/home", 500.0 * 1_048_576.0),
            (DISK_AVAILABLE, "/home", 500.0 * 1_048_576.0),
            (DISK_USED_PERCENT, "/home", 50.0),
        ],
    );
    match c.errors.as_slice() {
        [Error::Statvfs { mount, path, error }] => {
            assert_eq!(mount, "/mnt/stale");
            assert_eq!(path, &root.join("mnt/stale"));
            assert_eq!(error.raw_os_error(), Some(ESTALE));
        }
        other => panic!("expected one statvfs error, got {other:?}"),
    }
}

#[test]
fn the_own_mount_table_is_used_when_pid_1_is_unreadable() {
    let host = Host::new();
    host.remove("1/mounts");
    let fs_stats = FakeFs::new(&host.rootfs(), &[("etc/hosts", Ok(FsUsage::from_blocks(8, 4, 4, 4096)))]);
    let c = Collector::with_fs_stats(host.config(), Box::new(fs_stats.clone())).collect(Instant::now());
    // The container's overlay root and /host/* pseudo mounts are skipped;
    // /etc/resolv.conf, /etc/hostname, /etc/hosts and /host/root are one
    // host filesystem, kept once under its shortest (first) mount point.
    assert_eq!(fs_stats.calls(), [host.rootfs().join("etc/hosts")]);
    let mounts: Vec<String> = series(&c, DISK_TOTAL).into_iter().map(|s| s.1).collect();
    assert_eq!(mounts, ["/etc/hosts"]);
    assert!(c.errors.is_empty(), "{:?}", c.errors);
}

#[test]
fn load_and_uptime_are_reported_as_read() {
    let (first, _) = two_cycles(&Host::new());
    check(
        &first,
        "load.",
        &[(LOAD_1, "", 0.52), (LOAD_5, "", 0.41), (LOAD_15, "", 0.35), (LOAD_UPTIME, "", 350_735.47)],
    );
}

#[test]
fn a_missing_file_is_an_error_and_the_rest_still_reports() {
    let host = Host::new();
    host.remove("meminfo");
    host.write("loadavg", "garbage\n");
    let c = Collector::with_fs_stats(host.config(), Box::new(fixture_disks(&host.rootfs()))).collect(Instant::now());
    check(&c, "memory.", &[]);
    check(&c, "load.load_", &[]);
    check(&c, LOAD_UPTIME, &[(LOAD_UPTIME, "", 350_735.47)]);
    assert_eq!(series(&c, "disk.").len(), 24);
    let errors: Vec<String> = c.errors.iter().map(ToString::to_string).collect();
    let procfs = host.procfs();
    assert_eq!(
        errors,
        [
            format!("cannot read {}: No such file or directory (os error 2)", procfs.join("meminfo").display()),
            format!(
                "cannot stat filesystem mounted at /mnt/stale (via {}): Stale file handle (os error 116)",
                host.rootfs().join("mnt/stale").display()
            ),
            format!("malformed {}: expected three load averages", procfs.join("loadavg").display()),
        ]
    );
}

#[test]
fn an_empty_procfs_yields_one_error_per_source_and_no_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let config =
        CollectorConfig { procfs: dir.path().to_owned(), sysfs: dir.path().join("sys"), ..CollectorConfig::default() };
    let c = Collector::new(config).collect(Instant::now());
    assert!(c.metrics.is_empty(), "{:?}", c.metrics);
    // stat, meminfo, self/mounts, diskstats, net/dev, net/tcp, loadavg,
    // uptime, each once though stat and loadavg feed two collectors; the
    // fallback paths are the ones named; no hwmon is no error.
    let files: Vec<PathBuf> = c
        .errors
        .iter()
        .map(|e| match e {
            Error::Read { path, .. } => path.strip_prefix(dir.path()).unwrap().to_owned(),
            other => panic!("unexpected {other}"),
        })
        .collect();
    let expected: Vec<PathBuf> =
        ["stat", "meminfo", "self/mounts", "diskstats", "net/dev", "net/tcp", "loadavg", "uptime"]
            .iter()
            .map(PathBuf::from)
            .collect();
    assert_eq!(files, expected);
}

#[test]
fn the_collector_can_move_to_another_thread() {
    fn assert_send<T: Send>() {}
    assert_send::<Collector>();
}
