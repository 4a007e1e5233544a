//! Alert rules as stored. Validation happens before (see `oxmon-common`'s
//! `rule` module); names are unique.

use rusqlite::{OptionalExtension, params};

use super::{Management, Page, Write, is_unique_violation, new_id, paged};
use crate::error::Result;

pub(super) const SCHEMA: &str = "
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
";

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

impl Management {
    /// Rules, newest first, paged in SQL.
    pub fn rules(&self, limit: usize, offset: usize) -> Result<Page<RuleRecord>> {
        self.with(|c| {
            paged(
                c,
                &format!("SELECT {RULE_COLUMNS} FROM alert_rules ORDER BY created_at DESC, rowid DESC"),
                &[],
                limit,
                offset,
                rule_row,
            )
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

    pub fn rule_count(&self) -> Result<i64> {
        self.with(|c| c.query_row("SELECT COUNT(*) FROM alert_rules", [], |r| r.get(0)))
    }

    pub fn delete_rule(&self, id: &str) -> Result<bool> {
        self.with(|c| c.execute("DELETE FROM alert_rules WHERE id = ?1", [id])).map(|n| n == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
