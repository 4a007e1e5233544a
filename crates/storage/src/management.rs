//! The management database (`cert.db`): agents seen, the agent whitelist
//! and, later, rules, channels and the rest of the configuration.
//!
//! Access is low-rate (API writes, a periodic flush of agent activity), so
//! one connection behind a mutex serves it. Every method blocks: call it from
//! a blocking thread.

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use rand::RngCore;
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::MANAGEMENT_DB;
use crate::error::{Error, Result};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS agents (
    agent_id           TEXT PRIMARY KEY,
    first_seen_ms      INTEGER NOT NULL,
    last_seen_ms       INTEGER NOT NULL,
    report_interval_ms INTEGER
);
CREATE TABLE IF NOT EXISTS users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    token_version INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS alert_rules (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    rule_type     TEXT NOT NULL,
    metric        TEXT NOT NULL,
    agent_pattern TEXT NOT NULL DEFAULT '*',
    severity      TEXT NOT NULL DEFAULT 'info',
    enabled       INTEGER NOT NULL DEFAULT 1,
    config_json   TEXT NOT NULL DEFAULT '{}',
    silence_secs  INTEGER NOT NULL DEFAULT 600,
    source        TEXT NOT NULL DEFAULT 'api',
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS agent_whitelist (
    id          TEXT PRIMARY KEY,
    agent_id    TEXT NOT NULL UNIQUE,
    token_hash  TEXT NOT NULL,
    description TEXT,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
";

/// What the server knows of an agent's reporting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentRecord {
    pub agent_id: String,
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
    /// Typical gap between two reports, learned from the agent's own rhythm.
    pub report_interval_ms: Option<i64>,
}

/// A whitelist entry; the token itself is never stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WhitelistEntry {
    pub id: String,
    pub agent_id: String,
    pub description: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A REST API user; the password is stored as an argon2id PHC string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserRecord {
    pub id: String,
    pub username: String,
    pub password_hash: String,
    /// Incremented by a password change; tokens carrying an older value are revoked.
    pub token_version: i64,
}

/// A stored alert rule. `config_json` has been validated by the caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleRecord {
    pub id: String,
    pub name: String,
    pub rule_type: String,
    pub metric: String,
    pub agent_pattern: String,
    pub severity: String,
    pub enabled: bool,
    pub config_json: String,
    pub silence_secs: i64,
    pub source: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Outcome of a write that may hit a unique name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Write<T> {
    Done(T),
    NameTaken,
    NotFound,
}

#[derive(Debug)]
pub struct Management {
    conn: Mutex<Connection>,
}

impl Management {
    /// Opens (creating and migrating) `cert.db` in `data_dir`.
    pub fn open(data_dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(data_dir).map_err(|source| Error::DataDir { path: data_dir.to_owned(), source })?;
        let conn = Connection::open(data_dir.join(MANAGEMENT_DB)).map_err(Error::Management)?;
        conn.busy_timeout(Duration::from_secs(5)).map_err(Error::Management)?;
        conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
            .map_err(Error::Management)?;
        conn.execute_batch(SCHEMA).map_err(Error::Management)?;
        Ok(Self { conn: Mutex::new(conn) })
    }

    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>) -> Result<T> {
        let mut conn = self.conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut conn).map_err(Error::Management)
    }

    /// Every agent that ever reported.
    pub fn agents(&self) -> Result<Vec<AgentRecord>> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT agent_id, first_seen_ms, last_seen_ms, report_interval_ms FROM agents ORDER BY agent_id",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok(AgentRecord {
                    agent_id: r.get(0)?,
                    first_seen_ms: r.get(1)?,
                    last_seen_ms: r.get(2)?,
                    report_interval_ms: r.get(3)?,
                })
            })?;
            rows.collect()
        })
    }

    /// Saves agent activity (newer `last_seen` wins), in one transaction.
    pub fn save_agents(&self, records: &[AgentRecord]) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            {
                let mut stmt = tx.prepare_cached(
                    "INSERT INTO agents (agent_id, first_seen_ms, last_seen_ms, report_interval_ms)
                     VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (agent_id) DO UPDATE SET
                        first_seen_ms = MIN(first_seen_ms, excluded.first_seen_ms),
                        last_seen_ms = MAX(last_seen_ms, excluded.last_seen_ms),
                        report_interval_ms = COALESCE(excluded.report_interval_ms, report_interval_ms)",
                )?;
                for r in records {
                    stmt.execute(params![r.agent_id, r.first_seen_ms, r.last_seen_ms, r.report_interval_ms])?;
                }
            }
            tx.commit()
        })
    }

    /// Adds `agent_id` to the whitelist and returns the entry and its token,
    /// which is shown this once and stored only as a hash. `None` when the
    /// agent is already whitelisted.
    pub fn whitelist_add(
        &self,
        agent_id: &str,
        description: Option<&str>,
        now_s: i64,
    ) -> Result<Option<(WhitelistEntry, String)>> {
        let token = new_token();
        let id = new_id();
        let inserted = self.with(|c| {
            c.execute(
                "INSERT INTO agent_whitelist (id, agent_id, token_hash, description, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5) ON CONFLICT (agent_id) DO NOTHING",
                params![id, agent_id, hash_token(&token), description, now_s],
            )
        })?;
        if inserted == 0 {
            return Ok(None);
        }
        let entry = WhitelistEntry {
            id,
            agent_id: agent_id.to_owned(),
            description: description.map(str::to_owned),
            created_at: now_s,
            updated_at: now_s,
        };
        Ok(Some((entry, token)))
    }

    /// Whitelisted agent ids, sorted.
    pub fn whitelisted_agent_ids(&self) -> Result<Vec<String>> {
        self.with(|c| {
            let mut stmt = c.prepare("SELECT agent_id FROM agent_whitelist ORDER BY agent_id")?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            rows.collect()
        })
    }

    /// Checks `token` for `agent_id`: `None` when the agent is not
    /// whitelisted, else whether the token matches (constant time).
    pub fn verify_agent_token(&self, agent_id: &str, token: &str) -> Result<Option<bool>> {
        let stored: Option<String> = self.with(|c| {
            c.query_row("SELECT token_hash FROM agent_whitelist WHERE agent_id = ?1", [agent_id], |r| r.get(0))
                .optional()
        })?;
        Ok(stored.map(|h| bool::from(h.as_bytes().ct_eq(hash_token(token).as_bytes()))))
    }
}

