//! `/v1/alerts/rules`: alert rules.
//!
//! Shapes follow oxmon 0.1 (`config_json` is a JSON document encoded as a
//! string; an object is accepted too). Unlike 0.1, every write is validated
//! (type, config, severity, glob, metric) so a stored rule always works, a
//! duplicate name is 409 on update as on create, and rules owned by a
//! Kubernetes custom resource (`source = crd`) cannot be changed here.

use axum::Extension;
use axum::extract::Path;
use axum::http::StatusCode;
use oxmon_storage::management::{RuleRecord, Write};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AppStateRef;
use super::auth::Caller;
use super::openapi::{EmptyEnvelope, Envelope};
use super::ownership;
use super::params::{PageParams, rfc3339};
use super::response::{ApiError, ApiJson, ApiOk, ApiQuery, ApiResult, code};

#[derive(Debug, Serialize, ToSchema)]
pub struct RuleSummary {
    id: String,
    name: String,
    rule_type: String,
    metric: String,
    agent_pattern: String,
    severity: String,
    enabled: bool,
    /// `api`, `seed` or `crd` (added in 0.2).
    source: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RuleDetail {
    id: String,
    name: String,
    rule_type: String,
    metric: String,
    agent_pattern: String,
    severity: String,
    enabled: bool,
    /// The rule's configuration, a JSON object encoded as a string.
    config_json: String,
    silence_secs: i64,
    source: String,
    created_at: String,
    updated_at: String,
}

impl From<RuleRecord> for RuleDetail {
    fn from(r: RuleRecord) -> Self {
        Self {
            created_at: rfc3339(r.created_at * 1000),
            updated_at: rfc3339(r.updated_at * 1000),
            id: r.id,
            name: r.name,
            rule_type: r.rule_type,
            metric: r.metric,
            agent_pattern: r.agent_pattern,
            severity: r.severity,
            enabled: r.enabled,
            config_json: r.config_json,
            silence_secs: r.silence_secs,
            source: r.source,
        }
    }
}

/// Body of `POST /v1/alerts/rules`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateRule {
    name: String,
    /// `threshold`, `rate_of_change`, `trend_prediction` or `cert_expiration`;
    /// `trend` (the spelling in oxmon 0.1's `rule_type` dictionary) means
    /// `trend_prediction`. Case and surrounding spaces do not matter.
    rule_type: String,
    /// Required except for `cert_expiration`.
    #[serde(default)]
    metric: String,
    /// Glob over agent ids (`*`, `?`, `[...]`, `{a,b}`); default `*`.
    agent_pattern: Option<String>,
    /// `info` (default), `warning` or `critical`.
    severity: Option<String>,
    enabled: Option<bool>,
    /// The type's configuration: a JSON object, or that object encoded as a string.
    #[schema(value_type = Object)]
    config_json: Option<serde_json::Value>,
    /// Minimum gap between two alerts of the same series (default 600).
    silence_secs: Option<i64>,
}

/// Body of `PUT /v1/alerts/rules/{id}`: any subset; `rule_type` cannot
/// change. Read-only fields of a rule (as returned by GET) are accepted and
/// ignored, so a fetched rule can be sent back.
#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdateRule {
    name: Option<String>,
    metric: Option<String>,
    agent_pattern: Option<String>,
    severity: Option<String>,
    enabled: Option<bool>,
    #[schema(value_type = Option<Object>)]
    config_json: Option<serde_json::Value>,
    silence_secs: Option<i64>,
    /// Must equal the rule's type when given.
    rule_type: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct EnableBody {
    enabled: bool,
}

fn not_found() -> ApiError {
    ApiError::not_found("Rule not found")
}

/// Spellings of `rule_type` that oxmon 0.1 accepted, and what they mean.
pub const RULE_TYPE_ALIASES: &[(&str, &str)] = &[("trend", "trend_prediction")];

/// `rule_type` as stored: trimmed, lowercase, aliases resolved.
pub fn canonical_rule_type(raw: &str) -> String {
    let t = raw.trim().to_ascii_lowercase();
    RULE_TYPE_ALIASES.iter().find(|(alias, _)| *alias == t).map_or(t, |(_, canonical)| (*canonical).to_owned())
}

