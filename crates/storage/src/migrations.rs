//! Versioned schema migrations for `cert.db` and the day partitions.
//!
//! A database's schema version is its `PRAGMA user_version`. Each kind of
//! database has an ordered list of [`Migration`]s; version 1 is the schema
//! as it was before versions were kept (commit c5d331b). Opening a file:
//!
//! 1. [`inspect`] reads it through a read-only connection and refuses,
//!    without writing anything, a file newer than this build
//!    ([`Error::NewerSchema`]) and a file with version 0 whose tables are
//!    not version 1's ([`Error::UnrecognisedSchema`], e.g. an oxmon 0.1
//!    database, which the takeover code handles).
//! 2. [`migrate`] applies the missing steps, each in one `IMMEDIATE`
//!    transaction together with its new `user_version`, so a crash leaves
//!    the file at a whole version and two processes opening it at once apply
//!    each step once. A file with version 0 and version 1's tables is
//!    stamped 1; an empty file gets every step.
//!
//! Upgrades log one INFO line per step; creating a new file logs at DEBUG
//! (a partition is created every day).
//!
//! Steps are never edited once released: a schema change is a new step.

use std::collections::BTreeMap;
use std::path::Path;

use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

use crate::error::{Error, Result};

/// One step: runs inside the transaction that also sets `user_version`.
pub(crate) struct Migration<C: 'static> {
    pub version: i64,
    pub name: &'static str,
    pub up: fn(&Transaction<'_>, &C) -> rusqlite::Result<()>,
}

/// The migrations of one kind of database.
pub(crate) struct Schema<C: 'static> {
    /// What the file is, for messages ("management database", "partition").
    pub what: &'static str,
    /// Ordered by version, starting at 1, without gaps.
    pub migrations: &'static [Migration<C>],
}

impl<C> Schema<C> {
    /// The version this build writes.
    pub fn latest(&self) -> i64 {
        self.migrations.last().map_or(0, |m| m.version)
    }
}

/// Table name → column names, in order (SQLite's own tables excluded).
type Shape = BTreeMap<String, Vec<String>>;

fn user_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
}

fn shape(conn: &Connection) -> rusqlite::Result<Shape> {
    let mut tables = Shape::new();
    let mut stmt = conn.prepare(
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
    )?;
    let names = stmt.query_map([], |r| r.get::<_, String>(0))?.collect::<rusqlite::Result<Vec<_>>>()?;
    for name in names {
        let mut cols = conn.prepare("SELECT name FROM pragma_table_info(?1) ORDER BY cid")?;
        let columns = cols.query_map([&name], |r| r.get::<_, String>(0))?.collect::<rusqlite::Result<Vec<_>>>()?;
        tables.insert(name, columns);
    }
    Ok(tables)
}

/// The tables version 1 creates, built in memory.
fn version_1_shape<C>(schema: &Schema<C>, ctx: &C) -> rusqlite::Result<Shape> {
    let mut conn = Connection::open_in_memory()?;
    let tx = conn.transaction()?;
    if let Some(first) = schema.migrations.first() {
        (first.up)(&tx, ctx)?;
    }
    let shape = shape(&tx)?;
    tx.commit()?;
    Ok(shape)
}

/// Why a version-0 file is not version 1, or `None` when it is.
fn shape_mismatch(found: &Shape, expected: &Shape) -> Option<String> {
    if found == expected {
        return None;
    }
    let unexpected: Vec<&str> = found.keys().filter(|t| !expected.contains_key(*t)).map(String::as_str).collect();
    let missing: Vec<&str> = expected.keys().filter(|t| !found.contains_key(*t)).map(String::as_str).collect();
    let differing: Vec<&str> = found
        .iter()
        .filter(|(t, cols)| expected.get(*t).is_some_and(|e| e != *cols))
        .map(|(t, _)| t.as_str())
        .collect();
    let mut parts = Vec::new();
    for (label, list) in [("unknown tables", unexpected), ("missing tables", missing), ("other columns in", differing)]
    {
        if !list.is_empty() {
            parts.push(format!("{label}: {}", list.join(", ")));
        }
    }
    Some(parts.join("; "))
}