impl Management {
    /// Number of users.
    pub fn user_count(&self) -> Result<i64> {
        self.with(|c| c.query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0)))
    }

    /// Creates a user; `None` when the name is taken.
    pub fn create_user(&self, username: &str, password_hash: &str, now_s: i64) -> Result<Option<UserRecord>> {
        let id = new_id();
        let n = self.with(|c| {
            c.execute(
                "INSERT INTO users (id, username, password_hash, token_version, created_at, updated_at)
                 VALUES (?1, ?2, ?3, 0, ?4, ?4) ON CONFLICT (username) DO NOTHING",
                params![id, username, password_hash, now_s],
            )
        })?;
        Ok((n == 1).then(|| UserRecord {
            id,
            username: username.to_owned(),
            password_hash: password_hash.to_owned(),
            token_version: 0,
        }))
    }

    pub fn user_by_name(&self, username: &str) -> Result<Option<UserRecord>> {
        self.with(|c| {
            c.query_row(
                "SELECT id, username, password_hash, token_version FROM users WHERE username = ?1",
                [username],
                |r| {
                    Ok(UserRecord {
                        id: r.get(0)?,
                        username: r.get(1)?,
                        password_hash: r.get(2)?,
                        token_version: r.get(3)?,
                    })
                },
            )
            .optional()
        })
    }

    /// Replaces a user's password and revokes every token issued before.
    /// Returns false when the user does not exist.
    pub fn set_password(&self, user_id: &str, password_hash: &str, now_s: i64) -> Result<bool> {
        let n = self.with(|c| {
            c.execute(
                "UPDATE users SET password_hash = ?2, token_version = token_version + 1, updated_at = ?3 WHERE id = ?1",
                params![user_id, password_hash, now_s],
            )
        })?;
        Ok(n == 1)
    }

    /// Whitelist entries, newest first, paged in SQL.
    pub fn whitelist(&self, limit: usize, offset: usize) -> Result<Vec<WhitelistEntry>> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT id, agent_id, description, created_at, updated_at FROM agent_whitelist
                 ORDER BY created_at DESC, rowid DESC LIMIT ?1 OFFSET ?2",
            )?;
            let rows = stmt.query_map(params![to_i64(limit), to_i64(offset)], whitelist_row)?;
            rows.collect()
        })
    }

    /// A whitelist entry by row id or, failing that, by agent id.
    pub fn whitelist_entry(&self, id_or_agent: &str) -> Result<Option<WhitelistEntry>> {
        self.with(|c| {
            c.query_row(
                "SELECT id, agent_id, description, created_at, updated_at FROM agent_whitelist
                 WHERE id = ?1 OR agent_id = ?1 ORDER BY id = ?1 DESC LIMIT 1",
                [id_or_agent],
                whitelist_row,
            )
            .optional()
        })
    }

    /// Sets (or with `None` clears) the description of entry `id`.
    pub fn whitelist_describe(
        &self,
        id: &str,
        description: Option<&str>,
        now_s: i64,
    ) -> Result<Option<WhitelistEntry>> {
        let n = self.with(|c| {
            c.execute(
                "UPDATE agent_whitelist SET description = ?2, updated_at = ?3 WHERE id = ?1",
                params![id, description, now_s],
            )
        })?;
        if n == 0 {
            return Ok(None);
        }
        self.whitelist_entry(id)
    }

    /// Issues a new token for entry `id`; the old one stops working at once.
    pub fn whitelist_rotate(&self, id: &str, now_s: i64) -> Result<Option<(WhitelistEntry, String)>> {
        let token = new_token();
        let n = self.with(|c| {
            c.execute(
                "UPDATE agent_whitelist SET token_hash = ?2, updated_at = ?3 WHERE id = ?1",
                params![id, hash_token(&token), now_s],
            )
        })?;
        if n == 0 {
            return Ok(None);
        }
        Ok(self.whitelist_entry(id)?.map(|e| (e, token)))
    }

    /// Deletes the entry with row id `id_or_agent` or, failing that, the
    /// entry of that agent id. Returns the deleted entry.
    pub fn whitelist_delete(&self, id_or_agent: &str) -> Result<Option<WhitelistEntry>> {
        let Some(entry) = self.whitelist_entry(id_or_agent)? else { return Ok(None) };
        self.with(|c| c.execute("DELETE FROM agent_whitelist WHERE id = ?1", [&entry.id]))?;
        Ok(Some(entry))
    }
}