fn name_taken() -> ApiError {
    ApiError::new(StatusCode::CONFLICT, code::CONFLICT, "Rule name already exists")
}

/// `config_json` as 0.1 sent it (a string) or as an object; normalised to
/// compact JSON text.
fn config_text(value: Option<serde_json::Value>) -> Result<String, ApiError> {
    match value {
        None | Some(serde_json::Value::Null) => Ok(String::new()),
        Some(serde_json::Value::String(s)) => Ok(s),
        Some(v @ serde_json::Value::Object(_)) => Ok(v.to_string()),
        Some(_) => Err(ApiError::bad_request("config_json must be a JSON object or a string holding one")),
    }
}

/// Checks a rule as it will be stored (see `crate::rules::validate`).
fn validated(rule: RuleRecord) -> Result<RuleRecord, ApiError> {
    crate::rules::validate(rule).map_err(ApiError::bad_request)
}

/// Rules (including disabled ones), newest first.
#[utoipa::path(get, path = "/alerts/rules", tag = "rules", params(PageParams), security(("bearer_auth" = [])),
    responses(
        (status = 200, description = "Rules", body = Envelope<Vec<RuleSummary>>),
        (status = 400, description = "Bad paging parameter", body = EmptyEnvelope)))]
pub async fn list(state: AppStateRef, ApiQuery(q): ApiQuery<PageParams>) -> ApiResult {
    let page = q.page()?;
    let rules = state.management(move |m| m.rules(page.limit, page.offset)).await?;
    let total = rules.total;
    let items: Vec<RuleSummary> = rules
        .into_iter()
        .map(|r| RuleSummary {
            id: r.id,
            name: r.name,
            rule_type: r.rule_type,
            metric: r.metric,
            agent_pattern: r.agent_pattern,
            severity: r.severity,
            enabled: r.enabled,
            source: r.source,
        })
        .collect();
    Ok(ApiOk::page(items, total))
}

/// Create a rule (`source = api`).
#[utoipa::path(post, path = "/alerts/rules", tag = "rules", request_body = CreateRule,
    security(("bearer_auth" = [])), responses(
        (status = 201, description = "The rule", body = Envelope<RuleDetail>),
        (status = 400, description = "Invalid field, with the reason", body = EmptyEnvelope),
        (status = 409, description = "`Rule name already exists`", body = EmptyEnvelope)))]
pub async fn create(
    state: AppStateRef,
    Extension(caller): Extension<Caller>,
    ApiJson(body): ApiJson<CreateRule>,
) -> ApiResult {
    let rule = validated(RuleRecord {
        id: String::new(),
        name: body.name,
        rule_type: canonical_rule_type(&body.rule_type),
        metric: body.metric,
        agent_pattern: body.agent_pattern.unwrap_or_else(|| "*".into()),
        severity: body.severity.unwrap_or_else(|| "info".into()),
        enabled: body.enabled.unwrap_or(true),
        config_json: config_text(body.config_json)?,
        silence_secs: body.silence_secs.unwrap_or(600),
        source: ownership::source_for(caller).as_str().into(),
        created_at: 0,
        updated_at: 0,
    })?;
    let now = state.clock.now_ms() / 1000;
    match state.management(move |m| m.create_rule(rule, now)).await? {
        Write::Done(rule) => {
            state.rules_changed().await;
            Ok(ApiOk::created(RuleDetail::from(rule)))
        }
        Write::NameTaken => Err(name_taken()),
        Write::NotFound => Err(not_found()),
    }
}

/// One rule.
#[utoipa::path(get, path = "/alerts/rules/{id}", tag = "rules", security(("bearer_auth" = [])),
    params(("id" = String, Path, description = "Rule id")), responses(
        (status = 200, description = "The rule", body = Envelope<RuleDetail>),
        (status = 404, description = "`Rule not found`", body = EmptyEnvelope)))]
pub async fn get(state: AppStateRef, Path(id): Path<String>) -> ApiResult {
    let rule = state.management(move |m| m.rule(&id)).await?.ok_or_else(not_found)?;
    Ok(ApiOk::data(RuleDetail::from(rule)))
}

