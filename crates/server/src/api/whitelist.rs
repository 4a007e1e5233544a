//! `/v1/agents/whitelist`: agents allowed to report when
//! `require_agent_auth` is on, and their tokens.
//!
//! A token is shown once, when it is issued (create or rotate), and stored
//! only as a hash.

use axum::extract::Path;
use oxmon_storage::management::WhitelistEntry;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AppStateRef;
use super::openapi::{EmptyEnvelope, Envelope};
use super::params::{PageParams, rfc3339};
use super::response::{ApiError, ApiJson, ApiOk, ApiQuery, ApiResult, code};
use crate::agents::AgentStatus;
use crate::grpc::MAX_NAME_BYTES;

#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateBody {
    /// Printable ASCII without spaces, at most 256 bytes (it travels as gRPC
    /// metadata); surrounding spaces are trimmed.
    #[serde(default)]
    #[schema(required = true, pattern = r"^\s*[!-~]{1,256}\s*$")]
    agent_id: String,
    description: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Created {
    id: String,
    agent_id: String,
    token: String,
    created_at: String,
}

/// Whitelist an agent and issue its token (shown only here). 200, as 0.1.
#[utoipa::path(post, path = "/agents/whitelist", tag = "whitelist", request_body = CreateBody,
    security(("bearer_auth" = [])), responses(
        (status = 200, description = "The entry and its token", body = Envelope<Created>),
        (status = 400, description = "Missing or invalid agent_id", body = EmptyEnvelope),
        (status = 409, description = "Already whitelisted", body = EmptyEnvelope)))]
pub async fn create(state: AppStateRef, ApiJson(body): ApiJson<CreateBody>) -> ApiResult {
    let agent_id = body.agent_id.trim().to_owned();
    if agent_id.is_empty() {
        return Err(ApiError::bad_request("agent_id is required"));
    }
    if agent_id.len() > MAX_NAME_BYTES || !agent_id.chars().all(|c| c.is_ascii_graphic()) {
        return Err(ApiError::bad_request(format!(
            "agent_id must be at most {MAX_NAME_BYTES} printable ASCII characters without spaces (it travels as gRPC metadata)"
        )));
    }
    let now = state.clock.now_ms() / 1000;
    let id = agent_id.clone();
    let created = state.management(move |m| m.whitelist_add(&id, body.description.as_deref(), now)).await?;
    let Some((entry, token)) = created else {
        return Err(conflict(format!("Agent '{agent_id}' already exists")));
    };
    Ok(ApiOk::data(Created {
        id: entry.id,
        agent_id: entry.agent_id,
        token,
        created_at: rfc3339(entry.created_at * 1000),
    }))
}

fn conflict(message: String) -> ApiError {
    ApiError::new(axum::http::StatusCode::CONFLICT, code::CONFLICT, message)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Detail {
    id: String,
    agent_id: String,
    created_at: String,
    updated_at: String,
    description: Option<String>,
    /// Never returned after creation; kept for 0.1 clients.
    token: Option<String>,
    last_seen: Option<String>,
    status: &'static str,
}

fn detail(state: &AppStateRef, e: WhitelistEntry) -> Detail {
    let now = state.clock.now_ms();
    let seen = state.agents.get(&e.agent_id);
    Detail {
        last_seen: seen.as_ref().map(|a| rfc3339(a.last_seen_ms)),
        status: seen.map_or(AgentStatus::Unknown, |a| a.status(now)).as_str(),
        created_at: rfc3339(e.created_at * 1000),
        updated_at: rfc3339(e.updated_at * 1000),
        id: e.id,
        agent_id: e.agent_id,
        description: e.description,
        token: None,
    }
}

/// Whitelist entries, newest first. Tokens are never listed.
#[utoipa::path(get, path = "/agents/whitelist", tag = "whitelist", params(PageParams),
    security(("bearer_auth" = [])), responses(
        (status = 200, description = "Entries", body = Envelope<Vec<Detail>>),
        (status = 400, description = "Bad paging parameter", body = EmptyEnvelope)))]
pub async fn list(state: AppStateRef, ApiQuery(q): ApiQuery<PageParams>) -> ApiResult {
    let page = q.page()?;
    let entries = state.management(move |m| m.whitelist(page.limit, page.offset)).await?;
    let items: Vec<Detail> = entries.items.into_iter().map(|e| detail(&state, e)).collect();
    Ok(ApiOk::page(items, entries.total))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdateBody {
    /// Absent or null clears the description (as in 0.1).
    description: Option<String>,
}

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("Agent with id '{id}' not found"))
}

/// Set the description (absent or null clears it, as in 0.1).
#[utoipa::path(put, path = "/agents/whitelist/{id}", tag = "whitelist", request_body = UpdateBody,
    params(("id" = String, Path, description = "Whitelist entry id")), security(("bearer_auth" = [])),
    responses(
        (status = 200, description = "The entry", body = Envelope<Detail>),
        (status = 404, description = "No such entry", body = EmptyEnvelope)))]
pub async fn update(state: AppStateRef, Path(id): Path<String>, ApiJson(body): ApiJson<UpdateBody>) -> ApiResult {
    let now = state.clock.now_ms() / 1000;
    let key = id.clone();
    let entry = state
        .management(move |m| m.whitelist_describe(&key, body.description.as_deref(), now))
        .await?
        .ok_or_else(|| not_found(&id))?;
    Ok(ApiOk::data(detail(&state, entry)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Rotated {
    agent_id: String,
    /// The new token, shown only here.
    token: String,
}

/// Issue a new token; the old one stops working at once.
#[utoipa::path(post, path = "/agents/whitelist/{id}/token", tag = "whitelist",
    params(("id" = String, Path, description = "Whitelist entry id")), security(("bearer_auth" = [])),
    responses(
        (status = 200, description = "The new token", body = Envelope<Rotated>),
        (status = 404, description = "No such entry", body = EmptyEnvelope)))]
pub async fn rotate(state: AppStateRef, Path(id): Path<String>) -> ApiResult {
    let now = state.clock.now_ms() / 1000;
    let key = id.clone();
    let (entry, token) =
        state.management(move |m| m.whitelist_rotate(&key, now)).await?.ok_or_else(|| not_found(&id))?;
    Ok(ApiOk::data(Rotated { agent_id: entry.agent_id, token }))
}

/// Remove an entry, by row id or by agent id (as 0.1). The agent's data and
/// its entry in `/v1/agents` stay; with agent auth on it can no longer report.
#[utoipa::path(delete, path = "/agents/whitelist/{id}", tag = "whitelist",
    params(("id" = String, Path, description = "Whitelist entry id or agent id")), security(("bearer_auth" = [])),
    responses(
        (status = 200, description = "Deleted", body = EmptyEnvelope),
        (status = 404, description = "No such entry", body = EmptyEnvelope)))]
pub async fn delete(state: AppStateRef, Path(id): Path<String>) -> ApiResult {
    let key = id.clone();
    state.management(move |m| m.whitelist_delete(&key)).await?.ok_or_else(|| not_found(&id))?;
    Ok(ApiOk::message("success"))
}
