//! Disk I/O, inodes, temperatures, processes and TCP connections, and the
//! collector switches, on a fixture bare-metal host (NVMe and SATA disks,
//! hwmon sensors) and a fixture VM (none of the optional files).

#![cfg(target_os = "linux")]
// clippy only exempts #[test] functions, not the helpers here.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeSet;
use std::io;
use std::path::PathBuf;
use std::time::Instant;

use oxmon_collector::{Collection, Collector, CollectorConfig, Collectors, Error, FsUsage};
use oxmon_common::metric::*;
use support::*;

const DISK_IO: [&str; 5] = [DISK_READ_BYTES, DISK_WRITE_BYTES, DISK_READ_OPS, DISK_WRITE_OPS, DISK_IO_UTIL];

/// `(name, device, value)` of the disk I/O metrics, in emission order.
fn disk_io(c: &Collection) -> Vec<(String, String, f64)> {
    series(c, "disk.").into_iter().filter(|s| DISK_IO.contains(&s.0.as_str())).collect()
}

/// The five disk I/O values of `device`: read and write bytes per second,
/// read and write operations per second, % busy.
fn io_of(device: &str, values: [f64; 5]) -> Vec<(String, String, f64)> {
    DISK_IO.iter().zip(values).map(|(name, v)| ((*name).to_owned(), device.to_owned(), v)).collect()
}

/// Disk I/O sorted by device then metric order, so expectations read per device.
fn io_by_device(c: &Collection) -> Vec<(String, String, f64)> {
    let mut io = disk_io(c);
    let rank = |name: &str| DISK_IO.iter().position(|n| *n == name);
    io.sort_by(|a, b| a.1.cmp(&b.1).then(rank(&a.0).cmp(&rank(&b.0))));
    io
}

/// `(chip, sensor, °C)` of the temperatures, in emission order.
fn temperatures(c: &Collection) -> Vec<(String, String, f64)> {
    c.metrics
        .iter()
        .filter(|m| m.name == SENSORS_TEMPERATURE)
        .map(|m| {
            assert_eq!(m.labels.len(), 2, "{m:?}");
            let label = |key| m.labels.get(key).unwrap().to_owned();
            (label(LABEL_CHIP), label(LABEL_SENSOR), m.value)
        })
        .collect()
}

#[track_caller]
fn check_temperatures(c: &Collection, expected: &[(&str, &str, f64)]) {
    let expected: Vec<(String, String, f64)> =
        expected.iter().map(|(c, s, v)| ((*c).to_owned(), (*s).to_owned(), *v)).collect();
    assert_eq!(temperatures(c), expected);
}

fn error_messages(c: &Collection) -> Vec<String> {
    c.errors.iter().map(ToString::to_string).collect()
}

const SECTOR: f64 = 512.0;

#[test]
fn disk_io_is_per_whole_device_and_per_second() {
    let (first, second) = two_cycles(&Host::new());
    assert!(disk_io(&first).is_empty(), "{:?}", disk_io(&first));
    // Partitions (nvme0n1p*, sd*1), dm-0, loop* and zram0 are skipped. sda's
    // I/O time wrapped at 2^32 ms (1000 before, 8000 after); sdd was
    // replaced (its counters restarted) and sde is new: neither has a
    // usable earlier reading.
    let mut expected = io_of("nvme0n1", [204_800.0 * SECTOR / 10.0, 409_600.0 * SECTOR / 10.0, 500.0, 2000.0, 25.0]);
    expected.extend(io_of("sda", [2048.0 * SECTOR / 10.0, 0.0, 10.0, 0.0, 90.0]));
    expected.extend(io_of("sdc", [0.0; 5]));
    assert_eq!(io_by_device(&second), expected);
    // Emitted device by device, in diskstats order.
    let devices: Vec<String> = series(&second, DISK_READ_BYTES).into_iter().map(|s| s.1).collect();
    assert_eq!(devices, ["nvme0n1", "sda", "sdc"]);
    assert!(
        second.errors.iter().all(|e| !matches!(e, Error::Read { .. } | Error::Malformed { .. })),
        "{:?}",
        second.errors
    );
}

