//! Notification logs: one row per channel per sent alert, with the outcome
//! for every recipient. Pruned by age (runtime setting
//! `notification_log_retention`).

use rusqlite::{ToSql, params};

use super::{Management, new_id, paged};
use crate::error::Result;

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS notification_logs (
    id                TEXT PRIMARY KEY,
    alert_event_id    TEXT NOT NULL,
    rule_id           TEXT NOT NULL,
    rule_name         TEXT NOT NULL,
    agent_id          TEXT NOT NULL,
    channel_id        TEXT NOT NULL,
    channel_name      TEXT NOT NULL,
    channel_type      TEXT NOT NULL,
    status            TEXT NOT NULL,
    error_message     TEXT,
    duration_ms       INTEGER NOT NULL,
    recipient_count   INTEGER NOT NULL,
    severity          TEXT NOT NULL,
    created_at_ms     INTEGER NOT NULL,
    http_status_code  INTEGER,
    response_body     TEXT,
    request_body      TEXT,
    retry_count       INTEGER NOT NULL DEFAULT 0,
    recipient_details TEXT,
    api_message_id    TEXT,
    api_error_code    TEXT
);
CREATE INDEX IF NOT EXISTS notification_logs_time ON notification_logs (created_at_ms);
CREATE INDEX IF NOT EXISTS notification_logs_channel ON notification_logs (channel_id, created_at_ms);
CREATE INDEX IF NOT EXISTS notification_logs_event ON notification_logs (alert_event_id);
";

/// Outcome of one send, as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct NotificationLogRecord {
    pub id: String,
    pub alert_event_id: String,
    pub rule_id: String,
    pub rule_name: String,
    pub agent_id: String,
    pub channel_id: String,
    pub channel_name: String,
    pub channel_type: String,
    /// `success` or `failed`.
    pub status: String,
    pub error_message: Option<String>,
    pub duration_ms: i64,
    pub recipient_count: i64,
    pub severity: String,
    pub created_at_ms: i64,
    pub http_status_code: Option<i64>,
    pub response_body: Option<String>,
    pub request_body: Option<String>,
    pub retry_count: i64,
    /// JSON array of `{recipient, status, error?}`.
    pub recipient_details: Option<String>,
    pub api_message_id: Option<String>,
    pub api_error_code: Option<String>,
}

/// Exact-match filters of the log list and summary; times are inclusive
/// bounds in ms.
#[derive(Clone, Debug, Default)]
pub struct LogFilter {
    pub channel_id: Option<String>,
    pub channel_type: Option<String>,
    pub status: Option<String>,
    pub alert_event_id: Option<String>,
    pub rule_id: Option<String>,
    pub agent_id: Option<String>,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
}

impl LogFilter {
    fn sql(&self) -> (String, Vec<&dyn ToSql>) {
        let mut clauses = Vec::new();
        let mut args: Vec<&dyn ToSql> = Vec::new();
        for (column, value) in [
            ("channel_id", &self.channel_id),
            ("channel_type", &self.channel_type),
            ("status", &self.status),
            ("alert_event_id", &self.alert_event_id),
            ("rule_id", &self.rule_id),
            ("agent_id", &self.agent_id),
        ] {
            if let Some(v) = value {
                args.push(v);
                clauses.push(format!("{column} = ?{}", args.len()));
            }
        }
        if let Some(from) = &self.from_ms {
            args.push(from);
            clauses.push(format!("created_at_ms >= ?{}", args.len()));
        }
        if let Some(to) = &self.to_ms {
            args.push(to);
            clauses.push(format!("created_at_ms <= ?{}", args.len()));
        }
        let filter = if clauses.is_empty() { String::new() } else { format!("WHERE {}", clauses.join(" AND ")) };
        (filter, args)
    }
}

/// Counts of [`Management::notification_log_summary`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LogSummary {
    pub total: i64,
    pub success: i64,
    pub failed: i64,
}

const COLUMNS: &str = "id, alert_event_id, rule_id, rule_name, agent_id, channel_id, channel_name, channel_type, status, error_message, duration_ms, recipient_count, severity, created_at_ms, http_status_code, response_body, request_body, retry_count, recipient_details, api_message_id, api_error_code";

fn log_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<NotificationLogRecord> {
    Ok(NotificationLogRecord {
        id: r.get(0)?,
        alert_event_id: r.get(1)?,
        rule_id: r.get(2)?,
        rule_name: r.get(3)?,
        agent_id: r.get(4)?,
        channel_id: r.get(5)?,
        channel_name: r.get(6)?,
        channel_type: r.get(7)?,
        status: r.get(8)?,
        error_message: r.get(9)?,
        duration_ms: r.get(10)?,
        recipient_count: r.get(11)?,
        severity: r.get(12)?,
        created_at_ms: r.get(13)?,
        http_status_code: r.get(14)?,
        response_body: r.get(15)?,
        request_body: r.get(16)?,
        retry_count: r.get(17)?,
        recipient_details: r.get(18)?,
        api_message_id: r.get(19)?,
        api_error_code: r.get(20)?,
    })
}

