//! The management database (`cert.db`): agents seen, REST users, the agent
//! whitelist, alert rules and, later, channels and the rest of the
//! configuration. One submodule per table group, each with its schema.
//!
//! Access is low-rate (API writes, a periodic flush of agent activity), so
//! one connection behind a mutex serves it. Every method blocks: call it from
//! a blocking thread.

mod agents;
mod alerts;
mod certs;
mod channels;
mod configs;
mod dictionaries;
mod notification_logs;
mod rules;
mod silence;
mod users;
mod whitelist;

use std::ops::Deref;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use rand::RngCore;
use rusqlite::{Connection, Row, ToSql, Transaction};

pub use agents::{AgentRecord, Forgotten};
pub use alerts::{
    AlertEvent, AlertFilter, AlertSummary, EventWrite, STATUS_ACKNOWLEDGED, STATUS_OPEN, STATUS_RESOLVED, Transition,
};
pub use certs::{
    CertCheckResult, CertDetailsFilter, CertDomain, CertDomainFilter, CertSummary, CertificateDetails,
    EXPIRING_SOON_DAYS,
};
pub use channels::ChannelRecord;
pub use configs::ConfigRecord;
pub use dictionaries::{DictItem, DictType, DictTypeSummary};
pub use notification_logs::{LogFilter, LogSummary, NotificationLogRecord};
pub use rules::RuleRecord;
pub use silence::SilenceRecord;
pub use users::UserRecord;
pub use whitelist::WhitelistEntry;

use crate::MANAGEMENT_DB;
use crate::error::{Error, Result};
use crate::migrations::{self, Migration, Schema};

/// The versions of `cert.db`'s schema (`PRAGMA user_version`), see
/// `migrations.rs`. Version 1 is the tables of the submodules' `SCHEMA`
/// constants, which are frozen: a change is a new step here.
pub(crate) static MANAGEMENT_SCHEMA: Schema<()> = Schema {
    what: "management database",
    migrations: &[
        Migration { version: 1, name: "initial schema (oxmon before versioned migrations)", up: create_v1 },
        Migration {
            version: 2,
            name: "index alert_events by rule, agent and status (recoveries resolve open events by series)",
            up: |tx, _| {
                tx.execute_batch(
                    "CREATE INDEX alert_events_series ON alert_events (rule_id, agent_id, status, timestamp_ms);",
                )
            },
        },
        Migration {
            version: 3,
            name: "evaluation_cursor: the last queued sample the alert engine evaluated",
            up: |tx, _| {
                tx.execute_batch(
                    "CREATE TABLE evaluation_cursor (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL);",
                )
            },
        },
    ],
};

fn create_v1(tx: &Transaction<'_>, _: &()) -> rusqlite::Result<()> {
    for schema in [
        agents::SCHEMA,
        users::SCHEMA,
        whitelist::SCHEMA,
        rules::SCHEMA,
        silence::SCHEMA,
        configs::SCHEMA,
        dictionaries::SCHEMA,
        alerts::SCHEMA,
        channels::SCHEMA,
        notification_logs::SCHEMA,
        certs::SCHEMA,
    ] {
        tx.execute_batch(schema)?;
    }
    Ok(())
}

/// Outcome of a write that may hit a unique name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Write<T> {
    Done(T),
    NameTaken,
    NotFound,
}

/// One page of a list and `total`, the number of rows matching the list's
/// filters regardless of `limit` and `offset`. Reads as a slice of its
/// items.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: u64,
}

impl<T> Page<T> {
    /// The same page with each item converted.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page { items: self.items.into_iter().map(f).collect(), total: self.total }
    }
}

impl<T> Deref for Page<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        &self.items
    }
}

impl<T> IntoIterator for Page<T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;

    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter()
    }
}

impl<'a, T> IntoIterator for &'a Page<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.items.iter()
    }
}

#[derive(Debug)]
pub struct Management {
    conn: Mutex<Connection>,
}

impl Management {
    /// Opens `cert.db` in `data_dir`, creating it or migrating it to the
    /// latest schema. A file of a newer schema ([`Error::NewerSchema`]) or
    /// of an unknown one ([`Error::UnrecognisedSchema`], e.g. oxmon 0.1's) is
    /// refused without being written to.
    pub fn open(data_dir: &Path) -> Result<Self> {
        crate::files::private_dir(data_dir).map_err(|source| Error::DataDir { path: data_dir.to_owned(), source })?;
        let path = data_dir.join(MANAGEMENT_DB);
        migrations::inspect(&path, &MANAGEMENT_SCHEMA, &(), Error::Management)?;
        crate::files::private_file(&path).map_err(|source| Error::DataDir { path: path.clone(), source })?;
        let mut conn = Connection::open(&path).map_err(Error::Management)?;
        conn.busy_timeout(Duration::from_secs(5)).map_err(Error::Management)?;
        conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
            .map_err(Error::Management)?;
        migrations::migrate(&mut conn, &path, &MANAGEMENT_SCHEMA, &(), Error::Management)?;
        Ok(Self { conn: Mutex::new(conn) })
    }

    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>) -> Result<T> {
        let mut conn = self.conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut conn).map_err(Error::Management)
    }
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE)
}

/// The one way lists are paged: `query` (a `SELECT` with its `ORDER BY`,
/// without `LIMIT`/`OFFSET`, whose parameters are `args`, numbered from
/// `?1`) read for one page, and its rows counted by the same query, both in
/// one read transaction so that the page and the total agree.
fn paged<T>(
    c: &mut Connection,
    query: &str,
    args: &[&dyn ToSql],
    limit: usize,
    offset: usize,
    row: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<Page<T>> {
    let tx = c.transaction()?;
    let total: i64 = tx.query_row(&format!("SELECT COUNT(*) FROM ({query})"), args, |r| r.get(0))?;
    let (limit, offset) = (to_i64(limit), to_i64(offset));
    let mut page_args = args.to_vec();
    page_args.extend([&limit as &dyn ToSql, &offset]);
    let n = args.len();
    let items = tx
        .prepare(&format!("{query} LIMIT ?{} OFFSET ?{}", n + 1, n + 2))?
        .query_map(page_args.as_slice(), row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    tx.commit()?;
    Ok(Page { items, total: total.unsigned_abs() })
}

fn to_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn new_id() -> String {
    let mut bytes = [0u8; 8];
    rand::rng().fill_bytes(&mut bytes);
    // A positive 63-bit decimal, shaped like oxmon 0.1's Snowflake ids.
    (u64::from_le_bytes(bytes) >> 1).to_string()
}
