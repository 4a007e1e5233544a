//! `/v1/notifications/channels`: notification channels (several per type),
//! their recipients, and test sends.
//!
//! Two views of one row, as in oxmon 0.1: the overview (with recipients)
//! under `/channels` and the raw row (with `config_json`) under
//! `/channels/config`. Unlike 0.1, `config_json` is redacted in every
//! response, every write is validated by building the channel (so a stored
//! channel always loads), and a duplicate name is 409 on update as on
//! create. Every change reloads the notifier's channel set before the
//! response is sent.

use axum::Extension;
use axum::extract::Path;
use axum::http::StatusCode;
use oxmon_storage::management::{ChannelRecord, Write};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::AppStateRef;
use super::auth::Caller;
use super::openapi::{EmptyEnvelope, Envelope};
use super::ownership;
use super::params::{PageParams, rfc3339};
use super::response::{ApiError, ApiJson, ApiOk, ApiQuery, ApiResult, code};
use crate::channels::{self, ChannelError, NewChannel};

/// A channel with its recipients.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelOverview {
    id: String,
    name: String,
    channel_type: String,
    description: Option<String>,
    min_severity: String,
    enabled: bool,
    /// `email`, `phone` or `webhook_url`.
    recipient_type: Option<String>,
    recipients: Vec<String>,
    /// `api`, `seed` or `crd` (added in 0.2).
    source: String,
    created_at: String,
    updated_at: String,
}

impl ChannelOverview {
    fn new(c: ChannelRecord, recipients: Vec<String>) -> Self {
        Self {
            recipient_type: channels::recipient_type(&c.channel_type).map(str::to_owned),
            recipients: recipients.iter().map(|r| channels::redacted_recipient(r)).collect(),
            created_at: rfc3339(c.created_at * 1000),
            updated_at: rfc3339(c.updated_at * 1000),
            id: c.id,
            name: c.name,
            channel_type: c.channel_type,
            description: c.description,
            min_severity: c.min_severity,
            enabled: c.enabled,
            source: c.source,
        }
    }
}

/// A channel's stored row; secrets in `config_json` are shown as `***`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelConfig {
    id: String,
    name: String,
    channel_type: String,
    description: Option<String>,
    min_severity: String,
    enabled: bool,
    /// The channel's settings, a JSON object encoded as a string, secrets redacted.
    config_json: String,
    source: String,
    created_at: String,
    updated_at: String,
}

impl From<ChannelRecord> for ChannelConfig {
    fn from(c: ChannelRecord) -> Self {
        Self {
            config_json: channels::redacted(&c.config_json),
            created_at: rfc3339(c.created_at * 1000),
            updated_at: rfc3339(c.updated_at * 1000),
            id: c.id,
            name: c.name,
            channel_type: c.channel_type,
            description: c.description,
            min_severity: c.min_severity,
            enabled: c.enabled,
            source: c.source,
        }
    }
}

/// Body of `POST /v1/notifications/channels/config`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateChannel {
    name: String,
    /// `email`, `webhook`, `sms`, `dingtalk` or `weixin` (`sms_aliyun`, `sms_tencent` and
    /// `sms_generic` mean `sms` with that provider).
    channel_type: String,
    description: Option<String>,
    /// Lowest severity sent to this channel: `info` (default), `warning` or `critical`.
    min_severity: Option<String>,
    /// Default true.
    enabled: Option<bool>,
    /// The channel's settings: a JSON object, or that object encoded as a string.
    #[schema(value_type = Object)]
    config_json: Option<Value>,
    /// E-mail addresses, phone numbers or URLs, by type.
    #[serde(default)]
    recipients: Vec<String>,
}

/// Body of `PUT /v1/notifications/channels/config/{id}`: any subset.
/// Secrets sent back as `***` keep their stored value.
#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdateChannel {
    name: Option<String>,
    description: Option<String>,
    min_severity: Option<String>,
    enabled: Option<bool>,
    #[schema(value_type = Option<Object>)]
    config_json: Option<Value>,
    /// Replaces the recipients when present.
    recipients: Option<Vec<String>>,
    /// Must equal the channel's type when given.
    channel_type: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RecipientsBody {
    recipients: Vec<String>,
}

fn not_found() -> ApiError {
    ApiError::not_found("Channel not found")
}

