//! Notification channels and their recipients. A channel is one configured
//! instance of a channel type (several e-mail channels may coexist); its
//! `config_json` has been validated by the caller (the notify crate), and
//! its recipients are kept in their own table, deleted with the channel.

use rusqlite::{OptionalExtension, Transaction, params};

use super::{Management, Page, Write, is_unique_violation, new_id, paged};
use crate::error::Result;

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS notification_channels (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE,
    channel_type TEXT NOT NULL,
    description  TEXT,
    min_severity TEXT NOT NULL DEFAULT 'info',
    enabled      INTEGER NOT NULL DEFAULT 1,
    config_json  TEXT NOT NULL DEFAULT '{}',
    source       TEXT NOT NULL DEFAULT 'api',
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS notification_recipients (
    id         TEXT PRIMARY KEY,
    channel_id TEXT NOT NULL REFERENCES notification_channels (id) ON DELETE CASCADE,
    value      TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (channel_id, value)
);
";

/// A stored channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelRecord {
    pub id: String,
    pub name: String,
    pub channel_type: String,
    pub description: Option<String>,
    pub min_severity: String,
    pub enabled: bool,
    /// JSON object text, secrets included: redact before showing it.
    pub config_json: String,
    pub source: String,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str =
    "id, name, channel_type, description, min_severity, enabled, config_json, source, created_at, updated_at";

fn channel_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ChannelRecord> {
    Ok(ChannelRecord {
        id: r.get(0)?,
        name: r.get(1)?,
        channel_type: r.get(2)?,
        description: r.get(3)?,
        min_severity: r.get(4)?,
        enabled: r.get(5)?,
        config_json: r.get(6)?,
        source: r.get(7)?,
        created_at: r.get(8)?,
        updated_at: r.get(9)?,
    })
}

/// Replaces the recipients of `channel_id`, keeping the given order
/// (duplicates collapse to their first occurrence).
fn replace_recipients(
    tx: &Transaction<'_>,
    channel_id: &str,
    recipients: &[String],
    now_s: i64,
) -> rusqlite::Result<()> {
    tx.execute("DELETE FROM notification_recipients WHERE channel_id = ?1", [channel_id])?;
    let mut stmt = tx.prepare_cached(
        "INSERT OR IGNORE INTO notification_recipients (id, channel_id, value, created_at) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for value in recipients {
        stmt.execute(params![new_id(), channel_id, value, now_s])?;
    }
    Ok(())
}

fn recipients_of(c: &rusqlite::Connection, channel_id: &str) -> rusqlite::Result<Vec<String>> {
    let mut stmt =
        c.prepare_cached("SELECT value FROM notification_recipients WHERE channel_id = ?1 ORDER BY rowid")?;
    let rows = stmt.query_map([channel_id], |r| r.get(0))?;
    rows.collect()
}

impl Management {
    /// Channels, newest first, paged in SQL.
    pub fn channels(&self, limit: usize, offset: usize) -> Result<Page<ChannelRecord>> {
        self.with(|c| {
            paged(
                c,
                &format!("SELECT {COLUMNS} FROM notification_channels ORDER BY created_at DESC, rowid DESC"),
                &[],
                limit,
                offset,
                channel_row,
            )
        })
    }

    pub fn channel(&self, id: &str) -> Result<Option<ChannelRecord>> {
        self.with(|c| {
            c.query_row(&format!("SELECT {COLUMNS} FROM notification_channels WHERE id = ?1"), [id], channel_row)
                .optional()
        })
    }

    pub fn channel_count(&self) -> Result<i64> {
        self.with(|c| c.query_row("SELECT COUNT(*) FROM notification_channels", [], |r| r.get(0)))
    }

    /// Every channel with its recipients, oldest first (what the notifier
    /// loads; it skips the disabled ones itself so it can report them).
    pub fn channels_with_recipients(&self) -> Result<Vec<(ChannelRecord, Vec<String>)>> {
        self.with(|c| {
            let mut stmt =
                c.prepare(&format!("SELECT {COLUMNS} FROM notification_channels ORDER BY created_at, rowid"))?;
            let channels: Vec<ChannelRecord> = stmt.query_map([], channel_row)?.collect::<rusqlite::Result<_>>()?;
            channels
                .into_iter()
                .map(|ch| {
                    let recipients = recipients_of(c, &ch.id)?;
                    Ok((ch, recipients))
                })
                .collect()
        })
    }

    /// The recipients of a channel in the order they were given.
    pub fn channel_recipients(&self, channel_id: &str) -> Result<Vec<String>> {
        self.with(|c| recipients_of(c, channel_id))
    }

    /// Inserts `channel` with its recipients, atomically.
    pub fn create_channel(
        &self,
        mut channel: ChannelRecord,
        recipients: &[String],
        now_s: i64,
    ) -> Result<Write<ChannelRecord>> {
        channel.id = new_id();
        channel.created_at = now_s;
        channel.updated_at = now_s;
        let inserted = self.with(|c| {
            let tx = c.transaction()?;
            match tx.execute(
                &format!(
                    "INSERT INTO notification_channels ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
                ),
                params![
                    channel.id,
                    channel.name,
                    channel.channel_type,
                    channel.description,
                    channel.min_severity,
                    channel.enabled,
                    channel.config_json,
                    channel.source,
                    channel.created_at,
                    channel.updated_at
                ],
            ) {
                Ok(_) => {}
                Err(e) if is_unique_violation(&e) => return Ok(false),
                Err(e) => return Err(e),
            }
            replace_recipients(&tx, &channel.id, recipients, now_s)?;
            tx.commit()?;
            Ok(true)
        })?;
        Ok(if inserted { Write::Done(channel) } else { Write::NameTaken })
    }

    /// Replaces the editable fields of channel `channel.id` (not its type,
    /// source or creation time) and, when given, its recipients, atomically.
    pub fn update_channel(
        &self,
        channel: &ChannelRecord,
        recipients: Option<&[String]>,
        now_s: i64,
    ) -> Result<Write<ChannelRecord>> {
        let updated = self.with(|c| {
            let tx = c.transaction()?;
            let n = match tx.execute(
                "UPDATE notification_channels SET name = ?2, description = ?3, min_severity = ?4, enabled = ?5,
                        config_json = ?6, updated_at = ?7 WHERE id = ?1",
                params![
                    channel.id,
                    channel.name,
                    channel.description,
                    channel.min_severity,
                    channel.enabled,
                    channel.config_json,
                    now_s
                ],
            ) {
                Ok(n) => n,
                Err(e) if is_unique_violation(&e) => return Ok(None),
                Err(e) => return Err(e),
            };
            if n == 1
                && let Some(recipients) = recipients
            {
                replace_recipients(&tx, &channel.id, recipients, now_s)?;
            }
            tx.commit()?;
            Ok(Some(n))
        })?;
        Ok(match updated {
            None => Write::NameTaken,
            Some(0) => Write::NotFound,
            Some(_) => self.channel(&channel.id)?.map_or(Write::NotFound, Write::Done),
        })
    }

    /// Replaces the recipients of a channel; `None` when it does not exist.
    pub fn set_channel_recipients(
        &self,
        channel_id: &str,
        recipients: &[String],
        now_s: i64,
    ) -> Result<Option<Vec<String>>> {
        self.with(|c| {
            let tx = c.transaction()?;
            let exists: Option<i64> = tx
                .query_row("SELECT 1 FROM notification_channels WHERE id = ?1", [channel_id], |r| r.get(0))
                .optional()?;
            if exists.is_none() {
                return Ok(None);
            }
            replace_recipients(&tx, channel_id, recipients, now_s)?;
            tx.execute("UPDATE notification_channels SET updated_at = ?2 WHERE id = ?1", params![channel_id, now_s])?;
            let stored = recipients_of(&tx, channel_id)?;
            tx.commit()?;
            Ok(Some(stored))
        })
    }

    /// Deletes a channel and its recipients.
    pub fn delete_channel(&self, id: &str) -> Result<bool> {
        self.with(|c| c.execute("DELETE FROM notification_channels WHERE id = ?1", [id])).map(|n| n == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channel(name: &str) -> ChannelRecord {
        ChannelRecord {
            id: String::new(),
            name: name.into(),
            channel_type: "webhook".into(),
            description: None,
            min_severity: "warning".into(),
            enabled: true,
            config_json: "{}".into(),
            source: "api".into(),
            created_at: 0,
            updated_at: 0,
        }
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn channels_keep_unique_names_and_their_recipients_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let m = Management::open(dir.path()).unwrap();
        let Write::Done(a) = m.create_channel(channel("a"), &strings(&["u2", "u1", "u2"]), 1).unwrap() else {
            panic!()
        };
        assert_eq!(m.channel_recipients(&a.id).unwrap(), strings(&["u2", "u1"]), "order kept, duplicate dropped");
        assert_eq!(m.create_channel(channel("a"), &[], 2).unwrap(), Write::NameTaken);
        let Write::Done(mut b) = m.create_channel(channel("b"), &[], 2).unwrap() else { panic!() };
        let names: Vec<String> = m.channels(10, 0).unwrap().into_iter().map(|c| c.name).collect();
        assert_eq!(names, ["b", "a"]);
        assert_eq!(m.channels(1, 1).unwrap()[0].name, "a");

        b.name = "a".into();
        assert_eq!(m.update_channel(&b, Some(&strings(&["x"])), 3).unwrap(), Write::NameTaken);
        assert!(m.channel_recipients(&b.id).unwrap().is_empty(), "a refused update changes nothing");
        b.name = "b2".into();
        b.enabled = false;
        let Write::Done(b) = m.update_channel(&b, Some(&strings(&["x"])), 3).unwrap() else { panic!() };
        assert_eq!((b.name.as_str(), b.enabled, b.updated_at, b.created_at), ("b2", false, 3, 2));
        let Write::Done(_) = m.update_channel(&b, None, 4).unwrap() else { panic!() };
        assert_eq!(m.channel_recipients(&b.id).unwrap(), strings(&["x"]), "None keeps the recipients");

        assert_eq!(m.set_channel_recipients(&a.id, &strings(&["n"]), 5).unwrap(), Some(strings(&["n"])));
        assert_eq!(m.set_channel_recipients("nope", &strings(&["n"]), 5).unwrap(), None);
        let all = m.channels_with_recipients().unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!((all[0].0.name.as_str(), all[0].1.clone()), ("a", strings(&["n"])));

        assert!(m.delete_channel(&a.id).unwrap());
        assert!(!m.delete_channel(&a.id).unwrap());
        assert!(m.channel_recipients(&a.id).unwrap().is_empty(), "recipients go with the channel");
        assert_eq!(m.channel_count().unwrap(), 1);
    }
}