#[test]
fn a_replaced_or_new_device_reports_from_its_next_reading() {
    let host = Host::new();
    let mut collector = Collector::with_fs_stats(host.config(), Box::new(fixture_disks(&host.rootfs())));
    let t0 = Instant::now();
    collector.collect(t0);
    host.advance();
    collector.collect(t0 + TEN_SECONDS);
    // Five seconds later: sdd and sde count on from their new baselines.
    let later = host
        .read("diskstats")
        .replace(" sdd 300 30 24000 75 20 4 160 6 0 900 ", " sdd 800 30 34240 75 520 4 10400 6 0 5900 ");
    host.write("diskstats", &later);
    let third = collector.collect(t0 + TEN_SECONDS + TEN_SECONDS / 2);
    let mut expected = io_of("nvme0n1", [0.0; 5]);
    expected.extend(io_of("sda", [0.0; 5]));
    expected.extend(io_of("sdc", [0.0; 5]));
    expected.extend(io_of("sdd", [10_240.0 * SECTOR / 5.0, 10_240.0 * SECTOR / 5.0, 100.0, 100.0, 100.0]));
    expected.extend(io_of("sde", [0.0; 5]));
    assert_eq!(io_by_device(&third), expected);
}

#[test]
fn a_vanished_device_is_forgotten_and_starts_over_when_it_returns() {
    let host = Host::new();
    let mut collector = Collector::with_fs_stats(host.config(), Box::new(fixture_disks(&host.rootfs())));
    let t0 = Instant::now();
    collector.collect(t0);
    let without_sdc: String =
        host.read("diskstats").lines().filter(|l| !l.contains(" sdc")).map(|l| format!("{l}\n")).collect();
    let with_sdc = host.read("diskstats");
    host.write("diskstats", &without_sdc);
    let second = collector.collect(t0 + TEN_SECONDS);
    assert!(series(&second, DISK_READ_BYTES).iter().all(|s| s.1 != "sdc"));
    host.write("diskstats", &with_sdc);
    let third = collector.collect(t0 + 2 * TEN_SECONDS);
    let devices: Vec<String> = series(&third, DISK_READ_BYTES).into_iter().map(|s| s.1).collect();
    assert_eq!(devices, ["nvme0n1", "sda", "sdd"]);
}

#[test]
fn inodes_are_reported_per_mount_like_df_i() {
    let host = Host::new();
    let root = FsUsage::from_blocks(105_000_000, 30_000_000, 25_000_000, 4096);
    let fs = FakeFs::new(
        &host.rootfs(),
        &[
            ("", Ok(root.with_inodes(6_553_600, 4_915_200))),
            // vfat and btrfs have no inode table: statvfs says 0.
            ("boot/efi", Ok(FsUsage::from_blocks(262_144, 196_608, 196_608, 512))),
            ("srv/data", Ok(FsUsage::from_blocks(2_000_000, 1_000_000, 900_000, 4096).with_inodes(1000, 1000))),
            ("home", Ok(FsUsage::from_blocks(1000, 500, 500, 1 << 20).with_inodes(0, 0))),
            ("var/lib/docker", Ok(FsUsage::from_blocks(4_000_000, 1_000_000, 1_000_000, 4096).with_inodes(3, 0))),
        ],
    );
    let c = Collector::with_fs_stats(host.config(), Box::new(fs.clone())).collect(Instant::now());
    check(
        &c,
        "disk.inodes_",
        &[
            (DISK_INODES_TOTAL, "/", 6_553_600.0),
            (DISK_INODES_USED, "/", 1_638_400.0),
            (DISK_INODES_USED_PERCENT, "/", 25.0),
            (DISK_INODES_TOTAL, "/srv/data", 1000.0),
            (DISK_INODES_USED, "/srv/data", 0.0),
            (DISK_INODES_USED_PERCENT, "/srv/data", 0.0),
            (DISK_INODES_TOTAL, "/var/lib/docker", 3.0),
            (DISK_INODES_USED, "/var/lib/docker", 3.0),
            (DISK_INODES_USED_PERCENT, "/var/lib/docker", 100.0),
        ],
    );
    // The same mounts as capacity, from the same single statvfs each.
    let capacity: BTreeSet<String> = series(&c, DISK_TOTAL).into_iter().map(|s| s.1).collect();
    let inodes: BTreeSet<String> = series(&c, DISK_INODES_TOTAL).into_iter().map(|s| s.1).collect();
    assert!(inodes.is_subset(&capacity), "{inodes:?} not in {capacity:?}");
    let calls = fs.calls();
    assert_eq!(calls.len(), calls.iter().collect::<BTreeSet<_>>().len(), "one statvfs per mount: {calls:?}");
}

