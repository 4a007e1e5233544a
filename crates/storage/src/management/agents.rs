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
