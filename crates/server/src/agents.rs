//! Which agents report, when they last did, and at what rhythm.
//!
//! Kept in memory for the ingest path and flushed to the management
//! database every few seconds and at shutdown, so `last_seen` survives
//! restarts. An agent's status is judged from its own reporting interval:
//! it is `active` while its last report is at most three intervals old.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use oxmon_storage::management::AgentRecord;

/// Gaps remembered per agent to estimate its interval.
const GAP_HISTORY: usize = 5;

/// Interval assumed before two reports were seen (oxmon 0.1's active
/// window was a fixed 90 s, i.e. three of these).
const DEFAULT_INTERVAL_MS: i64 = 30_000;

/// Reports closer together than this are a backlog being drained, not the
/// agent's rhythm.
const MIN_GAP_MS: i64 = 1_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AgentStatus {
    Active,
    Inactive,
    Unknown,
}

impl AgentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AgentStatus::Active => "active",
            AgentStatus::Inactive => "inactive",
            AgentStatus::Unknown => "unknown",
        }
    }
}

/// A copy of one agent's state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentView {
    pub agent_id: String,
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
    /// Estimated reporting interval; `None` until two reports were seen.
    pub interval_ms: Option<i64>,
}

impl AgentView {
    pub fn status(&self, now_ms: i64) -> AgentStatus {
        let window = 3 * self.interval_ms.unwrap_or(DEFAULT_INTERVAL_MS);
        if now_ms - self.last_seen_ms <= window { AgentStatus::Active } else { AgentStatus::Inactive }
    }
}

#[derive(Debug)]
struct AgentState {
    first_seen_ms: i64,
    last_seen_ms: i64,
    gaps: VecDeque<i64>,
    interval_ms: Option<i64>,
    dirty: bool,
}

#[derive(Debug, Default)]
pub struct AgentRegistry {
    agents: Mutex<HashMap<String, AgentState>>,
    /// Held while dirty records are saved and while an agent is forgotten,
    /// so a flush cannot save a forgotten agent's row again.
    persisting: tokio::sync::Mutex<()>,
}

impl AgentRegistry {
    pub fn from_records(records: Vec<AgentRecord>) -> Self {
        let agents = records
            .into_iter()
            .map(|r| {
                let state = AgentState {
                    first_seen_ms: r.first_seen_ms,
                    last_seen_ms: r.last_seen_ms,
                    gaps: r.report_interval_ms.into_iter().collect(),
                    interval_ms: r.report_interval_ms,
                    dirty: false,
                };
                (r.agent_id, state)
            })
            .collect();
        Self { agents: Mutex::new(agents), persisting: tokio::sync::Mutex::new(()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, AgentState>> {
        self.agents.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records a report from `agent_id` at `now_ms`.
    pub fn touch(&self, agent_id: &str, now_ms: i64) {
        let mut agents = self.lock();
        match agents.get_mut(agent_id) {
            Some(a) => {
                let gap = now_ms - a.last_seen_ms;
                if gap >= MIN_GAP_MS {
                    if a.gaps.len() == GAP_HISTORY {
                        a.gaps.pop_front();
                    }
                    a.gaps.push_back(gap);
                    a.interval_ms = median(&a.gaps);
                }
                a.last_seen_ms = a.last_seen_ms.max(now_ms);
                a.dirty = true;
            }
            None => {
                let state = AgentState {
                    first_seen_ms: now_ms,
                    last_seen_ms: now_ms,
                    gaps: VecDeque::new(),
                    interval_ms: None,
                    dirty: true,
                };
                agents.insert(agent_id.to_owned(), state);
            }
        }
    }

    pub fn get(&self, agent_id: &str) -> Option<AgentView> {
        self.lock().get(agent_id).map(|a| view(agent_id, a))
    }

    /// Every agent, sorted by id.
    pub fn all(&self) -> Vec<AgentView> {
        let mut v: Vec<AgentView> = self.lock().iter().map(|(id, a)| view(id, a)).collect();
        v.sort_by(|a, b| a.agent_id.cmp(&b.agent_id));
        v
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Agents changed since the last call, as records to persist.
    pub fn take_dirty(&self) -> Vec<AgentRecord> {
        let mut agents = self.lock();
        agents
            .iter_mut()
            .filter(|(_, a)| a.dirty)
            .map(|(id, a)| {
                a.dirty = false;
                AgentRecord {
                    agent_id: id.clone(),
                    first_seen_ms: a.first_seen_ms,
                    last_seen_ms: a.last_seen_ms,
                    report_interval_ms: a.interval_ms,
                }
            })
            .collect()
    }

    /// Held across taking dirty records and saving them, and across
    /// forgetting an agent (memory and database).
    pub async fn persisting(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.persisting.lock().await
    }

    /// Removes `agent_id` from memory; whether it was there. A report from
    /// it afterwards makes it known again.
    pub fn forget(&self, agent_id: &str) -> bool {
        self.lock().remove(agent_id).is_some()
    }

    /// Marks records as unsaved again after a failed flush.
    pub fn mark_dirty(&self, records: &[AgentRecord]) {
        let mut agents = self.lock();
        for r in records {
            if let Some(a) = agents.get_mut(&r.agent_id) {
                a.dirty = true;
            }
        }
    }
}

fn view(id: &str, a: &AgentState) -> AgentView {
    AgentView {
        agent_id: id.to_owned(),
        first_seen_ms: a.first_seen_ms,
        last_seen_ms: a.last_seen_ms,
        interval_ms: a.interval_ms,
    }
}

fn median(gaps: &VecDeque<i64>) -> Option<i64> {
    let mut v: Vec<i64> = gaps.iter().copied().collect();
    v.sort_unstable();
    v.get(v.len() / 2).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_follows_the_agents_own_interval() {
        let r = AgentRegistry::default();
        for t in [0, 10_000, 20_000, 30_000] {
            r.touch("a", t);
        }
        let a = r.get("a").unwrap();
        assert_eq!(a.interval_ms, Some(10_000));
        assert_eq!(a.status(60_000), AgentStatus::Active);
        assert_eq!(a.status(60_001), AgentStatus::Inactive);
    }

    #[test]
    fn one_long_outage_does_not_stretch_the_interval() {
        let r = AgentRegistry::default();
        for t in [0, 10_000, 20_000, 3_620_000, 3_630_000] {
            r.touch("a", t);
        }
        assert_eq!(r.get("a").unwrap().interval_ms, Some(10_000));
    }

    #[test]
    fn backlog_bursts_are_not_mistaken_for_the_interval() {
        let r = AgentRegistry::default();
        for t in [0, 10_000, 10_050, 10_100, 20_000] {
            r.touch("a", t);
        }
        assert_eq!(r.get("a").unwrap().interval_ms, Some(10_000));
    }

    #[test]
    fn agents_seen_once_use_the_default_window() {
        let r = AgentRegistry::default();
        r.touch("a", 0);
        assert_eq!(r.get("a").unwrap().status(90_000), AgentStatus::Active);
        assert_eq!(r.get("a").unwrap().status(90_001), AgentStatus::Inactive);
    }

    #[test]
    fn only_changed_agents_are_flushed() {
        let r = AgentRegistry::default();
        r.touch("a", 0);
        r.touch("b", 0);
        assert_eq!(r.take_dirty().len(), 2);
        assert!(r.take_dirty().is_empty());
        r.touch("a", 5_000);
        let dirty = r.take_dirty();
        assert_eq!(dirty.len(), 1);
        assert_eq!(dirty[0].last_seen_ms, 5_000);
    }
}
