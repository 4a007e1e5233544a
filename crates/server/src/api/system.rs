//! `/v1/system`: the effective configuration, storage usage and cleanup,
//! and runtime settings (`/v1/system/configs`).

use axum::extract::Path;
use axum::http::StatusCode;
use oxmon_common::settings::{AGGREGATION_WINDOW, RuntimeSetting, redact};
use oxmon_storage::management::{ConfigRecord, Write};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AppStateRef;
use super::openapi::{EmptyEnvelope, Envelope};
use super::params::{PageParams, rfc3339};
use super::response::{ApiError, ApiJson, ApiOk, ApiQuery, ApiResult, code};

#[derive(Debug, Serialize, ToSchema)]
pub struct SystemConfig {
    grpc_port: u16,
    http_port: u16,
    data_dir: String,
    retention_days: u32,
    require_agent_auth: bool,
    cert_check_enabled: bool,
    cert_check_default_interval_secs: u64,
    cert_check_tick_secs: u64,
    cert_check_max_concurrent: usize,
    /// The stored runtime setting (default 60).
    notification_aggregation_window_secs: u64,
    alert_rules_count: i64,
    notification_channels_count: i64,
}

/// The effective server configuration.
#[utoipa::path(get, path = "/system/config", tag = "system", security(("bearer_auth" = [])), responses(
    (status = 200, description = "Configuration", body = Envelope<SystemConfig>)))]
