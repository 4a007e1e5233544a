//! Alert events: what the engine fired (and recoveries), with their
//! acknowledgement state. Kept in the management database, so metric
//! retention never deletes alert history.

use std::collections::BTreeMap;

use rusqlite::{OptionalExtension, params};

use super::{Management, Page, new_id, paged};
use crate::error::Result;

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS alert_events (
    id                    TEXT PRIMARY KEY,
    rule_id               TEXT NOT NULL,
    rule_name             TEXT NOT NULL,
    agent_id              TEXT NOT NULL,
    metric_name           TEXT NOT NULL,
    severity              TEXT NOT NULL,
    message               TEXT NOT NULL,
    value                 REAL NOT NULL,
    threshold             REAL NOT NULL,
    timestamp_ms          INTEGER NOT NULL,
    predicted_breach_ms   INTEGER,
    status                INTEGER NOT NULL DEFAULT 1,
    labels                TEXT NOT NULL DEFAULT '{}',
    first_triggered_at_ms INTEGER,
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS alert_events_time ON alert_events (timestamp_ms);
CREATE INDEX IF NOT EXISTS alert_events_status ON alert_events (status, timestamp_ms);
";

/// Status codes of the API: 1 open, 2 acknowledged, 3 resolved/recovered.
pub const STATUS_OPEN: i64 = 1;
pub const STATUS_ACKNOWLEDGED: i64 = 2;
pub const STATUS_RESOLVED: i64 = 3;

#[derive(Clone, Debug, PartialEq)]
pub struct AlertEvent {
    pub id: String,
    pub rule_id: String,
    pub rule_name: String,
    pub agent_id: String,
    pub metric_name: String,
    pub severity: String,
    pub message: String,
    pub value: f64,
    pub threshold: f64,
    pub timestamp_ms: i64,
    pub predicted_breach_ms: Option<i64>,
    pub status: i64,
    /// JSON object text.
    pub labels: String,
    pub first_triggered_at_ms: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Filters of [`Management::alert_history`].
#[derive(Clone, Debug, Default)]
pub struct AlertFilter {
    pub agent_id: Option<String>,
    pub severity: Option<String>,
    pub from_ms: i64,
    pub to_ms: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AlertSummary {
    pub total: i64,
    pub by_severity: BTreeMap<String, i64>,
    pub by_rule: BTreeMap<String, i64>,
    pub by_agent: BTreeMap<String, i64>,
    pub by_metric: BTreeMap<String, i64>,
    pub active_count: i64,
    pub recovered_count: i64,
}

/// Result of an acknowledge/resolve.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transition {
    Done,
    NotFound,
    AlreadyResolved,
}

const COLUMNS: &str = "id, rule_id, rule_name, agent_id, metric_name, severity, message, value, threshold, timestamp_ms, predicted_breach_ms, status, labels, first_triggered_at_ms, created_at, updated_at";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AlertEvent> {
    Ok(AlertEvent {
        id: r.get(0)?,
        rule_id: r.get(1)?,
        rule_name: r.get(2)?,
        agent_id: r.get(3)?,
        metric_name: r.get(4)?,
        severity: r.get(5)?,
        message: r.get(6)?,
        value: r.get(7)?,
        threshold: r.get(8)?,
        timestamp_ms: r.get(9)?,
        predicted_breach_ms: r.get(10)?,
        status: r.get(11)?,
        labels: r.get(12)?,
        first_triggered_at_ms: r.get(13)?,
        created_at: r.get(14)?,
        updated_at: r.get(15)?,
    })
}

/// How [`Management::record_alert_events`] stores one event.
#[derive(Clone, Debug, PartialEq)]
pub enum EventWrite {
    /// A new row (a new alert, or a recovery).
    Insert(AlertEvent),
    /// A reminder of an alert still firing: it updates the newest open or
    /// acknowledged event of its series (rule, agent, labels): severity,
    /// message, value, threshold, `timestamp_ms`, `predicted_breach_ms` and
    /// `updated_at` (the last-notified time); id, status, `created_at` and
    /// `first_triggered_at_ms` stay. Inserted when the series has no such
    /// event (it was resolved through the API meanwhile).
    Remind(AlertEvent),
}

impl Management {
    /// Stores events (id and times set here when empty); returns them.
    pub fn insert_alert_events(&self, events: Vec<AlertEvent>, now_s: i64) -> Result<Vec<AlertEvent>> {
        self.record_alert_events(events.into_iter().map(EventWrite::Insert).collect(), now_s)
    }

    /// Stores events in one transaction, in order, and returns them as
    /// stored (a reminder: the updated event, with its id). A recovery
    /// closes its series' open and acknowledged events up to its time.
    pub fn record_alert_events(&self, writes: Vec<EventWrite>, now_s: i64) -> Result<Vec<AlertEvent>> {
        self.record_evaluation(writes, now_s, None)
    }

    /// The alert engine's cursor: every queued sample up to this sequence
    /// number (see `Writer::write_queued`) was evaluated and its events are
    /// stored. 0 before the first evaluation.
    pub fn evaluation_cursor(&self) -> Result<i64> {
        self.with(|c| c.query_row("SELECT coalesce(max(seq), 0) FROM evaluation_cursor", [], |r| r.get(0)))
    }

    /// [`Management::record_alert_events`], moving the evaluation cursor to
    /// `through` (never backwards) in the same transaction, so the events
    /// of a sample are stored exactly when the sample counts as evaluated.
    pub fn record_evaluation(
        &self,
        writes: Vec<EventWrite>,
        now_s: i64,
        through: Option<i64>,
    ) -> Result<Vec<AlertEvent>> {
        self.with(|c| {
            let tx = c.transaction()?;
            if let Some(seq) = through {
                tx.prepare_cached(
                    "INSERT INTO evaluation_cursor (id, seq) VALUES (1, ?1)
                       ON CONFLICT (id) DO UPDATE SET seq = max(seq, excluded.seq)",
                )?
                .execute([seq])?;
            }
            let mut out = Vec::with_capacity(writes.len());
            {
                let mut stmt = tx.prepare_cached(&format!(
                    "INSERT INTO alert_events ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"
                ))?;
                let mut open = tx.prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM alert_events
                      WHERE rule_id = ?1 AND agent_id = ?2 AND labels = ?3 AND status IN (?4, ?5)
                      ORDER BY timestamp_ms DESC, rowid DESC LIMIT 1"
                ))?;
                let mut remind = tx.prepare_cached(
                    "UPDATE alert_events SET severity = ?2, message = ?3, value = ?4, threshold = ?5,
                            timestamp_ms = ?6, predicted_breach_ms = ?7, updated_at = ?8
                      WHERE id = ?1",
                )?;
                for write in writes {
                    let mut e = match write {
                        EventWrite::Insert(e) => e,
                        EventWrite::Remind(e) => {
                            let existing = open
                                .query_row(
                                    params![e.rule_id, e.agent_id, e.labels, STATUS_OPEN, STATUS_ACKNOWLEDGED],
                                    row,
                                )
                                .optional()?;
                            if let Some(existing) = existing {
                                // Out-of-order reminders never move an event back in time.
                                let timestamp_ms = e.timestamp_ms.max(existing.timestamp_ms);
                                remind.execute(params![
                                    existing.id,
                                    e.severity,
                                    e.message,
                                    e.value,
                                    e.threshold,
                                    timestamp_ms,
                                    e.predicted_breach_ms,
                                    now_s
                                ])?;
                                out.push(AlertEvent {
                                    id: existing.id,
                                    status: existing.status,
                                    timestamp_ms,
                                    first_triggered_at_ms: existing.first_triggered_at_ms,
                                    created_at: existing.created_at,
                                    updated_at: now_s,
                                    ..e
                                });
                                continue;
                            }
                            e
                        }
                    };
                    if e.id.is_empty() {
                        e.id = new_id();
                    }
                    e.created_at = now_s;
                    e.updated_at = now_s;
                    stmt.execute(params![
                        e.id,
                        e.rule_id,
                        e.rule_name,
                        e.agent_id,
                        e.metric_name,
                        e.severity,
                        e.message,
                        e.value,
                        e.threshold,
                        e.timestamp_ms,
                        e.predicted_breach_ms,
                        e.status,
                        e.labels,
                        e.first_triggered_at_ms,
                        e.created_at,
                        e.updated_at
                    ])?;
                    out.push(e);
                }
            }
            // A recovery closes the series' earlier open and acknowledged
            // events, so "active" means "still firing".
            {
                let mut close = tx.prepare_cached(
                    "UPDATE alert_events SET status = ?1, updated_at = ?2
                      WHERE rule_id = ?3 AND agent_id = ?4 AND labels = ?5 AND status IN (?6, ?7) AND timestamp_ms <= ?8",
                )?;
                for e in out.iter().filter(|e| e.status == STATUS_RESOLVED) {
                    close.execute(params![
                        STATUS_RESOLVED,
                        now_s,
                        e.rule_id,
                        e.agent_id,
                        e.labels,
                        STATUS_OPEN,
                        STATUS_ACKNOWLEDGED,
                        e.timestamp_ms
                    ])?;
                }
            }
            tx.commit()?;
            Ok(out)
        })
    }

    /// Events in a time range, newest first, paged in SQL.
    pub fn alert_history(&self, f: &AlertFilter, limit: usize, offset: usize) -> Result<Page<AlertEvent>> {
        self.with(|c| {
            paged(
                c,
                &format!(
                    "SELECT {COLUMNS} FROM alert_events
                      WHERE timestamp_ms BETWEEN ?1 AND ?2 AND (?3 IS NULL OR agent_id = ?3) AND (?4 IS NULL OR severity = ?4)
                      ORDER BY timestamp_ms DESC, rowid DESC"
                ),
                params![f.from_ms, f.to_ms, f.agent_id, f.severity],
                limit,
                offset,
                row,
            )
        })
    }

    /// Open or acknowledged events since `since_ms`, newest first.
    pub fn active_alerts(&self, since_ms: i64, limit: usize, offset: usize) -> Result<Page<AlertEvent>> {
        self.with(|c| {
            paged(
                c,
                &format!(
                    "SELECT {COLUMNS} FROM alert_events WHERE status IN (1, 2) AND timestamp_ms >= ?1
                      ORDER BY timestamp_ms DESC, rowid DESC"
                ),
                params![since_ms],
                limit,
                offset,
                row,
            )
        })
    }

    pub fn alert_event(&self, id: &str) -> Result<Option<AlertEvent>> {
        self.with(|c| c.query_row(&format!("SELECT {COLUMNS} FROM alert_events WHERE id = ?1"), [id], row).optional())
    }

    /// Open → acknowledged (acknowledging twice is fine; a resolved event
    /// cannot be acknowledged).
    pub fn acknowledge_alert(&self, id: &str, now_s: i64) -> Result<Transition> {
        self.transition(id, STATUS_ACKNOWLEDGED, now_s)
    }

    /// Any → resolved (idempotent).
    pub fn resolve_alert(&self, id: &str, now_s: i64) -> Result<Transition> {
        self.transition(id, STATUS_RESOLVED, now_s)
    }

    fn transition(&self, id: &str, to: i64, now_s: i64) -> Result<Transition> {
        let Some(event) = self.alert_event(id)? else { return Ok(Transition::NotFound) };
        if event.status == STATUS_RESOLVED && to != STATUS_RESOLVED {
            return Ok(Transition::AlreadyResolved);
        }
        self.with(|c| {
            c.execute("UPDATE alert_events SET status = ?2, updated_at = ?3 WHERE id = ?1", params![id, to, now_s])
        })?;
        Ok(Transition::Done)
    }

    /// Counts of events since `since_ms`.
    pub fn alert_summary(&self, since_ms: i64) -> Result<AlertSummary> {
        self.with(|c| {
            let mut s = AlertSummary::default();
            let mut stmt = c.prepare(
                "SELECT severity, rule_id, agent_id, metric_name, status FROM alert_events WHERE timestamp_ms >= ?1",
            )?;
            let mut rows = stmt.query([since_ms])?;
            while let Some(r) = rows.next()? {
                let (sev, rule, agent, metric, status): (String, String, String, String, i64) =
                    (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?);
                s.total += 1;
                *s.by_severity.entry(sev).or_default() += 1;
                *s.by_rule.entry(rule).or_default() += 1;
                *s.by_agent.entry(agent).or_default() += 1;
                *s.by_metric.entry(metric).or_default() += 1;
                if status == STATUS_RESOLVED {
                    s.recovered_count += 1;
                } else {
                    s.active_count += 1;
                }
            }
            Ok(s)
        })
    }
}