/// A rule `caller` may change.
async fn load(state: &AppStateRef, caller: Caller, id: &str) -> Result<RuleRecord, ApiError> {
    let id = id.to_owned();
    let rule = state.management(move |m| m.rule(&id)).await?.ok_or_else(not_found)?;
    ownership::check(caller, &rule.source, &format!("rule '{}'", rule.name), "AlertRule")?;
    Ok(rule)
}

async fn store(state: &AppStateRef, rule: RuleRecord) -> ApiResult {
    let now = state.clock.now_ms() / 1000;
    match state.management(move |m| m.update_rule(&rule, now)).await? {
        Write::Done(rule) => {
            state.rules_changed().await;
            Ok(ApiOk::data(RuleDetail::from(rule)))
        }
        Write::NameTaken => Err(name_taken()),
        Write::NotFound => Err(not_found()),
    }
}

/// Change any subset of a rule's fields (not its type).
#[utoipa::path(put, path = "/alerts/rules/{id}", tag = "rules", request_body = UpdateRule,
    security(("bearer_auth" = [])), params(("id" = String, Path, description = "Rule id")), responses(
        (status = 200, description = "The rule", body = Envelope<RuleDetail>),
        (status = 400, description = "Invalid field, with the reason", body = EmptyEnvelope),
        (status = 404, description = "`Rule not found`", body = EmptyEnvelope),
        (status = 409, description = "Name taken, or the rule belongs to a custom resource (or, for the operator, does not)", body = EmptyEnvelope)))]
pub async fn update(
    state: AppStateRef,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateRule>,
) -> ApiResult {
    let mut rule = load(&state, caller, &id).await?;
    if body.rule_type.as_ref().is_some_and(|t| canonical_rule_type(t) != rule.rule_type) {
        return Err(ApiError::bad_request(format!("rule_type cannot be changed (the rule is a {})", rule.rule_type)));
    }
    if let Some(v) = body.name {
        rule.name = v;
    }
    if let Some(v) = body.metric {
        rule.metric = v;
    }
    if let Some(v) = body.agent_pattern {
        rule.agent_pattern = v;
    }
    if let Some(v) = body.severity {
        rule.severity = v;
    }
    if let Some(v) = body.enabled {
        rule.enabled = v;
    }
    if body.config_json.is_some() {
        rule.config_json = config_text(body.config_json)?;
    }
    if let Some(v) = body.silence_secs {
        rule.silence_secs = v;
    }
    store(&state, validated(rule)?).await
}

/// Enable or disable a rule.
#[utoipa::path(put, path = "/alerts/rules/{id}/enable", tag = "rules", request_body = EnableBody,
    security(("bearer_auth" = [])), params(("id" = String, Path, description = "Rule id")), responses(
        (status = 200, description = "The rule", body = Envelope<RuleDetail>),
        (status = 400, description = "Missing or non-boolean `enabled`", body = EmptyEnvelope),
        (status = 404, description = "`Rule not found`", body = EmptyEnvelope),
        (status = 409, description = "The rule belongs to a custom resource", body = EmptyEnvelope)))]
pub async fn enable(
    state: AppStateRef,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<EnableBody>,
) -> ApiResult {
    let mut rule = load(&state, caller, &id).await?;
    rule.enabled = body.enabled;
    store(&state, rule).await
}

/// Delete a rule.
#[utoipa::path(delete, path = "/alerts/rules/{id}", tag = "rules", security(("bearer_auth" = [])),
    params(("id" = String, Path, description = "Rule id")), responses(
        (status = 200, description = "`Rule deleted`", body = EmptyEnvelope),
        (status = 404, description = "`Rule not found`", body = EmptyEnvelope),
        (status = 409, description = "The rule belongs to a custom resource", body = EmptyEnvelope)))]
pub async fn delete(state: AppStateRef, Extension(caller): Extension<Caller>, Path(id): Path<String>) -> ApiResult {
    let rule = load(&state, caller, &id).await?;
    let deleted = state.management(move |m| m.delete_rule(&rule.id)).await?;
    if !deleted {
        return Err(not_found());
    }
    state.rules_changed().await;
    Ok(ApiOk::message("Rule deleted"))
}
