//! The Linux collector: procfs files and `statvfs`, under configurable roots
//! so a containerised agent can report its host.

mod cpu;
mod disk;
mod load;
mod memory;
mod network;

use std::borrow::Cow;
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::{Collection, CollectorConfig, Error, FsStats, Statvfs};

/// Collects host metrics; keeps the previous readings that rates need and
/// the read buffers, so a steady-state cycle allocates little beyond its
/// output.
pub struct Collector {
    config: CollectorConfig,
    cpu: cpu::Cpu,
    memory: memory::Memory,
    disk: disk::Disks,
    network: network::Network,
    load: load::Load,
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
            cpu: cpu::Cpu::new(procfs),
            memory: memory::Memory::new(procfs),
            disk: disk::Disks::new(procfs, &config.rootfs, fs_stats),
            network: network::Network::new(procfs),
            load: load::Load::new(procfs),
            config,
        }
    }

    /// One collection cycle. `now` is a monotonic instant used for
    /// per-second rates; pass the time the cycle runs at.
    pub fn collect(&mut self, now: Instant) -> Collection {
        let mut out = Collection { metrics: Vec::with_capacity(self.capacity_hint()), errors: Vec::new() };
        self.cpu.collect(&mut out);
        self.memory.collect(&mut out);
        self.disk.collect(&mut out);
        self.network.collect(&self.config, now, &mut out);
        self.load.collect(&mut out);
        out
    }

    /// Roughly how many metrics a cycle yields, so the output vector is
    /// allocated once.
    fn capacity_hint(&self) -> usize {
        self.cpu.cores() + 7 + 4 * self.disk.mounts() + 4 * self.network.interfaces() + 4
    }
}

impl fmt::Debug for Collector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Collector").field("config", &self.config).finish_non_exhaustive()
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
fn read_into(path: &Path, buf: &mut Vec<u8>) -> io::Result<()> {
    buf.clear();
    File::open(path)?.read_to_end(buf)?;
    Ok(())
}
