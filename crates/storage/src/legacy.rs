//! Taking over an oxmon 0.1 data dir.
//!
//! oxmon 0.1 kept its management tables in `cert.db` with other columns
//! (`created_at` where we keep `created_at_ms`, sealed agent tokens, `sms_*`
//! channel types) and its samples in day files `YYYY-MM-DD.db` with one
//! ~217-byte row per sample in a `metrics` table, filed under the day of the
//! batch. Both names are ours too, so the server cannot open such a dir; this
//! module converts it in place:
//!
//! 1. [`detect`] looks at the files without changing them (0.1 column
//!    signatures in `cert.db`, a `metrics` *table* with a `timestamp` column
//!    in day files);
//! 2. the new `cert.db` and day partitions are built beside them in
//!    `.oxmon-0.1-takeover/`, reading the 0.1 files read-only: management rows
//!    by SQL, agent tokens opened with `token.key` and stored as SHA-256,
//!    samples through the partition writer into the partition of their own
//!    timestamp (`system.load_*` renamed `load.*`), 0.1's alert events into
//!    `cert.db`; a partition of ours on a day that receives 0.1 samples is
//!    rebuilt with its own rows too;
//! 3. every live file that will be replaced or removed is copied into
//!    `oxmon-0.1-backup/` (a new numbered directory if that one exists; a
//!    backup is never overwritten);
//! 4. a manifest marks the staged files complete, then they replace the 0.1
//!    files (a crash from here on is finished by the next run; a crash before
//!    leaves the live files untouched).
//!
//! After that nothing 0.1-shaped is left, so a second run finds nothing to do.
//! A dry run reads everything as step 2 does, builds only the new `cert.db`
//! (in a temporary directory, to count exactly what would be carried over)
//! and changes nothing in the data dir.

mod cert_db;
mod files;
mod metrics;
mod source;
mod token;

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::day::Day;

pub use token::is_bcrypt;

/// Directory (inside the data dir) that receives the copies of the 0.1
/// files; `oxmon-0.1-backup-2`, `-3`, ... when it already exists.
pub const BACKUP_DIR: &str = "oxmon-0.1-backup";

/// Directory (inside the data dir) where the converted files are built.
pub const STAGING_DIR: &str = ".oxmon-0.1-takeover";

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot {action} {}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read oxmon 0.1 database {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("cannot write {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("oxmon 0.1 database {}: {message}", path.display())]
    Schema { path: PathBuf, message: String },
    #[error(transparent)]
    Storage(#[from] crate::Error),
}

/// What the takeover needs to know besides the data dir.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// The server's `retention_days`: older samples would be deleted at once,
    /// so they are reported instead of converted.
    pub retention_days: u32,
    /// Now, in ms since the epoch.
    pub now_ms: i64,
}

/// What `cert.db` is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertDb {
    Absent,
    /// Written by oxmon 0.1 (possibly with empty tables a failed start of
    /// this version added).
    Legacy,
    /// Ours.
    Current,
}

/// A day file holding oxmon 0.1 rows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LegacyDayFile {
    pub day: Day,
    pub path: PathBuf,
    /// Also holds our tables: this version was started on it after `cert.db`
    /// was deleted, and wrote samples beside the 0.1 rows.
    pub hybrid: bool,
}

/// The state of a data dir, seen without changing it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Detection {
    pub cert_db: CertDb,
    pub day_files: Vec<LegacyDayFile>,
    /// A takeover was interrupted after its files were complete; the next
    /// run finishes it.
    pub interrupted: bool,
}

impl Detection {
    /// Whether there is anything to take over.
    pub fn found(&self) -> bool {
        self.cert_db == CertDb::Legacy || !self.day_files.is_empty() || self.interrupted
    }
}