fn name_taken() -> ApiError {
    ApiError::new(StatusCode::CONFLICT, code::CONFLICT, "Channel name already exists")
}

fn refused(e: ChannelError) -> ApiError {
    let kind = match e {
        ChannelError::UnknownType(_) => "unknown_channel_type",
        ChannelError::MissingConfig(_) => "missing_config",
        ChannelError::InvalidConfig(_) => "invalid_config",
        ChannelError::Field(m) => return ApiError::bad_request(m),
    };
    ApiError::new(StatusCode::BAD_REQUEST, code::OTHER, format!("{kind}: {}", e.message()))
}

async fn load(state: &AppStateRef, id: String) -> Result<ChannelRecord, ApiError> {
    state.management(move |m| m.channel(&id)).await?.ok_or_else(not_found)
}

/// A channel `caller` may change.
async fn load_owned(state: &AppStateRef, caller: Caller, id: String) -> Result<ChannelRecord, ApiError> {
    let channel = load(state, id).await?;
    ownership::check(caller, &channel.source, &format!("channel '{}'", channel.name), "NotificationChannel")?;
    Ok(channel)
}

/// Channels with their recipients, newest first.
#[utoipa::path(get, path = "/notifications/channels", tag = "channels", params(PageParams),
    security(("bearer_auth" = [])), responses(
        (status = 200, description = "Channels", body = Envelope<Vec<ChannelOverview>>),
        (status = 400, description = "Bad paging parameter", body = EmptyEnvelope)))]
pub async fn list(state: AppStateRef, ApiQuery(q): ApiQuery<PageParams>) -> ApiResult {
    let page = q.page()?;
    let (items, total) = state
        .management(move |m| {
            let channels = m.channels(page.limit, page.offset)?;
            let items = channels
                .items
                .into_iter()
                .map(|c| {
                    let recipients = m.channel_recipients(&c.id)?;
                    Ok(ChannelOverview::new(c, recipients))
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok((items, channels.total))
        })
        .await?;
    Ok(ApiOk::page(items, total))
}

/// One channel with its recipients.
#[utoipa::path(get, path = "/notifications/channels/{id}", tag = "channels", security(("bearer_auth" = [])),
    params(("id" = String, Path, description = "Channel id")), responses(
        (status = 200, description = "The channel", body = Envelope<ChannelOverview>),
        (status = 404, description = "`Channel not found`", body = EmptyEnvelope)))]
pub async fn get(state: AppStateRef, Path(id): Path<String>) -> ApiResult {
    let found = state
        .management(move |m| match m.channel(&id)? {
            Some(c) => {
                let recipients = m.channel_recipients(&c.id)?;
                Ok(Some(ChannelOverview::new(c, recipients)))
            }
            None => Ok(None),
        })
        .await?;
    Ok(ApiOk::data(found.ok_or_else(not_found)?))
}

/// Stored channel rows (secrets redacted), newest first.
#[utoipa::path(get, path = "/notifications/channels/config", tag = "channels", params(PageParams),
    security(("bearer_auth" = [])), responses(
        (status = 200, description = "Channel rows", body = Envelope<Vec<ChannelConfig>>),
        (status = 400, description = "Bad paging parameter", body = EmptyEnvelope)))]
pub async fn list_configs(state: AppStateRef, ApiQuery(q): ApiQuery<PageParams>) -> ApiResult {
    let page = q.page()?;
    let rows = state.management(move |m| m.channels(page.limit, page.offset)).await?;
    Ok(ApiOk::page(rows.items.into_iter().map(ChannelConfig::from).collect::<Vec<_>>(), rows.total))
}

/// One stored channel row (secrets redacted).
#[utoipa::path(get, path = "/notifications/channels/config/{id}", tag = "channels", security(("bearer_auth" = [])),
    params(("id" = String, Path, description = "Channel id")), responses(
        (status = 200, description = "The channel row", body = Envelope<ChannelConfig>),
        (status = 404, description = "`Channel not found`", body = EmptyEnvelope)))]
pub async fn get_config(state: AppStateRef, Path(id): Path<String>) -> ApiResult {
    Ok(ApiOk::data(ChannelConfig::from(load(&state, id).await?)))
}

