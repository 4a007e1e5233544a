//! `system_configs`: runtime settings (and, from `init-configs`, other
//! configuration rows oxmon 0.1 kept).

use rusqlite::{OptionalExtension, params};

use super::{Management, Page, Write, is_unique_violation, new_id, paged};
use crate::error::Result;

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS system_configs (
    id           TEXT PRIMARY KEY,
    config_key   TEXT NOT NULL UNIQUE,
    config_type  TEXT NOT NULL,
    provider     TEXT,
    display_name TEXT NOT NULL,
    description  TEXT,
    config_json  TEXT NOT NULL DEFAULT '{}',
    enabled      INTEGER NOT NULL DEFAULT 1,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigRecord {
    pub id: String,
    pub config_key: String,
    pub config_type: String,
    pub provider: Option<String>,
    pub display_name: String,
    pub description: Option<String>,
    pub config_json: String,
    pub enabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str =
    "id, config_key, config_type, provider, display_name, description, config_json, enabled, created_at, updated_at";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ConfigRecord> {
    Ok(ConfigRecord {
        id: r.get(0)?,
        config_key: r.get(1)?,
        config_type: r.get(2)?,
        provider: r.get(3)?,
        display_name: r.get(4)?,
        description: r.get(5)?,
        config_json: r.get(6)?,
        enabled: r.get(7)?,
        created_at: r.get(8)?,
        updated_at: r.get(9)?,
    })
}

impl Management {
    /// Rows, newest first, paged in SQL.
    pub fn configs(&self, limit: usize, offset: usize) -> Result<Page<ConfigRecord>> {
        self.with(|c| {
            paged(
                c,
                &format!("SELECT {COLUMNS} FROM system_configs ORDER BY created_at DESC, rowid DESC"),
                &[],
                limit,
                offset,
                row,
            )
        })
    }

    pub fn config(&self, id: &str) -> Result<Option<ConfigRecord>> {
        self.with(|c| c.query_row(&format!("SELECT {COLUMNS} FROM system_configs WHERE id = ?1"), [id], row).optional())
    }

    pub fn config_by_key(&self, key: &str) -> Result<Option<ConfigRecord>> {
        self.with(|c| {
            c.query_row(&format!("SELECT {COLUMNS} FROM system_configs WHERE config_key = ?1"), [key], row).optional()
        })
    }

    /// The value in effect of runtime setting `key`: the row's `value` when
    /// the row exists, is enabled, is of type `runtime` and passes the
    /// setting's check; the setting's default otherwise.
    pub fn runtime_setting(&self, key: &str) -> Result<u64> {
        let Some(setting) = oxmon_common::settings::RuntimeSetting::find(key) else { return Ok(0) };
        Ok(self
            .config_by_key(key)?
            .filter(|c| c.enabled && c.config_type == "runtime")
            .and_then(|c| serde_json::from_str::<serde_json::Value>(&c.config_json).ok())
            .and_then(|v| setting.check(&v).ok())
            .unwrap_or(setting.default))
    }

    /// Inserts `cfg` (id and times are set here); `NameTaken` when the key exists.
    pub fn create_config(&self, mut cfg: ConfigRecord, now_s: i64) -> Result<Write<ConfigRecord>> {
        cfg.id = new_id();
        cfg.created_at = now_s;
        cfg.updated_at = now_s;
        let inserted = self.with(|c| {
            match c.execute(
                &format!("INSERT INTO system_configs ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"),
                params![
                    cfg.id,
                    cfg.config_key,
                    cfg.config_type,
                    cfg.provider,
                    cfg.display_name,
                    cfg.description,
                    cfg.config_json,
                    cfg.enabled,
                    cfg.created_at,
                    cfg.updated_at
                ],
            ) {
                Ok(_) => Ok(true),
                Err(e) if is_unique_violation(&e) => Ok(false),
                Err(e) => Err(e),
            }
        })?;
        Ok(if inserted { Write::Done(cfg) } else { Write::NameTaken })
    }

    /// Replaces the editable fields (display name, description, config,
    /// enabled) of row `cfg.id`.
    pub fn update_config(&self, cfg: &ConfigRecord, now_s: i64) -> Result<Option<ConfigRecord>> {
        let n = self.with(|c| {
            c.execute(
                "UPDATE system_configs SET display_name = ?2, description = ?3, config_json = ?4, enabled = ?5,
                        updated_at = ?6 WHERE id = ?1",
                params![cfg.id, cfg.display_name, cfg.description, cfg.config_json, cfg.enabled, now_s],
            )
        })?;
        if n == 0 {
            return Ok(None);
        }
        self.config(&cfg.id)
    }

    pub fn delete_config(&self, id: &str) -> Result<bool> {
        self.with(|c| c.execute("DELETE FROM system_configs WHERE id = ?1", [id])).map(|n| n == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_have_unique_keys_and_editable_fields() {
        let dir = tempfile::tempdir().unwrap();
        let m = Management::open(dir.path()).unwrap();
        let cfg = ConfigRecord {
            id: String::new(),
            config_key: "k".into(),
            config_type: "runtime".into(),
            provider: None,
            display_name: "K".into(),
            description: None,
            config_json: r#"{"value":1}"#.into(),
            enabled: true,
            created_at: 0,
            updated_at: 0,
        };
        let Write::Done(mut stored) = m.create_config(cfg.clone(), 1).unwrap() else { panic!() };
        assert_eq!(m.create_config(cfg, 2).unwrap(), Write::NameTaken);
        stored.config_json = r#"{"value":2}"#.into();
        stored.enabled = false;
        let updated = m.update_config(&stored, 3).unwrap().unwrap();
        assert_eq!((updated.config_json.as_str(), updated.enabled, updated.updated_at), (r#"{"value":2}"#, false, 3));
        assert_eq!(m.config_by_key("k").unwrap().unwrap().id, stored.id);
        assert!(m.delete_config(&stored.id).unwrap());
        assert!(m.configs(10, 0).unwrap().is_empty());
    }
}
