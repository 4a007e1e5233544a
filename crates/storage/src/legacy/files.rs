//! The file side of a takeover: the backup, the staging directory, and
//! moving staged files into place in a way a crash cannot leave half done.
//!
//! The staging directory holds the converted files and, once they are all
//! complete and synced, `MANIFEST.json` naming the files to install and the
//! 0.1 files to remove. Until the manifest exists the live files are
//! untouched (a crash leaves a staging directory the next run discards);
//! after, every step of the swap can be repeated, so the next run (or
//! server start) finishes it.

use std::path::{Path, PathBuf};

use super::source::{self, wal_of};
use super::{BACKUP_DIR, Error, Result};

const MANIFEST: &str = "MANIFEST.json";

/// What the backup directory says about itself.
const BACKUP_README: &str = "These are the files of an oxmon 0.1 data dir, copied before oxmon-server converted them
(its `migrate-0.1` takeover). To go back to oxmon 0.1: stop oxmon-server, remove the data dir's
cert.db and YYYY-MM-DD.db files (with their -wal and -shm files), and move these files back.
";

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.to_owned();
    move |source| Error::Io { action, path, source }
}

/// A directory under the system temp dir, removed on drop.
#[derive(Debug)]
pub(super) struct TempDir(PathBuf);

impl TempDir {
    pub fn new() -> Result<TempDir> {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let path = std::env::temp_dir().join(format!("oxmon-0.1-dry-run-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).map_err(io("create", &path))?;
        Ok(TempDir(path))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        remove_dir(&self.0);
    }
}

pub(super) fn remove_dir(path: &Path) {
    if let Err(error) = std::fs::remove_dir_all(path)
        && error.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(path = %path.display(), %error, "cannot remove a scratch directory");
    }
}

/// Empties (or creates) `dir`.
pub(super) fn reset_dir(dir: &Path) -> Result<()> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io("remove", dir)(e)),
    }
    std::fs::create_dir_all(dir).map_err(io("create", dir))
}

fn sync_file(path: &Path) -> Result<()> {
    std::fs::File::open(path).and_then(|f| f.sync_all()).map_err(io("sync", path))
}

fn sync_dir(path: &Path) -> Result<()> {
    // Directories cannot be opened for syncing everywhere; where they can,
    // this makes renames and new names durable.
    #[cfg(unix)]
    sync_file(path)?;
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// The database file `name` in `dir` with its `-wal` and `-shm` files.
fn with_journal(dir: &Path, name: &str) -> [PathBuf; 3] {
    let db = dir.join(name);
    let mut shm = db.as_os_str().to_owned();
    shm.push("-shm");
    [db.clone(), wal_of(&db), PathBuf::from(shm)]
}

/// Copies `names` (with their `-wal`/`-shm`) and `token.key` from `data_dir`
/// into a new backup directory and returns it. The copy is made under a
/// temporary name and renamed when complete, so a backup directory is
/// always whole; an existing one is never written to.
pub(super) fn backup(data_dir: &Path, names: &[String]) -> Result<PathBuf> {
    let target = (1..)
        .map(|n| data_dir.join(if n == 1 { BACKUP_DIR.to_owned() } else { format!("{BACKUP_DIR}-{n}") }))
        .find(|p| !p.exists())
        .unwrap_or_else(|| data_dir.join(BACKUP_DIR));
    let mut partial = target.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    reset_dir(&partial)?;
    let key = super::token::KEY_FILE.to_owned();
    for name in names.iter().chain(std::iter::once(&key)) {
        for (from, to) in with_journal(data_dir, name).into_iter().zip(with_journal(&partial, name)) {
            if !from.exists() {
                continue;
            }
            std::fs::copy(&from, &to).map_err(io("back up", &from))?;
            sync_file(&to)?;
        }
    }
    let readme = partial.join("README.txt");
    std::fs::write(&readme, BACKUP_README).map_err(io("write", &readme))?;
    sync_dir(&partial)?;
    std::fs::rename(&partial, &target).map_err(io("rename", &partial))?;
    sync_dir(data_dir)?;
    Ok(target)
}

#[derive(Debug)]
struct Manifest {
    install: Vec<String>,
    remove: Vec<String>,
    summary: String,
}

impl Manifest {
    fn parse(text: &str) -> Option<Manifest> {
        let v: serde_json::Value = serde_json::from_str(text).ok()?;
        let names = |key: &str| -> Option<Vec<String>> {
            v.get(key)?.as_array()?.iter().map(|n| n.as_str().map(str::to_owned)).collect()
        };
        Some(Manifest {
            install: names("install")?,
            remove: names("remove")?,
            summary: v.get("summary")?.as_str()?.to_owned(),
        })
    }
}

/// Folds a staged database's WAL into the file, so that one file per
/// database is moved.
fn fold_wal(path: &Path) -> Result<()> {
    let conn = rusqlite::Connection::open(path).map_err(|source| Error::Write { path: path.to_owned(), source })?;
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode = WAL;")
        .map_err(|source| Error::Write { path: path.to_owned(), source })?;
    drop(conn);
    let mut shm = path.as_os_str().to_owned();
    shm.push("-shm");
    for p in [wal_of(path), PathBuf::from(shm)] {
        match std::fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io("remove", &p)(e)),
        }
    }
    Ok(())
}

