//! Smoke test: the real collector against this machine.

#![allow(clippy::unwrap_used)] // tests fail loudly

use std::collections::BTreeSet;
use std::thread;
use std::time::{Duration, Instant};

use oxmon_collector::{Collector, CollectorConfig, Error};
use oxmon_common::metric::*;

#[test]
fn this_host_reports_every_metric_with_sane_values() {
    let mut collector = Collector::new(CollectorConfig::default());
    let first = collector.collect(Instant::now());
    assert!(!first.metrics.iter().any(|m| m.name.starts_with("cpu.")), "no usage without a previous reading");

    // Long enough for a few clock ticks on every CPU.
    thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    let second = collector.collect(started);
    let took = started.elapsed();
    eprintln!("collect took {took:?}: {} metrics, errors {:?}", second.metrics.len(), second.errors);

    // Mounts may legitimately fail to stat (e.g. a stale NFS mount); procfs
    // files may not.
    assert!(second.errors.iter().all(|e| matches!(e, Error::Statvfs { .. })), "{:?}", second.errors);

    let names: BTreeSet<&str> = second.metrics.iter().map(|m| m.name).collect();
    // Hardware this host may not have: temperatures need hwmon sensors (a
    // VM has none); disk I/O needs a whole disk in diskstats; inodes a
    // filesystem with an inode table; the Linux-only collectors have no
    // sysinfo counterpart.
    // Containers need a container runtime on the host.
    let mut optional = vec![SENSORS_TEMPERATURE];
    optional.extend(CONTAINER_METRICS);
    if !cfg!(target_os = "linux") {
        optional.extend([
            DISK_INODES_TOTAL,
            DISK_INODES_USED,
            DISK_INODES_USED_PERCENT,
            DISK_READ_BYTES,
            DISK_WRITE_BYTES,
            DISK_READ_OPS,
            DISK_WRITE_OPS,
            DISK_IO_UTIL,
            NETWORK_TCP_CONNECTIONS,
            SYSTEM_PROCESSES,
            SYSTEM_CONTEXT_SWITCHES,
        ]);
    }
    let missing: Vec<&&str> = AGENT_METRICS.iter().filter(|n| !names.contains(**n) && !optional.contains(n)).collect();
    assert!(missing.is_empty(), "missing metrics {missing:?}");
    assert!(names.iter().all(|n| AGENT_METRICS.contains(n)), "unexpected names in {names:?}");

    let percentages = [
        CPU_USAGE,
        CPU_CORE_USAGE,
        MEMORY_USED_PERCENT,
        MEMORY_SWAP_PERCENT,
        DISK_USED_PERCENT,
        DISK_INODES_USED_PERCENT,
        DISK_IO_UTIL,
    ];
    for m in &second.metrics {
        // Temperatures below 0 °C are real (outdoor and cold-aisle sensors).
        let floor = if m.name == SENSORS_TEMPERATURE { -273.15 } else { 0.0 };
        assert!(m.value.is_finite() && m.value >= floor, "{m:?}");
        if percentages.contains(&m.name) {
            assert!((0.0..=100.0).contains(&m.value), "{m:?}");
        }
    }

    let value = |name| second.metrics.iter().find(|m| m.name == name).map(|m| m.value);
    let (total, used, available) = (value(MEMORY_TOTAL), value(MEMORY_USED), value(MEMORY_AVAILABLE));
    assert!(total > Some(0.0));
    assert_eq!(used.zip(available).map(|(u, a)| u + a), total);
    assert!(value(LOAD_UPTIME) > Some(0.0));

    // At least one core; not available_parallelism(), which a cgroup quota
    // or CPU affinity can make smaller than the host's CPU count.
    assert!(second.metrics.iter().any(|m| m.name == CPU_CORE_USAGE));
}