/// Looks for oxmon 0.1 files in `data_dir` without changing anything.
pub fn detect(data_dir: &Path) -> Result<Detection> {
    let cert = data_dir.join(crate::MANAGEMENT_DB);
    let cert_db = if !cert.exists() {
        CertDb::Absent
    } else if source::is_legacy_cert_db(&cert)? {
        CertDb::Legacy
    } else {
        CertDb::Current
    };
    let mut day_files = Vec::new();
    for info in crate::reader::list_partitions(data_dir)? {
        if let Some(hybrid) = source::legacy_day_file(&info.path)? {
            day_files.push(LegacyDayFile { day: info.day, path: info.path, hybrid });
        }
    }
    let interrupted = files::swap_pending(&data_dir.join(STAGING_DIR));
    Ok(Detection { cert_db, day_files, interrupted })
}

/// Rows that are not carried over, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejected {
    /// e.g. `metric samples in 2026-02-09.db`, `channel "ops pager"`.
    pub what: String,
    pub count: u64,
    pub reason: String,
}

/// What a takeover did (or, for a dry run, would do).
#[derive(Clone, Debug, Default)]
pub struct Summary {
    pub dry_run: bool,
    pub data_dir: PathBuf,
    /// Whether there was anything to take over.
    pub found: bool,
    /// Where the 0.1 files were copied (real runs).
    pub backup: Option<PathBuf>,
    /// Rows carried over per kind, in report order.
    pub migrated: Vec<(&'static str, u64)>,
    /// Days whose partition files were written.
    pub partitions: BTreeSet<Day>,
    pub rejected: Vec<Rejected>,
    /// Things the operator should know (kept-but-changed rows).
    pub notes: Vec<String>,
}

impl Summary {
    fn new(data_dir: &Path, dry_run: bool) -> Self {
        Summary { dry_run, data_dir: data_dir.to_owned(), ..Summary::default() }
    }

    /// Rows of `kind` carried over (0 when none).
    pub fn count(&self, kind: &str) -> u64 {
        self.migrated.iter().filter(|(k, _)| *k == kind).map(|(_, n)| n).sum()
    }

    /// Rows of all kinds not carried over.
    pub fn rejected_count(&self) -> u64 {
        self.rejected.iter().map(|r| r.count).sum()
    }

    fn add(&mut self, kind: &'static str, n: u64) {
        match self.migrated.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, total)) => *total += n,
            None => self.migrated.push((kind, n)),
        }
    }

    fn reject(&mut self, what: impl Into<String>, count: u64, reason: impl Into<String>) {
        if count > 0 {
            self.rejected.push(Rejected { what: what.into(), count, reason: reason.into() });
        }
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dir = self.data_dir.display();
        if !self.found {
            return writeln!(f, "no oxmon 0.1 data in {dir}: nothing to migrate");
        }
        if self.dry_run {
            writeln!(f, "dry run: oxmon 0.1 data in {dir} (nothing was changed)")?;
            writeln!(f, "would migrate:")?;
        } else {
            writeln!(f, "took over the oxmon 0.1 data in {dir}")?;
            if let Some(backup) = &self.backup {
                writeln!(f, "backup of the 0.1 files: {}", backup.display())?;
            }
            writeln!(f, "migrated:")?;
        }
        for (kind, n) in &self.migrated {
            writeln!(f, "  {kind:<28} {n:>10}")?;
        }
        if !self.partitions.is_empty() {
            let days: Vec<String> = self.partitions.iter().map(Day::to_string).collect();
            writeln!(f, "  {:<28} {:>10} ({})", "day partitions", days.len(), days.join(", "))?;
        }
        if self.rejected.is_empty() {
            writeln!(f, "cannot be migrated: nothing")?;
        } else {
            writeln!(f, "cannot be migrated:")?;
            for r in &self.rejected {
                writeln!(f, "  {} {}: {}", r.count, r.what, r.reason)?;
            }
        }
        if !self.notes.is_empty() {
            writeln!(f, "notes:")?;
            for n in &self.notes {
                writeln!(f, "  {n}")?;
            }
        }
        Ok(())
    }
}

