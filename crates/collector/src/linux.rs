//! The Linux collector: procfs files and `statvfs`, under configurable roots
//! so a containerised agent can report its host.

mod containers;
mod cpu;
mod disk;
mod diskio;
mod load;
mod memory;
mod network;
mod processes;
mod sensors;
mod tcp;

use std::borrow::Cow;
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::Instant;

pub use diskio::SKIPPED_DEVICE_PREFIXES;

use crate::{Collection, CollectorConfig, Error, FsStats, Statvfs};

/// Collects host metrics; keeps the previous readings that rates need and
/// the read buffers, so a steady-state cycle allocates little beyond its
/// output.
pub struct Collector {
    config: CollectorConfig,
    /// `/proc/stat` and `/proc/loadavg` each feed two collectors and are
    /// read once per cycle for both.
    stat: ProcFile,
    loadavg: ProcFile,
    cpu: cpu::Cpu,
    memory: memory::Memory,
    disk: disk::Disks,
    disk_io: diskio::DiskIo,
    network: network::Network,
    tcp: tcp::Tcp,
    load: load::Load,
    processes: processes::Processes,
    sensors: sensors::Sensors,
    containers: containers::Containers,
}

impl Collector {
    /// A collector that `statvfs`es mounts for real.
    pub fn new(config: CollectorConfig) -> Self {
        Self::with_fs_stats(config, Box::new(Statvfs))
    }

    /// A collector that asks `fs_stats` for filesystem capacity instead of
    /// calling `statvfs`, so tests can describe arbitrary disks.
    pub fn with_fs_stats(config: CollectorConfig, fs_stats: Box<dyn FsStats>) -> Self {
        let procfs = &config.procfs;
        Self {
            stat: ProcFile::new(procfs.join("stat")),
            loadavg: ProcFile::new(procfs.join("loadavg")),
            cpu: cpu::Cpu::default(),
            memory: memory::Memory::new(procfs),
            disk: disk::Disks::new(procfs, &config.rootfs, fs_stats),
            disk_io: diskio::DiskIo::new(procfs),
            network: network::Network::new(procfs),
            tcp: tcp::Tcp::new(procfs),
            load: load::Load::new(procfs),
            processes: processes::Processes::default(),
            sensors: sensors::Sensors::new(&config.sysfs),
            containers: containers::Containers::new(&config.sysfs, &config.rootfs, config.containers.clone()),
            config,
        }
    }

    /// One collection cycle. `now` is a monotonic instant used for
    /// per-second rates; pass the time the cycle runs at.
    ///
    /// Collectors switched off in [`CollectorConfig::collectors`] read
    /// nothing; each failing file is one entry in [`Collection::errors`].
    pub fn collect(&mut self, now: Instant) -> Collection {
        let on = self.config.collectors;
        let mut out = Collection { metrics: Vec::with_capacity(self.capacity_hint()), errors: Vec::new() };
        let stat = (on.cpu || on.processes) && read_or_report(&mut self.stat, &mut out);
        if on.cpu && stat {
            self.cpu.collect(&self.stat, &mut out);
        }
        if on.memory {
            self.memory.collect(&mut out);
        }
        if on.disk || on.inodes {
            self.disk.collect(on.disk, on.inodes, &mut out);
        }
        if on.disk_io {
            self.disk_io.collect(now, &mut out);
        }
        if on.network {
            self.network.collect(&self.config, now, &mut out);
        }
        if on.tcp {
            self.tcp.collect(&mut out);
        }
        let loadavg = (on.load || on.processes) && read_or_report(&mut self.loadavg, &mut out);
        let mut loadavg_reported = !loadavg;
        if on.load {
            loadavg_reported |= !self.load.collect(loadavg.then_some(&self.loadavg), &mut out);
        }
        if on.processes {
            self.collect_processes(stat, loadavg, loadavg_reported, now, &mut out);
        }
        if on.sensors {
            self.sensors.collect(&mut out);
        }
        if on.containers {
            self.containers.collect(now, &mut out);
        }
        out
    }

