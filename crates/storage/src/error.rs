//! The storage error type.

use std::path::PathBuf;

use crate::day::Day;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot create {path} (data_dir)")]
    DataDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot open partition {day}")]
    PartitionOpen {
        day: Day,
        #[source]
        source: rusqlite::Error,
    },
    /// The file's `user_version` is above what this build knows; the file
    /// was not written to.
    #[error(
        "{what} {} has schema version {found}, but this oxmon knows versions up to {known}: it was written by a \
         newer oxmon and is left untouched (run that version, or restore a backup made before the upgrade)",
        path.display()
    )]
    NewerSchema { what: &'static str, path: PathBuf, found: i64, known: i64 },
    /// `user_version` 0 with tables that are not this schema's version 1
    /// (for instance an oxmon 0.1 database); the file was not written to.
    #[error("{what} {} is not in a schema this oxmon knows (user_version 0; {detail}); it is left untouched", path.display())]
    UnrecognisedSchema { what: &'static str, path: PathBuf, detail: String },
    #[error("cannot migrate {} to schema version {version} ({name})", path.display())]
    Migration {
        path: PathBuf,
        version: i64,
        name: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    #[error("cannot write to partition {day}")]
    PartitionWrite {
        day: Day,
        #[source]
        source: rusqlite::Error,
    },
    #[error("cannot read partition {day}")]
    PartitionRead {
        day: Day,
        #[source]
        source: rusqlite::Error,
    },
    #[error("cannot delete partition file {path}")]
    PartitionDelete {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("timestamp {0} ms is outside the years 0000..=9999")]
    TimestampOutOfRange(i64),
    #[error("management database error")]
    Management(#[source] rusqlite::Error),
    #[error("commit failed")]
    CommitFailed(#[source] std::sync::Arc<Error>),
    #[error("the storage writer queue is full")]
    Overloaded,
    #[error("the storage writer has stopped")]
    WriterGone,
    #[error("cannot list data directory {path}")]
    ListDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// Short stable name for metric labels.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::DataDir { .. } => "data_dir",
            Error::PartitionOpen { .. } => "partition_open",
            Error::NewerSchema { .. } => "newer_schema",
            Error::UnrecognisedSchema { .. } => "unrecognised_schema",
            Error::Migration { .. } => "migration",
            Error::PartitionWrite { .. } => "partition_write",
            Error::PartitionRead { .. } => "partition_read",
            Error::PartitionDelete { .. } => "partition_delete",
            Error::TimestampOutOfRange(_) => "timestamp_out_of_range",
            Error::Management(_) => "management",
            Error::CommitFailed(inner) => inner.kind(),
            Error::Overloaded => "overloaded",
            Error::WriterGone => "writer_gone",
            Error::ListDir { .. } => "list_dir",
        }
    }
}
