//! `/v1/notifications/logs`: what was sent, to whom, and how it went.

use oxmon_storage::management::{LogFilter, NotificationLogRecord};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppStateRef;
use super::openapi::{EmptyEnvelope, Envelope};
use super::params::{PageParams, rfc3339};
use super::response::{ApiError, ApiOk, ApiQuery, ApiResult};

/// Exact-match filters; times are Unix seconds, inclusive, on `created_at`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogParams {
    channel_id: Option<String>,
    channel_type: Option<String>,
    /// `success` or `failed`.
    #[param(pattern = "^(success|failed)?$")]
    status: Option<String>,
    alert_event_id: Option<String>,
    rule_id: Option<String>,
    agent_id: Option<String>,
    /// Unix seconds, inclusive.
    #[param(value_type = Option<i64>)]
    start_time: Option<String>,
    /// Unix seconds, inclusive.
    #[param(value_type = Option<i64>)]
    end_time: Option<String>,
}

/// The filters `logs/summary` takes.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SummaryParams {
    channel_id: Option<String>,
    channel_type: Option<String>,
    /// Unix seconds, inclusive.
    #[param(value_type = Option<i64>)]
    start_time: Option<String>,
    /// Unix seconds, inclusive.
    #[param(value_type = Option<i64>)]
    end_time: Option<String>,
}

fn seconds(name: &str, raw: Option<&str>) -> Result<Option<i64>, ApiError> {
    let Some(raw) = raw.map(str::trim) else { return Ok(None) };
    raw.parse::<i64>()
        .map(|s| Some(s.saturating_mul(1000)))
        .map_err(|_| ApiError::bad_request(format!("{name} must be Unix seconds (an integer), got {raw:?}")))
}

fn end_seconds(raw: Option<&str>) -> Result<Option<i64>, ApiError> {
    // Inclusive to the end of that second.
    Ok(seconds("end_time", raw)?.map(|ms| ms.saturating_add(999)))
}

fn nonempty(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LogItem {
    id: String,
    alert_event_id: String,
    rule_id: String,
    rule_name: String,
    agent_id: String,
    channel_id: String,
    channel_name: String,
    channel_type: String,
    /// `success` (every recipient got it) or `failed`.
    status: String,
    error_message: Option<String>,
    duration_ms: i64,
    recipient_count: i64,
    severity: String,
    created_at: String,
    http_status_code: Option<i64>,
    response_body: Option<String>,
    /// The payload sent, secrets redacted, truncated to 4000 bytes.
    request_body: Option<String>,
    retry_count: i64,
    /// JSON array of `{recipient, status, error?}`, encoded as a string.
    recipient_details: Option<String>,
    api_message_id: Option<String>,
    api_error_code: Option<String>,
}

impl From<NotificationLogRecord> for LogItem {
    fn from(l: NotificationLogRecord) -> Self {
        Self {
            created_at: rfc3339(l.created_at_ms),
            id: l.id,
            alert_event_id: l.alert_event_id,
            rule_id: l.rule_id,
            rule_name: l.rule_name,
            agent_id: l.agent_id,
            channel_id: l.channel_id,
            channel_name: l.channel_name,
            channel_type: l.channel_type,
            status: l.status,
            error_message: l.error_message,
            duration_ms: l.duration_ms,
            recipient_count: l.recipient_count,
            severity: l.severity,
            http_status_code: l.http_status_code,
            response_body: l.response_body,
            request_body: l.request_body,
            retry_count: l.retry_count,
            recipient_details: l.recipient_details,
            api_message_id: l.api_message_id,
            api_error_code: l.api_error_code,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LogPage {
    items: Vec<LogItem>,
    total: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LogCounts {
    total: i64,
    success: i64,
    failed: i64,
}

/// Notification logs, newest first, with the total matching.
#[utoipa::path(get, path = "/notifications/logs", tag = "notification-logs", params(LogParams, PageParams),
    security(("bearer_auth" = [])), responses(
        (status = 200, description = "A page of logs", body = Envelope<LogPage>),
        (status = 400, description = "Bad filter or paging parameter", body = EmptyEnvelope)))]
pub async fn list(
    state: AppStateRef,
    ApiQuery(q): ApiQuery<LogParams>,
    ApiQuery(p): ApiQuery<PageParams>,
) -> ApiResult {
    let page = p.page()?;
    if let Some(s) = q.status.as_deref().filter(|s| !matches!(*s, "success" | "failed" | "")) {
        return Err(ApiError::bad_request(format!("status must be success or failed, got {s:?}")));
    }
    let filter = LogFilter {
        from_ms: seconds("start_time", q.start_time.as_deref())?,
        to_ms: end_seconds(q.end_time.as_deref())?,
        channel_id: nonempty(q.channel_id),
        channel_type: nonempty(q.channel_type),
        status: nonempty(q.status),
        alert_event_id: nonempty(q.alert_event_id),
        rule_id: nonempty(q.rule_id),
        agent_id: nonempty(q.agent_id),
    };
    let (items, total) = state.management(move |m| m.notification_logs(&filter, page.limit, page.offset)).await?;
    Ok(ApiOk::page(LogPage { items: items.into_iter().map(LogItem::from).collect(), total }, total.unsigned_abs()))
}

/// Counts of sends by outcome.
#[utoipa::path(get, path = "/notifications/logs/summary", tag = "notification-logs", params(SummaryParams),
    security(("bearer_auth" = [])), responses(
        (status = 200, description = "Counts", body = Envelope<LogCounts>),
        (status = 400, description = "Bad filter", body = EmptyEnvelope)))]
pub async fn summary(state: AppStateRef, ApiQuery(q): ApiQuery<SummaryParams>) -> ApiResult {
    let filter = LogFilter {
        from_ms: seconds("start_time", q.start_time.as_deref())?,
        to_ms: end_seconds(q.end_time.as_deref())?,
        channel_id: nonempty(q.channel_id),
        channel_type: nonempty(q.channel_type),
        ..Default::default()
    };
    let s = state.management(move |m| m.notification_log_summary(&filter)).await?;
    Ok(ApiOk::data(LogCounts { total: s.total, success: s.success, failed: s.failed }))
}