/// What [`inspect`] found in an existing file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Found {
    /// No file, or one without tables.
    Empty,
    /// Version 0 with version 1's tables: written before versions were kept.
    Unversioned,
    /// A file at this version (not newer than this build).
    Version(i64),
}

/// Reads `path` read-only and refuses what must not be opened for writing;
/// never writes to the file.
pub(crate) fn inspect<C>(
    path: &Path,
    schema: &Schema<C>,
    ctx: &C,
    sqlite_err: impl Fn(rusqlite::Error) -> Error,
) -> Result<Found> {
    if !path.exists() {
        return Ok(Found::Empty);
    }
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(&sqlite_err)?;
    conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(&sqlite_err)?;
    let version = user_version(&conn).map_err(&sqlite_err)?;
    classify(&conn, path, version, schema, ctx).map_err(|e| match e {
        Classify::Refused(e) => e,
        Classify::Sqlite(e) => sqlite_err(e),
    })
}

enum Classify {
    Refused(Error),
    Sqlite(rusqlite::Error),
}

impl From<rusqlite::Error> for Classify {
    fn from(e: rusqlite::Error) -> Self {
        Classify::Sqlite(e)
    }
}

fn classify<C>(
    conn: &Connection,
    path: &Path,
    version: i64,
    schema: &Schema<C>,
    ctx: &C,
) -> std::result::Result<Found, Classify> {
    let latest = schema.latest();
    if version > latest {
        return Err(Classify::Refused(Error::NewerSchema {
            what: schema.what,
            path: path.to_owned(),
            found: version,
            known: latest,
        }));
    }
    if version > 0 {
        return Ok(Found::Version(version));
    }
    let found = shape(conn)?;
    if found.is_empty() {
        return Ok(Found::Empty);
    }
    match shape_mismatch(&found, &version_1_shape(schema, ctx)?) {
        None => Ok(Found::Unversioned),
        Some(detail) => {
            Err(Classify::Refused(Error::UnrecognisedSchema { what: schema.what, path: path.to_owned(), detail }))
        }
    }
}

/// Brings the file behind `conn` (opened for writing, after [`inspect`]) to
/// the latest version. Returns the version it was at (0 for a new file).
pub(crate) fn migrate<C>(
    conn: &mut Connection,
    path: &Path,
    schema: &Schema<C>,
    ctx: &C,
    sqlite_err: impl Fn(rusqlite::Error) -> Error,
) -> Result<i64> {
    let mut first: Option<Found> = None;
    for step in schema.migrations {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(&sqlite_err)?;
        // Read again under the write lock: another process may have moved on.
        let version = user_version(&tx).map_err(&sqlite_err)?;
        let found = classify(&tx, path, version, schema, ctx).map_err(|e| match e {
            Classify::Refused(e) => e,
            Classify::Sqlite(e) => sqlite_err(e),
        })?;
        let created = matches!(first.get_or_insert(found), Found::Empty);
        let current = match found {
            Found::Empty => 0,
            Found::Version(v) => v,
            Found::Unversioned => {
                let v1 = schema.migrations.first().map_or(1, |m| m.version);
                tx.pragma_update(None, "user_version", v1).map_err(&sqlite_err)?;
                tracing::info!(
                    file = %path.display(),
                    "{} written before schema versions were kept: recognised as schema version {v1}",
                    schema.what
                );
                v1
            }
        };
        if current >= step.version {
            tx.commit().map_err(&sqlite_err)?;
            continue;
        }
        let failed =
            |source| Error::Migration { path: path.to_owned(), version: step.version, name: step.name, source };
        (step.up)(&tx, ctx).and_then(|()| tx.pragma_update(None, "user_version", step.version)).map_err(failed)?;
        tx.commit().map_err(failed)?;
        if created {
            tracing::debug!(file = %path.display(), version = step.version, "new {}: {}", schema.what, step.name);
        } else {
            tracing::info!(
                file = %path.display(),
                version = step.version,
                "{} migrated to schema version {}: {}",
                schema.what,
                step.version,
                step.name
            );
        }
    }
    Ok(match first {
        Some(Found::Version(v)) => v,
        _ => 0,
    })
}