#[test]
fn temperatures_are_degrees_labelled_by_chip_and_sensor() {
    let (first, _) = two_cycles(&Host::new());
    // hwmon0, 1, 2, 4, 10 in numeric order; BAT0 (hwmon4) has no
    // temperature; coretemp's inputs in index order (temp10 after temp6).
    check_temperatures(
        &first,
        &[
            ("acpitz", "temp1", 27.8),
            ("nvme", "Composite", 38.85),
            ("nvme", "Sensor 1", 38.85),
            ("nvme", "Sensor 2", 41.85),
            ("coretemp", "Package id 0", 52.0),
            ("coretemp", "Core 0", 49.0),
            ("coretemp", "Core 4", 51.0),
            ("coretemp", "Core 8", 47.0),
            ("drivetemp", "temp1", 34.0),
        ],
    );
    assert!(first.errors.iter().all(|e| !matches!(e, Error::Read { .. })), "{:?}", first.errors);
}

#[test]
fn chips_sharing_a_name_are_told_apart_by_their_device() {
    let host = Host::new();
    let mut collector = Collector::with_fs_stats(host.config(), Box::new(fixture_disks(&host.rootfs())));
    let t0 = Instant::now();
    collector.collect(t0);
    // A second NVMe drive is plugged in; a sensor of the first one warms up.
    host.write_sys("class/hwmon/hwmon11/name", "nvme\n");
    host.write_sys("class/hwmon/hwmon11/temp1_input", "30850\n");
    host.write_sys("class/hwmon/hwmon11/temp1_label", "Composite\n");
    std::os::unix::fs::symlink("../../nvme1", host.sysfs().join("class/hwmon/hwmon11/device")).unwrap();
    host.write_sys("class/hwmon/hwmon1/temp1_input", "40100\n");
    let second = collector.collect(t0 + TEN_SECONDS);
    let nvme: Vec<(String, String, f64)> =
        temperatures(&second).into_iter().filter(|t| t.0.starts_with("nvme")).collect();
    let t = |c: &str, s: &str, v| (c.to_owned(), s.to_owned(), v);
    assert_eq!(
        nvme,
        [
            t("nvme/nvme0", "Composite", 40.1),
            t("nvme/nvme0", "Sensor 1", 38.85),
            t("nvme/nvme0", "Sensor 2", 41.85),
            t("nvme/nvme1", "Composite", 30.85),
        ]
    );
}

#[test]
fn failing_sensors_are_one_error_per_cycle_and_the_rest_still_report() {
    let host = Host::new();
    let mut collector = Collector::with_fs_stats(host.config(), Box::new(fixture_disks(&host.rootfs())));
    let t0 = Instant::now();
    collector.collect(t0);
    host.write_sys("class/hwmon/hwmon1/temp2_input", "garbage\n");
    host.write_sys("class/hwmon/hwmon2/temp6_input", "\n");
    let c = collector.collect(t0 + TEN_SECONDS);
    assert_eq!(temperatures(&c).len(), 7);
    let sensor_errors: Vec<&Error> =
        c.errors.iter().filter(|e| matches!(e, Error::Read { path, .. } if path.starts_with(host.sysfs()))).collect();
    match sensor_errors.as_slice() {
        [Error::Read { path, error }] => {
            assert_eq!(path, &host.sysfs().join("class/hwmon/hwmon1/temp2_input"));
            assert_eq!(error.kind(), io::ErrorKind::InvalidData);
        }
        other => panic!("expected one sensor error, got {other:?}"),
    }
    // Everything else was collected.
    assert_eq!(series(&c, NETWORK_TCP_CONNECTIONS).len(), 11);
    assert_eq!(series(&c, DISK_IO_UTIL).len(), 4);
}

#[test]
fn a_vanished_sensor_is_an_error_once_then_the_chips_are_rediscovered() {
    let host = Host::new();
    let mut collector = Collector::with_fs_stats(host.config(), Box::new(fixture_disks(&host.rootfs())));
    let t0 = Instant::now();
    collector.collect(t0);
    host.remove_sys("class/hwmon/hwmon2/temp10_input");
    let second = collector.collect(t0 + TEN_SECONDS);
    assert_eq!(temperatures(&second).len(), 8);
    assert!(
        second.errors.iter().any(|e| matches!(e, Error::Read { error, .. } if error.kind() == io::ErrorKind::NotFound)),
        "{:?}",
        second.errors
    );
    let third = collector.collect(t0 + 2 * TEN_SECONDS);
    assert_eq!(temperatures(&third).len(), 8);
    assert!(third.errors.iter().all(|e| !matches!(e, Error::Read { .. })), "{:?}", third.errors);
}