/// Create a channel (`source = api`), with its recipients.
#[utoipa::path(post, path = "/notifications/channels/config", tag = "channels", request_body = CreateChannel,
    security(("bearer_auth" = [])), responses(
        (status = 201, description = "The channel row", body = Envelope<ChannelConfig>),
        (status = 400, description = "`unknown_channel_type`, `missing_config` or `invalid_config` (err_code 1999), or another invalid field; the message says what is wrong", body = EmptyEnvelope),
        (status = 409, description = "`Channel name already exists`", body = EmptyEnvelope)))]
pub async fn create_config(
    state: AppStateRef,
    Extension(caller): Extension<Caller>,
    ApiJson(body): ApiJson<CreateChannel>,
) -> ApiResult {
    let record = channels::check_new(
        NewChannel {
            name: body.name,
            channel_type: body.channel_type,
            description: body.description,
            min_severity: body.min_severity,
            enabled: body.enabled,
            config: body.config_json,
        },
        ownership::source_for(caller),
    )
    .map_err(refused)?;
    // Nothing is stored yet, so a redacted recipient can match nothing.
    let recipients = channels::restore_recipients(channels::clean_recipients(body.recipients), &[]).map_err(refused)?;
    let now = state.clock.now_ms() / 1000;
    match state.management(move |m| m.create_channel(record, &recipients, now)).await? {
        Write::Done(c) => {
            state.notifications_changed().await;
            Ok(ApiOk::created(ChannelConfig::from(c)))
        }
        Write::NameTaken => Err(name_taken()),
        Write::NotFound => Err(not_found()),
    }
}

/// Change any subset of a channel (not its type).
#[utoipa::path(put, path = "/notifications/channels/config/{id}", tag = "channels", request_body = UpdateChannel,
    security(("bearer_auth" = [])), params(("id" = String, Path, description = "Channel id")), responses(
        (status = 200, description = "The channel row", body = Envelope<ChannelConfig>),
        (status = 400, description = "Invalid field or config, with the reason", body = EmptyEnvelope),
        (status = 404, description = "`Channel not found`", body = EmptyEnvelope),
        (status = 409, description = "Name taken, or the channel belongs to a custom resource", body = EmptyEnvelope)))]
pub async fn update_config(
    state: AppStateRef,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateChannel>,
) -> ApiResult {
    let mut channel = load_owned(&state, caller, id).await?;
    if let Some(t) = &body.channel_type {
        let mut scratch = serde_json::Map::new();
        if channels::normalize(t, &mut scratch).ok() != Some(channel.channel_type.as_str()) {
            return Err(ApiError::bad_request(format!(
                "channel_type cannot be changed (the channel is a {} channel)",
                channel.channel_type
            )));
        }
    }
    if let Some(v) = body.name {
        channel.name = channels::check_name(v).map_err(refused)?;
    }
    if let Some(v) = body.description {
        channel.description = Some(v.trim().to_owned()).filter(|d| !d.is_empty());
    }
    if let Some(v) = body.min_severity {
        channel.min_severity = channels::check_severity(&v).map_err(refused)?;
    }
    if let Some(v) = body.enabled {
        channel.enabled = v;
    }
    if body.config_json.is_some() {
        let config = channels::config_object(body.config_json.as_ref()).map_err(refused)?;
        channels::require_settings(&channel.channel_type, &config).map_err(refused)?;
        let mut config = Value::Object(config);
        let stored: Value = serde_json::from_str(&channel.config_json).unwrap_or(Value::Null);
        channels::restore_redacted(&mut config, &stored);
        channel.config_json = config.to_string();
    }
    channels::validate(&channel.channel_type, &channel.config_json).map_err(refused)?;
    let recipients = match body.recipients {
        Some(sent) => Some(restored_recipients(&state, &channel.id, sent).await?),
        None => None,
    };
    let now = state.clock.now_ms() / 1000;
    match state.management(move |m| m.update_channel(&channel, recipients.as_deref(), now)).await? {
        Write::Done(c) => {
            state.notifications_changed().await;
            Ok(ApiOk::data(ChannelConfig::from(c)))
        }
        Write::NameTaken => Err(name_taken()),
        Write::NotFound => Err(not_found()),
    }
}

/// Delete a channel and its recipients.
#[utoipa::path(delete, path = "/notifications/channels/config/{id}", tag = "channels",
    security(("bearer_auth" = [])), params(("id" = String, Path, description = "Channel id")), responses(
        (status = 200, description = "`Channel deleted`", body = EmptyEnvelope),
        (status = 404, description = "`Channel not found`", body = EmptyEnvelope),
        (status = 409, description = "The channel belongs to a custom resource", body = EmptyEnvelope)))]