    /// Task counts and context switches from the shared `/proc/stat` and
    /// `/proc/loadavg` reads (`stat`, `loadavg`: whether they succeeded).
    /// A malformed `loadavg` already reported by the load collector is not
    /// reported again.
    fn collect_processes(
        &mut self,
        stat: bool,
        loadavg: bool,
        loadavg_reported: bool,
        now: Instant,
        out: &mut Collection,
    ) {
        let tasks = match stat.then(|| processes::parse_stat_tasks(&self.stat.text())) {
            Some(Ok(tasks)) => tasks,
            Some(Err(reason)) => {
                out.errors.push(self.stat.malformed(reason));
                self.processes.reset();
                return;
            }
            None => {
                self.processes.reset();
                return;
            }
        };
        let total = match loadavg.then(|| processes::parse_loadavg_tasks(&self.loadavg.text())) {
            Some(Ok(total)) => Some(total),
            Some(Err(reason)) => {
                if !loadavg_reported {
                    out.errors.push(self.loadavg.malformed(reason));
                }
                None
            }
            None => None,
        };
        self.processes.collect(tasks, total, now, out);
    }

    /// Roughly how many metrics a cycle yields, so the output vector is
    /// allocated once.
    fn capacity_hint(&self) -> usize {
        self.cpu.cores()
            + 7
            + 7 * self.disk.mounts()
            + 5 * self.disk_io.devices()
            + 4 * self.network.interfaces()
            + tcp::STATES.len()
            + 4
            + 4
            + self.sensors.sensors()
            + 5 * self.containers.containers()
    }
}

impl fmt::Debug for Collector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Collector").field("config", &self.config).finish_non_exhaustive()
    }
}

/// Reads `file`, pushing the error if it cannot be read; whether it was.
fn read_or_report(file: &mut ProcFile, out: &mut Collection) -> bool {
    match file.read() {
        Ok(()) => true,
        Err(e) => {
            out.errors.push(e);
            false
        }
    }
}

/// A procfs file, optionally with a second path to use when the first
/// cannot be read, and the buffer it is read into, kept across cycles.
struct ProcFile {
    primary: PathBuf,
    fallback: Option<PathBuf>,
    used_fallback: bool,
    buf: Vec<u8>,
}

impl ProcFile {
    fn new(path: PathBuf) -> Self {
        Self { primary: path, fallback: None, used_fallback: false, buf: Vec::new() }
    }

    fn with_fallback(primary: PathBuf, fallback: PathBuf) -> Self {
        Self { fallback: Some(fallback), ..Self::new(primary) }
    }

    /// Reads the file afresh; on failure names the last path tried.
    fn read(&mut self) -> Result<(), Error> {
        self.used_fallback = false;
        let Err(error) = read_into(&self.primary, &mut self.buf) else { return Ok(()) };
        let Some(fallback) = &self.fallback else {
            return Err(Error::Read { path: self.primary.clone(), error });
        };
        self.used_fallback = true;
        read_into(fallback, &mut self.buf).map_err(|error| Error::Read { path: fallback.clone(), error })
    }

    /// Reads the file and parses its text, naming the file in any error.
    fn parse<T>(&mut self, parse: impl FnOnce(&str) -> Result<T, &'static str>) -> Result<T, Error> {
        self.read()?;
        parse(&self.text()).map_err(|reason| self.malformed(reason))
    }

    /// The path the current contents came from.
    fn path(&self) -> &Path {
        match &self.fallback {
            Some(fallback) if self.used_fallback => fallback,
            _ => &self.primary,
        }
    }

    fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// The contents as text. procfs text is ASCII apart from names (mount
    /// points, interfaces) that may hold any bytes; a lossy conversion keeps
    /// one odd name from failing the whole file and borrows when valid.
    fn text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.buf)
    }

    fn malformed(&self, reason: &'static str) -> Error {
        Error::Malformed { path: self.path().to_owned(), reason }
    }
}

/// Replaces `buf` with the contents of `path`, reusing its capacity.
///
/// `File::read_to_end` asks the file for its size and position first (a
/// `statx` and an `lseek`, useless for procfs and sysfs files, which report
/// size 0): reading through `Take` skips them, leaving `openat`, the reads
/// and `close`, which matters with hundreds of cgroup files per cycle.
fn read_into(path: &Path, buf: &mut Vec<u8>) -> io::Result<()> {
    buf.clear();
    File::open(path)?.take(u64::MAX).read_to_end(buf)?;
    Ok(())
}