#[test]
fn tcp_connections_count_ipv4_and_ipv6_sockets_per_state() {
    let (first, _) = two_cycles(&Host::new());
    // tcp: 3 listening, 3 established, 3 time_wait and one each of
    // close_wait, syn_sent, syn_recv, fin_wait1, fin_wait2, last_ack;
    // tcp6: 2 listening, 1 established, 1 closing.
    check(
        &first,
        NETWORK_TCP_CONNECTIONS,
        &[
            (NETWORK_TCP_CONNECTIONS, "established", 4.0),
            (NETWORK_TCP_CONNECTIONS, "syn_sent", 1.0),
            (NETWORK_TCP_CONNECTIONS, "syn_recv", 1.0),
            (NETWORK_TCP_CONNECTIONS, "fin_wait1", 1.0),
            (NETWORK_TCP_CONNECTIONS, "fin_wait2", 1.0),
            (NETWORK_TCP_CONNECTIONS, "time_wait", 3.0),
            (NETWORK_TCP_CONNECTIONS, "close", 0.0),
            (NETWORK_TCP_CONNECTIONS, "close_wait", 1.0),
            (NETWORK_TCP_CONNECTIONS, "last_ack", 1.0),
            (NETWORK_TCP_CONNECTIONS, "listen", 5.0),
            (NETWORK_TCP_CONNECTIONS, "closing", 1.0),
        ],
    );
}

/// `network.tcp_connections` values with a non-zero count.
fn busy_states(c: &Collection) -> Vec<(String, f64)> {
    series(c, NETWORK_TCP_CONNECTIONS).into_iter().filter(|s| s.2 > 0.0).map(|s| (s.1, s.2)).collect()
}

#[test]
fn tcp_uses_the_own_namespace_when_pid_1_is_unreadable() {
    let host = Host::new();
    host.remove("1/net/tcp");
    let c = Collector::with_fs_stats(host.config(), Box::new(fixture_disks(&host.rootfs()))).collect(Instant::now());
    // The agent's own namespace has no tcp6 file: not the host's tcp6 mixed in.
    assert_eq!(busy_states(&c), [("established".to_owned(), 1.0), ("listen".to_owned(), 1.0)]);
    assert!(c.errors.iter().all(|e| !matches!(e, Error::Read { .. })), "{:?}", c.errors);
}

