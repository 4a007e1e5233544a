//! `/v1/alerts`: alert history, active alerts, acknowledge/resolve and a
//! summary. Events are written by the alert engine.

use std::collections::BTreeMap;

use axum::extract::Path;
use axum::http::StatusCode;
use oxmon_storage::management::{AlertEvent, AlertFilter, Transition};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppStateRef;
use super::metrics::LabelsJson;
use super::openapi::{EmptyEnvelope, Envelope};
use super::params::{PageParams, TimeRange, rfc3339};
use super::response::{ApiError, ApiOk, ApiQuery, ApiResult, code};

const DAY_MS: i64 = 86_400_000;

/// Full event (as `/active` returns it).
#[derive(Debug, Serialize, ToSchema)]
pub struct EventItem {
    id: String,
    rule_id: String,
    rule_name: String,
    agent_id: String,
    metric_name: String,
    severity: String,
    message: String,
    value: f64,
    threshold: f64,
    timestamp: String,
    predicted_breach: Option<String>,
    /// 1 open, 2 acknowledged, 3 resolved/recovered.
    status: i64,
    #[schema(value_type = std::collections::HashMap<String, String>)]
    labels: LabelsJson,
    first_triggered_at: Option<String>,
    created_at: String,
    updated_at: String,
}

impl From<AlertEvent> for EventItem {
    fn from(e: AlertEvent) -> Self {
        Self {
            labels: serde_json::from_str(&e.labels).unwrap_or_default(),
            timestamp: rfc3339(e.timestamp_ms),
            predicted_breach: e.predicted_breach_ms.map(rfc3339),
            first_triggered_at: e.first_triggered_at_ms.map(rfc3339),
            created_at: rfc3339(e.created_at * 1000),
            updated_at: rfc3339(e.updated_at * 1000),
            id: e.id,
            rule_id: e.rule_id,
            rule_name: e.rule_name,
            agent_id: e.agent_id,
            metric_name: e.metric_name,
            severity: e.severity,
            message: e.message,
            value: e.value,
            threshold: e.threshold,
            status: e.status,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryParams {
    #[serde(rename = "agent_id__eq")]
    #[param(rename = "agent_id__eq")]
    agent_id: Option<String>,
    /// `info`, `warning` or `critical` (any case).
    #[serde(rename = "severity__eq")]
    #[param(
        rename = "severity__eq",
        pattern = "^([Ii][Nn][Ff][Oo]|[Ww][Aa][Rr][Nn][Ii][Nn][Gg]|[Cc][Rr][Ii][Tt][Ii][Cc][Aa][Ll])?$"
    )]
    severity: Option<String>,
}

/// Alert events in a range (default: the last day), newest first. Items
/// are full events (0.1 returned a subset of these fields).
#[utoipa::path(get, path = "/alerts/history", tag = "alerts", params(HistoryParams, TimeRange, PageParams),
    security(("bearer_auth" = [])), responses(
        (status = 200, description = "Events", body = Envelope<Vec<EventItem>>),
        (status = 400, description = "Bad parameter", body = EmptyEnvelope)))]
pub async fn history(
    state: AppStateRef,
    ApiQuery(q): ApiQuery<HistoryParams>,
    ApiQuery(range): ApiQuery<TimeRange>,
    ApiQuery(p): ApiQuery<PageParams>,
) -> ApiResult {
    let page = p.page()?;
    if let Some(sev) = q.severity.as_deref().filter(|s| !s.is_empty()) {
        sev.parse::<oxmon_common::rule::Severity>().map_err(ApiError::bad_request)?;
    }
    let (from_ms, to_ms) = range.resolve(state.clock.now_ms(), DAY_MS)?;
    let filter = AlertFilter {
        agent_id: q.agent_id.filter(|s| !s.is_empty()),
        severity: q.severity.filter(|s| !s.is_empty()).map(|s| s.to_ascii_lowercase()),
        from_ms,
        to_ms,
    };
    let events = state.management(move |m| m.alert_history(&filter, page.limit, page.offset)).await?;
    Ok(ApiOk::page(events.items.into_iter().map(EventItem::from).collect::<Vec<_>>(), events.total))
}