const RULE_COLUMNS: &str = "id, name, rule_type, metric, agent_pattern, severity, enabled, config_json, silence_secs, source, created_at, updated_at";

fn rule_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RuleRecord> {
    Ok(RuleRecord {
        id: r.get(0)?,
        name: r.get(1)?,
        rule_type: r.get(2)?,
        metric: r.get(3)?,
        agent_pattern: r.get(4)?,
        severity: r.get(5)?,
        enabled: r.get(6)?,
        config_json: r.get(7)?,
        silence_secs: r.get(8)?,
        source: r.get(9)?,
        created_at: r.get(10)?,
        updated_at: r.get(11)?,
    })
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE)
}

impl Management {
    /// Rules, newest first, paged in SQL.
    pub fn rules(&self, limit: usize, offset: usize) -> Result<Vec<RuleRecord>> {
        self.with(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {RULE_COLUMNS} FROM alert_rules ORDER BY created_at DESC, rowid DESC LIMIT ?1 OFFSET ?2"
            ))?;
            let rows = stmt.query_map(params![to_i64(limit), to_i64(offset)], rule_row)?;
            rows.collect()
        })
    }

    /// Every enabled rule, oldest first (the engine's evaluation order).
    pub fn enabled_rules(&self) -> Result<Vec<RuleRecord>> {
        self.with(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {RULE_COLUMNS} FROM alert_rules WHERE enabled = 1 ORDER BY created_at, rowid"
            ))?;
            let rows = stmt.query_map([], rule_row)?;
            rows.collect()
        })
    }

    pub fn rule(&self, id: &str) -> Result<Option<RuleRecord>> {
        self.with(|c| {
            c.query_row(&format!("SELECT {RULE_COLUMNS} FROM alert_rules WHERE id = ?1"), [id], rule_row).optional()
        })
    }

    /// Inserts `rule` (its `id`, `created_at` and `updated_at` are set here).
    pub fn create_rule(&self, mut rule: RuleRecord, now_s: i64) -> Result<Write<RuleRecord>> {
        rule.id = new_id();
        rule.created_at = now_s;
        rule.updated_at = now_s;
        let inserted = self.with(|c| {
            match c.execute(
                &format!("INSERT INTO alert_rules ({RULE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"),
                params![
                    rule.id,
                    rule.name,
                    rule.rule_type,
                    rule.metric,
                    rule.agent_pattern,
                    rule.severity,
                    rule.enabled,
                    rule.config_json,
                    rule.silence_secs,
                    rule.source,
                    rule.created_at,
                    rule.updated_at
                ],
            ) {
                Ok(_) => Ok(true),
                Err(e) if is_unique_violation(&e) => Ok(false),
                Err(e) => Err(e),
            }
        })?;
        Ok(if inserted { Write::Done(rule) } else { Write::NameTaken })
    }

    /// Replaces the editable fields of rule `rule.id` (not its type, source
    /// or creation time).
    pub fn update_rule(&self, rule: &RuleRecord, now_s: i64) -> Result<Write<RuleRecord>> {
        let updated = self.with(|c| {
            match c.execute(
                "UPDATE alert_rules SET name = ?2, metric = ?3, agent_pattern = ?4, severity = ?5, enabled = ?6,
                        config_json = ?7, silence_secs = ?8, updated_at = ?9 WHERE id = ?1",
                params![
                    rule.id,
                    rule.name,
                    rule.metric,
                    rule.agent_pattern,
                    rule.severity,
                    rule.enabled,
                    rule.config_json,
                    rule.silence_secs,
                    now_s
                ],
            ) {
                Ok(n) => Ok(Some(n)),
                Err(e) if is_unique_violation(&e) => Ok(None),
                Err(e) => Err(e),
            }
        })?;
        Ok(match updated {
            None => Write::NameTaken,
            Some(0) => Write::NotFound,
            Some(_) => self.rule(&rule.id)?.map_or(Write::NotFound, Write::Done),
        })
    }

    pub fn delete_rule(&self, id: &str) -> Result<bool> {
        self.with(|c| c.execute("DELETE FROM alert_rules WHERE id = ?1", [id])).map(|n| n == 1)
    }
}