/// Marks the staged files complete.
pub(super) fn write_manifest(staging: &Path, install: &[String], remove: &[String], summary: &str) -> Result<()> {
    for name in install {
        let path = staging.join(name);
        if path.exists() {
            fold_wal(&path)?;
            sync_file(&path)?;
        }
    }
    let text = serde_json::to_string_pretty(&serde_json::json!({
        "install": install,
        "remove": remove,
        "summary": summary,
    }))
    .unwrap_or_default();
    let tmp = staging.join(format!("{MANIFEST}.tmp"));
    std::fs::write(&tmp, text).map_err(io("write", &tmp))?;
    sync_file(&tmp)?;
    std::fs::rename(&tmp, staging.join(MANIFEST)).map_err(io("rename", &tmp))?;
    sync_dir(staging)
}

/// Whether `staging` holds a complete takeover not yet moved into place.
pub(super) fn swap_pending(staging: &Path) -> bool {
    staging.join(MANIFEST).is_file()
}

/// Moves the staged files into place and removes the replaced 0.1 files,
/// then the staging directory. Every step can be repeated after a crash.
/// Returns the summary the takeover recorded.
pub(super) fn finish_swap(data_dir: &Path, staging: &Path) -> Result<String> {
    let path = staging.join(MANIFEST);
    let text = std::fs::read_to_string(&path).map_err(io("read", &path))?;
    let manifest = Manifest::parse(&text)
        .ok_or_else(|| Error::Schema { path: path.clone(), message: "not a takeover manifest".into() })?;
    for name in &manifest.remove {
        let live = data_dir.join(name);
        // Only 0.1 files are removed: after a crash the name may already
        // hold something else.
        let legacy = name == crate::MANAGEMENT_DB || source::legacy_day_file(&live).ok().flatten().is_some();
        if live.exists() && legacy {
            remove_db(data_dir, name)?;
        }
    }
    for name in &manifest.install {
        let staged = staging.join(name);
        if !staged.exists() {
            continue; // moved before a crash
        }
        // The staged file has no WAL (folded before the manifest was
        // written), so moving it alone moves everything.
        remove_db(data_dir, name)?;
        std::fs::rename(&staged, data_dir.join(name)).map_err(io("move", &staged))?;
    }
    sync_dir(data_dir)?;
    std::fs::remove_dir_all(staging).map_err(io("remove", staging))?;
    sync_dir(data_dir)?;
    Ok(manifest.summary)
}

fn remove_db(dir: &Path, name: &str) -> Result<()> {
    for path in with_journal(dir, name) {
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io("remove", &path)(e)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    use super::*;
    use crate::legacy::{Options, STAGING_DIR, detect, run};

    fn db(path: &Path, ddl: &str) {
        Connection::open(path).unwrap().execute_batch(ddl).unwrap();
    }

    const LEGACY: &str = "CREATE TABLE metrics (id TEXT PRIMARY KEY, timestamp INTEGER);";
    const OURS: &str = "CREATE TABLE series (id INTEGER PRIMARY KEY);";

    #[test]
    fn an_interrupted_swap_is_finished_by_the_next_run_and_removes_only_0_1_files() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let staging = dir.join(STAGING_DIR);
        std::fs::create_dir_all(&staging).unwrap();
        db(&dir.join("2026-02-08.db"), LEGACY);
        db(&dir.join("2026-02-09.db"), LEGACY);
        // Ours already: named in `remove`, but not a 0.1 file, so it stays.
        db(&dir.join("2026-02-10.db"), OURS);
        db(&staging.join("2026-02-09.db"), OURS);
        // cert.db was moved into place just before the crash.
        db(&dir.join("cert.db"), "CREATE TABLE moved (x);");
        let install = ["2026-02-09.db".to_owned(), "cert.db".to_owned()];
        let remove = ["2026-02-08.db".to_owned(), "2026-02-10.db".to_owned()];
        write_manifest(&staging, &install, &remove, "took over\nmigrated: 7").unwrap();

        let detection = detect(dir).unwrap();
        assert!(detection.interrupted && detection.found());
        let summary = run(dir, Options { retention_days: 7, now_ms: 0 }).unwrap();
        assert_eq!(summary.notes[1..], ["took over".to_owned(), "migrated: 7".to_owned()]);
        assert!(!dir.join("2026-02-08.db").exists());
        assert!(dir.join("2026-02-10.db").exists());
        assert_eq!(source::legacy_day_file(&dir.join("2026-02-09.db")).unwrap(), None, "replaced by ours");
        let moved = Connection::open(dir.join("cert.db")).unwrap();
        assert!(source::has_table(&moved, "main", "moved").unwrap(), "left as it was");
        assert!(!staging.exists());
        assert!(!detect(dir).unwrap().found());
    }

    #[test]
    fn a_backup_is_never_overwritten() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        std::fs::write(dir.join("cert.db"), b"first").unwrap();
        std::fs::write(dir.join("cert.db-wal"), b"wal").unwrap();
        let first = backup(dir, &["cert.db".to_owned()]).unwrap();
        assert_eq!(first, dir.join(BACKUP_DIR));
        std::fs::write(dir.join("cert.db"), b"second").unwrap();
        let second = backup(dir, &["cert.db".to_owned(), "2026-01-01.db".to_owned()]).unwrap();
        assert_eq!(second, dir.join(format!("{BACKUP_DIR}-2")));
        assert_eq!(std::fs::read(first.join("cert.db")).unwrap(), b"first");
        assert_eq!(std::fs::read(first.join("cert.db-wal")).unwrap(), b"wal");
        assert_eq!(std::fs::read(second.join("cert.db")).unwrap(), b"second");
        assert!(!second.join("2026-01-01.db").exists(), "missing files are skipped");
        assert!(first.join("README.txt").exists());
    }
}