#[test]
fn without_socket_tables_established_comes_from_snmp() {
    let host = Host::new();
    host.remove("1/net/tcp");
    host.remove("net/tcp");
    let c = Collector::with_fs_stats(host.config(), Box::new(fixture_disks(&host.rootfs()))).collect(Instant::now());
    check(&c, NETWORK_TCP_CONNECTIONS, &[(NETWORK_TCP_CONNECTIONS, "established", 5.0)]);
    let reads: Vec<PathBuf> = c
        .errors
        .iter()
        .filter_map(|e| match e {
            Error::Read { path, .. } => Some(path.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(reads, [host.procfs().join("net/tcp")]);
}

#[test]
fn processes_are_task_counts_and_context_switches_a_rate() {
    let (first, second) = two_cycles(&Host::new());
    let processes =
        [(SYSTEM_PROCESSES, "running", 2.0), (SYSTEM_PROCESSES, "blocked", 0.0), (SYSTEM_PROCESSES, "total", 1234.0)];
    check(&first, "system.", &processes);
    let mut with_rate = processes.to_vec();
    // ctxt went from 88741235 to 88750004 in ten seconds.
    with_rate.push((SYSTEM_CONTEXT_SWITCHES, "", 876.9));
    check(&second, "system.", &with_rate);
}

#[test]
fn a_vm_reports_what_it_has_and_no_errors_for_what_it_lacks() {
    let host = Host::vm();
    let fs = FakeFs::new(
        &host.rootfs(),
        &[
            ("", Ok(FsUsage::from_blocks(2_000_000, 1_500_000, 1_400_000, 4096).with_inodes(1_000_000, 900_000))),
            ("boot/efi", Ok(FsUsage::from_blocks(213_663, 200_000, 200_000, 512))),
        ],
    );
    let (first, second) = two_cycles_with(&host, host.config(), fs);
    for c in [&first, &second] {
        assert!(c.errors.is_empty(), "{:?}", c.errors);
        assert!(temperatures(c).is_empty(), "{:?}", temperatures(c));
    }
    // vda's partitions and the eight loop devices are skipped; the virtual
    // CD drive with the cloud-init seed is a whole device.
    let mut expected = io_of("sr0", [0.0; 5]);
    expected.extend(io_of("vda", [2560.0 * SECTOR / 10.0, 4096.0 * SECTOR / 10.0, 20.0, 40.0, 10.0]));
    assert_eq!(io_by_device(&second), expected);
    // No tcp6: IPv6 is off.
    assert_eq!(busy_states(&second), [("established".to_owned(), 1.0), ("listen".to_owned(), 2.0)]);
    check(
        &second,
        "system.",
        &[
            (SYSTEM_PROCESSES, "running", 3.0),
            (SYSTEM_PROCESSES, "blocked", 0.0),
            (SYSTEM_PROCESSES, "total", 123.0),
            (SYSTEM_CONTEXT_SWITCHES, "", 1200.0),
        ],
    );
    check(
        &second,
        "disk.inodes",
        &[
            (DISK_INODES_TOTAL, "/", 1_000_000.0),
            (DISK_INODES_USED, "/", 100_000.0),
            (DISK_INODES_USED_PERCENT, "/", 10.0),
        ],
    );
    // 900 busy of 2000 jiffies.
    check(&second, CPU_USAGE, &[(CPU_USAGE, "", 45.0)]);
    check(&second, NETWORK_BYTES_RECV, &[(NETWORK_BYTES_RECV, "ens3", 10_000.0)]);
}

/// The metric names one cycle pair emits.
fn names(collection: &Collection) -> BTreeSet<&'static str> {
    collection.metrics.iter().map(|m| m.name).collect()
}

#[test]
fn each_collector_emits_its_own_metrics_and_nothing_when_off() {
    type Switch = fn(&mut Collectors) -> &mut bool;
    let switches: [(Switch, &[&str]); 11] = [
        (|c| &mut c.cpu, &[CPU_USAGE, CPU_CORE_USAGE]),
        (
            |c| &mut c.memory,
            &[
                MEMORY_TOTAL,
                MEMORY_USED,
                MEMORY_AVAILABLE,
                MEMORY_USED_PERCENT,
                MEMORY_SWAP_TOTAL,
                MEMORY_SWAP_USED,
                MEMORY_SWAP_PERCENT,
            ],
        ),
        (|c| &mut c.disk, &[DISK_TOTAL, DISK_USED, DISK_AVAILABLE, DISK_USED_PERCENT]),
        (|c| &mut c.inodes, &[DISK_INODES_TOTAL, DISK_INODES_USED, DISK_INODES_USED_PERCENT]),
        (|c| &mut c.disk_io, &DISK_IO),
        (|c| &mut c.network, &[NETWORK_BYTES_RECV, NETWORK_BYTES_SENT, NETWORK_PACKETS_RECV, NETWORK_PACKETS_SENT]),
        (|c| &mut c.tcp, &[NETWORK_TCP_CONNECTIONS]),
        (|c| &mut c.load, &[LOAD_1, LOAD_5, LOAD_15, LOAD_UPTIME]),
        (|c| &mut c.processes, &[SYSTEM_PROCESSES, SYSTEM_CONTEXT_SWITCHES]),
        (|c| &mut c.sensors, &[SENSORS_TEMPERATURE]),
        (|c| &mut c.containers, CONTAINER_METRICS),
    ];
    let inodes = |host: &Host| {
        let root = FsUsage::from_blocks(105_000_000, 30_000_000, 25_000_000, 4096).with_inodes(100, 50);
        FakeFs::new(&host.rootfs(), &[("", Ok(root))])
    };
    for (switch, metrics) in switches {
        let expected: BTreeSet<&str> = metrics.iter().copied().collect();
        // Only this collector on: exactly its metrics.
        let host = Host::with_containers();
        let mut only = Collectors::NONE;
        *switch(&mut only) = true;
        let (_, second) = two_cycles_with(&host, CollectorConfig { collectors: only, ..host.config() }, inodes(&host));
        assert_eq!(names(&second), expected, "only {metrics:?} on");
        // Everything but this collector on: all metrics except its own.
        let host = Host::with_containers();
        let mut all_but = Collectors::ALL;
        *switch(&mut all_but) = false;
        let (_, second) =
            two_cycles_with(&host, CollectorConfig { collectors: all_but, ..host.config() }, inodes(&host));
        let emitted = names(&second);
        assert!(emitted.is_disjoint(&expected), "{metrics:?} off, got {emitted:?}");
        assert_eq!(emitted.len(), AGENT_METRICS.len() - expected.len(), "{metrics:?} off, got {emitted:?}");
    }
}

#[test]
fn switched_off_collectors_read_nothing() {
    // An empty procfs and sysfs: a collector that read anything would fail.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_owned();
    let config = |collectors| CollectorConfig {
        procfs: root.clone(),
        sysfs: root.join("sys"),
        collectors,
        ..CollectorConfig::default()
    };
    let failed_reads = |collectors| -> Vec<PathBuf> {
        let c = Collector::new(config(collectors)).collect(Instant::now());
        assert!(c.metrics.is_empty(), "{:?}", c.metrics);
        c.errors
            .iter()
            .map(|e| match e {
                Error::Read { path, .. } => path.strip_prefix(&root).unwrap().to_owned(),
                other => panic!("unexpected {other}"),
            })
            .collect()
    };
    assert_eq!(failed_reads(Collectors::NONE), [] as [PathBuf; 0]);
    let processes = Collectors { processes: true, ..Collectors::NONE };
    assert_eq!(failed_reads(processes), [PathBuf::from("stat"), PathBuf::from("loadavg")]);
    // /proc/stat is read once for CPU usage and processes, /proc/loadavg
    // once for load and processes.
    assert_eq!(
        failed_reads(Collectors { cpu: true, load: true, ..processes }),
        [PathBuf::from("stat"), PathBuf::from("loadavg"), PathBuf::from("uptime")]
    );
}

#[test]
fn a_malformed_shared_file_is_one_error() {
    let host = Host::new();
    host.write("loadavg", "garbage\n");
    let c = Collector::with_fs_stats(host.config(), Box::new(fixture_disks(&host.rootfs()))).collect(Instant::now());
    let loadavg: Vec<&Error> =
        c.errors.iter().filter(|e| matches!(e, Error::Malformed { path, .. } if path.ends_with("loadavg"))).collect();
    assert_eq!(loadavg.len(), 1, "{:?}", c.errors);
    // Running and blocked come from /proc/stat, which is fine.
    check(&c, SYSTEM_PROCESSES, &[(SYSTEM_PROCESSES, "running", 2.0), (SYSTEM_PROCESSES, "blocked", 0.0)]);

    // With the load collector off, the processes collector reports it.
    let config = CollectorConfig { collectors: Collectors { load: false, ..Collectors::ALL }, ..host.config() };
    let c = Collector::with_fs_stats(config, Box::new(fixture_disks(&host.rootfs()))).collect(Instant::now());
    let messages = error_messages(&c);
    let expected = format!(
        "malformed {}: expected runnable/total tasks in the fourth field",
        host.procfs().join("loadavg").display()
    );
    assert!(messages.contains(&expected), "{messages:?}");
}

#[test]
fn failing_collectors_are_reported_and_never_stop_the_others() {
    let host = Host::new();
    host.remove("diskstats");
    host.remove("1/net/tcp");
    host.remove("net/tcp");
    host.remove("1/net/snmp");
    host.remove("net/snmp");
    host.write("stat", &host.read("stat").replace("procs_blocked 0\n", ""));
    host.write_sys("class/hwmon/hwmon0/temp1_input", "x\n");
    let c = Collector::with_fs_stats(host.config(), Box::new(fixture_disks(&host.rootfs()))).collect(Instant::now());
    let procfs = host.procfs();
    assert_eq!(
        error_messages(&c),
        [
            format!(
                "cannot stat filesystem mounted at /mnt/stale (via {}): Stale file handle (os error 116)",
                host.rootfs().join("mnt/stale").display()
            ),
            format!("cannot read {}: No such file or directory (os error 2)", procfs.join("diskstats").display()),
            format!("cannot read {}: No such file or directory (os error 2)", procfs.join("net/tcp").display()),
            format!("malformed {}: expected ctxt, procs_running and procs_blocked", procfs.join("stat").display()),
            format!("cannot read {}: invalid data", host.sysfs().join("class/hwmon/hwmon0/temp1_input").display()),
        ]
    );
    assert!(disk_io(&c).is_empty(), "{:?}", disk_io(&c));
    check(&c, NETWORK_TCP_CONNECTIONS, &[]);
    check(&c, "system.", &[]);
    assert_eq!(temperatures(&c).len(), 8);
    assert_eq!(series(&c, "memory.").len(), 7);
    assert_eq!(series(&c, "load.").len(), 4);
    assert_eq!(series(&c, "disk.").len(), 24);
}
