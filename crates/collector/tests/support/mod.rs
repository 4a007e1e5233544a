//! Fixture hosts for the Linux collector tests: procfs and sysfs trees
//! copied into a temp dir, a recording `statvfs`, and metric comparisons.

// Each test binary uses a different part of this harness, and clippy only
// exempts #[test] functions from `unwrap_used`.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::HashMap;
use std::fs;
use std::io;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use oxmon_collector::{Collection, Collector, CollectorConfig, ContainerConfig, FsStats, FsUsage};
use tempfile::TempDir;

pub const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
pub const TEN_SECONDS: Duration = Duration::from_secs(10);

/// A fake host: a copy of a fixture's `proc` (and `sys`, if it has one)
/// plus an (empty) rootfs path.
pub struct Host {
    dir: TempDir,
    fixture: PathBuf,
}

impl Host {
    /// The bare-metal host of `fixtures/`: NVMe and SATA disks, hwmon
    /// sensors, IPv4 and IPv6 sockets.
    pub fn new() -> Self {
        Self::from_fixture(Path::new(FIXTURES))
    }

    /// The VM of `fixtures/vm/`: a virtio disk, no `sys` (so no hwmon), no
    /// `tcp6` (IPv6 off).
    pub fn vm() -> Self {
        Self::from_fixture(&Path::new(FIXTURES).join("vm"))
    }

    /// The bare-metal host running the containers of the Kubernetes node
    /// fixture (`fixtures/k8s/`), linked rather than copied (it is large
    /// and read only), so that every collector has something to report.
    pub fn with_containers() -> Self {
        let host = Self::new();
        let k8s = Path::new(FIXTURES).join("k8s");
        symlink(k8s.join("sys/fs"), host.sysfs().join("fs")).unwrap();
        fs::create_dir_all(host.rootfs()).unwrap();
        symlink(k8s.join("root/var"), host.rootfs().join("var")).unwrap();
        host
    }

    fn from_fixture(fixture: &Path) -> Self {
        let host = Self { dir: tempfile::tempdir().unwrap(), fixture: fixture.to_owned() };
        copy_tree(&fixture.join("proc"), &host.procfs());
        if fixture.join("sys").exists() {
            copy_tree(&fixture.join("sys"), &host.sysfs());
        }
        host
    }

    pub fn procfs(&self) -> PathBuf {
        self.dir.path().join("proc")
    }

    pub fn sysfs(&self) -> PathBuf {
        self.dir.path().join("sys")
    }

    pub fn rootfs(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    pub fn config(&self) -> CollectorConfig {
        CollectorConfig {
            procfs: self.procfs(),
            sysfs: self.sysfs(),
            rootfs: self.rootfs(),
            containers: ContainerConfig { log_path: self.rootfs().join("var/log"), ..ContainerConfig::default() },
            ..CollectorConfig::default()
        }
    }

    /// The files that changed ten seconds after the first snapshot.
    pub fn advance(&self) {
        copy_tree(&self.fixture.join("proc-10s-later"), &self.procfs());
    }

    pub fn write(&self, file: &str, contents: &str) {
        fs::write(self.procfs().join(file), contents).unwrap();
    }

    pub fn read(&self, file: &str) -> String {
        fs::read_to_string(self.procfs().join(file)).unwrap()
    }

    pub fn remove(&self, file: &str) {
        fs::remove_file(self.procfs().join(file)).unwrap();
    }

    /// Writes `contents` to `file` below sysfs, creating its directory.
    pub fn write_sys(&self, file: &str, contents: &str) {
        let path = self.sysfs().join(file);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, contents).unwrap();
    }

    pub fn remove_sys(&self, file: &str) {
        fs::remove_file(self.sysfs().join(file)).unwrap();
    }
}

/// Copies a fixture tree, recreating its symlinks (sysfs `device` links).
pub fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        let file_type = entry.file_type().unwrap();
        if file_type.is_symlink() {
            symlink(fs::read_link(entry.path()).unwrap(), target).unwrap();
        } else if file_type.is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// `statvfs` answers keyed by the path below rootfs; records every call.
