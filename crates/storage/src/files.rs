//! Owner-only files: the data directory holds password and token hashes,
//! channel secrets and the JWT key, so it is created `0700` and every
//! database in it `0600`, whatever the process umask. SQLite creates a
//! database's `-wal` and `-shm` files with the database file's mode, so
//! creating the database file first is enough for those. Existing looser
//! modes (an older release, a copy made by hand) are tightened with a
//! warning; where that is not allowed (a volume root the server does not
//! own) the warning says so and the server goes on.

use std::fs::{self, DirBuilder, OpenOptions};
use std::io;
#[cfg(unix)]
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Mode of the data directory.
pub const DIR_MODE: u32 = 0o700;
/// Mode of every file in it.
pub const FILE_MODE: u32 = 0o600;

/// Creates `dir` (and missing parents) owner-only, or tightens it.
pub fn private_dir(dir: &Path) -> io::Result<()> {
    if !dir.exists() {
        let mut builder = DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        builder.mode(DIR_MODE);
        builder.create(dir)?;
    }
    tighten(dir, DIR_MODE);
    Ok(())
}

/// Creates the empty file `path` owner-only if it does not exist (before
/// SQLite opens it), or tightens it.
pub fn private_file(path: &Path) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    options.mode(FILE_MODE);
    options.open(path)?;
    tighten(path, FILE_MODE);
    Ok(())
}

/// Tightens the data directory and every regular file directly in it;
/// returns how many modes were changed.
pub fn tighten_data_dir(dir: &Path) -> usize {
    let mut changed = usize::from(tighten(dir, DIR_MODE));
    let Ok(entries) = fs::read_dir(dir) else { return changed };
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_file()) {
            changed += usize::from(tighten(&entry.path(), FILE_MODE));
        }
    }
    changed
}

/// Removes group and other permissions from `path`, warning when it had
/// any; true when the mode was changed.
#[cfg(unix)]
fn tighten(path: &Path, wanted: u32) -> bool {
    let Ok(meta) = fs::metadata(path) else { return false };
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 == 0 {
        return false;
    }
    let new = mode & !0o077 & 0o7777 | (wanted & 0o700);
    match fs::set_permissions(path, fs::Permissions::from_mode(new)) {
        Ok(()) => {
            tracing::warn!(
                path = %path.display(),
                from = format_args!("{mode:04o}"),
                to = format_args!("{new:04o}"),
                "tightened the permissions of a data file: it may hold secrets and is owner-only"
            );
            true
        }
        Err(error) => {
            tracing::warn!(
                path = %path.display(),
                mode = format_args!("{mode:04o}"),
                %error,
                "cannot make a data path owner-only; restrict its permissions by hand"
            );
            false
        }
    }
}

#[cfg(not(unix))]
fn tighten(_path: &Path, _wanted: u32) -> bool {
    false
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).map(|m| m.permissions().mode() & 0o7777).unwrap_or_default()
    }

    #[test]
    fn new_dirs_and_files_are_owner_only_and_loose_ones_are_tightened() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/data");
        private_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        let db = dir.join("cert.db");
        private_file(&db).unwrap();
        assert_eq!(mode(&db), 0o600);

        fs::write(dir.join("2026-01-01.db"), b"").unwrap();
        fs::set_permissions(dir.join("2026-01-01.db"), fs::Permissions::from_mode(0o644)).unwrap();
        fs::set_permissions(&db, fs::Permissions::from_mode(0o664)).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(tighten_data_dir(&dir), 3);
        assert_eq!((mode(&dir), mode(&db), mode(&dir.join("2026-01-01.db"))), (0o700, 0o600, 0o600));
        assert_eq!(tighten_data_dir(&dir), 0, "nothing left to change");

        private_file(&db).unwrap();
        assert_eq!(fs::metadata(&db).unwrap().len(), 0, "an existing file is not truncated");
    }

    #[test]
    fn databases_and_their_wal_files_are_created_owner_only() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        let m = crate::management::Management::open(&dir).unwrap();
        m.create_user("u", "hash", 1).unwrap();
        let day = crate::day::Day::of_ms(0).unwrap();
        let conn = crate::partition::open_for_write(&dir, day).unwrap();
        conn.execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (1);").unwrap();
        assert_eq!(mode(&dir), 0o700);
        for name in ["cert.db", "cert.db-wal", "cert.db-shm", "1970-01-01.db", "1970-01-01.db-wal", "1970-01-01.db-shm"]
        {
            assert_eq!(mode(&dir.join(name)), 0o600, "{name}");
        }
    }
}