pub async fn config(state: AppStateRef) -> ApiResult {
    let (rules, channels, window) =
        state.management(|m| Ok((m.rule_count()?, m.channel_count()?, m.runtime_setting(AGGREGATION_WINDOW)?))).await?;
    let c = &state.config;
    Ok(ApiOk::data(SystemConfig {
        grpc_port: c.grpc_port,
        http_port: c.http_port,
        data_dir: c.data_dir.display().to_string(),
        retention_days: c.retention_days,
        require_agent_auth: c.require_agent_auth,
        cert_check_enabled: c.cert_check.enabled,
        cert_check_default_interval_secs: c.cert_check.default_interval_secs,
        cert_check_tick_secs: c.cert_check.tick_secs,
        cert_check_max_concurrent: c.cert_check.max_concurrent,
        notification_aggregation_window_secs: window,
        alert_rules_count: rules,
        notification_channels_count: channels,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PartitionItem {
    /// `YYYY-MM-DD` (UTC).
    date: String,
    /// Database file plus its WAL.
    size_bytes: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StorageInfo {
    /// Oldest first.
    partitions: Vec<PartitionItem>,
    total_partitions: usize,
    total_size_bytes: u64,
}

/// Day partitions on disk.
#[utoipa::path(get, path = "/system/storage", tag = "system", security(("bearer_auth" = [])), responses(
    (status = 200, description = "Partitions", body = Envelope<StorageInfo>)))]
pub async fn storage(state: AppStateRef) -> ApiResult {
    let parts = state.read(|r| r.partitions()).await?;
    let partitions: Vec<PartitionItem> =
        parts.iter().map(|p| PartitionItem { date: p.day.to_string(), size_bytes: p.size_bytes }).collect();
    Ok(ApiOk::data(StorageInfo {
        total_partitions: partitions.len(),
        total_size_bytes: partitions.iter().map(|p| p.size_bytes).sum(),
        partitions,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Cleanup {
    partitions_removed: usize,
}

/// Delete day partitions older than `retention_days` now (retention also
/// runs hourly).
#[utoipa::path(post, path = "/system/storage/cleanup", tag = "system", security(("bearer_auth" = [])), responses(
    (status = 200, description = "Partitions removed", body = Envelope<Cleanup>),
    (status = 500, description = "Storage error", body = EmptyEnvelope)))]
pub async fn cleanup(state: AppStateRef) -> ApiResult {
    let removed = state
        .writer
        .retain(state.config.retention_days, state.clock.now_ms())
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, code::INTERNAL, e.to_string()))?;
    Ok(ApiOk::data(Cleanup { partitions_removed: removed.len() }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConfigItem {
    id: String,
    config_key: String,
    config_type: String,
    provider: Option<String>,
    display_name: String,
    description: Option<String>,
    /// The setting's JSON object, secrets replaced by `***`.
    #[schema(value_type = Object)]
    config_json: serde_json::Value,
    enabled: bool,
    created_at: String,
    updated_at: String,
}

impl From<ConfigRecord> for ConfigItem {
    fn from(c: ConfigRecord) -> Self {
        let mut config = serde_json::from_str(&c.config_json).unwrap_or(serde_json::Value::Null);
        redact(&mut config);
        Self {
            created_at: rfc3339(c.created_at * 1000),
            updated_at: rfc3339(c.updated_at * 1000),
            id: c.id,
            config_key: c.config_key,
            config_type: c.config_type,
            provider: c.provider,
            display_name: c.display_name,
            description: c.description,
            config_json: config,
            enabled: c.enabled,
        }
    }
}

fn not_found() -> ApiError {
    ApiError::not_found("System config not found")
}

/// Parses a config body (an object, or a string holding one, as 0.1 sent it).
fn config_value(v: serde_json::Value) -> Result<serde_json::Value, ApiError> {
    let v = match v {
        serde_json::Value::String(s) => serde_json::from_str(&s)
            .map_err(|e| ApiError::bad_request(format!("config_json is not valid JSON: {e}")))?,
        other => other,
    };
    if !v.is_object() {
        return Err(ApiError::bad_request("config_json must be a JSON object"));
    }
    Ok(v)
}

/// Checks a runtime row's config: `{"value": ...}` as in oxmon 0.1, and for
/// the settings the server uses (`notification_aggregation_window`,
/// `notification_log_retention`) a value in the setting's range. Other keys
/// are stored for clients (0.1 accepted them too) and not used.
fn check_runtime(key: &str, config: &serde_json::Value) -> Result<(), ApiError> {
    match RuntimeSetting::find(key) {
        Some(setting) => setting.check(config).map(drop).map_err(ApiError::bad_request),
        None if config.get("value").is_some() => Ok(()),
        None => Err(ApiError::bad_request(format!("{key}: config must be a JSON object with a \"value\""))),
    }
}

/// Runtime settings and other configuration rows, newest first.
#[utoipa::path(get, path = "/system/configs", tag = "system", params(PageParams), security(("bearer_auth" = [])),
    responses(
        (status = 200, description = "Rows", body = Envelope<Vec<ConfigItem>>),
        (status = 400, description = "Bad paging parameter", body = EmptyEnvelope)))]
pub async fn list_configs(state: AppStateRef, ApiQuery(q): ApiQuery<PageParams>) -> ApiResult {
    let page = q.page()?;
    let rows = state.management(move |m| m.configs(page.limit, page.offset)).await?;
    Ok(ApiOk::page(rows.items.into_iter().map(ConfigItem::from).collect::<Vec<_>>(), rows.total))
}

/// One configuration row.
#[utoipa::path(get, path = "/system/configs/{id}", tag = "system", security(("bearer_auth" = [])),
    params(("id" = String, Path, description = "Row id")), responses(
        (status = 200, description = "The row", body = Envelope<ConfigItem>),
        (status = 404, description = "`System config not found`", body = EmptyEnvelope)))]
pub async fn get_config(state: AppStateRef, Path(id): Path<String>) -> ApiResult {
    let row = state.management(move |m| m.config(&id)).await?.ok_or_else(not_found)?;
    Ok(ApiOk::data(ConfigItem::from(row)))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateConfig {
    /// A runtime setting's key. `notification_aggregation_window` and
    /// `notification_log_retention` are used by the server and their values
    /// checked; any other key is stored for clients.
    config_key: String,
    /// Must be `runtime`.
    config_type: String,
    provider: Option<String>,
    display_name: String,
    description: Option<String>,
    /// `{"value": ...}` (for the two keys the server uses, an integer in the
    /// setting's range), as an object or a string holding one.
    #[schema(value_type = Object)]
    config_json: serde_json::Value,
}

/// Add a runtime setting.
#[utoipa::path(post, path = "/system/configs", tag = "system", request_body = CreateConfig,
    security(("bearer_auth" = [])), responses(
        (status = 201, description = "The row", body = Envelope<ConfigItem>),
        (status = 400, description = "Not runtime, no key, or a bad value, with the reason", body = EmptyEnvelope),
        (status = 409, description = "The key exists", body = EmptyEnvelope)))]