pub async fn delete_config(
    state: AppStateRef,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult {
    let channel = load_owned(&state, caller, id).await?;
    if !state.management(move |m| m.delete_channel(&channel.id)).await? {
        return Err(not_found());
    }
    state.notifications_changed().await;
    Ok(ApiOk::message("Channel deleted"))
}

/// Replace a channel's recipients.
#[utoipa::path(put, path = "/notifications/channels/{id}/recipients", tag = "channels", request_body = RecipientsBody,
    security(("bearer_auth" = [])), params(("id" = String, Path, description = "Channel id")), responses(
        (status = 200, description = "The stored recipients", body = Envelope<Vec<String>>),
        (status = 400, description = "Body is not `{\"recipients\": [...]}`", body = EmptyEnvelope),
        (status = 404, description = "`Channel not found`", body = EmptyEnvelope),
        (status = 409, description = "The channel belongs to a custom resource", body = EmptyEnvelope)))]
pub async fn set_recipients(
    state: AppStateRef,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RecipientsBody>,
) -> ApiResult {
    let channel = load_owned(&state, caller, id).await?;
    let list = restored_recipients(&state, &channel.id, body.recipients).await?;
    let now = state.clock.now_ms() / 1000;
    let stored =
        state.management(move |m| m.set_channel_recipients(&channel.id, &list, now)).await?.ok_or_else(not_found)?;
    state.notifications_changed().await;
    Ok(ApiOk::data(redacted_recipients(stored)))
}

/// Recipients sent in an update, cleaned, with redacted ones that match a
/// stored recipient given their stored value back.
async fn restored_recipients(
    state: &AppStateRef,
    channel_id: &str,
    sent: Vec<String>,
) -> Result<Vec<String>, ApiError> {
    let sent = channels::clean_recipients(sent);
    if !sent.iter().any(|r| r.contains(channels::REDACTED)) {
        return Ok(sent);
    }
    let key = channel_id.to_owned();
    let stored = state.management(move |m| m.channel_recipients(&key)).await?;
    channels::restore_recipients(sent, &stored).map_err(refused)
}

fn redacted_recipients(list: Vec<String>) -> Vec<String> {
    list.iter().map(|r| channels::redacted_recipient(r)).collect()
}

/// A channel's recipients, in the order they were given (404 for an unknown
/// channel; 0.1 answered an empty list).
#[utoipa::path(get, path = "/notifications/channels/{id}/recipients", tag = "channels",
    security(("bearer_auth" = [])), params(("id" = String, Path, description = "Channel id"), PageParams), responses(
        (status = 200, description = "Recipients", body = Envelope<Vec<String>>),
        (status = 400, description = "Bad paging parameter", body = EmptyEnvelope),
        (status = 404, description = "`Channel not found`", body = EmptyEnvelope)))]
pub async fn get_recipients(
    state: AppStateRef,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<PageParams>,
) -> ApiResult {
    let page = q.page()?;
    let channel = load(&state, id).await?;
    let all = state.management(move |m| m.channel_recipients(&channel.id)).await?;
    let (recipients, total) = page.of(all);
    Ok(ApiOk::page(redacted_recipients(recipients), total))
}

/// Send a test alert to the channel's recipients, whatever its `enabled`
/// flag, severity floor and the silence windows; the outcome is logged like
/// any notification.
#[utoipa::path(post, path = "/notifications/channels/{id}/test", tag = "channels", security(("bearer_auth" = [])),
    params(("id" = String, Path, description = "Channel id")), responses(
        (status = 200, description = "`Test notification sent`", body = EmptyEnvelope),
        (status = 404, description = "`Channel not found`", body = EmptyEnvelope),
        (status = 500, description = "The send failed; the message gives the channel's error", body = EmptyEnvelope)))]
pub async fn test(state: AppStateRef, Path(id): Path<String>) -> ApiResult {
    let channel = load(&state, id).await?;
    let key = channel.id.clone();
    let recipients = state.management(move |m| m.channel_recipients(&key)).await?;
    match state.alerting.test_channel(&channel, recipients).await {
        Ok(()) => Ok(ApiOk::message("Test notification sent")),
        Err(why) => Err(ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, code::INTERNAL, why)),
    }
}
