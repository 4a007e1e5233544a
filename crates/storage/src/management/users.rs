//! REST API users (argon2id hashes, `token_version` for revocation).

use rusqlite::{OptionalExtension, params};

use super::{Management, new_id};
use crate::error::Result;

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    token_version INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
";

/// A REST API user; the password is stored as an argon2id PHC string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserRecord {
    pub id: String,
    pub username: String,
    pub password_hash: String,
    /// Incremented by a password change; tokens carrying an older value are revoked.
    pub token_version: i64,
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

    /// Replaces the stored hash of a password that did not change (oxmon
    /// 0.1's bcrypt hash by an argon2id one, after a login proved the
    /// password). Tokens stay valid. Only replaces `old_hash`, so a password
    /// change that raced it wins. Returns whether it replaced it.
    pub fn rehash_password(&self, user_id: &str, old_hash: &str, new_hash: &str, now_s: i64) -> Result<bool> {
        let n = self.with(|c| {
            c.execute(
                "UPDATE users SET password_hash = ?3, updated_at = ?4 WHERE id = ?1 AND password_hash = ?2",
                params![user_id, old_hash, new_hash, now_s],
            )
        })?;
        Ok(n == 1)
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
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn a_rehash_keeps_tokens_and_only_replaces_the_hash_it_was_given() {
        let dir = tempfile::tempdir().unwrap();
        let m = Management::open(dir.path()).unwrap();
        let u = m.create_user("admin", "$2b$old", 1).unwrap().unwrap();
        assert!(!m.rehash_password(&u.id, "$2b$other", "new", 2).unwrap());
        assert!(m.rehash_password(&u.id, "$2b$old", "new", 2).unwrap());
        let u = m.user_by_name("admin").unwrap().unwrap();
        assert_eq!((u.password_hash.as_str(), u.token_version), ("new", 0));
        assert!(!m.rehash_password(&u.id, "$2b$old", "newer", 3).unwrap(), "already replaced");
    }
}
