//! Silence windows (0.1's `notification_silence_windows`, plus a time zone,
//! a name and the source). Validation happens before (see `oxmon-common`'s
//! `silence` module).

use rusqlite::{OptionalExtension, params};

use super::{Management, Page, new_id, paged};
use crate::error::Result;

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS notification_silence_windows (
    id         TEXT PRIMARY KEY,
    name       TEXT,
    start_time TEXT NOT NULL,
    end_time   TEXT NOT NULL,
    recurrence TEXT,
    timezone   TEXT NOT NULL DEFAULT 'UTC',
    source     TEXT NOT NULL DEFAULT 'api',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SilenceRecord {
    pub id: String,
    pub name: Option<String>,
    pub start_time: String,
    pub end_time: String,
    pub recurrence: Option<String>,
    pub timezone: String,
    pub source: String,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "id, name, start_time, end_time, recurrence, timezone, source, created_at, updated_at";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SilenceRecord> {
    Ok(SilenceRecord {
        id: r.get(0)?,
        name: r.get(1)?,
        start_time: r.get(2)?,
        end_time: r.get(3)?,
        recurrence: r.get(4)?,
        timezone: r.get(5)?,
        source: r.get(6)?,
        created_at: r.get(7)?,
        updated_at: r.get(8)?,
    })
}

impl Management {
    /// Windows, newest first, paged in SQL.
    pub fn silence_windows(&self, limit: usize, offset: usize) -> Result<Page<SilenceRecord>> {
        self.with(|c| {
            paged(
                c,
                &format!("SELECT {COLUMNS} FROM notification_silence_windows ORDER BY created_at DESC, rowid DESC"),
                &[],
                limit,
                offset,
                row,
            )
        })
    }

    pub fn silence_window(&self, id: &str) -> Result<Option<SilenceRecord>> {
        self.with(|c| {
            c.query_row(&format!("SELECT {COLUMNS} FROM notification_silence_windows WHERE id = ?1"), [id], row)
                .optional()
        })
    }

    /// Inserts `w` (its id and times are set here).
    pub fn create_silence_window(&self, mut w: SilenceRecord, now_s: i64) -> Result<SilenceRecord> {
        w.id = new_id();
        w.created_at = now_s;
        w.updated_at = now_s;
        self.with(|c| {
            c.execute(
                &format!(
                    "INSERT INTO notification_silence_windows ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
                ),
                params![
                    w.id,
                    w.name,
                    w.start_time,
                    w.end_time,
                    w.recurrence,
                    w.timezone,
                    w.source,
                    w.created_at,
                    w.updated_at
                ],
            )
        })?;
        Ok(w)
    }

    /// Replaces the times, recurrence, zone and name of window `w.id`
    /// (not its source); `None` when it does not exist.
    pub fn update_silence_window(&self, w: &SilenceRecord, now_s: i64) -> Result<Option<SilenceRecord>> {
        let n = self.with(|c| {
            c.execute(
                "UPDATE notification_silence_windows SET name = ?2, start_time = ?3, end_time = ?4, recurrence = ?5,
                        timezone = ?6, updated_at = ?7 WHERE id = ?1",
                params![w.id, w.name, w.start_time, w.end_time, w.recurrence, w.timezone, now_s],
            )
        })?;
        if n == 0 {
            return Ok(None);
        }
        self.silence_window(&w.id)
    }

    pub fn delete_silence_window(&self, id: &str) -> Result<bool> {
        self.with(|c| c.execute("DELETE FROM notification_silence_windows WHERE id = ?1", [id])).map(|n| n == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_stored_listed_newest_first_and_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let m = Management::open(dir.path()).unwrap();
        let w = |start: &str| SilenceRecord {
            id: String::new(),
            name: None,
            start_time: start.into(),
            end_time: "04:00".into(),
            recurrence: Some("daily".into()),
            timezone: "Asia/Shanghai".into(),
            source: "api".into(),
            created_at: 0,
            updated_at: 0,
        };
        let a = m.create_silence_window(w("02:00"), 1).unwrap();
        let b = m.create_silence_window(w("03:00"), 1).unwrap();
        let starts: Vec<String> = m.silence_windows(10, 0).unwrap().into_iter().map(|w| w.start_time).collect();
        assert_eq!(starts, ["03:00", "02:00"]);
        assert_eq!(m.silence_window(&a.id).unwrap().unwrap().timezone, "Asia/Shanghai");
        assert!(m.delete_silence_window(&b.id).unwrap());
        assert!(!m.delete_silence_window(&b.id).unwrap());
        assert_eq!(m.silence_windows(10, 0).unwrap().len(), 1);
    }
}
