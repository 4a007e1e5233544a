//! Agent activity: first and last report, and the observed interval.

use rusqlite::params;

use super::Management;
use crate::error::Result;

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS agents (
    agent_id           TEXT PRIMARY KEY,
    first_seen_ms      INTEGER NOT NULL,
    last_seen_ms       INTEGER NOT NULL,
    report_interval_ms INTEGER
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

impl Management {
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
}

/// What forgetting an agent removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Forgotten {
    /// It had an activity row.
    pub known: bool,
    /// Its whitelist entry was deleted (its token stops working).
    pub whitelist_removed: bool,
    /// Its open or acknowledged alert events, now resolved.
    pub alerts_resolved: usize,
}

impl Management {
    /// Forgets `agent_id` in one transaction: its activity row, its whitelist entry, and its open
    /// alert events (resolved at `now_s`). Its samples stay until retention removes their days.
    pub fn forget_agent(&self, agent_id: &str, now_s: i64) -> Result<Forgotten> {
        self.with(|c| {
            let tx = c.transaction()?;
            let known = tx.execute("DELETE FROM agents WHERE agent_id = ?1", [agent_id])? > 0;
            let whitelist_removed = tx.execute("DELETE FROM agent_whitelist WHERE agent_id = ?1", [agent_id])? > 0;
            let alerts_resolved = tx.execute(
                "UPDATE alert_events SET status = ?2, updated_at = ?3 WHERE agent_id = ?1 AND status IN (?4, ?5)",
                params![
                    agent_id,
                    super::alerts::STATUS_RESOLVED,
                    now_s,
                    super::alerts::STATUS_OPEN,
                    super::alerts::STATUS_ACKNOWLEDGED
                ],
            )?;
            tx.commit()?;
            Ok(Forgotten { known, whitelist_removed, alerts_resolved })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