#[derive(Clone, Default)]
pub struct FakeFs {
    answers: Arc<HashMap<PathBuf, Result<FsUsage, i32>>>,
    calls: Arc<Mutex<Vec<PathBuf>>>,
}

impl FakeFs {
    pub fn new(rootfs: &Path, answers: &[(&str, Result<FsUsage, i32>)]) -> Self {
        let answers = answers.iter().map(|(mount, answer)| (rootfs.join(mount), *answer)).collect();
        Self { answers: Arc::new(answers), calls: Arc::default() }
    }

    pub fn calls(&self) -> Vec<PathBuf> {
        self.calls.lock().unwrap().clone()
    }
}

impl FsStats for FakeFs {
    fn stat(&self, path: &Path) -> io::Result<FsUsage> {
        self.calls.lock().unwrap().push(path.to_owned());
        match self.answers.get(path) {
            Some(Ok(usage)) => Ok(*usage),
            Some(Err(errno)) => Err(io::Error::from_raw_os_error(*errno)),
            None => Err(io::Error::from(io::ErrorKind::NotFound)),
        }
    }
}

pub const ESTALE: i32 = 116;

/// Answers for every mount of `fixtures/proc/1/mounts` that is not skipped
/// by its fields alone.
pub fn fixture_disks(rootfs: &Path) -> FakeFs {
    FakeFs::new(
        rootfs,
        &[
            // 75 of 100 usable blocks used; 5 more reserved for root.
            ("", Ok(FsUsage::from_blocks(105_000_000, 30_000_000, 25_000_000, 4096))),
            ("boot/efi", Ok(FsUsage::from_blocks(262_144, 196_608, 196_608, 512))),
            ("srv/data", Ok(FsUsage::from_blocks(2_000_000, 1_000_000, 900_000, 4096))),
            ("mnt/backup drive", Ok(FsUsage::from_blocks(1000, 1000, 950, 4096))),
            ("var/lib/docker", Ok(FsUsage::from_blocks(4_000_000, 1_000_000, 1_000_000, 4096))),
            ("home", Ok(FsUsage::from_blocks(1000, 500, 500, 1 << 20))),
            ("mnt/stale", Err(ESTALE)),
            ("mnt/empty\tcard\\raw", Ok(FsUsage::from_blocks(0, 0, 0, 512))),
        ],
    )
}

/// `(name, label value or "", value)` of the metrics whose name starts with
/// `prefix`, in emission order.
pub fn series(c: &Collection, prefix: &str) -> Vec<(String, String, f64)> {
    c.metrics
        .iter()
        .filter(|m| m.name.starts_with(prefix))
        .map(|m| {
            let label = m.labels.iter().next().map_or(String::new(), |(_, v)| v.to_owned());
            (m.name.to_owned(), label, m.value)
        })
        .collect()
}

#[track_caller]
pub fn check(c: &Collection, prefix: &str, expected: &[(&str, &str, f64)]) {
    let expected: Vec<(String, String, f64)> =
        expected.iter().map(|(n, l, v)| ((*n).to_owned(), (*l).to_owned(), *v)).collect();
    assert_eq!(series(c, prefix), expected, "metrics starting with {prefix:?}");
}

/// Two cycles ten seconds apart over the fixture host.
pub fn two_cycles(host: &Host) -> (Collection, Collection) {
    two_cycles_with(host, host.config(), fixture_disks(&host.rootfs()))
}

/// Two cycles ten seconds apart with `config` and `fs`.
pub fn two_cycles_with(host: &Host, config: CollectorConfig, fs: FakeFs) -> (Collection, Collection) {
    let mut collector = Collector::with_fs_stats(config, Box::new(fs));
    let t0 = Instant::now();
    let first = collector.collect(t0);
    host.advance();
    let second = collector.collect(t0 + TEN_SECONDS);
    (first, second)
}
