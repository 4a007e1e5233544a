//! The collector on platforms without procfs, backed by `sysinfo`.
//!
//! Same metric names and semantics as on Linux as far as `sysinfo` allows:
//! the first cycle emits no CPU usage or network rates, network rates come
//! from the same counter tracking, and disks go through the same skip rules
//! (except the duplicate-device rule: `sysinfo` names volumes, not devices).

use std::fmt;
use std::time::Instant;

use oxmon_common::metric::{CPU_CORE_USAGE, CPU_USAGE, LABEL_CORE, LOAD_1, LOAD_5, LOAD_15, LOAD_UPTIME, Metric};
use sysinfo::{CpuRefreshKind, DiskRefreshKind, Disks, MemoryRefreshKind, Networks, System};

use crate::disk::SkipReason;
use crate::memory::MemoryUsage;
use crate::network::{InterfaceCounters, NetworkRates};
use crate::{Collection, CollectorConfig, Error, FsStats, FsUsage};

/// Collects host metrics through `sysinfo`, keeping its handles (and the
/// previous readings rates need) across cycles.
pub struct Collector {
    config: CollectorConfig,
    system: System,
    disks: Disks,
    networks: Networks,
    /// `None` uses the capacity `sysinfo` reports.
    fs_stats: Option<Box<dyn FsStats>>,
    /// Whether `system` holds a CPU reading to compute usage against.
    cpu_primed: bool,
    rates: NetworkRates,
}

impl Collector {
    /// A collector that takes filesystem capacity from `sysinfo`.
    pub fn new(config: CollectorConfig) -> Self {
        Self::build(config, None)
    }

    /// A collector that asks `fs_stats` for the capacity of each mount point
    /// `sysinfo` lists.
    pub fn with_fs_stats(config: CollectorConfig, fs_stats: Box<dyn FsStats>) -> Self {
        Self::build(config, Some(fs_stats))
    }

    fn build(config: CollectorConfig, fs_stats: Option<Box<dyn FsStats>>) -> Self {
        Self {
            config,
            system: System::new(),
            disks: Disks::new(),
            networks: Networks::new(),
            fs_stats,
            cpu_primed: false,
            rates: NetworkRates::default(),
        }
    }

    /// One collection cycle. `now` is a monotonic instant used for
    /// per-second rates; pass the time the cycle runs at.
    ///
    /// Collectors switched off in [`CollectorConfig::collectors`] read
    /// nothing. Disk I/O, TCP connections, processes and temperatures are
    /// Linux only: their switches change nothing here.
    pub fn collect(&mut self, now: Instant) -> Collection {
        let on = self.config.collectors;
        let mut out = Collection::default();
        if on.cpu {
            self.collect_cpu(&mut out.metrics);
        }
        if on.memory {
            self.collect_memory(&mut out.metrics);
        }
        if on.disk || on.inodes {
            self.collect_disks(on.disk, on.inodes, &mut out);
        }
        if on.network {
            self.collect_network(now, &mut out.metrics);
        }
        if on.load {
            collect_load(&mut out.metrics);
        }
        out
    }

    fn collect_cpu(&mut self, out: &mut Vec<Metric>) {
        // sysinfo computes usage between two refreshes; the first one only
        // sets the baseline.
        self.system.refresh_cpu_specifics(CpuRefreshKind::nothing().with_cpu_usage());
        if !std::mem::replace(&mut self.cpu_primed, true) {
            return;
        }
        let usage = |v: f32| Some(f64::from(v)).filter(|v| v.is_finite()).map(|v| v.clamp(0.0, 100.0));
        if let Some(total) = usage(self.system.global_cpu_usage()) {
            out.push(Metric::new(CPU_USAGE, total));
        }
        for (core, cpu) in self.system.cpus().iter().enumerate() {
            if let Some(v) = usage(cpu.cpu_usage()) {
                out.push(Metric::labelled(CPU_CORE_USAGE, LABEL_CORE, core.to_string(), v));
            }
        }
    }

    fn collect_memory(&mut self, out: &mut Vec<Metric>) {
        self.system.refresh_memory_specifics(MemoryRefreshKind::nothing().with_ram().with_swap());
        MemoryUsage {
            total: self.system.total_memory(),
            available: self.system.available_memory(),
            swap_total: self.system.total_swap(),
            swap_free: self.system.free_swap(),
        }
        .push_metrics(out);
    }

    /// Capacity metrics if `capacity`, inode metrics if `inodes` (only
    /// with an [`FsStats`]: `sysinfo` reports no inodes).
    fn collect_disks(&mut self, capacity: bool, inodes: bool, out: &mut Collection) {
        self.disks.refresh_specifics(true, DiskRefreshKind::nothing().with_storage());
        for disk in self.disks.list() {
            let mount = disk.mount_point().to_string_lossy();
            let device = disk.name().to_string_lossy();
            let fs_type = disk.file_system().to_string_lossy();
            if SkipReason::of(device.as_bytes(), mount.as_bytes(), fs_type.as_bytes()).is_some() {
                continue;
            }
            let usage = match &self.fs_stats {
                Some(fs_stats) => match fs_stats.stat(disk.mount_point()) {
                    Ok(usage) => usage,
                    Err(error) => {
                        out.errors.push(Error::Statvfs {
                            mount: mount.into_owned(),
                            path: disk.mount_point().to_owned(),
                            error,
                        });
                        continue;
                    }
                },
                // sysinfo has no root-reserved figure: free is what is available.
                None => FsUsage {
                    total: disk.total_space(),
                    free: disk.available_space(),
                    available: disk.available_space(),
                    ..FsUsage::default()
                },
            };
            if usage.total > 0 {
                if capacity {
                    usage.push_metrics(&mount, &mut out.metrics);
                }
                if inodes {
                    usage.push_inode_metrics(&mount, &mut out.metrics);
                }
            }
        }
    }

    fn collect_network(&mut self, now: Instant, out: &mut Vec<Metric>) {
        self.networks.refresh(true);
        self.rates.begin();
        for (name, data) in self.networks.list() {
            if self.config.excludes_interface(name) {
                continue;
            }
            let counters = InterfaceCounters {
                bytes_recv: data.total_received(),
                bytes_sent: data.total_transmitted(),
                packets_recv: data.total_packets_received(),
                packets_sent: data.total_packets_transmitted(),
            };
            self.rates.observe(name, counters, now, out);
        }
        self.rates.finish();
    }
}

fn collect_load(out: &mut Vec<Metric>) {
    // Windows has no load average; sysinfo reports zeros there.
    let load = System::load_average();
    out.extend([
        Metric::new(LOAD_1, load.one),
        Metric::new(LOAD_5, load.five),
        Metric::new(LOAD_15, load.fifteen),
        Metric::new(LOAD_UPTIME, System::uptime() as f64),
    ]);
}

impl fmt::Debug for Collector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Collector").field("config", &self.config).finish_non_exhaustive()
    }
}
