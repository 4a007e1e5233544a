//! The agent whitelist. Tokens are 32 random bytes shown once; only their
//! SHA-256 is stored (they are 256-bit random, so a slow hash adds nothing).

use rand::RngCore;
use rusqlite::{OptionalExtension, params};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{Management, Page, new_id, paged};
use crate::error::Result;

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS agent_whitelist (
    id          TEXT PRIMARY KEY,
    agent_id    TEXT NOT NULL UNIQUE,
    token_hash  TEXT NOT NULL,
    description TEXT,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
";

/// A whitelist entry; the token itself is never stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WhitelistEntry {
    pub id: String,
    pub agent_id: String,
    pub description: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Management {
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
    ///
    /// An entry taken over from oxmon 0.1 without a sealed token holds 0.1's
    /// bcrypt hash (see `legacy.rs`); it is checked with bcrypt (slow, and
    /// outside the lock), and the first token that matches replaces it by
    /// its SHA-256, so later batches take the fast path.
    pub fn verify_agent_token(&self, agent_id: &str, token: &str) -> Result<Option<bool>> {
        let stored: Option<String> = self.with(|c| {
            c.query_row("SELECT token_hash FROM agent_whitelist WHERE agent_id = ?1", [agent_id], |r| r.get(0))
                .optional()
        })?;
        let Some(stored) = stored else { return Ok(None) };
        if !crate::legacy::is_bcrypt(&stored) {
            return Ok(Some(bool::from(stored.as_bytes().ct_eq(hash_token(token).as_bytes()))));
        }
        if !bcrypt::verify(token, &stored).unwrap_or(false) {
            return Ok(Some(false));
        }
        self.with(|c| {
            c.execute(
                "UPDATE agent_whitelist SET token_hash = ?3 WHERE agent_id = ?1 AND token_hash = ?2",
                params![agent_id, stored, hash_token(token)],
            )
        })?;
        Ok(Some(true))
    }

    /// Whitelist entries, newest first, paged in SQL.
    pub fn whitelist(&self, limit: usize, offset: usize) -> Result<Page<WhitelistEntry>> {
        self.with(|c| {
            paged(
                c,
                "SELECT id, agent_id, description, created_at, updated_at FROM agent_whitelist
                 ORDER BY created_at DESC, rowid DESC",
                &[],
                limit,
                offset,
                whitelist_row,
            )
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

fn whitelist_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<WhitelistEntry> {
    Ok(WhitelistEntry {
        id: r.get(0)?,
        agent_id: r.get(1)?,
        description: r.get(2)?,
        created_at: r.get(3)?,
        updated_at: r.get(4)?,
    })
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
pub(crate) fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
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
    use crate::MANAGEMENT_DB;

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
    fn a_bcrypt_hash_from_oxmon_0_1_verifies_once_and_becomes_sha256() {
        let dir = tempfile::tempdir().unwrap();
        let m = Management::open(dir.path()).unwrap();
        let (_, other) = m.whitelist_add("other", None, 1).unwrap().unwrap();
        let bcrypt_hash = bcrypt::hash("old-token", 4).unwrap();
        m.with(|c| {
            c.execute(
                "INSERT INTO agent_whitelist (id, agent_id, token_hash, created_at, updated_at)
                 VALUES ('x', 'legacy', ?1, 1, 1)",
                [&bcrypt_hash],
            )
        })
        .unwrap();
        let stored = |m: &Management| -> String {
            m.with(|c| {
                c.query_row("SELECT token_hash FROM agent_whitelist WHERE agent_id = 'legacy'", [], |r| r.get(0))
            })
            .unwrap()
        };
        assert_eq!(m.verify_agent_token("legacy", "wrong").unwrap(), Some(false));
        assert_eq!(m.verify_agent_token("legacy", &other).unwrap(), Some(false));
        assert_eq!(stored(&m), bcrypt_hash, "a failed check changes nothing");
        assert_eq!(m.verify_agent_token("legacy", "old-token").unwrap(), Some(true));
        assert_eq!(stored(&m), hash_token("old-token"), "upgraded to SHA-256");
        assert_eq!(m.verify_agent_token("legacy", "old-token").unwrap(), Some(true));
        assert_eq!(m.verify_agent_token("legacy", "wrong").unwrap(), Some(false));
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
}
