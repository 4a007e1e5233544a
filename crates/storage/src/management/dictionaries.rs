//! Dictionaries: named lists of constants (channel types, severities, …)
//! for user interfaces. Built-in (`is_system`) items are kept in sync with
//! the code by [`Management::sync_dictionaries`]; user-created types and
//! items survive restarts (0.1 deleted user types at every start).

use rusqlite::{OptionalExtension, params};

use super::{Management, Page, Write, is_unique_violation, new_id, paged};
use crate::error::Result;

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS dictionary_types (
    dict_type       TEXT PRIMARY KEY,
    dict_type_label TEXT NOT NULL,
    sort_order      INTEGER NOT NULL DEFAULT 0,
    description     TEXT,
    is_system       INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS system_dictionaries (
    id          TEXT PRIMARY KEY,
    dict_type   TEXT NOT NULL,
    dict_key    TEXT NOT NULL,
    dict_label  TEXT NOT NULL,
    dict_value  TEXT,
    sort_order  INTEGER NOT NULL DEFAULT 0,
    enabled     INTEGER NOT NULL DEFAULT 1,
    is_system   INTEGER NOT NULL DEFAULT 0,
    description TEXT,
    extra_json  TEXT,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    UNIQUE (dict_type, dict_key)
);
";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DictType {
    pub dict_type: String,
    pub dict_type_label: String,
    pub sort_order: i64,
    pub description: Option<String>,
    pub is_system: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DictItem {
    pub id: String,
    pub dict_type: String,
    pub dict_key: String,
    pub dict_label: String,
    pub dict_value: Option<String>,
    pub sort_order: i64,
    pub enabled: bool,
    pub is_system: bool,
    pub description: Option<String>,
    pub extra_json: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A type with the number of its items.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DictTypeSummary {
    pub dict_type: String,
    pub dict_type_label: String,
    pub count: i64,
}

const TYPE_COLUMNS: &str = "dict_type, dict_type_label, sort_order, description, is_system, created_at, updated_at";
const ITEM_COLUMNS: &str = "id, dict_type, dict_key, dict_label, dict_value, sort_order, enabled, is_system, description, extra_json, created_at, updated_at";

fn type_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<DictType> {
    Ok(DictType {
        dict_type: r.get(0)?,
        dict_type_label: r.get(1)?,
        sort_order: r.get(2)?,
        description: r.get(3)?,
        is_system: r.get(4)?,
        created_at: r.get(5)?,
        updated_at: r.get(6)?,
    })
}

fn item_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<DictItem> {
    Ok(DictItem {
        id: r.get(0)?,
        dict_type: r.get(1)?,
        dict_key: r.get(2)?,
        dict_label: r.get(3)?,
        dict_value: r.get(4)?,
        sort_order: r.get(5)?,
        enabled: r.get(6)?,
        is_system: r.get(7)?,
        description: r.get(8)?,
        extra_json: r.get(9)?,
        created_at: r.get(10)?,
        updated_at: r.get(11)?,
    })
}

impl Management {
    /// Types that have at least one item, with their counts, ordered by the
    /// type's sort order then key, paged in SQL.
    pub fn dict_type_summaries(&self, limit: usize, offset: usize) -> Result<Page<DictTypeSummary>> {
        self.with(|c| {
            paged(
                c,
                "SELECT d.dict_type, COALESCE(t.dict_type_label, d.dict_type), COUNT(*)
                   FROM system_dictionaries d LEFT JOIN dictionary_types t ON t.dict_type = d.dict_type
                  GROUP BY d.dict_type ORDER BY COALESCE(t.sort_order, 0), d.dict_type",
                &[],
                limit,
                offset,
                |r| Ok(DictTypeSummary { dict_type: r.get(0)?, dict_type_label: r.get(1)?, count: r.get(2)? }),
            )
        })
    }

    pub fn dict_type(&self, dict_type: &str) -> Result<Option<DictType>> {
        self.with(|c| {
            c.query_row(
                &format!("SELECT {TYPE_COLUMNS} FROM dictionary_types WHERE dict_type = ?1"),
                [dict_type],
                type_row,
            )
            .optional()
        })
    }

    /// Inserts a type; `NameTaken` when it exists.
    pub fn create_dict_type(&self, t: DictType, now_s: i64) -> Result<Write<DictType>> {
        let t = DictType { created_at: now_s, updated_at: now_s, ..t };
        let inserted = self.with(|c| {
            c.execute(
                &format!("INSERT INTO dictionary_types ({TYPE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING"),
                params![t.dict_type, t.dict_type_label, t.sort_order, t.description, t.is_system, t.created_at, t.updated_at],
            )
        })?;
        Ok(if inserted == 1 { Write::Done(t) } else { Write::NameTaken })
    }

    /// Replaces label, sort order and description of type `t.dict_type`.
    pub fn update_dict_type(&self, t: &DictType, now_s: i64) -> Result<Option<DictType>> {
        let n = self.with(|c| {
            c.execute(
                "UPDATE dictionary_types SET dict_type_label = ?2, sort_order = ?3, description = ?4, updated_at = ?5
                  WHERE dict_type = ?1",
                params![t.dict_type, t.dict_type_label, t.sort_order, t.description, now_s],
            )
        })?;
        if n == 0 {
            return Ok(None);
        }
        self.dict_type(&t.dict_type)
    }

    /// Deletes a type row (its items stay).
    pub fn delete_dict_type(&self, dict_type: &str) -> Result<bool> {
        self.with(|c| c.execute("DELETE FROM dictionary_types WHERE dict_type = ?1", [dict_type])).map(|n| n == 1)
    }

    /// Items of a type, by sort order then creation, paged in SQL.
    pub fn dict_items(
        &self,
        dict_type: &str,
        enabled_only: bool,
        limit: usize,
        offset: usize,
    ) -> Result<Page<DictItem>> {
        self.with(|c| {
            paged(
                c,
                &format!(
                    "SELECT {ITEM_COLUMNS} FROM system_dictionaries WHERE dict_type = ?1 AND (?2 = 0 OR enabled = 1)
                      ORDER BY sort_order, created_at, rowid"
                ),
                params![dict_type, enabled_only],
                limit,
                offset,
                item_row,
            )
        })
    }

    pub fn dict_item(&self, id: &str) -> Result<Option<DictItem>> {
        self.with(|c| {
            c.query_row(&format!("SELECT {ITEM_COLUMNS} FROM system_dictionaries WHERE id = ?1"), [id], item_row)
                .optional()
        })
    }

    /// Inserts an item (creating its type row, labelled with the key, when
    /// missing); `NameTaken` when the type already has that key.
    pub fn create_dict_item(&self, mut item: DictItem, now_s: i64) -> Result<Write<DictItem>> {
        item.id = new_id();
        item.created_at = now_s;
        item.updated_at = now_s;
        let inserted = self.with(|c| {
            let tx = c.transaction()?;
            let done = match tx.execute(
                &format!("INSERT INTO system_dictionaries ({ITEM_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"),
                params![
                    item.id,
                    item.dict_type,
                    item.dict_key,
                    item.dict_label,
                    item.dict_value,
                    item.sort_order,
                    item.enabled,
                    item.is_system,
                    item.description,
                    item.extra_json,
                    item.created_at,
                    item.updated_at
                ],
            ) {
                Ok(_) => true,
                Err(e) if is_unique_violation(&e) => false,
                Err(e) => return Err(e),
            };
            if done {
                tx.execute(
                    "INSERT INTO dictionary_types (dict_type, dict_type_label, sort_order, is_system, created_at, updated_at)
                     VALUES (?1, ?1, 0, 0, ?2, ?2) ON CONFLICT DO NOTHING",
                    params![item.dict_type, now_s],
                )?;
            }
            tx.commit()?;
            Ok(done)
        })?;
        Ok(if inserted { Write::Done(item) } else { Write::NameTaken })
    }

    /// Replaces the editable fields of item `item.id`.
    pub fn update_dict_item(&self, item: &DictItem, now_s: i64) -> Result<Option<DictItem>> {
        let n = self.with(|c| {
            c.execute(
                "UPDATE system_dictionaries SET dict_label = ?2, dict_value = ?3, sort_order = ?4, enabled = ?5,
                        description = ?6, extra_json = ?7, updated_at = ?8 WHERE id = ?1",
                params![
                    item.id,
                    item.dict_label,
                    item.dict_value,
                    item.sort_order,
                    item.enabled,
                    item.description,
                    item.extra_json,
                    now_s
                ],
            )
        })?;
        if n == 0 {
            return Ok(None);
        }
        self.dict_item(&item.id)
    }

    pub fn delete_dict_item(&self, id: &str) -> Result<bool> {
        self.with(|c| c.execute("DELETE FROM system_dictionaries WHERE id = ?1", [id])).map(|n| n == 1)
    }

    /// Brings the built-in dictionary in line with `types` and `items`:
    /// inserts what is missing, refreshes labels, values, order and
    /// descriptions of built-in rows (`enabled` is the user's), and disables
    /// built-in items no longer built in. User rows are not touched.
    pub fn sync_dictionaries(&self, types: &[DictType], items: &[DictItem], now_s: i64) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            for t in types {
                tx.execute(
                    "INSERT INTO dictionary_types (dict_type, dict_type_label, sort_order, description, is_system, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, 1, ?5, ?5)
                     ON CONFLICT (dict_type) DO UPDATE SET dict_type_label = excluded.dict_type_label,
                        sort_order = excluded.sort_order, description = excluded.description, is_system = 1",
                    params![t.dict_type, t.dict_type_label, t.sort_order, t.description, now_s],
                )?;
            }
            tx.execute("UPDATE system_dictionaries SET is_system = is_system * 2 WHERE is_system = 1", [])?;
            for i in items {
                tx.execute(
                    "INSERT INTO system_dictionaries (id, dict_type, dict_key, dict_label, dict_value, sort_order, enabled,
                                                      is_system, description, extra_json, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, 1, ?7, NULL, ?8, ?8)
                     ON CONFLICT (dict_type, dict_key) DO UPDATE SET dict_label = excluded.dict_label,
                        dict_value = excluded.dict_value, sort_order = excluded.sort_order,
                        description = excluded.description, is_system = 1",
                    params![new_id(), i.dict_type, i.dict_key, i.dict_label, i.dict_value, i.sort_order, i.description, now_s],
                )?;
            }
            // Built-in items that are no longer built in: disabled, still built-in.
            tx.execute("UPDATE system_dictionaries SET is_system = 1, enabled = 0, updated_at = ?1 WHERE is_system = 2", [now_s])?;
            tx.commit()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(t: &str, k: &str, system: bool) -> DictItem {
        DictItem {
            id: String::new(),
            dict_type: t.into(),
            dict_key: k.into(),
            dict_label: k.to_uppercase(),
            dict_value: None,
            sort_order: 0,
            enabled: true,
            is_system: system,
            description: None,
            extra_json: None,
            created_at: 0,
            updated_at: 0,
        }
    }

    fn ty(t: &str) -> DictType {
        DictType {
            dict_type: t.into(),
            dict_type_label: t.into(),
            sort_order: 1,
            description: None,
            is_system: true,
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn sync_keeps_user_rows_and_disables_stale_built_ins() {
        let dir = tempfile::tempdir().unwrap();
        let m = Management::open(dir.path()).unwrap();
        m.sync_dictionaries(&[ty("severity")], &[item("severity", "info", true), item("severity", "old", true)], 1)
            .unwrap();
        let Write::Done(mine) = m.create_dict_item(item("custom", "x", false), 2).unwrap() else { panic!() };
        assert_eq!(m.create_dict_item(item("custom", "x", false), 2).unwrap(), Write::NameTaken);
        assert_eq!(m.dict_type("custom").unwrap().unwrap().dict_type_label, "custom", "type row auto-created");
        // A new build drops `old`.
        m.sync_dictionaries(&[ty("severity")], &[item("severity", "info", true)], 3).unwrap();
        let sev = m.dict_items("severity", false, 10, 0).unwrap();
        let old = sev.iter().find(|i| i.dict_key == "old").unwrap();
        assert!(old.is_system && !old.enabled);
        assert_eq!(m.dict_items("severity", true, 10, 0).unwrap().len(), 1);
        assert!(m.dict_type("custom").unwrap().is_some(), "user types survive a sync");
        assert_eq!(m.dict_item(&mine.id).unwrap().unwrap().dict_key, "x");
        let summaries = m.dict_type_summaries(10, 0).unwrap();
        assert_eq!(
            summaries.iter().map(|s| (s.dict_type.as_str(), s.count)).collect::<Vec<_>>(),
            [("custom", 1), ("severity", 2)]
        );
    }
}
