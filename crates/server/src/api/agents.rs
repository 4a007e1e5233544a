//! `/v1/agents`: every agent that reported, and its latest values.

use axum::extract::Path;
use oxmon_common::metric::{AGENT_METRICS, LEGACY_LOAD_METRICS};
use serde::Serialize;

use utoipa::ToSchema;

use super::AppStateRef;
use super::metrics::{LabelsJson, labels_json};
use super::openapi::{EmptyEnvelope, Envelope};
use super::params::{PageParams, rfc3339};
use super::response::{ApiError, ApiOk, ApiQuery, ApiResult};
use crate::agents::AgentStatus;

/// How far back `/latest` looks.
const LATEST_WINDOW_MS: i64 = 5 * 60 * 1000;

#[derive(Debug, Serialize, ToSchema)]
pub struct AgentItem {
    agent_id: String,
    last_seen: Option<String>,
    status: &'static str,
    /// Added in 0.2.
    first_seen: Option<String>,
    /// Added in 0.2: the reporting interval the server has observed.
    report_interval_secs: Option<f64>,
    /// Added in 0.2.
    whitelisted: bool,
}

/// Agents that reported (whitelisted or not) plus whitelisted agents never
/// seen (`status = unknown`), sorted by id. `active` while the last report
/// is at most three of the agent's own intervals old.
#[utoipa::path(get, path = "/agents", tag = "agents", params(PageParams), security(("bearer_auth" = [])),
    responses(
        (status = 200, description = "Agents", body = Envelope<Vec<AgentItem>>),
        (status = 400, description = "Bad paging parameter", body = EmptyEnvelope)))]
pub async fn list(state: AppStateRef, ApiQuery(q): ApiQuery<PageParams>) -> ApiResult {
    let page = q.page()?;
    let whitelisted = state.management(|m| m.whitelisted_agent_ids()).await?;
    let now = state.clock.now_ms();
    let mut items: Vec<AgentItem> = state
        .agents
        .all()
        .into_iter()
        .map(|a| AgentItem {
            status: a.status(now).as_str(),
            last_seen: Some(rfc3339(a.last_seen_ms)),
            first_seen: Some(rfc3339(a.first_seen_ms)),
            report_interval_secs: a.interval_ms.map(|ms| ms as f64 / 1000.0),
            whitelisted: whitelisted.binary_search(&a.agent_id).is_ok(),
            agent_id: a.agent_id,
        })
        .collect();
    for id in whitelisted {
        if items.iter().all(|i| i.agent_id != id) {
            items.push(AgentItem {
                agent_id: id,
                last_seen: None,
                status: AgentStatus::Unknown.as_str(),
                first_seen: None,
                report_interval_secs: None,
                whitelisted: true,
            });
        }
    }
    items.sort_by(|a, b| a.agent_id.cmp(&b.agent_id));
    let (items, total) = page.of(items);
    Ok(ApiOk::page(items, total))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LatestItem {
    metric_name: String,
    value: f64,
    #[schema(value_type = std::collections::HashMap<String, String>)]
    labels: LabelsJson,
    /// RFC 3339.
    timestamp: String,
}

/// The newest value of each series of the agent within the last five minutes.
#[utoipa::path(get, path = "/agents/{id}/latest", tag = "agents", security(("bearer_auth" = [])),
    params(("id" = String, Path, description = "Agent id")),
    responses(
        (status = 200, description = "Latest values, in the README's metric order", body = Envelope<Vec<LatestItem>>),
        (status = 404, description = "`Agent not found`", body = EmptyEnvelope)))]
pub async fn latest(state: AppStateRef, Path(id): Path<String>) -> ApiResult {
    let known = state.agents.get(&id).is_some() || {
        let wid = id.clone();
        state.management(move |m| Ok(m.whitelisted_agent_ids()?.binary_search(&wid).is_ok())).await?
    };
    if !known {
        return Err(ApiError::not_found("Agent not found"));
    }
    let now = state.clock.now_ms();
    let samples = state
        .read(move |r| {
            let names: Vec<&str> = AGENT_METRICS.iter().chain(LEGACY_LOAD_METRICS).copied().collect();
            r.latest(&id, &names, now - LATEST_WINDOW_MS, now)
        })
        .await?;
    let items: Vec<LatestItem> = samples
        .into_iter()
        .map(|s| LatestItem {
            labels: labels_json(&s.labels),
            timestamp: rfc3339(s.timestamp_ms),
            metric_name: s.metric_name,
            value: s.value,
        })
        .collect();
    Ok(ApiOk::data(items))
}

/// What `DELETE /v1/agents/{id}` removed.
#[derive(Debug, Serialize, ToSchema)]
pub struct ForgottenItem {
    agent_id: String,
    /// Its whitelist entry was deleted: its token no longer works.
    whitelist_removed: bool,
    /// Its open and acknowledged alert events, now resolved.
    alerts_resolved: usize,
}

/// Forget an agent (added in 0.2): it leaves `/v1/agents` and the
/// whitelist (its token stops working), and its open alerts are resolved.
/// Its samples stay until retention removes their days. An agent that
/// reports again (allowed when agent auth is off) is known again.
#[utoipa::path(delete, path = "/agents/{id}", tag = "agents", security(("bearer_auth" = [])),
    params(("id" = String, Path, description = "Agent id")),
    responses(
        (status = 200, description = "Forgotten", body = Envelope<ForgottenItem>),
        (status = 404, description = "`Agent not found`", body = EmptyEnvelope)))]
pub async fn forget(state: AppStateRef, Path(id): Path<String>) -> ApiResult {
    let now_s = state.clock.now_ms() / 1000;
    // Held across memory and database: the periodic flush cannot save this
    // agent's activity again in between.
    let _persisting = state.agents.persisting().await;
    let in_memory = state.agents.forget(&id);
    let key = id.clone();
    let forgotten = state.management(move |m| m.forget_agent(&key, now_s)).await?;
    if !in_memory && !forgotten.known && !forgotten.whitelist_removed {
        return Err(ApiError::not_found("Agent not found"));
    }
    tracing::info!(agent_id = %id, whitelist_removed = forgotten.whitelist_removed,
        alerts_resolved = forgotten.alerts_resolved, "agent forgotten");
    Ok(ApiOk::data(ForgottenItem {
        agent_id: id,
        whitelist_removed: forgotten.whitelist_removed,
        alerts_resolved: forgotten.alerts_resolved,
    }))
}