fn whitelist_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<WhitelistEntry> {
    Ok(WhitelistEntry {
        id: r.get(0)?,
        agent_id: r.get(1)?,
        description: r.get(2)?,
        created_at: r.get(3)?,
        updated_at: r.get(4)?,
    })
}

fn to_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A new agent token: 32 random bytes, standard Base64 (44 characters), as
/// oxmon 0.1 issued them.
fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64_encode(&bytes)
}

/// Tokens carry 256 random bits, so a plain SHA-256 is a safe verifier and
/// cheap enough to check on every batch (a password hash would not be).
fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn new_id() -> String {
    let mut bytes = [0u8; 8];
    rand::rng().fill_bytes(&mut bytes);
    // A positive 63-bit decimal, shaped like oxmon 0.1's Snowflake ids.
    (u64::from_le_bytes(bytes) >> 1).to_string()
}

fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (input, expected) in
            [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("foobar", "Zm9vYmFy")]
        {
            assert_eq!(base64_encode(input.as_bytes()), expected);
        }
        assert_eq!(new_token().len(), 44);
    }

    #[test]
    fn whitelisted_token_verifies_and_others_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let m = Management::open(dir.path()).unwrap();
        let (entry, token) = m.whitelist_add("web-1", Some("front"), 100).unwrap().unwrap();
        assert_eq!(entry.agent_id, "web-1");
        assert_eq!(m.verify_agent_token("web-1", &token).unwrap(), Some(true));
        assert_eq!(m.verify_agent_token("web-1", "nope").unwrap(), Some(false));
        assert_eq!(m.verify_agent_token("web-2", &token).unwrap(), None);
        assert!(m.whitelist_add("web-1", None, 101).unwrap().is_none(), "duplicate agent");
        // The token is not stored in clear anywhere in the file.
        drop(m);
        let raw = std::fs::read(dir.path().join(MANAGEMENT_DB)).unwrap();
        assert!(!raw.windows(token.len()).any(|w| w == token.as_bytes()));
    }

    #[test]
    fn rotation_replaces_the_token_and_delete_accepts_row_or_agent_id() {
        let dir = tempfile::tempdir().unwrap();
        let m = Management::open(dir.path()).unwrap();
        let (a, old) = m.whitelist_add("a", None, 1).unwrap().unwrap();
        m.whitelist_add("b", Some("second"), 2).unwrap().unwrap();
        let (_, new) = m.whitelist_rotate(&a.id, 3).unwrap().unwrap();
        assert_eq!(m.verify_agent_token("a", &old).unwrap(), Some(false));
        assert_eq!(m.verify_agent_token("a", &new).unwrap(), Some(true));
        assert!(m.whitelist_rotate("nope", 3).unwrap().is_none());
        let page: Vec<String> = m.whitelist(10, 0).unwrap().into_iter().map(|e| e.agent_id).collect();
        assert_eq!(page, ["b", "a"], "newest first");
        assert_eq!(m.whitelist(1, 1).unwrap()[0].agent_id, "a");
        let e = m.whitelist_describe(&a.id, Some("first"), 4).unwrap().unwrap();
        assert_eq!((e.description.as_deref(), e.updated_at), (Some("first"), 4));
        assert_eq!(m.whitelist_describe(&a.id, None, 5).unwrap().unwrap().description, None);
        assert_eq!(m.whitelist_delete("b").unwrap().unwrap().agent_id, "b", "by agent id");
        assert_eq!(m.whitelist_delete(&a.id).unwrap().unwrap().agent_id, "a", "by row id");
        assert!(m.whitelist_delete(&a.id).unwrap().is_none());
        assert!(m.whitelisted_agent_ids().unwrap().is_empty());
    }

    #[test]
    fn a_password_change_bumps_the_token_version() {
        let dir = tempfile::tempdir().unwrap();
        let m = Management::open(dir.path()).unwrap();
        assert_eq!(m.user_count().unwrap(), 0);
        let u = m.create_user("admin", "h1", 1).unwrap().unwrap();
        assert!(m.create_user("admin", "h2", 1).unwrap().is_none());
        assert!(m.set_password(&u.id, "h2", 2).unwrap());
        let u = m.user_by_name("admin").unwrap().unwrap();
        assert_eq!((u.password_hash.as_str(), u.token_version), ("h2", 1));
        assert!(!m.set_password("missing", "h3", 3).unwrap());
    }

    fn rule(name: &str) -> RuleRecord {
        RuleRecord {
            id: String::new(),
            name: name.into(),
            rule_type: "threshold".into(),
            metric: "cpu.usage".into(),
            agent_pattern: "*".into(),
            severity: "critical".into(),
            enabled: true,
            config_json: r#"{"operator":"gt","value":90}"#.into(),
            silence_secs: 300,
            source: "api".into(),
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn rules_keep_unique_names_and_page_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let m = Management::open(dir.path()).unwrap();
        let Write::Done(a) = m.create_rule(rule("a"), 1).unwrap() else { panic!() };
        let Write::Done(mut b) = m.create_rule(rule("b"), 1).unwrap() else { panic!() };
        assert_eq!(m.create_rule(rule("a"), 2).unwrap(), Write::NameTaken);
        let names: Vec<String> = m.rules(10, 0).unwrap().into_iter().map(|r| r.name).collect();
        assert_eq!(names, ["b", "a"]);
        b.name = "a".into();
        assert_eq!(m.update_rule(&b, 3).unwrap(), Write::NameTaken, "rename onto another rule");
        b.name = "b2".into();
        b.enabled = false;
        let Write::Done(b) = m.update_rule(&b, 3).unwrap() else { panic!() };
        assert_eq!((b.name.as_str(), b.enabled, b.updated_at, b.created_at), ("b2", false, 3, 1));
        assert_eq!(m.enabled_rules().unwrap(), vec![a.clone()]);
        assert!(m.delete_rule(&a.id).unwrap());
        assert!(!m.delete_rule(&a.id).unwrap());
        let mut gone = a;
        gone.name = "zzz".into();
        assert_eq!(m.update_rule(&gone, 4).unwrap(), Write::NotFound);
    }

    #[test]
    fn agent_activity_keeps_the_newest_last_seen() {
        let dir = tempfile::tempdir().unwrap();
        let m = Management::open(dir.path()).unwrap();
        let rec = |last, interval| AgentRecord {
            agent_id: "a".into(),
            first_seen_ms: 10,
            last_seen_ms: last,
            report_interval_ms: interval,
        };
        m.save_agents(&[rec(500, Some(10_000))]).unwrap();
        m.save_agents(&[rec(400, None)]).unwrap();
        assert_eq!(m.agents().unwrap(), vec![rec(500, Some(10_000))]);
    }
}