#[cfg(test)]
pub(crate) fn event(rule: &str, agent: &str, severity: &str, ts: i64, status: i64) -> AlertEvent {
    AlertEvent {
        id: String::new(),
        rule_id: rule.into(),
        rule_name: format!("rule {rule}"),
        agent_id: agent.into(),
        metric_name: "cpu.usage".into(),
        severity: severity.into(),
        message: "cpu.usage has been above 90.0".into(),
        value: 95.0,
        threshold: 90.0,
        timestamp_ms: ts,
        predicted_breach_ms: None,
        status,
        labels: "{}".into(),
        first_triggered_at_ms: Some(ts),
        created_at: 0,
        updated_at: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_carries_the_count_of_every_match_whatever_its_bounds() {
        let dir = tempfile::tempdir().unwrap();
        let m = Management::open(dir.path()).unwrap();
        let events = (0..5).map(|i| event("r1", if i < 3 { "a" } else { "b" }, "critical", 1_000 * i, STATUS_OPEN));
        m.insert_alert_events(events.collect(), 5).unwrap();
        let all = AlertFilter { from_ms: 0, to_ms: 10_000, ..Default::default() };
        let only_a = AlertFilter { agent_id: Some("a".into()), ..all.clone() };
        for (filter, limit, offset, len, total) in [
            (&all, 2, 0, 2, 5),
            (&all, 0, 0, 0, 5),
            (&all, 10, 4, 1, 5),
            (&all, 10, 9, 0, 5),
            (&only_a, 2, 0, 2, 3),
            (&only_a, 0, usize::MAX, 0, 3),
        ] {
            let page = m.alert_history(filter, limit, offset).unwrap();
            assert_eq!((page.items.len(), page.total), (len, total), "limit {limit} offset {offset}");
        }
        let page = m.active_alerts(2_000, 1, 0).unwrap();
        assert_eq!((page.len(), page.total), (1, 3), "the count has the page's filter too");
    }

    #[test]
    fn events_are_filtered_paged_acknowledged_and_resolved() {
        let dir = tempfile::tempdir().unwrap();
        let m = Management::open(dir.path()).unwrap();
        let stored = m
            .insert_alert_events(
                vec![
                    event("r1", "a", "critical", 1_000, STATUS_OPEN),
                    event("r1", "b", "warning", 2_000, STATUS_OPEN),
                    event("r2", "a", "critical", 3_000, STATUS_RESOLVED),
                ],
                5,
            )
            .unwrap();
        let all = AlertFilter { from_ms: 0, to_ms: 10_000, ..Default::default() };
        let ts: Vec<i64> = m.alert_history(&all, 10, 0).unwrap().iter().map(|e| e.timestamp_ms).collect();
        assert_eq!(ts, [3_000, 2_000, 1_000]);
        let a_crit = AlertFilter { agent_id: Some("a".into()), severity: Some("critical".into()), ..all.clone() };
        assert_eq!(m.alert_history(&a_crit, 10, 0).unwrap().len(), 2);
        assert_eq!(m.alert_history(&all, 1, 1).unwrap()[0].timestamp_ms, 2_000);
        assert_eq!(m.active_alerts(0, 10, 0).unwrap().len(), 2, "resolved ones are not active");

        let (first, resolved) = (&stored[0].id, &stored[2].id);
        assert_eq!(m.acknowledge_alert(first, 6).unwrap(), Transition::Done);
        assert_eq!(m.alert_event(first).unwrap().unwrap().status, STATUS_ACKNOWLEDGED);
        assert_eq!(m.acknowledge_alert(resolved, 6).unwrap(), Transition::AlreadyResolved);
        assert_eq!(m.resolve_alert(first, 7).unwrap(), Transition::Done);
        assert_eq!(m.resolve_alert(first, 7).unwrap(), Transition::Done, "idempotent");
        assert_eq!(m.resolve_alert("nope", 7).unwrap(), Transition::NotFound);

        let s = m.alert_summary(0).unwrap();
        assert_eq!((s.total, s.active_count, s.recovered_count), (3, 1, 2));
        assert_eq!(s.by_severity["critical"], 2);
        assert_eq!(s.by_rule["r1"], 2);
        assert_eq!(m.alert_summary(2_500).unwrap().total, 1);
    }

    #[test]
    fn a_reminder_updates_the_open_event_of_its_series() {
        let dir = tempfile::tempdir().unwrap();
        let m = Management::open(dir.path()).unwrap();
        let mut other_mount = event("r1", "a", "warning", 1_000, STATUS_OPEN);
        other_mount.labels = r#"{"mount":"/data"}"#.into();
        let stored =
            m.insert_alert_events(vec![event("r1", "a", "warning", 1_000, STATUS_OPEN), other_mount], 5).unwrap();
        m.acknowledge_alert(&stored[0].id, 6).unwrap();

        let mut reminder = event("r1", "a", "critical", 9_000, STATUS_OPEN);
        reminder.value = 99.0;
        reminder.message = "still hot".into();
        reminder.first_triggered_at_ms = Some(1_000);
        let out = m.record_alert_events(vec![EventWrite::Remind(reminder)], 700).unwrap();
        let updated = m.alert_event(&stored[0].id).unwrap().unwrap();
        assert_eq!(out, std::slice::from_ref(&updated), "the stored row is returned");
        assert_eq!(
            (updated.severity.as_str(), updated.message.as_str(), updated.value, updated.timestamp_ms),
            ("critical", "still hot", 99.0, 9_000)
        );
        assert_eq!((updated.status, updated.created_at, updated.updated_at), (STATUS_ACKNOWLEDGED, 5, 700));
        assert_eq!(updated.first_triggered_at_ms, Some(1_000));
        assert_eq!(m.active_alerts(0, 10, 0).unwrap().len(), 2, "one open event per series");
        assert_eq!(m.alert_event(&stored[1].id).unwrap().unwrap(), stored[1], "other series untouched");

        // An older reminder (out of order) does not move the event back in time.
        let late = event("r1", "a", "critical", 8_000, STATUS_OPEN);
        m.record_alert_events(vec![EventWrite::Remind(late)], 701).unwrap();
        assert_eq!(m.alert_event(&stored[0].id).unwrap().unwrap().timestamp_ms, 9_000);

        // Resolved through the API meanwhile: the reminder opens a new event.
        m.resolve_alert(&stored[0].id, 702).unwrap();
        let out =
            m.record_alert_events(vec![EventWrite::Remind(event("r1", "a", "critical", 10_000, STATUS_OPEN))], 703);
        let out = out.unwrap();
        assert_ne!(out[0].id, stored[0].id);
        assert_eq!(m.active_alerts(0, 10, 0).unwrap().len(), 2);
        assert_eq!(m.alert_history(&AlertFilter { to_ms: 20_000, ..Default::default() }, 10, 0).unwrap().len(), 3);
    }

    #[test]
    fn a_recovery_closes_the_open_events_of_its_series_only() {
        let dir = tempfile::tempdir().unwrap();
        let m = Management::open(dir.path()).unwrap();
        let mut other_mount = event("r1", "a", "critical", 1_500, STATUS_OPEN);
        other_mount.labels = r#"{"mount":"/data"}"#.into();
        let stored = m
            .insert_alert_events(
                vec![
                    event("r1", "a", "critical", 1_000, STATUS_OPEN),
                    other_mount,
                    event("r1", "b", "critical", 1_000, STATUS_OPEN),
                    event("r2", "a", "critical", 1_000, STATUS_OPEN),
                ],
                5,
            )
            .unwrap();
        m.acknowledge_alert(&stored[0].id, 6).unwrap();
        m.insert_alert_events(vec![event("r1", "a", "critical", 2_000, STATUS_RESOLVED)], 7).unwrap();
        let status = |i: usize| m.alert_event(&stored[i].id).unwrap().unwrap().status;
        assert_eq!(status(0), STATUS_RESOLVED, "the recovered series");
        assert_eq!((status(1), status(2), status(3)), (STATUS_OPEN, STATUS_OPEN, STATUS_OPEN), "other series");
    }
}