/// Open and acknowledged alerts of the last 7 days, newest first.
#[utoipa::path(get, path = "/alerts/active", tag = "alerts", params(PageParams), security(("bearer_auth" = [])),
    responses(
        (status = 200, description = "Active alerts", body = Envelope<Vec<EventItem>>)))]
pub async fn active(state: AppStateRef, ApiQuery(p): ApiQuery<PageParams>) -> ApiResult {
    let page = p.page()?;
    let since = state.clock.now_ms() - 7 * DAY_MS;
    let events = state.management(move |m| m.active_alerts(since, page.limit, page.offset)).await?;
    Ok(ApiOk::page(events.items.into_iter().map(EventItem::from).collect::<Vec<_>>(), events.total))
}

async fn transition(state: AppStateRef, id: String, resolve: bool, done: &str) -> ApiResult {
    let now = state.clock.now_ms() / 1000;
    let t = state
        .management(move |m| if resolve { m.resolve_alert(&id, now) } else { m.acknowledge_alert(&id, now) })
        .await?;
    match t {
        Transition::Done => Ok(ApiOk::message(done)),
        Transition::NotFound => Err(ApiError::not_found("Alert not found")),
        Transition::AlreadyResolved => {
            Err(ApiError::new(StatusCode::CONFLICT, code::CONFLICT, "the alert is already resolved"))
        }
    }
}

/// Acknowledge an alert (not a resolved one).
#[utoipa::path(post, path = "/alerts/history/{id}/acknowledge", tag = "alerts", security(("bearer_auth" = [])),
    params(("id" = String, Path, description = "Event id")), responses(
        (status = 200, description = "`Alert acknowledged`", body = EmptyEnvelope),
        (status = 404, description = "`Alert not found`", body = EmptyEnvelope),
        (status = 409, description = "The alert is already resolved", body = EmptyEnvelope)))]
pub async fn acknowledge(state: AppStateRef, Path(id): Path<String>) -> ApiResult {
    transition(state, id, false, "Alert acknowledged").await
}

/// Resolve an alert (idempotent).
#[utoipa::path(post, path = "/alerts/history/{id}/resolve", tag = "alerts", security(("bearer_auth" = [])),
    params(("id" = String, Path, description = "Event id")), responses(
        (status = 200, description = "`Alert resolved`", body = EmptyEnvelope),
        (status = 404, description = "`Alert not found`", body = EmptyEnvelope)))]
pub async fn resolve(state: AppStateRef, Path(id): Path<String>) -> ApiResult {
    transition(state, id, true, "Alert resolved").await
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SummaryParams {
    /// Hours to look back (default 24).
    #[param(value_type = Option<i32>, minimum = 1, maximum = 8760)]
    hours: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AlertSummaryData {
    total: i64,
    by_severity: BTreeMap<String, i64>,
    by_rule: BTreeMap<String, i64>,
    by_agent: BTreeMap<String, i64>,
    by_metric: BTreeMap<String, i64>,
    /// Open or acknowledged.
    active_count: i64,
    /// Resolved or recovered.
    recovered_count: i64,
}

/// Counts of alert events in the last `hours`.
#[utoipa::path(get, path = "/alerts/summary", tag = "alerts", params(SummaryParams), security(("bearer_auth" = [])),
    responses(
        (status = 200, description = "Summary", body = Envelope<AlertSummaryData>),
        (status = 400, description = "Bad `hours`", body = EmptyEnvelope)))]
pub async fn summary(state: AppStateRef, ApiQuery(q): ApiQuery<SummaryParams>) -> ApiResult {
    let hours = match q.hours.as_deref().map(str::trim).filter(|h| !h.is_empty()) {
        None => 24,
        Some(h) => h
            .parse::<i64>()
            .ok()
            .filter(|h| (1..=8760).contains(h))
            .ok_or_else(|| ApiError::bad_request(format!("hours must be an integer from 1 to 8760, got {h:?}")))?,
    };
    let since = state.clock.now_ms() - hours * 3_600_000;
    let s = state.management(move |m| m.alert_summary(since)).await?;
    Ok(ApiOk::data(AlertSummaryData {
        total: s.total,
        by_severity: s.by_severity,
        by_rule: s.by_rule,
        by_agent: s.by_agent,
        by_metric: s.by_metric,
        active_count: s.active_count,
        recovered_count: s.recovered_count,
    }))
}
