//! Reading oxmon 0.1 files without changing them.
//!
//! Even a read-only SQLite connection to a WAL database creates `-wal` and
//! `-shm` files beside it, so a file without a WAL is opened `immutable`
//! (nothing is created or locked), and a file with one is read through a
//! scratch copy of both (opening the copy replays the WAL).

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use super::{Error, Result};

/// One database to read: where it is, and the name to open or `ATTACH`.
#[derive(Debug)]
pub(super) struct Source {
    /// The live file (for messages).
    pub path: PathBuf,
    /// A `file:` URI of the live file (immutable) or of the scratch copy.
    pub uri: String,
}

impl Source {
    /// Prepares reading `path`, copying it (and its WAL) into `scratch`
    /// when it has a non-empty WAL.
    pub fn new(path: &Path, scratch: &Path) -> Result<Source> {
        let wal = wal_of(path);
        let has_wal = std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0);
        if !has_wal {
            return Ok(Source { path: path.to_owned(), uri: format!("{}?immutable=1", file_uri(path)) });
        }
        let name = path.file_name().unwrap_or_default();
        let copy = scratch.join(name);
        if copy.exists() {
            // Copied earlier in this run (and maybe open): reuse it.
            return Ok(Source { path: path.to_owned(), uri: file_uri(&copy) });
        }
        for (from, to) in [(path.to_owned(), copy.clone()), (wal, wal_of(&copy))] {
            std::fs::copy(&from, &to).map_err(|source| Error::Io { action: "copy", path: from.clone(), source })?;
        }
        Ok(Source { path: path.to_owned(), uri: file_uri(&copy) })
    }

    pub fn open(&self) -> Result<Connection> {
        let flags = if self.uri.ends_with("?immutable=1") {
            OpenFlags::SQLITE_OPEN_READ_ONLY
        } else {
            OpenFlags::SQLITE_OPEN_READ_WRITE
        };
        Connection::open_with_flags(&self.uri, flags | OpenFlags::SQLITE_OPEN_URI | OpenFlags::SQLITE_OPEN_NO_MUTEX)
            .map_err(|source| self.read_err(source))
    }

    pub fn read_err(&self, source: rusqlite::Error) -> Error {
        Error::Read { path: self.path.clone(), source }
    }
}

pub(super) fn wal_of(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push("-wal");
    PathBuf::from(name)
}

/// `file:` URI of an absolute path, escaping what URIs reserve.
fn file_uri(path: &Path) -> String {
    let mut uri = String::from("file:");
    for c in path.to_string_lossy().chars() {
        match c {
            '%' => uri.push_str("%25"),
            '?' => uri.push_str("%3f"),
            '#' => uri.push_str("%23"),
            c => uri.push(c),
        }
    }
    uri
}

/// Opens `path` for a look at its schema only: immutable, so nothing is
/// created beside it. Pages still in a WAL are not seen, which does not
/// matter for telling 0.1 from 0.2 tables (created long before).
fn open_schema_only(path: &Path) -> Result<Connection> {
    let uri = format!("{}?immutable=1", file_uri(path));
    Connection::open_with_flags(
        uri,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|source| Error::Read { path: path.to_owned(), source })
}

/// Column names of `table` in schema `schema` (`main`, or an attached
/// name); empty when there is no such table.
pub(super) fn columns(conn: &Connection, schema: &str, table: &str) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare("SELECT name FROM pragma_table_info(?1, ?2)")?;
    let rows = stmt.query_map([table, schema], |r| r.get(0))?;
    rows.collect()
}

/// Whether `schema` has a table (not a view) named `table`.
pub(super) fn has_table(conn: &Connection, schema: &str, table: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        &format!("SELECT COUNT(*) > 0 FROM \"{schema}\".sqlite_master WHERE type = 'table' AND name = ?1"),
        [table],
        |r| r.get(0),
    )
}

/// Whether `cert.db` was written by oxmon 0.1. Its tables share names with
/// ours, so columns tell: 0.1 kept sealed tokens (`encrypted_token`), an
/// unused `system_config_id` on channels, log times in seconds
/// (`created_at`), and silence windows without a time zone. A failed start
/// of this version on it may have added some of our tables; those do not
/// change the answer.
pub(super) fn is_legacy_cert_db(path: &Path) -> Result<bool> {
    let conn = open_schema_only(path)?;
    let read = |source| Error::Read { path: path.to_owned(), source };
    let has = |table: &str, column: &str| -> Result<bool> {
        Ok(columns(&conn, "main", table).map_err(read)?.iter().any(|c| c == column))
    };
    let logs_in_seconds = has("notification_logs", "created_at")? && !has("notification_logs", "created_at_ms")?;
    let windows_without_zone = !columns(&conn, "main", "notification_silence_windows").map_err(read)?.is_empty()
        && !has("notification_silence_windows", "timezone")?;
    Ok(has("agent_whitelist", "encrypted_token")?
        || has("notification_channels", "system_config_id")?
        || logs_in_seconds
        || windows_without_zone)
}

/// `Some(hybrid)` when the day file at `path` holds oxmon 0.1 rows: a
/// `metrics` table (ours is a view) with a `timestamp` column; `hybrid` when
/// it also has our `series` table.
pub(super) fn legacy_day_file(path: &Path) -> Result<Option<bool>> {
    let conn = open_schema_only(path)?;
    let read = |source| Error::Read { path: path.to_owned(), source };
    if !has_table(&conn, "main", "metrics").map_err(read)? {
        return Ok(None);
    }
    if !columns(&conn, "main", "metrics").map_err(read)?.iter().any(|c| c == "timestamp") {
        return Ok(None);
    }
    Ok(Some(has_table(&conn, "main", "series").map_err(read)?))
}