impl Management {
    /// Stores one log row (its id is set here when empty).
    pub fn insert_notification_log(&self, mut log: NotificationLogRecord) -> Result<NotificationLogRecord> {
        if log.id.is_empty() {
            log.id = new_id();
        }
        self.with(|c| {
            c.prepare_cached(&format!(
                "INSERT INTO notification_logs ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21)"
            ))?
            .execute(params![
                log.id,
                log.alert_event_id,
                log.rule_id,
                log.rule_name,
                log.agent_id,
                log.channel_id,
                log.channel_name,
                log.channel_type,
                log.status,
                log.error_message,
                log.duration_ms,
                log.recipient_count,
                log.severity,
                log.created_at_ms,
                log.http_status_code,
                log.response_body,
                log.request_body,
                log.retry_count,
                log.recipient_details,
                log.api_message_id,
                log.api_error_code
            ])
        })?;
        Ok(log)
    }

    /// Matching logs, newest first, paged in SQL, with the total count.
    pub fn notification_logs(
        &self,
        filter: &LogFilter,
        limit: usize,
        offset: usize,
    ) -> Result<(Vec<NotificationLogRecord>, i64)> {
        let (clause, args) = filter.sql();
        let query = format!("SELECT {COLUMNS} FROM notification_logs {clause} ORDER BY created_at_ms DESC, rowid DESC");
        let page = self.with(|c| paged(c, &query, &args, limit, offset, log_row))?;
        Ok((page.items, i64::try_from(page.total).unwrap_or(i64::MAX)))
    }

    pub fn notification_log_summary(&self, filter: &LogFilter) -> Result<LogSummary> {
        let (clause, args) = filter.sql();
        self.with(|c| {
            c.query_row(
                &format!("SELECT COUNT(*), COALESCE(SUM(status = 'success'), 0) FROM notification_logs {clause}"),
                args.as_slice(),
                |r| {
                    let (total, success): (i64, i64) = (r.get(0)?, r.get(1)?);
                    Ok(LogSummary { total, success, failed: total - success })
                },
            )
        })
    }

    /// Deletes logs created before `before_ms`; returns how many.
    pub fn prune_notification_logs(&self, before_ms: i64) -> Result<usize> {
        self.with(|c| c.execute("DELETE FROM notification_logs WHERE created_at_ms < ?1", [before_ms]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(channel: &str, status: &str, at: i64) -> NotificationLogRecord {
        NotificationLogRecord {
            id: String::new(),
            alert_event_id: format!("ev-{at}"),
            rule_id: "r1".into(),
            rule_name: "cpu".into(),
            agent_id: "web-1".into(),
            channel_id: channel.into(),
            channel_name: format!("{channel} name"),
            channel_type: "webhook".into(),
            status: status.into(),
            error_message: (status == "failed").then(|| "HTTP 500".into()),
            duration_ms: 12,
            recipient_count: 1,
            severity: "critical".into(),
            created_at_ms: at,
            http_status_code: Some(200),
            response_body: None,
            request_body: Some("{}".into()),
            retry_count: 0,
            recipient_details: Some("[]".into()),
            api_message_id: None,
            api_error_code: None,
        }
    }

    #[test]
    fn logs_filter_page_summarise_and_prune() {
        let dir = tempfile::tempdir().unwrap();
        let m = Management::open(dir.path()).unwrap();
        for (i, (ch, st)) in [("a", "success"), ("a", "failed"), ("b", "success"), ("a", "success")].iter().enumerate()
        {
            m.insert_notification_log(log(ch, st, 1000 * (i as i64 + 1))).unwrap();
        }
        let a = LogFilter { channel_id: Some("a".into()), ..Default::default() };
        let (items, total) = m.notification_logs(&a, 2, 0).unwrap();
        assert_eq!(total, 3);
        assert_eq!(items.iter().map(|l| l.created_at_ms).collect::<Vec<_>>(), [4000, 2000], "newest first");
        let (items, _) = m.notification_logs(&a, 2, 2).unwrap();
        assert_eq!(items[0].created_at_ms, 1000);
        assert_eq!(m.notification_log_summary(&a).unwrap(), LogSummary { total: 3, success: 2, failed: 1 });
        let window = LogFilter { from_ms: Some(2000), to_ms: Some(3000), ..Default::default() };
        assert_eq!(m.notification_logs(&window, 10, 0).unwrap().1, 2, "bounds are inclusive");
        let failed = LogFilter { status: Some("failed".into()), ..Default::default() };
        assert_eq!(m.notification_logs(&failed, 10, 0).unwrap().0[0].error_message.as_deref(), Some("HTTP 500"));
        assert_eq!(m.prune_notification_logs(2500).unwrap(), 2);
        assert_eq!(m.notification_log_summary(&LogFilter::default()).unwrap().total, 2);
    }
}