/// Reports what a takeover of `data_dir` would do; changes nothing there.
pub fn dry_run(data_dir: &Path, options: Options) -> Result<Summary> {
    let data_dir = absolute(data_dir)?;
    let detection = detect(&data_dir)?;
    let mut summary = Summary::new(&data_dir, true);
    summary.found = detection.found();
    if !summary.found {
        return Ok(summary);
    }
    if detection.interrupted {
        summary.notes.push(format!(
            "an interrupted takeover is ready in {}; a real run moves its files into place",
            data_dir.join(STAGING_DIR).display()
        ));
        return Ok(summary);
    }
    let scratch = files::TempDir::new()?;
    convert(&data_dir, &detection, options, scratch.path(), &mut summary)?;
    Ok(summary)
}

/// Takes over `data_dir`: backs up the 0.1 files, converts them and puts
/// the converted files in their place. Does nothing (and says so) when
/// there is nothing 0.1-shaped in it, so running it twice is safe.
pub fn run(data_dir: &Path, options: Options) -> Result<Summary> {
    let data_dir = absolute(data_dir)?;
    let staging = data_dir.join(STAGING_DIR);
    let detection = detect(&data_dir)?;
    let mut summary = Summary::new(&data_dir, false);
    summary.found = detection.found();
    if !summary.found {
        return Ok(summary);
    }
    if detection.interrupted {
        let previous = files::finish_swap(&data_dir, &staging)?;
        summary.notes.push("finished moving the files of an interrupted takeover into place".into());
        summary.notes.extend(previous.lines().map(str::to_owned));
        return Ok(summary);
    }
    files::reset_dir(&staging)?;
    let written = convert(&data_dir, &detection, options, &staging, &mut summary)?;
    let cert_changes = detection.cert_db == CertDb::Legacy || !detection.day_files.is_empty();
    let mut install: Vec<String> = written.iter().map(|d| d.file_name()).collect();
    if cert_changes {
        install.push(crate::MANAGEMENT_DB.to_owned());
    }
    // Every live file that is replaced or removed is backed up first.
    let mut changed: BTreeSet<String> = detection.day_files.iter().map(|f| f.day.file_name()).collect();
    changed.extend(install.iter().filter(|n| data_dir.join(n).exists()).cloned());
    let changed: Vec<String> = changed.into_iter().collect();
    summary.backup = Some(files::backup(&data_dir, &changed)?);
    let remove: Vec<String> = changed.iter().filter(|n| !install.contains(n)).cloned().collect();
    files::write_manifest(&staging, &install, &remove, &summary.to_string())?;
    files::finish_swap(&data_dir, &staging)?;
    tracing::info!(data_dir = %data_dir.display(), "oxmon 0.1 data dir taken over");
    Ok(summary)
}

/// Builds the converted files in `out` (a scratch dir for a dry run, the
/// staging dir for a real one). Returns the days of the partitions written.
fn convert(
    data_dir: &Path,
    detection: &Detection,
    options: Options,
    out: &Path,
    summary: &mut Summary,
) -> Result<BTreeSet<Day>> {
    let sources_dir = out.join(".sources");
    std::fs::create_dir_all(&sources_dir).map_err(|source| Error::Io {
        action: "create",
        path: sources_dir.clone(),
        source,
    })?;
    let key = token::load_key(data_dir, summary);
    let converted = metrics::convert(data_dir, detection, options, out, &sources_dir, summary)?;
    let cert_changes = detection.cert_db == CertDb::Legacy || !detection.day_files.is_empty();
    if cert_changes {
        cert_db::build(data_dir, detection, key.as_ref(), out, &sources_dir, &converted.agents, summary)?;
    }
    files::remove_dir(&sources_dir);
    summary.partitions = converted.written.clone();
    Ok(converted.written)
}

fn absolute(path: &Path) -> Result<PathBuf> {
    std::path::absolute(path).map_err(|source| Error::Io { action: "resolve", path: path.to_owned(), source })
}