pub async fn create_config(state: AppStateRef, ApiJson(body): ApiJson<CreateConfig>) -> ApiResult {
    if body.config_type != "runtime" {
        return Err(ApiError::bad_request(format!("config_type must be \"runtime\", got {:?}", body.config_type)));
    }
    let key = body.config_key.trim().to_owned();
    if key.is_empty() {
        return Err(ApiError::bad_request("config_key is required"));
    }
    let config = config_value(body.config_json)?;
    check_runtime(&key, &config)?;
    let display_name = body.display_name.trim().to_owned();
    if display_name.is_empty() {
        return Err(ApiError::bad_request("display_name is required"));
    }
    let row = ConfigRecord {
        id: String::new(),
        config_key: key.clone(),
        config_type: body.config_type,
        provider: body.provider,
        display_name,
        description: body.description,
        config_json: config.to_string(),
        enabled: true,
        created_at: 0,
        updated_at: 0,
    };
    let now = state.clock.now_ms() / 1000;
    match state.management(move |m| m.create_config(row, now)).await? {
        Write::Done(row) => {
            state.notifications_changed().await;
            Ok(ApiOk::created(ConfigItem::from(row)))
        }
        _ => Err(ApiError::new(StatusCode::CONFLICT, code::CONFLICT, format!("config_key '{key}' already exists"))),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct UpdateConfig {
    display_name: Option<String>,
    description: Option<String>,
    #[schema(value_type = Option<Object>)]
    config_json: Option<serde_json::Value>,
    enabled: Option<bool>,
}

/// Change a row's display name, description, value or enabled flag
/// (validated, unlike 0.1).
#[utoipa::path(put, path = "/system/configs/{id}", tag = "system", request_body = UpdateConfig,
    security(("bearer_auth" = [])), params(("id" = String, Path, description = "Row id")), responses(
        (status = 200, description = "The row", body = Envelope<ConfigItem>),
        (status = 400, description = "A bad value, with the reason", body = EmptyEnvelope),
        (status = 404, description = "`System config not found`", body = EmptyEnvelope)))]
pub async fn update_config(
    state: AppStateRef,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateConfig>,
) -> ApiResult {
    let key = id.clone();
    let mut row = state.management(move |m| m.config(&key)).await?.ok_or_else(not_found)?;
    if let Some(v) = body.config_json {
        let mut config = config_value(v)?;
        // A fetched row sent back carries `***` for its secrets: keep them.
        let stored: serde_json::Value = serde_json::from_str(&row.config_json).unwrap_or_default();
        crate::channels::restore_redacted(&mut config, &stored);
        if row.config_type == "runtime" {
            check_runtime(&row.config_key, &config)?;
        }
        row.config_json = config.to_string();
    }
    if let Some(v) = body.display_name {
        if v.trim().is_empty() {
            return Err(ApiError::bad_request("display_name must not be empty"));
        }
        row.display_name = v.trim().to_owned();
    }
    if body.description.is_some() {
        row.description = body.description;
    }
    if let Some(v) = body.enabled {
        row.enabled = v;
    }
    let now = state.clock.now_ms() / 1000;
    let row = state.management(move |m| m.update_config(&row, now)).await?.ok_or_else(not_found)?;
    state.notifications_changed().await;
    Ok(ApiOk::data(ConfigItem::from(row)))
}

/// Delete a row (its setting falls back to the default).
#[utoipa::path(delete, path = "/system/configs/{id}", tag = "system", security(("bearer_auth" = [])),
    params(("id" = String, Path, description = "Row id")), responses(
        (status = 200, description = "`System config deleted`", body = EmptyEnvelope),
        (status = 404, description = "`System config not found`", body = EmptyEnvelope)))]
pub async fn delete_config(state: AppStateRef, Path(id): Path<String>) -> ApiResult {
    let deleted = state.management(move |m| m.delete_config(&id)).await?;
    if !deleted {
        return Err(not_found());
    }
    state.notifications_changed().await;
    Ok(ApiOk::message("System config deleted"))
}
