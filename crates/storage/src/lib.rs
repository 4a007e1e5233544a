//! oxmon storage: samples in one SQLite file per UTC day, plus the
//! management database.
//!
//! This is the only crate that touches SQLite. Writes go through one writer
//! thread ([`writer::Writer`]) that batches many callers into one transaction
//! (group commit) and answers each caller only after its samples are
//! committed. Reads ([`reader::Reader`]) open read-only connections and are
//! blocking calls, to be run off the async runtime.
//!
//! Layout of a partition file `YYYY-MM-DD.db` (see `partition.rs`):
//! `series(id, agent_id, metric_name, labels)`, a small `head` table that takes
//! new samples, and the compact `samples` table that closed 10-minute buckets
//! are moved into in key order, plus a `metrics` view for humans.
//!
//! Both kinds of file carry a schema version (`PRAGMA user_version`) and are
//! migrated step by step when opened (see `migrations.rs`).

#![forbid(unsafe_code)]

pub mod day;
mod error;
pub mod files;
pub mod legacy;
pub mod management;
mod migrations;
mod partition;
pub mod reader;
pub mod writer;

use oxmon_common::metric::Labels;

pub use error::{Error, Result};

/// One stored value of one series.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub timestamp_ms: i64,
    pub agent_id: String,
    pub metric_name: String,
    pub value: f64,
    pub labels: Labels,
}

/// The schema version (`PRAGMA user_version`) this build gives `cert.db`.
pub fn management_schema_version() -> i64 {
    management::MANAGEMENT_SCHEMA.latest()
}

/// The schema version (`PRAGMA user_version`) this build gives a partition.
pub fn partition_schema_version() -> i64 {
    partition::PARTITION_SCHEMA.latest()
}

/// File name of the management database inside the data directory (the
/// name oxmon 0.1 used, so its sqlite3 instructions still apply).
pub const MANAGEMENT_DB: &str = "cert.db";
